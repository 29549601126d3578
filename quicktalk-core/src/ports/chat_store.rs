//! The `ChatStore` port: where chat lines, reports, bans and moderation flags
//! are kept.
//!
//! # What an implementation must guarantee
//! - **Idempotence.** [`ChatStore::append_messages`] may be called again with
//!   lines it already holds (the writer retries a failed batch, Kafka
//!   consumers redeliver); a line is identified by `(room, seq)` and stored
//!   once. The same holds for flags by `(room, seq, session)` where `seq` is
//!   set, and for reports by `id`.
//! - **Durability before `Ok`.** When a method returns `Ok`, what it wrote
//!   survives the process.
//! - **Cancellation.** The engine may drop a future at shutdown; a dropped
//!   write may or may not have happened, but must not leave partial records.
//!   Room events are stored once by `(room, kind)`.
//! - **Retention.** [`ChatStore::purge`] removes chat lines, flags and room
//!   events older than the cut-off; reports and the context stored with them
//!   stay.
//! - **Forgetting.** [`ChatStore::forget_client`] removes every chat line and
//!   flag written under a client key (a privacy request); reports stay, as
//!   they do through retention.
//! - **Export order.** [`ChatStore::export_messages`] pages through lines in
//!   `(ts, room, seq)` order, so a cursor taken from the last line of a page
//!   continues exactly where the page ended.
//!
//! `ping` has a default (always ready); everything else is required.
//!
//! # Implementing it
//! The trait's methods are `async` through [`async_trait`](crate::async_trait)
//! (re-exported by this crate): put `#[quicktalk_core::async_trait]` on your
//! `impl ChatStore for ...` block, and write the methods as `async fn`.
//! The store writer calls them from a task of the engine's runtime, or (with
//! `EngineConfig::store_writer_thread`) from a thread of its own with a
//! single-threaded Tokio runtime that has timers and I/O. A panic in a method
//! stops the writer: `Engine::health` then reports the store not ready and
//! `Engine::shutdown` returns `false`; return an error instead, and the
//! writer retries the batch with back-off.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::moderator::{Action, Category, Severity};
use crate::protocol::{PartnerLeftReason, ReportReason};

/// One delivered chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The room.
    pub room: RoomId,
    /// Its `seq` in the room; `(room, seq)` is the line's identity.
    pub seq: u64,
    /// Who wrote it.
    pub session: SessionId,
    /// The writer's client key (a keyed hash, never a raw IP).
    pub client_key: ClientKey,
    /// The text as delivered (after masking).
    pub text: String,
    /// Unix milliseconds.
    pub ts: i64,
    /// Whether spans were masked.
    pub masked: bool,
}

/// One line of the chat around a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextLine {
    /// Its `seq` in the room.
    pub seq: u64,
    /// Who wrote it.
    pub session: SessionId,
    /// The text as delivered.
    pub text: String,
    /// Unix milliseconds.
    pub ts: i64,
}

/// A report of one session by another, with the chat around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Unique id (random).
    pub id: String,
    /// The room the two shared.
    pub room: RoomId,
    /// Who reported.
    pub reporter: SessionId,
    /// The reporter's client key.
    pub reporter_key: ClientKey,
    /// Who was reported.
    pub reported: SessionId,
    /// The reported session's client key.
    pub reported_key: ClientKey,
    /// Why.
    pub reason: ReportReason,
    /// The reporter's note.
    pub note: Option<String>,
    /// Unix milliseconds.
    pub ts: i64,
    /// The last lines of the chat, oldest first.
    pub context: Vec<ContextLine>,
}

/// A ban of one client key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// The banned client key.
    pub client_key: ClientKey,
    /// Why (for operators).
    pub reason: String,
    /// Unix milliseconds when it was made.
    pub created: i64,
    /// Unix milliseconds when it ends; `None` = never.
    pub until: Option<i64>,
}

impl Ban {
    /// Whether the ban holds at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.until.is_none_or(|until| until > now_ms)
    }
}

/// A line the moderator did not simply allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationFlag {
    /// The room.
    pub room: RoomId,
    /// The delivered line's `seq`, or `None` when it was blocked.
    pub seq: Option<u64>,
    /// Who wrote it.
    pub session: SessionId,
    /// The writer's client key.
    pub client_key: ClientKey,
    /// What the engine did.
    pub action: Action,
    /// The category found.
    pub category: Option<Category>,
    /// How bad.
    pub severity: Severity,
    /// The original text, for review (empty when retention is zero).
    pub text: String,
    /// Unix milliseconds.
    pub ts: i64,
}

/// A chat's start or end, kept so a room's history says who met, when, and
/// how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// Two sessions were matched into the room.
    Matched {
        /// The room.
        room: RoomId,
        /// The two members.
        sessions: [SessionId; 2],
        /// Their client keys, in the same order.
        client_keys: [ClientKey; 2],
        /// Interests they share (empty after the random fallback).
        common_interests: Vec<String>,
        /// Unix milliseconds.
        ts: i64,
    },
    /// The chat ended.
    Ended {
        /// The room.
        room: RoomId,
        /// The member who ended it (left, skipped, dropped, was removed).
        left: SessionId,
        /// Why, as told to the other member.
        reason: PartnerLeftReason,
        /// Unix milliseconds.
        ts: i64,
    },
}

impl RoomEvent {
    /// The room the event belongs to.
    pub fn room(&self) -> RoomId {
        match self {
            Self::Matched { room, .. } | Self::Ended { room, .. } => *room,
        }
    }

    /// Unix milliseconds.
    pub fn ts(&self) -> i64 {
        match self {
            Self::Matched { ts, .. } | Self::Ended { ts, .. } => *ts,
        }
    }

    /// `"matched"` or `"ended"`: with the room, the event's identity.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Matched { .. } => "matched",
            Self::Ended { .. } => "ended",
        }
    }
}

/// Which chat lines an export wants, and where a page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportQuery {
    /// Only lines at or after this unix millisecond.
    pub since: Option<i64>,
    /// Only lines before this unix millisecond.
    pub until: Option<i64>,
    /// Only this room's lines.
    pub room: Option<RoomId>,
    /// Only lines written under this client key.
    pub client_key: Option<ClientKey>,
    /// Start after this line: the `(ts, room, seq)` of the previous page's last line.
    pub after: Option<ExportCursor>,
    /// Most lines in the page (at least 1).
    pub limit: usize,
}

/// A position in the export order `(ts, room, seq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExportCursor {
    /// Unix milliseconds.
    pub ts: i64,
    /// The room.
    pub room: RoomId,
    /// The line's `seq`.
    pub seq: u64,
}

impl ExportCursor {
    /// The cursor just past `message`.
    pub fn of(message: &StoredMessage) -> Self {
        Self {
            ts: message.ts,
            room: message.room,
            seq: message.seq,
        }
    }
}

impl ExportQuery {
    /// Whether `message` passes the filters and lies after the cursor
    /// (stores that filter in memory use this; the rest mirror it in their
    /// query language).
    pub fn admits(&self, message: &StoredMessage) -> bool {
        self.since.is_none_or(|since| message.ts >= since)
            && self.until.is_none_or(|until| message.ts < until)
            && self.room.is_none_or(|room| message.room == room)
            && self
                .client_key
                .as_ref()
                .is_none_or(|key| &message.client_key == key)
            && self
                .after
                .is_none_or(|after| ExportCursor::of(message) > after)
    }
}

/// What a retention purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Chat lines removed.
    pub messages: u64,
    /// Moderation flags removed.
    pub flags: u64,
    /// Room events (matches and ends) removed.
    pub room_events: u64,
}

/// What forgetting a client key removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ForgetStats {
    /// Chat lines removed.
    pub messages: u64,
    /// Moderation flags removed.
    pub flags: u64,
}

/// Persists what the engine must keep. See the module docs for the guarantees.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Stores delivered chat lines; lines already stored are skipped.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails; the batch may be retried whole.
    async fn append_messages(&self, messages: &[StoredMessage]) -> Result<()>;

    /// Stores moderation flags.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn append_flags(&self, flags: &[ModerationFlag]) -> Result<()>;

    /// Stores matches and ends of chats; events already stored (same room
    /// and kind) are skipped.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails; the batch may be retried whole.
    async fn append_room_events(&self, events: &[RoomEvent]) -> Result<()>;

    /// A room's stored events, matched first.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn room_events(&self, room: RoomId) -> Result<Vec<RoomEvent>>;

    /// One page of stored lines in `(ts, room, seq)` order, filtered as the
    /// query says. An empty page means the export is complete.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn export_messages(&self, query: &ExportQuery) -> Result<Vec<StoredMessage>>;

    /// Removes every chat line and flag written under `client_key`.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails; calling again finishes the job.
    async fn forget_client(&self, client_key: &ClientKey) -> Result<ForgetStats>;

    /// Stores a report with its context.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn save_report(&self, report: &Report) -> Result<()>;

    /// The newest reports first, at most `limit`.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn reports(&self, limit: usize) -> Result<Vec<Report>>;

    /// The newest moderation flags first, at most `limit`.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn flags(&self, limit: usize) -> Result<Vec<ModerationFlag>>;

    /// A room's stored lines in `seq` order.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn room_history(&self, room: RoomId) -> Result<Vec<StoredMessage>>;

    /// Adds or replaces the ban of `ban.client_key`.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn put_ban(&self, ban: &Ban) -> Result<()>;

    /// Lifts a ban; `true` when there was one.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn remove_ban(&self, client_key: &ClientKey) -> Result<bool>;

    /// The ban of a key, active or not.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn ban(&self, client_key: &ClientKey) -> Result<Option<Ban>>;

    /// Every ban, newest first.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn bans(&self) -> Result<Vec<Ban>>;

    /// Removes chat lines, flags and room events older than `before`.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn purge(&self, before: SystemTime) -> Result<PurgeStats>;

    /// Returns the stored value of a named setting, storing `init` first when
    /// there is none (used for secrets that must survive restarts, such as the
    /// IP-hash key).
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails.
    async fn setting_or_insert(&self, name: &str, init: &str) -> Result<String>;

    /// The stored value of a named setting, if there is one; never writes
    /// (the `forget` tool reads the IP-hash key this way and must not make
    /// one up). The default, for a store written before this method, says
    /// it cannot tell.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the backend fails or cannot read
    /// settings back.
    async fn setting(&self, name: &str) -> Result<Option<String>> {
        let _ = name;
        Err(crate::Error::store("this store cannot read a setting back"))
    }

    /// Whether the store is reachable; `/readyz` asks this.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when it is not.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// Unix milliseconds of a system time (0 before the epoch).
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The system time of unix milliseconds.
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
