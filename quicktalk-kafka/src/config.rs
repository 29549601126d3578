//! Where the brokers are, how to reach them, and the topic layout.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::ClientConfig;

use crate::error::{Error, Result};

/// How the clients authenticate and encrypt (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// No TLS, no SASL: a broker on a private network (the default).
    #[default]
    Plaintext,
    /// TLS, no SASL.
    Ssl,
    /// SASL without TLS (tests, private networks only).
    SaslPlaintext,
    /// SASL over TLS: what managed Kafka services (Confluent Cloud, MSK,
    /// Aiven, Redpanda Cloud) expect.
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Parses `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    ///
    /// # Errors
    /// [`Error::Config`] naming `--kafka-security-protocol`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "plaintext" => Ok(Self::Plaintext),
            "ssl" => Ok(Self::Ssl),
            "sasl_plaintext" => Ok(Self::SaslPlaintext),
            "sasl_ssl" => Ok(Self::SaslSsl),
            other => Err(Error::config(
                "kafka-security-protocol",
                format!(
                    "unknown protocol {other:?}; use plaintext, ssl, sasl_plaintext or sasl_ssl"
                ),
            )),
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// Everything the Kafka clients need. Start from [`KafkaConfig::new`] and
/// change what you need.
#[derive(Clone)]
pub struct KafkaConfig {
    /// `host:port` pairs, comma-separated (`bootstrap.servers`).
    pub brokers: String,
    /// Names this process to the brokers (`client.id`) and in the envelope
    /// of what it publishes.
    pub node_id: String,
    /// Topic names start with it: `{prefix}.rooms`. Default `quicktalk`.
    pub topic_prefix: String,
    /// Partitions of each topic QuickTalk creates. Default 12: up to twelve
    /// copies of a worker share the load, and rooms spread evenly.
    pub partitions: i32,
    /// Partitions of `{prefix}.match`: matchmaking is sharded by language
    /// over them (each owned by one node of the matcher group). Default 4.
    pub match_partitions: i32,
    /// Replicas of each partition. Default 1 (one broker); use 3 on a real
    /// cluster so a broker can fail without losing acknowledged lines.
    pub replication: i16,
    /// How long the brokers keep room events. Default 24 h: long enough for
    /// a worker to be down for a day and catch up, short enough that chat
    /// text does not linger in the log.
    pub retention: Duration,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub sasl_mechanism: String,
    /// SASL user name.
    pub username: Option<String>,
    /// SASL password (never logged; [`KafkaConfig`]'s `Debug` hides it).
    pub password: Option<String>,
    /// CA certificates (PEM) to verify the brokers, if not the system's.
    pub ca_file: Option<PathBuf>,
    /// How long start-up waits for the brokers (metadata, topic creation)
    /// before it gives up with an error naming `--bus`, and how long a
    /// request to a broker may go unanswered. Default 10 s; 1 s to 300 s
    /// (librdkafka's longest socket timeout).
    pub connect_timeout: Duration,
}

/// The longest [`KafkaConfig::connect_timeout`]: librdkafka refuses a
/// `socket.timeout.ms` above 300,000.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("node_id", &self.node_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("partitions", &self.partitions)
            .field("match_partitions", &self.match_partitions)
            .field("replication", &self.replication)
            .field("retention", &self.retention)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl KafkaConfig {
    /// The defaults for brokers at `brokers` (`host:port[,host:port...]`).
    pub fn new(brokers: impl Into<String>, node_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            node_id: node_id.into(),
            topic_prefix: "quicktalk".into(),
            partitions: 12,
            match_partitions: 4,
            replication: 1,
            retention: Duration::from_secs(24 * 3600),
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: "PLAIN".into(),
            username: None,
            password: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The broker list of a `kafka://HOST:PORT[,HOST:PORT...]` URL.
    ///
    /// # Errors
    /// [`Error::Config`] naming `--bus` when the URL is not of that form.
    pub fn brokers_from_url(url: &str) -> Result<String> {
        let bad = |why: &str| {
            Error::config(
                "bus",
                format!("{why} in {url:?}; expected kafka://HOST:PORT[,HOST:PORT...]"),
            )
        };
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| bad("not a kafka:// URL"))?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() {
            return Err(bad("no broker"));
        }
        let mut brokers = Vec::new();
        for broker in rest.split(',') {
            let (host, port) = broker
                .rsplit_once(':')
                .ok_or_else(|| bad(&format!("broker {broker:?} has no port")))?;
            if host.is_empty() || host.contains('/') || host.contains('@') {
                return Err(bad(&format!("broker {broker:?} is not HOST:PORT")));
            }
            port.parse::<u16>()
                .map_err(|_| bad(&format!("port {port:?} of {broker:?} is not a number")))?;
            brokers.push(broker.to_owned());
        }
        Ok(brokers.join(","))
    }

    /// Checks the settings that do not need a broker.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first wrong setting.
    pub fn validate(&self) -> Result<()> {
        if !(Duration::from_secs(1)..=MAX_CONNECT_TIMEOUT).contains(&self.connect_timeout) {
            return Err(Error::config(
                "kafka-timeout-secs",
                format!(
                    "must be 1 to {} seconds (the Kafka client's longest socket timeout)",
                    MAX_CONNECT_TIMEOUT.as_secs()
                ),
            ));
        }
        if self.partitions < 1 {
            return Err(Error::config("kafka-partitions", "must be at least 1"));
        }
        if self.match_partitions < 1 {
            return Err(Error::config(
                "kafka-match-partitions",
                "must be at least 1",
            ));
        }
        if self.replication < 1 {
            return Err(Error::config("kafka-replication", "must be at least 1"));
        }
        if self.topic_prefix.is_empty()
            || !self
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Error::config(
                "kafka-topic-prefix",
                "letters, digits, '.', '_' and '-' only, not empty",
            ));
        }
        if self.retention < Duration::from_secs(60) {
            return Err(Error::config(
                "kafka-retention-hours",
                "must be at least 1 minute",
            ));
        }
        if self.security_protocol.uses_sasl() {
            if !matches!(
                self.sasl_mechanism.as_str(),
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
            ) {
                return Err(Error::config(
                    "kafka-sasl-mechanism",
                    "use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                ));
            }
            if self.username.is_none() || self.password.is_none() {
                return Err(Error::config(
                    "kafka-username",
                    "SASL needs --kafka-username and --kafka-password",
                ));
            }
        } else if self.username.is_some() {
            return Err(Error::config(
                "kafka-username",
                "a user name needs --kafka-security-protocol sasl_ssl or sasl_plaintext",
            ));
        }
        if let Some(ca) = &self.ca_file
            && !ca.is_file()
        {
            return Err(Error::config(
                "kafka-ca-file",
                format!("{} is not a readable file", ca.display()),
            ));
        }
        Ok(())
    }

    /// The topic every room event goes to, keyed by room id.
    pub fn rooms_topic(&self) -> String {
        format!("{}.rooms", self.topic_prefix)
    }

    /// The topic of decisions for every node (bans), one partition.
    pub fn control_topic(&self) -> String {
        format!("{}.control", self.topic_prefix)
    }

    /// Cluster mode: the matcher's stream (waits, cancels, exclusions), one
    /// partition (one order), read by the node that owns it.
    pub fn match_topic(&self) -> String {
        format!("{}.match", self.topic_prefix)
    }

    /// Cluster mode: heartbeats and matcher changes, one partition, read by
    /// every node.
    pub fn nodes_topic(&self) -> String {
        format!("{}.nodes", self.topic_prefix)
    }

    /// The settings every client shares: where, who, and how securely.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", format!("quicktalk-{}", self.node_id))
            .set("security.protocol", self.security_protocol.as_str())
            // Fail a request to a broker that stopped answering within the
            // start-up bound instead of librdkafka's 60 s.
            .set(
                "socket.timeout.ms",
                self.connect_timeout.as_millis().to_string(),
            )
            // librdkafka logs through its own callback; keep it to what
            // matters (errors) so a broker restart is one line, not a flood.
            .set_log_level(rdkafka::config::RDKafkaLogLevel::Error);
        if self.security_protocol.uses_sasl() {
            config.set("sasl.mechanism", &self.sasl_mechanism);
            if let Some(user) = &self.username {
                config.set("sasl.username", user);
            }
            if let Some(password) = &self.password {
                config.set("sasl.password", password);
            }
        }
        if let Some(ca) = &self.ca_file {
            config.set("ssl.ca.location", ca.display().to_string());
        }
        config
    }
}
