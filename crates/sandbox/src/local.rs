//! The three speech services at once, on free ports of 127.0.0.1, owned by the caller:
//! what the talk tests, the CLI's end-to-end tests and the benchmarks talk to, without
//! touching the sandbox stack's fixed ports (8001, 8002, 5002) that a running Greenroom
//! may hold.
//!
//! [`LocalSpeech::start`] serves the offline coach and the TTS in this process (tasks on
//! the current Tokio runtime) and runs the faster-whisper STT as a child process (killed
//! when the [`LocalSpeech`] is dropped), then waits until all three answer `/health`
//! (the STT loads its model first: seconds), at most [`READY_WITHIN`].

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::chat_server::ChatServerConfig;

/// How long [`LocalSpeech::start`] waits for the three services to be healthy.
pub const READY_WITHIN: Duration = Duration::from_secs(90);

/// The services, running.
pub struct LocalSpeech {
    /// `http://127.0.0.1:PORT/v1`
    pub coach_url: String,
    /// `http://127.0.0.1:PORT/v1`
    pub tts_url: String,
    /// `http://127.0.0.1:PORT/transcribe` (the Vosk shape; the OpenAI one is beside it)
    pub stt_url: String,
    _stt: tokio::process::Child,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn listener() -> std::io::Result<(tokio::net::TcpListener, u16)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = l.local_addr()?.port();
    Ok((l, port))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl LocalSpeech {
    /// Starts the services; `python` is the speech virtualenv's interpreter
    /// ([`crate::stt::locate_python`]), `script_dir` where the STT's script is written.
    pub async fn start(
        python: &Path,
        script_dir: &Path,
        chat: ChatServerConfig,
    ) -> Result<LocalSpeech, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let mut stops = Vec::new();
        let (coach, coach_port) = listener().await.map_err(|e| io("the coach's port", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(crate::chat_server::serve(coach, chat, async {
            let _ = stopped.await;
        }));
        let tts_config = crate::tts_server::TtsServerConfig::default();
        crate::tts_server::find_engine(&tts_config).map_err(|e| e.to_string())?;
        let (tts, tts_port) = listener().await.map_err(|e| io("the TTS's port", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(crate::tts_server::serve(tts, tts_config, async {
            let _ = stopped.await;
        }));
        let script = crate::stt::install_script(script_dir).map_err(|e| {
            io(
                &format!("writing the STT's script in {}", script_dir.display()),
                e,
            )
        })?;
        let stt_port = free_port().map_err(|e| io("the STT's port", e))?;
        let (program, args) = crate::stt::command(python, &script, stt_port);
        let mut stt_command = tokio::process::Command::new(&program);
        greenroom_core::console::no_console_window(stt_command.as_std_mut());
        let stt = stt_command
            .args(args)
            .env("HF_HUB_OFFLINE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io(&format!("starting {}", program.display()), e))?;
        let services = LocalSpeech {
            coach_url: format!("http://127.0.0.1:{coach_port}/v1"),
            tts_url: format!("http://127.0.0.1:{tts_port}/v1"),
            stt_url: format!("http://127.0.0.1:{stt_port}/transcribe"),
            _stt: stt,
            _stops: stops,
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + READY_WITHIN;
        for port in [stt_port, coach_port, tts_port] {
            let url = format!("http://127.0.0.1:{port}/health");
            loop {
                let healthy = match http.get(&url).send().await {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                };
                if healthy {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{url} did not answer within {READY_WITHIN:?}; is the speech virtualenv complete (scripts/setup)?"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(services)
    }
}

/// How long [`LocalMarie::start`] waits for the worker to register (the framework preloads
/// its plugins first: ~10 s on a quiet machine).
pub const MARIE_READY_WITHIN: Duration = Duration::from_secs(120);

/// Marie's worker ([`crate::agent`]) as a child process, registered with a LiveKit server
/// and pointed at `speech`: what the LiveKit-mode tests and benchmarks talk to. Killed when
/// dropped. Its output is kept ([`LocalMarie::log`]) for a failing test to show.
pub struct LocalMarie {
    child: tokio::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LocalMarie {
    /// Starts the worker with `python` (the agent virtualenv's, [`crate::agent::locate_python`])
    /// and waits until it registered with `livekit_url` (at most [`MARIE_READY_WITHIN`]).
    /// `agent_name`: `None` for automatic dispatch.
    pub async fn start(
        python: &Path,
        script_dir: &Path,
        speech: &LocalSpeech,
        livekit: (&str, &str, &str),
        agent_name: Option<&str>,
    ) -> Result<LocalMarie, String> {
        use tokio::io::AsyncBufReadExt;
        let script = crate::agent::install_script(script_dir).map_err(|e| {
            format!(
                "writing the agent's script in {}: {e}",
                script_dir.display()
            )
        })?;
        let (program, args) = crate::agent::command(python, &script);
        let stt = speech.stt_url.replace("/transcribe", "/v1");
        let env = crate::agent::env(&crate::agent::Endpoints {
            livekit_url: livekit.0,
            api_key: livekit.1,
            api_secret: livekit.2,
            stt_url: &stt,
            llm_url: &speech.coach_url,
            llm_model: crate::chat_server::MODEL_ID,
            tts_url: &speech.tts_url,
            agent_name,
        });
        let mut agent_command = tokio::process::Command::new(&program);
        greenroom_core::console::no_console_window(agent_command.as_std_mut());
        let mut child = agent_command
            .args(args)
            .envs(env)
            .env("HF_HUB_OFFLINE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let lines: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let out = child.stdout.take().map(|s| {
            Box::new(tokio::io::BufReader::new(s))
                as Box<dyn tokio::io::AsyncBufRead + Send + Unpin>
        });
        let err = child.stderr.take().map(|s| {
            Box::new(tokio::io::BufReader::new(s))
                as Box<dyn tokio::io::AsyncBufRead + Send + Unpin>
        });
        for reader in [out, err].into_iter().flatten() {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = reader.lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        let mut marie = LocalMarie { child, lines };
        let deadline = Instant::now() + MARIE_READY_WITHIN;
        loop {
            if marie.log().contains(crate::agent::READY_PATTERN) {
                return Ok(marie);
            }
            if let Ok(Some(status)) = marie.child.try_wait() {
                return Err(format!(
                    "Marie's worker exited ({status}) before registering:\n{}",
                    marie.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Marie's worker did not register within {MARIE_READY_WITHIN:?}:\n{}",
                    marie.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the worker printed so far.
    pub fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// The worker's process id (to kill it from outside, as a crash would).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the worker now.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}
