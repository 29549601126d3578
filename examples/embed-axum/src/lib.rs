//! The QuickTalk engine inside an existing Axum app: mounted at a route the
//! app chooses (`/community/chat/ws`), only for the app's logged-in users,
//! with the app's own store (SQLite) and moderation rules.
//!
//! Copy what you need; every part is independent of the others.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Form, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use quicktalk_core::ports::moderator::{Category, Moderator, Verdict};
use quicktalk_core::protocol::{ErrorCode, ProtocolError};
use quicktalk_core::{ClientKey, Engine, Event};

/// Step 1: The app's own state: its sessions, and the chat engine beside them.
#[derive(Clone)]
pub struct App {
    /// Session token -> user name. A real app has a database here.
    sessions: Arc<Mutex<HashMap<String, String>>>,
    engine: Engine,
}

/// The logged-in user, put on the request by [`require_login`].
#[derive(Clone)]
struct User(String);

/// Step 2: The engine with the app's store and moderator. SQLite keeps lines,
/// reports and bans in the app's data file (`quicktalk-sqlite`); any
/// `ChatStore` works, e.g. `quicktalk_core::memory::MemoryChatStore`.
pub fn engine(db: &std::path::Path) -> Result<Engine, Box<dyn std::error::Error>> {
    let store = quicktalk_sqlite::SqliteChatStore::open(db)?;
    let engine = Engine::builder()
        .store(Arc::new(store))
        .moderator(Arc::new(StudyModerator::new()?))
        .build()?;
    Ok(engine)
}

/// Step 3: The app's routes; the chat is one nested router behind the login check.
pub fn router(engine: Engine) -> Router {
    let app = App {
        sessions: Arc::default(),
        engine,
    };
    let chat = Router::new()
        .route("/ws", get(chat_socket))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_login));
    Router::new()
        .route("/login", post(login))
        .nest("/community/chat", chat)
        .with_state(app)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    name: String,
}

/// The app's login (no password: it is a demo). Sets a session cookie, and
/// returns the token for clients that send `Authorization: Bearer`.
async fn login(State(app): State<App>, Form(form): Form<LoginForm>) -> Response {
    let token = hex::encode(rand::random::<[u8; 16]>());
    app.sessions.lock().insert(token.clone(), form.name);
    let cookie = format!("sid={token}; HttpOnly; SameSite=Strict; Path=/");
    ([(header::SET_COOKIE, cookie)], token).into_response()
}

/// Step 4: Authentication: a session cookie or a bearer token, else 401 before
/// any WebSocket upgrade happens.
async fn require_login(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("sid="));
    let user = bearer
        .or(cookie)
        .and_then(|token| app.sessions.lock().get(token).cloned());
    match user {
        Some(name) => {
            request.extensions_mut().insert(User(name));
            next.run(request).await
        }
        None => (StatusCode::UNAUTHORIZED, "log in first").into_response(),
    }
}

/// Step 5: The chat endpoint: one engine session per socket. The client key is
/// the account, so report blocks and bans follow the user, not the IP.
async fn chat_socket(
    State(app): State<App>,
    Extension(user): Extension<User>,
    ws: WebSocketUpgrade,
) -> Response {
    // The transport enforces the frame limit the engine announces in
    // `hello.limits` (axum's own default is 64 MiB); a bigger frame closes
    // the socket with 1009.
    let limit = app.engine.config().max_frame_bytes;
    ws.max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| {
            relay(
                app.engine,
                socket,
                ClientKey::new(format!("user:{}", user.0)),
            )
        })
}

/// Step 6: The relay every transport writes: socket text -> `handle_text`,
/// engine events -> socket. The engine does the protocol (hello, matching,
/// seq, echo-as-ack, rate limits, resume); this only moves frames.
async fn relay(engine: Engine, socket: WebSocket, key: ClientKey) {
    let (mut sink, mut stream) = socket.split();
    let (handle, mut events) = match engine.connect(key).await {
        Ok(session) => session,
        Err(error) => {
            // Banned, or the engine is full or stopping: say why, then close.
            let code = match error {
                quicktalk_core::Error::Banned { .. } => ErrorCode::Banned,
                quicktalk_core::Error::ShuttingDown => ErrorCode::ShuttingDown,
                _ => ErrorCode::ServerBusy,
            };
            let message = error.to_string();
            let frame = ProtocolError { code, message }.to_frame().to_json();
            let _ = sink.send(Message::Text(frame.into())).await;
            return;
        }
    };
    // The close the reader decided on (a client's broken frame), for the
    // writer to send once the engine's events are out.
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<CloseFrame>();
    let writer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let message = match event {
                Event::Frame(frame) => Message::Text(frame.to_json().into()),
                Event::Close(reason) => {
                    let frame = CloseFrame {
                        code: reason.code(),
                        reason: reason.message().into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        // The connection ended here (the handle was dropped below): the
        // reader's close code, if it chose one, else a normal close.
        let frame = close_rx.await.ok().unwrap_or(CloseFrame {
            code: 1000,
            reason: "".into(),
        });
        if sink.send(Message::Close(Some(frame))).await.is_err() {
            // The client closed first: the socket already queued the reply
            // RFC 6455 requires (and refuses a second close); a flush sends
            // it, so the client sees its own clean close, not 1006.
            let _ = sink.flush().await;
        }
    });
    let mut close_tx = Some(close_tx);
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => handle.handle_text(text.as_str()).await,
            // The protocol is JSON text; a binary frame gets an answer.
            Some(Ok(Message::Binary(_))) => handle.error(ProtocolError {
                code: ErrorCode::Unsupported,
                message: "binary frames are not supported; send JSON text frames".into(),
            }),
            Some(Ok(Message::Close(_))) | None => break,
            // Pings and pongs: the client is alive.
            Some(Ok(_)) => handle.touch(),
            // A frame over the limit, or broken framing: say so, then close
            // with the RFC 6455 code that names it.
            Some(Err(error)) => {
                let (code, reason) = match error.into_inner().downcast_ref::<tungstenite::Error>() {
                    Some(tungstenite::Error::Capacity(_)) => (1009, "frame too big"),
                    Some(tungstenite::Error::Utf8(_)) => (1007, "a text frame that is not UTF-8"),
                    Some(tungstenite::Error::Protocol(_)) => (1002, "WebSocket protocol error"),
                    _ => (1011, "read error"),
                };
                handle.error(ProtocolError {
                    code: ErrorCode::BadRequest,
                    message: format!("unreadable frame: {reason}"),
                });
                if let Some(close_tx) = close_tx.take() {
                    let _ = close_tx.send(CloseFrame {
                        code,
                        reason: reason.into(),
                    });
                }
                break;
            }
        }
    }
    // A normal end: the writer closes with 1000.
    drop(close_tx);
    // Dropping the handle keeps the session resumable for the grace period
    // and ends its event stream: the writer sends what is queued, closes,
    // and stops.
    drop(handle);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}

/// Step 7: The app's moderator: `quicktalk-nlp` with the app's own word list,
/// plus one rule of its own: links to the app's site are fine in chat.
pub struct StudyModerator {
    filter: quicktalk_nlp::Filter,
}

/// The app's words, in `quicktalk-nlp`'s lexicon format: selling exam
/// answers is spam here, whole words only.
const APP_WORDS: &str = "[spam high]\n|answer key|\n|leaked exam|\n|족보 팝니다|\n";

/// Links to this site are allowed (the filter blocks links as spam).
const OWN_SITE: &str = "https://study.example/";

impl StudyModerator {
    /// The built-in Korean/English lists plus [`APP_WORDS`].
    pub fn new() -> Result<Self, quicktalk_nlp::Error> {
        let filter = quicktalk_nlp::FilterBuilder::new()
            .lexicon("study-app", APP_WORDS)
            .build()?;
        Ok(Self { filter })
    }
}

impl Moderator for StudyModerator {
    fn check(&self, text: &str) -> Verdict {
        let verdict = Moderator::check(&self.filter, text);
        let links = || {
            text.split_whitespace()
                .filter(|word| word.contains("://") || word.starts_with("www."))
        };
        let only_own_links = links().next().is_some() && links().all(|l| l.starts_with(OWN_SITE));
        if verdict.category != Some(Category::Spam) || !only_own_links {
            return verdict;
        }
        // Judge the line again without our site's address. Blanking it with
        // as many spaces keeps every byte offset, so a masking verdict's
        // spans still fit the original text.
        let blanked = text.replace(OWN_SITE, &" ".repeat(OWN_SITE.len()));
        Moderator::check(&self.filter, &blanked)
    }
}

#[cfg(test)]
mod tests {
    use quicktalk_core::ports::moderator::Action;

    use super::*;

    fn action(moderator: &dyn Moderator, text: &str) -> Action {
        moderator.check(text).action
    }

    #[test]
    fn the_apps_words_are_blocked_where_the_builtin_lists_allow_them() {
        let app = StudyModerator::new().unwrap();
        let builtin = quicktalk_nlp::Filter::new();
        for text in [
            "selling the answer key for the final",
            "족보 팝니다 연락주세요",
        ] {
            assert_eq!(action(&builtin, text), Action::Allow, "{text}");
            assert_eq!(action(&app, text), Action::Block, "{text}");
        }
        // Whole words only.
        assert_eq!(action(&app, "the answer keys to success"), Action::Allow);
    }

    #[test]
    fn only_links_to_the_apps_site_get_through() {
        let app = StudyModerator::new().unwrap();
        assert_eq!(
            action(&app, "notes: https://study.example/notes/42"),
            Action::Allow
        );
        assert_eq!(action(&app, "see https://spam.example/win"), Action::Block);
        assert_eq!(
            action(&app, "https://study.example/a and https://spam.example/b"),
            Action::Block,
            "one foreign link is enough"
        );
        // Our link does not launder the rest of the line: masks keep their place.
        let text = "https://study.example/x 시1발";
        let verdict = app.check(text);
        assert_eq!(verdict.action, Action::Mask);
        assert_eq!(verdict.mask(text), "https://study.example/x ***");
    }
}
