//! The engine's metrics, registered once through the `metrics` facade.
//!
//! Install a recorder (e.g. a Prometheus exporter) before building the
//! engine; handles taken before that stay no-ops.

use metrics::{Counter, Histogram, counter, histogram};

use crate::ports::moderator::Action;
use crate::protocol::RejectReason;

pub(crate) struct EngineMetrics {
    pub(crate) lines_in: Counter,
    pub(crate) lines_out: Counter,
    pub(crate) matches: Counter,
    pub(crate) match_wait: Histogram,
    pub(crate) slow_closes: Counter,
    pub(crate) resumes: Counter,
    rejected: [Counter; 4],
    moderated: [Counter; 4],
}

impl EngineMetrics {
    pub(crate) fn new() -> Self {
        let rejected = [
            RejectReason::Moderation,
            RejectReason::RateLimited,
            RejectReason::TooLong,
            RejectReason::NotInRoom,
        ]
        .map(|reason| counter!("quicktalk_rejected_total", "reason" => reason.as_str()));
        let moderated = [Action::Allow, Action::Flag, Action::Mask, Action::Block]
            .map(|action| counter!("quicktalk_moderation_total", "action" => action.as_str()));
        Self {
            lines_in: counter!("quicktalk_lines_in_total"),
            lines_out: counter!("quicktalk_lines_out_total"),
            matches: counter!("quicktalk_matches_total"),
            match_wait: histogram!("quicktalk_match_wait_seconds"),
            slow_closes: counter!("quicktalk_slow_closes_total"),
            resumes: counter!("quicktalk_resumes_total"),
            rejected,
            moderated,
        }
    }

    pub(crate) fn rejected(&self, reason: RejectReason) -> &Counter {
        &self.rejected[reason as usize]
    }

    pub(crate) fn moderated(&self, action: Action) -> &Counter {
        &self.moderated[action as usize]
    }
}
