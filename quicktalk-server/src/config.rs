//! Configuration: flags with `QUICKTALK_*` environment fallbacks.
//!
//! Every setting is checked at start-up; a bad value stops the server with
//! a message naming the flag and its environment variable. The effective
//! configuration is logged with secrets redacted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use quicktalk_core::EngineConfig;
use quicktalk_core::ports::moderator::{Moderator, NoopModerator};
use quicktalk_nlp::{FilterBuilder, Policy, parse_action, parse_override};

use crate::bus::BusArgs;
use crate::storage::{StoreArgs, StoreUrl};
use crate::tools::{ExportArgs, ForgetArgs};

/// The `quicktalk` command line.
#[derive(Debug, Parser)]
#[command(
    name = "quicktalk",
    version,
    about = "QuickTalk: anonymous random one-to-one chat server"
)]
pub struct Cli {
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web page, the WebSocket chat and the HTTP API (the default).
    Serve(Box<ServeConfig>),
    /// Write stored chat lines as JSON Lines, oldest first, filtered by time,
    /// room or client key (for moderators and data requests).
    Export(ExportArgs),
    /// Delete every chat line and moderation flag of one person (a client
    /// key, or the IP it came from), for privacy requests. Reports stay.
    Forget(ForgetArgs),
    /// A worker: read the room events from Kafka (`--bus kafka://...`) and
    /// write every line, match and end to `--store`. Run several copies to
    /// share the load; each line is stored exactly once.
    Archive(Box<crate::archive::ArchiveArgs>),
    /// A worker: the second moderation pass over the room events from
    /// Kafka (a word split across lines, one line spammed into many rooms,
    /// repeated contact sharing), writing flags, and bans that every node
    /// carries out, to `--store`.
    Moderate(Box<crate::moderate::ModerateArgs>),
    /// Ask a running server's `/livez` and exit 0 when it answers 200 (the
    /// container image's HEALTHCHECK: the image has no shell or curl).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
}

/// Whether lines pass the danger-word filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Moderation {
    /// quicktalk-nlp's filter.
    On,
    /// No filter.
    Off,
}

/// `--moderation-learned`: the filter's learned second pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LearnedPass {
    /// The model flags, for moderators, lines the word lists allowed.
    On,
    /// The word lists and rules only.
    Off,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Everything `quicktalk serve` can be told.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "QUICKTALK_BIND", default_value = "0.0.0.0:8080")]
    pub bind: SocketAddr,
    /// The chat store and its connection settings.
    #[command(flatten)]
    pub storage: StoreArgs,
    /// Records (lines, flags, room events) held for the store writer while
    /// the store is slow or down; past this they are counted as overflow
    /// and /readyz says 503 until the queue drains.
    #[arg(long, env = "QUICKTALK_STORE_QUEUE", default_value_t = 65_536)]
    pub store_queue: usize,
    /// How much lower the store writer thread's CPU priority is than the
    /// chat's (a nice value, 0-19): its commits then wait for the chat
    /// instead of delaying it. 0 gives it the chat's priority.
    #[arg(long, env = "QUICKTALK_STORE_WRITER_NICE", default_value_t = 10,
          value_parser = clap::value_parser!(u8).range(0..=19))]
    pub store_writer_nice: u8,
    /// Milliseconds the store writer waits to gather a batch before it
    /// commits (0-10000). Longer means fewer, larger commits and fewer disk
    /// writes per line (each commit rewrites every page it touches: at 20
    /// ms a busy SQLite store wrote 5 KB per line, at 200 ms 1.8-2.7 KB),
    /// and up to that long before a line is on disk (a graceful stop
    /// drains the queue first).
    #[arg(long, env = "QUICKTALK_STORE_LINGER_MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub store_linger_ms: u64,
    /// The event bus (`--bus`) and its Kafka settings.
    #[command(flatten)]
    pub bus: BusArgs,
    /// Bearer token for the admin API under /api/admin/ (at least 16
    /// characters); without it (or when empty) the admin API is absent (404).
    #[arg(long, env = "QUICKTALK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Origins allowed to open the WebSocket (comma-separated, e.g.
    /// `https://chat.example.com`); `*` allows any. The page's own origin and
    /// clients that send no Origin (non-browsers) are always allowed.
    #[arg(
        long,
        env = "QUICKTALK_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For
    /// is believed; from anyone else it is ignored.
    #[arg(
        long,
        env = "QUICKTALK_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,
    /// Secret for the keyed hash of client IPs (bans and report blocks use
    /// the hash, never the IP). Default: generated once and kept in the store.
    #[arg(long, env = "QUICKTALK_IP_HASH_KEY", hide_env_values = true)]
    pub ip_hash_key: Option<String>,
    /// Days chat lines, moderation flags and room events are kept; 0 keeps
    /// none of them (reports and their context are always kept).
    #[arg(long, env = "QUICKTALK_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    /// Largest WebSocket frame in bytes; a larger one closes the connection (1009).
    #[arg(long, env = "QUICKTALK_MAX_FRAME_BYTES", default_value_t = 4096)]
    pub max_frame_bytes: usize,
    /// Longest chat line in characters.
    #[arg(long, env = "QUICKTALK_MAX_TEXT_CHARS", default_value_t = 500)]
    pub max_text_chars: usize,
    /// Chat lines per second per session (average).
    #[arg(long, env = "QUICKTALK_RATE_PER_SEC", default_value_t = 5.0)]
    pub rate_per_sec: f64,
    /// Chat lines per session in a burst.
    #[arg(long, env = "QUICKTALK_RATE_BURST", default_value_t = 10)]
    pub rate_burst: u32,
    /// Open WebSocket connections per client IP.
    #[arg(long, env = "QUICKTALK_MAX_CONNECTIONS_PER_IP", default_value_t = 20)]
    pub max_connections_per_ip: u32,
    /// New WebSocket connections per second per client IP (a burst of twice
    /// --max-connections-per-ip first): a client that drops and reopens
    /// connections cannot pile up the sessions held for its resumes.
    #[arg(long, env = "QUICKTALK_CONNECT_RATE_PER_IP", default_value_t = 5.0)]
    pub connect_rate_per_ip: f64,
    /// Open WebSocket connections in all.
    #[arg(long, env = "QUICKTALK_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,
    /// Frames queued per connection before it is closed as too slow (4002).
    #[arg(long, env = "QUICKTALK_SEND_QUEUE", default_value_t = 256)]
    pub send_queue: usize,
    /// Seconds of silence (no frame, no pong) before closing (4001).
    #[arg(long, env = "QUICKTALK_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Seconds between server pings.
    #[arg(long, env = "QUICKTALK_PING_INTERVAL_SECS", default_value_t = 20)]
    pub ping_interval_secs: u64,
    /// Seconds a dropped session can be resumed.
    #[arg(long, env = "QUICKTALK_RESUME_GRACE_SECS", default_value_t = 30)]
    pub resume_grace_secs: u64,
    /// Seconds a connection must stay open after a delivery mark (the pong
    /// to the server's ping) before the lines it confirmed are dropped from
    /// the room: browsers and WebSocket libraries answer pings before the
    /// page has taken the lines, so a client that crashes or reloads sooner
    /// gets them again on resume. 0 drops them at the next mark; at most 60.
    #[arg(long, env = "QUICKTALK_DELIVERY_SETTLE_SECS", default_value_t = 2)]
    pub delivery_settle_secs: u64,
    /// Seconds to wait for a common-interest partner before any partner.
    #[arg(long, env = "QUICKTALK_INTEREST_WAIT_SECS", default_value_t = 5)]
    pub interest_wait_secs: u64,
    /// Seconds before two sessions that chatted can be matched again.
    #[arg(long, env = "QUICKTALK_REMATCH_COOLDOWN_SECS", default_value_t = 300)]
    pub rematch_cooldown_secs: u64,
    /// Accept clients that declare themselves bots (`join {bot: true}`, e.g.
    /// the `quicktalk-bot` example). Their partners see a bot label, and two
    /// bots are never paired. Off by default: a bot's `join` gets
    /// `error {code: "bots_not_allowed"}`.
    #[arg(long, env = "QUICKTALK_ALLOW_BOTS")]
    pub allow_bots: bool,
    /// Seconds allowed for a client to send its request headers (slowloris).
    #[arg(long, env = "QUICKTALK_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds allowed for a graceful shutdown before the process exits.
    #[arg(long, env = "QUICKTALK_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// The danger-word filter every line passes before delivery: `on`
    /// (quicktalk-nlp with the default policy: profanity masked; sexual,
    /// hate, threats, contact details and spam blocked; self-harm flagged)
    /// or `off` (every line delivered as typed).
    #[arg(long, env = "QUICKTALK_MODERATION", value_enum, default_value_t = Moderation::On)]
    pub moderation: Moderation,
    /// Extra lexicon files for the filter (the `quicktalk-nlp` format),
    /// comma-separated, added to the built-in word lists.
    #[arg(long, env = "QUICKTALK_MODERATION_LEXICONS", value_delimiter = ',')]
    pub moderation_lexicons: Vec<PathBuf>,
    /// Policy overrides, comma-separated `CATEGORY=ACTION` pairs, e.g.
    /// `profanity=block,self_harm=allow`. Actions: allow, flag, mask, block.
    #[arg(long, env = "QUICKTALK_MODERATION_ACTIONS", value_delimiter = ',')]
    pub moderation_actions: Vec<String>,
    /// The most a low-severity finding (mild or ambiguous words) may do.
    #[arg(
        long,
        env = "QUICKTALK_MODERATION_LOW_SEVERITY",
        default_value = "flag"
    )]
    pub moderation_low_severity: String,
    /// The filter's learned second pass (a character n-gram model): `on`
    /// lets it flag, for moderators, lines the word lists allowed; it never
    /// masks or blocks a line.
    #[arg(long, env = "QUICKTALK_MODERATION_LEARNED", value_enum, default_value_t = LearnedPass::On)]
    pub moderation_learned: LearnedPass,
    /// Log format.
    #[arg(long, env = "QUICKTALK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Log filter (tracing's `EnvFilter` syntax), e.g. `info` or `quicktalk=debug`.
    #[arg(long, env = "QUICKTALK_LOG", default_value = "info")]
    pub log: String,
}

/// A setting that is out of range.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid setting --{flag}{}: {reason}",
    if env.starts_with("QUICKTALK_") { format!(" ({env})") } else { String::new() }
)]
pub struct ConfigError {
    /// The flag, without dashes.
    pub flag: &'static str,
    /// The environment variable (`-` for a flag that has none).
    pub env: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn lexicons_invalid(reason: String) -> ConfigError {
    invalid(
        "moderation-lexicons",
        "QUICKTALK_MODERATION_LEXICONS",
        reason,
    )
}

pub(crate) fn invalid(
    flag: &'static str,
    env: &'static str,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError {
        flag,
        env,
        reason: reason.into(),
    }
}

/// The longest time any `*-secs` setting may be: a year (a time beyond any
/// clock's reach overflowed when added to now).
pub(crate) const MAX_SECS: u64 = 365 * 24 * 3600;

impl ServeConfig {
    /// The admin token; an empty value (an unset variable in an env file or
    /// a Compose file) means none.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token
            .as_deref()
            .filter(|token| !token.is_empty())
    }

    /// The defaults, as `quicktalk serve` with no flags and no environment.
    pub fn defaults() -> Self {
        Cli::parse_from(["quicktalk"]).serve
    }

    /// Checks everything the types do not.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.storage.validate()?;
        if self.store_queue == 0 {
            return Err(invalid(
                "store-queue",
                "QUICKTALK_STORE_QUEUE",
                "must be at least 1",
            ));
        }
        // Parsing the moderation settings is enough here; the filter itself
        // is compiled once, by `run`.
        if let Some(builder) = self.filter_builder()? {
            builder
                .check()
                .map_err(|e| lexicons_invalid(e.to_string()))?;
        }
        // Everything but reaching the brokers (that happens in `run`).
        let kafka = self.bus.kafka_config()?;
        if kafka.is_some()
            && self.bus.cluster
            && self.ip_hash_key.is_none()
            && !matches!(self.storage.store_url()?, StoreUrl::Mongo(_))
        {
            // Each node would generate its own key in its own store: one
            // person would have another client key on every node.
            return Err(invalid(
                "ip-hash-key",
                "QUICKTALK_IP_HASH_KEY",
                "is required in cluster mode unless every node shares one MongoDB store: \
                 all nodes must hash client IPs with the same key, or report blocks and \
                 bans by client key would not hold across nodes (make one with \
                 `openssl rand -hex 32` and give every node the same)",
            ));
        }
        if let Some(token) = self.admin_token() {
            if token.chars().count() < 16 {
                return Err(invalid(
                    "admin-token",
                    "QUICKTALK_ADMIN_TOKEN",
                    "must be at least 16 characters",
                ));
            }
            // It travels in an `Authorization` header: a space or control
            // character there could never be sent.
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    "admin-token",
                    "QUICKTALK_ADMIN_TOKEN",
                    "must have no spaces or control characters (it is sent in a header)",
                ));
            }
        }
        if let Some(key) = &self.ip_hash_key {
            if key.len() < 16 {
                return Err(invalid(
                    "ip-hash-key",
                    "QUICKTALK_IP_HASH_KEY",
                    "must be at least 16 characters",
                ));
            }
        }
        self.trusted_proxy_nets()?;
        for origin in self.origins() {
            if origin != "*" && origin.contains('*') {
                return Err(invalid(
                    "allowed-origins",
                    "QUICKTALK_ALLOWED_ORIGINS",
                    format!(
                        "{origin:?}: a wildcard inside an origin is not supported; list each origin, or give * alone"
                    ),
                ));
            }
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(invalid(
                    "allowed-origins",
                    "QUICKTALK_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin like https://chat.example.com (or *)"),
                ));
            }
        }
        if !(self.connect_rate_per_ip.is_finite() && self.connect_rate_per_ip >= 0.01) {
            return Err(invalid(
                "connect-rate-per-ip",
                "QUICKTALK_CONNECT_RATE_PER_IP",
                "must be a number of at least 0.01",
            ));
        }
        if self.max_connections_per_ip == 0 {
            return Err(invalid(
                "max-connections-per-ip",
                "QUICKTALK_MAX_CONNECTIONS_PER_IP",
                "must be at least 1",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid(
                "max-connections",
                "QUICKTALK_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        // Times: none may be 0 but the waits that may be none, and none
        // beyond a year (a time beyond any clock's reach overflowed when
        // added to now, and every connection then panicked).
        for (flag, env, value, zero_ok) in [
            (
                "idle-timeout-secs",
                "QUICKTALK_IDLE_TIMEOUT_SECS",
                self.idle_timeout_secs,
                false,
            ),
            (
                "ping-interval-secs",
                "QUICKTALK_PING_INTERVAL_SECS",
                self.ping_interval_secs,
                false,
            ),
            (
                "header-read-timeout-secs",
                "QUICKTALK_HEADER_READ_TIMEOUT_SECS",
                self.header_read_timeout_secs,
                false,
            ),
            (
                "resume-grace-secs",
                "QUICKTALK_RESUME_GRACE_SECS",
                self.resume_grace_secs,
                false,
            ),
            (
                "delivery-settle-secs",
                "QUICKTALK_DELIVERY_SETTLE_SECS",
                self.delivery_settle_secs,
                true,
            ),
            (
                "shutdown-timeout-secs",
                "QUICKTALK_SHUTDOWN_TIMEOUT_SECS",
                self.shutdown_timeout_secs,
                false,
            ),
            (
                "interest-wait-secs",
                "QUICKTALK_INTEREST_WAIT_SECS",
                self.interest_wait_secs,
                true,
            ),
            (
                "rematch-cooldown-secs",
                "QUICKTALK_REMATCH_COOLDOWN_SECS",
                self.rematch_cooldown_secs,
                true,
            ),
        ] {
            if value == 0 && !zero_ok {
                return Err(invalid(flag, env, "must be at least 1"));
            }
            if value > MAX_SECS {
                return Err(invalid(
                    flag,
                    env,
                    format!("must be at most {MAX_SECS} (a year)"),
                ));
            }
        }
        for (flag, env, value, max) in [
            (
                "store-queue",
                "QUICKTALK_STORE_QUEUE",
                self.store_queue,
                10_000_000,
            ),
            (
                "send-queue",
                "QUICKTALK_SEND_QUEUE",
                self.send_queue,
                1_000_000,
            ),
            (
                "max-frame-bytes",
                "QUICKTALK_MAX_FRAME_BYTES",
                self.max_frame_bytes,
                16 << 20,
            ),
        ] {
            if value > max {
                return Err(invalid(flag, env, format!("must be at most {max}")));
            }
        }
        if !(0.01..=1e6).contains(&self.rate_per_sec) {
            return Err(invalid(
                "rate-per-sec",
                "QUICKTALK_RATE_PER_SEC",
                "must be between 0.01 and 1000000",
            ));
        }
        if self.ping_interval_secs >= self.idle_timeout_secs {
            return Err(invalid(
                "ping-interval-secs",
                "QUICKTALK_PING_INTERVAL_SECS",
                "must be shorter than --idle-timeout-secs, or idle clients are closed between pings",
            ));
        }
        // The engine checks the rest (the text limit against the frame
        // limit among them) and names its setting; mapped to the flag.
        self.engine_config()
            .validate()
            .map_err(|error| match error {
                quicktalk_core::Error::Config { setting, reason } => {
                    let (flag, env) = engine_setting_flag(setting);
                    invalid(flag, env, reason)
                }
                other => invalid("engine", "-", other.to_string()),
            })
    }

    /// The non-empty `--trusted-proxies` entries, trimmed.
    fn trusted_proxy_entries(&self) -> impl Iterator<Item = &str> {
        self.trusted_proxies
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
    }

    /// The parsed `--trusted-proxies`.
    ///
    /// # Errors
    /// [`ConfigError`] for an entry that is not an IP or CIDR.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxy_entries()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "trusted-proxies",
                            "QUICKTALK_TRUSTED_PROXIES",
                            format!("{entry:?} is not an IP address or CIDR"),
                        )
                    })
            })
            .collect()
    }

    /// The non-empty `--allowed-origins` entries.
    pub fn origins(&self) -> Vec<String> {
        self.allowed_origins
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect()
    }

    /// The engine's part of the configuration.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_text_chars: self.max_text_chars,
            max_frame_bytes: self.max_frame_bytes,
            rate_per_sec: self.rate_per_sec,
            rate_burst: self.rate_burst,
            rematch_cooldown: Duration::from_secs(self.rematch_cooldown_secs),
            interest_wait: Duration::from_secs(self.interest_wait_secs),
            resume_grace: Duration::from_secs(self.resume_grace_secs),
            delivery_settle: Duration::from_secs(self.delivery_settle_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            outbox_capacity: self.send_queue,
            max_sessions: self.max_connections.saturating_mul(2).max(1),
            retention: Duration::from_secs(u64::from(self.retention_days) * 24 * 3600),
            // A busy server must not starve the store writer (see the field).
            store_writer_thread: true,
            store_writer_nice: self.store_writer_nice,
            store_linger: Duration::from_millis(self.store_linger_ms),
            store_queue: self.store_queue,
            allow_bots: self.allow_bots,
            ..EngineConfig::default()
        }
    }

    /// The moderator the settings ask for: the quicktalk-nlp filter with
    /// the extra lexicons and policy overrides, or the no-op one.
    ///
    /// # Errors
    /// [`ConfigError`] naming the moderation setting that is wrong (an
    /// unreadable or malformed lexicon, an unknown category or action).
    pub fn moderator(&self) -> Result<Arc<dyn Moderator>, ConfigError> {
        let Some(builder) = self.filter_builder()? else {
            return Ok(Arc::new(NoopModerator));
        };
        let filter = builder
            .build()
            .map_err(|e| lexicons_invalid(e.to_string()))?;
        // What the filter would otherwise build on the first line that needs
        // it (the masked variants' index, the contact patterns: about 20 ms
        // and 2.3 MB of RSS), built before the server listens: no chat line
        // waits for it, and the memory a node holds is what it holds from
        // the start. On a thread of its own that then ends: built on the
        // main thread, the same work left the idle round's memory per
        // connection 0.7 KiB higher (mimalloc; docs/performance.md).
        std::thread::scope(|scope| {
            scope.spawn(|| filter.prepare());
        });
        Ok(Arc::new(filter))
    }

    /// The filter the moderation settings describe, not yet compiled (`None`
    /// with `--moderation off`): the lexicon files read and the policy
    /// parsed.
    fn filter_builder(&self) -> Result<Option<FilterBuilder>, ConfigError> {
        if self.moderation == Moderation::Off {
            return Ok(None);
        }
        let mut policy = Policy {
            low_severity_cap: parse_action(&self.moderation_low_severity).map_err(|reason| {
                invalid(
                    "moderation-low-severity",
                    "QUICKTALK_MODERATION_LOW_SEVERITY",
                    reason,
                )
            })?,
            ..Policy::default()
        };
        for pair in self
            .moderation_actions
            .iter()
            .filter(|p| !p.trim().is_empty())
        {
            let (category, action) = parse_override(pair).map_err(|reason| {
                invalid("moderation-actions", "QUICKTALK_MODERATION_ACTIONS", reason)
            })?;
            policy.categories.set(category, action);
        }
        let mut builder = FilterBuilder::new()
            .policy(policy)
            .learned(self.moderation_learned == LearnedPass::On);
        for path in &self.moderation_lexicons {
            let text = std::fs::read_to_string(path)
                .map_err(|e| lexicons_invalid(format!("{}: {e}", path.display())))?;
            builder = builder.lexicon(path.display().to_string(), text);
        }
        Ok(Some(builder))
    }

    /// One line per setting for the start-up log, secrets redacted.
    pub fn redacted(&self) -> String {
        // An empty value is no value (an unset variable in a Compose file).
        let secret = |value: &Option<String>| match value.as_deref() {
            Some(value) if !value.is_empty() => "<set>",
            _ => "<unset>",
        };
        format!(
            "bind={} {} store_queue={} store_writer_nice={} store_linger_ms={} {} admin_token={} allowed_origins={:?} trusted_proxies={:?} ip_hash_key={} \
             retention_days={} max_frame_bytes={} max_text_chars={} rate_per_sec={} rate_burst={} \
             max_connections_per_ip={} connect_rate_per_ip={} max_connections={} send_queue={} idle_timeout_secs={} ping_interval_secs={} \
             resume_grace_secs={} delivery_settle_secs={} interest_wait_secs={} rematch_cooldown_secs={} header_read_timeout_secs={} \
             shutdown_timeout_secs={} moderation={:?} moderation_lexicons={:?} moderation_actions={:?} \
             moderation_low_severity={} moderation_learned={:?} allow_bots={} log_format={:?} log={:?}",
            self.bind,
            self.storage.redacted(),
            self.store_queue,
            self.store_writer_nice,
            self.store_linger_ms,
            self.bus.redacted(),
            secret(&self.admin_token),
            self.origins(),
            self.trusted_proxy_entries().collect::<Vec<_>>(),
            secret(&self.ip_hash_key),
            self.retention_days,
            self.max_frame_bytes,
            self.max_text_chars,
            self.rate_per_sec,
            self.rate_burst,
            self.max_connections_per_ip,
            self.connect_rate_per_ip,
            self.max_connections,
            self.send_queue,
            self.idle_timeout_secs,
            self.ping_interval_secs,
            self.resume_grace_secs,
            self.delivery_settle_secs,
            self.interest_wait_secs,
            self.rematch_cooldown_secs,
            self.header_read_timeout_secs,
            self.shutdown_timeout_secs,
            self.moderation,
            self.moderation_lexicons,
            self.moderation_actions,
            self.moderation_low_severity,
            self.moderation_learned,
            self.allow_bots,
            self.log_format,
            self.log,
        )
    }
}

fn engine_setting_flag(setting: &str) -> (&'static str, &'static str) {
    match setting {
        "rate_per_sec" => ("rate-per-sec", "QUICKTALK_RATE_PER_SEC"),
        "rate_burst" => ("rate-burst", "QUICKTALK_RATE_BURST"),
        "max_text_chars" => ("max-text-chars", "QUICKTALK_MAX_TEXT_CHARS"),
        "max_frame_bytes" => ("max-frame-bytes", "QUICKTALK_MAX_FRAME_BYTES"),
        "outbox_capacity" => ("send-queue", "QUICKTALK_SEND_QUEUE"),
        "idle_timeout" => ("idle-timeout-secs", "QUICKTALK_IDLE_TIMEOUT_SECS"),
        "max_sessions" => ("max-connections", "QUICKTALK_MAX_CONNECTIONS"),
        "store_linger" => ("store-linger-ms", "QUICKTALK_STORE_LINGER_MS"),
        "delivery_settle" => ("delivery-settle-secs", "QUICKTALK_DELIVERY_SETTLE_SECS"),
        _ => ("engine", "-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeConfig {
        let mut all = vec!["quicktalk"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().serve
    }

    #[test]
    fn an_empty_admin_token_means_no_admin_api() {
        let config = parse(&["--admin-token", ""]);
        assert_eq!(config.admin_token(), None);
        config.validate().unwrap();
        let config = parse(&["--admin-token", "short"]);
        assert!(config.validate().is_err(), "a short token is refused");
    }

    #[test]
    fn the_defaults_are_valid_and_careful() {
        let config = ServeConfig::defaults();
        config.validate().unwrap();
        assert_eq!(config.bind.port(), 8080);
        assert_eq!(
            config.storage.store_url().unwrap(),
            StoreUrl::Sqlite("quicktalk.db".into())
        );
        assert!(
            config.admin_token.is_none(),
            "no admin API unless asked for"
        );
        assert!(
            config.trusted_proxy_nets().unwrap().is_empty(),
            "X-Forwarded-For ignored by default"
        );
        assert_eq!(config.max_frame_bytes, 4096);
    }

    #[test]
    fn a_bad_value_names_the_flag_and_the_variable() {
        let cases: &[(&[&str], &str)] = &[
            (&["--store", "postgres://x"], "--store (QUICKTALK_STORE)"),
            (
                &["--store-queue", "0"],
                "--store-queue (QUICKTALK_STORE_QUEUE)",
            ),
            (
                &["--mongo-pool-size", "0"],
                "--mongo-pool-size (QUICKTALK_MONGO_POOL_SIZE)",
            ),
            (&["--bus", "kafka://x"], "--bus (QUICKTALK_BUS)"),
            (
                &["--admin-token", "short"],
                "--admin-token (QUICKTALK_ADMIN_TOKEN)",
            ),
            (&["--trusted-proxies", "not-an-ip"], "--trusted-proxies"),
            (&["--allowed-origins", "example.com"], "--allowed-origins"),
            (
                &["--rate-per-sec", "0"],
                "--rate-per-sec (QUICKTALK_RATE_PER_SEC)",
            ),
            (&["--send-queue", "1"], "--send-queue"),
            (&["--max-text-chars", "5000"], "--max-text-chars"),
            (&["--ping-interval-secs", "90"], "--ping-interval-secs"),
            // Beyond any clock (each used to panic at every connection), a
            // queue past the semaphore's reach (a panic at start-up), zeros.
            (
                &["--idle-timeout-secs", "18446744073709551615"],
                "--idle-timeout-secs (QUICKTALK_IDLE_TIMEOUT_SECS)",
            ),
            (
                &["--rematch-cooldown-secs", "18446744073709551615"],
                "--rematch-cooldown-secs",
            ),
            (
                &["--store-queue", "18446744073709551615"],
                "--store-queue (QUICKTALK_STORE_QUEUE)",
            ),
            (&["--resume-grace-secs", "0"], "--resume-grace-secs"),
            (&["--shutdown-timeout-secs", "0"], "--shutdown-timeout-secs"),
            (&["--rate-per-sec", "1e-300"], "--rate-per-sec"),
            (&["--connect-rate-per-ip", "0"], "--connect-rate-per-ip"),
            (
                &["--admin-token", "sixteen chars with spaces"],
                "--admin-token",
            ),
            (
                &["--allowed-origins", "https://*.example.com"],
                "--allowed-origins",
            ),
            (&["--node-id", "a b/c"], "--node-id (QUICKTALK_NODE_ID)"),
            // The Kafka client's timeout: 0 was taken as 1, over 300 s the
            // client refused it naming --bus, a year wrapped around.
            (
                &[
                    "--bus",
                    "kafka://127.0.0.1:9092",
                    "--kafka-timeout-secs",
                    "0",
                ],
                "--kafka-timeout-secs (QUICKTALK_KAFKA_TIMEOUT_SECS)",
            ),
            (
                &[
                    "--bus",
                    "kafka://127.0.0.1:9092",
                    "--kafka-timeout-secs",
                    "301",
                ],
                "--kafka-timeout-secs (QUICKTALK_KAFKA_TIMEOUT_SECS)",
            ),
            (
                &[
                    "--bus",
                    "kafka://127.0.0.1:9092",
                    "--kafka-timeout-secs",
                    "31536001",
                ],
                "--kafka-timeout-secs",
            ),
            (
                &[
                    "--store",
                    "mongodb://127.0.0.1:1",
                    "--mongo-timeout-secs",
                    "31536001",
                ],
                "--mongo-timeout-secs (QUICKTALK_MONGO_TIMEOUT_SECS)",
            ),
        ];
        for (args, expected) in cases {
            let error = parse(args).validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }

    #[test]
    fn unparsable_values_are_refused_by_the_parser_naming_the_flag() {
        for (flag, value) in [
            ("--rate-burst", "many"),
            ("--store-writer-nice", "20"),
            ("--store-linger-ms", "10001"),
            ("--store-linger-ms", "soon"),
        ] {
            let error = Cli::try_parse_from(["quicktalk", flag, value])
                .unwrap_err()
                .to_string();
            assert!(error.contains(flag), "{flag} {value}: {error}");
        }
    }

    #[test]
    fn the_store_linger_reaches_the_engine() {
        assert_eq!(
            parse(&[]).engine_config().store_linger,
            Duration::from_millis(200)
        );
        let config = parse(&["--store-linger-ms", "250"]);
        assert_eq!(
            config.engine_config().store_linger,
            Duration::from_millis(250)
        );
        assert!(config.redacted().contains("store_linger_ms=250"));
    }

    #[test]
    fn secrets_are_redacted_in_the_start_up_line() {
        let config = parse(&[
            "--admin-token",
            "0123456789abcdef-secret",
            "--ip-hash-key",
            "super-secret-ip-key",
        ]);
        let line = config.redacted();
        assert!(!line.contains("secret"), "{line}");
        assert!(line.contains("admin_token=<set>"));
    }

    #[test]
    fn the_start_up_line_names_the_log_filter() {
        let line = parse(&["--log", "quicktalk=debug"]).redacted();
        assert!(line.contains(r#"log="quicktalk=debug""#), "{line}");
    }

    #[test]
    fn the_start_up_line_lists_only_the_entries_given() {
        let line = parse(&[]).redacted();
        assert!(
            line.contains("allowed_origins=[] trusted_proxies=[]"),
            "{line}"
        );
        let line = parse(&["--trusted-proxies", "10.0.0.1, ,10.1.0.0/16"]).redacted();
        assert!(
            line.contains(r#"trusted_proxies=["10.0.0.1", "10.1.0.0/16"]"#),
            "{line}"
        );
    }

    #[test]
    fn serve_is_also_a_subcommand() {
        let cli = Cli::try_parse_from(["quicktalk", "serve", "--bind", "127.0.0.1:9000"]).unwrap();
        let Some(Command::Serve(config)) = cli.command else {
            panic!("serve subcommand")
        };
        assert_eq!(config.bind.port(), 9000);
    }
}
