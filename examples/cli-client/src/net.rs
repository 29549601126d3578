//! One WebSocket connection as a task: text frames in, text frames out.
//!
//! The task knows nothing of the protocol. It reports what happens to the
//! socket as [`NetEvent`]s and writes the strings it is given; reconnect
//! policy lives in the state machine, which sees every close code.

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// What happened to the socket.
#[derive(Debug)]
pub enum NetEvent {
    /// The upgrade succeeded.
    Connected,
    /// The server answered the upgrade with this HTTP status instead (401
    /// without a login, 403 for a refused origin, 429 over a connection
    /// cap). `Closed(None)` follows.
    Refused(u16),
    /// A text frame arrived.
    Text(String),
    /// The connection ended (or never opened); the close code if one came.
    /// Always the task's last event.
    Closed(Option<u16>),
}

/// The sending side of one connection. Dropping it closes the socket with
/// 1000 (normal).
#[derive(Debug)]
pub struct Link {
    outgoing: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl Link {
    /// Dials `url` in a new task that reports to `events`.
    pub fn open(
        url: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        events: mpsc::UnboundedSender<NetEvent>,
    ) -> Self {
        let (outgoing, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let code = run(&url, headers, &events, queue).await;
            let _ = events.send(NetEvent::Closed(code));
        });
        Self { outgoing, task }
    }

    /// Queues a text frame. Frames queued on a closed link are dropped: the
    /// state machine resends what matters after the reconnect.
    pub fn send(&self, text: String) {
        let _ = self.outgoing.send(text);
    }

    /// Closes the socket normally and waits (briefly) for the close to go out.
    pub async fn close(self) {
        let Self { outgoing, task } = self;
        drop(outgoing);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), task).await;
    }
}

/// Runs one connection; returns the server's close code, if any.
async fn run(
    url: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    events: &mpsc::UnboundedSender<NetEvent>,
    mut queue: mpsc::UnboundedReceiver<String>,
) -> Option<u16> {
    let mut request = url.into_client_request().ok()?;
    request.headers_mut().extend(headers);
    // Nagle off, as browsers have it: a line typed just after the automatic
    // pong would otherwise wait for that pong's ACK (up to 40 ms).
    let mut socket = match tokio_tungstenite::connect_async_with_config(request, None, true).await {
        Ok((socket, _response)) => socket,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let _ = events.send(NetEvent::Refused(response.status().as_u16()));
            return None;
        }
        Err(_) => return None,
    };
    let _ = events.send(NetEvent::Connected);
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming? {
                Ok(Message::Text(text)) => {
                    let _ = events.send(NetEvent::Text(text.to_string()));
                }
                Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
                // tungstenite answers pings itself while we read.
                Ok(_) => {}
                Err(_) => return None,
            },
            outgoing = queue.recv() => match outgoing {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return None;
                    }
                }
                None => {
                    // The client is quitting: say goodbye properly.
                    let bye = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                    let _ = socket.close(Some(bye)).await;
                    return None;
                }
            },
        }
    }
}
