//! The offline coach behind the OpenAI chat API, as Mistral and the team's
//! `mistral-conversation` service serve it, so a talk session pointed here cannot tell the
//! difference (except that the answers come from [`crate::coach`]).
//!
//! - `POST /v1/chat/completions` (also `/chat/completions`) — body
//!   `{"model"?: str, "messages": [{"role", "content"}…], "temperature"?, "max_tokens"?
//!   (or "max_completion_tokens"), "seed"? (or Mistral's "random_seed"), "stream"?: bool,
//!   "stream_options"?: {"include_usage"?: bool}}`; anything else (`top_p`, `tools`, …) is
//!   accepted and ignored, and so is an `Authorization` header (no key is checked).
//!   - `stream` absent or false → `200` with a `chat.completion` object: `id`
//!     (`chatcmpl-…`), `object`, `created` (Unix seconds), `model` (the request's, else
//!     [`MODEL_ID`]), `choices[0].message {role: "assistant", content}`,
//!     `choices[0].finish_reason` (`"stop"`, or `"length"` when `max_tokens` cut the text),
//!     `usage {prompt_tokens, completion_tokens, total_tokens}`, plus a `greenroom` object
//!     `{character, exercise, phase}` that OpenAI clients ignore and tests read.
//!   - `stream: true` → `200 text/event-stream`: one `data: {chat.completion.chunk}` event
//!     with `delta: {role: "assistant", content: ""}`, then one event per word (the word
//!     with its leading space, so the deltas concatenate to exactly the non-streaming
//!     text for the same seed), then one with `delta: {}` and the finish reason, then (if
//!     `stream_options.include_usage`) one with `choices: []` and `usage`, then
//!     `data: [DONE]`. Every event is written to the socket as it is produced.
//!     [`ChatServerConfig::token_delay`] waits that long before each word event, to play a
//!     slow LLM; it is zero by default.
//!   - the reply is [`crate::coach::reply`] for the messages and the seed; without a seed
//!     the same conversation gets the same answer (the coach derives one from the
//!     messages). `temperature` changes nothing.
//!   - a body that is not JSON, not an object, has no `messages` (or an empty list), a
//!     message that is not `{role, content}`, or `max_tokens: 0` → `400` with
//!     `{"error": {"message", "type": "invalid_request_error", "param", "code"}}`.
//! - `GET /v1/models` (also `/models`) → the one model, [`MODEL_ID`].
//! - `GET /health` → `200 {"status": "healthy", "service": "greenroom-sandbox-chat",
//!   "model": MODEL_ID}`.
//! - anything else → `404` with the same error object.
//!
//! Token counts are rough (a token per four characters, at least one per non-empty
//! text, four more per message), as nothing here has a tokenizer. Binds whatever listener
//! it is given; the sandbox gives it 127.0.0.1.

use crate::coach::{self, Message, Reply};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenroom_core::{Classified, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The one model this server lists and answers as.
pub const MODEL_ID: &str = "greenroom-offline-coach";

/// The environment variable [`ChatServerConfig::from_env`] reads the pacing from, in
/// milliseconds per word.
pub const TOKEN_DELAY_ENV: &str = "GREENROOM_SANDBOX_CHAT_TOKEN_DELAY_MS";

#[derive(Debug, Clone, Default)]
pub struct ChatServerConfig {
    /// How long to wait before each streamed word (zero: as fast as the socket takes it).
    /// Non-streaming answers are never delayed.
    pub token_delay: Duration,
}

impl ChatServerConfig {
    /// The defaults, with `token_delay` from [`TOKEN_DELAY_ENV`] when it holds a whole
    /// number of milliseconds (anything else is ignored, with a warning).
    pub fn from_env() -> Self {
        let token_delay = match std::env::var(TOKEN_DELAY_ENV) {
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => {
                    tracing::warn!(
                        "{TOKEN_DELAY_ENV}={v:?} is not a number of milliseconds; not pacing"
                    );
                    Duration::ZERO
                }
            },
            Err(_) => Duration::ZERO,
        };
        Self { token_delay }
    }
}

/// Why a chat request was refused. All of them are the caller's to fix.
#[derive(Debug, thiserror::Error)]
pub enum ChatRequestError {
    #[error(
        "the body is not valid JSON ({0}); send {{\"model\": …, \"messages\": [{{\"role\": \"user\", \"content\": \"…\"}}]}}"
    )]
    InvalidJson(String),
    #[error("the body must be a JSON object with a `messages` array")]
    NotAnObject,
    #[error("`messages` is required: a list of {{\"role\", \"content\"}} objects")]
    MissingMessages,
    #[error("`messages` must not be empty")]
    EmptyMessages,
    #[error("the request does not have the chat completion shape: {0}")]
    InvalidField(String),
    #[error("`max_tokens` must be at least 1")]
    InvalidMaxTokens,
}

impl Classified for ChatRequestError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

impl ChatRequestError {
    /// The OpenAI-style `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::NotAnObject | Self::InvalidField(_) => "invalid_request_body",
            Self::MissingMessages | Self::EmptyMessages => "missing_messages",
            Self::InvalidMaxTokens => "invalid_max_tokens",
        }
    }

    /// The request field at fault, if one is.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            Self::MissingMessages | Self::EmptyMessages => Some("messages"),
            Self::InvalidMaxTokens => Some("max_tokens"),
            _ => None,
        }
    }
}

impl IntoResponse for ChatRequestError {
    fn into_response(self) -> Response {
        error_response(
            StatusCode::BAD_REQUEST,
            &self.to_string(),
            "invalid_request_error",
            self.param(),
            self.code(),
        )
    }
}

fn error_response(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: &str,
) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}})),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Vec<Message>,
    #[serde(alias = "max_completion_tokens")]
    max_tokens: Option<u64>,
    #[serde(alias = "random_seed")]
    seed: Option<u64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    #[allow(dead_code)] // Read so that a non-number is refused like OpenAI does.
    temperature: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

fn parse(body: &[u8]) -> Result<ChatRequest, ChatRequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ChatRequestError::InvalidJson(e.to_string()))?;
    let Value::Object(object) = &value else {
        return Err(ChatRequestError::NotAnObject);
    };
    match object.get("messages") {
        None | Some(Value::Null) => return Err(ChatRequestError::MissingMessages),
        Some(Value::Array(a)) if a.is_empty() => return Err(ChatRequestError::EmptyMessages),
        _ => {}
    }
    let request: ChatRequest =
        serde_json::from_value(value).map_err(|e| ChatRequestError::InvalidField(e.to_string()))?;
    if request.max_tokens == Some(0) {
        return Err(ChatRequestError::InvalidMaxTokens);
    }
    Ok(request)
}

/// The router alone (for embedding or tests); [`serve`] runs it.
pub fn router(config: ChatServerConfig) -> Router {
    let state = Arc::new(config);
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .route("/chat/completions", post(completions))
        .fallback(not_found)
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ChatServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            %addr,
            token_delay_ms = config.token_delay.as_millis() as u64,
            "sandbox chat: the offline coach answers as {MODEL_ID}"
        );
    }
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "healthy", "service": "greenroom-sandbox-chat", "model": MODEL_ID}))
}

async fn models() -> impl IntoResponse {
    Json(json!({
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "greenroom"}],
    }))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!(
            "no route {}; this server answers POST /v1/chat/completions",
            uri.path()
        ),
        "invalid_request_error",
        None,
        "not_found",
    )
}

/// A rough token count: one per four characters, at least one for non-empty text.
fn rough_tokens(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    chars.div_ceil(4)
}

/// The text in word-sized pieces, each but the first with its leading whitespace: they
/// concatenate back to `text` exactly.
fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !previous_space && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
        previous_space = space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// The pieces that fit in `max_tokens`, and whether some were cut.
fn limit(pieces: Vec<&str>, max_tokens: Option<u64>) -> (Vec<&str>, bool) {
    let Some(max) = max_tokens else {
        return (pieces, false);
    };
    let mut used = 0;
    let mut kept = Vec::new();
    for piece in &pieces {
        used += rough_tokens(piece);
        if used > max {
            break;
        }
        kept.push(*piece);
    }
    let cut = kept.len() < pieces.len();
    (kept, cut)
}

fn completion_id(seed: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = (nanos ^ seed.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n;
    format!("chatcmpl-{mix:016x}{n:08x}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn completions(
    State(config): State<Arc<ChatServerConfig>>,
    body: axum::body::Bytes,
) -> Response {
    let request = match parse(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let seed = request
        .seed
        .unwrap_or_else(|| coach::conversation_seed(&request.messages));
    let Reply {
        text,
        character,
        exercise,
        phase,
    } = coach::reply(&request.messages, Some(seed));
    let (pieces, cut) = limit(word_pieces(&text), request.max_tokens);
    let finish_reason = if cut { "length" } else { "stop" };
    let content: String = pieces.concat();
    let prompt_tokens: u64 = request
        .messages
        .iter()
        .map(|m| rough_tokens(&m.content) + 4)
        .sum();
    let completion_tokens = rough_tokens(&content);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let id = completion_id(seed);
    let created = unix_now();
    let model = request
        .model
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| MODEL_ID.to_string());
    tracing::debug!(
        ?character,
        ?exercise,
        ?phase,
        stream = request.stream,
        "coach reply"
    );

    if request.stream != Some(true) {
        return Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
            "usage": usage,
            "greenroom": {"character": character, "exercise": exercise, "phase": phase},
        }))
        .into_response();
    }

    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
        .to_string()
    };
    // (payload, wait before sending it)
    let mut events: Vec<(String, Duration)> = Vec::with_capacity(pieces.len() + 4);
    events.push((
        chunk(json!({"role": "assistant", "content": ""}), None),
        Duration::ZERO,
    ));
    for piece in &pieces {
        events.push((chunk(json!({"content": piece}), None), config.token_delay));
    }
    events.push((chunk(json!({}), Some(finish_reason)), Duration::ZERO));
    let include_usage = request
        .stream_options
        .unwrap_or_default()
        .include_usage
        .unwrap_or(false);
    if include_usage {
        let usage_chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        });
        events.push((usage_chunk.to_string(), Duration::ZERO));
    }
    events.push(("[DONE]".to_string(), Duration::ZERO));

    let stream = futures_util::stream::unfold(events.into_iter(), |mut events| async move {
        let (payload, wait) = events.next()?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Some((Ok::<_, Infallible>(Event::default().data(payload)), events))
    });
    Sse::new(stream).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_pieces_concatenate_back() {
        for text in [
            "Bonjour !  Je suis Marie.",
            "",
            " a",
            "« mot »,\nsuite",
            "un",
        ] {
            assert_eq!(word_pieces(text).concat(), text);
        }
        assert_eq!(
            word_pieces("Bonjour, je suis"),
            ["Bonjour,", " je", " suis"]
        );
    }

    #[test]
    fn max_tokens_cuts_at_a_word() {
        let (kept, cut) = limit(
            word_pieces("Bonjour et bienvenue pour cet entretien."),
            Some(4),
        );
        assert!(cut);
        assert_eq!(kept.concat(), "Bonjour et");
        let (_, cut) = limit(word_pieces("Bonjour"), Some(100));
        assert!(!cut);
    }

    #[test]
    fn bad_bodies_are_refused_with_a_code() {
        let code = |body: &str| parse(body.as_bytes()).err().map(|e| e.code());
        assert_eq!(code("{"), Some("invalid_json"));
        assert_eq!(code("[1]"), Some("invalid_request_body"));
        assert_eq!(code("{}"), Some("missing_messages"));
        assert_eq!(code(r#"{"messages": []}"#), Some("missing_messages"));
        assert_eq!(
            code(r#"{"messages": [{"content": "x"}]}"#),
            Some("invalid_request_body")
        );
        assert_eq!(code(r#"{"messages": "x"}"#), Some("invalid_request_body"));
        assert_eq!(
            code(r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#),
            Some("invalid_max_tokens")
        );
        assert_eq!(
            code(r#"{"messages": [{"role": "user", "content": "x"}]}"#),
            None
        );
    }
}
