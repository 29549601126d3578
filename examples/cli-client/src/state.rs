//! The client's protocol logic as a pure state machine.
//!
//! [`Client::handle`] takes one [`Event`] (a frame from the server, a closed
//! socket, a submitted line, ...) and returns the [`Action`]s to carry out
//! (frames to send, a reconnect to schedule). What the screen shows is in
//! [`Client::view`]. No sockets, no terminal, no clock: the caller owns all
//! I/O, which is what makes every rule below a plain unit test.
//!
//! The rules a copying client most likely needs:
//! - **Echo as ack.** Each line gets a fresh `cid`; it stays pending until
//!   the server echoes it back (`from: "you"` with that `cid`).
//! - **Dedupe by (room, seq).** `seq` is gap-free per room, so a line whose
//!   `seq` is not past the last one seen in this room is a replay we have.
//! - **Resume.** After a drop, the first frame of the new connection is
//!   `resume {token, last_seq, room}`; after `resumed`, pending lines of that
//!   room are sent again with the same `cid` (the server answers a repeated
//!   `cid` with the original echo, so nothing is delivered twice).
//! - **When not to reconnect.** Close 1008 (policy: banned, flooding) and
//!   4003 (this session was resumed by another connection) are final.

use std::time::Duration;

use crate::protocol::{ClientFrame, Search, Sender, ServerFrame};
use crate::view::{
    Activity, ChatLine, Connection, Delivery, Notice, Partner, Rejection, Retry, View,
};

/// Close codes after which reconnecting would be wrong.
pub const FINAL_CLOSE_CODES: [u16; 2] = [1008, 4003];

/// The first reconnect delay; it doubles per failed try up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest reconnect delay (well inside the server's 30 s resume grace).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How many transcript lines are kept.
const MAX_LINES: usize = 1000;

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The caller starts dialing (first connection or a reconnect).
    Dialing,
    /// The WebSocket is open (the server will send `hello`).
    Connected,
    /// A frame arrived.
    Frame(ServerFrame),
    /// The server answered the upgrade with an HTTP status (a `Closed`
    /// follows).
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The socket closed or could not be opened; `code` from the close frame.
    Closed {
        /// The close code, if the server sent one.
        code: Option<u16>,
    },
    /// The input box changed; `empty` tells whether it is now empty.
    InputChanged {
        /// The input box holds no text.
        empty: bool,
    },
    /// The user pressed Enter on this line (the input box is now empty).
    Submit(String),
    /// Ctrl-C.
    Quit,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this frame on the current connection.
    Send(ClientFrame),
    /// Dial again after this delay.
    Reconnect {
        /// The backoff delay.
        after: Duration,
    },
    /// Close the socket and exit.
    Exit,
}

/// The client state machine.
#[derive(Debug)]
pub struct Client {
    view: View,
    /// What `join`/`next` send.
    search: Search,
    /// `hello` (fresh) or `resumed` was handled on the current connection.
    ready: bool,
    /// The token of our session; `None` until the first `hello`.
    token: Option<String>,
    /// The current connection's `hello` token: our session if resume fails.
    fresh_token: Option<String>,
    /// The current or most recent room, and the last `seq` seen in it.
    room: Option<String>,
    last_seq: u64,
    /// The user wants to be queued or chatting (set by join/next/start,
    /// cleared by leave/partner_left); restored after a failed resume.
    wants_chat: bool,
    /// The last `typing.active` we sent (the server's view of us).
    typing_sent: bool,
    next_cid: u64,
    /// Failed connection tries in a row.
    attempt: u32,
    /// The current dial's upgrade succeeded.
    connected: bool,
    /// The current dial was refused with this HTTP status.
    refused: Option<u16>,
    quitting: bool,
}

impl Client {
    /// A client that joins with `search` once connected.
    pub fn new(search: Search) -> Self {
        Self {
            view: View::default(),
            search,
            ready: false,
            token: None,
            fresh_token: None,
            room: None,
            last_seq: 0,
            wants_chat: true,
            typing_sent: false,
            next_cid: 0,
            attempt: 0,
            connected: false,
            refused: None,
            quitting: false,
        }
    }

    /// What the screen shows.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Handles one event and returns what to do, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Dialing => {
                self.view.connection = Connection::Connecting;
                self.connected = false;
                self.refused = None;
            }
            Event::Connected => self.connected = true,
            Event::Refused { status } => self.refused = Some(status),
            Event::Frame(frame) => self.on_frame(frame, &mut out),
            Event::Closed { code } => self.on_closed(code, &mut out),
            Event::InputChanged { empty } => self.set_typing(!empty, &mut out),
            Event::Submit(line) => {
                self.set_typing(false, &mut out);
                self.on_line(&line, &mut out);
            }
            Event::Quit => {
                self.quitting = true;
                // The partner is told at once, not when the resume grace
                // runs out; a search is given up the same way.
                if matches!(
                    self.view.activity,
                    Activity::Waiting | Activity::Chatting(_)
                ) {
                    out.push(Action::Send(ClientFrame::Leave));
                }
                out.push(Action::Exit);
            }
        }
        self.trim_transcript();
        out
    }

    fn on_frame(&mut self, frame: ServerFrame, out: &mut Vec<Action>) {
        match frame {
            ServerFrame::Hello {
                resume_token,
                online,
            } => {
                self.view.online = Some(online);
                self.attempt = 0;
                if let Some(token) = self.token.clone() {
                    // A reconnect: restore the old session before anything else.
                    self.fresh_token = Some(resume_token);
                    self.view.connection = Connection::Resuming;
                    out.push(Action::Send(ClientFrame::Resume {
                        token,
                        last_seq: self.last_seq,
                        room: self.room.clone(),
                    }));
                } else {
                    self.token = Some(resume_token);
                    self.start_fresh_session(out);
                }
            }
            ServerFrame::Resumed { room, resume_token } => {
                self.token = Some(resume_token);
                self.ready = true;
                self.view.connection = Connection::Online;
                self.push(ChatLine::Notice(Notice::Resumed));
                self.on_resumed(room, out);
            }
            ServerFrame::Waiting => {
                self.wants_chat = true;
                self.view.activity = Activity::Waiting;
            }
            ServerFrame::Matched {
                room,
                common_interests,
                partner_lang,
                partner_bot,
            } => {
                let partner = Partner {
                    common_interests,
                    lang: partner_lang,
                    bot: partner_bot,
                };
                self.enter_room(room, partner);
            }
            ServerFrame::Message {
                seq,
                from,
                text,
                cid,
                masked,
            } => self.on_message(seq, from, text, cid, masked),
            ServerFrame::Typing { active } => {
                self.view.partner_typing =
                    active && matches!(self.view.activity, Activity::Chatting(_));
            }
            ServerFrame::PartnerLeft { reason } => {
                self.wants_chat = false;
                self.view.partner_typing = false;
                self.view.activity = Activity::PartnerLeft(reason.clone());
                self.push(ChatLine::Notice(Notice::PartnerLeft(reason)));
            }
            ServerFrame::Rejected {
                cid,
                reason,
                category,
            } => {
                let rejection = Rejection { reason, category };
                match cid.and_then(|cid| self.mine_mut(&cid)) {
                    Some(delivery) => *delivery = Delivery::Rejected(rejection),
                    None => self.push(ChatLine::Notice(Notice::Rejected(rejection))),
                }
            }
            ServerFrame::Reported => self.push(ChatLine::Notice(Notice::Reported)),
            ServerFrame::Online { count } => self.view.online = Some(count),
            ServerFrame::Error { code, .. } => {
                let resume_failed =
                    code == "resume_failed" && self.view.connection == Connection::Resuming;
                self.push(ChatLine::Notice(Notice::Error { code }));
                if resume_failed {
                    // The old session is gone; this connection's `hello`
                    // session is ours now.
                    self.token = self.fresh_token.take();
                    self.start_fresh_session(out);
                }
            }
            ServerFrame::Pong | ServerFrame::Unknown => {}
        }
    }

    /// A new session (first `hello`, or after `resume_failed`): nothing of
    /// the old one survives, so pending lines fail and we queue again if the
    /// user wanted to chat.
    fn start_fresh_session(&mut self, out: &mut Vec<Action>) {
        self.ready = true;
        self.view.connection = Connection::Online;
        self.room = None;
        self.last_seq = 0;
        self.fail_pending(|_| true, "connection_lost");
        if matches!(self.view.activity, Activity::Chatting(_)) {
            self.view.activity = Activity::Idle;
        }
        if self.wants_chat {
            out.push(Action::Send(ClientFrame::Join(self.search.clone())));
        }
    }

    fn on_resumed(&mut self, room: Option<String>, out: &mut Vec<Action>) {
        match room {
            Some(room) if self.room.as_ref() == Some(&room) => {
                // Same room: the server replays every line past `last_seq`.
                // Lines still pending may or may not have arrived; sending
                // them again with the same cid is safe either way.
                for line in &self.view.lines {
                    if let ChatLine::Mine {
                        cid,
                        room: Some(line_room),
                        text,
                        delivery: Delivery::Pending,
                    } = line
                        && *line_room == room
                    {
                        out.push(Action::Send(ClientFrame::Send {
                            text: text.clone(),
                            cid: cid.clone(),
                        }));
                    }
                }
                self.fail_pending(|line_room| line_room != Some(&room), "not_in_room");
            }
            Some(room) => {
                // Matched while the `matched` frame was lost in the drop.
                self.fail_pending(|_| true, "not_in_room");
                self.enter_room(room, Partner::default());
            }
            None => {
                self.fail_pending(|_| true, "not_in_room");
                self.view.activity = Activity::Idle;
                if self.wants_chat {
                    // A session that dropped while waiting left the queue.
                    out.push(Action::Send(ClientFrame::Join(self.search.clone())));
                }
            }
        }
    }

    fn enter_room(&mut self, room: String, partner: Partner) {
        self.wants_chat = true;
        self.room = Some(room);
        self.last_seq = 0;
        // The server's typing state is per chat; it starts off.
        self.typing_sent = false;
        self.view.partner_typing = false;
        self.view.activity = Activity::Chatting(partner.clone());
        self.push(ChatLine::Notice(Notice::Matched(partner)));
    }

    fn on_message(
        &mut self,
        seq: u64,
        from: Sender,
        text: String,
        cid: Option<String>,
        masked: bool,
    ) {
        if seq <= self.last_seq {
            // Already shown: a replay after resume, or the echo of a resent line.
            return;
        }
        self.last_seq = seq;
        match from {
            Sender::You => {
                let delivered = Delivery::Delivered { masked };
                let line = cid.as_deref().and_then(|cid| self.mine_line_mut(cid));
                match line {
                    Some(ChatLine::Mine {
                        text: shown,
                        delivery,
                        ..
                    }) => {
                        // Show the text as moderated, not as typed.
                        *shown = text;
                        *delivery = delivered;
                    }
                    _ => self.push(ChatLine::Mine {
                        cid: cid.unwrap_or_default(),
                        room: self.room.clone(),
                        text,
                        delivery: delivered,
                    }),
                }
            }
            Sender::Stranger => {
                let bot = matches!(&self.view.activity, Activity::Chatting(p) if p.bot);
                self.view.partner_typing = false;
                // Our lines still waiting for their echo have no place yet:
                // a line from the stranger (one the server numbered before
                // them, replayed after a resume) goes above them, as in the
                // partner's window.
                let line = ChatLine::Stranger { text, masked, bot };
                let pending = self.view.lines.iter().position(|line| {
                    matches!(
                        line,
                        ChatLine::Mine {
                            delivery: Delivery::Pending,
                            ..
                        }
                    )
                });
                match pending {
                    Some(at) => self.view.lines.insert(at, line),
                    None => self.push(line),
                }
            }
        }
    }

    fn on_closed(&mut self, code: Option<u16>, out: &mut Vec<Action>) {
        self.ready = false;
        self.typing_sent = false;
        self.view.partner_typing = false;
        if self.quitting {
            return;
        }
        if let Some(code) = code.filter(|code| FINAL_CLOSE_CODES.contains(code)) {
            self.view.connection = Connection::Closed { code };
            self.push(ChatLine::Notice(Notice::Closed { code }));
            return;
        }
        // Refused for good (a login or origin the server wants): retrying
        // cannot help; say what to do instead.
        if let Some(status @ (401 | 403)) = self.refused {
            self.view.connection = Connection::Refused { status };
            return;
        }
        if self.view.connection == Connection::Online {
            self.push(ChatLine::Notice(Notice::ConnectionLost));
        }
        let why = match (self.refused, self.connected) {
            (Some(status), _) => Retry::Status(status),
            (None, false) => Retry::Unreachable,
            (None, true) => Retry::Lost,
        };
        self.attempt += 1;
        let after = backoff(self.attempt);
        self.view.connection = Connection::Reconnecting {
            after,
            attempt: self.attempt,
            why,
        };
        out.push(Action::Reconnect { after });
    }

    /// Marks pending lines whose room matches `which` as not delivered.
    fn fail_pending(&mut self, which: impl Fn(Option<&String>) -> bool, reason: &str) {
        for line in &mut self.view.lines {
            if let ChatLine::Mine { room, delivery, .. } = line
                && *delivery == Delivery::Pending
                && which(room.as_ref())
            {
                *delivery = Delivery::Rejected(Rejection::new(reason));
            }
        }
    }

    fn mine_line_mut(&mut self, wanted: &str) -> Option<&mut ChatLine> {
        self.view
            .lines
            .iter_mut()
            .rev()
            .find(|line| matches!(line, ChatLine::Mine { cid, .. } if cid == wanted))
    }

    fn mine_mut(&mut self, wanted: &str) -> Option<&mut Delivery> {
        match self.mine_line_mut(wanted)? {
            ChatLine::Mine { delivery, .. } => Some(delivery),
            _ => None,
        }
    }

    fn push(&mut self, line: ChatLine) {
        self.view.lines.push(line);
    }

    fn trim_transcript(&mut self) {
        if self.view.lines.len() > MAX_LINES {
            let excess = self.view.lines.len() - MAX_LINES;
            self.view.lines.drain(..excess);
        }
    }
}

/// The delay before reconnect try `attempt` (1-based): 0.5 s, 1 s, 2 s, 4 s,
/// then 8 s.
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

mod user;

#[cfg(test)]
mod tests;
