//! **Transport-agnostic engine** for anonymous, random one-to-one chat.
//!
//! # Overview
//! `quicktalk-core` is the heart of QuickTalk: it matches strangers (by
//! language and shared interests, with a random fallback), runs their rooms
//! (gap-free `seq`, echo-as-ack with `cid`, typing, replay and `resume`
//! after a dropped connection, idle timeouts, rate limits), and speaks the
//! QuickTalk wire protocol as Rust types. It does no I/O of its own: a
//! transport (the reference WebSocket server, a TCP example, a test, a bot)
//! calls [`Engine::connect`] for each connection and relays frames.
//!
//! The engine reaches the outside world through three ports:
//! - [`ports::Moderator`] judges each line before delivery (synchronous,
//!   microseconds);
//! - [`ports::ChatStore`] keeps lines, reports, bans and moderation flags,
//!   written off the hot path by a bounded batching writer;
//! - [`ports::EventBus`] publishes engine events to other processes.
//!
//! In-memory implementations of each live in [`memory`] (and
//! [`ports::NoopModerator`]); adapter crates provide SQLite, MongoDB, Kafka
//! and the Korean/English word filter.
//!
//! | module | what lives there |
//! |---|---|
//! | [`engine`] | [`Engine`], [`SessionHandle`], the state machine |
//! | [`matcher`] | the matching algorithm, usable on its own |
//! | [`protocol`] | client and server frames, error codes, close reasons |
//! | [`ports`] | the three traits and their record types |
//! | [`memory`] | in-memory store and bus |
//! | [`config`] | every window, limit and queue size |
//!
//! # Example
//! Two sessions find each other and chat:
//!
//! ```
//! use quicktalk_core::protocol::{JoinRequest, Sender, ServerFrame};
//! use quicktalk_core::{ClientKey, Engine, Event};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> quicktalk_core::Result<()> {
//! let engine = Engine::builder().build()?;
//! let (alice, mut alice_events) = engine.connect(ClientKey::from("alice-ip-hash")).await?;
//! let (bob, mut bob_events) = engine.connect(ClientKey::from("bob-ip-hash")).await?;
//!
//! let music = || JoinRequest { interests: vec!["music".into()], ..Default::default() };
//! alice.join(music());
//! bob.join(music());
//! alice.send("hi, stranger!", Some("c1"));
//!
//! // Bob's stream: hello, matched, then Alice's line.
//! let mut frames = Vec::new();
//! while let Some(Event::Frame(frame)) = bob_events.try_recv() {
//!     frames.push(frame);
//! }
//! assert!(matches!(frames[0], ServerFrame::Hello(_)));
//! let ServerFrame::Matched(matched) = &frames[1] else { panic!("not matched") };
//! assert_eq!(matched.common_interests, ["music"]);
//! let ServerFrame::Message(line) = &frames[2] else { panic!("no message") };
//! assert_eq!((line.seq, line.from, &*line.text), (1, Sender::Stranger, "hi, stranger!"));
//!
//! // Alice gets her own line back as the delivery ack, with her `cid`.
//! let echo = std::iter::from_fn(|| alice_events.try_recv())
//!     .find_map(|event| match event {
//!         Event::Frame(ServerFrame::Message(message)) => Some(message),
//!         _ => None,
//!     })
//!     .unwrap();
//! assert_eq!((echo.from, echo.cid.as_deref()), (Sender::You, Some("c1")));
//! # Ok(())
//! # }
//! ```
//!
//! # Examples in the repository
//! Complete programs built on this crate and on the protocol, each built and
//! tested in CI:
//! - [`examples/embed-axum`](https://github.com/quicktalk/quicktalk/tree/main/examples/embed-axum):
//!   the engine at a route of an existing Axum app, behind its login, with
//!   its own `ChatStore` (SQLite) and a custom [`ports::Moderator`].
//! - [`examples/tcp-chat`](https://github.com/quicktalk/quicktalk/tree/main/examples/tcp-chat):
//!   the engine over a line-based TCP protocol (`nc` is the client).
//! - [`examples/bot`](https://github.com/quicktalk/quicktalk/tree/main/examples/bot):
//!   a program that chats, using this crate's [`protocol`] types as a client
//!   and labelled to its partners (`join {bot: true}`).
//! - [`examples/cli-client`](https://github.com/quicktalk/quicktalk/tree/main/examples/cli-client):
//!   a terminal client with reconnect-and-resume, written from the protocol
//!   document alone.
//! - [`examples/react-client`](https://github.com/quicktalk/quicktalk/tree/main/examples/react-client):
//!   a React + TypeScript frontend with a typed protocol client.

pub mod cluster;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod error;
pub mod ids;
pub mod matcher;
pub mod memory;
pub mod outbox;
pub mod ports;
pub mod protocol;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::EngineConfig;
pub use engine::{Engine, EngineBuilder, Health, SessionHandle, Stats};
pub use error::{BoxError, Error, Result};
pub use ids::{ClientKey, ResumeToken, RoomId, SessionId};
pub use outbox::{Event, EventStream};

/// The attribute the port traits ([`ports::ChatStore`], [`ports::EventBus`])
/// are declared with; put it on an `impl` of them.
pub use async_trait::async_trait;
