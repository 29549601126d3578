//! `quicktalk archive`: a worker that reads the room events from Kafka and
//! writes every line, match and end to the chat store.
//!
//! Run as many copies as the topic has partitions; they share the work as
//! one consumer group (`{prefix}.archive`). Offsets are committed only after
//! the store confirms a batch, and the store's writes are idempotent by
//! room and `seq` (lines) and by room and kind (matches, ends), so a copy
//! killed mid-batch, or a batch read twice after a rebalance, stores every
//! line exactly once.

use std::time::{Duration, Instant};

use quicktalk_core::ports::chat_store::{RoomEvent, StoredMessage};
use quicktalk_core::ports::event_bus::BusEvent;

use crate::Error;
use crate::bus::{BusArgs, retry_store};
use crate::config::invalid;
use crate::storage::StoreArgs;

/// `quicktalk archive`: room events from Kafka into the chat store.
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveArgs {
    /// The bus to read (must be `kafka://...`) and its settings.
    #[command(flatten)]
    pub bus: BusArgs,
    /// The store to write.
    #[command(flatten)]
    pub storage: StoreArgs,
    /// The worker's own `/livez`.
    #[command(flatten)]
    pub health: crate::worker_health::HealthArgs,
    /// Most events written per store call.
    #[arg(long, env = "QUICKTALK_ARCHIVE_BATCH", default_value_t = 4096)]
    pub batch: usize,
}

/// What one batch held, for the log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Chat lines written.
    pub lines: u64,
    /// Matches and ends written.
    pub room_events: u64,
}

/// Splits events into what the store keeps: lines, and room starts and ends
/// (typing indicators are not kept).
fn records(events: impl IntoIterator<Item = BusEvent>) -> (Vec<StoredMessage>, Vec<RoomEvent>) {
    let mut lines = Vec::new();
    let mut rooms = Vec::new();
    for event in events {
        match event {
            BusEvent::Message {
                room,
                seq,
                from,
                client_key,
                text,
                ts,
                masked,
                ..
            } => lines.push(StoredMessage {
                room,
                seq,
                session: from,
                client_key,
                text: text.to_string(),
                ts,
                masked,
            }),
            BusEvent::Matched {
                room,
                sessions,
                client_keys,
                common_interests,
                ts,
                ..
            } => rooms.push(RoomEvent::Matched {
                room,
                sessions,
                client_keys,
                common_interests,
                ts,
            }),
            BusEvent::PartnerLeft {
                room,
                left,
                reason,
                ts,
            } => rooms.push(RoomEvent::Ended {
                room,
                left,
                reason,
                ts,
            }),
            // Typing is not kept; blocked lines are the moderation
            // worker's; the rest is the cluster's coordination.
            _ => {}
        }
    }
    (lines, rooms)
}

/// Runs the worker until `shutdown` resolves (the batch in hand is written
/// and committed first).
///
/// # Errors
/// [`Error::Config`] for a bad setting, an unreachable broker or store.
pub async fn archive(
    args: &ArchiveArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<ArchiveStats, Error> {
    if args.batch == 0 {
        return Err(invalid("batch", "QUICKTALK_ARCHIVE_BATCH", "must be at least 1").into());
    }
    let store = args.storage.open(None).await?;
    let (_, reader) = args.bus.join_worker_group("archive", "archive").await?;
    let heartbeat = crate::worker_health::serve(&args.health).await?;
    tracing::info!(group = reader.group(), storage = %args.storage.redacted(), "archiving room events");
    let mut total = ArchiveStats::default();
    let mut window = (Instant::now(), 0u64);
    let mut failures = quicktalk_kafka::ReadFailures::new("the rooms topic");
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            () = &mut shutdown => break,
            batch = reader.next_batch(args.batch, Duration::from_millis(20)) => batch,
        };
        // The loop came round: a broker outage is not a stuck worker
        // (restarting it would not bring the broker back).
        heartbeat.beat();
        let batch = match batch {
            // An empty batch only says the wait ran out: not that reading works.
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => {
                failures.recovered();
                batch
            }
            Err(error) => {
                failures.failed(&error).await;
                continue;
            }
        };
        let (lines, rooms) = records(batch.into_iter().map(|record| record.event));
        // Room starts first, so a room's history never has lines without its match.
        if !rooms.is_empty() {
            retry_store("room events", || store.append_room_events(&rooms)).await;
        }
        if !lines.is_empty() {
            retry_store("lines", || store.append_messages(&lines)).await;
        }
        if let Err(error) = reader.commit() {
            // The partitions moved to another copy, which reads the batch
            // again; the store ignores the repeats.
            tracing::warn!(%error, "commit failed; the batch will be read again");
        }
        total.lines += lines.len() as u64;
        total.room_events += rooms.len() as u64;
        window.1 += lines.len() as u64;
        if window.0.elapsed() >= Duration::from_secs(10) && window.1 > 0 {
            let rate = window.1 as f64 / window.0.elapsed().as_secs_f64();
            tracing::info!(
                lines = total.lines,
                room_events = total.room_events,
                lines_per_sec = rate as u64,
                skipped = reader.skipped(),
                "archive progress"
            );
            window = (Instant::now(), 0);
        }
    }
    tracing::info!(
        lines = total.lines,
        room_events = total.room_events,
        "archive stopped"
    );
    Ok(total)
}

#[cfg(test)]
mod tests {
    use quicktalk_core::protocol::PartnerLeftReason;
    use quicktalk_core::{ClientKey, RoomId, SessionId};

    use super::*;

    #[test]
    fn lines_matches_and_ends_are_kept_and_typing_is_not() {
        let room = RoomId::from_raw(1);
        let (a, b) = (SessionId::from_raw(1), SessionId::from_raw(2));
        let (lines, rooms) = records([
            BusEvent::Matched {
                room,
                sessions: [a, b],
                client_keys: [ClientKey::from("ka"), ClientKey::from("kb")],
                common_interests: vec![],
                ts: 1,
                cluster: None,
            },
            BusEvent::Typing {
                room,
                from: a,
                active: true,
            },
            BusEvent::Message {
                room,
                seq: 1,
                from: a,
                client_key: ClientKey::from("ka"),
                text: "hi".into(),
                ts: 2,
                masked: false,
                cid: None,
            },
            BusEvent::PartnerLeft {
                room,
                left: b,
                reason: PartnerLeftReason::Left,
                ts: 3,
            },
        ]);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].seq, lines[0].text.as_str(), lines[0].session),
            (1, "hi", a)
        );
        assert!(matches!(
            rooms[..],
            [RoomEvent::Matched { .. }, RoomEvent::Ended { .. }]
        ));
    }
}
