//! `quicktalk-loadgen`: drives a running QuickTalk server over real
//! WebSockets and reports what a user would feel.
//!
//! Run with (server started separately, limits raised for one loopback IP):
//!
//! ```text
//! quicktalk --store sqlite:///tmp/load.db --rate-per-sec 1000 --rate-burst 1000 \
//!     --max-connections-per-ip 100000 &
//! cargo run --release -p quicktalk-benches --bin quicktalk-loadgen -- \
//!     --url ws://127.0.0.1:8080/ws --pairs 1000 --rate 50 --duration 20 --server-pid $!
//! ```
//!
//! Each pair joins with an interest of its own so the two find each other.
//! Every line carries its sender's counter and send time; receivers check
//! order, gaps and duplicates and measure latency. Echoes are acks, not
//! counted as delivered lines. With `--rate 0` the connections stay open and
//! idle (for the memory test).
//!
//! Two ways to send:
//! - fixed rate (`--rate R`): each client sends R lines a second, whatever
//!   the server does: latency at a given load;
//! - closed loop (`--window N`): each client keeps N lines in flight and
//!   sends the next one when an echo (the server's ack) comes back: the most
//!   the server can carry.
//!
//! A client the server closes (as a slow reader, 4002, or any other drop)
//! reconnects and resumes as a browser would: `resume` with its token, the
//! room and the last `seq` it read, then the replayed lines, then every line
//! it sent that got no answer, again with the same `cid` (the server drops
//! the ones it already had). The report counts `resumes`; a resume that
//! fails ends that client and counts in `resume_failures`. So a close under
//! load is a check of the resume path, not lines missing from the report.
//!
//! With `--server-pid` it reports the server's RSS and its CPU time per
//! delivered line (`/proc/PID/stat`); with `--count-syscalls` also its
//! system calls per delivered line (`perf stat -e raw_syscalls:sys_enter`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::borrow::Cow;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(
    name = "quicktalk-loadgen",
    about = "Load generator for a QuickTalk server"
)]
struct Args {
    /// WebSocket URL of the server; several (comma-separated) spread the
    /// clients over the nodes of a cluster (see `--spread`).
    #[arg(
        long = "url",
        default_value = "ws://127.0.0.1:8080/ws",
        value_delimiter = ','
    )]
    urls: Vec<String>,
    /// With several URLs: `cross` puts the two members of pair i on nodes
    /// i and i+1 (every pair across nodes), `same` puts both on node i.
    #[arg(long, default_value = "cross", value_parser = ["cross", "same"])]
    spread: String,
    /// Chatting pairs (2 connections each).
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Lines per second each client sends (0 = stay idle).
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Closed loop: lines in flight per client, the next sent when an echo
    /// comes back (0 = fixed rate, `--rate`).
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// The server's process id (several, comma-separated, for a cluster's
    /// nodes and its broker), to report resident memory and CPU time.
    #[arg(long = "server-pid", value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Connections opened at once while ramping up.
    #[arg(long, default_value_t = 200)]
    ramp: usize,
    /// Count the server's system calls during the run (needs `perf` and
    /// `--server-pid`).
    #[arg(long)]
    count_syscalls: bool,
    /// A line slower than this many milliseconds is counted in the report's
    /// `slow_by_second` (per second of the run, when it was sent): where a
    /// tail comes from, start-up, a periodic job or spread evenly.
    #[arg(long, default_value_t = 10.0)]
    slow_ms: f64,
}

/// The fields of a server frame the load tool reads, borrowed from the text
/// (parsing into `serde_json::Value` cost the tool as much CPU as the server).
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    from: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, borrow)]
    resume_token: Option<Cow<'a, str>>,
    #[serde(default)]
    replayed: Option<u64>,
}

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    out_of_order: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
    resumes: AtomicU64,
    resume_failures: AtomicU64,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process's CPU time (user + system) in seconds, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may contain spaces: state is 3rd,
    // utime the 14th and stime the 15th of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture the tool runs on.
    Some((utime + stime) / 100.0)
}

/// `perf stat` counting the server's system calls for `seconds`.
fn start_syscall_count(pid: u32, seconds: f64) -> std::io::Result<std::process::Child> {
    std::process::Command::new("perf")
        .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p"])
        .arg(pid.to_string())
        .args(["--", "sleep"])
        .arg(format!("{seconds:.3}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
}

/// The count `perf stat -x,` printed (first field of its counter line).
fn syscall_count(child: std::process::Child) -> Option<u64> {
    let output = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&output.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))?;
    line.split(',').next()?.trim().parse().ok()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// Connects and reads the `hello`; returns the socket and its resume token.
async fn connect(url: &str) -> Result<(Socket, String), String> {
    // Nagle off, as browsers have it: with it on, a line written just
    // after the auto-reply to a server ping waits for that pong's ACK (up
    // to the peer's 40 ms delayed ACK), and the tool would measure its own
    // socket option rather than the server.
    //
    // A small read buffer: tungstenite zero-fills the free part of it
    // before each read, and with the default 128 KiB the tool's 8,000
    // connections refilled theirs in the same few milliseconds, a gigabyte
    // of memset that stalled the tool for 150 ms (seen as a server tail).
    let config =
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| e.to_string())?;
    match socket.next().await {
        Some(Ok(Message::Text(text))) => {
            let hello: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let token = hello["resume_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Ok((socket, token))
        }
        other => Err(format!("no hello: {other:?}")),
    }
}

/// Waits for `matched`, skipping other frames; returns the room id.
async fn until_matched(socket: &mut Socket) -> Result<String, String> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message.map_err(|e| e.to_string())? {
            let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if frame["type"] == "matched" {
                return Ok(frame["room"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    Err("closed before matched".into())
}

struct Client {
    socket: Socket,
    id: usize,
    url: String,
    token: String,
    room: String,
}

/// What a resume needs (the token changes with each one).
struct Session {
    url: String,
    token: String,
    room: String,
}

/// What a client's sender and reader share: the socket's write half (the
/// reader swaps in a new one after a resume) and how many lines were sent.
struct Link {
    sink: Mutex<Sink>,
    /// Lines numbered so far; line `n` has `cid` `n`.
    sent: AtomicU64,
    /// Bumped on each resume; closed when the client gives up.
    generation: tokio::sync::watch::Sender<u64>,
}

/// The `seq` of a frame the reader did not parse (an echo).
fn seq_of(text: &str) -> Option<u64> {
    let at = text.find(r#""seq":"#)? + 6;
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

/// Writes lines `numbers` (the line number is also its `cid`) and flushes.
async fn resend(sink: &mut Sink, id: usize, numbers: std::ops::Range<u64>) -> Result<(), String> {
    // The text is digits and colons: no JSON escaping needed, and building
    // the frame by hand keeps the tool's own cost down.
    let sent_at = now_us();
    for n in numbers {
        let frame = format!(r#"{{"type":"send","text":"{n}:{id}:{sent_at}","cid":"{n}"}}"#);
        sink.feed(Message::Text(frame.into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    sink.flush().await.map_err(|e| e.to_string())
}

/// Resumes the session on a new connection after a drop: `resume`, then
/// `resumed` and its replayed lines, handed to `each`. Returns the new
/// socket's halves.
async fn resume(
    session: &mut Session,
    last_seq: u64,
    mut each: impl FnMut(&str),
) -> Result<(Sink, futures_util::stream::SplitStream<Socket>), String> {
    let (socket, _) = connect(&session.url).await?;
    let (mut sink, mut stream) = socket.split();
    let frame = json!({"type": "resume", "token": session.token, "last_seq": last_seq, "room": session.room});
    sink.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let replayed = loop {
        let Some(message) = stream.next().await else {
            return Err("closed before resumed".into());
        };
        let Message::Text(text) = message.map_err(|e| e.to_string())? else {
            continue;
        };
        let frame: Frame<'_> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match frame.kind.as_ref() {
            "resumed" => {
                session.token = frame.resume_token.unwrap_or_default().into_owned();
                break frame.replayed.unwrap_or(0);
            }
            "error" => return Err(format!("resume refused: {text}")),
            _ => {}
        }
    };
    let mut read = 0;
    while read < replayed {
        let Some(message) = stream.next().await else {
            return Err("closed during the replay".into());
        };
        if let Message::Text(text) = message.map_err(|e| e.to_string())? {
            read += u64::from(text.contains(r#""type":"message""#));
            each(&text);
        }
    }
    Ok((sink, stream))
}

/// After a failed write: waits until the reader has resumed (it resends
/// what got no answer); false when it gave up or the run is over.
async fn resumed(
    generation: &mut tokio::sync::watch::Receiver<u64>,
    was: u64,
    until: Instant,
) -> bool {
    let wait = generation.wait_for(move |&g| g != was);
    matches!(
        tokio::time::timeout_at(until.into(), wait).await,
        Ok(Ok(ref g)) if **g != u64::MAX
    )
}

/// What the reader knows of its session.
#[derive(Default)]
struct Reading {
    /// The partner's next line number.
    expected: u64,
    /// The highest `seq` read (for `resume`).
    last_seq: u64,
    /// This client's lines answered (echo, `rejected` or `error`), in order.
    answered: u64,
    latencies: Vec<u32>,
    slow: Vec<u64>,
}

async fn run_client(
    client: Client,
    args: Arc<Args>,
    totals: Arc<Totals>,
    latencies: Arc<Mutex<Vec<u32>>>,
    slow: Arc<Mutex<Vec<u64>>>,
    start: Instant,
) {
    let Client {
        socket,
        id,
        url,
        token,
        room,
    } = client;
    let (sink, stream) = socket.split();
    let link = Arc::new(Link {
        sink: Mutex::new(sink),
        sent: AtomicU64::new(0),
        generation: tokio::sync::watch::Sender::new(0),
    });
    let stop_sending = start + Duration::from_secs(args.duration);
    let stop_reading = stop_sending + Duration::from_secs(2);
    // Closed loop: one permit per line that may be in flight; an answer
    // gives its permit back.
    let window = Arc::new(tokio::sync::Semaphore::new(args.window));
    let closed_loop = args.window > 0;
    let reader = {
        let (totals, args, window, link) =
            (totals.clone(), args.clone(), window.clone(), link.clone());
        let mut session = Session { url, token, room };
        tokio::spawn(async move {
            let slow_us = (args.slow_ms * 1000.0) as u64;
            let answer = |reading: &mut Reading| {
                reading.answered += 1;
                if closed_loop {
                    window.add_permits(1);
                }
            };
            let handle = |text: &str, reading: &mut Reading| {
                // Echoes are only counted: skip parsing them.
                if text.contains(r#""from":"you""#) {
                    totals.acked.fetch_add(1, Ordering::Relaxed);
                    reading.last_seq = reading.last_seq.max(seq_of(text).unwrap_or(0));
                    answer(reading);
                    return;
                }
                let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                match frame.kind.as_ref() {
                    "message" if frame.from.as_deref() == Some("stranger") => {
                        reading.last_seq = reading.last_seq.max(frame.seq.unwrap_or(0));
                        let text = frame.text.as_deref().unwrap_or("");
                        let mut parts = text.split(':');
                        let (Some(n), Some(sent)) = (parts.next(), parts.nth(1)) else {
                            return;
                        };
                        let (Ok(n), Ok(sent)) = (n.parse::<u64>(), sent.parse::<u64>()) else {
                            return;
                        };
                        totals.delivered.fetch_add(1, Ordering::Relaxed);
                        let latency = now_us().saturating_sub(sent);
                        reading.latencies.push(latency.min(u32::MAX as u64) as u32);
                        if latency > slow_us {
                            reading.slow.push(sent);
                        }
                        let expected = reading.expected;
                        if n == expected {
                            reading.expected += 1;
                        } else if n < expected {
                            totals.duplicated.fetch_add(1, Ordering::Relaxed);
                        } else {
                            totals.out_of_order.fetch_add(1, Ordering::Relaxed);
                            totals.lost.fetch_add(n - expected, Ordering::Relaxed);
                            reading.expected = n + 1;
                        }
                    }
                    "message" => {
                        totals.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    "rejected" => {
                        totals.rejected.fetch_add(1, Ordering::Relaxed);
                        answer(reading);
                    }
                    "error" => {
                        totals.errors.fetch_add(1, Ordering::Relaxed);
                        answer(reading);
                    }
                    _ => {}
                }
            };
            let mut reading = Reading::default();
            let mut stream = stream;
            loop {
                let next = tokio::time::timeout_at(stop_reading.into(), stream.next()).await;
                match next {
                    Err(_) => break,
                    Ok(Some(Ok(Message::Text(text)))) => handle(&text, &mut reading),
                    Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                        // Dropped (a slow reader's 4002, or any close): resume
                        // as a browser would. The sender waits on the lock.
                        let mut sink = link.sink.lock().await;
                        let resumed = tokio::time::timeout_at(
                            stop_reading.into(),
                            resume(&mut session, reading.last_seq, |text| {
                                handle(text, &mut reading)
                            }),
                        )
                        .await;
                        let resumed = match resumed {
                            Ok(Ok((mut new_sink, new_stream))) => {
                                let unanswered =
                                    reading.answered..link.sent.load(Ordering::Relaxed);
                                resend(&mut new_sink, id, unanswered)
                                    .await
                                    .map(|()| (new_sink, new_stream))
                            }
                            Ok(Err(error)) => Err(error),
                            Err(_) => Err("no answer before the run ended".into()),
                        };
                        match resumed {
                            Ok((new_sink, new_stream)) => {
                                *sink = new_sink;
                                stream = new_stream;
                                totals.resumes.fetch_add(1, Ordering::Relaxed);
                                link.generation.send_modify(|g| *g += 1);
                            }
                            Err(error) => {
                                eprintln!("client {id}: resume failed: {error}");
                                totals.resume_failures.fetch_add(1, Ordering::Relaxed);
                                link.generation.send_replace(u64::MAX);
                                break;
                            }
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                }
            }
            (reading.latencies, reading.slow)
        })
    };
    let mut generation = link.generation.subscribe();
    if closed_loop {
        while Instant::now() < stop_sending {
            let Ok(Ok(permit)) =
                tokio::time::timeout_at(stop_sending.into(), window.acquire()).await
            else {
                break;
            };
            permit.forget();
            // Every free slot at once, flushed once: the tool's own writes
            // must not be what limits the server.
            let mut ready = 1;
            while let Ok(permit) = window.try_acquire() {
                permit.forget();
                ready += 1;
            }
            let mut sink = link.sink.lock().await;
            let was = *generation.borrow_and_update();
            if was == u64::MAX {
                break;
            }
            let first = link.sent.fetch_add(ready, Ordering::Relaxed);
            totals.sent.fetch_add(ready, Ordering::Relaxed);
            let written = resend(&mut sink, id, first..first + ready).await;
            drop(sink);
            if written.is_err() && !resumed(&mut generation, was, stop_sending).await {
                break;
            }
        }
    } else if args.rate > 0.0 {
        let interval = Duration::from_secs_f64(1.0 / args.rate);
        // Each client starts at a random point of its interval: real users
        // are not synchronised, and clients that all tick in the same
        // millisecond would send the server one burst of every line at once
        // (measuring the burst, not the server).
        let phase = interval.mul_f64(rand::random::<f64>());
        let mut tick = tokio::time::interval_at((Instant::now() + phase).into(), interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while Instant::now() < stop_sending {
            tick.tick().await;
            let mut sink = link.sink.lock().await;
            let was = *generation.borrow_and_update();
            if was == u64::MAX {
                break;
            }
            let n = link.sent.fetch_add(1, Ordering::Relaxed);
            totals.sent.fetch_add(1, Ordering::Relaxed);
            let written = resend(&mut sink, id, n..n + 1).await;
            drop(sink);
            if written.is_err() && !resumed(&mut generation, was, stop_sending).await {
                break;
            }
        }
    } else {
        tokio::time::sleep_until(stop_sending.into()).await;
    }
    if let Ok((local, local_slow)) = reader.await {
        latencies.lock().await.extend(local);
        slow.lock().await.extend(local_slow);
    }
    let _ = link.sink.lock().await.close().await;
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let totals = Arc::new(Totals::default());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let slow = Arc::new(Mutex::new(Vec::new()));
    eprintln!(
        "connecting {} pairs to {} ({})",
        args.pairs,
        args.urls.join(", "),
        args.spread
    );
    let setup = Instant::now();
    let mut clients = Vec::with_capacity(args.pairs * 2);
    for chunk in (0..args.pairs)
        .collect::<Vec<_>>()
        .chunks(args.ramp.max(1) / 2 + 1)
    {
        let mut joins = Vec::new();
        for &pair in chunk {
            let nodes = args.urls.len();
            let url_a = args.urls[pair % nodes].clone();
            let url_b = match args.spread.as_str() {
                "same" => url_a.clone(),
                _ => args.urls[(pair + 1) % nodes].clone(),
            };
            joins.push(tokio::spawn(async move {
                let (mut a, token_a) = connect(&url_a).await?;
                let (mut b, token_b) = connect(&url_b).await?;
                let join = json!({"type": "join", "interests": [format!("loadgen-pair-{pair}")]})
                    .to_string();
                a.send(Message::Text(join.clone().into()))
                    .await
                    .map_err(|e| e.to_string())?;
                b.send(Message::Text(join.into()))
                    .await
                    .map_err(|e| e.to_string())?;
                let room_a = until_matched(&mut a).await?;
                let room_b = until_matched(&mut b).await?;
                Ok::<_, String>((
                    Client {
                        socket: a,
                        id: pair * 2,
                        url: url_a,
                        token: token_a,
                        room: room_a,
                    },
                    Client {
                        socket: b,
                        id: pair * 2 + 1,
                        url: url_b,
                        token: token_b,
                        room: room_b,
                    },
                ))
            }));
        }
        for join in joins {
            match join.await {
                Ok(Ok((a, b))) => {
                    clients.push(a);
                    clients.push(b);
                }
                Ok(Err(error)) => {
                    eprintln!("pair failed: {error}");
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    eprintln!("pair task failed: {error}");
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let setup_s = setup.elapsed().as_secs_f64();
    eprintln!("{} connections matched in {setup_s:.1} s", clients.len());
    let matched_pairs = clients.len() / 2;
    let server_pid = args.server_pids.first().copied();
    let rss_of = |pids: &[u32]| -> Option<Vec<u64>> { pids.iter().map(|&p| rss_kib(p)).collect() };
    let cpu_of =
        |pids: &[u32]| -> Option<Vec<f64>> { pids.iter().map(|&p| cpu_seconds(p)).collect() };
    let rss_connected = rss_of(&args.server_pids);
    let cpu_before = cpu_of(&args.server_pids);
    let syscalls = match (args.count_syscalls, server_pid) {
        (true, Some(pid)) => match start_syscall_count(pid, args.duration as f64) {
            Ok(child) => Some(child),
            Err(error) => {
                eprintln!("cannot run perf to count system calls: {error}");
                None
            }
        },
        (true, None) => {
            eprintln!("--count-syscalls needs --server-pid");
            None
        }
        _ => None,
    };
    let start = Instant::now();
    let start_us = now_us();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(run_client(
                client,
                args.clone(),
                totals.clone(),
                latencies.clone(),
                slow.clone(),
                start,
            ))
        })
        .collect();
    let mut rss_peak: Vec<u64> = rss_connected.clone().unwrap_or_default();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let pids = args.server_pids.clone();
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = vec![0; pids.len()];
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                for (peak, &pid) in peak.iter_mut().zip(&pids) {
                    *peak = (*peak).max(rss_kib(pid).unwrap_or(0));
                }
                if !sampling.load(Ordering::Relaxed) {
                    return peak;
                }
            }
        })
    };
    for task in tasks {
        let _ = task.await;
    }
    sampling.store(false, Ordering::Relaxed);
    if let Ok(peak) = sampler.await {
        for (max, sampled) in rss_peak.iter_mut().zip(peak) {
            *max = (*max).max(sampled);
        }
    }
    if let Some(now) = rss_of(&args.server_pids) {
        for (max, rss) in rss_peak.iter_mut().zip(now) {
            *max = (*max).max(rss);
        }
    }
    let cpu_each: Option<Vec<f64>> = match (cpu_before, cpu_of(&args.server_pids)) {
        (Some(before), Some(after)) => {
            Some(after.iter().zip(&before).map(|(a, b)| a - b).collect())
        }
        _ => None,
    };
    let server_cpu_s = cpu_each.as_ref().map(|each| each.iter().sum::<f64>());
    let syscalls = syscalls.and_then(syscall_count);
    let mut latencies = latencies.lock().await.clone();
    latencies.sort_unstable();
    let seconds = args.duration as f64;
    // Slow lines by the second of the run they were sent in: [second, count].
    let mut slow_by_second = std::collections::BTreeMap::<u64, u64>::new();
    for &sent in slow.lock().await.iter() {
        *slow_by_second
            .entry(sent.saturating_sub(start_us) / 1_000_000)
            .or_default() += 1;
    }
    let delivered = totals.delivered.load(Ordering::Relaxed);
    let sent = totals.sent.load(Ordering::Relaxed);
    let acked = totals.acked.load(Ordering::Relaxed);
    let per_line = |total: f64| (delivered > 0).then(|| total / delivered as f64);
    let report = json!({
        "pairs": args.pairs,
        "mode": if args.window > 0 { "closed_loop" } else { "fixed_rate" },
        "window": args.window,
        "rate_per_client": (args.window == 0).then_some(args.rate),
        "duration_s": args.duration,
        "sent": sent,
        "acked": acked,
        "delivered": delivered,
        "delivered_per_s": (delivered as f64 / seconds).round(),
        "not_delivered": acked.saturating_sub(delivered),
        "lost_gaps": totals.lost.load(Ordering::Relaxed),
        "duplicated": totals.duplicated.load(Ordering::Relaxed),
        "out_of_order": totals.out_of_order.load(Ordering::Relaxed),
        "rejected": totals.rejected.load(Ordering::Relaxed),
        "errors": totals.errors.load(Ordering::Relaxed),
        "resumes": totals.resumes.load(Ordering::Relaxed),
        "resume_failures": totals.resume_failures.load(Ordering::Relaxed),
        "urls": args.urls,
        "spread": args.spread,
        "matched_pairs": matched_pairs,
        "matched_pairs_per_s": (matched_pairs as f64 / setup_s.max(1e-9)).round(),
        "latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "p999": percentile(&latencies, 0.999),
            "max": latencies.last().map_or(0.0, |&l| f64::from(l) / 1000.0),
        },
        "slow_ms": args.slow_ms,
        "slow_by_second": slow_by_second.into_iter().collect::<Vec<_>>(),
        // Second 0 of `slow_by_second`, to line it up with a server's trace.
        "start_unix_us": start_us,
        "server_cpu_s": server_cpu_s,
        "server_cpu_us_per_line": server_cpu_s.and_then(|cpu| per_line(cpu * 1e6)),
        "server_syscalls": syscalls,
        "server_syscalls_per_line": syscalls.and_then(|count| per_line(count as f64)),
        "server_rss_mib": {
            "connected": rss_connected.as_ref().map(|each| each.iter().sum::<u64>() as f64 / 1024.0),
            "peak": (!rss_peak.is_empty()).then(|| rss_peak.iter().sum::<u64>() as f64 / 1024.0),
        },
        "per_process": args.server_pids.iter().enumerate().map(|(i, pid)| json!({
            "pid": pid,
            "cpu_s": cpu_each.as_ref().map(|each| each[i]),
            "rss_peak_mib": rss_peak.get(i).map(|&k| k as f64 / 1024.0),
        })).collect::<Vec<_>>(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
