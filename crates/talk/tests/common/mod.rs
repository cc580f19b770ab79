//! What the talk tests share: the sandbox's three speech services for real (the offline
//! coach and the TTS in this process, faster-whisper as a child process), English speech
//! from espeak-ng, a learner that takes turns, and a sink that keeps the events.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenroom_core::EventSink;
use greenroom_talk::events::TalkEvent;
use greenroom_talk::events::TalkReport;
pub use greenroom_talk::script::{Cue, Learner};
use greenroom_talk::services::{
    ChatEndpoint, Endpoints, SttEndpoint, SttShape, Timeouts, TtsEndpoint,
};
use greenroom_talk::session::{DirectPipeline, TalkConfig, TalkSession};
use greenroom_voice::io::samples_in;
use greenroom_voice::{AudioOut, RecordingOutput};

/// English speech, 16 kHz mono, from espeak-ng and sox.
pub fn speak_english(text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.wav");
    greenroom_test_support::english_wav(text, &out);
    let (samples, rate) =
        greenroom_talk::clients::decode_wav(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(rate, 16_000);
    samples
}

/// The three services, on free ports of 127.0.0.1 (see `greenroom_sandbox::local`).
pub struct Sandbox {
    pub coach_url: String,
    pub tts_url: String,
    pub stt_url: String,
    _services: greenroom_sandbox::local::LocalSpeech,
    _dir: tempfile::TempDir,
}

async fn listener() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

impl Sandbox {
    pub async fn start() -> Sandbox {
        Self::start_with(Default::default()).await
    }

    /// With the coach paced (`token_delay` per word, like a real LLM).
    pub async fn start_with(chat: greenroom_sandbox::chat_server::ChatServerConfig) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let python = greenroom_sandbox::stt::locate_python(&greenroom_test_support::tool_dirs())
            .expect("the speech virtualenv tools/venv-speech: run scripts/setup");
        let services = greenroom_sandbox::local::LocalSpeech::start(&python, dir.path(), chat)
            .await
            .expect("the speech services start");
        Sandbox {
            coach_url: services.coach_url.clone(),
            tts_url: services.tts_url.clone(),
            stt_url: services.stt_url.clone(),
            _services: services,
            _dir: dir,
        }
    }

    /// The running services (what Marie's agent is pointed at, in LiveKit mode).
    pub fn speech(&self) -> &greenroom_sandbox::local::LocalSpeech {
        &self._services
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            stt: SttEndpoint {
                shape: SttShape::Vosk,
                url: self.stt_url.clone(),
                api_key: None,
                model: "whisper-1".into(),
                language: None,
            },
            chat: ChatEndpoint {
                base_url: self.coach_url.clone(),
                api_key: None,
                model: "mistral-nemo-instruct-2407".into(),
                temperature: 0.7,
                max_tokens: 150,
            },
            tts: TtsEndpoint {
                base_url: self.tts_url.clone(),
                api_key: None,
                model: "tts-1".into(),
            },
            timeouts: Timeouts::default(),
        }
    }
}

/// Keeps every event and counts the finished turns.
#[derive(Default)]
pub struct Events {
    pub all: Mutex<Vec<TalkEvent>>,
    pub turns: Arc<AtomicUsize>,
}

impl EventSink<TalkEvent> for Events {
    fn emit(&self, event: TalkEvent) {
        if matches!(event, TalkEvent::Turn { .. }) {
            self.turns.fetch_add(1, Ordering::SeqCst);
        }
        self.all.lock().unwrap().push(event);
    }
}

impl Events {
    pub fn snapshot(&self) -> Vec<TalkEvent> {
        self.all.lock().unwrap().clone()
    }
}

/// A guard against a hang, not a performance figure: a talk that should take seconds.
pub const AT_MOST: Duration = Duration::from_secs(180);

/// A whole talk: `utterances` said on their cues by a `Learner`, Marie to a recording
/// output; ends once `end_after_turns` turns have ended. Returns the report, every event
/// and the output (what Marie said, when, where she was cut).
pub async fn talk(
    mut config: TalkConfig,
    endpoints: &Endpoints,
    utterances: Vec<(Cue, Vec<f32>)>,
    end_after_turns: usize,
) -> (TalkReport, Vec<TalkEvent>, Arc<RecordingOutput>) {
    // This session's own count (a cloned config shares its counter).
    config.turns_done = Arc::default();
    let events = Arc::new(Events::default());
    let output = Arc::new(RecordingOutput::new());
    let learner = Learner::new(
        utterances,
        config.turns_done.clone(),
        output.clone() as Arc<dyn AudioOut>,
        end_after_turns,
    );
    let session = TalkSession::start(
        config,
        DirectPipeline::new(endpoints, "test"),
        Box::new(learner),
        output.clone(),
        events.clone(),
    )
    .expect("the session starts");
    let report = tokio::time::timeout(AT_MOST, session.finished())
        .await
        .expect("the talk ends by itself");
    (report, events.snapshot(), output)
}

/// A WAV file's RIFF header is valid and it holds `min_seconds` or more.
pub fn wav_seconds(path: &Path) -> f64 {
    let reader = hound::WavReader::open(path).unwrap();
    reader.duration() as f64 / reader.spec().sample_rate as f64
}

/// Samples in `d` at 16 kHz.
pub fn n16(d: Duration) -> usize {
    samples_in(d, 16_000)
}

/// What a [`FaultyService`] does to each request.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers 500 with a JSON error.
    Http500,
    /// Never answers (a service stuck past every timeout).
    Hang,
    /// Waits, then forwards to the real service.
    Delay(Duration),
    /// Answers 500 to the first `n` requests, then forwards.
    FailFirst(usize),
}

/// A service in front of a real one that misbehaves on purpose, on a free port.
pub struct FaultyService {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FaultyService {
    /// `upstream` is the real service's origin (`http://127.0.0.1:PORT`).
    pub async fn start(fault: Fault, upstream: &str) -> FaultyService {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::IntoResponse;
        let (l, port) = listener().await;
        let upstream = upstream.trim_end_matches('/').to_string();
        let count = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::new();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (upstream, count, http) = (upstream.clone(), count.clone(), http.clone());
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let fail = || {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [("content-type", "application/json")],
                        r#"{"error":{"message":"the model crashed","type":"server_error"}}"#
                            .to_string(),
                    )
                        .into_response()
                };
                match fault {
                    Fault::Http500 => return fail(),
                    Fault::FailFirst(k) if n < k => return fail(),
                    Fault::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return fail();
                    }
                    Fault::Delay(d) => tokio::time::sleep(d).await,
                    Fault::FailFirst(_) => {}
                }
                let mut request = http
                    .request(
                        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                        format!("{upstream}{uri}"),
                    )
                    .body(body.to_vec());
                if let Some(t) = headers.get("content-type") {
                    request = request.header("content-type", t.as_bytes());
                }
                let Ok(response) = request.send().await else {
                    return fail();
                };
                let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = response.bytes().await.unwrap_or_default();
                (status, [("content-type", content_type)], bytes.to_vec()).into_response()
            }
        };
        let app = axum::Router::new().fallback(handler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(l, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        FaultyService {
            base: format!("http://127.0.0.1:{port}"),
            _stop: stop,
        }
    }
}

/// The origin (`http://host:port`) of a URL.
pub fn origin(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_string()
}

/// The path (from the first `/` after the host) of a URL.
pub fn path(url: &str) -> String {
    url[origin(url).len()..].to_string()
}
