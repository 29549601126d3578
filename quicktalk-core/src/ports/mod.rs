//! The ports: what the engine needs from the outside world, as traits.
//!
//! - [`EventBus`]: publishes engine events to other processes (archiver,
//!   moderation worker, other nodes).
//! - [`ChatStore`]: persists chat lines, reports, bans and moderation flags.
//! - [`Moderator`]: judges a line before delivery, synchronously.
//!
//! In-memory implementations live in [`crate::memory`].

pub mod chat_store;
pub mod event_bus;
pub mod moderator;

pub use chat_store::{
    Ban, ChatStore, ContextLine, ExportCursor, ExportQuery, ForgetStats, ModerationFlag,
    PurgeStats, Report, RoomEvent, StoredMessage,
};
pub use event_bus::{BusEvent, ClusterMember, ClusterSeat, EventBus, Route, Subscription};
pub use moderator::{
    Action, Category, ModerationPolicy, Moderator, NoopModerator, Severity, Verdict,
};
