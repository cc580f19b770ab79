//! The supervisor: brings a stack up in dependency order, keeps it running, brings it down.
//!
//! **Theory of operation.** Each service has one runner task that owns its process (or,
//! for compose and external services, its probing) and is driven through a channel with
//! systemctl-like verbs: start, stop, restart. A runner publishes its [`ServiceStatus`]
//! on a watch channel and as events; nothing else touches the process.
//!
//! - *Start*: spawn (its own process group / Job Object; output appended to its log file),
//!   then probe every `startup_interval_ms` until the first success → `running`. Not ready
//!   within `start_timeout_ms` → stopped and reported with the probe's last answer and the
//!   last log lines. A service without a probe is ready once spawned.
//! - *Liveness*: once ready, probe every `interval_ms`; `failure_threshold` failures in a
//!   row → `unhealthy`, and (with `restart.on_unhealthy`) restarted — what compose never does.
//! - *Exit*: the restart policy decides ([`crate::restart`]): backoff with jitter, a cap on
//!   restarts in a row, reset after a stable run. The circuit breaker ([`crate::breaker`])
//!   stops attempts for `open_ms` after `threshold` failed runs, then lets one through.
//!   Before any automatic restart the runner re-reads the state file: a service that a
//!   person (or another Greenroom) stopped meanwhile is not restarted.
//! - *Stop*: the stop signal to the whole group, `grace_ms`, then kill.
//!
//! `up` starts the selected services and their dependencies: a service starts as soon as
//! each of its dependencies meets its condition (`started`, `healthy`,
//! `completed_successfully`), so independent services start in parallel and the total is
//! the critical path. `down` stops in reverse dependency order, each level in parallel.
//!
//! **Re-attach.** The state file records each process's PID and start time. A new
//! supervisor on the same stack adopts those still alive (and still the same process): it
//! probes them, watches for their exit, and can stop them; it never starts duplicates.

use crate::breaker::{Breaker, BreakerState};
use crate::logs::{LogBook, LogLine, now_ms};
use crate::manifest::{Condition, Manifest, ProbeCheck, ServiceKind, ServiceSpec};
use crate::process::{self, Launch, Spawned};
use crate::restart::{Decision, RestartCounter, RunEnd, clock_jitter};
use crate::state::{self, ServiceRecord, StackState};
use crate::status::{ServiceState, ServiceStatus, StackStatus, StackSummary};
use greenroom_core::EventSink;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use ts_rs::TS;

/// How many probe response times a status keeps for its sparkline.
pub const LATENCY_HISTORY: usize = 30;

/// What the supervisor tells the world.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StackEvent {
    /// A service's status changed (state, probe sample, resources…).
    Service { status: ServiceStatus },
    /// A service printed a line.
    Log { line: LogLine },
    /// The stack's score, architecture or healthy count changed.
    Summary { summary: StackSummary },
}

impl StackEvent {
    pub fn topic(&self) -> String {
        match self {
            StackEvent::Service { status } => format!("stack://service/{}/status", status.id),
            StackEvent::Log { line } => format!("stack://service/{}/log", line.service),
            StackEvent::Summary { .. } => "stack://summary".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct UpResult {
    pub id: String,
    pub ok: bool,
    pub ready_after_ms: Option<f64>,
    pub pid: Option<u32>,
    pub ports: Vec<String>,
    /// Why it did not come up.
    pub error: Option<String>,
    /// Its last log lines, when it did not come up.
    pub log_tail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct UpReport {
    pub services: Vec<UpResult>,
    pub total_ms: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SupervisorError(pub String);

enum Control {
    Start(oneshot::Sender<StartAck>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<StartAck>),
    /// Sets the probe timeout for the coming runs (a repair of a slow service).
    SetProbeTimeout(u64, oneshot::Sender<()>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAck {
    /// A new run began; its status will carry this run number.
    Started(u64),
    /// It was already up (or starting); nothing was done.
    AlreadyActive,
}

struct Slot {
    status: watch::Sender<ServiceStatus>,
    control: mpsc::UnboundedSender<Control>,
    /// Bumped at every spawn; `up` waits for the outcome of its own run.
    run: Arc<std::sync::atomic::AtomicU64>,
}

struct Shared {
    name: String,
    root: PathBuf,
    manifest: Manifest,
    sink: Arc<dyn EventSink<StackEvent>>,
    logs: LogBook,
    state_path: PathBuf,
    state: Mutex<StackState>,
    tool_dirs: Vec<PathBuf>,
    builtins: crate::builtin::Builtins,
    /// Every service's latest status, for the summary each change may move.
    statuses: Mutex<BTreeMap<String, ServiceStatus>>,
    /// Probe statistics per service since this supervisor started (for reports).
    stats: Mutex<BTreeMap<String, crate::report::ProbeStats>>,
    last_summary: Mutex<Option<StackSummary>>,
    machine: Mutex<Option<crate::status::MachineMetrics>>,
}

impl Shared {
    /// Records a service's new status and emits the summary when it changed.
    fn note_status(&self, status: &ServiceStatus) {
        let summary = {
            let mut all = greenroom_core::lock_unpoisoned(&self.statuses);
            all.insert(status.id.clone(), status.clone());
            StackSummary::of(&all.values().cloned().collect::<Vec<_>>())
        };
        let mut last = greenroom_core::lock_unpoisoned(&self.last_summary);
        if last.as_ref() != Some(&summary) {
            *last = Some(summary.clone());
            drop(last);
            self.sink.emit(StackEvent::Summary { summary });
        }
    }
}

impl Shared {
    fn record(&self, id: &str, f: impl FnOnce(&mut ServiceRecord)) {
        let mut state = greenroom_core::lock_unpoisoned(&self.state);
        f(state.services.entry(id.to_owned()).or_default());
        if let Err(e) = state::save(&self.state_path, &state) {
            tracing::warn!(
                "cannot save the stack state to {}: {e}",
                self.state_path.display()
            );
        }
    }

    /// Whether a person still wants `id` running, as the state file says now.
    fn still_wanted(&self, id: &str) -> bool {
        let (on_disk, _) = state::load(&self.state_path, &self.name);
        on_disk.services.get(id).is_none_or(|r| r.wanted)
    }
}

/// A running stack.
#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
    slots: Arc<BTreeMap<String, Slot>>,
}

/// `compose -p PROJECT -f FILE…` for a compose service (files relative to `root`), and
/// its service name in the compose files.
fn compose_invocation(
    spec: &ServiceSpec,
    root: &Path,
    stack: &str,
    id: &str,
) -> (Vec<std::ffi::OsString>, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["compose".into(), "-p".into()];
    args.push(
        spec.compose_project
            .clone()
            .unwrap_or_else(|| stack.to_owned())
            .into(),
    );
    for file in &spec.compose_files {
        args.push("-f".into());
        args.push(root.join(file).into_os_string());
    }
    (
        args,
        spec.compose_service
            .clone()
            .unwrap_or_else(|| id.to_owned()),
    )
}

fn stack_dir_of(shared: &Shared) -> PathBuf {
    shared
        .state_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where a stack keeps its state and logs: `<home>/stacks/<name>-<hash of its manifest path>`.
pub fn stack_dir(home: &Path, name: &str, root: &Path) -> PathBuf {
    let key = root
        .canonicalize()
        .unwrap_or_else(|_| root.to_path_buf())
        .display()
        .to_string();
    let hash = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    home.join("stacks")
        .join(format!("{safe}-{:08x}", hash as u32))
}

impl Supervisor {
    /// Prepares the runners and re-attaches to services still running from before.
    /// `root` is the folder relative paths of the manifest are resolved against.
    pub fn new(
        manifest: Manifest,
        root: PathBuf,
        home: &Path,
        tool_dirs: Vec<PathBuf>,
        builtins: crate::builtin::Builtins,
        sink: Arc<dyn EventSink<StackEvent>>,
    ) -> Result<(Self, Vec<String>), SupervisorError> {
        let name = manifest.name.clone().unwrap_or_else(|| "stack".into());
        let dir = stack_dir(home, &name, &root);
        let logs = LogBook::new(dir.join("logs")).map_err(|e| {
            SupervisorError(format!(
                "cannot create the log folder in {}: {e}",
                dir.display()
            ))
        })?;
        let state_path = dir.join("state.json");
        let (state, note) = state::load(&state_path, &name);
        let mut notes: Vec<String> = note.into_iter().collect();
        let shared = Arc::new(Shared {
            name,
            root,
            manifest,
            sink,
            logs,
            state_path,
            state: Mutex::new(state.clone()),
            tool_dirs,
            builtins,
            statuses: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            last_summary: Mutex::new(None),
            machine: Mutex::new(None),
        });
        let mut slots = BTreeMap::new();
        for (id, spec) in &shared.manifest.services {
            let initial = initial_status(id, spec);
            let (status_tx, _) = watch::channel(initial);
            let (control_tx, control_rx) = mpsc::unbounded_channel();
            let run = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let adopted = state
                .services
                .get(id)
                .and_then(|r| r.pid.map(|pid| (pid, r.start_time, r.restarts)))
                .filter(|(pid, start, _)| {
                    spec.kind == ServiceKind::Process && process::is_ours(*pid, *start)
                });
            if let Some((pid, _, _)) = adopted {
                notes.push(format!(
                    "re-attached to `{id}` (PID {pid}), still running from before"
                ));
            } else if state.services.get(id).is_some_and(|r| r.pid.is_some()) {
                shared.record(id, |r| {
                    r.pid = None;
                    r.start_time = None;
                });
            }
            if let Some((pid, _, restarts)) = adopted {
                status_tx.send_modify(|s| {
                    s.state = ServiceState::Running;
                    s.pid = Some(pid);
                    s.attached = true;
                    s.restarts = restarts;
                    s.message = "running (re-attached)".into();
                });
            }
            let runner = Runner {
                id: id.clone(),
                spec: spec.clone(),
                shared: shared.clone(),
                status: status_tx.clone(),
                run: run.clone(),
                breaker: Breaker::new(&spec.breaker),
                counter: RestartCounter {
                    total: adopted.map_or(0, |a| a.2),
                    ..Default::default()
                },
            };
            tokio::spawn(runner.serve(control_rx, adopted.map(|(pid, start, _)| (pid, start))));
            slots.insert(
                id.clone(),
                Slot {
                    status: status_tx,
                    control: control_tx,
                    run,
                },
            );
        }
        let supervisor = Self {
            shared,
            slots: Arc::new(slots),
        };
        supervisor.spawn_resource_monitor();
        Ok((supervisor, notes))
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn manifest(&self) -> &Manifest {
        &self.shared.manifest
    }

    /// The folder relative paths of the manifest are resolved against.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    pub fn status(&self) -> StackStatus {
        let services: Vec<ServiceStatus> = self
            .slots
            .values()
            .map(|s| s.status.borrow().clone())
            .collect();
        StackStatus {
            name: self.shared.name.clone(),
            summary: StackSummary::of(&services),
            services,
            machine: greenroom_core::lock_unpoisoned(&self.shared.machine).clone(),
        }
    }

    pub fn watch(&self, id: &str) -> Option<watch::Receiver<ServiceStatus>> {
        self.slots.get(id).map(|s| s.status.subscribe())
    }

    pub fn logs(&self) -> &LogBook {
        &self.shared.logs
    }

    fn slot(&self, id: &str) -> Result<&Slot, SupervisorError> {
        self.slots.get(id).ok_or_else(|| {
            SupervisorError(format!(
                "no service `{id}` in this stack; its services are: {}",
                self.slots.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// `only` and everything they depend on (all enabled services when `only` is empty).
    fn selection(&self, only: &[String]) -> Result<BTreeSet<String>, SupervisorError> {
        let services = &self.shared.manifest.services;
        let mut wanted: Vec<String> = if only.is_empty() {
            services
                .iter()
                .filter(|(_, s)| s.enabled)
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            for id in only {
                let spec = services.get(id).ok_or_else(|| {
                    self.slot(id)
                        .err()
                        .unwrap_or(SupervisorError(String::new()))
                })?;
                if !spec.enabled {
                    return Err(SupervisorError(format!(
                        "`{id}` is disabled in the manifest (enabled = false or an inactive profile)"
                    )));
                }
            }
            only.to_vec()
        };
        let mut selected = BTreeSet::new();
        while let Some(id) = wanted.pop() {
            if selected.insert(id.clone()) {
                for (dep, _) in services[&id].depends_on.entries() {
                    if services.get(&dep).is_some_and(|s| s.enabled) {
                        wanted.push(dep);
                    }
                }
            }
        }
        Ok(selected)
    }

    /// Starts `only` (or every enabled service) and what they depend on, in dependency
    /// order; `on_ready` is called as each service comes up (or fails).
    pub async fn up(
        &self,
        only: &[String],
        on_result: impl Fn(&UpResult) + Send + Sync,
    ) -> Result<UpReport, SupervisorError> {
        let started = Instant::now();
        let selection = self.selection(only)?;
        let phases: BTreeMap<String, (watch::Sender<Phase>, watch::Receiver<Phase>)> = selection
            .iter()
            .map(|id| (id.clone(), watch::channel(Phase::Pending)))
            .collect();
        let on_result = &on_result;
        let futures = selection.iter().map(|id| {
            let phases = &phases;
            async move {
                let spec = &self.shared.manifest.services[id];
                let me = &phases[id].0;
                for (dep, condition) in spec.depends_on.entries() {
                    let Some((_, rx)) = phases.get(&dep) else {
                        continue;
                    };
                    if let Err(why) = wait_for_phase(rx.clone(), condition).await {
                        let result = UpResult {
                            id: id.clone(),
                            ok: false,
                            ready_after_ms: None,
                            pid: None,
                            ports: Vec::new(),
                            error: Some(format!("not started: its dependency `{dep}` {why}")),
                            log_tail: Vec::new(),
                        };
                        me.send_replace(Phase::Failed(format!("dependency `{dep}` failed")));
                        on_result(&result);
                        return result;
                    }
                }
                let result = self.start_and_wait(id, me).await;
                on_result(&result);
                result
            }
        });
        let results = futures_util::future::join_all(futures).await;
        let ok = results.iter().all(|r| r.ok);
        Ok(UpReport {
            services: results,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
            ok,
        })
    }

    async fn start_and_wait(&self, id: &str, phase: &watch::Sender<Phase>) -> UpResult {
        let slot = &self.slots[id];
        let mut rx = slot.status.subscribe();
        let (tx, ack) = oneshot::channel();
        let _ = slot.control.send(Control::Start(tx));
        let fail = |error: String, status: &ServiceStatus| UpResult {
            id: id.to_owned(),
            ok: false,
            ready_after_ms: None,
            pid: status.pid,
            ports: status.ports.clone(),
            error: Some(error),
            log_tail: self.shared.logs.tail_file(id, 10),
        };
        let run = match ack.await {
            Ok(StartAck::Started(run)) => Some(run),
            Ok(StartAck::AlreadyActive) => None,
            Err(_) => {
                let status = rx.borrow().clone();
                phase.send_replace(Phase::Failed("its runner stopped".into()));
                return fail("its runner stopped unexpectedly".into(), &status);
            }
        };
        loop {
            let status = rx.borrow_and_update().clone();
            let current_run = slot.run.load(Ordering::SeqCst);
            let ours = run.is_none_or(|r| current_run >= r);
            if ours {
                match status.state {
                    ServiceState::Starting => {
                        phase.send_if_modified(|p| {
                            let changed = *p == Phase::Pending;
                            if changed {
                                *p = Phase::Started;
                            }
                            changed
                        });
                    }
                    ServiceState::Running | ServiceState::Unhealthy => {
                        phase.send_replace(Phase::Ready);
                        return UpResult {
                            id: id.to_owned(),
                            ok: true,
                            ready_after_ms: status.ready_after_ms,
                            pid: status.pid,
                            ports: status.ports.clone(),
                            error: None,
                            log_tail: Vec::new(),
                        };
                    }
                    ServiceState::Completed => {
                        phase.send_replace(Phase::Completed);
                        return UpResult {
                            id: id.to_owned(),
                            ok: true,
                            ready_after_ms: status.ready_after_ms,
                            pid: None,
                            ports: status.ports.clone(),
                            error: None,
                            log_tail: Vec::new(),
                        };
                    }
                    ServiceState::Failed | ServiceState::BackingOff | ServiceState::Stopped
                        if run.is_some() =>
                    {
                        phase.send_replace(Phase::Failed(status.message.clone()));
                        return fail(status.message.clone(), &status);
                    }
                    _ => {}
                }
            }
            if rx.changed().await.is_err() {
                phase.send_replace(Phase::Failed("its runner stopped".into()));
                return fail("its runner stopped unexpectedly".into(), &status);
            }
        }
    }

    /// Stops every service, dependents first, each level in parallel.
    pub async fn down(&self) -> Vec<String> {
        let levels = crate::graph::start_order(&self.shared.manifest).unwrap_or_default();
        let mut stopped = Vec::new();
        for level in levels.iter().rev() {
            let futures = level.iter().map(|id| async move {
                let was_active = !matches!(
                    self.slots[id].status.borrow().state,
                    ServiceState::Stopped | ServiceState::Disabled
                );
                self.stop(id).await.ok();
                (id.clone(), was_active)
            });
            for (id, was_active) in futures_util::future::join_all(futures).await {
                if was_active {
                    stopped.push(id);
                }
            }
        }
        stopped
    }

    pub async fn stop(&self, id: &str) -> Result<(), SupervisorError> {
        let slot = self.slot(id)?;
        self.shared.record(id, |r| r.wanted = false);
        let (tx, rx) = oneshot::channel();
        let _ = slot.control.send(Control::Stop(tx));
        rx.await
            .map_err(|_| SupervisorError(format!("the runner of `{id}` stopped unexpectedly")))
    }

    /// Starts one service (not its dependencies) and returns once it is ready or failed.
    pub async fn start(&self, id: &str) -> Result<UpResult, SupervisorError> {
        self.slot(id)?;
        let (phase, _) = watch::channel(Phase::Pending);
        Ok(self.start_and_wait(id, &phase).await)
    }

    pub async fn restart(&self, id: &str) -> Result<UpResult, SupervisorError> {
        let slot = self.slot(id)?;
        let (tx, rx) = oneshot::channel();
        let _ = slot.control.send(Control::Restart(tx));
        let _ = rx.await;
        let (phase, _) = watch::channel(Phase::Pending);
        Ok(self.start_and_wait(id, &phase).await)
    }

    /// Where this stack keeps its state, logs and repair log.
    pub fn dir(&self) -> PathBuf {
        stack_dir_of(&self.shared)
    }

    /// Probe statistics since this supervisor started.
    pub fn stats(&self) -> BTreeMap<String, crate::report::ProbeStats> {
        greenroom_core::lock_unpoisoned(&self.shared.stats).clone()
    }

    /// A diagnosis for every service that is unwell, or stopped with a pre-flight finding.
    pub async fn diagnoses(&self) -> Vec<crate::repair::Diagnosis> {
        let pre = self.preflight().await;
        let manifest = &self.shared.manifest;
        self.status()
            .services
            .iter()
            .filter(|s| {
                let named =
                    |f: &crate::preflight::Finding| f.service.as_deref() == Some(s.id.as_str());
                crate::repair::is_unwell(s)
                    || (s.state == ServiceState::Stopped && pre.findings.iter().any(named))
                    || pre.findings.iter().any(|f| named(f) && f.token.is_some())
            })
            .map(|s| {
                crate::repair::diagnose(
                    s,
                    &manifest.services[&s.id],
                    &pre.findings,
                    crate::graph::dependents(manifest, &s.id),
                    &self.shared.logs.tail_file(&s.id, 5),
                )
            })
            .collect()
    }

    /// Runs one proposed repair of `id`. Actions that need confirmation are refused unless
    /// `confirmed`; every attempt is logged in `repairs.log`.
    pub async fn repair(
        &self,
        id: &str,
        kind: crate::repair::RepairKind,
        confirmed: bool,
    ) -> Result<crate::repair::RepairOutcome, SupervisorError> {
        use crate::repair::{RepairKind, RepairOutcome};
        let slot = self.slot(id)?;
        let diagnoses = self.diagnoses().await;
        let action = diagnoses
            .iter()
            .find(|d| d.service == id)
            .and_then(|d| d.actions.iter().find(|a| a.kind == kind))
            .cloned()
            .ok_or_else(|| SupervisorError(format!("{kind:?} is not a repair Greenroom proposes for `{id}` now; `greenroom fix` lists what it proposes")))?;
        if action.needs_confirmation && !confirmed {
            return Err(SupervisorError(format!(
                "this repair needs your confirmation: {}",
                action.detail
            )));
        }
        let spec = &self.shared.manifest.services[id];
        let result: Result<String, String> = match kind {
            RepairKind::Restart => self.restart(id).await.map_err(|e| e.0).and_then(|r| {
                if r.ok {
                    Ok("restarted; it is up".into())
                } else {
                    Err(r.error.unwrap_or_default())
                }
            }),
            RepairKind::RaiseTimeout => {
                let ms = action.new_timeout_ms.unwrap_or(1000);
                let (tx, rx) = oneshot::channel();
                let _ = slot.control.send(Control::SetProbeTimeout(ms, tx));
                let _ = rx.await;
                self.restart(id).await.map_err(|e| e.0).and_then(|r| {
                    if r.ok {
                        Ok(format!("probe timeout raised to {ms} ms; it is up"))
                    } else {
                        Err(r.error.unwrap_or_default())
                    }
                })
            }
            RepairKind::RecreateCompose => {
                let (base, service) =
                    compose_invocation(spec, &self.shared.root, &self.shared.name, id);
                let mut c = tokio::process::Command::new("docker");
                c.args(&base)
                    .args(["up", "-d", "--force-recreate", "--no-deps", &service])
                    .kill_on_drop(true);
                match c.output().await {
                    Ok(out) if out.status.success() => self
                        .restart(id)
                        .await
                        .map_err(|e| e.0)
                        .map(|_| "container re-created".into()),
                    Ok(out) => Err(String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("docker compose failed")
                        .to_owned()),
                    Err(e) => Err(format!("cannot run docker compose: {e}")),
                }
            }
            RepairKind::RecreateVenv => self.recreate_venv(id).await,
            RepairKind::RegenerateToken => self.regenerate_token(id).await,
            RepairKind::FreePort => match action.target_pid {
                Some(pid) => match process::stop_foreign(pid, Duration::from_secs(5)).await {
                    Ok(()) => self.start(id).await.map_err(|e| e.0).and_then(|r| {
                        if r.ok {
                            Ok(format!("stopped PID {pid}; {id} is up"))
                        } else {
                            Err(r.error.unwrap_or_default())
                        }
                    }),
                    Err(e) => Err(e),
                },
                None => Err("no process to stop".into()),
            },
        };
        let outcome = RepairOutcome {
            service: id.to_owned(),
            kind,
            ok: result.is_ok(),
            message: result.unwrap_or_else(|e| e),
        };
        crate::repair::log_outcome(&self.dir(), &outcome);
        Ok(outcome)
    }

    async fn regenerate_token(&self, id: &str) -> Result<String, String> {
        let pre = self.preflight().await;
        let token = pre
            .findings
            .iter()
            .filter(|f| f.service.as_deref() == Some(id))
            .find_map(|f| f.token.clone())
            .ok_or("no expired token any more")?;
        // The key and secret the stack uses: the process environment, then the env file.
        let mut env: BTreeMap<String, String> = std::env::vars().collect();
        if let Ok(text) = std::fs::read_to_string(&token.file)
            && let Ok(vars) = crate::dotenv::parse(&text, &|n: &str| std::env::var(n).ok())
        {
            for (k, v) in vars {
                env.entry(k).or_insert(v);
            }
        }
        let key = env
            .get("LIVEKIT_API_KEY")
            .filter(|v| !v.is_empty())
            .ok_or("LIVEKIT_API_KEY is not set: Greenroom needs it to sign the new token")?;
        let secret = env
            .get("LIVEKIT_API_SECRET")
            .filter(|v| !v.is_empty())
            .ok_or("LIVEKIT_API_SECRET is not set: Greenroom needs it to sign the new token")?;
        let expired = crate::tokens::ExpiredToken {
            file: PathBuf::from(&token.file),
            line: token.line as usize,
            variable: token.variable.clone(),
            expired_at: 0,
        };
        let message = crate::tokens::regenerate(&expired, key, secret)?;
        let restarted = self.restart(id).await.map_err(|e| e.0)?;
        if restarted.ok {
            Ok(format!("{message}; {id} restarted"))
        } else {
            Err(format!(
                "{message}, but {id} did not come back: {}",
                restarted.error.unwrap_or_default()
            ))
        }
    }

    async fn recreate_venv(&self, id: &str) -> Result<String, String> {
        let spec = &self.shared.manifest.services[id];
        let venv = self
            .shared
            .root
            .join(spec.venv.as_deref().ok_or("it has no virtualenv")?);
        let python = if cfg!(windows) { "python" } else { "python3" };
        let out = tokio::process::Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .output()
            .await
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{python} -m venv failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let requirements = venv
            .parent()
            .map(|p| p.join("requirements.txt"))
            .filter(|r| r.is_file());
        if let Some(req) = &requirements {
            let pip = venv.join(if cfg!(windows) {
                "Scripts/pip.exe"
            } else {
                "bin/pip"
            });
            let out = tokio::process::Command::new(pip)
                .arg("install")
                .arg("-r")
                .arg(req)
                .output()
                .await
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "pip install -r {} failed: {}",
                    req.display(),
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
            }
        }
        let r = self.restart(id).await.map_err(|e| e.0)?;
        if r.ok {
            Ok(format!(
                "virtualenv re-created{}; it is up",
                if requirements.is_some() {
                    " and requirements installed"
                } else {
                    ""
                }
            ))
        } else {
            Err(r.error.unwrap_or_default())
        }
    }

    /// What would make `up` fail, checked now (see [`crate::preflight`]).
    pub async fn preflight(&self) -> crate::preflight::Preflight {
        let statuses: Vec<ServiceStatus> = self
            .slots
            .values()
            .map(|s| s.status.borrow().clone())
            .collect();
        let running: BTreeSet<String> = statuses
            .iter()
            .filter(|s| {
                !matches!(
                    s.state,
                    ServiceState::Stopped
                        | ServiceState::Failed
                        | ServiceState::Disabled
                        | ServiceState::Completed
                )
            })
            .map(|s| s.id.clone())
            .collect();
        let roots: Vec<u32> = statuses
            .iter()
            .filter_map(|s| s.pid)
            .chain([std::process::id()])
            .collect();
        let our_pids = process::descendants(&roots);
        let mut env: BTreeMap<String, String> = std::env::vars().collect();
        let process_env = env.clone();
        let outer = |name: &str| process_env.get(name).cloned();
        let mut files: Vec<&String> = self.shared.manifest.env_files.iter().collect();
        for spec in self.shared.manifest.services.values() {
            files.extend(spec.env_files.iter());
        }
        for file in files {
            if let Ok(text) = std::fs::read_to_string(self.shared.root.join(file))
                && let Ok(vars) = crate::dotenv::parse(&text, &outer)
            {
                env.extend(vars);
            }
        }
        let mut env_files: Vec<(PathBuf, Option<String>)> = Vec::new();
        let first_of = |pred: &dyn Fn(&ServiceSpec) -> bool| {
            self.shared
                .manifest
                .services
                .iter()
                .find(|(_, s)| s.enabled && pred(s))
                .map(|(id, _)| id.clone())
        };
        for file in &self.shared.manifest.env_files {
            env_files.push((self.shared.root.join(file), first_of(&|_| true)));
        }
        for (id, spec) in &self.shared.manifest.services {
            for file in &spec.env_files {
                env_files.push((self.shared.root.join(file), Some(id.clone())));
            }
        }
        if self
            .shared
            .manifest
            .services
            .values()
            .any(|s| s.kind == ServiceKind::Compose)
        {
            env_files.push((
                self.shared.root.join(".env"),
                first_of(&|s| s.kind == ServiceKind::Compose),
            ));
        }
        crate::preflight::run(crate::preflight::PreflightInput {
            manifest: &self.shared.manifest,
            root: &self.shared.root,
            tool_dirs: &self.shared.tool_dirs,
            running: &running,
            our_pids: &our_pids,
            env: &env,
            env_files: &env_files,
        })
        .await
    }

    /// CPU and memory of every service's process tree, once a second. The whole process
    /// table (needed to find children) is read every 5 s; in between only the known PIDs.
    fn spawn_resource_monitor(&self) {
        let weak = Arc::downgrade(&self.slots);
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
            let Ok(mut system) = System::new() else {
                return;
            };
            let kind = ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_exe(UpdateKind::Never);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut trees: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
            let mut round = 0u64;
            loop {
                tick.tick().await;
                let Some(slots) = weak.upgrade() else { return };
                let roots: Vec<(String, u32)> = slots
                    .iter()
                    .filter_map(|(id, s)| s.status.borrow().pid.map(|p| (id.clone(), p)))
                    .collect();
                if roots.is_empty() {
                    trees.clear();
                    continue;
                }
                system.refresh_cpu_usage();
                system.refresh_memory();
                if let Some(shared) = shared.upgrade() {
                    *greenroom_core::lock_unpoisoned(&shared.machine) =
                        Some(crate::status::MachineMetrics {
                            cpu_percent: (system.global_cpu_usage() * 10.0).round() / 10.0,
                            memory_used_bytes: system.used_memory(),
                            memory_total_bytes: system.total_memory(),
                        });
                }
                let stale = roots
                    .iter()
                    .any(|(id, pid)| !trees.get(id).is_some_and(|t| t.contains(pid)));
                if round.is_multiple_of(5) || stale {
                    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
                    trees = roots
                        .iter()
                        .map(|(id, pid)| {
                            let mut tree = BTreeSet::from([*pid]);
                            loop {
                                let before = tree.len();
                                for (child, p) in system.processes() {
                                    if p.parent()
                                        .is_some_and(|parent| tree.contains(&parent.as_u32()))
                                    {
                                        tree.insert(child.as_u32());
                                    }
                                }
                                if tree.len() == before {
                                    break;
                                }
                            }
                            (id.clone(), tree)
                        })
                        .collect();
                } else {
                    let pids: Vec<Pid> = trees
                        .values()
                        .flatten()
                        .map(|p| Pid::from_u32(*p))
                        .collect();
                    system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
                }
                round += 1;
                for (id, _) in roots {
                    let Some(tree) = trees.get(&id) else { continue };
                    let (mut cpu, mut memory) = (0f32, 0u64);
                    for pid in tree {
                        if let Some(p) = system.process(Pid::from_u32(*pid)) {
                            cpu += p.cpu_usage();
                            memory += p.memory();
                        }
                    }
                    let cpu = Some((cpu * 10.0).round() / 10.0);
                    slots[&id].status.send_if_modified(|s| {
                        let changed = s.cpu_percent != cpu || s.memory_bytes != Some(memory);
                        s.cpu_percent = cpu;
                        s.memory_bytes = Some(memory);
                        changed
                    });
                }
            }
        });
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Pending,
    Started,
    Ready,
    Completed,
    Failed(String),
}

async fn wait_for_phase(
    mut rx: watch::Receiver<Phase>,
    condition: Condition,
) -> Result<(), String> {
    loop {
        let phase = rx.borrow_and_update().clone();
        match (condition, &phase) {
            (_, Phase::Failed(why)) => return Err(format!("did not come up ({why})")),
            (Condition::Started, Phase::Started | Phase::Ready | Phase::Completed) => return Ok(()),
            (Condition::Healthy, Phase::Ready | Phase::Completed) => return Ok(()),
            (Condition::CompletedSuccessfully, Phase::Completed) => return Ok(()),
            (Condition::CompletedSuccessfully, Phase::Ready) => {}
            _ => {}
        }
        if rx.changed().await.is_err() {
            return Err("stopped being watched".into());
        }
    }
}

fn initial_status(id: &str, spec: &ServiceSpec) -> ServiceStatus {
    ServiceStatus {
        id: id.to_owned(),
        kind: spec.kind,
        state: if spec.enabled {
            ServiceState::Stopped
        } else {
            ServiceState::Disabled
        },
        critical: spec.critical,
        group: spec.group,
        pid: None,
        ports: spec.ports.iter().map(|p| p.to_string()).collect(),
        restarts: 0,
        started_at_ms: None,
        ready_after_ms: None,
        last_exit_code: None,
        last_probe: None,
        latencies_ms: Vec::new(),
        breaker: BreakerState::Closed,
        message: if spec.enabled {
            "not started".into()
        } else {
            "disabled in the manifest".into()
        },
        attached: false,
        cpu_percent: None,
        memory_bytes: None,
    }
}

/// What is running for a service during one run.
enum Running {
    Child(Spawned),
    Builtin(Option<crate::builtin::BuiltinRun>),
    Adopted {
        pid: u32,
        start_time: Option<u64>,
    },
    /// Compose and external services: nothing of ours to watch but the probe.
    Probed,
}

impl Running {
    fn pid(&self) -> Option<u32> {
        match self {
            Running::Child(s) => Some(s.pid),
            Running::Adopted { pid, .. } => Some(*pid),
            Running::Builtin(_) | Running::Probed => None,
        }
    }

    /// Resolves when the process ends (never for probed services).
    async fn exited(&mut self) -> Option<i32> {
        match self {
            Running::Child(s) => s.child.wait().await.ok().and_then(|st| st.code()),
            Running::Adopted { pid, start_time } => {
                while process::is_ours(*pid, *start_time) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None
            }
            Running::Builtin(Some(run)) => match (&mut run.finished).await {
                Ok(Ok(())) => Some(0),
                _ => Some(1),
            },
            Running::Builtin(None) | Running::Probed => std::future::pending().await,
        }
    }
}

/// How a run ended.
enum RunOutcome {
    /// The supervisor went away (its process is exiting): leave the service running, as
    /// it is; the next Greenroom re-attaches to it.
    Detached,
    /// A person asked it to stop.
    Stopped(Option<oneshot::Sender<()>>),
    /// A person asked for a restart.
    RestartRequested(oneshot::Sender<StartAck>),
    /// It ended by itself, or was stopped for being unhealthy / not ready.
    Ended {
        end: RunEnd,
        ran_for: Duration,
        why: String,
    },
}

struct Runner {
    id: String,
    spec: ServiceSpec,
    shared: Arc<Shared>,
    status: watch::Sender<ServiceStatus>,
    run: Arc<std::sync::atomic::AtomicU64>,
    breaker: Breaker,
    counter: RestartCounter,
}

impl Runner {
    fn set(&self, f: impl FnOnce(&mut ServiceStatus)) {
        let breaker = self.breaker.state(Instant::now());
        self.status.send_modify(|s| {
            f(s);
            s.breaker = breaker;
        });
        let status = self.status.borrow().clone();
        self.shared.sink.emit(StackEvent::Service {
            status: status.clone(),
        });
        self.shared.note_status(&status);
    }

    async fn serve(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        adopted: Option<(u32, Option<u64>)>,
    ) {
        if let Some((pid, start_time)) = adopted {
            self.shared.logs.follow_from_end(&self.id);
            let running = Running::Adopted { pid, start_time };
            self.set(|s| {
                s.attached = true;
                s.pid = Some(pid);
                s.restarts = self.counter.total;
            });
            if !self.supervise(running, &mut control).await {
                return;
            }
        }
        while let Some(message) = control.recv().await {
            match message {
                Control::Start(reply) | Control::Restart(reply) => {
                    if !self.spec.enabled {
                        let _ = reply.send(StartAck::AlreadyActive);
                        continue;
                    }
                    self.breaker.reset();
                    self.counter = RestartCounter::default();
                    self.shared.record(&self.id, |r| {
                        r.wanted = true;
                        r.restarts = 0;
                    });
                    match self.launch() {
                        Ok(running) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            if !self.supervise(running, &mut control).await {
                                return;
                            }
                        }
                        Err(why) => {
                            self.run.fetch_add(1, Ordering::SeqCst);
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            self.set(|s| {
                                s.state = ServiceState::Failed;
                                s.message = why;
                            });
                        }
                    }
                }
                Control::Stop(reply) => {
                    let _ = reply.send(());
                }
                Control::SetProbeTimeout(ms, reply) => {
                    self.set_probe_timeout(ms);
                    let _ = reply.send(());
                }
            }
        }
    }

    fn set_probe_timeout(&mut self, ms: u64) {
        if let Some(probe) = self.spec.probe.as_mut() {
            probe.timeout_ms = ms;
        }
    }

    /// Keeps a launched service going (restarts included) until a person stops it or it
    /// is given up on. Returns false when the control channel closed (shut down).
    async fn supervise(
        &mut self,
        mut running: Running,
        control: &mut mpsc::UnboundedReceiver<Control>,
    ) -> bool {
        loop {
            match self.watch_run(&mut running, control).await {
                RunOutcome::Detached => return false,
                RunOutcome::Stopped(reply) => {
                    self.stop_running(&mut running).await;
                    self.shared.record(&self.id, |r| {
                        r.pid = None;
                        r.start_time = None;
                    });
                    self.set(|s| {
                        s.state = ServiceState::Stopped;
                        s.pid = None;
                        s.attached = false;
                        s.message = "stopped".into();
                    });
                    if let Some(reply) = reply {
                        let _ = reply.send(());
                    }
                    return true;
                }
                RunOutcome::RestartRequested(reply) => {
                    self.stop_running(&mut running).await;
                    self.breaker.reset();
                    self.counter = RestartCounter::default();
                    match self.launch() {
                        Ok(next) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            running = next;
                        }
                        Err(why) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            self.set(|s| {
                                s.state = ServiceState::Failed;
                                s.pid = None;
                                s.message = why;
                            });
                            return true;
                        }
                    }
                }
                RunOutcome::Ended { end, ran_for, why } => {
                    self.stop_running(&mut running).await;
                    self.shared.record(&self.id, |r| {
                        r.pid = None;
                        r.start_time = None;
                    });
                    let now = Instant::now();
                    if end.is_failure() {
                        self.breaker.record_failure(now);
                    }
                    let exit_code = match end {
                        RunEnd::Exited(code) => code,
                        RunEnd::Unhealthy => None,
                    };
                    if !self.shared.still_wanted(&self.id) {
                        self.set(|s| {
                            s.state = ServiceState::Stopped;
                            s.pid = None;
                            s.last_exit_code = exit_code;
                            s.message = format!("{why}; not restarted: it was stopped meanwhile");
                        });
                        return true;
                    }
                    match self
                        .counter
                        .decide(&self.spec.restart, end, ran_for, clock_jitter())
                    {
                        Decision::Stay(reason) => {
                            let completed = end == RunEnd::Exited(Some(0));
                            self.set(|s| {
                                s.state = if completed {
                                    ServiceState::Completed
                                } else {
                                    ServiceState::Failed
                                };
                                s.pid = None;
                                s.attached = false;
                                s.last_exit_code = exit_code;
                                s.message = if completed {
                                    format!("{why}; done")
                                } else {
                                    format!("{why}; not restarted: {reason}")
                                };
                            });
                            return true;
                        }
                        Decision::Restart { after, attempt } => {
                            let wait_until = match self
                                .breaker
                                .retry_at()
                                .filter(|_| !self.breaker.allow(now))
                            {
                                Some(at) => at.max(now + after),
                                None => now + after,
                            };
                            let total = self.counter.total;
                            let breaker_note = if self.breaker.state(now) == BreakerState::Open {
                                format!(
                                    " (circuit open after {} failures)",
                                    self.breaker.failures()
                                )
                            } else {
                                String::new()
                            };
                            let max = self.spec.restart.max_restarts;
                            self.shared.record(&self.id, |r| r.restarts = total);
                            self.set(|s| {
                                s.state = ServiceState::BackingOff;
                                s.pid = None;
                                s.attached = false;
                                s.restarts = total;
                                s.last_exit_code = exit_code;
                                s.message = format!(
                                    "{why}; restarting in {:.1} s (attempt {attempt} of {max}){breaker_note}",
                                    wait_until.saturating_duration_since(now).as_secs_f64()
                                );
                            });
                            tokio::select! {
                                _ = tokio::time::sleep_until(wait_until.into()) => {}
                                message = control.recv() => match message {
                                    None => return false,
                                    Some(Control::Stop(reply)) => {
                                        self.set(|s| { s.state = ServiceState::Stopped; s.message = "stopped".into(); });
                                        let _ = reply.send(());
                                        return true;
                                    }
                                    // A repair tuned it: try again now, with the new timeout.
                                    Some(Control::SetProbeTimeout(ms, reply)) => {
                                        self.set_probe_timeout(ms);
                                        let _ = reply.send(());
                                    }
                                    Some(Control::Start(reply)) | Some(Control::Restart(reply)) => {
                                        self.breaker.reset();
                                        self.counter = RestartCounter::default();
                                        self.shared.record(&self.id, |r| r.wanted = true);
                                        match self.launch() {
                                            Ok(next) => {
                                                let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                                                running = next;
                                                continue;
                                            }
                                            Err(why) => {
                                                let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                                                self.set(|s| { s.state = ServiceState::Failed; s.message = why; });
                                                return true;
                                            }
                                        }
                                    }
                                }
                            }
                            self.breaker.allow(Instant::now());
                            match self.launch() {
                                Ok(next) => running = next,
                                Err(why) => {
                                    self.breaker.record_failure(Instant::now());
                                    self.set(|s| {
                                        s.state = ServiceState::Failed;
                                        s.message = why;
                                    });
                                    return true;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    async fn stop_running(&mut self, running: &mut Running) {
        let grace = Duration::from_millis(self.spec.stop.grace_ms);
        let signal = self.spec.stop.signal;
        match running {
            Running::Child(spawned) => {
                if spawned.child.try_wait().ok().flatten().is_none() {
                    self.set(|s| {
                        s.state = ServiceState::Stopping;
                        s.message = format!(
                            "stopping (signal {signal:?}, then killed after {} s)",
                            grace.as_secs_f64()
                        );
                    });
                }
                let killed = process::stop_child(spawned, signal, grace).await;
                if killed {
                    self.shared.logs.note(
                        &self.id,
                        &format!(
                            "[greenroom] it did not stop within {} s of {signal:?}: killed",
                            grace.as_secs_f64()
                        ),
                    );
                }
            }
            Running::Adopted { pid, start_time } => {
                process::stop_adopted(*pid, *start_time, signal, grace).await;
            }
            Running::Builtin(run) => {
                if let Some(run) = run.take() {
                    let _ = run.stop.send(());
                    let mut finished = run.finished;
                    if tokio::time::timeout(grace, &mut finished).await.is_err() {
                        finished.abort();
                    }
                }
            }
            Running::Probed => {
                if self.spec.kind == ServiceKind::Compose {
                    let _ = self.compose(&["stop"]).await;
                }
            }
        }
        self.shared.logs.poll(&self.id);
    }

    /// Spawns the process (or starts the compose service); a new run begins.
    fn launch(&mut self) -> Result<Running, String> {
        let run = self.run.fetch_add(1, Ordering::SeqCst) + 1;
        let started_at = now_ms();
        let running = match self.spec.kind {
            ServiceKind::Process => {
                self.ports_are_free()?;
                let launch = self.process_launch()?;
                let log = self.shared.logs.path(&self.id);
                if std::fs::metadata(&log).is_ok_and(|m| m.len() > crate::logs::MAX_LOG_BYTES) {
                    let _ = crate::logs::rotate(&log);
                }
                self.shared.logs.follow_from_end(&self.id);
                let spawned = process::spawn(&Launch {
                    program: &launch.0,
                    args: &launch.1,
                    cwd: &launch.2,
                    env: &launch.3,
                    log: &log,
                })
                .map_err(|e| format!("cannot start {}: {e}", launch.0.display()))?;
                let (pid, start_time) = (spawned.pid, spawned.start_time);
                self.shared.record(&self.id, |r| {
                    r.pid = Some(pid);
                    r.start_time = start_time;
                    r.started_at_ms = Some(started_at);
                    r.ports = self.spec.ports.iter().map(|p| p.to_string()).collect();
                });
                Running::Child(spawned)
            }
            ServiceKind::Compose => {
                // Started synchronously from the runner's point of view; the probe says when it is ready.
                let (base, service) =
                    compose_invocation(&self.spec, &self.shared.root, &self.shared.name, &self.id);
                let mut c = std::process::Command::new("docker");
                c.args(&base);
                c.args(["up", "-d", "--no-deps", &service])
                    .current_dir(&self.shared.root);
                let out = c.output().map_err(|e| {
                    format!("cannot run docker compose ({e}); install Docker (greenroom doctor says how)")
                })?;
                if !out.status.success() {
                    return Err(format!(
                        "docker compose up {service} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                    ));
                }
                Running::Probed
            }
            ServiceKind::External => Running::Probed,
            ServiceKind::Builtin => {
                let name = self.spec.builtin.clone().unwrap_or_default();
                let builtin = self.shared.builtins.get(&name).cloned().ok_or_else(|| {
                    format!(
                        "this Greenroom has no built-in service named `{name}`; known: {}",
                        self.shared
                            .builtins
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                let logs = self.shared.clone();
                let id = self.id.clone();
                let log: Arc<dyn Fn(&str) + Send + Sync> =
                    Arc::new(move |line: &str| logs.logs.note(&id, line));
                self.shared.logs.follow_from_end(&self.id);
                let port = self
                    .spec
                    .ports
                    .iter()
                    .find(|p| p.protocol == crate::manifest::Protocol::Tcp)
                    .map(|p| p.start);
                let run = builtin.start(crate::builtin::BuiltinContext {
                    env: self.spec.env.clone(),
                    port,
                    log,
                })?;
                Running::Builtin(Some(run))
            }
        };
        let pid = running.pid();
        self.set(|s| {
            s.state = ServiceState::Starting;
            s.pid = pid;
            s.started_at_ms = Some(started_at);
            s.ready_after_ms = None;
            s.attached = false;
            s.message = format!("starting (run {run})");
        });
        Ok(running)
    }

    /// Refuses to start a service whose published port another program holds: it would
    /// fail to bind, and that program could even answer its probe.
    fn ports_are_free(&self) -> Result<(), String> {
        for spec in &self.spec.ports {
            for port in spec.ports().take(16) {
                if !crate::preflight::port_free(spec, port) {
                    let proto = if spec.protocol == crate::manifest::Protocol::Udp {
                        "/udp"
                    } else {
                        ""
                    };
                    return Err(match crate::preflight::port_holder(port, spec.protocol) {
                        Some((pid, name)) => format!(
                            "not started: port {port}{proto} is held by `{name}` (PID {pid}); stop it or give {} another port (Repair… can stop it, after asking)",
                            self.id
                        ),
                        None => format!(
                            "not started: port {port}{proto} is in use by another program; free it or give {} another port",
                            self.id
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    async fn compose(&self, verb: &[&str]) -> Result<(), String> {
        let (base, service) =
            compose_invocation(&self.spec, &self.shared.root, &self.shared.name, &self.id);
        let mut c = tokio::process::Command::new("docker");
        c.args(&base);
        c.args(verb).arg(&service).kill_on_drop(true);
        let out = c.output().await.map_err(|e| e.to_string())?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Program, args, cwd and environment of a process service.
    #[allow(clippy::type_complexity)]
    fn process_launch(
        &self,
    ) -> Result<(PathBuf, Vec<String>, PathBuf, Vec<(String, String)>), String> {
        let root = &self.shared.root;
        let mut vars: BTreeMap<String, String> = std::env::vars().collect();
        let process_env = vars.clone();
        let outer = |name: &str| process_env.get(name).cloned();
        for file in self
            .shared
            .manifest
            .env_files
            .iter()
            .chain(&self.spec.env_files)
        {
            let path = root.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read env file {}: {e}", path.display()))?;
            let parsed = crate::dotenv::parse(&text, &outer)
                .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
            vars.extend(parsed);
        }
        let snapshot = vars.clone();
        let lookup = |name: &str| snapshot.get(name).cloned();
        let expand = |text: &str| {
            crate::interpolate::interpolate(text, &lookup)
                .map(|i| i.value)
                .map_err(|e| format!("service `{}`: {e}", self.id))
        };
        for (k, v) in &self.spec.env {
            vars.insert(k.clone(), expand(v)?);
        }
        let mut search: Vec<PathBuf> = Vec::new();
        if let Some(venv) = &self.spec.venv {
            let venv = root.join(venv);
            let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
            if !bin.is_dir() {
                return Err(format!(
                    "the virtualenv {} has no {} folder; re-create it (python3 -m venv {})",
                    venv.display(),
                    bin.display(),
                    venv.display()
                ));
            }
            vars.insert("VIRTUAL_ENV".into(), venv.display().to_string());
            vars.remove("PYTHONHOME");
            search.push(bin);
        }
        if let Some(path) = vars.get("PATH") {
            search.extend(std::env::split_paths(path));
        }
        search.extend(self.shared.tool_dirs.iter().cloned());
        let joined = std::env::join_paths(&search).map_err(|e| e.to_string())?;
        vars.insert("PATH".into(), joined.to_string_lossy().into_owned());
        let command = expand(self.spec.command.as_deref().unwrap_or_default())?;
        let program = if command.contains('/') || command.contains('\\') {
            let p = root.join(&command);
            if !p.exists() {
                return Err(format!("command {} does not exist", p.display()));
            }
            p
        } else {
            which::which_in(&command, Some(&joined), root).map_err(|_| {
                format!("command `{command}` is not on PATH (nor in {}); install it — `greenroom doctor` says how", self.shared.tool_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))
            })?
        };
        let args = self
            .spec
            .args
            .iter()
            .map(|a| expand(a))
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = root.join(self.spec.cwd.as_deref().unwrap_or("."));
        Ok((program, args, cwd, vars.into_iter().collect()))
    }

    /// Watches one run until it ends or a person intervenes.
    async fn watch_run(
        &mut self,
        running: &mut Running,
        control: &mut mpsc::UnboundedReceiver<Control>,
    ) -> RunOutcome {
        let spawned_at = Instant::now();
        let probe = self.spec.probe.clone();
        let attached = matches!(running, Running::Adopted { .. });
        let mut ready = probe.is_none() || attached;
        if ready {
            self.mark_ready(spawned_at, attached);
        }
        let log_pattern = match probe.as_ref().map(|p| &p.check) {
            Some(ProbeCheck::Log { pattern }) => regex::Regex::new(pattern).ok(),
            _ => None,
        };
        let log_matched = Arc::new(AtomicBool::new(false));
        let is_ready = Arc::new(AtomicBool::new(ready));
        let (sample_tx, mut samples) = mpsc::channel(16);
        let probe_task = probe.clone().map(|p| {
            let ctx = self.probe_context(log_matched.clone());
            let is_ready = is_ready.clone();
            tokio::spawn(async move {
                loop {
                    let mut ctx = ctx.clone();
                    ctx.probe.log_matched = ctx.log_matched.load(Ordering::Relaxed);
                    let sample = crate::probe::run(
                        &p.check,
                        Duration::from_millis(p.timeout_ms),
                        &ctx.probe,
                    )
                    .await;
                    if sample_tx.send(sample).await.is_err() {
                        return;
                    }
                    let interval = if is_ready.load(Ordering::Relaxed) {
                        p.interval_ms
                    } else {
                        p.startup_interval_ms
                    };
                    tokio::time::sleep(Duration::from_millis(interval)).await;
                }
            })
        });
        let _abort = AbortOnDrop(probe_task);
        let start_deadline = spawned_at
            + Duration::from_millis(probe.as_ref().map_or(u64::MAX / 4, |p| p.start_timeout_ms));
        let threshold = probe.as_ref().map_or(1, |p| p.failure_threshold);
        let mut failures_in_a_row = 0u32;
        let mut last_detail = String::from("no probe answer yet");
        let mut log_tick = tokio::time::interval(Duration::from_millis(25));
        log_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                code = running.exited() => {
                    let lines = self.shared.logs.poll(&self.id);
                    self.emit_lines(lines);
                    let why = match code {
                        Some(c) => format!("exited with code {c}"),
                        None if matches!(running, Running::Adopted { .. }) => "exited (re-attached: its exit code is unknown)".into(),
                        None => "was killed by a signal".into(),
                    };
                    let end = if !ready && code == Some(0) && self.spec.probe.is_some() {
                        RunEnd::Exited(Some(1))
                    } else {
                        RunEnd::Exited(code.or(if attached { Some(1) } else { None }))
                    };
                    let why = if ready { why } else { format!("{why} before it was ready") };
                    return RunOutcome::Ended { end, ran_for: spawned_at.elapsed(), why };
                }
                message = control.recv() => match message {
                    None => return RunOutcome::Detached,
                    Some(Control::Stop(reply)) => return RunOutcome::Stopped(Some(reply)),
                    Some(Control::Restart(reply)) => return RunOutcome::RestartRequested(reply),
                    Some(Control::Start(reply)) => { let _ = reply.send(StartAck::AlreadyActive); }
                    Some(Control::SetProbeTimeout(ms, reply)) => { self.set_probe_timeout(ms); let _ = reply.send(()); }
                },
                Some(sample) = samples.recv() => {
                    greenroom_core::lock_unpoisoned(&self.shared.stats).entry(self.id.clone()).or_default().add(&sample);
                    last_detail = sample.detail.clone();
                    let ok = sample.ok;
                    if ok {
                        failures_in_a_row = 0;
                    } else {
                        failures_in_a_row += 1;
                    }
                    let was_ready = ready;
                    if ok && !ready {
                        ready = true;
                        is_ready.store(true, Ordering::Relaxed);
                    }
                    let state_now = self.status.borrow().state;
                    self.set(|s| {
                        s.latencies_ms.push(sample.latency_ms);
                        if s.latencies_ms.len() > LATENCY_HISTORY {
                            s.latencies_ms.remove(0);
                        }
                        s.last_probe = Some(sample);
                    });
                    if ready && !was_ready {
                        self.mark_ready(spawned_at, false);
                    } else if ready && ok && state_now == ServiceState::Unhealthy {
                        self.set(|s| { s.state = ServiceState::Running; s.message = "healthy again".into(); });
                    } else if ready && !ok && failures_in_a_row >= threshold && state_now != ServiceState::Unhealthy {
                        let restart = self.spec.restart.on_unhealthy && self.spec.restart.policy != crate::manifest::RestartPolicy::No;
                        self.set(|s| {
                            s.state = ServiceState::Unhealthy;
                            s.message = format!("unhealthy: {failures_in_a_row} failed probes in a row ({last_detail})");
                        });
                        if restart {
                            return RunOutcome::Ended {
                                end: RunEnd::Unhealthy,
                                ran_for: spawned_at.elapsed(),
                                why: format!("unhealthy after {failures_in_a_row} failed probes ({last_detail})"),
                            };
                        }
                    }
                }
                _ = tokio::time::sleep_until(start_deadline.into()), if !ready => {
                    let timeout = probe.as_ref().map_or(0, |p| p.start_timeout_ms);
                    return RunOutcome::Ended {
                        end: RunEnd::Exited(None),
                        ran_for: spawned_at.elapsed(),
                        why: format!("not ready after {:.1} s (last probe: {last_detail})", timeout as f64 / 1000.0),
                    };
                }
                _ = log_tick.tick(), if matches!(running, Running::Child(_) | Running::Adopted { .. } | Running::Builtin(_)) => {
                    let lines = self.shared.logs.poll(&self.id);
                    if let Some(re) = &log_pattern
                        && lines.iter().any(|l| re.is_match(&l.text))
                    {
                        log_matched.store(true, Ordering::Relaxed);
                    }
                    self.emit_lines(lines);
                    if ready {
                        log_tick.reset_after(Duration::from_millis(200));
                    }
                }
            }
        }
    }

    fn mark_ready(&mut self, spawned_at: Instant, attached: bool) {
        self.breaker.record_success();
        let after = spawned_at.elapsed().as_secs_f64() * 1000.0;
        self.set(|s| {
            s.state = ServiceState::Running;
            if !attached {
                s.ready_after_ms = Some((after * 10.0).round() / 10.0);
            }
            s.message = if attached {
                "running (re-attached)".into()
            } else {
                format!("ready after {:.0} ms", after)
            };
        });
    }

    fn emit_lines(&self, lines: Vec<LogLine>) {
        for line in lines {
            self.shared.sink.emit(StackEvent::Log { line });
        }
    }

    fn probe_context(&self, log_matched: Arc<AtomicBool>) -> ProbeCtx {
        let compose = (self.spec.kind == ServiceKind::Compose).then(|| {
            (
                self.spec
                    .compose_files
                    .iter()
                    .map(|f| self.shared.root.join(f))
                    .collect(),
                self.spec
                    .compose_project
                    .clone()
                    .unwrap_or_else(|| self.shared.name.clone()),
                self.spec
                    .compose_service
                    .clone()
                    .unwrap_or_else(|| self.id.clone()),
            )
        });
        ProbeCtx {
            probe: crate::probe::ProbeContext {
                log_matched: false,
                compose,
                cwd: Some(self.shared.root.clone()),
            },
            log_matched,
        }
    }
}

#[derive(Clone)]
struct ProbeCtx {
    probe: crate::probe::ProbeContext,
    log_matched: Arc<AtomicBool>,
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
