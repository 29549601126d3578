//! What every handler shares.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::Mutex;
use quicktalk_core::Engine;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client_ip::{ClientIpResolver, IpHasher};

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) resolver: ClientIpResolver,
    pub(crate) hasher: IpHasher,
    pub(crate) admin_token: Option<String>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) max_frame_bytes: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) max_connections_per_ip: u32,
    pub(crate) max_connections: usize,
    pub(crate) connections: AtomicUsize,
    pub(crate) per_ip: Mutex<HashMap<IpAddr, u32>>,
    pub(crate) started: Instant,
    pub(crate) metrics: PrometheusHandle,
    /// Socket tasks, so shutdown can wait for their close frames.
    pub(crate) sockets: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    /// With a Kafka bus: where an admin ban goes so every node carries it
    /// out, not only the one that took the request.
    pub(crate) control: Option<Arc<quicktalk_kafka::ControlChannel>>,
}

/// Holds one connection slot (global and per IP); released on drop.
pub(crate) struct ConnectionSlot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

/// Why a connection slot was refused.
pub(crate) enum SlotRefused {
    PerIp,
    Total,
}

impl AppState {
    /// Takes a connection slot for `ip`, or says which cap refused it.
    pub(crate) fn take_slot(&self, ip: IpAddr) -> Result<ConnectionSlot, SlotRefused> {
        let inner = &self.inner;
        let mut per_ip = inner.per_ip.lock();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= inner.max_connections_per_ip {
            return Err(SlotRefused::PerIp);
        }
        if inner.connections.load(Ordering::Relaxed) >= inner.max_connections {
            return Err(SlotRefused::Total);
        }
        *count += 1;
        inner.connections.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot {
            inner: inner.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.inner.connections.fetch_sub(1, Ordering::Relaxed);
        let mut per_ip = self.inner.per_ip.lock();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}
