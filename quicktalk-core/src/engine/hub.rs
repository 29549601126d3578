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

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::config::EngineConfig;
use crate::engine::feed::{Feed, StoreRecord};
use crate::engine::metrics::EngineMetrics;
use crate::engine::rate::{Strikes, TokenBucket};
use crate::engine::room::Room;
use crate::error::{Error, Result};
use crate::ids::{ClientKey, ResumeToken, RoomId, SessionId};
use crate::matcher::{Candidate, Matcher, MatcherConfig, Pairing};
use crate::outbox::Outbox;
use crate::ports::event_bus::BusEvent;
use crate::protocol::{
    CloseReason, ErrorCode, Hello, JoinRequest, Limits, Matched, PROTOCOL_VERSION,
    PartnerLeftReason, ProtocolError, Resumed, ServerFrame,
};

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
    pub(crate) typing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Grace { session: SessionId, generation: u64 },
    Idle { session: SessionId, generation: u64 },
    Online,
}

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
}

pub(crate) struct Hub {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) matcher: Matcher,
    pub(crate) sessions: FxHashMap<SessionId, Session>,
    conns: FxHashMap<ConnId, SessionId>,
    tokens: FxHashMap<ResumeToken, SessionId>,
    pub(crate) rooms: FxHashMap<RoomId, Room>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    next_conn: ConnId,
    online: u64,
    active_rooms: u64,
    online_sent: u64,
    /// The deadline the timer task sleeps until; an earlier one needs a wake-up.
    armed: Option<Instant>,
    shutting_down: bool,
    pub(crate) store: Feed<StoreRecord>,
    pub(crate) bus: Feed<BusEvent>,
    pub(crate) metrics: EngineMetrics,
}

impl Hub {
    pub(crate) fn new(
        config: Arc<EngineConfig>,
        store: Feed<StoreRecord>,
        bus: Feed<BusEvent>,
        now: Instant,
    ) -> Self {
        let matcher = Matcher::new(MatcherConfig {
            interest_wait: config.interest_wait,
            rematch_cooldown: config.rematch_cooldown,
            report_block: config.report_block,
        });
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
            online_sent: 0,
            armed: None,
            shutting_down: false,
            store,
            bus,
            metrics: EngineMetrics::new(),
        };
        let first = now + hub.config.online_interval;
        hub.schedule(first, Timer::Online);
        hub
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            online: self.online,
            waiting: self.matcher.waiting() as u64,
            rooms: self.active_rooms,
            sessions: self.sessions.len() as u64,
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_text_chars: self.config.max_text_chars,
            max_frame_bytes: self.config.max_frame_bytes,
            max_interests: crate::protocol::MAX_INTERESTS,
            max_interest_chars: crate::protocol::MAX_INTEREST_CHARS,
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
                Timer::Online => self.broadcast_online(now),
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

    fn broadcast_online(&mut self, now: Instant) {
        let next = now + self.config.online_interval;
        self.schedule(next, Timer::Online);
        if self.online == self.online_sent {
            return;
        }
        self.online_sent = self.online;
        let frame = ServerFrame::Online { count: self.online };
        for session in self.sessions.values() {
            if let Some(attachment) = &session.attachment {
                attachment.outbox.push(frame.clone());
            }
        }
    }

    // ----- connections -------------------------------------------------

    /// A new connection with a new session; pushes `hello`.
    pub(crate) fn connect(
        &mut self,
        key: ClientKey,
        now: Instant,
    ) -> Result<(ConnId, Arc<Outbox>)> {
        if self.shutting_down {
            return Err(Error::ShuttingDown);
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(Error::ServerBusy);
        }
        let id = loop {
            let id = SessionId::random();
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let conn = self.next_conn;
        self.next_conn += 1;
        let outbox = Outbox::new(self.config.outbox_capacity);
        let token = ResumeToken::random();
        let session = Session {
            id,
            key,
            token: token.clone(),
            attachment: Some(Attachment {
                conn,
                outbox: outbox.clone(),
            }),
            generation: 0,
            phase: Phase::Idle,
            lang: None,
            last_room: None,
            pending_left: None,
            idle_closed: false,
            fresh: true,
            last_activity: now,
            bucket: TokenBucket::new(self.config.rate_per_sec, self.config.rate_burst, now),
            strikes: Strikes::new(self.config.flood_window, now),
            typing: false,
        };
        self.sessions.insert(id, session);
        self.conns.insert(conn, id);
        self.tokens.insert(token.clone(), id);
        self.online += 1;
        outbox.push(ServerFrame::Hello(Hello {
            session: id,
            resume_token: token.as_str().to_owned(),
            online: self.online,
            protocol: PROTOCOL_VERSION,
            limits: self.limits(),
        }));
        self.schedule(
            now + self.config.idle_timeout,
            Timer::Idle {
                session: id,
                generation: 0,
            },
        );
        Ok((conn, outbox))
    }

    /// The session a connection speaks for, if it is still attached.
    pub(crate) fn session_for(&self, conn: ConnId) -> Option<SessionId> {
        self.conns.get(&conn).copied()
    }

    /// The session a connection speaks for, after recording activity.
    pub(crate) fn session_of(&mut self, conn: ConnId, now: Instant) -> Option<SessionId> {
        let id = *self.conns.get(&conn)?;
        if let Some(session) = self.sessions.get_mut(&id) {
            session.last_activity = now;
        }
        Some(id)
    }

    pub(crate) fn push(&self, session: SessionId, frame: ServerFrame) {
        if let Some(attachment) = self
            .sessions
            .get(&session)
            .and_then(|s| s.attachment.as_ref())
        {
            if !attachment.outbox.push(frame) {
                self.metrics.slow_closes.increment(1);
            }
        }
    }

    pub(crate) fn push_error(&self, session: SessionId, error: ProtocolError) {
        self.push(session, error.to_frame());
    }

    /// The transport's connection is gone (closed, errored, or told to close).
    pub(crate) fn disconnect(&mut self, conn: ConnId, now: Instant) {
        let Some(id) = self.conns.remove(&conn) else {
            return;
        };
        let attached_here = self
            .sessions
            .get(&id)
            .and_then(|s| s.attachment.as_ref())
            .is_some_and(|a| a.conn == conn);
        if attached_here {
            self.detach(id, false, now);
        }
    }

    /// Detaches a session from its connection; the resume grace starts.
    fn detach(&mut self, id: SessionId, idle: bool, now: Instant) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(attachment) = session.attachment.take() else {
            return;
        };
        self.conns.remove(&attachment.conn);
        self.online -= 1;
        session.generation += 1;
        session.idle_closed = idle;
        let generation = session.generation;
        let phase = session.phase;
        let was_typing = std::mem::take(&mut session.typing);
        match phase {
            // A waiting session leaves the queue: nobody should be matched
            // with a connection that is gone.
            Phase::Waiting => {
                self.matcher.cancel(id);
                self.set_phase(id, Phase::Idle);
            }
            Phase::Chatting(room) if was_typing => {
                if let Some(partner) = self.partner_in(room, id) {
                    self.push(partner, ServerFrame::Typing { active: false });
                }
            }
            _ => {}
        }
        if self.config.resume_grace.is_zero() {
            self.grace_expired(id, generation, now);
        } else {
            self.schedule(
                now + self.config.resume_grace,
                Timer::Grace {
                    session: id,
                    generation,
                },
            );
        }
    }

    /// Ends a session for good: its partner is told `reason`.
    pub(crate) fn remove_session(
        &mut self,
        id: SessionId,
        reason: PartnerLeftReason,
        now: Instant,
    ) {
        let Some(phase) = self.sessions.get(&id).map(|s| s.phase) else {
            return;
        };
        if let Phase::Chatting(room) = phase {
            self.end_room(room, id, reason, now);
        }
        let Some(session) = self.sessions.remove(&id) else {
            return;
        };
        if let Some(attachment) = session.attachment {
            self.conns.remove(&attachment.conn);
            self.online -= 1;
        }
        self.tokens.remove(&session.token);
        self.matcher.forget(id);
        if let Some(room) = session.last_room {
            self.release_room(room);
        }
    }

    /// Removes a connected session by moderation (flooding, ban).
    pub(crate) fn remove_by_moderation(&mut self, id: SessionId, close: CloseReason, now: Instant) {
        if let Some(attachment) = self.sessions.get(&id).and_then(|s| s.attachment.as_ref()) {
            attachment.outbox.close(close);
        }
        self.remove_session(id, PartnerLeftReason::Removed, now);
    }

    /// Bans every session of `key`: error, close 1008, partners told `removed`.
    pub(crate) fn kick_key(&mut self, key: &ClientKey, now: Instant) -> usize {
        let victims: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| &s.key == key)
            .map(|s| s.id)
            .collect();
        for &id in &victims {
            self.push_error(
                id,
                ProtocolError {
                    code: ErrorCode::Banned,
                    message: "this client is banned".into(),
                },
            );
            self.remove_by_moderation(id, CloseReason::Banned, now);
        }
        victims.len()
    }

    /// Stops taking sessions and asks every connection to close (1001).
    pub(crate) fn begin_shutdown(&mut self) {
        self.shutting_down = true;
        for session in self.sessions.values() {
            if let Some(attachment) = &session.attachment {
                attachment.outbox.close(CloseReason::ShuttingDown);
            }
        }
        self.store.close();
        self.bus.close();
    }

    // ----- resume ------------------------------------------------------

    /// `resume` on connection `conn`: the fresh session made at connect is
    /// dropped and the old one moves onto this connection.
    pub(crate) fn resume(
        &mut self,
        conn: ConnId,
        token: &str,
        last_seq: u64,
        client_room: Option<RoomId>,
        now: Instant,
    ) {
        let Some(fresh) = self.session_of(conn, now) else {
            return;
        };
        let fail = |hub: &Self, message: &str| {
            hub.push_error(
                fresh,
                ProtocolError {
                    code: ErrorCode::ResumeFailed,
                    message: message.into(),
                },
            );
        };
        if !self.sessions.get(&fresh).is_some_and(|s| s.fresh) {
            fail(self, "resume must be the first frame of a connection");
            return;
        }
        let Some(&old) = self.tokens.get(&ResumeToken::from(token)) else {
            fail(self, "unknown or expired resume token");
            return;
        };
        if old == fresh {
            fail(self, "this connection already holds that session");
            return;
        }
        // Take the fresh session's connection.
        let Some(mut fresh_session) = self.sessions.remove(&fresh) else {
            return;
        };
        self.tokens.remove(&fresh_session.token);
        let attachment = fresh_session.attachment.take().expect("connected session");
        self.online -= 1;
        // An old connection still open is replaced (4003).
        let old_session = self
            .sessions
            .get_mut(&old)
            .expect("token points at a live session");
        if let Some(previous) = old_session.attachment.take() {
            previous.outbox.close(CloseReason::Replaced);
            self.conns.remove(&previous.conn);
            self.online -= 1;
        }
        self.tokens.remove(&old_session.token);
        let token = ResumeToken::random();
        old_session.token = token.clone();
        old_session.generation += 1;
        old_session.idle_closed = false;
        old_session.fresh = false;
        old_session.last_activity = now;
        let generation = old_session.generation;
        let outbox = attachment.outbox.clone();
        self.conns.insert(attachment.conn, old);
        old_session.attachment = Some(attachment);
        self.tokens.insert(token.clone(), old);
        self.online += 1;
        self.schedule(
            now + self.config.idle_timeout,
            Timer::Idle {
                session: old,
                generation,
            },
        );
        self.metrics.resumes.increment(1);

        let session = &self.sessions[&old];
        let room = session.last_room.filter(|_| {
            matches!(session.phase, Phase::Chatting(_)) || session.pending_left.is_some()
        });
        let mut replay = Vec::new();
        if let Some(room) = room.and_then(|id| self.rooms.get(&id)) {
            // The client counted seqs of another room: replay all of this one.
            let last_seq = match client_room {
                Some(client_room) if client_room != room.id => 0,
                _ => last_seq,
            };
            if let Some(me) = room.member_index(old) {
                replay.extend(room.lines_after(last_seq).map(|line| line.frame_for(me)));
            }
        }
        outbox.push_unbounded(ServerFrame::Resumed(Resumed {
            room,
            replayed: replay.len() as u64,
            resume_token: token.as_str().to_owned(),
        }));
        for frame in replay {
            outbox.push_unbounded(ServerFrame::Message(frame));
        }
        let pending = self
            .sessions
            .get_mut(&old)
            .and_then(|s| s.pending_left.take());
        if let Some(reason) = pending {
            outbox.push_unbounded(ServerFrame::PartnerLeft { reason });
        }
        if self.sessions[&old].phase == Phase::Waiting {
            // Only when the old connection was still open: a dropped one
            // leaves the queue. Tell the new connection where it stands.
            outbox.push(ServerFrame::Waiting);
        }
    }

    // ----- matching ----------------------------------------------------

    pub(crate) fn join(&mut self, conn: ConnId, request: JoinRequest, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        match self.sessions[&id].phase {
            Phase::Idle => self.enqueue(id, request, now),
            Phase::Waiting => self.push_error(
                id,
                ProtocolError::bad_state("already waiting for a partner"),
            ),
            Phase::Chatting(_) => self.push_error(
                id,
                ProtocolError::bad_state("already in a chat; send `next` or `leave`"),
            ),
        }
    }

    pub(crate) fn next(&mut self, conn: ConnId, request: JoinRequest, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        match self.sessions[&id].phase {
            Phase::Chatting(room) => self.end_room(room, id, PartnerLeftReason::Skipped, now),
            Phase::Waiting => {
                self.matcher.cancel(id);
            }
            Phase::Idle => {}
        }
        self.set_phase(id, Phase::Idle);
        self.enqueue(id, request, now);
    }

    pub(crate) fn leave(&mut self, conn: ConnId, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        self.mark_used(id);
        match self.sessions[&id].phase {
            Phase::Chatting(room) => self.end_room(room, id, PartnerLeftReason::Left, now),
            Phase::Waiting => {
                self.matcher.cancel(id);
            }
            Phase::Idle => {}
        }
        self.set_phase(id, Phase::Idle);
    }

    pub(crate) fn mark_used(&mut self, id: SessionId) {
        if let Some(session) = self.sessions.get_mut(&id) {
            session.fresh = false;
        }
    }

    fn set_phase(&mut self, id: SessionId, phase: Phase) {
        if let Some(session) = self.sessions.get_mut(&id) {
            session.phase = phase;
        }
    }

    fn enqueue(&mut self, id: SessionId, request: JoinRequest, now: Instant) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.fresh = false;
        session.lang = request.lang.map(Arc::from);
        let candidate = Candidate {
            session: id,
            client_key: session.key.clone(),
            lang: session.lang.clone(),
            interests: request.interests.into_iter().map(Arc::from).collect(),
        };
        match self.matcher.enqueue(candidate, now) {
            Some(pairing) => self.open_room(pairing),
            None => {
                self.set_phase(id, Phase::Waiting);
                self.push(id, ServerFrame::Waiting);
            }
        }
    }

    fn open_room(&mut self, pairing: Pairing) {
        let id = loop {
            let id = RoomId::random();
            if !self.rooms.contains_key(&id) {
                break id;
            }
        };
        let members = [pairing.first, pairing.second];
        let keys = members.map(|m| self.sessions[&m].key.clone());
        let langs = members.map(|m| self.sessions[&m].lang.clone());
        self.rooms.insert(
            id,
            Room::new(id, members, keys, self.config.replay_capacity),
        );
        self.active_rooms += 1;
        for (index, &member) in members.iter().enumerate() {
            let previous = {
                let session = self
                    .sessions
                    .get_mut(&member)
                    .expect("matched session exists");
                session.phase = Phase::Chatting(id);
                session.typing = false;
                session.pending_left = None;
                session.last_room.replace(id)
            };
            if let Some(previous) = previous {
                self.release_room(previous);
            }
            self.push(
                member,
                ServerFrame::Matched(Matched {
                    room: id,
                    common_interests: pairing.common_interests.clone(),
                    partner_lang: langs[1 - index].as_deref().map(str::to_owned),
                }),
            );
        }
        self.metrics.matches.increment(1);
        self.metrics
            .match_wait
            .record(pairing.first_waited.as_secs_f64());
        self.metrics
            .match_wait
            .record(pairing.second_waited.as_secs_f64());
        self.bus.offer(BusEvent::Matched {
            room: id,
            sessions: members,
            common_interests: pairing.common_interests,
        });
    }

    /// The other member of `room`.
    pub(crate) fn partner_in(&self, room: RoomId, me: SessionId) -> Option<SessionId> {
        let room = self.rooms.get(&room)?;
        let index = room.member_index(me)?;
        Some(room.members[1 - index])
    }

    /// Ends a chat: the other member is told `reason` (now, or after its
    /// resume), both go idle, and the pair enters the rematch cooldown.
    pub(crate) fn end_room(
        &mut self,
        room_id: RoomId,
        leaver: SessionId,
        reason: PartnerLeftReason,
        now: Instant,
    ) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if room.ended {
            return;
        }
        room.ended = true;
        let members = room.members;
        self.active_rooms -= 1;
        self.matcher.add_cooldown(members[0], members[1], now);
        for member in members {
            let Some(session) = self.sessions.get_mut(&member) else {
                continue;
            };
            if session.phase == Phase::Chatting(room_id) {
                session.phase = Phase::Idle;
            }
            session.typing = false;
            if member != leaver {
                if session.attachment.is_some() {
                    self.push(member, ServerFrame::PartnerLeft { reason });
                } else {
                    session.pending_left = Some(reason);
                }
            }
        }
        self.bus.offer(BusEvent::PartnerLeft {
            room: room_id,
            left: leaver,
            reason,
        });
    }

    /// A session no longer refers to `room`; drop it once ended and unreferenced.
    fn release_room(&mut self, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.refs = room.refs.saturating_sub(1);
        if room.refs == 0 {
            if !room.ended {
                self.active_rooms -= 1;
            }
            self.rooms.remove(&room_id);
        }
    }
}
