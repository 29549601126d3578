//! Decisions for every node: `{prefix}.control`, one partition (a handful
//! of events a day, all in one order), keyed by client key.
//!
//! The moderation worker publishes a ban here after storing it; every node
//! follows the topic and closes the banned key's live sessions, so a ban
//! takes effect cluster-wide within a fetch (tens of milliseconds).

use std::time::Duration;

use quicktalk_core::ClientKey;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::KafkaConfig;
use crate::context::Quiet;
use crate::error::{Error, Result};
use crate::topics::ensure_topics;

/// A decision every node carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlEvent {
    /// Close this client key's live sessions and refuse it until `until`
    /// (unix ms; `None`: for good). The ban is already in the store.
    Ban {
        /// Who.
        client_key: ClientKey,
        /// Why, for moderators.
        reason: String,
        /// Until when (unix ms), or for good.
        until: Option<i64>,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    node: String,
    body: ControlEvent,
}

/// Publishes and follows `{prefix}.control`.
pub struct ControlChannel {
    producer: FutureProducer<Quiet>,
    config: KafkaConfig,
    topic: String,
}

impl std::fmt::Debug for ControlChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlChannel")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl ControlChannel {
    /// Creates or checks the topics and starts a producer.
    ///
    /// # Errors
    /// As [`ensure_topics`].
    pub async fn connect(config: &KafkaConfig) -> Result<Self> {
        config.validate()?;
        ensure_topics(config).await?;
        let producer: FutureProducer<Quiet> = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating the producer"))?;
        Ok(Self {
            producer,
            topic: config.control_topic(),
            config: config.clone(),
        })
    }

    /// Publishes a decision and waits until the brokers have it.
    ///
    /// # Errors
    /// [`Error::Kafka`] when it is not acknowledged.
    pub async fn publish(&self, event: &ControlEvent) -> Result<()> {
        let key = match event {
            ControlEvent::Ban { client_key, .. } => client_key.as_str().to_owned(),
        };
        let payload = serde_json::to_vec(&Envelope {
            v: crate::envelope::VERSION,
            node: self.config.node_id.clone(),
            body: event.clone(),
        })
        .unwrap_or_default();
        self.producer
            .send(
                FutureRecord::to(&self.topic).key(&key).payload(&payload),
                Timeout::After(Duration::from_secs(5)),
            )
            .await
            .map(|_| ())
            .map_err(|(error, _)| Error::kafka("publishing a control event")(error))
    }

    /// Every decision published from now on, as they come.
    ///
    /// # Errors
    /// [`Error::Kafka`] when the consumer cannot be set up.
    pub async fn follow(&self) -> Result<mpsc::Receiver<ControlEvent>> {
        let consumer: StreamConsumer<Quiet> = self
            .config
            .client_config()
            .set(
                "group.id",
                format!(
                    "{}.control.{}",
                    self.config.topic_prefix, self.config.node_id
                ),
            )
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "50")
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating a consumer"))?;
        let end = {
            let client_config = self.config.client_config();
            let topic = self.topic.clone();
            let timeout = self.config.connect_timeout;
            tokio::task::spawn_blocking(move || -> Result<i64> {
                let client: BaseConsumer<Quiet> = client_config
                    .create_with_context(Quiet::default())
                    .map_err(Error::kafka("creating a consumer"))?;
                // Asked again for a while: right after the topics are made
                // (another node starting at the same moment) the broker may
                // not lead the partition yet.
                crate::bus::partition_end(&client, &topic, 0, timeout)
            })
            .await
            .unwrap_or_else(|join| Err(Error::config("bus", format!("task failed: {join}"))))?
        };
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, 0, Offset::Offset(end))
            .map_err(Error::kafka("assigning the control topic"))?;
        consumer
            .assign(&assignment)
            .map_err(Error::kafka("assigning the control topic"))?;
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut failures = crate::ReadFailures::new("the control topic");
            loop {
                let message = tokio::select! {
                    () = sender.closed() => return,
                    message = consumer.recv() => message,
                };
                let message = match message {
                    Ok(message) => {
                        failures.recovered();
                        message
                    }
                    Err(error) => {
                        failures.failed(&Error::kafka("reading")(error)).await;
                        continue;
                    }
                };
                let decoded = message.payload().map(serde_json::from_slice::<Envelope>);
                match decoded {
                    Some(Ok(envelope)) if envelope.v == crate::envelope::VERSION => {
                        if sender.send(envelope.body).await.is_err() {
                            return;
                        }
                    }
                    _ => tracing::warn!(
                        offset = message.offset(),
                        "skipped a control event this build cannot read"
                    ),
                }
            }
        });
        Ok(receiver)
    }
}
