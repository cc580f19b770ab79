//! Greenroom's own LiveKit participant: signalling ([`crate::signal`]) plus media over two
//! `str0m` peer connections, driven by one task that owns every socket.
//!
//! Why our own: see [`crate::signal`]. This module is the media half: publish Opus audio
//! from any [`PcmSource`], receive every remote audio track as decoded PCM per
//! participant and track (through a [`crate::jitter::JitterBuffer`]), and send and
//! receive data packets.
//!
//! Exact semantics:
//! - [`Participant::join`] returns once the server's `JoinResponse` arrived **and** the
//!   publisher connection is up with both data channels open (`_reliable` ordered and
//!   retransmitted; `_lossy` unordered, no retransmission), so [`Participant::send_data`]
//!   works at once, **and** (when the server says `subscriber_primary`, LiveKit's default)
//!   the subscriber connection's `_reliable` channel is open, so nothing sent to us from
//!   then on is lost. Every wait has a deadline ([`ParticipantOptions::media_timeout`]).
//!   Both connections are bound while the signalling connection is made, and come up at
//!   once, side by side; [`Participant::join_steps`] says when each step of that happened
//!   ([`JoinStep`]; the same steps are `debug` events with target `greenroom_rooms::join`).
//!   How the join is kept as quick as libwebrtc's: see the media loop's module docs.
//! - Two peer connections, as LiveKit's SDKs use them: the *publisher* (we offer, the server
//!   answers) carries our tracks and our data; the *subscriber* (the server offers, we
//!   answer) carries the others' tracks and data. Candidates arrive in the SDP and by
//!   trickle; ours are host candidates on the address that routes to the server: UDP, and
//!   an active TCP one ([`crate::ice_tcp`]) added when no UDP pair answered within
//!   [`ParticipantOptions::tcp_fallback_after`] of the remote description (UDP gets that
//!   head start because the server, controlling the subscriber connection, nominates the
//!   first pair that works, and on a fast network TCP can win that race).
//!   [`ParticipantOptions::transport`] can force either; [`ParticipantStats`] names the
//!   transport each connection settled on.
//! - [`Participant::publish_audio`] sends `AddTrackRequest` (microphone source, cid =
//!   the SDP track id), waits for `TrackPublished`, then renegotiates the publisher with a
//!   send-only Opus m-line. [`AudioTrack::send`] takes 20 ms frames; [`AudioTrack::play`]
//!   paces a whole source in real time. RTP time advances 960 ticks per frame.
//! - Remote audio: the subscriber's m-line stream id is `PA_xxx|TR_xxx`; each track gets a
//!   jitter buffer ([`ParticipantOptions::jitter_delay`]) and an Opus decoder; every 20 ms
//!   slot comes out as one [`ParticipantEvent::Audio`] (lost frames concealed by Opus and
//!   marked `concealed`).
//! - Data: user packets come out as [`ParticipantEvent::Data`]; LiveKit text streams (the
//!   agents' `lk.transcription`) as one [`ParticipantEvent::Text`] per completed stream;
//!   `lk.agent.state` attribute changes as [`ParticipantEvent::AgentState`].
//! - Network conditions ([`NetworkConditions`]) are injected on the packets we send, at our
//!   socket layer: loss (drop), added latency and jitter (held back, then sent). They apply
//!   once [`Participant::join`] has returned: the ICE, DTLS and SCTP handshakes are not
//!   degraded, so a suite measures streaming rather than how long a DTLS retransmission
//!   backs off (a lost handshake flight costs 1 s, then 2 s…). The exception is
//!   [`NetworkConditions::block_udp`], a firewall that drops UDP both ways from the first
//!   packet, so that ICE has to fall back to TCP.
//! - A lost signalling connection is resumed (see [`crate::signal`]): media keeps flowing,
//!   [`ParticipantEvent::Reconnecting`] then [`ParticipantEvent::Reconnected`] with the
//!   time it took (also in [`ParticipantStats::reconnections_ms`]); the server's ICE restart
//!   of the subscriber arrives as a new offer and is answered like any other.
//! - The end is always the last event, [`ParticipantEvent::Closed`]; dropping the
//!   participant leaves the room.
//!
//! The parts, each in its own module:
//! - this module: the public API ([`Participant`], [`AudioTrack`], the options, events,
//!   stats and [`ParticipantError`]);
//! - `media_loop`: the task that owns the signalling session, both peer connections and
//!   every socket, and drives them;
//! - `peer`: binding a peer connection (the local address towards the server, the UDP
//!   socket, which ICE candidates are offered);
//! - `network`: how [`NetworkConditions`] degrade what is sent (pure);
//! - `room`: participant updates and data packets turned into events, text streams
//!   reassembled (pure);
//! - `sdp`: what we read in LiveKit's SDP and trickled candidates ([`split_stream_id`],
//!   [`offered_msids`], [`parse_trickle`]);
//! - `stun`: what we read in the STUN binding messages (pure);
//! - `timeline`: the steps of a join, first occurrence of each ([`JoinStep`]).

mod media_loop;
mod network;
mod peer;
mod room;
mod sdp;
mod stun;
mod timeline;

pub use sdp::{offered_msids, parse_trickle, split_stream_id};
pub use timeline::JoinStep;

use crate::audio::{FRAME_SAMPLES, Frame, PcmSource};
use crate::signal::{self, Closed, SignalError, SignalOptions, SignalSession};
use greenroom_core::{Classified, ErrorKind};
use media_loop::{Command, MediaLoop, Reports};
use peer::{Peer, local_ip_towards};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Labels LiveKit gives the two data channels.
pub const RELIABLE_CHANNEL: &str = "_reliable";
pub const LOSSY_CHANNEL: &str = "_lossy";
/// The text-stream topic on which LiveKit agents publish transcriptions.
pub const TRANSCRIPTION_TOPIC: &str = "lk.transcription";

/// Network conditions applied to what we send (the team's `simulate_network_conditions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkConditions {
    /// Share of outgoing packets dropped, 0.0 ..= 1.0.
    pub loss: f64,
    /// Added to every outgoing packet.
    pub latency_ms: u32,
    /// Uniform extra delay in 0 ..= jitter_ms.
    pub jitter_ms: u32,
    /// Drop every UDP packet, both ways, from the first one (a firewall that blocks UDP):
    /// the connection has to go over ICE-TCP.
    #[serde(default)]
    pub block_udp: bool,
}

impl NetworkConditions {
    /// No loss, latency or jitter (whether UDP is blocked aside).
    pub fn is_none(&self) -> bool {
        self.loss <= 0.0 && self.latency_ms == 0 && self.jitter_ms == 0
    }
}

/// Which ICE candidates the participant offers.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum IceTransport {
    /// UDP first; TCP too when no UDP pair answered within
    /// [`ParticipantOptions::tcp_fallback_after`].
    #[default]
    Auto,
    /// UDP only (no TCP candidate).
    Udp,
    /// TCP only (no UDP candidate), as behind a firewall known to block UDP.
    Tcp,
}

impl std::str::FromStr for IceTransport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "udp" => Ok(Self::Udp),
            "tcp" => Ok(Self::Tcp),
            other => Err(format!(
                "unknown transport {other:?}: say auto (UDP, falling back to TCP), udp or tcp"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParticipantOptions {
    pub signal: SignalOptions,
    /// How long ICE + DTLS + data channels, and each publication, may take.
    pub media_timeout: Duration,
    /// Playout delay of received audio.
    pub jitter_delay: Duration,
    pub network: NetworkConditions,
    pub transport: IceTransport,
    /// With [`IceTransport::Auto`]: how long UDP may try alone before TCP joins in.
    pub tcp_fallback_after: Duration,
}

impl Default for ParticipantOptions {
    fn default() -> Self {
        Self {
            signal: SignalOptions::default(),
            media_timeout: Duration::from_secs(10),
            jitter_delay: Duration::from_millis(40),
            network: NetworkConditions::default(),
            transport: IceTransport::Auto,
            tcp_fallback_after: Duration::from_millis(300),
        }
    }
}

/// Why joining, publishing or sending failed: what failed, and what to do when something
/// can be done. The `Display` is the message a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticipantError {
    /// Signalling failed: joining (a refused token, no server, a timeout…) or the session.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The participant has left the room (or its session ended): nothing more goes out.
    #[error("the participant has left the room")]
    Left,
    /// The session ended while the join waited for the media connection.
    #[error("the session ended before the media connection was up: {0:?}")]
    EndedBeforeMedia(Closed),
    /// The media loop stopped (it panicked) while the join waited for it.
    #[error("the media engine stopped before the connection was up")]
    MediaLoopStopped,
    /// Signalling worked but no ICE pair (or no data channel) came up within `within`.
    #[error(
        "joined, but no media connection to {url} within {} s over {}: does the server's \
         rtc.udp_port (or port range) or rtc.tcp_port answer from here? A firewall may block them",
        .within.as_secs_f32(),
        transport_tried(.transport)
    )]
    NoMediaConnection {
        url: String,
        within: Duration,
        transport: IceTransport,
    },
    /// The server did not answer `AddTrackRequest`, or the renegotiation, within `within`.
    #[error("the server did not publish track {track} within {} s", .within.as_secs_f32())]
    PublishTimeout { track: String, within: Duration },
    /// The server's host name could not be resolved.
    #[error("cannot resolve {host_port}: {reason}")]
    Unresolved { host_port: String, reason: String },
    /// The server's host name resolves to no address.
    #[error("{host_port} resolves to no address")]
    NoAddress { host_port: String },
    /// No local route to the server's address.
    #[error("no route to {target}: {reason}")]
    NoRoute { target: SocketAddr, reason: String },
    /// A local UDP socket could not be opened, bound or read (`action` says which).
    #[error("cannot {action}: {reason}")]
    Socket { action: String, reason: String },
    /// `str0m` refused one of our own ICE candidates.
    #[error("bad local candidate {addr}: {reason}")]
    LocalCandidate { addr: SocketAddr, reason: String },
    /// The server's offer or answer (`kind`) is not SDP we can read.
    #[error("the server's {kind} does not parse: {reason}")]
    UnreadableDescription { kind: &'static str, reason: String },
    /// The server's offer is SDP, but no answer can be made to it.
    #[error("cannot answer the server's offer: {0}")]
    OfferRejected(String),
    /// The server's answer is SDP, but it does not fit our offer.
    #[error("cannot apply the server's answer: {0}")]
    AnswerRejected(String),
    /// A frame for a track this participant did not publish.
    #[error("no published track {cid}")]
    UnknownTrack { cid: String },
    /// The data channel a packet needs (`_reliable` or `_lossy`) is not open.
    #[error("the {label} data channel is not open")]
    ChannelNotOpen { label: String },
    /// The Opus encoder of a new track could not start.
    #[error("cannot start the Opus encoder for {track}: {reason}")]
    Encoder { track: String, reason: String },
    /// Opus could not encode a frame.
    #[error("Opus encoding failed: {0}")]
    Encode(String),
    /// `str0m` refused to send `what` (`audio` or `data`).
    #[error("sending {what} failed: {reason}")]
    SendFailed { what: &'static str, reason: String },
}

impl ParticipantError {
    fn socket(action: impl Into<String>, e: std::io::Error) -> Self {
        Self::Socket {
            action: action.into(),
            reason: e.to_string(),
        }
    }
}

fn transport_tried(transport: &IceTransport) -> &'static str {
    match transport {
        IceTransport::Auto => "UDP or TCP",
        IceTransport::Udp => "UDP (try --transport auto)",
        IceTransport::Tcp => "TCP (try --transport auto)",
    }
}

impl Classified for ParticipantError {
    fn kind(&self) -> ErrorKind {
        use ParticipantError as E;
        match self {
            E::Signal(e) => e.kind(),
            E::NoAddress { .. } | E::UnknownTrack { .. } => ErrorKind::NotFound,
            E::Left
            | E::EndedBeforeMedia(_)
            | E::NoMediaConnection { .. }
            | E::PublishTimeout { .. }
            | E::Unresolved { .. }
            | E::NoRoute { .. }
            | E::Socket { .. }
            | E::ChannelNotOpen { .. } => ErrorKind::Unavailable,
            E::MediaLoopStopped
            | E::LocalCandidate { .. }
            | E::UnreadableDescription { .. }
            | E::OfferRejected(_)
            | E::AnswerRejected(_)
            | E::Encoder { .. }
            | E::Encode(_)
            | E::SendFailed { .. } => ErrorKind::Internal,
        }
    }
}

/// One 20 ms slot of a remote audio track, decoded.
#[derive(Debug, Clone)]
pub struct AudioFrame {
    pub participant: String,
    pub track_sid: String,
    pub samples: Vec<i16>,
    /// The frame never arrived (or arrived too late): these samples are Opus's concealment.
    pub concealed: bool,
    /// When the frame left the jitter buffer.
    pub played_at: Instant,
}

#[derive(Debug, Clone)]
pub enum ParticipantEvent {
    ParticipantJoined {
        sid: String,
        identity: String,
    },
    ParticipantLeft {
        sid: String,
        identity: String,
    },
    /// A remote audio track reached us; its frames follow as [`ParticipantEvent::Audio`].
    TrackSubscribed {
        participant: String,
        track_sid: String,
    },
    Audio(AudioFrame),
    Data {
        participant: String,
        topic: Option<String>,
        payload: Vec<u8>,
        reliable: bool,
        received_at: Instant,
    },
    /// A completed LiveKit text stream (e.g. `lk.transcription`).
    Text {
        participant: String,
        topic: String,
        text: String,
        attributes: HashMap<String, String>,
    },
    AgentState {
        participant: String,
        state: String,
    },
    /// The signalling connection was lost (the reason); the session is being resumed.
    /// Media already flowing keeps flowing meanwhile.
    Reconnecting(String),
    /// The session resumed, `took` after the connection was lost.
    Reconnected {
        took: Duration,
        attempts: u32,
    },
    /// The session ended; always the last event.
    Closed(Closed),
}

/// What we measured, updated as packets and RTCP reports come and go.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ParticipantStats {
    pub signal_rtt_ms: Option<f64>,
    /// RTT of our published audio from the server's receiver reports.
    pub media_rtt_ms: Option<f64>,
    /// Loss the server reports on what we publish, 0.0 ..= 1.0.
    pub egress_loss: Option<f64>,
    /// Loss on what we receive (RTCP, per sequence numbers), 0.0 ..= 1.0.
    pub ingress_loss: Option<f64>,
    /// Interarrival jitter of what we receive, in milliseconds (our jitter buffers).
    pub ingress_jitter_ms: f64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Packets our [`NetworkConditions`] dropped on purpose.
    pub packets_dropped_by_conditions: u64,
    pub audio_frames_played: u64,
    pub audio_frames_concealed: u64,
    pub audio_frames_late: u64,
    pub data_sent: u64,
    pub data_received: u64,
    /// Each resumed signalling loss: from the loss to the server's `ReconnectResponse` (ms).
    pub reconnections_ms: Vec<f64>,
    /// The transport the publisher connection settled on: `udp` or `tcp` (ICE-TCP).
    pub publisher_transport: Option<String>,
    /// The transport the subscriber connection settled on, once it is up.
    pub subscriber_transport: Option<String>,
}

/// Options of one data packet.
#[derive(Debug, Clone, Default)]
pub struct DataOptions {
    pub topic: Option<String>,
    /// `true`: the `_reliable` channel (ordered, retransmitted); `false`: `_lossy`.
    pub reliable: bool,
    /// Identities to send to; empty is everyone in the room.
    pub destinations: Vec<String>,
}

/// A joined participant. Dropping it leaves the room.
pub struct Participant {
    pub identity: String,
    pub sid: String,
    pub room: String,
    /// Token to `JoinResponse`.
    pub join_time: Duration,
    /// Token to ready: the data channels open (see [`Participant::join`]).
    pub ready_time: Duration,
    /// How the join went, step by step, up to ready (see [`JoinStep`]).
    pub join_steps: Vec<JoinStep>,
    /// The others already in the room when we joined: (sid, identity).
    pub others: Vec<(String, String)>,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<ParticipantEvent>,
    stats: Arc<Mutex<ParticipantStats>>,
    signal_rtt: signal::RoundTrip,
    task: tokio::task::JoinHandle<()>,
    media_timeout: Duration,
}

/// Our published audio track.
#[derive(Clone)]
pub struct AudioTrack {
    pub sid: String,
    pub cid: String,
    commands: mpsc::UnboundedSender<Command>,
}

impl AudioTrack {
    /// Encodes and sends one 20 ms frame now.
    pub fn send(&self, frame: &Frame) -> Result<(), ParticipantError> {
        self.commands
            .send(Command::AudioFrame {
                cid: self.cid.clone(),
                frame: Box::new(*frame),
            })
            .map_err(|_| ParticipantError::Left)
    }

    /// Sends `source` in real time (one frame every 20 ms, catching up after a stall
    /// rather than drifting) until it ends or `limit` frames went out. Returns the count.
    /// `on_frame(index)` runs just before each frame is sent (the latency suite's clock).
    pub async fn play(
        &self,
        source: &mut dyn PcmSource,
        limit: Option<u64>,
        mut on_frame: impl FnMut(u64, &Frame),
    ) -> Result<u64, ParticipantError> {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut sent = 0;
        while limit.is_none_or(|l| sent < l) && source.next_frame(&mut frame) {
            ticker.tick().await;
            on_frame(sent, &frame);
            self.send(&frame)?;
            sent += 1;
        }
        Ok(sent)
    }
}

impl Participant {
    /// Joins with `token` and brings the publisher connection up (see the module docs).
    pub async fn join(
        url: &str,
        token: &str,
        options: &ParticipantOptions,
    ) -> Result<Participant, ParticipantError> {
        let started = Instant::now();
        // The connections are bound while the signalling connection is being made: building
        // one is CPU work (its DTLS certificate; the very first one in a process also starts
        // the crypto library, tens of ms), which would otherwise follow the join.
        let bind = async {
            let ip = local_ip_towards(url).await?;
            tokio::try_join!(
                Peer::bind(ip, options.transport),
                Peer::bind(ip, options.transport)
            )
        };
        let (session, peers) =
            tokio::join!(SignalSession::connect(url, token, &options.signal), bind);
        let session = session?;
        let (publisher, subscriber) = peers?;
        let join_time = session.join_time;
        let signal_rtt = session.round_trip();
        let (identity, sid) = session.participant();
        let (identity, sid) = (identity.to_string(), sid.to_string());
        let room = session
            .join
            .room
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let others: Vec<(String, String)> = session
            .join
            .other_participants
            .iter()
            .map(|p| (p.sid.clone(), p.identity.clone()))
            .collect();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let stats = Arc::new(Mutex::new(ParticipantStats::default()));
        let media = MediaLoop::start(
            session,
            publisher,
            subscriber,
            options,
            Reports {
                events: events_tx,
                stats: stats.clone(),
                ready: ready_tx,
            },
            0x9E37_79B9_7F4A_7C15 ^ started.elapsed().as_nanos() as u64,
            started,
        )?;
        let task = tokio::spawn(media.run(commands_rx));
        let ready = tokio::time::timeout(options.media_timeout, ready_rx).await;
        let outcome = match ready {
            Ok(Ok(Ok(steps))) => Ok(steps),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(ParticipantError::MediaLoopStopped),
            Err(_) => Err(ParticipantError::NoMediaConnection {
                url: url.to_string(),
                within: options.media_timeout,
                transport: options.transport,
            }),
        };
        let join_steps = match outcome {
            Ok(steps) => steps,
            Err(e) => {
                let _ = commands.send(Command::Leave);
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
                return Err(e);
            }
        };
        Ok(Participant {
            identity,
            sid,
            room,
            join_time,
            ready_time: started.elapsed(),
            join_steps,
            others,
            commands,
            events,
            stats,
            signal_rtt,
            task,
            media_timeout: options.media_timeout,
        })
    }

    /// Publishes a microphone audio track named `name`; frames go out through the handle.
    pub async fn publish_audio(&self, name: &str) -> Result<AudioTrack, ParticipantError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::PublishAudio {
                name: name.to_string(),
                reply,
            })
            .map_err(|_| ParticipantError::Left)?;
        let (sid, cid) = tokio::time::timeout(self.media_timeout, answer)
            .await
            .map_err(|_| ParticipantError::PublishTimeout {
                track: name.to_string(),
                within: self.media_timeout,
            })?
            .map_err(|_| ParticipantError::Left)??;
        Ok(AudioTrack {
            sid,
            cid,
            commands: self.commands.clone(),
        })
    }

    /// Sends a data packet (user packet) to the room or to some identities.
    pub fn send_data(
        &self,
        payload: Vec<u8>,
        options: DataOptions,
    ) -> Result<(), ParticipantError> {
        self.commands
            .send(Command::Data { payload, options })
            .map_err(|_| ParticipantError::Left)
    }

    /// The next event, or `None` if nothing came within `wait`.
    pub async fn next_event(&mut self, wait: Duration) -> Option<ParticipantEvent> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn stats(&self) -> ParticipantStats {
        let mut stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        stats.signal_rtt_ms = self.signal_rtt.get().map(|rtt| rtt.as_secs_f64() * 1000.0);
        stats
    }

    /// Leaves the room and waits (at most 3 s) for the media loop to finish.
    pub async fn leave(mut self) {
        let _ = self.commands.send(Command::Leave);
        let _ = tokio::time::timeout(Duration::from_secs(3), &mut self.task).await;
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Leave);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_failed_and_what_kind_of_failure_it_is() {
        let cases = [
            (
                ParticipantError::NoMediaConnection {
                    url: "ws://127.0.0.1:7880".into(),
                    within: Duration::from_secs(10),
                    transport: IceTransport::Udp,
                },
                "joined, but no media connection to ws://127.0.0.1:7880 within 10 s over UDP \
                 (try --transport auto): does the server's rtc.udp_port (or port range) or \
                 rtc.tcp_port answer from here? A firewall may block them",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::PublishTimeout {
                    track: "tone".into(),
                    within: Duration::from_millis(1500),
                },
                "the server did not publish track tone within 1.5 s",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::Left,
                "the participant has left the room",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::EndedBeforeMedia(Closed::Left),
                "the session ended before the media connection was up: Left",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::Socket {
                    action: "bind a UDP socket on 10.0.0.1".into(),
                    reason: "denied".into(),
                },
                "cannot bind a UDP socket on 10.0.0.1: denied",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::NoAddress {
                    host_port: "nowhere:443".into(),
                },
                "nowhere:443 resolves to no address",
                ErrorKind::NotFound,
            ),
            (
                ParticipantError::ChannelNotOpen {
                    label: LOSSY_CHANNEL.into(),
                },
                "the _lossy data channel is not open",
                ErrorKind::Unavailable,
            ),
            (
                ParticipantError::UnreadableDescription {
                    kind: "offer",
                    reason: "no m-line".into(),
                },
                "the server's offer does not parse: no m-line",
                ErrorKind::Internal,
            ),
            (
                ParticipantError::SendFailed {
                    what: "data",
                    reason: "closed".into(),
                },
                "sending data failed: closed",
                ErrorKind::Internal,
            ),
            (
                ParticipantError::MediaLoopStopped,
                "the media engine stopped before the connection was up",
                ErrorKind::Internal,
            ),
        ];
        for (error, message, kind) in cases {
            assert_eq!(error.to_string(), message);
            assert_eq!(error.kind(), kind, "{error}");
        }
        // Signalling failures keep their own message and kind.
        let signal = SignalError::NoServer {
            url: "ws://127.0.0.1:1".into(),
        };
        let e = ParticipantError::from(signal.clone());
        assert_eq!(e.to_string(), signal.to_string());
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e = ParticipantError::from(SignalError::TokenExpired { ago_seconds: 1 });
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
