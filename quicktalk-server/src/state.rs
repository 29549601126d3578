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
    /// New connections per second per IP, and in a burst.
    pub(crate) connect_rate: f64,
    pub(crate) connect_burst: f64,
    pub(crate) max_connections: usize,
    pub(crate) connections: AtomicUsize,
    /// Per IP (an IPv6 address by its /64): open connections and the
    /// budget for new ones.
    pub(crate) per_ip: Mutex<PerIpTable>,
    pub(crate) started: Instant,
    pub(crate) metrics: PrometheusHandle,
    /// Socket tasks, so shutdown can wait for their close frames.
    pub(crate) sockets: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    /// With a Kafka bus: where an admin ban goes so every node carries it
    /// out, not only the one that took the request.
    pub(crate) control: Option<Arc<quicktalk_kafka::ControlChannel>>,
}

/// What is kept per client address.
#[derive(Default)]
pub(crate) struct PerIpTable {
    entries: HashMap<IpAddr, PerIp>,
    /// Slots taken since the last sweep of entries nobody holds.
    since_sweep: u32,
}

struct PerIp {
    open: u32,
    /// New connections it may still open now (refilled over time).
    tokens: f64,
    refilled: Instant,
}

impl PerIp {
    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.refilled = now;
    }
}

/// The address the per-IP caps count: an IPv6 client by its /64 (one
/// subscriber holds a whole /64, as client keys and bans assume), an
/// IPv4-mapped IPv6 address as the IPv4 one.
pub(crate) fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// Holds one connection slot (global and per IP); released on drop.
pub(crate) struct ConnectionSlot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

/// Why a connection slot was refused.
pub(crate) enum SlotRefused {
    PerIp,
    /// New connections from the address came faster than the rate allows
    /// (a client dropping and reopening to pile up sessions held for
    /// resume).
    PerIpRate,
    Total,
}

impl AppState {
    /// Takes a connection slot for `ip`, or says which cap refused it.
    pub(crate) fn take_slot(&self, ip: IpAddr) -> Result<ConnectionSlot, SlotRefused> {
        let inner = &self.inner;
        let ip = limit_key(ip);
        let now = Instant::now();
        let (rate, burst) = (inner.connect_rate, inner.connect_burst);
        let mut table = inner.per_ip.lock();
        table.since_sweep += 1;
        if table.since_sweep >= 4096 {
            // Entries with nothing open stay while their budget refills;
            // forget the ones that have.
            table.since_sweep = 0;
            table.entries.retain(|_, entry| {
                entry.refill(rate, burst, now);
                entry.open > 0 || entry.tokens < burst
            });
        }
        let entry = table.entries.entry(ip).or_insert(PerIp {
            open: 0,
            tokens: burst,
            refilled: now,
        });
        entry.refill(rate, burst, now);
        if entry.open >= inner.max_connections_per_ip {
            return Err(SlotRefused::PerIp);
        }
        if entry.tokens < 1.0 {
            return Err(SlotRefused::PerIpRate);
        }
        if inner.connections.load(Ordering::Relaxed) >= inner.max_connections {
            return Err(SlotRefused::Total);
        }
        entry.open += 1;
        entry.tokens -= 1.0;
        inner.connections.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot {
            inner: inner.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let inner = &self.inner;
        inner.connections.fetch_sub(1, Ordering::Relaxed);
        let mut table = inner.per_ip.lock();
        if let Some(entry) = table.entries.get_mut(&self.ip) {
            entry.open = entry.open.saturating_sub(1);
            entry.refill(inner.connect_rate, inner.connect_burst, Instant::now());
            if entry.open == 0 && entry.tokens >= inner.connect_burst {
                table.entries.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::limit_key;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let key = |ip: &str| limit_key(ip.parse().unwrap());
        assert_eq!(key("2001:db8:5::1"), key("2001:db8:5::6"));
        assert_eq!(key("2001:db8:5::1"), key("2001:db8:5:0:abcd::9"));
        assert_ne!(key("2001:db8:5::1"), key("2001:db8:6::1"));
        assert_eq!(key("::ffff:203.0.113.7"), key("203.0.113.7"));
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
    }
}
