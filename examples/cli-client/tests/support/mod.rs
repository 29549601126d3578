//! Test helpers: the real server in-process, a raw WebSocket client, a TCP
//! proxy that can cut connections, and the built CLI in a pseudo-terminal.
#![allow(dead_code, missing_docs)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use quicktalk_server::Cli;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expectation may take (generous for a slow 2-core box).
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const ROWS: u16 = 30;
pub const COLS: u16 = 100;

/// The reference server on a free loopback port with the memory store.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    _task: JoinHandle<Result<(), quicktalk_server::Error>>,
}

impl Server {
    pub async fn start() -> Self {
        let config =
            Cli::try_parse_from(["quicktalk", "--bind", "127.0.0.1:0", "--store", "memory"])
                .expect("valid server flags")
                .serve;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(quicktalk_server::run(config, listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            _task: task,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// A raw protocol client, as another person's browser would be.
pub struct RawClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawClient {
    /// Connects and reads `hello`.
    pub async fn connect(addr: SocketAddr) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url(addr))
            .await
            .expect("upgrade");
        let mut client = Self { socket };
        client.expect("hello").await;
        client
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }

    /// The next frame other than `online`.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(TIMEOUT, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a valid frame");
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).expect("json");
                if frame["type"] != "online" {
                    return frame;
                }
            }
        }
    }

    /// Reads frames until one of type `kind`; returns it and those before it.
    pub async fn until(&mut self, kind: &str) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return (frame, before);
            }
            before.push(frame);
        }
    }

    /// The next frame, which must be of type `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "expected {kind}, got {frame}");
        frame
    }

    /// Sends a chat line and waits for its echo (the server's ack).
    pub async fn say(&mut self, text: &str, cid: &str) {
        self.send(json!({"type": "send", "text": text, "cid": cid}))
            .await;
        let (echo, _) = self.until("message").await;
        assert_eq!(echo["cid"], cid, "the echo of {text:?}");
    }

    pub async fn join(&mut self, interests: &[&str]) {
        self.send(json!({"type": "join", "interests": interests}))
            .await;
    }
}

/// A TCP forwarder between the CLI and the server that can drop every
/// connection and refuse new ones: a network outage on demand.
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    _accept: JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    refusing: bool,
    links: Vec<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut state = shared.lock().unwrap();
                if state.refusing {
                    continue; // dropping `inbound` closes it
                }
                state.links.push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Self {
            addr,
            state,
            _accept: accept,
        }
    }

    /// Drops every open connection and refuses new ones until [`Self::heal`].
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.refusing = true;
        for link in state.links.drain(..) {
            link.abort();
        }
    }

    /// Accepts connections again.
    pub fn heal(&self) {
        self.state.lock().unwrap().refusing = false;
    }
}

/// The built `quicktalk-cli` in a pseudo-terminal, its screen parsed by vt100.
pub struct Terminal {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Terminal {
    pub fn spawn(args: &[&str]) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_quicktalk-cli"));
        command.args(args);
        command.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(command).expect("the CLI starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let size = |n| NonZeroU16::new(n).unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(size(ROWS), size(COLS), 0)));
        let parser = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                parser.lock().unwrap().process(&buf[..n]);
            }
        });
        Self {
            screen,
            writer,
            child,
            _master: pair.master,
        }
    }

    /// The screen as plain text.
    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Types text (use `\r` for Enter).
    pub fn type_keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits until the screen satisfies `check`; panics with the screen if not.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let contents = self.contents();
            if check(&contents) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen is:\n{contents}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the screen shows `text`.
    pub async fn wait_for_text(&self, text: &str) {
        self.wait_for(&format!("{text:?}"), |screen| screen.contains(text))
            .await;
    }

    /// Waits for the CLI to exit; returns its exit code.
    pub async fn exit_code(&mut self) -> u32 {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            if tokio::time::Instant::now() > deadline {
                panic!("the CLI did not exit; the screen is:\n{}", self.contents());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // A failed test must not leave the CLI running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}
