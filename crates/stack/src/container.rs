//! One run of a compose service: docker runs the container; Greenroom starts it, watches
//! it, collects its log and stops it.
//!
//! **Who restarts what.** One rule each, so that docker and Greenroom never both act on
//! the same failure:
//!
//! - *An exit* is docker's. Its `restart:` policy restarts the container, or does not.
//!   Greenroom never starts a container that docker will restart: it counts the restart
//!   ([`ChildEvent::RestartedByEngine`]), says so, and waits for the container to be ready
//!   again. An exit that docker does not restart ends the run, and the runner does not
//!   restart it either: it is `failed` (`completed` for code 0).
//! - *Unhealthy* is Greenroom's: docker never restarts a running container whose
//!   healthcheck fails. With a restart policy other than `no` and `restart.on_unhealthy`,
//!   the runner stops it (`docker compose stop -t GRACE`) and starts it again after its
//!   backoff, as for a process; the container (and its writable layer) is kept.
//! - *The engine going away* (Docker Desktop closed, dockerd stopped) is nobody's failure:
//!   probes stop counting ([`ChildEvent::Paused`]) and the service says how to start the
//!   engine. When the engine answers again, a container that is not running (the engine
//!   stopped it and its policy does not bring it back) is started again with `up -d`; one
//!   that docker brought back is left alone.
//!
//! **What runs, per run:**
//!
//! | step | how |
//! |------|-----|
//! | wait for the engine | `docker version`, every second while it does not answer |
//! | start | `docker compose --progress plain up -d --no-deps SERVICE`; its output (pulls, builds) goes to the service's log as `[compose] …` lines as it comes; a failure is explained ([`crate::docker::Failure`]) |
//! | watch | `docker inspect` of the service's container every second: identity, health, restarts, exit (an exit docker will not restart, seen on two looks in a row) |
//! | resources | `docker stats --no-stream` every 5 s |
//! | log | `docker compose logs --follow --timestamps --no-log-prefix SERVICE`, started again with `--since` the last line's time whenever it ends; a line not newer than the last one written is dropped, so a restart of Greenroom or of the follower duplicates nothing, and a container that docker restarts keeps one log |
//! | stop | `docker compose stop -t GRACE SERVICE`: the container's own stop signal, then docker kills it after GRACE (the manifest's `stop.grace_ms`, rounded up to seconds) |
//! | kill | `docker compose kill SERVICE` |
//! | release (a person's stop, `down`) | `docker compose rm -f -s SERVICE`: the container goes, its volumes stay |

use crate::child::{ChildEvent, Exit, ServiceChild, Watched};
use crate::docker::{self, ContainerState, ContainerStatus, Failure};
use crate::manifest::StopSignal;
use crate::supervisor::Shared;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};

/// How often the container is inspected.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How often its CPU and memory are read.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// How long the log follower may go on after a stop, for the last lines.
const LOG_DRAIN: Duration = Duration::from_millis(500);

/// What a compose run needs to know about its service.
pub(crate) struct ComposeService {
    /// `compose -p PROJECT -f FILE…`.
    pub base: Vec<OsString>,
    pub project: String,
    /// Its name in the compose files.
    pub service: String,
    /// Its id in the stack (its log's name).
    pub id: String,
    pub shared: Arc<Shared>,
}

impl ComposeService {
    fn compose(&self) -> tokio::process::Command {
        let mut c = docker::command();
        c.args(&self.base).current_dir(&self.shared.root);
        c
    }

    /// Its image, as the compose file names it.
    fn image(&self) -> Option<&str> {
        self.shared
            .manifest
            .services
            .get(&self.id)?
            .description
            .as_deref()?
            .strip_prefix("image ")
    }

    fn note(&self, text: &str) {
        self.shared.logs.note(&self.id, text);
    }

    /// `docker compose up -d --no-deps SERVICE`, its output into the log as it comes.
    /// One at a time per project: two `up`s at once each create the project's network,
    /// and docker then refuses both ("network … is ambiguous").
    async fn up(&self, progress: &(dyn Fn(String) + Sync)) -> Result<(), String> {
        let lock = project_lock(&self.project);
        let _one_at_a_time = lock.lock().await;
        let mut c = self.compose();
        c.args([
            "--progress",
            "plain",
            "up",
            "-d",
            "--no-deps",
            &self.service,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| Failure::Missing(e.to_string()).explain(&self.service))?;
        let mut said = Vec::new();
        let Some(mut lines) = OutputLines::of(&mut child) else {
            return Err("cannot read docker compose's output".into());
        };
        while let Some(line) = lines.next().await {
            if !line.trim().is_empty() {
                self.note(&format!("[compose] {}", line.trim_end()));
                progress(line.trim().to_owned());
                said.push(line);
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| format!("docker compose up: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            let why = Failure::of(&said.join("\n"))
                .with_image(self.image())
                .explain(&self.service);
            self.note(&format!("[greenroom] {why}"));
            Err(why)
        }
    }

    /// A `docker compose SUBCOMMAND … SERVICE` that only has to finish.
    async fn act(&self, args: &[&str], within: Duration) {
        let mut c = self.compose();
        c.args(args).arg(&self.service);
        match tokio::time::timeout(within, c.output()).await {
            Ok(Ok(out)) if !out.status.success() => self.note(&format!(
                "[greenroom] docker compose {} failed: {}",
                args.first().unwrap_or(&""),
                Failure::of(&String::from_utf8_lossy(&out.stderr)).explain(&self.service)
            )),
            Ok(Err(e)) => self.note(&format!("[greenroom] cannot run docker compose: {e}")),
            Err(_) => self.note(&format!(
                "[greenroom] docker compose {} did not finish within {} s",
                args.first().unwrap_or(&""),
                within.as_secs()
            )),
            Ok(Ok(_)) => {}
        }
    }
}

/// A child's stdout and stderr, line by line as they come (interleaved), without
/// terminal escapes: what `docker compose` prints on either.
struct OutputLines {
    out: Option<tokio::io::Lines<BufReader<tokio::process::ChildStdout>>>,
    err: Option<tokio::io::Lines<BufReader<tokio::process::ChildStderr>>>,
}

impl OutputLines {
    /// Both streams of a child spawned with them piped; `None` when they were not.
    fn of(child: &mut tokio::process::Child) -> Option<Self> {
        let (out, err) = (child.stdout.take()?, child.stderr.take()?);
        Some(Self {
            out: Some(BufReader::new(out).lines()),
            err: Some(BufReader::new(err).lines()),
        })
    }

    /// The next line of either stream; `None` once both have ended.
    async fn next(&mut self) -> Option<String> {
        let (out, err) = (&mut self.out, &mut self.err);
        while out.is_some() || err.is_some() {
            let (line, from_out) = tokio::select! {
                l = async { out.as_mut()?.next_line().await.ok().flatten() }, if out.is_some() => (l, true),
                l = async { err.as_mut()?.next_line().await.ok().flatten() }, if err.is_some() => (l, false),
            };
            match line {
                Some(line) => return Some(docker::strip_ansi(&line)),
                None if from_out => *out = None,
                None => *err = None,
            }
        }
        None
    }
}

/// The lock that keeps a project's `up`s one at a time.
fn project_lock(project: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<
        Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    greenroom_core::lock_unpoisoned(locks)
        .entry(project.to_owned())
        .or_default()
        .clone()
}

/// A compose service's run (see the module's table).
pub(crate) struct ComposeChild {
    service: Arc<ComposeService>,
    events: mpsc::UnboundedReceiver<ChildEvent>,
    exit: watch::Receiver<Option<Exit>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    follower: Option<tokio::task::JoinHandle<()>>,
    stopped: bool,
}

impl ComposeChild {
    /// Starts the run: waits for the engine, `up`, then watches (all in the background,
    /// so that a stop is heard while an image builds or the engine is away).
    pub(crate) fn start(service: ComposeService) -> Self {
        let service = Arc::new(service);
        service.shared.logs.mark_timestamped(&service.id);
        let (events_tx, events) = mpsc::unbounded_channel();
        let (exit_tx, exit) = watch::channel(None);
        let container = Arc::new(Mutex::new(None::<String>));
        let watcher = tokio::spawn(watch_run(
            service.clone(),
            events_tx.clone(),
            exit_tx,
            container.clone(),
        ));
        let stats = tokio::spawn(watch_resources(container, events_tx));
        let follower = tokio::spawn(follow_log(service.clone()));
        Self {
            service,
            events,
            exit,
            tasks: vec![watcher, stats],
            follower: Some(follower),
            stopped: false,
        }
    }

    fn stop_watching(&mut self) {
        self.tasks.drain(..).for_each(|t| t.abort());
    }

    async fn stop_following(&mut self, drain: Duration) {
        if let Some(follower) = self.follower.take() {
            tokio::time::sleep(drain).await;
            follower.abort();
        }
    }
}

impl Drop for ComposeChild {
    fn drop(&mut self) {
        self.stop_watching();
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }
}

impl ServiceChild for ComposeChild {
    fn pid(&self) -> Option<u32> {
        None
    }
    fn is_running(&mut self) -> bool {
        !self.stopped && self.exit.borrow().is_none()
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        async move {
            if self.stopped {
                return Exit::Code(0);
            }
            match ended(&mut self.exit).await {
                Some(exit) => exit,
                // The watcher is gone (stopped): it ended with the stop.
                None => std::future::pending().await,
            }
        }
        .boxed()
    }
    fn signal(&mut self, _signal: StopSignal) -> BoxFuture<'_, ()> {
        // Docker sends the container's own stop signal (`stop_signal:`), then kills it
        // after the grace period.
        async move {
            self.stop_watching();
            let grace = self
                .service
                .shared
                .manifest
                .services
                .get(&self.service.id)
                .map_or(10_000, |s| s.stop.grace_ms);
            let seconds = grace.div_ceil(1000).to_string();
            self.service
                .act(
                    &["stop", "-t", &seconds],
                    Duration::from_millis(grace) + docker::CALL_TIMEOUT,
                )
                .await;
            self.stopped = true;
            self.stop_following(LOG_DRAIN).await;
        }
        .boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        async move {
            self.stop_watching();
            self.service.act(&["kill"], docker::CALL_TIMEOUT).await;
            self.stopped = true;
            self.stop_following(Duration::ZERO).await;
        }
        .boxed()
    }
    fn release(&mut self) -> BoxFuture<'_, ()> {
        async move {
            self.stop_watching();
            self.stop_following(Duration::ZERO).await;
            // No `-v`: the container goes, its volumes stay.
            self.service
                .act(&["rm", "-f", "-s"], docker::CALL_TIMEOUT * 3)
                .await;
        }
        .boxed()
    }
    fn watch(&mut self) -> BoxFuture<'_, Watched> {
        async move {
            if self.stopped {
                return Watched::Ended(Exit::Code(0));
            }
            // Events first: what docker said before the end is told before it.
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => Watched::Event(event),
                Some(exit) = ended(&mut self.exit) => Watched::Ended(exit),
                // Both gone: the run was stopped; only a stop ends it now.
                else => std::future::pending().await,
            }
        }
        .boxed()
    }
}

/// The run's end, once the watcher has set it; `None` when the watcher went without
/// setting one (it was stopped).
async fn ended(exit: &mut watch::Receiver<Option<Exit>>) -> Option<Exit> {
    exit.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|exit| exit.clone())
}

/// Waits for the engine, starts the service, then watches its container until it ends.
async fn watch_run(
    service: Arc<ComposeService>,
    events: mpsc::UnboundedSender<ChildEvent>,
    exit: watch::Sender<Option<Exit>>,
    container: Arc<Mutex<Option<String>>>,
) {
    let send = |e: ChildEvent| {
        let _ = events.send(e);
    };
    let end = |why: String| {
        let _ = exit.send(Some(Exit::Failed(why)));
    };
    // 1. The engine.
    let mut away = false;
    loop {
        match docker::engine_version().await {
            Ok(_) => break,
            Err(Failure::Missing(e)) => return end(Failure::Missing(e).explain(&service.service)),
            Err(failure) => {
                if !away {
                    let why = failure.explain(&service.service);
                    service.note(&format!("[greenroom] {why}"));
                    send(ChildEvent::Paused(why));
                    away = true;
                }
                tokio::time::sleep(WATCH_EVERY).await;
            }
        }
    }
    if away {
        send(ChildEvent::Resumed);
    }
    // 2. Up, its progress on the way.
    let progress = |line: String| {
        let _ = events.send(ChildEvent::Progress(line));
    };
    if let Err(why) = service.up(&progress).await {
        return end(why);
    }
    send(ChildEvent::Launched);
    // 3. Watch.
    let mut last: Option<ContainerState> = None;
    let mut shown: Option<ContainerStatus> = None;
    let mut restart_announced = false;
    let mut exited_looks = 0u32;
    let mut away = false;
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let known = greenroom_core::lock_unpoisoned(&container).clone();
        let found = match known {
            Some(id) => docker::inspect(&id).await,
            None => match docker::container_of(&service.project, &service.service).await {
                Ok(Some(id)) => {
                    *greenroom_core::lock_unpoisoned(&container) = Some(id.clone());
                    docker::inspect(&id).await
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            },
        };
        let state = match found {
            Err(Failure::EngineDown(detail)) => {
                if !away {
                    away = true;
                    let why = Failure::EngineDown(detail).explain(&service.service);
                    service.note(&format!("[greenroom] {why}"));
                    send(ChildEvent::Paused(why));
                }
                continue;
            }
            // A docker hiccup: the next tick asks again.
            Err(_) => continue,
            Ok(None) => {
                return end(
                    "its container is gone: it was removed outside Greenroom (`docker rm`, `docker compose down`)"
                        .into(),
                );
            }
            Ok(Some(state)) => state,
        };
        if away {
            away = false;
            service.note("[greenroom] the Docker engine answers again");
            send(ChildEvent::Resumed);
            if !state.is_up() {
                service.note("[greenroom] its container is not running: starting it again");
                if let Err(why) = service.up(&progress).await {
                    return end(why);
                }
                send(ChildEvent::Launched);
                last = None;
                continue;
            }
        }
        let now_shown = ContainerStatus::from(&state);
        if shown.as_ref() != Some(&now_shown) {
            send(ChildEvent::Container(now_shown.clone()));
            shown = Some(now_shown);
        }
        if let Some(prev) = &last {
            // A new run of the same container that Greenroom did not start: docker's policy
            // (or a person's `docker restart`). Seen going down (`restarting`), or only
            // once it runs again when that fell between two looks.
            let new_run = state.restart_count > prev.restart_count
                || (state.started_at != prev.started_at && !prev.started_at.is_empty());
            if (state.restarting || new_run) && !restart_announced {
                restart_announced = true;
                // Docker keeps the code only until the next run starts.
                send(ChildEvent::RestartedByEngine {
                    exit_code: (!state.is_up() || state.restarting).then_some(state.exit_code),
                    policy: state.restart_policy.clone(),
                });
            }
            if restart_announced && state.status == "running" && new_run {
                restart_announced = false;
                send(ChildEvent::Launched);
            }
        }
        // Seen twice in a row: an engine that shuts down stops its containers before it
        // stops answering, and that is the engine going away, not an exit.
        let ended =
            (state.status == "exited" || state.status == "dead") && !state.docker_restarts_it();
        exited_looks = if ended { exited_looks + 1 } else { 0 };
        if exited_looks >= 2 {
            let _ = exit.send(Some(if state.oom_killed {
                Exit::Failed(format!(
                    "exited with code {}: out of memory (the kernel killed it)",
                    state.exit_code
                ))
            } else {
                Exit::Code(state.exit_code)
            }));
            return;
        }
        last = Some(state);
    }
}

/// CPU and memory of the container, every [`STATS_EVERY`].
async fn watch_resources(
    container: Arc<Mutex<Option<String>>>,
    events: mpsc::UnboundedSender<ChildEvent>,
) {
    loop {
        tokio::time::sleep(STATS_EVERY).await;
        let id = greenroom_core::lock_unpoisoned(&container).clone();
        if let Some(id) = id
            && let Some((cpu, memory)) = docker::stats(&id).await
            && events.send(ChildEvent::Resources { cpu, memory }).is_err()
        {
            return;
        }
    }
}

/// Follows the service's log into its file (see the module's table), for as long as the
/// run lasts.
async fn follow_log(service: Arc<ComposeService>) {
    use std::io::Write;
    let logs = &service.shared.logs;
    loop {
        let since = logs.last_timestamp(&service.id);
        let mut newest = since.as_deref().and_then(docker::rfc3339_nanos);
        let mut c = service.compose();
        c.args([
            "logs",
            "--follow",
            "--timestamps",
            "--no-log-prefix",
            "--no-color",
        ]);
        if let Some(since) = &since {
            c.args(["--since", since]);
        }
        c.arg(&service.service)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Ok(mut child) = c.spawn()
            && let Some(mut lines) = OutputLines::of(&mut child)
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logs.path(&service.id))
        {
            while let Some(line) = lines.next().await {
                let line = line.trim_end();
                let text = match docker::split_timestamp(line) {
                    Some((stamp, _, _)) => {
                        let at = docker::rfc3339_nanos(stamp);
                        if at.is_some() && newest.is_some() && at <= newest {
                            continue; // written before (a resumed follow)
                        }
                        newest = at.or(newest);
                        line.to_owned()
                    }
                    None if line.trim().is_empty() => continue,
                    None => format!("[compose] {}", line.trim()),
                };
                let _ = writeln!(file, "{text}");
            }
            let _ = child.wait().await;
        }
        // It ended (no container yet, the container went, the engine went): again soon.
        tokio::time::sleep(WATCH_EVERY).await;
    }
}
