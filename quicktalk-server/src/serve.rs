//! The accept loop: HTTP/1 and HTTP/2 with a header-read timeout (which
//! `axum::serve` does not enforce), WebSocket upgrades, and the graceful
//! shutdown sequence.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::middleware;
use axum::routing::{delete, get};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::Mutex;
use quicktalk_core::Engine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::client_ip::{ClientIpResolver, IpHasher};
use crate::config::ServeConfig;
use crate::state::{AppState, Inner};
use crate::{Error, admin, http, ws};

fn router(state: AppState) -> Router {
    let admin_api = Router::new()
        .route("/reports", get(admin::reports))
        .route("/flags", get(admin::flags))
        .route("/bans", get(admin::bans).post(admin::add_ban))
        .route("/bans/{client_key}", delete(admin::remove_ban))
        .route("/rooms/{room}", get(admin::room_history))
        .route("/rooms/{room}/events", get(admin::room_events))
        // Unknown paths and methods answer like the rest of the API: after
        // the token check, in JSON, never cached.
        .fallback(admin::not_found)
        .method_not_allowed_fallback(admin::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ));
    Router::new()
        .route("/", get(http::index))
        .route("/ws", get(ws::upgrade))
        .route("/api/stats", get(http::stats))
        .route("/livez", get(http::livez))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .nest("/api/admin", admin_api)
        .layer(middleware::map_response(http::nosniff))
        .with_state(state)
}

pub(crate) async fn serve(
    config: ServeConfig,
    listener: TcpListener,
    engine: Engine,
    ip_key: String,
    metrics: PrometheusHandle,
    control: Option<Arc<quicktalk_kafka::ControlChannel>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    for net in config.trusted_proxy_nets()? {
        if net.prefix_len() == 0 {
            tracing::warn!(
                %net,
                "--trusted-proxies trusts every address: anyone can set X-Forwarded-For and \
                 choose the address bans, report blocks and the per-IP caps see"
            );
        }
    }
    let state = AppState {
        inner: Arc::new(Inner {
            engine: engine.clone(),
            resolver: ClientIpResolver::new(config.trusted_proxy_nets()?),
            hasher: IpHasher::new(ip_key.as_bytes()),
            admin_token: config.admin_token().map(str::to_owned),
            allowed_origins: config.origins(),
            max_frame_bytes: config.max_frame_bytes,
            ping_interval: Duration::from_secs(config.ping_interval_secs),
            max_connections_per_ip: config.max_connections_per_ip,
            connect_rate: config.connect_rate_per_ip,
            // A page, its reloads and a few tabs at once; a browser behind
            // a busy NAT reconnecting after a network drop.
            connect_burst: f64::from(config.max_connections_per_ip) * 2.0,
            max_connections: config.max_connections,
            connections: AtomicUsize::new(0),
            per_ip: Default::default(),
            started: Instant::now(),
            metrics: metrics.clone(),
            sockets: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            control,
        }),
    };
    let app = router(state.clone());
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_read_timeout_secs));
    let graceful = GracefulShutdown::new();
    // Open TCP connections per peer address (a trusted proxy carries many
    // clients and is not counted): slow requests that trickle their headers
    // would otherwise use up the file descriptors every client needs. Room
    // for each WebSocket the per-IP cap allows, and as many page and API
    // requests again.
    let peer_cap = config
        .max_connections_per_ip
        .saturating_mul(2)
        .saturating_add(16);
    let open_per_peer: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let peer_ip = crate::state::limit_key(peer.ip().to_canonical());
        let held = if state.inner.resolver.is_trusted(peer.ip().to_canonical()) {
            None
        } else {
            let mut open = open_per_peer.lock();
            let count = open.entry(peer_ip).or_insert(0);
            if *count >= peer_cap {
                metrics::counter!("quicktalk_tcp_refused_total").increment(1);
                drop(open);
                drop(stream);
                continue;
            }
            *count += 1;
            Some(PeerHold {
                table: open_per_peer.clone(),
                ip: peer_ip,
            })
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(held);
        });
    }

    tracing::info!("shutting down: closing connections (1001) and flushing the store");
    drop(listener);
    let deadline = Duration::from_secs(config.shutdown_timeout_secs);
    let started = Instant::now();
    if !engine.shutdown(deadline).await {
        tracing::error!(
            "the store writer did not flush (not in time, or it had stopped); some lines may be lost"
        );
    }
    state.inner.shutdown.cancel();
    state.inner.sockets.close();
    let left = deadline.saturating_sub(started.elapsed());
    if tokio::time::timeout(left, state.inner.sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close in time");
    }
    let left = deadline.saturating_sub(started.elapsed());
    if tokio::time::timeout(left.max(Duration::from_millis(100)), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections did not finish in time");
    }
    upkeep.abort();
    tracing::info!("stopped");
    Ok(())
}

/// One open TCP connection of a peer address, counted until dropped.
struct PeerHold {
    table: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl Drop for PeerHold {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if let Some(count) = table.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.remove(&self.ip);
            }
        }
    }
}
