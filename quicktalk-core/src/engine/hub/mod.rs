//! The engine's state machine: sessions, connections, rooms, the matcher and
//! the timers, behind one lock.
//!
//! Everything here is synchronous and takes `now` from the caller, so the
//! same code runs under a real clock, a paused test clock, and in
//! benchmarks. Frames go straight into the connections' outboxes; store
//! records and bus events go to bounded feeds. One lock keeps every
//! transition atomic (a match, a leave and a resume never interleave); the
//! critical sections are short and never wait on I/O or on the moderator.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::time::Instant;

use crate::config::EngineConfig;
use crate::engine::feed::{Feed, StoreRecord};
use crate::engine::metrics::EngineMetrics;
use crate::engine::rate::{Strikes, TokenBucket};
use crate::engine::room::Room;
use crate::ids::{ClientKey, ResumeToken, RoomId, SessionId};
use crate::matcher::{Matcher, MatcherConfig};
use crate::outbox::Outbox;
use crate::ports::event_bus::BusEvent;
use crate::protocol::{CloseReason, Limits, PartnerLeftReason, ServerFrame};

mod cluster;
mod connections;
mod handover;
mod matching;
mod resume;

pub(crate) use cluster::ClusterState;
pub(crate) use handover::{LOCATE_WAIT, ResumeStep};

/// Identifies one transport connection; a session may move between them.
pub(crate) type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Waiting,
    Chatting(RoomId),
}

pub(crate) struct Attachment {
    pub(crate) conn: ConnId,
    pub(crate) outbox: Arc<Outbox>,
}

pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) key: ClientKey,
    pub(crate) token: ResumeToken,
    pub(crate) attachment: Option<Attachment>,
    /// Bumped at every attach/detach so stale timers are ignored.
    pub(crate) generation: u64,
    pub(crate) phase: Phase,
    pub(crate) lang: Option<Arc<str>>,
    /// Joined with `bot: true` (see [`EngineConfig::allow_bots`]).
    pub(crate) bot: bool,
    /// The current or most recent room (for `report` and for replay).
    pub(crate) last_room: Option<RoomId>,
    /// The partner left while this session was detached: told after replay.
    pub(crate) pending_left: Option<PartnerLeftReason>,
    pub(crate) idle_closed: bool,
    /// Nothing done yet on this connection: it may still `resume`.
    pub(crate) fresh: bool,
    pub(crate) last_activity: Instant,
    pub(crate) bucket: TokenBucket,
    pub(crate) strikes: Strikes,
    /// The partner has been told `typing {active: true}` (and not false).
    pub(crate) typing: bool,
    /// Typing starts this second (see `chat::TYPING_STARTS`).
    pub(crate) typing_starts: PerSecond,
    /// Frames other than lines this second (see `Hub::spend_action`).
    pub(crate) actions: PerSecond,
    /// Its interests while waiting (cluster mode announces them again).
    pub(crate) interests: Vec<Arc<str>>,
    /// Cluster mode: identifies the current wait.
    pub(crate) ticket: u64,
    /// Cluster mode: the proposed room this waiting session accepted.
    pub(crate) pending: Option<RoomId>,
}

/// Counts events in the current second: a second starts at the first event
/// after the previous one ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerSecond {
    since: Instant,
    count: u8,
}

impl PerSecond {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            since: now,
            count: 0,
        }
    }

    /// Counts one event at `now`: how many this second, this one included.
    pub(crate) fn tick(&mut self, now: Instant) -> u8 {
        if now.saturating_duration_since(self.since) >= Duration::from_secs(1) {
            *self = Self::new(now);
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

impl Session {
    /// A session attached to a connection, idle.
    pub(crate) fn new(
        id: SessionId,
        key: ClientKey,
        token: ResumeToken,
        attachment: Attachment,
        config: &EngineConfig,
        now: Instant,
    ) -> Self {
        Self {
            id,
            key,
            token,
            attachment: Some(attachment),
            generation: 0,
            phase: Phase::Idle,
            lang: None,
            bot: false,
            last_room: None,
            pending_left: None,
            idle_closed: false,
            fresh: true,
            last_activity: now,
            bucket: TokenBucket::new(config.rate_per_sec, config.rate_burst, now),
            strikes: Strikes::new(config.flood_window, now),
            typing: false,
            typing_starts: PerSecond::new(now),
            actions: PerSecond::new(now),
            interests: Vec::new(),
            ticket: 0,
            pending: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Grace {
        session: SessionId,
        generation: u64,
    },
    Idle {
        session: SessionId,
        generation: u64,
    },
    /// The `online` push to one slice of the sessions (see
    /// [`Hub::broadcast_online`]).
    Online {
        slice: u16,
    },
    Heartbeat,
}

/// How far apart the `online` slices go out: each interval is cut into
/// slices this long (at most [`MAX_ONLINE_SLICES`]).
const ONLINE_SLICE_EVERY: Duration = Duration::from_millis(100);
/// Most slices an `online` interval is cut into.
const MAX_ONLINE_SLICES: u32 = 64;

/// Counts the engine reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connected sessions.
    pub online: u64,
    /// Sessions in the match queue.
    pub waiting: u64,
    /// Rooms with a chat going on.
    pub rooms: u64,
    /// All sessions, including dropped ones still within the resume grace.
    pub sessions: u64,
    /// Cluster mode: connected sessions on every node heard from (equal to
    /// `online` on a single node).
    pub online_everywhere: u64,
    /// Chat lines held in the rooms' replay buffers (for `resume` and report
    /// context): most of the engine's memory beyond the sessions.
    pub replay_lines: u64,
}

pub(crate) struct Hub {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) matcher: Matcher,
    /// Boxed: a table is up to twice as many buckets as sessions, and an
    /// empty bucket then costs a pointer, not a whole session (270 bytes per
    /// connection at 2,000 connections).
    pub(crate) sessions: FxHashMap<SessionId, Box<Session>>,
    conns: FxHashMap<ConnId, SessionId>,
    tokens: FxHashMap<ResumeToken, SessionId>,
    /// Boxed for the same reason as `sessions`.
    pub(crate) rooms: FxHashMap<RoomId, Box<Room>>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    next_conn: ConnId,
    online: u64,
    active_rooms: u64,
    /// The count last pushed to each slice of the sessions.
    online_sent: Box<[u64]>,
    /// The sessions of each slice (see [`Hub::online_slice`]), so a slice's
    /// push visits its own sessions, not every session of the node.
    online_members: Box<[FxHashSet<SessionId>]>,
    /// The deadline the timer task sleeps until; an earlier one needs a wake-up.
    armed: Option<Instant>,
    pub(crate) shutting_down: bool,
    pub(crate) store: Feed<StoreRecord>,
    pub(crate) bus: Feed<BusEvent>,
    pub(crate) metrics: EngineMetrics,
    /// Cluster mode: matching and chat across nodes over the bus.
    pub(crate) cluster: Option<ClusterState>,
}

impl Hub {
    pub(crate) fn new(
        config: Arc<EngineConfig>,
        store: Feed<StoreRecord>,
        bus: Feed<BusEvent>,
        cluster: Option<ClusterState>,
        now: Instant,
    ) -> Self {
        let matcher = Matcher::new(MatcherConfig::from(&*config));
        let slices = online_slices(&config);
        let online_sent = vec![0; slices].into_boxed_slice();
        let online_members = (0..slices).map(|_| FxHashSet::default()).collect();
        let mut hub = Self {
            config,
            matcher,
            sessions: FxHashMap::default(),
            conns: FxHashMap::default(),
            tokens: FxHashMap::default(),
            rooms: FxHashMap::default(),
            timers: BinaryHeap::new(),
            next_conn: 1,
            online: 0,
            active_rooms: 0,
            online_sent,
            online_members,
            armed: None,
            shutting_down: false,
            store,
            bus,
            metrics: EngineMetrics::new(),
            cluster,
        };
        let first = now + hub.online_step();
        hub.schedule(first, Timer::Online { slice: 0 });
        if hub.cluster.is_some() {
            hub.schedule(now, Timer::Heartbeat);
        }
        hub
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            online: self.online,
            waiting: if self.cluster.is_some() {
                // The matcher is elsewhere: count this node's waiting sessions.
                self.sessions
                    .values()
                    .filter(|s| s.phase == Phase::Waiting)
                    .count() as u64
            } else {
                self.matcher.waiting() as u64
            },
            rooms: self.active_rooms,
            sessions: self.sessions.len() as u64,
            online_everywhere: self.online_everywhere(),
            replay_lines: self.rooms.values().map(|room| room.buffered() as u64).sum(),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_text_chars: self.config.max_text_chars,
            max_frame_bytes: self.config.max_frame_bytes,
            max_interests: self.config.max_interests,
            max_interest_chars: self.config.max_interest_chars,
            rate_per_sec: self.config.rate_per_sec,
            rate_burst: self.config.rate_burst,
            resume_grace_s: self.config.resume_grace.as_secs(),
            idle_timeout_s: self.config.idle_timeout.as_secs(),
        }
    }

    // ----- timers ------------------------------------------------------

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    /// The next moment [`Hub::tick`] has work.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let own = self.timers.peek().map(|Reverse((at, _))| *at);
        match (own, self.matcher.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the timer task must wake up because a deadline came earlier
    /// than the one it sleeps until.
    pub(crate) fn needs_wake(&self) -> bool {
        match (self.next_deadline(), self.armed) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The timer task calls this before sleeping.
    pub(crate) fn arm(&mut self) -> Option<Instant> {
        self.armed = self.next_deadline();
        self.armed
    }

    /// Runs everything due by `now`.
    pub(crate) fn tick(&mut self, now: Instant) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Grace {
                    session,
                    generation,
                } => self.grace_expired(session, generation, now),
                Timer::Idle {
                    session,
                    generation,
                } => self.idle_check(session, generation, now),
                Timer::Online { slice } => self.broadcast_online(slice, at, now),
                Timer::Heartbeat => self.heartbeat(now),
            }
        }
        for pairing in self.matcher.tick(now) {
            self.open_room(pairing);
        }
    }

    fn grace_expired(&mut self, session: SessionId, generation: u64, now: Instant) {
        let Some(state) = self.sessions.get(&session) else {
            return;
        };
        if state.generation != generation || state.attachment.is_some() {
            return;
        }
        let reason = if state.idle_closed {
            PartnerLeftReason::Timeout
        } else {
            PartnerLeftReason::Disconnected
        };
        self.remove_session(session, reason, now);
    }

    fn idle_check(&mut self, session: SessionId, generation: u64, now: Instant) {
        let Some(state) = self.sessions.get(&session) else {
            return;
        };
        if state.generation != generation || state.attachment.is_none() {
            return;
        }
        let due = state.last_activity + self.config.idle_timeout;
        if due > now {
            self.schedule(
                due,
                Timer::Idle {
                    session,
                    generation,
                },
            );
            return;
        }
        if let Some(attachment) = &state.attachment {
            attachment.outbox.close(CloseReason::IdleTimeout);
        }
        self.detach(session, true, now);
    }

    /// Pushes a changed `online` count to one slice of the sessions (a
    /// session's slice is its id modulo the number of slices), and schedules
    /// the next slice. One interval visits every slice once, so each session
    /// hears of a change within `online_interval`; pushing to all at once
    /// would write to every socket in the same millisecond (8,000 writes
    /// held the lines sent meanwhile for 100-150 ms).
    ///
    /// The next slice is due a step after this one was (`due`), so a late
    /// tick catches up within the interval; after a longer stall it starts
    /// again from `now`.
    fn broadcast_online(&mut self, slice: u16, due: Instant, now: Instant) {
        let slices = self.online_sent.len();
        let next = (usize::from(slice) + 1) % slices;
        let step = self.online_step();
        let mut at = due + step;
        if at + self.config.online_interval <= now {
            at = now + step;
        }
        self.schedule(at, Timer::Online { slice: next as u16 });
        let online = self.online_everywhere();
        let sent = &mut self.online_sent[usize::from(slice)];
        if online == *sent {
            return;
        }
        *sent = online;
        let frame = ServerFrame::Online { count: online };
        for id in &self.online_members[usize::from(slice)] {
            if let Some(attachment) = self.sessions.get(id).and_then(|s| s.attachment.as_ref()) {
                attachment.outbox.push(frame.clone());
            }
        }
    }

    /// The `online` slice a session belongs to: its id modulo the slices.
    fn online_slice(&self, id: SessionId) -> usize {
        (id.raw() % self.online_members.len() as u64) as usize
    }

    /// The session's client was just told a count out of turn (its
    /// connection's `hello`), which may differ from what its slice was last
    /// sent: the slice's next turn pushes the count even if it looks
    /// unchanged (else a count that moved and moved back leaves that client
    /// showing the passing one).
    pub(crate) fn online_told(&mut self, id: SessionId) {
        let slice = self.online_slice(id);
        self.online_sent[slice] = u64::MAX;
    }

    /// Adds a session to the node (and to its `online` slice).
    pub(crate) fn put_session(&mut self, id: SessionId, session: Box<Session>) {
        // Its client is about to be told the count (`hello`, `resumed`).
        self.online_told(id);
        let slice = self.online_slice(id);
        let fresh = self.online_members[slice].insert(id);
        let replaced = self.sessions.insert(id, session);
        debug_assert!(fresh && replaced.is_none(), "session {id} put twice");
    }

    /// Takes a session off the node (and out of its `online` slice).
    pub(crate) fn take_session(&mut self, id: SessionId) -> Option<Box<Session>> {
        let session = self.sessions.remove(&id)?;
        let slice = self.online_slice(id);
        let was_member = self.online_members[slice].remove(&id);
        debug_assert!(was_member, "session {id} missing from its online slice");
        Some(session)
    }

    /// The time between two `online` slices.
    fn online_step(&self) -> Duration {
        self.config.online_interval / self.online_sent.len() as u32
    }
}

/// Into how many slices an `online` interval is cut: one per
/// [`ONLINE_SLICE_EVERY`], at least one, at most [`MAX_ONLINE_SLICES`].
fn online_slices(config: &EngineConfig) -> usize {
    let slices = config.online_interval.as_millis() / ONLINE_SLICE_EVERY.as_millis();
    slices.clamp(1, u128::from(MAX_ONLINE_SLICES)) as usize
}
