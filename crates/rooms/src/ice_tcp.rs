//! ICE over TCP: the fallback when UDP to the server is blocked (RFC 6544, active side).
//!
//! Why: corporate and hotel networks often drop UDP. LiveKit's server then still answers on
//! its `rtc.tcp_port` with *passive* TCP candidates; LiveKit's SDKs reach it through the
//! browser's ICE-TCP, and so do we.
//!
//! Exact semantics:
//! - Each peer connection advertises one *active* TCP host candidate, `<local ip>:9 tcptype
//!   active` (RFC 6544 §4.5: an active candidate's port is meaningless, 9 is the convention),
//!   next to its UDP one. ICE pairs it with the server's passive candidates; a TCP pair has a
//!   lower priority than a UDP pair, so ICE picks TCP only when no UDP pair answers.
//! - [`TcpLinks`] opens one TCP connection per remote address, lazily, on the first packet
//!   str0m sends there (a connectivity check), and reuses it for everything after it (DTLS,
//!   SCTP, RTP). Every packet is framed as RFC 4571 says: a 16-bit big-endian length, then
//!   the packet. Packets arriving on the connection come back as [`TcpInbound::Packet`]
//!   with our advertised candidate as their destination, which is what str0m matches on.
//! - A connection that cannot be opened within [`CONNECT_TIMEOUT`], or that breaks, is
//!   reported once ([`TcpInbound::Closed`]) and forgotten: the next packet to that address
//!   opens a new one. ICE's own retries and timeouts decide whether the pair lives.
//! - Each connection queues at most [`QUEUE_PACKETS`] packets; beyond that, packets are
//!   dropped as a full UDP socket would drop them, so a stalled TCP connection cannot grow
//!   memory or latency without bound.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The port of an active TCP candidate (RFC 6544 §4.5).
pub const ACTIVE_CANDIDATE_PORT: u16 = 9;
/// How long opening one TCP connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Packets waiting to be written on one connection before new ones are dropped.
pub const QUEUE_PACKETS: usize = 512;
/// The largest packet RFC 4571's 16-bit length can carry.
pub const MAX_PACKET: usize = u16::MAX as usize;

/// Something that happened on a TCP connection.
#[derive(Debug)]
pub enum TcpInbound {
    Packet {
        remote: SocketAddr,
        packet: Vec<u8>,
    },
    /// The connection could not be opened or broke (why); the next packet reopens it.
    Closed {
        remote: SocketAddr,
        reason: String,
    },
}

/// `packet` with its RFC 4571 length prefix, or `None` if it is too long to frame.
pub fn frame(packet: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(packet.len()).ok()?;
    let mut framed = Vec::with_capacity(packet.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(packet);
    Some(framed)
}

/// Splits a byte stream back into RFC 4571 packets, whatever the read boundaries were.
#[derive(Debug, Default)]
pub struct Deframer {
    buffered: Vec<u8>,
    /// Where the next unread frame starts in `buffered`.
    start: usize,
}

impl Deframer {
    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffered.len() {
            self.buffered.clear();
            self.start = 0;
        }
        self.buffered.extend_from_slice(bytes);
    }

    /// The next complete packet, if one has fully arrived.
    pub fn next_packet(&mut self) -> Option<Vec<u8>> {
        let rest = &self.buffered[self.start..];
        let [hi, lo, ..] = *rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let packet = rest.get(2..2 + len)?.to_vec();
        self.start += 2 + len;
        if self.start > 4096 && self.start * 2 > self.buffered.len() {
            self.buffered.drain(..self.start);
            self.start = 0;
        }
        Some(packet)
    }

    /// Bytes received that do not make a whole packet yet.
    pub fn pending(&self) -> usize {
        self.buffered.len() - self.start
    }
}

/// The TCP connections of one peer connection, by remote address.
pub struct TcpLinks {
    /// Each connection's queue of framed packets.
    links: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    inbound_tx: mpsc::UnboundedSender<TcpInbound>,
    /// What the connections received, for the participant's loop to hand to str0m.
    pub inbound: mpsc::UnboundedReceiver<TcpInbound>,
}

impl Default for TcpLinks {
    fn default() -> Self {
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        Self {
            links: HashMap::new(),
            inbound_tx,
            inbound,
        }
    }
}

impl TcpLinks {
    /// Sends `packet` to `remote`, opening the connection first if there is none. A packet
    /// too long to frame, or one that finds the connection's queue full, is dropped.
    pub fn send(&mut self, remote: SocketAddr, packet: &[u8]) {
        if let Some(framed) = frame(packet) {
            self.queue(remote, framed);
        }
    }

    fn queue(&mut self, remote: SocketAddr, framed: Vec<u8>) {
        let inbound = &self.inbound_tx;
        let link = self.links.entry(remote).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE_PACKETS);
            tokio::spawn(run_link(remote, rx, inbound.clone()));
            tx
        });
        if let Err(mpsc::error::TrySendError::Closed(framed)) = link.try_send(framed) {
            // The connection ended since; open a new one for this packet.
            self.links.remove(&remote);
            self.queue(remote, framed);
        }
    }

    /// Forgets the connection to `remote` after it reported [`TcpInbound::Closed`].
    pub fn forget(&mut self, remote: SocketAddr) {
        self.links.remove(&remote);
    }

    /// How many connections are open or opening.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}

/// One connection: opens it, then writes queued packets and reads packets until either side
/// ends. Dropping the queue's sender (the participant left) closes the connection.
async fn run_link(
    remote: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    inbound: mpsc::UnboundedSender<TcpInbound>,
) {
    let reason = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)).await {
        Err(_) => format!(
            "no TCP connection to {remote} within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
        Ok(Err(e)) => format!("cannot open a TCP connection to {remote}: {e}"),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            let (mut reader, mut writer) = stream.into_split();
            let write = async {
                while let Some(framed) = outgoing.recv().await {
                    if let Err(e) = writer.write_all(&framed).await {
                        return format!("the TCP connection to {remote} broke: {e}");
                    }
                }
                String::new()
            };
            let read = async {
                let mut deframer = Deframer::default();
                let mut buf = vec![0u8; 8192];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) => return format!("{remote} closed the TCP connection"),
                        Ok(n) => {
                            deframer.push(&buf[..n]);
                            while let Some(packet) = deframer.next_packet() {
                                if inbound.send(TcpInbound::Packet { remote, packet }).is_err() {
                                    return String::new();
                                }
                            }
                        }
                        Err(e) => return format!("the TCP connection to {remote} broke: {e}"),
                    }
                }
            };
            tokio::select! {
                reason = write => reason,
                reason = read => reason,
            }
        }
    };
    if !reason.is_empty() {
        tracing::debug!("ICE-TCP: {reason}");
        let _ = inbound.send(TcpInbound::Closed { remote, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_frame_is_the_big_endian_length_then_the_packet() {
        assert_eq!(frame(b"abc").unwrap(), vec![0, 3, b'a', b'b', b'c']);
        assert_eq!(frame(&[]).unwrap(), vec![0, 0]);
        assert_eq!(frame(&vec![7; 300]).unwrap()[..2], [1, 44]);
        assert!(frame(&vec![0; MAX_PACKET]).is_some());
        assert!(frame(&vec![0; MAX_PACKET + 1]).is_none());
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let mut d = Deframer::default();
        d.push(&[0]);
        assert_eq!(d.next_packet(), None);
        d.push(&[2, 9]);
        assert_eq!(d.next_packet(), None);
        assert_eq!(d.pending(), 3);
        d.push(&[8, 0, 0]);
        assert_eq!(d.next_packet(), Some(vec![9, 8]));
        assert_eq!(d.next_packet(), Some(vec![]));
        assert_eq!(d.next_packet(), None);
        assert_eq!(d.pending(), 0);
    }

    proptest! {
        /// Whatever sizes the stream is read in, the same packets come out, in order.
        #[test]
        fn any_chunking_gives_back_the_packets(
            packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 0..40),
            cuts in proptest::collection::vec(1usize..3000, 1..60),
        ) {
            let stream: Vec<u8> = packets.iter().flat_map(|p| frame(p).unwrap()).collect();
            let mut d = Deframer::default();
            let mut out = Vec::new();
            let (mut at, mut cut) = (0, cuts.iter().cycle());
            while at < stream.len() {
                let end = (at + cut.next().unwrap()).min(stream.len());
                d.push(&stream[at..end]);
                at = end;
                while let Some(p) = d.next_packet() {
                    out.push(p);
                }
            }
            prop_assert_eq!(out, packets);
            prop_assert_eq!(d.pending(), 0);
        }

        /// Arbitrary bytes never panic; whatever comes out was framed in them.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let mut d = Deframer::default();
            d.push(&bytes);
            let mut consumed = 0;
            while let Some(p) = d.next_packet() {
                consumed += 2 + p.len();
            }
            prop_assert_eq!(consumed + d.pending(), bytes.len());
        }
    }

    #[tokio::test]
    async fn packets_cross_a_real_tcp_connection_both_ways() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let remote = listener.local_addr().unwrap();
        let mut links = TcpLinks::default();
        links.send(remote, b"check");
        links.send(remote, &[5; 1200]);
        let (mut server, _) = listener.accept().await.unwrap();
        let mut received = vec![0u8; 2 + 5 + 2 + 1200];
        server.read_exact(&mut received).await.unwrap();
        let mut d = Deframer::default();
        d.push(&received);
        assert_eq!(d.next_packet().unwrap(), b"check");
        assert_eq!(d.next_packet().unwrap(), vec![5; 1200]);
        assert_eq!(links.len(), 1, "both packets used one connection");

        server.write_all(&frame(b"answer").unwrap()).await.unwrap();
        match links.inbound.recv().await.unwrap() {
            TcpInbound::Packet {
                remote: from,
                packet,
            } => {
                assert_eq!(from, remote);
                assert_eq!(packet, b"answer");
            }
            other => panic!("expected a packet, got {other:?}"),
        }
        drop(server);
        match links.inbound.recv().await.unwrap() {
            TcpInbound::Closed {
                remote: from,
                reason,
            } => {
                assert_eq!(from, remote);
                assert!(reason.contains("closed"), "{reason}");
            }
            other => panic!("expected the close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_and_the_next_packet_retries() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let mut links = TcpLinks::default();
        links.send(port, b"x");
        match links.inbound.recv().await.unwrap() {
            TcpInbound::Closed { reason, .. } => {
                assert!(reason.contains("cannot open a TCP connection"), "{reason}")
            }
            other => panic!("expected the refusal, got {other:?}"),
        }
        links.forget(port);
        assert!(links.is_empty());
        let listener = tokio::net::TcpListener::bind(port).await.unwrap();
        links.send(port, b"again");
        let (mut server, _) = listener.accept().await.unwrap();
        let mut received = [0u8; 7];
        server.read_exact(&mut received).await.unwrap();
        assert_eq!(&received[2..], b"again");
    }
}
