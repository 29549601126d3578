//! The user's side of the state machine: submitted lines and the typing
//! indicator. Split from `state.rs`, which handles what the server sends.

use super::{Action, Client};
use crate::command::{self, Command, CommandError};
use crate::protocol::ClientFrame;
use crate::view::{Activity, ChatLine, Connection, Delivery, Notice, Rejection};

impl Client {
    /// Sends `typing` only when our state changes, and only in a room.
    pub(super) fn set_typing(&mut self, active: bool, out: &mut Vec<Action>) {
        let in_room = matches!(self.view.activity, Activity::Chatting(_));
        if !self.ready || !in_room || active == self.typing_sent {
            return;
        }
        self.typing_sent = active;
        out.push(Action::Send(ClientFrame::Typing { active }));
    }

    /// Acts on a submitted line: a chat line or a command.
    pub(super) fn on_line(&mut self, line: &str, out: &mut Vec<Action>) {
        let command = match command::parse(line) {
            Ok(command) => command,
            Err(CommandError::Empty) => return,
            Err(CommandError::ReportUsage) => {
                return self.push(ChatLine::Notice(Notice::ReportUsage));
            }
            Err(CommandError::Unknown(name)) => {
                return self.push(ChatLine::Notice(Notice::UnknownCommand(name)));
            }
        };
        match command {
            Command::Say(text) => {
                self.next_cid += 1;
                let cid = format!("cli-{}", self.next_cid);
                let delivery = if matches!(self.view.connection, Connection::Closed { .. }) {
                    // No reconnect is coming: the line can never go out.
                    Delivery::Rejected(Rejection::new("connection_lost"))
                } else {
                    if self.ready {
                        out.push(Action::Send(ClientFrame::Send {
                            text: text.clone(),
                            cid: cid.clone(),
                        }));
                    }
                    // Offline, the line waits and goes out after `resumed`.
                    Delivery::Pending
                };
                self.push(ChatLine::Mine {
                    cid,
                    room: self.room.clone(),
                    text,
                    delivery,
                });
            }
            Command::Help => self.push(ChatLine::Notice(Notice::Help)),
            Command::Quit => {
                self.quitting = true;
                out.push(Action::Exit);
            }
            _ if !self.ready => self.push(ChatLine::Notice(Notice::NotConnected)),
            Command::Join => {
                self.wants_chat = true;
                out.push(Action::Send(ClientFrame::Join(self.search.clone())));
            }
            Command::Next => {
                self.wants_chat = true;
                self.view.partner_typing = false;
                if matches!(self.view.activity, Activity::Chatting(_)) {
                    self.push(ChatLine::Notice(Notice::YouSkipped));
                }
                out.push(Action::Send(ClientFrame::Next(self.search.clone())));
            }
            Command::Leave => {
                // The server answers `leave` with nothing, so update here.
                self.wants_chat = false;
                self.view.partner_typing = false;
                self.view.activity = Activity::Idle;
                self.push(ChatLine::Notice(Notice::YouLeft));
                out.push(Action::Send(ClientFrame::Leave));
            }
            Command::Report { reason, note } => {
                out.push(Action::Send(ClientFrame::Report { reason, note }));
            }
        }
    }
}
