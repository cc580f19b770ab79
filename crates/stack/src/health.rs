//! The global health score and the architecture type.
//!
//! **Score** (0–100), over enabled services only: critical services weigh 70 % and the
//! others 30 %, each part being the share of its services that are healthy:
//! `score = 70 × healthy_critical / critical + 30 × healthy_other / other`.
//! When a stack has no critical service, the other services weigh 100 %; when it has only
//! critical services, they do. A stack with no enabled service scores 0. "Healthy" means
//! running and passing its probe (a service without a probe: running), or a one-shot job
//! (no published port) that completed successfully; a server that exited is not healthy.
//!
//! **Architecture**, as the Eloquence team defines it, with P/F the enabled principal /
//! fallback services and p/f how many of them are healthy:
//! - `principal`: p ≥ min(4, P) (P > 0) and no fallback is healthy;
//! - `hybrid`: p ≥ min(4, P) with fallbacks healthy too, or p ≥ 2 and f ≥ min(2, F) (F > 0);
//! - `alternative`: f ≥ min(2, F) (F > 0) and p < 2;
//! - `degraded`: anything else (fewer than 2 principal services up and no working fallback).

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Principal,
    Hybrid,
    Alternative,
    Degraded,
}

/// What the score needs to know of one service.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub critical: bool,
    pub fallback: bool,
    pub healthy: bool,
}

pub fn score(members: &[Member]) -> f64 {
    let share = |critical: bool| {
        let group: Vec<_> = members.iter().filter(|m| m.critical == critical).collect();
        if group.is_empty() {
            None
        } else {
            Some(group.iter().filter(|m| m.healthy).count() as f64 / group.len() as f64)
        }
    };
    let raw = match (share(true), share(false)) {
        (Some(c), Some(o)) => 70.0 * c + 30.0 * o,
        (Some(c), None) => 100.0 * c,
        (None, Some(o)) => 100.0 * o,
        (None, None) => 0.0,
    };
    (raw * 10.0).round() / 10.0
}

pub fn architecture(members: &[Member]) -> Architecture {
    let total_p = members.iter().filter(|m| !m.fallback).count();
    let total_f = members.iter().filter(|m| m.fallback).count();
    let p = members.iter().filter(|m| !m.fallback && m.healthy).count();
    let f = members.iter().filter(|m| m.fallback && m.healthy).count();
    let principal_ok = total_p > 0 && p >= total_p.min(4);
    let fallback_ok = total_f > 0 && f >= total_f.min(2);
    if principal_ok && f == 0 {
        Architecture::Principal
    } else if (principal_ok && f > 0) || (p >= 2 && fallback_ok) {
        Architecture::Hybrid
    } else if fallback_ok {
        Architecture::Alternative
    } else {
        Architecture::Degraded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(critical: bool, fallback: bool, healthy: bool) -> Member {
        Member {
            critical,
            fallback,
            healthy,
        }
    }

    #[test]
    fn critical_services_weigh_seventy_percent() {
        let all = [
            m(true, false, true),
            m(true, false, false),
            m(false, false, true),
            m(false, false, true),
        ];
        assert_eq!(score(&all), 65.0); // 70 × 1/2 + 30 × 2/2
        assert_eq!(score(&[m(true, false, true)]), 100.0);
        assert_eq!(
            score(&[
                m(false, false, true),
                m(false, false, false),
                m(false, false, false)
            ]),
            33.3
        );
        assert_eq!(score(&[]), 0.0);
    }

    #[test]
    fn architectures() {
        let principal: Vec<Member> = (0..4).map(|_| m(true, false, true)).collect();
        assert_eq!(architecture(&principal), Architecture::Principal);
        let mut hybrid = principal.clone();
        hybrid.push(m(false, true, true));
        assert_eq!(architecture(&hybrid), Architecture::Hybrid);
        let alternative = [
            m(true, false, false),
            m(true, false, false),
            m(false, true, true),
            m(false, true, true),
        ];
        assert_eq!(architecture(&alternative), Architecture::Alternative);
        let degraded = [
            m(true, false, true),
            m(true, false, false),
            m(true, false, false),
            m(true, false, false),
            m(false, true, false),
        ];
        assert_eq!(architecture(&degraded), Architecture::Degraded);
        // A small stack: all of its 3 principal services up is principal.
        assert_eq!(architecture(&principal[..3]), Architecture::Principal);
    }
}
