//! The talk session: a turn state machine that both modes share, driven by any
//! [`AudioIn`] (a microphone, a script, a LiveKit track) and speaking through any
//! [`AudioOut`].
//!
//! Why: a coach talks with a real microphone; the test engine and the CLI's `--input`
//! drive the very same session with scripted utterances and check what came back.
//!
//! **States** ([`TalkState`]): idle → listening → learner speaking → end of speech →
//! transcribing → thinking → speaking → listening. Marie's opening line (when asked)
//! is spoken before the first listening.
//!
//! **Threads.** Capture runs on its own thread: it pulls chunks, converts them to 16 kHz,
//! meters them (15 levels a second), feeds the end-of-speech detector and the recorder,
//! and sends the detector's events to the session task. The session task owns the state
//! and runs one turn at a time as a child task: STT, then the reply streamed from the
//! conversation service, cut into sentences, each spoken as soon as it is complete
//! ([`ReplyStrategy::FirstSentence`]; [`ReplyStrategy::WholeReply`] waits for the whole
//! reply, as a baseline for the benchmark).
//!
//! **Interruptions.**
//! - Speech detected while Marie speaks is a **barge-in**: playback is stopped at once
//!   (the [`AudioOut::stop`] contract: silent within 100 ms), the turn is cancelled and
//!   recorded as interrupted, with the time from the speech's first frame to the stop.
//! - Speech detected while the turn is still transcribing or thinking means the learner
//!   had not finished: the turn is dropped silently and its audio is put in front of the
//!   next utterance.
//! - [`TalkControl::interrupt`] stops Marie from the outside (a button, Escape).
//!
//! **Failures.** A service failure ends its turn with a [`TurnError`] and a notice that
//! names the service, the URL and what to do; the session goes on listening. Every stage
//! has a timeout ([`crate::services::Timeouts`]), so no state lasts for ever. A capture
//! failure (no microphone, a device gone for good) ends the session with that message.
//!
//! **End.** [`TalkControl::stop`], the input's end (once the turn in progress is done),
//! or `max_turns`. [`TalkSession::finished`] returns the [`TalkReport`].

mod capture;
mod livekit_mode;
mod turn;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_core::{EventSink, lock_unpoisoned};
use greenroom_voice::meter::LevelMeter;
use greenroom_voice::recorder::{SessionRecorder, Stage};
use greenroom_voice::resample::{STT_RATE, StreamResampler, resample};
use greenroom_voice::vad::{EndOfSpeech, VadConfig, VadEvent, VadMode};
use greenroom_voice::{AudioIn, AudioOut};
use tokio::sync::mpsc;

use crate::catalog::{Catalog, Character, Exercise};
use crate::clients::{ChatClient, Line, SttClient, TtsClient};
use crate::events::{
    NoticeLevel, REPORT_SCHEMA, Side, TalkEvent, TalkReport, TalkState, TurnError, TurnReport,
    summarize,
};
use crate::segments::{TurnMarks, segments};
use crate::services::{Endpoints, EndpointsView, ServiceError};

/// Levels per second per side.
pub const LEVELS_PER_SECOND: u32 = 15;
/// How long capture waits for a chunk before checking its controls.
const CAPTURE_POLL: Duration = Duration::from_millis(20);

/// When Marie starts speaking her reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyStrategy {
    /// As soon as the first sentence is complete (the product's behaviour).
    #[default]
    FirstSentence,
    /// Once the whole reply is written (the benchmark's baseline).
    WholeReply,
}

/// How a session runs.
#[derive(Debug, Clone)]
pub struct TalkConfig {
    pub exercise: Exercise,
    pub character: Character,
    pub vad: VadConfig,
    pub reply: ReplyStrategy,
    /// Sent to the conversation service (the offline coach is deterministic with it).
    pub seed: Option<i64>,
    /// Marie says the exercise's opening line first.
    pub speak_opening: bool,
    /// Do not read the input until the opening has been spoken (a script starts after it;
    /// a live microphone would rather listen at once, so that the learner can cut in).
    pub hold_input_during_opening: bool,
    /// Record both sides and the transcript there (a new or empty folder).
    pub record_dir: Option<PathBuf>,
    /// End after this many turns.
    pub max_turns: Option<u32>,
    /// `direct` here.
    pub mode: String,
    /// Counts the turns that ended (a [`crate::script::Learner`] takes its cue from it).
    /// A cloned config shares it: give each session a fresh one (`Arc::default()`).
    pub turns_done: Arc<std::sync::atomic::AtomicUsize>,
}

impl TalkConfig {
    pub fn new(exercise: Exercise, character: Character) -> Self {
        Self {
            exercise,
            character,
            vad: VadConfig::default(),
            reply: ReplyStrategy::default(),
            seed: None,
            speak_opening: true,
            hold_input_during_opening: false,
            record_dir: None,
            max_turns: None,
            mode: "direct".into(),
            turns_done: Arc::default(),
        }
    }
}

/// The direct mode's three clients.
#[derive(Debug, Clone)]
pub struct DirectPipeline {
    pub stt: SttClient,
    pub chat: ChatClient,
    pub tts: TtsClient,
    pub view: EndpointsView,
}

impl DirectPipeline {
    pub fn new(endpoints: &Endpoints, origin: &str) -> Self {
        Self {
            stt: SttClient::new(endpoints.stt.clone(), &endpoints.timeouts),
            chat: ChatClient::new(endpoints.chat.clone(), &endpoints.timeouts),
            tts: TtsClient::new(endpoints.tts.clone(), &endpoints.timeouts),
            view: endpoints.view(origin),
        }
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum TalkError {
    #[error("the end-of-speech settings are not usable: {0}")]
    Vad(#[from] greenroom_voice::VadError),
    #[error("cannot record the session: {0}")]
    Recorder(#[from] greenroom_voice::RecorderError),
    #[error("the microphone's rate is not usable: {0}")]
    Resample(#[from] greenroom_voice::ResampleError),
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
}

impl greenroom_core::Classified for TalkError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        use greenroom_core::ErrorKind;
        match self {
            TalkError::Vad(_) | TalkError::Resample(_) => ErrorKind::InvalidInput,
            TalkError::Recorder(e) => e.kind(),
            TalkError::Thread(_) => ErrorKind::Internal,
        }
    }
}

enum CaptureControl {
    Mode(VadMode),
    Key(bool),
    Delay(Duration),
    Go,
    Stop,
}

enum CaptureMsg {
    Vad(VadEvent),
    Ended,
    Failed(String),
}

enum Command {
    Interrupt,
    Stop,
}

/// Capture-to-frame figures, for the benchmark: how long after its last sample was
/// captured a chunk reached the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureStats {
    pub chunks: u64,
    pub delays_ms: Vec<f64>,
}

/// Steers a running session from any thread. Cheap to clone.
#[derive(Clone)]
pub struct TalkControl {
    capture: std::sync::mpsc::Sender<CaptureControl>,
    commands: mpsc::UnboundedSender<Command>,
    delay: Arc<Mutex<Duration>>,
    mode: Arc<Mutex<VadMode>>,
}

impl TalkControl {
    /// Voice detection or push-to-talk, switchable at any time.
    pub fn set_mode(&self, mode: VadMode) {
        *lock_unpoisoned(&self.mode) = mode;
        let _ = self.capture.send(CaptureControl::Mode(mode));
    }
    /// The push-to-talk key (Space in the app).
    pub fn set_key_held(&self, held: bool) {
        let _ = self.capture.send(CaptureControl::Key(held));
    }
    /// The end-of-speech delay, 200 ..= 2,000 ms.
    pub fn set_end_of_speech_delay(&self, ms: u32) -> Result<(), greenroom_voice::VadError> {
        let config = VadConfig::with_delay_ms(ms)?;
        *lock_unpoisoned(&self.delay) = config.end_of_speech_delay;
        let _ = self
            .capture
            .send(CaptureControl::Delay(config.end_of_speech_delay));
        Ok(())
    }
    /// Stops Marie now; the turn is recorded as interrupted.
    pub fn interrupt(&self) {
        let _ = self.commands.send(Command::Interrupt);
    }
    /// Ends the session.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
        let _ = self.capture.send(CaptureControl::Stop);
    }
}

/// A running session.
pub struct TalkSession {
    control: TalkControl,
    task: tokio::task::JoinHandle<TalkReport>,
    stats: Arc<Mutex<CaptureStats>>,
}

type Sink = Arc<dyn EventSink<TalkEvent>>;

/// A clip of Marie's as it was queued: when it starts sounding, its samples, its rate.
type QueuedClip = (Instant, Arc<Vec<f32>>, u32);

/// What the session task and the turn tasks share.
struct Shared {
    sink: Sink,
    t0: Instant,
    recorder: Mutex<Option<SessionRecorder>>,
    state: Mutex<(TalkState, Option<u32>)>,
    /// Marie's clips as they were queued, for her level meter: (start, samples, rate).
    playing: Mutex<Vec<QueuedClip>>,
    turns_done: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.t0).as_secs_f64() * 1000.0
    }

    fn set_state(&self, state: TalkState, turn: Option<u32>) {
        let mut current = lock_unpoisoned(&self.state);
        if *current != (state, turn) {
            *current = (state, turn);
            drop(current);
            self.sink.emit(TalkEvent::State {
                state,
                turn,
                at_ms: self.ms(Instant::now()),
            });
        }
    }

    fn state(&self) -> TalkState {
        lock_unpoisoned(&self.state).0
    }

    fn notice(
        &self,
        level: NoticeLevel,
        message: String,
        service: Option<crate::services::Service>,
    ) {
        self.sink.emit(TalkEvent::Notice {
            level,
            message,
            service,
        });
    }

    fn record(
        &self,
        f: impl FnOnce(&mut SessionRecorder) -> Result<(), greenroom_voice::RecorderError>,
    ) {
        let mut recorder = lock_unpoisoned(&self.recorder);
        if let Some(r) = recorder.as_mut()
            && let Err(e) = f(r)
        {
            // A full disk must not end the talk: say it once and stop recording.
            *recorder = None;
            drop(recorder);
            self.notice(NoticeLevel::Error, format!("recording stopped: {e}"), None);
        }
    }
}

/// The state of one turn, shared with the session so that a cancelled turn still reports.
struct TurnState {
    index: u32,
    started: Instant,
    utterance: Vec<f32>,
    marks: Mutex<TurnMarks>,
    learner_text: Mutex<String>,
    marie_text: Mutex<String>,
    confidence: Mutex<Option<f32>>,
    error: Mutex<Option<ServiceError>>,
    /// Marie's audio has been queued.
    spoke: Mutex<bool>,
}

impl TurnState {
    fn mark(&self, f: impl FnOnce(&mut TurnMarks)) {
        f(&mut lock_unpoisoned(&self.marks));
    }
}

/// What a turn needs besides its own state.
struct TurnInputs {
    pipeline: Arc<DirectPipeline>,
    output: Arc<dyn AudioOut>,
    system_prompt: Arc<str>,
    voice: Arc<str>,
    strategy: ReplyStrategy,
    seed: Option<i64>,
}

/// What both modes set up before their loop: the shared state, the capture thread and the
/// channels to it.
struct Prepared {
    shared: Arc<Shared>,
    control: TalkControl,
    capture: mpsc::UnboundedReceiver<CaptureMsg>,
    commands: mpsc::UnboundedReceiver<Command>,
    stats: Arc<Mutex<CaptureStats>>,
}

/// Validates `config`, opens the recording and starts capture on its own thread (held
/// until [`CaptureControl::Go`] when `hold`).
fn prepare(
    config: &TalkConfig,
    input: Box<dyn AudioIn>,
    sink: Sink,
    uplink: Option<crate::livekit::Uplink>,
    hold: bool,
) -> Result<Prepared, TalkError> {
    config.vad.validate()?;
    let vad = EndOfSpeech::new(config.vad.clone())?;
    let input_rate = input.sample_rate();
    let resampler = if input_rate == STT_RATE {
        None
    } else {
        Some(StreamResampler::new(input_rate, STT_RATE)?)
    };
    let t0 = Instant::now();
    let recorder = match &config.record_dir {
        Some(dir) => Some(SessionRecorder::create_at(dir, STT_RATE, STT_RATE, t0)?),
        None => None,
    };
    let shared = Arc::new(Shared {
        sink,
        t0,
        recorder: Mutex::new(recorder),
        state: Mutex::new((TalkState::Idle, None)),
        playing: Mutex::new(Vec::new()),
        turns_done: config.turns_done.clone(),
    });
    let (capture_tx, capture_rx) = std::sync::mpsc::channel();
    let (msg_tx, msg_rx) = mpsc::unbounded_channel();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Mutex::new(CaptureStats::default()));
    let control = TalkControl {
        capture: capture_tx,
        commands: cmd_tx,
        delay: Arc::new(Mutex::new(config.vad.end_of_speech_delay)),
        mode: Arc::new(Mutex::new(config.vad.mode)),
    };
    let capture = capture::Capture {
        input,
        resampler,
        vad,
        control: capture_rx,
        tx: msg_tx,
        shared: shared.clone(),
        stats: stats.clone(),
        hold,
        uplink,
        push_to_talk: config.vad.mode == VadMode::PushToTalk,
        key_held: false,
    };
    std::thread::Builder::new()
        .name("greenroom-talk-capture".into())
        .spawn(move || capture.run())
        .map_err(TalkError::Thread)?;
    Ok(Prepared {
        shared,
        control,
        capture: msg_rx,
        commands: cmd_rx,
        stats,
    })
}

impl TalkSession {
    /// Starts a direct-mode session on the current Tokio runtime.
    pub fn start(
        config: TalkConfig,
        pipeline: DirectPipeline,
        input: Box<dyn AudioIn>,
        output: Arc<dyn AudioOut>,
        sink: Sink,
    ) -> Result<TalkSession, TalkError> {
        let hold = config.speak_opening && config.hold_input_during_opening;
        let prepared = prepare(&config, input, sink, None, hold)?;
        let system_prompt: Arc<str> =
            Catalog::system_prompt(&config.character, &config.exercise).into();
        let inputs = Arc::new(TurnInputs {
            pipeline: Arc::new(pipeline),
            output,
            system_prompt,
            voice: config.character.voice.clone().into(),
            strategy: config.reply,
            seed: config.seed,
        });
        let control = prepared.control.clone();
        let stats = prepared.stats.clone();
        let task = tokio::spawn(run_session(
            config,
            prepared.shared,
            inputs,
            prepared.control,
            prepared.capture,
            prepared.commands,
        ));
        Ok(TalkSession {
            control,
            task,
            stats,
        })
    }

    pub fn control(&self) -> TalkControl {
        self.control.clone()
    }

    /// Capture-to-frame figures so far.
    pub fn capture_stats(&self) -> CaptureStats {
        lock_unpoisoned(&self.stats).clone()
    }

    /// Waits for the end and returns the report.
    pub async fn finished(self) -> TalkReport {
        match self.task.await {
            Ok(report) => report,
            Err(e) => TalkReport {
                schema: REPORT_SCHEMA.into(),
                mode: String::new(),
                exercise: String::new(),
                character: String::new(),
                endpoints: None,
                started_unix_ms: greenroom_core::unix_millis(),
                duration_ms: 0.0,
                opening: None,
                turns: Vec::new(),
                summary: summarize(&[]),
                record_dir: None,
                livekit: None,
                ended_because: format!("the session's task failed: {e}"),
            },
        }
    }
}

/// What the session loop does next.
enum Step {
    Command(Option<Command>),
    Capture(Option<CaptureMsg>),
    Tick,
}

/// How the opening ended.
struct OpeningEnd {
    /// The coach pressed Stop (or the session's handle went away).
    stop: bool,
    /// What capture said meanwhile, in order; a learner who started speaking cut it short.
    pending: VecDeque<CaptureMsg>,
}

/// A turn in flight.
struct Running {
    turn: Arc<TurnState>,
    task: tokio::task::JoinHandle<()>,
}

async fn run_session(
    config: TalkConfig,
    shared: Arc<Shared>,
    inputs: Arc<TurnInputs>,
    control: TalkControl,
    mut capture: mpsc::UnboundedReceiver<CaptureMsg>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> TalkReport {
    let started_unix_ms = greenroom_core::unix_millis();
    let mut history: Vec<Line> = Vec::new();
    let mut turns: Vec<TurnReport> = Vec::new();
    let mut opening = None;
    let mut end_reason: Option<String> = None;
    // What capture said while the opening played, handled first.
    let mut pending: VecDeque<CaptureMsg> = VecDeque::new();

    if config.speak_opening {
        let text = config.exercise.opening.clone();
        shared.set_state(TalkState::Speaking, None);
        shared.sink.emit(TalkEvent::Text {
            turn: None,
            side: Side::Marie,
            text: text.clone(),
            is_final: true,
        });
        let (end, failure) =
            speak_opening(&shared, &inputs, &text, &mut commands, &mut capture).await;
        if let Some(e) = failure {
            shared.notice(NoticeLevel::Error, e.to_string(), Some(e.service()));
        }
        history.push(Line {
            speaker: Side::Marie,
            text: text.clone(),
        });
        opening = Some(text);
        pending = end.pending;
        if end.stop {
            end_reason = Some("stopped".into());
        }
    }
    let _ = control.capture.send(CaptureControl::Go);
    if end_reason.is_none() {
        shared.set_state(TalkState::Listening, None);
    }

    let mut running: Option<Running> = None;
    // Audio of a turn dropped because the learner went on speaking.
    let mut carried: Vec<f32> = Vec::new();
    let mut speech_started: Option<Instant> = None;
    let mut input_ended = false;
    let mut marie_meter = LevelMeter::new(LEVELS_PER_SECOND).unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / LEVELS_PER_SECOND as u64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    while end_reason.is_none() {
        // A finished turn is reported before anything else happens.
        if let Some(r) = running.as_ref()
            && r.task.is_finished()
        {
            let r = running.take().expect("checked above");
            let report = turn_report(&shared, &r.turn, false, None);
            finish_turn(&shared, &r.turn, &report, &mut history);
            turns.push(report);
            shared.set_state(TalkState::Listening, None);
            if config.max_turns.is_some_and(|m| turns.len() as u32 >= m) {
                end_reason.get_or_insert_with(|| "max turns".into());
                break;
            }
        }
        if input_ended && running.is_none() {
            end_reason.get_or_insert_with(|| "input ended".into());
            break;
        }
        let step = match pending.pop_front() {
            Some(message) => Step::Capture(Some(message)),
            None => tokio::select! {
                command = commands.recv() => Step::Command(command),
                message = capture.recv(), if !input_ended => Step::Capture(message),
                _ = tick.tick() => Step::Tick,
            },
        };
        match step {
            Step::Command(command) => match command {
                Some(Command::Interrupt) => {
                    if let Some(r) = running.take() {
                        let report = cancel_turn(&shared, &inputs, r, None);
                        finish_turn(&shared, &report.0, &report.1, &mut history);
                        turns.push(report.1);
                        shared.set_state(TalkState::Listening, None);
                    }
                }
                Some(Command::Stop) | None => {
                    if let Some(r) = running.take() {
                        let report = cancel_turn(&shared, &inputs, r, None);
                        finish_turn(&shared, &report.0, &report.1, &mut history);
                        turns.push(report.1);
                    }
                    end_reason.get_or_insert_with(|| "stopped".into());
                    break;
                }
            },
            Step::Capture(message) => match message {
                Some(CaptureMsg::Vad(VadEvent::SpeechStarted { at })) => {
                    speech_started = Some(at);
                    if let Some(r) = running.take() {
                        if *lock_unpoisoned(&r.turn.spoke) {
                            let report = cancel_turn(&shared, &inputs, r, Some(at));
                            finish_turn(&shared, &report.0, &report.1, &mut history);
                            turns.push(report.1);
                        } else {
                            // The learner had not finished: keep their words for the next turn.
                            r.task.abort();
                            carried = r.turn.utterance.clone();
                        }
                    }
                    shared.set_state(TalkState::LearnerSpeaking, None);
                }
                Some(CaptureMsg::Vad(VadEvent::SpeechEnded { at, utterance, .. })) => {
                    // Speech ends only after it started, and a start cancels any turn; a
                    // turn still running here would be orphaned, so it is stopped.
                    if let Some(r) = running.take() {
                        let report = cancel_turn(&shared, &inputs, r, None);
                        finish_turn(&shared, &report.0, &report.1, &mut history);
                        turns.push(report.1);
                    }
                    shared.set_state(TalkState::EndOfSpeech, None);
                    let delay = *lock_unpoisoned(&control.delay);
                    // Voice detection decides `delay` after the last speech; push-to-talk
                    // at the release.
                    let last_speech = if *lock_unpoisoned(&control.mode) == VadMode::Auto {
                        at.checked_sub(delay).unwrap_or(at)
                    } else {
                        at
                    };
                    let mut audio = std::mem::take(&mut carried);
                    audio.extend_from_slice(&utterance);
                    let index = turns.len() as u32;
                    let started = speech_started.take().unwrap_or(last_speech);
                    let turn = Arc::new(TurnState {
                        index,
                        started,
                        utterance: audio,
                        marks: Mutex::new(TurnMarks {
                            speech_last: Some(last_speech.min(at)),
                            endpointed: Some(at),
                            ..Default::default()
                        }),
                        learner_text: Mutex::new(String::new()),
                        marie_text: Mutex::new(String::new()),
                        confidence: Mutex::new(None),
                        error: Mutex::new(None),
                        spoke: Mutex::new(false),
                    });
                    let task = tokio::spawn(turn::run_turn(
                        shared.clone(),
                        inputs.clone(),
                        turn.clone(),
                        history.clone(),
                    ));
                    running = Some(Running { turn, task });
                }
                Some(CaptureMsg::Ended) => input_ended = true,
                Some(CaptureMsg::Failed(message)) => {
                    input_ended = true;
                    end_reason.get_or_insert_with(|| message.clone());
                    shared.notice(NoticeLevel::Error, message, None);
                }
                None => {
                    input_ended = true;
                    end_reason.get_or_insert_with(|| "the capture thread stopped".into());
                }
            },
            Step::Tick => {
                if shared.state() == TalkState::Speaking {
                    emit_marie_level(&shared, &mut marie_meter);
                }
            }
        }
    }
    if let Some(r) = running.take() {
        let report = cancel_turn(&shared, &inputs, r, None);
        finish_turn(&shared, &report.0, &report.1, &mut history);
        turns.push(report.1);
    }
    let ended_because = end_reason.unwrap_or_else(|| "stopped".into());
    let _ = control.capture.send(CaptureControl::Stop);
    inputs.output.stop();
    conclude(
        &config,
        &shared,
        Ending {
            started_unix_ms,
            endpoints: Some(inputs.pipeline.view.clone()),
            opening,
            turns,
            ended_because,
            livekit: None,
        },
    )
}

/// How a session ended, for [`conclude`].
struct Ending {
    started_unix_ms: u64,
    endpoints: Option<EndpointsView>,
    opening: Option<String>,
    turns: Vec<TurnReport>,
    ended_because: String,
    livekit: Option<crate::events::LivekitReport>,
}

/// The end both modes share: the report, the recording closed with `session.json` beside
/// it, the `ended` event.
fn conclude(config: &TalkConfig, shared: &Shared, ending: Ending) -> TalkReport {
    shared.set_state(TalkState::Ended, None);
    let summary = summarize(&ending.turns);
    let record_dir = config.record_dir.as_ref().map(|d| d.display().to_string());
    let report = TalkReport {
        schema: REPORT_SCHEMA.into(),
        mode: config.mode.clone(),
        exercise: config.exercise.id.clone(),
        character: config.character.id.clone(),
        endpoints: ending.endpoints,
        started_unix_ms: ending.started_unix_ms,
        duration_ms: shared.ms(Instant::now()),
        opening: ending.opening,
        turns: ending.turns,
        summary: summary.clone(),
        record_dir,
        livekit: ending.livekit,
        ended_because: ending.ended_because.clone(),
    };
    let recorder = lock_unpoisoned(&shared.recorder).take();
    if let Some(recorder) = recorder {
        let dir = recorder.dir().to_path_buf();
        if let Err(e) = recorder.finish() {
            shared.notice(
                NoticeLevel::Error,
                format!("the recording is incomplete: {e}"),
                None,
            );
        }
        if let Ok(json) = serde_json::to_vec_pretty(&report)
            && let Err(e) = greenroom_core::write_atomic(&dir.join(SESSION_JSON), &json)
        {
            shared.notice(
                NoticeLevel::Error,
                format!("cannot write {}: {e}", dir.join(SESSION_JSON).display()),
                None,
            );
        }
    }
    shared.sink.emit(TalkEvent::Ended {
        because: ending.ended_because,
        summary,
    });
    report
}

/// The report written next to the recording.
pub const SESSION_JSON: &str = "session.json";

fn emit_marie_level(shared: &Shared, meter: &mut LevelMeter) {
    let now = Instant::now();
    let window = Duration::from_millis(1000 / LEVELS_PER_SECOND as u64);
    let from = now.checked_sub(window).unwrap_or(now);
    let mut samples = Vec::new();
    for (start, clip, rate) in lock_unpoisoned(&shared.playing).iter() {
        let offset = |at: Instant| {
            greenroom_voice::io::samples_in(at.saturating_duration_since(*start), *rate)
                .min(clip.len())
        };
        let (a, b) = (offset(from), offset(now));
        samples.extend_from_slice(&clip[a..b]);
    }
    if samples.is_empty() {
        samples.push(0.0);
    }
    if let Some(level) = meter.push(&samples, now) {
        shared.sink.emit(TalkEvent::Level {
            side: Side::Marie,
            rms_dbfs: level.rms_dbfs,
            peak_dbfs: level.peak_dbfs,
            at_ms: shared.ms(now),
        });
    }
}

/// Stops a running turn: playback, the task; returns its report.
fn cancel_turn(
    shared: &Shared,
    inputs: &TurnInputs,
    running: Running,
    speech_at: Option<Instant>,
) -> (Arc<TurnState>, TurnReport) {
    inputs.output.stop();
    let stopped = Instant::now();
    running.task.abort();
    lock_unpoisoned(&shared.playing).clear();
    let turn = running.turn;
    turn.mark(|m| {
        m.playback_ended.get_or_insert(stopped);
    });
    let barge = speech_at.map(|at| stopped.saturating_duration_since(at).as_secs_f64() * 1000.0);
    let report = turn_report(shared, &turn, true, barge);
    (turn, report)
}

fn turn_report(
    shared: &Shared,
    turn: &TurnState,
    interrupted: bool,
    barge_in_stop_ms: Option<f64>,
) -> TurnReport {
    let error = lock_unpoisoned(&turn.error).as_ref().map(|e| TurnError {
        service: e.service(),
        url: e.url().to_string(),
        tag: e.tag(),
        message: e.to_string(),
    });
    build_report(
        shared,
        TurnFacts {
            index: turn.index,
            started: turn.started,
            marks: *lock_unpoisoned(&turn.marks),
            learner_text: lock_unpoisoned(&turn.learner_text).clone(),
            marie_text: lock_unpoisoned(&turn.marie_text).clone(),
            utterance_ms: turn.utterance.len() as f64 * 1000.0 / STT_RATE as f64,
            stt_confidence: *lock_unpoisoned(&turn.confidence),
            interrupted,
            barge_in_stop_ms,
            error,
        },
    )
}

/// What a finished turn of either mode is made of.
struct TurnFacts {
    index: u32,
    started: Instant,
    marks: TurnMarks,
    learner_text: String,
    marie_text: String,
    utterance_ms: f64,
    stt_confidence: Option<f32>,
    interrupted: bool,
    barge_in_stop_ms: Option<f64>,
    error: Option<TurnError>,
}

fn build_report(shared: &Shared, facts: TurnFacts) -> TurnReport {
    TurnReport {
        index: facts.index,
        started_ms: shared.ms(facts.started),
        learner_text: facts.learner_text,
        marie_text: facts.marie_text,
        utterance_ms: facts.utterance_ms,
        stt_confidence: facts.stt_confidence,
        figures: segments(&facts.marks),
        interrupted: facts.interrupted,
        barge_in_stop_ms: facts.barge_in_stop_ms,
        error: facts.error,
        marks: facts
            .marks
            .named()
            .into_iter()
            .map(|(mark, at)| crate::segments::MarkAt {
                mark: mark.into(),
                at_ms: shared.ms(at),
            })
            .collect(),
    }
}

fn finish_turn(shared: &Shared, turn: &TurnState, report: &TurnReport, history: &mut Vec<Line>) {
    if !report.learner_text.is_empty() {
        history.push(Line {
            speaker: Side::Learner,
            text: report.learner_text.clone(),
        });
        if !report.marie_text.is_empty() {
            history.push(Line {
                speaker: Side::Marie,
                text: report.marie_text.clone(),
            });
        }
    }
    let marks = *lock_unpoisoned(&turn.marks);
    publish_turn(shared, turn.started, &marks, report);
}

/// A finished turn of either mode: into the recording's transcript, out as a `turn`
/// event, counted for whoever takes cues from it.
fn publish_turn(shared: &Shared, started: Instant, marks: &TurnMarks, report: &TurnReport) {
    let ended = marks.playback_ended.unwrap_or_else(Instant::now);
    shared.record(|r| {
        let t = r.begin_turn(started);
        let stages = [
            (Stage::LearnerSpeechStarted, Some(started)),
            (Stage::LearnerSpeechEnded, marks.speech_last),
            (
                Stage::TranscriptReady,
                marks.stt_done.or(marks.learner_transcript),
            ),
            (
                Stage::ReplyFirstToken,
                marks.llm_first_token.or(marks.agent_thinking),
            ),
            (Stage::ReplyDone, marks.llm_done),
            (
                Stage::SpeechFirstAudio,
                marks.tts_first_byte.or(marks.audio_received),
            ),
            (Stage::PlaybackStarted, marks.first_audio),
            (Stage::BargedIn, report.interrupted.then_some(ended)),
            (Stage::PlaybackEnded, marks.playback_ended),
        ];
        for (stage, at) in stages {
            if let Some(at) = at {
                r.mark(t, stage, at)?;
            }
        }
        r.set_learner_text(t, &report.learner_text)?;
        r.set_marie_text(t, &report.marie_text)?;
        r.end_turn(t, ended)
    });
    shared.sink.emit(TalkEvent::Turn {
        turn: report.clone(),
    });
    shared
        .turns_done
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Marie's opening line: synthesised, played and metered until it ends, the coach
/// interrupts or stops, or the learner starts speaking (a barge-in: she stops at once).
async fn speak_opening(
    shared: &Shared,
    inputs: &TurnInputs,
    text: &str,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    capture: &mut mpsc::UnboundedReceiver<CaptureMsg>,
) -> (OpeningEnd, Option<ServiceError>) {
    let mut end = OpeningEnd {
        stop: false,
        pending: VecDeque::new(),
    };
    // Whether to go on after a command or a capture message.
    fn go_on(
        end: &mut OpeningEnd,
        command: Option<Option<Command>>,
        message: Option<Option<CaptureMsg>>,
    ) -> bool {
        match command {
            Some(Some(Command::Interrupt)) => return false,
            Some(Some(Command::Stop)) | Some(None) => {
                end.stop = true;
                return false;
            }
            None => {}
        }
        match message {
            Some(Some(m)) => {
                let barged = matches!(m, CaptureMsg::Vad(VadEvent::SpeechStarted { .. }));
                end.pending.push_back(m);
                !barged
            }
            // Capture ended; the main loop finds out.
            Some(None) | None => true,
        }
    }
    let synthesis = inputs.pipeline.tts.synthesize(text, &inputs.voice);
    tokio::pin!(synthesis);
    let mut capture_open = true;
    let clip = loop {
        tokio::select! {
            clip = &mut synthesis => break clip,
            c = commands.recv() => if !go_on(&mut end, Some(c), None) { return (end, None) },
            m = capture.recv(), if capture_open => {
                capture_open = m.is_some();
                if !go_on(&mut end, None, Some(m)) { return (end, None) }
            }
        }
    };
    let clip = match clip {
        Ok(clip) => clip,
        Err(e) => return (end, Some(e)),
    };
    let started = Instant::now();
    let samples = Arc::new(clip.samples);
    play(shared, inputs, samples.clone(), clip.sample_rate, started);
    let duration = greenroom_voice::io::duration_of(samples.len(), clip.sample_rate);
    let deadline = tokio::time::Instant::now() + duration + Duration::from_secs(2);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / LEVELS_PER_SECOND as u64));
    let mut meter = LevelMeter::new(LEVELS_PER_SECOND).unwrap_or_default();
    loop {
        let more = tokio::select! {
            _ = tick.tick() => {
                emit_marie_level(shared, &mut meter);
                inputs.output.is_playing() && tokio::time::Instant::now() < deadline
            }
            c = commands.recv() => go_on(&mut end, Some(c), None),
            m = capture.recv(), if capture_open => {
                capture_open = m.is_some();
                go_on(&mut end, None, Some(m))
            }
        };
        if !more {
            break;
        }
    }
    inputs.output.stop();
    lock_unpoisoned(&shared.playing).clear();
    (end, None)
}

/// Queues a clip and keeps it for Marie's meter and the recording.
fn play(shared: &Shared, inputs: &TurnInputs, samples: Arc<Vec<f32>>, rate: u32, at: Instant) {
    if let Err(e) = inputs.output.play(samples.to_vec(), rate) {
        shared.notice(
            NoticeLevel::Error,
            format!("Marie's voice cannot be played: {e}"),
            None,
        );
        return;
    }
    // The clip starts when what is queued before it ends.
    let start = {
        let playing = lock_unpoisoned(&shared.playing);
        playing
            .iter()
            .map(|(s, c, r)| *s + greenroom_voice::io::duration_of(c.len(), *r))
            .max()
            .filter(|end| *end > at)
            .unwrap_or(at)
    };
    lock_unpoisoned(&shared.playing).push((start, samples.clone(), rate));
    if lock_unpoisoned(&shared.recorder).is_none() {
        return;
    }
    let for_recording = if rate == STT_RATE {
        samples.to_vec()
    } else {
        resample(&samples, 1, rate, STT_RATE).unwrap_or_default()
    };
    shared.record(|r| r.write_marie(&for_recording, start));
}
