//! The page and the operations endpoints: `/`, `/api/stats`, `/livez`,
//! `/readyz`, `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// The bundled web page, compiled into the binary.
const INDEX_HTML: &str = include_str!("../assets/index.html");

/// `GET /`.
pub(crate) async fn index() -> Response {
    let mut response = Html(INDEX_HTML).into_response();
    let headers = response.headers_mut();
    // The page needs nothing from elsewhere: scripts and styles are inline,
    // the socket is same-origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Every answer (the page, JSON, metrics, errors): a browser takes the
/// type it is given and never guesses one from the body.
pub(crate) async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /api/stats`.
pub(crate) async fn stats(State(state): State<AppState>) -> Json<serde_json::Value> {
    let stats = state.inner.engine.stats();
    Json(json!({
        // The figure the page shows: every node of a cluster.
        "online": stats.online_everywhere,
        "node_online": stats.online,
        "waiting": stats.waiting,
        "rooms": stats.rooms,
        "uptime_s": state.inner.started.elapsed().as_secs(),
    }))
}

/// `GET /livez`: the process answers.
pub(crate) async fn livez() -> &'static str {
    "ok"
}

/// `GET /readyz`: 503 while the store is down or its writer overflows.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let health = state.inner.engine.health().await;
    let body = Json(json!({
        "ready": health.ready,
        "store_error": health.store_error,
        "store_overflowed": health.store_overflowed,
        "store_failed": health.store_failed,
        "bus_overflowed": health.bus_overflowed,
        "bus_error": health.bus_error,
        "shutting_down": state.inner.shutdown.is_cancelled(),
    }));
    let ready = health.ready && !state.inner.shutdown.is_cancelled();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.inner.engine.stats();
    metrics::gauge!("quicktalk_online").set(stats.online as f64);
    metrics::gauge!("quicktalk_waiting").set(stats.waiting as f64);
    metrics::gauge!("quicktalk_rooms").set(stats.rooms as f64);
    metrics::gauge!("quicktalk_sessions").set(stats.sessions as f64);
    metrics::gauge!("quicktalk_replay_lines").set(stats.replay_lines as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.inner.metrics.render(),
    )
        .into_response()
}
