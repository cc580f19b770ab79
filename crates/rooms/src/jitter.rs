//! A playout (jitter) buffer for one received audio track.
//!
//! Why: packets reach us with uneven spacing and sometimes out of order; the decoder wants
//! one frame every 20 ms, in order, and to be told when a frame is missing (Opus then
//! conceals it). The buffer holds each frame until its playout time and hands frames out
//! in RTP order.
//!
//! Exact semantics:
//! - The first frame fixes the mapping from RTP time to local time:
//!   `playout(ts) = first_arrival + (ts − first_ts) / clock_rate + delay`.
//! - [`JitterBuffer::pop_ready`] returns, in RTP order, every frame whose playout time has
//!   come. A hole between the last frame handed out and the next buffered one is handed
//!   out as [`Playout::Missing`] (one per missing frame) once the frame after it is due, so
//!   a lost packet costs one concealed frame and never stalls the track.
//! - A frame that arrives after its slot was played (or handed out as missing) is
//!   dropped and counted in [`JitterStats::late`]; a duplicate is dropped and counted in
//!   [`JitterStats::duplicates`]. Every frame received is played, late, discarded by a
//!   restart, or still buffered.
//! - A gap of more than [`MAX_GAP_FRAMES`] frames (the sender paused, or the SFU switched
//!   streams) restarts the mapping instead of producing seconds of concealment.
//! - [`JitterStats::jitter_ms`] is the RFC 3550 interarrival jitter, in milliseconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A hole longer than this many frames restarts the timing instead of being concealed.
pub const MAX_GAP_FRAMES: u64 = 25;

/// What the buffer hands out, in RTP order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// An encoded frame that arrived in time.
    Frame { rtp_time: u64, data: Vec<u8> },
    /// A frame that never came: conceal it.
    Missing { rtp_time: u64 },
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    pub concealed: u64,
    pub late: u64,
    pub duplicates: u64,
    pub restarts: u64,
    /// Frames still buffered when a restart threw the old timing away.
    pub discarded: u64,
    /// RFC 3550 interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
}

#[derive(Debug)]
pub struct JitterBuffer {
    clock_rate: u64,
    frame_ticks: u64,
    delay: Duration,
    /// (first RTP time, its arrival) of the current timing.
    anchor: Option<(u64, Instant)>,
    /// The RTP time of the next frame to hand out.
    next: Option<u64>,
    frames: BTreeMap<u64, Vec<u8>>,
    last_transit: Option<f64>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// `frame_ticks`: RTP ticks per frame (960 for 20 ms at 48 kHz).
    pub fn new(clock_rate: u32, frame_ticks: u32, delay: Duration) -> Self {
        Self {
            clock_rate: u64::from(clock_rate.max(1)),
            frame_ticks: u64::from(frame_ticks.max(1)),
            delay,
            anchor: None,
            next: None,
            frames: BTreeMap::new(),
            last_transit: None,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Frames waiting for their playout time.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn ticks_to_duration(&self, ticks: u64) -> Duration {
        Duration::from_micros(ticks.saturating_mul(1_000_000) / self.clock_rate)
    }

    fn playout_time(&self, rtp_time: u64) -> Option<Instant> {
        let (first_ts, first_arrival) = self.anchor?;
        let offset = self.ticks_to_duration(rtp_time.saturating_sub(first_ts));
        Some(first_arrival + offset + self.delay)
    }

    /// Takes a frame as it arrives from the network.
    pub fn push(&mut self, rtp_time: u64, data: Vec<u8>, arrival: Instant) {
        self.stats.received += 1;
        self.update_jitter(rtp_time, arrival);
        let restart = match (self.anchor, self.next) {
            (None, _) => true,
            (Some(_), Some(next)) => {
                rtp_time > next + MAX_GAP_FRAMES * self.frame_ticks
                    || next > rtp_time + MAX_GAP_FRAMES * self.frame_ticks
            }
            (Some(_), None) => false,
        };
        if restart {
            if self.anchor.is_some() {
                self.stats.restarts += 1;
            }
            self.stats.discarded += self.frames.len() as u64;
            self.frames.clear();
            self.anchor = Some((rtp_time, arrival));
            self.next = Some(rtp_time);
        }
        if self.next.is_some_and(|next| rtp_time < next) {
            self.stats.late += 1;
            return;
        }
        if self.frames.insert(rtp_time, data).is_some() {
            self.stats.duplicates += 1;
            self.stats.received -= 1;
        }
    }

    /// Every frame (or hole) whose playout time is at or before `now`, in RTP order.
    pub fn pop_ready(&mut self, now: Instant) -> Vec<Playout> {
        let mut out = Vec::new();
        while let Some(next) = self.next {
            let Some(due) = self.playout_time(next) else {
                break;
            };
            if due > now {
                break;
            }
            if let Some(data) = self.frames.remove(&next) {
                self.stats.played += 1;
                out.push(Playout::Frame {
                    rtp_time: next,
                    data,
                });
            } else if self.frames.keys().next().is_some_and(|&first| {
                self.playout_time(first).is_some_and(|t| t <= now) && first > next
            }) {
                // A later frame is due: this one is lost, conceal it.
                self.stats.concealed += 1;
                out.push(Playout::Missing { rtp_time: next });
            } else {
                // Nothing after it is due yet: the frame may still come.
                break;
            }
            self.next = Some(next + self.frame_ticks);
        }
        out
    }

    /// When the next frame is due, to sleep until then.
    pub fn next_due(&self) -> Option<Instant> {
        let first = *self.frames.keys().next()?;
        self.playout_time(first.max(self.next.unwrap_or(first)))
    }

    fn update_jitter(&mut self, rtp_time: u64, arrival: Instant) {
        let Some((first_ts, first_arrival)) = self.anchor else {
            self.last_transit = Some(0.0);
            return;
        };
        let arrival_s = arrival
            .checked_duration_since(first_arrival)
            .map(|d| d.as_secs_f64())
            .unwrap_or_else(|| -(first_arrival - arrival).as_secs_f64());
        let media_s = (rtp_time as f64 - first_ts as f64) / self.clock_rate as f64;
        let transit = arrival_s - media_s;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() * 1000.0;
            self.stats.jitter_ms += (d - self.stats.jitter_ms) / 16.0;
        }
        self.last_transit = Some(transit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TICKS: u64 = 960;

    fn buffer() -> JitterBuffer {
        JitterBuffer::new(48_000, 960, Duration::from_millis(40))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn frames_wait_for_their_playout_time_then_come_out_in_order() {
        let mut jb = buffer();
        let t0 = Instant::now();
        jb.push(1000, vec![1], t0);
        jb.push(1000 + 2 * TICKS, vec![3], t0 + ms(41));
        jb.push(1000 + TICKS, vec![2], t0 + ms(42)); // reordered
        assert!(
            jb.pop_ready(t0 + ms(39)).is_empty(),
            "nothing before the delay"
        );
        assert_eq!(
            jb.pop_ready(t0 + ms(40)),
            vec![Playout::Frame {
                rtp_time: 1000,
                data: vec![1]
            }]
        );
        let rest = jb.pop_ready(t0 + ms(80));
        assert_eq!(
            rest,
            vec![
                Playout::Frame {
                    rtp_time: 1000 + TICKS,
                    data: vec![2]
                },
                Playout::Frame {
                    rtp_time: 1000 + 2 * TICKS,
                    data: vec![3]
                },
            ]
        );
        assert_eq!(jb.stats().played, 3);
        assert_eq!(jb.stats().late, 0);
    }

    #[test]
    fn a_lost_frame_is_concealed_once_the_next_is_due_and_a_late_one_is_dropped() {
        let mut jb = buffer();
        let t0 = Instant::now();
        jb.push(0, vec![0], t0);
        jb.push(2 * TICKS, vec![2], t0 + ms(40));
        let out = jb.pop_ready(t0 + ms(100));
        assert_eq!(
            out,
            vec![
                Playout::Frame {
                    rtp_time: 0,
                    data: vec![0]
                },
                Playout::Missing { rtp_time: TICKS },
                Playout::Frame {
                    rtp_time: 2 * TICKS,
                    data: vec![2]
                },
            ]
        );
        jb.push(TICKS, vec![1], t0 + ms(101));
        assert_eq!(jb.stats().late, 1);
        assert_eq!(jb.stats().concealed, 1);
        assert!(jb.pop_ready(t0 + ms(200)).is_empty());
    }

    #[test]
    fn a_missing_tail_waits_instead_of_concealing_ahead() {
        let mut jb = buffer();
        let t0 = Instant::now();
        jb.push(0, vec![0], t0);
        assert_eq!(jb.pop_ready(t0 + ms(500)).len(), 1);
        // Nothing buffered: no concealment is invented for frames that may still come.
        assert!(jb.pop_ready(t0 + ms(1000)).is_empty());
        assert_eq!(jb.stats().concealed, 0);
    }

    #[test]
    fn a_long_pause_restarts_the_timing() {
        let mut jb = buffer();
        let t0 = Instant::now();
        jb.push(0, vec![0], t0);
        jb.pop_ready(t0 + ms(40));
        let later = 1000 * TICKS;
        jb.push(later, vec![9], t0 + ms(5000));
        assert_eq!(jb.stats().restarts, 1);
        assert!(jb.pop_ready(t0 + ms(5039)).is_empty());
        assert_eq!(
            jb.pop_ready(t0 + ms(5040)),
            vec![Playout::Frame {
                rtp_time: later,
                data: vec![9]
            }]
        );
        assert_eq!(jb.stats().concealed, 0);
    }

    #[test]
    fn duplicates_are_counted_and_dropped() {
        let mut jb = buffer();
        let t0 = Instant::now();
        jb.push(0, vec![0], t0);
        jb.push(0, vec![0], t0 + ms(1));
        assert_eq!(jb.stats().duplicates, 1);
        assert_eq!(jb.pop_ready(t0 + ms(60)).len(), 1);
    }

    #[test]
    fn steady_arrivals_have_no_jitter_and_uneven_ones_do() {
        let mut steady = buffer();
        let mut uneven = buffer();
        let t0 = Instant::now();
        for i in 0..50u64 {
            steady.push(i * TICKS, vec![], t0 + ms(20 * i));
            let wobble = if i % 2 == 0 { 0 } else { 10 };
            uneven.push(i * TICKS, vec![], t0 + ms(20 * i + wobble));
        }
        assert!(steady.stats().jitter_ms < 0.01, "{:?}", steady.stats());
        assert!(uneven.stats().jitter_ms > 5.0, "{:?}", uneven.stats());
    }

    proptest! {
        /// Whatever the arrival order and timing (within one timing, i.e. gaps shorter than
        /// a restart), what comes out is strictly increasing in RTP time, every frame comes
        /// out at most once, and every pushed frame is played, late, a duplicate, or still
        /// buffered. With restarts, the accounting still holds.
        #[test]
        fn output_is_ordered_and_accounts_for_every_frame(
            arrivals in proptest::collection::vec((0u64..MAX_GAP_FRAMES, 0u64..200), 1..80),
            far in proptest::collection::vec((0u64..200, 0u64..400), 0..40),
        ) {
            let mut jb = buffer();
            let t0 = Instant::now();
            let mut restarting = far.clone();
            restarting.sort_by_key(|&(_, at)| at);
            for &(frame, at) in &restarting {
                jb.pop_ready(t0 + ms(at));
                jb.push(frame * TICKS, vec![], t0 + ms(at));
            }
            let s = jb.stats();
            prop_assert_eq!(s.received, s.played + s.late + s.discarded + jb.len() as u64);

            let mut jb = buffer();
            let t0 = Instant::now();
            let mut sorted = arrivals.clone();
            sorted.sort_by_key(|&(_, at)| at);
            let mut out = Vec::new();
            for &(frame, at) in &sorted {
                out.extend(jb.pop_ready(t0 + ms(at)));
                jb.push(frame * TICKS, vec![frame as u8], t0 + ms(at));
            }
            out.extend(jb.pop_ready(t0 + ms(100_000)));
            let times: Vec<u64> = out.iter().map(|p| match p {
                Playout::Frame { rtp_time, .. } | Playout::Missing { rtp_time } => *rtp_time,
            }).collect();
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
            let s = jb.stats();
            prop_assert_eq!(s.received, s.played + s.late + s.discarded + jb.len() as u64);
            prop_assert_eq!(s.received + s.duplicates, sorted.len() as u64);
        }
    }
}
