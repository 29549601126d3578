//! Cluster mode: this node's half of matching and chat across nodes.
//!
//! Every node publishes its waiting sessions to the cluster's matcher
//! ([`crate::cluster::ClusterMatcher`], run by whichever node owns the
//! matcher's stream) and reads back its proposals. A proposal names a room
//! and two members with the ticket of their wait:
//! - both members here: the room opens at once if both still wait with
//!   those tickets (the direct path: no broker round trip in the chat);
//! - one member here: the node answers on the room's stream (accept if the
//!   session still waits with that ticket). Both nodes read both answers in
//!   the stream's order, so they agree: the room opens when both accepted,
//!   and a refused member's partner simply keeps waiting (announced again).
//!
//! In a room across two nodes the node of the member that waited longer
//! numbers the lines: its own member's lines are appended and echoed at
//! once; the partner's node forwards its member's lines as `said` and
//! echoes when the numbered `message` comes back, so `seq` is gap-free and
//! an echo still means "delivered and kept". Typing and the end of the chat
//! travel as the usual bus events of the room.
//!
//! Nodes send a heartbeat every second with their online count (the online
//! figure is summed over the cluster); a node silent for three seconds
//! while this node hears its own heartbeats come back is gone: its rooms
//! end (`partner_left`, `disconnected`) and proposals that wait on it are
//! dropped. While this node does not hear itself the bus is down, and
//! silence says nothing: chats across nodes pause and go on afterwards.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustc_hash::FxHashMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::handover::{Directory, history_start_now};
use super::matching::Opening;
use super::{Hub, Phase, Timer};
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::chat_store::unix_ms;
use crate::ports::event_bus::{BusEvent, ClusterMember, ClusterSeat};
use crate::protocol::{CloseReason, MessageFrame, PartnerLeftReason, ServerFrame};

/// How often a node says it is alive.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node silent this long is gone.
pub(crate) const NODE_GONE_AFTER: Duration = Duration::from_secs(3);

/// What a node keeps for cluster mode.
pub(crate) struct ClusterState {
    node: Arc<str>,
    /// This process's heartbeat instance (see `BusEvent::Heartbeat`).
    instance: u64,
    /// When another process with this node id was last reported.
    duplicate_reported: Option<Instant>,
    next_ticket: u64,
    /// Proposals for a session of this node waiting for the other answer.
    pending: FxHashMap<RoomId, Pending>,
    /// Other nodes: their online count and when they were last heard.
    peers: FxHashMap<Arc<str>, Peer>,
    /// Nodes found gone, and when: a proposal with one of their sessions
    /// (a matcher reading old waits) is refused until they are heard again.
    gone: FxHashMap<Arc<str>, Instant>,
    /// When this node last heard its own heartbeat back: while it does
    /// not, the bus is down and silence says nothing about the others.
    heard_self: Option<Instant>,
    /// Cooldowns this node announced (oldest first), for a new matcher.
    cooldowns: VecDeque<(Instant, Exclusion)>,
    /// Report blocks this node announced (oldest first), for a new matcher.
    blocks: VecDeque<(Instant, Exclusion)>,
    /// Sessions of other nodes a `resume` here could take over.
    pub(crate) directory: Directory,
    /// Resumes waiting for another node to locate their token, by digest.
    pub(crate) locating: FxHashMap<Arc<str>, Vec<oneshot::Sender<()>>>,
}

impl ClusterState {
    pub(crate) fn node(&self) -> &Arc<str> {
        &self.node
    }

    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    pub(crate) fn new(node: Arc<str>) -> Self {
        Self {
            node,
            instance: rand::random::<u64>() | 1,
            duplicate_reported: None,
            next_ticket: 0,
            pending: FxHashMap::default(),
            peers: FxHashMap::default(),
            gone: FxHashMap::default(),
            heard_self: None,
            cooldowns: VecDeque::new(),
            blocks: VecDeque::new(),
            directory: Directory::default(),
            locating: FxHashMap::default(),
        }
    }
}

struct Peer {
    online: u64,
    seen: Instant,
}

struct Pending {
    members: [ClusterMember; 2],
    common_interests: Vec<String>,
    waited_ms: [u64; 2],
    accepted: [bool; 2],
}

struct Exclusion {
    sessions: [SessionId; 2],
    client_keys: Option<[ClientKey; 2]>,
}

impl Hub {
    fn node(&self) -> Option<&Arc<str>> {
        self.cluster.as_ref().map(|cluster| &cluster.node)
    }

    /// Connected sessions on this node and on every node heard from.
    pub(crate) fn online_everywhere(&self) -> u64 {
        let remote: u64 = self.cluster.as_ref().map_or(0, |cluster| {
            cluster.peers.values().map(|peer| peer.online).sum()
        });
        self.online + remote
    }

    /// The session as the matcher sees it.
    fn member(&self, id: SessionId) -> Option<ClusterMember> {
        let session = self.sessions.get(&id)?;
        Some(ClusterMember {
            node: self.node()?.clone(),
            session: id,
            client_key: session.key.clone(),
            lang: session.lang.clone(),
            interests: session.interests.clone(),
            bot: session.bot,
            ticket: session.ticket,
            resume: Some(session.token.digest().into()),
        })
    }

    /// Publishes a wait; `fresh` starts a new one (a new ticket), otherwise
    /// the same wait is announced again.
    pub(super) fn announce_wait(&mut self, id: SessionId, fresh: bool) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if fresh {
            cluster.next_ticket += 1;
            session.ticket = cluster.next_ticket;
        }
        session.pending = None;
        if let Some(member) = self.member(id) {
            self.bus.offer(BusEvent::Waiting(member));
        }
    }

    /// A waiting session stops waiting.
    pub(super) fn cancel_wait(&mut self, id: SessionId) {
        let Some(node) = self.node().cloned() else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        session.pending = None;
        let ticket = session.ticket;
        self.bus.offer(BusEvent::Cancelled {
            node,
            session: id,
            ticket,
        });
    }

    /// Tells the matcher to keep two sessions apart (and remembers it for a
    /// matcher that takes over).
    pub(crate) fn announce_exclusion(
        &mut self,
        sessions: [SessionId; 2],
        client_keys: Option<[ClientKey; 2]>,
        now: Instant,
    ) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        let kept = if client_keys.is_some() {
            &mut cluster.blocks
        } else {
            &mut cluster.cooldowns
        };
        kept.push_back((
            now,
            Exclusion {
                sessions,
                client_keys: client_keys.clone(),
            },
        ));
        self.bus.offer(BusEvent::Excluded {
            sessions,
            client_keys,
            age_ms: 0,
        });
    }

    /// Whether `member` (a session of this node) still waits with that ticket
    /// and has not accepted another proposal.
    fn still_waiting(&self, member: &ClusterMember) -> bool {
        self.sessions.get(&member.session).is_some_and(|session| {
            session.phase == Phase::Waiting
                && session.ticket == member.ticket
                && session.pending.is_none()
        })
    }

    /// An event another node (or the matcher) published.
    pub(crate) fn apply_remote(&mut self, event: BusEvent, now: Instant) {
        if self.cluster.is_none() {
            return;
        }
        match event {
            BusEvent::Proposed {
                room,
                members,
                common_interests,
                waited_ms,
            } => self.proposed(room, members, common_interests, waited_ms),
            BusEvent::Answered {
                room,
                session,
                accept,
            } => self.answered(room, session, accept),
            BusEvent::Said {
                room,
                from,
                text,
                cid,
                masked,
                ..
            } => self.said(room, from, text, cid, masked),
            BusEvent::Message {
                room,
                seq,
                from,
                text,
                ts,
                masked,
                cid,
                ..
            } => self.numbered(room, seq, from, text, ts, masked, cid),
            BusEvent::Typing { room, from, active } => {
                // Only to a member still in that chat: one typed as our
                // member left (or skipped) is for a chat it no longer has.
                if self.remote_member(room) == Some(from)
                    && let Some(partner) = self.partner_in(room, from)
                    && self
                        .sessions
                        .get(&partner)
                        .is_some_and(|s| s.phase == Phase::Chatting(room))
                {
                    self.push(partner, ServerFrame::Typing { active });
                }
            }
            BusEvent::PartnerLeft {
                room, left, reason, ..
            } => {
                if let Some(cluster) = self.cluster.as_mut() {
                    cluster.directory.room_ended(room, now);
                }
                if self.remote_member(room) == Some(left) {
                    self.end_room_from(room, left, reason, false, now);
                } else if self.sessions.contains_key(&left)
                    && self.rooms.get(&room).is_some_and(|r| !r.ended)
                {
                    // The partner's node ended the chat on our member's
                    // behalf (it took this node for gone): end it here too,
                    // and tell our member.
                    if let Some(remote) = self.remote_member(room) {
                        if self.shutting_down {
                            // Our own `leaving` heartbeat did it.
                            tracing::debug!(%room, "chat ended by the partner's node at shutdown");
                        } else {
                            tracing::warn!(%room, "the partner's node ended a chat for this node");
                        }
                        self.end_room_from(
                            room,
                            remote,
                            PartnerLeftReason::Disconnected,
                            false,
                            now,
                        );
                    }
                }
            }
            BusEvent::Moved { session, node, .. } => {
                if self.node() != Some(&node) && self.sessions.contains_key(&session) {
                    // Its client resumed on another node: no longer ours. A
                    // connection still open here is closed as replaced
                    // (4003), as on one node, not left open and deaf.
                    tracing::info!(%session, to = %node, "session resumed on another node");
                    if let Some(attachment) = self.sessions[&session].attachment.as_ref() {
                        attachment.outbox.close(CloseReason::Replaced);
                    }
                    self.remove_session(session, PartnerLeftReason::Disconnected, now);
                }
            }
            BusEvent::Rekeyed {
                session, resume, ..
            } => {
                if !self.sessions.contains_key(&session) {
                    if let Some(cluster) = self.cluster.as_mut() {
                        cluster.directory.rekey(session, resume);
                    }
                }
            }
            BusEvent::Heartbeat {
                node,
                online,
                leaving,
                instance,
            } => self.heard(node, online, leaving, instance, now),
            BusEvent::Reannounce { .. } => self.reannounce(now),
            BusEvent::Locate { digest, asker } => self.answer_locate(digest, asker),
            BusEvent::Located {
                digest,
                asker,
                session,
                client_key,
                room,
                partner,
                node,
                since_ms,
            } => self.learn_located(
                digest, asker, session, client_key, room, partner, node, since_ms, now,
            ),
            BusEvent::Matched {
                room,
                sessions,
                client_keys,
                cluster: Some(seats),
                ..
            } => self.learn_seats(room, sessions, client_keys, seats),
            BusEvent::Matched { .. }
            | BusEvent::Blocked { .. }
            | BusEvent::Waiting(_)
            | BusEvent::Cancelled { .. }
            | BusEvent::Excluded { .. } => {}
        }
    }

    /// A room opened: members on other nodes go into the directory (a
    /// `resume` here could take them over).
    fn learn_seats(
        &mut self,
        room: RoomId,
        sessions: [SessionId; 2],
        keys: [ClientKey; 2],
        seats: [ClusterSeat; 2],
    ) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        for (index, seat) in seats.into_iter().enumerate() {
            if seat.node == cluster.node {
                continue;
            }
            if let Some(digest) = seat.resume {
                cluster.directory.learn(
                    sessions[index],
                    digest,
                    keys[index].clone(),
                    room,
                    seat.node,
                    sessions[1 - index],
                    history_start_now(),
                );
            }
        }
    }

    /// The member of `room` on another node, if the room is here.
    fn remote_member(&self, room: RoomId) -> Option<SessionId> {
        let room = self.rooms.get(&room)?;
        Some(room.members[room.remote_index()?])
    }

    fn proposed(
        &mut self,
        room: RoomId,
        members: [ClusterMember; 2],
        common_interests: Vec<String>,
        waited_ms: [u64; 2],
    ) {
        let Some(node) = self.node().cloned() else {
            return;
        };
        let here = [members[0].node == node, members[1].node == node];
        if here == [false, false] || self.rooms.contains_key(&room) {
            return;
        }
        if here == [true, true] {
            let valid = [
                self.still_waiting(&members[0]),
                self.still_waiting(&members[1]),
            ];
            if valid == [true, true] {
                for member in members.iter().filter(|m| m.lang.is_none()) {
                    // Out of the other pools of a sharded matcher.
                    self.bus.offer(BusEvent::Cancelled {
                        node: node.clone(),
                        session: member.session,
                        ticket: member.ticket,
                    });
                }
                self.open_proposed(room, members, common_interests, waited_ms, None);
            } else {
                // The one still waiting goes back to the matcher.
                for (member, valid) in members.iter().zip(valid) {
                    if valid {
                        self.announce_wait(member.session, false);
                    }
                }
            }
            return;
        }
        let local = usize::from(here[1]);
        let session = members[local].session;
        let accept =
            self.still_waiting(&members[local]) && !self.peer_gone(&members[1 - local].node);
        if accept {
            if let Some(session) = self.sessions.get_mut(&session) {
                session.pending = Some(room);
            }
            // A wait without `lang` sits in every pool of a sharded matcher:
            // take it out of the others (it is announced again, same ticket,
            // if this room does not open).
            if members[local].lang.is_none() {
                self.bus.offer(BusEvent::Cancelled {
                    node: node.clone(),
                    session,
                    ticket: members[local].ticket,
                });
            }
            if let Some(cluster) = self.cluster.as_mut() {
                cluster.pending.insert(
                    room,
                    Pending {
                        members,
                        common_interests,
                        waited_ms,
                        accepted: [false; 2],
                    },
                );
            }
        } else if self
            .sessions
            .get(&session)
            .is_some_and(|s| s.phase == Phase::Waiting && s.pending.is_none())
            && self.sessions[&session].ticket == members[local].ticket
        {
            // Refused only because the partner's node is gone: wait on.
            self.announce_wait(session, false);
        }
        tracing::debug!(%room, %session, accept, "answering a proposal");
        self.bus.offer(BusEvent::Answered {
            room,
            session,
            accept,
        });
    }

    fn answered(&mut self, room: RoomId, session: SessionId, accept: bool) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        let Some(pending) = cluster.pending.get_mut(&room) else {
            return;
        };
        let Some(index) = pending.members.iter().position(|m| m.session == session) else {
            return;
        };
        if accept {
            pending.accepted[index] = true;
            if pending.accepted != [true, true] {
                return;
            }
        }
        let pending = cluster.pending.remove(&room).expect("looked up above");
        let node = cluster.node.clone();
        let local = usize::from(pending.members[1].node == node);
        let member = &pending.members[local];
        let mine = self
            .sessions
            .get(&member.session)
            .is_some_and(|s| s.pending == Some(room));
        if !accept {
            // Refused by the other node: our session keeps waiting.
            if mine {
                self.announce_wait(member.session, false);
            }
            return;
        }
        if mine {
            let remote = (1 - local, pending.members[1 - local].node.clone());
            self.open_proposed(
                room,
                pending.members,
                pending.common_interests,
                pending.waited_ms,
                Some(remote),
            );
        } else {
            // Our session stopped waiting after it accepted: the room exists
            // for the partner's node, so end it as left.
            self.bus.offer(BusEvent::PartnerLeft {
                room,
                left: member.session,
                reason: PartnerLeftReason::Left,
                ts: unix_ms(SystemTime::now()),
            });
        }
    }

    fn open_proposed(
        &mut self,
        room: RoomId,
        members: [ClusterMember; 2],
        common_interests: Vec<String>,
        waited_ms: [u64; 2],
        remote: Option<(usize, Arc<str>)>,
    ) {
        let numbers = remote.as_ref().is_none_or(|(index, _)| *index == 1);
        if let (Some((_, node)), Some(cluster)) = (&remote, self.cluster.as_mut()) {
            // Watch the partner's node from now on, heard from or not.
            let now = Instant::now();
            cluster.peers.entry(node.clone()).or_insert(Peer {
                online: 0,
                seen: now,
            });
        }
        let seats = members.clone().map(|member| ClusterSeat {
            node: member.node,
            resume: member.resume,
        });
        let [first, second] = members;
        self.open(Opening {
            id: room,
            members: [first.session, second.session],
            keys: [first.client_key, second.client_key],
            langs: [first.lang, second.lang],
            bots: [first.bot, second.bot],
            common_interests,
            waited: waited_ms.map(Duration::from_millis),
            remote,
            numbers,
            seats: Some(seats),
        });
    }

    /// The numbering node got a line from the partner's node.
    fn said(
        &mut self,
        room_id: RoomId,
        from: SessionId,
        text: Arc<str>,
        cid: Option<Arc<str>>,
        masked: bool,
    ) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(writer) = room.remote_index() else {
            return;
        };
        tracing::trace!(room = %room_id, %from, ?cid, numbers = room.numbers, ended = room.ended, "said");
        if !room.numbers || room.ended || room.members[writer] != from {
            return;
        }
        // A repeated cid (the writer resent before its echo came): the
        // first one is numbered already and its echo is on the way.
        if cid
            .as_deref()
            .is_some_and(|cid| room.line_by_cid(writer, cid).is_some())
        {
            return;
        }
        let key = room.keys[writer].clone();
        // One clock per room, the numbering node's (the sender's node's
        // `ts` is not used): `ts` then follows `seq` whatever the skew
        // between the nodes' clocks.
        let ts = unix_ms(SystemTime::now());
        let line = room.append(writer, text, ts, cid.clone(), masked);
        let (seq, ts) = (line.seq, line.ts);
        let text = line.text.clone();
        self.send_in_order(room_id);
        self.record_line(room_id, seq, from, key, text, ts, masked, cid);
    }

    /// A room numbered here across nodes: sends the local member every line
    /// that is on the bus, in `seq` order (its own lines as echoes once they
    /// came back, the partner's as soon as they are numbered).
    fn send_in_order(&mut self, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(remote) = room.remote_index() else {
            return;
        };
        let local = 1 - remote;
        let to = room.members[local];
        if let Some(first) = room.first_seq() {
            if room.sent + 1 < first {
                // More lines waited than the buffer holds (the bus was down
                // that long): the oldest are gone from memory, not from the bus.
                tracing::warn!(room = %room_id, skipped = first - room.sent - 1, "lines fell out of the replay buffer before they were sent");
                room.sent = first - 1;
            }
        }
        let mut frames = Vec::new();
        while let Some(line) = room.line_at(room.sent + 1) {
            if !line.on_bus {
                break;
            }
            frames.push(line.frame_for(local));
            room.sent += 1;
        }
        for frame in frames {
            self.push(to, ServerFrame::Message(frame));
        }
    }

    /// The other node numbered a line of a room whose member is here: the
    /// partner's line is delivered, our member's line is echoed.
    #[allow(clippy::too_many_arguments)]
    fn numbered(
        &mut self,
        room_id: RoomId,
        seq: u64,
        from: SessionId,
        text: Arc<str>,
        ts: i64,
        masked: bool,
        cid: Option<Arc<str>>,
    ) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(remote) = room.remote_index() else {
            return;
        };
        tracing::trace!(room = %room_id, seq, %from, numbers = room.numbers, last = room.last_seq(), sent = room.sent, "numbered");
        let local = 1 - remote;
        if room.numbers {
            // Our own line back from the bus: now it can be echoed.
            if room.member_index(from) == Some(local) {
                room.set_on_bus(seq, true);
                if !room.ended {
                    self.send_in_order(room_id);
                } else if let Some(echo) = room.line_at(seq).map(|line| line.frame_for(local)) {
                    let to = room.members[local];
                    self.late_echo(room_id, to, echo);
                }
            }
            return;
        }
        let Some(writer) = room.member_index(from) else {
            return;
        };
        if room.ended && writer == local && seq > room.last_seq() {
            // A line our member forwarded before it left, numbered there.
            let cid_known = room.unechoed.iter().any(|c| c.as_deref() == cid.as_deref());
            if cid_known {
                room.echoed(cid.as_deref());
                let echo = MessageFrame {
                    seq,
                    from: crate::protocol::Sender::You,
                    text,
                    ts,
                    cid,
                    masked,
                };
                let to = room.members[local];
                self.late_echo(room_id, to, echo);
            }
            return;
        }
        if room.ended || seq <= room.last_seq() {
            return;
        }
        if seq != room.last_seq() + 1 {
            tracing::warn!(room = %room_id, expected = room.last_seq() + 1, got = seq, "lines of a room across nodes were lost on the bus");
            room.continue_at(seq);
        }
        let to = room.members[local];
        let cid = if writer == local { cid } else { None };
        if writer == local {
            room.echoed(cid.as_deref());
        }
        let line = room.append(writer, text, ts, cid, masked);
        let frame = line.frame_for(local);
        self.push(to, ServerFrame::Message(frame));
    }

    /// The echo of a line our member sent right before its own `leave` or
    /// `next`, back from the bus after the chat ended here: the partner
    /// reads it, so the sender gets its ack, unless it is in another chat
    /// by now (where the old `seq` would name another line). Only when our
    /// member ended the chat: after a `partner_left` its client has given
    /// such lines up as not delivered (docs/cluster.md).
    fn late_echo(&mut self, room_id: RoomId, to: SessionId, echo: MessageFrame) {
        let ended_by_it = self.rooms.get(&room_id).is_some_and(|room| {
            room.member_index(to)
                .is_some_and(|member| room.ender == Some(member as u8))
        });
        let in_no_other_chat = self.sessions.get(&to).is_some_and(|session| {
            session.last_room == Some(room_id) && !matches!(session.phase, Phase::Chatting(_))
        });
        if ended_by_it && in_no_other_chat {
            self.push(to, ServerFrame::Message(echo));
        }
    }

    /// A heartbeat from another node.
    fn heard(&mut self, node: Arc<str>, online: u64, leaving: bool, instance: u64, now: Instant) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        if node == cluster.node && instance != 0 && instance != cluster.instance {
            // Another process was started with this node id: the other nodes
            // cannot tell the two apart (when either stops, they end both
            // processes' chats). Said loudly, once a minute.
            let due = cluster
                .duplicate_reported
                .is_none_or(|last| now.saturating_duration_since(last) >= Duration::from_secs(60));
            if due {
                cluster.duplicate_reported = Some(now);
                tracing::error!(
                    node = %node,
                    "another process is running with this --node-id: give every node its own id (or leave it unset for a random one); chats end on both when either stops"
                );
            }
            return;
        }
        if node == cluster.node {
            // Everyone was silent because the bus was: give the others a
            // fresh window to be heard again (after an outage, long enough
            // for a publisher in its retry back-off; at start-up, the usual).
            let window = match cluster.heard_self {
                None => Some(now),
                Some(last) if now.saturating_duration_since(last) > NODE_GONE_AFTER => {
                    Some(now + crate::cluster::BUS_RECOVERY_GRACE)
                }
                Some(_) => None,
            };
            if let Some(seen) = window {
                for peer in cluster.peers.values_mut() {
                    peer.seen = seen;
                }
            }
            cluster.heard_self = Some(now);
            return;
        }
        if leaving {
            self.node_gone(&node, now);
            return;
        }
        cluster.gone.remove(&node);
        cluster.peers.insert(node, Peer { online, seen: now });
    }

    fn peer_gone(&self, node: &Arc<str>) -> bool {
        let Some(cluster) = self.cluster.as_ref() else {
            return false;
        };
        cluster.gone.contains_key(node)
            || cluster.heard_self.is_some_and(|heard| {
                cluster.peers.get(node).is_some_and(|peer| {
                    heard.saturating_duration_since(peer.seen) > NODE_GONE_AFTER
                })
            })
    }

    /// Every second: say we are alive, and give up on silent nodes.
    pub(super) fn heartbeat(&mut self, now: Instant) {
        self.schedule(now + HEARTBEAT_EVERY, Timer::Heartbeat);
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        let node = cluster.node.clone();
        // Measured against this node's own heartbeat coming back: a peer
        // is gone when the bus carried ours for 3 s past its last one; a
        // silent bus (a broker outage) only pauses the chats across nodes.
        let gone: Vec<Arc<str>> = match cluster.heard_self {
            Some(heard) => cluster
                .peers
                .iter()
                .filter(|(_, peer)| heard.saturating_duration_since(peer.seen) > NODE_GONE_AFTER)
                .map(|(node, _)| node.clone())
                .collect(),
            None => Vec::new(),
        };
        let instance = self.cluster.as_ref().map_or(0, |cluster| cluster.instance);
        self.bus.offer(BusEvent::Heartbeat {
            node,
            online: self.online,
            leaving: self.shutting_down,
            instance,
        });
        self.forget_expired_exclusions(now);
        let grace = self.config.resume_grace;
        if let Some(cluster) = self.cluster.as_mut() {
            cluster.directory.expire(now, grace);
        }
        for node in gone {
            tracing::warn!(%node, "node silent for 3 s: ending its chats");
            self.node_gone(&node, now);
        }
    }

    /// Another node is gone: its chats end and proposals waiting on it drop.
    fn node_gone(&mut self, node: &Arc<str>, now: Instant) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        cluster.peers.remove(node);
        cluster.gone.insert(node.clone(), now);
        // Forget tombstones after ten minutes (no old wait lives that long).
        cluster
            .gone
            .retain(|_, at| now.saturating_duration_since(*at) < Duration::from_secs(600));
        cluster.directory.node_gone(node, now);
        let dropped: Vec<(RoomId, SessionId)> = cluster
            .pending
            .iter()
            .filter(|(_, p)| p.members.iter().any(|m| &m.node == node))
            .filter_map(|(room, p)| {
                let local = p.members.iter().find(|m| &m.node != node)?;
                Some((*room, local.session))
            })
            .collect();
        for (room, session) in dropped {
            if let Some(cluster) = self.cluster.as_mut() {
                cluster.pending.remove(&room);
            }
            if self
                .sessions
                .get(&session)
                .is_some_and(|s| s.pending == Some(room))
            {
                self.announce_wait(session, false);
            }
        }
        let ended: Vec<(RoomId, SessionId)> = self
            .rooms
            .values()
            .filter(|room| !room.ended)
            .filter_map(|room| {
                let (index, owner) = room.remote.as_ref()?;
                (owner == node).then(|| (room.id, room.members[*index]))
            })
            .collect();
        for (room, left) in ended {
            self.end_room(room, left, PartnerLeftReason::Disconnected, now);
        }
    }

    fn forget_expired_exclusions(&mut self, now: Instant) {
        let lasts = [self.config.rematch_cooldown, self.config.report_block];
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        for (kept, lasts) in [&mut cluster.cooldowns, &mut cluster.blocks]
            .into_iter()
            .zip(lasts)
        {
            while kept
                .front()
                .is_some_and(|(since, _)| now.saturating_duration_since(*since) >= lasts)
            {
                kept.pop_front();
            }
        }
    }

    /// A new matcher took over: announce every exclusion and wait again,
    /// exclusions first (a matcher reads one partition in order, so it
    /// knows what keeps a wait apart before the wait).
    fn reannounce(&mut self, now: Instant) {
        self.forget_expired_exclusions(now);
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        let events: Vec<BusEvent> = cluster
            .cooldowns
            .iter()
            .chain(&cluster.blocks)
            .map(|(since, exclusion)| BusEvent::Excluded {
                sessions: exclusion.sessions,
                client_keys: exclusion.client_keys.clone(),
                age_ms: u64::try_from(now.saturating_duration_since(*since).as_millis())
                    .unwrap_or(u64::MAX),
            })
            .collect();
        for event in events {
            self.bus.offer(event);
        }
        let waiting: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.phase == Phase::Waiting && s.pending.is_none())
            .map(|s| s.id)
            .collect();
        tracing::debug!(
            waiting = waiting.len(),
            "announcing every wait again for a new matcher"
        );
        for id in waiting {
            self.announce_wait(id, false);
        }
    }
}
