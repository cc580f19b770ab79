//! Loudness for people: RMS and peak in dBFS, and a meter that the UI can draw without
//! being flooded.
//!
//! Why: the cockpit shows the learner's and Marie's levels live (is the microphone alive?
//! is Marie clipping?); audio arrives in chunks of 10–20 ms, 50–100 a second, and a UI
//! wants about 15 updates a second.
//!
//! Semantics:
//! - dBFS is `20·log10(x)` with 1.0 as full scale, floored at [`FLOOR_DBFS`] (silence and
//!   non-finite values read as the floor, never `-inf` or NaN, so levels serialise as JSON).
//! - [`Level::of`] measures one chunk: RMS over its samples, peak of `|sample|`.
//! - [`LevelMeter::push`] takes chunks with their timestamps (no clock of its own: pure)
//!   and returns a level at most `per_second` times in any second: the first push emits,
//!   later pushes emit once `ceil(1 s / per_second)` has passed since the last emission.
//!   Each emitted level covers every sample pushed since the previous one, so a peak in a
//!   chunk that did not emit is never lost. Timestamps that go backwards never emit.

use std::time::{Duration, Instant};

use greenroom_core::{Classified, ErrorKind};
use serde::Serialize;
use ts_rs::TS;

/// The lowest level reported: digital silence.
pub const FLOOR_DBFS: f32 = -120.0;
/// The default [`LevelMeter`] rate.
pub const DEFAULT_PER_SECOND: u32 = 15;

/// What can go wrong setting up a meter.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("a level meter can emit 1 ..= 120 times a second, not {per_second}")]
    BadRate { per_second: u32 },
}

impl Classified for MeterError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// An amplitude (1.0 = full scale) in dBFS, floored at [`FLOOR_DBFS`].
pub fn to_dbfs(amplitude: f32) -> f32 {
    if !amplitude.is_finite() || amplitude <= 0.0 {
        return FLOOR_DBFS;
    }
    (20.0 * amplitude.log10()).max(FLOOR_DBFS)
}

/// The RMS of `samples` in dBFS (a full-scale sine reads -3.01 dBFS).
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    Level::of(samples).rms_dbfs
}

/// The largest `|sample|` in dBFS.
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    Level::of(samples).peak_dbfs
}

/// A level as the UI draws it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, TS)]
pub struct Level {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

impl Level {
    /// The level of one chunk (non-finite samples count as silence).
    pub fn of(samples: &[f32]) -> Self {
        let mut acc = Accumulator::default();
        acc.add(samples);
        acc.level()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Accumulator {
    sum_sq: f64,
    count: u64,
    peak: f32,
}

impl Accumulator {
    fn add(&mut self, samples: &[f32]) {
        for s in samples.iter().filter(|s| s.is_finite()) {
            self.sum_sq += f64::from(*s) * f64::from(*s);
            self.peak = self.peak.max(s.abs());
        }
        self.count += samples.len() as u64;
    }

    fn level(&self) -> Level {
        let rms = if self.count == 0 {
            0.0
        } else {
            (self.sum_sq / self.count as f64).sqrt() as f32
        };
        Level {
            rms_dbfs: to_dbfs(rms),
            peak_dbfs: to_dbfs(self.peak),
        }
    }
}

/// Levels at most N times a second, from timestamped chunks.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    interval: Duration,
    last: Option<Instant>,
    acc: Accumulator,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self {
            interval: interval_for(DEFAULT_PER_SECOND),
            last: None,
            acc: Accumulator::default(),
        }
    }
}

fn interval_for(per_second: u32) -> Duration {
    Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(per_second.max(1))))
}

impl LevelMeter {
    /// A meter emitting at most `per_second` (1 ..= 120) levels a second.
    pub fn new(per_second: u32) -> Result<Self, MeterError> {
        if !(1..=120).contains(&per_second) {
            return Err(MeterError::BadRate { per_second });
        }
        Ok(Self {
            interval: interval_for(per_second),
            ..Self::default()
        })
    }

    /// The least time between two emissions.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Adds a chunk captured (or played) at `at`; a level when one is due.
    pub fn push(&mut self, samples: &[f32], at: Instant) -> Option<Level> {
        self.acc.add(samples);
        let due = match self.last {
            None => true,
            Some(last) => at
                .checked_duration_since(last)
                .is_some_and(|d| d >= self.interval),
        };
        if !due {
            return None;
        }
        let level = self.acc.level();
        self.acc = Accumulator::default();
        self.last = Some(at);
        Some(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amplitude * (i as f32 * 2.0 * std::f32::consts::PI / 32.0).sin())
            .collect()
    }

    #[test]
    fn known_levels() {
        let full = Level::of(&sine(1.0, 3200));
        assert!((full.rms_dbfs + 3.01).abs() < 0.02, "{full:?}");
        assert!(full.peak_dbfs.abs() < 0.01);
        let quiet = Level::of(&sine(0.01, 3200));
        assert!((quiet.rms_dbfs + 43.01).abs() < 0.02, "{quiet:?}");
        assert!((quiet.peak_dbfs + 40.0).abs() < 0.01);
        assert_eq!(rms_dbfs(&[0.0; 10]), FLOOR_DBFS);
        assert_eq!(peak_dbfs(&[]), FLOOR_DBFS);
        assert_eq!(peak_dbfs(&[f32::NAN, f32::INFINITY, -0.5]), to_dbfs(0.5));
        assert!((rms_dbfs(&[-0.5, 0.5]) - to_dbfs(0.5)).abs() < 1e-6);
    }

    #[test]
    fn the_meter_emits_15_times_a_second_and_keeps_the_peaks_between() {
        let mut meter = LevelMeter::default();
        let t0 = Instant::now();
        let mut emitted = Vec::new();
        for i in 0..300u64 {
            // 10 ms chunks for 3 s; one loud click in a chunk that does not emit
            let amplitude = if i == 3 { 0.9 } else { 0.01 };
            let at = t0 + Duration::from_millis(10 * i);
            if let Some(level) = meter.push(&vec![amplitude; 160], at) {
                emitted.push((at - t0, level));
            }
        }
        let in_first_second = emitted.iter().filter(|(d, _)| d.as_millis() < 1000).count();
        assert_eq!(in_first_second, 15);
        for pair in emitted.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= meter.interval());
        }
        for (i, (start, _)) in emitted.iter().enumerate() {
            let window = emitted[i..]
                .iter()
                .take_while(|(d, _)| *d < *start + Duration::from_secs(1))
                .count();
            assert!(window <= 15, "{window} levels within a second of {start:?}");
        }
        assert_eq!(emitted[0].1.peak_dbfs, to_dbfs(0.01));
        assert_eq!(
            emitted[1].1.peak_dbfs,
            to_dbfs(0.9),
            "the click reaches the UI"
        );
        assert_eq!(emitted[2].1.peak_dbfs, to_dbfs(0.01));
    }

    #[test]
    fn rates_are_checked_and_time_going_back_never_emits() {
        let e = LevelMeter::new(0).unwrap_err();
        assert!(e.to_string().contains("1 ..= 120"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(LevelMeter::new(121).is_err());
        let mut meter = LevelMeter::new(1).unwrap();
        let t = Instant::now() + Duration::from_secs(5);
        assert!(meter.push(&[0.1], t).is_some());
        assert!(meter.push(&[0.1], t - Duration::from_secs(3)).is_none());
        assert!(meter.push(&[0.1], t + Duration::from_millis(999)).is_none());
        assert!(meter.push(&[0.1], t + Duration::from_secs(1)).is_some());
    }
}
