//! The engine's hot paths: one chat line from `send` to the partner's
//! outbound queue, and the frame codec.
//!
//! Run with: `cargo bench -p quicktalk-benches --bench engine`
//!
//! `send_to_partner` measures `SessionHandle::send` through the no-op
//! moderator, with the store writer running (into a store that discards),
//! and both outbound queues drained each iteration: the echo and the
//! partner's frame are both produced.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quicktalk_core::ports::{
    Ban, ChatStore, ExportQuery, ForgetStats, ModerationFlag, PurgeStats, Report, RoomEvent,
    StoredMessage,
};
use quicktalk_core::protocol::{ClientFrame, MessageFrame, Sender, ServerFrame};
use quicktalk_core::{ClientKey, Engine, EngineConfig, Event, RoomId};

/// Accepts every write and keeps nothing: the writer's cost without a database.
struct DiscardStore;

#[async_trait]
impl ChatStore for DiscardStore {
    async fn append_messages(&self, _: &[StoredMessage]) -> quicktalk_core::Result<()> {
        Ok(())
    }
    async fn append_flags(&self, _: &[ModerationFlag]) -> quicktalk_core::Result<()> {
        Ok(())
    }
    async fn append_room_events(&self, _: &[RoomEvent]) -> quicktalk_core::Result<()> {
        Ok(())
    }
    async fn room_events(&self, _: RoomId) -> quicktalk_core::Result<Vec<RoomEvent>> {
        Ok(Vec::new())
    }
    async fn export_messages(&self, _: &ExportQuery) -> quicktalk_core::Result<Vec<StoredMessage>> {
        Ok(Vec::new())
    }
    async fn forget_client(&self, _: &ClientKey) -> quicktalk_core::Result<ForgetStats> {
        Ok(ForgetStats::default())
    }
    async fn save_report(&self, _: &Report) -> quicktalk_core::Result<()> {
        Ok(())
    }
    async fn reports(&self, _: usize) -> quicktalk_core::Result<Vec<Report>> {
        Ok(Vec::new())
    }
    async fn flags(&self, _: usize) -> quicktalk_core::Result<Vec<ModerationFlag>> {
        Ok(Vec::new())
    }
    async fn room_history(&self, _: RoomId) -> quicktalk_core::Result<Vec<StoredMessage>> {
        Ok(Vec::new())
    }
    async fn put_ban(&self, _: &Ban) -> quicktalk_core::Result<()> {
        Ok(())
    }
    async fn remove_ban(&self, _: &ClientKey) -> quicktalk_core::Result<bool> {
        Ok(false)
    }
    async fn ban(&self, _: &ClientKey) -> quicktalk_core::Result<Option<Ban>> {
        Ok(None)
    }
    async fn bans(&self) -> quicktalk_core::Result<Vec<Ban>> {
        Ok(Vec::new())
    }
    async fn purge(&self, _: SystemTime) -> quicktalk_core::Result<PurgeStats> {
        Ok(PurgeStats::default())
    }
    async fn setting_or_insert(&self, _: &str, init: &str) -> quicktalk_core::Result<String> {
        Ok(init.to_owned())
    }
}

fn send_to_partner(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let config = EngineConfig {
        rate_per_sec: 1e12,
        rate_burst: u32::MAX,
        ..EngineConfig::default()
    };
    let engine = Engine::builder()
        .config(config)
        .store(Arc::new(DiscardStore))
        .build()
        .unwrap();
    let (alice, mut alice_events, bob, mut bob_events) = runtime.block_on(async {
        let (alice, alice_events) = engine.connect("alice".into()).await.unwrap();
        let (bob, bob_events) = engine.connect("bob".into()).await.unwrap();
        alice.join(Default::default());
        bob.join(Default::default());
        (alice, alice_events, bob, bob_events)
    });
    while alice_events.try_recv().is_some() {}
    while bob_events.try_recv().is_some() {}
    let text = "안녕하세요! how are you doing today? 😊";
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("send_to_partner", |b| {
        b.iter(|| {
            alice.send(text, None);
            let echo = alice_events.try_recv();
            let delivered = bob_events.try_recv();
            debug_assert!(matches!(
                delivered,
                Some(Event::Frame(ServerFrame::Message(_)))
            ));
            (echo, delivered)
        });
    });
    group.finish();
    drop((alice, bob));
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(1));
    let message = ServerFrame::Message(MessageFrame {
        seq: 12_345,
        from: Sender::Stranger,
        text: "안녕하세요! how are you doing today? 😊".into(),
        ts: 1_764_000_000_000,
        cid: None,
        masked: false,
    });
    group.bench_function("encode_message", |b| b.iter(|| message.to_json()));
    let send =
        r#"{"type":"send","text":"안녕하세요! how are you doing today? 😊","cid":"c-123456"}"#;
    group.bench_function("decode_send", |b| {
        b.iter(|| ClientFrame::parse(send).unwrap())
    });
    let join = r#"{"type":"join","interests":["Music","k-pop","movies"],"lang":"ko"}"#;
    group.bench_function("decode_join", |b| {
        b.iter(|| ClientFrame::parse(join).unwrap())
    });
    group.finish();
}

criterion_group!(benches, send_to_partner, codec);
criterion_main!(benches);
