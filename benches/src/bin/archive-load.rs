//! Archive throughput: publishes chat lines to Kafka, then times a real
//! `quicktalk archive` process writing them into SQLite.
//!
//! ```sh
//! eval "$(scripts/services.sh up)"
//! cargo build --release -p quicktalk-server -p quicktalk-benches
//! target/release/archive-load --brokers "$QUICKTALK_TEST_KAFKA" \
//!     --quicktalk target/release/quicktalk --lines 200000
//! ```
//!
//! Prints the publish rate (one producer, batches of 4,096) and the
//! archive rate, timed from the first stored line to the last (the consumer
//! group's join is not counted).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use quicktalk_core::ports::event_bus::{BusEvent, EventBus};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_kafka::{KafkaConfig, KafkaEventBus};

/// Archive throughput into SQLite.
#[derive(Debug, Parser)]
struct Args {
    /// Kafka brokers, host:port.
    #[arg(long, env = "QUICKTALK_TEST_KAFKA")]
    brokers: String,
    /// The quicktalk binary to run as the archive worker.
    #[arg(long)]
    quicktalk: PathBuf,
    /// Lines to publish and archive.
    #[arg(long, default_value_t = 200_000)]
    lines: u64,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 1_000)]
    rooms: u64,
    /// Topic partitions.
    #[arg(long, default_value_t = 12)]
    partitions: i32,
}

fn stored(db: &std::path::Path) -> u64 {
    rusqlite::Connection::open(db)
        .and_then(|c| {
            c.query_row("SELECT count(*) FROM messages", [], |row| {
                row.get::<_, i64>(0)
            })
        })
        .map_or(0, |n| n as u64)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let prefix = format!("qt-archive-load-{}", std::process::id());
    let mut config = KafkaConfig::new(args.brokers.clone(), "archive-load");
    config.topic_prefix = prefix.clone();
    config.partitions = args.partitions;
    let bus = KafkaEventBus::connect(config).await?;
    let text: std::sync::Arc<str> = "a chat line of ordinary length, 안녕하세요 반가워요".into();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(4096);
    for n in 0..args.lines {
        let room = n % args.rooms;
        batch.push(BusEvent::Message {
            room: RoomId::from_raw(room + 1),
            seq: n / args.rooms + 1,
            from: SessionId::from_raw(room * 2 + 1),
            client_key: ClientKey::from("load"),
            text: text.clone(),
            ts: 1_764_547_200_000 + n as i64,
            masked: false,
            cid: None,
        });
        if batch.len() == 4096 {
            bus.publish(&batch).await?;
            batch.clear();
        }
    }
    bus.publish(&batch).await?;
    let publish = started.elapsed();
    println!(
        "published {} lines in {:.2} s: {:.0} lines/s",
        args.lines,
        publish.as_secs_f64(),
        args.lines as f64 / publish.as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("archive.db");
    let mut worker = Command::new(&args.quicktalk)
        .args(["archive", "--bus", &format!("kafka://{}", args.brokers)])
        .args(["--kafka-topic-prefix", &prefix])
        .args(["--kafka-partitions", &args.partitions.to_string()])
        .args(["--store", &format!("sqlite://{}", db.display())])
        .env("QUICKTALK_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        let count = stored(&db);
        if count > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if count >= args.lines {
            break Instant::now();
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            return Err(format!("only {count} of {} lines archived in 600 s", args.lines).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = worker.kill();
    let _ = worker.wait();
    let took = done - first.unwrap_or(done);
    println!(
        "archived {} lines into SQLite in {:.2} s: {:.0} lines/s (one worker)",
        args.lines,
        took.as_secs_f64(),
        args.lines as f64 / took.as_secs_f64().max(0.001)
    );
    Ok(())
}
