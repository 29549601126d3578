//! The bot binary against the real server over real sockets: a person meets
//! it, sees the bot label, gets answers, and is moved on from; a server that
//! does not allow bots stops it with a clear message.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);

/// Starts the reference server in this process on a free port.
async fn server(extra: &[&str]) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut args = vec!["quicktalk", "--store", "memory", "--log", "warn"];
    args.extend_from_slice(extra);
    let config = quicktalk_server::Cli::try_parse_from(args).unwrap().serve;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(quicktalk_server::run(config, listener, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// The bot process, killed when the test ends.
struct BotProcess(Child);

impl BotProcess {
    fn start(url: &str, extra: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_quicktalk-bot"))
            .args(["--url", url, "--reply-delay-ms", "20"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bot starts");
        Self(child)
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A person: a raw protocol client.
struct Person(Socket);

impl Person {
    async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut person = Self(socket);
        person.expect("hello").await;
        person
    }

    async fn send(&mut self, frame: Value) {
        self.0
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// The next frame of this type (others, like `online` or `typing`, are skipped).
    async fn expect(&mut self, kind: &str) -> Value {
        let read = async {
            loop {
                let message = self.0.next().await.expect("open").expect("no error");
                if let Message::Text(text) = message {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == kind {
                        return frame;
                    }
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .unwrap_or_else(|_| panic!("no `{kind}` frame within {WAIT:?}"))
    }

    /// The next line from the stranger.
    async fn line(&mut self) -> String {
        loop {
            let frame = self.expect("message").await;
            if frame["from"] == "stranger" {
                return frame["text"].as_str().unwrap().to_owned();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_meets_the_labelled_bot_chats_and_is_moved_on_from() {
    let (url, _stop) = server(&["--allow-bots"]).await;
    let _bot = BotProcess::start(&url, &["--lines", "2", "--greeting", "hello human"]);

    let mut alice = Person::connect(&url).await;
    alice.send(json!({"type": "join"})).await;
    let matched = alice.expect("matched").await;
    assert_eq!(matched["partner_bot"], true, "labelled as a bot: {matched}");
    assert_eq!(alice.line().await, "hello human");
    alice
        .send(json!({"type": "send", "text": "안녕 봇", "cid": "a1"}))
        .await;
    assert_eq!(alice.line().await, "안녕 봇", "echo mode repeats the line");
    alice
        .send(json!({"type": "send", "text": "bye", "cid": "a2"}))
        .await;
    assert_eq!(alice.line().await, "bye");
    let left = alice.expect("partner_left").await;
    assert_eq!(left["reason"], "skipped", "moves on after --lines 2");

    // The bot queued again; the next person meets it (Alice is in its
    // rematch cooldown, so she would not).
    let mut bob = Person::connect(&url).await;
    bob.send(json!({"type": "join"})).await;
    assert_eq!(bob.expect("matched").await["partner_bot"], true);
    assert_eq!(bob.line().await, "hello human");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_stops_with_a_clear_message_where_bots_are_not_allowed() {
    let (url, _stop) = server(&[]).await;
    let bot = BotProcess::start(&url, &[]);
    let mut child = bot;
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the bot did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-bots"), "{stderr}");
}
