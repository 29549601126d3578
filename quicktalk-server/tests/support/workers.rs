//! Kafka test helpers: the `quicktalk` binary as a process, workers, and
//! waiting for archived lines.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use quicktalk_core::RoomId;
use quicktalk_core::ports::ChatStore;
use quicktalk_sqlite::SqliteChatStore;
use serde_json::json;

use super::Client;

/// The `quicktalk` binary with a clean environment.
pub fn quicktalk(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quicktalk"));
    for (name, _) in std::env::vars() {
        if name.starts_with("QUICKTALK_") {
            command.env_remove(name);
        }
    }
    // QUICKTALK_TEST_LOG=info shows what the processes do when a test fails.
    let log = std::env::var("QUICKTALK_TEST_LOG").unwrap_or_else(|_| "warn".into());
    command.env("QUICKTALK_LOG", log).args(args);
    command
}

/// The flags of a test node on the Kafka bus: its topics (3 partitions),
/// its name, and rate limits raised so tests may send quickly.
pub fn kafka_node_flags<'a>(bus: &'a str, prefix: &'a str, name: &'a str) -> Vec<&'a str> {
    let mut flags = kafka_topic_flags(bus, prefix).to_vec();
    flags.extend([
        "--node-id",
        name,
        "--rate-per-sec",
        "1000",
        "--rate-burst",
        "1000",
        // Every node hashes client IPs alike (required in cluster mode).
        "--ip-hash-key",
        "one-key-for-every-node",
    ]);
    flags
}

/// The bus and topic flags every test process on Kafka shares.
pub fn kafka_topic_flags<'a>(bus: &'a str, prefix: &'a str) -> [&'a str; 6] {
    [
        "--bus",
        bus,
        "--kafka-topic-prefix",
        prefix,
        "--kafka-partitions",
        "3",
    ]
}

pub fn run(args: &[&str]) -> Output {
    quicktalk(args).output().expect("the binary runs")
}

/// An archive worker process, killed (SIGKILL) when dropped.
pub struct Worker(Child);

impl Worker {
    pub fn start(bus: &str, prefix: &str, store: &str) -> Self {
        let mut args = vec!["archive"];
        args.extend(kafka_topic_flags(bus, prefix));
        args.extend(["--store", store, "--batch", "25"]);
        Self::spawn(&args)
    }

    pub fn spawn(args: &[&str]) -> Self {
        let child = quicktalk(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the worker starts");
        Self(child)
    }

    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines stored for `room`, read by another connection than the worker's.
pub async fn stored_seqs(path: &std::path::Path, room: RoomId) -> Vec<u64> {
    let store = SqliteChatStore::open(path).unwrap();
    let store: &dyn ChatStore = &store;
    store
        .room_history(room)
        .await
        .unwrap_or_default()
        .iter()
        .map(|m| m.seq)
        .collect()
}

pub async fn wait_for_lines(path: &std::path::Path, room: RoomId, at_least: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seqs = stored_seqs(path, room).await;
        if seqs.len() >= at_least {
            return seqs;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {at_least} lines archived",
            seqs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `count` lines from `a` (seq continues from `first`), each acknowledged.
pub async fn chat(a: &mut Client, b: &mut Client, first: u64, count: u64) {
    for seq in first..first + count {
        let cid = format!("c{seq}");
        a.send(json!({"type": "send", "text": format!("message number {seq}, 안녕"), "cid": cid}))
            .await;
        let echo = a.expect("message").await;
        assert_eq!(echo["seq"], seq);
        assert_eq!(b.expect("message").await["seq"], seq);
    }
}
