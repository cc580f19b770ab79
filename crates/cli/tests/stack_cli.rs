//! The stack commands of the real `greenroom` binary, with real child processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_test_support::{binary as fixture, call_serve, free_port, workspace};

struct Project {
    _dir: tempfile::TempDir,
    home: PathBuf,
    manifest: PathBuf,
}

fn project(manifest: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let path = dir.path().join("greenroom.toml");
    std::fs::write(
        &path,
        manifest.replace("FIXTURE", &fixture().display().to_string()),
    )
    .unwrap();
    Project {
        _dir: dir,
        home,
        manifest: path,
    }
}

fn greenroom(p: &Project) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env("GREENROOM_HOME", &p.home)
        .arg("--stack")
        .arg(&p.manifest);
    c
}

/// A running `greenroom up`, with its output collected as it comes.
struct Up {
    child: Child,
    output: Arc<Mutex<String>>,
}

fn up(p: &Project) -> Up {
    let mut child = greenroom(p)
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let output = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut o = output.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    Up { child, output }
}

impl Up {
    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output.lock().unwrap().clone();
            if out.contains(text) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?} in:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn status(p: &Project) -> serde_json::Value {
    let out = greenroom(p).args(["status", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn service<'a>(status: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    status["status"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn alive(pid: u32) -> bool {
    greenroom_stack::process::start_time(pid).is_some()
}

fn wait(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn greenroom_killed_mid_run_is_re_attached_and_down_leaves_nothing() {
    let port = free_port();
    let p = project(&format!(
        r#"
name = "reattach-cli"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}", "--spawn-grandchild"]
[services.api.probe]
type = "http"
url = "http://127.0.0.1:{port}/health"
"#
    ));
    let mut first = up(&p);
    let out = first.wait_for("supervising", Duration::from_secs(20));
    assert!(out.contains("✔ api") && out.contains("ready in"), "{out}");
    let before = status(&p);
    let pid = service(&before, "api")["pid"].as_u64().unwrap() as u32;

    // kill -9 Greenroom itself: the service survives it.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(alive(pid));
    let after = status(&p);
    assert_eq!(service(&after, "api")["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(service(&after, "api")["attached"], true);

    // The next `up` re-attaches: no duplicate (its port would clash), same PID.
    let second = up(&p);
    let out = second.wait_for("supervising", Duration::from_secs(20));
    assert!(out.contains("already running"), "{out}");
    assert_eq!(
        service(&status(&p), "api")["pid"].as_u64(),
        Some(u64::from(pid))
    );

    // `down` from another command goes through the supervising `up`, which then exits.
    let log = std::fs::read_to_string(find_log(&p.home, "api")).unwrap();
    let grandchild: u32 = log
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("grandchild "))
        .unwrap()
        .parse()
        .unwrap();
    let down = greenroom(&p).arg("down").output().unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(String::from_utf8_lossy(&down.stdout).contains("supervised by another Greenroom"));
    let mut second = second;
    wait(
        "the supervising up to exit",
        Duration::from_secs(10),
        || second.child.try_wait().unwrap().is_some(),
    );
    wait(
        "the service and its grandchild to be gone",
        Duration::from_secs(10),
        || !alive(pid) && !alive(grandchild),
    );
}

fn find_log(home: &Path, service: &str) -> PathBuf {
    let stacks = home.join("stacks");
    for entry in std::fs::read_dir(&stacks).unwrap() {
        let path = entry
            .unwrap()
            .path()
            .join("logs")
            .join(format!("{service}.log"));
        if path.exists() {
            return path;
        }
    }
    panic!("no log for {service} under {}", stacks.display());
}

#[test]
fn up_fails_clearly_when_a_service_never_becomes_ready() {
    let port = free_port();
    let p = project(&format!(
        r#"
[services.never]
command = "FIXTURE"
args = ["--say", "waiting for a database that is not there"]
[services.never.probe]
type = "tcp"
port = {port}
start_timeout_ms = 500
"#
    ));
    let started = Instant::now();
    let out = greenroom(&p).arg("up").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(15));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("✘ never") && text.contains("not ready after 0.5 s"),
        "{text}"
    );
    assert!(
        text.contains("last lines of never:") && text.contains("waiting for a database"),
        "{text}"
    );
}

#[test]
fn import_compose_writes_a_manifest_and_reports_broken_files_with_lines() {
    let fixtures = workspace().join("tests/fixtures/compose");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("greenroom.toml");
    let ok = Command::new(env!("CARGO_BIN_EXE_greenroom"))
        .args(["import", "compose"])
        .arg(fixtures.join("eloquence/docker-compose.yml"))
        .arg(fixtures.join("eloquence/docker-compose.override.yml"))
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.contains("[services.livekit]") && text.contains("provenance"),
        "{text}"
    );
    let broken = Command::new(env!("CARGO_BIN_EXE_greenroom"))
        .args(["import", "compose"])
        .arg(fixtures.join("broken/unknown-dependency.yml"))
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(
        err.contains("unknown-dependency.yml:4") && err.contains("ghost"),
        "{err}"
    );
}

#[test]
fn a_malformed_manifest_is_an_error_with_its_line() {
    let p = project("[services.a]\ncommand = \"x\"\nportz = [\"1\"]\n");
    let out = greenroom(&p).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("greenroom.toml:3") && err.contains("portz"),
        "{err}"
    );
}

#[test]
fn up_refuses_to_start_when_a_port_is_held_by_another_program_and_names_it() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let p = project(&format!(
        r#"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
ports = ["{port}"]
"#
    ));
    let out = greenroom(&p).arg("up").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let me = std::process::id();
    assert!(
        text.contains(&format!("port {port} is taken")) && text.contains(&format!("(PID {me})")),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was started"));
    let json = greenroom(&p)
        .args(["preflight", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["findings"][0]["holder_pid"], u64::from(me));
    drop(holder);
}

#[test]
fn fix_asks_before_stopping_a_program_greenroom_did_not_start() {
    let port = free_port();
    // A program the stack did not start holds the service's port.
    let mut foreign = Command::new(fixture())
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait(
        "the foreign program to listen",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    let p = project(&format!(
        r#"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
ports = ["{port}"]
[services.api.probe]
type = "tcp"
port = {port}
"#
    ));
    let asked = greenroom(&p)
        .arg("fix")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&asked.stdout);
    assert_eq!(asked.status.code(), Some(1), "{text}");
    assert!(
        text.contains("skipped (needs confirmation)")
            && text.contains(&format!("PID {}", foreign.id())),
        "{text}"
    );
    assert!(
        foreign.try_wait().unwrap().is_none(),
        "nothing may stop it without confirmation"
    );

    let fixed = greenroom(&p).args(["fix", "--yes"]).output().unwrap();
    let text = String::from_utf8_lossy(&fixed.stdout);
    assert!(
        fixed.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(
        text.contains(&format!("stopped PID {}", foreign.id())),
        "{text}"
    );
    wait(
        "the foreign program to be gone",
        Duration::from_secs(10),
        || foreign.try_wait().unwrap().is_some(),
    );
    assert_eq!(service(&status(&p), "api")["state"], "running");
    let log = std::fs::read_to_string(
        find_log(&p.home, "api")
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("repairs.log"),
    )
    .unwrap();
    assert!(
        log.contains("\"action\":\"free_port\"") && log.contains("\"ok\":true"),
        "{log}"
    );
    assert!(greenroom(&p).arg("down").output().unwrap().status.success());
}

#[test]
fn report_writes_the_documented_schema_from_the_supervising_greenroom() {
    let port = free_port();
    let p = project(&format!(
        r#"
name = "reported"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
critical = true
[services.api.probe]
type = "http"
url = "http://127.0.0.1:{port}/health"
interval_ms = 100
"#
    ));
    let mut running = up(&p);
    running.wait_for("supervising", Duration::from_secs(20));
    wait("a few liveness probes", Duration::from_secs(10), || {
        service(&status(&p), "api")["latencies_ms"]
            .as_array()
            .is_some_and(|l| l.len() >= 3)
    });
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("report.json");
    let r = greenroom(&p)
        .args(["report", "--output"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["metadata"]["stack"], "reported");
    assert!(
        report["metadata"]["generated_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(report["current_status"]["global_health_score"], 100.0);
    assert_eq!(
        report["current_status"]["services"]["api"]["status"],
        "healthy"
    );
    let times = &report["performance_analysis"]["avg_response_times"]["api"];
    assert!(
        times["min"].as_f64().unwrap() <= times["avg"].as_f64().unwrap()
            && times["avg"].as_f64().unwrap() <= times["max"].as_f64().unwrap()
    );
    assert_eq!(
        report["performance_analysis"]["reliability_scores"]["api"],
        100.0
    );
    assert!(report["services"]["api"]["probes"].as_u64().unwrap() >= 3);
    assert_eq!(
        report["recommendations"][0],
        "the stack is healthy: nothing to do"
    );
    assert!(greenroom(&p).arg("down").output().unwrap().status.success());
    wait("up to exit", Duration::from_secs(10), || {
        running.child.try_wait().unwrap().is_some()
    });
}

#[test]
fn an_expired_livekit_token_in_an_env_file_is_found_and_regenerated_after_confirmation() {
    use greenroom_livekit::token::{TokenRequest, VideoGrants, mint, verify};
    let port = free_port();
    let p = project(&format!(
        r#"
name = "tokens"
[services.agent]
command = "FIXTURE"
args = ["--port", "{port}"]
env_files = [".env"]
[services.agent.probe]
type = "tcp"
port = {port}
"#
    ));
    let env_file = p.manifest.parent().unwrap().join(".env");
    let expired = mint(&TokenRequest {
        api_key: "devkey",
        api_secret: "s3cret-for-test",
        identity: "marie-agent",
        name: Some("Marie"),
        metadata: None,
        grants: VideoGrants::participant("marie"),
        ttl_seconds: 0,
        room_config: None,
    })
    .unwrap();
    std::fs::write(
        &env_file,
        format!(
            "LIVEKIT_API_KEY=devkey\nLIVEKIT_API_SECRET=s3cret-for-test\nLIVEKIT_TOKEN={expired}\n"
        ),
    )
    .unwrap();
    let mut running = up(&p);
    running.wait_for("supervising", Duration::from_secs(20));

    let pre = greenroom(&p).arg("preflight").output().unwrap();
    let text = String::from_utf8_lossy(&pre.stdout);
    assert!(
        pre.status.success() || !text.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&pre.stderr)
    );
    assert!(
        text.contains("LIVEKIT_TOKEN has expired") && text.contains(".env:3"),
        "{text}"
    );
    assert!(!text.contains("s3cret-for-test"), "a secret leaked: {text}");

    // Without confirmation nothing is written.
    let asked = greenroom(&p)
        .arg("fix")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&asked.stdout)
            .contains("skipped (needs confirmation): Regenerate LIVEKIT_TOKEN")
    );
    assert!(
        std::fs::read_to_string(&env_file)
            .unwrap()
            .contains(&expired)
    );

    let fixed = greenroom(&p).args(["fix", "--yes"]).output().unwrap();
    let out = String::from_utf8_lossy(&fixed.stdout);
    assert!(fixed.status.success(), "{out}");
    assert!(
        out.contains("LIVEKIT_TOKEN in")
            && out.contains("regenerated")
            && !out.contains("s3cret-for-test"),
        "{out}"
    );
    let text = std::fs::read_to_string(&env_file).unwrap();
    let fresh = text
        .lines()
        .find_map(|l| l.strip_prefix("LIVEKIT_TOKEN="))
        .unwrap();
    let claims = verify(fresh, "s3cret-for-test").unwrap();
    assert_eq!(claims.sub, "marie-agent");
    assert!(claims.exp > claims.nbf + 3000);
    let backups = std::fs::read_dir(env_file.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".env.bak-")
        })
        .count();
    assert_eq!(backups, 1);
    assert!(greenroom(&p).arg("down").output().unwrap().status.success());
    wait("up to exit", Duration::from_secs(10), || {
        running.child.try_wait().unwrap().is_some()
    });
}

#[test]
fn up_detached_is_driven_from_other_processes_and_serve_attaches_to_it() {
    let port = free_port();
    let p = project(&format!(
        r#"
name = "detached-cli"
[services.api]
command = "FIXTURE"
args = ["--port", "{port}"]
[services.api.probe]
type = "http"
url = "http://127.0.0.1:{port}/health"
"#
    ));
    // A failing assertion must not leave the background supervisor running.
    struct DownOnDrop<'a>(&'a Project);
    impl Drop for DownOnDrop<'_> {
        fn drop(&mut self) {
            let _ = greenroom(self.0).arg("down").output();
        }
    }
    let _down = DownOnDrop(&p);
    // Returns once ready, the stack supervised in the background.
    let out = greenroom(&p)
        .args(["up", "--detach", "--wait", "--wait-timeout", "60"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("ready: every service is up"), "{said}");
    let pid = service(&status(&p), "api")["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid));

    // A `serve` (as the desktop app would) attaches: it relays to the background
    // supervisor instead of supervising the service a second time.
    let ui_port = free_port();
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _serve = KillOnDrop(
        greenroom(&p)
            .args(["serve", "--port", &ui_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait(
        "serve listens and writes its token",
        Duration::from_secs(20),
        || p.home.join(format!("serve-{ui_port}.json")).exists(),
    );
    let view = call_serve(&p.home, ui_port, "stack_status", serde_json::json!({}));
    assert!(view["attached_to"].is_string(), "{view}");
    assert_eq!(service(&view, "api")["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(service(&view, "api")["state"], "running");

    // Down through the attached serve: the background supervisor stops it, then exits.
    let stopped = call_serve(&p.home, ui_port, "stack_down", serde_json::json!({}));
    assert_eq!(stopped, serde_json::json!(["api"]));
    wait(
        "the service's process ends",
        Duration::from_secs(20),
        || !alive(pid),
    );
    wait(
        "the background supervisor ends",
        Duration::from_secs(20),
        || {
            let out = greenroom(&p).arg("status").output().unwrap();
            !String::from_utf8_lossy(&out.stdout).contains("supervised by")
        },
    );
}
