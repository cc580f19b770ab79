//! Which stack Greenroom runs, and the sandbox it runs when there is none.
//!
//! **Precedence** (first match wins):
//! 1. the stack the front names explicitly (`--stack FILE`): a `.toml` file is a
//!    manifest, anything else a compose file;
//! 2. `greenroom.toml` in the current directory (CLI only; the app has no meaningful one);
//! 3. the `workspace` setting: its `greenroom.toml`, else its compose file
//!    (`compose.yaml`, `compose.yml`, `docker-compose.yaml`, `docker-compose.yml`, with
//!    its `.override` file when present, as `docker compose` does by default);
//! 4. the **sandbox**: the real `livekit-server --dev` (bound to 127.0.0.1) and
//!    `redis-server` when they are installed, the built-in token service on 8004, and the
//!    speech fallbacks on the ports Eloquence's own services use, so that a coach can talk
//!    to Marie with no key and no Docker: the offline coach (OpenAI chat API) on 8001,
//!    faster-whisper speech-to-text (Vosk and OpenAI shapes, English only) on 8002, and
//!    espeak-ng / pico2wave behind the OpenAI speech API on 5002; and Marie, the reference
//!    agent on the official LiveKit Agents framework (`tools/venv-agent`), a worker of that
//!    LiveKit server dispatched automatically to every new room, talking through those
//!    three. A fallback whose program is missing is disabled, with why and what installs it.

use greenroom_livekit::token_service::TokenServiceConfig;
use greenroom_stack::builtin::{Builtin, BuiltinContext, BuiltinRun, Builtins};
use greenroom_stack::manifest::{
    Manifest, PortSpec, ProbeCheck, ProbeSpec, ServiceKind, ServiceSpec,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ts_rs::TS;

/// The sandbox's LiveKit keys: `livekit-server --dev`'s own public development keys.
pub const SANDBOX_API_KEY: &str = "devkey";
pub const SANDBOX_API_SECRET: &str = "secret";
pub const SANDBOX_TOKEN_PORT: u16 = 8004;
pub const SANDBOX_LIVEKIT_PORT: u16 = 7880;
pub const SANDBOX_REDIS_PORT: u16 = 6379;
/// The sandbox's speech services, on the ports of the Eloquence services they stand in for.
pub const SANDBOX_COACH_PORT: u16 = crate::talk::LLM_PORT;
pub const SANDBOX_STT_PORT: u16 = crate::talk::STT_PORT;
pub const SANDBOX_TTS_PORT: u16 = crate::talk::TTS_PORT;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackSource {
    Sandbox,
    Manifest(PathBuf),
    Compose(Vec<PathBuf>),
}

/// What the UI shows about where the stack comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
pub struct StackSourceView {
    /// `sandbox`, `manifest` or `compose`.
    pub kind: String,
    pub files: Vec<String>,
    /// One line for people: "the sandbox (no Eloquence workspace set)".
    pub description: String,
}

impl StackSource {
    pub fn view(&self) -> StackSourceView {
        let files = |f: &[PathBuf]| f.iter().map(|p| p.display().to_string()).collect();
        match self {
            StackSource::Sandbox => StackSourceView {
                kind: "sandbox".into(),
                files: Vec::new(),
                description: "the sandbox stack: livekit-server --dev, redis-server, the built-in token service, the speech fallbacks (offline coach, Whisper STT, espeak-ng TTS) and Marie, the reference agent on livekit-agents".into(),
            },
            StackSource::Manifest(p) => StackSourceView {
                kind: "manifest".into(),
                files: files(std::slice::from_ref(p)),
                description: format!("the manifest {}", p.display()),
            },
            StackSource::Compose(f) => StackSourceView {
                kind: "compose".into(),
                files: files(f),
                description: format!("the compose files {}", f.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")),
            },
        }
    }
}

/// The compose files `docker compose` would read in `dir` with no `-f`.
pub fn default_compose_files(dir: &Path) -> Option<Vec<PathBuf>> {
    for base in [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ] {
        let file = dir.join(base);
        if file.is_file() {
            let (stem, ext) = base.rsplit_once('.').unwrap_or((base, "yml"));
            let overlay = dir.join(format!("{stem}.override.{ext}"));
            let mut files = vec![file];
            if overlay.is_file() {
                files.push(overlay);
            }
            return Some(files);
        }
    }
    None
}

pub fn resolve(
    explicit: Option<&Path>,
    cwd: Option<&Path>,
    workspace: Option<&Path>,
) -> StackSource {
    if let Some(file) = explicit {
        return if file.extension().is_some_and(|e| e == "toml") {
            StackSource::Manifest(file.to_path_buf())
        } else {
            StackSource::Compose(vec![file.to_path_buf()])
        };
    }
    if let Some(cwd) = cwd {
        let manifest = cwd.join("greenroom.toml");
        if manifest.is_file() {
            return StackSource::Manifest(manifest);
        }
    }
    if let Some(ws) = workspace {
        let manifest = ws.join("greenroom.toml");
        if manifest.is_file() {
            return StackSource::Manifest(manifest);
        }
        if let Some(files) = default_compose_files(ws) {
            return StackSource::Compose(files);
        }
    }
    StackSource::Sandbox
}

/// The sandbox manifest; services whose program is not installed are disabled, with why.
/// `home` is where the speech-to-text's script is written (Greenroom's home).
pub fn sandbox_manifest(tool_dirs: &[PathBuf], home: &Path) -> Manifest {
    let found = |name: &str| greenroom_doctor::locate_tool(&[name], None, tool_dirs);
    let mut manifest = Manifest {
        name: Some("sandbox".into()),
        ..Default::default()
    };
    let redis = found("redis-server");
    manifest.services.insert(
        "redis".into(),
        ServiceSpec {
            description: Some(match &redis {
                Some(p) => format!("Redis ({}), without persistence", p.display()),
                None => {
                    "disabled: redis-server is not installed (greenroom doctor says how)".into()
                }
            }),
            enabled: redis.is_some(),
            command: Some("redis-server".into()),
            args: [
                "--port",
                &SANDBOX_REDIS_PORT.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(str::to_owned)
            .to_vec(),
            ports: vec![PortSpec::tcp(SANDBOX_REDIS_PORT)],
            critical: true,
            probe: Some(ProbeSpec::new(ProbeCheck::Redis {
                port: SANDBOX_REDIS_PORT,
                host: "127.0.0.1".into(),
            })),
            ..Default::default()
        },
    );
    let livekit = found("livekit-server");
    // What a client probes: `GET /` answers `OK`. A WebSocket to /rtc without a token
    // makes livekit-server log a 401 warning at every probe.
    let mut lk_probe = ProbeSpec::new(ProbeCheck::Http {
        url: format!("http://127.0.0.1:{SANDBOX_LIVEKIT_PORT}/"),
        expect_status: Some(200),
        body_contains: Some("OK".into()),
        json_field: None,
        json_equals: None,
    });
    lk_probe.start_timeout_ms = 30_000;
    manifest.services.insert(
        "livekit".into(),
        ServiceSpec {
            description: Some(match &livekit {
                Some(p) => format!("LiveKit server in dev mode ({})", p.display()),
                None => "disabled: livekit-server is not installed (scripts/setup builds it; greenroom doctor says how)".into(),
            }),
            enabled: livekit.is_some(),
            command: Some("livekit-server".into()),
            args: ["--dev", "--bind", "127.0.0.1"].map(str::to_owned).to_vec(),
            ports: vec![
                PortSpec::tcp(SANDBOX_LIVEKIT_PORT),
                PortSpec::tcp(SANDBOX_LIVEKIT_PORT + 1),
                "7882/udp".parse().expect("a valid port"),
            ],
            critical: true,
            probe: Some(lk_probe),
            ..Default::default()
        },
    );
    manifest.services.insert(
        "token-service".into(),
        ServiceSpec {
            kind: ServiceKind::Builtin,
            builtin: Some("token-service".into()),
            description: Some("the built-in LiveKit token service (Eloquence's token API)".into()),
            env: [
                ("LIVEKIT_API_KEY", SANDBOX_API_KEY),
                ("LIVEKIT_API_SECRET", SANDBOX_API_SECRET),
                (
                    "LIVEKIT_URL",
                    &format!("ws://127.0.0.1:{SANDBOX_LIVEKIT_PORT}"),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ports: vec![PortSpec::tcp(SANDBOX_TOKEN_PORT)],
            probe: Some(ProbeSpec::new(ProbeCheck::Http {
                url: format!("http://127.0.0.1:{SANDBOX_TOKEN_PORT}/health"),
                expect_status: Some(200),
                body_contains: None,
                json_field: Some("status".into()),
                json_equals: Some("healthy".into()),
            })),
            ..Default::default()
        },
    );
    add_speech_fallbacks(&mut manifest, tool_dirs, home);
    manifest
}

fn http_probe(port: u16, start_timeout_ms: u64) -> ProbeSpec {
    let mut probe = ProbeSpec::new(ProbeCheck::Http {
        url: format!("http://127.0.0.1:{port}/health"),
        expect_status: Some(200),
        body_contains: None,
        json_field: Some("status".into()),
        json_equals: Some("healthy".into()),
    });
    probe.start_timeout_ms = start_timeout_ms;
    probe
}

/// The offline coach, the TTS and the STT fallbacks (see the module's documentation).
fn add_speech_fallbacks(manifest: &mut Manifest, tool_dirs: &[PathBuf], home: &Path) {
    use greenroom_stack::manifest::Group;
    manifest.services.insert(
        "coach".into(),
        ServiceSpec {
            kind: ServiceKind::Builtin,
            builtin: Some("offline-coach".into()),
            group: Group::Fallback,
            description: Some(
                "the offline French coach behind the OpenAI chat API (stands in for mistral-conversation; a Mistral key in Settings uses the real one)".into(),
            ),
            ports: vec![PortSpec::tcp(SANDBOX_COACH_PORT)],
            probe: Some(http_probe(SANDBOX_COACH_PORT, 10_000)),
            ..Default::default()
        },
    );
    let engine = greenroom_sandbox::tts_server::find_engine(
        &greenroom_sandbox::tts_server::TtsServerConfig::default(),
    );
    manifest.services.insert(
        "tts".into(),
        ServiceSpec {
            kind: ServiceKind::Builtin,
            builtin: Some("sandbox-tts".into()),
            group: Group::Fallback,
            enabled: engine.is_ok(),
            description: Some(match &engine {
                Ok(e) => format!(
                    "French text-to-speech on {} behind the OpenAI speech API",
                    e.kind.program_name()
                ),
                Err(e) => format!("disabled: {e}"),
            }),
            ports: vec![PortSpec::tcp(SANDBOX_TTS_PORT)],
            probe: Some(http_probe(SANDBOX_TTS_PORT, 10_000)),
            ..Default::default()
        },
    );
    let python = greenroom_sandbox::stt::locate_python(tool_dirs);
    let script = greenroom_sandbox::stt::install_script(&home.join("sandbox"));
    let (enabled, description, command, args, venv) = match (&python, &script) {
        (Some(python), Ok(script)) => {
            let (program, args) =
                greenroom_sandbox::stt::command(python, script, SANDBOX_STT_PORT);
            (
                true,
                format!(
                    "speech-to-text on faster-whisper tiny.en (English only), Vosk and OpenAI shapes ({})",
                    program.display()
                ),
                program.display().to_string(),
                args,
                None,
            )
        }
        (None, _) => (
            false,
            "disabled: the speech virtualenv is not installed (tools/venv-speech; scripts/setup creates it)".to_string(),
            "python3".to_string(),
            Vec::new(),
            None::<String>,
        ),
        (_, Err(e)) => (
            false,
            format!("disabled: cannot write its script under {}: {e}", home.display()),
            "python3".to_string(),
            Vec::new(),
            None,
        ),
    };
    manifest.services.insert(
        "stt".into(),
        ServiceSpec {
            group: Group::Fallback,
            enabled,
            description: Some(description),
            command: Some(command),
            args,
            venv,
            env: [("HF_HUB_OFFLINE", "1"), ("PYTHONIOENCODING", "utf-8")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ports: vec![PortSpec::tcp(SANDBOX_STT_PORT)],
            // The model loads before the server listens: a few seconds, more on a busy box.
            probe: Some(http_probe(SANDBOX_STT_PORT, 90_000)),
            ..Default::default()
        },
    );
    add_marie(manifest, tool_dirs, home);
}

/// Marie, the reference agent on livekit-agents: a worker of the sandbox's LiveKit server
/// that talks through the coach, the TTS and the STT above. It has no port; it is ready once
/// the framework logged that the worker registered.
fn add_marie(manifest: &mut Manifest, tool_dirs: &[PathBuf], home: &Path) {
    use greenroom_sandbox::agent;
    use greenroom_stack::manifest::{Condition, DependsOn, Group};
    let livekit_enabled = manifest.services.get("livekit").is_some_and(|s| s.enabled);
    let python = agent::locate_python(tool_dirs);
    let script = agent::install_script(&home.join("sandbox"));
    let (enabled, description, command, args) = match (&python, &script) {
        (None, _) => (
            false,
            "disabled: the agent virtualenv is not installed (tools/venv-agent; scripts/setup creates it)".to_string(),
            "python3".to_string(),
            Vec::new(),
        ),
        (_, Err(e)) => (
            false,
            format!("disabled: cannot write its script under {}: {e}", home.display()),
            "python3".to_string(),
            Vec::new(),
        ),
        (Some(_), Ok(_)) if !livekit_enabled => (
            false,
            "disabled: it has no LiveKit server to register with (livekit-server is not installed; scripts/setup builds it)".to_string(),
            "python3".to_string(),
            Vec::new(),
        ),
        (Some(python), Ok(script)) => {
            let (program, args) = agent::command(python, script);
            (
                true,
                "Marie, the reference LiveKit agent on livekit-agents 1.8.9 (automatic dispatch)"
                    .to_string(),
                program.display().to_string(),
                args,
            )
        }
    };
    let livekit_url = format!("ws://127.0.0.1:{SANDBOX_LIVEKIT_PORT}");
    let stt_url = format!("http://127.0.0.1:{SANDBOX_STT_PORT}/v1");
    let llm_url = format!("http://127.0.0.1:{SANDBOX_COACH_PORT}/v1");
    let tts_url = format!("http://127.0.0.1:{SANDBOX_TTS_PORT}/v1");
    let env = agent::env(&agent::Endpoints {
        livekit_url: &livekit_url,
        api_key: SANDBOX_API_KEY,
        api_secret: SANDBOX_API_SECRET,
        stt_url: &stt_url,
        llm_url: &llm_url,
        llm_model: greenroom_sandbox::chat_server::MODEL_ID,
        tts_url: &tts_url,
        agent_name: None,
    });
    // About 10 s of plugin preload before it registers; more on a busy box.
    let mut probe = ProbeSpec::new(ProbeCheck::Log {
        pattern: agent::READY_PATTERN.into(),
    });
    probe.start_timeout_ms = 90_000;
    manifest.services.insert(
        "marie".into(),
        ServiceSpec {
            group: Group::Fallback,
            enabled,
            description: Some(description),
            command: Some(command),
            args,
            env: env.into_iter().collect(),
            depends_on: DependsOn::Map(
                ["livekit", "coach", "tts", "stt"]
                    .into_iter()
                    .map(|s| (s.to_owned(), Condition::Healthy))
                    .collect(),
            ),
            probe: Some(probe),
            ..Default::default()
        },
    );
}

/// The built-in services this Greenroom provides.
pub fn builtins() -> Builtins {
    let mut map: Builtins = Builtins::new();
    map.insert("token-service".into(), Arc::new(TokenServiceBuiltin));
    map.insert("offline-coach".into(), Arc::new(CoachBuiltin));
    map.insert("sandbox-tts".into(), Arc::new(TtsBuiltin));
    map
}

/// Binds 127.0.0.1:`port` for a built-in, or says who cannot.
fn bind_builtin(what: &str, port: u16) -> Result<tokio::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("{what} cannot listen on 127.0.0.1:{port}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())
}

struct CoachBuiltin;

impl Builtin for CoachBuiltin {
    fn start(&self, context: BuiltinContext) -> Result<BuiltinRun, String> {
        let port = context.port.unwrap_or(SANDBOX_COACH_PORT);
        let listener = bind_builtin("the offline coach", port)?;
        (context.log)(&format!(
            "offline coach listening on http://127.0.0.1:{port}/v1/chat/completions (model {})",
            greenroom_sandbox::chat_server::MODEL_ID
        ));
        let config = greenroom_sandbox::chat_server::ChatServerConfig::from_env();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let finished = tokio::spawn(async move {
            greenroom_sandbox::chat_server::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        Ok(BuiltinRun { stop, finished })
    }
}

struct TtsBuiltin;

impl Builtin for TtsBuiltin {
    fn start(&self, context: BuiltinContext) -> Result<BuiltinRun, String> {
        let port = context.port.unwrap_or(SANDBOX_TTS_PORT);
        let config = greenroom_sandbox::tts_server::TtsServerConfig::default();
        let engine =
            greenroom_sandbox::tts_server::find_engine(&config).map_err(|e| e.to_string())?;
        let listener = bind_builtin("the sandbox's text-to-speech", port)?;
        (context.log)(&format!(
            "text-to-speech on {} listening on http://127.0.0.1:{port}/v1/audio/speech",
            engine.program.display()
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let finished = tokio::spawn(async move {
            greenroom_sandbox::tts_server::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        Ok(BuiltinRun { stop, finished })
    }
}

struct TokenServiceBuiltin;

impl Builtin for TokenServiceBuiltin {
    fn start(&self, context: BuiltinContext) -> Result<BuiltinRun, String> {
        let port = context.port.unwrap_or(SANDBOX_TOKEN_PORT);
        let get = |k: &str, default: &str| {
            context
                .env
                .get(k)
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };
        // Admin and hidden grants, longer tokens and other host names only where the
        // manifest asks for them (greenroom_livekit::token_service).
        let defaults = TokenServiceConfig::new(
            get("LIVEKIT_API_KEY", SANDBOX_API_KEY),
            get("LIVEKIT_API_SECRET", SANDBOX_API_SECRET),
            get(
                "LIVEKIT_URL",
                &format!("ws://127.0.0.1:{SANDBOX_LIVEKIT_PORT}"),
            ),
        );
        let max_ttl_seconds = match context.env.get("TOKEN_SERVICE_MAX_TTL_SECONDS") {
            Some(v) => v.trim().parse().map_err(|_| {
                format!("TOKEN_SERVICE_MAX_TTL_SECONDS is {v:?}, not a number of seconds")
            })?,
            None => defaults.max_ttl_seconds,
        };
        let config = TokenServiceConfig {
            max_ttl_seconds,
            default_ttl_seconds: defaults.default_ttl_seconds.min(max_ttl_seconds),
            allow_privileged_grants: context
                .env
                .get("TOKEN_SERVICE_ALLOW_PRIVILEGED_GRANTS")
                .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
            allowed_hosts: context
                .env
                .get("TOKEN_SERVICE_ALLOWED_HOSTS")
                .map(|v| {
                    v.split(',')
                        .map(|h| h.trim().to_owned())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ..defaults
        };
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("the token service cannot listen on 127.0.0.1:{port}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        (context.log)(&format!(
            "token service listening on http://127.0.0.1:{port} (LiveKit at {})",
            config.livekit_url
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let finished = tokio::spawn(async move {
            greenroom_livekit::token_service::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        Ok(BuiltinRun { stop, finished })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        assert_eq!(resolve(None, None, Some(&ws)), StackSource::Sandbox);
        std::fs::write(ws.join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(ws.join("docker-compose.override.yml"), "services: {}\n").unwrap();
        assert_eq!(
            resolve(None, None, Some(&ws)),
            StackSource::Compose(vec![
                ws.join("docker-compose.yml"),
                ws.join("docker-compose.override.yml")
            ])
        );
        std::fs::write(ws.join("greenroom.toml"), "").unwrap();
        assert_eq!(
            resolve(None, None, Some(&ws)),
            StackSource::Manifest(ws.join("greenroom.toml"))
        );
        let cwd = dir.path().join("cwd");
        std::fs::create_dir(&cwd).unwrap();
        std::fs::write(cwd.join("greenroom.toml"), "").unwrap();
        assert_eq!(
            resolve(None, Some(&cwd), Some(&ws)),
            StackSource::Manifest(cwd.join("greenroom.toml"))
        );
        let explicit = dir.path().join("x.yml");
        assert_eq!(
            resolve(Some(&explicit), Some(&cwd), Some(&ws)),
            StackSource::Compose(vec![explicit.clone()])
        );
    }

    #[test]
    fn the_sandbox_disables_what_is_not_installed() {
        // No tool dirs and an empty PATH would be needed to hide tools; here we only check
        // that the sandbox validates and names its built-in.
        let home = tempfile::tempdir().unwrap();
        let m = sandbox_manifest(&[], home.path());
        for fallback in ["coach", "tts", "stt", "marie"] {
            assert_eq!(
                m.services[fallback].group,
                greenroom_stack::manifest::Group::Fallback
            );
        }
        assert_eq!(
            m.services["coach"].ports,
            vec![PortSpec::tcp(SANDBOX_COACH_PORT)]
        );
        assert!(greenroom_stack::manifest::validate(&m).is_empty());
        assert_eq!(
            m.services["token-service"].builtin.as_deref(),
            Some("token-service")
        );
        for spec in m.services.values() {
            if !spec.enabled {
                let why = spec.description.as_deref().unwrap_or("");
                assert!(why.starts_with("disabled: "), "{why}");
                assert!(why.contains("install"), "says what installs it: {why}");
            }
        }
    }

    /// `<root>/tools/bin` with an executable `livekit-server` and, when `venv`, a
    /// `<root>/tools/venv-agent` interpreter (neither runs: the manifest only names them).
    fn tool_dir(root: &Path, venv: bool) -> PathBuf {
        let bin = root.join("tools").join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let livekit = bin.join(if cfg!(windows) {
            "livekit-server.exe"
        } else {
            "livekit-server"
        });
        std::fs::write(&livekit, b"").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(
            &livekit,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        if venv {
            let venv = root.join("tools").join(greenroom_sandbox::agent::VENV_DIR);
            let python = if cfg!(windows) {
                venv.join("Scripts").join("python.exe")
            } else {
                venv.join("bin").join("python3")
            };
            std::fs::create_dir_all(python.parent().unwrap()).unwrap();
            std::fs::write(&python, b"").unwrap();
        }
        bin
    }

    #[test]
    fn marie_is_a_worker_of_the_sandbox_livekit_on_its_speech_services() {
        if std::env::var_os(greenroom_sandbox::agent::PYTHON_ENV).is_some() {
            return; // an interpreter named by the environment wins over the fake venv
        }
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let m = sandbox_manifest(&[tool_dir(root.path(), true)], &home);
        let marie = &m.services["marie"];
        assert!(marie.enabled, "{:?}", marie.description);
        assert_eq!(
            marie.description.as_deref(),
            Some("Marie, the reference LiveKit agent on livekit-agents 1.8.9 (automatic dispatch)")
        );
        assert!(marie.command.as_deref().unwrap().contains("venv-agent"));
        let script = home
            .join("sandbox")
            .join(greenroom_sandbox::agent::SCRIPT_NAME);
        assert_eq!(
            marie.args,
            ["-u", "-X", "utf8", &script.display().to_string(), "start"]
        );
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            greenroom_sandbox::agent::SCRIPT
        );
        let env = |k: &str| marie.env.get(k).map(String::as_str);
        assert_eq!(env("LIVEKIT_URL"), Some("ws://127.0.0.1:7880"));
        assert_eq!(env("LIVEKIT_API_KEY"), Some(SANDBOX_API_KEY));
        assert_eq!(env("LIVEKIT_API_SECRET"), Some(SANDBOX_API_SECRET));
        assert_eq!(env("GREENROOM_STT_URL"), Some("http://127.0.0.1:8002/v1"));
        assert_eq!(env("GREENROOM_LLM_URL"), Some("http://127.0.0.1:8001/v1"));
        assert_eq!(env("GREENROOM_LLM_MODEL"), Some("greenroom-offline-coach"));
        assert_eq!(env("GREENROOM_TTS_URL"), Some("http://127.0.0.1:5002/v1"));
        assert_eq!(env("GREENROOM_AGENT_NAME"), Some(""));
        assert_eq!(env("PYTHONIOENCODING"), Some("utf-8"));
        assert_eq!(env("ORT_DISABLE_TELEMETRY"), Some("1"));
        let mut deps: Vec<_> = marie.depends_on.entries();
        deps.sort_by(|a, b| a.0.cmp(&b.0));
        let healthy = greenroom_stack::manifest::Condition::Healthy;
        assert_eq!(
            deps,
            ["coach", "livekit", "stt", "tts"].map(|s| (s.to_owned(), healthy))
        );
        assert!(marie.ports.is_empty());
        assert_eq!(
            marie.probe.as_ref().map(|p| &p.check),
            Some(&ProbeCheck::Log {
                pattern: "registered worker".into()
            })
        );
        assert!(greenroom_stack::manifest::validate(&m).is_empty());
    }

    #[test]
    fn marie_without_her_virtualenv_is_disabled_with_what_installs_it() {
        if std::env::var_os(greenroom_sandbox::agent::PYTHON_ENV).is_some() {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let m = sandbox_manifest(&[tool_dir(root.path(), false)], &root.path().join("home"));
        let marie = &m.services["marie"];
        assert!(!marie.enabled);
        assert_eq!(
            marie.description.as_deref(),
            Some(
                "disabled: the agent virtualenv is not installed (tools/venv-agent; scripts/setup creates it)"
            )
        );
    }
}
