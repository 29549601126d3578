//! [`KafkaEventBus`]: the engine's `EventBus` port over a Kafka topic.

use std::time::Duration;

use async_trait::async_trait;
use quicktalk_core::ports::event_bus::{BusEvent, EventBus, Route, Subscription};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
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
    producer: FutureProducer,
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
        let producer: FutureProducer = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("compression.type", "none")
            // A send the brokers cannot take for 30 s fails, so the engine's
            // publisher sees the outage, reports not ready and retries.
            .set("message.timeout.ms", "30000")
            .create()
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
        let encoded: Vec<(&str, String, Vec<u8>)> = events
            .iter()
            .map(|event| {
                let (topic, key) = match event.route() {
                    Route::Room(room) => (self.topic.as_str(), room.to_string()),
                    Route::Match => (self.match_topic.as_str(), String::new()),
                    Route::Nodes => (self.nodes_topic.as_str(), String::new()),
                };
                (topic, key, envelope::encode(&self.config.node_id, event))
            })
            .collect();
        // Queued in order; the idempotent producer keeps that order per
        // partition even through retries.
        let sends = encoded.iter().map(|(topic, key, payload)| {
            self.producer.send(
                FutureRecord::to(topic).key(key).payload(payload),
                Timeout::After(QUEUE_WAIT),
            )
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
            loop {
                let message = tokio::select! {
                    () = sender.closed() => return,
                    message = consumer.recv() => message,
                };
                match message {
                    Ok(message) => {
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
                    Err(error) => {
                        tracing::warn!(%error, "kafka subscription read failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Ok(subscription)
    }
}

/// A consumer positioned at the current end of every partition of `topic`.
async fn tail_consumer(config: &KafkaConfig, topics: &[(&str, i32)]) -> Result<StreamConsumer> {
    let consumer: StreamConsumer = config
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
        .create()
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
            let client: BaseConsumer = config
                .create()
                .map_err(Error::kafka("creating a consumer"))?;
            wanted
                .iter()
                .map(|(topic, p)| {
                    client
                        .fetch_watermarks(topic, *p, timeout)
                        .map(|(_, high)| high)
                        .map_err(Error::kafka("reading partition ends"))
                })
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

fn config_timeout(ms: Option<&str>) -> Duration {
    Duration::from_millis(ms.and_then(|m| m.parse().ok()).unwrap_or(10_000))
}
