//! The media loop: the one task that owns the signalling session, both peer connections
//! and every socket, and drives them.
//!
//! Why it exists: `str0m` is sans-I/O: a connection only moves when it is given input
//! (a packet, a timeout) and polled for output. One task doing that for both connections
//! keeps every ordering question (an answer before its candidates, a track before its
//! frames) in one place, with no lock on the hot path.
//!
//! Exact semantics, each turn of [`MediaLoop::run`]:
//! 1. Both connections are drained (packets sent through the [`Shaper`], events handled),
//!    the jitter buffers play out what is due, held-back packets that are due go out, and a
//!    held-back TCP candidate is added if UDP's head start is over and no pair works.
//! 2. It then waits for the first of: a signalling event, a UDP datagram or a TCP packet on
//!    either connection, a command from [`super::Participant`] or [`super::AudioTrack`], or
//!    the earliest deadline (a connection's timeout, a frame due, a held-back packet due, the
//!    end of UDP's head start; at least 200 µs away).
//! 3. It ends when the session closes or [`Command::Leave`] comes (or every handle is
//!    dropped): both connections are disconnected, a join still waiting gets its error, and
//!    [`ParticipantEvent::Closed`] is the last event.
//!
//! The join is ready (the `ready` sender fires, with the join's [`Timeline`]) once the
//! publisher's `_reliable` and `_lossy` channels are open and, when the server says
//! `subscriber_primary`, the subscriber's `_reliable` one too. Network conditions other than
//! a blocked UDP apply from then on.
//!
//! How a join stays quick (on loopback, JoinResponse to ready in about 10 to 25 ms; see
//! `benches/media.rs`): both connections come up at once, each description or candidate
//! is acted on at once ([`MediaLoop::kick`]), and a connectivity check from the server
//! while ICE is not up is answered with a triggered check ([`MediaLoop::triggered_check`]).
//! That last one is most of it: the server offers the subscriber connection, so it controls
//! that connection's ICE, and its agent (pion) nominates a pair either at once, when a
//! check of ours reaches it on a pair its own check has shown to work, or else on its next
//! check tick, 200 ms later. libwebrtc (the official SDKs) sends that triggered check;
//! without it every join waited for the tick. (We offer the publisher connection and
//! control it: `str0m` nominates as soon as a check of its own is answered.)

use super::network::{Shaper, Verdict};
use super::peer::{Peer, Side};
use super::room::RoomState;
use super::sdp::{offered_msids, parse_trickle, split_stream_id};
use super::stun::{self, Class, Role};
use super::timeline::{JoinStep, Timeline};
use super::{
    AudioFrame, DataOptions, LOSSY_CHANNEL, ParticipantError, ParticipantEvent, ParticipantOptions,
    ParticipantStats, RELIABLE_CHANNEL,
};
use crate::audio::{FRAME_SAMPLES, Frame, SAMPLE_RATE};
use crate::ice_tcp::TcpInbound;
use crate::jitter::{JitterBuffer, JitterStats, Playout};
use crate::signal::{self, Closed, SignalEvent, SignalSession};
use livekit_protocol::{self as proto, signal_request, signal_response};
use prost::Message as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output};
use tokio::sync::{mpsc, oneshot};

/// At most how many times [`MediaLoop::kick`] runs a connection's timers in a row.
const KICK_ROUNDS: usize = 4;

/// What the participant's handles ask of the loop.
pub(super) enum Command {
    PublishAudio {
        name: String,
        reply: PublicationReply,
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

/// Answers a publication with (track sid, cid) once the publisher was renegotiated.
pub(super) type PublicationReply = oneshot::Sender<Result<(String, String), ParticipantError>>;

/// Fires once the join is ready (with the steps it took), or with the reason it never will be.
pub(super) type Ready = oneshot::Sender<Result<Vec<JoinStep>, ParticipantError>>;

/// Where the loop reports to the participant's handles.
pub(super) struct Reports {
    pub(super) events: mpsc::UnboundedSender<ParticipantEvent>,
    pub(super) stats: Arc<Mutex<ParticipantStats>>,
    pub(super) ready: Ready,
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

/// A packet a connection wants sent.
struct Transmit {
    side: Side,
    proto: Protocol,
    destination: SocketAddr,
    contents: Vec<u8>,
}

pub(super) struct MediaLoop {
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
    /// Who is in the room, and the text streams being received.
    room: RoomState,
    events: mpsc::UnboundedSender<ParticipantEvent>,
    ready: Option<Ready>,
    /// The server sends us data on the subscriber connection (LiveKit's default): the join
    /// waits for its reliable channel too, or the first packets sent to us could be lost.
    subscriber_primary: bool,
    stats: Arc<Mutex<ParticipantStats>>,
    options: ParticipantOptions,
    shaper: Shaper<Transmit>,
    timeline: Timeline,
}

impl MediaLoop {
    /// A loop for a joined `signal` session and the two bound connections; sends the
    /// publisher's first offer (the data channels). `seed` seeds the network shaping;
    /// `started` is when the join started (the origin of its timeline).
    pub(super) fn start(
        signal: SignalSession,
        publisher: Peer,
        subscriber: Peer,
        options: &ParticipantOptions,
        reports: Reports,
        seed: u64,
        started: Instant,
    ) -> Result<MediaLoop, ParticipantError> {
        let (_, own_sid) = signal.participant();
        let room = RoomState::new(
            own_sid,
            signal
                .join
                .other_participants
                .iter()
                .map(|p| (p.sid.clone(), p.identity.clone())),
        );
        let subscriber_primary = signal.join.subscriber_primary;
        let mut timeline = Timeline::new(started);
        timeline.mark_at(None, "JoinResponse", started + signal.join_time);
        timeline.mark(None, "connections bound");
        let mut media = MediaLoop {
            signal,
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
            room,
            events: reports.events,
            ready: Some(reports.ready),
            subscriber_primary,
            stats: reports.stats,
            options: options.clone(),
            shaper: Shaper::new(options.network, seed),
            timeline,
        };
        media.offer_publisher()?;
        Ok(media)
    }

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
        self.timeline.mark(Some(Side::Publisher), "offer sent");
        self.drain(Side::Publisher);
        Ok(())
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
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
            if let Some(due) = self.shaper.next_due() {
                deadline = deadline.min(due);
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
            let _ = ready.send(Err(ParticipantError::EndedBeforeMedia(closed.clone())));
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
        if !self.shaper.accepts_incoming(proto == Protocol::Udp) {
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
        if !peer.rtc.accepts(&input) {
            return;
        }
        let _ = peer.rtc.handle_input(input);
        if self.note_incoming(side, bytes) {
            self.triggered_check(side, proto, source);
        }
    }

    /// Marks the join steps an incoming packet shows. `true` for the remote agent's
    /// connectivity check while ICE is not up yet: time for a triggered check.
    fn note_incoming(&mut self, side: Side, bytes: &[u8]) -> bool {
        match bytes.first() {
            Some(0..=3) => {
                let Some(binding) = stun::parse(bytes) else {
                    return false;
                };
                match binding.class {
                    Class::Request => {
                        self.timeline.mark(Some(side), "first check received");
                        if binding.use_candidate {
                            self.timeline.mark(Some(side), "nomination received");
                        }
                        !self.peer(side).ice_up
                    }
                    Class::Success => {
                        self.timeline.mark(Some(side), "first check answered");
                        false
                    }
                    _ => false,
                }
            }
            Some(20..=63) if !self.peer(side).connected => {
                self.timeline.mark(Some(side), "DTLS first packet received");
                false
            }
            _ => false,
        }
    }

    /// Marks the join steps an outgoing packet shows, and keeps the latest connectivity
    /// check sent as the controlled agent to each address while ICE is not up.
    fn note_outgoing(
        &mut self,
        side: Side,
        proto: Protocol,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        match bytes.first() {
            Some(0..=3) => {
                let Some(binding) = stun::parse(bytes) else {
                    return;
                };
                if binding.class != Class::Request {
                    return;
                }
                self.timeline.mark(Some(side), "first check sent");
                if binding.use_candidate {
                    self.timeline.mark(Some(side), "nomination sent");
                }
                let peer = self.peer(side);
                if binding.role == Some(Role::Controlled) && !peer.ice_up {
                    peer.latest_checks
                        .insert((proto, destination), bytes.to_vec());
                }
            }
            Some(20..=63) if !self.peer(side).connected => {
                self.timeline.mark(Some(side), "DTLS first packet sent");
            }
            _ => {}
        }
    }

    /// A triggered check (RFC 8445 §7.3.1.4), as libwebrtc sends one: the remote agent just
    /// checked a pair, so check it back now. A controlling LiveKit server (pion) nominates at
    /// once when a check reaches it on a pair it has already seen work, and otherwise only
    /// on its next check tick, 200 ms apart; once `str0m`'s answer to the server's check
    /// (sent first, by the drain below) arrives, the pair has worked. `str0m` cannot be
    /// asked for a check at a given time, so this resends its latest check to that address
    /// (same transaction: a STUN retransmission, RFC 8489 §6.2.1). Only while ICE is not up,
    /// and only a check `str0m` sent as the controlled agent: a controlling `str0m`
    /// nominates by itself. No check sent to that address yet: nothing to resend (`str0m`'s
    /// first check will arrive after its answer anyway).
    fn triggered_check(&mut self, side: Side, proto: Protocol, remote: SocketAddr) {
        self.drain(side);
        let peer = self.peer(side);
        if peer.ice_up {
            return;
        }
        let Some(check) = peer.latest_checks.get(&(proto, remote)).cloned() else {
            return;
        };
        self.timeline.mark(Some(side), "triggered check sent");
        self.transmit(Transmit {
            side,
            proto,
            destination: remote,
            contents: check,
        });
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
                    return Err(ParticipantError::UnknownTrack { cid });
                };
                let n = track
                    .encoder
                    .encode(&frame[..], &mut track.packet)
                    .map_err(|e| ParticipantError::Encode(e.to_string()))?;
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
                        writer.write(pt, Instant::now(), time, data).map_err(|e| {
                            ParticipantError::SendFailed {
                                what: "audio",
                                reason: e.to_string(),
                            }
                        })?;
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
                    ParticipantError::ChannelNotOpen {
                        label: label.to_string(),
                    }
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
                        .map_err(|e| ParticipantError::SendFailed {
                            what: "data",
                            reason: e.to_string(),
                        })?;
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
                self.timeline.mark(Some(Side::Subscriber), "offer received");
                self.offered_msids = offered_msids(&offer.sdp);
                let sdp = SdpOffer::from_sdp_string(&offer.sdp).map_err(|e| {
                    ParticipantError::UnreadableDescription {
                        kind: "offer",
                        reason: e.to_string(),
                    }
                })?;
                let answer = self
                    .subscriber
                    .rtc
                    .sdp_api()
                    .accept_offer(sdp)
                    .map_err(|e| ParticipantError::OfferRejected(e.to_string()))?;
                self.signal
                    .send(signal_request::Message::Answer(proto::SessionDescription {
                        r#type: "answer".into(),
                        sdp: answer.to_sdp_string(),
                        id: offer.id,
                        ..Default::default()
                    }))?;
                self.timeline.mark(Some(Side::Subscriber), "answer sent");
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
                self.timeline.mark(Some(Side::Publisher), "answer received");
                let sdp = SdpAnswer::from_sdp_string(&answer.sdp).map_err(|e| {
                    ParticipantError::UnreadableDescription {
                        kind: "answer",
                        reason: e.to_string(),
                    }
                })?;
                self.publisher
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, sdp)
                    .map_err(|e| ParticipantError::AnswerRejected(e.to_string()))?;
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
                    self.timeline.mark(Some(side), "first candidate trickled");
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
                        .map_err(|e| ParticipantError::Encoder {
                            track: name.clone(),
                            reason: e.to_string(),
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
            M::Update(update) => {
                for event in self.room.on_update(&update) {
                    self.emit(event);
                }
            }
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
    /// send a check of its own. The ICE agent does one thing per timeout, then waits its
    /// pacing (Ta, 50 ms): first it answers one check that arrived before the remote
    /// credentials (the server checks us as soon as it has our offer, often before its
    /// answer reaches us), and only on a later timeout does it check a pair. So the timers
    /// run again while a round sends something, up to [`KICK_ROUNDS`] times.
    fn kick(&mut self, side: Side) {
        let head_start = self.options.tcp_fallback_after;
        if let Some((_, due @ None)) = &mut self.peer(side).tcp_fallback {
            *due = Some(Instant::now() + head_start);
        }
        for _ in 0..KICK_ROUNDS {
            let _ = self
                .peer(side)
                .rtc
                .handle_input(Input::Timeout(Instant::now()));
            if self.drain(side) == 0 {
                break;
            }
        }
    }

    /// Polls one connection until it wants a timeout; sends, and handles its events.
    /// Returns how many packets it had to send.
    fn drain(&mut self, side: Side) -> usize {
        let mut sent = 0;
        loop {
            let output = match self.peer(side).rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::warn!("media engine: {e}");
                    self.peer(side).timeout = Instant::now() + Duration::from_millis(50);
                    return sent;
                }
            };
            match output {
                Output::Timeout(at) => {
                    self.peer(side).timeout = at;
                    return sent;
                }
                Output::Transmit(t) => {
                    sent += 1;
                    let contents: &[u8] = &t.contents;
                    // STUN (first byte 0–3, RFC 7983) checks any pair; everything else goes
                    // over the selected one.
                    if contents.first().is_some_and(|b| *b > 3) {
                        self.note_transport(side, t.proto);
                    }
                    self.note_outgoing(side, t.proto, t.destination, contents);
                    self.transmit(Transmit {
                        side,
                        proto: t.proto,
                        destination: t.destination,
                        contents: contents.to_vec(),
                    });
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

    /// Sends a packet through the network conditions: now, later, or never.
    fn transmit(&mut self, packet: Transmit) {
        let udp = packet.proto == Protocol::Udp;
        // `ready` is taken once the join completed: from then on, conditions apply.
        let degrade = self.ready.is_none();
        match self.shaper.outgoing(packet, udp, degrade, Instant::now()) {
            Verdict::Send(packet) => self.send_now(packet),
            Verdict::Dropped => self.with_stats(|s| s.packets_dropped_by_conditions += 1),
            Verdict::Held => {}
        }
    }

    fn send_now(&mut self, packet: Transmit) {
        let peer = self.peer(packet.side);
        match packet.proto {
            Protocol::Udp => {
                let _ = peer
                    .socket
                    .try_send_to(&packet.contents, packet.destination);
            }
            _ => peer.tcp.send(packet.destination, &packet.contents),
        }
    }

    fn release_held_back(&mut self, now: Instant) {
        while let Some(packet) = self.shaper.pop_due(now) {
            self.send_now(packet);
        }
    }

    fn on_rtc_event(&mut self, side: Side, event: Event) {
        match event {
            Event::Connected => {
                self.timeline.mark(Some(side), "DTLS connected");
                self.peer(side).connected = true;
            }
            Event::IceConnectionStateChange(state) => {
                let peer = self.peer(side);
                peer.ice_up = matches!(
                    state,
                    IceConnectionState::Connected | IceConnectionState::Completed
                );
                if state == IceConnectionState::Disconnected {
                    peer.connected = false;
                }
                if peer.ice_up {
                    peer.latest_checks.clear();
                    self.timeline.mark(Some(side), "ICE connected");
                }
            }
            Event::ChannelOpen(id, label) => {
                self.timeline.mark(
                    Some(side),
                    match label.as_str() {
                        RELIABLE_CHANNEL => "_reliable open",
                        LOSSY_CHANNEL => "_lossy open",
                        _ => "other channel open",
                    },
                );
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
                    self.timeline.mark(None, "ready");
                    let _ = ready.send(Ok(self.timeline.steps()));
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
                if let Some(event) = self
                    .room
                    .on_data_packet(&data.data, reliable, Instant::now())
                {
                    if matches!(event, ParticipantEvent::Data { .. }) {
                        self.with_stats(|s| s.data_received += 1);
                    }
                    self.emit(event);
                }
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
        let participant = self.room.identity_of(&participant_sid);
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
            frame.participant = self.room.identity_of(&frame.participant);
            self.emit(ParticipantEvent::Audio(frame));
        }
    }
}
