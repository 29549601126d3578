//! The danger-word filter in the server, over real sockets: profanity masked,
//! contact details blocked, flags in the admin API, the filter switched off,
//! and bad moderation settings refused at start-up.

mod support;

use serde_json::{Value, json};
use support::*;

const TOKEN: &str = "test-admin-token-0123456789";

#[tokio::test]
async fn profanity_reaches_the_partner_masked_and_the_echo_says_so() {
    let server = Server::start(config(&[])).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "야 시1발 뭐하냐", "cid": "m1"}))
        .await;
    let echo = a.expect("message").await;
    assert_eq!(echo["text"], "야 *** 뭐하냐");
    assert_eq!(echo["masked"], true);
    let line = b.expect("message").await;
    assert_eq!(line["text"], "야 *** 뭐하냐");
    assert_eq!(line["masked"], true);
    assert_eq!(line["seq"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_phone_number_is_rejected_and_the_partner_sees_no_gap() {
    let flags = ["--admin-token", TOKEN];
    let server = Server::start(config(&flags)).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "내 번호 공일공 1234 5678", "cid": "p1"}))
        .await;
    let rejected = a.expect("rejected").await;
    assert_eq!(
        (&rejected["reason"], &rejected["category"], &rejected["cid"]),
        (&json!("moderation"), &json!("contact"), &json!("p1"))
    );
    a.send(json!({"type": "send", "text": "그냥 얘기하자", "cid": "p2"}))
        .await;
    assert_eq!(a.expect("message").await["seq"], 1);
    let line = b.expect("message").await;
    assert_eq!(
        (line["seq"].as_u64(), line["text"].as_str()),
        (Some(1), Some("그냥 얘기하자"))
    );

    // Flags reach the store through the batching writer: poll briefly.
    let mut text = String::new();
    for _ in 0..50 {
        let (status, body) = http(
            &server,
            "GET",
            "/api/admin/flags",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            "",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let flags: Value = serde_json::from_str(&body).unwrap();
        text = flags.to_string();
        if text.contains("contact") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        text.contains("contact"),
        "the blocked line is flagged: {text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn with_moderation_off_lines_arrive_as_typed() {
    let server = Server::start(config(&["--moderation", "off"])).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "야 시1발 뭐하냐"}))
        .await;
    let line = b.expect("message").await;
    assert_eq!(line["text"], "야 시1발 뭐하냐");
    assert!(line.get("masked").is_none() || line["masked"] == false);
    server.stop().await;
}

#[test]
fn bad_moderation_settings_are_refused_naming_the_setting() {
    let error = config(&["--moderation-actions", "profanity=nuke"])
        .validate()
        .unwrap_err();
    assert_eq!(error.flag, "moderation-actions");
    assert!(error.to_string().contains("unknown action"), "{error}");

    let error = config(&["--moderation-lexicons", "/no/such/lexicon.txt"])
        .validate()
        .unwrap_err();
    assert_eq!(error.env, "QUICKTALK_MODERATION_LEXICONS");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.txt");
    std::fs::write(&path, "[rudeness high]\nblorp\n").unwrap();
    let error = config(&["--moderation-lexicons", path.to_str().unwrap()])
        .validate()
        .unwrap_err();
    assert!(error.to_string().contains("mine.txt:1"), "{error}");

    let error = config(&["--moderation-low-severity", "sometimes"])
        .validate()
        .unwrap_err();
    assert_eq!(error.flag, "moderation-low-severity");
}

#[tokio::test]
async fn an_extra_lexicon_from_the_command_line_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.txt");
    std::fs::write(&path, "[profanity medium]\n|blorp|\n").unwrap();
    let server = Server::start(config(&["--moderation-lexicons", path.to_str().unwrap()])).await;
    let (mut a, mut b) = pair(&server).await;
    a.send(json!({"type": "send", "text": "you b.l.o.r.p"}))
        .await;
    assert_eq!(b.expect("message").await["text"], "you *********");
    server.stop().await;
}
