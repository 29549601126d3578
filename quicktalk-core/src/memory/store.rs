//! `MemoryChatStore`: a `ChatStore` in process memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::chat_store::{
    Ban, ChatStore, ExportCursor, ExportQuery, ForgetStats, ModerationFlag, PurgeStats, Report,
    RoomEvent, StoredMessage, unix_ms,
};

#[derive(Default)]
struct Tables {
    messages: BTreeMap<(RoomId, u64), StoredMessage>,
    flags: BTreeMap<(i64, RoomId, Option<u64>, SessionId, u64), ModerationFlag>,
    flag_serial: u64,
    /// Keyed by room and kind (`matched` sorts before `ended`).
    room_events: BTreeMap<(RoomId, u8), RoomEvent>,
    reports: Vec<Report>,
    bans: FxHashMap<ClientKey, Ban>,
    settings: FxHashMap<String, String>,
}

/// A [`ChatStore`] in memory: nothing survives the process. Cheap to clone
/// (clones share the data), so a test can keep one to inspect.
///
/// [`MemoryChatStore::set_failing`] makes every call fail, for fault
/// injection.
#[derive(Clone, Default)]
pub struct MemoryChatStore {
    tables: Arc<Mutex<Tables>>,
    failing: Arc<AtomicBool>,
}

impl std::fmt::Debug for MemoryChatStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables = self.tables.lock();
        f.debug_struct("MemoryChatStore")
            .field("messages", &tables.messages.len())
            .field("reports", &tables.reports.len())
            .field("bans", &tables.bans.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("memory store is set to fail")]
struct InjectedFailure;

impl MemoryChatStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail (`true`) or work again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every stored chat line, by room and `seq`.
    pub fn all_messages(&self) -> Vec<StoredMessage> {
        self.tables.lock().messages.values().cloned().collect()
    }

    fn check(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(Error::store(InjectedFailure))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ChatStore for MemoryChatStore {
    async fn append_messages(&self, messages: &[StoredMessage]) -> Result<()> {
        self.check()?;
        let mut tables = self.tables.lock();
        for message in messages {
            tables
                .messages
                .entry((message.room, message.seq))
                .or_insert_with(|| message.clone());
        }
        Ok(())
    }

    async fn append_flags(&self, flags: &[ModerationFlag]) -> Result<()> {
        self.check()?;
        let mut tables = self.tables.lock();
        for flag in flags {
            // Delivered lines are identified by (room, seq, session); blocked
            // ones have no seq and are each their own record.
            let serial = if flag.seq.is_some() {
                0
            } else {
                tables.flag_serial += 1;
                tables.flag_serial
            };
            tables
                .flags
                .entry((flag.ts, flag.room, flag.seq, flag.session, serial))
                .or_insert_with(|| flag.clone());
        }
        Ok(())
    }

    async fn append_room_events(&self, events: &[RoomEvent]) -> Result<()> {
        self.check()?;
        let mut tables = self.tables.lock();
        for event in events {
            let order = u8::from(matches!(event, RoomEvent::Ended { .. }));
            tables
                .room_events
                .entry((event.room(), order))
                .or_insert_with(|| event.clone());
        }
        Ok(())
    }

    async fn room_events(&self, room: RoomId) -> Result<Vec<RoomEvent>> {
        self.check()?;
        let tables = self.tables.lock();
        Ok(tables
            .room_events
            .range((room, 0)..=(room, u8::MAX))
            .map(|(_, event)| event.clone())
            .collect())
    }

    async fn export_messages(&self, query: &ExportQuery) -> Result<Vec<StoredMessage>> {
        self.check()?;
        let tables = self.tables.lock();
        let mut page: Vec<StoredMessage> = tables
            .messages
            .values()
            .filter(|message| query.admits(message))
            .cloned()
            .collect();
        page.sort_by_key(ExportCursor::of);
        page.truncate(query.limit.max(1));
        Ok(page)
    }

    async fn forget_client(&self, client_key: &ClientKey) -> Result<ForgetStats> {
        self.check()?;
        let mut tables = self.tables.lock();
        let (messages, flags) = (tables.messages.len(), tables.flags.len());
        tables.messages.retain(|_, m| &m.client_key != client_key);
        tables.flags.retain(|_, f| &f.client_key != client_key);
        Ok(ForgetStats {
            messages: (messages - tables.messages.len()) as u64,
            flags: (flags - tables.flags.len()) as u64,
        })
    }

    async fn save_report(&self, report: &Report) -> Result<()> {
        self.check()?;
        let mut tables = self.tables.lock();
        if !tables.reports.iter().any(|r| r.id == report.id) {
            tables.reports.push(report.clone());
        }
        Ok(())
    }

    async fn reports(&self, limit: usize) -> Result<Vec<Report>> {
        self.check()?;
        let tables = self.tables.lock();
        Ok(tables.reports.iter().rev().take(limit).cloned().collect())
    }

    async fn flags(&self, limit: usize) -> Result<Vec<ModerationFlag>> {
        self.check()?;
        let tables = self.tables.lock();
        Ok(tables.flags.values().rev().take(limit).cloned().collect())
    }

    async fn room_history(&self, room: RoomId) -> Result<Vec<StoredMessage>> {
        self.check()?;
        let tables = self.tables.lock();
        Ok(tables
            .messages
            .range((room, 0)..=(room, u64::MAX))
            .map(|(_, message)| message.clone())
            .collect())
    }

    async fn put_ban(&self, ban: &Ban) -> Result<()> {
        self.check()?;
        self.tables
            .lock()
            .bans
            .insert(ban.client_key.clone(), ban.clone());
        Ok(())
    }

    async fn remove_ban(&self, client_key: &ClientKey) -> Result<bool> {
        self.check()?;
        Ok(self.tables.lock().bans.remove(client_key).is_some())
    }

    async fn ban(&self, client_key: &ClientKey) -> Result<Option<Ban>> {
        self.check()?;
        Ok(self.tables.lock().bans.get(client_key).cloned())
    }

    async fn bans(&self) -> Result<Vec<Ban>> {
        self.check()?;
        let mut bans: Vec<Ban> = self.tables.lock().bans.values().cloned().collect();
        bans.sort_by_key(|ban| std::cmp::Reverse(ban.created));
        Ok(bans)
    }

    async fn purge(&self, before: SystemTime) -> Result<PurgeStats> {
        self.check()?;
        let cutoff = unix_ms(before);
        let mut tables = self.tables.lock();
        let messages_before = tables.messages.len();
        tables.messages.retain(|_, message| message.ts >= cutoff);
        let flags_before = tables.flags.len();
        tables.flags.retain(|_, flag| flag.ts >= cutoff);
        let events_before = tables.room_events.len();
        tables.room_events.retain(|_, event| event.ts() >= cutoff);
        Ok(PurgeStats {
            messages: (messages_before - tables.messages.len()) as u64,
            flags: (flags_before - tables.flags.len()) as u64,
            room_events: (events_before - tables.room_events.len()) as u64,
        })
    }

    async fn setting_or_insert(&self, name: &str, init: &str) -> Result<String> {
        self.check()?;
        let mut tables = self.tables.lock();
        Ok(tables
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| init.to_owned())
            .clone())
    }

    async fn setting(&self, name: &str) -> Result<Option<String>> {
        self.check()?;
        Ok(self.tables.lock().settings.get(name).cloned())
    }

    async fn ping(&self) -> Result<()> {
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn message(room: u64, seq: u64, ts: i64) -> StoredMessage {
        StoredMessage {
            room: RoomId::from_raw(room),
            seq,
            session: SessionId::from_raw(1),
            client_key: ClientKey::from("k"),
            text: format!("line {seq}"),
            ts,
            masked: false,
        }
    }

    #[tokio::test]
    async fn appending_the_same_line_twice_stores_it_once() {
        let store = MemoryChatStore::new();
        store
            .append_messages(&[message(1, 1, 10), message(1, 2, 11)])
            .await
            .unwrap();
        store
            .append_messages(&[message(1, 2, 11), message(1, 3, 12)])
            .await
            .unwrap();
        let history = store.room_history(RoomId::from_raw(1)).await.unwrap();
        assert_eq!(history.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[tokio::test]
    async fn purge_removes_old_lines_and_keeps_reports() {
        let store = MemoryChatStore::new();
        let now = SystemTime::now();
        let old = unix_ms(now - Duration::from_secs(3600));
        store
            .append_messages(&[message(1, 1, old), message(1, 2, unix_ms(now))])
            .await
            .unwrap();
        store
            .save_report(&Report {
                id: "r1".into(),
                room: RoomId::from_raw(1),
                reporter: SessionId::from_raw(1),
                reporter_key: "a".into(),
                reported: SessionId::from_raw(2),
                reported_key: "b".into(),
                reason: crate::protocol::ReportReason::Spam,
                note: None,
                ts: old,
                context: vec![],
            })
            .await
            .unwrap();
        let stats = store.purge(now - Duration::from_secs(60)).await.unwrap();
        assert_eq!(stats.messages, 1);
        assert_eq!(
            store.room_history(RoomId::from_raw(1)).await.unwrap().len(),
            1
        );
        assert_eq!(store.reports(10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failing_store_fails_every_call() {
        let store = MemoryChatStore::new();
        store.set_failing(true);
        assert!(store.ping().await.is_err());
        assert!(store.append_messages(&[message(1, 1, 1)]).await.is_err());
        store.set_failing(false);
        assert!(store.ping().await.is_ok());
    }

    #[tokio::test]
    async fn settings_keep_their_first_value() {
        let store = MemoryChatStore::new();
        assert_eq!(
            store.setting_or_insert("ip_key", "one").await.unwrap(),
            "one"
        );
        assert_eq!(
            store.setting_or_insert("ip_key", "two").await.unwrap(),
            "one"
        );
    }
}
