//! A conformance suite for [`ChatStore`] implementations (feature `testing`).
//!
//! Every store (memory, SQLite, MongoDB) runs the same checks, so an adapter
//! is held to the port's documented guarantees rather than to its own tests.

use std::time::{Duration, SystemTime};

use crate::ids::{ClientKey, RoomId, SessionId};
use crate::ports::chat_store::{
    ChatStore, ContextLine, ExportCursor, ExportQuery, ModerationFlag, Report, RoomEvent,
    StoredMessage, unix_ms,
};
use crate::ports::{Action, Ban, Category, Severity};
use crate::protocol::{PartnerLeftReason, ReportReason};

fn message(room: RoomId, seq: u64, ts: i64) -> StoredMessage {
    StoredMessage {
        room,
        seq,
        session: SessionId::from_raw(seq % 2 + 1),
        client_key: ClientKey::from("key-a"),
        text: format!("line {seq} 안녕"),
        ts,
        masked: seq % 3 == 0,
    }
}

/// Runs every check against an empty store; panics with a message naming the
/// guarantee that failed.
pub async fn check_chat_store(store: &dyn ChatStore) {
    let now = SystemTime::now();
    let now_ms = unix_ms(now);
    let old_ms = unix_ms(now - Duration::from_secs(3600));
    let room = RoomId::random();

    store.ping().await.expect("ping");

    // Idempotent appends: a retried batch stores each line once.
    let batch: Vec<StoredMessage> = (1..=3).map(|seq| message(room, seq, now_ms)).collect();
    store.append_messages(&batch).await.expect("append");
    store
        .append_messages(&batch[1..])
        .await
        .expect("append again");
    store
        .append_messages(&[message(room, 4, now_ms)])
        .await
        .expect("append more");
    let history = store.room_history(room).await.expect("history");
    assert_eq!(
        history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "lines are stored once each, in seq order"
    );
    assert_eq!(history[0], batch[0], "a line reads back as written");
    assert!(
        store
            .room_history(RoomId::random())
            .await
            .expect("history")
            .is_empty()
    );

    // Flags: delivered lines once by (room, seq, session); blocked ones each.
    let flag = |seq: Option<u64>, ts: i64| ModerationFlag {
        room,
        seq,
        session: SessionId::from_raw(1),
        client_key: ClientKey::from("key-a"),
        action: if seq.is_some() {
            Action::Mask
        } else {
            Action::Block
        },
        category: Some(Category::Profanity),
        severity: Severity::Low,
        text: "bad words".into(),
        ts,
    };
    store
        .append_flags(&[
            flag(Some(1), now_ms),
            flag(Some(1), now_ms),
            flag(None, now_ms),
            flag(None, now_ms),
        ])
        .await
        .expect("flags");
    let flags = store.flags(10).await.expect("read flags");
    assert_eq!(
        flags.len(),
        3,
        "a delivered line's flag once, each blocked line's flag"
    );
    assert!(
        flags
            .iter()
            .any(|f| f.action == Action::Block && f.seq.is_none())
    );

    // Reports keep their context, newest first, stored once by id.
    let report = |id: &str, ts: i64| Report {
        id: id.into(),
        room,
        reporter: SessionId::from_raw(1),
        reporter_key: ClientKey::from("key-a"),
        reported: SessionId::from_raw(2),
        reported_key: ClientKey::from("key-b"),
        reason: ReportReason::SelfHarm,
        note: Some("worried".into()),
        ts,
        context: vec![ContextLine {
            seq: 1,
            session: SessionId::from_raw(2),
            text: "context line".into(),
            ts,
        }],
    };
    store
        .save_report(&report("r1", old_ms))
        .await
        .expect("report");
    store
        .save_report(&report("r2", now_ms))
        .await
        .expect("report");
    store
        .save_report(&report("r2", now_ms))
        .await
        .expect("report again");
    let reports = store.reports(10).await.expect("reports");
    assert_eq!(
        reports.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"]
    );
    assert_eq!(
        reports[1],
        report("r1", old_ms),
        "a report reads back whole"
    );
    assert_eq!(
        store.reports(1).await.expect("reports").len(),
        1,
        "limit holds"
    );

    // Bans.
    let ban = Ban {
        client_key: ClientKey::from("key-b"),
        reason: "abuse".into(),
        created: now_ms,
        until: Some(now_ms + 60_000),
    };
    store.put_ban(&ban).await.expect("ban");
    assert_eq!(
        store.ban(&ban.client_key).await.expect("ban"),
        Some(ban.clone())
    );
    assert_eq!(
        store.bans().await.expect("bans"),
        std::slice::from_ref(&ban)
    );
    let permanent = Ban {
        until: None,
        ..ban.clone()
    };
    store.put_ban(&permanent).await.expect("replace ban");
    assert_eq!(
        store.ban(&ban.client_key).await.expect("ban"),
        Some(permanent)
    );
    assert!(store.remove_ban(&ban.client_key).await.expect("unban"));
    assert!(
        !store
            .remove_ban(&ban.client_key)
            .await
            .expect("unban twice")
    );
    assert_eq!(store.ban(&ban.client_key).await.expect("ban"), None);

    // Retention: old lines and flags go, reports stay.
    let old_room = RoomId::random();
    store
        .append_messages(&[message(old_room, 1, old_ms)])
        .await
        .expect("old line");
    store
        .append_flags(&[flag(None, old_ms)])
        .await
        .expect("old flag");
    let purged = store
        .purge(now - Duration::from_secs(60))
        .await
        .expect("purge");
    assert_eq!(
        (purged.messages, purged.flags),
        (1, 1),
        "only what is older than the cut-off"
    );
    assert!(
        store
            .room_history(old_room)
            .await
            .expect("history")
            .is_empty()
    );
    assert_eq!(store.room_history(room).await.expect("history").len(), 4);
    assert_eq!(
        store.reports(10).await.expect("reports").len(),
        2,
        "reports survive purges"
    );

    check_room_events(store, now_ms, old_ms).await;
    check_export_and_forget(store, now_ms).await;

    // Settings keep their first value, and reading one writes nothing.
    assert_eq!(store.setting("ip_key").await.expect("setting"), None);
    assert_eq!(store.setting("ip_key").await.expect("setting"), None);
    assert_eq!(
        store
            .setting_or_insert("ip_key", "first")
            .await
            .expect("setting"),
        "first"
    );
    assert_eq!(
        store
            .setting_or_insert("ip_key", "second")
            .await
            .expect("setting"),
        "first"
    );
    assert_eq!(
        store.setting("ip_key").await.expect("setting").as_deref(),
        Some("first")
    );
}

/// Matches and ends: stored once by room and kind, read back matched first,
/// purged with the lines.
async fn check_room_events(store: &dyn ChatStore, now_ms: i64, old_ms: i64) {
    let room = RoomId::random();
    let matched = RoomEvent::Matched {
        room,
        sessions: [SessionId::from_raw(1), SessionId::from_raw(2)],
        client_keys: [ClientKey::from("key-a"), ClientKey::from("key-b")],
        common_interests: vec!["music".into(), "음악".into()],
        ts: now_ms,
    };
    let ended = RoomEvent::Ended {
        room,
        left: SessionId::from_raw(2),
        reason: PartnerLeftReason::Skipped,
        ts: now_ms + 1,
    };
    // The end arrives first and both are delivered twice (at-least-once).
    store
        .append_room_events(&[ended.clone(), matched.clone()])
        .await
        .expect("room events");
    store
        .append_room_events(&[matched.clone(), ended.clone()])
        .await
        .expect("room events again");
    assert_eq!(
        store.room_events(room).await.expect("read room events"),
        [matched, ended],
        "each room event once, matched first, read back whole"
    );
    let old_room = RoomId::random();
    store
        .append_room_events(&[RoomEvent::Ended {
            room: old_room,
            left: SessionId::from_raw(3),
            reason: PartnerLeftReason::Timeout,
            ts: old_ms,
        }])
        .await
        .expect("old room event");
    let purged = store
        .purge(crate::ports::chat_store::from_unix_ms(now_ms - 60_000))
        .await
        .expect("purge");
    assert_eq!(purged.room_events, 1, "old room events are purged");
    assert!(store.room_events(old_room).await.expect("read").is_empty());
    assert_eq!(store.room_events(room).await.expect("read").len(), 2);
}

/// Export pages in `(ts, room, seq)` order with filters and a cursor;
/// forgetting a key removes its lines and flags and nothing else.
async fn check_export_and_forget(store: &dyn ChatStore, now_ms: i64) {
    // Far in the future, so lines stored by the checks above stay out of the
    // time window.
    let base = now_ms + 10 * 24 * 3600 * 1000;
    let (first, second) = (RoomId::random(), RoomId::random());
    let line = |room: RoomId, seq: u64, ts: i64, key: &str| StoredMessage {
        client_key: ClientKey::from(key),
        ..message(room, seq, ts)
    };
    let lines = vec![
        line(first, 1, base, "export-a"),
        line(second, 1, base, "export-b"),
        line(first, 2, base + 1, "export-b"),
        line(second, 2, base + 2, "export-a"),
        line(first, 3, base + 3, "export-a"),
    ];
    store.append_messages(&lines).await.expect("append");
    let mut expected = lines.clone();
    expected.sort_by_key(ExportCursor::of);

    let window = ExportQuery {
        since: Some(base),
        until: Some(base + 100),
        limit: 2,
        ..ExportQuery::default()
    };
    let mut paged = Vec::new();
    let mut query = window.clone();
    loop {
        let page = store.export_messages(&query).await.expect("export");
        assert!(page.len() <= 2, "a page holds at most `limit` lines");
        let Some(last) = page.last() else { break };
        query.after = Some(ExportCursor::of(last));
        paged.extend(page);
    }
    assert_eq!(
        paged, expected,
        "pages join into every line once, in (ts, room, seq) order"
    );

    let only_first = ExportQuery {
        room: Some(first),
        limit: 100,
        ..window.clone()
    };
    let rooms: Vec<u64> = store
        .export_messages(&only_first)
        .await
        .expect("export a room")
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(rooms, [1, 2, 3], "the room filter holds");
    let later = ExportQuery {
        since: Some(base + 2),
        client_key: Some(ClientKey::from("export-a")),
        limit: 100,
        ..window.clone()
    };
    let keyed = store.export_messages(&later).await.expect("export a key");
    assert_eq!(
        keyed.iter().map(ExportCursor::of).collect::<Vec<_>>(),
        [ExportCursor::of(&lines[3]), ExportCursor::of(&lines[4])],
        "since and client-key filters hold together"
    );

    let flag = ModerationFlag {
        room: first,
        seq: Some(1),
        session: SessionId::from_raw(9),
        client_key: ClientKey::from("export-a"),
        action: Action::Flag,
        category: Some(Category::Profanity),
        severity: Severity::Low,
        text: "to be forgotten".into(),
        ts: base,
    };
    store.append_flags(&[flag]).await.expect("flag");
    let forgotten = store
        .forget_client(&ClientKey::from("export-a"))
        .await
        .expect("forget");
    assert_eq!(
        (forgotten.messages, forgotten.flags),
        (3, 1),
        "every line and flag of the key"
    );
    let left = store
        .export_messages(&ExportQuery {
            limit: 100,
            ..window
        })
        .await
        .expect("export after forget");
    assert!(
        left.iter()
            .all(|m| m.client_key == ClientKey::from("export-b"))
            && left.len() == 2,
        "other keys' lines stay"
    );
    assert!(
        store
            .flags(1000)
            .await
            .expect("flags")
            .iter()
            .all(|f| f.client_key != ClientKey::from("export-a")),
        "the key's flags are gone"
    );
    assert_eq!(
        store
            .forget_client(&ClientKey::from("export-a"))
            .await
            .expect("forget again"),
        Default::default(),
        "forgetting twice removes nothing more"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryChatStore;

    #[tokio::test]
    async fn the_memory_store_conforms() {
        check_chat_store(&MemoryChatStore::new()).await;
    }
}
