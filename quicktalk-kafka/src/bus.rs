//! [`KafkaEventBus`]: the engine's `EventBus` port over a Kafka topic.

use std::time::Duration;

use async_trait::async_trait;
use quicktalk_core::RoomId;
use quicktalk_core::ports::event_bus::{BusEvent, EventBus, Route, Subscription};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::context::Quiet;
use crate::envelope;
use crate::error::{Error, Result};
use crate::topics::ensure_topics;

/// How long a publish may wait for room in the producer's local queue
/// before it fails (the engine's publisher then retries the batch).
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Events a subscription buffers before its reader waits.
const SUBSCRIPTION_BUFFER: usize = 4096;

/// Publishes engine events to `{prefix}.rooms`, keyed by room, so one
/// room's events stay on one partition in order.
///
/// The producer is idempotent with `acks=all`: a retried send is neither
/// duplicated nor reordered by the broker, and an acknowledged event is on
/// every in-sync replica. `linger.ms=1` lets a burst share a request
/// without adding more than a millisecond to a quiet room.
pub struct KafkaEventBus {
    producer: FutureProducer<Quiet>,
    config: KafkaConfig,
    topic: String,
    match_topic: String,
    nodes_topic: String,
    partitions: i32,
}

impl std::fmt::Debug for KafkaEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaEventBus")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KafkaEventBus {
    /// Checks the settings, creates or checks the topic, and starts the producer.
    ///
    /// # Errors
    /// [`Error::Config`] for a wrong setting, [`Error::Kafka`] when the
    /// brokers cannot be reached in `connect_timeout`, [`Error::Layout`] when
    /// the topic exists with another layout.
    pub async fn connect(config: KafkaConfig) -> Result<Self> {
        config.validate()?;
        let partitions = ensure_topics(&config).await?;
        let producer: FutureProducer<Quiet> = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("compression.type", "none")
            // A send the brokers cannot take for 30 s fails, so the engine's
            // publisher sees the outage, reports not ready and retries.
            .set("message.timeout.ms", "30000")
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating the producer"))?;
        Ok(Self {
            producer,
            topic: config.rooms_topic(),
            match_topic: config.match_topic(),
            nodes_topic: config.nodes_topic(),
            config,
            partitions,
        })
    }

    /// The topic events go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits until everything sent so far is acknowledged (or `timeout`).
    ///
    /// # Errors
    /// [`Error::Kafka`] when the queue could not be flushed in time.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer
            .flush(timeout)
            .map_err(Error::kafka("flushing the producer"))
    }
}

#[async_trait]
impl EventBus for KafkaEventBus {
    async fn publish(&self, events: &[BusEvent]) -> quicktalk_core::Result<()> {
        let encoded: Vec<(&str, String, Option<i32>, Vec<u8>)> = events
            .iter()
            .flat_map(|event| {
                let (topic, key, partition) = match event.route() {
                    Route::Room(room) => (
                        self.topic.as_str(),
                        room.to_string(),
                        Some(room_partition(room, self.partitions)),
                    ),
                    Route::Match => {
                        let payload = envelope::encode(&self.config.node_id, event);
                        return match event.match_key() {
                            // One pool: its partition.
                            Some(lang) => vec![(
                                self.match_topic.as_str(),
                                lang.to_owned(),
                                Some(pool_partition(lang, self.config.match_partitions)),
                                payload,
                            )],
                            // Every pool must see it: every partition.
                            None => (0..self.config.match_partitions)
                                .map(|p| {
                                    (
                                        self.match_topic.as_str(),
                                        String::new(),
                                        Some(p),
                                        payload.clone(),
                                    )
                                })
                                .collect(),
                        };
                    }
                    Route::Nodes => (self.nodes_topic.as_str(), String::new(), None),
                };
                vec![(
                    topic,
                    key,
                    partition,
                    envelope::encode(&self.config.node_id, event),
                )]
            })
            .collect();
        // Queued in order; the idempotent producer keeps that order per
        // partition even through retries.
        let sends = encoded.iter().map(|(topic, key, partition, payload)| {
            let mut record = FutureRecord::to(topic).key(key).payload(payload);
            if let Some(partition) = partition {
                record = record.partition(*partition);
            }
            self.producer.send(record, Timeout::After(QUEUE_WAIT))
        });
        let results = futures_util::future::join_all(sends).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        match results.into_iter().find_map(Result::err) {
            None => Ok(()),
            Some((error, _)) => Err(quicktalk_core::Error::bus(format!(
                "{failed} of {} events not acknowledged: {error}",
                events.len()
            ))),
        }
    }

    /// Asks the brokers for the topic's metadata (within 2 s): `/readyz`
    /// answers 503 while this fails.
    async fn ping(&self) -> quicktalk_core::Result<()> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .map(|_| ())
                .map_err(|e| quicktalk_core::Error::bus(format!("brokers unreachable: {e}")))
        })
        .await
        .unwrap_or_else(|join| Err(quicktalk_core::Error::bus(join.to_string())))
    }

    /// Every event published after this call returns, from every node:
    /// the partitions are assigned directly at their current end (no group,
    /// no rebalance wait).
    async fn room_history(
        &self,
        room: RoomId,
        since_ms: i64,
    ) -> quicktalk_core::Result<Vec<BusEvent>> {
        let config = self.config.clone();
        let topic = self.topic.clone();
        let partition = room_partition(room, self.partitions);
        tokio::task::spawn_blocking(move || read_room(&config, &topic, partition, room, since_ms))
            .await
            .unwrap_or_else(|join| Err(Error::config("bus", join.to_string())))
            .map_err(quicktalk_core::Error::bus)
    }

    async fn subscribe(&self) -> quicktalk_core::Result<Subscription> {
        let consumer = tail_consumer(
            &self.config,
            &[(&self.topic, self.partitions), (&self.nodes_topic, 1)],
        )
        .await
        .map_err(quicktalk_core::Error::bus)?;
        let (sender, subscription) = Subscription::channel(SUBSCRIPTION_BUFFER);
        let topic = self.topic.clone();
        tokio::spawn(async move {
            let mut failures = crate::ReadFailures::new("the rooms topic");
            loop {
                let message = tokio::select! {
                    () = sender.closed() => return,
                    message = consumer.recv() => message,
                };
                match message {
                    Ok(message) => {
                        failures.recovered();
                        let Some(payload) = message.payload() else {
                            continue;
                        };
                        match envelope::decode(payload) {
                            Ok(envelope) => {
                                if sender.send(envelope.event).await.is_err() {
                                    return;
                                }
                            }
                            Err(reason) => tracing::warn!(
                                topic = %topic,
                                partition = message.partition(),
                                offset = message.offset(),
                                %reason,
                                "skipped an event this build cannot read"
                            ),
                        }
                    }
                    Err(error) => failures.failed(&Error::kafka("reading")(error)).await,
                }
            }
        });
        Ok(subscription)
    }
}

/// A consumer positioned at the current end of every partition of `topic`.
async fn tail_consumer(
    config: &KafkaConfig,
    topics: &[(&str, i32)],
) -> Result<StreamConsumer<Quiet>> {
    let consumer: StreamConsumer<Quiet> = config
        .client_config()
        // Required by the client, never joined or committed: partitions are
        // assigned directly.
        .set(
            "group.id",
            format!("{}.tail.{}", config.topic_prefix, config.node_id),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // Deliver as soon as anything arrives (the default waits up to 500 ms).
        .set("fetch.wait.max.ms", "10")
        .set("auto.offset.reset", "earliest")
        .create_with_context(Quiet::default())
        .map_err(Error::kafka("creating a consumer"))?;
    let wanted: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|(topic, partitions)| (0..*partitions).map(|p| ((*topic).to_owned(), p)))
        .collect();
    let ends = {
        let config = config.client_config();
        let wanted = wanted.clone();
        let timeout = config_timeout(config.get("socket.timeout.ms"));
        tokio::task::spawn_blocking(move || -> Result<Vec<i64>> {
            let client: BaseConsumer<Quiet> = config
                .create_with_context(Quiet::default())
                .map_err(Error::kafka("creating a consumer"))?;
            wanted
                .iter()
                .map(|(topic, p)| partition_end(&client, topic, *p, timeout))
                .collect()
        })
        .await
        .unwrap_or_else(|join| {
            Err(Error::config(
                "bus",
                format!("watermark task failed: {join}"),
            ))
        })?
    };
    let mut assignment = TopicPartitionList::new();
    for ((topic, partition), end) in wanted.iter().zip(ends) {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(end))
            .map_err(Error::kafka("assigning partitions"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(Error::kafka("assigning partitions"))?;
    Ok(consumer)
}

/// The partition of a matchmaking pool (a language): FNV-1a of its name,
/// so every node routes a pool to the same partition.
pub fn pool_partition(lang: &str, partitions: i32) -> i32 {
    let hash = lang.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let partitions = u64::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(hash % partitions).unwrap_or(0)
}

/// The partition of a room's events: chosen here rather than by the
/// client's hash of the key, so a node can find a room's partition to read
/// it back ([`EventBus::room_history`]). Room ids are random, so rooms
/// spread evenly.
pub fn room_partition(room: RoomId, partitions: i32) -> i32 {
    let partitions = u64::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(room.raw() % partitions).unwrap_or(0)
}

/// Reads `room`'s events on `partition` from the first one at or after
/// `since_ms` to the partition's current end.
fn read_room(
    config: &KafkaConfig,
    topic: &str,
    partition: i32,
    room: RoomId,
    since_ms: i64,
) -> Result<Vec<BusEvent>> {
    let timeout = config.connect_timeout;
    let consumer: BaseConsumer<Quiet> = config
        .client_config()
        .set(
            "group.id",
            format!("{}.history.{}", config.topic_prefix, config.node_id),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(Quiet::default())
        .map_err(Error::kafka("creating a consumer"))?;
    let mut times = TopicPartitionList::new();
    times
        .add_partition_offset(topic, partition, Offset::Offset(since_ms))
        .map_err(Error::kafka("reading a room back"))?;
    let found = consumer
        .offsets_for_times(times, timeout)
        .map_err(Error::kafka("finding where a room starts"))?;
    let start = found
        .find_partition(topic, partition)
        .map_or(Offset::End, |element| element.offset());
    let Offset::Offset(start) = start else {
        return Ok(Vec::new());
    };
    let end = partition_end(&consumer, topic, partition, timeout)?;
    if start >= end {
        return Ok(Vec::new());
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(start))
        .map_err(Error::kafka("reading a room back"))?;
    consumer
        .assign(&assignment)
        .map_err(Error::kafka("reading a room back"))?;
    let deadline = std::time::Instant::now() + timeout;
    let mut events = Vec::new();
    while std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = match message {
            Ok(message) => message,
            Err(rdkafka::error::KafkaError::PartitionEOF(_)) => break,
            Err(error) => return Err(Error::kafka("reading a room back")(error)),
        };
        let offset = message.offset();
        if let Some(Ok(envelope)) = message.payload().map(envelope::decode) {
            if envelope.event.room() == Some(room) {
                events.push(envelope.event);
            }
        }
        if offset + 1 >= end {
            break;
        }
    }
    Ok(events)
}

fn config_timeout(ms: Option<&str>) -> Duration {
    Duration::from_millis(ms.and_then(|m| m.parse().ok()).unwrap_or(10_000))
}

/// Where a partition ends now (its high watermark). Right after the topics
/// are created a broker may not lead the partition yet (`Not leader for
/// partition`, seen in the test suite): asked again for a few seconds
/// before giving up. Blocking: call from a blocking thread.
pub(crate) fn partition_end<C: rdkafka::consumer::Consumer<Quiet>>(
    client: &C,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<i64> {
    let mut attempt = 0;
    loop {
        match client.fetch_watermarks(topic, partition, timeout) {
            Ok((_, high)) => return Ok(high),
            Err(_) if attempt < 20 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(error) => return Err(Error::kafka("reading partition ends")(error)),
        }
    }
}
