//! **SQLite** `ChatStore` for QuickTalk: the embedded default store.
//!
//! # Overview
//! [`SqliteChatStore`] keeps chat lines, moderation flags, reports (with
//! their chat context), bans and settings in one SQLite file in WAL mode.
//! Each [`ChatStore`] call runs on Tokio's blocking pool; a batch of lines is
//! one transaction, and a line already stored (same room and `seq`) is
//! skipped, so retried batches are harmless. The schema is versioned with
//! `PRAGMA user_version` and migrated forward at open; a file written by a
//! newer version is refused rather than damaged.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use quicktalk_core::Engine;
//! use quicktalk_sqlite::SqliteChatStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("quicktalk.db");
//! let store = SqliteChatStore::open(&path)?;
//! let engine = Engine::builder().store(Arc::new(store)).build()?;
//! assert_eq!(engine.stats().online, 0);
//! # Ok(())
//! # }
//! ```

mod schema;
mod store;

pub use store::{DEFAULT_CACHE_MIB, SqliteChatStore};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file's schema is newer than this version understands.
    #[error(
        "the database schema is version {found}, newer than this build's {supported}; upgrade QuickTalk"
    )]
    SchemaTooNew {
        /// The file's `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored value could not be read back.
    #[error("corrupt stored value in `{column}`: {reason}")]
    Corrupt {
        /// Where.
        column: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The blocking task running the query panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for quicktalk_core::Error {
    fn from(error: Error) -> Self {
        quicktalk_core::Error::store(error)
    }
}
