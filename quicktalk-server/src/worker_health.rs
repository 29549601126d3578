//! `/livez` for the workers (`archive`, `moderate`), which serve no HTTP
//! otherwise: healthy while the worker's read loop keeps coming round (it
//! wakes at least every second, with or without records: a read with
//! nothing to take returns an empty batch), so a
//! container's HEALTHCHECK (`quicktalk healthcheck --url
//! http://127.0.0.1:8081/livez`) sees a stuck or broken worker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::config::invalid;

/// A loop that has not come round for this long is unhealthy.
const STALE_AFTER: Duration = Duration::from_secs(30);

/// The workers' health endpoint setting.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// Address for the worker's `/livez` (e.g. `0.0.0.0:8081`); none when absent.
    #[arg(long, env = "QUICKTALK_HEALTH_BIND")]
    pub health_bind: Option<SocketAddr>,
}

/// The time the worker's loop last came round; shared with `/livez`.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl Heartbeat {
    /// The loop came round.
    pub fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// Whether the loop came round within `STALE_AFTER`.
    pub fn is_fresh(&self) -> bool {
        now_ms().saturating_sub(self.0.load(Ordering::Relaxed)) < STALE_AFTER.as_millis() as u64
    }
}

/// Starts `/livez` on `args.health_bind`, when set, and returns the
/// heartbeat the worker's loop feeds.
///
/// # Errors
/// A configuration error naming `--health-bind` when it cannot listen.
pub async fn serve(args: &HealthArgs) -> Result<Heartbeat, crate::Error> {
    let heartbeat = Heartbeat::default();
    heartbeat.beat();
    let Some(bind) = args.health_bind else {
        return Ok(heartbeat);
    };
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|error| {
        invalid(
            "health-bind",
            "QUICKTALK_HEALTH_BIND",
            format!("cannot listen on {bind}: {error}"),
        )
    })?;
    let shared = heartbeat.clone();
    let app = Router::new().route(
        "/livez",
        get(move || {
            let fresh = shared.is_fresh();
            async move {
                if fresh {
                    (StatusCode::OK, "ok")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the worker's loop is stuck",
                    )
                }
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the health endpoint stopped");
        }
    });
    tracing::info!(%bind, "worker health on /livez");
    Ok(heartbeat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_goes_stale() {
        let heartbeat = Heartbeat::default();
        assert!(!heartbeat.is_fresh(), "never beaten");
        heartbeat.beat();
        assert!(heartbeat.is_fresh());
        heartbeat.0.store(
            now_ms() - STALE_AFTER.as_millis() as u64 - 1,
            Ordering::Relaxed,
        );
        assert!(!heartbeat.is_fresh());
    }
}
