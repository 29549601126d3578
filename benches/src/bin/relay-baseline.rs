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
//! Two options add the work the server does per line beyond relaying, each
//! in its least form, so the cost of the engine itself can be told from the
//! cost of the work it is asked to do: `--moderate` runs the moderation
//! filter the server ships (`quicktalk-nlp`, learned pass on) on every line
//! before delivery, and `--store PATH` hands every delivered line to a
//! SQLite file through `quicktalk-sqlite` with the server's batching (one
//! writer task, up to 4,096 lines per transaction, 20 ms linger).
//!
//! Run with: `cargo run --release -p quicktalk-benches --bin relay-baseline -- 127.0.0.1:28081`
//! then point `quicktalk-loadgen --url ws://127.0.0.1:28081/ws` at it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use quicktalk_core::ports::chat_store::unix_ms;
use quicktalk_core::ports::{Action, ChatStore, Moderator, StoredMessage};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_nlp::Filter;
use quicktalk_sqlite::SqliteChatStore;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Frames a connection may have queued; the real server's outbox is bounded too.
const QUEUE: usize = 1024;
/// Frames written per flush at most (as in the server).
const WRITE_BATCH: usize = 64;

/// Lines the store writer takes per transaction at most (the server's default).
const STORE_BATCH: usize = 4096;
/// How long the store writer waits for a fuller batch (the server's default).
const STORE_LINGER: Duration = Duration::from_millis(20);

type Outbox = mpsc::Sender<String>;

/// A room as the relay knows it: its id and the `seq` both members share.
#[derive(Clone)]
struct Room {
    id: RoomId,
    seq: Arc<AtomicU64>,
}

#[derive(Default)]
struct Lobby {
    /// Interest -> the first client waiting with it.
    waiting: HashMap<String, (u64, Outbox)>,
    /// Client -> its partner's outbox and their room.
    partners: HashMap<u64, (Outbox, Room)>,
    next_id: u64,
}

#[derive(Parser)]
#[command(about = "A bare WebSocket relay: the floor the QuickTalk server is measured against")]
struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:28081")]
    address: String,
    /// Run the shipped moderation filter on every line before delivery.
    #[arg(long)]
    moderate: bool,
    /// Store every delivered line in this SQLite file (created if missing).
    #[arg(long)]
    store: Option<PathBuf>,
}

/// What every connection shares: the lobby, the filter and the store queue.
struct Shared {
    lobby: Mutex<Lobby>,
    filter: Option<Filter>,
    store: Option<mpsc::Sender<StoredMessage>>,
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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.address).await?;
    let store = match &args.store {
        Some(path) => {
            let store = SqliteChatStore::open(path)?;
            let (sender, receiver) = mpsc::channel(STORE_BATCH * 16);
            tokio::spawn(write_store(receiver, store));
            Some(sender)
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        lobby: Mutex::new(Lobby::default()),
        filter: args.moderate.then(Filter::new),
        store,
    });
    eprintln!("relay-baseline on ws://{}/ws", args.address);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, shared.clone()));
    }
}

/// The server's store writer in its least form: take what is queued, wait
/// the linger for a fuller batch, write it in one transaction.
async fn write_store(mut receiver: mpsc::Receiver<StoredMessage>, store: SqliteChatStore) {
    let mut batch = Vec::with_capacity(STORE_BATCH);
    while receiver.recv_many(&mut batch, STORE_BATCH).await > 0 {
        if batch.len() < STORE_BATCH {
            tokio::time::sleep(STORE_LINGER).await;
            while batch.len() < STORE_BATCH {
                match receiver.try_recv() {
                    Ok(message) => batch.push(message),
                    Err(_) => break,
                }
            }
        }
        if let Err(error) = store.append_messages(&batch).await {
            eprintln!("relay-baseline: store: {error}");
        }
        batch.clear();
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = socket.split();
    let (outbox, mut inbox) = mpsc::channel::<String>(QUEUE);
    let id = {
        let mut lobby = shared.lobby.lock().unwrap();
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
    let mut partner: Option<(Outbox, Room)> = None;
    let session = SessionId::random();
    let key = ClientKey::new(format!("{:032x}", id));
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
                    let mut lobby = shared.lobby.lock().unwrap();
                    match lobby.waiting.remove(interest) {
                        Some((other, other_outbox)) => {
                            let room = Room {
                                id: RoomId::random(),
                                seq: Arc::default(),
                            };
                            lobby.partners.insert(other, (outbox.clone(), room.clone()));
                            Some((other_outbox, room))
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
                    Some((other, room)) => {
                        let _ = other.send(matched.clone()).await;
                        let _ = outbox.send(matched).await;
                        partner = Some((other, room));
                    }
                    None => {
                        let _ = outbox.send(r#"{"type":"waiting"}"#.to_owned()).await;
                    }
                }
            }
            "send" => {
                if partner.is_none() {
                    partner = shared.lobby.lock().unwrap().partners.remove(&id);
                }
                let Some((partner_outbox, room)) = &partner else {
                    continue;
                };
                let raw = frame.text.as_deref().unwrap_or("");
                let cid = quoted(frame.cid.as_deref().unwrap_or(""));
                let verdict = shared
                    .filter
                    .as_ref()
                    .map(|filter| Moderator::check(filter, raw));
                let delivered = match &verdict {
                    Some(verdict) if verdict.action == Action::Block => {
                        let _ = outbox
                            .send(format!(
                                r#"{{"type":"rejected","cid":{cid},"reason":"moderation"}}"#
                            ))
                            .await;
                        continue;
                    }
                    Some(verdict) if verdict.action == Action::Mask => {
                        Cow::Owned(verdict.mask(raw))
                    }
                    _ => Cow::Borrowed(raw),
                };
                let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
                let text = quoted(&delivered);
                let _ = outbox
                    .send(format!(
                        r#"{{"type":"message","seq":{seq},"from":"you","text":{text},"cid":{cid}}}"#
                    ))
                    .await;
                let _ = partner_outbox
                    .send(format!(
                        r#"{{"type":"message","seq":{seq},"from":"stranger","text":{text}}}"#
                    ))
                    .await;
                if let Some(store) = &shared.store {
                    let _ = store
                        .send(StoredMessage {
                            room: room.id,
                            seq,
                            session,
                            client_key: key.clone(),
                            text: delivered.into_owned(),
                            ts: unix_ms(SystemTime::now()),
                            masked: verdict.is_some_and(|v| v.action == Action::Mask),
                        })
                        .await;
                }
            }
            _ => {}
        }
    }
    writer.abort();
}
