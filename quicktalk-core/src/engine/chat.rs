//! Chat inside a room: `send`, `typing` and `report`.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::engine::feed::StoreRecord;

/// How many times a second a partner is told `typing {active: true}` at most
/// (a person starts typing a few times a minute).
pub(crate) const TYPING_STARTS: u8 = 4;

/// Typing starts in a second beyond [`TYPING_STARTS`] that are only not
/// forwarded; each one past them is a flood strike.
pub(crate) const TYPING_STARTS_BEFORE_STRIKES: u8 = 20;

/// Frames other than delivered lines (join, next, leave, report, a line
/// outside a chat) a session may send in a second; each one past them is a
/// flood strike, as a rate-limited line is.
pub(crate) const ACTIONS_PER_SEC: u8 = 10;
use crate::engine::hub::{ConnId, Hub, Phase};
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::chat_store::{ModerationFlag, Report, StoredMessage, unix_ms};
use crate::ports::event_bus::BusEvent;
use crate::ports::moderator::{Action, Verdict};
use crate::protocol::{
    CloseReason, ProtocolError, RejectReason, Rejected, ReportRequest, ServerFrame, is_invisible,
};

/// A line on its way in, already measured and judged outside the lock.
pub(crate) struct Incoming<'a> {
    pub(crate) text: &'a str,
    pub(crate) cid: Option<&'a str>,
    /// `None` when the text is over `max_text_chars` (not moderated).
    pub(crate) verdict: Option<Verdict>,
}

impl Hub {
    pub(crate) fn reject(
        &self,
        id: SessionId,
        cid: Option<&str>,
        reason: RejectReason,
        category: Option<&str>,
    ) {
        self.metrics.rejected(reason).increment(1);
        self.push(
            id,
            ServerFrame::Rejected(Rejected {
                cid: cid.map(str::to_owned),
                reason,
                category: category.map(str::to_owned),
            }),
        );
    }

    /// Counts one frame other than a delivered line; `false` when the session
    /// was closed for flooding (the caller stops there).
    pub(crate) fn spend_action(&mut self, id: SessionId, now: Instant) -> bool {
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        session.actions.tick(now) <= ACTIONS_PER_SEC || !self.strike(id, now, "frames")
    }

    /// A flood strike against `id` (`what` it flooded with, for the log);
    /// true when it was the one that closed the session.
    fn strike(&mut self, id: SessionId, now: Instant, what: &'static str) -> bool {
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        let strikes = session.strikes.hit(now);
        if strikes < self.config.flood_strikes {
            return false;
        }
        tracing::info!(session = %id, strikes, what, "closing a flooding session");
        self.remove_by_moderation(id, CloseReason::Flooding, now);
        true
    }

    pub(crate) fn send(&mut self, conn: ConnId, line: Incoming<'_>, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        self.mark_used(id);
        self.metrics.lines_in.increment(1);
        let Phase::Chatting(room_id) = self.sessions[&id].phase else {
            if !self.spend_action(id, now) {
                return;
            }
            self.reject(id, line.cid, RejectReason::NotInRoom, None);
            return;
        };
        let Some(room) = self.rooms.get(&room_id) else {
            self.reject(id, line.cid, RejectReason::NotInRoom, None);
            return;
        };
        let me = room
            .member_index(id)
            .expect("a chatting session is a member of its room");
        // A repeated cid: answer with the original echo, deliver nothing.
        if let Some(cid) = line.cid {
            if let Some(original) = room.line_by_cid(me, cid) {
                let echo = original.frame_for(me);
                self.push(id, ServerFrame::Message(echo));
                self.end_typing_unsent(room_id, id);
                return;
            }
        }
        let Some(verdict) = line.verdict else {
            self.reject(id, line.cid, RejectReason::TooLong, None);
            self.end_typing_unsent(room_id, id);
            return;
        };
        if line.text.chars().all(invisible) {
            self.push_error(id, ProtocolError::bad_request("`text` must not be empty"));
            self.end_typing_unsent(room_id, id);
            return;
        }
        let session = self.sessions.get_mut(&id).expect("session exists");
        if !session.bucket.try_take(now) {
            self.reject(id, line.cid, RejectReason::RateLimited, None);
            self.end_typing_unsent(room_id, id);
            self.strike(id, now, "lines");
            return;
        }
        // Sending a line ends the sender's typing state; the partner's
        // indicator goes off with the message, or, for a line it never
        // gets, with a `typing {active: false}` (below).
        let was_typing = std::mem::replace(&mut session.typing, false);
        let key = session.key.clone();
        self.metrics.moderated(verdict.action).increment(1);
        let ts = unix_ms(SystemTime::now());
        if verdict.action != Action::Allow && !self.config.retention.is_zero() {
            self.store.offer(StoreRecord::Flag(ModerationFlag {
                room: room_id,
                seq: (verdict.action != Action::Block).then(|| self.rooms[&room_id].last_seq() + 1),
                session: id,
                client_key: key.clone(),
                action: verdict.action,
                category: verdict.category,
                severity: verdict.severity,
                text: line.text.to_owned(),
                ts,
            }));
        }
        let (text, masked): (Arc<str>, bool) = match verdict.action {
            Action::Block => {
                let category = verdict.category.map(|c| c.as_str());
                self.reject(id, line.cid, RejectReason::Moderation, category);
                if was_typing {
                    self.tell_typing(room_id, id, false);
                }
                self.bus.offer(BusEvent::Blocked {
                    room: room_id,
                    from: id,
                    client_key: key,
                    category: verdict.category,
                    ts,
                });
                return;
            }
            Action::Mask => (verdict.mask(line.text).into(), true),
            Action::Allow | Action::Flag => (line.text.into(), false),
        };
        let room = self.rooms.get_mut(&room_id).expect("room exists");
        if !room.numbers {
            // Cluster mode: the partner's node numbers this room. It
            // delivers the line and publishes the `message` this node echoes.
            room.forwarded(line.cid.map(Arc::from));
            self.bus.offer(BusEvent::Said {
                room: room_id,
                from: id,
                text,
                cid: line.cid.map(Arc::from),
                masked,
                ts,
            });
            return;
        }
        let partner = room.members[1 - me];
        // Cluster mode, partner on another node: the echo waits until the
        // line is back from the bus (an echo means the partner's node can
        // have it, even if this node dies right after).
        let across = room.remote.is_some();
        // A client that sends is alive: what its socket read a settle time
        // ago, it has.
        room.active(me, now, self.config.delivery_settle);
        let stored = room.append(me, text, ts, line.cid.map(Arc::from), masked);
        stored.on_bus = !across;
        let (seq, ts) = (stored.seq, stored.ts);
        let text = stored.text.clone();
        let frames = (!across).then(|| (stored.frame_for(me), stored.frame_for(1 - me)));
        // Cluster mode publishes the cid too: a node that takes the session
        // over after its node died replays own lines with their cid.
        let cid = if across || self.cluster.is_some() {
            stored.cid.clone()
        } else {
            None
        };
        if let Some((echo, delivered)) = frames {
            self.push(id, ServerFrame::Message(echo));
            self.push(partner, ServerFrame::Message(delivered));
        }
        self.record_line(room_id, seq, id, key, text, ts, masked, cid);
    }

    /// A numbered line: counted, handed to the store and published.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_line(
        &mut self,
        room: RoomId,
        seq: u64,
        from: SessionId,
        client_key: ClientKey,
        text: Arc<str>,
        ts: i64,
        masked: bool,
        cid: Option<Arc<str>>,
    ) {
        self.metrics.lines_out.increment(1);
        if !self.config.retention.is_zero() {
            self.store.offer(StoreRecord::Message(StoredMessage {
                room,
                seq,
                session: from,
                client_key: client_key.clone(),
                text: text.to_string(),
                ts,
                masked,
            }));
        }
        self.bus.offer(BusEvent::Message {
            room,
            seq,
            from,
            client_key,
            text,
            ts,
            masked,
            cid,
        });
    }

    /// A `send` that delivers nothing (a repeat, too long, empty, too
    /// fast) still ends the sender's typing state, as a delivered one does:
    /// the partner's indicator goes off.
    fn end_typing_unsent(&mut self, room: RoomId, id: SessionId) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if std::mem::replace(&mut session.typing, false) {
            self.tell_typing(room, id, false);
        }
    }

    pub(crate) fn typing(&mut self, conn: ConnId, active: bool, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        let session = self.sessions.get_mut(&id).expect("session exists");
        // Typing outside a room is a harmless race (the partner just left):
        // ignore it. Only changes are forwarded, and a start at most
        // `TYPING_STARTS` times a second: a client toggling as fast as it
        // can must not fill its partner's queue (which closes it, 4002).
        let Phase::Chatting(room) = session.phase else {
            return;
        };
        if session.typing == active {
            return;
        }
        if active {
            let starts = session.typing_starts.tick(now);
            if starts > TYPING_STARTS {
                // The partner keeps seeing `not typing`; nothing is lost. A
                // page that sends a start before each of many quick lines
                // stays well under the flood line; a client toggling as
                // fast as it can does not (each start past it is a strike).
                if starts > TYPING_STARTS + TYPING_STARTS_BEFORE_STRIKES {
                    self.strike(id, now, "typing");
                }
                return;
            }
        }
        session.typing = active;
        self.tell_typing(room, id, active);
    }

    /// Tells `id`'s partner in `room` (here or, through the bus, on
    /// another node) that `id`'s typing state is now `active`.
    fn tell_typing(&mut self, room: RoomId, id: SessionId, active: bool) {
        if let Some(partner) = self.partner_in(room, id) {
            self.push(partner, ServerFrame::Typing { active });
            self.bus.offer(BusEvent::Typing {
                room,
                from: id,
                active,
            });
        }
    }

    /// Builds the report of the current or most recent partner and blocks the
    /// pair; the engine stores it and then answers `reported`.
    pub(crate) fn report(
        &mut self,
        conn: ConnId,
        request: ReportRequest,
        now: Instant,
    ) -> Option<(SessionId, Report)> {
        let id = self.session_of(conn, now)?;
        if !self.spend_action(id, now) {
            return None;
        }
        self.mark_used(id);
        let Some(room) = self.sessions[&id]
            .last_room
            .and_then(|room| self.rooms.get(&room))
        else {
            self.push_error(
                id,
                ProtocolError::bad_state("nobody to report: no current or recent partner"),
            );
            return None;
        };
        let me = room
            .member_index(id)
            .expect("a session is a member of its last room");
        let pair = [
            (id, room.keys[me].clone()),
            (room.members[1 - me], room.keys[1 - me].clone()),
        ];
        if room.reported[me] {
            // A second press of Report: the moderators have it already. The
            // pair's block runs from this press, as it did when each press
            // was stored (found by the invariants test).
            self.block_pair(pair, now);
            self.push(id, ServerFrame::Reported);
            return None;
        }
        let report = Report {
            id: format!("{:032x}", rand::random::<u128>()),
            room: room.id,
            reporter: id,
            reporter_key: room.keys[me].clone(),
            reported: room.members[1 - me],
            reported_key: room.keys[1 - me].clone(),
            reason: request.reason,
            note: request.note,
            ts: unix_ms(SystemTime::now()),
            context: room.context(self.config.report_context_lines),
        };
        self.block_pair(pair, now);
        Some((id, report))
    }

    /// A report keeps the two apart for `report_block` from `now` (across
    /// the cluster in cluster mode).
    fn block_pair(
        &mut self,
        [(reporter, reporter_key), (reported, reported_key)]: [(SessionId, ClientKey); 2],
        now: Instant,
    ) {
        if self.cluster.is_some() {
            self.announce_exclusion(
                [reporter, reported],
                Some([reporter_key, reported_key]),
                now,
            );
        } else {
            self.matcher.add_report_block(
                (reporter, &reporter_key),
                (reported, &reported_key),
                now,
            );
        }
    }

    /// The report `session` made in `room` is stored: a repeat is answered
    /// without storing it again.
    pub(crate) fn report_stored(&mut self, session: SessionId, room: RoomId) {
        if let Some(room) = self.rooms.get_mut(&room)
            && let Some(me) = room.member_index(session)
        {
            room.reported[me] = true;
        }
        self.push(session, ServerFrame::Reported);
    }
}

/// A character that shows nothing: whitespace, control characters and
/// [`is_invisible`]. A line of only these is empty.
fn invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_invisible(c)
}
