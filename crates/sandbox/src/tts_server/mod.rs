//! French speech behind the OpenAI speech API, from a local engine, so the sandbox's
//! coach has a voice with no key and no network.
//!
//! # Engine
//!
//! Chosen once, when the router is built ([`find_engine`]): `pico2wave` (SVOX Pico,
//! `-l fr-FR`, the more natural voice) when it is on the search path, else `espeak-ng`
//! (`-v fr`; on Windows also looked for in `%ProgramFiles%\eSpeak NG`, where its
//! installer puts it). [`EngineChoice`] can force one. The choice is logged and reported by
//! `/health`. With neither installed, [`router`] and [`serve`] fail at once with
//! [`TtsError::NoEngine`], which names both programs and says `apt install espeak-ng`.
//!
//! Every request runs the engine as its own child process, never through a shell: the
//! text goes in on stdin (never as an argument), the audio comes back on stdout
//! (espeak-ng) or in a file in a private temporary folder (pico2wave). A child still
//! running after [`TtsServerConfig::timeout`] is killed and the request fails. At most
//! [`TtsServerConfig::max_concurrent`] children run at once; further requests wait.
//!
//! # HTTP
//!
//! - `POST /v1/audio/speech` (also `/audio/speech`) — body `{"model"?: str, "input": str,
//!   "voice"?: str, "response_format"?: "wav" | "pcm", "speed"?: number}`; `instructions`
//!   and anything else are ignored, and so is an `Authorization` header.
//!   - `input`: 1 to [`MAX_INPUT_CHARS`] characters, not only whitespace. Control
//!     characters become spaces.
//!   - `response_format` (case ignored): `wav` (the default) → `200 audio/wav`, 16-bit
//!     mono PCM at the engine's own rate (22 050 Hz for espeak-ng, 16 000 Hz for
//!     pico2wave) with a correct header; `pcm` → `200 audio/pcm`, raw signed 16-bit
//!     little-endian mono at 24 000 Hz like OpenAI's `pcm`, resampled in Rust. `mp3`,
//!     `opus`, `aac`, `flac` or anything else → `400` naming the formats supported.
//!   - `speed`: 0.25 to 4.0 (default 1), espeak-ng's rate is 175 words per minute times
//!     `speed` (espeak-ng cannot go below 80); pico2wave has no rate and ignores it.
//!   - `voice`: for espeak-ng, OpenAI's voice names map to French variants (`alloy` → `fr`,
//!     `nova` → `fr+f2`, `onyx` → `fr+m1`, … see [`espeak_voice`]), `marie` → `fr+f3`,
//!     `thomas` → `fr+m3`; an espeak-ng voice can be named directly (`fr-be`, `fr+f4`,
//!     `f4`, `klatt`); anything else is the plain `fr` voice, logged at debug level, not
//!     an error. pico2wave has one French voice and ignores `voice`.
//!   - the response carries `x-tts-engine` and `x-sample-rate` headers.
//!   - errors are `{"error": {"message", "type", "param", "code"}}`: `400`
//!     (`invalid_request_error`) for a bad request, `500` (`server_error`) when the
//!     engine cannot start, fails (the message ends with its stderr, summarised), times
//!     out, or writes no audio.
//! - `GET /health` → `200 {"status": "healthy", "engine": "espeak-ng" | "pico2wave",
//!   "program": path, "formats": ["wav", "pcm"], "service": "greenroom-sandbox-tts"}`.

pub mod audio;

use audio::{Pcm16, WavError};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenroom_core::{Classified, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// The longest `input` accepted, in characters (OpenAI's limit).
pub const MAX_INPUT_CHARS: usize = 4096;

/// The sample rate of `pcm` responses.
pub const PCM_SAMPLE_RATE: u32 = 24_000;

/// espeak-ng's rate at `speed: 1`, in words per minute (its own default).
const ESPEAK_WPM: f64 = 175.0;

/// Which engine to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// pico2wave if installed, else espeak-ng.
    #[default]
    Auto,
    Pico2wave,
    EspeakNg,
}

/// The engine in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Pico2wave,
    EspeakNg,
}

impl EngineKind {
    /// The program's name, as looked up on the search path and reported by `/health`.
    pub fn program_name(self) -> &'static str {
        match self {
            Self::Pico2wave => "pico2wave",
            Self::EspeakNg => "espeak-ng",
        }
    }
}

/// A found engine: what it is and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub kind: EngineKind,
    pub program: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TtsServerConfig {
    pub engine: EngineChoice,
    /// Where to look for the engines (a `PATH`-style list); `None` is the process's `PATH`.
    pub search_path: Option<OsString>,
    /// How long one synthesis may take before its child is killed.
    pub timeout: Duration,
    /// How many engine children may run at once (at least one).
    pub max_concurrent: usize,
}

impl Default for TtsServerConfig {
    fn default() -> Self {
        Self {
            engine: EngineChoice::Auto,
            search_path: None,
            timeout: Duration::from_secs(30),
            max_concurrent: 2,
        }
    }
}

/// Everything that can go wrong, from finding an engine to answering a request.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error(
        "no speech engine: neither `pico2wave` nor `espeak-ng` is on the search path. \
         Install espeak-ng: `apt install espeak-ng` (scripts/setup installs it; on Windows, \
         install eSpeak NG and put espeak-ng.exe on PATH)"
    )]
    NoEngine,
    #[error(
        "`{0}` is not on the search path; install it, or let the server fall back to \
         espeak-ng: `apt install espeak-ng` (scripts/setup installs it)"
    )]
    EngineMissing(&'static str),
    #[error("the body is not valid JSON ({0}); send {{\"input\": \"…\", \"voice\": \"alloy\"}}")]
    InvalidJson(String),
    #[error("the request does not have the speech shape: {0}")]
    InvalidField(String),
    #[error("`input` is required: the text to speak")]
    MissingInput,
    #[error("`input` is empty: there is nothing to speak")]
    EmptyInput,
    #[error("`input` is {chars} characters long; the limit is {max}")]
    InputTooLong { chars: usize, max: usize },
    #[error(
        "response_format `{0}` is not supported by this server; it supports `wav` (the \
         default) and `pcm` (raw 16-bit mono at 24 kHz)"
    )]
    UnsupportedFormat(String),
    #[error("`speed` must be between 0.25 and 4.0, not {0}")]
    InvalidSpeed(f64),
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` failed ({status}): {stderr}")]
    EngineFailed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("`{program}` took longer than {}s and was killed", .after.as_secs_f32())]
    Timeout { program: String, after: Duration },
    #[error("`{program}` wrote audio this server cannot read: {source}")]
    BadAudio {
        program: String,
        #[source]
        source: WavError,
    },
    #[error("speech synthesis failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the speech server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

impl Classified for TtsError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidJson(_)
            | Self::InvalidField(_)
            | Self::MissingInput
            | Self::EmptyInput
            | Self::InputTooLong { .. }
            | Self::UnsupportedFormat(_)
            | Self::InvalidSpeed(_) => ErrorKind::InvalidInput,
            Self::NoEngine | Self::EngineMissing(_) | Self::Spawn { .. } | Self::Timeout { .. } => {
                ErrorKind::Unavailable
            }
            Self::EngineFailed { .. } | Self::BadAudio { .. } | Self::Io(_) | Self::Serve(_) => {
                ErrorKind::Internal
            }
        }
    }
}

impl TtsError {
    /// The OpenAI-style `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoEngine | Self::EngineMissing(_) => "engine_missing",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidField(_) => "invalid_request_body",
            Self::MissingInput | Self::EmptyInput => "missing_input",
            Self::InputTooLong { .. } => "input_too_long",
            Self::UnsupportedFormat(_) => "unsupported_response_format",
            Self::InvalidSpeed(_) => "invalid_speed",
            Self::Spawn { .. } => "engine_unavailable",
            Self::EngineFailed { .. } => "engine_failed",
            Self::Timeout { .. } => "engine_timeout",
            Self::BadAudio { .. } => "engine_bad_audio",
            Self::Io(_) | Self::Serve(_) => "internal_error",
        }
    }

    fn param(&self) -> Option<&'static str> {
        match self {
            Self::MissingInput | Self::EmptyInput | Self::InputTooLong { .. } => Some("input"),
            Self::UnsupportedFormat(_) => Some("response_format"),
            Self::InvalidSpeed(_) => Some("speed"),
            _ => None,
        }
    }
}

impl IntoResponse for TtsError {
    fn into_response(self) -> Response {
        let (status, kind) = if self.kind() == ErrorKind::InvalidInput {
            (StatusCode::BAD_REQUEST, "invalid_request_error")
        } else {
            tracing::warn!("sandbox TTS: {self}");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        };
        let body = json!({"error": {
            "message": self.to_string(),
            "type": kind,
            "param": self.param(),
            "code": self.code(),
        }});
        (status, Json(body)).into_response()
    }
}

/// Looks the engine up on the configured search path (see the module docs).
pub fn find_engine(config: &TtsServerConfig) -> Result<Engine, TtsError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let find = |kind: EngineKind| {
        let name = kind.program_name();
        let found = match &config.search_path {
            Some(path) => which::which_in(name, Some(path), &cwd).ok(),
            None => which::which(name).ok().or_else(|| {
                // The Windows installer of eSpeak NG does not put itself on PATH.
                windows_install_dirs()
                    .into_iter()
                    .find_map(|dir| which::which_in(name, Some(dir), &cwd).ok())
            }),
        };
        found.map(|program| Engine { kind, program })
    };
    match config.engine {
        EngineChoice::Auto => find(EngineKind::Pico2wave)
            .or_else(|| find(EngineKind::EspeakNg))
            .ok_or(TtsError::NoEngine),
        EngineChoice::Pico2wave => {
            find(EngineKind::Pico2wave).ok_or(TtsError::EngineMissing("pico2wave"))
        }
        EngineChoice::EspeakNg => {
            find(EngineKind::EspeakNg).ok_or(TtsError::EngineMissing("espeak-ng"))
        }
    }
}

/// Where the eSpeak NG installer puts `espeak-ng.exe` on Windows (nowhere elsewhere).
fn windows_install_dirs() -> Vec<PathBuf> {
    if !cfg!(windows) {
        return Vec::new();
    }
    ["ProgramFiles", "ProgramFiles(x86)", "ProgramW6432"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|base| PathBuf::from(base).join("eSpeak NG"))
        .collect()
}

/// The output formats, and the ones refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Wav,
    Pcm,
}

fn format(name: Option<&str>) -> Result<Format, TtsError> {
    match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("wav") => Ok(Format::Wav),
        Some("pcm") => Ok(Format::Pcm),
        Some(other) => Err(TtsError::UnsupportedFormat(
            other.chars().take(32).collect(),
        )),
    }
}

/// The espeak-ng voice for an OpenAI `voice` value, and whether it was recognised.
///
/// | `voice`                          | espeak-ng voice |
/// |----------------------------------|-----------------|
/// | absent, `alloy`                  | `fr`            |
/// | `nova`, `shimmer`, `coral`, `sage`, `marin`, `marie` | `fr+f2`, `fr+f4`, `fr+f3`, `fr+f1`, `fr+f5`, `fr+f3` |
/// | `onyx`, `echo`, `ash`, `fable`, `ballad`, `verse`, `cedar`, `thomas` | `fr+m1`, `fr+m3`, `fr+m2`, `fr+m5`, `fr+m4`, `fr+m6`, `fr+m7`, `fr+m3` |
/// | `fr`, `fr-fr`, `fr-be`, `fr-ch`, optionally `+variant` | as given |
/// | a variant alone (`f1`…`f5`, `m1`…`m8`, `klatt`…, `whisper`, `croak`) | `fr+variant` |
/// | anything else                    | `fr` (not recognised) |
pub fn espeak_voice(voice: Option<&str>) -> (String, bool) {
    const VARIANTS: &[&str] = &[
        "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt",
        "klatt2", "klatt3", "klatt4", "whisper", "croak",
    ];
    const LANGUAGES: &[&str] = &["fr", "fr-fr", "fr-be", "fr-ch"];
    let Some(v) = voice.map(|v| v.trim().to_ascii_lowercase()) else {
        return ("fr".into(), true);
    };
    let mapped = match v.as_str() {
        "" | "alloy" => Some("fr"),
        "nova" => Some("fr+f2"),
        "shimmer" => Some("fr+f4"),
        "coral" | "marie" => Some("fr+f3"),
        "sage" => Some("fr+f1"),
        "marin" => Some("fr+f5"),
        "onyx" => Some("fr+m1"),
        "echo" | "thomas" => Some("fr+m3"),
        "ash" => Some("fr+m2"),
        "fable" => Some("fr+m5"),
        "ballad" => Some("fr+m4"),
        "verse" => Some("fr+m6"),
        "cedar" => Some("fr+m7"),
        _ => None,
    };
    if let Some(m) = mapped {
        return (m.into(), true);
    }
    let (language, variant) = match v.split_once('+') {
        Some((l, var)) => (l, Some(var)),
        None if LANGUAGES.contains(&v.as_str()) => (v.as_str(), None),
        None => ("fr", Some(v.as_str())),
    };
    match (LANGUAGES.contains(&language), variant) {
        (true, None) => (language.to_string(), true),
        (true, Some(var)) if VARIANTS.contains(&var) => (format!("{language}+{var}"), true),
        _ => ("fr".into(), false),
    }
}

/// The text as the engine gets it: control characters (but line breaks) become spaces.
fn clean(input: &str) -> String {
    input
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// The last few lines of an engine's stderr, at most 300 characters.
fn summarise(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        return "(nothing on stderr)".into();
    }
    let mut out: String = tail.chars().take(300).collect();
    if out.len() < tail.len() {
        out.push('…');
    }
    out
}

/// Runs `command` with `input` on stdin; its stdout, once it exits successfully.
async fn run(
    mut command: Command,
    program: &str,
    input: &str,
    timeout: Duration,
) -> Result<Vec<u8>, TtsError> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| TtsError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let bytes = input.as_bytes();
    let work = async {
        let write = async {
            if let Some(mut stdin) = stdin {
                // An engine that exits early closes the pipe: its exit status says why.
                let _ = stdin.write_all(bytes).await;
                let _ = stdin.shutdown().await;
            }
        };
        // Both pipes are drained while the text goes in, so no pipe can fill up and stall.
        let read_out = async {
            let mut buf = Vec::new();
            if let Some(mut pipe) = stdout {
                let _ = pipe.read_to_end(&mut buf).await;
            }
            buf
        };
        let read_err = async {
            let mut buf = Vec::new();
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_end(&mut buf).await;
            }
            buf
        };
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok((status, out, err)) => {
            let status = status?;
            if status.success() {
                Ok(out)
            } else {
                Err(TtsError::EngineFailed {
                    program: program.to_string(),
                    status: status.to_string(),
                    stderr: summarise(&err),
                })
            }
        }
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(TtsError::Timeout {
                program: program.to_string(),
                after: timeout,
            })
        }
    }
}

/// Speaks `text` (French) with `engine`: mono 16-bit samples at the engine's rate.
/// `voice` and `speed` as in the module docs; `speed` is clamped to 0.25–4.0.
pub async fn synthesize(
    engine: &Engine,
    text: &str,
    voice: Option<&str>,
    speed: f64,
    timeout: Duration,
) -> Result<Pcm16, TtsError> {
    let text = clean(text);
    let name = engine.kind.program_name();
    let wav = match engine.kind {
        EngineKind::EspeakNg => {
            let (voice, known) = espeak_voice(voice);
            if !known {
                tracing::debug!(?voice, "sandbox TTS: unknown voice, speaking with `fr`");
            }
            let wpm = (ESPEAK_WPM * speed.clamp(0.25, 4.0))
                .round()
                .clamp(80.0, 700.0) as u32;
            let mut command = Command::new(&engine.program);
            greenroom_core::console::no_console_window(command.as_std_mut());
            // -b 1: the input is UTF-8 whatever the locale (Windows included).
            command.args([
                "-b",
                "1",
                "-v",
                &voice,
                "-s",
                &wpm.to_string(),
                "--stdout",
                "--stdin",
            ]);
            run(command, name, &text, timeout).await?
        }
        EngineKind::Pico2wave => {
            let dir = tempfile::Builder::new()
                .prefix("greenroom-tts-")
                .tempdir()?;
            let out = dir.path().join("speech.wav");
            let mut command = Command::new(&engine.program);
            greenroom_core::console::no_console_window(command.as_std_mut());
            command.args(["-l", "fr-FR", "-w"]).arg(&out);
            run(command, name, &text, timeout).await?;
            tokio::fs::read(&out).await?
        }
    };
    let pcm = audio::parse_wav(&wav).map_err(|source| TtsError::BadAudio {
        program: name.to_string(),
        source,
    })?;
    if pcm.samples.is_empty() {
        return Err(TtsError::EngineFailed {
            program: name.to_string(),
            status: "exit 0".into(),
            stderr: "it wrote no audio".into(),
        });
    }
    Ok(pcm)
}

struct AppState {
    engine: Engine,
    timeout: Duration,
    permits: Semaphore,
}

#[derive(Debug, Deserialize)]
struct SpeechRequest {
    input: Option<String>,
    voice: Option<String>,
    response_format: Option<String>,
    speed: Option<f64>,
}

fn parse(body: &[u8]) -> Result<(String, Option<String>, Format, f64), TtsError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| TtsError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(TtsError::InvalidField(
            "the body must be a JSON object".into(),
        ));
    }
    let request: SpeechRequest =
        serde_json::from_value(value).map_err(|e| TtsError::InvalidField(e.to_string()))?;
    let input = request.input.ok_or(TtsError::MissingInput)?;
    if input.trim().is_empty() {
        return Err(TtsError::EmptyInput);
    }
    let chars = input.chars().count();
    if chars > MAX_INPUT_CHARS {
        return Err(TtsError::InputTooLong {
            chars,
            max: MAX_INPUT_CHARS,
        });
    }
    let format = format(request.response_format.as_deref())?;
    let speed = request.speed.unwrap_or(1.0);
    if !(0.25..=4.0).contains(&speed) {
        return Err(TtsError::InvalidSpeed(speed));
    }
    Ok((input, request.voice, format, speed))
}

/// Finds the engine (failing at once if there is none, see [`find_engine`]) and builds
/// the router.
pub fn router(config: TtsServerConfig) -> Result<Router, TtsError> {
    let engine = find_engine(&config)?;
    tracing::info!(
        engine = engine.kind.program_name(),
        program = %engine.program.display(),
        "sandbox TTS: speaking French with {}",
        engine.kind.program_name()
    );
    let state = Arc::new(AppState {
        engine,
        timeout: config.timeout,
        permits: Semaphore::new(config.max_concurrent.max(1)),
    });
    Ok(Router::new()
        .route("/health", get(health))
        .route("/v1/audio/speech", post(speech))
        .route("/audio/speech", post(speech))
        .with_state(state))
}

/// Serves on `listener` until `shutdown` resolves. Fails before serving anything if no
/// engine is installed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: TtsServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), TtsError> {
    let router = router(config)?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(TtsError::Serve)
}

async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(json!({
        "status": "healthy",
        "service": "greenroom-sandbox-tts",
        "engine": state.engine.kind.program_name(),
        "program": state.engine.program.to_string_lossy(),
        "formats": ["wav", "pcm"],
    }))
}

async fn speech(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let (input, voice, format, speed) = match parse(&body) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let Ok(_permit) = state.permits.acquire().await else {
        return TtsError::Io(std::io::Error::other("the server is shutting down")).into_response();
    };
    let pcm = match synthesize(
        &state.engine,
        &input,
        voice.as_deref(),
        speed,
        state.timeout,
    )
    .await
    {
        Ok(pcm) => pcm,
        Err(e) => return e.into_response(),
    };
    let (bytes, content_type, rate) = match format {
        Format::Wav => (audio::encode_wav(&pcm), "audio/wav", pcm.sample_rate),
        Format::Pcm => {
            let resampled = audio::resample(&pcm, PCM_SAMPLE_RATE);
            (
                audio::pcm_bytes(&resampled.samples),
                "audio/pcm",
                PCM_SAMPLE_RATE,
            )
        }
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "x-tts-engine",
        HeaderValue::from_static(state.engine.kind.program_name()),
    );
    if let Ok(rate) = HeaderValue::from_str(&rate.to_string()) {
        headers.insert("x-sample-rate", rate);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_map_to_french_espeak_voices() {
        assert_eq!(espeak_voice(None), ("fr".into(), true));
        assert_eq!(espeak_voice(Some("Nova")), ("fr+f2".into(), true));
        assert_eq!(espeak_voice(Some("fr-be+m2")), ("fr-be+m2".into(), true));
        assert_eq!(espeak_voice(Some("klatt")), ("fr+klatt".into(), true));
        assert_eq!(espeak_voice(Some("fr-ch")), ("fr-ch".into(), true));
        assert_eq!(espeak_voice(Some("en-us")), ("fr".into(), false));
        assert_eq!(espeak_voice(Some("../../etc/passwd")), ("fr".into(), false));
        assert_eq!(espeak_voice(Some("fr+../x")), ("fr".into(), false));
    }

    #[test]
    fn requests_are_checked_before_any_engine_runs() {
        let code = |body: &str| parse(body.as_bytes()).err().map(|e| e.code());
        assert_eq!(code("nope"), Some("invalid_json"));
        assert_eq!(code("{}"), Some("missing_input"));
        assert_eq!(code(r#"{"input": "  "}"#), Some("missing_input"));
        assert_eq!(code(r#"{"input": 3}"#), Some("invalid_request_body"));
        assert_eq!(
            code(r#"{"input": "a", "response_format": "mp3"}"#),
            Some("unsupported_response_format")
        );
        assert_eq!(code(r#"{"input": "a", "response_format": "PCM"}"#), None);
        assert_eq!(code(r#"{"input": "a", "speed": 9}"#), Some("invalid_speed"));
        let long = format!(r#"{{"input": "{}"}}"#, "é".repeat(MAX_INPUT_CHARS + 1));
        assert_eq!(code(&long), Some("input_too_long"));
        let limit = format!(r#"{{"input": "{}"}}"#, "é".repeat(MAX_INPUT_CHARS));
        assert_eq!(code(&limit), None);
    }

    #[test]
    fn no_engine_names_both_programs_and_the_fix() {
        let empty = tempfile::tempdir().unwrap();
        let config = TtsServerConfig {
            search_path: Some(empty.path().as_os_str().to_owned()),
            ..TtsServerConfig::default()
        };
        let err = router(config.clone()).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let message = err.to_string();
        for needle in ["pico2wave", "espeak-ng", "apt install espeak-ng"] {
            assert!(message.contains(needle), "{message}");
        }
        let forced = TtsServerConfig {
            engine: EngineChoice::Pico2wave,
            ..config
        };
        let message = find_engine(&forced).err().unwrap().to_string();
        assert!(message.contains("`pico2wave`") && message.contains("apt install espeak-ng"));
    }

    #[test]
    fn stderr_is_summarised() {
        assert_eq!(summarise(b""), "(nothing on stderr)");
        assert_eq!(summarise(b"a\n\nb\nc\nd\n"), "b | c | d");
        assert!(summarise("x".repeat(1000).as_bytes()).chars().count() <= 301);
    }
}
