//! Where the direct mode's three services are, and what their failures say.
//!
//! Why: "it doesn't answer" is useless to a coach; "the speech-to-text service at
//! http://127.0.0.1:8002/transcribe answered HTTP 500: model not loaded" says what to fix.
//!
//! Semantics:
//! - An [`Endpoints`] holds the three services' addresses, models and keys, and the
//!   per-stage timeouts. Keys are [`ApiKey`]s: their `Debug` prints `***`, they are never
//!   serialised, and the view ([`EndpointsView`]) only says whether one is set.
//! - Every failure of a service is a [`ServiceError`] naming the service, the URL it
//!   called, and what happened: not answering (connection refused, DNS), too slow (past
//!   its timeout), an HTTP status with the start of the body (credentials redacted), or an
//!   answer that does not have the expected shape. Each says what to do next.

use std::time::Duration;

use greenroom_core::{Classified, ErrorKind, redact_tokens};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Who serves a turn: the three services of the direct mode, or Marie's LiveKit agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Stt,
    Llm,
    Tts,
    /// Marie's agent in a LiveKit room (its own STT, LLM and TTS are out of sight).
    Agent,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Service::Stt => "speech-to-text service",
            Service::Llm => "conversation service",
            Service::Tts => "text-to-speech service",
            Service::Agent => "LiveKit agent",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A credential: never printed, never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// `None` for a blank key.
    pub fn new(key: impl Into<String>) -> Option<ApiKey> {
        let key = key.into();
        (!key.trim().is_empty()).then(|| ApiKey(key.trim().to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Which request shape a speech-to-text service takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SttShape {
    /// Eloquence's Vosk service: `POST /transcribe`, multipart field `audio`.
    Vosk,
    /// `POST /v1/audio/transcriptions`, multipart `file` and `model` (any Whisper server).
    OpenAi,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SttEndpoint {
    pub shape: SttShape,
    /// The full URL posted to (`…/transcribe` or `…/v1/audio/transcriptions`).
    pub url: String,
    pub api_key: Option<ApiKey>,
    pub model: String,
    /// A language hint (`fr`, `en`) for servers that take one.
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatEndpoint {
    /// The OpenAI-compatible base, ending in `/v1`.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub model: String,
    pub temperature: f32,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TtsEndpoint {
    /// The OpenAI-compatible base, ending in `/v1`.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub model: String,
}

/// How long each stage may take before the turn is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub stt: Duration,
    /// Until the first token.
    pub llm_first_token: Duration,
    /// Until the last token.
    pub llm_total: Duration,
    /// One sentence's clip, whole.
    pub tts: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            stt: Duration::from_secs(15),
            llm_first_token: Duration::from_secs(10),
            llm_total: Duration::from_secs(30),
            tts: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub stt: SttEndpoint,
    pub chat: ChatEndpoint,
    pub tts: TtsEndpoint,
    pub timeouts: Timeouts,
}

/// What the UI and reports show of one endpoint: never the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EndpointView {
    pub service: Service,
    pub url: String,
    pub model: String,
    pub key_set: bool,
    /// Where the address came from: `sandbox`, `stack`, `settings`, `command line`.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EndpointsView {
    pub stt: EndpointView,
    /// `vosk` or `open_ai`.
    pub stt_shape: SttShape,
    pub llm: EndpointView,
    pub tts: EndpointView,
}

impl Endpoints {
    /// The view, every address from `origin`.
    pub fn view(&self, origin: &str) -> EndpointsView {
        self.view_from([origin, origin, origin])
    }

    /// The view; `origins` says where each of STT, LLM and TTS came from.
    pub fn view_from(&self, origins: [&str; 3]) -> EndpointsView {
        let view =
            |service, url: &str, model: &str, key: &Option<ApiKey>, origin: &str| EndpointView {
                service,
                url: url.to_string(),
                model: model.to_string(),
                key_set: key.is_some(),
                origin: origin.to_string(),
            };
        EndpointsView {
            stt: view(
                Service::Stt,
                &self.stt.url,
                &self.stt.model,
                &self.stt.api_key,
                origins[0],
            ),
            stt_shape: self.stt.shape,
            llm: view(
                Service::Llm,
                &format!(
                    "{}/chat/completions",
                    self.chat.base_url.trim_end_matches('/')
                ),
                &self.chat.model,
                &self.chat.api_key,
                origins[1],
            ),
            tts: view(
                Service::Tts,
                &format!("{}/audio/speech", self.tts.base_url.trim_end_matches('/')),
                &self.tts.model,
                &self.tts.api_key,
                origins[2],
            ),
        }
    }
}

/// A service failed; see the module's documentation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "the {service} at {url} is not answering ({detail}); start it (Stack › Up, or `greenroom up`) or check its address in Settings"
    )]
    Down {
        service: Service,
        url: String,
        detail: String,
    },
    #[error(
        "the {service} at {url} took longer than {timeout_ms} ms{stage}; the turn was abandoned. It may be overloaded: check its log, or raise the timeout"
    )]
    Timeout {
        service: Service,
        url: String,
        timeout_ms: u64,
        /// e.g. " to send its first token"
        stage: String,
    },
    #[error("the {service} at {url} answered HTTP {status}: {body}{hint}")]
    Status {
        service: Service,
        url: String,
        status: u16,
        body: String,
        hint: String,
    },
    #[error(
        "the {service} at {url} answered something Greenroom cannot use: {detail}; is this the right address and shape?"
    )]
    BadAnswer {
        service: Service,
        url: String,
        detail: String,
    },
}

impl ServiceError {
    pub fn service(&self) -> Service {
        match self {
            ServiceError::Down { service, .. }
            | ServiceError::Timeout { service, .. }
            | ServiceError::Status { service, .. }
            | ServiceError::BadAnswer { service, .. } => *service,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            ServiceError::Down { url, .. }
            | ServiceError::Timeout { url, .. }
            | ServiceError::Status { url, .. }
            | ServiceError::BadAnswer { url, .. } => url,
        }
    }

    /// A short tag for reports and the UI: `down`, `timeout`, `http_500`, `bad_answer`.
    pub fn tag(&self) -> String {
        match self {
            ServiceError::Down { .. } => "down".into(),
            ServiceError::Timeout { .. } => "timeout".into(),
            ServiceError::Status { status, .. } => format!("http_{status}"),
            ServiceError::BadAnswer { .. } => "bad_answer".into(),
        }
    }

    pub(crate) fn status(service: Service, url: &str, status: u16, body: &str) -> Self {
        let hint = match status {
            401 | 403 => "; check the API key in Settings",
            404 => "; check the address (is the path right for this service?)",
            422 | 400 => "; the service refused the request's shape",
            500..=599 => "; look at the service's log",
            _ => "",
        };
        ServiceError::Status {
            service,
            url: url.to_string(),
            status,
            body: excerpt(body),
            hint: hint.to_string(),
        }
    }

    /// Classifies a reqwest failure.
    pub(crate) fn from_reqwest(
        service: Service,
        url: &str,
        e: &reqwest::Error,
        timeout: Duration,
    ) -> Self {
        if e.is_timeout() {
            ServiceError::Timeout {
                service,
                url: url.to_string(),
                timeout_ms: timeout.as_millis() as u64,
                stage: String::new(),
            }
        } else if e.is_connect()
            || e.is_request() && e.status().is_none() && !e.is_body() && !e.is_decode()
        {
            ServiceError::Down {
                service,
                url: url.to_string(),
                detail: root_cause(e),
            }
        } else if let Some(status) = e.status() {
            ServiceError::status(service, url, status.as_u16(), "")
        } else {
            ServiceError::BadAnswer {
                service,
                url: url.to_string(),
                detail: root_cause(e),
            }
        }
    }
}

impl Classified for ServiceError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Status { status, .. } if *status < 500 => ErrorKind::InvalidInput,
            _ => ErrorKind::Unavailable,
        }
    }
}

/// The innermost message of an error chain ("Connection refused (os error 111)").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    redact_tokens(&current.to_string())
}

/// At most 300 characters of a body, on one line, credentials redacted.
pub(crate) fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(300).collect();
    if one_line.chars().count() > 300 {
        out.push('…');
    }
    if out.is_empty() {
        out = "(no body)".into();
    }
    redact_tokens(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_print() {
        let key = ApiKey::new("sk-very-secret").unwrap();
        assert_eq!(format!("{key:?}"), "***");
        let e = Endpoints {
            stt: SttEndpoint {
                shape: SttShape::Vosk,
                url: "http://127.0.0.1:8002/transcribe".into(),
                api_key: Some(key.clone()),
                model: "vosk".into(),
                language: None,
            },
            chat: ChatEndpoint {
                base_url: "http://x/v1".into(),
                api_key: Some(key.clone()),
                model: "m".into(),
                temperature: 0.7,
                max_tokens: 150,
            },
            tts: TtsEndpoint {
                base_url: "http://y/v1/".into(),
                api_key: None,
                model: "tts-1".into(),
            },
            timeouts: Timeouts::default(),
        };
        assert!(!format!("{e:?}").contains("very-secret"));
        let view = serde_json::to_string(&e.view("settings")).unwrap();
        assert!(!view.contains("very-secret"));
        assert!(view.contains("http://y/v1/audio/speech"));
        assert!(ApiKey::new("  ").is_none());
    }

    #[test]
    fn errors_name_the_service_the_url_and_what_to_do() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTUyMzYxMzMsImlzcyI6ImRldmtleSJ9.42xnkov3FMypOl6fwpVOt4vsr9ZzdabcuWdr1_ychHw";
        let e = ServiceError::status(
            Service::Tts,
            "http://h/v1/audio/speech",
            401,
            &format!("bad key {jwt}"),
        );
        let text = e.to_string();
        assert!(
            text.contains("text-to-speech service at http://h/v1/audio/speech answered HTTP 401")
        );
        assert!(text.contains("API key") && !text.contains(jwt), "{text}");
        assert_eq!(e.tag(), "http_401");
        assert_eq!(excerpt(&"x".repeat(400)).chars().count(), 301);
    }
}
