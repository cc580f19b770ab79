//! Why signalling fails: one [`SignalError`] variant per failure, each with the sentence a
//! person reads and the [`ErrorKind`] a front acts on.
//!
//! Why it exists: callers (the CLI, the API, the stream tests) must not guess from a
//! message's words whether to ask for a new token, start the server, or report a bug.
//!
//! Exact semantics: the `Display` of each variant is the message, with the URL when there
//! is one and never the token (a server's reason is passed through `redact_tokens`).
//! Kinds: what the caller gave is wrong (the URL, a refused, forbidden or expired token,
//! any other 4xx) → `InvalidInput`; no `/rtc` endpoint at the URL → `NotFound`; no server,
//! a 5xx, a timeout, a closed connection, a server that sends us away, an ended session or
//! a resume that gave up → `Unavailable`; a server that does not speak LiveKit's protocol
//! as we expect → `Internal`.

use greenroom_core::{Classified, ErrorKind};
use std::time::Duration;

/// Why joining, resuming or sending failed, said for a person: what happened and what to
/// do. Every message names the URL when there is one, and never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// The URL is not `ws://`, `wss://`, `http://` or `https://`.
    #[error("{url:?} is not a LiveKit URL: it should look like ws://127.0.0.1:7880")]
    NotALiveKitUrl { url: String },
    /// A `wss://` (or `https://`) URL: TLS is not built in.
    #[error(
        "{url}: this build of Greenroom's participant speaks ws:// only (TLS is not built in yet); \
         use the local server's ws:// URL"
    )]
    TlsUnsupported { url: String },
    /// The URL does not make a WebSocket request.
    #[error("{url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The token cannot go into an `Authorization` header.
    #[error("the token contains characters a header cannot hold")]
    TokenNotAHeader,
    /// The token had expired before we tried (nothing was sent).
    #[error(
        "the token expired {ago_seconds} s ago: mint a fresh one (greenroom token --room … --identity …)"
    )]
    TokenExpired { ago_seconds: u64 },
    /// HTTP 401: the server refused the token (`detail`: its reason, or `401`).
    #[error(
        "{url} refused the token ({detail}): check LIVEKIT_API_KEY / LIVEKIT_API_SECRET, \
         or mint a fresh token"
    )]
    TokenRefused { url: String, detail: String },
    /// HTTP 403: the token is valid but does not let this participant join.
    #[error("{url} does not allow this participant to join: {detail}")]
    NotAllowed { url: String, detail: String },
    /// HTTP 404: no `/rtc` endpoint at the URL.
    #[error("{url} is not a LiveKit server (no /rtc endpoint there)")]
    NotLiveKit { url: String },
    /// Any other HTTP status in answer to the upgrade.
    #[error("{url} answered HTTP {status} to the join: {detail}")]
    HttpStatus {
        url: String,
        status: u16,
        detail: String,
    },
    /// Nothing listens at the URL (connection refused).
    #[error(
        "no LiveKit server answers at {url}: start the stack (greenroom up) or check LIVEKIT_URL"
    )]
    NoServer { url: String },
    /// The connection failed otherwise (DNS, TLS, I/O, protocol).
    #[error("joining through {url} failed: {reason}")]
    ConnectFailed { url: String, reason: String },
    /// No `JoinResponse` (or `ReconnectResponse`) within `within`.
    #[error(
        "{url} did not {step} within {} s: is the server overloaded or the URL wrong?",
        .within.as_secs_f32()
    )]
    Timeout {
        url: String,
        step: Step,
        within: Duration,
    },
    /// The server closed the socket before its first answer (with its close reason).
    #[error("{url} closed the connection before it would {step}{}", close_reason(.reason))]
    ClosedEarly {
        url: String,
        step: Step,
        reason: Option<String>,
    },
    /// The server answered with `LeaveRequest` (`reason`: LiveKit's `DisconnectReason`):
    /// it would not let us join, or forgot the session we tried to resume.
    #[error("{url} would not {step}: {reason}")]
    SentAway {
        url: String,
        step: Step,
        reason: String,
    },
    /// The first answer to a join was not a `JoinResponse`.
    #[error("{url} answered the join with something else")]
    UnexpectedAnswer { url: String },
    /// A server message that is not LiveKit's protobuf.
    #[error("the server sent a signalling message we cannot read ({0}): is it LiveKit?")]
    Unreadable(String),
    /// A request after the session ended.
    #[error("the signalling session has ended")]
    SessionEnded,
    /// Resuming gave up after `attempts` within the resume window (`last`: the last
    /// attempt's error, if there was an attempt).
    #[error(
        "{attempts} attempt(s) in {:.1} s, the last: {}",
        .window.as_secs_f32(),
        last_attempt(.last)
    )]
    ResumeFailed {
        attempts: u32,
        window: Duration,
        last: Option<Box<SignalError>>,
    },
}

/// What the signalling socket was opened for, as messages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A join: the server should answer with `JoinResponse`.
    Join,
    /// A resume: the server should answer with `ReconnectResponse`.
    Resume,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Join => "let us join",
            Step::Resume => "resume the session",
        })
    }
}

fn close_reason(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

fn last_attempt(last: &Option<Box<SignalError>>) -> String {
    last.as_ref()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no attempt was made".into())
}

impl Classified for SignalError {
    fn kind(&self) -> ErrorKind {
        use SignalError as E;
        match self {
            E::NotALiveKitUrl { .. }
            | E::TlsUnsupported { .. }
            | E::BadUrl { .. }
            | E::TokenNotAHeader
            | E::TokenExpired { .. }
            | E::TokenRefused { .. }
            | E::NotAllowed { .. } => ErrorKind::InvalidInput,
            E::HttpStatus { status, .. } if *status < 500 => ErrorKind::InvalidInput,
            E::NotLiveKit { .. } => ErrorKind::NotFound,
            E::HttpStatus { .. }
            | E::NoServer { .. }
            | E::ConnectFailed { .. }
            | E::Timeout { .. }
            | E::ClosedEarly { .. }
            | E::SentAway { .. }
            | E::SessionEnded
            | E::ResumeFailed { .. } => ErrorKind::Unavailable,
            E::UnexpectedAnswer { .. } | E::Unreadable(_) => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{SignalOptions, rtc_url};

    #[test]
    fn errors_say_what_failed_and_what_kind_of_failure_it_is() {
        let url = "ws://127.0.0.1:7880".to_string();
        let cases = [
            (
                SignalError::TokenRefused {
                    url: url.clone(),
                    detail: "signature is invalid".into(),
                },
                "ws://127.0.0.1:7880 refused the token (signature is invalid): check \
                 LIVEKIT_API_KEY / LIVEKIT_API_SECRET, or mint a fresh token",
                ErrorKind::InvalidInput,
            ),
            (
                SignalError::TokenExpired { ago_seconds: 3 },
                "the token expired 3 s ago: mint a fresh one (greenroom token --room … --identity …)",
                ErrorKind::InvalidInput,
            ),
            (
                SignalError::NoServer { url: url.clone() },
                "no LiveKit server answers at ws://127.0.0.1:7880: start the stack (greenroom up) \
                 or check LIVEKIT_URL",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::Timeout {
                    url: url.clone(),
                    step: Step::Resume,
                    within: Duration::from_millis(2500),
                },
                "ws://127.0.0.1:7880 did not resume the session within 2.5 s: is the server \
                 overloaded or the URL wrong?",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::ClosedEarly {
                    url: url.clone(),
                    step: Step::Join,
                    reason: Some("bye".into()),
                },
                "ws://127.0.0.1:7880 closed the connection before it would let us join: bye",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::ClosedEarly {
                    url: url.clone(),
                    step: Step::Join,
                    reason: None,
                },
                "ws://127.0.0.1:7880 closed the connection before it would let us join",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::NotLiveKit { url: url.clone() },
                "ws://127.0.0.1:7880 is not a LiveKit server (no /rtc endpoint there)",
                ErrorKind::NotFound,
            ),
            (
                SignalError::HttpStatus {
                    url: url.clone(),
                    status: 503,
                    detail: "busy".into(),
                },
                "ws://127.0.0.1:7880 answered HTTP 503 to the join: busy",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::ResumeFailed {
                    attempts: 0,
                    window: Duration::from_millis(100),
                    last: None,
                },
                "0 attempt(s) in 0.1 s, the last: no attempt was made",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::ResumeFailed {
                    attempts: 2,
                    window: Duration::from_secs(15),
                    last: Some(Box::new(SignalError::SessionEnded)),
                },
                "2 attempt(s) in 15.0 s, the last: the signalling session has ended",
                ErrorKind::Unavailable,
            ),
            (
                SignalError::Unreadable("bad tag".into()),
                "the server sent a signalling message we cannot read (bad tag): is it LiveKit?",
                ErrorKind::Internal,
            ),
        ];
        for (error, message, kind) in cases {
            assert_eq!(error.to_string(), message);
            assert_eq!(error.kind(), kind, "{error}");
        }
        let e = rtc_url("wss://x.livekit.cloud", &SignalOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "wss://x.livekit.cloud: this build of Greenroom's participant speaks ws:// only \
             (TLS is not built in yet); use the local server's ws:// URL"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = rtc_url("localhost:7880", &SignalOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"localhost:7880\" is not a LiveKit URL: it should look like ws://127.0.0.1:7880"
        );
    }
}
