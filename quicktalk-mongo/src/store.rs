//! `MongoChatStore`: the `ChatStore` implementation.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::{Client, Collection, Database};
use quicktalk_core::ports::chat_store::unix_ms;
use quicktalk_core::ports::{
    Ban, ChatStore, ExportQuery, ForgetStats, ModerationFlag, PurgeStats, Report, RoomEvent,
    StoredMessage,
};
use quicktalk_core::{ClientKey, RoomId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{MongoConfig, redact_uri};
use crate::records::{
    BanDoc, EndDoc, FlagDoc, MatchDoc, MessageDoc, ReportDoc, RoomEventDoc, SettingDoc,
};
use crate::retry::{is_transient, is_unreachable, with_retry};
use crate::schema::{self, BANS, ENDS, FLAGS, MATCHES, MESSAGES, REPORTS, SETTINGS};
use crate::{Error, Result};

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// After a failure that says the server is gone, ban look-ups fail at once
/// for this long instead of waiting out the server-selection timeout on
/// every new connection (the engine lets a client in when it cannot ask).
const FAIL_FAST_FOR: Duration = Duration::from_secs(2);

/// The longest a ban look-up may hold up a new connection.
const BAN_LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

/// A [`ChatStore`] in a MongoDB database. Cheap to clone (clones share the
/// driver's connection pool).
#[derive(Clone)]
pub struct MongoChatStore {
    client: Client,
    database: Database,
    timeout: Duration,
    ttl: bool,
    /// The URI with the password redacted, for error messages.
    redacted_uri: Arc<str>,
    /// Milliseconds since `epoch` until which ban look-ups fail fast.
    fail_fast_until: Arc<AtomicI64>,
    epoch: Instant,
}

impl std::fmt::Debug for MongoChatStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoChatStore")
            .field("database", &self.database.name())
            .finish_non_exhaustive()
    }
}

impl MongoChatStore {
    /// Connects, checks that the server answers, refuses a newer schema,
    /// and creates the collections' indexes (idempotently).
    ///
    /// # Errors
    /// [`Error::InvalidUri`] for a malformed URI, [`Error::Unreachable`] when
    /// no server answers within [`MongoConfig::timeout`] or the credentials
    /// are refused, [`Error::SchemaTooNew`] for a database written by a newer
    /// QuickTalk, [`Error::Driver`] when the server refuses to create indexes.
    pub async fn connect(config: &MongoConfig) -> Result<Self> {
        let options = config.client_options().await?;
        let name = config.database_name(&options);
        let client = Client::with_options(options)?;
        let database = client.database(&name);
        let unreachable = |error: &dyn std::fmt::Display| Error::Unreachable {
            uri: redact_uri(&config.uri),
            reason: error.to_string(),
        };
        match tokio::time::timeout(
            config.timeout + Duration::from_secs(1),
            database.run_command(doc! {"ping": 1}),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(unreachable(&error)),
            Err(_) => return Err(unreachable(&"no answer")),
        }
        let ttl = schema::prepare(&database, config.retention).await?;
        Ok(Self {
            client,
            database,
            timeout: config.timeout,
            ttl,
            redacted_uri: redact_uri(&config.uri).into(),
            fail_fast_until: Arc::new(AtomicI64::new(0)),
            epoch: Instant::now(),
        })
    }

    /// The database in use.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Whether TTL indexes expire old lines, flags and room events (MongoDB,
    /// Atlas). `false` on servers without them (FerretDB v1) or when no
    /// retention was given: the engine's periodic purge does the work.
    pub fn has_ttl_indexes(&self) -> bool {
        self.ttl
    }

    /// The schema version stored in the database.
    ///
    /// # Errors
    /// [`Error::Driver`] when the server fails.
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        let meta = self.collection::<Document>(schema::META);
        Ok(meta
            .find_one(doc! {"_id": "schema"})
            .await?
            .and_then(|d| d.get_i64("version").ok()))
    }

    /// Closes the connection pool.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }

    fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.database.collection(name)
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Notes what a call's outcome says about the server.
    fn observe<T>(&self, result: Result<T>) -> quicktalk_core::Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let gone = match &error {
                    Error::Driver(driver) => is_unreachable(driver) || is_transient(driver),
                    Error::Timeout(_) => true,
                    _ => false,
                };
                if gone {
                    let until = self.now_ms() + FAIL_FAST_FOR.as_millis() as i64;
                    self.fail_fast_until.store(until, Ordering::Relaxed);
                }
                Err(error.into())
            }
        }
    }

    fn failing_fast(&self) -> bool {
        self.now_ms() < self.fail_fast_until.load(Ordering::Relaxed)
    }

    /// Inserts unordered; a document already there (duplicate `_id`) counts
    /// as written, so a retried or replayed batch is a no-op.
    async fn insert_idempotent<T: Serialize + Send + Sync>(
        &self,
        name: &'static str,
        documents: &[T],
    ) -> quicktalk_core::Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let collection = self.collection::<T>(name);
        let result = with_retry(name, || async {
            match collection.insert_many(documents).ordered(false).await {
                Ok(_) => Ok(()),
                Err(error) if only_duplicates(&error) => Ok(()),
                Err(error) => Err(Error::Driver(error)),
            }
        })
        .await;
        self.observe(result)
    }

    /// Runs a find and reads every document.
    async fn find_all<T: DeserializeOwned + Send + Sync>(
        &self,
        name: &'static str,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
    ) -> quicktalk_core::Result<Vec<T>> {
        let collection = self.collection::<T>(name);
        let result = with_retry(name, || async {
            let mut find = collection.find(filter.clone()).sort(sort.clone());
            if let Some(limit) = limit {
                find = find.limit(limit);
            }
            let cursor = find.await?;
            Ok(cursor.try_collect::<Vec<T>>().await?)
        })
        .await;
        self.observe(result)
    }

    async fn delete_where(
        &self,
        name: &'static str,
        filter: Document,
    ) -> quicktalk_core::Result<u64> {
        let collection = self.collection::<Document>(name);
        let result = with_retry(name, || async {
            Ok(collection.delete_many(filter.clone()).await?.deleted_count)
        })
        .await;
        self.observe(result)
    }
}

/// Whether an insert failed only because documents were already stored.
fn only_duplicates(error: &mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|e| e.code == DUPLICATE_KEY))
        }
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(failure)) => {
            failure.code == DUPLICATE_KEY
        }
        _ => false,
    }
}

fn room_key(room: RoomId) -> Bson {
    Bson::String(room.to_string())
}

/// The export query as a MongoDB filter; mirrors [`ExportQuery::admits`].
fn export_filter(query: &ExportQuery) -> Document {
    let mut clauses: Vec<Document> = Vec::new();
    if let Some(since) = query.since {
        clauses.push(doc! {"ts": {"$gte": since}});
    }
    if let Some(until) = query.until {
        clauses.push(doc! {"ts": {"$lt": until}});
    }
    if let Some(room) = query.room {
        clauses.push(doc! {"room": room_key(room)});
    }
    if let Some(key) = &query.client_key {
        clauses.push(doc! {"client_key": key.as_str()});
    }
    if let Some(after) = query.after {
        let (ts, room, seq) = (after.ts, room_key(after.room), after.seq as i64);
        clauses.push(doc! {"$or": [
            {"ts": {"$gt": ts}},
            {"ts": ts, "room": {"$gt": room.clone()}},
            {"ts": ts, "room": room, "seq": {"$gt": seq}},
        ]});
    }
    if clauses.is_empty() {
        doc! {}
    } else {
        doc! {"$and": clauses}
    }
}

#[async_trait]
impl ChatStore for MongoChatStore {
    async fn append_messages(&self, messages: &[StoredMessage]) -> quicktalk_core::Result<()> {
        let documents: Vec<MessageDoc> = messages.iter().map(MessageDoc::from).collect();
        self.insert_idempotent(MESSAGES, &documents).await
    }

    async fn append_flags(&self, flags: &[ModerationFlag]) -> quicktalk_core::Result<()> {
        let documents: Vec<FlagDoc> = flags.iter().map(FlagDoc::from).collect();
        self.insert_idempotent(FLAGS, &documents).await
    }

    async fn append_room_events(&self, events: &[RoomEvent]) -> quicktalk_core::Result<()> {
        let (mut matches, mut ends) = (Vec::new(), Vec::new());
        for event in events {
            match RoomEventDoc::from(event) {
                RoomEventDoc::Matched(document) => matches.push(document),
                RoomEventDoc::Ended(document) => ends.push(document),
            }
        }
        self.insert_idempotent(MATCHES, &matches).await?;
        self.insert_idempotent(ENDS, &ends).await
    }

    async fn room_events(&self, room: RoomId) -> quicktalk_core::Result<Vec<RoomEvent>> {
        let by_room = doc! {"_id": room_key(room)};
        let matched: Vec<MatchDoc> = self
            .find_all(MATCHES, by_room.clone(), doc! {}, None)
            .await?;
        let ended: Vec<EndDoc> = self.find_all(ENDS, by_room, doc! {}, None).await?;
        Ok(matched
            .into_iter()
            .map(RoomEvent::from)
            .chain(ended.into_iter().map(RoomEvent::from))
            .collect())
    }

    async fn export_messages(
        &self,
        query: &ExportQuery,
    ) -> quicktalk_core::Result<Vec<StoredMessage>> {
        let limit = i64::try_from(query.limit.max(1)).unwrap_or(i64::MAX);
        let documents: Vec<MessageDoc> = self
            .find_all(
                MESSAGES,
                export_filter(query),
                doc! {"ts": 1, "room": 1, "seq": 1},
                Some(limit),
            )
            .await?;
        Ok(documents.into_iter().map(StoredMessage::from).collect())
    }

    async fn forget_client(&self, client_key: &ClientKey) -> quicktalk_core::Result<ForgetStats> {
        let by_key = doc! {"client_key": client_key.as_str()};
        Ok(ForgetStats {
            messages: self.delete_where(MESSAGES, by_key.clone()).await?,
            flags: self.delete_where(FLAGS, by_key).await?,
        })
    }

    async fn save_report(&self, report: &Report) -> quicktalk_core::Result<()> {
        self.insert_idempotent(REPORTS, &[ReportDoc::from(report)])
            .await
    }

    async fn reports(&self, limit: usize) -> quicktalk_core::Result<Vec<Report>> {
        let documents: Vec<ReportDoc> = self
            .find_all(
                REPORTS,
                doc! {},
                doc! {"ts": -1, "_id": -1},
                Some(limit as i64),
            )
            .await?;
        Ok(documents.into_iter().map(Report::from).collect())
    }

    async fn flags(&self, limit: usize) -> quicktalk_core::Result<Vec<ModerationFlag>> {
        let documents: Vec<FlagDoc> = self
            .find_all(
                FLAGS,
                doc! {},
                doc! {"ts": -1, "_id": -1},
                Some(limit as i64),
            )
            .await?;
        Ok(documents.into_iter().map(ModerationFlag::from).collect())
    }

    async fn room_history(&self, room: RoomId) -> quicktalk_core::Result<Vec<StoredMessage>> {
        let documents: Vec<MessageDoc> = self
            .find_all(
                MESSAGES,
                doc! {"room": room_key(room)},
                doc! {"seq": 1},
                None,
            )
            .await?;
        Ok(documents.into_iter().map(StoredMessage::from).collect())
    }

    async fn put_ban(&self, ban: &Ban) -> quicktalk_core::Result<()> {
        let collection = self.collection::<BanDoc>(BANS);
        let document = BanDoc::from(ban);
        let result = with_retry(BANS, || async {
            collection
                .replace_one(doc! {"_id": ban.client_key.as_str()}, &document)
                .upsert(true)
                .await?;
            Ok(())
        })
        .await;
        self.observe(result)
    }

    async fn remove_ban(&self, client_key: &ClientKey) -> quicktalk_core::Result<bool> {
        Ok(self
            .delete_where(BANS, doc! {"_id": client_key.as_str()})
            .await?
            > 0)
    }

    async fn ban(&self, client_key: &ClientKey) -> quicktalk_core::Result<Option<Ban>> {
        if self.failing_fast() {
            return Err(Error::Unreachable {
                uri: self.redacted_uri.to_string(),
                reason: "it failed a moment ago; asking again in a few seconds".into(),
            }
            .into());
        }
        let collection = self.collection::<BanDoc>(BANS);
        let lookup = collection.find_one(doc! {"_id": client_key.as_str()});
        let result = match tokio::time::timeout(BAN_LOOKUP_TIMEOUT, lookup).await {
            Ok(found) => found.map_err(Error::Driver),
            Err(_) => Err(Error::Timeout(BAN_LOOKUP_TIMEOUT)),
        };
        Ok(self.observe(result)?.map(Ban::from))
    }

    async fn bans(&self) -> quicktalk_core::Result<Vec<Ban>> {
        let documents: Vec<BanDoc> = self
            .find_all(BANS, doc! {}, doc! {"created": -1}, None)
            .await?;
        Ok(documents.into_iter().map(Ban::from).collect())
    }

    async fn purge(&self, before: SystemTime) -> quicktalk_core::Result<PurgeStats> {
        let older = doc! {"ts": {"$lt": unix_ms(before)}};
        Ok(PurgeStats {
            messages: self.delete_where(MESSAGES, older.clone()).await?,
            flags: self.delete_where(FLAGS, older.clone()).await?,
            room_events: self.delete_where(MATCHES, older.clone()).await?
                + self.delete_where(ENDS, older).await?,
        })
    }

    async fn setting_or_insert(&self, name: &str, init: &str) -> quicktalk_core::Result<String> {
        let setting = SettingDoc {
            name: name.to_owned(),
            value: init.to_owned(),
        };
        self.insert_idempotent(SETTINGS, std::slice::from_ref(&setting))
            .await?;
        let stored: Vec<SettingDoc> = self
            .find_all(SETTINGS, doc! {"_id": name}, doc! {}, Some(1))
            .await?;
        stored.into_iter().next().map(|s| s.value).ok_or_else(|| {
            Error::Corrupt {
                collection: SETTINGS,
                reason: format!("{name} vanished after it was written"),
            }
            .into()
        })
    }

    async fn setting(&self, name: &str) -> quicktalk_core::Result<Option<String>> {
        let stored: Vec<SettingDoc> = self
            .find_all(SETTINGS, doc! {"_id": name}, doc! {}, Some(1))
            .await?;
        Ok(stored.into_iter().next().map(|s| s.value))
    }

    async fn ping(&self) -> quicktalk_core::Result<()> {
        let ping = self.database.run_command(doc! {"ping": 1});
        let result = match tokio::time::timeout(self.timeout, ping).await {
            Ok(answer) => answer.map(|_| ()).map_err(Error::Driver),
            Err(_) => Err(Error::Timeout(self.timeout)),
        };
        if result.is_ok() {
            self.fail_fast_until.store(0, Ordering::Relaxed);
        }
        self.observe(result)
    }
}
