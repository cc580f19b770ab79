//! The signalling half of Greenroom's own LiveKit participant.
//!
//! Why our own: the official `livekit` Rust crate needs a prebuilt libwebrtc and a recent
//! clang, which neither our machines nor most CI have. The participant is built from
//! LiveKit's protobuf messages (`livekit-protocol`), a plain WebSocket (this module) and
//! `str0m` for the media ([`crate::participant`], which drives a [`SignalSession`]). This
//! module is complete on its own too: a session joins, is listed by the room service, sees
//! the others come and go with their attributes (Marie's `lk.agent.state`), keeps itself
//! alive with pings, measures the round trip, resumes after a dropped connection, and
//! leaves cleanly. Tokens are minted elsewhere (`greenroom-livekit`); this module only reads
//! a token's expiry, to refuse an expired one before any traffic.
//!
//! Exact semantics:
//! - [`SignalSession::connect`] opens `<url>/rtc?protocol=15&auto_subscribe=…` with the
//!   token in an `Authorization: Bearer` header (never in the URL, so it stays out of
//!   proxy and server logs), and returns once the server's `JoinResponse` arrived. Every
//!   step has a deadline ([`SignalOptions::connect_timeout`]); a token that has already
//!   expired is refused before any network traffic.
//! - While connected, a background task sends `Ping` at the server's `ping_interval` and
//!   reads the matching `Pong` as the round-trip time ([`SignalSession::rtt`]). No message
//!   from the server for `ping_timeout` seconds ends the session with
//!   [`Closed::PingTimeout`].
//! - Every server message is handed out in order as [`SignalEvent::Message`]; the end of
//!   the session is always the last event, [`SignalEvent::Closed`], with the reason.
//! - [`SignalSession::leave`] sends `LeaveRequest{CLIENT_INITIATED}` and closes the socket;
//!   the server then drops the participant at once (not after its departure timeout).
//! - Resume: when the socket fails or the server goes silent, the session is resumed, as
//!   the SDKs do, within [`SignalOptions::resume_window`]: [`SignalEvent::Reconnecting`],
//!   then attempts to `…/rtc?…&reconnect=1&sid=<our sid>&reconnect_reason=1` with the latest
//!   token (the server's `RefreshToken` replaces it), 0, 250, 500, 1000, 2000, 2000… ms
//!   apart, each until the server's `ReconnectResponse`. Success is
//!   [`SignalEvent::Resumed`] with the time from the failure to the response; the
//!   server then restarts ICE on the subscriber with a new offer. Requests sent meanwhile
//!   wait and go out after the resume. A server that refuses (it restarted and forgot us,
//!   or removed us) or a window that runs out ends the session with the reason.
//! - Every failure is a [`SignalError`]: its variant says what failed, its
//!   [`greenroom_core::Classified::kind`] which kind of failure that is (a refused or
//!   expired token is `InvalidInput`; no server, a timeout or an ended session
//!   `Unavailable`), and its message what to do next, without the token.

use futures_util::{SinkExt, StreamExt};
use greenroom_core::redact_tokens;
use livekit_protocol::{self as proto, signal_request, signal_response};
use prost::Message as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, protocol::Message};

mod error;
pub use error::{SignalError, Step};

/// The LiveKit signalling protocol version we speak.
pub const PROTOCOL_VERSION: u32 = 15;

/// The participant attribute in which LiveKit agents publish their state
/// (`initializing`, `listening`, `thinking`, `speaking`).
pub const AGENT_STATE_ATTRIBUTE: &str = "lk.agent.state";

#[derive(Debug, Clone)]
pub struct SignalOptions {
    /// Subscribe to every published track automatically (the SDKs' default).
    pub auto_subscribe: bool,
    /// How long the socket, the upgrade and the `JoinResponse` may take together.
    pub connect_timeout: Duration,
    /// How long a lost session may take to resume before it ends; zero never resumes.
    pub resume_window: Duration,
}

impl Default for SignalOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            connect_timeout: Duration::from_secs(10),
            resume_window: Duration::from_secs(15),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// We left ([`SignalSession::leave`]) or dropped the session.
    Left,
    /// The server sent `LeaveRequest` (room deleted, participant removed, server shutting
    /// down…); `reason` is LiveKit's `DisconnectReason` name, `action` what the server
    /// asks of the client (`Disconnect`, `Resume`, `Reconnect`).
    ByServer { reason: String, action: String },
    /// The server went silent for longer than its `ping_timeout`.
    PingTimeout(Duration),
    /// The socket closed or failed.
    Transport(String),
}

#[derive(Debug, Clone)]
pub enum SignalEvent {
    /// A server message, in arrival order.
    Message(Box<signal_response::Message>),
    /// The connection was lost (the reason); resuming has begun.
    Reconnecting(String),
    /// The session resumed: `took` from the loss to the server's `ReconnectResponse`.
    Resumed { took: Duration, attempts: u32 },
    /// The session ended; always the last event.
    Closed(Closed),
}

/// The session's last signalling round trip, readable while another task owns the session.
#[derive(Debug, Clone)]
pub struct RoundTrip(Arc<AtomicU64>);

impl RoundTrip {
    pub fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }
}

/// A joined participant's signalling connection.
pub struct SignalSession {
    /// The server's answer to the join: room, our participant, the others, ICE servers.
    pub join: Box<proto::JoinResponse>,
    /// From starting the connection to having the `JoinResponse`.
    pub join_time: Duration,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    events: mpsc::UnboundedReceiver<SignalEvent>,
    rtt_micros: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

enum Outgoing {
    Request(Box<signal_request::Message>),
    Leave,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `ws://host:port[/]` → `ws://host:port/rtc?…`; `http(s)://` is accepted as `ws(s)://`.
pub fn rtc_url(url: &str, options: &SignalOptions) -> Result<String, SignalError> {
    rtc_url_for(url, options, None)
}

/// [`rtc_url`], resuming the session of participant `resume_sid` when given.
fn rtc_url_for(
    url: &str,
    options: &SignalOptions,
    resume_sid: Option<&str>,
) -> Result<String, SignalError> {
    let base = url.trim().trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_owned()
    } else {
        return Err(SignalError::NotALiveKitUrl {
            url: url.to_owned(),
        });
    };
    if base.starts_with("wss://") {
        return Err(SignalError::TlsUnsupported {
            url: url.to_owned(),
        });
    }
    let resume = resume_sid
        .map(|sid| {
            format!(
                "&reconnect=1&sid={}&reconnect_reason={}",
                sid.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', ""),
                proto::ReconnectReason::RrSignalDisconnected as i32
            )
        })
        .unwrap_or_default();
    Ok(format!(
        "{base}/rtc?protocol={PROTOCOL_VERSION}&auto_subscribe={}&sdk=rust&version={}{resume}",
        u8::from(options.auto_subscribe),
        env!("CARGO_PKG_VERSION")
    ))
}

/// Why opening failed: the server said no (retrying will not help), or it could not be
/// reached or did not answer in time.
enum OpenFailure {
    Refused(SignalError),
    Failed(SignalError),
}

impl From<SignalError> for OpenFailure {
    fn from(e: SignalError) -> Self {
        OpenFailure::Failed(e)
    }
}

impl From<OpenFailure> for SignalError {
    fn from(f: OpenFailure) -> Self {
        match f {
            OpenFailure::Refused(e) | OpenFailure::Failed(e) => e,
        }
    }
}

/// Opens the signalling socket and reads until the server's first answer: the
/// `JoinResponse` of a join, or the `ReconnectResponse` of a resume.
async fn open(
    url: &str,
    token: &str,
    options: &SignalOptions,
    resume_sid: Option<&str>,
    timeout: Duration,
) -> Result<(Socket, signal_response::Message), OpenFailure> {
    let rtc = rtc_url_for(url, options, resume_sid)?;
    let mut request = rtc
        .as_str()
        .into_client_request()
        .map_err(|e| SignalError::BadUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| SignalError::TokenNotAHeader)?,
    );
    let deadline = tokio::time::Instant::now() + timeout;
    let step = if resume_sid.is_some() {
        Step::Resume
    } else {
        Step::Join
    };
    let timeout_error = || SignalError::Timeout {
        url: url.to_owned(),
        step,
        within: timeout,
    };
    let (mut socket, _) =
        tokio::time::timeout_at(deadline, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| timeout_error())?
            .map_err(|e| {
                let refused =
                    matches!(&e, tungstenite::Error::Http(r) if r.status().is_client_error());
                let error = explain_connect(url, e);
                if refused {
                    OpenFailure::Refused(error)
                } else {
                    OpenFailure::Failed(error)
                }
            })?;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| timeout_error())?;
        let bytes = match frame {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(close))) => {
                return Err(SignalError::ClosedEarly {
                    url: url.to_owned(),
                    step,
                    reason: close.map(|c| c.reason.to_string()),
                }
                .into());
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(explain_connect(url, e).into()),
            None => {
                return Err(SignalError::ClosedEarly {
                    url: url.to_owned(),
                    step,
                    reason: None,
                }
                .into());
            }
        };
        match decode_response(&bytes)? {
            Some(first @ signal_response::Message::Join(_)) if resume_sid.is_none() => {
                return Ok((socket, first));
            }
            Some(first @ signal_response::Message::Reconnect(_)) if resume_sid.is_some() => {
                return Ok((socket, first));
            }
            Some(signal_response::Message::Leave(leave)) => {
                return Err(OpenFailure::Refused(SignalError::SentAway {
                    url: url.to_owned(),
                    step,
                    reason: disconnect_reason(leave.reason),
                }));
            }
            _ => continue,
        }
    }
}

/// Turns a failed WebSocket upgrade into a sentence with a next step.
fn explain_connect(url: &str, e: tungstenite::Error) -> SignalError {
    use tungstenite::Error as E;
    let url = url.to_owned();
    match e {
        E::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default();
            match status {
                401 => SignalError::TokenRefused {
                    url,
                    detail: if body.is_empty() {
                        "401".into()
                    } else {
                        redact_tokens(&body)
                    },
                },
                403 => SignalError::NotAllowed {
                    url,
                    detail: redact_tokens(&body),
                },
                404 => SignalError::NotLiveKit { url },
                _ => SignalError::HttpStatus {
                    url,
                    status,
                    detail: redact_tokens(&body),
                },
            }
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            SignalError::NoServer { url }
        }
        E::Url(u) => SignalError::BadUrl {
            url,
            reason: u.to_string(),
        },
        other => SignalError::ConnectFailed {
            url,
            reason: other.to_string(),
        },
    }
}

impl SignalSession {
    /// Joins the room the token names and waits for the server's `JoinResponse`.
    pub async fn connect(
        url: &str,
        token: &str,
        options: &SignalOptions,
    ) -> Result<SignalSession, SignalError> {
        // A token we cannot read ourselves still goes to the server, which has the last word.
        let now = greenroom_core::unix_seconds();
        if let Ok(claims) = greenroom_livekit::token::decode_unverified(token)
            && claims.exp <= now
        {
            return Err(SignalError::TokenExpired {
                ago_seconds: now - claims.exp,
            });
        }
        let started = Instant::now();
        let (socket, first) = open(url, token, options, None, options.connect_timeout).await?;
        let signal_response::Message::Join(join) = first else {
            return Err(SignalError::UnexpectedAnswer {
                url: url.to_owned(),
            });
        };
        let join_time = started.elapsed();
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let rtt_micros = Arc::new(AtomicU64::new(0));
        let ping_interval = Duration::from_secs(join.ping_interval.clamp(1, 3600) as u64);
        let ping_timeout = Duration::from_secs(join.ping_timeout.clamp(2, 7200) as u64);
        let resume = Resume {
            url: url.to_owned(),
            token: token.to_owned(),
            sid: join
                .participant
                .as_ref()
                .map(|p| p.sid.clone())
                .unwrap_or_default(),
            options: options.clone(),
        };
        let task = tokio::spawn(session_loop(
            socket,
            resume,
            outgoing_rx,
            events_tx,
            rtt_micros.clone(),
            ping_interval,
            ping_timeout,
        ));
        Ok(SignalSession {
            join: Box::new(join),
            join_time,
            outgoing,
            events,
            rtt_micros,
            task,
        })
    }

    /// Our participant's identity and SID as the server knows them.
    pub fn participant(&self) -> (&str, &str) {
        self.join
            .participant
            .as_ref()
            .map(|p| (p.identity.as_str(), p.sid.as_str()))
            .unwrap_or(("", ""))
    }

    /// Sends a request (offer, answer, trickle, add-track…) to the server.
    pub fn send(&self, message: signal_request::Message) -> Result<(), SignalError> {
        self.outgoing
            .send(Outgoing::Request(Box::new(message)))
            .map_err(|_| SignalError::SessionEnded)
    }

    /// The next event, or `None` if nothing came within `wait` (the session goes on).
    pub async fn next_event(&mut self, wait: Duration) -> Option<SignalEvent> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The last measured signalling round trip, once a pong came back.
    pub fn rtt(&self) -> Option<Duration> {
        self.round_trip().get()
    }

    /// A handle that reads [`SignalSession::rtt`] from anywhere, as it is updated.
    pub fn round_trip(&self) -> RoundTrip {
        RoundTrip(self.rtt_micros.clone())
    }

    /// Leaves the room: `LeaveRequest`, then the socket closes. Waits at most 2 s.
    pub async fn leave(mut self) {
        self.close().await;
    }

    /// [`SignalSession::leave`] for an owner that keeps the session (no event follows).
    pub async fn close(&mut self) {
        let _ = self.outgoing.send(Outgoing::Leave);
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
    }
}

impl Drop for SignalSession {
    fn drop(&mut self) {
        let _ = self.outgoing.send(Outgoing::Leave);
    }
}

fn decode_response(bytes: &[u8]) -> Result<Option<signal_response::Message>, SignalError> {
    proto::SignalResponse::decode(bytes)
        .map(|r| r.message)
        .map_err(|e| SignalError::Unreadable(e.to_string()))
}

fn encode_request(message: signal_request::Message) -> Message {
    Message::Binary(
        proto::SignalRequest {
            message: Some(message),
        }
        .encode_to_vec()
        .into(),
    )
}

/// LiveKit's name for a `DisconnectReason` value (`ROOM_DELETED`, `PARTICIPANT_REMOVED`…).
pub fn disconnect_reason(value: i32) -> String {
    proto::DisconnectReason::try_from(value)
        .map(|r| r.as_str_name().to_owned())
        .unwrap_or_else(|_| format!("reason {value}"))
}

/// The agent states a participant update announces: (identity, state) for every
/// participant that carries [`AGENT_STATE_ATTRIBUTE`].
pub fn agent_states(update: &proto::ParticipantUpdate) -> Vec<(String, String)> {
    update
        .participants
        .iter()
        .filter_map(|p| {
            p.attributes
                .get(AGENT_STATE_ATTRIBUTE)
                .map(|s| (p.identity.clone(), s.clone()))
        })
        .collect()
}

/// What resuming a session needs.
struct Resume {
    url: String,
    /// The latest token: the join's, then each `RefreshToken` from the server.
    token: String,
    sid: String,
    options: SignalOptions,
}

/// How a connected stretch of the session ended.
enum Stretch {
    /// For good (we left, the server sent us away).
    Ended(Closed),
    /// The connection was lost; resuming may bring it back.
    Lost(Closed),
}

fn describe(closed: &Closed) -> String {
    match closed {
        Closed::Transport(reason) => reason.clone(),
        Closed::PingTimeout(silent) => {
            format!("the server was silent for {:.1} s", silent.as_secs_f32())
        }
        Closed::Left => "we left".into(),
        Closed::ByServer { reason, .. } => format!("the server ended the session: {reason}"),
    }
}

async fn session_loop(
    mut socket: Socket,
    mut resume: Resume,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::UnboundedSender<SignalEvent>,
    rtt_micros: Arc<AtomicU64>,
    ping_interval: Duration,
    ping_timeout: Duration,
) {
    // Requests that came while the connection was down, sent once it is back.
    let mut waiting: Vec<signal_request::Message> = Vec::new();
    let closed = loop {
        let lost = match connected(
            &mut socket,
            &mut resume,
            &mut outgoing,
            &mut waiting,
            &events,
            &rtt_micros,
            ping_interval,
            ping_timeout,
        )
        .await
        {
            Stretch::Ended(closed) => break closed,
            Stretch::Lost(lost) => lost,
        };
        if resume.options.resume_window.is_zero() || resume.sid.is_empty() {
            break lost;
        }
        let _ = events.send(SignalEvent::Reconnecting(describe(&lost)));
        match resume_session(&resume, &mut outgoing, &mut waiting).await {
            Ok(Some((resumed, took, attempts))) => {
                socket = resumed;
                let _ = events.send(SignalEvent::Resumed { took, attempts });
            }
            Ok(None) => break Closed::Left,
            Err(e) => {
                break Closed::Transport(format!(
                    "{}, and the session could not be resumed: {e}. Join again for a new session",
                    describe(&lost)
                ));
            }
        }
    };
    let _ = events.send(SignalEvent::Closed(closed));
}

/// Tries to resume until the window runs out. `Ok(None)`: we left meanwhile.
async fn resume_session(
    resume: &Resume,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    waiting: &mut Vec<signal_request::Message>,
) -> Result<Option<(Socket, Duration, u32)>, SignalError> {
    let lost_at = Instant::now();
    let deadline = lost_at + resume.options.resume_window;
    let mut attempts = 0u32;
    let mut last_error: Option<Box<SignalError>> = None;
    loop {
        let pause = match attempts {
            0 => Duration::ZERO,
            n => Duration::from_millis(250u64 << (n - 1).min(3)),
        };
        let now = Instant::now();
        if now + pause >= deadline {
            return Err(SignalError::ResumeFailed {
                attempts,
                window: resume.options.resume_window,
                last: last_error,
            });
        }
        let attempt = async {
            tokio::time::sleep(pause).await;
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(5));
            open(
                &resume.url,
                &resume.token,
                &resume.options,
                Some(&resume.sid),
                budget,
            )
            .await
        };
        tokio::pin!(attempt);
        let result = loop {
            tokio::select! {
                result = &mut attempt => break result,
                request = outgoing.recv() => match request {
                    Some(Outgoing::Request(message)) => waiting.push(*message),
                    Some(Outgoing::Leave) | None => return Ok(None),
                },
            }
        };
        attempts += 1;
        match result {
            Ok((socket, _reconnect_response)) => {
                return Ok(Some((socket, lost_at.elapsed(), attempts)));
            }
            // The server answered and said no: it forgot us (restarted) or sent us away.
            Err(OpenFailure::Refused(e)) => return Err(e),
            Err(OpenFailure::Failed(e)) => last_error = Some(Box::new(e)),
        }
    }
}

/// One connected stretch: pings, server messages, our requests.
#[allow(clippy::too_many_arguments)]
async fn connected(
    socket: &mut Socket,
    resume: &mut Resume,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    waiting: &mut Vec<signal_request::Message>,
    events: &mpsc::UnboundedSender<SignalEvent>,
    rtt_micros: &AtomicU64,
    ping_interval: Duration,
    ping_timeout: Duration,
) -> Stretch {
    for message in std::mem::take(waiting) {
        if let Err(e) = socket.send(encode_request(message)).await {
            return Stretch::Lost(Closed::Transport(format!(
                "sending to the server failed: {e}"
            )));
        }
    }
    let mut ticker = tokio::time::interval(ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    // (timestamp carried by the last ping, when it left): the pong echoes the timestamp,
    // and the round trip is measured on our monotonic clock, to the microsecond.
    let mut last_ping: Option<(i64, Instant)> = None;
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    last_heard = Instant::now();
                    match decode_response(&bytes) {
                        Ok(Some(signal_response::Message::PongResp(pong))) => {
                            if let Some((sent_at, sent)) = last_ping
                                && sent_at == pong.last_ping_timestamp
                            {
                                let micros = sent.elapsed().as_micros() as u64;
                                rtt_micros.store(micros.max(1), Ordering::Relaxed);
                            }
                        }
                        Ok(Some(signal_response::Message::Leave(leave))) => {
                            let action = proto::leave_request::Action::try_from(leave.action)
                                .map(|a| format!("{a:?}"))
                                .unwrap_or_else(|_| leave.action.to_string());
                            let reason = disconnect_reason(leave.reason);
                            let _ = events.send(SignalEvent::Message(Box::new(
                                signal_response::Message::Leave(leave),
                            )));
                            return Stretch::Ended(Closed::ByServer { reason, action });
                        }
                        Ok(Some(signal_response::Message::RefreshToken(token))) => {
                            resume.token = token;
                        }
                        Ok(Some(message)) => {
                            let _ = events.send(SignalEvent::Message(Box::new(message)));
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    return Stretch::Lost(Closed::Transport(format!(
                        "the server closed the signalling connection{}",
                        close.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                    )));
                }
                Some(Ok(_)) => last_heard = Instant::now(),
                Some(Err(e)) => {
                    return Stretch::Lost(Closed::Transport(format!(
                        "the signalling connection failed: {e}"
                    )));
                }
                None => {
                    return Stretch::Lost(Closed::Transport(
                        "the signalling connection closed".into(),
                    ));
                }
            },
            request = outgoing.recv() => match request {
                Some(Outgoing::Request(message)) => {
                    if let Err(e) = socket.send(encode_request(*message)).await {
                        return Stretch::Lost(Closed::Transport(format!(
                            "sending to the server failed: {e}"
                        )));
                    }
                }
                Some(Outgoing::Leave) | None => {
                    let leave = proto::LeaveRequest {
                        reason: proto::DisconnectReason::ClientInitiated as i32,
                        ..Default::default()
                    };
                    let _ = socket.send(encode_request(signal_request::Message::Leave(leave))).await;
                    let _ = socket.close(None).await;
                    return Stretch::Ended(Closed::Left);
                }
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() > ping_timeout {
                    return Stretch::Lost(Closed::PingTimeout(last_heard.elapsed()));
                }
                let rtt = (rtt_micros.load(Ordering::Relaxed) / 1000) as i64;
                let timestamp = greenroom_core::unix_millis() as i64;
                last_ping = Some((timestamp, Instant::now()));
                let ping = signal_request::Message::PingReq(proto::Ping { timestamp, rtt });
                if let Err(e) = socket.send(encode_request(ping)).await {
                    return Stretch::Lost(Closed::Transport(format!("sending a ping failed: {e}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtc_url_accepts_ws_and_http_and_refuses_the_rest() {
        let o = SignalOptions::default();
        assert!(
            rtc_url("ws://127.0.0.1:7880/", &o)
                .unwrap()
                .starts_with("ws://127.0.0.1:7880/rtc?protocol=15&auto_subscribe=1")
        );
        assert!(
            rtc_url("http://localhost:7880", &o)
                .unwrap()
                .starts_with("ws://localhost:7880/rtc?")
        );
        assert!(
            rtc_url("localhost:7880", &o)
                .unwrap_err()
                .to_string()
                .contains("should look like ws://")
        );
        assert!(
            rtc_url("wss://x.livekit.cloud", &o)
                .unwrap_err()
                .to_string()
                .contains("ws:// only")
        );
    }

    #[test]
    fn agent_states_come_from_the_attribute() {
        let mut marie = proto::ParticipantInfo {
            identity: "agent-marie".into(),
            ..Default::default()
        };
        marie
            .attributes
            .insert(AGENT_STATE_ATTRIBUTE.into(), "thinking".into());
        let learner = proto::ParticipantInfo {
            identity: "learner".into(),
            ..Default::default()
        };
        let update = proto::ParticipantUpdate {
            participants: vec![marie, learner],
        };
        assert_eq!(
            agent_states(&update),
            vec![("agent-marie".to_owned(), "thinking".to_owned())]
        );
    }

    #[test]
    fn disconnect_reasons_have_livekit_names() {
        assert_eq!(
            disconnect_reason(proto::DisconnectReason::RoomDeleted as i32),
            "ROOM_DELETED"
        );
        assert_eq!(disconnect_reason(9999), "reason 9999");
    }

    #[test]
    fn garbage_from_the_server_is_an_error_not_a_panic() {
        assert!(decode_response(&[0xff, 0xff, 0xff]).is_err());
    }
}
