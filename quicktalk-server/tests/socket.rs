//! The protocol over real sockets: a server on loopback and WebSocket clients.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_strangers_with_a_common_interest_are_matched_and_chat_both_ways() {
    let server = Server::start(config(&[])).await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    assert_eq!(a.hello["protocol"], 1);
    assert_eq!(a.hello["limits"]["max_text_chars"], 500);
    a.send(json!({"type": "join", "interests": ["Music", "art"], "lang": "ko"}))
        .await;
    a.expect("waiting").await;
    b.send(json!({"type": "join", "interests": ["music"]}))
        .await;
    let matched_a = a.expect("matched").await;
    let matched_b = b.expect("matched").await;
    assert_eq!(matched_a["room"], matched_b["room"]);
    assert_eq!(matched_a["common_interests"], json!(["music"]));
    assert_eq!(matched_b["partner_lang"], "ko");

    a.send(json!({"type": "typing", "active": true})).await;
    assert_eq!(b.expect("typing").await["active"], true);
    a.send(json!({"type": "send", "text": "안녕하세요", "cid": "a1"}))
        .await;
    let echo = a.expect("message").await;
    assert_eq!(
        (
            echo["seq"].as_u64(),
            echo["from"].as_str(),
            echo["cid"].as_str()
        ),
        (Some(1), Some("you"), Some("a1"))
    );
    let line = b.expect("message").await;
    assert_eq!(
        (
            line["seq"].as_u64(),
            line["from"].as_str(),
            line["text"].as_str()
        ),
        (Some(1), Some("stranger"), Some("안녕하세요"))
    );
    assert!(line.get("cid").is_none());
    b.send(json!({"type": "send", "text": "hi!", "cid": "b1"}))
        .await;
    assert_eq!(b.expect("message").await["seq"], 2);
    assert_eq!(a.expect("message").await["seq"], 2);
}

#[tokio::test]
async fn strangers_without_a_common_interest_meet_by_fallback() {
    let server = Server::start(config(&["--interest-wait-secs", "1"])).await;
    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.join(&["music"]).await;
    a.expect("waiting").await;
    b.join(&["books"]).await;
    b.expect("waiting").await;
    let matched = a.expect("matched").await;
    assert_eq!(matched["common_interests"], json!([]));
    b.expect("matched").await;
}

#[tokio::test]
async fn next_and_leave_tell_the_partner() {
    let server = Server::start(config(&[])).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "next"})).await;
    a.expect("waiting").await;
    assert_eq!(b.expect("partner_left").await["reason"], "skipped");
    let mut c = Client::connect(&server).await;
    c.join(&[]).await;
    c.expect("matched").await;
    a.expect("matched").await;
    c.send(json!({"type": "leave"})).await;
    assert_eq!(a.expect("partner_left").await["reason"], "left");
}

#[tokio::test]
async fn malformed_frames_get_bad_request_and_the_connection_stays_open() {
    let server = Server::start(config(&[])).await;
    let mut a = Client::connect(&server).await;
    for bad in [
        "not json",
        r#"{"type":"dance"}"#,
        r#"{"type":"send","text":5}"#,
        r#"{"text":"no type"}"#,
    ] {
        a.send_raw(Message::Text(bad.into())).await;
        let error = a.expect("error").await;
        assert_eq!(error["code"], "bad_request", "{bad}");
    }
    a.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(a.expect("error").await["code"], "unsupported");
    a.send(json!({"type": "ping"})).await;
    a.expect("pong").await;
}

#[tokio::test]
async fn wrong_states_get_the_protocols_answers() {
    let server = Server::start(config(&[])).await;
    let mut a = Client::connect(&server).await;
    a.send(json!({"type": "send", "text": "hello?", "cid": "x"}))
        .await;
    let rejected = a.expect("rejected").await;
    assert_eq!(
        (rejected["reason"].as_str(), rejected["cid"].as_str()),
        (Some("not_in_room"), Some("x"))
    );
    a.join(&[]).await;
    a.expect("waiting").await;
    a.join(&[]).await;
    assert_eq!(a.expect("error").await["code"], "bad_state");
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009_and_a_long_text_is_rejected() {
    let server = Server::start(config(&[])).await;
    let (mut a, _b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "x".repeat(501), "cid": "long"}))
        .await;
    assert_eq!(a.expect("rejected").await["reason"], "too_long");
    a.send_raw(Message::Text("y".repeat(5000).into())).await;
    let close = a.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
}

#[tokio::test]
async fn broken_websocket_frames_close_with_the_codes_that_name_the_fault() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let server = Server::start(config(&["--resume-grace-secs", "1"])).await;
    let (mut a, mut b) = pair(&server).await;
    // A text frame whose bytes are not UTF-8: 1007.
    let not_utf8 = Frame::message(vec![0xff, 0xfe, b'{', b'}'], OpCode::Data(Data::Text), true);
    a.send_raw(Message::Frame(not_utf8)).await;
    let close = a.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1007);
    // A frame with a reserved bit set (no extension was agreed): 1002.
    let (mut c, _d) = pair(&server).await;
    let mut reserved = Frame::ping(vec![1, 2]);
    reserved.header_mut().rsv1 = true;
    c.send_raw(Message::Frame(reserved)).await;
    let close = c.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1002);
    // Neither touched the partner's connection beyond the usual notice.
    assert_eq!(b.expect("partner_left").await["reason"], "disconnected");
}

#[tokio::test]
async fn a_client_that_closes_gets_the_close_reply_rfc_6455_requires() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let server = Server::start(config(&[])).await;
    // Idle, and in a room: a browser closing a tab either way sees a clean
    // close (1000 echoed), not 1006.
    let mut idle = Client::connect(&server).await;
    let (mut chatting, _partner) = pair(&server).await;
    for client in [&mut idle, &mut chatting] {
        let bye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        client.send_raw(Message::Close(Some(bye))).await;
        let reply = client.closed().await.expect("the server answers the close");
        assert_eq!(u16::from(reply.code), 1000);
    }
}

#[tokio::test]
async fn a_burst_of_frames_is_answered_in_full_not_closed_as_too_slow() {
    // 300 pings in one write: more answers than the send queue holds (256)
    // arrive before the writer runs. The reader waits for the queue to
    // drain instead of closing the connection with 4002.
    let server = Server::start(config(&[])).await;
    let mut client = Client::connect(&server).await;
    for _ in 0..300 {
        client
            .socket
            .feed(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .expect("queued");
    }
    client.socket.flush().await.expect("written");
    for n in 0..300 {
        let frame = client.recv().await;
        assert_eq!(frame["type"], "pong", "answer {n}: {frame}");
    }
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed_with_1008_and_others_are_untouched() {
    let server = Server::start(config(&[])).await;
    let (mut a, mut b) = pair(&server).await;
    let (mut c, mut d) = pair(&server).await;
    for n in 0..40 {
        a.send(json!({"type": "send", "text": "spam", "cid": format!("s{n}")}))
            .await;
    }
    let close = a.closed().await.expect("closed for flooding");
    assert_eq!(u16::from(close.code), 1008);
    let mut delivered = 0;
    loop {
        let frame = b.recv().await;
        match frame["type"].as_str() {
            Some("message") => delivered += 1,
            Some("partner_left") => {
                assert_eq!(frame["reason"], "removed");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        delivered, 10,
        "the burst went through, the rest was rejected"
    );
    c.send(json!({"type": "send", "text": "fine", "cid": "c1"}))
        .await;
    assert_eq!(d.expect("message").await["text"], "fine");
}

#[tokio::test]
async fn a_dropped_connection_resumes_and_gets_every_missed_line_once() {
    let server = Server::start(config(&[])).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "one", "cid": "1"}))
        .await;
    a.expect("message").await;
    let first = b.expect("message").await;
    let token = b.hello["resume_token"].as_str().unwrap().to_owned();
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 2..=4 {
        a.send(json!({"type": "send", "text": format!("line {n}"), "cid": n.to_string()}))
            .await;
        a.expect("message").await;
    }
    let mut b = Client::connect(&server).await;
    b.send(json!({"type": "resume", "token": token, "last_seq": first["seq"]}))
        .await;
    let resumed = b.expect("resumed").await;
    assert_eq!(resumed["replayed"], 3);
    let seqs: Vec<u64> = {
        let mut seqs = Vec::new();
        for _ in 0..3 {
            seqs.push(b.expect("message").await["seq"].as_u64().unwrap());
        }
        seqs
    };
    assert_eq!(seqs, [2, 3, 4]);
    b.send(json!({"type": "send", "text": "back", "cid": "b"}))
        .await;
    b.expect("message").await;
    let line = a.expect("message").await;
    assert_eq!(
        (line["seq"].as_u64(), line["text"].as_str()),
        (Some(5), Some("back")),
        "a saw no partner_left"
    );
}

/// Reads (and so answers pings) for `time`, expecting no protocol frame.
async fn read_quietly(client: &mut Client, time: Duration) {
    let deadline = tokio::time::Instant::now() + time;
    while let Ok(message) = tokio::time::timeout_at(deadline, client.socket.next()).await {
        match message.expect("open").expect("valid") {
            Message::Text(text) => assert!(text.contains(r#""online""#), "unexpected {text}"),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn connections_opened_together_get_their_first_ping_at_different_times() {
    let server = Server::start(config(&["--ping-interval-secs", "2"])).await;
    let opened = tokio::time::Instant::now();
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(Client::connect(&server).await);
    }
    // Each reads until its first ping, which must come within the interval.
    let firsts = futures_util::future::join_all(clients.iter_mut().map(|client| async {
        let deadline = opened + Duration::from_millis(3000);
        loop {
            let next = tokio::time::timeout_at(deadline, client.socket.next()).await;
            match next
                .expect("a ping within the interval")
                .expect("open")
                .expect("valid")
            {
                Message::Ping(_) => return opened.elapsed(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }))
    .await;
    let (first, last) = (firsts.iter().min().unwrap(), firsts.iter().max().unwrap());
    // Spread over the 2 s interval (0.2-2 s after connecting), not 16
    // pings in the same few milliseconds.
    assert!(
        *last - *first > Duration::from_millis(300),
        "first pings {firsts:?}"
    );
    server.stop().await;
}

/// A server that pings every second and takes lines as fast as they come
/// (plus `extra` flags), and a pair on it after A sent `lines` lines, each
/// echoed to A and read by B.
async fn pinged_pair_after_lines(extra: &[&str], lines: u64) -> (Server, Client, Client) {
    let mut flags = vec![
        "--ping-interval-secs",
        "1",
        "--rate-per-sec",
        "1000",
        "--rate-burst",
        "1000",
    ];
    flags.extend_from_slice(extra);
    let server = Server::start(config(&flags)).await;
    let (mut a, mut b) = pair(&server).await;
    for n in 1..=lines {
        a.send(json!({"type": "send", "text": format!("line {n}"), "cid": n.to_string()}))
            .await;
        a.expect("message").await;
        b.expect("message").await;
    }
    (server, a, b)
}

#[tokio::test]
async fn lines_both_clients_confirmed_by_pong_are_not_kept_and_missed_ones_still_are() {
    let keep = quicktalk_core::EngineConfig::default().report_context_lines as u64;
    let lines = keep + 10;
    let (server, mut a, mut b) =
        pinged_pair_after_lines(&["--delivery-settle-secs", "1"], lines).await;
    // Pings go out after the lines on both sockets; the pongs carry the
    // delivery marks back, and a mark counts once a later one shows the
    // connection open a second (the settle time) after it.
    tokio::join!(
        read_quietly(&mut a, Duration::from_millis(3500)),
        read_quietly(&mut b, Duration::from_millis(3500))
    );
    a.send(json!({"type": "send", "text": "after", "cid": "after"}))
        .await;
    a.expect("message").await;
    b.expect("message").await;
    let token = b.hello["resume_token"].as_str().unwrap().to_owned();
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A resume from nothing gets only what the room still keeps: the last
    // `keep` lines (a report's context), not every line of the chat.
    let mut b = Client::connect(&server).await;
    b.send(json!({"type": "resume", "token": token, "last_seq": 0}))
        .await;
    let resumed = b.expect("resumed").await;
    assert_eq!(resumed["replayed"], keep);
    let mut seqs = Vec::new();
    for _ in 0..keep {
        seqs.push(b.expect("message").await["seq"].as_u64().unwrap());
    }
    let expected: Vec<u64> = (lines + 2 - keep..=lines + 1).collect();
    assert_eq!(seqs, expected);

    // Lines sent while a client is gone (no pong can confirm them) are all
    // kept and replayed, however many.
    let token = resumed["resume_token"].as_str().unwrap().to_owned();
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let missed = keep + 15;
    for n in 0..missed {
        a.send(json!({"type": "send", "text": format!("missed {n}"), "cid": format!("m{n}")}))
            .await;
        a.expect("message").await;
    }
    read_quietly(&mut a, Duration::from_millis(1500)).await;
    let mut b = Client::connect(&server).await;
    b.send(json!({"type": "resume", "token": token, "last_seq": lines + 1}))
        .await;
    assert_eq!(b.expect("resumed").await["replayed"], missed);
    for n in 0..missed {
        let line = b.expect("message").await;
        assert_eq!(line["seq"], lines + 2 + n);
        assert_eq!(line["text"], format!("missed {n}"));
    }
}

#[tokio::test]
async fn a_client_that_drops_soon_after_its_socket_read_lines_it_never_kept_gets_them_on_resume() {
    // The outside review's case: a WebSocket library reads a burst and
    // answers the server's ping by itself, the application has taken only
    // the first lines, and the connection is cut. The pong said every line
    // was read; the resume must still bring the ones the client never kept.
    let keep = quicktalk_core::EngineConfig::default().report_context_lines as u64;
    let lines = keep + 25;
    let (server, mut a, mut b) =
        pinged_pair_after_lines(&["--delivery-settle-secs", "5"], lines).await;
    // B's socket reads on and pongs the pings (marks up to the last line),
    // for less than the settle time (5 s here, so a slow test box cannot
    // stretch the reading past it).
    tokio::join!(
        read_quietly(&mut a, Duration::from_millis(2500)),
        read_quietly(&mut b, Duration::from_millis(2500))
    );
    let kept = 10;
    let token = b.hello["resume_token"].as_str().unwrap().to_owned();
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut b = Client::connect(&server).await;
    b.send(json!({"type": "resume", "token": token, "last_seq": kept}))
        .await;
    assert_eq!(b.expect("resumed").await["replayed"], lines - kept);
    for seq in kept + 1..=lines {
        let line = b.expect("message").await;
        assert_eq!(line["seq"], seq);
        assert_eq!(line["text"], format!("line {seq}"));
    }
}

#[tokio::test]
async fn the_partner_is_told_disconnected_when_the_grace_runs_out() {
    let server = Server::start(config(&["--resume-grace-secs", "1"])).await;
    let (mut a, b) = pair(&server).await;
    drop(b);
    assert_eq!(a.expect("partner_left").await["reason"], "disconnected");
}

#[tokio::test]
async fn an_origin_not_in_the_allowlist_is_refused_with_403() {
    let server = Server::start(config(&["--allowed-origins", "https://chat.example.com"])).await;
    let error = Client::connect_with_origin(&server, Some("https://evil.example.net"))
        .await
        .err()
        .expect("refused");
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(
        Client::connect_with_origin(&server, Some("https://chat.example.com"))
            .await
            .is_ok()
    );
    let own = format!("http://{}", server.addr);
    assert!(
        Client::connect_with_origin(&server, Some(&own))
            .await
            .is_ok(),
        "the page's own origin"
    );
    assert!(
        Client::connect_with_origin(&server, None).await.is_ok(),
        "non-browser clients"
    );
}

#[tokio::test]
async fn the_per_ip_connection_cap_refuses_with_429() {
    let server = Server::start(config(&["--max-connections-per-ip", "2"])).await;
    let _a = Client::connect(&server).await;
    let _b = Client::connect(&server).await;
    match Client::connect_with_origin(&server, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn new_connections_from_one_ip_faster_than_the_rate_are_refused_with_429() {
    // A burst of twice the per-IP cap, then 0.01 a second: a client that
    // drops and reopens cannot pile up sessions held for resume.
    let server = Server::start(config(&[
        "--max-connections-per-ip",
        "2",
        "--connect-rate-per-ip",
        "0.01",
    ]))
    .await;
    for _ in 0..4 {
        let client = Client::connect(&server).await;
        drop(client);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match Client::connect_with_origin(&server, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(body.contains("too many new connections"), "{body}");
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn one_address_cannot_hold_more_tcp_connections_than_its_share() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // --max-connections-per-ip 1: room for 2 + 16 connections from one
    // address. Connections that never finish their headers (slowloris)
    // used to pile up until the process ran out of file descriptors.
    let server = Server::start(config(&["--max-connections-per-ip", "1"])).await;
    let mut held = Vec::new();
    for _ in 0..18 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHo")
            .await
            .unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), extra.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the 19th connection is closed unanswered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = http(&server, "GET", "/livez", &[], "").await;
    assert_eq!(status, 200, "served again once they are gone");
}

#[tokio::test]
async fn shutdown_closes_every_client_with_1001() {
    let server = Server::start(config(&[])).await;
    let (mut a, mut b) = pair(&server).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(u16::from(a.closed().await.expect("close").code), 1001);
    assert_eq!(u16::from(b.closed().await.expect("close").code), 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn ops_endpoints_answer() {
    let server = Server::start(config(&[])).await;
    let (_a, _b) = pair(&server).await;
    let (status, body) = http(&server, "GET", "/api/stats", &[], "").await;
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (stats["online"].as_u64(), stats["rooms"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(http(&server, "GET", "/livez", &[], "").await.0, 200);
    assert_eq!(http(&server, "GET", "/readyz", &[], "").await.0, 200);
    let (status, metrics) = http(&server, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("quicktalk_rooms"), "{metrics}");
    let (status, page) = http(&server, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    assert!(page.contains("QuickTalk"));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4002_and_its_partner_is_not_slowed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let server = Server::start(config(&[
        "--send-queue",
        "16",
        "--rate-per-sec",
        "100000",
        "--rate-burst",
        "100000",
    ]))
    .await;
    let (a, mut b) = pair(&server).await;
    let (mut sink, mut stream) = futures_util::StreamExt::split(a.socket);
    // a reads its echoes as they come (a well-behaved client keeps at most 8
    // lines in flight); b reads nothing until the end.
    let echoed = Arc::new(AtomicU32::new(0));
    let counter = echoed.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(Ok(message))) = tokio::time::timeout(
            Duration::from_secs(3),
            futures_util::StreamExt::next(&mut stream),
        )
        .await
        {
            if let Message::Text(text) = message {
                if text.contains("\"from\":\"you\"") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let line = "z".repeat(400);
    let total = 20_000u32;
    for n in 0..total {
        while n >= echoed.load(Ordering::Relaxed) + 8 {
            tokio::task::yield_now().await;
        }
        let frame = json!({"type": "send", "text": line, "cid": n.to_string()}).to_string();
        futures_util::SinkExt::send(&mut sink, Message::Text(frame.into()))
            .await
            .unwrap();
    }
    while echoed.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reader.abort();
    let close = b.closed().await.expect("a close frame");
    assert_eq!(
        u16::from(close.code),
        4002,
        "the reader that stopped was closed as too slow"
    );
}

#[tokio::test]
async fn a_closed_client_that_never_answers_the_close_frees_its_slot() {
    let server = Server::start(config(&["--max-connections-per-ip", "2"])).await;
    let (mut a, _b) = pair(&server).await;
    for n in 0..40 {
        a.send(json!({"type": "send", "text": "spam", "cid": format!("s{n}")}))
            .await;
    }
    // a never reads again, so it never answers the server's 1008 close.
    tokio::time::sleep(Duration::from_millis(3_800)).await;
    assert!(
        Client::connect_with_origin(&server, None).await.is_ok(),
        "the silent socket's slot was released"
    );
    drop(a);
}
