//! `quicktalk export` and `quicktalk forget`, run as the README says (the
//! real binary), on SQLite and on MongoDB.

use std::process::{Command, Output};

use quicktalk_core::ports::{ChatStore, StoredMessage};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_mongo::testing::{test_uri, unique_database};
use quicktalk_mongo::{MongoChatStore, MongoConfig};
use quicktalk_server::IpHasher;
use quicktalk_sqlite::SqliteChatStore;
use serde_json::Value;

fn quicktalk(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quicktalk"));
    for (name, _) in std::env::vars() {
        if name.starts_with("QUICKTALK_") {
            command.env_remove(name);
        }
    }
    command.args(args).output().expect("the binary runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const DAY: i64 = 86_400_000;
const T0: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

/// Two rooms over three days, written by two people.
async fn fill(store: &dyn ChatStore, alice: &ClientKey) -> (RoomId, RoomId) {
    let (first, second) = (RoomId::random(), RoomId::random());
    let bob = ClientKey::from("bob-key");
    let line = |room, seq, ts, key: &ClientKey| StoredMessage {
        room,
        seq,
        session: SessionId::from_raw(seq),
        client_key: key.clone(),
        text: format!("line {seq} 안녕 \"quoted\""),
        ts,
        masked: false,
    };
    store
        .append_messages(&[
            line(first, 1, T0, alice),
            line(first, 2, T0 + 1, &bob),
            line(second, 1, T0 + DAY, alice),
            line(second, 2, T0 + DAY + 5, &bob),
            line(second, 3, T0 + 2 * DAY, alice),
        ])
        .await
        .unwrap();
    (first, second)
}

async fn exercise(store_url: &str, extra: &[&str], store: &dyn ChatStore) {
    let hasher_key = "tools-test-ip-hash-key-0123";
    let alice = IpHasher::new(hasher_key.as_bytes()).client_key("203.0.113.7".parse().unwrap());
    let (first, second) = fill(store, &alice).await;
    let base: Vec<&str> = [&["--store", store_url][..], extra].concat();

    let all = json_lines(&quicktalk(
        &[&["export"][..], &base, &["--page-size", "2"]].concat(),
    ));
    let order: Vec<(String, u64)> = all
        .iter()
        .map(|l| {
            (
                l["room"].as_str().unwrap().to_owned(),
                l["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (first.to_string(), 1),
            (first.to_string(), 2),
            (second.to_string(), 1),
            (second.to_string(), 2),
            (second.to_string(), 3)
        ],
        "every line once, oldest first, across pages"
    );
    assert_eq!(all[0]["text"], "line 1 안녕 \"quoted\"");
    assert_eq!(all[0]["time"], "2025-12-01T00:00:00.000Z");

    let day_two = json_lines(&quicktalk(
        &[
            &["export"][..],
            &base,
            &["--since", "2025-12-02", "--until", "2025-12-03", "--room"],
            &[second.to_string().as_str()],
        ]
        .concat(),
    ));
    assert_eq!(day_two.len(), 2, "time and room filters");

    // Without the server's key (it was configured, so the store keeps
    // none) forgetting by IP is refused, and no key is made up and stored.
    let keyless = quicktalk(&[&["forget"][..], &base, &["--ip", "203.0.113.7"]].concat());
    assert_eq!(keyless.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("--ip-hash-key"));
    assert_eq!(store.setting("ip_hash_key").await.unwrap(), None);

    let forgotten = json_lines(&quicktalk(
        &[
            &["forget"][..],
            &base,
            &["--ip", "203.0.113.7", "--ip-hash-key", hasher_key],
        ]
        .concat(),
    ));
    assert_eq!(forgotten[0]["client_key"], alice.as_str());
    assert_eq!(forgotten[0]["messages"], 3);
    let left = json_lines(&quicktalk(&[&["export"][..], &base].concat()));
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|l| l["client_key"] == "bob-key"));
}

#[tokio::test]
async fn export_and_forget_work_on_a_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let store = SqliteChatStore::open(&path).unwrap();
    exercise(&format!("sqlite://{}", path.display()), &[], &store).await;
}

#[tokio::test]
async fn export_and_forget_work_on_a_mongodb_store() {
    let Some(uri) = test_uri("export_and_forget_work_on_a_mongodb_store") else {
        return;
    };
    let database = unique_database("tools");
    let store = MongoChatStore::connect(&MongoConfig {
        database: Some(database.clone()),
        ..MongoConfig::new(&uri)
    })
    .await
    .unwrap();
    exercise(&uri, &["--mongo-database", &database], &store).await;
    let _ = store.database().drop().await;
}

#[test]
fn the_tools_refuse_a_store_that_does_not_exist_instead_of_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mistyped.db");
    let url = format!("sqlite://{}", path.display());
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let empty_url = format!("sqlite://{}", empty.display());
    for args in [
        &["export", "--store", url.as_str()][..],
        &["forget", "--store", url.as_str(), "--client-key", "k"][..],
        &["forget", "--store", url.as_str(), "--ip", "203.0.113.7"][..],
        &["export", "--store", "memory"][..],
        &["export", "--store", empty_url.as_str()][..],
    ] {
        let output = quicktalk(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--store"),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(!path.exists(), "no empty store was left behind");
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "an empty file stays empty"
    );
}

#[test]
fn bad_flags_are_refused_naming_the_setting() {
    for (args, expected) in [
        (
            &["export", "--store", "postgres://u:pw@x/db"][..],
            "--store (QUICKTALK_STORE)",
        ),
        (
            &["export", "--store", "memory", "--since", "soonish"][..],
            "--since",
        ),
        (
            &["export", "--store", "memory", "--room", "not-a-room"][..],
            "--room",
        ),
        (
            &[
                "forget",
                "--store",
                "mongodb://127.0.0.1:1/x",
                "--mongo-timeout-secs",
                "1",
                "--client-key",
                "k",
            ][..],
            "cannot reach MongoDB",
        ),
    ] {
        let output = quicktalk(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("pw@"), "{stderr}");
    }
    let output = quicktalk(&["forget", "--store", "memory"]);
    assert!(
        !output.status.success(),
        "forget needs --client-key or --ip"
    );
}
