//! [`GroupReader`]: a worker's view of the room events, shared with the
//! other copies of the same worker through a consumer group.
//!
//! At-least-once: a batch's offsets are committed only when the worker says
//! it is done with it ([`GroupReader::commit`]), so a worker killed mid-batch
//! hands the batch to the next owner of its partitions. Workers make their
//! writes idempotent (by room and `seq`) and the repeats cost nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use quicktalk_core::ports::event_bus::BusEvent;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::context::Quiet;
use crate::envelope;
use crate::error::{Error, Result};
use crate::topics::ensure_topics;

/// How long [`GroupReader::next_batch`] waits for a first event before it
/// returns an empty batch.
pub const IDLE_WAIT: Duration = Duration::from_secs(1);

/// One event read from the topic, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The node that published it.
    pub node: String,
    /// The event.
    pub event: BusEvent,
}

/// Reads the rooms topic as member `group` of a consumer group.
pub struct GroupReader {
    consumer: StreamConsumer<Quiet>,
    topic: String,
    group: String,
    /// What `next_batch` returned and `commit` has not committed yet:
    /// partition -> the next offset to read.
    positions: Mutex<HashMap<i32, i64>>,
    skipped: AtomicU64,
}

impl std::fmt::Debug for GroupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupReader")
            .field("topic", &self.topic)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl GroupReader {
    /// Joins consumer group `{prefix}.{worker}` on the rooms topic (created
    /// if missing). A group that never committed starts at the oldest event
    /// the brokers keep.
    ///
    /// # Errors
    /// As [`ensure_topics`], and [`Error::Kafka`] when the consumer cannot
    /// be created or subscribed.
    pub async fn join(config: &KafkaConfig, worker: &str) -> Result<Self> {
        config.validate()?;
        ensure_topics(config).await?;
        let topic = config.rooms_topic();
        let group = format!("{}.{worker}", config.topic_prefix);
        let consumer: StreamConsumer<Quiet> = config
            .client_config()
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // A batch as soon as there is one (the default waits 500 ms).
            .set("fetch.wait.max.ms", "50")
            // A dead worker's partitions move after 10 s (45 s default);
            // a live one heartbeats every 3 s.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "3000")
            // Rebalances move only the partitions that must move; the
            // others keep being read.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating a group consumer"))?;
        consumer
            .subscribe(&[&topic])
            .map_err(Error::kafka("subscribing"))?;
        Ok(Self {
            consumer,
            topic,
            group,
            positions: Mutex::default(),
            skipped: AtomicU64::new(0),
        })
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Events this reader could not decode and skipped (logged each time).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Waits for a first event, then takes what else arrives within
    /// `linger`, up to `max` events, in partition order. With nothing to
    /// read for [`IDLE_WAIT`] it returns an empty batch, so a worker's loop
    /// (and its `/livez` heartbeat) comes round while the chat is quiet.
    ///
    /// # Errors
    /// [`Error::Kafka`] when reading fails (the caller retries).
    pub async fn next_batch(&self, max: usize, linger: Duration) -> Result<Vec<Record>> {
        let mut batch = Vec::new();
        let Ok(first) = tokio::time::timeout(IDLE_WAIT, self.consumer.recv()).await else {
            return Ok(batch);
        };
        let first = first.map_err(Error::kafka("reading"))?;
        self.take(&first, &mut batch);
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => self.take(&message, &mut batch),
                Ok(Err(error)) => return Err(Error::kafka("reading")(error)),
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    fn take(&self, message: &rdkafka::message::BorrowedMessage<'_>, batch: &mut Vec<Record>) {
        let (partition, offset) = (message.partition(), message.offset());
        self.positions
            .lock()
            .entry(partition)
            .and_modify(|next| *next = (*next).max(offset + 1))
            .or_insert(offset + 1);
        let decoded = message
            .payload()
            .ok_or_else(|| "empty message".to_owned())
            .and_then(envelope::decode);
        match decoded {
            Ok(envelope) => batch.push(Record {
                partition,
                offset,
                node: envelope.node,
                event: envelope.event,
            }),
            Err(reason) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %self.topic, partition, offset, %reason, "skipped an event this build cannot read");
            }
        }
    }

    /// Commits everything returned by [`GroupReader::next_batch`] so far:
    /// call it once the batch is safely processed.
    ///
    /// # Errors
    /// [`Error::Kafka`] when the commit fails (e.g. the partitions moved to
    /// another copy in a rebalance; that copy reads the batch again).
    pub fn commit(&self) -> Result<()> {
        let positions: HashMap<i32, i64> = std::mem::take(&mut *self.positions.lock());
        if positions.is_empty() {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        for (partition, next) in positions {
            offsets
                .add_partition_offset(&self.topic, partition, Offset::Offset(next))
                .map_err(Error::kafka("committing"))?;
        }
        self.consumer
            .commit(&offsets, CommitMode::Sync)
            .map_err(Error::kafka("committing"))
    }
}
