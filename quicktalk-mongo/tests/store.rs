//! The MongoDB store against a real MongoDB-wire server (FerretDB in CI, or
//! any MongoDB named by `QUICKTALK_TEST_MONGO_URI`): the port's conformance
//! suite, schema versioning, idempotent start-up, and what a shared store
//! must do across restarts.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{Document, doc};
use quicktalk_core::ports::{ChatStore, StoredMessage};
use quicktalk_core::protocol::{ReportReason, ReportRequest, ServerFrame};
use quicktalk_core::{ClientKey, Engine, Event, RoomId, SessionId};
use quicktalk_mongo::testing::{FreshStore, test_uri};
use quicktalk_mongo::{Error, MongoChatStore, MongoConfig};

#[tokio::test]
async fn the_mongo_store_conforms_to_the_chat_store_port() {
    let Some(uri) = test_uri("the_mongo_store_conforms_to_the_chat_store_port") else {
        return;
    };
    let fresh = FreshStore::new(&uri, "conform", Some(Duration::from_secs(30 * 86_400))).await;
    quicktalk_core::testing::check_chat_store(&fresh.store).await;
    fresh.drop_database().await;
}

#[tokio::test]
async fn start_up_is_idempotent_and_creates_every_index() {
    let Some(uri) = test_uri("start_up_is_idempotent_and_creates_every_index") else {
        return;
    };
    let fresh = FreshStore::new(&uri, "indexes", None).await;
    // A second node starting on the same database changes nothing.
    let again = MongoChatStore::connect(&fresh.config).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), Some(1));
    let messages = fresh.store.database().collection::<Document>("messages");
    let names = messages.list_index_names().await.unwrap();
    for name in ["room_seq", "ts_room_seq"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    for (collection, name) in [
        ("flags", "ts"),
        ("flags", "client_key"),
        ("reports", "ts"),
        ("bans", "created"),
        ("matches", "ts"),
        ("ends", "ts"),
    ] {
        let names = fresh
            .store
            .database()
            .collection::<Document>(collection)
            .list_index_names()
            .await
            .unwrap();
        assert!(
            names.iter().any(|n| n == name),
            "{collection}.{name} in {names:?}"
        );
    }
    fresh.drop_database().await;
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let Some(uri) = test_uri("a_database_from_a_newer_version_is_refused") else {
        return;
    };
    let fresh = FreshStore::new(&uri, "schema", None).await;
    fresh
        .store
        .database()
        .collection::<Document>("meta")
        .replace_one(
            doc! {"_id": "schema"},
            doc! {"_id": "schema", "version": 99_i64},
        )
        .await
        .unwrap();
    let error = MongoChatStore::connect(&fresh.config).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::SchemaTooNew {
                found: 99,
                supported: 1
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade QuickTalk"));
    fresh.drop_database().await;
}

#[tokio::test]
async fn a_replayed_batch_mixed_with_new_lines_stores_each_line_once() {
    let Some(uri) = test_uri("a_replayed_batch_mixed_with_new_lines_stores_each_line_once") else {
        return;
    };
    let fresh = FreshStore::new(&uri, "replay", None).await;
    let room = RoomId::random();
    let line = |seq: u64| StoredMessage {
        room,
        seq,
        session: SessionId::from_raw(1),
        client_key: ClientKey::from("k"),
        text: format!("line {seq}"),
        ts: 1_700_000_000_000 + seq as i64,
        masked: false,
    };
    let first: Vec<_> = (1..=500).map(line).collect();
    fresh.store.append_messages(&first).await.unwrap();
    // The archive worker redelivers from an older offset: half old, half new,
    // out of order.
    let mut replay: Vec<_> = (250..=750).map(line).collect();
    replay.reverse();
    fresh.store.append_messages(&replay).await.unwrap();
    let history = fresh.store.room_history(room).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=750).collect::<Vec<_>>()
    );
    fresh.drop_database().await;
}

#[tokio::test]
async fn an_unreachable_server_at_start_is_a_clear_error() {
    let config = MongoConfig {
        timeout: Duration::from_millis(500),
        ..MongoConfig::new("mongodb://qt:hunter2@127.0.0.1:1/chat")
    };
    let error = MongoChatStore::connect(&config).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Unreachable { .. }), "{text}");
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn reports_and_bans_in_mongodb_survive_an_engine_restart() {
    let Some(uri) = test_uri("reports_and_bans_in_mongodb_survive_an_engine_restart") else {
        return;
    };
    let fresh = FreshStore::new(&uri, "restart", None).await;
    {
        let engine = Engine::builder()
            .store(Arc::new(fresh.store.clone()))
            .build()
            .unwrap();
        let (a, mut a_events) = engine.connect("key-a".into()).await.unwrap();
        let (b, _b_events) = engine.connect("key-b".into()).await.unwrap();
        a.join(Default::default());
        b.join(Default::default());
        b.send("rude words", Some("b1"));
        a.report(ReportRequest {
            reason: ReportReason::Harassment,
            note: Some("신고합니다".into()),
        })
        .await;
        let reported = std::iter::from_fn(|| a_events.try_recv())
            .any(|event| event == Event::Frame(ServerFrame::Reported));
        assert!(reported);
        engine
            .ban(&ClientKey::from("key-b"), "harassment", None)
            .await
            .unwrap();
        assert!(engine.shutdown(Duration::from_secs(10)).await);
    }
    // Another node (a new store on the same database) sees it all.
    let store = MongoChatStore::connect(&fresh.config).await.unwrap();
    let reports = store.reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].context[0].text, "rude words");
    assert_eq!(reports[0].note.as_deref(), Some("신고합니다"));
    let room = reports[0].room;
    assert_eq!(store.room_history(room).await.unwrap().len(), 1);
    let events = store.room_events(room).await.unwrap();
    assert_eq!(
        events.len(),
        2,
        "the match and the end (a ban ends the chat)"
    );
    let engine = Engine::builder().store(Arc::new(store)).build().unwrap();
    assert!(matches!(
        engine.connect("key-b".into()).await,
        Err(quicktalk_core::Error::Banned { .. })
    ));
    fresh.drop_database().await;
}

#[tokio::test]
async fn the_engines_periodic_purge_keeps_retention_where_there_are_no_ttl_indexes() {
    let Some(uri) =
        test_uri("the_engines_periodic_purge_keeps_retention_where_there_are_no_ttl_indexes")
    else {
        return;
    };
    let retention = Duration::from_secs(3600);
    let fresh = FreshStore::new(&uri, "purge", Some(retention)).await;
    eprintln!("TTL indexes here: {}", fresh.store.has_ttl_indexes());
    let now = quicktalk_core::ports::chat_store::unix_ms(std::time::SystemTime::now());
    let (old_room, new_room) = (RoomId::random(), RoomId::random());
    let line = |room, ts| StoredMessage {
        room,
        seq: 1,
        session: SessionId::from_raw(1),
        client_key: ClientKey::from("k"),
        text: "x".into(),
        ts,
        masked: false,
    };
    fresh
        .store
        .append_messages(&[line(old_room, now - 2 * 3_600_000), line(new_room, now)])
        .await
        .unwrap();
    let _engine = Engine::builder()
        .config(quicktalk_core::EngineConfig {
            retention,
            purge_interval: Duration::from_millis(200),
            ..Default::default()
        })
        .store(Arc::new(fresh.store.clone()))
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !fresh.store.room_history(old_room).await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the purge ran in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fresh.store.room_history(new_room).await.unwrap().len(), 1);
    fresh.drop_database().await;
}

#[tokio::test]
async fn nodes_starting_together_on_a_fresh_database_all_come_up() {
    let Some(uri) = test_uri("nodes_starting_together_on_a_fresh_database_all_come_up") else {
        return;
    };
    let config = MongoConfig {
        database: Some(quicktalk_mongo::testing::unique_database("together")),
        ..MongoConfig::new(&uri)
    };
    let starts = (0..4).map(|_| MongoChatStore::connect(&config));
    let stores: Vec<_> = futures_util::future::join_all(starts).await;
    for store in &stores {
        if let Err(error) = store {
            panic!("a node failed to start: {error}");
        }
    }
    let store = stores.into_iter().next().unwrap().unwrap();
    assert_eq!(store.schema_version().await.unwrap(), Some(1));
    let _ = store.database().drop().await;
}
