//! A QuickTalk stranger that is a program: it waits for a partner, greets,
//! answers each line (echo, or the next line of a script), and moves on to
//! the next stranger after a few lines. It joins with `bot: true`, so its
//! partners see `matched {partner_bot: true}` and the page labels it; the
//! server must be started with `--allow-bots`.
//!
//! The conversation logic is [`Bot`], a pure state machine: a server frame
//! in, the steps to take out. `main.rs` does the socket I/O, so this file is
//! what to copy when you write your own bot.

use std::time::Duration;

use quicktalk_core::protocol::{
    ClientFrame, ErrorCode, JoinRequest, SendRequest, Sender, ServerFrame,
};

/// How the bot answers a stranger's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replies {
    /// Repeat the line back.
    Echo,
    /// The next line of a script, in order, starting over at the end.
    Script(Vec<String>),
}

/// What the bot does in a chat.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Interests it joins with.
    pub interests: Vec<String>,
    /// Language it joins with (`None`: anyone).
    pub lang: Option<String>,
    /// First line in every chat (`None`: wait for the stranger).
    pub greeting: Option<String>,
    /// How it answers.
    pub replies: Replies,
    /// Lines it answers in one chat before it moves on (`next`).
    pub lines_per_chat: u32,
    /// How long it "types" before each line it sends.
    pub reply_delay: Duration,
    /// Chats after which it stops (`None`: never).
    pub max_chats: Option<u32>,
}

/// One thing for the I/O loop to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this frame.
    Send(ClientFrame),
    /// Wait this long (a typing pause) before the next step.
    Pause(Duration),
    /// Stop the bot and exit with this message (`ok`: a normal end).
    Stop {
        /// A normal end (the configured number of chats) or an error.
        ok: bool,
        /// What to tell the operator.
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connected, not queued.
    Idle,
    /// Queued.
    Waiting,
    /// In a chat: lines answered so far.
    Chatting { answered: u32 },
}

/// The bot's conversation state.
#[derive(Debug)]
pub struct Bot {
    config: BotConfig,
    phase: Phase,
    chats: u32,
    script_at: usize,
    next_cid: u64,
}

impl Bot {
    /// A bot that has not connected yet.
    pub fn new(config: BotConfig) -> Self {
        Self {
            config,
            phase: Phase::Idle,
            chats: 0,
            script_at: 0,
            next_cid: 0,
        }
    }

    /// Chats started so far.
    pub fn chats(&self) -> u32 {
        self.chats
    }

    /// What to do about one frame from the server.
    pub fn on_frame(&mut self, frame: ServerFrame) -> Vec<Step> {
        match frame {
            // A fresh connection (first or after a reconnect): queue up.
            ServerFrame::Hello(_) => {
                self.phase = Phase::Idle;
                vec![self.join(false)]
            }
            ServerFrame::Waiting => {
                self.phase = Phase::Waiting;
                Vec::new()
            }
            ServerFrame::Matched(_) => {
                self.chats += 1;
                self.phase = Phase::Chatting { answered: 0 };
                match self.config.greeting.clone() {
                    Some(greeting) => self.say(greeting),
                    None => Vec::new(),
                }
            }
            ServerFrame::Message(line) if line.from == Sender::Stranger => self.answer(&line.text),
            ServerFrame::PartnerLeft { .. } => {
                self.phase = Phase::Idle;
                match self.finished() {
                    Some(stop) => vec![stop],
                    None => vec![Step::Pause(Duration::from_millis(500)), self.join(false)],
                }
            }
            ServerFrame::Error(error) => match error.code {
                ErrorCode::BotsNotAllowed => vec![Step::Stop {
                    ok: false,
                    message:
                        "this server does not allow bots (its operator starts it with --allow-bots)"
                            .into(),
                }],
                ErrorCode::Banned => vec![Step::Stop {
                    ok: false,
                    message: "the server banned this bot".into(),
                }],
                // Anything else (a line refused, a join at the wrong time)
                // is not worth stopping for.
                _ => Vec::new(),
            },
            // Own echoes, typing, online counts, rejected lines, pongs.
            _ => Vec::new(),
        }
    }

    /// Answers a stranger's line, and moves on after `lines_per_chat`.
    fn answer(&mut self, text: &str) -> Vec<Step> {
        let Phase::Chatting { answered } = self.phase else {
            return Vec::new();
        };
        let answered = answered + 1;
        self.phase = Phase::Chatting { answered };
        let reply = match &self.config.replies {
            Replies::Echo => text.to_owned(),
            Replies::Script(lines) if lines.is_empty() => text.to_owned(),
            Replies::Script(lines) => {
                let line = lines[self.script_at % lines.len()].clone();
                self.script_at += 1;
                line
            }
        };
        let mut steps = self.say(reply);
        if answered >= self.config.lines_per_chat {
            self.phase = Phase::Idle;
            // `next` ends the chat (the stranger is told `skipped`) and
            // queues again, unless this was the last chat.
            match self.finished() {
                Some(stop) => steps.extend([Step::Send(ClientFrame::Leave), stop]),
                None => steps.push(self.join(true)),
            }
        }
        steps
    }

    /// A line with a typing pause before it.
    fn say(&mut self, text: String) -> Vec<Step> {
        self.next_cid += 1;
        vec![
            Step::Send(ClientFrame::Typing { active: true }),
            Step::Pause(self.config.reply_delay),
            Step::Send(ClientFrame::Send(SendRequest {
                text,
                cid: Some(format!("bot-{}", self.next_cid)),
            })),
        ]
    }

    /// `join` (or `next`) with the bot label.
    fn join(&mut self, next: bool) -> Step {
        self.phase = Phase::Waiting;
        let request = JoinRequest {
            interests: self.config.interests.clone(),
            lang: self.config.lang.clone(),
            bot: true,
        };
        Step::Send(if next {
            ClientFrame::Next(request)
        } else {
            ClientFrame::Join(request)
        })
    }

    fn finished(&self) -> Option<Step> {
        let max = self.config.max_chats?;
        (self.chats >= max).then(|| Step::Stop {
            ok: true,
            message: "done".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use quicktalk_core::RoomId;
    use quicktalk_core::protocol::{ErrorFrame, Matched, MessageFrame, PartnerLeftReason};

    use super::*;

    fn config(replies: Replies) -> BotConfig {
        BotConfig {
            interests: vec!["music".into()],
            lang: Some("en".into()),
            greeting: Some("hi, I am a bot".into()),
            replies,
            lines_per_chat: 2,
            reply_delay: Duration::from_millis(10),
            max_chats: Some(2),
        }
    }

    fn matched() -> ServerFrame {
        ServerFrame::Matched(Matched {
            room: RoomId::from_raw(1),
            common_interests: vec![],
            partner_lang: None,
            partner_bot: false,
        })
    }

    fn stranger(seq: u64, text: &str) -> ServerFrame {
        ServerFrame::Message(MessageFrame {
            seq,
            from: Sender::Stranger,
            text: text.into(),
            ts: 0,
            cid: None,
            masked: false,
        })
    }

    fn sent_texts(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(ClientFrame::Send(send)) => Some(send.text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_join_declares_the_bot() {
        let mut bot = Bot::new(config(Replies::Echo));
        let steps = bot.on_frame(ServerFrame::Waiting);
        assert!(steps.is_empty());
        let Step::Send(ClientFrame::Join(request)) = bot.join(false) else {
            panic!("join expected");
        };
        assert!(request.bot);
        assert_eq!(request.interests, ["music"]);
    }

    #[test]
    fn echo_greets_answers_then_moves_on_with_next() {
        let mut bot = Bot::new(config(Replies::Echo));
        let greeting = bot.on_frame(matched());
        assert_eq!(sent_texts(&greeting), ["hi, I am a bot"]);
        assert_eq!(
            greeting[0],
            Step::Send(ClientFrame::Typing { active: true }),
            "types before it speaks"
        );
        assert_eq!(sent_texts(&bot.on_frame(stranger(2, "hello"))), ["hello"]);
        let second = bot.on_frame(stranger(4, "how are you"));
        assert_eq!(sent_texts(&second), ["how are you"]);
        assert!(
            matches!(second.last(), Some(Step::Send(ClientFrame::Next(r))) if r.bot),
            "moves on after lines_per_chat: {second:?}"
        );
        // Its own echo is not answered.
        let mut own = stranger(5, "x");
        if let ServerFrame::Message(line) = &mut own {
            line.from = Sender::You;
        }
        assert!(bot.on_frame(own).is_empty());
    }

    #[test]
    fn a_script_is_followed_in_order_and_wraps() {
        let mut bot = Bot::new(BotConfig {
            lines_per_chat: 10,
            ..config(Replies::Script(vec!["one".into(), "two".into()]))
        });
        bot.on_frame(matched());
        let replies: Vec<String> = (1..=3)
            .flat_map(|seq| sent_texts(&bot.on_frame(stranger(seq, "?"))))
            .collect();
        assert_eq!(replies, ["one", "two", "one"]);
    }

    #[test]
    fn it_rejoins_when_left_and_stops_after_max_chats() {
        let mut bot = Bot::new(config(Replies::Echo));
        bot.on_frame(matched());
        let steps = bot.on_frame(ServerFrame::PartnerLeft {
            reason: PartnerLeftReason::Left,
        });
        assert!(matches!(
            steps.last(),
            Some(Step::Send(ClientFrame::Join(_)))
        ));
        bot.on_frame(matched());
        bot.on_frame(stranger(1, "a"));
        let last = bot.on_frame(stranger(2, "b"));
        assert!(
            matches!(last.last(), Some(Step::Stop { ok: true, .. })),
            "{last:?}"
        );
        assert!(last.contains(&Step::Send(ClientFrame::Leave)));
    }

    #[test]
    fn a_server_without_bots_stops_it_with_a_clear_message() {
        let mut bot = Bot::new(config(Replies::Echo));
        let steps = bot.on_frame(ServerFrame::Error(ErrorFrame {
            code: ErrorCode::BotsNotAllowed,
            message: String::new(),
        }));
        let [Step::Stop { ok: false, message }] = &steps[..] else {
            panic!("stop expected: {steps:?}");
        };
        assert!(message.contains("--allow-bots"));
    }
}
