//! `relay-baseline`: the least a QuickTalk-compatible server can do per line,
//! to measure this machine's floor with `quicktalk-loadgen`.
//!
//! It speaks just enough of the protocol for the load tool (hello, join by
//! interest, matched, send -> echo + partner message) with no engine, no
//! store, no moderation and no validation. What it cannot reach, the real
//! server cannot either.
//!
//! Run with: `cargo run --release -p quicktalk-benches --bin relay-baseline -- 127.0.0.1:28081`
//! then point `quicktalk-loadgen --url ws://127.0.0.1:28081/ws` at it.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Message;

type Outbox = mpsc::UnboundedSender<String>;

#[derive(Default)]
struct Lobby {
    /// Interest -> the first client waiting with it.
    waiting: HashMap<String, (u64, Outbox)>,
    /// Client -> its partner's outbox.
    partners: HashMap<u64, Outbox>,
    next_id: u64,
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
        let lobby = lobby.clone();
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let (mut sink, mut source) = socket.split();
            let (outbox, mut inbox) = mpsc::unbounded_channel::<String>();
            let id = {
                let mut lobby = lobby.lock().await;
                lobby.next_id += 1;
                lobby.next_id
            };
            let writer = tokio::spawn(async move {
                while let Some(text) = inbox.recv().await {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
            });
            let _ = outbox.send(json!({"type": "hello", "session": id.to_string()}).to_string());
            let mut seq = 0u64;
            while let Some(Ok(message)) = source.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match frame["type"].as_str() {
                    Some("join") => {
                        let interest = frame["interests"][0].as_str().unwrap_or("").to_owned();
                        let mut lobby = lobby.lock().await;
                        if let Some((other, other_outbox)) = lobby.waiting.remove(&interest) {
                            lobby.partners.insert(id, other_outbox.clone());
                            lobby.partners.insert(other, outbox.clone());
                            let matched = json!({"type": "matched", "room": "r", "common_interests": [interest]}).to_string();
                            let _ = other_outbox.send(matched.clone());
                            let _ = outbox.send(matched);
                        } else {
                            lobby.waiting.insert(interest, (id, outbox.clone()));
                            let _ = outbox.send(json!({"type": "waiting"}).to_string());
                        }
                    }
                    Some("send") => {
                        seq += 1;
                        let text = frame["text"].as_str().unwrap_or("");
                        let partner = lobby.lock().await.partners.get(&id).cloned();
                        let _ = outbox.send(
                            json!({"type": "message", "seq": seq, "from": "you", "text": text, "cid": frame["cid"]}).to_string(),
                        );
                        if let Some(partner) = partner {
                            let _ = partner.send(json!({"type": "message", "seq": seq, "from": "stranger", "text": text}).to_string());
                        }
                    }
                    _ => {}
                }
            }
            writer.abort();
        });
    }
}
