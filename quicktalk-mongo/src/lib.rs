//! **MongoDB** `ChatStore` for QuickTalk: chat history, reports, bans and
//! moderation flags in a database that many nodes and workers share.
//!
//! # Overview
//! [`MongoChatStore`] implements [`quicktalk_core::ports::ChatStore`] over the
//! official `mongodb` driver. It works with MongoDB itself, MongoDB Atlas
//! (`mongodb+srv://` with TLS and SRV lookup) and FerretDB (the
//! MongoDB-wire server the project's tests run against).
//!
//! - **Collections** `messages`, `flags`, `matches`, `ends`, `reports`,
//!   `bans`, `settings` and `meta`, with their indexes, are created at
//!   [`MongoChatStore::connect`] (idempotently). Each index is declared in
//!   `schema.rs` beside the query it serves.
//! - **Idempotent writes.** A line's `_id` is its room and `seq`, a match's
//!   and an end's is the room, so a retried or replayed batch is a no-op: a
//!   duplicate-key error on an unordered bulk insert counts as success.
//! - **Bounded retries.** A transient failure (a dropped connection, a
//!   primary stepping down) is retried a few times with back-off inside one
//!   call; what still fails is returned, and the engine's store writer keeps
//!   the batch, retries, counts and reports it through readiness.
//! - **Retention.** A TTL index where the server has them, and the engine's
//!   periodic [`purge`](quicktalk_core::ports::ChatStore::purge) everywhere
//!   (FerretDB v1 has no TTL indexes).
//! - **Schema version** in the `meta` collection; a database written by a
//!   newer QuickTalk is refused with [`Error::SchemaTooNew`].
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use quicktalk_core::Engine;
//! use quicktalk_mongo::{MongoChatStore, MongoConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = MongoConfig::new("mongodb://127.0.0.1:27017/quicktalk");
//! let store = MongoChatStore::connect(&config).await?;
//! let engine = Engine::builder().store(Arc::new(store)).build()?;
//! assert_eq!(engine.stats().online, 0);
//! # Ok(())
//! # }
//! ```

mod config;
mod records;
mod retry;
mod schema;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{MongoConfig, redact_uri};
pub use store::MongoChatStore;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string could not be parsed, or names nothing to connect to.
    #[error("invalid MongoDB URI: {0}")]
    InvalidUri(String),
    /// The server could not be reached or refused the credentials at start-up.
    #[error("cannot reach MongoDB at {uri}: {reason}")]
    Unreachable {
        /// The URI with any password redacted.
        uri: String,
        /// What the driver said.
        reason: String,
    },
    /// The database's schema is newer than this version understands.
    #[error(
        "the database schema is version {found}, newer than this build's {supported}; upgrade QuickTalk"
    )]
    SchemaTooNew {
        /// The version stored in `meta`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored document could not be read back.
    #[error("corrupt stored document in `{collection}`: {reason}")]
    Corrupt {
        /// Where.
        collection: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The driver failed.
    #[error("mongodb: {0}")]
    Driver(#[from] mongodb::error::Error),
    /// The server did not answer within the configured time.
    #[error("mongodb did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for quicktalk_core::Error {
    fn from(error: Error) -> Self {
        quicktalk_core::Error::store(error)
    }
}
