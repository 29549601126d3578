//! The example app over real sockets: the chat refuses strangers to the
//! app, lets its users chat, applies the app's word list and link rule, and
//! keeps lines and reports in the app's SQLite file.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quicktalk_core::RoomId;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `POST /login`: returns (cookie header value, bearer token).
async fn login(addr: SocketAddr, name: &str) -> (String, String) {
    let body = format!("name={name}");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let cookie = response
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let token = response.rsplit("\r\n\r\n").next().unwrap().to_owned();
    (cookie, token)
}

async fn connect(
    addr: SocketAddr,
    header: Option<(&'static str, &str)>,
) -> Result<Socket, WsError> {
    let mut request = format!("ws://{addr}/community/chat/ws")
        .into_client_request()
        .unwrap();
    if let Some((name, value)) = header {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(s, _)| s)
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next frame of this type (online counts and the like are skipped).
async fn expect(socket: &mut Socket, kind: &str) -> Value {
    let read = async {
        loop {
            if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == kind {
                    return frame;
                }
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .unwrap_or_else(|_| panic!("no {kind} within {WAIT:?}"))
}

/// Whether a line of the oversized frame reached `socket` within a moment.
/// The code of the close frame the server sends (None: the socket ended
/// without one).
async fn close_code(socket: &mut Socket) -> Option<u16> {
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Close(frame) = message {
                return frame.map(|frame| u16::from(frame.code));
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

async fn alice_saw_big(socket: &mut Socket) -> bool {
    let read = async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                if text.contains("xxxxxxxx") {
                    return true;
                }
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_millis(500), read)
        .await
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_in_users_chat_under_the_apps_rules_and_the_app_keeps_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = quicktalk_example_embed_axum::engine(&dir.path().join("app.db")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = quicktalk_example_embed_axum::router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Not logged in, or a made-up token: 401 before any upgrade.
    for header in [None, Some(("authorization", "Bearer made-up"))] {
        match connect(addr, header).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected 401, got {:?}", other.map(|_| "a socket")),
        }
    }

    // Alice uses the session cookie, Bob the bearer token.
    let (alice_cookie, _) = login(addr, "alice").await;
    let (_, bob_token) = login(addr, "bob").await;
    let mut alice = connect(addr, Some(("cookie", &alice_cookie)))
        .await
        .unwrap();
    let mut bob = connect(
        addr,
        Some(("authorization", &format!("Bearer {bob_token}"))),
    )
    .await
    .unwrap();
    expect(&mut alice, "hello").await;
    expect(&mut bob, "hello").await;
    send(&mut alice, json!({"type": "join", "interests": ["math"]})).await;
    send(&mut bob, json!({"type": "join", "interests": ["math"]})).await;
    let room = expect(&mut alice, "matched").await["room"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(&mut bob, "matched").await;

    let lines = [
        ("hi bob", true),
        // The app's own word list: selling exam answers is spam here.
        ("selling the answer key for the final", false),
        // The app's own rule: links to its site are fine...
        ("my notes: https://study.example/notes/42", true),
        // ...other links are still spam, as the built-in filter says.
        ("free stuff at https://spam.example/win", false),
    ];
    for (index, (text, delivered)) in lines.iter().enumerate() {
        let cid = format!("a{index}");
        send(
            &mut alice,
            json!({"type": "send", "text": text, "cid": cid}),
        )
        .await;
        if *delivered {
            let line = expect(&mut bob, "message").await;
            assert_eq!(line["text"], *text);
        } else {
            let rejected = expect(&mut alice, "rejected").await;
            assert_eq!(
                (&rejected["cid"], &rejected["reason"]),
                (&json!(cid), &json!("moderation"))
            );
            assert_eq!(rejected["category"], "spam", "{text}");
        }
    }
    send(&mut bob, json!({"type": "report", "reason": "spam"})).await;
    expect(&mut bob, "reported").await;

    // Bad input gets an answer: a binary frame, then a frame over the
    // engine's 4 KiB limit (which closes the socket).
    bob.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(expect(&mut bob, "error").await["code"], "unsupported");
    let big = json!({"type": "send", "text": "x".repeat(5000), "cid": "big"});
    send(&mut bob, big).await;
    assert_eq!(expect(&mut bob, "error").await["code"], "bad_request");
    assert_eq!(
        close_code(&mut bob).await,
        Some(1009),
        "the oversized frame's socket closes with 1009"
    );
    assert!(
        !alice_saw_big(&mut alice).await,
        "the oversized line never reached the partner"
    );
    // A client's own close is answered (RFC 6455), not left to end as 1006.
    alice
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    assert_eq!(close_code(&mut alice).await, Some(1000));

    // The app's SQLite file has the delivered lines and the report, with
    // the accounts as client keys.
    assert!(engine.shutdown(WAIT).await, "the store flushed");
    let store = quicktalk_sqlite::SqliteChatStore::open(dir.path().join("app.db")).unwrap();
    let store: &dyn quicktalk_core::ports::chat_store::ChatStore = &store;
    let history = store
        .room_history(room.parse::<RoomId>().unwrap())
        .await
        .unwrap();
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["hi bob", "my notes: https://study.example/notes/42"]
    );
    assert_eq!(history[0].client_key.as_str(), "user:alice");
    let reports = store.reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reported_key.as_str(), "user:alice");
}
