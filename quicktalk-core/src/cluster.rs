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

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::ids::{RoomId, SessionId};
use crate::matcher::{Candidate, Matcher, MatcherConfig, Pairing};
use crate::ports::event_bus::{BusEvent, ClusterMember};

/// A node not heard from for this long, while others are heard, is gone:
/// its waiting sessions leave the pools.
pub const NODE_GONE_AFTER: Duration = Duration::from_secs(3);

/// The cluster's matchmaker: waiting sessions of every node in, proposals out.
pub struct ClusterMatcher {
    matcher: Matcher,
    waiting: FxHashMap<SessionId, ClusterMember>,
    nodes: FxHashMap<Arc<str>, Instant>,
    /// The newest heartbeat from anyone: while none comes the bus is down,
    /// and silence says nothing about a node.
    heard: Option<Instant>,
    proposed: u64,
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
        }
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
                let candidate = Candidate {
                    session: member.session,
                    client_key: member.client_key.clone(),
                    lang: member.lang.clone(),
                    interests: member.interests.clone(),
                    bot: member.bot,
                };
                self.matcher
                    .enqueue_new(candidate, now)
                    .map(|pairing| self.propose(pairing))
                    .into_iter()
                    .collect()
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
                    let bus_was_down = self
                        .heard
                        .is_none_or(|last| now.saturating_duration_since(last) > NODE_GONE_AFTER);
                    if bus_was_down {
                        for seen in self.nodes.values_mut() {
                            *seen = now;
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
        self.matcher
            .tick(now)
            .into_iter()
            .map(|pairing| self.propose(pairing))
            .collect()
    }

    /// The next moment [`ClusterMatcher::tick`] has work (besides noticing
    /// silent nodes, which the caller checks every second or so).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.matcher.next_deadline()
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
