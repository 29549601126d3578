//! Run with: `cargo run -p quicktalk-cli -- --url ws://127.0.0.1:8080/ws --interests music`
//!
//! A terminal client for QuickTalk's anonymous one-to-one chat, written from
//! `docs/protocol.md` alone (it does not use the server's crates). Expect a
//! full-screen chat: the online count, a status line (connecting, waiting,
//! matched with common interests, partner left), the transcript with your
//! lines marked pending until the server's echo acknowledges them, the
//! partner's typing indicator and an input box. Type `/help` for commands.
//!
//! # Overview
//! - [`protocol`]: the JSON frames, with serde.
//! - [`state`]: the protocol logic as a pure state machine (events in, frames
//!   and a view model out), unit-tested without a terminal or a socket.
//! - [`command`]: parsing `/next`, `/report spam ...` and chat lines.
//! - [`view`] and [`text`]: what the screen shows, and its English and
//!   Korean wording.
//! - [`net`], [`input`], [`ui`], [`app`]: the socket task, the input box,
//!   drawing with ratatui, and the event loop that joins them.

mod app;
mod command;
mod input;
mod net;
mod protocol;
mod state;
mod text;
mod ui;
mod view;

use std::process::ExitCode;

use clap::Parser;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::protocol::Search;
use crate::text::Ui;

/// QuickTalk terminal client: anonymous random one-to-one chat.
#[derive(Debug, Parser)]
#[command(name = "quicktalk-cli", version, about)]
struct Args {
    /// The server's WebSocket endpoint.
    #[arg(long, env = "QUICKTALK_URL", default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// Interests to be matched on, comma-separated (e.g. `music,books`).
    #[arg(long, value_delimiter = ',')]
    interests: Vec<String>,
    /// Only meet people who gave this language (a primary subtag: `en`, `ko`).
    #[arg(long)]
    lang: Option<String>,
    /// Show the interface in Korean.
    #[arg(long)]
    ko: bool,
    /// An extra header for the upgrade request, `NAME: VALUE`; repeatable.
    /// For a chat behind an app's login, e.g. `--header "Authorization:
    /// Bearer TOKEN"` (see examples/embed-axum).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// `Name: value` as an HTTP header.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected `NAME: VALUE`, got {text:?}"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("header name: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("header value: {e}"))?;
    Ok((name, value))
}

fn main() -> ExitCode {
    let args = Args::parse();
    // A URL the client could never dial is a start-up error, not a reconnect loop.
    if !(args.url.starts_with("ws://") || args.url.starts_with("wss://")) {
        eprintln!(
            "quicktalk-cli: invalid --url {:?}: a WebSocket URL starts with ws:// or wss:// \
             (for example ws://127.0.0.1:8080/ws)",
            args.url
        );
        return ExitCode::from(2);
    }
    if let Err(error) = args.url.as_str().into_client_request() {
        eprintln!("quicktalk-cli: invalid --url {:?}: {error}", args.url);
        return ExitCode::from(2);
    }
    let settings = app::Settings {
        url: args.url,
        headers: args.headers,
        search: Search {
            interests: args
                .interests
                .into_iter()
                .map(|interest| interest.trim().to_owned())
                .filter(|interest| !interest.is_empty())
                .collect(),
            lang: args.lang.filter(|lang| !lang.is_empty()),
        },
        ui: if args.ko { Ui::Ko } else { Ui::En },
    };

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail("cannot start the async runtime", &error),
    };
    // Raw mode and the alternate screen; ratatui also installs a panic hook
    // that restores the terminal before the panic message is printed.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(error) => return fail("cannot set up the terminal", &error),
    };
    let result = runtime.block_on(app::run(&mut terminal, settings));
    ratatui::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail("terminal error", &error),
    }
}

fn fail(what: &str, error: &std::io::Error) -> ExitCode {
    eprintln!("quicktalk-cli: {what}: {error}");
    ExitCode::FAILURE
}
