//! The supervisor: brings a stack up in dependency order, keeps it running, brings it down.
//!
//! [`Supervisor`] is a cheap, clonable handle on a running stack. Each service has one
//! runner task (`crate::runner`, where the exact semantics of start, liveness, restart,
//! breaker and stop are stated) that owns its run; the handle only sends it verbs and
//! reads the status it publishes. Around the runners:
//!
//! - `up` starts the selected services and their dependencies: a service starts as soon
//!   as each of its dependencies meets its condition (`started`: it was spawned;
//!   `healthy`: it became ready; `completed_successfully`: it exited with code 0 and was
//!   not restarted), so independent services start in parallel and the total is the
//!   critical path. A service whose dependency fails is not started, and says which
//!   dependency failed. `up` returns once every selected service is ready or has failed.
//! - `down` stops every service in reverse dependency order, each level in parallel, and
//!   returns those that were not already stopped. `stop` marks a service as not wanted in
//!   the state file first, so that no runner (of this or another Greenroom) restarts it.
//! - `start` and `restart` act on one service (not its dependencies) and wait for the
//!   outcome of that run.
//! - Resources: CPU and memory of each process tree, once a second (`crate::resources`).
//! - Repairs ([`crate::repair`]) and pre-flight checks ([`crate::preflight`]) use this
//!   handle's view of the stack.
//!
//! **Re-attach.** The state file records each process's PID and start time. A new
//! supervisor on the same stack adopts those still alive (and still the same process): it
//! probes them, watches for their exit, and can stop them; it never starts duplicates.
//! Dropping every handle lets go of the stack without stopping it.
//!
//! **Errors.** [`SupervisorError`] says what failed; its [`greenroom_core::Classified`]
//! kind is what fronts branch on (an unknown service is `NotFound`, a repair that needs
//! confirmation `InvalidInput`, a program that cannot start `Unavailable`).

use crate::breaker::BreakerState;
use crate::child::{Launcher, RealLauncher};
use crate::logs::{LogBook, LogLine};
use crate::manifest::{Condition, Manifest, ServiceKind, ServiceSpec};
use crate::process;
use crate::runner::{Control, Runner, StartAck};
use crate::state::{self, ServiceRecord, StackState};
use crate::status::{ServiceState, ServiceStatus, StackStatus, StackSummary};
use greenroom_core::{Classified, ErrorKind, EventSink};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
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

/// What the supervisor could not do, and why. The texts are the messages people read
/// (and tests match); [`Classified::kind`] is what fronts branch on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// No service of that name in this stack.
    #[error("no service `{id}` in this stack; its services are: {}", known.join(", "))]
    UnknownService { id: String, known: Vec<String> },
    /// The service exists but is disabled (by the manifest or an inactive profile).
    #[error("`{id}` is disabled in the manifest (enabled = false or an inactive profile)")]
    Disabled { id: String },
    /// The stack's log folder could not be created.
    #[error("cannot create the log folder in {}: {reason}", dir.display())]
    LogFolder { dir: PathBuf, reason: String },
    /// The task that runs the service is gone (a bug).
    #[error("the runner of `{id}` stopped unexpectedly")]
    RunnerStopped { id: String },
    /// A repair that the diagnosis of `id` does not propose now.
    #[error(
        "{kind:?} is not a repair Greenroom proposes for `{id}` now; `greenroom fix` lists what it proposes"
    )]
    NotProposed {
        id: String,
        kind: crate::repair::RepairKind,
    },
    /// A repair that may lose data or touch a program Greenroom did not start, asked for
    /// without confirmation; nothing was done.
    #[error("this repair needs your confirmation: {detail}")]
    NeedsConfirmation { id: String, detail: String },
    /// Confirmed, but what the repair would do now is not what was confirmed (another
    /// program holds the port, the diagnosis changed): nothing was done.
    #[error(
        "nothing was done: the situation changed since you confirmed this repair of `{id}`. It would now: {detail} Look at the new diagnosis and confirm again"
    )]
    Changed { id: String, detail: String },
    /// Not started: another program (named by the OS) holds one of its published ports.
    #[error("not started: port {port}{} is held by `{name}` (PID {pid}); stop it or give {id} another port (Repair… can stop it, after asking)", if *udp { "/udp" } else { "" })]
    PortHeld {
        id: String,
        port: u16,
        udp: bool,
        pid: u32,
        name: String,
    },
    /// Not started: one of its published ports is taken, and the OS does not say by whom.
    #[error("not started: port {port}{} is in use by another program; free it or give {id} another port", if *udp { "/udp" } else { "" })]
    PortInUse { id: String, port: u16, udp: bool },
    /// An env file of the stack or the service cannot be read.
    #[error("cannot read env file {}: {reason}", path.display())]
    EnvFile { path: PathBuf, reason: String },
    /// An env file line is not `KEY=VALUE`.
    #[error("{}:{line}: {message}", path.display())]
    EnvFileSyntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A `${…}` in its command, args or env is malformed, or required and unset.
    #[error("service `{id}`: {source}")]
    Interpolation {
        id: String,
        source: crate::interpolate::InterpolationError,
    },
    /// Its `venv` has no `bin` (`Scripts`) folder.
    #[error("the virtualenv {} has no {} folder; re-create it (python3 -m venv {})", venv.display(), bin.display(), venv.display())]
    VenvBroken { venv: PathBuf, bin: PathBuf },
    /// Its `PATH` cannot be joined (an entry contains the separator).
    #[error("{reason}")]
    BadPath { reason: String },
    /// Its command is a path that does not exist.
    #[error("command {} does not exist", path.display())]
    CommandMissing { path: PathBuf },
    /// Its command is not on `PATH` nor in Greenroom's tool folders.
    #[error("command `{command}` is not on PATH (nor in {}); install it — `greenroom doctor` says how", tool_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotOnPath {
        command: String,
        tool_dirs: Vec<PathBuf>,
    },
    /// The OS refused to start its program.
    #[error("cannot start {}: {reason}", program.display())]
    Spawn { program: PathBuf, reason: String },
    /// The manifest names a built-in service this Greenroom does not have.
    #[error("this Greenroom has no built-in service named `{name}`; known: {}", known.join(", "))]
    UnknownBuiltin { name: String, known: Vec<String> },
    /// A built-in service refused to start (its own reason, e.g. its port is taken).
    #[error("{reason}")]
    Builtin { id: String, reason: String },
}

impl Classified for SupervisorError {
    fn kind(&self) -> ErrorKind {
        use SupervisorError::*;
        match self {
            UnknownService { .. } => ErrorKind::NotFound,
            Disabled { .. }
            | NotProposed { .. }
            | NeedsConfirmation { .. }
            | Changed { .. }
            | EnvFileSyntax { .. }
            | Interpolation { .. }
            | BadPath { .. }
            | UnknownBuiltin { .. } => ErrorKind::InvalidInput,
            PortHeld { .. }
            | PortInUse { .. }
            | EnvFile { .. }
            | VenvBroken { .. }
            | CommandMissing { .. }
            | NotOnPath { .. }
            | Spawn { .. }
            | Builtin { .. } => ErrorKind::Unavailable,
            LogFolder { .. } | RunnerStopped { .. } => ErrorKind::Internal,
        }
    }
}

/// A service's end of the handle: its status, its runner's channel, its run counter.
pub(crate) struct Slot {
    pub(crate) status: watch::Sender<ServiceStatus>,
    control: mpsc::UnboundedSender<Control>,
    /// Bumped at every spawn; `up` waits for the outcome of its own run.
    run: Arc<AtomicU64>,
}

/// What the handle, the runners and the resource monitor share.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) root: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) sink: Arc<dyn EventSink<StackEvent>>,
    pub(crate) logs: LogBook,
    state_path: PathBuf,
    state: Mutex<StackState>,
    pub(crate) tool_dirs: Vec<PathBuf>,
    pub(crate) builtins: crate::builtin::Builtins,
    /// Every service's latest status, for the summary each change may move.
    statuses: Mutex<BTreeMap<String, ServiceStatus>>,
    /// Probe statistics per service since this supervisor started (for reports).
    pub(crate) stats: Mutex<BTreeMap<String, crate::report::ProbeStats>>,
    last_summary: Mutex<Option<StackSummary>>,
    pub(crate) machine: Mutex<Option<crate::status::MachineMetrics>>,
}

impl Shared {
    /// `state` is what `state_path` held when the stack was opened.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        root: PathBuf,
        manifest: Manifest,
        sink: Arc<dyn EventSink<StackEvent>>,
        logs: LogBook,
        state_path: PathBuf,
        state: StackState,
        tool_dirs: Vec<PathBuf>,
        builtins: crate::builtin::Builtins,
    ) -> Self {
        Self {
            name,
            root,
            manifest,
            sink,
            logs,
            state_path,
            state: Mutex::new(state),
            tool_dirs,
            builtins,
            statuses: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            last_summary: Mutex::new(None),
            machine: Mutex::new(None),
        }
    }

    /// Records a service's new status and emits the summary when it changed.
    pub(crate) fn note_status(&self, status: &ServiceStatus) {
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

    /// Changes a service's record in the state file (and saves it).
    pub(crate) fn record(&self, id: &str, f: impl FnOnce(&mut ServiceRecord)) {
        let mut state = greenroom_core::lock_unpoisoned(&self.state);
        f(state.services.entry(id.to_owned()).or_default());
        // An fsync'd write: on a multi-threaded runtime the worker hands its other tasks
        // over while it waits (the order of saves, and what is on disk when this returns,
        // stay as they were).
        let save = || state::save(&self.state_path, &state);
        let saved = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(save),
            _ => save(),
        };
        if let Err(e) = saved {
            tracing::warn!(
                "cannot save the stack state to {}: {e}",
                self.state_path.display()
            );
        }
    }

    /// Whether a person still wants `id` running, as the state file says now.
    pub(crate) fn still_wanted(&self, id: &str) -> bool {
        let (on_disk, _) = state::load(&self.state_path, &self.name);
        on_disk.services.get(id).is_none_or(|r| r.wanted)
    }

    /// The folder of the state file: the stack's own folder.
    fn dir(&self) -> PathBuf {
        self.state_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// A running stack.
#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
    slots: Arc<BTreeMap<String, Slot>>,
}

/// Where a stack keeps its state and logs: `<home>/stacks/<name>-<hash of its manifest path>`.
/// The same folder however the stack was named (`compose.yml`, `./compose.yml`, an
/// absolute path): a relative root (empty for a file in the current folder) is made
/// absolute before it is resolved.
pub fn stack_dir(home: &Path, name: &str, root: &Path) -> PathBuf {
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let key = greenroom_core::paths::canonical(&absolute)
        .unwrap_or(absolute)
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
        let logs = LogBook::new(dir.join("logs")).map_err(|e| SupervisorError::LogFolder {
            dir: dir.clone(),
            reason: e.to_string(),
        })?;
        // What a service logs is shown in the UI, events and reports: never a secret of
        // the stack's environment.
        logs.set_secret_values(crate::preflight::secret_values(&manifest, &root));
        let state_path = dir.join("state.json");
        let (state, note) = state::load(&state_path, &name);
        let mut notes: Vec<String> = note.into_iter().collect();
        let shared = Arc::new(Shared::new(
            name,
            root,
            manifest,
            sink,
            logs,
            state_path,
            state.clone(),
            tool_dirs,
            builtins,
        ));
        let launcher: Arc<dyn Launcher> = Arc::new(RealLauncher::new(shared.clone()));
        let mut slots = BTreeMap::new();
        for (id, spec) in &shared.manifest.services {
            let initial = initial_status(id, spec);
            let (status_tx, _) = watch::channel(initial);
            let (control_tx, control_rx) = mpsc::unbounded_channel();
            let run = Arc::new(AtomicU64::new(0));
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
            let runner = Runner::new(
                id.clone(),
                spec.clone(),
                shared.clone(),
                status_tx.clone(),
                run.clone(),
                adopted.map_or(0, |a| a.2),
                launcher.clone(),
            );
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
        let slots = Arc::new(slots);
        crate::resources::spawn_monitor(Arc::downgrade(&slots), Arc::downgrade(&shared));
        Ok((Self { shared, slots }, notes))
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

    fn unknown(&self, id: &str) -> SupervisorError {
        SupervisorError::UnknownService {
            id: id.to_owned(),
            known: self.slots.keys().cloned().collect(),
        }
    }

    fn slot(&self, id: &str) -> Result<&Slot, SupervisorError> {
        self.slots.get(id).ok_or_else(|| self.unknown(id))
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
                let spec = services.get(id).ok_or_else(|| self.unknown(id))?;
                if !spec.enabled {
                    return Err(SupervisorError::Disabled { id: id.clone() });
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
            .map_err(|_| SupervisorError::RunnerStopped { id: id.to_owned() })
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
        self.shared.dir()
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

    /// Runs one proposed repair of `id` (see [`crate::repair`] for what each does).
    /// Actions that need confirmation are refused unless `approved` carries the
    /// [`crate::repair::RepairAction::fingerprint`] of the action the person confirmed, and
    /// it is still what would be done; every attempt is logged in `repairs.log`. A repair
    /// that was tried returns its outcome, failed or not.
    pub async fn repair(
        &self,
        id: &str,
        kind: crate::repair::RepairKind,
        approved: Option<&str>,
    ) -> Result<crate::repair::RepairOutcome, SupervisorError> {
        self.slot(id)?;
        crate::repair::execute(self, id, kind, approved.is_some(), approved).await
    }

    /// Sets the probe timeout of `id` for its coming runs (a repair of a slow service).
    pub(crate) async fn set_probe_timeout(&self, id: &str, ms: u64) -> Result<(), SupervisorError> {
        let slot = self.slot(id)?;
        let (tx, rx) = oneshot::channel();
        let _ = slot.control.send(Control::SetProbeTimeout(ms, tx));
        rx.await
            .map_err(|_| SupervisorError::RunnerStopped { id: id.to_owned() })
    }

    /// What would make `up` fail, checked now (see [`crate::preflight`]).
    pub async fn preflight(&self) -> crate::preflight::Preflight {
        let statuses: Vec<ServiceStatus> = self
            .slots
            .values()
            .map(|s| s.status.borrow().clone())
            .collect();
        crate::preflight::of_stack(
            &self.shared.manifest,
            &self.shared.root,
            &self.shared.tool_dirs,
            &statuses,
        )
        .await
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

pub(crate) fn initial_status(id: &str, spec: &ServiceSpec) -> ServiceStatus {
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
        container: None,
        memory_bytes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_failed_and_carry_the_kind_fronts_branch_on() {
        let unknown = SupervisorError::UnknownService {
            id: "nope".into(),
            known: vec!["api".into(), "redis".into()],
        };
        assert_eq!(
            unknown.to_string(),
            "no service `nope` in this stack; its services are: api, redis"
        );
        assert_eq!(unknown.kind(), ErrorKind::NotFound);
        let confirm = SupervisorError::NeedsConfirmation {
            id: "api".into(),
            detail: "it edits your file".into(),
        };
        assert_eq!(
            confirm.to_string(),
            "this repair needs your confirmation: it edits your file"
        );
        assert_eq!(confirm.kind(), ErrorKind::InvalidInput);
        let held = SupervisorError::PortHeld {
            id: "api".into(),
            port: 8000,
            udp: true,
            pid: 77,
            name: "nginx".into(),
        };
        assert_eq!(
            held.to_string(),
            "not started: port 8000/udp is held by `nginx` (PID 77); stop it or give api another port (Repair… can stop it, after asking)"
        );
        assert_eq!(held.kind(), ErrorKind::Unavailable);
        let spawn = SupervisorError::Spawn {
            program: PathBuf::from("/bin/x"),
            reason: "permission denied".into(),
        };
        assert_eq!(spawn.to_string(), "cannot start /bin/x: permission denied");
        assert_eq!(spawn.kind(), ErrorKind::Unavailable);
        assert_eq!(
            SupervisorError::RunnerStopped { id: "api".into() }.kind(),
            ErrorKind::Internal
        );
    }
}
