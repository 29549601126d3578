//! The documents as stored: one struct per collection, converted to and
//! from the port's record types.
//!
//! Ids, keys and enums keep the text forms the protocol and the SQLite store
//! use (`"00ab..."`, `"self_harm"`), so an export from either store reads the
//! same. Each document that retention applies to carries `at`, a BSON date of
//! its `ts`, for the TTL index.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime};
use quicktalk_core::ports::moderator::{Action, Category, Severity};
use quicktalk_core::ports::{Ban, ContextLine, ModerationFlag, Report, RoomEvent, StoredMessage};
use quicktalk_core::protocol::{PartnerLeftReason, ReportReason};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use serde::{Deserialize, Serialize};

/// A chat line's `_id`: its room and `seq`, so a replay is a duplicate key.
pub(crate) fn message_id(room: RoomId, seq: u64) -> String {
    format!("{room}:{seq:016x}")
}

/// `messages`: one delivered chat line.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MessageDoc {
    #[serde(rename = "_id")]
    id: String,
    room: RoomId,
    seq: u64,
    session: SessionId,
    client_key: ClientKey,
    text: String,
    ts: i64,
    masked: bool,
    at: DateTime,
}

impl From<&StoredMessage> for MessageDoc {
    fn from(m: &StoredMessage) -> Self {
        Self {
            id: message_id(m.room, m.seq),
            room: m.room,
            seq: m.seq,
            session: m.session,
            client_key: m.client_key.clone(),
            text: m.text.clone(),
            ts: m.ts,
            masked: m.masked,
            at: DateTime::from_millis(m.ts),
        }
    }
}

impl From<MessageDoc> for StoredMessage {
    fn from(d: MessageDoc) -> Self {
        Self {
            room: d.room,
            seq: d.seq,
            session: d.session,
            client_key: d.client_key,
            text: d.text,
            ts: d.ts,
            masked: d.masked,
        }
    }
}

/// `flags`: a line the moderator did not simply allow.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FlagDoc {
    /// `room:seq:session` for a delivered line (stored once); a fresh
    /// ObjectId for a blocked one (each is its own record).
    #[serde(rename = "_id")]
    id: Bson,
    room: RoomId,
    seq: Option<u64>,
    session: SessionId,
    client_key: ClientKey,
    action: Action,
    category: Option<Category>,
    severity: Severity,
    text: String,
    ts: i64,
    at: DateTime,
}

impl From<&ModerationFlag> for FlagDoc {
    fn from(f: &ModerationFlag) -> Self {
        let id = match f.seq {
            Some(seq) => Bson::String(format!("{}:{}", message_id(f.room, seq), f.session)),
            None => Bson::ObjectId(ObjectId::new()),
        };
        Self {
            id,
            room: f.room,
            seq: f.seq,
            session: f.session,
            client_key: f.client_key.clone(),
            action: f.action,
            category: f.category,
            severity: f.severity,
            text: f.text.clone(),
            ts: f.ts,
            at: DateTime::from_millis(f.ts),
        }
    }
}

impl From<FlagDoc> for ModerationFlag {
    fn from(d: FlagDoc) -> Self {
        Self {
            room: d.room,
            seq: d.seq,
            session: d.session,
            client_key: d.client_key,
            action: d.action,
            category: d.category,
            severity: d.severity,
            text: d.text,
            ts: d.ts,
        }
    }
}

/// `matches`: a chat's start, one per room.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MatchDoc {
    #[serde(rename = "_id")]
    room: RoomId,
    sessions: [SessionId; 2],
    client_keys: [ClientKey; 2],
    common_interests: Vec<String>,
    ts: i64,
    at: DateTime,
}

/// `ends`: a chat's end, one per room.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EndDoc {
    #[serde(rename = "_id")]
    room: RoomId,
    left: SessionId,
    reason: PartnerLeftReason,
    ts: i64,
    at: DateTime,
}

/// A room event as the document of its collection.
pub(crate) enum RoomEventDoc {
    Matched(MatchDoc),
    Ended(EndDoc),
}

impl From<&RoomEvent> for RoomEventDoc {
    fn from(event: &RoomEvent) -> Self {
        match event.clone() {
            RoomEvent::Matched {
                room,
                sessions,
                client_keys,
                common_interests,
                ts,
            } => Self::Matched(MatchDoc {
                room,
                sessions,
                client_keys,
                common_interests,
                ts,
                at: DateTime::from_millis(ts),
            }),
            RoomEvent::Ended {
                room,
                left,
                reason,
                ts,
            } => Self::Ended(EndDoc {
                room,
                left,
                reason,
                ts,
                at: DateTime::from_millis(ts),
            }),
        }
    }
}

impl From<MatchDoc> for RoomEvent {
    fn from(d: MatchDoc) -> Self {
        Self::Matched {
            room: d.room,
            sessions: d.sessions,
            client_keys: d.client_keys,
            common_interests: d.common_interests,
            ts: d.ts,
        }
    }
}

impl From<EndDoc> for RoomEvent {
    fn from(d: EndDoc) -> Self {
        Self::Ended {
            room: d.room,
            left: d.left,
            reason: d.reason,
            ts: d.ts,
        }
    }
}

/// `reports`: a report with the chat around it, embedded.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ReportDoc {
    #[serde(rename = "_id")]
    id: String,
    room: RoomId,
    reporter: SessionId,
    reporter_key: ClientKey,
    reported: SessionId,
    reported_key: ClientKey,
    reason: ReportReason,
    note: Option<String>,
    ts: i64,
    context: Vec<ContextLine>,
}

impl From<&Report> for ReportDoc {
    fn from(r: &Report) -> Self {
        Self {
            id: r.id.clone(),
            room: r.room,
            reporter: r.reporter,
            reporter_key: r.reporter_key.clone(),
            reported: r.reported,
            reported_key: r.reported_key.clone(),
            reason: r.reason,
            note: r.note.clone(),
            ts: r.ts,
            context: r.context.clone(),
        }
    }
}

impl From<ReportDoc> for Report {
    fn from(d: ReportDoc) -> Self {
        Self {
            id: d.id,
            room: d.room,
            reporter: d.reporter,
            reporter_key: d.reporter_key,
            reported: d.reported,
            reported_key: d.reported_key,
            reason: d.reason,
            note: d.note,
            ts: d.ts,
            context: d.context,
        }
    }
}

/// `bans`: one per client key.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BanDoc {
    #[serde(rename = "_id")]
    client_key: ClientKey,
    reason: String,
    created: i64,
    until: Option<i64>,
}

impl From<&Ban> for BanDoc {
    fn from(b: &Ban) -> Self {
        Self {
            client_key: b.client_key.clone(),
            reason: b.reason.clone(),
            created: b.created,
            until: b.until,
        }
    }
}

impl From<BanDoc> for Ban {
    fn from(d: BanDoc) -> Self {
        Self {
            client_key: d.client_key,
            reason: d.reason,
            created: d.created,
            until: d.until,
        }
    }
}

/// `settings`: a named value, written once.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SettingDoc {
    #[serde(rename = "_id")]
    pub(crate) name: String,
    pub(crate) value: String,
}
