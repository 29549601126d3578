//! QuickTalk over plain TCP: one line in, one line out, usable with `nc`.
//!
//! The engine (`quicktalk-core`) knows nothing of sockets: this file is the
//! whole transport. Each TCP connection becomes an engine session; typed
//! commands become engine calls, and engine frames become readable lines.
//!
//! ```text
//! cargo run -p quicktalk-example-tcp-chat -- --bind 127.0.0.1:7000
//! nc 127.0.0.1 7000        (in two terminals)
//! /join music              -> * waiting for a stranger...
//!                          -> * matched, common interests: music
//! hello!                   -> you: hello!        (the other side: stranger: hello!)
//! /next  /leave  /report spam  /quit
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use quicktalk_core::protocol::{
    JoinRequest, PartnerLeftReason, RejectReason, ReportReason, ReportRequest, Sender, ServerFrame,
};
use quicktalk_core::{ClientKey, Engine, EngineConfig, Event, SessionHandle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// The longest line a client may send, in bytes.
const MAX_LINE_BYTES: usize = 4096;

/// QuickTalk's chat engine over a line-based TCP protocol.
#[derive(Debug, Parser)]
#[command(name = "quicktalk-tcp-chat", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7000")]
    bind: SocketAddr,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let filter = std::sync::Arc::new(quicktalk_nlp::Filter::new());
    // The filter builds its masked variants' index and contact patterns on
    // first use: build them now, on a thread of their own, not in the first
    // line that needs them.
    let prepared = std::sync::Arc::clone(&filter);
    std::thread::spawn(move || prepared.prepare());
    // The engine with the reference server's filter (quicktalk-nlp, its
    // built-in Korean and English lists) and an in-memory store (this
    // example keeps no files), and one change: a person reading in `nc`
    // sends nothing for minutes, so no idle close before ten minutes.
    let engine = Engine::builder()
        .config(EngineConfig {
            idle_timeout: Duration::from_secs(600),
            ..EngineConfig::default()
        })
        .moderator(filter)
        .build()
        .map_err(std::io::Error::other)?;
    let listener = match TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "quicktalk-tcp-chat: cannot listen on {}: {error}",
                args.bind
            );
            std::process::exit(1);
        }
    };
    // The first line tells scripts (and the test) where we listen.
    println!("listening on {}", listener.local_addr()?);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, peer) = accepted?;
                tokio::spawn(serve(engine.clone(), socket, peer));
            }
            _ = tokio::signal::ctrl_c() => {
                // Every session is told (`* closed: ...`) before we exit.
                engine.shutdown(Duration::from_secs(2)).await;
                return Ok(());
            }
        }
    }
}

const HELP: &str = "* QuickTalk over TCP. Commands: /join [interest ...] [@lang], /next, /leave, \
/report <spam|harassment|sexual|hate|self_harm|minor|other> [note], /help, /quit. \
Anything else is a chat line.";

/// One TCP connection = one engine session.
async fn serve(engine: Engine, socket: TcpStream, peer: SocketAddr) {
    let (read, write) = socket.into_split();
    let mut input = LineReader::new(read);
    let mut lines = LineWriter(write);
    // The client key groups connections for report blocks and bans; a real
    // deployment hashes the IP with a secret (see quicktalk-server).
    let key = ClientKey::new(peer.ip().to_string());
    let (handle, mut events) = match engine.connect(key).await {
        Ok(session) => session,
        Err(error) => {
            let _ = lines.send(format!("* refused: {error}")).await;
            return;
        }
    };
    let _ = lines.send(HELP).await;
    let mut next_cid = 0u64;
    loop {
        tokio::select! {
            // What the engine says, as lines.
            event = events.recv() => match event {
                Some(Event::Frame(frame)) => {
                    if let Some(text) = render(&frame) {
                        if lines.send(text).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Event::Close(reason)) => {
                    let _ = lines.send(format!("* closed: {}", reason.message())).await;
                    break;
                }
                None => break,
            },
            // What the person types, as engine calls.
            line = input.next() => match line {
                Ok(Some(Line::Text(line))) => {
                    if !command(&handle, line.trim(), &mut next_cid, &mut lines).await {
                        break;
                    }
                }
                Ok(Some(Line::TooLong)) => {
                    // Skipped up to its newline; the session goes on.
                    let _ = lines
                        .send(format!("! that line is longer than {MAX_LINE_BYTES} bytes; not sent"))
                        .await;
                }
                Ok(Some(Line::NotUtf8)) => {
                    let _ = lines.send("! that line is not UTF-8 text; not sent").await;
                }
                // Hung up (nc closed) or a socket error.
                Ok(None) | Err(_) => break,
            },
        }
    }
    // There is no resume over this transport: leaving now tells the partner
    // at once instead of after the resume grace.
    handle.leave();
    handle.disconnect();
}

/// Carries out one typed line; `false` ends the connection.
async fn command(
    handle: &SessionHandle,
    line: &str,
    next_cid: &mut u64,
    lines: &mut LineWriter,
) -> bool {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        "" => {
            let _ = lines
                .send("! an empty line is not sent; type some text, or /help")
                .await;
        }
        "/join" => handle.join(join_request(rest)),
        "/next" => handle.next(join_request(rest)),
        "/leave" => handle.leave(),
        "/report" => {
            let (reason, note) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
            // The protocol's reason names, parsed by the protocol's own type.
            match serde_json::from_value::<ReportReason>(reason.into()) {
                Ok(reason) => {
                    let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
                    handle.report(ReportRequest { reason, note }).await;
                }
                Err(_) => {
                    let _ = lines
                        .send("! usage: /report <spam|harassment|sexual|hate|self_harm|minor|other> [note]")
                        .await;
                }
            }
        }
        "/help" => {
            let _ = lines.send(HELP).await;
        }
        "/quit" => return false,
        _ if word.starts_with('/') => {
            let _ = lines
                .send(format!("! unknown command {word}; /help lists them"))
                .await;
        }
        // Anything else is a chat line; the cid lets the echo be matched.
        _ => {
            *next_cid += 1;
            handle.send(line, Some(&next_cid.to_string()));
        }
    }
    true
}

/// `/join music books @ko`: interests, and a language after `@`.
fn join_request(args: &str) -> JoinRequest {
    let mut request = JoinRequest::default();
    for word in args.split_whitespace() {
        match word.strip_prefix('@') {
            Some(lang) => request.lang = Some(lang.to_owned()),
            None => request.interests.push(word.to_owned()),
        }
    }
    request
}

/// One engine frame as a line for a person (`None`: nothing worth showing).
fn render(frame: &ServerFrame) -> Option<String> {
    Some(match frame {
        ServerFrame::Hello(hello) => format!("* connected; {} online", hello.online),
        ServerFrame::Waiting => "* waiting for a stranger...".into(),
        ServerFrame::Matched(matched) => {
            let mut text = if matched.common_interests.is_empty() {
                "* matched with a random stranger".to_owned()
            } else {
                format!(
                    "* matched, common interests: {}",
                    matched.common_interests.join(", ")
                )
            };
            if matched.partner_bot {
                text.push_str(" (the stranger is a bot)");
            }
            text
        }
        ServerFrame::Message(line) => {
            let who = match line.from {
                Sender::You => "you",
                Sender::Stranger => "stranger",
            };
            let masked = if line.masked { " [masked]" } else { "" };
            format!("{who}: {}{masked}", line.text)
        }
        ServerFrame::Typing { active: true } => "* stranger is typing...".into(),
        ServerFrame::Typing { active: false } => return None,
        ServerFrame::PartnerLeft { reason } => {
            let how = match reason {
                PartnerLeftReason::Left => "left",
                PartnerLeftReason::Skipped => "skipped to someone new",
                PartnerLeftReason::Disconnected => "lost their connection",
                PartnerLeftReason::Timeout => "went quiet for too long",
                PartnerLeftReason::Removed => "was removed by moderation",
            };
            format!("* the stranger {how}; /join to find another")
        }
        ServerFrame::Rejected(rejected) => match (rejected.reason, &rejected.category) {
            (RejectReason::Moderation, Some(category)) => {
                format!("! not sent: blocked by the filter ({category})")
            }
            (RejectReason::TooLong, _) => "! not sent: too long for one line".into(),
            (RejectReason::RateLimited, _) => "! not sent: too fast; wait a moment".into(),
            (RejectReason::NotInRoom, _) => "! not sent: you are not in a chat; /join first".into(),
            (reason, _) => format!("! not sent: {}", reason.as_str()),
        },
        ServerFrame::Reported => "* report sent to the moderators".into(),
        ServerFrame::Online { count } => format!("* {count} online"),
        // The engine's messages name protocol frames; here they are commands.
        ServerFrame::Error(error) => format!(
            "! {}: {}",
            error.code,
            error
                .message
                .replace("`join`", "/join")
                .replace("`next`", "/next")
                .replace("`leave`", "/leave")
        ),
        ServerFrame::Resumed(_) | ServerFrame::Pong => return None,
    })
}

/// Writes lines to the socket.
struct LineWriter(OwnedWriteHalf);

impl LineWriter {
    async fn send(&mut self, line: impl AsRef<str>) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.as_ref().len() + 1);
        bytes.extend_from_slice(line.as_ref().as_bytes());
        bytes.push(b'\n');
        self.0.write_all(&bytes).await
    }
}

/// One line a client typed.
enum Line {
    Text(String),
    /// Longer than [`MAX_LINE_BYTES`]; it was read to its end and dropped.
    TooLong,
    NotUtf8,
}

/// Reads lines of at most [`MAX_LINE_BYTES`] without ever buffering more.
/// [`LineReader::next`] is cancel-safe (it runs inside `select!`): the
/// partial line lives in the struct, and bytes are consumed only once
/// copied there.
struct LineReader {
    reader: BufReader<OwnedReadHalf>,
    partial: Vec<u8>,
    too_long: bool,
}

impl LineReader {
    fn new(read: OwnedReadHalf) -> Self {
        Self {
            reader: BufReader::new(read),
            partial: Vec::new(),
            too_long: false,
        }
    }

    /// The next line; `None` at end of input.
    async fn next(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let (taken, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => (&chunk[..end], Some(end + 1)),
                None => (chunk, None),
            };
            if !self.too_long {
                self.partial.extend_from_slice(taken);
                if self.partial.len() > MAX_LINE_BYTES {
                    self.too_long = true;
                    self.partial = Vec::new();
                }
            }
            let consumed = complete.unwrap_or(chunk.len());
            self.reader.consume(consumed);
            if complete.is_some() {
                let line = std::mem::take(&mut self.partial);
                if std::mem::take(&mut self.too_long) {
                    return Ok(Some(Line::TooLong));
                }
                return Ok(Some(match String::from_utf8(line) {
                    Ok(text) => Line::Text(text),
                    Err(_) => Line::NotUtf8,
                }));
            }
        }
    }
}
