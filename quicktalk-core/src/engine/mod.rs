//! The engine: what a transport drives.
//!
//! [`Engine::connect`] opens a session and returns a [`SessionHandle`] (to
//! act: join, send, typing, next, leave, report, resume, ping) and an
//! [`EventStream`] of what to send back (the protocol's server frames, and
//! when to close). The engine knows nothing of sockets: the WebSocket
//! server, tests, a TCP example and bots drive the same API.

mod chat;
mod feed;
mod handle;
mod hub;
mod metrics;
mod rate;
mod room;

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::ids::ClientKey;
use crate::memory::MemoryChatStore;
use crate::outbox::EventStream;
use crate::ports::chat_store::{Ban, ChatStore, unix_ms};
use crate::ports::event_bus::{BusEvent, EventBus};
use crate::ports::moderator::{Moderator, NoopModerator};
use feed::{Feed, FeedHealth};

/// How long [`Engine::health`] waits for the store or the bus to answer.
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A ping's answer within [`HEALTH_PING_TIMEOUT`]: `None` when healthy,
/// else why not.
async fn probe(ping: impl std::future::Future<Output = Result<()>>) -> Option<String> {
    match tokio::time::timeout(HEALTH_PING_TIMEOUT, ping).await {
        Ok(answer) => answer.err().map(|e| e.to_string()),
        Err(_) => Some(format!(
            "did not answer within {} s",
            HEALTH_PING_TIMEOUT.as_secs()
        )),
    }
}
pub use handle::SessionHandle;
use hub::Hub;
pub use hub::Stats;

/// Whether the engine can do its job; `/readyz` answers from this.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// Ready: the store answers, and no queue is overflowing or failing,
    /// and the store writer and bus publisher are running.
    pub ready: bool,
    /// The store's `ping` failed, with the error text (or the store writer
    /// stopped: a panic in the store).
    pub store_error: Option<String>,
    /// Records the store writer's queue dropped because it was full.
    pub store_overflowed: u64,
    /// Records that could not be written at shutdown.
    pub store_failed: u64,
    /// Events the bus publisher's queue dropped because it was full.
    pub bus_overflowed: u64,
    /// The bus's `ping` failed, with the error text (or the bus publisher
    /// stopped).
    pub bus_error: Option<String>,
}

pub(crate) struct Shared {
    hub: Mutex<Hub>,
    config: Arc<EngineConfig>,
    moderator: Arc<dyn Moderator>,
    store: Arc<dyn ChatStore>,
    bus: Option<Arc<dyn EventBus>>,
    wake: Arc<Notify>,
    store_health: Arc<FeedHealth>,
    bus_health: Arc<FeedHealth>,
    writers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Runs `f` on the state machine, then wakes the timer task if `f`
    /// brought a deadline forward.
    fn with_hub<R>(&self, f: impl FnOnce(&mut Hub, Instant) -> R) -> R {
        let mut hub = self.hub.lock();
        let result = f(&mut hub, Instant::now());
        let wake = hub.needs_wake();
        drop(hub);
        if wake {
            self.wake.notify_one();
        }
        result
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the timer task see that the engine is gone.
        self.wake.notify_one();
    }
}

/// The chat engine. Cheap to clone: clones share one engine.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`]: configuration and the ports.
#[must_use]
pub struct EngineBuilder {
    config: EngineConfig,
    moderator: Arc<dyn Moderator>,
    store: Arc<dyn ChatStore>,
    bus: Option<Arc<dyn EventBus>>,
    cluster_node: Option<Arc<str>>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            config: EngineConfig::default(),
            moderator: Arc::new(NoopModerator),
            store: Arc::new(MemoryChatStore::new()),
            bus: None,
            cluster_node: None,
        }
    }
}

impl EngineBuilder {
    /// The configuration (default: [`EngineConfig::default`]).
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The moderator every line passes before delivery (default: [`NoopModerator`]).
    pub fn moderator(mut self, moderator: Arc<dyn Moderator>) -> Self {
        self.moderator = moderator;
        self
    }

    /// The chat store (default: a [`MemoryChatStore`]).
    pub fn store(mut self, store: Arc<dyn ChatStore>) -> Self {
        self.store = store;
        self
    }

    /// An event bus to publish engine events to (default: none; the engine
    /// delivers to its own sessions directly either way).
    pub fn event_bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Cluster mode: this engine is node `node` of a cluster sharing the
    /// event bus (see [`crate::cluster`]). Waiting sessions are published
    /// for the cluster's matcher instead of being matched here, and the
    /// transport feeds every bus event to [`Engine::apply_bus_event`].
    /// Needs an [`EngineBuilder::event_bus`].
    pub fn cluster_node(mut self, node: impl Into<Arc<str>>) -> Self {
        self.cluster_node = Some(node.into());
        self
    }

    /// Validates the configuration and starts the engine's background tasks
    /// (timers, store writer, bus publisher, retention purge).
    ///
    /// # Errors
    /// [`Error::Config`] naming the first invalid setting;
    /// [`Error::NoRuntime`] outside a Tokio runtime, or in one built
    /// without timers (`enable_time` or `enable_all`). Tokio has no query
    /// for its timer, so the check catches the panic of a timer call: the
    /// panic message is printed by the panic hook, and a program built with
    /// `panic = "abort"` aborts there instead of getting the error.
    pub fn build(self) -> Result<Engine> {
        self.config.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        // Tokio offers no query for its timer driver; making a sleep panics
        // without one (and that panic's message says what to enable).
        let timers = std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO)));
        if timers.is_err() {
            return Err(Error::NoRuntime);
        }
        let config = Arc::new(self.config);
        let (store_feed, store_rx, store_health) = Feed::new(config.store_queue, "store");
        let store_writer = feed::run_store_writer(
            store_rx,
            self.store.clone(),
            config.store_batch,
            config.store_linger,
            store_health.clone(),
        );
        let mut writers = vec![if config.store_writer_thread {
            spawn_on_own_thread(
                "quicktalk-store-writer",
                config.store_writer_nice,
                store_writer,
            )?
        } else {
            tokio::spawn(store_writer)
        }];
        let (bus_feed, bus_health) = match self.bus.clone() {
            Some(bus) => {
                let (bus_feed, bus_rx, bus_health) = Feed::new(config.bus_queue, "bus");
                writers.push(tokio::spawn(feed::run_bus_publisher(
                    bus_rx,
                    bus,
                    config.store_batch,
                    bus_health.clone(),
                )));
                (bus_feed, bus_health)
            }
            None => (Feed::disabled("bus"), Arc::default()),
        };
        let cluster = match (self.cluster_node, &self.bus) {
            (Some(node), Some(_)) => Some(hub::ClusterState::new(node)),
            (Some(_), None) => {
                return Err(Error::Config {
                    setting: "cluster_node",
                    reason: "cluster mode needs an event bus".into(),
                });
            }
            (None, _) => None,
        };
        let hub = Hub::new(
            config.clone(),
            store_feed,
            bus_feed,
            cluster,
            Instant::now(),
        );
        let shared = Arc::new(Shared {
            hub: Mutex::new(hub),
            config,
            moderator: self.moderator,
            store: self.store,
            bus: self.bus,
            wake: Arc::new(Notify::new()),
            store_health,
            bus_health,
            writers: Mutex::new(writers),
        });
        tokio::spawn(run_timers(Arc::downgrade(&shared), shared.wake.clone()));
        tokio::spawn(run_purge(Arc::downgrade(&shared)));
        Ok(Engine { shared })
    }
}

/// Runs `task` on a thread of its own with a single-threaded runtime (timers
/// and I/O, so a store may talk to its database from it), its CPU priority
/// lowered by `nice` (its runtime's blocking threads too), and returns a
/// handle on the caller's runtime that finishes when it does (so shutdown can
/// wait for it like for a task), with a panic if the task panicked.
fn spawn_on_own_thread(
    name: &str,
    nice: u8,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(move || lower_priority(nice))
        .build()
        .map_err(|error| Error::Thread(error.to_string()))?;
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority(nice);
            runtime.block_on(task);
            let _ = done.send(());
        })
        .map_err(|error| Error::Thread(error.to_string()))?;
    let name = name.to_owned();
    Ok(tokio::spawn(async move {
        if finished.await.is_err() {
            // The thread unwound: a panic, reported (its message is already
            // printed) as this task's.
            std::panic::resume_unwind(Box::new(format!("{name} panicked")));
        }
    }))
}

/// Lowers the calling thread's CPU priority by `nice` (Linux, where a nice
/// value is per thread; elsewhere it does nothing). Raising a nice value
/// needs no privilege.
fn lower_priority(nice: u8) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let now = getpriority_process(thread).unwrap_or(0);
        if let Err(error) = setpriority_process(thread, (now + i32::from(nice)).min(19)) {
            tracing::warn!(%error, "could not lower the store writer's CPU priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

async fn run_timers(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let deadline = match shared.upgrade() {
            Some(shared) => shared.hub.lock().arm(),
            None => return,
        };
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
        match shared.upgrade() {
            Some(shared) => shared.with_hub(|hub, now| hub.tick(now)),
            None => return,
        }
    }
}

async fn run_purge(shared: Weak<Shared>) {
    let interval = match shared.upgrade() {
        Some(shared) => shared.config.purge_interval,
        None => return,
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let retention = shared.config.retention;
        let store = shared.store.clone();
        drop(shared);
        let cutoff = SystemTime::now()
            .checked_sub(retention)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        match store.purge(cutoff).await {
            Ok(stats) => tracing::info!(
                messages = stats.messages,
                flags = stats.flags,
                "retention purge"
            ),
            Err(error) => tracing::warn!(%error, "retention purge failed"),
        }
    }
}

impl Engine {
    /// A builder with the defaults: protocol limits, no-op moderator,
    /// in-memory store, no event bus.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Opens a new session for a connection. The stream's first event is the
    /// `hello` frame.
    ///
    /// A store that cannot be asked about bans does not keep people out
    /// (readiness reports the store instead).
    ///
    /// # Errors
    /// [`Error::Banned`] when the client key is banned, [`Error::ServerBusy`]
    /// at `max_sessions`, [`Error::ShuttingDown`] after [`Engine::shutdown`].
    pub async fn connect(&self, client_key: ClientKey) -> Result<(SessionHandle, EventStream)> {
        match self.shared.store.ban(&client_key).await {
            Ok(Some(ban)) if ban.is_active(unix_ms(SystemTime::now())) => {
                return Err(Error::Banned { until: ban.until });
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ban lookup failed; letting the client in"),
        }
        let (conn, outbox) = self
            .shared
            .with_hub(|hub, now| hub.connect(client_key, now))?;
        Ok((
            SessionHandle::new(self.shared.clone(), conn, outbox.clone()),
            EventStream::new(outbox),
        ))
    }

    /// Current counts.
    pub fn stats(&self) -> Stats {
        self.shared.hub.lock().stats()
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The chat store (for admin reads: reports, bans, history).
    pub fn store(&self) -> &Arc<dyn ChatStore> {
        &self.shared.store
    }

    /// Whether the engine is ready: asks the store (and the bus), each
    /// given 2 s to answer, and checks the queues and writers. Not ready
    /// comes with a reason (a failed ping, no answer in time, a writer
    /// retrying a failed write or stopped).
    pub async fn health(&self) -> Health {
        // A health check answers within its own time: a store whose
        // connection is held by a writer waiting on a lock would keep a
        // probe waiting as long (9 s seen on a locked SQLite file).
        let store_error = probe(self.shared.store.ping()).await;
        let bus_error = match &self.shared.bus {
            Some(bus) => probe(bus.ping()).await,
            None => None,
        };
        // The writers run until shutdown takes them: one that finished
        // before then died (a panic in the store or bus implementation).
        let stopped = |index: usize| {
            self.shared
                .writers
                .lock()
                .get(index)
                .is_some_and(JoinHandle::is_finished)
                .then(|| "its writer stopped (a panic); records are not being written".to_owned())
        };
        let store = &self.shared.store_health;
        let bus = &self.shared.bus_health;
        // Not ready says why: a failing writer is a reason too.
        let failing = |health: &FeedHealth| {
            health
                .failing()
                .then(|| "the last write failed; retrying".to_owned())
        };
        let store_error = store_error
            .or_else(|| stopped(0))
            .or_else(|| failing(store));
        let bus_error = bus_error.or_else(|| stopped(1)).or_else(|| failing(bus));
        Health {
            ready: store_error.is_none()
                && bus_error.is_none()
                && !store.degraded()
                && !bus.degraded(),
            store_error,
            store_overflowed: store.overflowed(),
            store_failed: store.failed(),
            bus_overflowed: bus.overflowed(),
            bus_error,
        }
    }

    /// Bans a client key (for `duration`, or for good) and removes its live
    /// sessions: each gets `error {code: "banned"}` and a 1008 close, and their
    /// partners get `partner_left {reason: "removed"}`. Returns how many
    /// sessions were removed.
    ///
    /// # Errors
    /// [`Error::Store`] when the ban cannot be stored (nobody is removed then).
    pub async fn ban(
        &self,
        client_key: &ClientKey,
        reason: &str,
        duration: Option<Duration>,
    ) -> Result<usize> {
        let now = unix_ms(SystemTime::now());
        let ban = Ban {
            client_key: client_key.clone(),
            reason: reason.to_owned(),
            created: now,
            until: duration
                .map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        };
        self.shared.store.put_ban(&ban).await?;
        Ok(self
            .shared
            .with_hub(|hub, now| hub.kick_key(client_key, now)))
    }

    /// Lifts a ban; `true` when there was one.
    ///
    /// # Errors
    /// [`Error::Store`] when the store fails.
    pub async fn unban(&self, client_key: &ClientKey) -> Result<bool> {
        self.shared.store.remove_ban(client_key).await
    }

    /// Cluster mode: an event from the bus (another node's, the matcher's,
    /// or this node's own coming back). Transports call this for every
    /// event of the subscription, in the order received; outside cluster
    /// mode it does nothing.
    pub fn apply_bus_event(&self, event: BusEvent) {
        self.shared
            .with_hub(|hub, now| hub.apply_remote(event, now));
    }

    /// Runs every timer that is due now. The engine's own timer task does this
    /// by itself; tests that move a paused clock call it to settle at once.
    pub fn tick(&self) {
        self.shared.with_hub(|hub, now| hub.tick(now));
    }

    /// Graceful shutdown: refuses new sessions, asks every connection to close
    /// (1001), then waits up to `timeout` for the store writer and the bus
    /// publisher to flush. Returns `false` if they did not finish in time,
    /// or one of them had stopped with a panic (what it held was not written).
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.shared.hub.lock().begin_shutdown();
        let writers: Vec<JoinHandle<()>> = std::mem::take(&mut *self.shared.writers.lock());
        let all = async {
            let mut clean = true;
            for writer in writers {
                if writer.await.is_err() {
                    tracing::error!(
                        "a store or bus writer had stopped with a panic: what it held was not written"
                    );
                    clean = false;
                }
            }
            clean
        };
        matches!(tokio::time::timeout(timeout, all).await, Ok(true))
    }
}
