//! `greenroom serve`: the same UI and API as the desktop app, over HTTP, for a browser.
//!
//! Routes:
//! - `POST /api/call` — body: a [`greenroom_api::Request`] (`{"command": …, "args": {…}}`);
//!   answers 200 with the command's result, or the [`greenroom_api::ApiError`] JSON with the
//!   status of its code (400 / 404 / 503 / 500). A body that does not decode is a 400
//!   `invalid_input` naming what is wrong.
//! - `GET /api/events` — a WebSocket; every [`greenroom_api::EventEnvelope`] as a JSON text
//!   frame, in order. A slow client that falls behind skips events (it sees a gap in `seq`).
//! - `GET /api/health` — `{"ok": true, "version": …}`.
//! - anything else — the built UI (`ui/dist`), with `index.html` for unknown paths.
//!
//! Security: the server binds 127.0.0.1 unless told otherwise. While it is bound to a
//! loopback address it answers only requests whose `Host` is a loopback name for its port
//! (a web page cannot reach it by DNS rebinding), and `/api` refuses requests whose
//! `Origin`, when present, is not the server's own (another site cannot drive it from the
//! user's browser). Nothing here ever logs a request body (settings carry secrets).

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenroom_api::{Api, ApiError, EventEnvelope, EventSink, Request};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events a WebSocket client may fall behind before it skips some.
const EVENT_BUFFER: usize = 1024;

/// The sink the server's [`Api`] emits into; WebSocket clients subscribe to it.
#[derive(Clone)]
pub struct BroadcastSink {
    sender: broadcast::Sender<EventEnvelope>,
}

impl Default for BroadcastSink {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

impl BroadcastSink {
    pub fn subscribe(&self) -> broadcast::Receiver<EventEnvelope> {
        self.sender.subscribe()
    }
}

impl EventSink<EventEnvelope> for BroadcastSink {
    fn emit(&self, event: EventEnvelope) {
        // No subscriber is not an error: nobody is looking.
        let _ = self.sender.send(event);
    }
}

#[derive(Clone)]
struct AppState {
    api: Arc<Api>,
    events: BroadcastSink,
    local_addr: SocketAddr,
    /// When set, `/api/*` requires `Authorization: Bearer <token>` (control servers).
    token: Option<Arc<str>>,
}

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../ui/dist"]
#[allow_missing = true]
struct UiAssets;

/// A bound server, not yet serving; [`BoundServer::local_addr`] is known (for `--port 0`).
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    router: Router,
    local_addr: SocketAddr,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "{0} is already in use by another program; choose another port with --port (or --port 0 for any free one)"
    )]
    InUse(SocketAddr),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot read the bound address: {0}")]
    Address(String),
}

impl greenroom_core::Classified for BindError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        match self {
            BindError::InUse(_) | BindError::Listen { .. } => {
                greenroom_core::ErrorKind::Unavailable
            }
            BindError::Address(_) => greenroom_core::ErrorKind::Internal,
        }
    }
}

pub async fn bind(
    api: Arc<Api>,
    events: BroadcastSink,
    addr: SocketAddr,
) -> Result<BoundServer, BindError> {
    bind_with_token(api, events, addr, None).await
}

/// Like [`bind`], but `/api/*` answers only requests carrying `Authorization: Bearer
/// <token>`: the control endpoint through which another `greenroom` command drives the
/// process that supervises a stack.
pub async fn bind_with_token(
    api: Arc<Api>,
    events: BroadcastSink,
    addr: SocketAddr,
    token: Option<String>,
) -> Result<BoundServer, BindError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            BindError::InUse(addr)
        } else {
            BindError::Listen {
                addr,
                reason: e.to_string(),
            }
        }
    })?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| BindError::Address(e.to_string()))?;
    let state = AppState {
        api,
        events,
        local_addr,
        token: token.map(Into::into),
    };
    let router = Router::new()
        .route("/api/call", post(call))
        .route("/api/events", get(events_socket))
        .route("/api/health", get(health))
        .fallback(get(static_asset))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard_host_and_origin,
        ))
        .with_state(state);
    Ok(BoundServer {
        listener,
        router,
        local_addr,
    })
}

impl BoundServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Whether `host` (a `Host` header value) names this loopback server.
fn is_own_loopback_host(host: &str, port: u16) -> bool {
    let allowed = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

async fn guard_host_and_origin(
    State(state): State<AppState>,
    request: HttpRequest,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if state.local_addr.ip().is_loopback() && !is_own_loopback_host(host, state.local_addr.port()) {
        return refuse(format!(
            "this Greenroom server only answers requests addressed to 127.0.0.1:{0} or localhost:{0}",
            state.local_addr.port()
        ));
    }
    if let Some(token) = &state.token
        && request.uri().path().starts_with("/api/")
    {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        if given != Some(token.as_ref()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(ApiError::invalid_input(
                    "this control endpoint needs its token; it is in the stack's supervisor.json",
                )),
            )
                .into_response();
        }
    }
    if request.uri().path().starts_with("/api/")
        && let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
    {
        let own = format!("http://{host}");
        if !origin.eq_ignore_ascii_case(&own) {
            return refuse(format!(
                "requests from {origin} are not allowed; open the UI at {own}/"
            ));
        }
    }
    next.run(request).await
}

fn refuse(message: String) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(ApiError::invalid_input(message)),
    )
        .into_response()
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}

async fn call(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let err = ApiError::invalid_input(format!(
                "the request body is not a Greenroom command ({e}); send {{\"command\": \"<name>\", \"args\": {{…}}}}"
            ));
            return (StatusCode::BAD_REQUEST, Json(err)).into_response();
        }
    };
    match state.api.dispatch(request).await {
        Ok(value) => Json(value).into_response(),
        Err(err) => {
            let status = StatusCode::from_u16(err.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(err)).into_response()
        }
    }
}

async fn events_socket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let receiver = state.events.subscribe();
    upgrade.on_upgrade(move |socket| forward_events(socket, receiver))
}

async fn forward_events(mut socket: WebSocket, mut receiver: broadcast::Receiver<EventEnvelope>) {
    loop {
        tokio::select! {
            event = receiver.recv() => match event {
                Ok(envelope) => {
                    let Ok(text) = serde_json::to_string(&envelope) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "a WebSocket client fell behind; it skips events");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn static_asset(uri: Uri, headers: HeaderMap) -> Response {
    let _ = headers;
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let (asset, served_path) = match UiAssets::get(path) {
        Some(a) => (a, path),
        // Unknown paths without an extension are UI routes: serve the app.
        None if !path.rsplit('/').next().unwrap_or("").contains('.') => {
            match UiAssets::get("index.html") {
                Some(a) => (a, "index.html"),
                None => return ui_not_built(),
            }
        }
        None => {
            return (
                StatusCode::NOT_FOUND,
                format!("{path} is not part of the Greenroom UI"),
            )
                .into_response();
        }
    };
    let mime = mime_guess::from_path(served_path).first_or_octet_stream();
    let cache = if served_path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    (
        [
            (header::CONTENT_TYPE, mime.as_ref().to_owned()),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        asset.data.into_owned(),
    )
        .into_response()
}

fn ui_not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The Greenroom UI is not built into this binary. Run `npm --prefix ui ci && npm --prefix ui run build`, then rebuild greenroom (scripts/run does both).",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_host_check() {
        assert!(is_own_loopback_host("127.0.0.1:7870", 7870));
        assert!(is_own_loopback_host("LOCALHOST:7870", 7870));
        assert!(is_own_loopback_host("[::1]:7870", 7870));
        assert!(!is_own_loopback_host("127.0.0.1:7871", 7870));
        assert!(!is_own_loopback_host("evil.example:7870", 7870));
        assert!(!is_own_loopback_host("", 7870));
    }
}
