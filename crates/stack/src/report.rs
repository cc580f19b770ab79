//! The stack report (`greenroom report --output FILE`).
//!
//! **Schema, version 1** (JSON; written atomically). The first four sections keep the names
//! of the Eloquence team's network-manager report, so their tools read it as before:
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "metadata": {"generated_at": RFC 3339 UTC, "generated_at_ms": int, "manager_version": str,
//!                "stack": str, "source": str, "sampling_seconds": float},
//!   "current_status": {"global_health_score": float, "architecture": str,
//!                      "services": {ID: {"status": "healthy"|"unhealthy"|"down"|"disabled",
//!                                        "state": ServiceState, "response_time": ms|null}}},
//!   "performance_analysis": {"avg_response_times": {ID: {"avg", "min", "max"} (ms)},
//!                            "reliability_scores": {ID: % of probes that passed}},
//!   "recommendations": [str],
//!   "services": {ID: {"probes": int, "passed": int, "restarts": int, "breaker": BreakerState,
//!                     "pid": int|null, "cpu_percent": float|null, "memory_bytes": int|null,
//!                     "container": ContainerStatus|null (compose services: id, pid, image,
//!                                  state, health, health_output, engine_restarts)}},
//!   "diagnoses": [Diagnosis]
//! }
//! ```
//! Readers must ignore fields they do not know; a new version only adds fields, or bumps
//! `schema_version` and is documented here.

use crate::probe::ProbeSample;
use crate::repair::Diagnosis;
use crate::status::{ServiceState, StackStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Probe statistics of one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    pub probes: u64,
    pub passed: u64,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub sum_ms: f64,
}

impl ProbeStats {
    pub fn add(&mut self, sample: &ProbeSample) {
        self.probes += 1;
        if sample.ok {
            self.passed += 1;
        }
        let ms = sample.latency_ms;
        self.sum_ms += ms;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
    }

    pub fn avg_ms(&self) -> Option<f64> {
        (self.probes > 0).then(|| self.sum_ms / self.probes as f64)
    }

    /// Share of probes that passed, in percent (100 with no probe yet).
    pub fn reliability(&self) -> f64 {
        if self.probes == 0 {
            100.0
        } else {
            100.0 * self.passed as f64 / self.probes as f64
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// RFC 3339 (UTC, seconds) for Unix milliseconds, without a date library.
pub fn rfc3339(ms: u64) -> String {
    let (y, m, d, h, mi, sec) = greenroom_core::clock::utc_civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z")
}

pub struct ReportInput<'a> {
    pub status: &'a StackStatus,
    pub stats: &'a BTreeMap<String, ProbeStats>,
    pub diagnoses: &'a [Diagnosis],
    pub source: &'a str,
    pub sampling_seconds: f64,
    pub version: &'a str,
}

pub fn build(input: &ReportInput<'_>) -> serde_json::Value {
    let now = crate::logs::now_ms();
    let mut current = serde_json::Map::new();
    let mut averages = serde_json::Map::new();
    let mut reliability = serde_json::Map::new();
    let mut services = serde_json::Map::new();
    for s in &input.status.services {
        let stats = input.stats.get(&s.id).cloned().unwrap_or_default();
        let label = match s.state {
            ServiceState::Disabled => "disabled",
            _ if s.is_healthy() => "healthy",
            ServiceState::Running | ServiceState::Unhealthy | ServiceState::Starting => "unhealthy",
            _ => "down",
        };
        current.insert(
            s.id.clone(),
            serde_json::json!({"status": label, "state": s.state, "response_time": s.last_probe.as_ref().map(|p| round1(p.latency_ms))}),
        );
        if let Some(avg) = stats.avg_ms() {
            averages.insert(
                s.id.clone(),
                serde_json::json!({"avg": round1(avg), "min": stats.min_ms.map(round1), "max": stats.max_ms.map(round1)}),
            );
        }
        reliability.insert(s.id.clone(), serde_json::json!(round1(stats.reliability())));
        services.insert(
            s.id.clone(),
            serde_json::json!({"probes": stats.probes, "passed": stats.passed, "restarts": s.restarts, "breaker": s.breaker,
                               "pid": s.pid, "cpu_percent": s.cpu_percent, "memory_bytes": s.memory_bytes,
                               "container": s.container}),
        );
    }
    let mut recommendations: Vec<String> = input
        .diagnoses
        .iter()
        .filter_map(|d| {
            d.actions
                .first()
                .map(|a| format!("{}: {}", d.problem, a.title))
        })
        .collect();
    if recommendations.is_empty() {
        recommendations.push("the stack is healthy: nothing to do".into());
    }
    serde_json::json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "metadata": {
            "generated_at": rfc3339(now),
            "generated_at_ms": now,
            "manager_version": input.version,
            "stack": input.status.name,
            "source": input.source,
            "sampling_seconds": round1(input.sampling_seconds),
        },
        "current_status": {
            "global_health_score": input.status.summary.score,
            "architecture": input.status.summary.architecture,
            "services": current,
        },
        "performance_analysis": {"avg_response_times": averages, "reliability_scores": reliability},
        "recommendations": recommendations,
        "services": services,
        "diagnoses": input.diagnoses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_stats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_705_329_000_000), "2024-01-15T14:30:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        let mut s = ProbeStats::default();
        for (ok, ms) in [(true, 10.0), (false, 30.0), (true, 20.0), (true, 40.0)] {
            s.add(&ProbeSample {
                ok,
                latency_ms: ms,
                at_ms: 0,
                detail: String::new(),
            });
        }
        assert_eq!(
            (s.avg_ms(), s.min_ms, s.max_ms, s.reliability()),
            (Some(25.0), Some(10.0), Some(40.0), 75.0)
        );
    }
}
