//! The wire protocol (version 1) as Rust types: the frames a client sends
//! ([`ClientFrame`]) and the frames the server sends ([`ServerFrame`]).
//!
//! These types produce and parse exactly the JSON of the protocol document;
//! [`ClientFrame::parse`] is the parser every transport uses, and it answers
//! malformed input with the protocol's error codes.

mod client;
mod server;

pub(crate) use client::check_cid;
pub use client::{
    ClientFrame, JoinRequest, ReportReason, ReportRequest, ResumeRequest, SendRequest,
};
pub use server::{
    CloseReason, ErrorCode, ErrorFrame, Hello, Limits, Matched, MessageFrame, PartnerLeftReason,
    RejectReason, Rejected, Resumed, Sender, ServerFrame,
};

/// The protocol version this crate speaks (`hello.protocol`).
pub const PROTOCOL_VERSION: u32 = 1;
/// Most interests in a `join` or `next`.
pub const MAX_INTERESTS: usize = 10;
/// Longest interest, in characters.
pub const MAX_INTEREST_CHARS: usize = 32;
/// Longest client message id (`cid`), in characters.
pub const MAX_CID_CHARS: usize = 64;
/// Longest report note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// Longest `lang` tag, in characters.
pub const MAX_LANG_CHARS: usize = 16;

/// A frame the server could not take: becomes an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    /// The protocol's error code.
    pub code: ErrorCode,
    /// English text for logs.
    pub message: String,
}

impl ProtocolError {
    /// A `bad_request` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BadRequest,
            message: message.into(),
        }
    }

    /// A `bad_state` error.
    pub fn bad_state(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BadState,
            message: message.into(),
        }
    }

    /// A `resume_failed` error.
    pub fn resume_failed(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::ResumeFailed,
            message: message.into(),
        }
    }

    /// The `error` frame that tells the client.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error(ErrorFrame {
            code: self.code,
            message: self.message.clone(),
        })
    }
}

/// Characters that show nothing: zero-width and joining marks, bidi
/// controls, the soft hyphen, variation selectors, tags and the Hangul
/// fillers (the usual way to type a "blank" line or name in Korean apps).
/// A `send` of only these and whitespace is empty; the moderation filter
/// drops them without leaving a gap.
#[inline]
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
    )
}
