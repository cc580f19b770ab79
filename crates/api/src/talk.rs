//! Talking to Marie from any front: the API side of [`greenroom_talk`].
//!
//! One talk at a time per Greenroom. [`Api::talk_start`] opens the input (the microphone
//! Settings or the request names, or a WAV file played as a script), the output (a
//! speaker, or none: a silent output that keeps what Marie said), resolves the three
//! services ([`Api::talk_endpoints`]) and starts the session; its events follow on
//! `talk://<session>` ([`ApiEvent::Talk`]). [`Api::talk_run`] does the same and waits for
//! the report: the CLI's `greenroom talk --input` and the test engine use it.
//!
//! **Where the services are** (first match wins, per service):
//! 1. the request's own URLs (`--stt-url`, `--llm-url`, `--tts-url`);
//! 2. Settings (`talk_stt_url`, `talk_llm_url`, `talk_llm_model`, `talk_tts_url`;
//!    `talk_token_url` for LiveKit mode's token service);
//! 3. for the conversation, a Mistral key in Settings: Mistral's API
//!    (`https://api.mistral.ai/v1`, model `mistral-small-latest`), with that key;
//! 4. the stack's service of a known name (`vosk-stt`/`stt`, `mistral-conversation`/
//!    `coach`, `tts`/`openai-tts`), at its published port on 127.0.0.1;
//! 5. the ports Eloquence and the sandbox share on 127.0.0.1: speech-to-text on 8002
//!    (`/transcribe`, the Vosk shape: the team's `vosk-stt` or the sandbox's Whisper),
//!    the conversation on 8001 (`/v1`: the team's `mistral-conversation` or the sandbox's
//!    offline coach), text-to-speech on 5002 (`/v1/audio/speech`: the sandbox's
//!    espeak-ng, or any OpenAI-compatible TTS).
//!
//! **LiveKit mode** (`mode: livekit`): Marie is the agent in a LiveKit room, as the Flutter
//! app meets her ([`Api::talk_link`]). The server is [`Api::livekit_target`]. The room
//! (`request.room`, else a new `greenroom-talk-<session>`) gets the exercise as metadata
//! ([`greenroom_talk::livekit::room_metadata`]):
//! - automatic dispatch (no `agent`): the room is created with that metadata (unless it
//!   exists: "Talk here" joins a room the app opened), and the token comes from the
//!   stack's token service (`POST /generate-token {room_name, participant_name, metadata}`,
//!   as the app calls it); when that fails, one is minted with the stack's keys and a
//!   notice says so;
//! - explicit dispatch (`agent: NAME`): a minted token whose room configuration carries the
//!   metadata and the agent to dispatch (the token service cannot carry one).
//!
//! **Recordings.** With `record`, a session is kept in `<home>/talk/<session>/`:
//! `learner.wav`, `marie.wav`, `transcript.json` (`greenroom.talk-session/1`) and
//! `session.json` (the report, `greenroom.talk/1`). [`Api::talk_export`] copies one folder
//! where the user wants it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use greenroom_core::{EventSink, lock_unpoisoned};
use greenroom_talk::events::{NoticeLevel, TalkEvent, TalkReport, TalkState};
use greenroom_talk::livekit::{Dispatch, LivekitLink};
use greenroom_talk::services::{
    ApiKey, ChatEndpoint, Endpoints, EndpointsView, SttEndpoint, SttShape, Timeouts, TtsEndpoint,
};
use greenroom_talk::session::{
    DirectPipeline, ReplyStrategy, TalkConfig, TalkControl, TalkSession,
};
use greenroom_talk::{Catalog, Character, Exercise};
use greenroom_voice::device::{DeviceChoice, DeviceList, OpenOptions};
use greenroom_voice::vad::{VadConfig, VadMode};
use greenroom_voice::{AudioIn, AudioOut, RecordingOutput};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Api, ApiError, ApiEvent};

/// The ports Eloquence's services and the sandbox's stand-ins share.
pub const STT_PORT: u16 = 8002;
pub const LLM_PORT: u16 = 8001;
pub const TTS_PORT: u16 = 5002;
pub const MISTRAL_BASE_URL: &str = "https://api.mistral.ai/v1";
pub const MISTRAL_MODEL: &str = "mistral-small-latest";
/// The model name Eloquence's `mistral-conversation` expects (the offline coach ignores it).
pub const ELOQUENCE_MODEL: &str = "mistral-nemo-instruct-2407";
/// Eloquence's token service port.
pub const TOKEN_SERVICE_PORT: u16 = 8004;
/// The stack services that run Marie's agent: the sandbox's, and Eloquence's.
pub const AGENT_SERVICES: &[&str] = &["marie", "livekit-agent", "eloquence-agent", "agent"];

/// Asks Eloquence's token service for a token, as the Flutter app does.
async fn request_token(
    base: &str,
    room: &str,
    identity: &str,
    metadata: &serde_json::Value,
) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let body = serde_json::json!({
        "room_name": room,
        "participant_name": identity,
        "participant_identity": identity,
        "metadata": metadata,
        "grants": {"canPublish": true, "canSubscribe": true, "canPublishData": true},
    });
    let response = client
        .post(format!("{base}/generate-token"))
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                "nothing answers there".to_string()
            } else if e.is_timeout() {
                "no answer within 3 s".to_string()
            } else {
                greenroom_core::redact_tokens(&e.to_string())
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("an answer that is not JSON ({e})"))?;
    answer["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "an answer without a token".to_string())
}

/// Where the learner's voice comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TalkInput {
    /// A microphone (`None`: the default, followed when it changes).
    Device { id: Option<String> },
    /// A WAV file whose utterances are separated by silence, played as if spoken.
    File { path: String },
}

/// Where Marie's voice goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TalkOutput {
    Device {
        id: Option<String>,
    },
    /// Nowhere: nothing plays (scripted runs on a machine without a speaker).
    Silent,
}

/// Service addresses that override the resolved ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct TalkServiceOverrides {
    pub stt_url: Option<String>,
    /// `vosk` or `open_ai`; guessed from the URL when absent (`…/audio/transcriptions` is OpenAI).
    pub stt_shape: Option<SttShape>,
    pub llm_url: Option<String>,
    pub llm_model: Option<String>,
    pub tts_url: Option<String>,
    /// LiveKit mode: Eloquence's token service (`…` before `/generate-token`).
    #[ts(optional)]
    pub token_url: Option<String>,
}

/// How Greenroom reaches Marie.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TalkMode {
    /// Our own STT → LLM → TTS pipeline on the stack's services.
    #[default]
    Direct,
    /// Marie's agent in a LiveKit room, over WebRTC.
    Livekit,
}

impl std::str::FromStr for TalkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Ok(TalkMode::Direct),
            "livekit" => Ok(TalkMode::Livekit),
            other => Err(format!(
                "unknown mode {other:?}: say direct (STT → LLM → TTS) or livekit (Marie's agent in a room)"
            )),
        }
    }
}

/// What `talk_start` / `talk_run` are asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkRequest {
    /// An exercise id of the catalogue (`None`: Conversation libre).
    pub exercise: Option<String>,
    pub input: TalkInput,
    pub output: TalkOutput,
    pub push_to_talk: bool,
    /// 200 ..= 2,000 ms (default 800).
    pub end_of_speech_ms: Option<u32>,
    /// Keep the session in `<home>/talk/<session>/`.
    pub record: bool,
    /// Record there instead (a new or empty folder).
    pub record_dir: Option<String>,
    /// Marie says the exercise's opening line first (default: yes).
    pub speak_opening: Option<bool>,
    /// Speak the reply once it is whole, not sentence by sentence (a benchmark baseline).
    pub wait_for_whole_reply: bool,
    #[ts(type = "number | null")]
    pub seed: Option<i64>,
    pub max_turns: Option<u32>,
    pub services: TalkServiceOverrides,
    /// Direct (the default) or through LiveKit.
    #[serde(default)]
    #[ts(optional)]
    pub mode: Option<TalkMode>,
    /// LiveKit mode: the room to join (`None`: a new one).
    #[serde(default)]
    #[ts(optional)]
    pub room: Option<String>,
    /// LiveKit mode: dispatch the agent of this name (explicit dispatch); `None`: automatic.
    #[serde(default)]
    #[ts(optional)]
    pub agent: Option<String>,
    /// LiveKit mode: how long the agent may take to join, in ms (default 10,000).
    #[serde(default)]
    #[ts(optional)]
    pub agent_timeout_ms: Option<u32>,
}

impl Default for TalkRequest {
    fn default() -> Self {
        Self {
            exercise: None,
            input: TalkInput::Device { id: None },
            output: TalkOutput::Device { id: None },
            push_to_talk: false,
            end_of_speech_ms: None,
            record: true,
            record_dir: None,
            speak_opening: None,
            wait_for_whole_reply: false,
            seed: None,
            max_turns: None,
            services: TalkServiceOverrides::default(),
            mode: None,
            room: None,
            agent: None,
            agent_timeout_ms: None,
        }
    }
}

/// A talk that started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkStarted {
    pub session: String,
    pub exercise: Exercise,
    pub character: Character,
    pub endpoints: EndpointsView,
    pub record_dir: Option<String>,
    pub mode: TalkMode,
    /// LiveKit mode: the room joined.
    pub room: Option<String>,
}

/// What a front can do to a running talk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TalkAction {
    /// Voice detection (`false`) or push-to-talk (`true`), at any time.
    PushToTalk {
        enabled: bool,
    },
    /// The push-to-talk key went down (`true`) or up.
    Key {
        held: bool,
    },
    EndOfSpeech {
        ms: u32,
    },
    /// Stop Marie now.
    Interrupt,
    Stop,
}

/// The catalogue and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkCatalogView {
    pub catalog: Catalog,
    /// The file in use; `None` for the built-in catalogue.
    pub file: Option<String>,
    /// The file the team edits (it may not exist yet).
    pub editable_file: String,
    /// Why the file was not used (`file:line: …`), when it was not.
    pub problem: Option<String>,
    /// Said where a coach picks the local speech-to-text.
    pub local_stt_note: String,
}

/// The talk in progress, or the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkSnapshot {
    pub session: String,
    pub running: bool,
    pub state: TalkState,
    pub exercise: String,
    /// The turns so far (a screen that opens mid-talk shows them).
    pub turns: Vec<greenroom_talk::TurnReport>,
    pub report: Option<TalkReport>,
    pub mode: TalkMode,
    /// LiveKit mode: the `room` and `agent` events so far, in order (a screen that opens
    /// mid-talk replays them).
    pub link_events: Vec<TalkEvent>,
}

/// A recorded session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkSessionEntry {
    pub session: String,
    pub dir: String,
    pub exercise: String,
    #[ts(type = "number")]
    pub started_unix_ms: u64,
    pub turns: u32,
    pub time_to_first_audio_p50_ms: Option<f64>,
}

struct Current {
    session: String,
    exercise: String,
    mode: TalkMode,
    link_events: Arc<Mutex<Vec<TalkEvent>>>,
    control: TalkControl,
    state: Arc<Mutex<TalkState>>,
    turns: Arc<Mutex<Vec<greenroom_talk::TurnReport>>>,
    report: Arc<Mutex<Option<TalkReport>>>,
}

#[derive(Default)]
pub(crate) struct TalkApiState {
    current: Mutex<Option<Current>>,
    /// One start at a time: two fronts pressing Start together get one talk and one error.
    starting: tokio::sync::Mutex<()>,
}

/// Forwards a session's events to the API's emitter and keeps its state.
struct Forward {
    session: String,
    emitter: Arc<crate::Emitter>,
    state: Arc<Mutex<TalkState>>,
    turns: Arc<Mutex<Vec<greenroom_talk::TurnReport>>>,
    link_events: Arc<Mutex<Vec<TalkEvent>>>,
}

impl EventSink<TalkEvent> for Forward {
    fn emit(&self, event: TalkEvent) {
        match &event {
            TalkEvent::State { state, .. } => *lock_unpoisoned(&self.state) = *state,
            TalkEvent::Turn { turn } => lock_unpoisoned(&self.turns).push(turn.clone()),
            TalkEvent::Room { .. } | TalkEvent::Agent { .. } => {
                lock_unpoisoned(&self.link_events).push(event.clone())
            }
            _ => {}
        }
        self.emitter.emit(ApiEvent::Talk {
            session: self.session.clone(),
            event,
        });
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid_input(message)
}

/// Reads a WAV file as a learner who takes turns: its utterances (cut at pauses) are said
/// one by one, each once the previous turn has ended and Marie is silent.
fn scripted_input(
    path: &Path,
    turns_done: Arc<std::sync::atomic::AtomicUsize>,
    output: Arc<dyn AudioOut>,
) -> Result<(greenroom_talk::script::Learner, usize), ApiError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ApiError::new(
            crate::ErrorCode::NotFound,
            format!(
                "cannot read the input {}: {e}; give a WAV file (mono or stereo, any rate)",
                path.display()
            ),
        )
    })?;
    let (samples, rate) = greenroom_talk::clients::decode_wav(&bytes).map_err(|e| {
        bad(format!(
            "{} is not a WAV file Greenroom can read ({e}); convert it, e.g. `sox in.mp3 -r 16000 -c 1 out.wav`",
            path.display()
        ))
    })?;
    let utterances = greenroom_talk::script::split_utterances(&samples, rate).map_err(|e| {
        bad(format!(
            "{} cannot be cut into utterances: {e}",
            path.display()
        ))
    })?;
    if utterances.is_empty() {
        return Err(bad(format!(
            "{} holds no speech that the end-of-speech detector hears; record the utterances louder",
            path.display()
        )));
    }
    let count = utterances.len();
    let cued = utterances
        .into_iter()
        .enumerate()
        .map(|(k, u)| (greenroom_talk::script::Cue::AfterTurns(k), u))
        .collect();
    Ok((
        greenroom_talk::script::Learner::new(cued, turns_done, output, count),
        count,
    ))
}

/// True for `http(s)://` URLs whose host is 127.0.0.0/8, `localhost` or `[::1]`.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn session_id() -> String {
    // YYYYMMDD-HHMMSS-mmm in UTC, sortable and safe in a file name.
    let ms = greenroom_core::unix_millis();
    let (y, m, d, h, mi, s) = greenroom_core::clock::utc_civil(ms);
    format!("{y:04}{m:02}{d:02}-{h:02}{mi:02}{s:02}-{:03}", ms % 1000)
}

impl Api {
    fn talk_dir(&self) -> PathBuf {
        self.home.root().join("talk")
    }

    fn talk_catalog_file(&self) -> PathBuf {
        self.home.root().join("talk-catalog.toml")
    }

    /// The characters and exercises (the team's file when it is valid, else the built-in).
    pub async fn talk_catalog(&self) -> Result<TalkCatalogView, ApiError> {
        let file = self.talk_catalog_file();
        let loaded = greenroom_talk::load_or_default(Some(&file));
        Ok(TalkCatalogView {
            catalog: loaded.catalog,
            file: loaded.file.map(|f| f.display().to_string()),
            editable_file: file.display().to_string(),
            problem: loaded.problem.map(|p| p.to_string()),
            local_stt_note: greenroom_sandbox::stt::LANGUAGE_NOTE.to_string(),
        })
    }

    /// The sound devices, with the defaults.
    pub async fn talk_devices(&self) -> Result<DeviceList, ApiError> {
        tokio::task::spawn_blocking(greenroom_voice::device::list_devices)
            .await
            .map_err(|e| ApiError::internal(format!("listing the sound devices failed: {e}")))
    }

    /// Where the three services are (see the module's documentation), keys hidden.
    pub async fn talk_endpoints(&self) -> Result<EndpointsView, ApiError> {
        Ok(self
            .resolve_talk_endpoints(&TalkServiceOverrides::default())
            .await
            .1)
    }

    /// The published port of the stack's service named like one of `names`, if any.
    fn stack_port(stack: Option<&crate::StackView>, names: &[&str]) -> Option<u16> {
        stack?
            .status
            .services
            .iter()
            .filter(|s| s.state != crate::ServiceState::Disabled)
            .find(|s| names.contains(&s.id.as_str()))?
            .ports
            .iter()
            .find_map(|p| {
                let digits: String = p
                    .rsplit(':')
                    .next()?
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
    }

    async fn resolve_talk_endpoints(
        &self,
        overrides: &TalkServiceOverrides,
    ) -> (Endpoints, EndpointsView) {
        let settings = crate::settings::load(&self.home.settings_file()).settings;
        // The stack's services, read once for the three.
        let stack = self.stack_status().await.ok();
        let local = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
        // Each service: the request, Settings, the stack's service of that name, the port
        // Eloquence and the sandbox share.
        let pick = |given: &Option<String>,
                    set: &Option<String>,
                    names: &[&str],
                    port: u16,
                    path: &str| {
            if let Some(url) = given {
                return (url.clone(), "the request");
            }
            if let Some(url) = set {
                return (url.clone(), "Settings");
            }
            match Self::stack_port(stack.as_ref(), names) {
                Some(p) => (local(p, path), "the stack"),
                None => (local(port, path), "the default port"),
            }
        };
        let (stt_url, stt_origin) = pick(
            &overrides.stt_url,
            &settings.talk_stt_url,
            &["vosk-stt", "stt", "whisper", "speech-to-text"],
            STT_PORT,
            "/transcribe",
        );
        let stt_shape =
            overrides
                .stt_shape
                .unwrap_or(if stt_url.contains("/audio/transcriptions") {
                    SttShape::OpenAi
                } else {
                    SttShape::Vosk
                });
        let mistral = settings.mistral_api_key.as_deref().and_then(ApiKey::new);
        let given_llm = overrides.llm_url.clone().or(settings.talk_llm_url.clone());
        let (llm_url, llm_origin, llm_model) = match (&given_llm, &mistral) {
            (None, Some(_)) => (
                MISTRAL_BASE_URL.to_string(),
                "Mistral (a key is set)",
                MISTRAL_MODEL,
            ),
            _ => {
                let (url, origin) = pick(
                    &overrides.llm_url,
                    &settings.talk_llm_url,
                    &["mistral-conversation", "mistral", "coach", "llm"],
                    LLM_PORT,
                    "/v1",
                );
                (url, origin, ELOQUENCE_MODEL)
            }
        };
        let (tts_url, tts_origin) = pick(
            &overrides.tts_url,
            &settings.talk_tts_url,
            &["tts", "openai-tts", "text-to-speech"],
            TTS_PORT,
            "/v1",
        );
        let endpoints = Endpoints {
            stt: SttEndpoint {
                shape: stt_shape,
                url: stt_url,
                api_key: None,
                model: "whisper-1".into(),
                language: None,
            },
            chat: ChatEndpoint {
                // The Mistral key goes to Mistral and to other remote hosts (Scaleway's
                // endpoint), never to a service on this machine: mistral-conversation and
                // the offline coach have their own keys, and a key sent where it is not
                // needed is a key that can leak.
                api_key: mistral.filter(|_| !is_loopback_url(&llm_url)),
                base_url: llm_url,
                model: overrides
                    .llm_model
                    .clone()
                    .or(settings.talk_llm_model.clone())
                    .unwrap_or_else(|| llm_model.to_string()),
                temperature: 0.7,
                max_tokens: 150,
            },
            tts: TtsEndpoint {
                base_url: tts_url,
                api_key: None,
                model: "tts-1".into(),
            },
            timeouts: Timeouts::default(),
        };
        let view = endpoints.view_from([stt_origin, llm_origin, tts_origin]);
        (endpoints, view)
    }

    /// Starts a talk (see the module's documentation); `talk://<session>` events follow.
    pub async fn talk_start(&self, request: TalkRequest) -> Result<TalkStarted, ApiError> {
        let (started, session) = self.start_talk(request).await?;
        let report_slot = {
            let current = lock_unpoisoned(&self.talk.current);
            current.as_ref().map(|c| c.report.clone())
        };
        tokio::spawn(async move {
            let report = session.finished().await;
            if let Some(slot) = report_slot {
                *lock_unpoisoned(&slot) = Some(report);
            }
        });
        Ok(started)
    }

    /// Runs a talk to its end and returns its report (`greenroom talk --input`).
    pub async fn talk_run(&self, request: TalkRequest) -> Result<TalkReport, ApiError> {
        let (_, session) = self.start_talk(request).await?;
        let report = session.finished().await;
        if let Some(current) = lock_unpoisoned(&self.talk.current).as_ref() {
            *lock_unpoisoned(&current.report) = Some(report.clone());
        }
        Ok(report)
    }

    async fn start_talk(
        &self,
        request: TalkRequest,
    ) -> Result<(TalkStarted, TalkSession), ApiError> {
        let _one_at_a_time = self.talk.starting.lock().await;
        {
            let current = lock_unpoisoned(&self.talk.current);
            if let Some(c) = current.as_ref()
                && lock_unpoisoned(&c.report).is_none()
            {
                return Err(bad(format!(
                    "a talk is already running (session {}); stop it first",
                    c.session
                )));
            }
        }
        let catalog = greenroom_talk::load_or_default(Some(&self.talk_catalog_file())).catalog;
        let (exercise, character) = catalog
            .pick(request.exercise.as_deref())
            .map(|(e, c)| (e.clone(), c.clone()))
            .map_err(bad)?;
        let vad = match request.end_of_speech_ms {
            Some(ms) => VadConfig::with_delay_ms(ms).map_err(ApiError::of)?,
            None => VadConfig::default(),
        };
        let vad = VadConfig {
            mode: if request.push_to_talk {
                VadMode::PushToTalk
            } else {
                VadMode::Auto
            },
            ..vad
        };
        let session = session_id();
        let record_dir = match (&request.record_dir, request.record) {
            (Some(dir), _) => Some(PathBuf::from(dir)),
            (None, true) => Some(self.talk_dir().join(&session)),
            (None, false) => None,
        };
        let state = Arc::new(Mutex::new(TalkState::Idle));
        let turns = Arc::new(Mutex::new(Vec::new()));
        let link_events = Arc::new(Mutex::new(Vec::new()));
        let forward = Arc::new(Forward {
            session: session.clone(),
            emitter: self.emitter.clone(),
            state: state.clone(),
            turns: turns.clone(),
            link_events: link_events.clone(),
        });
        let notices = {
            let forward = forward.clone();
            OpenOptions {
                on_notice: Some(Arc::new(
                    move |n: &greenroom_voice::device::DeviceNotice| {
                        forward.emit(TalkEvent::Notice {
                            level: NoticeLevel::Warning,
                            message: n.message(),
                            service: None,
                        })
                    },
                )),
                ..OpenOptions::default()
            }
        };
        let turns_done: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        // The microphone first: without a sound server, "no microphone" is what a coach
        // needs to hear (the speaker's error would say the same thing less usefully).
        let microphone = match &request.input {
            TalkInput::Device { id } => {
                let choice = id.clone().map_or(DeviceChoice::Default, DeviceChoice::Id);
                let options = notices.clone();
                // Opening a device can take seconds (a sound server waking up): not on the
                // async runtime's threads.
                let microphone = tokio::task::spawn_blocking(move || {
                    greenroom_voice::device::Microphone::open_with(choice, options)
                })
                .await
                .map_err(|e| ApiError::internal(format!("opening the microphone failed: {e}")))?
                .map_err(ApiError::of)?;
                Some(microphone)
            }
            TalkInput::File { .. } => None,
        };
        let output: Arc<dyn AudioOut> = match &request.output {
            TalkOutput::Silent => Arc::new(RecordingOutput::new()),
            TalkOutput::Device { id } => {
                let choice = id.clone().map_or(DeviceChoice::Default, DeviceChoice::Id);
                let options = notices.clone();
                let speaker = tokio::task::spawn_blocking(move || {
                    greenroom_voice::device::Speaker::open_with(choice, options)
                })
                .await
                .map_err(|e| ApiError::internal(format!("opening the speaker failed: {e}")))?
                .map_err(ApiError::of)?;
                Arc::new(speaker)
            }
        };
        let scripted = microphone.is_none();
        let input: Box<dyn AudioIn> = match (microphone, &request.input) {
            (Some(microphone), _) => Box::new(microphone),
            (None, TalkInput::File { path }) => {
                // The learner waits for Marie: it watches the output and the turn count.
                let (learner, _) =
                    scripted_input(Path::new(path), turns_done.clone(), output.clone())?;
                Box::new(learner)
            }
            (None, TalkInput::Device { .. }) => {
                return Err(ApiError::internal("the microphone was not opened"));
            }
        };
        let (endpoints, view) = self.resolve_talk_endpoints(&request.services).await;
        let mut pipeline = DirectPipeline::new(&endpoints, "");
        pipeline.view = view;
        let mut config = TalkConfig::new(exercise.clone(), character.clone());
        config.vad = vad;
        config.reply = if request.wait_for_whole_reply {
            ReplyStrategy::WholeReply
        } else {
            ReplyStrategy::FirstSentence
        };
        config.seed = request.seed;
        config.speak_opening = request.speak_opening.unwrap_or(true);
        config.hold_input_during_opening = scripted;
        config.record_dir = record_dir.clone();
        config.max_turns = request.max_turns;
        config.turns_done = turns_done;
        let mode = request.mode.unwrap_or_default();
        let (talk, room) = match mode {
            TalkMode::Direct => (
                TalkSession::start(config, pipeline.clone(), input, output, forward)
                    .map_err(ApiError::of)?,
                None,
            ),
            TalkMode::Livekit => {
                config.mode = "livekit".into();
                let (link, warnings) = self
                    .talk_link(&request, &exercise, &character, &session)
                    .await?;
                for warning in warnings {
                    forward.emit(TalkEvent::Notice {
                        level: NoticeLevel::Warning,
                        message: warning,
                        service: None,
                    });
                }
                let room = link.room.clone();
                (
                    TalkSession::start_livekit(config, link, input, output, forward)
                        .map_err(ApiError::of)?,
                    Some(room),
                )
            }
        };
        *lock_unpoisoned(&self.talk.current) = Some(Current {
            session: session.clone(),
            exercise: exercise.id.clone(),
            mode,
            link_events,
            control: talk.control(),
            state,
            turns,
            report: Arc::new(Mutex::new(None)),
        });
        Ok((
            TalkStarted {
                session,
                exercise,
                character,
                endpoints: pipeline.view,
                record_dir: record_dir.map(|d| d.display().to_string()),
                mode,
                room,
            },
            talk,
        ))
    }

    /// Everything LiveKit mode needs to join (see the module's documentation), with the
    /// warnings a coach should read (a token service that failed).
    pub async fn talk_link(
        &self,
        request: &TalkRequest,
        exercise: &Exercise,
        character: &Character,
        session: &str,
    ) -> Result<(LivekitLink, Vec<String>), ApiError> {
        use greenroom_livekit::room_service;
        let target = self.livekit_target();
        let room = match request.room.as_deref().map(str::trim) {
            Some("") => {
                return Err(bad(
                    "the room name is empty; give one, or none for a new room",
                ));
            }
            Some(r) => r.to_string(),
            None => format!("greenroom-talk-{session}"),
        };
        let identity = format!("coach-{session}");
        let metadata = greenroom_talk::livekit::room_metadata(character, exercise);
        let dispatch = match request.agent.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => Dispatch::Explicit(name.to_string()),
            _ => Dispatch::Automatic,
        };
        let unreachable = |e: room_service::RoomsError| {
            ApiError::of(e).with_context(&format!(
                "LiveKit at {} ({}); start the stack (`greenroom up`) or set the server in Settings",
                target.url, target.origin
            ))
        };
        let existing = room_service::list_rooms(&target)
            .await
            .map_err(unreachable)?
            .into_iter()
            .any(|r| r.name == room);
        let mut warnings = Vec::new();
        // The stack's status, read once for the token service's port and the hints.
        let stack = self.stack_status().await.ok();
        let (token, token_source) = match &dispatch {
            Dispatch::Explicit(name) => {
                let options = room_service::TokenOptions {
                    agents: vec![(name.clone(), metadata.to_string())],
                    room_metadata: Some(metadata.to_string()),
                    ttl: Some(std::time::Duration::from_secs(6 * 3600)),
                    ..room_service::TokenOptions::participant()
                };
                let token = room_service::token(&target, &room, &identity, &options)
                    .map_err(ApiError::of)?;
                if existing {
                    warnings.push(format!(
                        "room {room} exists already: a token's room configuration (which dispatches {name}) applies only when its join creates the room"
                    ));
                }
                (
                    token,
                    "minted with the stack's keys (explicit dispatch rides in the token's room configuration, which the token service cannot carry)".to_string(),
                )
            }
            Dispatch::Automatic => {
                if !existing {
                    room_service::create_room(&target, &room, &metadata.to_string(), 120)
                        .await
                        .map_err(unreachable)?;
                }
                let service = self.token_service_url(&request.services, stack.as_ref());
                match request_token(&service, &room, &identity, &metadata).await {
                    Ok(token) => (token, format!("token service at {service}")),
                    Err(why) => {
                        let options = room_service::TokenOptions {
                            ttl: Some(std::time::Duration::from_secs(6 * 3600)),
                            ..room_service::TokenOptions::participant()
                        };
                        let token = room_service::token(&target, &room, &identity, &options)
                            .map_err(ApiError::of)?;
                        warnings.push(format!(
                            "the token service at {service} failed ({why}); Greenroom minted a token with the stack's keys instead. The Flutter app would fail here: start the token service (Stack › Up)"
                        ));
                        (
                            token,
                            format!(
                                "minted with the stack's keys (the token service at {service} failed: {why})"
                            ),
                        )
                    }
                }
            }
        };
        let mut link = LivekitLink::new(&target.url, &token, &room);
        link.token_source = token_source;
        link.dispatch = dispatch;
        link.room_existed = existing;
        if let Some(ms) = request.agent_timeout_ms {
            link.agent_timeout =
                std::time::Duration::from_millis(u64::from(ms.clamp(500, 600_000)));
        }
        link.hints = Self::agent_hints(stack.as_ref());
        Ok((link, warnings))
    }

    /// The token service: the request's, Settings', the stack's published port, else
    /// Eloquence's 8004.
    fn token_service_url(
        &self,
        overrides: &TalkServiceOverrides,
        stack: Option<&crate::StackView>,
    ) -> String {
        let settings = crate::settings::load(&self.home.settings_file()).settings;
        if let Some(url) = overrides.token_url.clone().or(settings.talk_token_url) {
            return url.trim_end_matches('/').to_string();
        }
        let port = Self::stack_port(stack, &["token-service", "livekit-token-service", "token"])
            .unwrap_or(TOKEN_SERVICE_PORT);
        format!("http://127.0.0.1:{port}")
    }

    /// What the stack says about its agent services, for a missing agent's explanation.
    fn agent_hints(stack: Option<&crate::StackView>) -> Vec<String> {
        let Some(stack) = stack else {
            return vec![
                "Greenroom cannot read the stack's status, so it cannot tell whether an agent runs"
                    .into(),
            ];
        };
        let agents: Vec<_> = stack
            .status
            .services
            .iter()
            .filter(|s| AGENT_SERVICES.contains(&s.id.as_str()))
            .collect();
        if agents.is_empty() {
            return vec![format!(
                "the stack has no agent service (looked for {}): run Marie's agent yourself, or use the sandbox stack",
                AGENT_SERVICES.join(", ")
            )];
        }
        agents
            .into_iter()
            .filter(|s| !s.state.is_healthy())
            .map(|s| {
                let why = if s.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.message)
                };
                format!("the stack's agent service {} is {:?}{why}", s.id, s.state).to_lowercase()
            })
            .collect()
    }

    /// Steers the talk in progress.
    pub async fn talk_control(&self, action: TalkAction) -> Result<(), ApiError> {
        let current = lock_unpoisoned(&self.talk.current);
        let Some(c) = current
            .as_ref()
            .filter(|c| lock_unpoisoned(&c.report).is_none())
        else {
            return Err(ApiError::new(
                crate::ErrorCode::NotFound,
                "no talk is running; start one first",
            ));
        };
        match action {
            TalkAction::PushToTalk { enabled } => c.control.set_mode(if enabled {
                VadMode::PushToTalk
            } else {
                VadMode::Auto
            }),
            TalkAction::Key { held } => c.control.set_key_held(held),
            TalkAction::EndOfSpeech { ms } => c
                .control
                .set_end_of_speech_delay(ms)
                .map_err(ApiError::of)?,
            TalkAction::Interrupt => c.control.interrupt(),
            TalkAction::Stop => c.control.stop(),
        }
        Ok(())
    }

    /// The talk in progress, or the last one.
    pub async fn talk_current(&self) -> Result<Option<TalkSnapshot>, ApiError> {
        let current = lock_unpoisoned(&self.talk.current);
        Ok(current.as_ref().map(|c| {
            let report = lock_unpoisoned(&c.report).clone();
            TalkSnapshot {
                session: c.session.clone(),
                running: report.is_none(),
                state: *lock_unpoisoned(&c.state),
                exercise: c.exercise.clone(),
                turns: lock_unpoisoned(&c.turns).clone(),
                report,
                mode: c.mode,
                link_events: lock_unpoisoned(&c.link_events).clone(),
            }
        }))
    }

    /// Recorded sessions, newest first.
    pub async fn talk_sessions(&self, limit: u32) -> Result<Vec<TalkSessionEntry>, ApiError> {
        let dir = self.talk_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path().join(greenroom_talk::session::SESSION_JSON);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(report) = serde_json::from_str::<TalkReport>(&text) else {
                continue;
            };
            out.push(TalkSessionEntry {
                session: entry.file_name().to_string_lossy().into_owned(),
                dir: entry.path().display().to_string(),
                exercise: report.exercise,
                started_unix_ms: report.started_unix_ms,
                turns: report.summary.turns,
                time_to_first_audio_p50_ms: report.summary.time_to_first_audio_p50_ms,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.started_unix_ms));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Copies a recorded session's folder into `destination` (a folder; created if
    /// needed); returns the copy's path.
    pub async fn talk_export(
        &self,
        session: String,
        destination: String,
    ) -> Result<String, ApiError> {
        let bare =
            !session.is_empty() && !session.contains(['/', '\\', ':']) && !session.starts_with('.');
        if !bare {
            return Err(bad(format!("{session:?} is not a session name")));
        }
        let name = session.as_str();
        let from = self.talk_dir().join(name);
        if !from.join(greenroom_talk::session::SESSION_JSON).is_file() {
            return Err(ApiError::new(
                crate::ErrorCode::NotFound,
                format!(
                    "there is no finished session {session:?} in {}",
                    self.talk_dir().display()
                ),
            ));
        }
        let to = PathBuf::from(destination).join(format!("greenroom-talk-{name}"));
        if to.exists() {
            return Err(bad(format!(
                "{} exists already; pick another folder",
                to.display()
            )));
        }
        std::fs::create_dir_all(&to)
            .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", to.display())))?;
        for entry in std::fs::read_dir(&from)
            .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", from.display())))?
            .flatten()
        {
            let path = entry.path();
            if path.is_file() && path.extension().is_none_or(|e| e != "part") {
                std::fs::copy(&path, to.join(entry.file_name())).map_err(|e| {
                    ApiError::internal(format!("cannot copy {}: {e}", path.display()))
                })?;
            }
        }
        Ok(to.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mistral_key_never_goes_to_this_machine() {
        for local in [
            "http://127.0.0.1:8001/v1",
            "http://localhost:8001/v1",
            "http://[::1]:8001/v1",
            "http://127.1.2.3/v1",
        ] {
            assert!(is_loopback_url(local), "{local}");
        }
        for remote in [
            "https://api.mistral.ai/v1",
            "https://api.scaleway.ai/v1",
            "http://10.0.0.2:8001/v1",
        ] {
            assert!(!is_loopback_url(remote), "{remote}");
        }
    }

    #[test]
    fn session_ids_are_utc_and_sortable() {
        let id = session_id();
        assert_eq!(id.len(), "20261202-052409-123".len());
    }
}
