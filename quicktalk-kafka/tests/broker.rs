//! `quicktalk-kafka` against a real broker (`QUICKTALK_TEST_KAFKA`; see
//! `quicktalk_kafka::testing`).

use std::time::Duration;

use quicktalk_core::ports::event_bus::{BusEvent, EventBus};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_kafka::testing::{test_brokers, unique_config};
use quicktalk_kafka::{Error, GroupReader, IDLE_WAIT, KafkaConfig, KafkaEventBus, ensure_topics};

const WAIT: Duration = Duration::from_secs(20);

fn line(room: u64, seq: u64) -> BusEvent {
    BusEvent::Message {
        room: RoomId::from_raw(room),
        seq,
        from: SessionId::from_raw(room * 10),
        client_key: ClientKey::from("key"),
        text: format!("line {seq} of room {room} 안녕").into(),
        ts: seq as i64,
        masked: false,
        cid: None,
    }
}

fn seq_of(event: &BusEvent) -> (RoomId, u64) {
    match event {
        BusEvent::Message { room, seq, .. } => (*room, *seq),
        other => panic!("not a line: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_reach_a_subscriber_in_order_per_room() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = KafkaEventBus::connect(unique_config(&brokers, "node-a"))
        .await
        .unwrap();
    let mut subscription = bus.subscribe().await.unwrap();
    // Three rooms interleaved, in several batches.
    let events: Vec<BusEvent> = (1..=30).map(|i| line(1 + i % 3, i)).collect();
    for chunk in events.chunks(7) {
        bus.publish(chunk).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < events.len() {
        let event = tokio::time::timeout(WAIT, subscription.recv())
            .await
            .expect("events arrive")
            .expect("subscription open");
        received.push(seq_of(&event));
    }
    for room in 1..=3 {
        let room = RoomId::from_raw(room);
        let sent: Vec<u64> = events
            .iter()
            .map(seq_of)
            .filter(|e| e.0 == room)
            .map(|e| e.1)
            .collect();
        let got: Vec<u64> = received
            .iter()
            .filter(|e| e.0 == room)
            .map(|e| e.1)
            .collect();
        assert_eq!(got, sent, "room {room}: every event once, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_reader_resumes_after_its_last_commit() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let config = unique_config(&brokers, "node-b");
    let bus = KafkaEventBus::connect(config.clone()).await.unwrap();
    let events: Vec<BusEvent> = (1..=20).map(|seq| line(5, seq)).collect();
    bus.publish(&events[..10]).await.unwrap();

    // A first reader takes the first ten and commits them.
    let reader = GroupReader::join(&config, "archive").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let batch = tokio::time::timeout(WAIT, reader.next_batch(100, Duration::from_millis(50)))
            .await
            .expect("a batch")
            .unwrap();
        seen.extend(batch.iter().map(|r| seq_of(&r.event).1));
    }
    reader.commit().unwrap();
    drop(reader);

    // Ten more; a second reader of the same group sees only those.
    bus.publish(&events[10..]).await.unwrap();
    let reader = GroupReader::join(&config, "archive").await.unwrap();
    let mut later = Vec::new();
    while later.len() < 10 {
        let batch = tokio::time::timeout(WAIT, reader.next_batch(100, Duration::from_millis(50)))
            .await
            .expect("a batch")
            .unwrap();
        later.extend(batch.iter().map(|r| seq_of(&r.event).1));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    assert_eq!(
        later,
        (11..=20).collect::<Vec<_>>(),
        "resumes after the commit, nothing twice"
    );

    // Uncommitted work is read again by the next owner (once its group has
    // settled; until then its batches are empty).
    drop(reader);
    let reader = GroupReader::join(&config, "archive").await.unwrap();
    let batch = tokio::time::timeout(WAIT, async {
        loop {
            let batch = reader
                .next_batch(100, Duration::from_millis(200))
                .await
                .unwrap();
            if !batch.is_empty() {
                return batch;
            }
        }
    })
    .await
    .expect("the uncommitted batch again");
    assert_eq!(seq_of(&batch[0].event).1, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_with_nothing_to_read_comes_back_with_an_empty_batch() {
    // A worker's loop (and its /livez heartbeat) must come round while the
    // chat is quiet: an idle worker is not a stuck one.
    let Some(brokers) = test_brokers() else {
        return;
    };
    let config = unique_config(&brokers, "node-idle");
    let reader = GroupReader::join(&config, "archive").await.unwrap();
    for _ in 0..3 {
        let batch = tokio::time::timeout(
            IDLE_WAIT * 5,
            reader.next_batch(100, Duration::from_millis(20)),
        )
        .await
        .expect("an idle reader answers within a few seconds")
        .unwrap();
        assert!(batch.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_topic_with_another_layout_is_a_clear_error() {
    let Some(brokers) = test_brokers() else {
        return;
    };
    let config = unique_config(&brokers, "node-c");
    assert_eq!(ensure_topics(&config).await.unwrap(), config.partitions);
    // Creating again is fine.
    ensure_topics(&config).await.unwrap();
    let mut other = config.clone();
    other.partitions = config.partitions + 2;
    let error = KafkaEventBus::connect(other).await.unwrap_err();
    assert!(
        matches!(error, Error::Layout { what: "partitions", expected, found, .. }
            if expected == i64::from(config.partitions + 2) && found == i64::from(config.partitions)),
        "{error}"
    );
    assert!(error.to_string().contains("--kafka-partitions"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_start_up_in_the_timeout() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut config = KafkaConfig::new(format!("127.0.0.1:{port}"), "lonely");
    config.connect_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let error = KafkaEventBus::connect(config).await.unwrap_err();
    assert!(matches!(error, Error::Kafka { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn bus_urls_and_settings_are_checked_before_any_broker() {
    assert_eq!(
        KafkaConfig::brokers_from_url("kafka://a:9092,b.example:19092").unwrap(),
        "a:9092,b.example:19092"
    );
    for bad in [
        "kafka://",
        "kafka://host",
        "http://a:1",
        "kafka://a:port",
        "kafka://user@a:1",
    ] {
        let error = KafkaConfig::brokers_from_url(bad).unwrap_err();
        assert!(error.to_string().contains("--bus"), "{bad}: {error}");
    }
    let mut config = KafkaConfig::new("a:1", "n");
    config.security_protocol = quicktalk_kafka::SecurityProtocol::SaslSsl;
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--kafka-username")
    );
    config.username = Some("u".into());
    config.password = Some("secret".into());
    config.validate().unwrap();
    assert!(
        !format!("{config:?}").contains("secret"),
        "the password is never printed"
    );
    config.partitions = 0;
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--kafka-partitions")
    );
}
