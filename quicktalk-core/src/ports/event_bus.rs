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
}

impl BusEvent {
    /// The room the event belongs to: the partition key.
    pub fn room(&self) -> RoomId {
        match self {
            Self::Matched { room, .. }
            | Self::Message { room, .. }
            | Self::Blocked { room, .. }
            | Self::Typing { room, .. }
            | Self::PartnerLeft { room, .. } => *room,
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

    /// Starts receiving events published from now on.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when the backend fails.
    async fn subscribe(&self) -> Result<Subscription>;

    /// Whether the backend is reachable; `/readyz` asks this.
    ///
    /// # Errors
    /// [`crate::Error::Bus`] when it is not.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
