//! Cluster mode: `resume` on another node than the one that held the
//! session (its node died or shut down, and the client reconnected through
//! the load balancer to a node that never saw it).
//!
//! Every node reads every room's events, so it learns from each `proposed`
//! the digest of both members' resume tokens (and from `rekeyed` the
//! digest after a resume on their node). A `resume` with a token this node
//! does not hold is looked up by digest; if the session was in a room, the
//! room's events are read back from the bus ([`EventBus::room_history`]) and
//! the session moves here: `resumed`, every line with `seq > last_seq`,
//! then `partner_left` (the chat ended with its node). The old room is ended
//! on the bus, so a node that still holds it (alive, or not yet noticed as
//! gone) tells the partner and drops its copy of the session.
//!
//! A node that does not know the digest (it started after the room
//! opened) asks the others with [`BusEvent::Locate`]; a node that knows it
//! answers [`BusEvent::Located`], and the resume goes on as above. Nobody
//! answering within [`LOCATE_WAIT`] fails the resume (`resume_failed`).
//!
//! [`EventBus::room_history`]: crate::ports::event_bus::EventBus::room_history

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{ConnId, Hub, Phase, Session, Timer};
use crate::ids::{ClientKey, ResumeToken, RoomId, SessionId};
use crate::ports::chat_store::unix_ms;
use crate::ports::event_bus::BusEvent;
use crate::protocol::{
    MessageFrame, PartnerLeftReason, ProtocolError, Resumed, Sender, ServerFrame,
};

/// How far before a proposal the room's history is read from (clocks of
/// the nodes and the broker differ a little).
const HISTORY_MARGIN: Duration = Duration::from_secs(30);

/// Where the history of a room that opens now starts (unix ms).
pub(crate) fn history_start_now() -> i64 {
    let since = SystemTime::now()
        .checked_sub(HISTORY_MARGIN)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    unix_ms(since)
}

/// How long a resume with a token no node here knows waits for another
/// node to say where its session was ([`BusEvent::Located`]).
pub(crate) const LOCATE_WAIT: Duration = Duration::from_secs(2);

/// Sessions of other nodes this node could take over, by token digest.
#[derive(Default)]
pub(crate) struct Directory {
    by_digest: FxHashMap<Arc<str>, SessionId>,
    known: FxHashMap<SessionId, Known>,
    rooms: FxHashMap<RoomId, [SessionId; 2]>,
    /// Sessions whose room ended, oldest first: forgotten after the grace.
    ending: VecDeque<(Instant, SessionId)>,
}

#[derive(Clone)]
pub(crate) struct Known {
    digest: Arc<str>,
    key: ClientKey,
    room: RoomId,
    node: Arc<str>,
    partner: SessionId,
    since_ms: i64,
    ended: bool,
}

impl Directory {
    fn forget(&mut self, session: SessionId) -> Option<Known> {
        let known = self.known.remove(&session)?;
        self.by_digest.remove(&known.digest);
        Some(known)
    }

    /// A member of a room that opened, held by another node.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn learn(
        &mut self,
        session: SessionId,
        digest: Arc<str>,
        key: ClientKey,
        room: RoomId,
        node: Arc<str>,
        partner: SessionId,
        since_ms: i64,
    ) {
        self.insert(
            session,
            Known {
                digest,
                key,
                room,
                node,
                partner,
                since_ms,
                ended: false,
            },
        );
    }

    fn insert(&mut self, session: SessionId, known: Known) {
        self.forget(session);
        self.by_digest.insert(known.digest.clone(), session);
        let (room, partner) = (known.room, known.partner);
        self.known.insert(session, known);
        self.rooms.insert(room, [session, partner]);
    }

    pub(crate) fn rekey(&mut self, session: SessionId, digest: Arc<str>) {
        let Some(known) = self.known.get_mut(&session) else {
            return;
        };
        let old = std::mem::replace(&mut known.digest, digest.clone());
        self.by_digest.remove(&old);
        self.by_digest.insert(digest, session);
    }

    fn mark_ended(&mut self, session: SessionId, now: Instant) {
        if let Some(known) = self.known.get_mut(&session) {
            if !known.ended {
                known.ended = true;
                self.ending.push_back((now, session));
            }
        }
    }

    pub(crate) fn room_ended(&mut self, room: RoomId, now: Instant) {
        if let Some(members) = self.rooms.remove(&room) {
            for session in members {
                if self.known.get(&session).is_some_and(|k| k.room == room) {
                    self.mark_ended(session, now);
                }
            }
        }
    }

    pub(crate) fn node_gone(&mut self, node: &Arc<str>, now: Instant) {
        let sessions: Vec<SessionId> = self
            .known
            .iter()
            .filter(|(_, known)| &known.node == node)
            .map(|(session, _)| *session)
            .collect();
        for session in sessions {
            self.mark_ended(session, now);
        }
    }

    /// Forgets sessions whose room ended more than `grace` ago.
    pub(crate) fn expire(&mut self, now: Instant, grace: Duration) {
        let mut seen = FxHashSet::default();
        while let Some(&(at, session)) = self.ending.front() {
            if now.saturating_duration_since(at) < grace {
                break;
            }
            self.ending.pop_front();
            if seen.insert(session) && self.known.get(&session).is_some_and(|k| k.ended) {
                if let Some(known) = self.forget(session) {
                    self.rooms.remove(&known.room);
                }
            }
        }
    }
}

/// What a `resume` with a token this node does not hold needs next.
pub(crate) enum ResumeStep {
    /// The room's history, then [`Hub::adopt`].
    Handover(Handover),
    /// Another node's answer (or [`LOCATE_WAIT`]), then [`Hub::located`].
    Locate(Locating),
}

/// A resume waiting for another node to say where its session was.
pub(crate) struct Locating {
    conn: ConnId,
    fresh: SessionId,
    token: String,
    last_seq: u64,
    /// Fires when a node answered.
    pub(crate) found: oneshot::Receiver<()>,
}

/// A resume this node can finish once the room's history is read.
#[derive(Debug)]
pub(crate) struct Handover {
    pub(crate) conn: ConnId,
    fresh: SessionId,
    session: SessionId,
    pub(crate) room: RoomId,
    pub(crate) since_ms: i64,
    last_seq: u64,
}

impl Hub {
    /// A token this node does not hold: a session of another node it could
    /// take over, if the directory knows the token's digest.
    pub(super) fn find_handover(
        &self,
        conn: ConnId,
        fresh: SessionId,
        token: &str,
        last_seq: u64,
    ) -> Option<Handover> {
        let cluster = self.cluster.as_ref()?;
        let digest = ResumeToken::from(token).digest();
        let session = *cluster.directory.by_digest.get(digest.as_str())?;
        let known = cluster.directory.known.get(&session)?;
        Some(Handover {
            conn,
            fresh,
            session,
            room: known.room,
            since_ms: known.since_ms,
            last_seq,
        })
    }

    /// A token nobody here knows: ask the other nodes where its session was.
    pub(super) fn locate(
        &mut self,
        conn: ConnId,
        fresh: SessionId,
        token: &str,
        last_seq: u64,
    ) -> Option<Locating> {
        let cluster = self.cluster.as_mut()?;
        let digest: Arc<str> = ResumeToken::from(token).digest().into();
        let (answered, found) = oneshot::channel();
        cluster
            .locating
            .entry(digest.clone())
            .or_default()
            .push(answered);
        let asker = cluster.node().clone();
        self.bus.offer(BusEvent::Locate { digest, asker });
        Some(Locating {
            conn,
            fresh,
            token: token.to_owned(),
            last_seq,
            found,
        })
    }

    /// After another node's answer or [`LOCATE_WAIT`]: the handover, or
    /// `resume_failed` when nobody knew the token.
    pub(crate) fn located(&mut self, locating: Locating) -> Option<Handover> {
        let Locating {
            conn,
            fresh,
            token,
            last_seq,
            ..
        } = locating;
        if let Some(cluster) = self.cluster.as_mut() {
            let digest = ResumeToken::from(token.as_str()).digest();
            cluster.locating.remove(digest.as_str());
        }
        let handover = self.find_handover(conn, fresh, &token, last_seq);
        if handover.is_none() && self.sessions.get(&fresh).is_some_and(|s| s.fresh) {
            self.push_error(
                fresh,
                ProtocolError::resume_failed("unknown or expired resume token"),
            );
        }
        handover
    }

    /// Another node asks where a session is: the answer, if this node's
    /// directory has it.
    pub(super) fn answer_locate(&mut self, digest: Arc<str>, asker: Arc<str>) {
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        if &asker == cluster.node() {
            return;
        }
        let directory = &cluster.directory;
        let Some(known) = directory
            .by_digest
            .get(&digest)
            .and_then(|session| directory.known.get(session).map(|known| (*session, known)))
        else {
            return;
        };
        let (session, known) = known;
        let answer = BusEvent::Located {
            digest,
            asker: Some(asker),
            session,
            client_key: known.key.clone(),
            room: known.room,
            partner: known.partner,
            node: known.node.clone(),
            since_ms: known.since_ms,
        };
        self.bus.offer(answer);
    }

    /// A node answered this node's [`BusEvent::Locate`], or a node shutting
    /// down told every node where its sessions are: the session goes into
    /// the directory (its room taken as ended: it expires after the grace)
    /// and a resume waiting for it goes on.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn learn_located(
        &mut self,
        digest: Arc<str>,
        asker: Option<Arc<str>>,
        session: SessionId,
        key: ClientKey,
        room: RoomId,
        partner: SessionId,
        node: Arc<str>,
        since_ms: i64,
        now: Instant,
    ) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        if asker.as_ref().is_some_and(|asker| asker != cluster.node()) {
            return;
        }
        let waiting = cluster.locating.remove(&digest);
        if waiting.is_none() && asker.is_some() {
            // Answered already.
            return;
        }
        if !cluster.directory.by_digest.contains_key(&digest) {
            let directory = &mut cluster.directory;
            directory.learn(session, digest, key, room, node, partner, since_ms);
            directory.mark_ended(session, now);
        }
        for answered in waiting.into_iter().flatten() {
            let _ = answered.send(());
        }
    }

    /// Shutting down: tells every node where this node's sessions in rooms
    /// are (their token digests), so their clients can resume on any node,
    /// even one that started after their room opened.
    pub(super) fn hand_over_seats(&self) {
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        let margin = i64::try_from(HISTORY_MARGIN.as_millis()).unwrap_or(i64::MAX);
        for session in self.sessions.values() {
            let Some(room) = session.last_room.and_then(|room| self.rooms.get(&room)) else {
                continue;
            };
            let Some(index) = room.member_index(session.id) else {
                continue;
            };
            self.bus.offer(BusEvent::Located {
                digest: session.token.digest().into(),
                asker: None,
                session: session.id,
                client_key: session.key.clone(),
                room: room.id,
                partner: room.members[1 - index],
                node: cluster.node().clone(),
                since_ms: room.opened_ms.saturating_sub(margin),
            });
        }
    }

    /// What a handover publishes before it reads the room back: the node
    /// that held the session lets go of it (if it is alive), and wherever
    /// the room still lives it ends. Every line a node acknowledged in the
    /// room is before this end in the room's stream (a node ends the room
    /// when it reads it), so the read that follows has them all.
    pub(crate) fn handover_end(&self, handover: &Handover) -> Vec<BusEvent> {
        let mut end = Vec::with_capacity(2);
        if let Some(node) = self.cluster.as_ref().map(|c| c.node().clone()) {
            end.push(BusEvent::Moved {
                room: handover.room,
                session: handover.session,
                node,
            });
        }
        end.push(BusEvent::PartnerLeft {
            room: handover.room,
            left: handover.session,
            reason: PartnerLeftReason::Disconnected,
            ts: unix_ms(SystemTime::now()),
        });
        end
    }

    /// Finishes a resume on this node with the room's events read back.
    pub(crate) fn adopt(
        &mut self,
        handover: Handover,
        history: crate::Result<Vec<BusEvent>>,
        now: Instant,
    ) {
        let Handover {
            conn,
            fresh,
            session: id,
            room,
            last_seq,
            ..
        } = handover;
        let untouched = self.sessions.get(&fresh).is_some_and(|s| {
            s.fresh
                && s.phase == Phase::Idle
                && s.attachment.as_ref().is_some_and(|a| a.conn == conn)
        });
        if !untouched {
            return;
        }
        let fail = |hub: &Self, message: &str| {
            hub.push_error(fresh, ProtocolError::resume_failed(message));
        };
        let history = match history {
            Ok(history) => history,
            Err(error) => {
                tracing::warn!(%error, %room, "could not read a room back for a resume");
                fail(self, "the chat could not be read back; start a new one");
                return;
            }
        };
        let known = self
            .cluster
            .as_mut()
            .and_then(|cluster| cluster.directory.forget(id));
        let Some(known) = known else {
            fail(self, "unknown or expired resume token");
            return;
        };
        if self.sessions.contains_key(&id) {
            fail(self, "this session is already here");
            return;
        }
        // The fresh session's connection becomes the old session's.
        let Some(mut fresh_session) = self.take_session(fresh) else {
            return;
        };
        self.tokens.remove(&fresh_session.token);
        let Some(attachment) = fresh_session.attachment.take() else {
            return;
        };
        let outbox = attachment.outbox.clone();
        let token = ResumeToken::random();
        self.conns.insert(conn, id);
        self.tokens.insert(token.clone(), id);
        let mut session = Session::new(id, known.key, token.clone(), attachment, &self.config, now);
        session.fresh = false;
        self.put_session(id, Box::new(session));
        self.schedule(
            now + self.config.idle_timeout,
            Timer::Idle {
                session: id,
                generation: 0,
            },
        );
        self.metrics.resumes.increment(1);

        // What the client missed, once each, in `seq` order; then the end.
        let mut replay: Vec<MessageFrame> = Vec::new();
        let mut next = last_seq + 1;
        let mut reason = PartnerLeftReason::Disconnected;
        for event in history {
            match event {
                BusEvent::Message {
                    room: r,
                    seq,
                    from,
                    text,
                    ts,
                    masked,
                    cid,
                    ..
                } if r == room && seq == next => {
                    let own = from == id;
                    replay.push(MessageFrame {
                        seq,
                        from: if own { Sender::You } else { Sender::Stranger },
                        text,
                        ts,
                        cid: if own { cid } else { None },
                        masked,
                    });
                    next += 1;
                }
                BusEvent::PartnerLeft {
                    room: r,
                    left,
                    reason: why,
                    ..
                } if r == room => {
                    // The room's first end: no node acknowledged a line
                    // after it (each ends the room when it reads it).
                    if left != id {
                        reason = why;
                    }
                    break;
                }
                _ => {}
            }
        }
        outbox.push_unbounded(ServerFrame::Resumed(Resumed {
            room: Some(room),
            replayed: replay.len() as u64,
            resume_token: token.as_str().to_owned(),
        }));
        for frame in replay {
            outbox.push_unbounded(ServerFrame::Message(frame));
        }
        outbox.push_unbounded(ServerFrame::PartnerLeft { reason });
        tracing::info!(session = %id, %room, from_node = %known.node, "session resumed from another node");
    }
}
