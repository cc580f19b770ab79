//! A circuit breaker per service: stop hammering what is dead.
//!
//! `closed` (normal) → after `threshold` failures in a row → `open`: no attempt (no
//! restart, no probe-triggered repair) for `open_ms` → `half_open`: one attempt is let
//! through; its success closes the circuit, its failure opens it again for `open_ms`.
//! A success while closed resets the failure count. Time is passed in, so the breaker is
//! tested without sleeping.

use crate::manifest::BreakerSpec;
use serde::Serialize;
use std::time::{Duration, Instant};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    failures: u32,
    opened_at: Option<Instant>,
    trial_running: bool,
}

impl Breaker {
    pub fn new(spec: &BreakerSpec) -> Self {
        Self {
            threshold: spec.threshold.max(1),
            open_for: Duration::from_millis(spec.open_ms),
            failures: 0,
            opened_at: None,
            trial_running: false,
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.opened_at {
            None => BreakerState::Closed,
            Some(at) if now.duration_since(at) >= self.open_for => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// Whether an attempt may run now; in half-open, only one at a time.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen if self.trial_running => false,
            BreakerState::HalfOpen => {
                self.trial_running = true;
                true
            }
        }
    }

    /// When the circuit will let an attempt through again (`None` when closed).
    pub fn retry_at(&self) -> Option<Instant> {
        self.opened_at.map(|at| at + self.open_for)
    }

    pub fn record_success(&mut self) {
        self.failures = 0;
        self.opened_at = None;
        self.trial_running = false;
    }

    pub fn record_failure(&mut self, now: Instant) {
        self.failures += 1;
        let trial_failed = self.trial_running;
        self.trial_running = false;
        if trial_failed || self.failures >= self.threshold {
            self.opened_at = Some(now);
        }
    }

    /// Forgets everything: a person asked for the service explicitly.
    pub fn reset(&mut self) {
        self.record_success();
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_lets_one_trial_through() {
        let mut b = Breaker::new(&BreakerSpec {
            threshold: 3,
            open_ms: 1000,
        });
        let t0 = Instant::now();
        for _ in 0..2 {
            b.record_failure(t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.record_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.allow(t0 + Duration::from_millis(999)));
        let later = t0 + Duration::from_millis(1000);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert!(b.allow(later));
        assert!(!b.allow(later), "only one trial at a time");
        b.record_failure(later);
        assert_eq!(
            b.state(later),
            BreakerState::Open,
            "a failed trial opens it again"
        );
        let much_later = later + Duration::from_millis(1000);
        assert!(b.allow(much_later));
        b.record_success();
        assert_eq!(b.state(much_later), BreakerState::Closed);
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(&BreakerSpec {
            threshold: 2,
            open_ms: 1000,
        });
        let t = Instant::now();
        b.record_failure(t);
        b.record_success();
        b.record_failure(t);
        assert_eq!(b.state(t), BreakerState::Closed);
    }
}
