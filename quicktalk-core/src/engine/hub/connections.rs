//! Connections and session lifetimes: connect, detach, the resume grace,
//! removal, bans and shutdown.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Attachment, ConnId, Hub, Phase, Session, Timer};
use crate::delivery::DeliveryMark;
use crate::error::{Error, Result};
use crate::ids::{ClientKey, ResumeToken, SessionId};
use crate::outbox::Outbox;
use crate::ports::event_bus::BusEvent;
use crate::protocol::{
    CloseReason, ErrorCode, Hello, PROTOCOL_VERSION, PartnerLeftReason, ProtocolError, ServerFrame,
};

impl Hub {
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
        let session = Session::new(
            id,
            key,
            token.clone(),
            Attachment {
                conn,
                outbox: outbox.clone(),
            },
            &self.config,
            now,
        );
        self.put_session(id, Box::new(session));
        self.conns.insert(conn, id);
        self.tokens.insert(token.clone(), id);
        self.online += 1;
        outbox.push(ServerFrame::Hello(Hello {
            session: id,
            resume_token: token.as_str().to_owned(),
            online: self.online_everywhere(),
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

    /// The client on `conn` has received every line of `mark.room` up to
    /// `mark.seq` (see [`crate::delivery`]); counts as activity too.
    pub(crate) fn delivered(&mut self, conn: ConnId, mark: DeliveryMark, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        if self.sessions[&id].last_room != Some(mark.room) {
            return;
        }
        if let Some(room) = self.rooms.get_mut(&mark.room) {
            if let Some(me) = room.member_index(id) {
                room.delivered(me, mark.seq, now, self.config.delivery_settle);
            }
        }
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
        let outbox = self
            .sessions
            .get(&id)
            .and_then(|s| s.attachment.as_ref())
            .filter(|a| a.conn == conn)
            .map(|a| a.outbox.clone());
        if let Some(outbox) = outbox {
            self.detach(id, false, now);
            // The stream's reader learns that nothing more will come.
            outbox.end();
        }
    }

    /// Detaches a session from its connection; the resume grace starts.
    pub(super) fn detach(&mut self, id: SessionId, idle: bool, now: Instant) {
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
                self.unqueue(id);
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
        match phase {
            Phase::Chatting(room) => self.end_room(room, id, reason, now),
            Phase::Waiting => self.unqueue(id),
            Phase::Idle => {}
        }
        let Some(session) = self.take_session(id) else {
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
        if let Some(cluster) = &self.cluster {
            self.hand_over_seats();
            // The other nodes end this node's chats now, not in 3 s.
            let node = cluster.node().clone();
            let instance = cluster.instance();
            self.bus.offer(BusEvent::Heartbeat {
                node,
                online: 0,
                leaving: true,
                instance,
            });
        }
        self.store.close();
        self.bus.close();
    }
}
