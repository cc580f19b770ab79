//! What the supervisor says about services and the stack (DTOs shared with the UI).

use crate::breaker::BreakerState;
use crate::health::Architecture;
use crate::manifest::{Group, ServiceKind};
use crate::probe::ProbeSample;
use serde::Serialize;
use ts_rs::TS;

/// Where a service is in its life.
///
/// `stopped` → `starting` (spawned, probing until ready) → `running` (ready; liveness
/// probes pass) ⇄ `unhealthy` (liveness failed `failure_threshold` times in a row) →
/// restarted by policy (`backing_off` — for the backoff, or longer while the breaker is
/// open — then `starting`) or `failed` (a failed run the policy does not restart: policy
/// `no`, the restart cap; or a start refused or impossible: a held port, a missing
/// program…). A run that exits 0 and is not restarted is `completed`. `stopping` while a
/// stop is under way; `disabled` when the manifest says so. The exact rules are the
/// runner's (`crate::runner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Stopped,
    Starting,
    Running,
    Unhealthy,
    BackingOff,
    Stopping,
    Completed,
    Failed,
    Disabled,
}

impl ServiceState {
    pub fn is_healthy(self) -> bool {
        matches!(self, ServiceState::Running | ServiceState::Completed)
    }
}

impl ServiceStatus {
    /// Healthy for the score: running and passing its probe, or a one-shot job (no
    /// published port) that completed successfully. A server that exited, even with
    /// code 0, is not healthy.
    pub fn is_healthy(&self) -> bool {
        self.state == ServiceState::Running
            || (self.state == ServiceState::Completed && self.ports.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ServiceStatus {
    pub id: String,
    pub kind: ServiceKind,
    pub state: ServiceState,
    pub critical: bool,
    pub group: Group,
    pub pid: Option<u32>,
    pub ports: Vec<String>,
    /// Restarts since a person last started it.
    pub restarts: u32,
    #[ts(type = "number | null")]
    pub started_at_ms: Option<u64>,
    /// How long it took from spawn to ready, for the last start.
    pub ready_after_ms: Option<f64>,
    pub last_exit_code: Option<i32>,
    pub last_probe: Option<ProbeSample>,
    /// Response times of the last probes (oldest first), for a sparkline.
    pub latencies_ms: Vec<f64>,
    pub breaker: BreakerState,
    /// Why it is in this state, for people ("exited with code 3; restarting in 1.2 s").
    pub message: String,
    /// Whether we hold the process, or re-attached to it after a Greenroom restart.
    pub attached: bool,
    pub cpu_percent: Option<f32>,
    #[ts(type = "number | null")]
    pub memory_bytes: Option<u64>,
    /// A compose service's container, as docker last described it.
    pub container: Option<Box<crate::docker::ContainerStatus>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct StackStatus {
    pub name: String,
    pub services: Vec<ServiceStatus>,
    pub summary: StackSummary,
    /// The whole machine, sampled every second while services run.
    pub machine: Option<MachineMetrics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct MachineMetrics {
    /// All cores together, 0–100.
    pub cpu_percent: f32,
    #[ts(type = "number")]
    pub memory_used_bytes: u64,
    #[ts(type = "number")]
    pub memory_total_bytes: u64,
}

/// The stack at a glance, computed in one place ([`StackSummary::of`]) for every front.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct StackSummary {
    /// 0–100, see [`crate::health`].
    pub score: f64,
    pub architecture: Architecture,
    /// Enabled services that are healthy, and enabled services.
    pub healthy: u32,
    pub total: u32,
    /// Whether anything of the stack is under way: an enabled service that is not
    /// `stopped` (running, starting, backing off, failed, completed…). A stack that was
    /// never launched, or that was stopped whole, is *not started*: its score means
    /// nothing then and the fronts show "not started" instead of "0 / 100 degraded".
    pub started: bool,
}

impl StackSummary {
    pub fn of(services: &[ServiceStatus]) -> Self {
        let members: Vec<crate::health::Member> = services
            .iter()
            .filter(|s| s.state != ServiceState::Disabled)
            .map(|s| crate::health::Member {
                critical: s.critical,
                fallback: s.group == crate::manifest::Group::Fallback,
                healthy: s.is_healthy(),
            })
            .collect();
        Self {
            score: crate::health::score(&members),
            architecture: crate::health::architecture(&members),
            healthy: members.iter().filter(|m| m.healthy).count() as u32,
            total: members.len() as u32,
            started: services
                .iter()
                .any(|s| !matches!(s.state, ServiceState::Disabled | ServiceState::Stopped)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(id: &str, state: ServiceState) -> ServiceStatus {
        ServiceStatus {
            id: id.into(),
            kind: ServiceKind::Process,
            state,
            critical: true,
            group: Group::Principal,
            pid: None,
            ports: Vec::new(),
            restarts: 0,
            started_at_ms: None,
            ready_after_ms: None,
            last_exit_code: None,
            last_probe: None,
            latencies_ms: Vec::new(),
            breaker: BreakerState::Closed,
            message: String::new(),
            attached: false,
            cpu_percent: None,
            memory_bytes: None,
            container: None,
        }
    }

    #[test]
    fn a_stack_whose_services_are_all_stopped_or_disabled_is_not_started() {
        let never = StackSummary::of(&[
            service("a", ServiceState::Stopped),
            service("b", ServiceState::Disabled),
        ]);
        assert!(!never.started);
        assert_eq!(never.score, 0.0);
        assert!(!StackSummary::of(&[]).started);
        for state in [
            ServiceState::Starting,
            ServiceState::Running,
            ServiceState::Failed,
            ServiceState::BackingOff,
            ServiceState::Completed,
        ] {
            let summary =
                StackSummary::of(&[service("a", ServiceState::Stopped), service("b", state)]);
            assert!(summary.started, "{state:?} is under way");
        }
    }
}
