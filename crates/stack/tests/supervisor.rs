//! The supervisor with real child processes (the fixture service, redis-server,
//! livekit-server). Every wait is for a condition or an event, with a deadline (the
//! shared `eventually`); nothing sleeps blind. The runner's decisions themselves are
//! unit-tested with a scripted fake child, in paused time (`src/runner/tests.rs`).

use greenroom_core::RecordingSink;
use greenroom_stack::manifest::{self, Manifest};
use greenroom_stack::status::ServiceState;
use greenroom_stack::supervisor::{StackEvent, Supervisor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenroom_test_support::{binary as fixture, eventually, find_tool, free_port, tool_dirs};

struct Stack {
    _dirs: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    supervisor: Supervisor,
    events: Arc<RecordingSink<StackEvent>>,
}

fn stack(toml_text: &str) -> Stack {
    let dirs = tempfile::tempdir().unwrap();
    let home = dirs.path().join("home");
    let root = dirs.path().join("project");
    std::fs::create_dir_all(&root).unwrap();
    let text = toml_text.replace(
        "FIXTURE",
        &fixture().display().to_string().replace('\\', "\\\\"),
    );
    let manifest: Manifest = manifest::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert!(
        manifest::validate(&manifest).is_empty(),
        "{:?}",
        manifest::validate(&manifest)
    );
    let events = Arc::new(RecordingSink::default());
    let (supervisor, _) = Supervisor::new(
        manifest,
        root.clone(),
        &home,
        tool_dirs(),
        Default::default(),
        events.clone(),
    )
    .unwrap();
    Stack {
        _dirs: dirs,
        home,
        root,
        supervisor,
        events,
    }
}

fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 checks existence; a zombie (exited, not yet reaped) does not count.
        let exists = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false);
        exists && !zombie
    }
    #[cfg(not(unix))]
    {
        greenroom_stack::process::start_time(pid).is_some()
    }
}

fn status_of(s: &Stack, id: &str) -> greenroom_stack::status::ServiceStatus {
    s.supervisor
        .status()
        .services
        .into_iter()
        .find(|x| x.id == id)
        .unwrap()
}

#[tokio::test]
async fn up_follows_dependencies_and_down_leaves_nothing_behind() {
    let (p1, p2) = (free_port(), free_port());
    let s = stack(&format!(
        r#"
name = "deps"
[services.base]
command = "FIXTURE"
args = ["--port", "{p1}", "--ready-after", "200", "--spawn-grandchild"]
critical = true
[services.base.probe]
type = "http"
url = "http://127.0.0.1:{p1}/health"
[services.middle]
command = "FIXTURE"
args = ["--port", "{p2}", "--ready-after", "100"]
depends_on = {{ base = "healthy" }}
[services.middle.probe]
type = "tcp"
port = {p2}
[services.top]
command = "FIXTURE"
depends_on = ["middle"]
"#
    ));
    let report = s.supervisor.up(&[], |_| {}).await.unwrap();
    assert!(report.ok, "{report:#?}");
    let st = s.supervisor.status();
    assert!(
        st.services.iter().all(|x| x.state == ServiceState::Running),
        "{st:#?}"
    );
    assert_eq!(st.summary.score, 100.0);
    // middle waited for base to be healthy: it started after base was ready.
    let base = status_of(&s, "base");
    let middle = status_of(&s, "middle");
    assert!(
        middle.started_at_ms.unwrap() >= base.started_at_ms.unwrap() + 200,
        "{base:?}\n{middle:?}"
    );
    assert!(base.ready_after_ms.unwrap() >= 200.0);

    // The grandchild of base, from its log.
    let log = std::fs::read_to_string(s.supervisor.logs().path("base")).unwrap();
    let grandchild: u32 = log
        .lines()
        .find_map(|l| l.strip_prefix("grandchild "))
        .unwrap()
        .parse()
        .unwrap();
    let pids: Vec<u32> = st
        .services
        .iter()
        .filter_map(|x| x.pid)
        .chain([grandchild])
        .collect();
    assert!(pids.iter().all(|p| alive(*p)));

    let stopped = s.supervisor.down().await;
    assert_eq!(stopped.len(), 3);
    eventually(
        "every process of the stack to be gone",
        Duration::from_secs(10),
        async || pids.iter().all(|p| !alive(*p)).then_some(()),
    )
    .await;
    assert!(
        s.supervisor
            .status()
            .services
            .iter()
            .all(|x| x.state == ServiceState::Stopped)
    );
    // Events flowed: status changes for every service.
    let topics: Vec<String> = s.events.events().iter().map(|e| e.topic()).collect();
    for id in ["base", "middle", "top"] {
        assert!(
            topics.contains(&format!("stack://service/{id}/status")),
            "{id}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_killed_service_is_restarted_with_backoff() {
    let port = free_port();
    let s = stack(&format!(
        r#"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
[services.api.probe]
type = "tcp"
port = {port}
[services.api.restart]
policy = "always"
backoff_initial_ms = 300
"#
    ));
    assert!(s.supervisor.up(&[], |_| {}).await.unwrap().ok);
    let first = status_of(&s, "api").pid.unwrap();
    let killed_at = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let backing_off = eventually("backing off", Duration::from_secs(5), async || {
        let st = status_of(&s, "api");
        (st.state == ServiceState::BackingOff).then_some(st)
    })
    .await;
    assert!(
        backing_off.message.contains("restarting in"),
        "{}",
        backing_off.message
    );
    let again = eventually(
        "running again with a new PID",
        Duration::from_secs(10),
        async || {
            let st = status_of(&s, "api");
            (st.state == ServiceState::Running && st.pid != Some(first)).then_some(st)
        },
    )
    .await;
    // The backoff was honoured (300 ms ± 20 %).
    assert!(killed_at.elapsed() >= Duration::from_millis(240));
    assert_eq!(again.restarts, 1);
    s.supervisor.down().await;
}

#[tokio::test]
async fn a_service_that_never_becomes_ready_fails_up_clearly() {
    let port = free_port();
    let s = stack(&format!(
        r#"
[services.slow]
command = "FIXTURE"
args = ["--say", "still warming up"]
[services.slow.probe]
type = "tcp"
port = {port}
start_timeout_ms = 600
[services.after]
command = "FIXTURE"
depends_on = {{ slow = "healthy" }}
"#
    ));
    let started = Instant::now();
    let report = s.supervisor.up(&[], |_| {}).await.unwrap();
    assert!(!report.ok);
    assert!(started.elapsed() < Duration::from_secs(10));
    let slow = report.services.iter().find(|r| r.id == "slow").unwrap();
    let error = slow.error.as_deref().unwrap();
    assert!(error.contains("not ready after 0.6 s"), "{error}");
    assert!(
        error.contains(&format!("127.0.0.1:{port}")),
        "the last probe answer is in the message: {error}"
    );
    assert!(
        slow.log_tail.iter().any(|l| l.contains("ready")),
        "{:?}",
        slow.log_tail
    );
    let after = report.services.iter().find(|r| r.id == "after").unwrap();
    assert!(
        after
            .error
            .as_deref()
            .unwrap()
            .contains("dependency `slow`"),
        "{after:?}"
    );
    assert_eq!(
        status_of(&s, "after").state,
        ServiceState::Stopped,
        "a dependent of a failed service is not started"
    );
    s.supervisor.down().await;
}

#[tokio::test]
async fn an_unhealthy_service_is_restarted_and_sigterm_ignorers_are_killed() {
    let port = free_port();
    let s = stack(&format!(
        r#"
[services.sick]
command = "FIXTURE"
args = ["--port", "{port}", "--unhealthy-after", "400", "--ignore-sigterm"]
[services.sick.probe]
type = "http"
url = "http://127.0.0.1:{port}/health"
interval_ms = 100
failure_threshold = 2
[services.sick.stop]
grace_ms = 300
[services.sick.restart]
policy = "on-failure"
backoff_initial_ms = 100
"#
    ));
    assert!(s.supervisor.up(&[], |_| {}).await.unwrap().ok);
    let first = status_of(&s, "sick").pid.unwrap();
    eventually(
        "a restart after it turned unhealthy",
        Duration::from_secs(15),
        async || {
            let st = status_of(&s, "sick");
            (st.restarts >= 1 && st.pid.is_some_and(|p| p != first)).then_some(())
        },
    )
    .await;
    assert!(
        !alive(first),
        "the unhealthy process, which ignores SIGTERM, was killed"
    );
    let log = std::fs::read_to_string(s.supervisor.logs().path("sick")).unwrap();
    assert!(log.contains("did not stop within 0.3 s"), "{log}");
    let messages: Vec<String> = s
        .events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            StackEvent::Service { status } => Some(status.message),
            _ => None,
        })
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("unhealthy")),
        "{messages:?}"
    );
    s.supervisor.down().await;
}

#[tokio::test]
async fn restarts_stop_at_the_cap() {
    let s = stack(
        r#"
[services.crashy]
command = "FIXTURE"
args = ["--crash-after", "50", "--exit-code", "7"]
[services.crashy.restart]
policy = "always"
max_restarts = 2
backoff_initial_ms = 50
"#,
    );
    s.supervisor.up(&[], |_| {}).await.unwrap();
    let failed = eventually("the restart cap", Duration::from_secs(10), async || {
        let st = status_of(&s, "crashy");
        (st.state == ServiceState::Failed).then_some(st)
    })
    .await;
    assert_eq!(failed.restarts, 2);
    assert_eq!(failed.last_exit_code, Some(7));
    assert!(
        failed.message.contains("exited with code 7")
            && failed.message.contains("2 times in a row"),
        "{}",
        failed.message
    );
}

#[test]
fn a_new_supervisor_re_attaches_to_what_the_old_one_started() {
    let port = free_port();
    let text = format!(
        r#"
name = "reattach"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
[services.api.probe]
type = "tcp"
port = {port}
"#
    );
    let s = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let s = rt.block_on(async { stack(&text) });
        assert!(rt.block_on(s.supervisor.up(&[], |_| {})).unwrap().ok);
        // The supervisor "crashes": its runtime goes away; the service keeps running.
        rt.shutdown_background();
        s
    };
    let pid = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let manifest =
                manifest::parse(&text.replace("FIXTURE", &fixture().display().to_string()))
                    .unwrap();
            let (again, notes) = Supervisor::new(
                manifest,
                s.root.clone(),
                &s.home,
                vec![],
                Default::default(),
                Arc::new(greenroom_core::NullSink),
            )
            .unwrap();
            assert!(
                notes.iter().any(|n| n.contains("re-attached to `api`")),
                "{notes:?}"
            );
            let st = eventually(
                "the adopted service to be running",
                Duration::from_secs(5),
                async || {
                    let st = again.status().services[0].clone();
                    (st.state == ServiceState::Running).then_some(st)
                },
            )
            .await;
            assert!(st.attached);
            let pid = st.pid.unwrap();
            // up again does not start a duplicate (the port would clash).
            let report = again.up(&[], |_| {}).await.unwrap();
            assert!(report.ok);
            assert_eq!(again.status().services[0].pid, Some(pid));
            again.down().await;
            pid
        })
    };
    assert!(!alive(pid));
}

#[tokio::test]
async fn real_redis_and_livekit_server_as_members_of_a_stack() {
    let redis = find_tool("redis-server");
    let livekit = find_tool("livekit-server");
    let (redis_port, lk_port, lk_tcp, lk_udp) =
        (free_port(), free_port(), free_port(), free_port());
    let s = stack(&format!(
        r#"
name = "real"
[services.redis]
command = "{redis}"
args = ["--port", "{redis_port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
critical = true
ports = ["{redis_port}"]
[services.redis.probe]
type = "redis"
port = {redis_port}
[services.livekit]
command = "{livekit}"
args = ["--dev", "--bind", "127.0.0.1", "--config-body", "port: {lk_port}\nrtc:\n  tcp_port: {lk_tcp}\n  udp_port: {lk_udp}\n"]
critical = true
depends_on = {{ redis = "healthy" }}
[services.livekit.probe]
type = "websocket"
url = "ws://127.0.0.1:{lk_port}/rtc"
start_timeout_ms = 20000
"#,
        redis = redis.display(),
        livekit = livekit.display()
    ));
    let report = s.supervisor.up(&[], |_| {}).await.unwrap();
    assert!(
        report.ok,
        "{report:#?}\n{}",
        std::fs::read_to_string(s.supervisor.logs().path("livekit")).unwrap_or_default()
    );
    let st = s.supervisor.status();
    assert_eq!(st.summary.score, 100.0);
    let lk = st.services.iter().find(|x| x.id == "livekit").unwrap();
    assert!(
        lk.last_probe.as_ref().unwrap().detail.contains("HTTP")
            || lk.last_probe.as_ref().unwrap().detail.contains("handshake"),
        "{lk:?}"
    );
    let pids: Vec<u32> = st.services.iter().filter_map(|x| x.pid).collect();
    s.supervisor.down().await;
    eventually(
        "redis and livekit to exit",
        Duration::from_secs(10),
        async || pids.iter().all(|p| !alive(*p)).then_some(()),
    )
    .await;
}

#[tokio::test]
async fn a_supervisor_that_only_looked_leaves_the_stack_running() {
    let port = free_port();
    let text = format!(
        r#"
name = "look"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
[services.api.probe]
type = "tcp"
port = {port}
"#
    );
    let s = stack(&text);
    assert!(s.supervisor.up(&[], |_| {}).await.unwrap().ok);
    let pid = status_of(&s, "api").pid.unwrap();
    let let_go;
    {
        // Another Greenroom (`greenroom status`) re-attaches, looks, and goes away.
        let manifest =
            manifest::parse(&text.replace("FIXTURE", &fixture().display().to_string())).unwrap();
        let (onlooker, _) = Supervisor::new(
            manifest,
            s.root.clone(),
            &s.home,
            vec![],
            Default::default(),
            Arc::new(greenroom_core::NullSink),
        )
        .unwrap();
        let_go = onlooker.watch("api").unwrap();
        let seen = onlooker.status().services[0].clone();
        assert_eq!(
            (seen.state, seen.pid, seen.attached),
            (ServiceState::Running, Some(pid), true),
            "the status is known at once"
        );
    }
    // The onlooker is gone: its runner of `api` lets go of the service and ends, which
    // closes its status channel. Had it stopped the service on its way out, the stop
    // would be over by then.
    eventually(
        "the onlooker's runner of `api` to end",
        Duration::from_secs(10),
        async || let_go.has_changed().is_err().then_some(()),
    )
    .await;
    assert!(alive(pid), "an onlooker must never stop the stack");
    assert_eq!(status_of(&s, "api").state, ServiceState::Running);
    s.supervisor.down().await;
}

/// Issue 13.6: `venv` on a folder of sources was once diagnosed as a broken virtualenv,
/// and a confirmed repair ran `venv --clear` on it, emptying the sources.
#[tokio::test]
async fn a_venv_repair_never_empties_sources_and_sets_a_broken_one_aside() {
    use greenroom_stack::repair::RepairKind;
    let port = free_port();
    let sources = stack(&format!(
        r#"
[services.agent]
command = "FIXTURE"
args = ["--port", "{port}"]
venv = "agent"
"#
    ));
    let agent = sources.root.join("agent");
    std::fs::create_dir_all(&agent).unwrap();
    std::fs::write(agent.join("agent.py"), "print('Marie')\n").unwrap();
    let diagnoses = sources.supervisor.diagnoses().await;
    let agent_diagnosis = diagnoses.iter().find(|d| d.service == "agent").unwrap();
    assert!(
        agent_diagnosis
            .actions
            .iter()
            .all(|a| a.kind != RepairKind::RecreateVenv),
        "no re-creation is offered for a folder that is not a virtualenv: {agent_diagnosis:?}"
    );
    assert!(
        agent_diagnosis
            .evidence
            .iter()
            .any(|e| e.contains("not a virtualenv")),
        "{agent_diagnosis:?}"
    );
    let refused = sources
        .supervisor
        .repair("agent", RepairKind::RecreateVenv, Some("any"))
        .await;
    assert!(refused.is_err(), "even confirmed, it is not run");
    assert_eq!(
        std::fs::read_to_string(agent.join("agent.py")).unwrap(),
        "print('Marie')\n",
        "the sources are whole"
    );

    // A real virtualenv without its bin/: set aside, re-created, the service up.
    let port = free_port();
    let broken = stack(&format!(
        r#"
[services.agent]
command = "FIXTURE"
args = ["--port", "{port}"]
venv = "agent/.venv"

[services.agent.probe]
type = "tcp"
port = {port}
"#
    ));
    let venv = broken.root.join("agent/.venv");
    std::fs::create_dir_all(&venv).unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), "home = /nowhere\n").unwrap();
    std::fs::write(venv.join("keep-me.txt"), "a note\n").unwrap();
    let diagnoses = broken.supervisor.diagnoses().await;
    let offered = diagnoses
        .iter()
        .find(|d| d.service == "agent")
        .and_then(|d| {
            d.actions
                .iter()
                .find(|a| a.kind == RepairKind::RecreateVenv)
        })
        .cloned()
        .expect("re-creation is offered for a broken virtualenv");
    assert!(offered.needs_confirmation && offered.detail.contains("renamed aside"));
    let outcome = broken
        .supervisor
        .repair(
            "agent",
            RepairKind::RecreateVenv,
            Some(&offered.fingerprint),
        )
        .await
        .unwrap();
    assert!(outcome.ok, "{outcome:?}");
    assert!(greenroom_stack::venv::state(&venv) == greenroom_stack::venv::VenvState::Healthy);
    let aside: Vec<PathBuf> = std::fs::read_dir(broken.root.join("agent"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".venv.broken-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{outcome:?}");
    assert_eq!(
        std::fs::read_to_string(aside[0].join("keep-me.txt")).unwrap(),
        "a note\n"
    );
    assert!(
        outcome.message.contains(".venv.broken-"),
        "{}",
        outcome.message
    );
    broken.supervisor.down().await;
}

#[test]
fn a_venv_outside_the_stack_is_a_manifest_error() {
    for venv in ["/", "../elsewhere", "/home/me/.venv"] {
        let text = format!("[services.agent]\ncommand = \"python\"\nvenv = {venv:?}\n");
        let m = manifest::parse(&text).unwrap();
        let problems = manifest::validate(&m);
        assert!(
            problems.iter().any(|p| p.field.as_deref() == Some("venv")),
            "{venv}: {problems:?}"
        );
    }
}

/// Issue 13.16: only JWTs were masked in service logs; a configured secret's value was
/// shown as the service printed it.
#[tokio::test]
async fn a_configured_secret_never_shows_in_a_services_log() {
    let port = free_port();
    let s = stack(&format!(
        r#"
[services.agent]
command = "FIXTURE"
args = ["--port", "{port}", "--say", "calling Mistral with sk-test-0123456789abcdef"]
env = {{ MISTRAL_API_KEY = "sk-test-0123456789abcdef" }}
[services.agent.probe]
type = "tcp"
port = {port}
"#
    ));
    let report = s.supervisor.up(&[], |_| {}).await.unwrap();
    assert!(report.ok, "{report:?}");
    let line = eventually(
        "the service's line in its log",
        Duration::from_secs(20),
        async || {
            s.supervisor
                .logs()
                .recent(Some("agent"), 50)
                .into_iter()
                .find(|l| l.text.contains("calling Mistral"))
        },
    )
    .await;
    assert_eq!(line.text, "calling Mistral with ••••••");
    assert!(
        s.supervisor
            .logs()
            .tail_file("agent", 50)
            .iter()
            .all(|l| !l.contains("sk-test-0123456789abcdef"))
    );
    let file = std::fs::read_to_string(s.supervisor.logs().path("agent")).unwrap();
    assert!(
        file.contains("sk-test"),
        "the service's own file is left as it wrote it"
    );
    s.supervisor.down().await;
}

/// Starts the fixture on `port` as a program Greenroom did not start (not even a
/// descendant of this test: `sh` leaves it to init); its PID.
#[cfg(unix)]
fn foreign_listener(port: u16) -> u32 {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --port {port} >/dev/null 2>&1 & echo $!",
            fixture().display()
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Issue 13.5: `confirmed: true` applied to whatever held the port when the repair ran.
#[cfg(unix)]
#[tokio::test]
async fn a_confirmed_repair_refuses_when_another_program_took_the_port_since() {
    use greenroom_stack::repair::RepairKind;
    let port = free_port();
    let s = stack(&format!(
        r#"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
ports = ["{port}"]
"#
    ));
    let first = foreign_listener(port);
    let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    eventually(
        "the first holder listens",
        Duration::from_secs(10),
        async || listening(port).then_some(()),
    )
    .await;
    let shown = eventually(
        "a free-port repair naming the first holder",
        Duration::from_secs(10),
        async || {
            s.supervisor
                .diagnoses()
                .await
                .into_iter()
                .flat_map(|d| d.actions)
                .find(|a| a.kind == RepairKind::FreePort && a.target_pid == Some(first))
        },
    )
    .await;
    // The person looks at it; meanwhile the first program ends and another takes the port.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the port is free", Duration::from_secs(10), async || {
        (!listening(port)).then_some(())
    })
    .await;
    let second = foreign_listener(port);
    eventually(
        "the second holder listens",
        Duration::from_secs(10),
        async || listening(port).then_some(()),
    )
    .await;
    let refused = s
        .supervisor
        .repair("api", RepairKind::FreePort, Some(&shown.fingerprint))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("changed") && refused.contains(&second.to_string()),
        "{refused}"
    );
    assert!(
        alive(second),
        "the program nobody approved stopping still runs"
    );
    // Confirmed for what it is now, it goes ahead.
    let now = s
        .supervisor
        .diagnoses()
        .await
        .into_iter()
        .flat_map(|d| d.actions)
        .find(|a| a.kind == RepairKind::FreePort)
        .unwrap();
    let outcome = s
        .supervisor
        .repair("api", RepairKind::FreePort, Some(&now.fingerprint))
        .await
        .unwrap();
    assert!(outcome.ok, "{outcome:?}");
    assert!(!alive(second));
    s.supervisor.down().await;
}

/// Issue 13.15: when a service's main process ended on its stop signal, the rest of its
/// group was killed at once, though still inside its grace period; and a child that left
/// the group with `setsid` was never stopped.
#[cfg(unix)]
#[tokio::test]
async fn a_stop_gives_the_whole_tree_its_grace_and_reaches_what_left_the_group() {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("child-finished");
    let escapee_pid_file = scratch.path().join("escapee.pid");
    let s = stack(&format!(
        r#"
[services.tree]
command = "sh"
# `$$$$`: the manifest's interpolation makes it the shell's `$$`.
args = ["-c", "( trap 'sleep 0.5; echo done > {marker}; exit 0' TERM; while :; do sleep 0.05; done ) & setsid sh -c 'echo $$$$ > {pidfile}; while :; do sleep 0.05; done' & sleep 1000"]
[services.tree.stop]
grace_ms = 5000
"#,
        marker = marker.display(),
        pidfile = escapee_pid_file.display(),
    ));
    let report = s.supervisor.up(&[], |_| {}).await.unwrap();
    assert!(report.ok, "{report:?}");
    let escapee: u32 = eventually(
        "the escapee writes its PID",
        Duration::from_secs(10),
        async || {
            std::fs::read_to_string(&escapee_pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
        },
    )
    .await;
    assert!(alive(escapee));
    s.supervisor.down().await;
    assert_eq!(
        std::fs::read_to_string(&marker)
            .ok()
            .as_deref()
            .map(str::trim),
        Some("done"),
        "the child finished its own graceful stop (0.5 s, within the 5 s grace)"
    );
    eventually(
        "the setsid escapee is stopped too",
        Duration::from_secs(10),
        async || (!alive(escapee)).then_some(()),
    )
    .await;
}
