//! A room: two members, the per-room `seq`, the replay buffer and the `cid`
//! index that makes a repeated `cid` come back as the original echo.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use std::hash::BuildHasher;

use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::chat_store::ContextLine;
use crate::protocol::{MessageFrame, Sender};

/// One delivered line as the room keeps it (56 bytes beside the text and
/// `cid` allocations: a busy server holds tens of thousands).
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) seq: u64,
    pub(crate) text: Arc<str>,
    pub(crate) ts: i64,
    pub(crate) cid: Option<Arc<str>>,
    /// The member (0 or 1) who wrote it.
    from: u8,
    pub(crate) masked: bool,
    /// Cluster mode: the line is on the bus (own lines of a room numbered
    /// here across nodes are not until they come back).
    pub(crate) on_bus: bool,
}

impl Line {
    /// The member (0 or 1) who wrote it.
    pub(crate) fn from(&self) -> usize {
        usize::from(self.from)
    }

    /// The `message` frame for member `to`.
    pub(crate) fn frame_for(&self, to: usize) -> MessageFrame {
        let own = to == self.from();
        MessageFrame {
            seq: self.seq,
            from: if own { Sender::You } else { Sender::Stranger },
            text: self.text.clone(),
            ts: self.ts,
            cid: if own { self.cid.clone() } else { None },
            masked: self.masked,
        }
    }
}

pub(crate) struct Room {
    pub(crate) id: RoomId,
    pub(crate) members: [SessionId; 2],
    pub(crate) keys: [ClientKey; 2],
    pub(crate) ended: bool,
    /// Which member (0 or 1) ended the chat: left, skipped, or was taken
    /// for gone (one byte, where a session id would add 16 to every room).
    pub(crate) ender: Option<u8>,
    /// Sessions whose current or most recent room this is; the room is
    /// dropped when it has ended and nobody refers to it.
    pub(crate) refs: u8,
    /// Cluster mode: the member on another node, and that node.
    pub(crate) remote: Option<(usize, Arc<str>)>,
    /// This node numbers the lines (always, unless the numbering member is
    /// on another node).
    pub(crate) numbers: bool,
    /// Cluster mode, a room numbered here across nodes: the local member
    /// has been sent every line up to this `seq` (lines go out in order,
    /// each once it is on the bus).
    pub(crate) sent: u64,
    /// Cluster mode, a room numbered on the partner's node: the `cid` of
    /// each line the local member sent there that has not come back
    /// numbered. Should the room end first (the partner left before the
    /// lines reached its node, or that node died), each is answered
    /// `rejected {reason: "not_in_room"}`: every line gets an answer.
    pub(crate) unechoed: Vec<Option<Arc<str>>>,
    /// When the room opened (unix ms).
    pub(crate) opened_ms: i64,
    last_seq: u64,
    /// The `ts` of the line numbered last.
    last_ts: i64,
    replay: VecDeque<Line>,
    /// Beside each line of `replay`, its [`cid_key`]: a repeated `cid` is
    /// looked up here (newest first), four bytes a line in a row rather
    /// than a field of each 56-byte line. With the buffer this short a scan
    /// beats a map per member, which would cost more memory than the lines.
    cid_keys: VecDeque<u32>,
    capacity: usize,
    /// Per member: every line up to this `seq` has certainly reached it (a
    /// delivery mark settled, or its `resume` said so). Lines both members
    /// have are dropped from `replay`, beyond the last `keep`.
    received: [u64; 2],
    /// Per member: the newest delivery mark not yet settled, and when it
    /// came. A pong proves the client's socket read the lines, not that the
    /// client kept them (libraries and browsers answer pings on their own,
    /// ahead of the application): a mark counts once a later one, or a line
    /// the member sends, at least the settle time after it shows the client
    /// still there. A client that crashed or reloaded with lines unread
    /// sends neither.
    unsettled: [Option<(u64, Instant)>; 2],
    /// Per member: its report of the other is stored; a repeat is answered
    /// without storing it again.
    pub(crate) reported: [bool; 2],
    /// Lines kept whatever was received: a report's context.
    keep: usize,
}

impl Room {
    pub(crate) fn new(
        id: RoomId,
        members: [SessionId; 2],
        keys: [ClientKey; 2],
        capacity: usize,
        keep: usize,
    ) -> Self {
        Self {
            id,
            members,
            keys,
            ended: false,
            ender: None,
            refs: 2,
            remote: None,
            numbers: true,
            sent: 0,
            unechoed: Vec::new(),
            opened_ms: crate::ports::chat_store::unix_ms(std::time::SystemTime::now()),
            last_seq: 0,
            last_ts: i64::MIN,
            replay: VecDeque::new(),
            cid_keys: VecDeque::new(),
            capacity,
            received: [0; 2],
            unsettled: [None; 2],
            reported: [false; 2],
            keep,
        }
    }

    /// Index of `session` in `members`.
    pub(crate) fn member_index(&self, session: SessionId) -> Option<usize> {
        self.members.iter().position(|&member| member == session)
    }

    /// The line a member already sent with this `cid`, if still remembered.
    pub(crate) fn line_by_cid(&self, from: usize, cid: &str) -> Option<&Line> {
        let key = cid_key(Some(cid), from);
        self.cid_keys
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &k)| k == key)
            .map(|(index, _)| &self.replay[index])
            .find(|line| line.from() == from && line.cid.as_deref() == Some(cid))
    }

    /// Cluster mode: whether line `seq` is on the bus yet.
    pub(crate) fn set_on_bus(&mut self, seq: u64, on_bus: bool) {
        let Some(first) = self.replay.front().map(|line| line.seq) else {
            return;
        };
        let Some(offset) = seq.checked_sub(first).and_then(|o| usize::try_from(o).ok()) else {
            return;
        };
        if let Some(line) = self.replay.get_mut(offset) {
            line.on_bus = on_bus;
        }
    }

    /// Lines in the replay buffer.
    pub(crate) fn buffered(&self) -> usize {
        self.replay.len()
    }

    /// The oldest buffered `seq`.
    pub(crate) fn first_seq(&self) -> Option<u64> {
        self.replay.front().map(|line| line.seq)
    }

    /// The line numbered `seq`, if still buffered.
    pub(crate) fn line_at(&self, seq: u64) -> Option<&Line> {
        self.line(seq)
    }

    fn line(&self, seq: u64) -> Option<&Line> {
        let first = self.replay.front()?.seq;
        let offset = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.replay.get(offset)
    }

    /// Appends a line with the next `seq`; the oldest line (and its `cid`)
    /// falls out when the buffer is full, and lines both members received
    /// beyond the kept context fall out too. Its `ts` is never earlier than
    /// the previous line's (a clock stepped back, or lines numbered from
    /// another node's events): `ts` orders a room's lines as `seq` does.
    pub(crate) fn append(
        &mut self,
        from: usize,
        text: Arc<str>,
        ts: i64,
        cid: Option<Arc<str>>,
        masked: bool,
    ) -> &mut Line {
        self.last_seq += 1;
        let ts = ts.max(self.last_ts);
        self.last_ts = ts;
        if self.replay.len() >= self.capacity {
            self.pop_front();
        } else if self.replay.len() == self.replay.capacity() {
            // Grow by a quarter, not double: most rooms hover a few lines
            // above the kept context, and thousands of half-empty buffers
            // were a third of a busy server's chat memory.
            let more = (self.replay.len() / 4).max(8);
            let more = more.min(self.capacity - self.replay.len());
            self.replay.reserve_exact(more);
            self.cid_keys.reserve_exact(more);
        }
        self.cid_keys.push_back(cid_key(cid.as_deref(), from));
        self.replay.push_back(Line {
            seq: self.last_seq,
            from: u8::from(from == 1),
            text,
            ts,
            cid,
            masked,
            on_bus: true,
        });
        self.trim();
        self.replay.back_mut().expect("just pushed")
    }

    /// A delivery mark from member `member`'s connection at `now`: its
    /// socket has read every line up to `seq`. Trusted once a later mark,
    /// `settle` or more after it, shows the connection stayed open; until
    /// then the lines stay for a resume.
    pub(crate) fn delivered(&mut self, member: usize, seq: u64, now: Instant, settle: Duration) {
        // The mark is itself a sign of life for the one before it.
        self.active(member, now, settle);
        // While an earlier mark waits, a later one covers this one's lines.
        self.unsettled[member].get_or_insert((seq, now));
    }

    /// Member `member` did something at `now` (sent a line): its client is
    /// running, so a mark `settle` or more before now counts, as a later
    /// mark would make it count. A room whose members both talk then keeps
    /// about `settle` of chat beyond its marks, not a whole mark interval.
    pub(crate) fn active(&mut self, member: usize, now: Instant, settle: Duration) {
        if let Some((seq, at)) = self.unsettled[member]
            && now.saturating_duration_since(at) >= settle
        {
            self.unsettled[member] = None;
            self.confirmed(member, seq);
        }
    }

    /// Member `member`'s connection ended or was replaced: its marks not
    /// yet settled say nothing about what the client kept (its `resume`
    /// says that).
    pub(crate) fn unsettle(&mut self, member: usize) {
        self.unsettled[member] = None;
    }

    /// Member `member` has certainly received every line up to `seq` (its
    /// `resume` said so, or its delivery mark settled).
    pub(crate) fn confirmed(&mut self, member: usize, seq: u64) {
        let seq = seq.min(self.last_seq);
        if seq <= self.received[member] {
            return;
        }
        self.received[member] = seq;
        self.trim();
        // Give back the slots a burst (or a detached member) grew.
        let len = self.replay.len().max(self.keep);
        if self.replay.capacity() > 2 * len + 16 {
            self.replay.shrink_to(len + 8);
            self.cid_keys.shrink_to(len + 8);
        }
    }

    /// Drops the oldest lines both members have received, keeping `keep`.
    /// A member on another node counts too: its marks go to its own node,
    /// but when that node dies it resumes here, from this buffer, so a room
    /// across nodes keeps its lines (up to the capacity) until that
    /// member's resume here says what it has. A line not yet on the bus is
    /// never dropped: it still has to be sent.
    fn trim(&mut self) {
        let received = self.received[0].min(self.received[1]);
        while self.replay.len() > self.keep
            && self
                .replay
                .front()
                .is_some_and(|line| line.seq <= received && line.on_bus)
        {
            self.pop_front();
        }
    }

    /// Drops the oldest line and its `cid` key.
    fn pop_front(&mut self) {
        self.replay.pop_front();
        self.cid_keys.pop_front();
        debug_assert_eq!(self.replay.len(), self.cid_keys.len());
    }

    /// Cluster mode: the next line appended gets `seq` (the numbering node
    /// said so; a gap means events were lost on the way).
    pub(crate) fn continue_at(&mut self, seq: u64) {
        self.last_seq = seq.saturating_sub(1);
    }

    /// The member on another node, if any.
    /// Cluster mode: a line of the local member went to the numbering node.
    /// At most `capacity` are remembered (more wait only while the bus is
    /// down that long); the oldest is forgotten first.
    pub(crate) fn forwarded(&mut self, cid: Option<Arc<str>>) {
        if self.unechoed.len() >= self.capacity.max(1) {
            self.unechoed.remove(0);
        }
        self.unechoed.push(cid);
    }

    /// Cluster mode: a line of the local member came back numbered (every
    /// copy of a resent `cid` is answered by its one echo).
    pub(crate) fn echoed(&mut self, cid: Option<&str>) {
        match cid {
            Some(cid) => self.unechoed.retain(|c| c.as_deref() != Some(cid)),
            None => {
                if let Some(at) = self.unechoed.iter().position(Option::is_none) {
                    self.unechoed.remove(at);
                }
            }
        }
    }

    pub(crate) fn remote_index(&self) -> Option<usize> {
        self.remote.as_ref().map(|(index, _)| *index)
    }

    /// The highest `seq` handed out.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Lines with `seq > after` still in the buffer, oldest first.
    pub(crate) fn lines_after(&self, after: u64) -> impl Iterator<Item = &Line> {
        self.replay.iter().filter(move |line| line.seq > after)
    }

    /// The last `count` lines as report context.
    pub(crate) fn context(&self, count: usize) -> Vec<ContextLine> {
        let skip = self.replay.len().saturating_sub(count);
        self.replay
            .iter()
            .skip(skip)
            .map(|line| ContextLine {
                seq: line.seq,
                session: self.members[line.from()],
                text: line.text.to_string(),
                ts: line.ts,
            })
            .collect()
    }
}

/// What [`Room::line_by_cid`] compares before the strings: a hash of the
/// `cid` with the writing member in its lowest bit (a line without one has
/// a key no `cid` is looked up by, but any match is checked in full).
fn cid_key(cid: Option<&str>, from: usize) -> u32 {
    // The low half of a 64-bit hash is as good as any 32 bits of it.
    let hash = cid.map_or(u32::MAX, |cid| {
        rustc_hash::FxBuildHasher.hash_one(cid) as u32
    });
    (hash & !1) | u32::from(from == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(capacity: usize) -> Room {
        Room::new(
            RoomId::from_raw(1),
            [SessionId::from_raw(1), SessionId::from_raw(2)],
            ["a".into(), "b".into()],
            capacity,
            2,
        )
    }

    #[test]
    fn seq_is_gap_free_and_replay_keeps_the_newest_lines() {
        let mut room = room(3);
        for n in 0..5 {
            room.append(n % 2, format!("{n}").into(), 0, None, false);
        }
        assert_eq!(room.last_seq(), 5);
        let seqs: Vec<u64> = room.lines_after(0).map(|line| line.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        let seqs: Vec<u64> = room.lines_after(4).map(|line| line.seq).collect();
        assert_eq!(seqs, [5]);
    }

    #[test]
    fn ts_never_goes_back_along_seq() {
        let mut room = room(8);
        let ts: Vec<i64> = [100, 90, 150, 150, 20]
            .into_iter()
            .map(|ts| room.append(0, "x".into(), ts, None, false).ts)
            .collect();
        assert_eq!(ts, [100, 100, 150, 150, 150]);
    }

    #[test]
    fn a_cid_is_found_while_its_line_is_buffered() {
        let mut room = room(2);
        room.append(0, "a".into(), 0, Some("c1".into()), false);
        assert_eq!(room.line_by_cid(0, "c1").unwrap().seq, 1);
        assert!(room.line_by_cid(1, "c1").is_none(), "cids are per member");
        room.append(0, "b".into(), 0, None, false);
        room.append(0, "c".into(), 0, None, false);
        assert!(room.line_by_cid(0, "c1").is_none());
    }

    #[test]
    fn every_buffered_cid_is_found_through_wraps_and_trims() {
        let mut room = room(8);
        for n in 0..50u64 {
            let member = (n % 2) as usize;
            let cid = (n % 3 != 0).then(|| Arc::from(format!("c{n}")));
            room.append(member, "x".into(), 0, cid, false);
            if n % 7 == 6 {
                room.confirmed(0, n - 3);
                room.confirmed(1, n - 3);
            }
            let first = room.first_seq().unwrap();
            for m in 0..=n {
                let (seq, member) = (m + 1, (m % 2) as usize);
                let found = room.line_by_cid(member, &format!("c{m}")).map(|l| l.seq);
                let buffered = seq >= first && m % 3 != 0;
                assert_eq!(found, buffered.then_some(seq), "line {seq} after {n}");
                assert!(room.line_by_cid(1 - member, &format!("c{m}")).is_none());
            }
        }
    }

    #[test]
    fn frames_are_rendered_from_the_receivers_point_of_view() {
        let mut room = room(4);
        let line = room
            .append(0, "hi".into(), 7, Some("c".into()), true)
            .clone();
        let own = line.frame_for(0);
        assert_eq!(own.from, Sender::You);
        assert_eq!(own.cid.as_deref(), Some("c"));
        let theirs = line.frame_for(1);
        assert_eq!(theirs.from, Sender::Stranger);
        assert_eq!(theirs.cid, None);
        assert!(theirs.masked);
    }

    #[test]
    fn the_buffer_grows_by_little_and_gives_back_what_a_burst_took() {
        let mut room = room(256);
        for _ in 0..40 {
            room.append(0, "x".into(), 0, None, false);
        }
        assert!(room.replay.capacity() < 64, "{}", room.replay.capacity());
        for _ in 0..200 {
            room.append(0, "x".into(), 0, None, false);
        }
        room.confirmed(0, 240);
        room.confirmed(1, 240);
        assert_eq!(room.buffered(), 2);
        assert!(room.replay.capacity() <= 24, "{}", room.replay.capacity());
    }

    #[test]
    fn a_line_stays_small() {
        assert!(std::mem::size_of::<Line>() <= 56);
    }

    #[test]
    fn a_cid_used_again_after_its_line_left_finds_the_new_line() {
        let mut room = room(2);
        room.append(0, "a".into(), 0, Some("c".into()), false);
        room.append(1, "b".into(), 0, Some("c".into()), false);
        room.append(0, "c".into(), 0, None, false);
        assert!(room.line_by_cid(0, "c").is_none(), "seq 1 fell out");
        room.append(0, "d".into(), 0, Some("c".into()), false);
        assert_eq!(room.line_by_cid(0, "c").unwrap().seq, 4);
        assert!(room.line_by_cid(1, "c").is_none(), "seq 2 fell out");
    }

    fn buffered(room: &Room) -> Vec<u64> {
        room.lines_after(0).map(|line| line.seq).collect()
    }

    #[test]
    fn lines_both_members_received_are_dropped_beyond_the_kept_context() {
        let mut room = room(100);
        for n in 0..10 {
            room.append(n % 2, "x".into(), 0, Some(format!("c{n}").into()), false);
        }
        room.confirmed(0, 8);
        assert_eq!(buffered(&room).len(), 10, "member 1 has not received them");
        room.confirmed(1, 6);
        assert_eq!(buffered(&room), [7, 8, 9, 10], "up to 6 dropped");
        assert!(
            room.line_by_cid(0, "c0").is_none(),
            "a dropped line's cid goes"
        );
        assert!(
            room.line_by_cid(0, "c6").is_some(),
            "seq 7 is still buffered"
        );
        room.confirmed(1, 50);
        assert_eq!(buffered(&room), [9, 10], "the last `keep` lines stay");
        room.confirmed(0, 3);
        assert_eq!(buffered(&room), [9, 10], "a mark never goes backwards");
        room.append(0, "y".into(), 0, None, false);
        assert_eq!(buffered(&room), [9, 10, 11], "member 0 has up to 8");
        room.confirmed(0, 10);
        assert_eq!(buffered(&room), [10, 11]);
    }

    #[test]
    fn a_delivery_mark_counts_only_once_a_later_one_shows_the_connection_stayed_open() {
        let settle = Duration::from_secs(5);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut room = room(100);
        for _ in 0..10 {
            room.append(0, "x".into(), 0, None, false);
        }
        room.confirmed(1, 10);
        room.delivered(0, 8, at(0), settle);
        assert_eq!(
            buffered(&room).len(),
            10,
            "the socket read them; the client may not have kept them"
        );
        room.delivered(0, 10, at(4), settle);
        assert_eq!(buffered(&room).len(), 10, "4 s later is too soon");
        room.delivered(0, 10, at(6), settle);
        assert_eq!(
            buffered(&room),
            [9, 10],
            "open 6 s after the first mark: up to 8 settled"
        );
        // The connection drops with its newest mark unsettled; the resume
        // says what the client kept, and the old mark never settles.
        for _ in 0..10 {
            room.append(0, "x".into(), 0, None, false);
        }
        room.confirmed(1, 20);
        room.delivered(0, 20, at(12), settle);
        room.unsettle(0);
        room.confirmed(0, 14);
        assert_eq!(
            buffered(&room),
            [15, 16, 17, 18, 19, 20],
            "what it had not kept stays"
        );
        room.delivered(0, 20, at(30), settle);
        assert_eq!(
            buffered(&room).len(),
            6,
            "a mark of the new connection starts over"
        );
        room.delivered(0, 20, at(35), settle);
        assert_eq!(buffered(&room), [19, 20]);
        // A line sent settles a mark as a later mark would, not sooner.
        for _ in 0..6 {
            room.append(0, "x".into(), 0, None, false);
        }
        room.confirmed(1, 26);
        room.delivered(0, 24, at(40), settle);
        room.active(0, at(43), settle);
        assert_eq!(
            buffered(&room),
            [21, 22, 23, 24, 25, 26],
            "3 s after the mark is too soon"
        );
        room.active(0, at(45), settle);
        assert_eq!(buffered(&room), [25, 26]);
    }

    #[test]
    fn a_member_that_stops_confirming_keeps_up_to_the_capacity() {
        let mut room = room(5);
        room.confirmed(1, 0);
        for _ in 0..8 {
            let seq = room.append(0, "x".into(), 0, None, false).seq;
            room.confirmed(0, seq);
        }
        assert_eq!(buffered(&room), [4, 5, 6, 7, 8]);
    }

    #[test]
    fn a_line_not_yet_on_the_bus_is_kept_and_so_is_what_a_remote_member_may_miss() {
        let mut local = room(100);
        for _ in 0..6 {
            local.append(0, "x".into(), 0, None, false);
        }
        local.set_on_bus(2, false);
        local.confirmed(0, 6);
        local.confirmed(1, 6);
        assert_eq!(
            buffered(&local),
            [2, 3, 4, 5, 6],
            "1 dropped, 2 still to send"
        );
        let mut across = room(100);
        across.remote = Some((1, "node-b".into()));
        for _ in 0..6 {
            across.append(0, "x".into(), 0, None, false);
        }
        across.confirmed(0, 6);
        across.append(0, "x".into(), 0, None, false);
        assert_eq!(
            buffered(&across),
            [1, 2, 3, 4, 5, 6, 7],
            "the member on another node may resume here after its node dies: \
             its lines stay until it says what it has"
        );
        // Its resume here says it has every line up to 6.
        across.confirmed(1, 6);
        assert_eq!(buffered(&across), [6, 7]);
    }
}
