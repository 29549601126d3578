//! Bounded hand-off queues from the engine to its background writers (the
//! store writer and the bus publisher), and the writer tasks themselves.
//!
//! The engine never waits on a backend: it offers a record to a bounded
//! queue and moves on. A writer task takes whatever is queued (up to a batch)
//! and writes it in one call, retrying with back-off while the backend
//! fails. When a queue is full the record is counted as overflow, logged, and
//! the engine reports itself not ready until the queue drains.
//!
//! A store that is working but slower than the chat (a closed loop of
//! senders faster than its commits) must not lose lines either: once its
//! queue is three quarters full, a chat line waits (up to [`HOLD`]) for the
//! writer to make room before it enters the engine, so senders slow to what
//! the store can take, through the usual TCP flow control. A store that is
//! failing, or stuck in one write for [`ALIVE`], never holds chat up: its
//! records overflow, counted, as above.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use crate::ports::chat_store::{ChatStore, ModerationFlag, RoomEvent, StoredMessage};
use crate::ports::event_bus::{BusEvent, EventBus};

/// The longest a chat line waits for room in a backlogged store queue.
pub(crate) const HOLD: Duration = Duration::from_millis(250);

/// A write that has not returned for this long is stuck, not slow: chat no
/// longer waits for it.
pub(crate) const ALIVE: Duration = Duration::from_millis(500);

/// Health of one queue, shared between the engine and its writer.
#[derive(Debug, Default)]
pub(crate) struct FeedHealth {
    overflowed: AtomicU64,
    failed: AtomicU64,
    backlogged: AtomicBool,
    backend_down: AtomicBool,
    /// Records offered and not yet taken by the writer.
    queued: AtomicUsize,
    /// At or above this many queued records a chat line waits for room (0:
    /// never, for a disabled feed).
    high_water: usize,
    /// When the writer's current write began, in ms since `since`
    /// (`u64::MAX` between writes).
    write_began_ms: AtomicU64,
    since: Option<Instant>,
    /// Signalled when the writer takes records or the backend fails.
    drained: Notify,
    /// Signalled when the queue is closed (a shutdown): the writer stops
    /// gathering.
    closing: Notify,
}

impl FeedHealth {
    fn new(capacity: usize) -> Self {
        Self {
            high_water: capacity - capacity / 4,
            since: Some(Instant::now()),
            write_began_ms: AtomicU64::new(u64::MAX),
            ..Self::default()
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.since
            .map_or(0, |since| since.elapsed().as_millis() as u64)
    }

    /// The writer begins (`true`) or ends a write.
    fn writing(&self, began: bool) {
        let at = if began { self.elapsed_ms() } else { u64::MAX };
        self.write_began_ms.store(at, Ordering::Relaxed);
    }

    /// The writer took `count` records off the queue.
    fn taken(&self, count: usize) {
        let before = self.queued.fetch_sub(count, Ordering::Relaxed);
        if before >= self.high_water && before - count < self.high_water {
            self.drained.notify_waiters();
        }
    }

    /// Whether a chat line should wait for room: the queue is backlogged
    /// and the writer is neither failing nor stuck in a write.
    fn should_hold(&self) -> bool {
        if self.high_water == 0 || self.queued.load(Ordering::Relaxed) < self.high_water {
            return false;
        }
        let began = self.write_began_ms.load(Ordering::Relaxed);
        let stuck = began != u64::MAX
            && self.elapsed_ms().saturating_sub(began) >= ALIVE.as_millis() as u64;
        !self.backend_down.load(Ordering::Relaxed) && !stuck
    }

    /// Waits (at most [`HOLD`]) while the queue is backlogged and its writer
    /// is working through it; returns at once otherwise (one atomic load).
    pub(crate) async fn wait_for_room(&self) {
        if !self.should_hold() {
            return;
        }
        metrics::counter!("quicktalk_store_holds_total").increment(1);
        let _ = tokio::time::timeout(HOLD, async {
            loop {
                let notified = self.drained.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if !self.should_hold() {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The backend's last write failed (the writer is retrying).
    pub(crate) fn failing(&self) -> bool {
        self.backend_down.load(Ordering::Relaxed)
    }

    /// Not ready: the queue overflowed and has not drained yet, or the
    /// backend is failing.
    pub(crate) fn degraded(&self) -> bool {
        self.backlogged.load(Ordering::Relaxed) || self.backend_down.load(Ordering::Relaxed)
    }
}

/// The sending side of a queue.
pub(crate) struct Feed<T> {
    sender: Option<mpsc::Sender<T>>,
    health: Arc<FeedHealth>,
    name: &'static str,
    overflow_counter: metrics::Counter,
}

impl<T> Feed<T> {
    pub(crate) fn new(
        capacity: usize,
        name: &'static str,
    ) -> (Self, mpsc::Receiver<T>, Arc<FeedHealth>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let health = Arc::new(FeedHealth::new(capacity));
        let feed = Self {
            sender: Some(sender),
            health: health.clone(),
            name,
            overflow_counter: metrics::counter!("quicktalk_queue_overflow_total", "queue" => name),
        };
        (feed, receiver, health)
    }

    /// A feed that goes nowhere (no backend configured).
    pub(crate) fn disabled(name: &'static str) -> Self {
        Self {
            sender: None,
            health: Arc::default(),
            name,
            overflow_counter: metrics::Counter::noop(),
        }
    }

    /// Queues an item without waiting; counts and logs it when the queue is full.
    pub(crate) fn offer(&self, item: T) {
        let Some(sender) = &self.sender else {
            return;
        };
        // Counted before the send: the writer may take it at once.
        self.health.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = sender.try_send(item) {
            self.health.queued.fetch_sub(1, Ordering::Relaxed);
            let total = self.health.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
            self.overflow_counter.increment(1);
            // Log the first overflow of each backlog, not every record.
            if !self.health.backlogged.swap(true, Ordering::Relaxed) {
                match error {
                    mpsc::error::TrySendError::Full(_) => tracing::error!(
                        queue = self.name,
                        total,
                        "queue full: records are being dropped until it drains"
                    ),
                    mpsc::error::TrySendError::Closed(_) => tracing::error!(
                        queue = self.name,
                        total,
                        "the queue's writer has stopped (a panic): records are being dropped"
                    ),
                }
            }
        }
    }

    /// Closes the queue: the writer drains what is left and stops.
    pub(crate) fn close(&mut self) {
        self.sender = None;
        self.health.closing.notify_waiters();
    }
}

/// What the store writer persists.
#[derive(Debug, Clone)]
pub(crate) enum StoreRecord {
    Message(StoredMessage),
    Flag(ModerationFlag),
    Room(RoomEvent),
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Retries `attempt` with exponential back-off until it succeeds or the
/// queue is closed and `give_up_when_closed` says so.
async fn write_with_retry<F, Fut>(
    name: &'static str,
    health: &FeedHealth,
    closing: impl Fn() -> bool,
    records: usize,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::Result<()>>,
{
    let mut backoff = Duration::from_millis(50);
    loop {
        health.writing(true);
        let result = attempt().await;
        health.writing(false);
        match result {
            Ok(()) => {
                health.backend_down.store(false, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                health.backend_down.store(true, Ordering::Relaxed);
                // Chat waiting for room stops waiting for a failing store.
                health.drained.notify_waiters();
                if closing() {
                    health.failed.fetch_add(records as u64, Ordering::Relaxed);
                    tracing::error!(queue = name, records, %error, "write failed at shutdown; records lost");
                    return;
                }
                tracing::warn!(queue = name, records, %error, retry_in_ms = backoff.as_millis() as u64, "write failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Runs the store writer until its queue is closed and drained.
pub(crate) async fn run_store_writer(
    mut receiver: mpsc::Receiver<StoreRecord>,
    store: Arc<dyn ChatStore>,
    batch: usize,
    linger: Duration,
    health: Arc<FeedHealth>,
) {
    let mut records = Vec::with_capacity(batch);
    let mut messages = Vec::new();
    let mut flags = Vec::new();
    let mut room_events = Vec::new();
    while receiver.recv_many(&mut records, batch).await > 0 {
        if records.len() < batch && !linger.is_zero() {
            // A commit per line is what makes a store slow: wait a moment
            // for more, then take whatever came. One wake-up per batch (a
            // wake-up per arriving line costs the writer more than the
            // commit saves); the queue closing (a shutdown) cuts the wait
            // short, or a long linger would hold the shutdown past its time.
            let closing = health.closing.notified();
            tokio::pin!(closing);
            closing.as_mut().enable();
            if !receiver.is_closed() {
                tokio::select! {
                    () = tokio::time::sleep(linger) => {}
                    () = closing => {}
                }
            }
            while records.len() < batch {
                match receiver.try_recv() {
                    Ok(record) => records.push(record),
                    Err(_) => break,
                }
            }
        }
        health.taken(records.len());
        for record in records.drain(..) {
            match record {
                StoreRecord::Message(message) => messages.push(message),
                StoreRecord::Flag(flag) => flags.push(flag),
                StoreRecord::Room(event) => room_events.push(event),
            }
        }
        // Matches first, so a room's start is stored before its lines.
        if !room_events.is_empty() {
            let count = room_events.len();
            write_with_retry(
                "store",
                &health,
                || receiver.is_closed(),
                count,
                || store.append_room_events(&room_events),
            )
            .await;
            room_events.clear();
        }
        if !messages.is_empty() {
            let count = messages.len();
            write_with_retry(
                "store",
                &health,
                || receiver.is_closed(),
                count,
                || store.append_messages(&messages),
            )
            .await;
            messages.clear();
        }
        if !flags.is_empty() {
            let count = flags.len();
            write_with_retry(
                "store",
                &health,
                || receiver.is_closed(),
                count,
                || store.append_flags(&flags),
            )
            .await;
            flags.clear();
        }
        if receiver.is_empty() {
            health.backlogged.store(false, Ordering::Relaxed);
        }
    }
}

/// Runs the bus publisher until its queue is closed and drained.
pub(crate) async fn run_bus_publisher(
    mut receiver: mpsc::Receiver<BusEvent>,
    bus: Arc<dyn EventBus>,
    batch: usize,
    health: Arc<FeedHealth>,
) {
    let mut events = Vec::with_capacity(batch);
    while receiver.recv_many(&mut events, batch).await > 0 {
        let count = events.len();
        health.taken(count);
        write_with_retry(
            "bus",
            &health,
            || receiver.is_closed(),
            count,
            || bus.publish(&events),
        )
        .await;
        events.clear();
        if receiver.is_empty() {
            health.backlogged.store(false, Ordering::Relaxed);
        }
    }
}
