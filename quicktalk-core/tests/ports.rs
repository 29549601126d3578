//! The engine with its ports: moderation, the store writer, reports, bans
//! and the event bus.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use quicktalk_core::memory::{MemoryChatStore, MemoryEventBus};
use quicktalk_core::ports::{
    Action, Ban, BusEvent, Category, ChatStore, EventBus, ExportQuery, ForgetStats, ModerationFlag,
    Moderator, PurgeStats, Report, RoomEvent, Severity, StoredMessage, Verdict,
};
use quicktalk_core::protocol::{
    ClientFrame, CloseReason, ErrorCode, PartnerLeftReason, RejectReason, ReportReason,
    ReportRequest, SendRequest, ServerFrame,
};
use quicktalk_core::{ClientKey, Engine, EngineConfig, Error, RoomId};
use support::*;

/// Masks "darn", blocks "kill", flags "sad": enough to see each path.
struct WordModerator;

impl Moderator for WordModerator {
    fn check(&self, text: &str) -> Verdict {
        if text.contains("kill") {
            return Verdict {
                action: Action::Block,
                category: Some(Category::Threat),
                severity: Severity::High,
                spans: vec![],
            };
        }
        if let Some(start) = text.find("darn") {
            return Verdict {
                action: Action::Mask,
                category: Some(Category::Profanity),
                severity: Severity::Low,
                spans: std::iter::once(start..start + 4).collect(),
            };
        }
        if text.contains("sad") {
            return Verdict {
                action: Action::Flag,
                category: Some(Category::SelfHarm),
                severity: Severity::Medium,
                spans: vec![],
            };
        }
        Verdict::allow()
    }
}

fn moderated_engine() -> (Engine, MemoryChatStore) {
    let store = MemoryChatStore::new();
    let engine = Engine::builder()
        .moderator(Arc::new(WordModerator))
        .store(Arc::new(store.clone()))
        .build()
        .unwrap();
    (engine, store)
}

#[tokio::test(start_paused = true)]
async fn masked_lines_are_delivered_with_stars_and_flagged() {
    let (engine, store) = moderated_engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("oh darn it", "m");
    let delivered = Client::messages(&b.drain());
    assert_eq!(&*delivered[0].text, "oh **** it");
    assert!(delivered[0].masked);
    let echo = Client::messages(&a.drain());
    assert_eq!(
        &*echo[0].text, "oh **** it",
        "the echo carries the text as moderated"
    );
    settle().await;
    let flags = store.flags(10).await.unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(
        (flags[0].action, flags[0].category),
        (Action::Mask, Some(Category::Profanity))
    );
    assert_eq!(flags[0].seq, Some(1));
}

#[tokio::test(start_paused = true)]
async fn blocked_lines_are_rejected_with_their_category_and_never_delivered() {
    let (engine, store) = moderated_engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("I will kill you", "k");
    let rejected = rejection(&a.drain()).unwrap();
    assert_eq!(rejected.reason, RejectReason::Moderation);
    assert_eq!(rejected.category.as_deref(), Some("threat"));
    assert!(b.drain().is_empty());
    a.send("sorry", "s");
    assert_eq!(
        Client::messages(&b.drain())[0].seq,
        1,
        "a blocked line spends no seq"
    );
    settle().await;
    let flags = store.flags(10).await.unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!((flags[0].action, flags[0].seq), (Action::Block, None));
}

#[tokio::test(start_paused = true)]
async fn a_blocked_line_turns_the_partners_typing_indicator_off() {
    let (engine, _store) = moderated_engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().typing(true);
    a.send("I will kill you", "k");
    // The partner never gets the line, so it hears the typing stop.
    assert_eq!(
        b.drain(),
        [
            ServerFrame::Typing { active: true },
            ServerFrame::Typing { active: false }
        ]
    );
    a.drain();
    // The client's own `typing false` after the send changes nothing more.
    a.handle().typing(false);
    assert!(b.drain().is_empty());
}

#[tokio::test(start_paused = true)]
async fn flagged_lines_are_delivered_as_is_and_recorded_for_review() {
    let (engine, store) = moderated_engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("I feel so sad", "f");
    let delivered = Client::messages(&b.drain());
    assert_eq!(&*delivered[0].text, "I feel so sad");
    assert!(!delivered[0].masked);
    a.drain();
    settle().await;
    assert_eq!(
        store.flags(10).await.unwrap()[0].category,
        Some(Category::SelfHarm)
    );
}

#[tokio::test(start_paused = true)]
async fn delivered_lines_reach_the_store_in_batches() {
    let (engine, store) = engine();
    let (a, b) = matched_pair(&engine).await;
    for n in 0..5 {
        a.send(&format!("a{n}"), &format!("a{n}"));
        b.send(&format!("b{n}"), &format!("b{n}"));
    }
    settle().await;
    let stored = store.all_messages();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(stored[0].client_key, ClientKey::from("key-a"));
    let room = stored[0].room;
    assert_eq!(store.room_history(room).await.unwrap().len(), 10);
}

#[tokio::test(start_paused = true)]
async fn with_zero_retention_no_chat_line_is_stored() {
    let (engine, store) = engine_with(EngineConfig {
        retention: Duration::ZERO,
        ..EngineConfig::default()
    });
    let (a, _b) = matched_pair(&engine).await;
    a.send("ephemeral", "e");
    settle().await;
    assert!(store.all_messages().is_empty());
}

/// A store whose writes wait on a gate: a slow database (or, with
/// `explode`, one with a bug: its line writes panic).
#[derive(Clone)]
struct GatedStore {
    inner: MemoryChatStore,
    gate: Arc<tokio::sync::Semaphore>,
    explode: bool,
    /// `ping` never answers (a connection held by a writer stuck on a lock).
    hang_ping: bool,
}

#[async_trait]
impl ChatStore for GatedStore {
    async fn append_messages(&self, messages: &[StoredMessage]) -> quicktalk_core::Result<()> {
        assert!(!self.explode, "a bug in the store");
        let _permit = self.gate.acquire().await.map_err(Error::store)?;
        self.inner.append_messages(messages).await
    }
    async fn append_flags(&self, flags: &[ModerationFlag]) -> quicktalk_core::Result<()> {
        self.inner.append_flags(flags).await
    }
    async fn append_room_events(&self, events: &[RoomEvent]) -> quicktalk_core::Result<()> {
        self.inner.append_room_events(events).await
    }
    async fn room_events(&self, room: RoomId) -> quicktalk_core::Result<Vec<RoomEvent>> {
        self.inner.room_events(room).await
    }
    async fn export_messages(
        &self,
        query: &ExportQuery,
    ) -> quicktalk_core::Result<Vec<StoredMessage>> {
        self.inner.export_messages(query).await
    }
    async fn forget_client(&self, key: &ClientKey) -> quicktalk_core::Result<ForgetStats> {
        self.inner.forget_client(key).await
    }
    async fn save_report(&self, report: &Report) -> quicktalk_core::Result<()> {
        self.inner.save_report(report).await
    }
    async fn reports(&self, limit: usize) -> quicktalk_core::Result<Vec<Report>> {
        self.inner.reports(limit).await
    }
    async fn flags(&self, limit: usize) -> quicktalk_core::Result<Vec<ModerationFlag>> {
        self.inner.flags(limit).await
    }
    async fn room_history(&self, room: RoomId) -> quicktalk_core::Result<Vec<StoredMessage>> {
        self.inner.room_history(room).await
    }
    async fn put_ban(&self, ban: &Ban) -> quicktalk_core::Result<()> {
        self.inner.put_ban(ban).await
    }
    async fn remove_ban(&self, key: &ClientKey) -> quicktalk_core::Result<bool> {
        self.inner.remove_ban(key).await
    }
    async fn ban(&self, key: &ClientKey) -> quicktalk_core::Result<Option<Ban>> {
        self.inner.ban(key).await
    }
    async fn bans(&self) -> quicktalk_core::Result<Vec<Ban>> {
        self.inner.bans().await
    }
    async fn purge(&self, before: SystemTime) -> quicktalk_core::Result<PurgeStats> {
        self.inner.purge(before).await
    }
    async fn setting_or_insert(&self, name: &str, init: &str) -> quicktalk_core::Result<String> {
        self.inner.setting_or_insert(name, init).await
    }

    async fn setting(&self, name: &str) -> quicktalk_core::Result<Option<String>> {
        self.inner.setting(name).await
    }

    async fn ping(&self) -> quicktalk_core::Result<()> {
        if self.hang_ping {
            std::future::pending::<()>().await;
        }
        self.inner.ping().await
    }
}

/// An engine whose store writes lines only as `gate` gives permits (one
/// per batch), and the store behind the gate.
fn gated_engine(config: EngineConfig) -> (Engine, MemoryChatStore, Arc<tokio::sync::Semaphore>) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let inner = MemoryChatStore::new();
    let store = GatedStore {
        inner: inner.clone(),
        gate: gate.clone(),
        explode: false,
        hang_ping: false,
    };
    let engine = Engine::builder()
        .config(config)
        .store(Arc::new(store))
        .build()
        .unwrap();
    (engine, inner, gate)
}

/// Sends line `n` as a transport does: the parsed frame, awaited.
async fn send_frame(client: &Client, n: usize) {
    let frame = ClientFrame::Send(SendRequest {
        text: format!("line {n}"),
        cid: Some(format!("c{n}")),
    });
    client.handle().handle_frame(frame).await;
}

#[tokio::test(start_paused = true)]
async fn a_stuck_store_never_slows_chat_and_its_overflow_is_counted_until_it_drains() {
    let (engine, inner, gate) = gated_engine(EngineConfig {
        store_queue: 4,
        store_batch: 2,
        rate_burst: 100,
        ..EngineConfig::default()
    });
    let (a, mut b) = matched_pair(&engine).await;
    for n in 0..20 {
        a.send(&format!("line {n}"), &format!("c{n}"));
        settle().await;
    }
    assert_eq!(
        Client::messages(&b.drain()).len(),
        20,
        "chat went on while the store was stuck"
    );
    let health = engine.health().await;
    assert!(
        !health.ready,
        "an overflowing store queue makes the engine not ready"
    );
    assert!(health.store_overflowed > 0);
    let overflowed = health.store_overflowed;
    gate.add_permits(1000);
    settle().await;
    let health = engine.health().await;
    assert!(health.ready, "ready again once drained: {health:?}");
    let stored = inner.all_messages().len() as u64;
    assert_eq!(
        stored + overflowed,
        20,
        "every line is stored or counted, none silently lost"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_store_slows_the_senders_instead_of_losing_their_lines() {
    let (engine, inner, gate) = gated_engine(EngineConfig {
        store_queue: 8,
        store_batch: 2,
        rate_per_sec: 10_000.0,
        rate_burst: 1000,
        ..EngineConfig::default()
    });
    let (a, mut b) = matched_pair(&engine).await;
    // The store takes one batch every 5 ms: slow, but working.
    let pacer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            gate.add_permits(1);
        }
    });
    // As a transport does: each frame handled in turn, awaiting each.
    for n in 0..100 {
        send_frame(&a, n).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    pacer.abort();
    let health = engine.health().await;
    assert_eq!(health.store_overflowed, 0, "nothing overflowed: {health:?}");
    assert_eq!(inner.all_messages().len(), 100, "the store got every line");
    assert_eq!(Client::messages(&b.drain()).len(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_stuck_store_holds_a_sender_briefly_at_most_and_chat_goes_on() {
    let (engine, _inner, _gate) = gated_engine(EngineConfig {
        store_queue: 4,
        store_batch: 2,
        rate_burst: 100,
        ..EngineConfig::default()
    });
    let (a, mut b) = matched_pair(&engine).await;
    let started = tokio::time::Instant::now();
    for n in 0..20 {
        send_frame(&a, n).await;
    }
    settle().await;
    assert!(
        started.elapsed() <= Duration::from_millis(250) * 20,
        "a line waits for a stuck store a quarter second at most: {:?}",
        started.elapsed()
    );
    assert_eq!(Client::messages(&b.drain()).len(), 20, "chat went on");
    assert!(engine.health().await.store_overflowed > 0);
}

#[tokio::test(start_paused = true)]
async fn health_answers_in_time_when_the_store_does_not() {
    let store = GatedStore {
        inner: MemoryChatStore::new(),
        gate: Arc::new(tokio::sync::Semaphore::new(1000)),
        explode: false,
        hang_ping: true,
    };
    let engine = Engine::builder().store(Arc::new(store)).build().unwrap();
    let asked = tokio::time::Instant::now();
    let health = engine.health().await;
    assert!(asked.elapsed() <= Duration::from_secs(3));
    assert!(!health.ready);
    assert!(
        health
            .store_error
            .as_deref()
            .is_some_and(|why| why.contains("did not answer")),
        "{health:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_retried_until_it_recovers() {
    let (engine, store) = engine();
    store.set_failing(true);
    let (a, _b) = matched_pair(&engine).await;
    a.send("keep me", "k");
    settle().await;
    assert!(!engine.health().await.ready);
    store.set_failing(false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(store.all_messages().len(), 1);
    assert!(engine.health().await.ready);
}

#[tokio::test(start_paused = true)]
async fn a_report_is_stored_with_the_chat_context_and_acknowledged() {
    let (engine, store) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("hello", "a1");
    b.send("something nasty", "b1");
    a.handle()
        .report(ReportRequest {
            reason: ReportReason::Harassment,
            note: Some("rude".into()),
        })
        .await;
    assert!(a.drain().contains(&ServerFrame::Reported));
    let reports = store.reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.reason, ReportReason::Harassment);
    assert_eq!(report.reported_key, ClientKey::from("key-b"));
    let context: Vec<&str> = report
        .context
        .iter()
        .map(|line| line.text.as_str())
        .collect();
    assert_eq!(context, ["hello", "something nasty"]);
    b.drain();
    // Report pressed again for the same stranger: acknowledged, stored once.
    a.handle()
        .report(ReportRequest {
            reason: ReportReason::Spam,
            note: None,
        })
        .await;
    assert!(a.drain().contains(&ServerFrame::Reported));
    assert_eq!(store.reports(10).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn after_a_report_the_pair_is_never_matched_again_not_even_from_a_new_session() {
    let (engine, _) = engine_with(EngineConfig {
        rematch_cooldown: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3600),
        ..EngineConfig::default()
    });
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().leave();
    a.handle()
        .report(ReportRequest {
            reason: ReportReason::Spam,
            note: None,
        })
        .await;
    advance(&engine, Duration::from_secs(10)).await;
    a.drain();
    b.drain();
    a.join(&[], None);
    b.join(&[], None);
    assert_eq!(b.drain(), [ServerFrame::Waiting]);
    // b comes back as a new session from the same key: still kept apart.
    b.handle().leave();
    let mut b2 = Client::connect(&engine, "key-b").await;
    b2.join(&[], None);
    assert_eq!(b2.drain(), [ServerFrame::Waiting]);
    // Someone else is matched with a at once.
    let mut c = Client::connect(&engine, "key-c").await;
    c.join(&[], None);
    assert!(
        c.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Matched(_)))
    );
    assert!(
        a.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Matched(_)))
    );
}

#[tokio::test(start_paused = true)]
async fn report_without_any_partner_is_a_bad_state_error() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.handle()
        .report(ReportRequest {
            reason: ReportReason::Other,
            note: None,
        })
        .await;
    assert!(
        a.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::BadState))
    );
}

#[tokio::test(start_paused = true)]
async fn a_ban_removes_live_sessions_and_refuses_new_ones() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    assert_eq!(engine.ban(&"key-b".into(), "abuse", None).await.unwrap(), 1);
    let frames = b.drain();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::Banned))
    );
    assert_eq!(b.closed, Some(CloseReason::Banned));
    assert!(is_partner_left(&a.drain(), PartnerLeftReason::Removed));
    assert!(matches!(
        engine.connect("key-b".into()).await,
        Err(Error::Banned { until: None })
    ));
    assert!(engine.unban(&"key-b".into()).await.unwrap());
    assert!(engine.connect("key-b".into()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_expired_ban_lets_the_client_back_in() {
    let (engine, store) = engine();
    store
        .put_ban(&Ban {
            client_key: "old".into(),
            reason: "test".into(),
            created: 0,
            until: Some(1),
        })
        .await
        .unwrap();
    assert!(engine.connect("old".into()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn engine_events_are_published_on_the_bus() {
    let bus = MemoryEventBus::default();
    let mut subscription = bus.subscribe().await.unwrap();
    let engine = Engine::builder().event_bus(Arc::new(bus)).build().unwrap();
    let (a, _b) = matched_pair(&engine).await;
    a.send("on the bus", "x");
    a.handle().leave();
    settle().await;
    let events: Vec<BusEvent> = std::iter::from_fn(|| subscription.try_recv()).collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| match event {
            BusEvent::Matched { .. } => "matched",
            BusEvent::Message { .. } => "message",
            BusEvent::Typing { .. } => "typing",
            BusEvent::Blocked { .. } => "blocked",
            BusEvent::PartnerLeft { .. } => "partner_left",
            _ => "cluster",
        })
        .collect();
    assert_eq!(kinds, ["matched", "message", "partner_left"]);
    assert!(events.iter().all(|event| event.room() == events[0].room()));
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_the_store_writer() {
    let (engine, store) = engine();
    let (a, _b) = matched_pair(&engine).await;
    for n in 0..5 {
        a.send(&format!("{n}"), &format!("c{n}"));
    }
    assert!(engine.shutdown(Duration::from_secs(5)).await);
    assert_eq!(store.all_messages().len(), 5);
}

/// A store whose line writes panic stops its writer: whether the writer is
/// a task or a thread of its own, health says so and shutdown does not
/// claim a flush.
async fn a_panicking_store_is_reported(store_writer_thread: bool) {
    let store = GatedStore {
        inner: MemoryChatStore::new(),
        gate: Arc::new(tokio::sync::Semaphore::new(100)),
        explode: true,
        hang_ping: false,
    };
    let engine = Engine::builder()
        .config(EngineConfig {
            store_writer_thread,
            store_linger: Duration::from_millis(1),
            ..EngineConfig::default()
        })
        .store(Arc::new(store))
        .build()
        .unwrap();
    assert!(engine.health().await.ready);
    let (a, _b) = matched_pair(&engine).await;
    a.send("into a broken store", "x");
    let mut health = engine.health().await;
    for _ in 0..200 {
        if !health.ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        health = engine.health().await;
    }
    assert!(!health.ready, "a dead store writer left the engine ready");
    assert!(
        health
            .store_error
            .as_deref()
            .is_some_and(|e| e.contains("writer stopped")),
        "{health:?}"
    );
    assert!(
        !engine.shutdown(Duration::from_secs(5)).await,
        "shutdown claimed a flush the dead writer never made"
    );
}

#[tokio::test]
async fn a_panicking_store_task_is_reported_not_ready() {
    a_panicking_store_is_reported(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_store_thread_is_reported_not_ready() {
    a_panicking_store_is_reported(true).await;
}
