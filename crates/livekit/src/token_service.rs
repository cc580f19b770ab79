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
}

impl std::fmt::Debug for TokenServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServiceConfig")
            .field("api_key", &self.api_key)
            .field("api_secret", &"••••••")
            .field("livekit_url", &self.livekit_url)
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

pub fn router(config: TokenServiceConfig) -> Router {
    let state = Arc::new(config);
    Router::new()
        .route("/health", get(health))
        .route("/token", post(token))
        .route("/api/token", post(token))
        .route("/generate-token", post(token))
        .with_state(state)
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
        .clamp(60, 24 * 3600);
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
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}
