//! The per-connection outbound queue and the stream a transport reads it from.
//!
//! The engine pushes frames without waiting; when a reader falls
//! `outbox_capacity` frames behind, the queue is dropped and the stream
//! yields [`Event::Close`]`(`[`CloseReason::TooSlow`]`)`. The session then
//! behaves like a dropped connection: the client resumes and gets every
//! missed line from the room's replay buffer, so nothing is lost. Only a
//! resume's own frames still unread (`resumed`, which carries the new token,
//! and its replay) are kept and go out before the close: without them the
//! client could not resume again.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::protocol::{CloseReason, ServerFrame};

/// What a transport receives for one connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Send this frame.
    Frame(ServerFrame),
    /// Close the connection with this reason's code; nothing follows.
    /// Then drop the connection's `SessionHandle`: until it is dropped the
    /// session counts as attached (online), though its frames go nowhere.
    Close(CloseReason),
}

struct State {
    queue: VecDeque<ServerFrame>,
    /// Frames queued past the capacity (a resume's replay) and not yet read:
    /// the capacity counts only the frames after them, so a replay near the
    /// capacity does not leave the resumed reader one frame from a close
    /// (which would throw away `resumed` and its new token).
    over: usize,
    /// Frames queued ahead of those (the connection's `hello`) and not yet
    /// read: they count against the capacity, and a slow close keeps them.
    ahead: usize,
    close: Option<CloseReason>,
    /// The close event was handed out (or the connection ended with nothing
    /// left to read); the stream is finished.
    finished: bool,
    /// The connection's handle was dropped: nothing more is queued, and the
    /// stream finishes once what is queued is read.
    ended: bool,
    /// The connection's reader waits for the queue to drain (see
    /// `wait_for_room`).
    reader_waits: bool,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    notify: Notify,
    /// Wakes a reader waiting in `wait_for_room`.
    drained: Notify,
    capacity: usize,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                over: 0,
                ahead: 0,
                close: None,
                finished: false,
                ended: false,
                reader_waits: false,
            }),
            notify: Notify::new(),
            drained: Notify::new(),
            capacity,
        })
    }

    /// Queues a frame (dropped if the connection is closing). Returns
    /// `false` only for the push that overflowed the queue: the connection is
    /// now closing as too slow.
    pub(crate) fn push(&self, frame: ServerFrame) -> bool {
        let mut state = self.state.lock();
        if state.close.is_some() || state.ended {
            return true;
        }
        if state.queue.len() >= self.capacity + state.over {
            // A resume's frames not yet read go out before the close: a
            // resumed reader closed before it read `resumed` would be left
            // holding a token that no longer exists (a loaded server can
            // queue a whole capacity of new lines before the connection's
            // writer runs once).
            let keep = state.ahead + state.over;
            if keep == 0 {
                state.queue = VecDeque::new();
            } else {
                state.queue.truncate(keep);
            }
            state.close = Some(CloseReason::TooSlow);
            drop(state);
            self.notify.notify_one();
            self.drained.notify_one();
            return false;
        }
        state.queue.push_back(frame);
        drop(state);
        self.notify.notify_one();
        true
    }

    /// Queues a frame past the capacity: for a resume's replay, which is
    /// already bounded by the room's replay buffer and must arrive whole.
    pub(crate) fn push_unbounded(&self, frame: ServerFrame) {
        let mut state = self.state.lock();
        if state.close.is_some() || state.ended {
            return;
        }
        if state.over == 0 {
            state.ahead = state.queue.len();
        }
        state.queue.push_back(frame);
        state.over += 1;
        drop(state);
        self.notify.notify_one();
    }

    /// The connection's handle was dropped: the stream ends (`recv` gives
    /// `None`) once the events already queued are read, so a task writing
    /// them does not wait forever.
    pub(crate) fn end(&self) {
        self.state.lock().ended = true;
        self.notify.notify_one();
        self.drained.notify_one();
    }

    /// Asks the transport to close after the frames already queued.
    pub(crate) fn close(&self, reason: CloseReason) {
        let mut state = self.state.lock();
        if state.close.is_none() {
            state.close = Some(reason);
        }
        drop(state);
        self.notify.notify_one();
        self.drained.notify_one();
    }

    /// Below this many frames (besides a replay) the connection's reader
    /// goes on reading: the answers to its own frames (echo, `pong`,
    /// `error`) then never fill the queue, however many frames a client
    /// sends at once.
    fn low_water(&self) -> usize {
        (self.capacity / 2).max(1)
    }

    /// Waits while the queue holds half its capacity or more (a replay
    /// aside), or until the connection closes. A transport calls it before
    /// acting on a client frame, so a client that sends faster than it
    /// reads is slowed down (TCP pushes back on it) instead of being closed
    /// as too slow by the answers to its own frames.
    pub(crate) async fn wait_for_room(&self) {
        // Almost always there is room: one lock, no waiter registered.
        if self.has_room() {
            return;
        }
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.has_room() {
                return;
            }
            drained.await;
        }
    }

    /// Whether the reader may go on; when not, marks it as waiting so the
    /// next read that drains the queue wakes it.
    fn has_room(&self) -> bool {
        let mut state = self.state.lock();
        let closing = state.close.is_some() || state.ended || state.finished;
        let room = closing || state.queue.len() - state.over < self.low_water();
        state.reader_waits = !room;
        room
    }

    /// The next event. With `release`, an empty queue also gives its buffer
    /// back: the reader is about to wait, and most connections wait far
    /// longer than they chat (four frames of capacity are 448 bytes per
    /// idle socket; a busy one allocates again once per batch).
    fn pop(&self, release: bool) -> Option<Event> {
        let mut state = self.state.lock();
        if state.finished {
            return None;
        }
        // A too-slow reader gets the close once the resume frames it was
        // still owed are read: the rest of its queue was discarded.
        if let Some(frame) = state.queue.pop_front() {
            if state.ahead > 0 {
                state.ahead -= 1;
            } else {
                state.over = state.over.saturating_sub(1);
            }
            if state.reader_waits && state.queue.len() - state.over < self.low_water() {
                state.reader_waits = false;
                self.drained.notify_one();
            }
            return Some(Event::Frame(frame));
        }
        if release && state.queue.capacity() > 0 {
            state.queue = VecDeque::new();
        }
        let Some(reason) = state.close else {
            state.finished |= state.ended;
            return None;
        };
        state.finished = true;
        Some(Event::Close(reason))
    }

    fn is_finished(&self) -> bool {
        self.state.lock().finished
    }
}

/// The outbound events of one connection, in order.
pub struct EventStream {
    outbox: Arc<Outbox>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(outbox: Arc<Outbox>) -> Self {
        Self { outbox }
    }

    /// The next event, waiting for one. `None` after the close was delivered.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.outbox.pop(true) {
                return Some(event);
            }
            if self.outbox.is_finished() {
                return None;
            }
            // One consumer: `notify_one` stores a permit if we are not yet
            // waiting, so a push between `pop` and here is not missed.
            self.outbox.notify.notified().await;
        }
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.outbox.pop(false)
    }

    /// Waits for at least one event, then moves up to `limit` queued events
    /// into `buffer` (so a transport can write them and flush once). Returns
    /// how many were added; 0 means the stream is finished.
    pub async fn recv_many(&mut self, buffer: &mut Vec<Event>, limit: usize) -> usize {
        let Some(first) = self.recv().await else {
            return 0;
        };
        let closing = matches!(first, Event::Close(_));
        buffer.push(first);
        let mut added = 1;
        if !closing {
            while added < limit {
                match self.outbox.pop(false) {
                    Some(event) => {
                        let closing = matches!(event, Event::Close(_));
                        buffer.push(event);
                        added += 1;
                        if closing {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_out_in_order_then_the_close() {
        let outbox = Outbox::new(8);
        let mut stream = EventStream::new(outbox.clone());
        outbox.push(ServerFrame::Waiting);
        outbox.push(ServerFrame::Pong);
        outbox.close(CloseReason::ShuttingDown);
        assert_eq!(
            stream.recv().await,
            Some(Event::Frame(ServerFrame::Waiting))
        );
        assert_eq!(stream.recv().await, Some(Event::Frame(ServerFrame::Pong)));
        assert_eq!(
            stream.recv().await,
            Some(Event::Close(CloseReason::ShuttingDown))
        );
        assert_eq!(stream.recv().await, None);
    }

    #[tokio::test]
    async fn an_overflowing_queue_closes_the_connection_as_too_slow() {
        let outbox = Outbox::new(2);
        let mut stream = EventStream::new(outbox.clone());
        assert!(outbox.push(ServerFrame::Pong));
        assert!(outbox.push(ServerFrame::Pong));
        assert!(!outbox.push(ServerFrame::Pong), "this push overflowed");
        assert_eq!(
            stream.recv().await,
            Some(Event::Close(CloseReason::TooSlow))
        );
        assert!(
            outbox.push(ServerFrame::Pong),
            "later pushes are dropped quietly"
        );
        assert_eq!(stream.try_recv(), None);
    }

    #[tokio::test]
    async fn a_slow_close_still_delivers_the_resume_frames_not_yet_read() {
        let outbox = Outbox::new(2);
        let mut stream = EventStream::new(outbox.clone());
        // `hello`, then `resumed` and a replay of two lines.
        assert!(outbox.push(ServerFrame::Waiting));
        for _ in 0..3 {
            outbox.push_unbounded(ServerFrame::Typing { active: true });
        }
        assert!(outbox.push(ServerFrame::Pong));
        assert!(!outbox.push(ServerFrame::Pong), "this push overflowed");
        assert_eq!(
            stream.recv().await,
            Some(Event::Frame(ServerFrame::Waiting))
        );
        for _ in 0..3 {
            assert_eq!(
                stream.recv().await,
                Some(Event::Frame(ServerFrame::Typing { active: true }))
            );
        }
        assert_eq!(
            stream.recv().await,
            Some(Event::Close(CloseReason::TooSlow)),
            "the frames after the replay were dropped"
        );
        assert_eq!(stream.recv().await, None);
    }

    #[tokio::test]
    async fn a_resumed_reader_keeps_its_whole_capacity_after_reading_its_hello() {
        let outbox = Outbox::new(2);
        let mut stream = EventStream::new(outbox.clone());
        assert!(outbox.push(ServerFrame::Waiting));
        for _ in 0..3 {
            outbox.push_unbounded(ServerFrame::Typing { active: true });
        }
        assert_eq!(
            stream.recv().await,
            Some(Event::Frame(ServerFrame::Waiting))
        );
        assert!(outbox.push(ServerFrame::Pong));
        assert!(outbox.push(ServerFrame::Pong));
        assert!(!outbox.push(ServerFrame::Pong), "the third overflows");
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let outbox = Outbox::new(8);
        let mut stream = EventStream::new(outbox.clone());
        let reader = tokio::spawn(async move { stream.recv().await });
        tokio::task::yield_now().await;
        outbox.push(ServerFrame::Waiting);
        assert_eq!(
            reader.await.unwrap(),
            Some(Event::Frame(ServerFrame::Waiting))
        );
    }

    #[tokio::test]
    async fn a_drained_queue_gives_its_buffer_back_before_the_reader_waits() {
        let outbox = Outbox::new(8);
        let mut stream = EventStream::new(outbox.clone());
        outbox.push(ServerFrame::Waiting);
        outbox.push(ServerFrame::Pong);
        assert!(outbox.state.lock().queue.capacity() > 0);
        assert_eq!(stream.try_recv(), Some(Event::Frame(ServerFrame::Waiting)));
        assert_eq!(stream.try_recv(), Some(Event::Frame(ServerFrame::Pong)));
        assert_eq!(stream.try_recv(), None);
        assert!(
            outbox.state.lock().queue.capacity() > 0,
            "try_recv keeps the buffer: more may come in the same batch"
        );
        let reader = tokio::spawn(async move { stream.recv().await });
        tokio::task::yield_now().await;
        assert_eq!(
            outbox.state.lock().queue.capacity(),
            0,
            "a reader waiting on an empty queue holds no buffer"
        );
        outbox.push(ServerFrame::Waiting);
        assert_eq!(
            reader.await.unwrap(),
            Some(Event::Frame(ServerFrame::Waiting))
        );
    }

    #[tokio::test]
    async fn recv_many_batches_what_is_queued() {
        let outbox = Outbox::new(8);
        let mut stream = EventStream::new(outbox.clone());
        for _ in 0..5 {
            outbox.push(ServerFrame::Pong);
        }
        let mut buffer = Vec::new();
        assert_eq!(stream.recv_many(&mut buffer, 3).await, 3);
        assert_eq!(stream.recv_many(&mut buffer, 10).await, 2);
        assert_eq!(buffer.len(), 5);
    }
}
