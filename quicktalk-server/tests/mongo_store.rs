//! The server on a MongoDB store (FerretDB in CI, or the MongoDB named by
//! `QUICKTALK_TEST_MONGO_URI`), over real sockets: history, reports and room
//! events reach the database, and a database outage never slows chat and
//! loses nothing silently.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use quicktalk_core::RoomId;
use quicktalk_core::ports::ChatStore;
use quicktalk_mongo::testing::{FerretDb, ferretdb_bin, test_uri, unique_database};
use quicktalk_mongo::{MongoChatStore, MongoConfig};
use serde_json::{Value, json};
use support::*;

const TOKEN: &str = "test-admin-token-0123456789";

async fn admin(server: &Server, path: &str) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let (status, text) = http(server, "GET", path, &[("Authorization", &auth)], "").await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn open(uri: &str, database: &str) -> MongoChatStore {
    MongoChatStore::connect(&MongoConfig {
        database: Some(database.into()),
        ..MongoConfig::new(uri)
    })
    .await
    .expect("the test database answers")
}

/// Polls `check` every 100 ms until it holds or `within` passes.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_server_on_mongodb_keeps_lines_reports_and_room_events() {
    let Some(uri) = test_uri("a_server_on_mongodb_keeps_lines_reports_and_room_events") else {
        return;
    };
    let database = unique_database("serve");
    let server = Server::start(config(&[
        "--store",
        &uri,
        "--mongo-database",
        &database,
        "--admin-token",
        TOKEN,
    ]))
    .await;
    let (mut a, mut b) = pair(&server).await;
    b.send(json!({"type": "send", "text": "안녕, you are awful", "cid": "b1"}))
        .await;
    b.expect("message").await;
    a.expect("message").await;
    a.send(json!({"type": "report", "reason": "harassment", "note": "please check"}))
        .await;
    a.expect("reported").await;

    let (status, reports) = admin(&server, "/api/admin/reports").await;
    assert_eq!(status, 200);
    assert_eq!(reports[0]["context"][0]["text"], "안녕, you are awful");
    let room = reports[0]["room"].as_str().unwrap().to_owned();
    let store = open(&uri, &database).await;
    let room_id: RoomId = room.parse().unwrap();
    eventually(
        Duration::from_secs(10),
        "the line reaches MongoDB",
        || async { store.room_history(room_id).await.unwrap().len() == 1 },
    )
    .await;
    let (status, history) = admin(&server, &format!("/api/admin/rooms/{room}")).await;
    assert_eq!((status, history[0]["seq"].as_u64()), (200, Some(1)));
    let (status, events) = admin(&server, &format!("/api/admin/rooms/{room}/events")).await;
    assert_eq!(status, 200);
    assert_eq!(events[0]["kind"], "matched");
    assert_eq!(http(&server, "GET", "/readyz", &[], "").await.0, 200);
    server.stop().await;
    let _ = store.database().drop().await;
}

/// `/readyz` answers: status and body.
type Samples = Arc<Mutex<Vec<(u16, Value)>>>;

/// Readiness as seen from outside, sampled in the background.
fn watch_readiness(server: &Server) -> (Samples, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = server.addr;
    let samples = seen.clone();
    let task = tokio::spawn(async move {
        let probe = Server::at(addr);
        loop {
            let (status, body) = http(&probe, "GET", "/readyz", &[], "").await;
            samples
                .lock()
                .push((status, serde_json::from_str(&body).unwrap_or(Value::Null)));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    (seen, task)
}

/// `from` sends a line; returns how long the echo took. The partner must
/// get it too.
async fn say(from: &mut Client, to: &mut Client, text: &str, cid: &str) -> Duration {
    let sent = Instant::now();
    from.send(json!({"type": "send", "text": text, "cid": cid}))
        .await;
    let echo = from.expect("message").await;
    let took = sent.elapsed();
    assert_eq!(echo["cid"], cid);
    let line = to.expect("message").await;
    assert_eq!(line["text"], text);
    took
}

#[tokio::test]
async fn a_database_outage_never_slows_chat_and_everything_held_is_written_once() {
    let test = "a_database_outage_never_slows_chat_and_everything_held_is_written_once";
    let Some(binary) = ferretdb_bin(test) else {
        return;
    };
    let outage = Duration::from_secs(
        std::env::var("QUICKTALK_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut database = FerretDb::start(&binary, dir.path());
    const QUEUE: u64 = 64;
    let server = Server::start(config(&[
        "--store",
        &database.uri(),
        "--mongo-database",
        "outage",
        "--mongo-timeout-secs",
        "2",
        "--store-queue",
        &QUEUE.to_string(),
        "--rate-per-sec",
        "50",
        "--rate-burst",
        "50",
    ]))
    .await;
    let store = open(&database.uri(), "outage").await;

    let (mut a, mut b) = pair(&server).await;
    let room_ab: RoomId = a.last_matched_room();
    for n in 1..=5 {
        say(&mut a, &mut b, &format!("before {n}"), &format!("p{n}")).await;
    }
    eventually(
        Duration::from_secs(10),
        "lines before the outage are stored",
        || async { store.room_history(room_ab).await.unwrap().len() == 5 },
    )
    .await;

    let (readiness, watcher) = watch_readiness(&server);
    database.kill();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut sent_ab = 5u64;
    let mut new_pair: Option<(Client, Client, RoomId)> = None;
    let mut sent_cd = 0u64;
    while started.elapsed() < outage {
        sent_ab += 1;
        let text = format!("during {sent_ab}");
        let took = if sent_ab % 2 == 0 {
            say(&mut a, &mut b, &text, &format!("a{sent_ab}")).await
        } else {
            say(&mut b, &mut a, &text, &format!("b{sent_ab}")).await
        };
        slowest = slowest.max(took);
        // Strangers arriving during the outage are let in and matched.
        if new_pair.is_none() && started.elapsed() > Duration::from_secs(5) {
            let connecting = Instant::now();
            let (c, d) = pair(&server).await;
            assert!(
                connecting.elapsed() < Duration::from_secs(3),
                "connecting and matching took {:?} during the outage",
                connecting.elapsed()
            );
            let room = c.last_matched_room();
            new_pair = Some((c, d, room));
        }
        if let Some((c, d, _)) = new_pair.as_mut() {
            sent_cd += 1;
            slowest =
                slowest.max(say(c, d, &format!("cd {sent_cd}"), &format!("c{sent_cd}")).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "the slowest echo during the outage took {slowest:?}"
    );
    assert!(
        readiness.lock().iter().any(|(status, _)| *status == 503),
        "/readyz said 503 while the database was down"
    );

    database.restart();
    eventually(Duration::from_secs(60), "/readyz is 200 again", || async {
        http(&server, "GET", "/readyz", &[], "").await.0 == 200
    })
    .await;
    let restored_body: Value =
        serde_json::from_str(&http(&server, "GET", "/readyz", &[], "").await.1).unwrap();
    watcher.abort();
    let (c, d, room_cd) = new_pair.expect("a pair formed during the outage");
    let overflowed = restored_body["store_overflowed"].as_u64().unwrap();

    // Every line a client saw was offered to the store: what fitted in the
    // queue is stored once each, the rest is counted as overflow.
    let stored_ab = store.room_history(room_ab).await.unwrap();
    let stored_cd = store.room_history(room_cd).await.unwrap();
    for (history, sent) in [(&stored_ab, sent_ab), (&stored_cd, sent_cd)] {
        let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(
            seqs, expected,
            "stored once each, a gap-free prefix of what was sent"
        );
        assert!(seqs.len() as u64 <= sent);
    }
    let matched_cd = store.room_events(room_cd).await.unwrap().len() as u64;
    let offered = (sent_ab - 5) + sent_cd + 1;
    let stored = (stored_ab.len() as u64 - 5) + stored_cd.len() as u64 + matched_cd;
    eprintln!(
        "outage {outage:?}: offered {offered} records, stored {stored}, overflowed {overflowed}, slowest echo {slowest:?}"
    );
    assert!(overflowed > 0, "more was sent than the queue holds");
    assert!(stored >= QUEUE, "the queue's worth was held and written");
    assert_eq!(stored + overflowed, offered, "nothing lost silently");
    drop((a, b, c, d));
    server.stop().await;
}
