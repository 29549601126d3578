//! librdkafka's own log lines and errors, at most one of a kind per
//! [`LOG_EVERY`](crate::failures::LOG_EVERY). A broker outage makes
//! librdkafka report every failed connection attempt, to every client of a
//! node: thirty lines a second in a node's log, which buried what the node
//! itself had to say. Each line says how many of its kind were held back
//! since the last.

use std::collections::HashMap;

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use tokio::time::Instant;

use crate::failures::LogTurn;

/// The kind shared by every report of an unreachable broker.
const BROKER: &str = "broker";

/// Kinds of line remembered per client (librdkafka's facilities and error
/// codes are a few dozen).
const KINDS: usize = 64;

/// The context every client of this crate is created with.
#[derive(Debug, Default)]
pub struct Quiet {
    /// Per kind: its log line's turn.
    seen: Mutex<HashMap<String, LogTurn>>,
}

impl Quiet {
    /// Whether a line of `kind` is due now; if so, how many were held back.
    fn due(&self, kind: &str) -> Option<u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        match seen.get_mut(kind) {
            Some(turn) => turn.due(now),
            None => {
                let mut turn = LogTurn::default();
                let due = turn.due(now);
                if seen.len() < KINDS {
                    seen.insert(kind.to_owned(), turn);
                }
                due
            }
        }
    }
}

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // A failed connection comes as a log line (`FAIL`) and as an error
        // (below) with the same text: one turn for both.
        let kind = if fac == "FAIL" { BROKER } else { fac };
        let Some(held_back) = self.due(kind) else {
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
        let code = error.rdkafka_error_code();
        if code == Some(RDKafkaErrorCode::AllBrokersDown) && reason.starts_with("0/") {
            // `0/2 brokers are down`: librdkafka saying they are back.
            tracing::info!(target: "librdkafka", "{reason}");
            return;
        }
        let kind = match code {
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve,
            ) => BROKER.to_owned(),
            Some(code) => format!("{code:?}"),
            None => "error".to_owned(),
        };
        if let Some(held_back) = self.due(&kind) {
            tracing::error!(target: "librdkafka", %error, held_back, "{reason}");
        }
    }
}

impl ConsumerContext for Quiet {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failures::LOG_EVERY;

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
        quiet.seen.lock().get_mut("FAIL").unwrap().at = Some(Instant::now() - LOG_EVERY);
        assert_eq!(quiet.due("FAIL"), Some(30));
        assert_eq!(quiet.due("FAIL"), None);
    }

    #[test]
    fn a_failed_connection_logged_and_reported_as_an_error_takes_one_turn() {
        let quiet = Quiet::default();
        quiet.log(RDKafkaLogLevel::Error, "FAIL", "Connect to ... failed");
        quiet.error(
            KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "Connect to ... failed",
        );
        quiet.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "2/2 brokers are down",
        );
        let seen = quiet.seen.lock();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[BROKER].held, 2, "two held back");
    }
}
