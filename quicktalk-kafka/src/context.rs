//! librdkafka's own log lines and errors, at most one of a kind per
//! [`LOG_EVERY`](crate::failures::LOG_EVERY). A broker outage makes
//! librdkafka report every failed connection attempt, to every client of a
//! node: thirty lines a second in a node's log, which buried what the node
//! itself had to say. Each line says how many of its kind were held back
//! since the last.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use crate::failures::LOG_EVERY;

/// Kinds of line remembered per client (librdkafka's facilities and error
/// codes are a few dozen).
const KINDS: usize = 64;

/// The context every client of this crate is created with.
#[derive(Debug, Default)]
pub struct Quiet {
    /// Per kind: when a line was last written, and how many since.
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Quiet {
    /// Whether a line of `kind` is due now; if so, how many were held back.
    fn due(&self, kind: &str) -> Option<u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        match seen.get_mut(kind) {
            Some((at, held)) if now.duration_since(*at) < LOG_EVERY => {
                *held += 1;
                None
            }
            Some((at, held)) => {
                let count = std::mem::take(held);
                *at = now;
                Some(count)
            }
            None => {
                if seen.len() < KINDS {
                    seen.insert(kind.to_owned(), (now, 0));
                }
                Some(0)
            }
        }
    }
}

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let Some(held_back) = self.due(fac) else {
            return;
        };
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", fac, held_back, "{message}");
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", fac, held_back, "{message}");
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, held_back, "{message}");
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", fac, held_back, "{message}");
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let kind = error
            .rdkafka_error_code()
            .map_or_else(|| "error".to_owned(), |code| format!("{code:?}"));
        if let Some(held_back) = self.due(&kind) {
            tracing::error!(target: "librdkafka", %error, held_back, "{reason}");
        }
    }
}

impl ConsumerContext for Quiet {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_written_once_per_interval_and_counts_what_it_held_back() {
        let quiet = Quiet::default();
        assert_eq!(quiet.due("FAIL"), Some(0));
        for _ in 0..30 {
            assert_eq!(quiet.due("FAIL"), None);
        }
        assert_eq!(
            quiet.due("CONNECT"),
            Some(0),
            "another kind has its own turn"
        );
        // Once the interval has passed, the next line says how many waited.
        quiet.seen.lock().get_mut("FAIL").unwrap().0 -= LOG_EVERY;
        assert_eq!(quiet.due("FAIL"), Some(30));
        assert_eq!(quiet.due("FAIL"), None);
    }
}
