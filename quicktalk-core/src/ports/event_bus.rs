//! The `EventBus` port: engine events for other processes.
//!
//! The engine delivers to its own sessions directly; what it publishes here
//! is for everyone else: the archiver, the moderation worker, metrics, and
//! (with a multi-node bus) the nodes that own the partner sessions.
//!
//! # What an implementation must guarantee
//! - **Order per room.** Events of one room reach every subscriber in the
//!   order they were published (key by [`BusEvent::room`]). No order is
//!   promised across rooms.
//! - **At-least-once or counted loss.** An event is delivered, or its loss is
//!   counted and logged; it is never dropped silently. Consumers de-duplicate
//!   messages by `(room, seq)`.
//! - **Cancellation.** A dropped `publish` future may or may not have
//!   published the batch, never part of one event.
//!
//! `publish` and `subscribe` are required; `ping` (for readiness) defaults
//! to "reachable".

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::moderator::Category;
use crate::protocol::PartnerLeftReason;

/// An engine event as published on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BusEvent {
    /// Two sessions were matched.
    Matched {
        /// The new room.
        room: RoomId,
        /// The two members.
        sessions: [SessionId; 2],
        /// Their client keys, in the same order.
        client_keys: [ClientKey; 2],
        /// Interests they share.
        common_interests: Vec<String>,
        /// Unix milliseconds.
        ts: i64,
        /// Cluster mode: where each member is, and the digest of its resume
        /// token, so another node can take a member over if its node dies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cluster: Option<[ClusterSeat; 2]>,
    },
    /// A chat line was delivered.
    Message {
        /// The room.
        room: RoomId,
        /// Its `seq`.
        seq: u64,
        /// Who wrote it.
        from: SessionId,
        /// The writer's client key.
        client_key: ClientKey,
        /// The text as delivered.
        text: Arc<str>,
        /// Unix milliseconds.
        ts: i64,
        /// Whether spans were masked.
        masked: bool,
        /// The writer's `cid`, when the writer is on another node than the
        /// one numbering the room (cluster mode: its node echoes with it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<Arc<str>>,
    },
    /// A line the moderator blocked (not delivered; its text is not
    /// published). Workers count repeated attempts per client key.
    Blocked {
        /// The room.
        room: RoomId,
        /// Who wrote it.
        from: SessionId,
        /// The writer's client key.
        client_key: ClientKey,
        /// Why it was blocked.
        category: Option<Category>,
        /// Unix milliseconds.
        ts: i64,
    },
    /// A typing indicator changed.
    Typing {
        /// The room.
        room: RoomId,
        /// Who is typing.
        from: SessionId,
        /// Typing or not.
        active: bool,
    },
    /// A chat ended.
    PartnerLeft {
        /// The room.
        room: RoomId,
        /// Who ended it.
        left: SessionId,
        /// Why, as told to the other member.
        reason: PartnerLeftReason,
        /// Unix milliseconds.
        ts: i64,
    },
    /// Cluster mode: a session waits for a partner (for the matcher).
    Waiting(ClusterMember),
    /// Cluster mode: a session stopped waiting (for the matcher).
    Cancelled {
        /// Its node.
        node: Arc<str>,
        /// The session.
        session: SessionId,
        /// The ticket of the wait that ended.
        ticket: u64,
    },
    /// Cluster mode: two sessions the matcher must keep apart (for the
    /// matcher): the rematch cooldown, or a report block when `client_keys`
    /// is given.
    Excluded {
        /// The two sessions.
        sessions: [SessionId; 2],
        /// For a report block: their client keys (reporter first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_keys: Option<[ClientKey; 2]>,
        /// Milliseconds since the exclusion began (a re-announced one is older).
        age_ms: u64,
    },
    /// Cluster mode: the matcher pairs two waiting sessions; their nodes
    /// answer, and the room opens when both accept.
    Proposed {
        /// The room it would be.
        room: RoomId,
        /// The one that waited longer first; its node numbers the lines.
        members: [ClusterMember; 2],
        /// Interests both gave.
        common_interests: Vec<String>,
        /// How long each waited, in milliseconds.
        waited_ms: [u64; 2],
    },
    /// Cluster mode: a node's answer to a proposal for one of its sessions.
    Answered {
        /// The proposed room.
        room: RoomId,
        /// The session answered for.
        session: SessionId,
        /// Still waiting with the proposed ticket: yes.
        accept: bool,
    },
    /// Cluster mode: a line written on the node that does not number the
    /// room; the numbering node delivers it and publishes the `message`.
    Said {
        /// The room.
        room: RoomId,
        /// Who wrote it.
        from: SessionId,
        /// The text as it will be delivered (already moderated).
        text: Arc<str>,
        /// The writer's `cid`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<Arc<str>>,
        /// Whether spans were masked.
        masked: bool,
        /// Unix milliseconds on the writer's node (the numbering node stamps
        /// the line with its own clock: one clock per room).
        ts: i64,
    },
    /// Cluster mode: a node is alive (sent every second) and has `online`
    /// connected sessions.
    Heartbeat {
        /// The node.
        node: Arc<str>,
        /// Its connected sessions.
        online: u64,
        /// The node is shutting down: its rooms end now.
        #[serde(default)]
        leaving: bool,
        /// A random number the node's process picked at start: two
        /// processes given one node id show as two instances (0 from nodes
        /// that predate it).
        #[serde(default)]
        instance: u64,
    },
    /// Cluster mode: a node took over matchmaking and asks every node to
    /// announce its waiting sessions and exclusions again.
    Reannounce {
        /// The new matcher's node.
        node: Arc<str>,
    },
    /// Cluster mode: a session was resumed on another node than the one
    /// that held it; that node lets go of it (ending its chat).
    Moved {
        /// The session's most recent room.
        room: RoomId,
        /// The session.
        session: SessionId,
        /// The node that has it now.
        node: Arc<str>,
    },
    /// Cluster mode: a client resumed on a node that does not know its
    /// token (e.g. one started after the session's room opened); any node
    /// that knows the digest answers with [`BusEvent::Located`].
    Locate {
        /// [`crate::ResumeToken::digest`] of the token.
        digest: Arc<str>,
        /// The node that asks.
        asker: Arc<str>,
    },
    /// Cluster mode: the answer to [`BusEvent::Locate`]: the session with
    /// that token digest and the room it was in. A node shutting down sends
    /// one for each of its sessions in a room, to every node.
    Located {
        /// The digest asked for.
        digest: Arc<str>,
        /// The node that asked; none when a node shutting down tells every
        /// node where its sessions are.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asker: Option<Arc<str>>,
        /// The session.
        session: SessionId,
        /// Its client key.
        client_key: ClientKey,
        /// Its current or most recent room.
        room: RoomId,
        /// Its partner in that room.
        partner: SessionId,
        /// The node that held it.
        node: Arc<str>,
        /// Where the room's history starts (unix ms, with a margin).
        since_ms: i64,
    },
    /// Cluster mode: a session in `room` has a new resume token (it resumed
    /// on its node); `resume` is the new token's digest.
    Rekeyed {
        /// The session's current or most recent room.
        room: RoomId,
        /// The session.
        session: SessionId,
        /// [`crate::ResumeToken::digest`] of the new token.
        resume: Arc<str>,
    },
}

/// A waiting session as the cluster's matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// The node that holds the session.
    pub node: Arc<str>,
    /// The session.
    pub session: SessionId,
    /// Its client key.
    pub client_key: ClientKey,
    /// Its `lang`, lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Arc<str>>,
    /// Its interests, normalised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<Arc<str>>,
    /// Joined with `bot: true`.
    #[serde(default)]
    pub bot: bool,
    /// Identifies this wait: a session that stops and starts waiting again
    /// gets a new ticket, so a proposal for an old wait is refused.
    pub ticket: u64,
    /// [`crate::ResumeToken::digest`] of its resume token: another node
    /// recognises the token if this node dies and the client resumes there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Arc<str>>,
}

/// Cluster mode: a member of a room as other nodes need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSeat {
    /// The node that holds the session.
    pub node: Arc<str>,
    /// [`crate::ResumeToken::digest`] of its resume token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Arc<str>>,
}

/// Where an event goes on a partitioned bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A room's stream, in order (key: the room).
    Room(RoomId),
    /// The matcher's stream, in order.
    Match,
    /// Node liveness and matcher changes, read by every node.
    Nodes,
}

impl BusEvent {
    /// The room the event belongs to, if any.
    pub fn room(&self) -> Option<RoomId> {
        match self.route() {
            Route::Room(room) => Some(room),
            Route::Match | Route::Nodes => None,
        }
    }

    /// For an event of the matcher's stream: the pool it belongs to (the
    /// `lang` of a wait), so a partitioned bus can shard matchmaking by
    /// language; `None` for one every pool must see (a wait without `lang`,
    /// which may be paired with anyone; cancels; exclusions).
    pub fn match_key(&self) -> Option<&str> {
        match self {
            Self::Waiting(member) => member.lang.as_deref(),
            _ => None,
        }
    }

    /// Where the event goes: its room's stream (the partition key), the
    /// matcher's, or the nodes'.
    pub fn route(&self) -> Route {
        match self {
            Self::Matched { room, .. }
            | Self::Message { room, .. }
            | Self::Blocked { room, .. }
            | Self::Typing { room, .. }
            | Self::PartnerLeft { room, .. }
            | Self::Proposed { room, .. }
            | Self::Answered { room, .. }
            | Self::Said { room, .. }
            | Self::Rekeyed { room, .. }
            | Self::Moved { room, .. } => Route::Room(*room),
            Self::Waiting(_) | Self::Cancelled { .. } | Self::Excluded { .. } => Route::Match,
            Self::Heartbeat { .. }
            | Self::Reannounce { .. }
            | Self::Locate { .. }
            | Self::Located { .. } => Route::Nodes,
        }
    }
}

/// A stream of bus events for one subscriber.
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<BusEvent>,
}

impl Subscription {
    /// A subscription and the sender that feeds it; adapters run a task that
    /// reads their backend and sends into it.
    pub fn channel(capacity: usize) -> (mpsc::Sender<BusEvent>, Self) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (sender, Self { receiver })
    }

    /// The next event; `None` when the bus is gone.
    pub async fn recv(&mut self) -> Option<BusEvent> {
        self.receiver.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<BusEvent> {
        self.receiver.try_recv().ok()
    }
}

/// Publishes and subscribes engine events. See the module docs for the guarantees.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes a batch, in order.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when the backend fails; the batch may be retried.
    async fn publish(&self, events: &[BusEvent]) -> Result<()>;

    /// Starts receiving events published from now on. Only cluster mode
    /// (and a worker reading the bus) subscribes; the default, for a bus
    /// that only publishes (to an audit log, a metrics pipe), refuses.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when the backend fails, or (the default) when
    /// the bus does not deliver events.
    async fn subscribe(&self) -> Result<Subscription> {
        Err(crate::Error::bus(
            "this event bus only publishes; it cannot be subscribed to",
        ))
    }

    /// Cluster mode: the events of `room` published since `since_ms` (Unix
    /// milliseconds, a little before the room opened), in order. A node
    /// reads them to resume a session whose node died. The default keeps
    /// no history and returns none.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when the backend fails.
    async fn room_history(&self, room: RoomId, since_ms: i64) -> Result<Vec<BusEvent>> {
        let _ = (room, since_ms);
        Ok(Vec::new())
    }

    /// Whether the backend is reachable; `/readyz` asks this.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when it is not.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
