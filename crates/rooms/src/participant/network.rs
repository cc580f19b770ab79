//! Network shaping: how [`NetworkConditions`] degrade the packets the participant sends
//! (and, for a blocked UDP, receives), decided without touching a socket.
//!
//! Why it exists: the stream-test suites measure how audio and data fare on a bad network,
//! so the participant degrades its own traffic at the socket layer, the way the team's
//! `simulate_network_conditions` did. Keeping the decisions here, apart from the sockets
//! and the clock, lets them be tested exactly.
//!
//! Exact semantics of [`Shaper::outgoing`], for one packet:
//! 1. [`NetworkConditions::block_udp`] drops every UDP packet, from the first one (before
//!    the join completed too): a firewall. TCP packets are not affected by it.
//! 2. Otherwise, until the join completed (`degrade == false`) or when the conditions are
//!    [`NetworkConditions::is_none`], the packet is sent now: handshakes are not degraded.
//! 3. Then a share [`NetworkConditions::loss`] of the packets is dropped (one draw per
//!    packet when the loss is above 0).
//! 4. A packet that is not dropped is held back for `latency_ms + jitter_ms × u` (`u`
//!    uniform in [0, 1), one draw per packet), if that is above 0, and comes out of
//!    [`Shaper::pop_due`] once that time has come: earliest due first, and packets due at
//!    the same instant in the order they were held. Otherwise it is sent now.
//!
//! [`Shaper::accepts_incoming`] refuses UDP packets when UDP is blocked, and nothing else.
//! The randomness is a seeded xorshift64* ([`Rng`]): no dependency, and repeatable in tests.

use super::NetworkConditions;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What happens to one outgoing packet.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict<P> {
    /// Send it now.
    Send(P),
    /// Dropped on purpose (loss, or UDP blocked): count it, send nothing.
    Dropped,
    /// Held back: [`Shaper::pop_due`] gives it back when it is due.
    Held,
}

/// The conditions, the packets they hold back, and the randomness they draw.
pub(super) struct Shaper<P> {
    conditions: NetworkConditions,
    held_back: BinaryHeap<HeldBack<P>>,
    rng: Rng,
    /// Ties between packets due at the same instant go in the order they were held.
    held_so_far: u64,
}

impl<P> Shaper<P> {
    pub(super) fn new(conditions: NetworkConditions, seed: u64) -> Self {
        Self {
            conditions,
            held_back: BinaryHeap::new(),
            rng: Rng::new(seed),
            held_so_far: 0,
        }
    }

    /// Decides the fate of `packet`, sent over UDP when `udp`, at `now`; `degrade`: the join
    /// completed, so loss, latency and jitter apply (see the module docs).
    pub(super) fn outgoing(
        &mut self,
        packet: P,
        udp: bool,
        degrade: bool,
        now: Instant,
    ) -> Verdict<P> {
        let conditions = self.conditions;
        if udp && conditions.block_udp {
            return Verdict::Dropped;
        }
        if conditions.is_none() || !degrade {
            return Verdict::Send(packet);
        }
        if conditions.loss > 0.0 && self.rng.next_f64() < conditions.loss {
            return Verdict::Dropped;
        }
        let extra_ms =
            conditions.latency_ms as f64 + conditions.jitter_ms as f64 * self.rng.next_f64();
        if extra_ms <= 0.0 {
            return Verdict::Send(packet);
        }
        self.held_so_far += 1;
        self.held_back.push(HeldBack {
            due: now + Duration::from_secs_f64(extra_ms / 1000.0),
            order: self.held_so_far,
            packet,
        });
        Verdict::Held
    }

    /// Whether a packet that arrived over UDP (`udp`) or TCP gets through.
    pub(super) fn accepts_incoming(&self, udp: bool) -> bool {
        !(udp && self.conditions.block_udp)
    }

    /// When the earliest held-back packet is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.held_back.peek().map(|h| h.due)
    }

    /// The earliest held-back packet if it is due at `now`; call until `None`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<P> {
        if self.held_back.peek()?.due > now {
            return None;
        }
        self.held_back.pop().map(|h| h.packet)
    }
}

/// An outgoing packet held back until `due`.
struct HeldBack<P> {
    due: Instant,
    order: u64,
    packet: P,
}

impl<P> HeldBack<P> {
    fn key(&self) -> (Instant, u64) {
        (self.due, self.order)
    }
}

impl<P> PartialEq for HeldBack<P> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<P> Eq for HeldBack<P> {}
impl<P> PartialOrd for HeldBack<P> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<P> Ord for HeldBack<P> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Earliest (then first held) out of the max-heap first.
        other.key().cmp(&self.key())
    }
}

/// xorshift64*: enough randomness for packet loss, no dependency.
struct Rng(u64);

impl Rng {
    /// Any seed (the state is made odd, so never the stuck zero state).
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn shaper(conditions: NetworkConditions) -> Shaper<u32> {
        Shaper::new(conditions, 12345)
    }

    #[test]
    fn conditions_drop_about_their_share() {
        let mut s = shaper(NetworkConditions {
            loss: 0.1,
            ..Default::default()
        });
        let now = Instant::now();
        let dropped = (0..10_000)
            .filter(|&i| s.outgoing(i, true, true, now) == Verdict::Dropped)
            .count();
        assert!((800..1200).contains(&dropped), "{dropped}");
        // Without latency or jitter, the rest goes out at once.
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn nothing_is_degraded_before_the_join_completed_or_without_conditions() {
        let now = Instant::now();
        let mut bad = shaper(NetworkConditions {
            loss: 1.0,
            latency_ms: 100,
            jitter_ms: 50,
            block_udp: false,
        });
        for udp in [true, false] {
            assert_eq!(bad.outgoing(7, udp, false, now), Verdict::Send(7));
        }
        let mut none = shaper(NetworkConditions::default());
        for udp in [true, false] {
            assert_eq!(none.outgoing(7, udp, true, now), Verdict::Send(7));
            assert!(none.accepts_incoming(udp));
        }
        assert_eq!(bad.outgoing(8, true, true, now), Verdict::Dropped);
    }

    #[test]
    fn latency_holds_packets_back_until_due_first_held_first_out() {
        let mut s = shaper(NetworkConditions {
            latency_ms: 50,
            ..Default::default()
        });
        let t0 = Instant::now();
        assert_eq!(s.outgoing(1, true, true, t0), Verdict::Held);
        assert_eq!(s.outgoing(2, false, true, t0), Verdict::Held);
        assert_eq!(s.outgoing(3, true, true, t0 + 10 * MS), Verdict::Held);
        assert_eq!(s.next_due(), Some(t0 + 50 * MS));
        assert_eq!(s.pop_due(t0 + 49 * MS), None);
        assert_eq!(s.pop_due(t0 + 50 * MS), Some(1));
        assert_eq!(s.pop_due(t0 + 50 * MS), Some(2));
        assert_eq!(s.pop_due(t0 + 50 * MS), None);
        assert_eq!(s.next_due(), Some(t0 + 60 * MS));
        assert_eq!(s.pop_due(t0 + 100 * MS), Some(3));
        assert_eq!(s.pop_due(t0 + 100 * MS), None);
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn jitter_spreads_release_times_and_they_come_out_in_due_order() {
        let mut s = shaper(NetworkConditions {
            latency_ms: 20,
            jitter_ms: 30,
            ..Default::default()
        });
        let t0 = Instant::now();
        for i in 0..200 {
            assert_eq!(s.outgoing(i, true, true, t0), Verdict::Held);
        }
        let mut released = Vec::new();
        let mut now = t0;
        while released.len() < 200 {
            while let Some(p) = s.pop_due(now) {
                released.push((p, now));
            }
            if let Some(due) = s.next_due() {
                assert!(due > now);
                now = due;
            }
        }
        let delays: Vec<Duration> = released.iter().map(|(_, at)| *at - t0).collect();
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "in due order");
        assert!(
            delays.iter().all(|d| *d >= 20 * MS && *d <= 50 * MS),
            "{delays:?}"
        );
        assert!(delays[199] - delays[0] > 20 * MS, "spread: {delays:?}");
        let mut ids: Vec<u32> = released.iter().map(|(p, _)| *p).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..200).collect::<Vec<_>>(), "every packet once");
    }

    #[test]
    fn blocked_udp_drops_both_ways_from_the_first_packet_and_tcp_passes() {
        let mut s = shaper(NetworkConditions {
            block_udp: true,
            ..Default::default()
        });
        let now = Instant::now();
        assert_eq!(s.outgoing(1, true, false, now), Verdict::Dropped);
        assert_eq!(s.outgoing(2, true, true, now), Verdict::Dropped);
        assert_eq!(s.outgoing(3, false, false, now), Verdict::Send(3));
        assert_eq!(s.outgoing(4, false, true, now), Verdict::Send(4));
        assert!(!s.accepts_incoming(true));
        assert!(s.accepts_incoming(false));
        let mut latency = shaper(NetworkConditions {
            block_udp: true,
            latency_ms: 10,
            ..Default::default()
        });
        assert_eq!(latency.outgoing(5, true, true, now), Verdict::Dropped);
        assert_eq!(latency.outgoing(6, false, true, now), Verdict::Held);
    }
}
