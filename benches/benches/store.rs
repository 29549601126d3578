//! The chat stores on the store writer's workload: batches of delivered
//! lines appended (the engine writes up to 4,096 per batch), and a report
//! saved (what a reporter waits for).
//!
//! SQLite always runs (a file in a temporary directory). MongoDB runs when
//! `QUICKTALK_TEST_MONGO_URI` names a server (`eval "$(scripts/services.sh
//! up)"` starts FerretDB); each run uses a fresh database and drops it.
//!
//! ```text
//! eval "$(scripts/services.sh up)"
//! cargo bench -p quicktalk-benches --bench store
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quicktalk_core::ports::{ChatStore, ContextLine, Report, StoredMessage};
use quicktalk_core::protocol::ReportReason;
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_mongo::{MongoChatStore, MongoConfig};
use quicktalk_sqlite::SqliteChatStore;

/// Lines of `count` fresh rooms' chats, as the writer hands them over.
fn batch(size: usize) -> Vec<StoredMessage> {
    let rooms: Vec<RoomId> = (0..size.div_ceil(16)).map(|_| RoomId::random()).collect();
    (0..size)
        .map(|i| StoredMessage {
            room: rooms[i / 16],
            seq: (i % 16) as u64 + 1,
            session: SessionId::from_raw(i as u64 % 2 + 1),
            client_key: ClientKey::from("bench-client-key-0123456789abcdef"),
            text: "안녕하세요! 어디 사세요? where are you from, stranger?".into(),
            ts: 1_764_547_200_000 + i as i64,
            masked: false,
        })
        .collect()
}

fn report() -> Report {
    let room = RoomId::random();
    Report {
        id: format!("{:032x}", rand::random::<u128>()),
        room,
        reporter: SessionId::from_raw(1),
        reporter_key: ClientKey::from("reporter"),
        reported: SessionId::from_raw(2),
        reported_key: ClientKey::from("reported"),
        reason: ReportReason::Harassment,
        note: Some("rude".into()),
        ts: 1_764_547_200_000,
        context: (1..=20)
            .map(|seq| ContextLine {
                seq,
                session: SessionId::from_raw(seq % 2 + 1),
                text: "a line of the chat around the report".into(),
                ts: 1_764_547_200_000 + seq as i64,
            })
            .collect(),
    }
}

type Stores = Vec<(&'static str, Arc<dyn ChatStore>)>;

/// The stores to measure, and the MongoDB one again to drop its database.
fn stores(runtime: &tokio::runtime::Runtime) -> (Stores, Option<MongoChatStore>) {
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    let sqlite = SqliteChatStore::open(dir.path().join("bench.db")).expect("sqlite");
    let mut stores: Stores = vec![("sqlite", Arc::new(sqlite))];
    let mut mongo = None;
    match std::env::var("QUICKTALK_TEST_MONGO_URI") {
        Ok(uri) if !uri.is_empty() => {
            let config = MongoConfig {
                database: Some(format!("qt_bench_{}", std::process::id())),
                ..MongoConfig::new(uri)
            };
            let store = runtime
                .block_on(MongoChatStore::connect(&config))
                .expect("the MongoDB named by QUICKTALK_TEST_MONGO_URI");
            stores.push(("mongodb", Arc::new(store.clone())));
            mongo = Some(store);
        }
        _ => eprintln!("store bench: QUICKTALK_TEST_MONGO_URI not set, MongoDB skipped"),
    }
    (stores, mongo)
}

fn store_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (stores, mongo) = stores(&runtime);
    let mut group = c.benchmark_group("store_append");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for size in [256, 4096] {
        group.throughput(Throughput::Elements(size as u64));
        for (name, store) in &stores {
            group.bench_with_input(BenchmarkId::new(*name, size), &size, |b, &size| {
                b.iter_custom(|iterations| {
                    let batches: Vec<_> = (0..iterations).map(|_| batch(size)).collect();
                    let started = Instant::now();
                    for lines in &batches {
                        runtime.block_on(store.append_messages(lines)).unwrap();
                    }
                    started.elapsed()
                });
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("store_report");
    group.sample_size(20);
    for (name, store) in &stores {
        group.bench_function(*name, |b| {
            b.iter_custom(|iterations| {
                let reports: Vec<_> = (0..iterations).map(|_| report()).collect();
                let started = Instant::now();
                for report in &reports {
                    runtime.block_on(store.save_report(report)).unwrap();
                }
                started.elapsed()
            });
        });
    }
    group.finish();

    if let Some(mongo) = mongo {
        let _ = runtime.block_on(async { mongo.database().drop().await });
    }
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
