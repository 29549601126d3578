//! The admin API under `/api/admin/`: reports with their chat context,
//! moderation flags, bans and room history, behind a bearer token.
//!
//! Absent (404) when no admin token is configured; 401 without the right
//! `Authorization: Bearer <token>`.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quicktalk_core::{ClientKey, RoomId};
use serde::Deserialize;
use serde_json::json;

use crate::state::AppState;

/// Compares without an early exit, so the token cannot be guessed byte by
/// byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: 404 without a configured token, 401 without the right one.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.inner.admin_token else {
        // No API at all: the 404 any unknown path gets, not cached either.
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")]).into_response();
    };
    // The scheme's name is case-insensitive (RFC 9110): `bearer` too.
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, given)| given.trim_start());
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => {
            // Chat lines and client keys: never kept by a cache on the way.
            let mut response = next.run(request).await;
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [
                (header::WWW_AUTHENTICATE, "Bearer"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Json(json!({"error": "missing or wrong admin token"})),
        )
            .into_response(),
    }
}

/// An admin path that is not one of the API's.
pub(crate) async fn not_found() -> Response {
    unreadable(StatusCode::NOT_FOUND, "no such admin endpoint".into())
}

/// A known admin path with a method it does not take.
pub(crate) async fn method_not_allowed() -> Response {
    unreadable(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this admin endpoint".into(),
    )
}

/// A request the API cannot read (a bad `?limit=`, a body that is not the
/// JSON asked for): the extractor's status and text, as JSON like every
/// other admin answer.
fn unreadable(status: StatusCode, text: String) -> Response {
    (status, Json(json!({"error": text}))).into_response()
}

/// Now, in the store's unix milliseconds.
fn now_ms() -> i64 {
    quicktalk_core::ports::chat_store::unix_ms(std::time::SystemTime::now())
}

fn store_error(error: quicktalk_core::Error) -> Response {
    tracing::error!(%error, "admin API: store failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": error.to_string()})),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// `?limit=` for list endpoints (default 50, 1 to 1000); a value that is
/// not a number or out of that range gets a JSON 400.
pub(crate) struct Limit(usize);

impl<S: Send + Sync> FromRequestParts<S> for Limit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Query(query) = Query::<LimitQuery>::from_request_parts(parts, state)
            .await
            .map_err(|rejection: QueryRejection| {
                unreadable(rejection.status(), rejection.body_text())
            })?;
        match query.limit.unwrap_or(50) {
            limit @ 1..=1000 => Ok(Self(limit)),
            other => Err(unreadable(
                StatusCode::BAD_REQUEST,
                format!("limit must be 1 to 1000, got {other}"),
            )),
        }
    }
}

/// `GET /api/admin/reports`: newest first, each with its chat context.
pub(crate) async fn reports(State(state): State<AppState>, Limit(limit): Limit) -> Response {
    match state.inner.engine.store().reports(limit).await {
        Ok(reports) => Json(reports).into_response(),
        Err(error) => store_error(error),
    }
}

/// `GET /api/admin/flags`: moderation flags, newest first.
pub(crate) async fn flags(State(state): State<AppState>, Limit(limit): Limit) -> Response {
    match state.inner.engine.store().flags(limit).await {
        Ok(flags) => Json(flags).into_response(),
        Err(error) => store_error(error),
    }
}

fn not_a_room() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "not a room id"})),
    )
        .into_response()
}

/// `GET /api/admin/rooms/{room}`: a room's stored lines.
pub(crate) async fn room_history(
    State(state): State<AppState>,
    Path(room): Path<String>,
) -> Response {
    let Ok(room) = room.parse::<RoomId>() else {
        return not_a_room();
    };
    match state.inner.engine.store().room_history(room).await {
        Ok(lines) => Json(lines).into_response(),
        Err(error) => store_error(error),
    }
}

/// `GET /api/admin/rooms/{room}/events`: when the room was matched (who,
/// on which interests) and how it ended.
pub(crate) async fn room_events(
    State(state): State<AppState>,
    Path(room): Path<String>,
) -> Response {
    let Ok(room) = room.parse::<RoomId>() else {
        return not_a_room();
    };
    match state.inner.engine.store().room_events(room).await {
        Ok(events) => Json(events).into_response(),
        Err(error) => store_error(error),
    }
}

/// `GET /api/admin/bans`: the bans in force (expired ones are left out).
pub(crate) async fn bans(State(state): State<AppState>) -> Response {
    let now = now_ms();
    match state.inner.engine.store().bans().await {
        Ok(mut bans) => {
            bans.retain(|ban| ban.until.is_none_or(|until| until > now));
            Json(bans).into_response()
        }
        Err(error) => store_error(error),
    }
}

/// The longest ban reason (it is shown to the banned client).
const MAX_BAN_REASON_CHARS: usize = 500;
/// The longest timed ban: ten years (longer is permanent: leave it out).
const MAX_BAN_SECS: u64 = 10 * 365 * 24 * 3600;

/// Body of `POST /api/admin/bans`.
#[derive(Debug, Deserialize)]
pub(crate) struct NewBan {
    client_key: String,
    reason: String,
    /// Seconds; absent = permanent.
    duration_s: Option<u64>,
}

/// `POST /api/admin/bans`: bans a client key and removes its live sessions.
pub(crate) async fn add_ban(
    State(state): State<AppState>,
    ban: Result<Json<NewBan>, JsonRejection>,
) -> Response {
    let ban = match ban {
        Ok(Json(ban)) => ban,
        Err(rejection) => return unreadable(rejection.status(), rejection.body_text()),
    };
    let refused =
        |text: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": text}))).into_response();
    if ban.client_key.is_empty() || ban.reason.trim().is_empty() {
        return refused("client_key and reason are required");
    }
    // This server's keys are 32 hex digits (an HMAC of the address): a typo
    // would ban nobody and look done.
    if !crate::client_ip::IpHasher::is_client_key(&ban.client_key) {
        return refused("client_key must be a key as the admin API shows it (32 hex digits)");
    }
    if ban.reason.chars().count() > MAX_BAN_REASON_CHARS {
        return refused("reason must be at most 500 characters");
    }
    match ban.duration_s {
        // A ban over before it began; leave `duration_s` out for a
        // permanent one.
        Some(0) => {
            return refused("duration_s must be at least 1 (leave it out for a permanent ban)");
        }
        Some(seconds) if seconds > MAX_BAN_SECS => {
            return refused(
                "duration_s must be at most 315360000 (10 years; leave it out for a permanent ban)",
            );
        }
        _ => {}
    }
    let ban = NewBan {
        client_key: ban.client_key.to_ascii_lowercase(),
        ..ban
    };
    let key_text = ban.client_key.clone();
    let key = ClientKey::new(ban.client_key);
    let duration = ban.duration_s.map(Duration::from_secs);
    let removed = match state.inner.engine.ban(&key, &ban.reason, duration).await {
        Ok(removed) => removed,
        Err(error) => return store_error(error),
    };
    // In a cluster the key may have sessions on other nodes (and each node
    // may have its own store): the ban goes out on the control topic, as
    // the moderation worker's do, and every node carries it out.
    let mut published = None;
    if let Some(control) = &state.inner.control {
        let now = now_ms();
        let event = quicktalk_kafka::ControlEvent::Ban {
            client_key: key,
            reason: ban.reason,
            until: duration
                .map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        };
        published = Some(match control.publish(&event).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "the ban could not be published to the other nodes");
                false
            }
        });
    }
    tracing::info!(client_key = %key_text, duration_s = ?duration.map(|d| d.as_secs()), removed, "admin: client key banned");
    let mut body = json!({"removed_sessions": removed});
    if let Some(published) = published {
        // Whether the other nodes were told (false: ban again to retry).
        body["published"] = json!(published);
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `DELETE /api/admin/bans/{client_key}`.
pub(crate) async fn remove_ban(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let key = ClientKey::new(key.to_ascii_lowercase());
    // An expired ban is removed too, but it was no ban: 404 like a key with
    // none (the list already leaves it out).
    let now = now_ms();
    let in_force = match state.inner.engine.store().ban(&key).await {
        Ok(ban) => ban.is_some_and(|ban| ban.until.is_none_or(|until| until > now)),
        Err(error) => return store_error(error),
    };
    match state
        .inner
        .engine
        .unban(&key)
        .await
        .map(|removed| removed && in_force)
    {
        Ok(true) => {
            tracing::info!(client_key = %key, "admin: ban lifted");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no ban for this client key"})),
        )
            .into_response(),
        Err(error) => store_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same(b"secret-token-123", b"secret-token-123"));
        assert!(!same(b"secret-token-123", b"secret-token-124"));
        assert!(!same(b"secret", b"secret-token-123"));
    }
}
