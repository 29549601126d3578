//! [`MatchReader`]: the cluster matcher's stream, `{prefix}.match`.
//!
//! Sharded by language: a wait with `lang` goes to its pool's partition, a
//! wait without one (it may be paired with anyone), a cancel or an
//! exclusion to every partition. Consumer group `{prefix}.matcher`, which
//! every node joins, gives each partition to exactly one live node, and a
//! node runs one matcher over the pools it owns. When a node dies its
//! partitions move (after `session.timeout.ms`) and the new owner asks
//! every node to announce its waits again; the matcher keeps nothing that
//! is not announced again. Two owners may propose the same wait without
//! `lang`; its node accepts one proposal per wait, so nobody is matched
//! twice.

use std::time::Duration;

use quicktalk_core::ports::event_bus::BusEvent;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

use crate::config::KafkaConfig;
use crate::context::Quiet;
use crate::envelope;
use crate::error::{Error, Result};
use crate::topics::ensure_topics;

/// The matcher's stream as one member of the matcher group.
pub struct MatchReader {
    consumer: StreamConsumer<Quiet>,
    topic: String,
}

impl std::fmt::Debug for MatchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchReader")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl MatchReader {
    /// Joins group `{prefix}.matcher` on `{prefix}.match`.
    ///
    /// # Errors
    /// [`Error`] when the topics cannot be created or the consumer not made.
    pub async fn join(config: &KafkaConfig) -> Result<Self> {
        config.validate()?;
        ensure_topics(config).await?;
        let topic = config.match_topic();
        let consumer: StreamConsumer<Quiet> = config
            .client_config()
            .set("group.id", format!("{}.matcher", config.topic_prefix))
            // The position is all a new owner takes over: committed every
            // second, and a few repeated events only make proposals the
            // nodes refuse.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            // A group's first owner starts at the end: the nodes announce
            // every wait again when it asks.
            .set("auto.offset.reset", "latest")
            .set("enable.partition.eof", "false")
            // A wait is seen within 50 ms; polling faster only costs the
            // broker CPU that chat across nodes needs.
            .set("fetch.wait.max.ms", "50")
            // A dead owner's partition moves after 6 s; heartbeats every 2 s.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "2000")
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating the matcher consumer"))?;
        consumer
            .subscribe(&[&topic])
            .map_err(Error::kafka("subscribing"))?;
        Ok(Self { consumer, topic })
    }

    /// The next event of the stream; `None` for one this build cannot read
    /// (logged).
    ///
    /// # Errors
    /// [`Error`] when the brokers cannot be read (the caller retries).
    pub async fn recv(&self) -> Result<Option<BusEvent>> {
        let message = self
            .consumer
            .recv()
            .await
            .map_err(Error::kafka("reading the matcher stream"))?;
        let decoded = message
            .payload()
            .ok_or_else(|| "empty message".to_owned())
            .and_then(envelope::decode);
        match decoded {
            Ok(envelope) => Ok(Some(envelope.event)),
            Err(reason) => {
                tracing::warn!(topic = %self.topic, offset = message.offset(), %reason, "skipped an event this build cannot read");
                Ok(None)
            }
        }
    }

    /// The partitions (matchmaking pools) this node owns now, in order.
    pub fn owned(&self) -> Vec<i32> {
        let mut owned: Vec<i32> = self
            .consumer
            .assignment()
            .map(|assignment| {
                assignment
                    .elements()
                    .iter()
                    .map(|element| element.partition())
                    .collect()
            })
            .unwrap_or_default();
        owned.sort_unstable();
        owned
    }

    /// How long a dead owner keeps the partition.
    pub fn failover_after() -> Duration {
        Duration::from_secs(6)
    }
}
