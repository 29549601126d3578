//! `SqliteChatStore`: the `ChatStore` implementation.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use parking_lot::Mutex;
use quicktalk_core::ports::chat_store::unix_ms;
use quicktalk_core::ports::{
    Ban, ChatStore, ContextLine, ExportQuery, ForgetStats, ModerationFlag, PurgeStats, Report,
    RoomEvent, StoredMessage,
};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::de::DeserializeOwned;

use crate::{Error, Result, schema};

/// A [`ChatStore`] in one SQLite file. Cheap to clone (clones share the
/// connection).
#[derive(Clone)]
pub struct SqliteChatStore {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteChatStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteChatStore").finish_non_exhaustive()
    }
}

fn parse_id<T: std::str::FromStr>(column: &'static str, text: &str) -> Result<T> {
    text.parse().map_err(|_| Error::Corrupt {
        column,
        reason: format!("not an id: {text:?}"),
    })
}

/// Enums are stored as their serde names (`"self_harm"`, `"block"`, ...).
fn parse_name<T: DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|error| {
        Error::Corrupt {
            column,
            reason: error.to_string(),
        }
    })
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// SQLite's page cache for the store's connection, in MiB, unless told
/// otherwise ([`SqliteChatStore::open_with_cache`]).
/// SQLite's own default: 32 MiB measured no faster (docs/performance.md).
pub const DEFAULT_CACHE_MIB: u32 = 2;

impl SqliteChatStore {
    /// Opens (or creates) the database file and migrates its schema, with a
    /// page cache of [`DEFAULT_CACHE_MIB`].
    ///
    /// # Errors
    /// [`Error::Sqlite`] when the file cannot be opened or migrated,
    /// [`Error::SchemaTooNew`] when a newer QuickTalk wrote it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_MIB)
    }

    /// [`SqliteChatStore::open`] with a page cache of `cache_mib` MiB (at
    /// least 1). The cache is resident memory once full; a larger one
    /// re-reads fewer pages when lines of many rooms are written at once.
    ///
    /// # Errors
    /// As [`SqliteChatStore::open`].
    pub fn open_with_cache(path: impl AsRef<Path>, cache_mib: u32) -> Result<Self> {
        let mut connection = Connection::open(path)?;
        schema::prepare(&mut connection, cache_mib)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// A private in-memory database (for tests).
    ///
    /// # Errors
    /// [`Error::Sqlite`] when SQLite fails.
    pub fn open_in_memory() -> Result<Self> {
        let mut connection = Connection::open_in_memory()?;
        schema::prepare(&mut connection, DEFAULT_CACHE_MIB)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The schema version of the open file.
    ///
    /// # Errors
    /// [`Error::Sqlite`] when SQLite fails.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .connection
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// Runs `work` on the blocking pool with the connection.
    async fn run<T, F>(&self, work: F) -> quicktalk_core::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        let result = tokio::task::spawn_blocking(move || work(&mut connection.lock()))
            .await
            .map_err(Error::from)?;
        Ok(result?)
    }
}

/// Rows read as tuples (rusqlite converts a row into a tuple of its columns).
type RawMessage = (String, i64, String, String, String, i64, bool);

fn to_message(raw: RawMessage) -> Result<StoredMessage> {
    let (room, seq, session, client_key, text, ts, masked) = raw;
    Ok(StoredMessage {
        room: parse_id("room", &room)?,
        seq: seq as u64,
        session: parse_id("session", &session)?,
        client_key: ClientKey::new(client_key),
        text,
        ts,
        masked,
    })
}

type RawReport = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
);

fn to_report(raw: RawReport) -> Result<Report> {
    let (id, room, reporter, reporter_key, reported, reported_key, reason, note, ts, context) = raw;
    let context: Vec<ContextLine> =
        serde_json::from_str(&context).map_err(|error| Error::Corrupt {
            column: "context",
            reason: error.to_string(),
        })?;
    Ok(Report {
        id,
        room: parse_id::<RoomId>("room", &room)?,
        reporter: parse_id::<SessionId>("reporter", &reporter)?,
        reporter_key: ClientKey::new(reporter_key),
        reported: parse_id::<SessionId>("reported", &reported)?,
        reported_key: ClientKey::new(reported_key),
        reason: parse_name("reason", &reason)?,
        note,
        ts,
        context,
    })
}

type RawFlag = (
    String,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
);

fn to_flag(raw: RawFlag) -> Result<ModerationFlag> {
    let (room, seq, session, client_key, action, category, severity, text, ts) = raw;
    Ok(ModerationFlag {
        room: parse_id("room", &room)?,
        seq: seq.map(|s| s as u64),
        session: parse_id("session", &session)?,
        client_key: ClientKey::new(client_key),
        action: parse_name("action", &action)?,
        category: category.map(|c| parse_name("category", &c)).transpose()?,
        severity: parse_name("severity", &severity)?,
        text,
        ts,
    })
}

fn to_ban(row: &Row<'_>) -> rusqlite::Result<Ban> {
    Ok(Ban {
        client_key: ClientKey::new(row.get::<_, String>(0)?),
        reason: row.get(1)?,
        created: row.get(2)?,
        until: row.get(3)?,
    })
}

/// Inserts a batch in one transaction with one prepared statement.
fn insert_all<T>(
    connection: &mut Connection,
    sql: &str,
    items: &[T],
    bind: impl Fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
) -> Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare_cached(sql)?;
        for item in items {
            bind(&mut insert, item)?;
        }
    }
    transaction.commit()?;
    Ok(())
}

#[async_trait]
impl ChatStore for SqliteChatStore {
    async fn append_messages(&self, messages: &[StoredMessage]) -> quicktalk_core::Result<()> {
        let messages = messages.to_vec();
        self.run(move |connection| {
            insert_all(
                connection,
                "INSERT OR IGNORE INTO messages (room, seq, session, client_key, text, ts, masked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &messages,
                |insert, m| {
                    insert.execute(params![
                        m.room.to_string(),
                        m.seq as i64,
                        m.session.to_string(),
                        m.client_key.as_str(),
                        m.text,
                        m.ts,
                        m.masked
                    ])
                },
            )
        })
        .await
    }

    async fn append_flags(&self, flags: &[ModerationFlag]) -> quicktalk_core::Result<()> {
        let flags = flags.to_vec();
        self.run(move |connection| {
            insert_all(
                connection,
                "INSERT OR IGNORE INTO flags
                 (room, seq, session, client_key, action, category, severity, text, ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &flags,
                |insert, f| {
                    insert.execute(params![
                        f.room.to_string(),
                        f.seq.map(|s| s as i64),
                        f.session.to_string(),
                        f.client_key.as_str(),
                        f.action.as_str(),
                        f.category.map(|c| c.as_str()),
                        f.severity.as_str(),
                        f.text,
                        f.ts
                    ])
                },
            )
        })
        .await
    }

    async fn append_room_events(&self, events: &[RoomEvent]) -> quicktalk_core::Result<()> {
        let events = events.to_vec();
        self.run(move |connection| {
            insert_all(
                connection,
                "INSERT OR IGNORE INTO room_events (room, kind, ts, event) VALUES (?1, ?2, ?3, ?4)",
                &events,
                |insert, event| {
                    let json = serde_json::to_string(event).unwrap_or_default();
                    insert.execute(params![
                        event.room().to_string(),
                        event.kind(),
                        event.ts(),
                        json
                    ])
                },
            )
        })
        .await
    }

    async fn room_events(&self, room: RoomId) -> quicktalk_core::Result<Vec<RoomEvent>> {
        self.run(move |connection| {
            // `matched` sorts before `ended` only by rule, not by name.
            let mut query = connection.prepare_cached(
                "SELECT event FROM room_events WHERE room = ?1 ORDER BY kind = 'ended', ts",
            )?;
            let raw = query
                .query_map([room.to_string()], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.iter()
                .map(|json| {
                    serde_json::from_str(json).map_err(|error| Error::Corrupt {
                        column: "event",
                        reason: error.to_string(),
                    })
                })
                .collect()
        })
        .await
    }

    async fn export_messages(
        &self,
        query: &ExportQuery,
    ) -> quicktalk_core::Result<Vec<StoredMessage>> {
        let query = query.clone();
        self.run(move |connection| {
            // Only the filters given are in the statement: a `?n IS NULL OR`
            // switch would hide the cursor from the planner, and every page
            // would scan the (ts, room, seq) index from its start (an export
            // of 1.6 million lines did not finish in 7 minutes).
            let mut sql = String::from(
                "SELECT room, seq, session, client_key, text, ts, masked FROM messages WHERE 1",
            );
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            let mut filter = |term: &str, value: rusqlite::types::Value| {
                values.push(value);
                sql.push_str(&format!(" AND {term} ?{}", values.len()));
            };
            if let Some(since) = query.since {
                filter("ts >=", since.into());
            }
            if let Some(until) = query.until {
                filter("ts <", until.into());
            }
            if let Some(room) = query.room {
                filter("room =", room.to_string().into());
            }
            if let Some(key) = &query.client_key {
                filter("client_key =", key.as_str().to_owned().into());
            }
            if let Some(after) = query.after {
                values.extend([
                    after.ts.into(),
                    after.room.to_string().into(),
                    (after.seq as i64).into(),
                ]);
                let n = values.len();
                sql.push_str(&format!(
                    " AND (ts, room, seq) > (?{}, ?{}, ?{n})",
                    n - 2,
                    n - 1
                ));
            }
            values.push((query.limit.max(1) as i64).into());
            sql.push_str(&format!(" ORDER BY ts, room, seq LIMIT ?{}", values.len()));
            let mut statement = connection.prepare_cached(&sql)?;
            let raw = statement
                .query_map(rusqlite::params_from_iter(values), |row| {
                    RawMessage::try_from(row)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(to_message).collect()
        })
        .await
    }

    async fn forget_client(&self, client_key: &ClientKey) -> quicktalk_core::Result<ForgetStats> {
        let key = client_key.as_str().to_owned();
        self.run(move |connection| {
            // A privacy request: the deleted text is overwritten with zeros
            // in the file (SQLite otherwise leaves it in free pages), and
            // the write-ahead log that still holds it is emptied when no
            // other connection is reading at that moment (a checkpoint that
            // cannot finish is redone by the next one; docs/storage.md).
            connection.pragma_update(None, "secure_delete", "ON")?;
            let transaction = connection.transaction()?;
            let messages =
                transaction.execute("DELETE FROM messages WHERE client_key = ?1", [&key])?;
            let flags = transaction.execute("DELETE FROM flags WHERE client_key = ?1", [&key])?;
            transaction.commit()?;
            connection.pragma_update(None, "secure_delete", "FAST")?;
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(ForgetStats {
                messages: messages as u64,
                flags: flags as u64,
            })
        })
        .await
    }

    async fn save_report(&self, report: &Report) -> quicktalk_core::Result<()> {
        let report = report.clone();
        self.run(move |connection| {
            let context = serde_json::to_string(&report.context).unwrap_or_else(|_| "[]".into());
            connection.execute(
                "INSERT OR IGNORE INTO reports
                 (id, room, reporter, reporter_key, reported, reported_key, reason, note, ts, context)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    report.id,
                    report.room.to_string(),
                    report.reporter.to_string(),
                    report.reporter_key.as_str(),
                    report.reported.to_string(),
                    report.reported_key.as_str(),
                    name_of(&report.reason),
                    report.note,
                    report.ts,
                    context
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn reports(&self, limit: usize) -> quicktalk_core::Result<Vec<Report>> {
        self.run(move |connection| {
            let mut query = connection.prepare_cached(
                "SELECT id, room, reporter, reporter_key, reported, reported_key, reason, note, ts, context
                 FROM reports ORDER BY ts DESC, id DESC LIMIT ?1",
            )?;
            let raw = query
                .query_map([limit as i64], |row| RawReport::try_from(row))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(to_report).collect()
        })
        .await
    }

    async fn flags(&self, limit: usize) -> quicktalk_core::Result<Vec<ModerationFlag>> {
        self.run(move |connection| {
            let mut query = connection.prepare_cached(
                "SELECT room, seq, session, client_key, action, category, severity, text, ts
                 FROM flags ORDER BY ts DESC, id DESC LIMIT ?1",
            )?;
            let raw = query
                .query_map([limit as i64], |row| RawFlag::try_from(row))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(to_flag).collect()
        })
        .await
    }

    async fn room_history(&self, room: RoomId) -> quicktalk_core::Result<Vec<StoredMessage>> {
        self.run(move |connection| {
            let mut query = connection.prepare_cached(
                "SELECT room, seq, session, client_key, text, ts, masked
                 FROM messages WHERE room = ?1 ORDER BY seq",
            )?;
            let raw = query
                .query_map([room.to_string()], |row| RawMessage::try_from(row))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(to_message).collect()
        })
        .await
    }

    async fn put_ban(&self, ban: &Ban) -> quicktalk_core::Result<()> {
        let ban = ban.clone();
        self.run(move |connection| {
            connection.execute(
                "INSERT OR REPLACE INTO bans (client_key, reason, created, until) VALUES (?1, ?2, ?3, ?4)",
                params![ban.client_key.as_str(), ban.reason, ban.created, ban.until],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_ban(&self, client_key: &ClientKey) -> quicktalk_core::Result<bool> {
        let key = client_key.as_str().to_owned();
        self.run(move |connection| {
            Ok(connection.execute("DELETE FROM bans WHERE client_key = ?1", [key])? > 0)
        })
        .await
    }

    async fn ban(&self, client_key: &ClientKey) -> quicktalk_core::Result<Option<Ban>> {
        let key = client_key.as_str().to_owned();
        self.run(move |connection| {
            Ok(connection
                .prepare_cached(
                    "SELECT client_key, reason, created, until FROM bans WHERE client_key = ?1",
                )?
                .query_row([key], to_ban)
                .optional()?)
        })
        .await
    }

    async fn bans(&self) -> quicktalk_core::Result<Vec<Ban>> {
        self.run(move |connection| {
            let mut query = connection.prepare_cached(
                "SELECT client_key, reason, created, until FROM bans ORDER BY created DESC",
            )?;
            let bans = query
                .query_map([], to_ban)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(bans)
        })
        .await
    }

    async fn purge(&self, before: SystemTime) -> quicktalk_core::Result<PurgeStats> {
        let cutoff = unix_ms(before);
        self.run(move |connection| {
            let transaction = connection.transaction()?;
            let messages = transaction.execute("DELETE FROM messages WHERE ts < ?1", [cutoff])?;
            let flags = transaction.execute("DELETE FROM flags WHERE ts < ?1", [cutoff])?;
            let room_events =
                transaction.execute("DELETE FROM room_events WHERE ts < ?1", [cutoff])?;
            transaction.commit()?;
            Ok(PurgeStats {
                messages: messages as u64,
                flags: flags as u64,
                room_events: room_events as u64,
            })
        })
        .await
    }

    async fn setting_or_insert(&self, name: &str, init: &str) -> quicktalk_core::Result<String> {
        let (name, init) = (name.to_owned(), init.to_owned());
        self.run(move |connection| {
            connection.execute(
                "INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)",
                params![name, init],
            )?;
            Ok(connection.query_row(
                "SELECT value FROM settings WHERE name = ?1",
                [name],
                |row| row.get(0),
            )?)
        })
        .await
    }

    async fn setting(&self, name: &str) -> quicktalk_core::Result<Option<String>> {
        let name = name.to_owned();
        self.run(move |connection| {
            Ok(connection
                .query_row(
                    "SELECT value FROM settings WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn ping(&self) -> quicktalk_core::Result<()> {
        self.run(|connection| {
            Ok(connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }
}
