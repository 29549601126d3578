//! Collections, their indexes (each beside the query it serves), the schema
//! version, and the TTL indexes for retention.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

use crate::{Error, Result};

pub(crate) const MESSAGES: &str = "messages";
pub(crate) const FLAGS: &str = "flags";
pub(crate) const MATCHES: &str = "matches";
pub(crate) const ENDS: &str = "ends";
pub(crate) const REPORTS: &str = "reports";
pub(crate) const BANS: &str = "bans";
pub(crate) const SETTINGS: &str = "settings";
pub(crate) const META: &str = "meta";

/// The schema version this build writes. Raise it with a migration in
/// [`prepare`] when a stored shape changes.
pub(crate) const VERSION: i64 = 1;

/// The collections retention applies to (each has `ts` and `at`).
pub(crate) const RETAINED: [&str; 4] = [MESSAGES, FLAGS, MATCHES, ENDS];

const TTL_INDEX: &str = "ttl_at";

/// One secondary index: its collection, name and keys.
type IndexSpec = (&'static str, &'static str, fn() -> Document);

/// Every secondary index. `_id` serves the rest: a line by room and seq, a
/// match or end by room, a report by id, a ban by client key, a setting by
/// name.
const INDEXES: &[IndexSpec] = &[
    // room_history: find {room} sort {seq: 1}.
    (MESSAGES, "room_seq", || doc! {"room": 1, "seq": 1}),
    // export_messages: filter on ts, sort {ts, room, seq}, cursor past the
    // last line; purge: delete {ts: {$lt: cutoff}}.
    (
        MESSAGES,
        "ts_room_seq",
        || doc! {"ts": 1, "room": 1, "seq": 1},
    ),
    // No client_key index on lines: every line would pay for it, and
    // forget_client (a privacy request) is a rare collection scan.
    // flags: sort {ts: -1, _id: -1} limit n; purge by ts.
    (FLAGS, "ts", || doc! {"ts": -1, "_id": -1}),
    // forget_client: delete {client_key}.
    (FLAGS, "client_key", || doc! {"client_key": 1}),
    // purge by ts.
    (MATCHES, "ts", || doc! {"ts": 1}),
    (ENDS, "ts", || doc! {"ts": 1}),
    // reports: sort {ts: -1, _id: -1} limit n.
    (REPORTS, "ts", || doc! {"ts": -1, "_id": -1}),
    // bans: sort {created: -1}.
    (BANS, "created", || doc! {"created": -1}),
];

/// Checks the stored schema version, creates what is missing, and records
/// the version. Returns whether TTL indexes keep the retention.
///
/// # Errors
/// [`Error::SchemaTooNew`] for a database written by a newer build;
/// [`Error::Driver`] when the server refuses.
pub(crate) async fn prepare(database: &Database, retention: Option<Duration>) -> Result<bool> {
    let meta = database.collection::<Document>(META);
    let found = meta
        .find_one(doc! {"_id": "schema"})
        .await?
        .and_then(|document| document.get("version").and_then(bson_int));
    if let Some(found) = found {
        if found > VERSION {
            return Err(Error::SchemaTooNew {
                found,
                supported: VERSION,
            });
        }
    }
    for (collection, name, keys) in INDEXES {
        let model = IndexModel::builder()
            .keys(keys())
            .options(IndexOptions::builder().name(name.to_string()).build())
            .build();
        database
            .collection::<Document>(collection)
            .create_index(model)
            .await?;
    }
    let ttl = match retention.filter(|r| !r.is_zero()) {
        Some(retention) => ensure_ttl(database, retention).await,
        None => false,
    };
    if found != Some(VERSION) {
        record_version(&meta).await?;
    }
    Ok(ttl)
}

/// Writes [`VERSION`] to `meta`. Nodes starting together on a fresh
/// database race to insert it; the loser's upsert fails with a duplicate
/// key, and it reads what the winner wrote instead.
async fn record_version(meta: &mongodb::Collection<Document>) -> Result<()> {
    let mut attempts = 0;
    loop {
        let written = meta
            .replace_one(
                doc! {"_id": "schema"},
                doc! {"_id": "schema", "version": VERSION},
            )
            .upsert(true)
            .await;
        let error = match written {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let duplicate = matches!(
            &*error.kind,
            mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) if e.code == 11000
        );
        attempts += 1;
        if !duplicate || attempts >= 3 {
            return Err(error.into());
        }
        let stored = meta
            .find_one(doc! {"_id": "schema"})
            .await?
            .and_then(|document| document.get("version").and_then(bson_int));
        match stored {
            Some(found) if found == VERSION => return Ok(()),
            Some(found) if found > VERSION => {
                return Err(Error::SchemaTooNew {
                    found,
                    supported: VERSION,
                });
            }
            _ => {}
        }
    }
}

fn bson_int(value: &mongodb::bson::Bson) -> Option<i64> {
    match value {
        mongodb::bson::Bson::Int32(v) => Some(i64::from(*v)),
        mongodb::bson::Bson::Int64(v) => Some(*v),
        mongodb::bson::Bson::Double(v) => Some(*v as i64),
        _ => None,
    }
}

/// Keeps a TTL index on `at` matching the retention in each retained
/// collection; returns whether every one is in place. A server without TTL
/// indexes (FerretDB v1 answers `NotImplemented`, code 238) is left to the
/// engine's periodic purge, which runs either way.
async fn ensure_ttl(database: &Database, retention: Duration) -> bool {
    let mut missing = Vec::new();
    let mut reason = String::new();
    for collection in RETAINED {
        let collection = database.collection::<Document>(collection);
        let model = || {
            IndexModel::builder()
                .keys(doc! {"at": 1})
                .options(
                    IndexOptions::builder()
                        .name(TTL_INDEX.to_string())
                        .expire_after(retention)
                        .build(),
                )
                .build()
        };
        let result = match collection.create_index(model()).await {
            // Same name, other expiry: the retention setting changed.
            Err(error) if is_index_conflict(&error) => {
                match collection.drop_index(TTL_INDEX).await {
                    Ok(()) => collection.create_index(model()).await.map(|_| ()),
                    Err(error) => Err(error),
                }
            }
            other => other.map(|_| ()),
        };
        if let Err(error) = result {
            if reason.is_empty() {
                reason = short(&error);
            }
            missing.push(collection.name().to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    // One line, in words: the driver's own error carries the server's reply
    // as a hex dump.
    tracing::info!(
        collections = %missing.join(", "),
        %reason,
        "no TTL indexes on this server; retention relies on the periodic purge"
    );
    false
}

/// A driver error as the server put it (code name, code and message),
/// without the raw reply document the driver's own text includes.
fn short(error: &mongodb::error::Error) -> String {
    match &*error.kind {
        mongodb::error::ErrorKind::Command(command) => format!(
            "{} ({}): {}",
            command.code_name, command.code, command.message
        ),
        other => other.to_string(),
    }
}

fn is_index_conflict(error: &mongodb::error::Error) -> bool {
    // IndexOptionsConflict, IndexKeySpecsConflict.
    matches!(&*error.kind, mongodb::error::ErrorKind::Command(c) if c.code == 85 || c.code == 86)
}
