//! The signalling half of Greenroom's own LiveKit participant.
//!
//! Why our own: the official `livekit` Rust crate needs a prebuilt libwebrtc and a recent
//! clang, which neither our machines nor most CI have. The participant is built from
//! LiveKit's protobuf messages (`livekit-protocol`), a plain WebSocket and (next) `str0m`
//! for the media. This module is the WebSocket part, and it is complete on its own: a
//! participant that joins, is listed by the room service, sees the others come and go
//! with their attributes (Marie's `lk.agent.state`), keeps the session alive with pings,
//! measures the round trip, and leaves cleanly.
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

use futures_util::{SinkExt, StreamExt};
use greenroom_core::redact_tokens;
use livekit_protocol::{self as proto, signal_request, signal_response};
use prost::Message as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, protocol::Message};

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
}

impl Default for SignalOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why joining failed, said for a person: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignalError(pub String);

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
    let base = url.trim().trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_owned()
    } else {
        return Err(SignalError(format!(
            "{url:?} is not a LiveKit URL: it should look like ws://127.0.0.1:7880"
        )));
    };
    if base.starts_with("wss://") {
        return Err(SignalError(format!(
            "{url}: this build of Greenroom's participant speaks ws:// only (TLS is not built in yet); \
             use the local server's ws:// URL"
        )));
    }
    Ok(format!(
        "{base}/rtc?protocol={PROTOCOL_VERSION}&auto_subscribe={}&sdk=rust&version={}",
        u8::from(options.auto_subscribe),
        env!("CARGO_PKG_VERSION")
    ))
}

/// Turns a failed WebSocket upgrade into a sentence with a next step.
fn explain_connect(url: &str, e: tungstenite::Error) -> SignalError {
    use tungstenite::Error as E;
    SignalError(match e {
        E::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default();
            match status {
                401 => format!(
                    "{url} refused the token ({}): check LIVEKIT_API_KEY / LIVEKIT_API_SECRET, \
                     or mint a fresh token",
                    if body.is_empty() {
                        "401".into()
                    } else {
                        redact_tokens(&body)
                    }
                ),
                403 => format!(
                    "{url} does not allow this participant to join: {}",
                    redact_tokens(&body)
                ),
                404 => format!("{url} is not a LiveKit server (no /rtc endpoint there)"),
                _ => format!(
                    "{url} answered HTTP {status} to the join: {}",
                    redact_tokens(&body)
                ),
            }
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "no LiveKit server answers at {url}: start the stack (greenroom up) or check LIVEKIT_URL"
        ),
        E::Url(u) => format!("{url}: {u}"),
        other => format!("joining through {url} failed: {other}"),
    })
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
        if let Ok(claims) = crate::token::decode_unverified(token)
            && claims.exp <= now
        {
            return Err(SignalError(format!(
                "the token expired {} s ago: mint a fresh one (greenroom token --room … --identity …)",
                now - claims.exp
            )));
        }
        let rtc = rtc_url(url, options)?;
        let mut request = rtc
            .as_str()
            .into_client_request()
            .map_err(|e| SignalError(format!("{url}: {e}")))?;
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().map_err(|_| {
                SignalError("the token contains characters a header cannot hold".into())
            })?,
        );
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + options.connect_timeout;
        let timeout_error = || {
            SignalError(format!(
                "{url} did not let us join within {} s: is the server overloaded or the URL wrong?",
                options.connect_timeout.as_secs_f32()
            ))
        };
        let (mut socket, _) =
            tokio::time::timeout_at(deadline, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| timeout_error())?
                .map_err(|e| explain_connect(url, e))?;
        let join = loop {
            let frame = tokio::time::timeout_at(deadline, socket.next())
                .await
                .map_err(|_| timeout_error())?;
            let bytes = match frame {
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Close(close))) => {
                    return Err(SignalError(format!(
                        "{url} closed the connection before the join completed{}",
                        close.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                    )));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(explain_connect(url, e)),
                None => {
                    return Err(SignalError(format!(
                        "{url} closed the connection before the join completed"
                    )));
                }
            };
            match decode_response(&bytes)? {
                Some(signal_response::Message::Join(join)) => break join,
                Some(signal_response::Message::Leave(leave)) => {
                    return Err(SignalError(format!(
                        "{url} turned the join down: {}",
                        disconnect_reason(leave.reason)
                    )));
                }
                _ => continue,
            }
        };
        let join_time = started.elapsed();
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let rtt_micros = Arc::new(AtomicU64::new(0));
        let ping_interval = Duration::from_secs(join.ping_interval.clamp(1, 3600) as u64);
        let ping_timeout = Duration::from_secs(join.ping_timeout.clamp(2, 7200) as u64);
        let task = tokio::spawn(session_loop(
            socket,
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
            .map_err(|_| SignalError("the signalling session has ended".into()))
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
        .map_err(|e| {
            SignalError(format!(
                "the server sent a signalling message we cannot read ({e}): is it LiveKit?"
            ))
        })
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

async fn session_loop(
    mut socket: Socket,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::UnboundedSender<SignalEvent>,
    rtt_micros: Arc<AtomicU64>,
    ping_interval: Duration,
    ping_timeout: Duration,
) {
    let mut ticker = tokio::time::interval(ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    // (timestamp carried by the last ping, when it left): the pong echoes the timestamp,
    // and the round trip is measured on our monotonic clock, to the microsecond.
    let mut last_ping: Option<(i64, Instant)> = None;
    let closed = loop {
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
                            break Closed::ByServer { reason, action };
                        }
                        Ok(Some(message)) => {
                            let _ = events.send(SignalEvent::Message(Box::new(message)));
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!("{e}"),
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    break Closed::Transport(format!(
                        "the server closed the signalling connection{}",
                        close.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                    ));
                }
                Some(Ok(_)) => last_heard = Instant::now(),
                Some(Err(e)) => break Closed::Transport(format!("the signalling connection failed: {e}")),
                None => break Closed::Transport("the signalling connection closed".into()),
            },
            request = outgoing.recv() => match request {
                Some(Outgoing::Request(message)) => {
                    if let Err(e) = socket.send(encode_request(*message)).await {
                        break Closed::Transport(format!("sending to the server failed: {e}"));
                    }
                }
                Some(Outgoing::Leave) | None => {
                    let leave = proto::LeaveRequest {
                        reason: proto::DisconnectReason::ClientInitiated as i32,
                        ..Default::default()
                    };
                    let _ = socket.send(encode_request(signal_request::Message::Leave(leave))).await;
                    let _ = socket.close(None).await;
                    break Closed::Left;
                }
            },
            _ = ticker.tick() => {
                if last_heard.elapsed() > ping_timeout {
                    break Closed::PingTimeout(last_heard.elapsed());
                }
                let rtt = (rtt_micros.load(Ordering::Relaxed) / 1000) as i64;
                let timestamp = greenroom_core::unix_millis() as i64;
                last_ping = Some((timestamp, Instant::now()));
                let ping = signal_request::Message::PingReq(proto::Ping { timestamp, rtt });
                if let Err(e) = socket.send(encode_request(ping)).await {
                    break Closed::Transport(format!("sending a ping failed: {e}"));
                }
            }
        }
    };
    let _ = events.send(SignalEvent::Closed(closed));
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
                .0
                .contains("should look like ws://")
        );
        assert!(
            rtc_url("wss://x.livekit.cloud", &o)
                .unwrap_err()
                .0
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
