//! `MemoryEventBus`: an `EventBus` inside one process.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::error::Result;
use std::time::SystemTime;

use crate::ids::RoomId;
use crate::ports::chat_store::unix_ms;
use crate::ports::event_bus::{BusEvent, EventBus, Subscription};

/// An [`EventBus`] in process memory: every subscriber gets every event
/// published after it subscribed, in order. A subscriber that falls more than
/// `capacity` events behind loses the overflow, which is counted
/// ([`MemoryEventBus::dropped`]) and logged.
#[derive(Clone)]
pub struct MemoryEventBus {
    subscribers: Arc<Mutex<Vec<mpsc::Sender<BusEvent>>>>,
    capacity: usize,
    dropped: Arc<AtomicU64>,
    /// The newest room events with their publish time, for `room_history`
    /// (off unless [`MemoryEventBus::with_history`]).
    history: Arc<Mutex<VecDeque<(i64, BusEvent)>>>,
    history_len: usize,
}

impl std::fmt::Debug for MemoryEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEventBus")
            .field("subscribers", &self.subscribers.lock().len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Default for MemoryEventBus {
    fn default() -> Self {
        Self::new(65_536)
    }
}

impl MemoryEventBus {
    /// A bus whose subscribers each buffer up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            subscribers: Arc::default(),
            capacity: capacity.max(1),
            dropped: Arc::default(),
            history: Arc::default(),
            history_len: 0,
        }
    }

    /// Keeps the newest `events` room events for
    /// [`EventBus::room_history`] (cluster mode's resume on another node).
    #[must_use]
    pub fn with_history(mut self, events: usize) -> Self {
        self.history_len = events;
        self
    }

    /// Events lost because a subscriber was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<()> {
        if self.history_len > 0 {
            let now = unix_ms(SystemTime::now());
            let mut history = self.history.lock();
            for event in events.iter().filter(|event| event.room().is_some()) {
                if history.len() == self.history_len {
                    history.pop_front();
                }
                history.push_back((now, event.clone()));
            }
        }
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|subscriber| !subscriber.is_closed());
        for event in events {
            for subscriber in subscribers.iter() {
                if subscriber.try_send(event.clone()).is_err() {
                    let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(
                        total,
                        "memory event bus: a subscriber is full; event dropped"
                    );
                }
            }
        }
        Ok(())
    }

    async fn room_history(&self, room: RoomId, since_ms: i64) -> Result<Vec<BusEvent>> {
        Ok(self
            .history
            .lock()
            .iter()
            .filter(|(ts, event)| *ts >= since_ms && event.room() == Some(room))
            .map(|(_, event)| event.clone())
            .collect())
    }

    async fn subscribe(&self) -> Result<Subscription> {
        let (sender, subscription) = Subscription::channel(self.capacity);
        self.subscribers.lock().push(sender);
        Ok(subscription)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RoomId, SessionId};

    fn typing(room: u64) -> BusEvent {
        BusEvent::Typing {
            room: RoomId::from_raw(room),
            from: SessionId::from_raw(1),
            active: true,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_events_in_order() {
        let bus = MemoryEventBus::new(8);
        let mut a = bus.subscribe().await.unwrap();
        let mut b = bus.subscribe().await.unwrap();
        bus.publish(&[typing(1), typing(2)]).await.unwrap();
        for sub in [&mut a, &mut b] {
            assert_eq!(sub.recv().await.unwrap().room(), Some(RoomId::from_raw(1)));
            assert_eq!(sub.recv().await.unwrap().room(), Some(RoomId::from_raw(2)));
        }
    }

    #[tokio::test]
    async fn a_full_subscriber_loses_events_and_they_are_counted() {
        let bus = MemoryEventBus::new(1);
        let _slow = bus.subscribe().await.unwrap();
        bus.publish(&[typing(1), typing(2), typing(3)])
            .await
            .unwrap();
        assert_eq!(bus.dropped(), 2);
    }
}
