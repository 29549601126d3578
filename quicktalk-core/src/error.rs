//! The crate's error type.

use std::error::Error as StdError;

/// A boxed error from a backend (database driver, broker client, ...), kept as
/// the source so that the core never names a backend's types.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in the engine and its ports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range. `setting` names it.
    #[error("invalid setting `{setting}`: {reason}")]
    Config {
        /// The setting's name as the configuration spells it.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The chat store failed.
    #[error("chat store: {0}")]
    Store(#[source] BoxError),
    /// The event bus failed.
    #[error("event bus: {0}")]
    Bus(#[source] BoxError),
    /// The client key is banned.
    #[error("client is banned{}", until.map(|t| format!(" until {t} (unix ms)")).unwrap_or_default())]
    Banned {
        /// When the ban ends (unix ms), or `None` for a permanent ban.
        until: Option<i64>,
    },
    /// The engine holds as many sessions as it is configured to.
    #[error("server is at capacity")]
    ServerBusy,
    /// The engine is shutting down and takes no new sessions.
    #[error("server is shutting down")]
    ShuttingDown,
    /// [`crate::EngineBuilder::build`] was called outside a Tokio runtime,
    /// or in one without timers (the engine runs its timers and writers as
    /// tasks).
    #[error(
        "the engine must be built inside a Tokio runtime with timers (enable_time or enable_all)"
    )]
    NoRuntime,
    /// The store writer's own thread could not be started.
    #[error("cannot start the store writer thread: {0}")]
    Thread(String),
}

impl Error {
    /// Wraps a backend error as a store error.
    pub fn store(source: impl Into<BoxError>) -> Self {
        Self::Store(source.into())
    }

    /// Wraps a backend error as a bus error.
    pub fn bus(source: impl Into<BoxError>) -> Self {
        Self::Bus(source.into())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
