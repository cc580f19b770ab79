//! Test support shared by Greenroom's real-process tests and benchmarks: the fixture
//! service binary (built on first use), free ports, tools that setup installs, a real
//! livekit-server, waiting for a condition, the percentile benchmarks print, and a fake
//! microphone and speaker on a private PulseAudio daemon ([`fake_mic`]).

pub mod fake_mic;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace exists")
}

/// The official LiveKit Python SDK's interpreter (`.venv-interop`, made by
/// `scripts/setup --test`): the other peer of the interop tests. Panics saying how to get it.
pub fn interop_python() -> PathBuf {
    let venv = workspace().join(".venv-interop");
    let python = if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    };
    assert!(
        python.exists(),
        "{} is missing: run `scripts/setup --test` (it installs the LiveKit Python SDK there)",
        python.display()
    );
    python
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

fn build(release: bool) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args([
        "build",
        "-q",
        "-p",
        "greenroom-test-support",
        "--bin",
        "fixture-service",
    ]);
    if release {
        command.arg("--release");
    }
    let ok = command
        .current_dir(workspace())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot build the fixture service");
    target_dir()
        .join(if release { "release" } else { "debug" })
        .join(format!("fixture-service{}", std::env::consts::EXE_SUFFIX))
}

/// The fixture service (debug build), built once per test process.
pub fn binary() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build(false))
}

/// The fixture service, optimised: for benchmarks.
pub fn release_binary() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build(true))
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where setup installs tools: `GREENROOM_TOOLS_DIR`, then the checkout's `tools/bin`.
pub fn tool_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("GREENROOM_TOOLS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(workspace().join("tools").join("bin"));
    dirs
}

/// A program the test needs (`livekit-server`, `redis-server`…), from the tool dirs or PATH.
pub fn find_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = tool_dirs()
        .into_iter()
        .chain(std::env::split_paths(&path))
        .collect();
    dirs.iter()
        .map(|d| d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is needed for this test: scripts/setup installs it"))
}

/// A real `livekit-server --dev` (keys `devkey` / `secret`) on free loopback ports, for
/// tests and benchmarks; killed when dropped. [`LiveKitServer::start`] returns once the
/// server accepts connections (within 20 s, or it panics saying so).
pub struct LiveKitServer {
    child: std::process::Child,
    pub port: u16,
    rtc_ports: (u16, u16),
}

impl LiveKitServer {
    pub fn start() -> Self {
        let (port, tcp, udp) = (free_port(), free_port(), free_port());
        let child = Self::spawn(port, tcp, udp);
        let mut server = Self {
            child,
            port,
            rtc_ports: (tcp, udp),
        };
        server.wait_until_listening();
        server
    }

    fn spawn(port: u16, tcp: u16, udp: u16) -> std::process::Child {
        std::process::Command::new(find_tool("livekit-server"))
            .args([
                "--dev",
                "--bind",
                "127.0.0.1",
                "--config-body",
                &format!("port: {port}\nrtc:\n  tcp_port: {tcp}\n  udp_port: {udp}\n"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("livekit-server starts (scripts/setup installs it)")
    }

    fn wait_until_listening(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "livekit-server exited ({status}) before listening on {}",
                    self.port
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "livekit-server did not listen on {} within 20 s",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `ws://127.0.0.1:PORT`, as `LIVEKIT_URL` would say it.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Kills the server now (a crash, for fault tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the server and starts a fresh one on the same ports (it remembers no room).
    pub fn restart(&mut self) {
        self.kill();
        let (tcp, udp) = self.rtc_ports;
        self.child = Self::spawn(self.port, tcp, udp);
        self.wait_until_listening();
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// [`greenroom_core::percentile`] (nearest rank, the one definition) of samples a
/// benchmark has: panics on none, since a bench without samples measured nothing.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    greenroom_core::percentile(sorted, q).expect("a benchmark with at least one sample")
}

/// How often [`wait_until`] and [`eventually`] look again.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Polls `check` every [`POLL_EVERY`] until it returns something, and returns that; panics
/// naming `what` when `within` has passed. The one blocking wait-for-condition of the tests:
/// never sleep for a fixed time and hope.
pub fn wait_until<T>(
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}

/// [`wait_until`] for async checks, sleeping on tokio's timer between looks.
pub async fn eventually<T>(
    what: &str,
    within: std::time::Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// English speech synthesised by espeak-ng, written to `out` by sox as a 16 kHz mono 16-bit
/// WAV (two processes piped together, no shell). Panics naming `scripts/setup` when either
/// program is missing.
pub fn english_wav(text: &str, out: &Path) {
    use std::process::{Command, Stdio};
    let mut espeak = Command::new("espeak-ng")
        .args(["-v", "en", "--stdout", text])
        .stdout(Stdio::piped())
        .spawn()
        .expect("espeak-ng runs (scripts/setup installs it)");
    let status = Command::new("sox")
        .args(["-t", "wav", "-", "-r", "16000", "-c", "1", "-b", "16"])
        .arg(out)
        .stdin(Stdio::from(
            espeak.stdout.take().expect("espeak-ng's stdout"),
        ))
        .status()
        .expect("sox runs (scripts/setup installs it)");
    assert!(status.success(), "sox failed: {status}");
    assert!(
        espeak.wait().expect("espeak-ng ends").success(),
        "espeak-ng failed"
    );
}

/// `POST /api/call` on a `greenroom serve` at 127.0.0.1:`port`, as a plain HTTP/1.0
/// client, with the token the server wrote to `<home>/serve-<port>.json` (as a script of
/// the user's would): the command's JSON answer (it panics, with the answer, on any other
/// status).
pub fn call_serve(
    home: &std::path::Path,
    port: u16,
    command: &str,
    args: serde_json::Value,
) -> serde_json::Value {
    use std::io::{Read, Write};
    let record = std::fs::read_to_string(home.join(format!("serve-{port}.json")))
        .expect("greenroom serve wrote its token file");
    let record: serde_json::Value = serde_json::from_str(&record).expect("the token file is JSON");
    let token = record["token"].as_str().expect("a token");
    let body = serde_json::json!({"command": command, "args": args}).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("serve listens");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("a timeout");
    write!(
        stream,
        "POST /api/call HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is written");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let (head, json) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.contains(" 200 "), "{answer}");
    serde_json::from_str(json).expect("JSON")
}
