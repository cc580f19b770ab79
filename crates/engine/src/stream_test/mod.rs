//! Stream-test suites: our participants talk through a real LiveKit server and we
//! measure what arrives, as the Eloquence team's Python streaming test system did, with
//! real audio and latency measured both on data packets and on the audio itself.
//!
//! Suites ([`Suite`]):
//! - `basic`: French phrases synthesised with espeak-ng, one every 2–4 s, for a duration;
//! - `stress`: N packets at an interval (default 50 × 500 ms);
//! - `latency`: N short packets every 200 ms (default 20);
//! - `load`: P publishers × S subscribers for a duration, every publisher sending a
//!   packet every interval.
//!
//! What a "packet" is: a data packet on the reliable channel (topic [`PACKET_TOPIC`],
//! payload `{"seq":n,"sent_us":unix-micros,"from":identity}`) sent at the same instant as an
//! audio marker on the publisher's track (a 40 ms burst whose frequency is one of
//! [`MARKER_FREQUENCIES`], chosen by `seq % 4`; in `basic` the phrase itself). All
//! participants run in this process, so one clock times both ends:
//! - data latency = receipt − `sent_us`;
//! - audio latency = the frame where the receiver hears the marker start (after the jitter
//!   buffer: it includes the playout delay, as a listener would) − the marker's send time.
//!   An onset is matched to the latest marker sent before it with the same frequency.
//!
//! Configuration precedence (later wins): defaults < Settings < `LIVEKIT_URL` /
//! `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET` / `LIVEKIT_ROOM` < the `--config` JSON file (the
//! team's keys `livekit_url`, `api_key`, `api_secret`, `room_name`, plus ours) <
//! command-line flags.
//!
//! The report ([`StreamReport`], schema [`REPORT_SCHEMA`]) keeps the team's fields with
//! their meaning and adds ours; it never contains the API secret. Its figures use the one
//! percentile ([`greenroom_core::percentile`]) and the ratings of the metric catalogue
//! ([`crate::metrics`]).
//!
//! Modules: [`config`] (what a run needs, its precedence and validation), `run` (the
//! suites themselves), [`runs`] (one run at a time in the background, as the fronts see
//! it, and the saved reports).
//!
//! A run can be stopped ([`StopSignal`], Ctrl-C in the CLI, Stop in the UI): no new packet
//! or marker is sent, what is in flight is waited for as usual, and the report covers what
//! was sent, with `stopped_early` set.

mod config;
mod run;
pub mod runs;

pub use crate::metrics::{Rating, rate_latency, rate_loss};
pub use config::StreamTestConfig;
pub use run::{run, run_until_stopped, speak};

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The report's schema name and version; bump the number on any incompatible change.
pub const REPORT_SCHEMA: &str = "greenroom.stream-test/1";
pub const PACKET_TOPIC: &str = "greenroom-stream";
pub const MARKER_FREQUENCIES: [f64; 4] = [700.0, 1000.0, 1300.0, 1600.0];
pub(crate) const MARKER_FRAMES: usize = 2;
/// A frame louder than this (RMS, full scale 1) after a quiet one is an onset.
pub(crate) const ONSET_LEVEL: f64 = 0.05;
/// A frame quieter than this ends a sound.
pub(crate) const QUIET_LEVEL: f64 = 0.01;

/// The team's French phrases (greetings and coaching).
pub const DEFAULT_PHRASES: &[&str] = &[
    "Bonjour, je suis Marie, votre coach vocal.",
    "Respirez profondément avant de commencer.",
    "Parlez un peu plus lentement, s'il vous plaît.",
    "Très bien, votre articulation est claire.",
    "Essayez de poser votre voix sur la dernière syllabe.",
    "Excellent travail, on continue.",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Basic,
    Stress,
    Latency,
    Load,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Basic => "basic",
            Suite::Stress => "stress",
            Suite::Latency => "latency",
            Suite::Load => "load",
        }
    }
}

/// Why a stream test could not run (or stopped): each message names the key, the
/// participant or the program, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamTestError {
    /// A value of the configuration (a flag, a key of the config file, a field of the form).
    #[error("{0}")]
    Config(String),
    /// espeak-ng, which the basic suite speaks with, is missing or failed.
    #[error("{0}")]
    Speech(String),
    #[error("cannot mint a token: {0}")]
    Token(String),
    #[error("{identity} could not join: {reason}")]
    Join { identity: String, reason: String },
    #[error("{identity} could not publish: {reason}")]
    Publish { identity: String, reason: String },
    #[error("a receiver failed: {0}")]
    Receiver(String),
    #[error("stream test {run} ({}) is still running: stop it first, or wait for its report", suite.name())]
    Busy { run: u32, suite: Suite },
}

impl greenroom_core::Classified for StreamTestError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        use greenroom_core::ErrorKind;
        match self {
            StreamTestError::Config(_)
            | StreamTestError::Token(_)
            | StreamTestError::Busy { .. } => ErrorKind::InvalidInput,
            StreamTestError::Speech(_)
            | StreamTestError::Join { .. }
            | StreamTestError::Publish { .. } => ErrorKind::Unavailable,
            StreamTestError::Receiver(_) => ErrorKind::Internal,
        }
    }
}

/// The team's log categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "UPPERCASE")]
pub enum Category {
    Connection,
    Audio,
    Latency,
    Network,
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamEvent {
    Log {
        category: Category,
        rating: Option<Rating>,
        message: String,
    },
    /// One packet's end-to-end latency, as it arrives (for the live plot).
    Latency {
        path: LatencyPath,
        seq: u32,
        at_ms: f64,
        latency_ms: f64,
    },
    Progress {
        done: u32,
        total: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum LatencyPath {
    Data,
    Audio,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LatencyStats {
    pub min_ms: f64,
    pub max_ms: f64,
    pub avg_ms: f64,
    #[ts(type = "number")]
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Mean absolute difference between consecutive latencies (packet delay variation).
    pub jitter_ms: f64,
}

impl LatencyStats {
    pub fn from_samples(samples: &[f64]) -> LatencyStats {
        if samples.is_empty() {
            return LatencyStats::default();
        }
        let sorted = greenroom_core::sorted(samples.to_vec());
        let pick = |q: f64| greenroom_core::percentile(&sorted, q).unwrap_or_default();
        let jitter = if samples.len() > 1 {
            samples.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>()
                / (samples.len() - 1) as f64
        } else {
            0.0
        };
        LatencyStats {
            min_ms: sorted[0],
            max_ms: sorted[sorted.len() - 1],
            avg_ms: samples.iter().sum::<f64>() / samples.len() as f64,
            count: samples.len() as u64,
            p50_ms: pick(0.50),
            p95_ms: pick(0.95),
            p99_ms: pick(0.99),
            jitter_ms: jitter,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AudioReport {
    #[ts(type = "number")]
    pub markers_sent: u64,
    #[ts(type = "number")]
    pub markers_heard: u64,
    pub latency_stats: LatencyStats,
    #[ts(type = "number")]
    pub frames_sent: u64,
    #[ts(type = "number")]
    pub frames_received: u64,
    #[ts(type = "number")]
    pub frames_concealed: u64,
    /// Interarrival jitter of the received audio (RFC 3550), worst receiver.
    pub ingress_jitter_ms: f64,
    /// From publishing to the first audio frame heard, per receiver (ms).
    pub first_audio_ms: Vec<f64>,
}

/// One latency sample for the plot: `at_ms` from the start of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LatencySample {
    pub path: LatencyPath,
    pub at_ms: f64,
    pub latency_ms: f64,
}

/// The JSON report. The first nine fields are the team's, with their meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct StreamReport {
    pub test_name: String,
    pub duration_seconds: f64,
    #[ts(type = "number")]
    pub packets_sent: u64,
    #[ts(type = "number")]
    pub packets_received: u64,
    pub packet_loss_rate: f64,
    pub latency_stats: LatencyStats,
    #[ts(type = "number")]
    pub errors_count: u64,
    pub throughput_pps: f64,
    pub schema: String,
    pub suite: Suite,
    #[ts(type = "number")]
    pub started_at_unix_ms: u64,
    pub server: String,
    pub room: String,
    pub publishers: u32,
    pub subscribers: u32,
    pub network: NetworkReport,
    pub audio: AudioReport,
    /// Token to ready (connected, data channels open), per participant (ms).
    pub join_ms: Vec<f64>,
    /// The transport each participant's publisher connection settled on (`udp` or `tcp`),
    /// in the order of `join_ms` (added in version 1 without a bump: absent means unknown).
    #[serde(default)]
    pub transports: Vec<String>,
    pub errors: Vec<String>,
    pub latency_rating: Rating,
    pub loss_rating: Rating,
    pub samples: Vec<LatencySample>,
    /// The run was stopped before its end; the figures cover what was sent (added in
    /// version 1 without a bump: absent means false).
    #[serde(default)]
    pub stopped_early: bool,
    /// Each signalling loss that was resumed, any participant: loss → resumed (ms).
    #[serde(default)]
    pub reconnections_ms: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct NetworkReport {
    pub loss: f64,
    pub latency_ms: u32,
    pub jitter_ms: u32,
    /// UDP was blocked (a firewall), so ICE had to use TCP (absent means false).
    #[serde(default)]
    pub block_udp: bool,
    #[ts(type = "number")]
    pub dropped_by_conditions: u64,
}

/// Asks a running suite to stop sending (see the module doc); clones share the request.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_stats_use_nearest_rank_percentiles_and_delay_variation() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = LatencyStats::from_samples(&samples);
        assert_eq!((s.min_ms, s.max_ms, s.count), (1.0, 100.0, 100));
        assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (50.0, 95.0, 99.0));
        assert!((s.avg_ms - 50.5).abs() < 1e-9);
        assert!((s.jitter_ms - 1.0).abs() < 1e-9);
        assert_eq!(LatencyStats::from_samples(&[]), LatencyStats::default());
    }
}
