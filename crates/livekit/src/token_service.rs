//! The Eloquence token API, as the Flutter app calls it.
//!
//! - `POST /token`, `POST /api/token`, `POST /generate-token` — body:
//!   `{"room" | "room_name": str, "identity" | "participant_name": str, "name"?: str,
//!   "grants"?: {"canPublish"?, "canSubscribe"?, "canPublishData"?, "roomAdmin"?, "hidden"?},
//!   "metadata"?: str | object, "ttl_seconds"?: int}` → `200 {"token": str, "url": str}`;
//!   a bad body → `400 {"error": str}` saying what is missing.
//! - `GET /health` → `200 {"status": "healthy", "service": "livekit-token-service"}`.
//!
//! Binds 127.0.0.1 unless told otherwise. The API secret never leaves the process.
//!
//! What a caller may get (a web page can reach a local service through DNS rebinding, and a
//! hidden admin token would let it listen to a coaching session unseen):
//! - The `Host` must be a loopback name or an IP literal on the service's port (phones and
//!   emulators reach it by address, such as `10.0.2.2`), or one of
//!   [`TokenServiceConfig::allowed_hosts`] ([`greenroom_core::host`]); otherwise `403`.
//! - `roomAdmin` and `hidden` grants are refused (`403`, saying how to allow them) unless
//!   [`TokenServiceConfig::allow_privileged_grants`] is on.
//! - `ttl_seconds` is clamped to 60 s ..= [`TokenServiceConfig::max_ttl_seconds`].

use crate::token::{TokenRequest, VideoGrants, mint};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Clone)]
pub struct TokenServiceConfig {
    pub api_key: String,
    pub api_secret: String,
    /// What clients should connect to (returned as `url`).
    pub livekit_url: String,
    pub default_ttl_seconds: u64,
    /// The longest lifetime a token may get; longer requests are shortened to it.
    pub max_ttl_seconds: u64,
    /// Whether `roomAdmin` and `hidden` grants may be asked for (off by default).
    pub allow_privileged_grants: bool,
    /// `Host` names answered beside loopback names and IP literals.
    pub allowed_hosts: Vec<String>,
}

impl TokenServiceConfig {
    /// A service with the safe defaults: 6 h tokens at most, no admin or hidden grants.
    pub fn new(api_key: String, api_secret: String, livekit_url: String) -> Self {
        Self {
            api_key,
            api_secret,
            livekit_url,
            default_ttl_seconds: 6 * 3600,
            max_ttl_seconds: 6 * 3600,
            allow_privileged_grants: false,
            allowed_hosts: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TokenServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServiceConfig")
            .field("api_key", &self.api_key)
            .field("api_secret", &"••••••")
            .field("livekit_url", &self.livekit_url)
            .field("max_ttl_seconds", &self.max_ttl_seconds)
            .field("allow_privileged_grants", &self.allow_privileged_grants)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    #[serde(alias = "room_name")]
    room: Option<String>,
    #[serde(alias = "participant_name")]
    identity: Option<String>,
    name: Option<String>,
    #[serde(default)]
    grants: Option<GrantsBody>,
    metadata: Option<serde_json::Value>,
    ttl_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantsBody {
    #[serde(alias = "can_publish")]
    can_publish: Option<bool>,
    #[serde(alias = "can_subscribe")]
    can_subscribe: Option<bool>,
    #[serde(alias = "can_publish_data")]
    can_publish_data: Option<bool>,
    #[serde(default, alias = "room_admin")]
    room_admin: bool,
    #[serde(default)]
    hidden: bool,
}

/// The service's routes; `port` is the one it listens on (for the `Host` check).
pub fn router(config: TokenServiceConfig, port: u16) -> Router {
    let state = Arc::new(config);
    Router::new()
        .route("/health", get(health))
        .route("/token", post(token))
        .route("/api/token", post(token))
        .route("/generate-token", post(token))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), port),
            guard_host,
        ))
        .with_state(state)
}

async fn guard_host(
    State((config, port)): State<(Arc<TokenServiceConfig>, u16)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !greenroom_core::host::is_allowed(host, port, true, &config.allowed_hosts) {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": format!(
                "this token service does not answer requests addressed to {host:?}; call it at 127.0.0.1:{port} or by IP address, or add the name to TOKEN_SERVICE_ALLOWED_HOSTS"
            )})),
        )
            .into_response();
    }
    next.run(request).await
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "healthy", "service": "livekit-token-service"}))
}

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message.into()})),
    )
        .into_response()
}

async fn token(State(config): State<Arc<TokenServiceConfig>>, body: axum::body::Bytes) -> Response {
    let body: TokenBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad(format!(
                "the body is not the expected JSON ({e}); send {{\"room\": …, \"identity\": …}}"
            ));
        }
    };
    let Some(room) = body.room.filter(|r| !r.trim().is_empty()) else {
        return bad("`room` (or `room_name`) is required");
    };
    let Some(identity) = body.identity.filter(|i| !i.trim().is_empty()) else {
        return bad("`identity` (or `participant_name`) is required");
    };
    let g = body.grants.unwrap_or_default();
    if (g.room_admin || g.hidden) && !config.allow_privileged_grants {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": "roomAdmin and hidden grants are off in this token service; set TOKEN_SERVICE_ALLOW_PRIVILEGED_GRANTS=true in its environment (the stack's manifest) to allow them"})),
        )
            .into_response();
    }
    let grants = VideoGrants {
        can_publish: Some(g.can_publish.unwrap_or(true)),
        can_subscribe: Some(g.can_subscribe.unwrap_or(true)),
        can_publish_data: Some(g.can_publish_data.unwrap_or(true)),
        room_admin: g.room_admin,
        hidden: g.hidden,
        ..VideoGrants::participant(&room)
    };
    let metadata = body.metadata.map(|m| match m {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    let ttl = body
        .ttl_seconds
        .unwrap_or(config.default_ttl_seconds)
        .clamp(60, config.max_ttl_seconds.max(60));
    match mint(&TokenRequest {
        api_key: &config.api_key,
        api_secret: &config.api_secret,
        identity: &identity,
        name: body.name.as_deref(),
        metadata: metadata.as_deref(),
        grants,
        ttl_seconds: ttl,
        room_config: None,
    }) {
        Ok(token) => {
            Json(serde_json::json!({"token": token, "url": config.livekit_url})).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: TokenServiceConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    axum::serve(listener, router(config, port))
        .with_graceful_shutdown(shutdown)
        .await
}
