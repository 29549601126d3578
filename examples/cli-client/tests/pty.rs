//! End-to-end: the built `quicktalk-cli` in a pseudo-terminal against the
//! real server, with a raw WebSocket client as the stranger.
//!
//! The CLI draws with ratatui into a 100x30 pty; vt100 parses the bytes into
//! a screen, and the tests wait (up to 10 s per step) for text to appear.
//! A failing wait prints the screen.

mod support;

use serde_json::json;
use support::{Proxy, RawClient, Server, Terminal, ws_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_chats_with_a_raw_client_through_the_real_server() {
    let server = Server::start().await;
    let url = ws_url(server.addr);
    let mut cli = Terminal::spawn(&["--url", &url, "--interests", "music"]);
    cli.wait_for_text("Looking for a stranger").await;

    let mut stranger = RawClient::connect(server.addr).await;
    stranger.join(&["music"]).await;
    let (matched, _) = stranger.until("matched").await;
    assert_eq!(matched["common_interests"], json!(["music"]));
    cli.wait_for_text("Matched with a stranger. Common interests: music")
        .await;

    // The stranger's line appears, then their typing indicator.
    stranger.say("hi from the test", "t-1").await;
    cli.wait_for_text("stranger: hi from the test").await;
    stranger
        .send(json!({"type": "typing", "active": true}))
        .await;
    cli.wait_for_text("stranger is typing…").await;

    // A line typed into the terminal reaches the stranger, preceded by the
    // typing indicator, and is marked acknowledged once echoed.
    cli.type_keys("hello from the pty");
    let (typing, _) = stranger.until("typing").await;
    assert_eq!(typing["active"], true);
    cli.type_keys("\r");
    let (message, _) = stranger.until("message").await;
    assert_eq!(message["from"], "stranger");
    assert_eq!(message["text"], "hello from the pty");
    cli.wait_for_text("you: hello from the pty ✓").await;

    // `/next` skips the stranger.
    cli.type_keys("/next\r");
    let (left, _) = stranger.until("partner_left").await;
    assert_eq!(left["reason"], "skipped");
    cli.wait_for_text("You skipped the stranger.").await;
    cli.wait_for_text("Looking for a stranger").await;

    cli.type_keys("/quit\r");
    assert_eq!(cli.exit_code().await, 0, "/quit exits with status 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_resumes_after_a_drop_and_resends_its_pending_line_once() {
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr).await;
    let url = ws_url(proxy.addr);
    let mut cli = Terminal::spawn(&["--url", &url, "--interests", "music", "--ko"]);
    cli.wait_for_text("상대를 찾는 중").await;

    let mut stranger = RawClient::connect(server.addr).await;
    stranger.join(&["music"]).await;
    stranger.until("matched").await;
    cli.wait_for_text("공통 관심사: music").await;
    stranger.say("before the drop", "t-1").await;
    cli.wait_for_text("상대: before the drop").await;

    // The network goes away; the CLI notices and keeps trying.
    proxy.cut();
    cli.wait_for_text("다시 연결합니다").await;
    cli.type_keys("typed while offline\r");
    cli.wait_for_text("나: typed while offline (전송 중…)")
        .await;
    stranger.say("while you were away", "t-2").await;

    // Back online: resume restores the room, replays what was missed, and
    // the pending line goes out (once) with its original cid.
    proxy.heal();
    cli.wait_for_text("다시 연결되어 대화를 복구했습니다").await;
    cli.wait_for_text("상대: while you were away").await;
    cli.wait_for_text("나: typed while offline ✓").await;
    let (message, before) = stranger.until("message").await;
    assert_eq!(message["text"], "typed while offline");
    assert!(
        before.iter().all(|frame| frame["type"] != "partner_left"),
        "the stranger saw nothing of the drop: {before:?}"
    );
    stranger.send(json!({"type": "ping"})).await;
    let (_, before) = stranger.until("pong").await;
    assert!(
        before.iter().all(|frame| frame["type"] != "message"),
        "the resent line arrived once: {before:?}"
    );
    let screen = cli.contents();
    for line in [
        "before the drop",
        "while you were away",
        "typed while offline",
    ] {
        assert_eq!(
            screen.matches(line).count(),
            1,
            "{line:?} once on:\n{screen}"
        );
    }
    cli.wait_for_text("공통 관심사: music").await;

    cli.type_keys("\x03"); // Ctrl-C
    assert_eq!(cli.exit_code().await, 0, "Ctrl-C exits with status 0");
}
