//! Creating the topics at start-up, and refusing a layout that would break
//! the guarantees (a room's events must stay on one partition, in order).

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::context::Quiet;
use crate::error::{Error, Result};

/// Creates the rooms topic if it is missing (with the configured partitions,
/// replication and retention) and checks its layout if it exists. Returns
/// the topic's partition count.
///
/// # Errors
/// [`Error::Kafka`] when the brokers cannot be reached within
/// `connect_timeout` or refuse; [`Error::Layout`] when an existing topic
/// has another partition count or replication factor than configured
/// (changing the partition count would move rooms between partitions and
/// break their order).
pub async fn ensure_topics(config: &KafkaConfig) -> Result<i32> {
    let topic = config.rooms_topic();
    let admin: AdminClient<Quiet> = config
        .client_config()
        .create_with_context(Quiet::default())
        .map_err(Error::kafka("creating the admin client"))?;
    let retention = config.retention.as_millis().to_string();
    let new_topic = NewTopic::new(
        &topic,
        config.partitions,
        TopicReplication::Fixed(i32::from(config.replication)),
    )
    .set("retention.ms", &retention)
    .set("cleanup.policy", "delete");
    // Decisions for every node (bans): few, and all in one order.
    let control = config.control_topic();
    let control_topic = NewTopic::new(
        &control,
        1,
        TopicReplication::Fixed(i32::from(config.replication)),
    )
    .set("retention.ms", &retention);
    // Cluster mode: the matcher's stream (sharded by language) and the
    // nodes' heartbeats (one partition, one order); an hour is plenty, both
    // are soft state the nodes announce again.
    let (matching, nodes) = (config.match_topic(), config.nodes_topic());
    let cluster_topics =
        [(&matching, config.match_partitions), (&nodes, 1)].map(|(name, partitions)| {
            NewTopic::new(
                name,
                partitions,
                TopicReplication::Fixed(i32::from(config.replication)),
            )
            .set("retention.ms", "3600000")
        });
    let options = AdminOptions::new()
        .request_timeout(Some(config.connect_timeout))
        .operation_timeout(Some(config.connect_timeout));
    let results = admin
        .create_topics(
            [
                &new_topic,
                &control_topic,
                &cluster_topics[0],
                &cluster_topics[1],
            ],
            &options,
        )
        .await
        .map_err(Error::kafka("creating topics"))?;
    for result in results {
        match result {
            Ok(name) => {
                // Each topic with its own count (the control and nodes
                // topics have one partition, the match topic its own).
                let partitions = if name == topic {
                    config.partitions
                } else if name == matching {
                    config.match_partitions
                } else {
                    1
                };
                tracing::info!(topic = %name, partitions, replication = config.replication, "created topic")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(Error::Kafka {
                    action: "creating topics",
                    source: rdkafka::error::KafkaError::AdminOp(code),
                });
            }
        }
    }
    let layout = describe(config, topic.clone()).await?;
    if layout.partitions != config.partitions {
        return Err(Error::Layout {
            topic,
            what: "partitions",
            expected: config.partitions.into(),
            found: layout.partitions.into(),
        });
    }
    if layout.replication != i32::from(config.replication) {
        return Err(Error::Layout {
            topic,
            what: "replication",
            expected: config.replication.into(),
            found: layout.replication.into(),
        });
    }
    let matching_layout = describe(config, matching.clone()).await?;
    if matching_layout.partitions != config.match_partitions {
        return Err(Error::Layout {
            topic: matching,
            what: "match partitions",
            expected: config.match_partitions.into(),
            found: matching_layout.partitions.into(),
        });
    }
    Ok(layout.partitions)
}

/// A topic's partition count and replication factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) partitions: i32,
    pub(crate) replication: i32,
}

/// Reads a topic's layout from the cluster metadata (a blocking call, run
/// off the async threads).
pub(crate) async fn describe(config: &KafkaConfig, topic: String) -> Result<Layout> {
    let client_config = config.client_config();
    let timeout = config.connect_timeout;
    let read = move || -> Result<Layout> {
        let consumer: BaseConsumer<Quiet> = client_config
            .create_with_context(Quiet::default())
            .map_err(Error::kafka("creating a metadata client"))?;
        // A topic created a moment ago may not be in every broker's
        // metadata yet: ask again until it is, within the timeout.
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let metadata = consumer
                .fetch_metadata(Some(&topic), timeout)
                .map_err(Error::kafka("reading topic metadata"))?;
            let found = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
            if let Some(found) = found {
                return Ok(Layout {
                    partitions: found.partitions().len() as i32,
                    replication: found
                        .partitions()
                        .first()
                        .map_or(0, |p| p.replicas().len() as i32),
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::Kafka {
                    action: "reading topic metadata",
                    source: rdkafka::error::KafkaError::MetadataFetch(
                        RDKafkaErrorCode::UnknownTopicOrPartition,
                    ),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    tokio::task::spawn_blocking(read)
        .await
        .unwrap_or_else(|join| {
            Err(Error::config(
                "bus",
                format!("metadata task failed: {join}"),
            ))
        })
}
