//! The seam between the runner and "a process (or compose service) we spawned".
//!
//! The runner ([`crate::runner`]) takes the decisions — restart or not, after how long,
//! breaker open or not, unhealthy or not, when to kill. What those decisions act on sits
//! behind two traits, so that the decisions are unit-tested against a scripted fake (in
//! the runner's tests) and run here against the real world:
//!
//! - [`Launcher`]: starts a run ([`Launcher::spawn`]), re-attaches to a process still
//!   running from before ([`Launcher::adopt`]), and probes once ([`Launcher::probe`]).
//! - [`ServiceChild`]: one run — its PID, waiting for its exit, asking it to stop,
//!   killing it, and clearing what it leaves behind.
//!
//! What the real children do, by kind:
//!
//! | kind | spawn | ends by itself | `signal` | `kill` | `reap` (after a graceful end) |
//! |------|-------|----------------|----------|--------|-------------------------------|
//! | process | its own process group / Job Object, output appended to its log ([`crate::process`]) | its exit code (`None` when killed by a signal) | the stop signal to its group (Windows: CTRL_BREAK) | SIGKILL to the group / the Job Object terminated | Unix: SIGKILL to what is left of its group |
//! | re-attached process | — | when its PID is gone or is another program (polled every 100 ms; its code is unknown) | as for a process, only while it is still ours | the whole tree, only while it is still ours | as for a process, only if it was ours |
//! | built-in | a task ([`crate::builtin`]) | its task ends: `Ok` is code 0, anything else code 1 | asks it to stop | aborts the task | — |
//! | compose | waits for the engine, then `docker compose up -d --no-deps SERVICE`, and watches its container ([`crate::container`]) | when its container exits and docker will not restart it, or is removed | `docker compose stop -t GRACE SERVICE` | `docker compose kill SERVICE` | — (a person's stop: `docker compose rm -f -s SERVICE`, volumes kept) |
//! | external | nothing | never | nothing; it counts as ended | nothing | — |
//!
//! A process service is refused before it is spawned when another program holds one of
//! its published ports (it would fail to bind, and that program could even answer its
//! probe). Its program, arguments and environment are resolved at each spawn: the
//! process environment, then the stack's and the service's env files, then its `env`
//! (interpolated); a `venv` is activated as `source venv/bin/activate` would; the program
//! is looked up on that `PATH`, then in Greenroom's tool folders.

use crate::logs::MAX_LOG_BYTES;
use crate::manifest::{ProbeCheck, Protocol, ServiceKind, ServiceSpec, StopSignal};
use crate::probe::{ProbeContext, ProbeSample};
use crate::process::{self, Launch, Spawned};
use crate::supervisor::{Shared, SupervisorError};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a run ended, as far as we can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by a signal (or its status could not be read).
    Signalled,
    /// A re-attached process: we are not its parent, so its code is unknown.
    Unknown,
    /// It could not run, or ended for this reason (a compose service whose image cannot
    /// be pulled, whose container was removed…).
    Failed(String),
}

/// What a run reports besides its end: so far only compose runs, which docker runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ChildEvent {
    /// What it waited for before starting (an image build, the engine) is done and it
    /// started now: readiness is measured, and the start timeout counted, from here.
    Launched,
    /// Probes do not count until [`ChildEvent::Resumed`]: why (the engine went away).
    Paused(String),
    Resumed,
    /// Docker restarted it after an exit, by its restart policy: Greenroom must not.
    RestartedByEngine {
        exit_code: Option<i32>,
        policy: String,
    },
    /// Its container changed (identity, state, health).
    Container(crate::docker::ContainerStatus),
    /// A line of what it does before it starts (a pull, a build step).
    Progress(String),
    /// Its CPU (percent of one core) and memory (bytes).
    Resources {
        cpu: f32,
        memory: u64,
    },
}

/// One run of a service: what the runner can do to it.
pub(crate) trait ServiceChild: Send {
    /// Its PID, when it is a process of ours.
    fn pid(&self) -> Option<u32>;
    /// When it started, as the OS says (to tell a reused PID apart later).
    fn start_time(&self) -> Option<u64> {
        None
    }
    /// Whether it is running now (no waiting).
    fn is_running(&mut self) -> bool;
    /// Resolves when it has ended; never, for what does not end by itself (compose and
    /// external services, until stopped). Cancel-safe, and may be awaited again after it
    /// resolved (it resolves again at once, with the same exit).
    fn wait(&mut self) -> BoxFuture<'_, Exit>;
    /// Asks it to stop (the manifest's stop signal).
    fn signal(&mut self, signal: StopSignal) -> BoxFuture<'_, ()>;
    /// Ends it now, whatever it is doing.
    fn kill(&mut self) -> BoxFuture<'_, ()>;
    /// Whether something it started still runs (after it ended itself); what is asked to
    /// stop gets the rest of the grace period to do so before [`ServiceChild::reap`].
    fn tree_alive(&mut self) -> bool {
        false
    }
    /// It ended after [`ServiceChild::signal`]: make sure nothing it started lingers.
    fn reap(&mut self) {}
    /// A person stopped it (not a restart): let go of what is kept between runs (a
    /// compose service's container; its volumes stay).
    fn release(&mut self) -> BoxFuture<'_, ()> {
        async {}.boxed()
    }
    /// Its end ([`ServiceChild::wait`]) or, before that, the next thing it reports.
    /// Cancel-safe.
    fn watch(&mut self) -> BoxFuture<'_, Watched> {
        self.wait().map(Watched::Ended).boxed()
    }
}

/// What [`ServiceChild::watch`] saw first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Watched {
    Ended(Exit),
    Event(ChildEvent),
}

/// Starts runs and probes them: the runner's only way to the outside world.
pub(crate) trait Launcher: Send + Sync {
    /// Starts a new run of service `id`; fails with why it cannot start.
    fn spawn<'a>(
        &'a self,
        id: &'a str,
        spec: &'a ServiceSpec,
    ) -> BoxFuture<'a, Result<Box<dyn ServiceChild>, SupervisorError>>;
    /// A process of service `id` still running from a previous Greenroom.
    fn adopt(&self, id: &str, pid: u32, start_time: Option<u64>) -> Box<dyn ServiceChild>;
    /// Probes once, within `timeout`.
    fn probe(
        &self,
        check: ProbeCheck,
        timeout: Duration,
        ctx: ProbeContext,
    ) -> BoxFuture<'static, ProbeSample>;
}

/// The real world: processes, containers, built-in tasks and real probes.
pub(crate) struct RealLauncher {
    shared: Arc<Shared>,
}

impl RealLauncher {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Launcher for RealLauncher {
    fn spawn<'a>(
        &'a self,
        id: &'a str,
        spec: &'a ServiceSpec,
    ) -> BoxFuture<'a, Result<Box<dyn ServiceChild>, SupervisorError>> {
        async move {
            let child: Box<dyn ServiceChild> = match spec.kind {
                ServiceKind::Process => Box::new(self.spawn_process(id, spec)?),
                ServiceKind::Compose => Box::new(self.compose_up(id, spec)),
                ServiceKind::External => Box::new(ExternalChild { stopped: false }),
                ServiceKind::Builtin => Box::new(self.start_builtin(id, spec)?),
            };
            Ok(child)
        }
        .boxed()
    }

    fn adopt(&self, id: &str, pid: u32, start_time: Option<u64>) -> Box<dyn ServiceChild> {
        self.shared.logs.follow_from_end(id);
        Box::new(AdoptedChild {
            tree: Vec::new(),
            pid,
            start_time,
            ours_when_signalled: false,
            stopping: false,
        })
    }

    fn probe(
        &self,
        check: ProbeCheck,
        timeout: Duration,
        ctx: ProbeContext,
    ) -> BoxFuture<'static, ProbeSample> {
        async move { crate::probe::run(&check, timeout, &ctx).await }.boxed()
    }
}

impl RealLauncher {
    fn spawn_process(&self, id: &str, spec: &ServiceSpec) -> Result<ProcessChild, SupervisorError> {
        ports_are_free(id, spec)?;
        let launch = process_launch(&self.shared, id, spec)?;
        let log = self.shared.logs.path(id);
        if std::fs::metadata(&log).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
            let _ = crate::logs::rotate(&log);
        }
        self.shared.logs.follow_from_end(id);
        let spawned = process::spawn(&Launch {
            program: &launch.program,
            args: &launch.args,
            cwd: &launch.cwd,
            env: &launch.env,
            log: &log,
        })
        .map_err(|e| SupervisorError::Spawn {
            program: launch.program.clone(),
            reason: e.to_string(),
        })?;
        Ok(ProcessChild {
            tree: Vec::new(),
            spawned,
            exit: None,
        })
    }

    fn compose_up(&self, id: &str, spec: &ServiceSpec) -> crate::container::ComposeChild {
        let (base, service) = compose_invocation(spec, &self.shared.root, &self.shared.name, id);
        crate::container::ComposeChild::start(crate::container::ComposeService {
            project: spec
                .compose_project
                .clone()
                .unwrap_or_else(|| self.shared.name.clone()),
            base,
            service,
            id: id.to_owned(),
            shared: self.shared.clone(),
        })
    }

    fn start_builtin(&self, id: &str, spec: &ServiceSpec) -> Result<BuiltinChild, SupervisorError> {
        let name = spec.builtin.clone().unwrap_or_default();
        let builtin = self.shared.builtins.get(&name).cloned().ok_or_else(|| {
            SupervisorError::UnknownBuiltin {
                name: name.clone(),
                known: self.shared.builtins.keys().cloned().collect(),
            }
        })?;
        let shared = self.shared.clone();
        let owner = id.to_owned();
        let log: Arc<dyn Fn(&str) + Send + Sync> =
            Arc::new(move |line: &str| shared.logs.note(&owner, line));
        self.shared.logs.follow_from_end(id);
        let port = spec
            .ports
            .iter()
            .find(|p| p.protocol == Protocol::Tcp)
            .map(|p| p.start);
        let run = builtin
            .start(crate::builtin::BuiltinContext {
                env: spec.env.clone(),
                port,
                log,
            })
            .map_err(|reason| SupervisorError::Builtin {
                id: id.to_owned(),
                reason,
            })?;
        Ok(BuiltinChild {
            stop: Some(run.stop),
            finished: run.finished,
            exit: None,
        })
    }
}

/// A process we spawned and hold.
struct ProcessChild {
    spawned: Spawned,
    exit: Option<Exit>,
    /// What ran below it when it was asked to stop (with start times): stopped with it,
    /// even what left its process group.
    tree: Vec<(u32, Option<u64>)>,
}

impl ServiceChild for ProcessChild {
    fn pid(&self) -> Option<u32> {
        Some(self.spawned.pid)
    }
    fn start_time(&self) -> Option<u64> {
        self.spawned.start_time
    }
    fn is_running(&mut self) -> bool {
        self.exit.is_none() && self.spawned.child.try_wait().ok().flatten().is_none()
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        async move {
            if let Some(exit) = self.exit.clone() {
                return exit;
            }
            let exit = match self.spawned.child.wait().await.ok().and_then(|s| s.code()) {
                Some(code) => Exit::Code(code),
                None => Exit::Signalled,
            };
            self.exit = Some(exit.clone());
            exit
        }
        .boxed()
    }
    fn signal(&mut self, signal: StopSignal) -> BoxFuture<'_, ()> {
        self.tree = process::tree_of(self.spawned.pid);
        process::request_stop(self.spawned.pid, signal);
        #[cfg(unix)]
        process::signal_escaped(self.spawned.pid, &self.tree, signal);
        async {}.boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        let _ = self.spawned.child.start_kill();
        #[cfg(unix)]
        process::signal_escaped(self.spawned.pid, &self.tree, StopSignal::Kill);
        async {}.boxed()
    }
    fn tree_alive(&mut self) -> bool {
        process::tree_alive(self.spawned.pid, &self.tree)
    }
    fn reap(&mut self) {
        // The leader is gone; make sure nothing it started lingers.
        #[cfg(unix)]
        {
            process::kill_tree(self.spawned.pid);
            process::signal_escaped(self.spawned.pid, &self.tree, StopSignal::Kill);
        }
    }
}

/// A process a previous Greenroom started: we know it by PID and start time only.
struct AdoptedChild {
    pid: u32,
    start_time: Option<u64>,
    /// Whether it was still ours when asked to stop (a reused PID is never signalled).
    ours_when_signalled: bool,
    /// Asked to stop: poll faster.
    stopping: bool,
    /// What ran below it when it was asked to stop (see [`ProcessChild`]).
    tree: Vec<(u32, Option<u64>)>,
}

impl AdoptedChild {
    fn ours(&self) -> bool {
        process::is_ours(self.pid, self.start_time)
    }
}

impl ServiceChild for AdoptedChild {
    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }
    fn start_time(&self) -> Option<u64> {
        self.start_time
    }
    fn is_running(&mut self) -> bool {
        self.ours()
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        async move {
            while self.ours() {
                let every = if self.stopping { 50 } else { 100 };
                tokio::time::sleep(Duration::from_millis(every)).await;
            }
            Exit::Unknown
        }
        .boxed()
    }
    fn signal(&mut self, signal: StopSignal) -> BoxFuture<'_, ()> {
        self.stopping = true;
        self.ours_when_signalled = self.ours();
        if self.ours_when_signalled {
            self.tree = process::tree_of(self.pid);
            process::request_stop(self.pid, signal);
            #[cfg(unix)]
            process::signal_escaped(self.pid, &self.tree, signal);
        }
        async {}.boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        self.stopping = true;
        if self.ours_when_signalled || self.ours() {
            process::kill_tree(self.pid);
        }
        #[cfg(unix)]
        process::signal_escaped(self.pid, &self.tree, StopSignal::Kill);
        async {}.boxed()
    }
    fn tree_alive(&mut self) -> bool {
        self.ours_when_signalled && process::tree_alive(self.pid, &self.tree)
    }
    fn reap(&mut self) {
        #[cfg(unix)]
        if self.ours_when_signalled {
            process::kill_tree(self.pid);
            process::signal_escaped(self.pid, &self.tree, StopSignal::Kill);
        }
    }
}

/// A built-in service's task.
struct BuiltinChild {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    finished: tokio::task::JoinHandle<Result<(), String>>,
    /// A finished task's handle must not be polled again: its exit is kept here.
    exit: Option<Exit>,
}

impl ServiceChild for BuiltinChild {
    fn pid(&self) -> Option<u32> {
        None
    }
    fn is_running(&mut self) -> bool {
        self.exit.is_none() && !self.finished.is_finished()
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        async move {
            if let Some(exit) = self.exit.clone() {
                return exit;
            }
            let exit = match (&mut self.finished).await {
                Ok(Ok(())) => Exit::Code(0),
                _ => Exit::Code(1),
            };
            self.exit = Some(exit.clone());
            exit
        }
        .boxed()
    }
    fn signal(&mut self, _signal: StopSignal) -> BoxFuture<'_, ()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        async {}.boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        self.finished.abort();
        async {}.boxed()
    }
}

/// An external service: nothing of ours runs; only its probe watches it.
struct ExternalChild {
    stopped: bool,
}

impl ServiceChild for ExternalChild {
    fn pid(&self) -> Option<u32> {
        None
    }
    fn is_running(&mut self) -> bool {
        false
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        ended_once_stopped(self.stopped)
    }
    fn signal(&mut self, _signal: StopSignal) -> BoxFuture<'_, ()> {
        self.stopped = true;
        async {}.boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        self.stopped = true;
        async {}.boxed()
    }
}

/// External services never end by themselves; once stopped, they have.
fn ended_once_stopped(stopped: bool) -> BoxFuture<'static, Exit> {
    if stopped {
        async { Exit::Code(0) }.boxed()
    } else {
        std::future::pending().boxed()
    }
}

/// `compose -p PROJECT -f FILE…` for a compose service (files relative to `root`), and
/// its service name in the compose files.
pub(crate) fn compose_invocation(
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

/// Refuses to start a service whose published port another program holds: it would
/// fail to bind, and that program could even answer its probe.
fn ports_are_free(id: &str, spec: &ServiceSpec) -> Result<(), SupervisorError> {
    for ports in &spec.ports {
        for port in ports.ports().take(16) {
            if !crate::preflight::port_free(ports, port) {
                let udp = ports.protocol == Protocol::Udp;
                return Err(match crate::preflight::port_holder(port, ports.protocol) {
                    Some((pid, name)) => SupervisorError::PortHeld {
                        id: id.to_owned(),
                        port,
                        udp,
                        pid,
                        name,
                    },
                    None => SupervisorError::PortInUse {
                        id: id.to_owned(),
                        port,
                        udp,
                    },
                });
            }
        }
    }
    Ok(())
}

/// What a process service is started with.
struct ProcessLaunch {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

/// Program, args, cwd and environment of a process service (see the module docs).
fn process_launch(
    shared: &Shared,
    id: &str,
    spec: &ServiceSpec,
) -> Result<ProcessLaunch, SupervisorError> {
    let root = &shared.root;
    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    let process_env = vars.clone();
    let outer = |name: &str| process_env.get(name).cloned();
    for file in shared.manifest.env_files.iter().chain(&spec.env_files) {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| SupervisorError::EnvFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let parsed =
            crate::dotenv::parse(&text, &outer).map_err(|e| SupervisorError::EnvFileSyntax {
                path: path.clone(),
                line: e.line,
                message: e.message,
            })?;
        vars.extend(parsed);
    }
    let snapshot = vars.clone();
    let lookup = |name: &str| snapshot.get(name).cloned();
    let expand = |text: &str| {
        crate::interpolate::interpolate(text, &lookup)
            .map(|i| i.value)
            .map_err(|source| SupervisorError::Interpolation {
                id: id.to_owned(),
                source,
            })
    };
    for (k, v) in &spec.env {
        vars.insert(k.clone(), expand(v)?);
    }
    let mut search: Vec<PathBuf> = Vec::new();
    if let Some(venv) = &spec.venv {
        let venv = root.join(venv);
        let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
        if !bin.is_dir() {
            return Err(SupervisorError::VenvBroken { venv, bin });
        }
        vars.insert("VIRTUAL_ENV".into(), venv.display().to_string());
        vars.remove("PYTHONHOME");
        search.push(bin);
    }
    if let Some(path) = vars.get("PATH") {
        search.extend(std::env::split_paths(path));
    }
    search.extend(shared.tool_dirs.iter().cloned());
    let joined = std::env::join_paths(&search).map_err(|e| SupervisorError::BadPath {
        reason: e.to_string(),
    })?;
    vars.insert("PATH".into(), joined.to_string_lossy().into_owned());
    let command = expand(spec.command.as_deref().unwrap_or_default())?;
    let program = if command.contains('/') || command.contains('\\') {
        let p = root.join(&command);
        if !p.exists() {
            return Err(SupervisorError::CommandMissing { path: p });
        }
        p
    } else {
        which::which_in(&command, Some(&joined), root).map_err(|_| SupervisorError::NotOnPath {
            command: command.clone(),
            tool_dirs: shared.tool_dirs.clone(),
        })?
    };
    let args = spec
        .args
        .iter()
        .map(|a| expand(a))
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = root.join(spec.cwd.as_deref().unwrap_or("."));
    Ok(ProcessLaunch {
        program,
        args,
        cwd,
        env: vars.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_finished_builtin_can_be_waited_for_again() {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let finished = tokio::spawn(async move {
            let _ = stopped.await;
            Err("asked to stop".to_owned())
        });
        let mut child = BuiltinChild {
            stop: Some(stop),
            finished,
            exit: None,
        };
        assert!(child.is_running());
        child.signal(StopSignal::Term).await;
        assert_eq!(child.wait().await, Exit::Code(1));
        // The runner waits again when it stops an ended run: no second poll of the task.
        assert_eq!(child.wait().await, Exit::Code(1));
        assert!(!child.is_running());
    }

    #[tokio::test(start_paused = true)]
    async fn an_external_service_ends_only_once_stopped() {
        let mut child = ExternalChild { stopped: false };
        let waited = tokio::time::timeout(Duration::from_secs(3600), child.wait()).await;
        assert!(waited.is_err(), "it never ends by itself");
        child.signal(StopSignal::Term).await;
        assert_eq!(child.wait().await, Exit::Code(0));
    }
}
