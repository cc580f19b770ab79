//! Compose services against a real Docker engine, through the real `greenroom` binary.
//!
//! The test starts its own `dockerd` (its own socket, data and exec folders; stopped by
//! its PID at the end), imports `local/busybox:1` from Debian's busybox-static (nothing is
//! pulled: no registry is reachable), and runs `tests/fixtures/compose/engine` on it:
//! an HTTP service with a healthcheck and a volume, a client that waits for it to be
//! healthy, a service that turns unhealthy, one built from a Dockerfile, one whose image
//! exists nowhere, and a greenroom.toml that mixes a process service with a compose one.
//! Containers are reached only on ports published on 127.0.0.1.
//!
//! What it needs: root, `dockerd` (Debian's docker.io), the `docker` CLI with the compose
//! plugin, and `/bin/busybox` (busybox-static); `scripts/setup --test` installs them. When
//! one is missing the test says so and passes, unless `CI` is set, where it fails.
//!
//! One test function, in phases, because the phases share one engine and the last phase
//! stops it. Every wait polls a condition with a bound; none sleeps for a result.
//!
//! Linux only: it runs dockerd itself. What Docker Desktop on Windows does differently is
//! in `crate::docker`'s and `crate::container`'s docs (greenroom-stack).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use greenroom_test_support::{binary as fixture, call_serve, free_port, workspace};

/// A private Docker engine.
struct Engine {
    dir: PathBuf,
    socket: String,
    child: Option<std::process::Child>,
}

impl Engine {
    fn start(dir: &Path) -> Engine {
        std::fs::create_dir_all(dir).unwrap();
        let mut engine = Engine {
            dir: dir.to_path_buf(),
            socket: format!("unix://{}/docker.sock", dir.display()),
            child: None,
        };
        engine.resume();
        engine
    }

    /// Starts dockerd (again) on the same folders, and waits until it answers.
    fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(self.dir.join("exec"))
            .arg("--pidfile")
            .arg(self.dir.join("dockerd.pid"))
            .arg("--host")
            .arg(&self.socket)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        self.child = Some(child);
        poll("the engine answers", Duration::from_secs(60), || {
            self.docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
        });
    }

    /// Stops dockerd (SIGTERM, as `systemctl stop docker` does) and waits for its end.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", &self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn docker_text(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Containers and networks of the test go with the engine's folders.
            let ids = String::from_utf8_lossy(&self.docker(&["ps", "-aq"]).stdout).into_owned();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.docker(&args);
            }
            let _ = self.docker(&["network", "prune", "-f"]);
        }
        self.stop();
    }
}

fn poll(what: &str, within: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok() {
        assert!(
            started.elapsed() < within,
            "{what}: not within {} s",
            within.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    started.elapsed()
}

/// What this machine lacks to run the test, if anything.
fn missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Some("root (dockerd runs as root)".into());
    }
    for (program, args) in [
        ("dockerd", &["--version"][..]),
        ("docker", &["compose", "version"][..]),
        ("/bin/busybox", &["true"][..]),
    ] {
        let ok = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("`{program} {}`", args.join(" ")));
        }
    }
    None
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// `local/busybox:1`: Debian's static busybox with every applet linked in /bin.
fn import_busybox(engine: &Engine, scratch: &Path) {
    let root = scratch.join("busybox-root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import -c 'ENV PATH=/bin' - local/busybox:1 >/dev/null",
            root.display()
        ))
        .env("DOCKER_HOST", &engine.socket)
        .status()
        .unwrap();
    assert!(status.success(), "docker import of busybox");
}

struct Greenroom {
    home: PathBuf,
    /// The engine's DOCKER_HOST.
    socket: String,
}

impl Greenroom {
    fn command(&self, stack: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
        c.env("GREENROOM_HOME", &self.home)
            .env("DOCKER_HOST", &self.socket)
            .env_remove("COMPOSE_PROFILES")
            .current_dir(stack.parent().unwrap())
            .arg("--stack")
            .arg(stack)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, stack: &Path, args: &[&str]) -> Output {
        self.command(stack, args).output().unwrap()
    }

    fn status(&self, stack: &Path) -> serde_json::Value {
        let out = self.run(stack, &["status", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn service(&self, stack: &Path, id: &str) -> serde_json::Value {
        self.status(stack)["status"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no service {id}"))
    }

    fn logs(&self, stack: &Path, id: &str) -> String {
        let out = self.run(stack, &["logs", id, "--lines", "500"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn compose_services_on_a_real_engine() {
    if let Some(what) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this machine lacks {what}: `scripts/setup --test` installs it"
        );
        eprintln!("skipped: this machine lacks {what} (`scripts/setup --test` installs it)");
        return;
    }
    // Short paths: dockerd's sockets live under its exec root.
    let scratch = tempfile::Builder::new()
        .prefix("gr-engine")
        .tempdir_in("/tmp")
        .unwrap();
    let mut engine = Engine::start(&scratch.path().join("d"));
    import_busybox(&engine, scratch.path());

    let project = scratch.path().join("project");
    copy_dir(&workspace().join("tests/fixtures/compose/engine"), &project);
    let web_port = free_port();
    std::fs::write(project.join(".env"), format!("WEB_PORT={web_port}\n")).unwrap();
    let stack = project.join("compose.yml");
    let gr = Greenroom {
        home: scratch.path().join("home"),
        socket: engine.socket.clone(),
    };

    // A failing assertion must not leave a background supervisor waiting for an engine
    // that is gone: `down` both stacks first (dropped before the engine).
    struct DownOnDrop<'a>(&'a Greenroom, Vec<PathBuf>);
    impl Drop for DownOnDrop<'_> {
        fn drop(&mut self) {
            for stack in &self.1 {
                let _ = self.0.run(stack, &["down"]);
            }
        }
    }
    let _down = DownOnDrop(&gr, vec![stack.clone(), project.join("greenroom.toml")]);

    // 1. Up, detached, waiting until ready: the build runs, the client waits for web.
    let started = Instant::now();
    let out = gr.run(
        &stack,
        &["up", "--detach", "--wait", "--wait-timeout", "180"],
    );
    assert!(out.status.success(), "{}", text(&out));
    eprintln!(
        "figure: `up --detach --wait` of 4 compose services (one built): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ready: every service is up"));
    let web = gr.service(&stack, "web");
    assert_eq!(web["state"], "running", "{web}");
    let container = &web["container"];
    assert_eq!(container["id"].as_str().unwrap().len(), 12, "{web}");
    assert!(container["pid"].as_u64().is_some(), "{web}");
    // Docker's own healthcheck runs every second, apart from Greenroom's probe of the
    // published port: it catches up.
    poll("docker's health of web", Duration::from_secs(30), || {
        gr.service(&stack, "web")["container"]["health"] == "healthy"
    });
    eprintln!(
        "figure: web ready {} ms after its container started",
        web["ready_after_ms"]
    );
    // Its page, on the published port.
    let page = http_get(web_port, "/");
    assert!(
        page.starts_with("HTTP/1.") && page.trim_end().ends_with("ok"),
        "{page}"
    );
    // CPU and memory arrive within a few seconds (docker stats).
    poll("web's CPU and memory", Duration::from_secs(30), || {
        let web = gr.service(&stack, "web");
        web["memory_bytes"].as_u64().is_some_and(|m| m > 0) && web["cpu_percent"].is_number()
    });
    let table = text(&gr.run(&stack, &["status"]));
    assert!(
        table.contains("container ") && table.contains("local/busybox:1"),
        "{table}"
    );

    // 2. Logs: the container's own lines, compose's build, and the client's requests.
    poll("web's log", Duration::from_secs(20), || {
        gr.logs(&stack, "web").contains("web: serving on :80")
    });
    let greeter = gr.logs(&stack, "greeter");
    assert!(greeter.contains("greeter: built by compose"), "{greeter}");
    assert!(
        greeter.contains("[compose]"),
        "the build's progress is in the log: {greeter}"
    );
    poll("the client's log", Duration::from_secs(20), || {
        gr.logs(&stack, "client").contains("client: web says ok")
    });

    // The UI's view of the same: a `serve` attached to the background supervisor reads
    // the container and its log through the API the UI calls.
    let ui_port = free_port();
    let mut serve = gr
        .command(&stack, &["serve", "--port", &ui_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    poll(
        "serve listens and writes its token",
        Duration::from_secs(20),
        || gr.home.join(format!("serve-{ui_port}.json")).exists(),
    );
    let view = call_serve(&gr.home, ui_port, "stack_status", serde_json::json!({}));
    assert!(view["attached_to"].is_string(), "{view}");
    let lines = call_serve(
        &gr.home,
        ui_port,
        "stack_logs",
        serde_json::json!({"service": "web", "limit": 200}),
    );
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "web: serving on :80 (start 1)" && l["at_ms"].as_u64() > Some(0)),
        "{lines}"
    );
    let _ = serve.kill();
    let _ = serve.wait();
    // And the report.
    let report_path = scratch.path().join("report.json");
    let out = gr.run(
        &stack,
        &[
            "report",
            "--output",
            report_path.to_str().unwrap(),
            "--duration",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(
        report["services"]["web"]["container"]["id"]
            .as_str()
            .map(str::len),
        Some(12),
        "{report}"
    );

    // 3. A crash: docker restarts it (policy unless-stopped), exactly once; Greenroom counts it.
    let pid = container["pid"].as_u64().unwrap().to_string();
    let killed_at = chrono_like_now();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let back = poll(
        "web restarted by docker and ready",
        Duration::from_secs(60),
        || {
            let web = gr.service(&stack, "web");
            web["state"] == "running" && web["restarts"] == 1
        },
    );
    eprintln!(
        "figure: from kill -9 to ready again: {:.2} s (Greenroom polls every 1 s)",
        back.as_secs_f64()
    );
    // Let any second restart show itself before counting.
    std::thread::sleep(Duration::from_secs(3));
    let events = engine.docker_text(&[
        "events",
        "--since",
        &killed_at,
        "--until",
        &chrono_like_now(),
        "--filter",
        "container=gr-engine-web-1",
        "--format",
        "{{.Action}}",
    ]);
    let count = |action: &str| events.lines().filter(|l| l.trim() == action).count();
    assert_eq!((count("die"), count("start")), (1, 1), "events:\n{events}");
    let web = gr.service(&stack, "web");
    assert_eq!(web["restarts"], 1, "{web}");
    assert_eq!(web["container"]["engine_restarts"], 1, "{web}");
    assert!(
        gr.logs(&stack, "web").contains("docker restarted it after"),
        "the restart is said in the log"
    );
    // One log across the container's runs: the second run's line arrives when the
    // follower reattaches to the restarted container, which may be after it is ready.
    poll(
        "the second run's line in the same log",
        Duration::from_secs(20),
        || {
            gr.logs(&stack, "web")
                .matches("web: serving on :80")
                .count()
                >= 2
        },
    );

    // 4. Unhealthy: docker does not restart it; Greenroom does (policy unless-stopped).
    poll(
        "sick restarted by Greenroom",
        Duration::from_secs(90),
        || gr.service(&stack, "sick")["restarts"].as_u64().unwrap_or(0) >= 1,
    );
    poll(
        "sick's second run in its log",
        Duration::from_secs(60),
        || {
            gr.logs(&stack, "sick")
                .matches("sick: healthy for 4 s")
                .count()
                >= 2
        },
    );

    // 5. The engine stops mid-run: said plainly, nothing fails; back, everything runs.
    engine.stop();
    poll("the engine's absence said", Duration::from_secs(30), || {
        let web = gr.service(&stack, "web");
        web["message"]
            .as_str()
            .is_some_and(|m| m.contains("the Docker engine is not running"))
            && web["state"] != "failed"
    });
    engine.resume();
    let recovered = poll(
        "every service back after the engine",
        Duration::from_secs(120),
        || {
            let status = gr.status(&stack);
            status["status"]["services"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["id"] != "ghost")
                .all(|s| s["state"] == "running")
        },
    );
    eprintln!(
        "figure: engine back → every service running: {:.1} s",
        recovered.as_secs_f64()
    );

    // 6. Down from another process: containers stopped within their grace, then removed;
    //    the volume stays.
    let out = gr.run(&stack, &["down"]);
    assert!(out.status.success(), "{}", text(&out));
    let left = engine.docker_text(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        "label=com.docker.compose.project=gr-engine",
    ]);
    assert_eq!(left.trim(), "", "no container is left");
    let volumes = engine.docker_text(&["volume", "ls", "-q"]);
    assert!(
        volumes.contains("gr-engine_data"),
        "the volume is kept: {volumes}"
    );
    assert!(
        gr.logs(&stack, "web").contains("web: stopping on SIGTERM"),
        "web stopped on its signal, within its grace period"
    );
    poll(
        "the background supervisor ends",
        Duration::from_secs(30),
        || {
            !gr.run(&stack, &["status"])
                .stdout
                .windows(13)
                .any(|w| w == b"supervised by")
        },
    );

    // 7. An image that exists nowhere: named, with what to do.
    let out = gr
        .command(
            &stack,
            &[
                "up",
                "--detach",
                "--wait",
                "--wait-timeout",
                "60",
                "--only",
                "ghost",
            ],
        )
        .env("COMPOSE_PROFILES", "broken")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    // Without a registry, docker cannot tell "no such image" from "no registry": either
    // way the image is named, with what to do.
    assert!(
        said.contains("`local/ghost:1`")
            && (said.contains("docker login") || said.contains("docker load")),
        "{said}"
    );
    let mut down = gr.command(&stack, &["down"]);
    down.env("COMPOSE_PROFILES", "broken");
    let out = down.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // 8. A mixed stack: a process service that depends on a compose service being healthy.
    let app_port = free_port();
    let mixed = project.join("greenroom.toml");
    std::fs::write(
        &mixed,
        format!(
            r#"name = "gr-mixed"

[services.web]
kind = "compose"
compose_files = ["compose.yml"]
compose_project = "gr-engine"
[services.web.probe]
type = "http"
url = "http://127.0.0.1:{web_port}/"

[services.app]
command = "{fixture}"
args = ["--port", "{app_port}"]
ports = ["{app_port}"]
depends_on = {{ web = "healthy" }}
[services.app.probe]
type = "http"
url = "http://127.0.0.1:{app_port}/health"
"#,
            fixture = fixture().display()
        ),
    )
    .unwrap();
    let out = gr.run(
        &mixed,
        &["up", "--detach", "--wait", "--wait-timeout", "120"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let status = gr.status(&mixed);
    let services = status["status"]["services"].as_array().unwrap();
    let app = services.iter().find(|s| s["id"] == "app").unwrap();
    let web = services.iter().find(|s| s["id"] == "web").unwrap();
    assert_eq!(
        (app["state"].as_str(), web["state"].as_str()),
        (Some("running"), Some("running"))
    );
    assert!(
        app["started_at_ms"].as_u64() >= web["started_at_ms"].as_u64(),
        "app starts after web: {status}"
    );
    assert!(app["pid"].as_u64().is_some() && web["container"]["id"].is_string());
    assert!(gr.run(&mixed, &["down"]).status.success());
    let left = engine.docker_text(&["ps", "-q"]);
    assert_eq!(left.trim(), "", "no container is left running");
}

/// A plain HTTP GET on 127.0.0.1: the whole answer, headers included.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Now, as docker's `--since` reads it (seconds since the epoch, with a fraction).
fn chrono_like_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}
