//! The server on Apache Kafka (`--bus kafka://`) and the archive worker
//! (`quicktalk archive`), as real processes against the real broker
//! (`QUICKTALK_TEST_KAFKA`, started by `scripts/services.sh`).

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use quicktalk_core::ports::ChatStore;
use quicktalk_core::ports::chat_store::RoomEvent;
use quicktalk_kafka::testing::{test_brokers, unique_prefix};
use quicktalk_sqlite::SqliteChatStore;
use serde_json::json;
use support::workers::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_worker_stores_every_line_once_across_a_kill() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let server = Server::start(config(&kafka_node_flags(&bus, &prefix, "single"))).await;
    let (mut a, mut b) = pair(&server).await;
    let room = a.last_matched_room();
    chat(&mut a, &mut b, 1, 150).await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    let store = format!("sqlite://{}", db.display());
    let worker = Worker::start(&bus, &prefix, &store);
    // Killed (SIGKILL) while it works through the backlog in batches of 25.
    wait_for_lines(&db, room, 50).await;
    worker.kill();
    chat(&mut a, &mut b, 151, 150).await;
    a.send(json!({"type": "leave"})).await;
    b.expect("partner_left").await;

    let _worker = Worker::start(&bus, &prefix, &store);
    let seqs = wait_for_lines(&db, room, 300).await;
    // A moment more: nothing arrives twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seqs_later = stored_seqs(&db, room).await;
    assert_eq!(
        seqs,
        (1..=300).collect::<Vec<_>>(),
        "every line once, gap-free"
    );
    assert_eq!(seqs_later, seqs);
    let sqlite = SqliteChatStore::open(&db).unwrap();
    let events = ChatStore::room_events(&sqlite, room).await.unwrap();
    assert!(
        matches!(
            events[..],
            [RoomEvent::Matched { .. }, RoomEvent::Ended { .. }]
        ),
        "the match and the end are archived: {events:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bus_settings_stop_start_up_naming_the_setting() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "--bind",
            "127.0.0.1:0",
            "--store",
            "memory",
            "--kafka-timeout-secs",
            "3",
            "--ip-hash-key",
            "one-key-for-every-node",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let stderr = |output: &Output| String::from_utf8_lossy(&output.stderr).into_owned();

    // Not a URL the server can use.
    let output = serve(&["--bus", "kafka://no-port"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--bus (QUICKTALK_BUS)"),
        "{}",
        stderr(&output)
    );

    // Nothing listens there: start-up fails within the timeout, naming --bus.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let started = Instant::now();
    let output = serve(&["--bus", &format!("kafka://127.0.0.1:{port}")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--bus (QUICKTALK_BUS)"),
        "{}",
        stderr(&output)
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    // A topic made with 3 partitions, then a node asking for 5.
    let prefix = unique_prefix();
    let mut kafka = quicktalk_kafka::KafkaConfig::new(brokers.clone(), "setup");
    kafka.topic_prefix = prefix.clone();
    kafka.partitions = 3;
    quicktalk_kafka::ensure_topics(&kafka).await.unwrap();
    let output = serve(&[
        "--bus",
        &bus,
        "--kafka-topic-prefix",
        &prefix,
        "--kafka-partitions",
        "5",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--kafka-partitions"),
        "{}",
        stderr(&output)
    );

    // SASL without credentials, and the archive without Kafka.
    let output = serve(&["--bus", &bus, "--kafka-security-protocol", "sasl_ssl"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--kafka-username"),
        "{}",
        stderr(&output)
    );
    // Cluster mode with a store of its own and no shared IP-hash key: one
    // person would be another client key on every node.
    let output = run(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--store",
        "memory",
        "--bus",
        &bus,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--ip-hash-key (QUICKTALK_IP_HASH_KEY)"),
        "{}",
        stderr(&output)
    );
    let output = run(&["archive", "--store", "memory"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--bus"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_worker_flags_across_lines_and_its_ban_closes_sessions_on_every_node() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    // Two nodes on one bus; one IP-hash key, so a person is one client key
    // on either node.
    let node = |id: &'static str| {
        config(&[
            "--bus",
            &bus,
            "--kafka-topic-prefix",
            &prefix,
            "--kafka-partitions",
            "3",
            "--node-id",
            id,
            "--ip-hash-key",
            "one-key-for-every-node",
        ])
    };
    let node_a = Server::start(node("node-a")).await;
    let node_b = Server::start(node("node-b")).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("moderation.db");
    let store = format!("sqlite://{}", db.display());
    let health = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let health_bind = health.to_string();
    let _worker = Worker::spawn(&[
        "moderate",
        "--health-bind",
        &health_bind,
        "--bus",
        &bus,
        "--kafka-topic-prefix",
        &prefix,
        "--kafka-partitions",
        "3",
        "--store",
        &store,
        "--spam-rooms",
        "2",
        "--ban-after",
        "2",
    ]);
    // The worker's own /livez answers once its read loop runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = match tokio::net::TcpStream::connect(health).await {
            Ok(_) => Some(http(&Server::at(health), "GET", "/livez", &[], "").await),
            Err(_) => None,
        };
        if let Some((200, body)) = &answer {
            assert_eq!(body, "ok");
            break;
        }
        assert!(Instant::now() < deadline, "worker /livez: {answer:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sqlite = SqliteChatStore::open(&db).unwrap();
    let flags = |sqlite: &SqliteChatStore| {
        let sqlite = sqlite.clone();
        async move { ChatStore::flags(&sqlite, 100).await.unwrap() }
    };

    // A word split across two lines: each line alone is delivered as typed.
    let (mut a, mut b) = pair(&node_a).await;
    for (seq, text) in [(1, "씨"), (2, "발")] {
        a.send(json!({"type": "send", "text": text, "cid": format!("s{seq}")}))
            .await;
        assert_eq!(a.expect("message").await["text"], text);
        assert_eq!(b.expect("message").await["text"], text);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = flags(&sqlite).await;
        if found.iter().any(|f| f.text.contains("split across lines")) {
            break;
        }
        assert!(Instant::now() < deadline, "no split-word flag: {found:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Someone on the other node, idle, with the same client key.
    let mut elsewhere = Client::connect(&node_b).await;
    // The same advert in two rooms: the second finding bans the key.
    let advert = "free coins at my channel, come now";
    a.send(json!({"type": "send", "text": advert, "cid": "ad1"}))
        .await;
    a.expect("message").await;
    b.expect("message").await;
    a.send(json!({"type": "next"})).await;
    b.expect("partner_left").await;
    a.expect("waiting").await;
    let mut c = Client::connect(&node_a).await;
    c.join(&[]).await;
    a.expect("matched").await;
    c.expect_matched().await;
    a.send(json!({"type": "send", "text": advert, "cid": "ad2"}))
        .await;
    a.expect("message").await;

    // Every session of that key is closed, on both nodes.
    for client in [&mut a, &mut elsewhere] {
        let frame = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let frame = client.recv().await;
                if frame["type"] == "error" {
                    return frame;
                }
            }
        })
        .await
        .expect("the ban reaches the session");
        assert_eq!(frame["code"], "banned");
        let close = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1008);
    }
    let found = flags(&sqlite).await;
    assert!(
        found
            .iter()
            .any(|f| f.text.contains("the same line in 2 rooms")),
        "{found:?}"
    );
    let bans = ChatStore::bans(&sqlite).await.unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert!(bans[0].reason.contains("moderation worker"));
    node_a.stop().await;
    node_b.stop().await;
}
