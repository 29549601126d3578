//! The event-bus settings `serve` and the workers share, and connecting
//! the bus they name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use quicktalk_core::Engine;
use quicktalk_core::ports::event_bus::EventBus;
use quicktalk_kafka::{
    ControlChannel, ControlEvent, GroupReader, KafkaConfig, KafkaEventBus, SecurityProtocol,
};

use crate::config::{ConfigError, invalid};

/// The `--bus` flag and the Kafka settings that go with it.
#[derive(Debug, Clone, clap::Args)]
pub struct BusArgs {
    /// Event bus: `memory` (one process, the default) or
    /// `kafka://HOST:PORT[,HOST:PORT...]` (Apache Kafka or a compatible
    /// broker: every room event is published there for the workers).
    #[arg(long, env = "QUICKTALK_BUS", default_value = "memory")]
    pub bus: String,
    /// This node's name on the bus (letters, digits, `-`, `_`, `.`);
    /// generated at start when absent.
    #[arg(long, env = "QUICKTALK_NODE_ID")]
    pub node_id: Option<String>,
    /// Topic names start with this.
    #[arg(
        long,
        env = "QUICKTALK_KAFKA_TOPIC_PREFIX",
        default_value = "quicktalk"
    )]
    pub kafka_topic_prefix: String,
    /// Partitions of the topics QuickTalk creates (an existing topic must
    /// have as many).
    #[arg(long, env = "QUICKTALK_KAFKA_PARTITIONS", default_value_t = 12)]
    pub kafka_partitions: i32,
    /// Partitions of the matchmaking stream: pools (languages) are spread
    /// over them, each owned by one node (an existing topic must have as
    /// many).
    #[arg(long, env = "QUICKTALK_KAFKA_MATCH_PARTITIONS", default_value_t = 4)]
    pub kafka_match_partitions: i32,
    /// Replicas of each partition (3 on a real cluster).
    #[arg(long, env = "QUICKTALK_KAFKA_REPLICATION", default_value_t = 1)]
    pub kafka_replication: i16,
    /// Hours the brokers keep room events (a worker can be down this long
    /// and catch up; chat text does not stay longer).
    #[arg(long, env = "QUICKTALK_KAFKA_RETENTION_HOURS", default_value_t = 24)]
    pub kafka_retention_hours: u64,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl` (managed Kafka).
    #[arg(
        long,
        env = "QUICKTALK_KAFKA_SECURITY_PROTOCOL",
        default_value = "plaintext"
    )]
    pub kafka_security_protocol: String,
    /// SASL mechanism: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    #[arg(long, env = "QUICKTALK_KAFKA_SASL_MECHANISM", default_value = "PLAIN")]
    pub kafka_sasl_mechanism: String,
    /// SASL user name.
    #[arg(long, env = "QUICKTALK_KAFKA_USERNAME")]
    pub kafka_username: Option<String>,
    /// SASL password (never logged).
    #[arg(long, env = "QUICKTALK_KAFKA_PASSWORD", hide_env_values = true)]
    pub kafka_password: Option<String>,
    /// CA certificates (PEM) that sign the brokers' certificates, when not
    /// the system's.
    #[arg(long, env = "QUICKTALK_KAFKA_CA_FILE")]
    pub kafka_ca_file: Option<PathBuf>,
    /// Cluster mode with a Kafka bus: strangers on different nodes are
    /// matched and chat (`false`: each node matches only its own sessions
    /// and publishes for the workers).
    #[arg(
        long,
        env = "QUICKTALK_CLUSTER",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub cluster: bool,
    /// Seconds start-up waits for the brokers before giving up, and a
    /// request to a broker may go unanswered (1 to 300).
    #[arg(long, env = "QUICKTALK_KAFKA_TIMEOUT_SECS", default_value_t = 10)]
    pub kafka_timeout_secs: u64,
}

/// Retries a store write with back-off (100 ms doubling to 5 s) until it
/// succeeds. Workers call it before they commit, so nothing is lost while
/// the store is down.
pub(crate) async fn retry_store<F, Fut>(what: &str, mut write: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = quicktalk_core::Result<()>>,
{
    let mut backoff = Duration::from_millis(100);
    while let Err(error) = write().await {
        tracing::warn!(%error, what, retry_in_ms = backoff.as_millis() as u64, "store write failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// A node's Kafka connections: the event bus, and the decisions it follows.
pub(crate) struct Kafka {
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) config: KafkaConfig,
    /// Where decisions for every node go (the moderation worker's bans, and
    /// the admin API's).
    pub(crate) control: Arc<ControlChannel>,
}

impl Kafka {
    /// Carries out every decision published from now on (bans from the
    /// moderation worker close the key's sessions on this node).
    ///
    /// # Errors
    /// [`ConfigError`] naming `--bus` when the control topic cannot be read.
    pub(crate) async fn follow_decisions(&self, engine: Engine) -> Result<(), ConfigError> {
        let mut decisions = self.control.follow().await.map_err(kafka_error)?;
        tokio::spawn(async move {
            while let Some(decision) = decisions.recv().await {
                // The only decision so far; the enum is open for more.
                let ControlEvent::Ban {
                    client_key,
                    reason,
                    until,
                } = decision
                else {
                    continue;
                };
                let now = quicktalk_core::ports::chat_store::unix_ms(SystemTime::now());
                if until.is_some_and(|until| until <= now) {
                    continue;
                }
                let duration = until
                    .map(|until| Duration::from_millis(u64::try_from(until - now).unwrap_or(0)));
                match engine.ban(&client_key, &reason, duration).await {
                    Ok(removed) => tracing::info!(removed, %reason, "ban from the bus carried out"),
                    Err(error) => tracing::error!(%error, "could not carry out a ban from the bus"),
                }
            }
        });
        Ok(())
    }
}

/// A bus failure at start-up, naming `--bus`.
pub(crate) fn bus_error(reason: &str) -> ConfigError {
    bus_invalid(format!("cannot use the event bus: {reason}"))
}

fn bus_invalid(reason: impl Into<String>) -> ConfigError {
    invalid("bus", "QUICKTALK_BUS", reason)
}

/// A Kafka error as the setting it points at.
pub(crate) fn kafka_error(error: quicktalk_kafka::Error) -> ConfigError {
    match error {
        quicktalk_kafka::Error::Config { flag, reason } => {
            // The crate names flags as the server spells them.
            let (flag, env) = match flag {
                "kafka-partitions" => ("kafka-partitions", "QUICKTALK_KAFKA_PARTITIONS"),
                "kafka-match-partitions" => {
                    ("kafka-match-partitions", "QUICKTALK_KAFKA_MATCH_PARTITIONS")
                }
                "kafka-replication" => ("kafka-replication", "QUICKTALK_KAFKA_REPLICATION"),
                "kafka-topic-prefix" => ("kafka-topic-prefix", "QUICKTALK_KAFKA_TOPIC_PREFIX"),
                "kafka-retention-hours" => {
                    ("kafka-retention-hours", "QUICKTALK_KAFKA_RETENTION_HOURS")
                }
                "kafka-security-protocol" => (
                    "kafka-security-protocol",
                    "QUICKTALK_KAFKA_SECURITY_PROTOCOL",
                ),
                "kafka-sasl-mechanism" => {
                    ("kafka-sasl-mechanism", "QUICKTALK_KAFKA_SASL_MECHANISM")
                }
                "kafka-username" => ("kafka-username", "QUICKTALK_KAFKA_USERNAME"),
                "kafka-ca-file" => ("kafka-ca-file", "QUICKTALK_KAFKA_CA_FILE"),
                "kafka-timeout-secs" => ("kafka-timeout-secs", "QUICKTALK_KAFKA_TIMEOUT_SECS"),
                _ => ("bus", "QUICKTALK_BUS"),
            };
            invalid(flag, env, reason)
        }
        quicktalk_kafka::Error::Layout { what, .. } => {
            let (flag, env) = match what {
                "partitions" => ("kafka-partitions", "QUICKTALK_KAFKA_PARTITIONS"),
                "match partitions" => {
                    ("kafka-match-partitions", "QUICKTALK_KAFKA_MATCH_PARTITIONS")
                }
                _ => ("kafka-replication", "QUICKTALK_KAFKA_REPLICATION"),
            };
            invalid(flag, env, error.to_string())
        }
        other => bus_invalid(format!("cannot use the Kafka brokers: {other}")),
    }
}

impl BusArgs {
    /// This node's id: the configured one, or a random one.
    pub fn node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            let bytes: [u8; 4] = rand::random();
            format!("node-{}", hex::encode(bytes))
        })
    }

    /// The Kafka settings, or `None` for the in-process bus. Checks
    /// everything that needs no broker.
    ///
    /// # Errors
    /// [`ConfigError`] naming the wrong setting.
    pub fn kafka_config(&self) -> Result<Option<KafkaConfig>, ConfigError> {
        // The node id is checked with either bus: it names the node in logs
        // and heartbeats.
        if let Some(id) = &self.node_id
            && (id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(
                "node-id",
                "QUICKTALK_NODE_ID",
                "letters, digits, '-', '_' and '.' only, not empty",
            ));
        }
        if self.bus == "memory" {
            return Ok(None);
        }
        let brokers = KafkaConfig::brokers_from_url(&self.bus).map_err(kafka_error)?;
        let mut config = KafkaConfig::new(brokers, self.node_id());
        config.topic_prefix = self.kafka_topic_prefix.clone();
        config.partitions = self.kafka_partitions;
        config.match_partitions = self.kafka_match_partitions;
        config.replication = self.kafka_replication;
        config.retention = Duration::from_secs(self.kafka_retention_hours.saturating_mul(3600));
        config.security_protocol =
            SecurityProtocol::parse(&self.kafka_security_protocol).map_err(kafka_error)?;
        config.sasl_mechanism = self.kafka_sasl_mechanism.clone();
        config.username = self.kafka_username.clone();
        config.password = self.kafka_password.clone();
        config.ca_file = self.kafka_ca_file.clone();
        config.connect_timeout = Duration::from_secs(self.kafka_timeout_secs);
        config.validate().map_err(kafka_error)?;
        Ok(Some(config))
    }

    /// A worker's start-up (`archive`, `moderate`): the Kafka settings
    /// (the in-process bus is refused, naming `command`) and its reader as
    /// group `{prefix}.{group}`.
    ///
    /// # Errors
    /// [`ConfigError`] naming `--bus` or the wrong Kafka setting.
    pub(crate) async fn join_worker_group(
        &self,
        command: &str,
        group: &str,
    ) -> Result<(KafkaConfig, GroupReader), ConfigError> {
        let Some(config) = self.kafka_config()? else {
            return Err(bus_invalid(format!(
                "`quicktalk {command}` reads Kafka: give --bus kafka://HOST:PORT"
            )));
        };
        let reader = GroupReader::join(&config, group)
            .await
            .map_err(kafka_error)?;
        Ok((config, reader))
    }

    /// Connects to Kafka (creating or checking the topics), or `None` for
    /// the in-process bus.
    ///
    /// # Errors
    /// [`ConfigError`] naming `--bus` when the brokers cannot be reached, or
    /// the setting an existing topic's layout contradicts.
    pub(crate) async fn connect(&self) -> Result<Option<Kafka>, ConfigError> {
        let Some(config) = self.kafka_config()? else {
            return Ok(None);
        };
        let control = ControlChannel::connect(&config)
            .await
            .map_err(kafka_error)?;
        let bus = KafkaEventBus::connect(config.clone())
            .await
            .map_err(kafka_error)?;
        Ok(Some(Kafka {
            bus: Arc::new(bus),
            config,
            control: Arc::new(control),
        }))
    }

    /// The settings for the start-up log (the password redacted).
    pub fn redacted(&self) -> String {
        if self.bus == "memory" {
            // Kafka settings do nothing with the in-process bus.
            return format!("bus=memory node_id={:?}", self.node_id);
        }
        format!(
            "bus={} node_id={:?} kafka_topic_prefix={} kafka_partitions={} kafka_match_partitions={} kafka_replication={} kafka_retention_hours={} \
             kafka_security_protocol={} kafka_sasl_mechanism={} kafka_username={:?} kafka_password={} kafka_ca_file={:?} cluster={} kafka_timeout_secs={}",
            self.bus,
            self.node_id,
            self.kafka_topic_prefix,
            self.kafka_partitions,
            self.kafka_match_partitions,
            self.kafka_replication,
            self.kafka_retention_hours,
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            if self.kafka_password.is_some() {
                "<set>"
            } else {
                "<unset>"
            },
            self.kafka_ca_file,
            self.cluster,
            self.kafka_timeout_secs,
        )
    }
}
