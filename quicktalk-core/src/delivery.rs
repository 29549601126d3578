//! Delivery marks: how a transport tells the engine which lines a client has
//! certainly received, so a room need not keep them for a `resume`.
//!
//! A room keeps its recent lines so a client that drops can `resume` and get
//! every line it missed. Without word from the client the room cannot know
//! which lines arrived (a frame written to a socket can still be lost with
//! the connection), so it keeps [`EngineConfig::replay_lines`] lines. A
//! transport that has a round trip in order with its frames (a WebSocket
//! ping: the pong comes back only after every frame written before the
//! ping was read) can do better: it follows the frames it writes with a
//! [`DeliveryTracker`], puts the [`DeliveryMark`] in the ping, and hands the
//! mark from the pong to [`SessionHandle::delivered`]. A pong proves the
//! client's socket read the lines, not that the client kept them (browsers
//! and libraries answer pings ahead of the application), so a mark counts
//! once a later one, [`EngineConfig::delivery_settle`] or more after it,
//! shows the connection still open. Lines both members have received are
//! then dropped from the room (beyond the last
//! [`EngineConfig::report_context_lines`], kept for a report's context),
//! and a busy room holds seconds of chat instead of hundreds of lines.
//!
//! ```
//! use quicktalk_core::delivery::{DeliveryMark, DeliveryTracker};
//! use quicktalk_core::protocol::ServerFrame;
//!
//! let mut tracker = DeliveryTracker::default();
//! # let frames: Vec<ServerFrame> = Vec::new();
//! for frame in &frames {
//!     tracker.observe(frame); // every frame, in the order written
//! }
//! // At a ping: the payload carries the mark ...
//! let payload = tracker.mark().map(DeliveryMark::to_bytes);
//! // ... and the pong gives it back.
//! let echoed = payload.as_ref().and_then(|bytes| DeliveryMark::from_bytes(bytes));
//! assert_eq!(echoed, tracker.mark());
//! ```
//!
//! [`EngineConfig::replay_lines`]: crate::EngineConfig::replay_lines
//! [`EngineConfig::report_context_lines`]: crate::EngineConfig::report_context_lines
//! [`EngineConfig::delivery_settle`]: crate::EngineConfig::delivery_settle
//! [`SessionHandle::delivered`]: crate::SessionHandle::delivered

use crate::ids::RoomId;
use crate::protocol::ServerFrame;

/// "Every `message` of `room` up to `seq` was written before this mark."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryMark {
    /// The room the lines belong to.
    pub room: RoomId,
    /// The highest `seq` written.
    pub seq: u64,
}

/// Size of [`DeliveryMark::to_bytes`].
pub const MARK_BYTES: usize = 17;

/// First byte of an encoded mark, so a pong the client sent unasked (or a
/// ping payload of another kind) is not read as one.
const MARK_TAG: u8 = b'q';

impl DeliveryMark {
    /// The mark as a ping payload.
    pub fn to_bytes(self) -> [u8; MARK_BYTES] {
        let mut bytes = [0; MARK_BYTES];
        bytes[0] = MARK_TAG;
        bytes[1..9].copy_from_slice(&self.room.raw().to_be_bytes());
        bytes[9..].copy_from_slice(&self.seq.to_be_bytes());
        bytes
    }

    /// A mark from a pong payload; `None` when the payload is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; MARK_BYTES] = bytes.try_into().ok()?;
        if bytes[0] != MARK_TAG {
            return None;
        }
        let room = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
        let seq = u64::from_be_bytes(bytes[9..].try_into().ok()?);
        Some(Self {
            room: RoomId::from_raw(room),
            seq,
        })
    }
}

/// Lines written since the last mark after which [`DeliveryTracker::due`]
/// asks for a mark of its own (no more than one a second): a busy room's
/// buffer then holds about this many lines beyond the report context,
/// rather than everything since the last periodic ping.
pub const LINES_PER_MARK: u16 = 16;

/// Follows the frames written to one connection: the room they are about
/// (from `matched` and `resumed`), the highest `seq` written in it, and how
/// many lines went out since the last mark was taken. 24 bytes: it lives in
/// every connection's writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryTracker {
    /// The room's raw id, when `in_room`.
    room: u64,
    seq: u64,
    /// When the last mark was taken (unix seconds).
    marked_s: u32,
    /// Lines written since then.
    unmarked: u16,
    in_room: bool,
}

impl DeliveryTracker {
    /// Notes a frame just written to the connection.
    pub fn observe(&mut self, frame: &ServerFrame) {
        match frame {
            ServerFrame::Matched(matched) => {
                (self.room, self.in_room, self.seq) = (matched.room.raw(), true, 0);
            }
            ServerFrame::Resumed(resumed) => {
                // The replay that follows restarts the count; the client's
                // own `last_seq` covers what came before.
                self.room = resumed.room.map_or(0, RoomId::raw);
                (self.in_room, self.seq) = (resumed.room.is_some(), 0);
            }
            ServerFrame::Message(message) => {
                self.seq = self.seq.max(message.seq);
                self.unmarked = self.unmarked.saturating_add(1);
            }
            _ => {}
        }
    }

    /// What has been written so far, if any line of a room has.
    pub fn mark(&self) -> Option<DeliveryMark> {
        (self.in_room && self.seq > 0).then_some(DeliveryMark {
            room: RoomId::from_raw(self.room),
            seq: self.seq,
        })
    }

    /// Whether enough lines went out for a ping of its own: at least
    /// [`LINES_PER_MARK`] since the last mark, taken in an earlier second
    /// than `now_s` (unix seconds).
    pub fn due(&self, now_s: u32) -> bool {
        self.unmarked >= LINES_PER_MARK && now_s != self.marked_s
    }

    /// [`DeliveryTracker::mark`], noting that it is on its way at `now_s`
    /// (unix seconds).
    pub fn take_mark(&mut self, now_s: u32) -> Option<DeliveryMark> {
        (self.marked_s, self.unmarked) = (now_s, 0);
        self.mark()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{Matched, MessageFrame, Resumed, Sender};

    fn message(seq: u64) -> ServerFrame {
        ServerFrame::Message(MessageFrame {
            seq,
            from: Sender::Stranger,
            text: Arc::from("hi"),
            ts: 0,
            cid: None,
            masked: false,
        })
    }

    fn matched(room: u64) -> ServerFrame {
        ServerFrame::Matched(Matched {
            room: RoomId::from_raw(room),
            common_interests: Vec::new(),
            partner_lang: None,
            partner_bot: false,
        })
    }

    #[test]
    fn a_mark_round_trips_through_a_ping_payload_and_rejects_others() {
        let mark = DeliveryMark {
            room: RoomId::from_raw(0xfeed_beef_0123_4567),
            seq: 300,
        };
        assert_eq!(DeliveryMark::from_bytes(&mark.to_bytes()), Some(mark));
        assert_eq!(DeliveryMark::from_bytes(b""), None);
        assert_eq!(DeliveryMark::from_bytes(&[0; MARK_BYTES]), None);
        assert_eq!(DeliveryMark::from_bytes(&mark.to_bytes()[1..]), None);
    }

    #[test]
    fn the_tracker_follows_the_room_of_the_frames_written() {
        let mut tracker = DeliveryTracker::default();
        assert_eq!(tracker.mark(), None);
        tracker.observe(&matched(1));
        assert_eq!(tracker.mark(), None, "no line written yet");
        tracker.observe(&message(1));
        tracker.observe(&message(2));
        tracker.observe(&ServerFrame::Typing { active: true });
        let first = DeliveryMark {
            room: RoomId::from_raw(1),
            seq: 2,
        };
        assert_eq!(tracker.mark(), Some(first));
        tracker.observe(&matched(2));
        assert_eq!(tracker.mark(), None, "a new room starts over");
        tracker.observe(&message(1));
        assert_eq!(tracker.mark().map(|mark| mark.room.raw()), Some(2));
        tracker.observe(&ServerFrame::Resumed(Resumed {
            room: None,
            replayed: 0,
            resume_token: String::new(),
        }));
        assert_eq!(tracker.mark(), None, "resumed outside a room");
    }

    #[test]
    fn a_mark_is_due_after_enough_lines_at_most_once_a_second() {
        let mut tracker = DeliveryTracker::default();
        tracker.observe(&matched(7));
        for seq in 1..u64::from(LINES_PER_MARK) {
            tracker.observe(&message(seq));
        }
        assert!(!tracker.due(100), "one line short");
        tracker.observe(&message(u64::from(LINES_PER_MARK)));
        assert!(tracker.due(100));
        let mark = tracker.take_mark(100).unwrap();
        assert_eq!(mark.seq, u64::from(LINES_PER_MARK));
        assert!(!tracker.due(100), "taken");
        for seq in 0..u64::from(LINES_PER_MARK) {
            tracker.observe(&message(100 + seq));
        }
        assert!(!tracker.due(100), "not twice in the same second");
        assert!(tracker.due(101));
        assert!(std::mem::size_of::<DeliveryTracker>() <= 24);
    }
}
