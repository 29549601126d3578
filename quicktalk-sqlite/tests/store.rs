//! The SQLite store against the port's conformance suite, and what only a
//! file-backed store must do: survive a restart, refuse a newer schema.

use std::sync::Arc;

use quicktalk_core::ports::{Ban, ChatStore};
use quicktalk_core::protocol::{ReportReason, ReportRequest, ServerFrame};
use quicktalk_core::{ClientKey, Engine, Event};
use quicktalk_sqlite::{Error, SqliteChatStore};

#[tokio::test]
async fn the_sqlite_store_conforms_to_the_chat_store_port() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteChatStore::open(dir.path().join("q.db")).unwrap();
    quicktalk_core::testing::check_chat_store(&store).await;
}

#[tokio::test]
async fn the_in_memory_database_conforms_too() {
    quicktalk_core::testing::check_chat_store(&SqliteChatStore::open_in_memory().unwrap()).await;
}

#[tokio::test]
async fn reports_and_bans_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    {
        let store = SqliteChatStore::open(&path).unwrap();
        let engine = Engine::builder().store(Arc::new(store)).build().unwrap();
        let (a, mut a_events) = engine.connect("key-a".into()).await.unwrap();
        let (b, _b_events) = engine.connect("key-b".into()).await.unwrap();
        a.join(Default::default());
        b.join(Default::default());
        b.send("rude words", Some("b1"));
        a.report(ReportRequest {
            reason: ReportReason::Harassment,
            note: None,
        })
        .await;
        let reported = std::iter::from_fn(|| a_events.try_recv())
            .any(|event| event == Event::Frame(ServerFrame::Reported));
        assert!(reported);
        engine
            .ban(&ClientKey::from("key-b"), "harassment", None)
            .await
            .unwrap();
        assert!(engine.shutdown(std::time::Duration::from_secs(5)).await);
    }
    let store = SqliteChatStore::open(&path).unwrap();
    let reports = store.reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].context[0].text, "rude words");
    let ban: Option<Ban> = store.ban(&ClientKey::from("key-b")).await.unwrap();
    assert!(ban.is_some());
    let engine = Engine::builder().store(Arc::new(store)).build().unwrap();
    assert!(matches!(
        engine.connect("key-b".into()).await,
        Err(quicktalk_core::Error::Banned { .. })
    ));
}

#[test]
fn a_schema_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let store = SqliteChatStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 3);
    drop(store);
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    assert!(matches!(
        SqliteChatStore::open(&path),
        Err(Error::SchemaTooNew { found: 99, .. })
    ));
}

#[test]
fn reopening_keeps_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    drop(SqliteChatStore::open(&path).unwrap());
    assert_eq!(
        SqliteChatStore::open(&path)
            .unwrap()
            .schema_version()
            .unwrap(),
        3
    );
}

/// A server and its archive workers open one file at the same moment: one
/// of them migrates, the others wait and find the schema in place.
#[test]
fn many_processes_opening_a_new_file_at_once_all_succeed() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        SqliteChatStore::open(&path).map(|store| store.schema_version().unwrap())
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap().unwrap(), 3);
            }
        });
    }
}

#[tokio::test]
async fn a_forgotten_persons_text_is_gone_from_the_files_not_only_the_tables() {
    use quicktalk_core::ports::StoredMessage;
    use quicktalk_core::{RoomId, SessionId};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let store = SqliteChatStore::open(&path).unwrap();
    let line = |seq: u64, key: &str, text: &str| StoredMessage {
        room: RoomId::from_raw(7),
        seq,
        session: SessionId::from_raw(1),
        client_key: ClientKey::from(key),
        text: text.to_owned(),
        ts: 1_000 + seq as i64,
        masked: false,
    };
    let mut lines = Vec::new();
    for seq in 1..=40 {
        lines.push(line(
            seq * 2,
            "gone",
            &format!("secret-{seq:02}-forget-me@example.com"),
        ));
        lines.push(line(seq * 2 + 1, "kept", &format!("kept-{seq:02}-line")));
    }
    store.append_messages(&lines).await.unwrap();
    let removed = store.forget_client(&ClientKey::from("gone")).await.unwrap();
    assert_eq!(removed.messages, 40);
    let files: Vec<u8> = ["q.db", "q.db-wal"]
        .iter()
        .filter_map(|name| std::fs::read(dir.path().join(name)).ok())
        .flatten()
        .collect();
    let holds = |needle: &str| files.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(holds("kept-17-line"), "the other person's lines stay");
    assert!(
        !holds("forget-me@example.com"),
        "no forgotten text left in the files"
    );
}
