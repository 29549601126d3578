//! Server -> client frames, close reasons and error codes.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, SessionId};

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame of every connection.
    Hello(Hello),
    /// Queued, no partner yet.
    Waiting,
    /// A stranger was found.
    Matched(Matched),
    /// A chat line (your own echo or the stranger's).
    Message(MessageFrame),
    /// Partner typing indicator.
    Typing {
        /// Whether the partner is typing.
        active: bool,
    },
    /// The chat ended.
    PartnerLeft {
        /// Why.
        reason: PartnerLeftReason,
    },
    /// A line was not delivered.
    Rejected(Rejected),
    /// The report was stored.
    Reported,
    /// The session was restored after a drop.
    Resumed(Resumed),
    /// Number of people online.
    Online {
        /// Connected sessions.
        count: u64,
    },
    /// A frame the server could not take.
    Error(ErrorFrame),
    /// Reply to `ping`.
    Pong,
}

impl ServerFrame {
    /// The frame as protocol JSON.
    pub fn to_json(&self) -> String {
        // Serializing these plain types cannot fail: no maps with non-string
        // keys, no failing Serialize impls.
        serde_json::to_string(self)
            .unwrap_or_else(|_| String::from(r#"{"type":"error","code":"bad_state"}"#))
    }

    /// The frame's `type` as the protocol spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Waiting => "waiting",
            Self::Matched(_) => "matched",
            Self::Message(_) => "message",
            Self::Typing { .. } => "typing",
            Self::PartnerLeft { .. } => "partner_left",
            Self::Rejected(_) => "rejected",
            Self::Reported => "reported",
            Self::Resumed(_) => "resumed",
            Self::Online { .. } => "online",
            Self::Error(_) => "error",
            Self::Pong => "pong",
        }
    }
}

/// The `hello` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// This session's id.
    pub session: SessionId,
    /// The secret to present in `resume` after a drop.
    pub resume_token: String,
    /// People online now.
    pub online: u64,
    /// Always 1.
    pub protocol: u32,
    /// The limits this server enforces.
    pub limits: Limits,
}

/// `hello.limits`: what the server enforces, so clients can check before sending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest `text`, in characters.
    pub max_text_chars: usize,
    /// Largest frame, in bytes; a larger one closes the connection (1009).
    pub max_frame_bytes: usize,
    /// Most interests in `join`/`next`.
    pub max_interests: usize,
    /// Longest interest, in characters.
    pub max_interest_chars: usize,
    /// Chat lines per second, on average.
    pub rate_per_sec: f64,
    /// Chat lines in a burst.
    pub rate_burst: u32,
    /// Seconds within which a dropped session can be resumed.
    pub resume_grace_s: u64,
    /// Seconds of silence after which the connection is closed (4001).
    pub idle_timeout_s: u64,
}

/// The `matched` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matched {
    /// The new room.
    pub room: RoomId,
    /// Interests both gave; empty when matched by the random fallback.
    pub common_interests: Vec<String>,
    /// The partner's `lang`, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_lang: Option<String>,
    /// **(addition)** The partner is a program (it joined with `bot: true`);
    /// absent (false) for people.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partner_bot: bool,
}

/// Who wrote a `message`, from the receiver's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// Your own line coming back (the delivery ack).
    You,
    /// Your partner's line.
    Stranger,
}

/// The `message` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageFrame {
    /// Per room, from 1, gap-free.
    pub seq: u64,
    /// Who wrote it.
    pub from: Sender,
    /// The text as delivered (after masking).
    pub text: Arc<str>,
    /// Unix milliseconds when the server took the line.
    pub ts: i64,
    /// The sender's `cid`, only on its own echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<Arc<str>>,
    /// Present and true when dangerous spans were masked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

/// Why a chat ended, as told to the partner who stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerLeftReason {
    /// The partner sent `leave`.
    Left,
    /// The partner sent `next`.
    Skipped,
    /// The partner's connection dropped and was not resumed in time.
    Disconnected,
    /// The partner went silent past the idle timeout and did not come back.
    Timeout,
    /// The partner was removed by moderation (banned, flooding).
    Removed,
}

impl PartnerLeftReason {
    /// The protocol's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Skipped => "skipped",
            Self::Disconnected => "disconnected",
            Self::Timeout => "timeout",
            Self::Removed => "removed",
        }
    }
}

/// Why a line was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The moderator blocked it.
    Moderation,
    /// Over the per-session rate limit.
    RateLimited,
    /// Longer than `limits.max_text_chars`.
    TooLong,
    /// Not in a room (idle or waiting).
    NotInRoom,
}

impl RejectReason {
    /// The protocol's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moderation => "moderation",
            Self::RateLimited => "rate_limited",
            Self::TooLong => "too_long",
            Self::NotInRoom => "not_in_room",
        }
    }
}

/// The `rejected` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The line's `cid`, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// Why.
    pub reason: RejectReason,
    /// The moderation category, for `moderation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// The `resumed` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// The room whose lines are replayed, if the session was chatting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomId>,
    /// How many `message` frames follow.
    pub replayed: u64,
    /// The new token (the old one is spent).
    pub resume_token: String,
}

/// The protocol's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, unknown type, wrong field types or values.
    BadRequest,
    /// The frame does not fit the session's state.
    BadState,
    /// A binary frame, or something this server does not do.
    Unsupported,
    /// The resume token is unknown or expired.
    ResumeFailed,
    /// The client is banned.
    Banned,
    /// The server is at capacity.
    ServerBusy,
    /// The server is shutting down.
    ShuttingDown,
    /// **(addition)** `join`/`next` with `bot: true` on a server that does not
    /// allow bots.
    BotsNotAllowed,
}

impl ErrorCode {
    /// The protocol's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::BadState => "bad_state",
            Self::Unsupported => "unsupported",
            Self::ResumeFailed => "resume_failed",
            Self::Banned => "banned",
            Self::ServerBusy => "server_busy",
            Self::ShuttingDown => "shutting_down",
            Self::BotsNotAllowed => "bots_not_allowed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// What went wrong, for clients to show their own text.
    pub code: ErrorCode,
    /// English text for logs.
    pub message: String,
}

/// Why the engine wants a connection closed; each maps to a WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// 1001: the server is shutting down.
    ShuttingDown,
    /// 1008: the client key was banned.
    Banned,
    /// 1008: the session kept flooding past the rate limit.
    Flooding,
    /// 4001: nothing received for the idle timeout.
    IdleTimeout,
    /// 4002: the client read too slowly and its send queue filled.
    TooSlow,
    /// 4003: another connection resumed this session.
    Replaced,
}

impl CloseReason {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Self::ShuttingDown => 1001,
            Self::Banned | Self::Flooding => 1008,
            Self::IdleTimeout => 4001,
            Self::TooSlow => 4002,
            Self::Replaced => 4003,
        }
    }

    /// Short English text for the close frame.
    pub fn message(self) -> &'static str {
        match self {
            Self::ShuttingDown => "server shutting down",
            Self::Banned => "banned",
            Self::Flooding => "flooding",
            Self::IdleTimeout => "idle timeout",
            Self::TooSlow => "too slow to read",
            Self::Replaced => "replaced by a resume",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_serialize_to_the_protocol_json() {
        let cases: Vec<(ServerFrame, &str)> = vec![
            (ServerFrame::Waiting, r#"{"type":"waiting"}"#),
            (ServerFrame::Pong, r#"{"type":"pong"}"#),
            (ServerFrame::Reported, r#"{"type":"reported"}"#),
            (
                ServerFrame::Typing { active: true },
                r#"{"type":"typing","active":true}"#,
            ),
            (
                ServerFrame::Online { count: 3 },
                r#"{"type":"online","count":3}"#,
            ),
            (
                ServerFrame::PartnerLeft {
                    reason: PartnerLeftReason::Skipped,
                },
                r#"{"type":"partner_left","reason":"skipped"}"#,
            ),
            (
                ServerFrame::Matched(Matched {
                    room: RoomId::from_raw(1),
                    common_interests: vec!["music".into()],
                    partner_lang: Some("ko".into()),
                    partner_bot: false,
                }),
                r#"{"type":"matched","room":"0000000000000001","common_interests":["music"],"partner_lang":"ko"}"#,
            ),
            (
                ServerFrame::Matched(Matched {
                    room: RoomId::from_raw(2),
                    common_interests: vec![],
                    partner_lang: None,
                    partner_bot: true,
                }),
                r#"{"type":"matched","room":"0000000000000002","common_interests":[],"partner_bot":true}"#,
            ),
            (
                ServerFrame::Message(MessageFrame {
                    seq: 1,
                    from: Sender::You,
                    text: "hi".into(),
                    ts: 5,
                    cid: Some("c1".into()),
                    masked: false,
                }),
                r#"{"type":"message","seq":1,"from":"you","text":"hi","ts":5,"cid":"c1"}"#,
            ),
            (
                ServerFrame::Message(MessageFrame {
                    seq: 2,
                    from: Sender::Stranger,
                    text: "**".into(),
                    ts: 6,
                    cid: None,
                    masked: true,
                }),
                r#"{"type":"message","seq":2,"from":"stranger","text":"**","ts":6,"masked":true}"#,
            ),
            (
                ServerFrame::Rejected(Rejected {
                    cid: Some("c2".into()),
                    reason: RejectReason::Moderation,
                    category: Some("hate".into()),
                }),
                r#"{"type":"rejected","cid":"c2","reason":"moderation","category":"hate"}"#,
            ),
            (
                ServerFrame::Resumed(Resumed {
                    room: None,
                    replayed: 0,
                    resume_token: "t".into(),
                }),
                r#"{"type":"resumed","replayed":0,"resume_token":"t"}"#,
            ),
            (
                ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::BadState,
                    message: "already waiting".into(),
                }),
                r#"{"type":"error","code":"bad_state","message":"already waiting"}"#,
            ),
        ];
        for (frame, json) in cases {
            assert_eq!(frame.to_json(), json);
            assert_eq!(
                serde_json::from_str::<ServerFrame>(json).unwrap(),
                frame,
                "{json}"
            );
        }
    }

    #[test]
    fn close_reasons_map_to_the_protocol_codes() {
        assert_eq!(CloseReason::ShuttingDown.code(), 1001);
        assert_eq!(CloseReason::Banned.code(), 1008);
        assert_eq!(CloseReason::Flooding.code(), 1008);
        assert_eq!(CloseReason::IdleTimeout.code(), 4001);
        assert_eq!(CloseReason::TooSlow.code(), 4002);
        assert_eq!(CloseReason::Replaced.code(), 4003);
    }
}
