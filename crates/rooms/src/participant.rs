//! Greenroom's own LiveKit participant: signalling ([`crate::signal`]) plus media over two
//! `str0m` peer connections, driven by one task that owns every socket.
//!
//! Why our own: see [`crate::signal`]. This module is the media half: publish Opus audio
//! from any [`PcmSource`], receive every remote audio track as decoded PCM per
//! participant and track (through a [`JitterBuffer`]), and send and receive data packets.
//!
//! Exact semantics:
//! - [`Participant::join`] returns once the server's `JoinResponse` arrived **and** the
//!   publisher connection is up with both data channels open (`_reliable` ordered and
//!   retransmitted; `_lossy` unordered, no retransmission), so [`Participant::send_data`]
//!   works at once, **and** (when the server says `subscriber_primary`, LiveKit's default)
//!   the subscriber connection's `_reliable` channel is open, so nothing sent to us from
//!   then on is lost. Every wait has a deadline ([`ParticipantOptions::media_timeout`]).
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

use crate::audio::{FRAME_SAMPLES, Frame, PcmSource, SAMPLE_RATE};
use crate::ice_tcp::{self, TcpInbound, TcpLinks};
use crate::jitter::{JitterBuffer, JitterStats, Playout};
use crate::signal::{self, Closed, SignalError, SignalEvent, SignalOptions, SignalSession};
use livekit_protocol::{self as proto, signal_request, signal_response};
use prost::Message as _;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParticipantError(pub String);

impl From<SignalError> for ParticipantError {
    fn from(e: SignalError) -> Self {
        Self(e.0)
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

enum Command {
    PublishAudio {
        name: String,
        reply: oneshot::Sender<Result<(String, String), ParticipantError>>,
    },
    AudioFrame {
        cid: String,
        frame: Box<Frame>,
    },
    Data {
        payload: Vec<u8>,
        options: DataOptions,
    },
    Leave,
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
            .map_err(|_| ended())
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

fn ended() -> ParticipantError {
    ParticipantError("the participant has left the room".into())
}

impl Participant {
    /// Joins with `token` and brings the publisher connection up (see the module docs).
    pub async fn join(
        url: &str,
        token: &str,
        options: &ParticipantOptions,
    ) -> Result<Participant, ParticipantError> {
        let started = Instant::now();
        let session = SignalSession::connect(url, token, &options.signal).await?;
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
        let subscriber_primary = session.join.subscriber_primary;
        let ip = local_ip_towards(url).await?;
        let publisher = Peer::bind(ip, options.transport).await?;
        let subscriber = Peer::bind(ip, options.transport).await?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let stats = Arc::new(Mutex::new(ParticipantStats::default()));
        let mut engine = Engine {
            signal: session,
            publisher,
            subscriber,
            pending_offer: None,
            renegotiate: false,
            pending_publications: HashMap::new(),
            negotiating_tracks: Vec::new(),
            local_tracks: HashMap::new(),
            channels_offered: false,
            channels_pub: HashMap::new(),
            channels_sub: HashMap::new(),
            remote_tracks: HashMap::new(),
            offered_msids: HashMap::new(),
            participants: others.iter().cloned().collect(),
            text_streams: HashMap::new(),
            events: events_tx,
            ready: Some(ready_tx),
            subscriber_primary,
            stats: stats.clone(),
            options: options.clone(),
            held_back: BinaryHeap::new(),
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ started.elapsed().as_nanos() as u64 | 1),
        };
        engine.offer_publisher()?;
        let task = tokio::spawn(engine.run(commands_rx));
        let ready = tokio::time::timeout(options.media_timeout, ready_rx).await;
        let failure = match ready {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e),
            Ok(Err(_)) => Some(ParticipantError(
                "the media engine stopped before the connection was up".into(),
            )),
            Err(_) => Some(ParticipantError(format!(
                "joined, but no media connection to {url} within {} s over {}: does the server's rtc.udp_port (or port range) or rtc.tcp_port answer from here? A firewall may block them",
                options.media_timeout.as_secs_f32(),
                match options.transport {
                    IceTransport::Auto => "UDP or TCP",
                    IceTransport::Udp => "UDP (try --transport auto)",
                    IceTransport::Tcp => "TCP (try --transport auto)",
                },
            ))),
        };
        if let Some(e) = failure {
            let _ = commands.send(Command::Leave);
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            return Err(e);
        }
        Ok(Participant {
            identity,
            sid,
            room,
            join_time,
            ready_time: started.elapsed(),
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
            .map_err(|_| ended())?;
        let (sid, cid) = tokio::time::timeout(self.media_timeout, answer)
            .await
            .map_err(|_| {
                ParticipantError(format!(
                    "the server did not publish track {name} within {} s",
                    self.media_timeout.as_secs_f32()
                ))
            })?
            .map_err(|_| ended())??;
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
            .map_err(|_| ended())
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

    /// Leaves the room and waits (at most 3 s) for the engine to finish.
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

/// The local address that routes to the server's host (no packet is sent).
async fn local_ip_towards(url: &str) -> Result<IpAddr, ParticipantError> {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = if authority
        .rsplit(':')
        .next()
        .is_some_and(|p| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:443")
    };
    let target = tokio::net::lookup_host(&host_port)
        .await
        .map_err(|e| ParticipantError(format!("cannot resolve {host_port}: {e}")))?
        .next()
        .ok_or_else(|| ParticipantError(format!("{host_port} resolves to no address")))?;
    let probe = UdpSocket::bind(if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .await
    .map_err(|e| ParticipantError(format!("cannot open a UDP socket: {e}")))?;
    probe
        .connect(target)
        .await
        .map_err(|e| ParticipantError(format!("no route to {target}: {e}")))?;
    probe
        .local_addr()
        .map(|a| a.ip())
        .map_err(|e| ParticipantError(format!("cannot read the local address: {e}")))
}

/// One peer connection, its UDP socket and its ICE-TCP connections.
struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    /// The UDP socket's address (our UDP candidate).
    local: SocketAddr,
    /// Our active TCP candidate's address (`ip:9`), the destination of what TCP brings.
    tcp_local: SocketAddr,
    tcp: TcpLinks,
    /// The TCP candidate held back until UDP had its head start (`Auto`), and when that ends
    /// (set once the remote description is applied).
    tcp_fallback: Option<(Candidate, Option<Instant>)>,
    timeout: Instant,
    /// ICE has a working pair (connected or completed).
    ice_up: bool,
    connected: bool,
    /// The protocol of the last packet sent once connected: the selected pair's.
    transport: Option<Protocol>,
}

impl Peer {
    async fn bind(ip: IpAddr, transport: IceTransport) -> Result<Peer, ParticipantError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| ParticipantError(format!("cannot bind a UDP socket on {ip}: {e}")))?;
        let local = socket
            .local_addr()
            .map_err(|e| ParticipantError(format!("cannot read the UDP address: {e}")))?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_stats_interval(Some(Duration::from_secs(1)))
            // Hand every packet over as it arrives: our jitter buffer orders them. str0m's own
            // reordering drops whatever sorts before the last packet it released, and LiveKit
            // keeps the SSRC of a recycled m-line while the next speaker's sequence numbers
            // may start lower: that speaker would never be heard.
            .set_reordering_size_audio(0)
            .build(Instant::now());
        if transport != IceTransport::Tcp {
            let candidate = Candidate::host(local, "udp")
                .map_err(|e| ParticipantError(format!("bad local candidate {local}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        let tcp_local = SocketAddr::new(ip, ice_tcp::ACTIVE_CANDIDATE_PORT);
        let tcp_candidate = Candidate::builder()
            .tcp()
            .host(tcp_local)
            .tcptype(TcpType::Active)
            .build()
            .map_err(|e| ParticipantError(format!("bad local candidate {tcp_local}: {e}")))?;
        let mut tcp_fallback = None;
        match transport {
            IceTransport::Tcp => {
                rtc.add_local_candidate(tcp_candidate);
            }
            IceTransport::Auto => tcp_fallback = Some((tcp_candidate, None)),
            IceTransport::Udp => {}
        }
        Ok(Peer {
            rtc,
            socket,
            local,
            tcp_local,
            tcp: TcpLinks::default(),
            tcp_fallback,
            timeout: Instant::now(),
            ice_up: false,
            connected: false,
            transport: None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Publisher,
    Subscriber,
}

struct LocalTrack {
    sid: String,
    /// Set when the track's m-line goes into an offer.
    mid: Option<Mid>,
    encoder: opus::Encoder,
    frames: u64,
    packet: Vec<u8>,
}

struct RemoteTrack {
    participant_sid: String,
    track_sid: String,
    decoder: opus::Decoder,
    jitter: JitterBuffer,
    pcm: Vec<i16>,
}

struct TextStream {
    participant: String,
    topic: String,
    attributes: HashMap<String, String>,
    chunks: BTreeMap<u64, Vec<u8>>,
}

/// An outgoing packet held back by [`NetworkConditions`].
struct HeldBack {
    due: Instant,
    side: Side,
    proto: Protocol,
    destination: SocketAddr,
    contents: Vec<u8>,
}

impl PartialEq for HeldBack {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for HeldBack {}
impl PartialOrd for HeldBack {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeldBack {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Earliest first out of the max-heap.
        other.due.cmp(&self.due)
    }
}

/// xorshift64*: enough randomness for packet loss, no dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Engine {
    signal: SignalSession,
    publisher: Peer,
    subscriber: Peer,
    pending_offer: Option<SdpPendingOffer>,
    /// A change came while an offer was out: offer again after the answer.
    renegotiate: bool,
    /// cid → (name, reply) until the server's `TrackPublished`.
    pending_publications: HashMap<String, (String, PublicationReply)>,
    /// Tracks in the offer that is out, replied to when its answer is applied.
    negotiating_tracks: Vec<(String, PublicationReply)>,
    local_tracks: HashMap<String, LocalTrack>,
    /// The data channels went into the first offer.
    channels_offered: bool,
    channels_pub: HashMap<String, ChannelId>,
    channels_sub: HashMap<ChannelId, String>,
    remote_tracks: HashMap<Mid, RemoteTrack>,
    /// mid → (stream id, track id) of the server's latest subscriber offer.
    offered_msids: HashMap<String, (String, String)>,
    /// sid → identity of everyone else in the room.
    participants: HashMap<String, String>,
    text_streams: HashMap<String, TextStream>,
    events: mpsc::UnboundedSender<ParticipantEvent>,
    ready: Option<oneshot::Sender<Result<(), ParticipantError>>>,
    /// The server sends us data on the subscriber connection (LiveKit's default): the join
    /// waits for its reliable channel too, or the first packets sent to us could be lost.
    subscriber_primary: bool,
    stats: Arc<Mutex<ParticipantStats>>,
    options: ParticipantOptions,
    held_back: BinaryHeap<HeldBack>,
    rng: Rng,
}

type PublicationReply = oneshot::Sender<Result<(String, String), ParticipantError>>;

impl Engine {
    fn peer(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::Publisher => &mut self.publisher,
            Side::Subscriber => &mut self.subscriber,
        }
    }

    fn with_stats(&self, f: impl FnOnce(&mut ParticipantStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn emit(&self, event: ParticipantEvent) {
        let _ = self.events.send(event);
    }

    /// Offers the publisher's current state (data channels, tracks) to the server.
    fn offer_publisher(&mut self) -> Result<(), ParticipantError> {
        if self.pending_offer.is_some() {
            self.renegotiate = true;
            return Ok(());
        }
        let mut api = self.publisher.rtc.sdp_api();
        for (cid, track) in &mut self.local_tracks {
            if track.mid.is_none() {
                track.mid = Some(api.add_media(
                    MediaKind::Audio,
                    Direction::SendOnly,
                    Some(cid.clone()),
                    Some(cid.clone()),
                    None,
                ));
            }
        }
        if !self.channels_offered {
            self.channels_offered = true;
            api.add_channel_with_config(ChannelConfig {
                label: RELIABLE_CHANNEL.into(),
                ordered: true,
                reliability: Reliability::Reliable,
                ..Default::default()
            });
            api.add_channel_with_config(ChannelConfig {
                label: LOSSY_CHANNEL.into(),
                ordered: false,
                reliability: Reliability::MaxRetransmits { retransmits: 0 },
                ..Default::default()
            });
        }
        let Some((offer, pending)) = api.apply() else {
            return Ok(());
        };
        self.pending_offer = Some(pending);
        self.signal
            .send(signal_request::Message::Offer(proto::SessionDescription {
                r#type: "offer".into(),
                sdp: offer.to_sdp_string(),
                ..Default::default()
            }))?;
        self.drain(Side::Publisher);
        Ok(())
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut pub_buf = vec![0u8; 2000];
        let mut sub_buf = vec![0u8; 2000];
        let closed = loop {
            self.drain(Side::Publisher);
            self.drain(Side::Subscriber);
            self.play_out(Instant::now());
            self.release_held_back(Instant::now());
            self.fall_back_to_tcp(Instant::now());
            let mut deadline = self.publisher.timeout.min(self.subscriber.timeout);
            if let Some(due) = self
                .remote_tracks
                .values()
                .filter_map(|t| t.jitter.next_due())
                .min()
            {
                deadline = deadline.min(due);
            }
            if let Some(held) = self.held_back.peek() {
                deadline = deadline.min(held.due);
            }
            for peer in [&self.publisher, &self.subscriber] {
                if let Some((_, Some(due))) = peer.tcp_fallback {
                    deadline = deadline.min(due);
                }
            }
            let deadline = deadline.max(Instant::now() + Duration::from_micros(200));
            tokio::select! {
                event = self.signal.next_event(Duration::from_secs(3600)) => {
                    match event {
                        Some(SignalEvent::Message(message)) => {
                            if let Err(e) = self.on_signal(*message) {
                                self.fail(e);
                            }
                        }
                        Some(SignalEvent::Reconnecting(reason)) => {
                            self.emit(ParticipantEvent::Reconnecting(reason));
                        }
                        Some(SignalEvent::Resumed { took, attempts }) => {
                            self.with_stats(|s| s.reconnections_ms.push(took.as_secs_f64() * 1000.0));
                            self.emit(ParticipantEvent::Reconnected { took, attempts });
                        }
                        Some(SignalEvent::Closed(closed)) => break closed,
                        None => {}
                    }
                }
                received = self.publisher.socket.recv_from(&mut pub_buf) => {
                    if let Ok((n, source)) = received {
                        self.on_datagram(Side::Publisher, Protocol::Udp, source, &pub_buf[..n]);
                    }
                }
                received = self.subscriber.socket.recv_from(&mut sub_buf) => {
                    if let Ok((n, source)) = received {
                        self.on_datagram(Side::Subscriber, Protocol::Udp, source, &sub_buf[..n]);
                    }
                }
                Some(inbound) = self.publisher.tcp.inbound.recv() => {
                    self.on_tcp(Side::Publisher, inbound);
                }
                Some(inbound) = self.subscriber.tcp.inbound.recv() => {
                    self.on_tcp(Side::Subscriber, inbound);
                }
                command = commands.recv() => {
                    match command {
                        Some(Command::Leave) | None => {
                            self.signal.close().await;
                            break Closed::Left;
                        }
                        Some(command) => {
                            if let Err(e) = self.on_command(command) {
                                tracing::warn!("{e}");
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    for side in [Side::Publisher, Side::Subscriber] {
                        let peer = self.peer(side);
                        if peer.timeout <= now {
                            let _ = peer.rtc.handle_input(Input::Timeout(now));
                        }
                    }
                }
            }
        };
        for peer in [&mut self.publisher, &mut self.subscriber] {
            peer.rtc.disconnect();
        }
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(ParticipantError(format!(
                "the session ended before the media connection was up: {closed:?}"
            ))));
        }
        self.emit(ParticipantEvent::Closed(closed));
    }

    fn fail(&mut self, e: ParticipantError) {
        tracing::warn!("participant: {e}");
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(e));
        }
    }

    fn on_tcp(&mut self, side: Side, inbound: TcpInbound) {
        match inbound {
            TcpInbound::Packet { remote, packet } => {
                self.on_datagram(side, Protocol::Tcp, remote, &packet)
            }
            TcpInbound::Closed { remote, reason } => {
                tracing::debug!("{reason}");
                self.peer(side).tcp.forget(remote);
            }
        }
    }

    fn on_datagram(&mut self, side: Side, proto: Protocol, source: SocketAddr, bytes: &[u8]) {
        if proto == Protocol::Udp && self.options.network.block_udp {
            return;
        }
        let peer = self.peer(side);
        let local = match proto {
            Protocol::Tcp => peer.tcp_local,
            _ => peer.local,
        };
        let Ok(receive) = Receive::new(proto, source, local, bytes) else {
            return;
        };
        let input = Input::Receive(Instant::now(), receive);
        if peer.rtc.accepts(&input) {
            let _ = peer.rtc.handle_input(input);
        }
    }

    fn on_command(&mut self, command: Command) -> Result<(), ParticipantError> {
        match command {
            Command::PublishAudio { name, reply } => {
                let cid = format!(
                    "TR_greenroom_{}",
                    self.local_tracks.len()
                        + self.pending_publications.len()
                        + self.negotiating_tracks.len()
                );
                self.signal
                    .send(signal_request::Message::AddTrack(proto::AddTrackRequest {
                        cid: cid.clone(),
                        name: name.clone(),
                        r#type: proto::TrackType::Audio as i32,
                        source: proto::TrackSource::Microphone as i32,
                        ..Default::default()
                    }))?;
                self.pending_publications.insert(cid, (name, reply));
            }
            Command::AudioFrame { cid, frame } => {
                let Some(track) = self.local_tracks.get_mut(&cid) else {
                    return Err(ParticipantError(format!("no published track {cid}")));
                };
                let n = track
                    .encoder
                    .encode(&frame[..], &mut track.packet)
                    .map_err(|e| ParticipantError(format!("Opus encoding failed: {e}")))?;
                let time = MediaTime::new(
                    track.frames * FRAME_SAMPLES as u64,
                    str0m::media::Frequency::FORTY_EIGHT_KHZ,
                );
                track.frames += 1;
                let data = track.packet[..n].to_vec();
                let Some(mid) = track.mid else {
                    return Ok(());
                };
                if let Some(writer) = self.publisher.rtc.writer(mid) {
                    let pt = writer
                        .payload_params()
                        .find(|p| p.spec().codec == Codec::Opus)
                        .map(|p| p.pt());
                    if let Some(pt) = pt {
                        writer
                            .write(pt, Instant::now(), time, data)
                            .map_err(|e| ParticipantError(format!("sending audio failed: {e}")))?;
                    }
                }
                self.drain(Side::Publisher);
            }
            Command::Data { payload, options } => {
                let label = if options.reliable {
                    RELIABLE_CHANNEL
                } else {
                    LOSSY_CHANNEL
                };
                let id = *self.channels_pub.get(label).ok_or_else(|| {
                    ParticipantError(format!("the {label} data channel is not open"))
                })?;
                let kind = if options.reliable {
                    proto::data_packet::Kind::Reliable
                } else {
                    proto::data_packet::Kind::Lossy
                };
                // `kind` and the user packet's own destinations are deprecated, but servers
                // before 1.7 still read them; the SDKs set both, so do we.
                #[allow(deprecated)]
                let packet = proto::DataPacket {
                    kind: kind as i32,
                    destination_identities: options.destinations.clone(),
                    value: Some(proto::data_packet::Value::User(proto::UserPacket {
                        payload,
                        topic: options.topic,
                        destination_identities: options.destinations,
                        ..Default::default()
                    })),
                    ..Default::default()
                };
                let bytes = packet.encode_to_vec();
                if let Some(mut channel) = self.publisher.rtc.channel(id) {
                    channel
                        .write(true, &bytes)
                        .map_err(|e| ParticipantError(format!("sending data failed: {e}")))?;
                }
                self.with_stats(|s| s.data_sent += 1);
                self.drain(Side::Publisher);
            }
            Command::Leave => {}
        }
        Ok(())
    }

    fn on_signal(&mut self, message: signal_response::Message) -> Result<(), ParticipantError> {
        use signal_response::Message as M;
        tracing::trace!(?message, "signal");
        match message {
            M::Offer(offer) => {
                self.offered_msids = offered_msids(&offer.sdp);
                let sdp = SdpOffer::from_sdp_string(&offer.sdp).map_err(|e| {
                    ParticipantError(format!("the server's offer does not parse: {e}"))
                })?;
                let answer = self
                    .subscriber
                    .rtc
                    .sdp_api()
                    .accept_offer(sdp)
                    .map_err(|e| {
                        ParticipantError(format!("cannot answer the server's offer: {e}"))
                    })?;
                self.signal
                    .send(signal_request::Message::Answer(proto::SessionDescription {
                        r#type: "answer".into(),
                        sdp: answer.to_sdp_string(),
                        id: offer.id,
                        ..Default::default()
                    }))?;
                self.kick(Side::Subscriber);
                let known: Vec<Mid> = self.remote_tracks.keys().copied().collect();
                for mid in known {
                    self.track_remote(mid);
                }
            }
            M::Answer(answer) => {
                let Some(pending) = self.pending_offer.take() else {
                    return Ok(());
                };
                let sdp = SdpAnswer::from_sdp_string(&answer.sdp).map_err(|e| {
                    ParticipantError(format!("the server's answer does not parse: {e}"))
                })?;
                self.publisher
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, sdp)
                    .map_err(|e| {
                        ParticipantError(format!("cannot apply the server's answer: {e}"))
                    })?;
                self.kick(Side::Publisher);
                for (cid, reply) in std::mem::take(&mut self.negotiating_tracks) {
                    let sid = self
                        .local_tracks
                        .get(&cid)
                        .map(|t| t.sid.clone())
                        .unwrap_or_default();
                    let _ = reply.send(Ok((sid, cid)));
                }
                if std::mem::take(&mut self.renegotiate) {
                    self.offer_publisher()?;
                }
            }
            M::Trickle(trickle) => {
                let side = if trickle.target == proto::SignalTarget::Subscriber as i32 {
                    Side::Subscriber
                } else {
                    Side::Publisher
                };
                if let Some(candidate) = parse_trickle(&trickle.candidate_init) {
                    self.peer(side).rtc.add_remote_candidate(candidate);
                    self.kick(side);
                }
            }
            M::TrackPublished(published) => {
                let Some((name, reply)) = self.pending_publications.remove(&published.cid) else {
                    return Ok(());
                };
                let sid = published.track.map(|t| t.sid).unwrap_or_default();
                let mut encoder =
                    opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                        .map_err(|e| {
                            ParticipantError(format!(
                                "cannot start the Opus encoder for {name}: {e}"
                            ))
                        })?;
                let _ = encoder.set_bitrate(opus::Bitrate::Bits(32_000));
                self.local_tracks.insert(
                    published.cid.clone(),
                    LocalTrack {
                        sid,
                        mid: None,
                        encoder,
                        frames: 0,
                        packet: vec![0; 1500],
                    },
                );
                self.negotiating_tracks.push((published.cid, reply));
                self.offer_publisher()?;
            }
            M::Update(update) => self.on_participants(&update),
            M::Leave(leave) => {
                tracing::info!(
                    "the server asks us to leave: {}",
                    signal::disconnect_reason(leave.reason)
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn on_participants(&mut self, update: &proto::ParticipantUpdate) {
        let (_, own_sid) = self.signal.participant();
        let own_sid = own_sid.to_string();
        for p in &update.participants {
            if p.sid == own_sid {
                continue;
            }
            let gone = p.state == proto::participant_info::State::Disconnected as i32;
            if gone {
                if let Some(identity) = self.participants.remove(&p.sid) {
                    self.emit(ParticipantEvent::ParticipantLeft {
                        sid: p.sid.clone(),
                        identity,
                    });
                }
            } else if !self.participants.contains_key(&p.sid) {
                self.participants.insert(p.sid.clone(), p.identity.clone());
                self.emit(ParticipantEvent::ParticipantJoined {
                    sid: p.sid.clone(),
                    identity: p.identity.clone(),
                });
            }
        }
        for (participant, state) in signal::agent_states(update) {
            self.emit(ParticipantEvent::AgentState { participant, state });
        }
    }

    /// Adds a connection's held-back TCP candidate once UDP's head start is over, unless a
    /// UDP pair already works.
    fn fall_back_to_tcp(&mut self, now: Instant) {
        for side in [Side::Publisher, Side::Subscriber] {
            let peer = self.peer(side);
            if !matches!(peer.tcp_fallback, Some((_, Some(due))) if due <= now) {
                continue;
            }
            let Some((candidate, _)) = peer.tcp_fallback.take() else {
                continue;
            };
            if peer.ice_up {
                continue;
            }
            tracing::debug!("no UDP pair answered yet: trying ICE over TCP too");
            peer.rtc.add_local_candidate(candidate);
            self.kick(side);
        }
    }

    /// Runs one connection's timers now, then drains it: after a description or candidate
    /// was applied, so that ICE starts its checks at once. str0m only recomputes its next
    /// timeout when input arrives, and the ICE agent starts checking on its first timeout:
    /// a subscriber whose server checks cannot reach us (UDP blocked) would otherwise never
    /// send a check of its own.
    fn kick(&mut self, side: Side) {
        let head_start = self.options.tcp_fallback_after;
        if let Some((_, due @ None)) = &mut self.peer(side).tcp_fallback {
            *due = Some(Instant::now() + head_start);
        }
        let _ = self
            .peer(side)
            .rtc
            .handle_input(Input::Timeout(Instant::now()));
        self.drain(side);
    }

    /// Polls one connection until it wants a timeout; sends, and handles its events.
    fn drain(&mut self, side: Side) {
        loop {
            let output = match self.peer(side).rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::warn!("media engine: {e}");
                    self.peer(side).timeout = Instant::now() + Duration::from_millis(50);
                    return;
                }
            };
            match output {
                Output::Timeout(at) => {
                    self.peer(side).timeout = at;
                    return;
                }
                Output::Transmit(t) => {
                    let contents: &[u8] = &t.contents;
                    // STUN (first byte 0–3, RFC 7983) checks any pair; everything else goes
                    // over the selected one.
                    if contents.first().is_some_and(|b| *b > 3) {
                        self.note_transport(side, t.proto);
                    }
                    self.transmit(side, t.proto, t.destination, contents.to_vec());
                }
                Output::Event(event) => self.on_rtc_event(side, event),
            }
        }
    }

    /// Once a connection is up, what it sends other than STUN goes over the selected pair:
    /// record its protocol in the stats when it changes.
    fn note_transport(&mut self, side: Side, proto: Protocol) {
        let peer = self.peer(side);
        if !peer.connected || peer.transport == Some(proto) {
            return;
        }
        peer.transport = Some(proto);
        let name = Some(proto.to_string());
        self.with_stats(|s| match side {
            Side::Publisher => s.publisher_transport = name,
            Side::Subscriber => s.subscriber_transport = name,
        });
    }

    fn transmit(
        &mut self,
        side: Side,
        proto: Protocol,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) {
        let conditions = self.options.network;
        if proto == Protocol::Udp && conditions.block_udp {
            self.with_stats(|s| s.packets_dropped_by_conditions += 1);
            return;
        }
        // `ready` is taken once the join completed: from then on, conditions apply.
        if !conditions.is_none() && self.ready.is_none() {
            if conditions.loss > 0.0 && self.rng.next_f64() < conditions.loss {
                self.with_stats(|s| s.packets_dropped_by_conditions += 1);
                return;
            }
            let extra =
                conditions.latency_ms as f64 + conditions.jitter_ms as f64 * self.rng.next_f64();
            if extra > 0.0 {
                self.held_back.push(HeldBack {
                    due: Instant::now() + Duration::from_secs_f64(extra / 1000.0),
                    side,
                    proto,
                    destination,
                    contents,
                });
                return;
            }
        }
        self.send_now(side, proto, destination, contents);
    }

    fn send_now(
        &mut self,
        side: Side,
        proto: Protocol,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) {
        let peer = self.peer(side);
        match proto {
            Protocol::Udp => {
                let _ = peer.socket.try_send_to(&contents, destination);
            }
            _ => peer.tcp.send(destination, &contents),
        }
    }

    fn release_held_back(&mut self, now: Instant) {
        while self.held_back.peek().is_some_and(|h| h.due <= now) {
            if let Some(held) = self.held_back.pop() {
                self.send_now(held.side, held.proto, held.destination, held.contents);
            }
        }
    }

    fn on_rtc_event(&mut self, side: Side, event: Event) {
        match event {
            Event::Connected => self.peer(side).connected = true,
            Event::IceConnectionStateChange(state) => {
                let peer = self.peer(side);
                peer.ice_up = matches!(
                    state,
                    IceConnectionState::Connected | IceConnectionState::Completed
                );
                if state == IceConnectionState::Disconnected {
                    peer.connected = false;
                }
            }
            Event::ChannelOpen(id, label) => {
                match side {
                    Side::Publisher => {
                        self.channels_pub.insert(label, id);
                    }
                    Side::Subscriber => {
                        self.channels_sub.insert(id, label);
                    }
                }
                let publisher_ready = self.channels_pub.contains_key(RELIABLE_CHANNEL)
                    && self.channels_pub.contains_key(LOSSY_CHANNEL);
                let subscriber_ready = !self.subscriber_primary
                    || self.channels_sub.values().any(|l| l == RELIABLE_CHANNEL);
                if publisher_ready
                    && subscriber_ready
                    && let Some(ready) = self.ready.take()
                {
                    let _ = ready.send(Ok(()));
                }
            }
            Event::ChannelData(data) => {
                let reliable = match side {
                    Side::Subscriber => self
                        .channels_sub
                        .get(&data.id)
                        .is_none_or(|l| l != LOSSY_CHANNEL),
                    Side::Publisher => self.channels_pub.get(LOSSY_CHANNEL) != Some(&data.id),
                };
                self.on_data_packet(&data.data, reliable);
            }
            Event::MediaAdded(added)
                if side == Side::Subscriber && added.kind == MediaKind::Audio =>
            {
                self.track_remote(added.mid);
            }
            Event::MediaChanged(changed) if side == Side::Subscriber => {
                self.track_remote(changed.mid);
            }
            Event::MediaData(data) => {
                if let Some(track) = self.remote_tracks.get_mut(&data.mid) {
                    track
                        .jitter
                        .push(data.time.numer(), data.data.to_vec(), data.network_time);
                }
            }
            Event::PeerStats(peer) => {
                let (sent, received) = (peer.peer_bytes_tx, peer.peer_bytes_rx);
                self.with_stats(|s| match side {
                    Side::Publisher => s.bytes_sent = sent,
                    Side::Subscriber => s.bytes_received = received,
                });
            }
            Event::MediaEgressStats(egress) => {
                let rtt = egress.rtt.map(|r| r.as_secs_f64() * 1000.0);
                let loss = egress.loss.map(f64::from);
                let packets = egress.packets;
                self.with_stats(|s| {
                    s.packets_sent = packets;
                    if rtt.is_some() {
                        s.media_rtt_ms = rtt;
                    }
                    if loss.is_some() {
                        s.egress_loss = loss;
                    }
                });
            }
            Event::MediaIngressStats(ingress) => {
                let loss = ingress.loss.map(f64::from);
                let packets = ingress.packets;
                self.with_stats(|s| {
                    s.packets_received = packets;
                    if loss.is_some() {
                        s.ingress_loss = loss;
                    }
                });
            }
            _ => {}
        }
    }

    /// Maps a subscriber m-line to the track it carries now. LiveKit recycles m-lines: when
    /// one carries another participant's track (a new stream id in a later offer), the
    /// track starts afresh (decoder, jitter buffer) and is announced again.
    fn track_remote(&mut self, mid: Mid) {
        let Some(media) = self.subscriber.rtc.media(mid) else {
            return;
        };
        if media.kind() != MediaKind::Audio {
            return;
        }
        // Our direction: no "recv" in it means the server stopped sending on this m-line.
        if matches!(media.direction(), Direction::Inactive | Direction::SendOnly) {
            self.remote_tracks.remove(&mid);
            return;
        }
        // str0m keeps an m-line's first msid; the latest offer says what it carries now.
        let (participant_sid, track_sid) = match self.offered_msids.get(&mid.to_string()) {
            Some((stream, track)) => split_stream_id(stream, track),
            None => split_stream_id(media.stream_id(), media.track_id()),
        };
        if self
            .remote_tracks
            .get(&mid)
            .is_some_and(|t| t.participant_sid == participant_sid && t.track_sid == track_sid)
        {
            return;
        }
        let Ok(decoder) = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono) else {
            return;
        };
        let participant = self.identity_of(&participant_sid);
        self.remote_tracks.insert(
            mid,
            RemoteTrack {
                participant_sid,
                track_sid: track_sid.clone(),
                decoder,
                jitter: JitterBuffer::new(
                    SAMPLE_RATE,
                    FRAME_SAMPLES as u32,
                    self.options.jitter_delay,
                ),
                pcm: vec![0; FRAME_SAMPLES * 6],
            },
        );
        self.emit(ParticipantEvent::TrackSubscribed {
            participant,
            track_sid,
        });
    }

    fn identity_of(&self, sid: &str) -> String {
        self.participants
            .get(sid)
            .cloned()
            .unwrap_or_else(|| sid.to_string())
    }

    fn on_data_packet(&mut self, bytes: &[u8], reliable: bool) {
        let Ok(packet) = proto::DataPacket::decode(bytes) else {
            tracing::debug!("a data packet we cannot read ({} bytes)", bytes.len());
            return;
        };
        let from = if packet.participant_identity.is_empty() {
            self.identity_of(&packet.participant_sid)
        } else {
            packet.participant_identity.clone()
        };
        use proto::data_packet::Value;
        match packet.value {
            Some(Value::User(user)) => {
                #[allow(deprecated)]
                let participant = if from.is_empty() {
                    user.participant_identity
                } else {
                    from
                };
                self.with_stats(|s| s.data_received += 1);
                self.emit(ParticipantEvent::Data {
                    participant,
                    topic: user.topic,
                    payload: user.payload,
                    reliable,
                    received_at: Instant::now(),
                });
            }
            Some(Value::StreamHeader(header)) => {
                self.text_streams.insert(
                    header.stream_id.clone(),
                    TextStream {
                        participant: from,
                        topic: header.topic,
                        attributes: header.attributes,
                        chunks: BTreeMap::new(),
                    },
                );
            }
            Some(Value::StreamChunk(chunk)) => {
                if let Some(stream) = self.text_streams.get_mut(&chunk.stream_id) {
                    stream.chunks.insert(chunk.chunk_index, chunk.content);
                }
            }
            Some(Value::StreamTrailer(trailer)) => {
                if let Some(stream) = self.text_streams.remove(&trailer.stream_id) {
                    let bytes: Vec<u8> = stream.chunks.into_values().flatten().collect();
                    let mut attributes = stream.attributes;
                    attributes.extend(trailer.attributes);
                    self.emit(ParticipantEvent::Text {
                        participant: stream.participant,
                        topic: stream.topic,
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                        attributes,
                    });
                }
            }
            _ => {}
        }
    }

    /// Decodes every frame the jitter buffers release now.
    fn play_out(&mut self, now: Instant) {
        let mut frames = Vec::new();
        let mut totals = JitterStats::default();
        for track in self.remote_tracks.values_mut() {
            for slot in track.jitter.pop_ready(now) {
                let (decoded, concealed) = match &slot {
                    Playout::Frame { data, .. } => {
                        (track.decoder.decode(data, &mut track.pcm, false), false)
                    }
                    Playout::Missing { .. } => {
                        (track.decoder.decode(&[], &mut track.pcm, false), true)
                    }
                };
                let Ok(n) = decoded else {
                    continue;
                };
                frames.push(AudioFrame {
                    participant: track.participant_sid.clone(),
                    track_sid: track.track_sid.clone(),
                    samples: track.pcm[..n].to_vec(),
                    concealed,
                    played_at: now,
                });
            }
            let s = track.jitter.stats();
            totals.played += s.played;
            totals.concealed += s.concealed;
            totals.late += s.late;
            totals.jitter_ms = totals.jitter_ms.max(s.jitter_ms);
        }
        if !self.remote_tracks.is_empty() {
            self.with_stats(|s| {
                s.audio_frames_played = totals.played;
                s.audio_frames_concealed = totals.concealed;
                s.audio_frames_late = totals.late;
                s.ingress_jitter_ms = totals.jitter_ms;
            });
        }
        for mut frame in frames {
            frame.participant = self.identity_of(&frame.participant);
            self.emit(ParticipantEvent::Audio(frame));
        }
    }
}

/// `PA_xxx|TR_xxx` (LiveKit's stream id) → (participant sid, track sid).
pub fn split_stream_id(stream_id: &str, track_id: &str) -> (String, String) {
    match stream_id.split_once('|') {
        Some((participant, track)) => (participant.to_string(), track.to_string()),
        None => (stream_id.to_string(), track_id.to_string()),
    }
}

/// mid → (stream id, track id) from an SDP's `a=mid:` and `a=msid:` lines, per m-section.
pub fn offered_msids(sdp: &str) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for section in sdp.split("\nm=").skip(1) {
        let mut mid = None;
        let mut msid = None;
        for line in section.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("a=mid:") {
                mid = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("a=msid:") {
                let mut parts = v.split_whitespace();
                if let (Some(stream), Some(track)) = (parts.next(), parts.next()) {
                    msid = Some((stream.to_string(), track.to_string()));
                }
            }
        }
        if let (Some(mid), Some(msid)) = (mid, msid) {
            out.insert(mid, msid);
        }
    }
    out
}

/// A trickled `RTCIceCandidateInit` JSON → a candidate (`None` for end-of-candidates or
/// anything we cannot read).
pub fn parse_trickle(candidate_init: &str) -> Option<Candidate> {
    let value: serde_json::Value = serde_json::from_str(candidate_init).ok()?;
    let line = value.get("candidate")?.as_str()?.trim();
    if line.is_empty() {
        return None;
    }
    let line = line.strip_prefix("a=").unwrap_or(line);
    Candidate::from_sdp_string(line)
        .or_else(|_| {
            Candidate::from_sdp_string(&format!(
                "candidate:{}",
                line.trim_start_matches("candidate:")
            ))
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_split_into_participant_and_track() {
        assert_eq!(
            split_stream_id("PA_abc|TR_def", "TR_def"),
            ("PA_abc".to_string(), "TR_def".to_string())
        );
        assert_eq!(
            split_stream_id("PA_abc", "TR_x"),
            ("PA_abc".to_string(), "TR_x".to_string())
        );
    }

    #[test]
    fn msids_are_read_per_m_section() {
        let sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=msid:PA_a|TR_b TR_b\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=recvonly\r\n";
        let msids = offered_msids(sdp);
        assert_eq!(msids.len(), 1);
        assert_eq!(msids["1"], ("PA_a|TR_b".to_string(), "TR_b".to_string()));
    }

    #[test]
    fn trickled_candidates_parse_and_the_end_marker_is_none() {
        let c = parse_trickle(r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0","sdpMLineIndex":0}"#)
            .expect("a host candidate");
        assert_eq!(c.addr(), "127.0.0.1:7882".parse().unwrap());
        assert!(parse_trickle(r#"{"candidate":"","sdpMid":"0"}"#).is_none());
        assert!(parse_trickle("not json").is_none());
    }

    #[test]
    fn conditions_drop_about_their_share() {
        let mut rng = Rng(12345);
        let dropped = (0..10_000).filter(|_| rng.next_f64() < 0.1).count();
        assert!((800..1200).contains(&dropped), "{dropped}");
    }
}
