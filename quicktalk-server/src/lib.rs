//! The reference **QuickTalk** server: the WebSocket protocol over Axum, the
//! bundled web page, the embedded SQLite store, and admin and ops HTTP.
//!
//! # Overview
//! [`run`] serves one [`quicktalk_core::Engine`] on a TCP listener until the
//! shutdown future resolves; the `quicktalk` binary parses [`ServeConfig`]
//! (flags with `QUICKTALK_*` environment fallbacks), sets up logging and
//! calls it. Endpoints: `GET /` (the page), `GET /ws` (the chat),
//! `GET /api/stats`, `/livez`, `/readyz`, `/metrics`, and the admin API under
//! `/api/admin/` (reports, flags, bans, room history) behind a bearer token.
//!
//! # Example
//! ```no_run
//! use quicktalk_server::{ServeConfig, run};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), quicktalk_server::Error> {
//! let config = ServeConfig::defaults();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! run(config, listener, async { tokio::signal::ctrl_c().await.ok(); }).await
//! # }
//! ```

mod admin;
pub mod archive;
mod bus;
mod client_ip;
mod cluster;
mod config;
pub mod healthcheck;
mod http;
pub mod moderate;
mod serve;
mod state;
mod storage;
pub mod tools;
pub mod worker_health;
mod ws;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use quicktalk_core::Engine;
use quicktalk_core::matcher::MatcherConfig;
use tokio::net::TcpListener;

pub use bus::BusArgs;
pub use client_ip::{ClientIpResolver, IpHasher};
pub use config::{Cli, Command, ConfigError, LogFormat, ServeConfig};
pub use storage::{StoreArgs, StoreUrl};

/// Everything that can stop the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine or its store failed.
    #[error(transparent)]
    Engine(#[from] quicktalk_core::Error),
    /// Socket I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The process-wide Prometheus recorder (installed once; every server in the
/// process renders from it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ])
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only what reaches this one");
            }
            handle
        })
        .clone()
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Raises this process's soft open-file limit to its hard limit (many
/// systems start services at 1,024 while allowing far more, and each
/// connection is a file descriptor) and returns the soft limit now in
/// effect; `None` where it cannot be read (not Linux).
fn raise_open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => limit = getrlimit(Resource::Nofile),
                Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
            }
        }
        // `None` in a limit means unlimited.
        Some(limit.current.unwrap_or(u64::MAX))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Serves until `shutdown` resolves, then shuts down gracefully: stops
/// accepting, closes every client with 1001, flushes the store writer, and
/// returns within `--shutdown-timeout-secs`.
///
/// # Errors
/// [`Error::Config`] for an invalid setting (named), including a store that
/// cannot be opened or reached (`--store`), [`Error::Engine`] when the store
/// cannot be read at start-up, [`Error::Io`] when the listener fails.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    config.validate()?;
    let moderator = config.moderator()?;
    let metrics = metrics_handle();
    let store = config
        .storage
        .open(Some(config.engine_config().retention))
        .await?;
    let ip_key = match &config.ip_hash_key {
        Some(key) => key.clone(),
        None => {
            store
                .setting_or_insert("ip_hash_key", &random_secret())
                .await?
        }
    };
    let mut builder = Engine::builder()
        .config(config.engine_config())
        .store(store)
        .moderator(moderator);
    let kafka = config.bus.connect().await?;
    let cluster = kafka.is_some() && config.bus.cluster;
    if let Some(kafka) = &kafka {
        builder = builder.event_bus(kafka.bus.clone());
        if cluster {
            builder = builder.cluster_node(kafka.config.node_id.as_str());
        }
    }
    let engine = builder.build()?;
    if let Some(kafka) = &kafka {
        kafka.follow_decisions(engine.clone()).await?;
        if cluster {
            cluster::join(
                engine.clone(),
                kafka.bus.clone(),
                &kafka.config,
                MatcherConfig::from(engine.config()),
            )
            .await?;
        }
    }
    let open_files = raise_open_file_limit();
    tracing::info!(address = %listener.local_addr()?, config = %config.redacted(), open_files, "QuickTalk serving");
    // Each connection is a descriptor; the store, the bus and the listener
    // take a few dozen more.
    if let Some(limit) = open_files {
        let needed = config.max_connections as u64 + 64;
        if limit < needed {
            tracing::warn!(
                open_files = limit,
                max_connections = config.max_connections,
                "the open-file limit leaves room for about {} connections, fewer than --max-connections (the store, the bus and the listener take about 64 descriptors): connections past that will fail to be accepted; raise it (ulimit -n, systemd LimitNOFILE, compose ulimits)",
                limit.saturating_sub(64)
            );
        }
    }
    let control = kafka.map(|kafka| kafka.control);
    serve::serve(config, listener, engine, ip_key, metrics, control, shutdown).await
}
