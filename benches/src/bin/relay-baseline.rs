//! `relay-baseline`: the least a QuickTalk-compatible server can do per
//! line, built the way the real server is, to measure this machine's floor
//! with `quicktalk-loadgen` in the same run.
//!
//! It speaks just enough of the protocol for the load tool (hello, join by
//! interest, matched, send -> echo + partner message) with no engine, no
//! store, no moderation and no validation, but with the server's shape per
//! connection: a reader task and a writer task over a split socket, a
//! bounded queue of ready frames, the writer feeding everything queued and
//! flushing once, frames parsed borrowing from the read buffer, `text` and
//! `cid` copied verbatim into the outgoing frames. What it cannot reach, the
//! real server cannot either.
//!
//! Run with: `cargo run --release -p quicktalk-benches --bin relay-baseline -- 127.0.0.1:28081`
//! then point `quicktalk-loadgen --url ws://127.0.0.1:28081/ws` at it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Frames a connection may have queued; the real server's outbox is bounded too.
const QUEUE: usize = 1024;
/// Frames written per flush at most (as in the server).
const WRITE_BATCH: usize = 64;

type Outbox = mpsc::Sender<String>;

#[derive(Default)]
struct Lobby {
    /// Interest -> the first client waiting with it.
    waiting: HashMap<String, (u64, Outbox)>,
    /// Client -> its partner's outbox.
    partners: HashMap<u64, Outbox>,
    next_id: u64,
}

/// The fields of a client frame the relay reads, borrowed from the text.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    cid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    interests: Vec<Cow<'a, str>>,
}

/// `s` as a JSON string literal.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:28081".into());
    let listener = TcpListener::bind(&address).await?;
    eprintln!("relay-baseline on ws://{address}/ws");
    let lobby = Arc::new(Mutex::new(Lobby::default()));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, lobby.clone()));
    }
}

async fn serve(stream: TcpStream, lobby: Arc<Mutex<Lobby>>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = socket.split();
    let (outbox, mut inbox) = mpsc::channel::<String>(QUEUE);
    let id = {
        let mut lobby = lobby.lock().unwrap();
        lobby.next_id += 1;
        lobby.next_id
    };
    let writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        while inbox.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            for text in batch.drain(..) {
                if sink.feed(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let _ = outbox
        .send(format!(r#"{{"type":"hello","session":"{id}"}}"#))
        .await;
    let mut partner: Option<Outbox> = None;
    let mut seq = 0u64;
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(&text) else {
            continue;
        };
        match frame.kind.as_ref() {
            "join" => {
                let interest = frame.interests.first().map_or("", |i| i.as_ref());
                let found = {
                    let mut lobby = lobby.lock().unwrap();
                    match lobby.waiting.remove(interest) {
                        Some((other, other_outbox)) => {
                            lobby.partners.insert(other, outbox.clone());
                            Some(other_outbox)
                        }
                        None => {
                            lobby
                                .waiting
                                .insert(interest.to_owned(), (id, outbox.clone()));
                            None
                        }
                    }
                };
                let interest = quoted(interest);
                let matched =
                    format!(r#"{{"type":"matched","room":"r","common_interests":[{interest}]}}"#);
                match found {
                    Some(other) => {
                        let _ = other.send(matched.clone()).await;
                        let _ = outbox.send(matched).await;
                        partner = Some(other);
                    }
                    None => {
                        let _ = outbox.send(r#"{"type":"waiting"}"#.to_owned()).await;
                    }
                }
            }
            "send" => {
                seq += 1;
                if partner.is_none() {
                    partner = lobby.lock().unwrap().partners.remove(&id);
                }
                let text = quoted(frame.text.as_deref().unwrap_or(""));
                let cid = quoted(frame.cid.as_deref().unwrap_or(""));
                let _ = outbox
                    .send(format!(
                        r#"{{"type":"message","seq":{seq},"from":"you","text":{text},"cid":{cid}}}"#
                    ))
                    .await;
                if let Some(partner) = &partner {
                    let _ = partner
                        .send(format!(
                            r#"{{"type":"message","seq":{seq},"from":"stranger","text":{text}}}"#
                        ))
                        .await;
                }
            }
            _ => {}
        }
    }
    writer.abort();
}
