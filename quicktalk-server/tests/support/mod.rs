//! A server on a free loopback port, and WebSocket and HTTP clients for it.
#![allow(dead_code, missing_docs)]

pub mod workers;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use quicktalk_server::{Cli, ServeConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// This crate's folder, as `cargo test` names it when it runs the test.
/// Not `env!("CARGO_MANIFEST_DIR")`: that is the folder the test was
/// compiled in, and a build cache shared by two clones (a
/// `CARGO_TARGET_DIR` outside them) keeps a test built in one and run from
/// the other, which then reads the first clone's files, or none.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), quicktalk_server::Error>>>,
}

/// The config a test server starts from: memory store, loopback, and limits
/// raised only where a test says so.
pub fn config(args: &[&str]) -> ServeConfig {
    let mut all = vec!["quicktalk", "--bind", "127.0.0.1:0"];
    if !args.contains(&"--store") {
        all.extend(["--store", "memory"]);
    }
    all.extend_from_slice(args);
    Cli::try_parse_from(all).expect("valid test flags").serve
}

impl Server {
    pub async fn start(config: ServeConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(quicktalk_server::run(config, listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A handle on a server started elsewhere (it is not stopped on drop).
    pub fn at(addr: SocketAddr) -> Self {
        Self {
            addr,
            stop: None,
            task: None,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server stops in time")
                .unwrap()
                .unwrap();
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

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client speaking the protocol.
pub struct Client {
    pub socket: Socket,
    pub hello: Value,
    /// The last `matched` frame received.
    pub matched: Option<Value>,
}

impl Client {
    pub async fn connect(server: &Server) -> Self {
        Self::connect_with_origin(server, None)
            .await
            .expect("upgrade")
    }

    pub async fn connect_with_origin(
        server: &Server,
        origin: Option<&str>,
    ) -> Result<Self, WsError> {
        let mut client = Self::connect_raw(server, origin).await?;
        client.hello = client.expect("hello").await;
        Ok(client)
    }

    /// Upgrades without reading anything.
    pub async fn connect_raw(server: &Server, origin: Option<&str>) -> Result<Self, WsError> {
        let headers: Vec<(&str, &str)> = origin
            .map(|origin| ("origin", origin))
            .into_iter()
            .collect();
        Self::connect_with_headers(server, &headers).await
    }

    /// Connects as a client at `ip` behind a trusted proxy (the server
    /// must list 127.0.0.1 in `--trusted-proxies`): its own client key.
    pub async fn connect_from(server: &Server, ip: &str) -> Result<Self, WsError> {
        let mut client = Self::connect_with_headers(server, &[("x-forwarded-for", ip)]).await?;
        client.hello = client.expect("hello").await;
        Ok(client)
    }

    /// Upgrades with these request headers, without reading anything.
    pub async fn connect_with_headers(
        server: &Server,
        headers: &[(&str, &str)],
    ) -> Result<Self, WsError> {
        let mut request = server.ws_url().into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self {
            socket,
            hello: Value::Null,
            matched: None,
        })
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.unwrap();
    }

    /// The next protocol frame (pings and `online` counts skipped).
    pub async fn recv(&mut self) -> Value {
        self.recv_within(TIMEOUT).await
    }

    /// The next protocol frame, waiting up to `within` for each message.
    pub async fn recv_within(&mut self, within: Duration) -> Value {
        loop {
            let message = tokio::time::timeout(within, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a valid frame");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "matched" {
                        self.matched = Some(value.clone());
                    }
                    if value["type"] != "online" {
                        return value;
                    }
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next frame, which must have this type.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "expected {kind}, got {frame}");
        frame
    }

    /// Waits for the server's close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(TIMEOUT, self.socket.next())
                .await
                .expect("closed in time")
            {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The room of the last `matched` frame.
    pub fn last_matched_room(&self) -> quicktalk_core::RoomId {
        let matched = self.matched.as_ref().expect("matched");
        matched["room"].as_str().unwrap().parse().unwrap()
    }

    /// `matched` for a join that finds a partner at once: in cluster mode
    /// every join is queued first (`waiting`), then matched.
    pub async fn expect_matched(&mut self) -> Value {
        let mut frame = self.recv().await;
        if frame["type"] == "waiting" {
            frame = self.recv().await;
        }
        assert_eq!(frame["type"], "matched", "{frame}");
        frame
    }

    pub async fn join(&mut self, interests: &[&str]) {
        self.send(json!({"type": "join", "interests": interests}))
            .await;
    }
}

/// Two clients matched with each other.
pub async fn pair(server: &Server) -> (Client, Client) {
    let mut a = Client::connect(server).await;
    let mut b = Client::connect(server).await;
    a.join(&[]).await;
    a.expect("waiting").await;
    b.join(&[]).await;
    a.expect("matched").await;
    b.expect_matched().await;
    (a, b)
}

/// A local port nothing listens on (for a process the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP request; returns status and body.
pub async fn http(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_full(server, method, path, headers, body).await;
    (status, body)
}

/// A plain HTTP request; returns status, the response's head (status line
/// and headers) and body.
pub async fn http_full(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response[9..12].parse().unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or((response.as_str(), ""));
    (status, head.to_owned(), dechunk(body))
}

/// Undoes chunked transfer encoding when present.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 {
            return out;
        }
        if after.len() < size {
            return body.to_owned();
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}
