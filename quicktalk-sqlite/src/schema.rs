//! The schema and its migrations, applied in order at open.

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Result};

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE messages (
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        session TEXT NOT NULL,
        client_key TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        masked INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE INDEX messages_by_ts ON messages (ts);

    CREATE TABLE flags (
        id INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        seq INTEGER,
        session TEXT NOT NULL,
        client_key TEXT NOT NULL,
        action TEXT NOT NULL,
        category TEXT,
        severity TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX flags_by_line ON flags (room, seq, session) WHERE seq IS NOT NULL;
    CREATE INDEX flags_by_ts ON flags (ts);

    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        reporter TEXT NOT NULL,
        reporter_key TEXT NOT NULL,
        reported TEXT NOT NULL,
        reported_key TEXT NOT NULL,
        reason TEXT NOT NULL,
        note TEXT,
        ts INTEGER NOT NULL,
        context TEXT NOT NULL
    );
    CREATE INDEX reports_by_ts ON reports (ts);

    CREATE TABLE bans (
        client_key TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        created INTEGER NOT NULL,
        until INTEGER
    );

    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 2: matches and ends of rooms; the export order. Lines get no index on
    // client_key: every delivered line would pay for it (it doubled the
    // server's p99 at 10,000 lines/s), and `forget` is a rare scan.
    "
    CREATE TABLE room_events (
        room TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (room, kind)
    ) WITHOUT ROWID;
    CREATE INDEX room_events_by_ts ON room_events (ts);

    DROP INDEX messages_by_ts;
    CREATE INDEX messages_by_export ON messages (ts, room, seq);
    CREATE INDEX flags_by_client_key ON flags (client_key);
    ",
    // 3: lines in a rowid table, appended at its end, with (room, seq) a
    // unique index. Clustered by (room, seq), every line of a commit landed
    // on its room's page of whole rows: with thousands of rooms chatting,
    // a commit dirtied (and wrote to the WAL) one page of rows per line; an
    // index entry is a third of a row, so the same rooms touch a third of
    // the pages. Measured on 1 M interleaved lines: 4,000 rooms 76 -> 41 us
    // per line, 100 rooms about a third less (docs/performance.md).
    "
    CREATE TABLE messages_v3 (
        id INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        session TEXT NOT NULL,
        client_key TEXT NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        masked INTEGER NOT NULL
    );
    INSERT INTO messages_v3 (room, seq, session, client_key, text, ts, masked)
        SELECT room, seq, session, client_key, text, ts, masked
        FROM messages ORDER BY ts, room, seq;
    DROP TABLE messages;
    ALTER TABLE messages_v3 RENAME TO messages;
    CREATE UNIQUE INDEX messages_by_line ON messages (room, seq);
    CREATE INDEX messages_by_export ON messages (ts, room, seq);
    ",
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the connection up and brings the schema to [`VERSION`].
///
/// Several processes may open one file at the same moment (a server and an
/// archive worker, or two workers): the version is read and the migrations
/// applied inside one `IMMEDIATE` transaction, so exactly one of them
/// migrates and the others wait (`busy_timeout`) and then find it done.
pub(crate) fn prepare(connection: &mut Connection, cache_mib: u32) -> Result<()> {
    // SQLite answers some of these steps with an immediate SQLITE_BUSY
    // instead of waiting out `busy_timeout` (switching a brand-new file to
    // WAL while another opener does the same), so opening retries for as
    // long as the busy timeout would have waited.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match prepare_once(connection, cache_mib) {
            Err(Error::Sqlite(error))
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

fn prepare_once(connection: &mut Connection, cache_mib: u32) -> Result<()> {
    // The wait comes first: switching to WAL takes a lock another opener
    // may hold.
    //
    // The checkpoint sizes are for the write path: chat lines of many rooms
    // land on as many B-tree pages per transaction, and SQLite's default (a
    // checkpoint every 1,000 WAL pages) copies the same hot pages back into
    // the file again and again. At 10,000 pages (WAL truncated back to 64
    // MiB after a checkpoint) a saturated closed-loop round stores 10-20%
    // more lines per second per core and makes a sixth of the `pread`s. The
    // page cache is the caller's choice; a larger one than SQLite's 2 MiB
    // measured no faster, in the closed loop or with 4,000 rooms chatting,
    // and costs its size in resident memory (docs/performance.md).
    connection.execute_batch(
        "PRAGMA busy_timeout = 5000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;",
    )?;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    transaction.commit()?;
    // Settings of this connection only (cache, checkpoint interval, WAL
    // size after a checkpoint, and deleted or moved rows zeroed in their
    // pages, so a purged or forgotten line leaves no copy in the file:
    // `fast` costs no extra I/O), set once the schema is in place.
    connection.pragma_update(None, "cache_size", -i64::from(cache_mib.max(1)) * 1024)?;
    connection.execute_batch(
        "PRAGMA wal_autocheckpoint = 10000;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA secure_delete = FAST;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written at version 2 (lines clustered by room) keeps every
    /// line, and its `(room, seq)` uniqueness, in the version 3 layout.
    #[test]
    fn a_version_2_file_moves_its_lines_to_the_rowid_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        let mut connection = Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
        connection.execute_batch(MIGRATIONS[1]).unwrap();
        connection.pragma_update(None, "user_version", 2).unwrap();
        for (room, seq, ts) in [("b", 1, 30), ("a", 1, 10), ("a", 2, 20)] {
            connection
                .execute(
                    "INSERT INTO messages (room, seq, session, client_key, text, ts, masked)
                     VALUES (?1, ?2, 's', 'k', ?3, ?4, 0)",
                    rusqlite::params![room, seq, format!("{room}{seq}"), ts],
                )
                .unwrap();
        }
        prepare(&mut connection, 2).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, VERSION);
        let rows: Vec<(i64, String)> = connection
            .prepare("SELECT id, text FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![(1, "a1".into()), (2, "a2".into()), (3, "b1".into())],
            "every line, in time order"
        );
        let ignored = connection
            .execute(
                "INSERT OR IGNORE INTO messages (room, seq, session, client_key, text, ts, masked)
                 VALUES ('a', 2, 's', 'k', 'again', 20, 0)",
                [],
            )
            .unwrap();
        assert_eq!(ignored, 0, "a line stored twice is still ignored");
    }
}
