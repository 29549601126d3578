//! Cluster mode: several engines (nodes) share one partitioned event bus.
//!
//! A node is an [`Engine`](crate::Engine) built with
//! [`EngineBuilder::cluster_node`](crate::EngineBuilder::cluster_node): it
//! publishes its waiting sessions instead of matching them itself, and the
//! transport feeds every event of the bus to
//! [`Engine::apply_bus_event`](crate::Engine::apply_bus_event). One
//! [`ClusterMatcher`] pairs the waiting sessions of every node by the same
//! rules as the local matcher (language, interests with the fallback,
//! cooldowns, report blocks, longest-waiting first), and whoever runs it
//! publishes its proposals on the bus. Which node runs it is the
//! transport's business (the Kafka adapter uses a consumer group, so it
//! moves to another node when its node dies); everything it knows is soft
//! state that the nodes announce again ([`BusEvent::Reannounce`]).
//!
//! ```
//! use quicktalk_core::cluster::ClusterMatcher;
//! use quicktalk_core::matcher::MatcherConfig;
//! use quicktalk_core::ports::event_bus::{BusEvent, ClusterMember};
//! use quicktalk_core::SessionId;
//! use tokio::time::Instant;
//!
//! let mut matcher = ClusterMatcher::new(MatcherConfig::default());
//! let wait = |node: &str, session: u64| {
//!     BusEvent::Waiting(ClusterMember {
//!         node: node.into(),
//!         session: SessionId::from_raw(session),
//!         client_key: format!("key-{session}").as_str().into(),
//!         lang: Some("ko".into()),
//!         interests: Vec::new(),
//!         bot: false,
//!         ticket: 1,
//!         resume: None,
//!     })
//! };
//! let now = Instant::now();
//! assert!(matcher.apply(&wait("a", 1), now).is_empty());
//! let proposals = matcher.apply(&wait("b", 2), now);
//! assert!(matches!(&proposals[..], [BusEvent::Proposed { members, .. }]
//!     if members[0].node.as_ref() == "a" && members[1].node.as_ref() == "b"));
//! ```

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::time::Instant;

use crate::ids::{RoomId, SessionId};
use crate::matcher::{Candidate, Matcher, MatcherConfig, Pairing};
use crate::ports::event_bus::{BusEvent, ClusterMember};

/// A node not heard from for this long, while others are heard, is gone:
/// its waiting sessions leave the pools.
pub const NODE_GONE_AFTER: Duration = Duration::from_secs(3);

/// After the bus was down, how much longer than [`NODE_GONE_AFTER`] the
/// others get to be heard again: nodes come back at different times (each
/// publisher retries with a back-off of up to 5 s), and a node that is
/// merely slower to reconnect must not be taken for gone (seen in the broker
/// restart test: a chat across nodes ended 3 s after the broker was back).
pub const BUS_RECOVERY_GRACE: Duration = Duration::from_secs(6);

/// How long a matcher that takes pools over holds its waits before it pairs
/// anyone ([`ClusterMatcher::hold_until`]): the nodes announce their waits
/// and exclusions (cooldowns, report blocks) again when asked, and a wait
/// must not be paired before the exclusions that keep it apart are read.
/// The transport asks at once and after 1 s; this leaves the second round
/// half a second to arrive.
pub const TAKEOVER_HOLD: Duration = Duration::from_millis(1500);

/// The cluster's matchmaker: waiting sessions of every node in, proposals out.
pub struct ClusterMatcher {
    matcher: Matcher,
    waiting: FxHashMap<SessionId, ClusterMember>,
    nodes: FxHashMap<Arc<str>, Instant>,
    /// The newest heartbeat from anyone: while none comes the bus is down,
    /// and silence says nothing about a node.
    heard: Option<Instant>,
    proposed: u64,
    /// Waits are kept out of the pools until then (a takeover).
    held_until: Option<Instant>,
    /// The waits held meanwhile, in arrival order.
    held: Vec<SessionId>,
    held_set: FxHashSet<SessionId>,
}

impl std::fmt::Debug for ClusterMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMatcher")
            .field("waiting", &self.waiting.len())
            .field("nodes", &self.nodes.len())
            .field("proposed", &self.proposed)
            .finish_non_exhaustive()
    }
}

impl ClusterMatcher {
    /// An empty matcher with the engine's windows.
    pub fn new(config: MatcherConfig) -> Self {
        Self {
            matcher: Matcher::new(config),
            waiting: FxHashMap::default(),
            nodes: FxHashMap::default(),
            heard: None,
            proposed: 0,
            held_until: None,
            held: Vec::new(),
            held_set: FxHashSet::default(),
        }
    }

    /// Takes waits in but pairs nobody until `until` (the first
    /// [`ClusterMatcher::tick`] at or after it puts them in the pools in
    /// arrival order). For a matcher that takes pools over: see
    /// [`TAKEOVER_HOLD`]. Exclusions, cancels and heartbeats apply at once.
    pub fn hold_until(&mut self, until: Instant) {
        self.held_until = Some(until);
    }

    /// Sessions waiting in the pools.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Proposals made so far.
    pub fn proposed(&self) -> u64 {
        self.proposed
    }

    /// Takes one event of the matcher's stream (waits, cancels, exclusions)
    /// or of the nodes' (heartbeats); returns the proposals to publish.
    pub fn apply(&mut self, event: &BusEvent, now: Instant) -> Vec<BusEvent> {
        match event {
            BusEvent::Waiting(member) => {
                // Only heartbeats say a node is alive: a wait read again
                // from the stream may be from a node that died since.
                self.nodes.entry(member.node.clone()).or_insert(now);
                if let Some(known) = self.waiting.get(&member.session) {
                    if known.ticket >= member.ticket {
                        // The same wait announced again (or an older one).
                        return Vec::new();
                    }
                    self.matcher.cancel(member.session);
                }
                self.waiting.insert(member.session, member.clone());
                if self.held_until.is_some_and(|until| now < until) {
                    if self.held_set.insert(member.session) {
                        self.held.push(member.session);
                    }
                    return Vec::new();
                }
                // A hold that ran out puts its waits in first (this one may
                // be among them).
                let mut proposals = self.release(now);
                if !self.held_set.contains(&member.session)
                    && !self.matcher.is_waiting(member.session)
                {
                    proposals.extend(self.enqueue(member.session, now));
                }
                proposals
            }
            BusEvent::Cancelled {
                session, ticket, ..
            } => {
                if self
                    .waiting
                    .get(session)
                    .is_some_and(|known| known.ticket <= *ticket)
                {
                    self.waiting.remove(session);
                    self.matcher.cancel(*session);
                }
                Vec::new()
            }
            BusEvent::Excluded {
                sessions,
                client_keys,
                age_ms,
            } => {
                let since = now
                    .checked_sub(Duration::from_millis(*age_ms))
                    .unwrap_or(now);
                match client_keys {
                    Some([reporter, reported]) => self.matcher.add_report_block(
                        (sessions[0], reporter),
                        (sessions[1], reported),
                        since,
                    ),
                    None => self.matcher.add_cooldown(sessions[0], sessions[1], since),
                }
                // An exclusion that ran out in the past frees nobody new; one
                // that runs out later is in the matcher's deadlines.
                self.tick(now)
            }
            BusEvent::Heartbeat { node, leaving, .. } => {
                if *leaving {
                    self.nodes.remove(node);
                    self.drop_node(node);
                } else {
                    // A fresh window for everyone when the bus was down (after
                    // an outage, long enough for a publisher's back-off).
                    let window = match self.heard {
                        None => Some(now),
                        Some(last) if now.saturating_duration_since(last) > NODE_GONE_AFTER => {
                            Some(now + BUS_RECOVERY_GRACE)
                        }
                        Some(_) => None,
                    };
                    if let Some(window) = window {
                        for seen in self.nodes.values_mut() {
                            *seen = window;
                        }
                    }
                    self.heard = Some(now);
                    self.nodes.insert(node.clone(), now);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Runs what is due by `now` (interest waits running out, exclusions
    /// ending, silent nodes leaving the pools); returns the proposals.
    pub fn tick(&mut self, now: Instant) -> Vec<BusEvent> {
        let mut proposals = self.release(now);
        // Silent for 3 s past the newest heartbeat from anyone: while the
        // bus carries nothing, silence says nothing.
        let gone: Vec<Arc<str>> = self
            .nodes
            .iter()
            .filter(|(_, seen)| {
                self.heard
                    .is_some_and(|heard| heard.saturating_duration_since(**seen) > NODE_GONE_AFTER)
            })
            .map(|(node, _)| node.clone())
            .collect();
        for node in gone {
            self.nodes.remove(&node);
            self.drop_node(&node);
        }
        let due = self.matcher.tick(now);
        proposals.extend(due.into_iter().map(|pairing| self.propose(pairing)));
        proposals
    }

    /// The next moment [`ClusterMatcher::tick`] has work (besides noticing
    /// silent nodes, which the caller checks every second or so).
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.matcher.next_deadline(), self.held_until) {
            (Some(due), Some(held)) => Some(due.min(held)),
            (due, held) => due.or(held),
        }
    }

    /// When a hold ran out: its waits go into the pools in arrival order.
    fn release(&mut self, now: Instant) -> Vec<BusEvent> {
        if self.held_until.is_none_or(|until| now < until) {
            return Vec::new();
        }
        self.held_until = None;
        let mut proposals = Vec::new();
        for session in std::mem::take(&mut self.held) {
            proposals.extend(self.enqueue(session, now));
        }
        self.held_set.clear();
        proposals
    }

    /// Puts a known wait in the pools; a proposal when it pairs at once.
    fn enqueue(&mut self, session: SessionId, now: Instant) -> Option<BusEvent> {
        let member = self.waiting.get(&session)?;
        let candidate = Candidate {
            session,
            client_key: member.client_key.clone(),
            lang: member.lang.clone(),
            interests: member.interests.clone(),
            bot: member.bot,
        };
        self.matcher
            .enqueue_new(candidate, now)
            .map(|pairing| self.propose(pairing))
    }

    fn drop_node(&mut self, node: &Arc<str>) {
        let sessions: Vec<SessionId> = self
            .waiting
            .values()
            .filter(|member| &member.node == node)
            .map(|member| member.session)
            .collect();
        for session in sessions {
            self.waiting.remove(&session);
            self.matcher.cancel(session);
        }
    }

    fn propose(&mut self, pairing: Pairing) -> BusEvent {
        let first = self
            .waiting
            .remove(&pairing.first)
            .expect("a paired session was waiting");
        let second = self
            .waiting
            .remove(&pairing.second)
            .expect("a paired session was waiting");
        self.proposed += 1;
        BusEvent::Proposed {
            room: RoomId::random(),
            members: [first, second],
            common_interests: pairing.common_interests,
            waited_ms: [pairing.first_waited, pairing.second_waited]
                .map(|waited| u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: u64) -> SessionId {
        SessionId::from_raw(raw)
    }

    fn wait(node: &str, session: u64, ticket: u64) -> BusEvent {
        BusEvent::Waiting(ClusterMember {
            node: node.into(),
            session: s(session),
            client_key: format!("key-{session}").as_str().into(),
            lang: Some("ko".into()),
            interests: Vec::new(),
            bot: false,
            ticket,
            resume: None,
        })
    }

    fn paired(proposals: &[BusEvent]) -> Vec<[SessionId; 2]> {
        proposals
            .iter()
            .map(|proposal| match proposal {
                BusEvent::Proposed { members, .. } => {
                    let mut pair = [members[0].session, members[1].session];
                    pair.sort_by_key(|session| session.raw());
                    pair
                }
                other => panic!("not a proposal: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_held_matcher_pairs_nobody_until_the_hold_ends_and_keeps_exclusions_read_meanwhile() {
        let now = Instant::now();
        let mut matcher = ClusterMatcher::new(MatcherConfig::default());
        matcher.hold_until(now + TAKEOVER_HOLD);
        for event in [wait("a", 1, 1), wait("b", 2, 1), wait("b", 3, 1)] {
            assert!(
                matcher.apply(&event, now).is_empty(),
                "paired during the hold"
            );
        }
        // 1 and 2 just chatted: their exclusion comes after their waits.
        let excluded = BusEvent::Excluded {
            sessions: [s(1), s(2)],
            client_keys: None,
            age_ms: 10,
        };
        assert!(matcher.apply(&excluded, now).is_empty());
        assert!(matcher.tick(now + TAKEOVER_HOLD / 2).is_empty());
        assert_eq!(matcher.next_deadline(), Some(now + TAKEOVER_HOLD));
        let proposals = matcher.tick(now + TAKEOVER_HOLD);
        assert_eq!(paired(&proposals), vec![[s(1), s(3)]]);
        assert_eq!(matcher.waiting(), 1, "2 waits on");
    }

    #[test]
    fn a_wait_announced_again_as_a_hold_runs_out_is_pooled_once() {
        let now = Instant::now();
        let mut matcher = ClusterMatcher::new(MatcherConfig::default());
        matcher.hold_until(now + TAKEOVER_HOLD);
        assert!(matcher.apply(&wait("a", 1, 1), now).is_empty());
        // The hold is over but not yet ticked: the same session's newer wait.
        let later = now + TAKEOVER_HOLD;
        assert!(matcher.apply(&wait("a", 1, 2), later).is_empty());
        assert!(matcher.tick(later).is_empty());
        assert_eq!(matcher.waiting(), 1);
        let proposals = matcher.apply(&wait("b", 2, 1), later);
        assert_eq!(paired(&proposals), vec![[s(1), s(2)]]);
    }
}
