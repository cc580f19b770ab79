//! Binding one of the participant's two peer connections to the network: the local
//! address that routes to the server, a UDP socket on it, and the ICE candidates offered.
//!
//! Why it exists: which candidates a connection offers, and when, decides whether it works
//! behind a firewall; that policy lives here, apart from the loop that drives the
//! connections ([`super::media_loop`]).
//!
//! Exact semantics:
//! - [`local_ip_towards`]: the local address the OS would use to reach the server's host
//!   (port 443 when the URL names none), found by connecting a UDP socket (no packet is
//!   sent).
//! - [`Peer::bind`]: a `str0m` connection (Opus only, stats every second, no reordering of
//!   audio by `str0m`: our jitter buffer orders packets), built on tokio's blocking pool
//!   (it is CPU work: a DTLS certificate), with a UDP socket on an ephemeral port of that
//!   address. Candidates by [`IceTransport`]: `Udp` a UDP host candidate only;
//!   `Tcp` an active TCP host candidate only (`ip:9`, RFC 6544); `Auto` the UDP one now and
//!   the TCP one held in [`Peer::tcp_fallback`], added by the media loop when UDP's head
//!   start is over and no pair works yet.

use super::{IceTransport, ParticipantError};
use crate::ice_tcp::{self, TcpLinks};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use str0m::net::{Protocol, TcpType};
use str0m::{Candidate, Rtc};
use tokio::net::UdpSocket;

/// Which of the two peer connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// We offer, the server answers: our tracks and our data.
    Publisher,
    /// The server offers, we answer: the others' tracks and data.
    Subscriber,
}

impl Side {
    pub(super) fn name(self) -> &'static str {
        match self {
            Side::Publisher => "publisher",
            Side::Subscriber => "subscriber",
        }
    }
}

/// One peer connection, its UDP socket and its ICE-TCP connections.
pub(super) struct Peer {
    pub(super) rtc: Rtc,
    pub(super) socket: UdpSocket,
    /// The UDP socket's address (our UDP candidate).
    pub(super) local: SocketAddr,
    /// Our active TCP candidate's address (`ip:9`), the destination of what TCP brings.
    pub(super) tcp_local: SocketAddr,
    pub(super) tcp: TcpLinks,
    /// The TCP candidate held back until UDP had its head start (`Auto`), and when that ends
    /// (set once the remote description is applied).
    pub(super) tcp_fallback: Option<(Candidate, Option<Instant>)>,
    pub(super) timeout: Instant,
    /// ICE has a working pair (connected or completed).
    pub(super) ice_up: bool,
    pub(super) connected: bool,
    /// The protocol of the last packet sent once connected: the selected pair's.
    pub(super) transport: Option<Protocol>,
    /// Until ICE is up: the latest connectivity check `str0m` sent to each remote address
    /// as the controlled agent, resent as a triggered check (see the media loop).
    pub(super) latest_checks: HashMap<(Protocol, SocketAddr), Vec<u8>>,
}

impl Peer {
    pub(super) async fn bind(
        ip: IpAddr,
        transport: IceTransport,
    ) -> Result<Peer, ParticipantError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| ParticipantError::socket(format!("bind a UDP socket on {ip}"), e))?;
        let local = socket
            .local_addr()
            .map_err(|e| ParticipantError::socket("read the UDP address", e))?;
        // Building a connection makes its DTLS certificate (and the first one in a process
        // starts the crypto library): CPU work, done off the async workers so that it runs
        // alongside the signalling connection (see `Participant::join`).
        let build = || {
            Rtc::builder()
                .clear_codecs()
                .enable_opus(true, false)
                .set_stats_interval(Some(Duration::from_secs(1)))
                // Hand every packet over as it arrives: our jitter buffer orders them. str0m's
                // own reordering drops whatever sorts before the last packet it released, and
                // LiveKit keeps the SSRC of a recycled m-line while the next speaker's
                // sequence numbers may start lower: that speaker would never be heard.
                .set_reordering_size_audio(0)
                .build(Instant::now())
        };
        let mut rtc = tokio::task::spawn_blocking(build)
            .await
            .map_err(|_| ParticipantError::MediaLoopStopped)?;
        if transport != IceTransport::Tcp {
            let candidate =
                Candidate::host(local, "udp").map_err(|e| ParticipantError::LocalCandidate {
                    addr: local,
                    reason: e.to_string(),
                })?;
            rtc.add_local_candidate(candidate);
        }
        let tcp_local = SocketAddr::new(ip, ice_tcp::ACTIVE_CANDIDATE_PORT);
        let tcp_candidate = Candidate::builder()
            .tcp()
            .host(tcp_local)
            .tcptype(TcpType::Active)
            .build()
            .map_err(|e| ParticipantError::LocalCandidate {
                addr: tcp_local,
                reason: e.to_string(),
            })?;
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
            latest_checks: HashMap::new(),
        })
    }
}

/// The local address that routes to the server's host (no packet is sent).
pub(super) async fn local_ip_towards(url: &str) -> Result<IpAddr, ParticipantError> {
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
        .map_err(|e| ParticipantError::Unresolved {
            host_port: host_port.clone(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| ParticipantError::NoAddress {
            host_port: host_port.clone(),
        })?;
    let probe = UdpSocket::bind(if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .await
    .map_err(|e| ParticipantError::socket("open a UDP socket", e))?;
    probe
        .connect(target)
        .await
        .map_err(|e| ParticipantError::NoRoute {
            target,
            reason: e.to_string(),
        })?;
    probe
        .local_addr()
        .map(|a| a.ip())
        .map_err(|e| ParticipantError::socket("read the local address", e))
}
