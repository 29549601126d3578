//! `resume`: moving a dropped session onto a new connection and replaying
//! what it missed.

use tokio::time::Instant;

use super::{ConnId, Hub, Phase, ResumeStep, Timer};
use crate::ids::{ResumeToken, RoomId};
use crate::ports::event_bus::BusEvent;
use crate::protocol::{CloseReason, ProtocolError, Resumed, ServerFrame};

impl Hub {
    /// `resume` on connection `conn`: the fresh session made at connect is
    /// dropped and the old one moves onto this connection.
    ///
    /// In cluster mode a token of a session another node held comes back as
    /// a [`ResumeStep`]: a handover to finish once its room is read back
    /// from the bus, or a question to the other nodes first.
    pub(crate) fn resume(
        &mut self,
        conn: ConnId,
        token: &str,
        last_seq: u64,
        client_room: Option<RoomId>,
        now: Instant,
    ) -> Option<ResumeStep> {
        let fresh = self.session_of(conn, now)?;
        let fail = |hub: &Self, message: &str| {
            hub.push_error(fresh, ProtocolError::resume_failed(message));
        };
        if !self.sessions.get(&fresh).is_some_and(|s| s.fresh) {
            fail(self, "resume must be the first frame of a connection");
            return None;
        }
        let Some(&old) = self.tokens.get(&ResumeToken::from(token)) else {
            if let Some(handover) = self.find_handover(conn, fresh, token, last_seq) {
                return Some(ResumeStep::Handover(handover));
            }
            if let Some(locating) = self.locate(conn, fresh, token, last_seq) {
                return Some(ResumeStep::Locate(locating));
            }
            fail(self, "unknown or expired resume token");
            return None;
        };
        if old == fresh {
            fail(self, "this connection already holds that session");
            return None;
        }
        // Take the fresh session's connection.
        let mut fresh_session = self.take_session(fresh)?;
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
        // The client saw the fresh session's `hello` count.
        self.online_told(old);
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
        if let Some(room) = room.and_then(|id| self.rooms.get_mut(&id)) {
            // The client counted seqs of another room: replay all of this
            // one. A count this room never reached cannot be this room's
            // either: a client without `room` (the bare contract) that lost
            // `matched` with its connection counts in the room before.
            let last_seq = match client_room {
                Some(client_room) if client_room != room.id => 0,
                _ if last_seq > room.last_seq() => 0,
                _ => last_seq,
            };
            if let Some(me) = room.member_index(old) {
                replay.extend(room.lines_after(last_seq).map(|line| line.frame_for(me)));
                // It says it has these: the room need not keep them for it.
                // What its old connection's socket read but the client may
                // not have kept is the replay's business now.
                room.unsettle(me);
                room.confirmed(me, last_seq);
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
        if self.cluster.is_some() {
            // Other nodes follow the new token, in case this node dies.
            if let Some(room) = self.sessions[&old].last_room {
                self.bus.offer(BusEvent::Rekeyed {
                    room,
                    session: old,
                    resume: token.digest().into(),
                });
            }
        }
        None
    }
}
