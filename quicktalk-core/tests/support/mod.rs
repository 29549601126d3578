//! Helpers shared by the engine's integration tests.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use quicktalk_core::memory::MemoryChatStore;
use quicktalk_core::protocol::{
    CloseReason, JoinRequest, MessageFrame, PartnerLeftReason, RejectReason, Rejected, ServerFrame,
};
use quicktalk_core::{ClientKey, Engine, EngineConfig, Event, EventStream, SessionHandle};

/// One test client: the handle, its stream, and everything received so far.
pub struct Client {
    pub handle: Option<SessionHandle>,
    pub events: EventStream,
    pub received: Vec<ServerFrame>,
    pub closed: Option<CloseReason>,
    pub key: ClientKey,
}

impl Client {
    pub async fn connect(engine: &Engine, key: &str) -> Self {
        let key = ClientKey::from(key);
        let (handle, events) = engine.connect(key.clone()).await.expect("connect");
        let mut client = Self {
            handle: Some(handle),
            events,
            received: Vec::new(),
            closed: None,
            key,
        };
        let hello = client.drain();
        assert!(
            matches!(hello.first(), Some(ServerFrame::Hello(_))),
            "hello first, got {hello:?}"
        );
        client
    }

    pub fn handle(&self) -> &SessionHandle {
        self.handle.as_ref().expect("connected")
    }

    /// Frames queued since the last drain.
    pub fn drain(&mut self) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Some(event) = self.events.try_recv() {
            match event {
                Event::Frame(frame) => frames.push(frame),
                Event::Close(reason) => self.closed = Some(reason),
            }
        }
        self.received.extend(frames.iter().cloned());
        frames
    }

    pub fn join(&self, interests: &[&str], lang: Option<&str>) {
        self.handle().join(request(interests, lang));
    }

    pub fn send(&self, text: &str, cid: &str) {
        self.handle().send(text, Some(cid));
    }

    /// Drops the connection (the session stays resumable).
    pub fn drop_connection(&mut self) {
        self.drain();
        self.handle = None;
    }

    /// The `resume_token` from the newest `hello` or `resumed`.
    pub fn token(&self) -> String {
        self.received
            .iter()
            .rev()
            .find_map(|frame| match frame {
                ServerFrame::Hello(hello) => Some(hello.resume_token.clone()),
                ServerFrame::Resumed(resumed) => Some(resumed.resume_token.clone()),
                _ => None,
            })
            .expect("a token was received")
    }

    /// Highest `seq` received in the current room.
    pub fn last_seq(&self) -> u64 {
        let mut last = 0;
        for frame in &self.received {
            match frame {
                ServerFrame::Matched(_) => last = 0,
                ServerFrame::Message(message) => last = last.max(message.seq),
                _ => {}
            }
        }
        last
    }

    /// A new connection that resumes this client's session.
    pub async fn reconnect(&mut self, engine: &Engine) {
        let token = self.token();
        let last_seq = self.last_seq();
        let (handle, events) = engine.connect(self.key.clone()).await.expect("connect");
        self.events = events;
        self.closed = None;
        handle.resume(&token, last_seq);
        self.handle = Some(handle);
    }

    pub fn messages(frames: &[ServerFrame]) -> Vec<MessageFrame> {
        frames
            .iter()
            .filter_map(|frame| match frame {
                ServerFrame::Message(message) => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn request(interests: &[&str], lang: Option<&str>) -> JoinRequest {
    JoinRequest {
        interests: interests.iter().map(|s| s.to_string()).collect(),
        lang: lang.map(str::to_owned),
        bot: false,
    }
}

pub fn engine_with(config: EngineConfig) -> (Engine, MemoryChatStore) {
    let store = MemoryChatStore::new();
    let engine = Engine::builder()
        .config(config)
        .store(Arc::new(store.clone()))
        .build()
        .expect("valid config");
    (engine, store)
}

pub fn engine() -> (Engine, MemoryChatStore) {
    engine_with(EngineConfig::default())
}

/// Two clients matched with each other.
pub async fn matched_pair(engine: &Engine) -> (Client, Client) {
    let mut a = Client::connect(engine, "key-a").await;
    let mut b = Client::connect(engine, "key-b").await;
    a.join(&[], None);
    b.join(&[], None);
    assert!(
        a.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Matched(_)))
    );
    assert!(
        b.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Matched(_)))
    );
    (a, b)
}

pub fn is_partner_left(frames: &[ServerFrame], reason: PartnerLeftReason) -> bool {
    frames
        .iter()
        .any(|frame| matches!(frame, ServerFrame::PartnerLeft { reason: r } if *r == reason))
}

pub fn rejection(frames: &[ServerFrame]) -> Option<Rejected> {
    frames.iter().find_map(|frame| match frame {
        ServerFrame::Rejected(rejected) => Some(rejected.clone()),
        _ => None,
    })
}

pub fn is_rejected(frames: &[ServerFrame], reason: RejectReason) -> bool {
    rejection(frames).is_some_and(|r| r.reason == reason)
}

/// Moves the paused clock and runs the engine's due timers.
pub async fn advance(engine: &Engine, by: Duration) {
    tokio::time::advance(by).await;
    engine.tick();
}

/// Lets background tasks (store writer, bus publisher) run, including the
/// store writer's linger (the paused clock jumps over it).
pub async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Moves the clock `seconds` in 10 s steps while `active` keeps sending
/// pongs (touches), so only the others go idle.
pub async fn advance_while_active(engine: &Engine, seconds: u64, active: &Client) {
    for _ in 0..seconds / 10 {
        advance(engine, Duration::from_secs(10)).await;
        active.handle().touch();
    }
}

pub fn error_codes(frames: &[ServerFrame]) -> Vec<quicktalk_core::protocol::ErrorCode> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Error(error) => Some(error.code),
            _ => None,
        })
        .collect()
}

/// The counts of the `online` frames among `frames`, in order.
pub fn online_counts(frames: &[ServerFrame]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Online { count } => Some(*count),
            _ => None,
        })
        .collect()
}

pub fn matched(frames: &[ServerFrame]) -> Option<quicktalk_core::protocol::Matched> {
    frames.iter().find_map(|frame| match frame {
        ServerFrame::Matched(matched) => Some(matched.clone()),
        _ => None,
    })
}

pub fn resumed(frames: &[ServerFrame]) -> Option<quicktalk_core::protocol::Resumed> {
    frames.iter().find_map(|frame| match frame {
        ServerFrame::Resumed(resumed) => Some(resumed.clone()),
        _ => None,
    })
}
