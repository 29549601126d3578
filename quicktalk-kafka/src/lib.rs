//! **Apache Kafka adapter** for QuickTalk.
//!
//! # Overview
//! - [`KafkaEventBus`] implements the engine's
//!   [`EventBus`](quicktalk_core::ports::event_bus::EventBus) port: every
//!   room event (matched, message, typing, partner left) goes to the topic
//!   `{prefix}.rooms`, keyed by room id, so a room's events stay on one
//!   partition in the order the engine produced them.
//! - [`GroupReader`] is how a worker (the archive, the moderation pass)
//!   reads those events as one member of a consumer group, committing only
//!   what it has processed.
//! - [`ensure_topics`] creates the topic at start-up with the configured
//!   partitions, replication and retention, and refuses an existing topic
//!   with another layout.
//! - [`envelope`] is the message format: versioned JSON, documented in
//!   `docs/cluster.md` with every client setting and why.
//!
//! Tests run against a real broker: set `QUICKTALK_TEST_KAFKA=host:port`
//! (`scripts/services.sh up` starts Apache Kafka in KRaft mode and prints it).
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use quicktalk_core::Engine;
//! use quicktalk_kafka::{KafkaConfig, KafkaEventBus};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let brokers = KafkaConfig::brokers_from_url("kafka://127.0.0.1:9092")?;
//! let bus = KafkaEventBus::connect(KafkaConfig::new(brokers, "node-a")).await?;
//! let engine = Engine::builder().event_bus(Arc::new(bus)).build()?;
//! # let _ = engine;
//! # Ok(())
//! # }
//! ```

mod bus;
mod config;
mod context;
mod control;
pub mod envelope;
mod error;
mod failures;
mod matching;
mod reader;
#[cfg(feature = "testing")]
pub mod testing;
mod topics;

pub use bus::KafkaEventBus;
pub use config::{KafkaConfig, SecurityProtocol};
pub use control::{ControlChannel, ControlEvent};
pub use error::{Error, Result};
pub use failures::ReadFailures;
pub use matching::MatchReader;
pub use reader::{GroupReader, IDLE_WAIT, Record};
pub use topics::ensure_topics;
