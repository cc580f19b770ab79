//! The runner's decisions against a scripted fake child, in paused time: minutes of
//! backoff, grace and breaker time pass in milliseconds, and every time asserted is exact.
//!
//! The fake records every call (spawn, probe, signal, kill, reap) with the virtual time it
//! happened at; each run follows a [`Script`]: when it exits by itself and with which
//! code, whether it ignores the stop signal, and what its probes answer.

use super::*;
use crate::logs::LogBook;
use crate::manifest::{
    BreakerSpec, Manifest, ProbeSpec, RestartSpec, ServiceSpec, StopSignal, StopSpec,
};
use crate::probe::{ProbeContext, ProbeSample};
use crate::state::StackState;
use crate::supervisor::initial_status;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use greenroom_core::RecordingSink;
use std::collections::VecDeque;
use std::sync::Mutex;

/// How one run behaves.
#[derive(Debug, Clone, Default)]
struct Script {
    /// Exits by itself this long after its spawn, with this code (`None`: runs until stopped).
    exits: Option<(u64, i32)>,
    /// Ignores the stop signal: only a kill ends it.
    ignores_signal: bool,
    /// Its probe answers, in order; the last one repeats (empty: always healthy).
    probes: Vec<bool>,
    /// What it reports, and when (ms after its spawn): a compose run's docker events.
    events: Vec<(u64, ChildEvent)>,
}

impl Script {
    fn runs() -> Self {
        Self::default()
    }
    fn exits(after_ms: u64, code: i32) -> Self {
        Self {
            exits: Some((after_ms, code)),
            ..Self::default()
        }
    }
    fn probes(mut self, answers: &[bool]) -> Self {
        self.probes = answers.to_vec();
        self
    }
    fn ignores_signal(mut self) -> Self {
        self.ignores_signal = true;
        self
    }
    fn reports(mut self, at_ms: u64, event: ChildEvent) -> Self {
        self.events.push((at_ms, event));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// Run n (1-based) was spawned, with PID 1000 + n.
    Spawn(u32),
    Probe {
        run: u32,
        ok: bool,
    },
    Signal {
        run: u32,
        signal: StopSignal,
    },
    Kill(u32),
    Reap(u32),
}

/// The scripted world: spawns runs as scripted and records what the runner does.
struct Fake {
    t0: Instant,
    scripts: Mutex<VecDeque<Script>>,
    calls: Mutex<Vec<(u64, Call)>>,
    /// The current run, and how many probes it answered.
    current: Mutex<(u32, Script, usize)>,
}

impl Fake {
    fn new(scripts: Vec<Script>) -> Arc<Self> {
        Arc::new(Self {
            t0: Instant::now(),
            scripts: Mutex::new(scripts.into()),
            calls: Mutex::new(Vec::new()),
            current: Mutex::new((0, Script::default(), 0)),
        })
    }

    fn record(&self, call: Call) {
        let at = self.t0.elapsed().as_millis() as u64;
        self.calls.lock().unwrap().push((at, call));
    }

    fn calls(&self) -> Vec<(u64, Call)> {
        self.calls.lock().unwrap().clone()
    }

    /// When each run was spawned (ms since the test began).
    fn spawns(&self) -> Vec<u64> {
        self.calls()
            .into_iter()
            .filter_map(|(at, c)| matches!(c, Call::Spawn(_)).then_some(at))
            .collect()
    }

    /// The calls other than probes, in order, without their times.
    fn actions(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| !matches!(c, Call::Probe { .. }))
            .collect()
    }
}

struct FakeChild {
    run: u32,
    fake: Arc<Fake>,
    ignores_signal: bool,
    exit: watch::Sender<Option<Exit>>,
    events: mpsc::UnboundedReceiver<ChildEvent>,
}

impl ServiceChild for FakeChild {
    fn watch(&mut self) -> BoxFuture<'_, Watched> {
        let mut exit = self.exit.subscribe();
        async move {
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => Watched::Event(event),
                ended = exit.wait_for(Option::is_some) => {
                    let ended = ended.expect("the child lives").clone();
                    Watched::Ended(ended.expect("waited for an exit"))
                }
            }
        }
        .boxed()
    }
    fn pid(&self) -> Option<u32> {
        Some(1000 + self.run)
    }
    fn is_running(&mut self) -> bool {
        self.exit.borrow().is_none()
    }
    fn wait(&mut self) -> BoxFuture<'_, Exit> {
        let mut exit = self.exit.subscribe();
        async move {
            let exit = exit
                .wait_for(Option::is_some)
                .await
                .expect("the child lives");
            exit.clone().expect("waited for an exit")
        }
        .boxed()
    }
    fn signal(&mut self, signal: StopSignal) -> BoxFuture<'_, ()> {
        self.fake.record(Call::Signal {
            run: self.run,
            signal,
        });
        if !self.ignores_signal {
            self.exit
                .send_if_modified(|e| e.replace(Exit::Signalled).is_none());
        }
        async {}.boxed()
    }
    fn kill(&mut self) -> BoxFuture<'_, ()> {
        self.fake.record(Call::Kill(self.run));
        self.exit
            .send_if_modified(|e| e.replace(Exit::Signalled).is_none());
        async {}.boxed()
    }
    fn reap(&mut self) {
        self.fake.record(Call::Reap(self.run));
    }
}

impl Launcher for Arc<Fake> {
    fn spawn<'a>(
        &'a self,
        _id: &'a str,
        _spec: &'a ServiceSpec,
    ) -> BoxFuture<'a, Result<Box<dyn ServiceChild>, SupervisorError>> {
        let script = {
            let mut scripts = self.scripts.lock().unwrap();
            let script = scripts.pop_front().unwrap_or_default();
            if scripts.is_empty() {
                // The last script repeats.
                scripts.push_back(script.clone());
            }
            script
        };
        let run = {
            let mut current = self.current.lock().unwrap();
            *current = (current.0 + 1, script.clone(), 0);
            current.0
        };
        self.record(Call::Spawn(run));
        let (exit, _) = watch::channel(None);
        if let Some((after, code)) = script.exits {
            let exit = exit.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(after)).await;
                exit.send_if_modified(|e| e.replace(Exit::Code(code)).is_none());
            });
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        for (after, event) in script.events.clone() {
            let events_tx = events_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(after)).await;
                let _ = events_tx.send(event);
            });
        }
        let child: Box<dyn ServiceChild> = Box::new(FakeChild {
            run,
            fake: self.clone(),
            ignores_signal: script.ignores_signal,
            exit,
            events,
        });
        async move { Ok(child) }.boxed()
    }

    fn adopt(&self, _id: &str, _pid: u32, _start_time: Option<u64>) -> Box<dyn ServiceChild> {
        unreachable!("these tests adopt nothing")
    }

    fn probe(
        &self,
        _check: ProbeCheck,
        _timeout: Duration,
        _ctx: ProbeContext,
    ) -> BoxFuture<'static, ProbeSample> {
        let (run, ok) = {
            let mut current = self.current.lock().unwrap();
            let (run, script, answered) = &mut *current;
            let ok = match script.probes.as_slice() {
                [] => true,
                answers => answers[(*answered).min(answers.len() - 1)],
            };
            *answered += 1;
            (*run, ok)
        };
        self.record(Call::Probe { run, ok });
        let sample = ProbeSample {
            ok,
            latency_ms: 1.0,
            at_ms: 0,
            detail: if ok {
                "scripted success"
            } else {
                "scripted failure"
            }
            .into(),
        };
        async move { sample }.boxed()
    }
}

/// A runner of service `svc` driven by the test, over the fake.
struct Harness {
    fake: Arc<Fake>,
    shared: Arc<Shared>,
    events: Arc<RecordingSink<StackEvent>>,
    control: Option<mpsc::UnboundedSender<Control>>,
    status: watch::Receiver<ServiceStatus>,
    _dir: tempfile::TempDir,
}

fn harness(spec: ServiceSpec, scripts: Vec<Script>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = Manifest::default();
    manifest.services.insert("svc".into(), spec.clone());
    let events = Arc::new(RecordingSink::default());
    let shared = Arc::new(Shared::new(
        "test".into(),
        dir.path().to_path_buf(),
        manifest,
        events.clone(),
        LogBook::new(dir.path().join("logs")).unwrap(),
        dir.path().join("state.json"),
        StackState::new("test"),
        Vec::new(),
        Default::default(),
    ));
    let fake = Fake::new(scripts);
    let (status_tx, status) = watch::channel(initial_status("svc", &spec));
    let (control, control_rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(
        "svc".into(),
        spec,
        shared.clone(),
        status_tx,
        Arc::new(AtomicU64::new(0)),
        0,
        Arc::new(fake.clone()),
    );
    runner.jitter = || 0.0;
    tokio::spawn(runner.serve(control_rx, None));
    Harness {
        fake,
        shared,
        events,
        control: Some(control),
        status,
        _dir: dir,
    }
}

impl Harness {
    fn send(&self, message: Control) {
        self.control
            .as_ref()
            .expect("the control channel is open")
            .send(message)
            .expect("the runner is serving");
    }

    async fn start(&self) -> StartAck {
        let (tx, rx) = oneshot::channel();
        self.send(Control::Start(tx));
        rx.await.unwrap()
    }

    /// What `Supervisor::stop` does: not wanted any more, then stop.
    async fn stop(&self) {
        self.shared.record("svc", |r| r.wanted = false);
        let (tx, rx) = oneshot::channel();
        self.send(Control::Stop(tx));
        rx.await.unwrap()
    }

    /// The status once `done` holds (an hour of virtual time at most).
    async fn until(&mut self, what: &str, done: impl Fn(&ServiceStatus) -> bool) -> ServiceStatus {
        let wait = self.status.wait_for(|s| done(s));
        let found = match tokio::time::timeout(Duration::from_secs(3600), wait).await {
            Ok(Ok(status)) => Some(status.clone()),
            _ => None,
        };
        match found {
            Some(status) => status,
            None => panic!(
                "never {what}; last status: {:?}; calls: {:?}",
                self.status.borrow(),
                self.fake.calls()
            ),
        }
    }

    /// Every status message published, in order.
    fn messages(&self) -> Vec<String> {
        self.events
            .events()
            .into_iter()
            .filter_map(|e| match e {
                StackEvent::Service { status } => Some(status.message),
                _ => None,
            })
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.shared.logs.path("svc")).unwrap_or_default()
    }
}

fn ms(since_start: Instant) -> u64 {
    since_start.elapsed().as_millis() as u64
}

fn spec(restart: RestartSpec) -> ServiceSpec {
    ServiceSpec {
        command: Some("fake".into()),
        restart,
        ..Default::default()
    }
}

fn restart(policy: RestartPolicy, backoff_ms: u64, max_restarts: u32) -> RestartSpec {
    RestartSpec {
        policy,
        on_unhealthy: true,
        max_restarts,
        backoff_initial_ms: backoff_ms,
        backoff_max_ms: 30_000,
        stable_after_ms: 30_000,
    }
}

fn probe(failure_threshold: u32) -> ProbeSpec {
    ProbeSpec {
        startup_interval_ms: 10,
        interval_ms: 100,
        failure_threshold,
        ..ProbeSpec::new(ProbeCheck::Tcp {
            port: 1,
            host: "127.0.0.1".into(),
        })
    }
}

/// A quiet minute of virtual time (60 times the longest backoff or grace these tests
/// script): whatever the runner would still do, it has done.
async fn a_minute_later() {
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_is_restarted_after_its_backoff() {
    let mut h = harness(
        spec(restart(RestartPolicy::OnFailure, 1000, 5)),
        vec![Script::exits(200, 3), Script::runs()],
    );
    assert_eq!(h.start().await, StartAck::Started(1));
    let backing_off = h
        .until("backing off", |s| s.state == ServiceState::BackingOff)
        .await;
    assert_eq!(
        backing_off.message,
        "exited with code 3; restarting in 1.0 s (attempt 1 of 5)"
    );
    assert_eq!(
        (backing_off.restarts, backing_off.last_exit_code),
        (1, Some(3))
    );
    let again = h
        .until("running again", |s| {
            s.state == ServiceState::Running && s.pid == Some(1002)
        })
        .await;
    assert_eq!(again.restarts, 1);
    assert_eq!(
        h.fake.spawns(),
        vec![0, 1200],
        "the exit at 200 ms, then the 1 s backoff"
    );
    assert_eq!(
        h.fake.actions(),
        vec![
            Call::Spawn(1),
            // The ended run is stopped too, so that nothing it started lingers.
            Call::Signal {
                run: 1,
                signal: StopSignal::Term
            },
            Call::Reap(1),
            Call::Spawn(2),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_backoff_doubles_and_restarts_in_a_row_stop_at_the_cap() {
    let mut h = harness(
        spec(restart(RestartPolicy::Always, 100, 2)),
        vec![Script::exits(50, 7)],
    );
    h.start().await;
    let failed = h
        .until("given up on", |s| s.state == ServiceState::Failed)
        .await;
    assert_eq!(failed.restarts, 2);
    assert_eq!(failed.last_exit_code, Some(7));
    assert_eq!(
        failed.message,
        "exited with code 7; not restarted: it was restarted 2 times in a row without staying up 30 s; start it again once it is fixed"
    );
    a_minute_later().await;
    assert_eq!(
        h.fake.spawns(),
        vec![0, 150, 400],
        "exits at 50 ms; backoffs of 100 then 200 ms; no third restart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stable_run_resets_the_restart_count() {
    let mut stable = restart(RestartPolicy::Always, 100, 1);
    stable.stable_after_ms = 1000;
    let mut h = harness(
        spec(stable),
        vec![
            Script::exits(50, 1),
            Script::exits(2000, 1),
            Script::exits(50, 1),
        ],
    );
    h.start().await;
    let failed = h
        .until("given up on", |s| s.state == ServiceState::Failed)
        .await;
    assert!(
        failed.message.contains("1 times in a row"),
        "{}",
        failed.message
    );
    // Run 2 stayed up 2 s (stable), so run 3 was the first restart in a row again;
    // without the reset, run 2's exit would have been the second, and given up on.
    assert_eq!(h.fake.spawns(), vec![0, 150, 2250]);
    assert_eq!(failed.restarts, 2);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_failed_runs_and_lets_one_trial_through_after_open_ms() {
    let mut service = spec(RestartSpec {
        backoff_max_ms: 100,
        ..restart(RestartPolicy::Always, 100, 10)
    });
    service.probe = Some(probe(3));
    service.breaker = BreakerSpec {
        threshold: 3,
        open_ms: 10_000,
    };
    // Runs 1–4 exit before they are ready (a failed run each); run 5 becomes ready.
    let crash = Script::exits(50, 1).probes(&[false]);
    let mut h = harness(
        service,
        vec![
            crash.clone(),
            crash.clone(),
            crash.clone(),
            crash,
            Script::runs().probes(&[true]),
        ],
    );
    h.start().await;
    let open = h
        .until("the circuit open", |s| s.breaker == BreakerState::Open)
        .await;
    assert_eq!(open.state, ServiceState::BackingOff);
    assert_eq!(
        open.message,
        "exited with code 1 before it was ready; restarting in 10.0 s (attempt 3 of 10) (circuit open after 3 failures)"
    );
    let healthy = h
        .until("running after a successful trial", |s| {
            s.state == ServiceState::Running
        })
        .await;
    assert_eq!(healthy.breaker, BreakerState::Closed, "a success closes it");
    assert_eq!(healthy.pid, Some(1005));
    assert_eq!(
        h.fake.spawns(),
        vec![
            0, 150, 300,
            // Opened at 350 ms by the third failure: one trial once open_ms has passed…
            10_350, // …which failed at 10 400 ms and opened it again for open_ms.
            20_400,
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn three_failed_probes_make_it_unhealthy_and_restart_it_with_on_unhealthy() {
    let mut service = spec(restart(RestartPolicy::OnFailure, 100, 5));
    service.probe = Some(probe(3));
    let mut h = harness(
        service,
        vec![
            Script::runs().probes(&[true, true, false, false, false]),
            Script::runs(),
        ],
    );
    h.start().await;
    h.until("restarted", |s| {
        s.pid == Some(1002) && s.state == ServiceState::Running
    })
    .await;
    let calls: Vec<Call> = h.fake.calls().into_iter().map(|(_, c)| c).collect();
    let failures = |run| Call::Probe { run, ok: false };
    let signal = calls
        .iter()
        .position(|c| matches!(c, Call::Signal { run: 1, .. }))
        .expect("the unhealthy run was stopped");
    assert_eq!(
        calls[..signal]
            .iter()
            .filter(|c| **c == failures(1))
            .count(),
        3,
        "stopped at the third failed probe in a row, not before: {calls:?}"
    );
    assert_eq!(calls[signal - 1], failures(1));
    assert!(calls[signal..].contains(&Call::Spawn(2)));
    assert!(
        h.messages()
            .iter()
            .any(|m| m == "unhealthy: 3 failed probes in a row (scripted failure)"),
        "{:?}",
        h.messages()
    );
    assert_eq!(h.status.borrow().restarts, 1);
}

#[tokio::test(start_paused = true)]
async fn without_on_unhealthy_an_unhealthy_service_is_left_running() {
    let mut no_restart = restart(RestartPolicy::OnFailure, 100, 5);
    no_restart.on_unhealthy = false;
    let mut service = spec(no_restart);
    service.probe = Some(probe(3));
    let mut h = harness(
        service,
        vec![Script::runs().probes(&[true, false, false, false, true])],
    );
    h.start().await;
    let sick = h
        .until("unhealthy", |s| s.state == ServiceState::Unhealthy)
        .await;
    assert_eq!(
        sick.message,
        "unhealthy: 3 failed probes in a row (scripted failure)"
    );
    let well = h
        .until("healthy again", |s| s.state == ServiceState::Running)
        .await;
    assert_eq!(well.message, "healthy again");
    a_minute_later().await;
    assert_eq!(
        h.fake.actions(),
        vec![Call::Spawn(1)],
        "never stopped nor restarted"
    );
    assert_eq!(h.status.borrow().restarts, 0);
}

#[tokio::test(start_paused = true)]
async fn stop_sends_the_stop_signal_waits_the_grace_then_kills() {
    let mut service = spec(restart(RestartPolicy::Always, 100, 5));
    service.stop = StopSpec {
        signal: StopSignal::Int,
        grace_ms: 3000,
    };
    let mut h = harness(service, vec![Script::runs().ignores_signal()]);
    h.start().await;
    h.until("running", |s| s.state == ServiceState::Running)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    h.stop().await;
    assert_eq!(ms(asked), 3000, "the stop took exactly the grace period");
    assert_eq!(
        h.fake.calls(),
        vec![
            (0, Call::Spawn(1)),
            (
                500,
                Call::Signal {
                    run: 1,
                    signal: StopSignal::Int
                }
            ),
            (3500, Call::Kill(1)),
        ]
    );
    let stopped = h.status.borrow().clone();
    assert_eq!(
        (stopped.state, stopped.pid, stopped.message.as_str()),
        (ServiceState::Stopped, None, "stopped")
    );
    assert!(h.messages().contains(&format!(
        "stopping ({}, then killed after 3 s)",
        crate::process::signal_name(StopSignal::Int)
    )));
    assert!(
        h.log().contains(&format!(
            "[greenroom] it did not stop within 3 s of {}: killed",
            crate::process::signal_name(StopSignal::Int)
        )),
        "{}",
        h.log()
    );
    a_minute_later().await;
    assert_eq!(
        h.fake.spawns(),
        vec![0],
        "a stopped service is not restarted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_that_honours_the_signal_is_not_killed() {
    let mut h = harness(
        spec(restart(RestartPolicy::Always, 100, 5)),
        vec![Script::runs()],
    );
    h.start().await;
    h.until("running", |s| s.state == ServiceState::Running)
        .await;
    let asked = Instant::now();
    h.stop().await;
    assert_eq!(ms(asked), 0);
    assert_eq!(
        h.fake.actions(),
        vec![
            Call::Spawn(1),
            Call::Signal {
                run: 1,
                signal: StopSignal::Term
            },
            Call::Reap(1),
        ]
    );
    assert!(!h.log().contains("did not stop"));
}

#[tokio::test(start_paused = true)]
async fn stop_signal_kill_kills_at_once() {
    let mut service = spec(restart(RestartPolicy::Always, 100, 5));
    service.stop.signal = StopSignal::Kill;
    let mut h = harness(service, vec![Script::runs().ignores_signal()]);
    h.start().await;
    h.until("running", |s| s.state == ServiceState::Running)
        .await;
    let asked = Instant::now();
    h.stop().await;
    assert_eq!(ms(asked), 0, "no grace period");
    assert_eq!(h.fake.actions(), vec![Call::Spawn(1), Call::Kill(1)]);
}

#[tokio::test(start_paused = true)]
async fn not_ready_within_the_start_timeout_is_a_failure_that_says_why() {
    let mut service = spec(restart(RestartPolicy::No, 100, 5));
    service.probe = Some(ProbeSpec {
        start_timeout_ms: 1500,
        ..probe(3)
    });
    let mut h = harness(service, vec![Script::runs().probes(&[false])]);
    h.start().await;
    let failed = h.until("failed", |s| s.state == ServiceState::Failed).await;
    assert_eq!(
        failed.message,
        "not ready after 1.5 s (last probe: scripted failure); not restarted: its restart policy is `no`"
    );
    let signal = h
        .fake
        .calls()
        .into_iter()
        .find(|(_, c)| matches!(c, Call::Signal { .. }))
        .expect("it was stopped");
    assert_eq!(signal.0, 1500, "stopped at the start timeout");
}

#[tokio::test(start_paused = true)]
async fn a_clean_exit_completes_and_an_exit_before_ready_fails() {
    let mut h = harness(
        spec(restart(RestartPolicy::OnFailure, 100, 5)),
        vec![Script::exits(100, 0)],
    );
    h.start().await;
    let done = h
        .until("completed", |s| s.state == ServiceState::Completed)
        .await;
    assert_eq!(done.message, "exited with code 0; done");

    // With a probe, code 0 before ready is a failure, and on-failure restarts it.
    let mut service = spec(restart(RestartPolicy::OnFailure, 100, 1));
    service.probe = Some(probe(3));
    let mut h = harness(service, vec![Script::exits(100, 0).probes(&[false])]);
    h.start().await;
    let failed = h.until("failed", |s| s.state == ServiceState::Failed).await;
    assert_eq!(failed.restarts, 1);
    assert!(
        failed
            .message
            .starts_with("exited with code 0 before it was ready; not restarted"),
        "{}",
        failed.message
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_stopped_meanwhile_is_not_restarted() {
    let mut h = harness(
        spec(restart(RestartPolicy::Always, 100, 5)),
        vec![Script::exits(200, 1)],
    );
    h.start().await;
    h.until("running", |s| s.state == ServiceState::Running)
        .await;
    // Another Greenroom stopped it: the state file says so.
    h.shared.record("svc", |r| r.wanted = false);
    let stopped = h
        .until("stopped", |s| s.state == ServiceState::Stopped)
        .await;
    assert_eq!(
        stopped.message,
        "exited with code 1; not restarted: it was stopped meanwhile"
    );
    a_minute_later().await;
    assert_eq!(h.fake.spawns(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn a_runner_whose_supervisor_goes_away_leaves_the_run_alone() {
    let mut h = harness(
        spec(restart(RestartPolicy::Always, 100, 5)),
        vec![Script::runs().ignores_signal()],
    );
    h.start().await;
    h.until("running", |s| s.state == ServiceState::Running)
        .await;
    drop(h.control.take());
    // The runner's end of the status channel closes when its task ends.
    let ended = tokio::time::timeout(Duration::from_secs(3600), async {
        while h.status.changed().await.is_ok() {}
    })
    .await;
    assert!(ended.is_ok(), "the runner let go");
    assert_eq!(h.fake.actions(), vec![Call::Spawn(1)]);
}

#[tokio::test(start_paused = true)]
async fn a_start_during_the_backoff_starts_it_at_once_and_resets_the_count() {
    let mut h = harness(
        spec(restart(RestartPolicy::Always, 60_000, 5)),
        vec![Script::exits(100, 1), Script::runs()],
    );
    h.start().await;
    h.until("backing off", |s| s.state == ServiceState::BackingOff)
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(h.start().await, StartAck::Started(2));
    let running = h
        .until("running", |s| {
            s.state == ServiceState::Running && s.pid == Some(1002)
        })
        .await;
    assert_eq!(h.fake.spawns(), vec![0, 500]);
    assert_eq!(running.breaker, BreakerState::Closed);
}

fn compose_spec(policy: RestartPolicy) -> ServiceSpec {
    ServiceSpec {
        kind: ServiceKind::Compose,
        probe: Some(probe(2)),
        ..spec(restart(policy, 1000, 5))
    }
}

#[tokio::test(start_paused = true)]
async fn a_compose_exit_is_left_to_dockers_restart_policy() {
    // Docker did not restart it (the run ended): Greenroom must not either, whatever the
    // policy says, or the two would both restart it.
    let mut h = harness(
        compose_spec(RestartPolicy::Always),
        vec![Script::exits(5000, 3).reports(0, ChildEvent::Launched)],
    );
    h.start().await;
    let failed = h.until("failed", |s| s.state == ServiceState::Failed).await;
    assert_eq!(
        failed.message,
        "exited with code 3; not restarted: docker's restart policy does not restart it"
    );
    a_minute_later().await;
    assert_eq!(
        h.fake.spawns(),
        vec![0],
        "one run: Greenroom started nothing more"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_by_docker_is_counted_and_awaited_not_repeated() {
    let mut h = harness(
        compose_spec(RestartPolicy::UnlessStopped),
        vec![
            Script::runs()
                // Healthy (ten answers: at least 90 ms of probes), then down while docker
                // restarts it, then healthy again.
                .probes(&[
                    true, true, true, true, true, true, true, true, true, true, false, false,
                    false, false, false, true,
                ])
                .reports(0, ChildEvent::Launched)
                .reports(
                    50,
                    ChildEvent::RestartedByEngine {
                        exit_code: Some(137),
                        policy: "unless-stopped".into(),
                    },
                )
                .reports(2000, ChildEvent::Launched),
        ],
    );
    h.start().await;
    let restarting = h.until("restarted by docker", |s| s.restarts == 1).await;
    assert_eq!(restarting.state, ServiceState::Starting);
    assert_eq!(
        restarting.message,
        "docker restarted it after an exit with code 137 (restart policy `unless-stopped`); waiting until it is ready"
    );
    assert_eq!(restarting.last_exit_code, Some(137));
    let again = h
        .until("ready again", |s| {
            s.state == ServiceState::Running && s.restarts == 1
        })
        .await;
    assert!(again.ready_after_ms.is_some());
    a_minute_later().await;
    assert_eq!(
        h.fake.spawns(),
        vec![0],
        "docker restarted it; Greenroom did not"
    );
    assert!(
        h.log()
            .contains("[greenroom] docker restarted it after an exit with code 137"),
        "{}",
        h.log()
    );
    assert_ne!(h.status.borrow().state, ServiceState::Unhealthy);
}

#[tokio::test(start_paused = true)]
async fn probes_do_not_count_while_the_engine_is_away() {
    let mut h = harness(
        compose_spec(RestartPolicy::UnlessStopped),
        vec![
            Script::runs()
                // Ten answers (at least 90 ms of probes) before the engine goes at 50 ms.
                .probes(&[
                    true, true, true, true, true, true, true, true, true, true, false,
                ])
                .reports(0, ChildEvent::Launched)
                .reports(
                    50,
                    ChildEvent::Paused("the Docker engine is not running".into()),
                ),
        ],
    );
    h.start().await;
    h.until("away", |s| s.message == "the Docker engine is not running")
        .await;
    a_minute_later().await;
    let status = h.status.borrow().clone();
    assert_eq!(status.state, ServiceState::Running, "{status:?}");
    assert_eq!(
        h.fake.spawns(),
        vec![0],
        "no restart while the engine is away"
    );
}

#[tokio::test(start_paused = true)]
async fn a_compose_run_says_what_it_builds_and_counts_readiness_from_its_start() {
    let mut h = harness(
        compose_spec(RestartPolicy::No),
        vec![
            Script::runs()
                .reports(0, ChildEvent::Progress("#5 [2/2] RUN echo built".into()))
                // The build takes 40 s of the 30 s start timeout: the timeout counts
                // from the container's start, not from `up`.
                .reports(40_000, ChildEvent::Launched),
        ],
    );
    h.start().await;
    h.until("the build step said", |s| {
        s.message == "starting: #5 [2/2] RUN echo built"
    })
    .await;
    let ready = h.until("ready", |s| s.state == ServiceState::Running).await;
    assert!(
        ready.ready_after_ms.is_some_and(|ms| ms < 1000.0),
        "readiness is measured from the container's start: {ready:?}"
    );
}
