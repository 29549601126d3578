//! The QuickTalk wire frames, written from `docs/protocol.md` alone.
//!
//! A third-party client needs nothing from the server's crates: every frame
//! is one JSON object with a snake_case `"type"`, so serde's internally
//! tagged enums describe them exactly. Only the fields this client uses are
//! declared; serde ignores the rest, as the protocol asks ("Unknown fields are
//! ignored"), so later additions do not break it.

use serde::{Deserialize, Serialize};

/// A frame this client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Enter the match queue.
    Join(Search),
    /// End the current chat and queue again.
    Next(Search),
    /// A chat line; `cid` makes a re-send after a reconnect idempotent.
    Send {
        /// The line.
        text: String,
        /// Client id of the line, echoed back on our own copy.
        cid: String,
    },
    /// Our typing indicator, sent only when it changes.
    Typing {
        /// Whether we are typing.
        active: bool,
    },
    /// End the chat or stop waiting.
    Leave,
    /// Report the current or most recent partner.
    Report {
        /// One of [`REPORT_REASONS`].
        reason: String,
        /// Free text, at most 500 characters.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// First frame of a new connection after a drop.
    Resume {
        /// `hello.resume_token`, or the latest `resumed.resume_token`.
        token: String,
        /// The last `seq` we saw in `room`.
        last_seq: u64,
        /// The room `last_seq` counts in.
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
}

/// The body of `join` and `next`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Search {
    /// Interests to match on; omitted when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
    /// Language filter (a primary subtag such as `en`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// The reasons `report` accepts.
pub const REPORT_REASONS: [&str; 7] = [
    "spam",
    "harassment",
    "sexual",
    "hate",
    "self_harm",
    "minor",
    "other",
];

/// A frame the server sends. Types this client does not know (a newer
/// server) parse as [`ServerFrame::Unknown`] and are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame of every connection.
    Hello {
        /// Token for a later `resume`.
        resume_token: String,
        /// People online.
        online: u64,
    },
    /// Queued, no partner yet.
    Waiting,
    /// A stranger was found.
    Matched {
        /// The room; `seq` counts in it.
        room: String,
        /// Interests both gave; empty means the random fallback.
        #[serde(default)]
        common_interests: Vec<String>,
        /// The partner's language, when given.
        #[serde(default)]
        partner_lang: Option<String>,
        /// **(addition)** The partner is a program.
        #[serde(default)]
        partner_bot: bool,
    },
    /// A chat line; our own lines come back with their `cid` as the ack.
    Message {
        /// Per-room, gap-free, from 1.
        seq: u64,
        /// Who wrote it.
        from: Sender,
        /// The text as moderated.
        text: String,
        /// Only on our own echo.
        #[serde(default)]
        cid: Option<String>,
        /// Dangerous spans were replaced by `*`.
        #[serde(default)]
        masked: bool,
    },
    /// Partner typing indicator.
    Typing {
        /// Whether the partner is typing.
        active: bool,
    },
    /// The chat ended.
    PartnerLeft {
        /// `left`, `skipped`, `disconnected`, `timeout` or `removed`.
        reason: String,
    },
    /// A line was not delivered.
    Rejected {
        /// The line's `cid`, when it had one.
        #[serde(default)]
        cid: Option<String>,
        /// `moderation`, `rate_limited`, `too_long` or `not_in_room`.
        reason: String,
        /// For `moderation`: what the filter found.
        #[serde(default)]
        category: Option<String>,
    },
    /// The report was stored.
    Reported,
    /// The session was restored after a reconnect.
    Resumed {
        /// The room we are in, if any.
        #[serde(default)]
        room: Option<String>,
        /// The new token (the old one is spent).
        resume_token: String,
    },
    /// People online.
    Online {
        /// The count.
        count: u64,
    },
    /// A frame the server could not take.
    Error {
        /// Machine-readable code; the client shows its own text for it.
        code: String,
        /// English, for logs.
        #[serde(default)]
        message: String,
    },
    /// Reply to an application `ping` (this client relies on WebSocket pings).
    Pong,
    /// Any type this client does not know.
    #[serde(other)]
    Unknown,
}

/// The `from` of a `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// Our own line (the echo).
    You,
    /// The partner's line.
    Stranger,
}

impl ClientFrame {
    /// The JSON text of this frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialize")
    }
}

impl ServerFrame {
    /// Parses one text frame.
    ///
    /// # Errors
    /// When the text is not JSON or lacks a `type`.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_serialize_as_in_the_protocol_doc() {
        let join = ClientFrame::Join(Search {
            interests: vec!["music".into()],
            lang: Some("ko".into()),
        });
        assert_eq!(
            join.to_json(),
            r#"{"type":"join","interests":["music"],"lang":"ko"}"#
        );
        assert_eq!(
            ClientFrame::Next(Search::default()).to_json(),
            r#"{"type":"next"}"#
        );
        assert_eq!(ClientFrame::Leave.to_json(), r#"{"type":"leave"}"#);
        let resume = ClientFrame::Resume {
            token: "t".into(),
            last_seq: 3,
            room: Some("r".into()),
        };
        assert_eq!(
            resume.to_json(),
            r#"{"type":"resume","token":"t","last_seq":3,"room":"r"}"#
        );
    }

    #[test]
    fn server_frames_parse_with_extra_and_missing_optional_fields() {
        let frame = ServerFrame::parse(
            r#"{"type":"message","seq":4,"from":"you","text":"a *** b","ts":1,"cid":"c7","masked":true}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ServerFrame::Message {
                seq: 4,
                from: Sender::You,
                text: "a *** b".into(),
                cid: Some("c7".into()),
                masked: true
            }
        );
        let matched = ServerFrame::parse(
            r#"{"type":"matched","room":"r1","common_interests":[],"partner_bot":true}"#,
        )
        .unwrap();
        assert!(matches!(
            matched,
            ServerFrame::Matched {
                partner_bot: true,
                ..
            }
        ));
        assert_eq!(
            ServerFrame::parse(r#"{"type":"brand_new","x":1}"#).unwrap(),
            ServerFrame::Unknown
        );
    }
}
