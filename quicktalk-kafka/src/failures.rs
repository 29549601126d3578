//! What a read loop does after a failed read.
//!
//! librdkafka hands a consumer one error per failed connection attempt:
//! during a broker outage that is dozens a second. A loop that logged each
//! and paused half a second after each flooded the log (30 lines a second a
//! node) and, once the broker was back, spent two minutes working through
//! the errors queued during a 40-s outage before it read again.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

/// The pause after a failed read: enough that a loop whose every read
/// fails at once does not spin, short enough to work through a backlog of
/// queued errors in a moment.
pub const PAUSE: Duration = Duration::from_millis(5);

/// At most one log line per this long while reads keep failing.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// One kind of log line's turn: written at most once per [`LOG_EVERY`], the
/// ones in between counted. Shared by the read loops and librdkafka's own
/// lines (see `context`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LogTurn {
    /// When a line of this kind was last written.
    pub(crate) at: Option<Instant>,
    /// Lines held back since then.
    pub(crate) held: u64,
}

impl LogTurn {
    /// Whether a line is due at `now`; if so, how many were held back.
    pub(crate) fn due(&mut self, now: Instant) -> Option<u64> {
        match self.at {
            Some(at) if now.saturating_duration_since(at) < LOG_EVERY => {
                self.held += 1;
                None
            }
            _ => {
                self.at = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

/// Paces one read loop's failures: a short pause each time, the first
/// failure logged, then one line per [`LOG_EVERY`] with how many came
/// between, and one when reading works again.
#[derive(Debug)]
pub struct ReadFailures {
    what: &'static str,
    /// The failure log line's turn, while reads are failing.
    turn: LogTurn,
    /// Failures since reading last worked.
    total: u64,
}

impl ReadFailures {
    /// For the loop that reads `what` (`"the rooms topic"`).
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            turn: LogTurn::default(),
            total: 0,
        }
    }

    /// A read failed: logs when due, then pauses for [`PAUSE`].
    pub async fn failed(&mut self, error: &(dyn Display + Sync)) {
        self.total += 1;
        if let Some(held_back) = self.turn.due(Instant::now()) {
            tracing::warn!(
                what = self.what,
                %error,
                failures_since_last_line = held_back,
                "reading Kafka failed; retrying"
            );
        }
        tokio::time::sleep(PAUSE).await;
    }

    /// A read worked: says so once after failures.
    pub fn recovered(&mut self) {
        if self.total > 0 {
            tracing::info!(
                what = self.what,
                failures = self.total,
                "reading Kafka again"
            );
            (self.turn, self.total) = (LogTurn::default(), 0);
        }
    }

    /// Failures since reading last worked.
    pub fn failures(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_backlog_of_errors_is_worked_through_in_moments_and_counted() {
        let mut failures = ReadFailures::new("test");
        let start = Instant::now();
        for _ in 0..1_200 {
            failures.failed(&"AllBrokersDown").await;
        }
        // 1,200 queued errors (a 40-s outage's worth) take 6 s of pauses,
        // not the ten minutes half a second each took.
        assert_eq!(start.elapsed(), PAUSE * 1_200);
        assert_eq!(failures.failures(), 1_200);
        failures.recovered();
        assert_eq!(failures.failures(), 0);
    }
}
