//! The view model: everything the screen shows, as plain data.
//!
//! The state machine ([`crate::state`]) writes it and the terminal code
//! ([`crate::ui`]) only reads it, so tests can assert on what a person would
//! see without a terminal. Texts are not stored here: each variant is turned
//! into English or Korean by [`crate::text`] when drawn.

use std::time::Duration;

/// The whole screen's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// People online, from `hello` and `online`.
    pub online: Option<u64>,
    /// The socket's state.
    pub connection: Connection,
    /// Where we are in the chat life cycle.
    pub activity: Activity,
    /// The transcript, oldest first.
    pub lines: Vec<ChatLine>,
    /// The partner's typing indicator.
    pub partner_typing: bool,
}

/// The socket's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Connection {
    /// Dialing; `attempt` 0 is the first connection.
    #[default]
    Connecting,
    /// The connection dropped; the next try starts after `after`.
    Reconnecting {
        /// The backoff delay before the next dial.
        after: Duration,
        /// How many tries have failed in a row.
        attempt: u32,
        /// Why the last try failed.
        why: Retry,
    },
    /// The server refused the upgrade with an HTTP status after which
    /// trying again cannot help (401: a login is needed; 403: this origin
    /// or client is not allowed).
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// `resume` sent, waiting for `resumed` (or `error resume_failed`).
    Resuming,
    /// `hello` handled; frames flow.
    Online,
    /// The server closed with a code after which we must not reconnect.
    Closed {
        /// The WebSocket close code (1008 or 4003).
        code: u16,
    },
}

/// Why a reconnect is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// An open connection dropped.
    Lost,
    /// The server could not be reached (nothing answered the dial).
    Unreachable,
    /// The server answered the upgrade with this HTTP status (429, 5xx).
    Status(u16),
}

/// Where we are in the chat life cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Activity {
    /// Not queued, not chatting.
    #[default]
    Idle,
    /// Queued, no partner yet.
    Waiting,
    /// In a room with a stranger.
    Chatting(Partner),
    /// The stranger left; the `reason` from `partner_left`.
    PartnerLeft(String),
}

/// What we know about the current stranger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partner {
    /// Interests we share; empty for a random match.
    pub common_interests: Vec<String>,
    /// The partner's language, when given.
    pub lang: Option<String>,
    /// **(addition)** `matched.partner_bot`: the stranger is a program.
    pub bot: bool,
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatLine {
    /// A line we typed.
    Mine {
        /// Its client id; the server's echo carries it back.
        cid: String,
        /// The room it was typed in (a resend goes only to the same room).
        room: Option<String>,
        /// Our text, replaced by the moderated text once echoed.
        text: String,
        /// Where it is on its way to the partner.
        delivery: Delivery,
    },
    /// A line from the stranger.
    Stranger {
        /// The text as moderated.
        text: String,
        /// Parts were replaced by `*`.
        masked: bool,
        /// The stranger was a bot.
        bot: bool,
    },
    /// Something the client tells the user.
    Notice(Notice),
}

/// The fate of a line we typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent (or waiting for a connection); no echo yet.
    Pending,
    /// The echo arrived: the partner got it (`masked` if parts were hidden).
    Delivered {
        /// Dangerous spans were replaced by `*`.
        masked: bool,
    },
    /// Not delivered.
    Rejected(Rejection),
}

/// Why a line was not delivered: a `rejected` frame, or a local reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `moderation`, `rate_limited`, `too_long`, `not_in_room`, or the
    /// client's own `connection_lost` (the session could not be resumed).
    pub reason: String,
    /// For `moderation`: the filter's category.
    pub category: Option<String>,
}

impl Rejection {
    /// A rejection with no category.
    pub fn new(reason: &str) -> Self {
        Self {
            reason: reason.to_owned(),
            category: None,
        }
    }
}

/// Messages from the client itself, shown in the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A stranger was found (the start of a new chat).
    Matched(Partner),
    /// `partner_left` with its reason.
    PartnerLeft(String),
    /// We sent `leave`.
    YouLeft,
    /// We sent `next` while chatting.
    YouSkipped,
    /// `reported`.
    Reported,
    /// An `error` frame.
    Error {
        /// The code (see `docs/protocol.md`).
        code: String,
    },
    /// A `rejected` frame for a line we cannot find (no `cid`).
    Rejected(Rejection),
    /// The connection dropped.
    ConnectionLost,
    /// A reconnect restored the session.
    Resumed,
    /// The server closed with 1008 or 4003; no reconnect.
    Closed {
        /// The close code.
        code: u16,
    },
    /// A command that needs the server was typed while offline.
    NotConnected,
    /// `/report` without a known reason.
    ReportUsage,
    /// `/something` unknown.
    UnknownCommand(String),
    /// `/help`.
    Help,
}
