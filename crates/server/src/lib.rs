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
//! Security (Jupyter's and Vite's model): every server has a token ([`Access`]), 256 bits
//! from the OS's random source, compared in constant time.
//! - `/api/*` but `/api/health` needs it, as `Authorization: Bearer <token>` (the CLI, with
//!   the token from an owner-only file) or as the cookie `greenroom-token-<port>` (the
//!   browser). Without it: 401 and where the token is.
//! - A UI page opened with `?token=<token>` sets that cookie (`HttpOnly`,
//!   `SameSite=Strict`) and redirects to the same address without the token. A UI page
//!   without the cookie says how to open it. Assets (scripts, styles) need no token.
//! - `Host` must name this server: a loopback name on its port, or, when bound off
//!   loopback, one of the machine's IP literals on its port, or an `--allowed-host`. A DNS
//!   rebinding page has neither.
//! - On `/api/*`, an `Origin` must be the server's own, `Sec-Fetch-Site` (when the browser
//!   sends it) must be `same-origin` or `none`, and `POST` bodies must be
//!   `application/json` (which no form can send).
//! - Every answer carries the desktop app's Content-Security-Policy, with
//!   `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`
//!   and `Referrer-Policy: no-referrer`.
//! - WebSocket messages from clients are capped at 64 KiB.
//!
//! The server binds 127.0.0.1 unless told otherwise. Nothing here ever logs a request body
//! (settings carry secrets) or a token.

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
    access: Arc<Access>,
}

/// Who may drive a server (module docs: "Security").
#[derive(Clone)]
pub struct Access {
    /// Required on `/api/*` (except `/api/health`) and on the UI's pages: as
    /// `Authorization: Bearer <token>`, or as the cookie the browser got for `?token=`.
    pub token: String,
    /// `Host` names the server answers beside its defaults (`--allowed-host`, as Vite's
    /// `server.allowedHosts`): `name` (any port), `name:port`, or `.domain` (the domain and
    /// its subdomains).
    pub allowed_hosts: Vec<String>,
    /// Where the token can be found, for the message of a refusal
    /// (`~/.local/share/greenroom/serve-{port}.json`): `{port}` becomes the bound port.
    pub token_location: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &"<secret>")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("token_location", &self.token_location)
            .finish()
    }
}

/// The Content-Security-Policy of every answer: the desktop app's (`tauri.conf.json`),
/// with `connect-src 'self'` (the API and its WebSocket) instead of Tauri's IPC.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The largest WebSocket message the server reads (clients send nothing but pings).
const MAX_WEBSOCKET_MESSAGE: usize = 64 * 1024;

/// The built UI (`ui/dist`), with the `ui` feature (on by default). The desktop app's
/// control endpoint needs no UI: it turns the feature off and embeds nothing.
#[cfg(feature = "ui")]
#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../ui/dist"]
#[allow_missing = true]
struct UiAssets;

#[cfg(not(feature = "ui"))]
struct UiAssets;

#[cfg(not(feature = "ui"))]
impl UiAssets {
    fn get(_path: &str) -> Option<rust_embed::EmbeddedFile> {
        None
    }
}

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
    #[error(
        "refusing to serve without a token of at least 32 characters: without it any program (or, off loopback, any machine) could drive Greenroom"
    )]
    WeakToken,
}

impl greenroom_core::Classified for BindError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        match self {
            BindError::InUse(_) | BindError::Listen { .. } => {
                greenroom_core::ErrorKind::Unavailable
            }
            BindError::Address(_) => greenroom_core::ErrorKind::Internal,
            BindError::WeakToken => greenroom_core::ErrorKind::InvalidInput,
        }
    }
}

/// Binds the server on `addr`; every request must pass `access` (module docs).
pub async fn bind(
    api: Arc<Api>,
    events: BroadcastSink,
    addr: SocketAddr,
    access: Access,
) -> Result<BoundServer, BindError> {
    if access.token.len() < 32 {
        return Err(BindError::WeakToken);
    }
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
    let access = Access {
        token_location: access
            .token_location
            .replace("{port}", &local_addr.port().to_string()),
        ..access
    };
    let state = AppState {
        api,
        events,
        local_addr,
        access: Arc::new(access),
    };
    let router = Router::new()
        .route("/api/call", post(call))
        .route("/api/events", get(events_socket))
        .route("/api/health", get(health))
        .fallback(get(static_asset))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn(security_headers))
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

/// Serves `api` on a loopback control endpoint (127.0.0.1, a free port, a fresh token) for
/// as long as the runtime runs, and makes it the endpoint that other `greenroom` commands
/// on the same stack drive ([`greenroom_api::control`]). For the fronts that supervise a
/// stack without serving the UI: `greenroom up` and the desktop app.
pub async fn start_control_endpoint(api: Arc<Api>) -> Result<SocketAddr, BindError> {
    let token = greenroom_core::token::new_token().map_err(|e| BindError::Listen {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        reason: e.to_string(),
    })?;
    let access = Access {
        token: token.clone(),
        allowed_hosts: Vec::new(),
        token_location: "the stack's supervisor.json".into(),
    };
    let server = bind(
        api.clone(),
        BroadcastSink::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        access,
    )
    .await?;
    let addr = server.local_addr();
    api.set_control_endpoint(format!("http://{addr}"), token);
    tokio::spawn(server.serve(std::future::pending()));
    Ok(addr)
}

/// Whether a request with this `Host` may reach a server bound to `bound`: loopback names
/// on its port; off loopback, also the machine's IP literals; and `allowed`
/// ([`greenroom_core::host`]).
pub fn host_is_allowed(host: &str, bound: SocketAddr, allowed: &[String]) -> bool {
    greenroom_core::host::is_allowed(host, bound.port(), !bound.ip().is_loopback(), allowed)
}

/// The name of the cookie that carries the token: per port, because browsers share
/// cookies between the ports of one host.
fn cookie_name(port: u16) -> String {
    format!("greenroom-token-{port}")
}

/// The token a request carries: `Authorization: Bearer …`, else the cookie.
fn presented_token(headers: &HeaderMap, port: u16) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    let name = cookie_name(port);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `token` parameter of a query string, and the query without it.
fn take_token_param(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(value) => {
                token = Some(value.to_owned());
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    (token, rest.join("&"))
}

/// Whether the page a request fetches is the UI itself (HTML), not one of its assets.
fn is_ui_page(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    last.is_empty() || last.ends_with(".html") || !last.contains('.')
}

async fn guard(State(state): State<AppState>, request: HttpRequest, next: Next) -> Response {
    let headers = request.headers();
    let port = state.local_addr.port();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_is_allowed(host, state.local_addr, &state.access.allowed_hosts) {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "this Greenroom server does not answer requests addressed to {host:?}; open it at 127.0.0.1:{port} or localhost:{port}, or start it with --allowed-host {}",
                greenroom_core::host::split(host).map_or_else(|| "<name>".to_owned(), |(n, _)| n)
            ),
        );
    }
    let path = request.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let token_ok = presented_token(headers, port)
        .is_some_and(|t| greenroom_core::token::tokens_match(&t, &state.access.token));
    if api {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let own = [format!("http://{host}"), format!("https://{host}")];
            if !own.iter().any(|o| origin.eq_ignore_ascii_case(o)) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "requests from {origin} are not allowed; open the UI at http://{host}/"
                    ),
                );
            }
        }
        // Browsers say where a request comes from; only the UI's own pages may call.
        if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok())
            && !matches!(site, "same-origin" | "none")
        {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("a {site} request cannot drive Greenroom; open the UI at http://{host}/"),
            );
        }
        if path != "/api/health" && !token_ok {
            return refuse(StatusCode::UNAUTHORIZED, needs_token(&state.access));
        }
        if request.method() == axum::http::Method::POST {
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .and_then(|c| c.split(';').next())
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
            if !json {
                return refuse(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send the command as JSON, with Content-Type: application/json".to_owned(),
                );
            }
        }
        return next.run(request).await;
    }
    // The UI: `?token=` is traded for a cookie, then the address is shown without it.
    let (param, rest) = take_token_param(request.uri().query().unwrap_or(""));
    if let Some(given) = param {
        if !greenroom_core::token::tokens_match(&given, &state.access.token) {
            return token_page(
                StatusCode::UNAUTHORIZED,
                &state.access,
                "This token is not the one this Greenroom server printed.",
            );
        }
        let location = if rest.is_empty() {
            path
        } else {
            format!("{path}?{rest}")
        };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            cookie_name(port),
            state.access.token
        );
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response();
    }
    if is_ui_page(&path) && !token_ok {
        return token_page(
            StatusCode::UNAUTHORIZED,
            &state.access,
            "This Greenroom server needs its token.",
        );
    }
    next.run(request).await
}

fn needs_token(access: &Access) -> String {
    format!(
        "this Greenroom server needs its token: open the address `greenroom serve` printed (it ends with ?token=…), or send Authorization: Bearer <token> with the token from {}",
        access.token_location
    )
}

/// The page a browser sees without the token: what to open instead.
fn token_page(status: StatusCode, access: &Access, headline: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Greenroom: token needed</title></head><body><h1>{}</h1><p>Open the address that <code>greenroom serve</code> printed when it started: it ends with <code>?token=…</code>. The token is also in <code>{}</code>, readable by you only.</p></body></html>",
        escape(headline),
        escape(&access.token_location)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Headers on every answer: no page may frame the UI (a click on Repair → Confirm), no
/// content is sniffed, no address with a token leaks as a referrer.
async fn security_headers(request: HttpRequest, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, Json(ApiError::invalid_input(message))).into_response()
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
    upgrade
        .max_message_size(MAX_WEBSOCKET_MESSAGE)
        .max_frame_size(MAX_WEBSOCKET_MESSAGE)
        .on_upgrade(move |socket| forward_events(socket, receiver))
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

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Issue 14.5: a binary built before the UI answered 404 with no word of why.
    #[tokio::test]
    async fn a_binary_without_the_ui_says_how_to_build_it() {
        let response = ui_not_built();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("npm --prefix ui run build") && text.contains("rebuild greenroom"),
            "{text}"
        );
    }

    #[test]
    fn loopback_host_check() {
        let none: &[String] = &[];
        assert!(host_is_allowed("127.0.0.1:7870", at(7870), none));
        assert!(host_is_allowed("LOCALHOST:7870", at(7870), none));
        assert!(host_is_allowed("[::1]:7870", at(7870), none));
        assert!(!host_is_allowed("127.0.0.1:7871", at(7870), none));
        assert!(!host_is_allowed("evil.example:7870", at(7870), none));
        assert!(!host_is_allowed("192.168.1.5:7870", at(7870), none));
        assert!(!host_is_allowed("", at(7870), none));
        assert!(!host_is_allowed("[::1", at(7870), none));
        assert!(!host_is_allowed("127.0.0.1:notaport", at(7870), none));
    }

    #[test]
    fn off_loopback_ip_literals_pass_and_names_need_the_allowlist() {
        let any = SocketAddr::from(([0, 0, 0, 0], 7870));
        let none: &[String] = &[];
        assert!(host_is_allowed("192.168.1.5:7870", any, none));
        assert!(host_is_allowed("[fe80::1]:7870", any, none));
        assert!(
            !host_is_allowed("rebind.attacker.example:7870", any, none),
            "a name is never allowed by default: it could be rebound"
        );
        let allowed = vec![
            "devbox.lan".to_owned(),
            ".corp.example".into(),
            "proxy:443".into(),
        ];
        assert!(host_is_allowed("devbox.lan:7870", any, &allowed));
        assert!(host_is_allowed("DevBox.LAN", any, &allowed));
        assert!(host_is_allowed("corp.example:7870", any, &allowed));
        assert!(host_is_allowed("a.b.corp.example", any, &allowed));
        assert!(!host_is_allowed("evilcorp.example", any, &allowed));
        assert!(host_is_allowed("proxy:443", any, &allowed));
        assert!(!host_is_allowed("proxy:8443", any, &allowed));
    }

    #[test]
    fn the_token_comes_from_bearer_or_this_ports_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers, 7870), None);
        headers.insert(
            header::COOKIE,
            "greenroom-token-7871=other; greenroom-token-7870=mine"
                .parse()
                .unwrap(),
        );
        assert_eq!(presented_token(&headers, 7870).as_deref(), Some("mine"));
        headers.insert(header::AUTHORIZATION, "Bearer header".parse().unwrap());
        assert_eq!(presented_token(&headers, 7870).as_deref(), Some("header"));
    }

    #[test]
    fn token_parameter_is_taken_out_of_the_query() {
        assert_eq!(take_token_param(""), (None, String::new()));
        assert_eq!(
            take_token_param("token=abc&view=stack"),
            (Some("abc".into()), "view=stack".into())
        );
        assert_eq!(take_token_param("a=1"), (None, "a=1".into()));
    }

    #[test]
    fn the_policy_is_the_apps_but_for_connect_src() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../../tauri.conf.json")).unwrap();
        let app = conf["app"]["security"]["csp"].as_object().unwrap();
        let ours: std::collections::BTreeMap<&str, &str> = CONTENT_SECURITY_POLICY
            .split("; ")
            .map(|d| d.split_once(' ').unwrap())
            .collect();
        for (directive, value) in app {
            if directive == "connect-src" {
                continue;
            }
            assert_eq!(
                ours.get(directive.as_str()).copied(),
                value.as_str(),
                "{directive} differs from tauri.conf.json"
            );
        }
        assert_eq!(ours.len(), app.len(), "the same directives");
        assert_eq!(ours["connect-src"], "'self'");
        assert_eq!(ours["frame-ancestors"], "'none'");
    }

    proptest::proptest! {
        #[test]
        fn host_parsing_never_panics(host in "\\PC{0,60}", port in 0u16..) {
            let _ = host_is_allowed(&host, at(port), std::slice::from_ref(&host));
        }
    }
}
