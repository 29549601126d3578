//! The WebSocket endpoint: upgrade checks, then one reader loop and one
//! writer task per connection, relaying between the socket and the engine.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use quicktalk_core::delivery::{DeliveryMark, DeliveryTracker};
use quicktalk_core::ports::chat_store::unix_ms;
use quicktalk_core::protocol::{ErrorCode, ProtocolError, ServerFrame};
use quicktalk_core::{ClientKey, Event, EventStream};
use tokio::sync::oneshot;

use crate::state::{AppState, ConnectionSlot, SlotRefused};

/// Close codes the server uses beyond the engine's.
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_NOT_UTF8: u16 = 1007;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;
const CLOSE_TRY_LATER: u16 = 1013;

/// How long a client may take to answer the server's close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(3);

/// Frames written per flush at most.
const WRITE_BATCH: usize = 64;

/// Bytes of fed frames written before the flush (a batch larger than this
/// goes out in more than one write).
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /ws`.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state, &headers) {
        metrics::counter!("quicktalk_upgrades_refused_total", "reason" => "origin").increment(1);
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let ip = state.inner.resolver.resolve(peer, &headers);
    let slot = match state.take_slot(ip) {
        Ok(slot) => slot,
        Err(refused) => {
            let reason = match refused {
                SlotRefused::PerIp => "per_ip",
                SlotRefused::PerIpRate => "per_ip_rate",
                SlotRefused::Total => "total",
            };
            metrics::counter!("quicktalk_upgrades_refused_total", "reason" => reason).increment(1);
            let text = match refused {
                SlotRefused::PerIpRate => "too many new connections: wait a moment",
                _ => "too many connections",
            };
            return (StatusCode::TOO_MANY_REQUESTS, text).into_response();
        }
    };
    let key = state.inner.hasher.client_key(ip);
    let limit = state.inner.max_frame_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        // Small buffers: most connections are idle, and the defaults
        // (128 KiB write buffer) would cost memory per socket. The write
        // buffer is a threshold, not an allocation: frames fed to the sink
        // collect until the writer's flush (one write per batch; at 0 every
        // frame was its own `sendto`), and only a socket that was sent a
        // batch keeps that much capacity.
        .read_buffer_size(1024)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(limit * 64)
        .on_upgrade(move |socket| {
            let sockets = state.inner.sockets.clone();
            // Boxed: the socket's state (a few hundred bytes) lives on the
            // heap once, not also in the task waiting for `connect`.
            sockets.track_future(serve_socket(state, Box::new(socket), key, slot))
        })
}

/// The page's own origin, clients without an Origin header, and the
/// configured list are allowed.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    let allowed = &state.inner.allowed_origins;
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let own = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((own, host), (Some(own), Some(host)) if own.eq_ignore_ascii_case(host))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn error_text(code: ErrorCode, message: &str) -> Message {
    Message::Text(
        ProtocolError {
            code,
            message: message.into(),
        }
        .to_frame()
        .to_json()
        .into(),
    )
}

async fn serve_socket(
    state: AppState,
    mut socket: Box<WebSocket>,
    key: ClientKey,
    _slot: ConnectionSlot,
) {
    // Every await that is not the idle wait is boxed: a task is as large as
    // its largest state, and an idle connection (most of them) should not
    // carry the space of a start-up, a report or a close handshake.
    let (handle, events) = match Box::pin(state.inner.engine.connect(key)).await {
        Ok(pair) => pair,
        Err(error) => {
            let (code, close_code) = match error {
                quicktalk_core::Error::Banned { .. } => (ErrorCode::Banned, CLOSE_POLICY),
                quicktalk_core::Error::ShuttingDown => (ErrorCode::ShuttingDown, 1001),
                _ => (ErrorCode::ServerBusy, CLOSE_TRY_LATER),
            };
            let refuse = async {
                let _ = socket.send(error_text(code, &error.to_string())).await;
                let _ = socket.send(close(close_code, code.as_str())).await;
            };
            Box::pin(refuse).await;
            return;
        }
    };
    metrics::gauge!("quicktalk_connections").increment(1.0);
    let (sink, mut stream) = (*socket).split();
    // One message at most (the reader's own close frame): a oneshot costs a
    // few bytes, where an mpsc channel allocates a block of slots per socket.
    let (control, control_rx) = oneshot::channel::<Message>();
    let mut control = Some(control);
    let ping_interval = state.inner.ping_interval;
    let mut writer = tokio::spawn(write_loop(sink, events, control_rx, ping_interval));
    let mut writer_done = false;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = &mut writer => {
                // The engine closed the connection (flooding, ban, idle,
                // too slow, shutdown): wait briefly for the client's close
                // reply, but never let a silent peer hold the socket.
                writer_done = true;
                let _ = Box::pin(tokio::time::timeout(CLOSE_REPLY_WAIT, async {
                    while let Some(Ok(message)) = stream.next().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                }))
                .await;
                break;
            }
            () = state.inner.shutdown.cancelled() => {
                // The engine already asked every connection to close (1001);
                // give the writer a moment to deliver that.
                break;
            }
        };
        match next {
            Some(Ok(Message::Text(text))) => Box::pin(handle.handle_text(text.as_str())).await,
            Some(Ok(Message::Binary(_))) => handle.error(ProtocolError {
                code: ErrorCode::Unsupported,
                message: "binary frames are not supported; send JSON text frames".into(),
            }),
            // Our pings carry a delivery mark: the pong says the client read
            // every line written before it, so the room need not keep them.
            Some(Ok(Message::Pong(payload))) => match DeliveryMark::from_bytes(&payload) {
                Some(mark) => handle.delivered(mark),
                None => handle.touch(),
            },
            Some(Ok(Message::Ping(_))) => handle.touch(),
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(error)) => {
                // The client's faults get the RFC 6455 codes that name
                // them; 1011 is left for what went wrong here.
                let frame = match error.into_inner().downcast_ref::<tungstenite::Error>() {
                    Some(tungstenite::Error::Capacity(_)) => close(CLOSE_TOO_BIG, "frame too big"),
                    Some(tungstenite::Error::Utf8(_)) => {
                        close(CLOSE_NOT_UTF8, "a text frame that is not UTF-8")
                    }
                    Some(tungstenite::Error::Protocol(_)) => {
                        close(CLOSE_PROTOCOL_ERROR, "WebSocket protocol error")
                    }
                    _ => close(CLOSE_INTERNAL, "read error"),
                };
                if let Some(control) = control.take() {
                    let _ = control.send(frame);
                }
                break;
            }
        }
    }
    // The session stays resumable for the grace period. Dropping the control
    // sender (if still held) tells the writer to stop.
    drop(handle);
    drop(control);
    if !writer_done {
        let _ = Box::pin(tokio::time::timeout(Duration::from_secs(2), writer)).await;
    }
    metrics::gauge!("quicktalk_connections").decrement(1.0);
}

/// Unix seconds of `unix_ms`, as the delivery tracker counts them.
fn unix_s(unix_ms: i64) -> u32 {
    u32::try_from(unix_ms / 1000).unwrap_or(u32::MAX)
}

/// A ping carrying the delivery mark of what `written` has seen (empty
/// outside a room); the mark is taken as sent.
fn mark_ping(written: &mut DeliveryTracker, now_ms: i64) -> Message {
    let payload = written
        .take_mark(unix_s(now_ms))
        .map(|mark| Bytes::copy_from_slice(&mark.to_bytes()))
        .unwrap_or_default();
    Message::Ping(payload)
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut events: EventStream,
    mut control: oneshot::Receiver<Message>,
    ping_interval: Duration,
) {
    let mut written = DeliveryTracker::default();
    // The first ping comes at a random point of the first interval, not a
    // whole interval after connecting: connections opened together (a
    // restart, a crowd arriving) would otherwise ping and pong together
    // every interval, thousands at once, and the lines sent in that second
    // wait behind them (at 8,000 connections every 20 s, a p99.9 of 30-40
    // ms). No gap between pings is longer than the interval.
    let first = ping_interval.mul_f64(rand::random_range(0.1..=1.0));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + first, ping_interval);
    let delivery = metrics::histogram!("quicktalk_delivery_seconds");
    loop {
        tokio::select! {
            // Engine events first: a close the engine queued (shutdown,
            // flooding) must go out before the reader's hang-up stops us.
            biased;
            first = events.recv() => {
                let Some(first) = first else {
                    // The connection ended here (its handle was dropped): the
                    // close frame the reader left (a client fault's code), if
                    // any, else a normal close.
                    let frame = control.try_recv().unwrap_or_else(|_| close(CLOSE_NORMAL, ""));
                    if Box::pin(sink.send(frame)).await.is_err() {
                        // The client closed first: the socket has already
                        // queued the reply RFC 6455 requires (it refuses a
                        // second close), and only a flush sends it; without
                        // it every client saw its own close end as 1006.
                        let _ = Box::pin(sink.flush()).await;
                    }
                    return;
                };
                // One clock read per batch for the delivery ages.
                let now_ms = unix_ms(SystemTime::now());
                // The events are taken one at a time, not into a batch
                // buffer (which an idle socket would keep): each is encoded
                // and dropped before the await, so the task keeps no frame
                // across it.
                let mut next = Some(first);
                let mut fed = 0;
                while let Some(event) = next.take() {
                    let message = match event {
                        Event::Frame(frame) => {
                            written.observe(&frame);
                            if let ServerFrame::Message(message) = &frame {
                                let age_ms = now_ms.saturating_sub(message.ts);
                                delivery.record(age_ms as f64 / 1000.0);
                            }
                            Message::Text(frame.to_json().into())
                        }
                        Event::Close(reason) => {
                            let _ = Box::pin(sink.send(close(reason.code(), reason.message()))).await;
                            return;
                        }
                    };
                    // feed, not send: one flush per batch.
                    if sink.feed(message).await.is_err() {
                        return;
                    }
                    fed += 1;
                    if fed < WRITE_BATCH {
                        next = events.try_recv();
                    }
                }
                // A busy chat gets its delivery mark before the next
                // periodic ping, in the same write as its lines.
                if written.due(unix_s(now_ms)) && sink.feed(mark_ping(&mut written, now_ms)).await.is_err() {
                    return;
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
            frame = &mut control => {
                if let Ok(frame) = frame {
                    let _ = Box::pin(sink.send(frame)).await;
                }
                return;
            }
            _ = ping.tick() => {
                // Every frame observed is flushed by now (the batch branch
                // runs to its flush before another branch is polled), so the
                // pong to this ping means the client has read them all.
                let ping = mark_ping(&mut written, unix_ms(SystemTime::now()));
                if Box::pin(sink.send(ping)).await.is_err() {
                    return;
                }
            }
        }
    }
}
