//! The runner: one task per service that owns its current run and takes every decision
//! about it. It is driven through a channel with systemctl-like verbs ([`Control`]) and
//! publishes the service's [`ServiceStatus`] on a watch channel and as events; nothing
//! else touches the run. What it acts on (processes, containers, probes) is behind the
//! seam of [`crate::child`], so these decisions are unit-tested with a scripted fake.
//!
//! Semantics, per run:
//!
//! - *Start*: spawn, then probe every `startup_interval_ms` until the first success →
//!   `running`, with `ready_after_ms` measured from just before the spawn. Not ready
//!   within `start_timeout_ms` → the run ends (`not ready after N s (last probe: …)`) and
//!   is stopped. A service without a probe, or re-attached, is ready once spawned.
//!   Exiting before ready ends the run as a failure, even with code 0 when it has a probe.
//! - *Liveness*: once ready, probe every `interval_ms`; `failure_threshold` failures in a
//!   row → `unhealthy`; with `restart.on_unhealthy` (and a policy other than `no`) the run
//!   ends and is stopped, and the restart policy decides. One success → `running` again.
//! - *End of a run* (exit, unhealthy, not ready): the run is stopped (so nothing it
//!   started lingers); a failed run counts against the breaker ([`crate::breaker`]); then
//!   the state file is re-read, and a service that a person (or another Greenroom) stopped
//!   meanwhile is not restarted. Otherwise the restart policy ([`crate::restart`]) decides:
//!   `completed` (code 0 and no restart), `failed` (with why), or `backing_off` for the
//!   backoff — or, when the breaker is open, until it lets one trial through, whichever is
//!   later. A stop during the backoff stops it; a start, restart or new probe timeout
//!   during the backoff starts it now.
//! - *Stop* (a person, a restart, or the end of a run): the stop signal (Windows:
//!   CTRL_BREAK), up to `grace_ms` for it to end, then a kill; a kill is noted in the
//!   service's log. `stop.signal = "KILL"` kills at once.
//! - *Compose services* ([`crate::container`]): exits are docker's. A run that docker
//!   restarts (`RestartedByEngine`) counts as a restart and waits for readiness again,
//!   without a spawn; a run that ended by an exit docker does not restart is not restarted
//!   here either. Unhealthy and not-ready runs are restarted by the policy, as for
//!   processes. Readiness and the start timeout count from when the container started
//!   (`Launched`: after an image build, or the engine's return), and probes do not count
//!   while the engine is away (`Paused`). A person's stop also removes the container.
//! - *Start* and *restart* by a person reset the restart count and the breaker.
//! - When the supervisor goes away (its control channel closes), the runner lets go of
//!   the run without stopping it: the next Greenroom re-attaches to it.

use crate::breaker::{Breaker, BreakerState};
use crate::child::{ChildEvent, Exit, Launcher, ServiceChild, Watched};
use crate::logs::{LogLine, now_ms};
use crate::manifest::{ProbeCheck, RestartPolicy, ServiceKind, ServiceSpec, StopSignal};
use crate::restart::{Decision, RestartCounter, RunEnd, clock_jitter};
use crate::status::{ServiceState, ServiceStatus};
use crate::supervisor::{LATENCY_HISTORY, Shared, StackEvent, SupervisorError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

#[cfg(test)]
mod tests;

/// What the supervisor asks of a runner.
pub(crate) enum Control {
    Start(oneshot::Sender<StartAck>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<StartAck>),
    /// Sets the probe timeout for the coming runs (a repair of a slow service).
    SetProbeTimeout(u64, oneshot::Sender<()>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartAck {
    /// A new run began; its status will carry this run number.
    Started(u64),
    /// It was already up (or starting); nothing was done.
    AlreadyActive,
}

/// The current run of a service.
pub(crate) struct Running {
    child: Box<dyn ServiceChild>,
    /// Re-attached to a process from before: ready at once, its exit code unknown.
    attached: bool,
    /// Just before the spawn: readiness and run time are measured from here.
    spawned_at: Instant,
}

/// How a run ended.
pub(crate) enum RunOutcome {
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
        /// It ended by itself (an exit), not stopped for being unhealthy or not ready.
        exited: bool,
    },
}

/// The breaker's clock: tokio's, so that tests with paused time control it too.
fn clock() -> std::time::Instant {
    Instant::now().into_std()
}

pub(crate) struct Runner {
    id: String,
    spec: ServiceSpec,
    shared: Arc<Shared>,
    status: watch::Sender<ServiceStatus>,
    /// Bumped at every spawn; `up` waits for the outcome of its own run.
    run: Arc<AtomicU64>,
    breaker: Breaker,
    counter: RestartCounter,
    launcher: Arc<dyn Launcher>,
    /// In [-1, 1]: scales the backoff's ±20 % ([`clock_jitter`]; tests pass 0).
    jitter: fn() -> f64,
}

impl Runner {
    /// A runner for `id`; `restarts` carries the count of a re-attached service over.
    pub(crate) fn new(
        id: String,
        spec: ServiceSpec,
        shared: Arc<Shared>,
        status: watch::Sender<ServiceStatus>,
        run: Arc<AtomicU64>,
        restarts: u32,
        launcher: Arc<dyn Launcher>,
    ) -> Self {
        Self {
            breaker: Breaker::new(&spec.breaker),
            counter: RestartCounter {
                total: restarts,
                ..Default::default()
            },
            id,
            spec,
            shared,
            status,
            run,
            launcher,
            jitter: clock_jitter,
        }
    }

    fn set(&self, f: impl FnOnce(&mut ServiceStatus)) {
        let breaker = self.breaker.state(clock());
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

    /// Serves the control channel until it closes; `adopted` is a process of this
    /// service still running from a previous Greenroom.
    pub(crate) async fn serve(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        adopted: Option<(u32, Option<u64>)>,
    ) {
        if let Some((pid, start_time)) = adopted {
            let running = Running {
                child: self.launcher.adopt(&self.id, pid, start_time),
                attached: true,
                spawned_at: Instant::now(),
            };
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
                    match self.launch().await {
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
                                s.message = why.to_string();
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
                    running.child.release().await;
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
                    match self.launch().await {
                        Ok(next) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            running = next;
                        }
                        Err(why) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            self.set(|s| {
                                s.state = ServiceState::Failed;
                                s.pid = None;
                                s.message = why.to_string();
                            });
                            return true;
                        }
                    }
                }
                RunOutcome::Ended {
                    end,
                    ran_for,
                    why,
                    exited,
                } => {
                    match self
                        .after_run(&mut running, end, ran_for, why, exited, control)
                        .await
                    {
                        AfterRun::Next(next) => running = next,
                        AfterRun::Idle => return true,
                        AfterRun::Detached => return false,
                    }
                }
            }
        }
    }

    /// A run ended by itself: stop what is left of it, then restart it after its backoff,
    /// or leave it stopped, completed or failed.
    async fn after_run(
        &mut self,
        running: &mut Running,
        end: RunEnd,
        ran_for: Duration,
        why: String,
        exited: bool,
        control: &mut mpsc::UnboundedReceiver<Control>,
    ) -> AfterRun {
        self.stop_running(running).await;
        self.shared.record(&self.id, |r| {
            r.pid = None;
            r.start_time = None;
        });
        let now = clock();
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
            return AfterRun::Idle;
        }
        // A compose service's exits are docker's to restart (crate::container): one
        // that reached here is one docker's policy does not restart.
        let decision = if self.spec.kind == ServiceKind::Compose && exited {
            Decision::Stay("docker's restart policy does not restart it".into())
        } else {
            self.counter
                .decide(&self.spec.restart, end, ran_for, (self.jitter)())
        };
        let (after, attempt) = match decision {
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
                return AfterRun::Idle;
            }
            Decision::Restart { after, attempt } => (after, attempt),
        };
        let wait_until = match self.breaker.retry_at().filter(|_| !self.breaker.allow(now)) {
            Some(at) => at.max(now + after),
            None => now + after,
        };
        let total = self.counter.total;
        let breaker_note = if self.breaker.state(now) == BreakerState::Open {
            format!(" (circuit open after {} failures)", self.breaker.failures())
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
                None => return AfterRun::Detached,
                Some(Control::Stop(reply)) => {
                    self.set(|s| {
                        s.state = ServiceState::Stopped;
                        s.message = "stopped".into();
                    });
                    let _ = reply.send(());
                    return AfterRun::Idle;
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
                    return match self.launch().await {
                        Ok(next) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            AfterRun::Next(next)
                        }
                        Err(why) => {
                            let _ = reply.send(StartAck::Started(self.run.load(Ordering::SeqCst)));
                            self.set(|s| {
                                s.state = ServiceState::Failed;
                                s.message = why.to_string();
                            });
                            AfterRun::Idle
                        }
                    };
                }
            }
        }
        self.breaker.allow(clock());
        match self.launch().await {
            Ok(next) => AfterRun::Next(next),
            Err(why) => {
                self.breaker.record_failure(clock());
                self.set(|s| {
                    s.state = ServiceState::Failed;
                    s.message = why.to_string();
                });
                AfterRun::Idle
            }
        }
    }

    /// Stops a run: the stop signal, `grace_ms`, then a kill (noted in its log).
    async fn stop_running(&mut self, running: &mut Running) {
        let grace = Duration::from_millis(self.spec.stop.grace_ms);
        let signal = self.spec.stop.signal;
        if running.child.is_running() {
            self.set(|s| {
                s.state = ServiceState::Stopping;
                s.message = format!(
                    "stopping ({}, then killed after {} s)",
                    stop_words(self.spec.kind, signal),
                    grace.as_secs_f64()
                );
            });
        }
        let killed = stop_child(running.child.as_mut(), signal, grace).await;
        if self.spec.kind == ServiceKind::Compose {
            // Its watcher is gone with the run: what docker last said no longer holds.
            self.set(|s| {
                if let Some(c) = s.container.as_mut() {
                    c.state = "stopped".into();
                    c.pid = None;
                    c.health = None;
                    c.health_output = None;
                }
                s.cpu_percent = None;
                s.memory_bytes = None;
            });
        }
        if killed && self.has_log() {
            self.shared.logs.note(
                &self.id,
                &format!(
                    "[greenroom] it did not stop within {} s of {}: killed",
                    grace.as_secs_f64(),
                    stop_words(self.spec.kind, signal)
                ),
            );
        }
        self.shared.logs.poll(&self.id);
    }

    /// Whether what runs writes to the service's log (processes, built-ins, and compose
    /// services, whose log Greenroom follows).
    fn has_log(&self) -> bool {
        matches!(
            self.spec.kind,
            ServiceKind::Process | ServiceKind::Builtin | ServiceKind::Compose
        )
    }

    /// Spawns the process (or starts the compose service); a new run begins.
    async fn launch(&mut self) -> Result<Running, SupervisorError> {
        let run = self.run.fetch_add(1, Ordering::SeqCst) + 1;
        let started_at = now_ms();
        let spawned_at = Instant::now();
        let child = self.launcher.spawn(&self.id, &self.spec).await?;
        let pid = child.pid();
        if let Some(pid) = pid {
            // A process of ours: the state file remembers it, for re-attaching.
            let start_time = child.start_time();
            self.shared.record(&self.id, |r| {
                r.pid = Some(pid);
                r.start_time = start_time;
                r.started_at_ms = Some(started_at);
                r.ports = self.spec.ports.iter().map(|p| p.to_string()).collect();
            });
        }
        self.set(|s| {
            s.state = ServiceState::Starting;
            s.pid = pid;
            s.started_at_ms = Some(started_at);
            s.ready_after_ms = None;
            s.attached = false;
            s.message = format!("starting (run {run})");
        });
        Ok(Running {
            child,
            attached: false,
            spawned_at,
        })
    }

    /// Watches one run until it ends or a person intervenes.
    async fn watch_run(
        &mut self,
        running: &mut Running,
        control: &mut mpsc::UnboundedReceiver<Control>,
    ) -> RunOutcome {
        let mut spawned_at = running.spawned_at;
        let attached = running.attached;
        let probe = self.spec.probe.clone();
        // A compose run starts once the engine answers and its image is there: until it
        // says so (`Launched`), probes and the start timeout wait.
        let mut launched = self.spec.kind != ServiceKind::Compose || attached;
        // While the engine is away, probes do not count.
        let mut paused = false;
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
            let ctx = self.probe_context();
            let log_matched = log_matched.clone();
            let is_ready = is_ready.clone();
            let launcher = self.launcher.clone();
            tokio::spawn(async move {
                loop {
                    let mut ctx = ctx.clone();
                    ctx.log_matched = log_matched.load(Ordering::Relaxed);
                    let sample = launcher
                        .probe(p.check.clone(), Duration::from_millis(p.timeout_ms), ctx)
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
        let start_timeout =
            Duration::from_millis(probe.as_ref().map_or(u64::MAX / 4, |p| p.start_timeout_ms));
        let never = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let mut start_deadline = if launched {
            spawned_at + start_timeout
        } else {
            never
        };
        let threshold = probe.as_ref().map_or(1, |p| p.failure_threshold);
        let mut failures_in_a_row = 0u32;
        let mut last_detail = String::from("no probe answer yet");
        let has_log = self.has_log();
        let mut log_tick = tokio::time::interval(Duration::from_millis(25));
        log_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                watched = running.child.watch() => {
                    let exit = match watched {
                        Watched::Ended(exit) => exit,
                        Watched::Event(event) => {
                            match event {
                                ChildEvent::Launched => {
                                    launched = true;
                                    spawned_at = Instant::now();
                                    start_deadline = spawned_at + start_timeout;
                                }
                                ChildEvent::Paused(why) => {
                                    paused = true;
                                    start_deadline = never;
                                    self.set(|s| s.message = why);
                                }
                                ChildEvent::Resumed => {
                                    paused = false;
                                    failures_in_a_row = 0;
                                    if !ready {
                                        start_deadline = Instant::now() + start_timeout;
                                    }
                                    self.set(|s| s.message = "the Docker engine answers again".into());
                                }
                                ChildEvent::RestartedByEngine { exit_code, policy } => {
                                    ready = false;
                                    is_ready.store(false, Ordering::Relaxed);
                                    launched = false;
                                    start_deadline = never;
                                    failures_in_a_row = 0;
                                    self.breaker.record_failure(clock());
                                    self.counter.total += 1;
                                    let total = self.counter.total;
                                    self.shared.record(&self.id, |r| r.restarts = total);
                                    let exit = exit_code.map_or("an exit".into(), |c| format!("an exit with code {c}"));
                                    let message = format!("docker restarted it after {exit} (restart policy `{policy}`); waiting until it is ready");
                                    self.shared.logs.note(&self.id, &format!("[greenroom] {message}"));
                                    self.set(|s| {
                                        s.state = ServiceState::Starting;
                                        s.restarts = total;
                                        s.last_exit_code = exit_code;
                                        s.ready_after_ms = None;
                                        s.message = message;
                                    });
                                }
                                ChildEvent::Container(container) => self.set(|s| s.container = Some(Box::new(container))),
                                ChildEvent::Progress(line) if !launched => {
                                    self.set(|s| s.message = format!("starting: {line}"));
                                }
                                ChildEvent::Progress(_) => {}
                                ChildEvent::Resources { cpu, memory } => self.set(|s| {
                                    s.cpu_percent = Some(cpu);
                                    s.memory_bytes = Some(memory);
                                }),
                            }
                            continue;
                        }
                    };
                    let lines = self.shared.logs.poll(&self.id);
                    self.emit_lines(lines);
                    // A run that could not start (a compose `up` that failed) did not exit:
                    // its restart is Greenroom's, by the restart policy.
                    let exited = !matches!(exit, Exit::Failed(_));
                    let (code, why) = match exit {
                        Exit::Code(c) => (Some(c), format!("exited with code {c}")),
                        Exit::Unknown => (None, "exited (re-attached: its exit code is unknown)".into()),
                        Exit::Signalled => (None, "was killed by a signal".into()),
                        Exit::Failed(why) => (None, why),
                    };
                    let end = if !ready && code == Some(0) && self.spec.probe.is_some() {
                        RunEnd::Exited(Some(1))
                    } else {
                        RunEnd::Exited(code.or(if attached { Some(1) } else { None }))
                    };
                    let why = if ready || !exited { why } else { format!("{why} before it was ready") };
                    return RunOutcome::Ended { end, ran_for: spawned_at.elapsed(), why, exited };
                }
                message = control.recv() => match message {
                    None => return RunOutcome::Detached,
                    Some(Control::Stop(reply)) => return RunOutcome::Stopped(Some(reply)),
                    Some(Control::Restart(reply)) => return RunOutcome::RestartRequested(reply),
                    Some(Control::Start(reply)) => { let _ = reply.send(StartAck::AlreadyActive); }
                    Some(Control::SetProbeTimeout(ms, reply)) => { self.set_probe_timeout(ms); let _ = reply.send(()); }
                },
                Some(sample) = samples.recv() => {
                    if paused || !launched {
                        continue;
                    }
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
                        let restart = self.spec.restart.on_unhealthy && self.spec.restart.policy != RestartPolicy::No;
                        self.set(|s| {
                            s.state = ServiceState::Unhealthy;
                            s.message = format!("unhealthy: {failures_in_a_row} failed probes in a row ({last_detail})");
                        });
                        if restart {
                            return RunOutcome::Ended {
                                end: RunEnd::Unhealthy,
                                ran_for: spawned_at.elapsed(),
                                why: format!("unhealthy after {failures_in_a_row} failed probes ({last_detail})"),
                                exited: false,
                            };
                        }
                    }
                }
                _ = tokio::time::sleep_until(start_deadline), if !ready && !paused => {
                    let timeout = probe.as_ref().map_or(0, |p| p.start_timeout_ms);
                    return RunOutcome::Ended {
                        end: RunEnd::Exited(None),
                        ran_for: spawned_at.elapsed(),
                        why: format!("not ready after {:.1} s (last probe: {last_detail})", timeout as f64 / 1000.0),
                        exited: false,
                    };
                }
                _ = log_tick.tick(), if has_log => {
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

    /// What this service's probes need besides their own fields (`log_matched` is set
    /// before each probe).
    fn probe_context(&self) -> crate::probe::ProbeContext {
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
        crate::probe::ProbeContext {
            log_matched: false,
            compose,
            cwd: Some(self.shared.root.clone()),
        }
    }
}

/// What follows a run that ended by itself.
enum AfterRun {
    /// The next run, started after the backoff (or at once, when a person asked).
    Next(Running),
    /// Nothing runs now (stopped, completed, failed or given up on).
    Idle,
    /// The supervisor went away during the backoff.
    Detached,
}

/// Stops `child`: `signal`, up to `grace` for it to end, then a kill (`StopSignal::Kill`
/// kills at once). Returns whether it had to be killed.
/// How a stop reaches a service of `kind`, in words for its tile and log.
fn stop_words(kind: ServiceKind, signal: StopSignal) -> String {
    match kind {
        ServiceKind::Compose => "docker compose stop".into(),
        ServiceKind::Builtin => "an in-process stop".into(),
        ServiceKind::Process | ServiceKind::External => crate::process::signal_name(signal).into(),
    }
}

async fn stop_child(child: &mut dyn ServiceChild, signal: StopSignal, grace: Duration) -> bool {
    if signal != StopSignal::Kill {
        let deadline = tokio::time::Instant::now() + grace;
        child.signal(signal).await;
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            // It ended; what it started has the rest of the grace period to end too,
            // and only what is left then is killed.
            while child.tree_alive() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let lingering = child.tree_alive();
            child.reap();
            return lingering;
        }
    }
    child.kill().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    true
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}
