//! A fake microphone and speaker for tests: a private PulseAudio daemon whose default source
//! is a microphone the test speaks into and whose default sink is a speaker the test hears.
//!
//! Why: the test machines have no sound card (no `/dev/snd`), and ALSA's `null` and `file`
//! plugins do not run in real time. A PulseAudio daemon with null sinks does, and cpal and
//! rodio reach it like a desktop's sound server (shared FACTS, "Audio").
//!
//! Semantics:
//! - [`FakeAudio::start`] makes a runtime directory of its own (mode 0700), starts
//!   `pulseaudio -n` on a script that loads: the native protocol (anonymous auth) at
//!   `DIR/pulse/native`; the null sink `speaker` ("Fake-speaker", the default sink, s16le
//!   2 ch 44.1 kHz); the null sink `fakemic_in` (16 kHz mono), where speech is played; and
//!   `fakemic` ("Fake-microphone"), a remap of `fakemic_in.monitor` (the default source: the
//!   microphone). It polls
//!   `pactl info` every 20 ms (20 s at most) until the daemon answers, then starts the
//!   keep-alive `pacat`s of zeros at 20 ms latency into `fakemic_in` and `speaker` and waits
//!   until they are connected: an idle null sink sleeps in 2 s blocks, and without them the
//!   first capture callback (and the first playback request) comes 1.5–2 s late. It then
//!   warms up `fakemic` and `speaker.monitor` by recording until the first bytes come (the
//!   first stream ever opened on a source starts 1.4 s late, later ones at once). Nothing
//!   sleeps for a fixed time.
//! - A missing tool (`pulseaudio`, `pactl`, `pacat`, `paplay`, `parecord`) panics naming
//!   `scripts/setup --test`; a daemon that does not come up panics with its log.
//! - The daemon is reached through the environment: [`FakeAudio::env`] gives
//!   `XDG_RUNTIME_DIR` and `PULSE_SERVER` for a child process. This process's own
//!   environment is changed only by [`FakeAudio::install_in_process_env`], which cpal needs
//!   to see the daemon (its PulseAudio host reads these variables, and so does ALSA's
//!   `default` through libasound2-plugins). Changing the environment races every thread that
//!   reads it, so do that only in a process running one test: a test binary of its own, or
//!   a child started by [`run_test_in_child`] / [`FakeAudio::run_test_in_child`], which
//!   hand the child the variables at spawn and so change no environment at all. In the
//!   child, [`FakeAudio::attached`] gives a handle on the parent's daemon.
//! - Dropping the [`FakeAudio`] that started the daemon kills, by PID, every process it
//!   started (daemon, keep-alive) and removes its directory; an attached handle kills
//!   nothing but what it started itself. [`Speech`] and [`SpeakerRecording`] kill their
//!   `paplay` / `parecord` when dropped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{POLL_EVERY, wait_until};

/// The fake microphone's rate (and the rate [`FakeAudio::speak`] takes).
pub const MIC_RATE: u32 = 16_000;
/// The rate [`FakeAudio::start_recording_speaker`] records at (mono).
pub const RECORD_RATE: u32 = 16_000;
/// The variable that tells a child test which daemon to attach to.
pub const FAKE_AUDIO_DIR: &str = "GREENROOM_FAKE_AUDIO_DIR";
/// The variable that tells a test it is the child [`run_test_in_child`] started.
pub const CHILD_TEST: &str = "GREENROOM_CHILD_TEST";
/// How long a child test may run.
pub const CHILD_WITHIN: Duration = Duration::from_secs(180);

const SCRIPT: &str = "\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=speaker sink_properties=device.description=Fake-speaker
load-module module-null-sink sink_name=fakemic_in rate=16000 channels=1 sink_properties=device.description=Fake-mic-input
load-module module-remap-source source_name=fakemic master=fakemic_in.monitor source_properties=device.description=Fake-microphone
set-default-sink speaker
set-default-source fakemic
";
const REMAP_ARGS: [&str; 3] = [
    "source_name=fakemic",
    "master=fakemic_in.monitor",
    "source_properties=device.description=Fake-microphone",
];

/// A private PulseAudio daemon with a fake microphone and speaker. See the module docs.
pub struct FakeAudio {
    dir: PathBuf,
    _owned_dir: Option<TempDirGuard>,
    daemon: Option<Child>,
    keep_alive: Vec<Child>,
}

/// Removes a directory when dropped.
struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is needed for the fake microphone: scripts/setup --test installs it \
                 (Debian: pulseaudio, pulseaudio-utils)"
            )
        })
}

impl FakeAudio {
    /// Starts the daemon; returns once it answers and the microphone is kept alive.
    pub fn start() -> Self {
        let (pulseaudio, _) = (tool("pulseaudio"), tool("pactl"));
        let (_, _, _) = (tool("pacat"), tool("paplay"), tool("parecord"));
        let dir = make_private_dir();
        let script = dir.join("fake.pa");
        std::fs::write(&script, SCRIPT).expect("the PulseAudio script is written");
        let log = std::fs::File::create(dir.join("pulseaudio.log")).expect("a log file");
        let daemon = Command::new(pulseaudio)
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit=true",
                "--use-pid-file=false",
                "--realtime=false",
                "--high-priority=false",
                "--log-target=stderr",
                "-F",
            ])
            .arg(&script)
            .envs(env_for(&dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("pulseaudio starts");
        let mut audio = Self {
            dir: dir.clone(),
            _owned_dir: Some(TempDirGuard(dir)),
            daemon: Some(daemon),
            keep_alive: Vec::new(),
        };
        audio.wait_for_daemon();
        audio.start_keep_alive();
        audio.warm_up_source("fakemic");
        audio.warm_up_source("speaker.monitor");
        audio
    }

    /// A handle on the daemon of the parent test, in a child [`FakeAudio::run_test_in_child`]
    /// started; `None` in any other process.
    pub fn attached() -> Option<Self> {
        let dir = PathBuf::from(std::env::var_os(FAKE_AUDIO_DIR)?);
        Some(Self {
            dir,
            _owned_dir: None,
            daemon: None,
            keep_alive: Vec::new(),
        })
    }

    /// The daemon's runtime directory (`XDG_RUNTIME_DIR`).
    pub fn runtime_dir(&self) -> &Path {
        &self.dir
    }

    /// The variables a client process needs to reach this daemon.
    pub fn env(&self) -> Vec<(String, String)> {
        env_for(&self.dir)
    }

    /// Sets [`FakeAudio::env`] in this process, for cpal in this process. Call it only where
    /// no other thread reads the environment (see the module docs).
    pub fn install_in_process_env(&self) {
        for (key, value) in self.env() {
            // SAFETY: the caller runs this where no other thread reads or writes the
            // environment: a test binary with one test, or a child test process.
            unsafe { std::env::set_var(key, value) };
        }
    }

    /// Runs the test `test` of this test binary in a child process that sees this daemon
    /// (and [`FakeAudio::attached`] there); panics with its output if it fails.
    pub fn run_test_in_child(&self, test: &str) {
        let mut env = self.env();
        env.push((FAKE_AUDIO_DIR.into(), self.dir.display().to_string()));
        run_test_in_child(test, &env, CHILD_WITHIN);
    }

    /// A command for a PulseAudio tool, pointed at this daemon.
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(tool(name));
        command.envs(self.env()).stdin(Stdio::null());
        command
    }

    /// Runs `pactl ARGS` and returns its output; panics with its error when it fails.
    pub fn pactl(&self, args: &[&str]) -> String {
        let out = self
            .command("pactl")
            .args(args)
            .output()
            .expect("pactl runs");
        assert!(
            out.status.success(),
            "pactl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The names of the daemon's sources now.
    pub fn sources(&self) -> Vec<String> {
        short_names(&self.pactl(&["list", "short", "sources"]))
    }

    /// The names of the daemon's sinks now.
    pub fn sinks(&self) -> Vec<String> {
        short_names(&self.pactl(&["list", "short", "sinks"]))
    }

    /// The default source's name.
    pub fn default_source(&self) -> String {
        self.pactl(&["get-default-source"]).trim().to_string()
    }

    /// Plays 16 kHz mono `samples` into the microphone; returns at once.
    pub fn speak(&self, samples: &[f32]) -> Speech {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self
            .dir
            .join(format!("speech-{}-{n}.wav", std::process::id()));
        write_wav(&path, samples, MIC_RATE);
        self.speak_wav(&path)
    }

    /// Plays a WAV file into the microphone; returns at once.
    pub fn speak_wav(&self, path: &Path) -> Speech {
        let child = self
            .command("paplay")
            // A generous buffer: speech must not underrun on a busy machine, and its start
            // is not what is measured.
            .args(["--device=fakemic_in", "--latency-msec=200"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("paplay starts");
        Speech { child: Some(child) }
    }

    /// Starts recording what is played on `speaker` (its monitor), mono at
    /// [`RECORD_RATE`]; returns once the recorder is connected.
    pub fn start_recording_speaker(&self) -> SpeakerRecording {
        let mut child = self
            .command("parecord")
            .args([
                "--device=speaker.monitor",
                "--raw",
                "--format=s16le",
                "--rate=16000",
                "--channels=1",
                "--latency-msec=20",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("parecord starts");
        let mut stdout = child.stdout.take().expect("parecord's output");
        let samples = Arc::new(Mutex::new(Recorded::default()));
        let sink = samples.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut odd: Option<u8> = None;
            loop {
                let n = match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let arrived = Instant::now();
                let mut bytes: Vec<u8> = odd.take().into_iter().collect();
                bytes.extend_from_slice(&buf[..n]);
                if bytes.len() % 2 == 1 {
                    odd = bytes.pop();
                }
                let mut out = sink.lock().unwrap_or_else(|p| p.into_inner());
                out.samples.extend(
                    bytes
                        .chunks_exact(2)
                        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0),
                );
                // No sample arrives before it sounded: sample 0 sounded at the latest here.
                let so_far = duration_of(out.samples.len());
                if let Some(candidate) = arrived.checked_sub(so_far) {
                    out.origin = Some(out.origin.map_or(candidate, |o| o.min(candidate)));
                }
            }
        });
        let pid = child.id().to_string();
        let mut recording = SpeakerRecording {
            child: Some(child),
            reader: Some(reader),
            samples,
        };
        wait_until(
            "parecord to connect to speaker.monitor",
            Duration::from_secs(20),
            || {
                let list = self.pactl(&["list", "source-outputs"]);
                let needle = format!("application.process.id = \"{pid}\"");
                if list.contains(&needle) {
                    return Some(());
                }
                recording.assert_running();
                None
            },
        );
        recording
    }

    /// Unplugs the microphone: unloads the `fakemic` source and waits until it is gone
    /// (PulseAudio then makes another source the default and moves streams there).
    pub fn unplug_mic(&self) {
        let modules = self.pactl(&["list", "short", "modules"]);
        let index = modules
            .lines()
            .find(|l| l.contains("module-remap-source") && l.contains("source_name=fakemic"))
            .and_then(|l| l.split_whitespace().next())
            .expect("the fakemic module is loaded")
            .to_string();
        self.pactl(&["unload-module", &index]);
        wait_until("fakemic to go away", Duration::from_secs(10), || {
            (!self.sources().iter().any(|s| s == "fakemic")).then_some(())
        });
    }

    /// Unplugs the speaker: unloads the `speaker` sink (and so its monitor) and waits until
    /// it is gone; `fakemic_in` is then the only sink, and the default. There is no replug:
    /// do this last in a test.
    pub fn unplug_speaker(&self) {
        let modules = self.pactl(&["list", "short", "modules"]);
        let index = modules
            .lines()
            .find(|l| l.contains("module-null-sink") && l.contains("sink_name=speaker "))
            .and_then(|l| l.split_whitespace().next())
            .expect("the speaker module is loaded")
            .to_string();
        self.pactl(&["unload-module", &index]);
        wait_until("speaker to go away", Duration::from_secs(10), || {
            (!self.sinks().iter().any(|s| s == "speaker")).then_some(())
        });
    }

    /// Plugs the microphone back, makes it the default source, waits until it is there and
    /// warms it up.
    pub fn replug_mic(&self) {
        let mut args = vec!["load-module", "module-remap-source"];
        args.extend(REMAP_ARGS);
        self.pactl(&args);
        self.pactl(&["set-default-source", "fakemic"]);
        wait_until("fakemic to be back", Duration::from_secs(10), || {
            (self.default_source() == "fakemic").then_some(())
        });
        self.warm_up_source("fakemic");
    }

    /// Records from `source` until the first bytes arrive: the first stream ever opened on a
    /// null-sink monitor (or a remap of one) starts 1.4 s late, later ones at once, and a
    /// test should measure the code, not that.
    fn warm_up_source(&self, source: &str) {
        let mut child = self
            .command("pacat")
            .args(["--record", "--raw", "--latency-msec=20"])
            .arg(format!("--device={source}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pacat starts");
        let mut stdout = child.stdout.take().expect("pacat's output");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = [0u8; 64];
            let _ = tx.send(stdout.read_exact(&mut first).is_ok());
        });
        let got = rx.recv_timeout(Duration::from_secs(20));
        kill(child);
        assert!(
            matches!(got, Ok(true)),
            "no sound came from {source} within 20 s:\n{}",
            self.log()
        );
    }

    /// The daemon's log so far (for a failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pulseaudio.log")).unwrap_or_default()
    }

    fn wait_for_daemon(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answered = self
                .command("pactl")
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return;
            }
            if let Some(Ok(Some(status))) = self.daemon.as_mut().map(Child::try_wait) {
                panic!(
                    "pulseaudio exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not answer within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// Zeros played at 20 ms latency into both null sinks, so that they run in 5 ms blocks:
    /// an idle null sink sleeps in 2 s blocks and a new stream waits out the current one.
    fn start_keep_alive(&mut self) {
        for (sink, rate, channels) in [("fakemic_in", "16000", "1"), ("speaker", "48000", "2")] {
            let child = self
                .command("pacat")
                .args([
                    "--playback",
                    "--latency-msec=20",
                    "--raw",
                    "--format=s16le",
                    "--client-name=greenroom-keep-alive",
                ])
                .arg(format!("--device={sink}"))
                .arg(format!("--rate={rate}"))
                .arg(format!("--channels={channels}"))
                .arg("/dev/zero")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("pacat starts");
            self.keep_alive.push(child);
        }
        wait_until(
            "the keep-alives to play into fakemic_in and speaker",
            Duration::from_secs(20),
            || {
                let inputs = self.pactl(&["list", "sink-inputs"]);
                (inputs.matches("greenroom-keep-alive").count() >= 2).then_some(())
            },
        );
    }
}

impl Drop for FakeAudio {
    fn drop(&mut self) {
        for child in self.keep_alive.drain(..).chain(self.daemon.take()) {
            kill(child);
        }
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What [`FakeAudio::speak`] plays; the `paplay` is killed if dropped before it ends.
pub struct Speech {
    child: Option<Child>,
}

impl Speech {
    /// True once everything was played.
    pub fn is_finished(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Waits (at most `within`) until everything was played; panics if paplay failed.
    pub fn wait(mut self, within: Duration) {
        let mut child = self.child.take().expect("a running paplay");
        let status = wait_until("paplay to finish", within, || {
            child.try_wait().expect("paplay can be waited for")
        });
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        assert!(status.success(), "paplay failed ({status}): {err}");
    }
}

impl Drop for Speech {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            kill(child);
        }
    }
}

/// A running recording of the fake speaker.
///
/// Its samples are placed on this process's clock by their sample clock: sample `k`
/// sounded at `origin + k / RECORD_RATE`, where `origin` is the earliest instant consistent
/// with every read (no sample arrives before it sounded). parecord loses nothing, so the
/// estimate only gets better, and a late read (a busy machine) never moves it.
pub struct SpeakerRecording {
    child: Option<Child>,
    reader: Option<std::thread::JoinHandle<()>>,
    samples: Arc<Mutex<Recorded>>,
}

#[derive(Default)]
struct Recorded {
    samples: Vec<f32>,
    origin: Option<Instant>,
}

fn duration_of(samples: usize) -> Duration {
    Duration::from_nanos(samples as u64 * 1_000_000_000 / u64::from(RECORD_RATE))
}

impl SpeakerRecording {
    fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.samples.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many samples were recorded so far.
    pub fn len(&self) -> usize {
        self.recorded().samples.len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples recorded so far.
    pub fn snapshot(&self) -> Vec<f32> {
        self.recorded().samples.clone()
    }

    /// When sample `index` sounded, on this process's clock (once anything was recorded).
    pub fn instant_of(&self, index: usize) -> Option<Instant> {
        Some(self.recorded().origin? + duration_of(index))
    }

    /// The index of the sample that sounded at `at` (0 for an instant before the first).
    pub fn index_at(&self, at: Instant) -> Option<usize> {
        let since = at.saturating_duration_since(self.recorded().origin?);
        Some((since.as_nanos() * u128::from(RECORD_RATE) / 1_000_000_000) as usize)
    }

    /// Stops the recorder and returns everything it recorded (mono, [`RECORD_RATE`]).
    pub fn stop(mut self) -> Vec<f32> {
        self.finish();
        std::mem::take(&mut self.recorded().samples)
    }

    /// [`SpeakerRecording::stop`], also writing the recording to `path` as a 16-bit WAV.
    pub fn stop_to_wav(self, path: &Path) -> Vec<f32> {
        let samples = self.stop();
        write_wav(path, &samples, RECORD_RATE);
        samples
    }

    fn assert_running(&mut self) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
            panic!("parecord exited ({status}) before recording");
        }
    }

    fn finish(&mut self) {
        if let Some(child) = self.child.take() {
            kill(child);
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for SpeakerRecording {
    fn drop(&mut self) {
        self.finish();
    }
}

/// True in a child started by [`run_test_in_child`].
pub fn in_child_test() -> bool {
    std::env::var_os(CHILD_TEST).is_some()
}

/// Runs the test `test` of this test binary alone in a child process with `env` added (and
/// [`CHILD_TEST`] set); prints its output and panics if it fails or outlives `within`.
pub fn run_test_in_child(test: &str, env: &[(String, String)], within: Duration) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(CHILD_TEST, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child test starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child test can be waited for") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(POLL_EVERY);
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    println!("--- child {test} stdout ---\n{out}--- child {test} stderr ---\n{err}");
    let tests_run = out.contains("running 1 test");
    match status {
        None => panic!("the child test {test} did not end within {within:?}"),
        Some(status) => assert!(
            status.success() && tests_run,
            "the child test {test} failed ({status})"
        ),
    }
}

/// The variables that point a client at a sound server that is not there: an empty runtime
/// directory `dir` and a socket in it that nothing listens on.
pub fn dead_audio_env(dir: &Path) -> Vec<(String, String)> {
    env_for(dir)
}

fn env_for(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("XDG_RUNTIME_DIR".into(), dir.display().to_string()),
        (
            "PULSE_SERVER".into(),
            format!("unix:{}", dir.join("pulse").join("native").display()),
        ),
    ]
}

fn make_private_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("greenroom-pulse-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a runtime directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("the runtime directory is private");
    }
    dir
}

fn short_names(list: &str) -> Vec<String> {
    list.lines()
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect()
}

/// Writes mono `samples` as a 16-bit PCM WAV file.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) {
    let data_len = u32::try_from(samples.len() * 2).expect("a WAV under 4 GiB");
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("the WAV file is written");
}

/// How long `samples` (mono at [`RECORD_RATE`]) hold sound in the speech band (300–3,400 Hz) above
/// -45 dBFS, counted in 20 ms frames.
pub fn speech_band_seconds(samples: &[f32]) -> f64 {
    // A band-pass as a high-pass at 300 Hz then a low-pass at 3,400 Hz (RBJ biquads).
    fn biquad(x: &[f32], b: [f64; 3], a: [f64; 3]) -> Vec<f32> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&s| {
                let s = f64::from(s);
                let y = (b[0] * s + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2) / a[0];
                (x2, x1, y2, y1) = (x1, s, y1, y);
                y as f32
            })
            .collect()
    }
    let rate = f64::from(RECORD_RATE);
    let coefficients = |f0: f64, high: bool| {
        let w = 2.0 * std::f64::consts::PI * f0 / rate;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let b = if high {
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0]
        } else {
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0]
        };
        (b, [1.0 + alpha, -2.0 * c, 1.0 - alpha])
    };
    let (hb, ha) = coefficients(300.0, true);
    let (lb, la) = coefficients(3400.0, false);
    let band = biquad(&biquad(samples, hb, ha), lb, la);
    let frame = (rate * 0.02) as usize;
    let threshold = 10f32.powf(-45.0 / 20.0);
    let voiced = band
        .chunks(frame)
        .filter(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt() > threshold)
        .count();
    voiced as f64 * 0.02
}
