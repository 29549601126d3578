//! The broker restarts under a chatting node (its own test binary: it stops
//! the shared broker, which no other test may see). Needs the broker started
//! by `scripts/services.sh`, which can stop and start it again
//! (`QUICKTALK_KAFKA_SERVICES`).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use quicktalk_kafka::testing::{test_brokers, unique_prefix};
use support::workers::*;
use support::*;

/// Both tests stop the one broker: one at a time.
static BROKER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether this run can stop and start the broker (skips, or fails when
/// services are required, otherwise).
fn broker_controllable() -> Option<String> {
    let brokers = test_brokers()?;
    if std::env::var_os("QUICKTALK_KAFKA_SERVICES").is_none() {
        if std::env::var_os("QUICKTALK_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
            panic!(
                "QUICKTALK_KAFKA_SERVICES is not set: start the broker with scripts/services.sh"
            );
        }
        eprintln!("\n*** SKIPPED: the broker was not started by scripts/services.sh ***\n");
        return None;
    }
    Some(brokers)
}

fn services(action: &str) {
    let script = std::env::var("QUICKTALK_KAFKA_SERVICES").expect("checked by the test");
    let status = Command::new("bash")
        .arg(script)
        .arg(action)
        .status()
        .expect("the services script runs");
    assert!(status.success(), "services.sh {action} failed");
}

async fn wait_ready(server: &Server, wanted: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = http(server, "GET", "/readyz", &[], "").await;
        if status == wanted {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {status} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_pauses_publishing_and_loses_no_acknowledged_line() {
    let Some(brokers) = broker_controllable() else {
        return;
    };
    let _broker = BROKER.lock().await;
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let server = Server::start(config(&kafka_node_flags(&bus, &prefix, "single"))).await;
    wait_ready(&server, 200, Duration::from_secs(10)).await;
    let (mut a, mut b) = pair(&server).await;
    let room = a.last_matched_room();
    chat(&mut a, &mut b, 1, 20).await;

    services("kafka-stop");
    // Chat on the node never waits for the broker.
    let started = Instant::now();
    chat(&mut a, &mut b, 21, 20).await;
    let twenty_lines = started.elapsed();
    assert!(
        twenty_lines < Duration::from_secs(2),
        "20 lines took {twenty_lines:?} with the broker down"
    );
    let body = wait_ready(&server, 503, Duration::from_secs(20)).await;
    assert!(body.contains("bus_error"), "{body}");

    services("kafka-start");
    wait_ready(&server, 200, Duration::from_secs(60)).await;
    chat(&mut a, &mut b, 41, 20).await;
    a.send(serde_json::json!({"type": "leave"})).await;
    b.expect("partner_left").await;

    // Every line reached Kafka once: the archive stores exactly 1..=60.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    let _worker = Worker::start(&bus, &prefix, &format!("sqlite://{}", db.display()));
    let seqs = wait_for_lines(&db, room, 60).await;
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    let (_, body) = http(&server, "GET", "/readyz", &[], "").await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["bus_overflowed"], 0, "nothing dropped: {health}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_across_nodes_pauses_while_the_broker_restarts_and_loses_nothing() {
    let Some(brokers) = broker_controllable() else {
        return;
    };
    let _broker = BROKER.lock().await;
    if let Ok(filter) = std::env::var("QUICKTALK_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .try_init();
    }
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let node = |name: &str| config(&kafka_node_flags(&bus, &prefix, name));
    let one = Server::start(node("one")).await;
    let other = Server::start(node("other")).await;
    wait_ready(&one, 200, Duration::from_secs(10)).await;
    wait_ready(&other, 200, Duration::from_secs(10)).await;
    let mut a = Client::connect(&one).await;
    let mut b = Client::connect(&other).await;
    a.join(&[]).await;
    a.expect("waiting").await;
    b.join(&[]).await;
    a.expect("matched").await;
    b.expect_matched().await;
    chat(&mut a, &mut b, 1, 5).await;
    chat(&mut b, &mut a, 6, 5).await;

    services("kafka-stop");
    wait_ready(&one, 503, Duration::from_secs(20)).await;
    for n in 0..5 {
        a.send(serde_json::json!({"type": "send", "text": format!("a during {n}"), "cid": format!("ad{n}")}))
            .await;
        b.send(serde_json::json!({"type": "send", "text": format!("b during {n}"), "cid": format!("bd{n}")}))
            .await;
    }
    services("kafka-start");
    wait_ready(&one, 200, Duration::from_secs(60)).await;
    // Both see the ten lines once, numbered 11..=20 in one order.
    let restarted = Instant::now();
    let mut seen = [Vec::new(), Vec::new()];
    let collect = async {
        for (side, client) in [&mut a, &mut b].into_iter().enumerate() {
            while seen[side].len() < 10 {
                let frame = client.recv_within(Duration::from_secs(60)).await;
                if frame["type"] == "message" {
                    seen[side].push((frame["seq"].as_u64().unwrap(), frame["text"].to_string()));
                }
            }
        }
    };
    // `online` frames keep arriving, so a bound per frame is not enough.
    tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .expect("the lines sent during the outage arrive within 60 s of /readyz");
    assert_eq!(
        seen[0].iter().map(|l| l.0).collect::<Vec<_>>(),
        (11..=20).collect::<Vec<_>>()
    );
    assert_eq!(seen[0], seen[1]);
    eprintln!(
        "lines across nodes flowed {:?} after /readyz said 200",
        restarted.elapsed()
    );
    // And the chat goes on.
    chat(&mut a, &mut b, 21, 3).await;
    one.stop().await;
    other.stop().await;
}
