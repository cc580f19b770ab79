//! When to restart a service that stopped on its own, and after how long.
//!
//! Semantics (per service):
//! - `no`: never. `on-failure`: when it exited with a non-zero code, was killed by a
//!   signal, or was declared unhealthy. `always` and `unless-stopped`: whenever it stopped
//!   without being asked to (we never restart a service a person stopped; after a Greenroom
//!   restart, `unless-stopped` services that were running are re-attached or started).
//! - Delay: `backoff_initial_ms × 2^(n−1)` for the n-th restart in a row, capped at
//!   `backoff_max_ms`, then ±20 % jitter so that services that failed together do not
//!   restart together.
//! - A run that lasted at least `stable_after_ms` resets the count (and so the delay).
//! - After `max_restarts` restarts in a row, the service is given up on (failed) until a
//!   person starts it again.

use crate::manifest::{RestartPolicy, RestartSpec};
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Exited with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// Declared unhealthy by its liveness probe and stopped by us.
    Unhealthy,
}

impl RunEnd {
    pub fn is_failure(self) -> bool {
        !matches!(self, RunEnd::Exited(Some(0)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Restart {
        after: Duration,
        attempt: u32,
    },
    /// Not restarting; the reason is for people.
    Stay(String),
}

#[derive(Debug, Clone, Default)]
pub struct RestartCounter {
    /// Restarts in a row, without a stable run between them.
    pub in_a_row: u32,
    /// Every restart since the service was started by a person.
    pub total: u32,
}

impl RestartCounter {
    /// Decides what to do after a run of `ran_for` ended as `end`. `jitter` in [-1, 1]
    /// scales the ±20 % (tests pass 0).
    pub fn decide(
        &mut self,
        spec: &RestartSpec,
        end: RunEnd,
        ran_for: Duration,
        jitter: f64,
    ) -> Decision {
        if ran_for >= Duration::from_millis(spec.stable_after_ms) {
            self.in_a_row = 0;
        }
        let wanted = match spec.policy {
            RestartPolicy::No => return Decision::Stay("its restart policy is `no`".into()),
            RestartPolicy::OnFailure => end.is_failure(),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        };
        if end == RunEnd::Unhealthy && !spec.on_unhealthy {
            return Decision::Stay("restart on unhealthy is off for it".into());
        }
        if !wanted {
            return Decision::Stay("it exited successfully (code 0)".into());
        }
        if self.in_a_row >= spec.max_restarts {
            return Decision::Stay(format!(
                "it was restarted {} times in a row without staying up {} s; start it again once it is fixed",
                self.in_a_row,
                spec.stable_after_ms / 1000
            ));
        }
        self.in_a_row += 1;
        self.total += 1;
        Decision::Restart {
            after: backoff(spec, self.in_a_row, jitter),
            attempt: self.in_a_row,
        }
    }
}

/// The delay before the `attempt`-th restart in a row (1-based).
pub fn backoff(spec: &RestartSpec, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let base = (spec.backoff_initial_ms as f64) * 2f64.powi(exponent as i32);
    let capped = base.min(spec.backoff_max_ms as f64);
    let jittered = capped * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Duration::from_millis(jittered.max(0.0) as u64)
}

/// A jitter value in [-1, 1] from the clock (no RNG dependency; good enough to spread restarts).
pub fn clock_jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (u64::from(nanos)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    (mixed as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: RestartPolicy) -> RestartSpec {
        RestartSpec {
            policy,
            max_restarts: 3,
            backoff_initial_ms: 100,
            backoff_max_ms: 350,
            stable_after_ms: 10_000,
            on_unhealthy: true,
        }
    }
    const SHORT: Duration = Duration::from_millis(50);

    #[test]
    fn backoff_doubles_caps_and_gives_up() {
        let s = spec(RestartPolicy::OnFailure);
        let mut c = RestartCounter::default();
        let delays: Vec<Decision> = (0..4)
            .map(|_| c.decide(&s, RunEnd::Exited(Some(1)), SHORT, 0.0))
            .collect();
        assert_eq!(
            delays[0],
            Decision::Restart {
                after: Duration::from_millis(100),
                attempt: 1
            }
        );
        assert_eq!(
            delays[1],
            Decision::Restart {
                after: Duration::from_millis(200),
                attempt: 2
            }
        );
        assert_eq!(
            delays[2],
            Decision::Restart {
                after: Duration::from_millis(350),
                attempt: 3
            }
        );
        assert!(matches!(&delays[3], Decision::Stay(why) if why.contains("3 times in a row")));
    }

    #[test]
    fn a_stable_run_resets_the_count() {
        let s = spec(RestartPolicy::Always);
        let mut c = RestartCounter::default();
        c.decide(&s, RunEnd::Exited(Some(1)), SHORT, 0.0);
        c.decide(&s, RunEnd::Exited(Some(1)), SHORT, 0.0);
        let d = c.decide(&s, RunEnd::Exited(Some(1)), Duration::from_secs(11), 0.0);
        assert_eq!(
            d,
            Decision::Restart {
                after: Duration::from_millis(100),
                attempt: 1
            }
        );
        assert_eq!(c.total, 3);
    }

    #[test]
    fn policies() {
        let mut c = RestartCounter::default();
        assert!(matches!(
            c.decide(
                &spec(RestartPolicy::No),
                RunEnd::Exited(Some(1)),
                SHORT,
                0.0
            ),
            Decision::Stay(_)
        ));
        assert!(matches!(
            c.decide(
                &spec(RestartPolicy::OnFailure),
                RunEnd::Exited(Some(0)),
                SHORT,
                0.0
            ),
            Decision::Stay(_)
        ));
        assert!(matches!(
            c.decide(
                &spec(RestartPolicy::OnFailure),
                RunEnd::Exited(None),
                SHORT,
                0.0
            ),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            c.decide(
                &spec(RestartPolicy::Always),
                RunEnd::Exited(Some(0)),
                SHORT,
                0.0
            ),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            c.decide(
                &spec(RestartPolicy::OnFailure),
                RunEnd::Unhealthy,
                SHORT,
                0.0
            ),
            Decision::Restart { .. }
        ));
        let mut off = spec(RestartPolicy::Always);
        off.on_unhealthy = false;
        assert!(matches!(
            c.decide(&off, RunEnd::Unhealthy, SHORT, 0.0),
            Decision::Stay(_)
        ));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = spec(RestartPolicy::Always);
        assert_eq!(backoff(&s, 1, 1.0), Duration::from_millis(120));
        assert_eq!(backoff(&s, 1, -1.0), Duration::from_millis(80));
        for _ in 0..100 {
            let j = clock_jitter();
            assert!((-1.0..=1.0).contains(&j));
        }
        assert_eq!(backoff(&s, 200, 0.0), Duration::from_millis(350));
    }
}
