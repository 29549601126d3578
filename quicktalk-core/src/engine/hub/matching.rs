//! Joining the queue, opening rooms and ending them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{ConnId, Hub, Phase};
use crate::engine::feed::StoreRecord;
use crate::engine::room::Room;
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::matcher::{Candidate, Pairing};
use crate::ports::chat_store::{RoomEvent, unix_ms};
use crate::ports::event_bus::{BusEvent, ClusterSeat};
use crate::protocol::RejectReason;
use crate::protocol::{
    ErrorCode, JoinRequest, Matched, PartnerLeftReason, ProtocolError, ServerFrame,
};

/// A room about to open.
pub(super) struct Opening {
    pub(super) id: RoomId,
    pub(super) members: [SessionId; 2],
    pub(super) keys: [ClientKey; 2],
    pub(super) langs: [Option<Arc<str>>; 2],
    pub(super) bots: [bool; 2],
    pub(super) common_interests: Vec<String>,
    pub(super) waited: [Duration; 2],
    /// Cluster mode: the member on another node, and that node.
    pub(super) remote: Option<(usize, Arc<str>)>,
    /// This node numbers the room's lines (and records the room).
    pub(super) numbers: bool,
    /// Cluster mode: where the members are and their token digests.
    pub(super) seats: Option<[ClusterSeat; 2]>,
}

impl Hub {
    pub(crate) fn join(&mut self, conn: ConnId, request: JoinRequest, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        if !self.spend_action(id, now) {
            return;
        }
        if !self.bot_allowed(id, &request) {
            return;
        }
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
        if !self.spend_action(id, now) {
            return;
        }
        // Refused before anything changes: a refused `next` keeps the chat.
        if !self.bot_allowed(id, &request) {
            return;
        }
        match self.sessions[&id].phase {
            Phase::Chatting(room) => self.end_room(room, id, PartnerLeftReason::Skipped, now),
            Phase::Waiting => self.unqueue(id),
            Phase::Idle => {}
        }
        self.set_phase(id, Phase::Idle);
        self.enqueue(id, request, now);
    }

    /// A bot's `join`/`next` on a server that does not allow bots is refused
    /// with `bots_not_allowed`.
    fn bot_allowed(&mut self, id: SessionId, request: &JoinRequest) -> bool {
        if !request.bot || self.config.allow_bots {
            return true;
        }
        self.push_error(
            id,
            ProtocolError {
                code: ErrorCode::BotsNotAllowed,
                message: "this server does not allow bots (join without `bot: true`)".into(),
            },
        );
        false
    }

    pub(crate) fn leave(&mut self, conn: ConnId, now: Instant) {
        let Some(id) = self.session_of(conn, now) else {
            return;
        };
        if !self.spend_action(id, now) {
            return;
        }
        self.mark_used(id);
        match self.sessions[&id].phase {
            Phase::Chatting(room) => self.end_room(room, id, PartnerLeftReason::Left, now),
            Phase::Waiting => self.unqueue(id),
            Phase::Idle => {}
        }
        self.set_phase(id, Phase::Idle);
    }

    pub(crate) fn mark_used(&mut self, id: SessionId) {
        if let Some(session) = self.sessions.get_mut(&id) {
            session.fresh = false;
        }
    }

    pub(super) fn set_phase(&mut self, id: SessionId, phase: Phase) {
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
        session.bot = request.bot;
        let interests: Vec<Arc<str>> = request.interests.into_iter().map(Arc::from).collect();
        if self.cluster.is_some() {
            // The cluster's matcher decides; its proposal comes back on the bus.
            session.interests = interests;
            self.set_phase(id, Phase::Waiting);
            self.push(id, ServerFrame::Waiting);
            self.announce_wait(id, true);
            return;
        }
        let candidate = Candidate {
            session: id,
            client_key: session.key.clone(),
            lang: session.lang.clone(),
            interests,
            bot: request.bot,
        };
        match self.matcher.enqueue_new(candidate, now) {
            Some(pairing) => self.open_room(pairing),
            None => {
                self.set_phase(id, Phase::Waiting);
                self.push(id, ServerFrame::Waiting);
            }
        }
    }

    /// A waiting session stops waiting (it left, skipped or disconnected).
    pub(super) fn unqueue(&mut self, id: SessionId) {
        if self.cluster.is_some() {
            self.cancel_wait(id);
        } else {
            self.matcher.cancel(id);
        }
    }

    /// Opens a room for two sessions of this node the local matcher paired.
    pub(super) fn open_room(&mut self, pairing: Pairing) {
        let id = loop {
            let id = RoomId::random();
            if !self.rooms.contains_key(&id) {
                break id;
            }
        };
        let members = [pairing.first, pairing.second];
        self.open(Opening {
            id,
            members,
            keys: members.map(|m| self.sessions[&m].key.clone()),
            langs: members.map(|m| self.sessions[&m].lang.clone()),
            bots: members.map(|m| self.sessions[&m].bot),
            common_interests: pairing.common_interests,
            waited: [pairing.first_waited, pairing.second_waited],
            remote: None,
            numbers: true,
            seats: None,
        });
    }

    /// Opens a room: both local members are told `matched`; the node that
    /// numbers the room records it.
    pub(super) fn open(&mut self, opening: Opening) {
        let Opening {
            id,
            members,
            keys,
            langs,
            bots,
            common_interests,
            waited,
            remote,
            numbers,
            seats,
        } = opening;
        let remote_index = remote.as_ref().map(|(index, _)| *index);
        let mut room = Room::new(
            id,
            members,
            keys.clone(),
            self.config.replay_lines(),
            self.config.report_context_lines,
        );
        room.numbers = numbers;
        if remote.is_some() {
            room.refs = 1;
        }
        room.remote = remote;
        self.rooms.insert(id, Box::new(room));
        self.active_rooms += 1;
        for (index, &member) in members.iter().enumerate() {
            if remote_index == Some(index) {
                continue;
            }
            let previous = {
                let session = self
                    .sessions
                    .get_mut(&member)
                    .expect("matched session exists");
                session.phase = Phase::Chatting(id);
                session.typing = false;
                session.pending_left = None;
                session.pending = None;
                session.last_room.replace(id)
            };
            if let Some(previous) = previous {
                self.release_room(previous);
            }
            self.push(
                member,
                ServerFrame::Matched(Matched {
                    room: id,
                    common_interests: common_interests.clone(),
                    partner_lang: langs[1 - index].as_deref().map(str::to_owned),
                    partner_bot: bots[1 - index],
                }),
            );
            self.metrics.match_wait.record(waited[index].as_secs_f64());
        }
        self.metrics.matches.increment(1);
        if !numbers {
            return;
        }
        let ts = unix_ms(SystemTime::now());
        if !self.config.retention.is_zero() {
            self.store.offer(StoreRecord::Room(RoomEvent::Matched {
                room: id,
                sessions: members,
                client_keys: keys.clone(),
                common_interests: common_interests.clone(),
                ts,
            }));
        }
        self.bus.offer(BusEvent::Matched {
            room: id,
            sessions: members,
            client_keys: keys,
            common_interests,
            ts,
            cluster: seats,
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
        self.end_room_from(room_id, leaver, reason, true, now);
    }

    /// Ends a chat; `here` is false when another node ended it and has
    /// already recorded and published the end.
    pub(super) fn end_room_from(
        &mut self,
        room_id: RoomId,
        leaver: SessionId,
        reason: PartnerLeftReason,
        here: bool,
        now: Instant,
    ) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if room.ended {
            return;
        }
        room.ended = true;
        room.ender = room.member_index(leaver).map(|member| member as u8);
        let members = room.members;
        // Cluster mode, the partner's node numbers the room: the member who
        // stays gets a `rejected` before `partner_left` for each line that
        // node never numbered (an echo can no longer come). Lines numbered
        // here keep their rule: echoed only once back from the bus, since an
        // echo promises the line survives this node (echoing them at the
        // end lost acknowledged lines in a rolling restart under load).
        let stays = room
            .remote_index()
            .map(|remote| room.members[1 - remote])
            .filter(|&local| local != leaver);
        let unanswered = match stays {
            Some(_) if !room.numbers => std::mem::take(&mut room.unechoed),
            _ => Vec::new(),
        };
        if let Some(local) = stays {
            for cid in unanswered {
                self.reject(local, cid.as_deref(), RejectReason::NotInRoom, None);
            }
        }
        self.active_rooms -= 1;
        if self.cluster.is_none() {
            self.matcher.add_cooldown(members[0], members[1], now);
        } else if here {
            self.announce_exclusion([members[0], members[1]], None, now);
        }
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
        if !here {
            return;
        }
        let ts = unix_ms(SystemTime::now());
        if !self.config.retention.is_zero() {
            self.store.offer(StoreRecord::Room(RoomEvent::Ended {
                room: room_id,
                left: leaver,
                reason,
                ts,
            }));
        }
        self.bus.offer(BusEvent::PartnerLeft {
            room: room_id,
            left: leaver,
            reason,
            ts,
        });
    }

    /// A session no longer refers to `room`; drop it once ended and unreferenced.
    pub(super) fn release_room(&mut self, room_id: RoomId) {
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
