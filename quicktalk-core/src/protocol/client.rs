//! Client -> server frames and their validation.

use serde::{Deserialize, Serialize};

use super::{
    MAX_CID_CHARS, MAX_INTEREST_CHARS, MAX_INTERESTS, MAX_LANG_CHARS, MAX_NOTE_CHARS, ProtocolError,
};

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Enter the match queue.
    Join(JoinRequest),
    /// Send a chat line to the partner.
    Send(SendRequest),
    /// Typing indicator for the partner.
    Typing {
        /// Whether the client is typing now.
        active: bool,
    },
    /// End the current chat and queue again.
    Next(JoinRequest),
    /// End the chat or stop waiting; stay connected.
    Leave,
    /// Report the current or most recent partner.
    Report(ReportRequest),
    /// First frame of a new connection after a drop: restore the old session.
    Resume(ResumeRequest),
    /// Application-level ping.
    Ping,
}

/// The fields of `join` and `next`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Interests, matched case-insensitively. After [`ClientFrame::parse`]
    /// they are trimmed, lower-cased and free of duplicates.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub interests: Vec<String>,
    /// Language filter, e.g. `"ko"` or `"en"`; lower-cased by the parser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// **(addition)** The client is a program, not a person. Its partners
    /// see `matched {partner_bot: true}`; two bots are never paired; a
    /// server that does not allow bots answers `error {code:
    /// "bots_not_allowed"}`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub bot: bool,
}

/// An optional field sent as `null` reads as left out, as `lang: null`
/// does.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The fields of `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The chat line.
    pub text: String,
    /// The client's own id for this line; a repeat is answered with the original echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// Why a partner is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    /// Advertising, links, repeated junk.
    Spam,
    /// Insults, bullying.
    Harassment,
    /// Unwanted sexual content.
    Sexual,
    /// Hate speech.
    Hate,
    /// Talk of self-harm (the partner may need help).
    SelfHarm,
    /// The partner seems to be a minor.
    Minor,
    /// Anything else (see the note).
    Other,
}

impl ReportReason {
    /// The protocol's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Harassment => "harassment",
            Self::Sexual => "sexual",
            Self::Hate => "hate",
            Self::SelfHarm => "self_harm",
            Self::Minor => "minor",
            Self::Other => "other",
        }
    }
}

/// The fields of `report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// Why.
    pub reason: ReportReason,
    /// Free text, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The fields of `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRequest {
    /// The `resume_token` from the last `hello` or `resumed`.
    pub token: String,
    /// The highest `seq` the client received in its room (0 if none).
    pub last_seq: u64,
    /// The room `last_seq` refers to (an addition to protocol 1). When it is
    /// given and the session is in another room (the `matched` frame was lost
    /// in the drop), `last_seq` is taken as 0 so nothing is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<crate::ids::RoomId>,
}

impl ClientFrame {
    /// Parses and validates one text frame.
    ///
    /// Interests are trimmed, lower-cased and de-duplicated; `lang` is
    /// lower-cased and an empty `lang` means none.
    ///
    /// # Errors
    /// A `bad_request` [`ProtocolError`] for malformed JSON, a missing or
    /// unknown `type`, fields of the wrong type, and fields out of the
    /// protocol's bounds. The text length of `send` is checked by the engine
    /// (it is configurable), not here.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let mut frame: Self = serde_json::from_str(text)
            .map_err(|error| ProtocolError::bad_request(describe_json_error(&error)))?;
        frame.normalize()?;
        Ok(frame)
    }

    /// The frame's `type` as the protocol spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Join(_) => "join",
            Self::Send(_) => "send",
            Self::Typing { .. } => "typing",
            Self::Next(_) => "next",
            Self::Leave => "leave",
            Self::Report(_) => "report",
            Self::Resume(_) => "resume",
            Self::Ping => "ping",
        }
    }

    fn normalize(&mut self) -> Result<(), ProtocolError> {
        match self {
            Self::Join(request) | Self::Next(request) => request.normalize(),
            Self::Send(request) => request.cid.as_deref().map_or(Ok(()), check_cid),
            Self::Report(request) => request.validate(),
            Self::Resume(request) => check_chars("token", &request.token, 1, 128),
            Self::Typing { .. } | Self::Leave | Self::Ping => Ok(()),
        }
    }
}

impl JoinRequest {
    /// Trims, lower-cases and de-duplicates interests and lower-cases `lang`,
    /// within the protocol's bounds ([`MAX_INTERESTS`], [`MAX_INTEREST_CHARS`]).
    ///
    /// # Errors
    /// `bad_request` when there are too many interests, or one is empty or too
    /// long, or `lang` is not a short language tag.
    pub fn normalize(&mut self) -> Result<(), ProtocolError> {
        self.normalize_within(MAX_INTERESTS, MAX_INTEREST_CHARS)
    }

    /// [`JoinRequest::normalize`] with tighter bounds (an engine's
    /// `max_interests` and `max_interest_chars`).
    ///
    /// # Errors
    /// As [`JoinRequest::normalize`].
    pub fn normalize_within(
        &mut self,
        max_interests: usize,
        max_interest_chars: usize,
    ) -> Result<(), ProtocolError> {
        if self.interests.len() > max_interests {
            return Err(ProtocolError::bad_request(format!(
                "at most {max_interests} interests, got {}",
                self.interests.len()
            )));
        }
        let mut normalized: Vec<String> = Vec::with_capacity(self.interests.len());
        for interest in &self.interests {
            let interest = interest.trim().to_lowercase();
            check_chars("interests[]", &interest, 1, max_interest_chars)?;
            if !normalized.contains(&interest) {
                normalized.push(interest);
            }
        }
        self.interests = normalized;
        if let Some(lang) = self.lang.take() {
            let lang = lang.trim().to_ascii_lowercase();
            if !lang.is_empty() {
                // A tag is letter or digit runs joined by single dashes
                // (`ko`, `en-us`, `zh-hant`): not `--` or `-ko`.
                let valid = lang.len() <= MAX_LANG_CHARS
                    && lang.split('-').all(|part| {
                        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                if !valid {
                    return Err(ProtocolError::bad_request(format!(
                        "`lang` must be a language tag such as \"ko\" or \"en\" (letters, digits and '-', at most {MAX_LANG_CHARS})"
                    )));
                }
                self.lang = Some(lang);
            }
        }
        Ok(())
    }
}

/// A `send`'s `cid`: 1 to [`MAX_CID_CHARS`] characters.
pub(crate) fn check_cid(cid: &str) -> Result<(), ProtocolError> {
    check_chars("cid", cid, 1, MAX_CID_CHARS)
}

impl ReportRequest {
    /// Checks the protocol's bounds (a `note` of at most [`MAX_NOTE_CHARS`]).
    ///
    /// # Errors
    /// `bad_request` when the note is too long.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        match &self.note {
            Some(note) => check_chars("note", note, 0, MAX_NOTE_CHARS),
            None => Ok(()),
        }
    }
}

fn check_chars(field: &str, value: &str, min: usize, max: usize) -> Result<(), ProtocolError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ProtocolError::bad_request(format!(
            "`{field}` must be {min}..={max} characters, got {chars}"
        )));
    }
    Ok(())
}

fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    // serde names the Rust type it expected; a client knows the protocol's
    // words (`expected internally tagged enum ClientFrame` is a frame that is
    // not an object).
    let said = error.to_string().replace(
        "internally tagged enum ClientFrame",
        "a JSON object with a \"type\"",
    );
    match error.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON: {said}"),
        Category::Data => format!("invalid frame: {said}"),
        Category::Io => format!("unreadable frame: {said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn every_client_frame_type_parses() {
        let cases: &[(&str, ClientFrame)] = &[
            (
                r#"{"type":"join","interests":[" Music ","music","K-Pop"],"lang":"KO"}"#,
                ClientFrame::Join(JoinRequest {
                    interests: vec!["music".into(), "k-pop".into()],
                    lang: Some("ko".into()),
                    bot: false,
                }),
            ),
            (
                r#"{"type":"join","bot":true}"#,
                ClientFrame::Join(JoinRequest {
                    bot: true,
                    ..JoinRequest::default()
                }),
            ),
            (
                r#"{"type":"join"}"#,
                ClientFrame::Join(JoinRequest::default()),
            ),
            (
                r#"{"type":"join","lang":""}"#,
                ClientFrame::Join(JoinRequest::default()),
            ),
            (
                r#"{"type":"send","text":"hi","cid":"c1"}"#,
                ClientFrame::Send(SendRequest {
                    text: "hi".into(),
                    cid: Some("c1".into()),
                }),
            ),
            (
                r#"{"type":"typing","active":true}"#,
                ClientFrame::Typing { active: true },
            ),
            (
                r#"{"type":"next","interests":[]}"#,
                ClientFrame::Next(JoinRequest::default()),
            ),
            (r#"{"type":"leave","extra":1}"#, ClientFrame::Leave),
            (
                r#"{"type":"report","reason":"self_harm","note":"worried"}"#,
                ClientFrame::Report(ReportRequest {
                    reason: ReportReason::SelfHarm,
                    note: Some("worried".into()),
                }),
            ),
            (
                r#"{"type":"resume","token":"abc","last_seq":7}"#,
                ClientFrame::Resume(ResumeRequest {
                    token: "abc".into(),
                    last_seq: 7,
                    room: None,
                }),
            ),
            (r#"{"type":"ping"}"#, ClientFrame::Ping),
            // Optional fields sent as null read as left out.
            (
                r#"{"type":"join","interests":null,"lang":null,"bot":null}"#,
                ClientFrame::Join(JoinRequest::default()),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(&ClientFrame::parse(json).unwrap(), expected, "{json}");
        }
    }

    #[test]
    fn malformed_frames_are_bad_requests() {
        let cases = [
            "not json",
            "{",
            "[]",
            "42",
            r#"{"text":"no type"}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":7}"#,
            r#"{"type":"send"}"#,
            r#"{"type":"send","text":5}"#,
            r#"{"type":"send","text":"x","cid":""}"#,
            r#"{"type":"typing","active":"yes"}"#,
            r#"{"type":"join","interests":"music"}"#,
            r#"{"type":"join","interests":["a","b","c","d","e","f","g","h","i","j","k"]}"#,
            r#"{"type":"join","interests":["   "]}"#,
            r#"{"type":"join","lang":"<script>"}"#,
            r#"{"type":"join","lang":"--"}"#,
            r#"{"type":"join","lang":"-ko"}"#,
            r#"{"type":"join","lang":"ko--kr"}"#,
            r#"{"type":"report","reason":"boring"}"#,
            r#"{"type":"resume","token":"abc","last_seq":-1}"#,
            r#"{"type":"resume","token":"","last_seq":0}"#,
            r#"{"type":"resume"}"#,
            r#"{"type":"report"}"#,
            r#"{"type":"join","interests":[1]}"#,
            r#"{"type":"send","text":"x","cid":7}"#,
            "null",
            r#""send""#,
        ];
        for json in cases {
            let error = ClientFrame::parse(json).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadRequest, "{json}");
            assert!(!error.message.is_empty());
            // Said in the protocol's words, not the parser's Rust types.
            for internal in ["ClientFrame", "Request", "struct", "enum"] {
                assert!(
                    !error.message.contains(internal),
                    "{json}: {}",
                    error.message
                );
            }
        }
    }

    #[test]
    fn field_bounds_count_characters_not_bytes() {
        let interest = "가".repeat(MAX_INTEREST_CHARS);
        let json = format!(r#"{{"type":"join","interests":["{interest}"]}}"#);
        assert!(ClientFrame::parse(&json).is_ok());
        let json = format!(r#"{{"type":"join","interests":["{interest}가"]}}"#);
        assert!(ClientFrame::parse(&json).is_err());
        let cid = "x".repeat(MAX_CID_CHARS + 1);
        assert!(
            ClientFrame::parse(&format!(r#"{{"type":"send","text":"a","cid":"{cid}"}}"#)).is_err()
        );
        let note = "n".repeat(MAX_NOTE_CHARS + 1);
        assert!(
            ClientFrame::parse(&format!(
                r#"{{"type":"report","reason":"spam","note":"{note}"}}"#
            ))
            .is_err()
        );
    }

    #[test]
    fn client_frames_serialize_to_the_protocol_json() {
        let frame = ClientFrame::Send(SendRequest {
            text: "hi".into(),
            cid: None,
        });
        assert_eq!(
            serde_json::to_string(&frame).unwrap(),
            r#"{"type":"send","text":"hi"}"#
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Leave).unwrap(),
            r#"{"type":"leave"}"#
        );
    }
}
