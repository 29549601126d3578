//! `quicktalk-bot`: runs a [`quicktalk_bot::Bot`] against a QuickTalk server.
//!
//! ```text
//! quicktalk --allow-bots &
//! quicktalk-bot --url ws://127.0.0.1:8080/ws --interests music --lines 5
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use quicktalk_bot::{Bot, BotConfig, Replies, Step};
use quicktalk_core::protocol::ServerFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A QuickTalk stranger that is a program (needs a server started with --allow-bots).
#[derive(Debug, Parser)]
#[command(name = "quicktalk-bot", version)]
struct Args {
    /// The server's WebSocket URL.
    #[arg(
        long,
        env = "QUICKTALK_BOT_URL",
        default_value = "ws://127.0.0.1:8080/ws"
    )]
    url: String,
    /// Interests to join with, comma-separated.
    #[arg(long, value_delimiter = ',')]
    interests: Vec<String>,
    /// Language to join with (e.g. `ko` or `en`; none: anyone).
    #[arg(long)]
    lang: Option<String>,
    /// Lines answered per chat before moving on to the next stranger.
    #[arg(long, default_value_t = 5)]
    lines: u32,
    /// A script file: one reply per line, used in order (default: echo).
    #[arg(long)]
    script: Option<PathBuf>,
    /// First line of every chat ("" for none).
    #[arg(
        long,
        default_value = "Hi! I'm a QuickTalk bot 🤖 / 안녕하세요, 저는 봇이에요 🤖"
    )]
    greeting: String,
    /// Milliseconds the bot "types" before each line.
    #[arg(long, default_value_t = 800)]
    reply_delay_ms: u64,
    /// Stop after this many chats (default: run until stopped).
    #[arg(long)]
    chats: Option<u32>,
}

/// How one connection ended.
enum Ended {
    /// The bot is done (or cannot go on): exit with this.
    Stop { ok: bool, message: String },
    /// The connection was lost: connect again.
    Lost(String),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let replies = match &args.script {
        None => Replies::Echo,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Replies::Script(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Err(error) => {
                eprintln!("error: --script {}: {error}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    // A URL the bot could never dial is a start-up error, not a reconnect loop.
    if !(args.url.starts_with("ws://") || args.url.starts_with("wss://")) {
        eprintln!(
            "error: --url {:?}: a WebSocket URL starts with ws:// or wss:// \
             (for example ws://127.0.0.1:8080/ws)",
            args.url
        );
        return ExitCode::from(2);
    }
    if args.lines == 0 {
        eprintln!("error: --lines must be at least 1");
        return ExitCode::from(2);
    }
    let mut bot = Bot::new(BotConfig {
        interests: args.interests.clone(),
        lang: args.lang.clone(),
        greeting: Some(args.greeting.clone()).filter(|g| !g.is_empty()),
        replies,
        lines_per_chat: args.lines,
        reply_delay: Duration::from_millis(args.reply_delay_ms),
        max_chats: args.chats,
    });
    // Ctrl-C: a chat in progress is left first (its stranger is told at
    // once, not when the resume grace runs out), then the bot exits.
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    // Reconnects with a growing pause while the server is away.
    let mut backoff = Duration::from_millis(500);
    loop {
        let ended = run_connection(&args.url, &mut bot, &mut stop).await;
        match ended {
            Ended::Stop { ok, message } => {
                eprintln!("quicktalk-bot: {message} ({} chats)", bot.chats());
                return if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                };
            }
            Ended::Lost(reason) => {
                eprintln!("quicktalk-bot: {reason}; reconnecting in {backoff:?}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&mut stop) => {
                        eprintln!("quicktalk-bot: stopped ({} chats)", bot.chats());
                        return ExitCode::SUCCESS;
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Returns once a stop was asked for.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One connection: feeds every server frame to the bot and carries out its
/// steps, until the connection ends or a stop is asked for.
async fn run_connection(
    url: &str,
    bot: &mut Bot,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Ended {
    let stop_message = || Ended::Stop {
        ok: true,
        message: "stopped".into(),
    };
    // Nagle off, as browsers have it: a reply written just after the
    // automatic pong would otherwise wait for that pong's ACK.
    let connect = tokio_tungstenite::connect_async_with_config(url, None, true);
    let (mut socket, _) = tokio::select! {
        connected = connect => match connected {
            Ok(connected) => connected,
            Err(error) => return Ended::Lost(format!("cannot connect to {url}: {error}")),
        },
        () = stopped(stop) => return stop_message(),
    };
    eprintln!("quicktalk-bot: connected to {url}");
    loop {
        let message = tokio::select! {
            message = socket.next() => message,
            () = stopped(stop) => {
                // `leave` outside a chat changes nothing; the close
                // follows at once.
                let leave = r#"{"type":"leave"}"#;
                let _ = socket.send(Message::Text(leave.into())).await;
                let _ = socket.close(None).await;
                return stop_message();
            }
        };
        let Some(message) = message else {
            break;
        };
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                let code = frame.as_ref().map(|f| f.code);
                // 1008: banned or flooding; 4003: another copy resumed us.
                if matches!(
                    code,
                    Some(CloseCode::Policy) | Some(CloseCode::Library(4003))
                ) {
                    return Ended::Stop {
                        ok: false,
                        message: format!("the server closed the connection: {frame:?}"),
                    };
                }
                return Ended::Lost(format!("closed by the server: {frame:?}"));
            }
            Ok(_) => continue,
            Err(error) => return Ended::Lost(format!("connection lost: {error}")),
        };
        // Frames this bot does not know (a newer server) are skipped.
        let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
            continue;
        };
        for step in bot.on_frame(frame) {
            match step {
                Step::Send(frame) => {
                    let json = serde_json::to_string(&frame).expect("client frames serialize");
                    if let Err(error) = socket.send(Message::Text(json.into())).await {
                        return Ended::Lost(format!("send failed: {error}"));
                    }
                }
                Step::Pause(pause) => tokio::time::sleep(pause).await,
                Step::Stop { ok, message } => {
                    let _ = socket.close(None).await;
                    return Ended::Stop { ok, message };
                }
            }
        }
    }
    Ended::Lost("the connection ended".into())
}
