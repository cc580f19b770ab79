//! LiveKit mode: the same session (states, events, turns, segments, recording) with Marie
//! as the Flutter app meets her, an agent in a LiveKit room.
//!
//! The session joins the room with our participant, publishes the microphone (fed by the
//! capture thread, [`crate::livekit::Uplink`]), plays the agent's audio track through the
//! [`AudioOut`], and turns what the agent publishes into the session's events:
//!
//! - **Agent presence.** An agent already in the room with a learner (a room the app
//!   opened) is said to listen to that learner, not to us (the framework's room I/O follows
//!   one participant). Otherwise: waiting until it joins, at most [`LivekitLink::agent_timeout`];
//!   then the session ends with why it may not have come ([`crate::livekit::why_no_agent`]).
//!   An agent that leaves (its process stopped) fails the turn in flight; if no agent is
//!   back within the same timeout, the session ends saying so.
//! - **States.** `lk.agent.state` drives the session's state: `thinking` → thinking,
//!   `speaking` → speaking, `listening` → listening (our own detector adds learner speaking
//!   and end of speech). Every state is kept with its arrival time in the report.
//! - **Turns.** A turn starts when our detector hears the learner; speech again before
//!   Marie answers continues it. It ends when the agent is back to `listening` after
//!   speaking, once her transcript of the reply arrived (or [`CLOSING_GRACE`] later).
//!   The agent's transcript of the learner (`lk.transcribed_track_id` = our track) is the
//!   turn's learner text. A turn the agent never reacts to fails after
//!   [`LivekitLink::reply_timeout`].
//! - **Timing** (see [`crate::segments`]): our end of speech, the agent's state changes,
//!   the first audible frame of her reply out of our jitter buffer, and when the sound
//!   device started it. What the wire does not show is named `unobserved`.
//! - **Barge-in** is the agent's decision. When the learner starts speaking while Marie
//!   speaks, the turn records it; if she stops while the learner is still speaking, the
//!   turn is `interrupted` with `barge_in_stop_ms` = speech start → her last audible frame
//!   (or her state change, if earlier). If the learner stops first, it was overlap: her
//!   turn completes, and the learner's words open the next turn.
//! - **Playback.** The agent's track carries silence between replies; only her speech and
//!   the pauses inside it (up to [`TRAILING_SILENCE`]) go to the output, so the output is
//!   silent when she is (a scripted learner waits for that). The recording keeps all of it.
//! - **Interrupt** (the coach's button) cannot stop the agent: it silences her here until
//!   she stops speaking, and the turn is recorded as interrupted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenroom_core::lock_unpoisoned;
use greenroom_rooms::audio::SAMPLE_RATE;
use greenroom_rooms::participant::{AudioFrame, Participant, ParticipantEvent};
use greenroom_voice::AudioOut;
use greenroom_voice::meter::LevelMeter;
use greenroom_voice::resample::{STT_RATE, StreamResampler};
use greenroom_voice::vad::{VadEvent, VadMode};
use tokio::sync::mpsc;

use super::{
    CaptureControl, CaptureMsg, Command, Ending, LEVELS_PER_SECOND, Shared, TalkConfig,
    TalkControl, TalkError, TalkSession, conclude, prepare, publish_turn,
};
use crate::events::{
    AgentPresence, AgentStateAt, LivekitReport, NoticeLevel, Side, TalkEvent, TalkState, TurnError,
    TurnReport,
};
use crate::livekit::{LivekitLink, TrackSlot, Transcript, Uplink, looks_like_agent, why_no_agent};
use crate::segments::TurnMarks;
use crate::services::Service;

/// How long a turn whose reply ended waits for Marie's transcript of it.
pub const CLOSING_GRACE: Duration = Duration::from_millis(1500);
/// A frame of Marie's louder than this (RMS, dBFS) is audible.
const AUDIBLE_DBFS: f32 = -45.0;
/// Silence after her last audible frame that is still part of her speech (a pause).
pub const TRAILING_SILENCE: Duration = Duration::from_millis(600);
/// With a held input (a script): let it speak when the agent has listened this long
/// without saying an opening line.
const NO_OPENING_AFTER: Duration = Duration::from_secs(5);

impl TalkSession {
    /// Starts a LiveKit-mode session on the current Tokio runtime: joins `link.room` and
    /// talks with the agent there (see the module docs). Joining happens in the session:
    /// a failure to join ends it with the reason.
    pub fn start_livekit(
        config: TalkConfig,
        link: LivekitLink,
        input: Box<dyn greenroom_voice::AudioIn>,
        output: Arc<dyn AudioOut>,
        sink: Arc<dyn greenroom_core::EventSink<TalkEvent>>,
    ) -> Result<TalkSession, TalkError> {
        let (uplink, slot) = Uplink::new(input.sample_rate())?;
        let hold = config.hold_input_during_opening;
        let prepared = prepare(&config, input, sink, Some(uplink), hold)?;
        let control = prepared.control.clone();
        let stats = prepared.stats.clone();
        let live = Live::new(
            config,
            link,
            prepared.shared,
            output,
            prepared.control,
            hold,
        );
        let task = tokio::spawn(live.run(prepared.capture, prepared.commands, slot));
        Ok(TalkSession {
            control,
            task,
            stats,
        })
    }
}

/// The learner's speech heard while Marie was still answering the turn before.
#[derive(Debug, Clone, Copy)]
struct PendingSpeech {
    started: Instant,
    ended: Option<(Instant, Instant)>,
    utterance_ms: f64,
}

/// One turn in flight.
struct LiveTurn {
    index: u32,
    started: Instant,
    marks: TurnMarks,
    learner_text: String,
    marie_text: String,
    marie_final: bool,
    utterance_ms: f64,
    learner_speaking: bool,
    /// The learner started speaking over Marie at this instant.
    barge_at: Option<Instant>,
    /// The coach pressed Interrupt.
    muted_by_coach: bool,
    /// The agent went back to listening after speaking: waiting for her transcript.
    closing_since: Option<Instant>,
    /// When the first audible frame was handed to the output (to refine `first_audio`).
    play_requested: Option<Instant>,
    error: Option<TurnError>,
}

impl LiveTurn {
    fn new(index: u32, started: Instant) -> Self {
        Self {
            index,
            started,
            marks: TurnMarks {
                via_agent: true,
                ..Default::default()
            },
            learner_text: String::new(),
            marie_text: String::new(),
            marie_final: false,
            utterance_ms: 0.0,
            learner_speaking: false,
            barge_at: None,
            muted_by_coach: false,
            closing_since: None,
            play_requested: None,
            error: None,
        }
    }

    /// Marie has started answering this turn.
    fn answered(&self) -> bool {
        self.marks.agent_speaking.is_some() || self.marks.audio_received.is_some()
    }

    /// The agent has reacted to this turn in any way.
    fn reacted(&self) -> bool {
        self.answered() || self.marks.agent_thinking.is_some()
    }
}

/// Where Marie's agent is.
#[derive(Default)]
struct AgentWatch {
    identity: Option<String>,
    state: Option<String>,
    joined_at: Option<Instant>,
    /// Since when we have been waiting for it (join, or its leaving).
    waiting_since: Option<Instant>,
    left_at: Option<Instant>,
    /// It has spoken at least once (the opening, or a reply).
    has_spoken: bool,
    /// Agents that left: a late update about them (their last state) is not a return.
    departed: std::collections::HashSet<String>,
}

struct Live {
    config: TalkConfig,
    link: LivekitLink,
    shared: Arc<Shared>,
    output: Arc<dyn AudioOut>,
    control: TalkControl,
    report: LivekitReport,
    turns: Vec<TurnReport>,
    current: Option<LiveTurn>,
    pending: Option<PendingSpeech>,
    agent: AgentWatch,
    own_track: String,
    opening: String,
    opening_done: bool,
    held: bool,
    /// Silence Marie here until she stops speaking (the coach's Interrupt).
    muted: bool,
    last_audible: Option<Instant>,
    learner_speaking: bool,
    marie_meter: LevelMeter,
    marie_to_16k: Option<StreamResampler>,
    input_ended: bool,
    end_reason: Option<String>,
}

impl Live {
    fn new(
        config: TalkConfig,
        link: LivekitLink,
        shared: Arc<Shared>,
        output: Arc<dyn AudioOut>,
        control: TalkControl,
        held: bool,
    ) -> Self {
        let report = LivekitReport {
            url: link.url.clone(),
            room: link.room.clone(),
            identity: String::new(),
            token_source: link.token_source.clone(),
            dispatch: link.dispatch.describe(),
            join_ms: None,
            joined_at_ms: None,
            agent_joined_at_ms: None,
            agent_identity: None,
            opening_first_audio_at_ms: None,
            agent_states: Vec::new(),
        };
        let recording = lock_unpoisoned(&shared.recorder).is_some();
        Self {
            config,
            link,
            shared,
            output,
            control,
            report,
            turns: Vec::new(),
            current: None,
            pending: None,
            agent: AgentWatch::default(),
            own_track: String::new(),
            opening: String::new(),
            opening_done: false,
            held,
            muted: false,
            last_audible: None,
            learner_speaking: false,
            marie_meter: LevelMeter::new(LEVELS_PER_SECOND).unwrap_or_default(),
            marie_to_16k: recording
                .then(|| StreamResampler::new(SAMPLE_RATE, STT_RATE).ok())
                .flatten(),
            input_ended: false,
            end_reason: None,
        }
    }

    fn end(&mut self, reason: impl Into<String>) {
        self.end_reason.get_or_insert_with(|| reason.into());
    }

    async fn run(
        mut self,
        mut capture: mpsc::UnboundedReceiver<CaptureMsg>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        slot: TrackSlot,
    ) -> crate::events::TalkReport {
        let started_unix_ms = greenroom_core::unix_millis();
        self.shared.notice(
            NoticeLevel::Info,
            format!(
                "joining room {} at {} (token: {}; agent dispatch: {})",
                self.link.room,
                self.link.url,
                self.link.token_source,
                self.link.dispatch.describe()
            ),
            None,
        );
        let joined = {
            let join = join_and_publish(&self.link);
            tokio::pin!(join);
            loop {
                tokio::select! {
                    r = &mut join => break Some(r),
                    c = commands.recv() => match c {
                        Some(Command::Interrupt) => continue,
                        Some(Command::Stop) | None => break None,
                    },
                }
            }
        };
        let mut participant = match joined {
            None => {
                self.end("stopped");
                None
            }
            Some(Err(message)) => {
                self.shared
                    .notice(NoticeLevel::Error, message.clone(), Some(Service::Agent));
                self.end(message);
                None
            }
            Some(Ok((participant, track))) => {
                self.own_track = track.sid.clone();
                *lock_unpoisoned(&slot) = Some(track);
                Some(participant)
            }
        };
        if let Some(p) = participant.as_mut() {
            self.joined(p);
            self.main_loop(p, &mut capture, &mut commands).await;
        }
        *lock_unpoisoned(&slot) = None;
        let _ = self.control.capture.send(CaptureControl::Stop);
        self.output.stop();
        if let Some(turn) = self.current.take() {
            self.finish(turn, None);
        }
        if let Some(p) = participant {
            p.leave().await;
        }
        let ended_because = self.end_reason.clone().unwrap_or_else(|| "stopped".into());
        let opening = (!self.opening.is_empty()).then(|| self.opening.clone());
        conclude(
            &self.config,
            &self.shared,
            Ending {
                started_unix_ms,
                endpoints: None,
                opening,
                turns: std::mem::take(&mut self.turns),
                ended_because,
                livekit: Some(self.report.clone()),
            },
        )
    }

    fn joined(&mut self, p: &Participant) {
        let now = Instant::now();
        self.report.identity = p.identity.clone();
        self.report.join_ms = Some(p.ready_time.as_secs_f64() * 1000.0);
        self.report.joined_at_ms = Some(self.shared.ms(now));
        self.shared.sink.emit(TalkEvent::Room {
            url: self.link.url.clone(),
            room: p.room.clone(),
            identity: p.identity.clone(),
            token_source: self.link.token_source.clone(),
            dispatch: self.link.dispatch.describe(),
            join_ms: p.ready_time.as_secs_f64() * 1000.0,
            at_ms: self.shared.ms(now),
        });
        self.agent.waiting_since = Some(now);
        if let Some((_, identity)) = p.others.iter().find(|(_, id)| looks_like_agent(id)) {
            self.agent_joined(identity.clone(), now);
            let learners: Vec<&str> = p
                .others
                .iter()
                .map(|(_, id)| id.as_str())
                .filter(|id| !looks_like_agent(id))
                .collect();
            if !learners.is_empty() {
                self.shared.notice(
                    NoticeLevel::Warning,
                    format!(
                        "Marie's agent was already here with {}: an agent on the LiveKit framework listens to the participant it started with, so she may not hear you. You hear her",
                        learners.join(", ")
                    ),
                    Some(Service::Agent),
                );
            }
        } else {
            self.shared.sink.emit(TalkEvent::Agent {
                presence: AgentPresence::Waiting,
                identity: None,
                state: None,
                detail: Some(format!(
                    "waiting up to {} s for Marie's agent ({} dispatch)",
                    self.link.agent_timeout.as_secs(),
                    self.link.dispatch.describe()
                )),
                timeout_ms: Some(self.link.agent_timeout.as_secs_f64() * 1000.0),
                at_ms: self.shared.ms(now),
            });
        }
    }

    async fn main_loop(
        &mut self,
        participant: &mut Participant,
        capture: &mut mpsc::UnboundedReceiver<CaptureMsg>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) {
        let mut tick =
            tokio::time::interval(Duration::from_millis(1000 / LEVELS_PER_SECOND as u64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut queued: VecDeque<CaptureMsg> = VecDeque::new();
        while self.end_reason.is_none() {
            if self.input_ended && self.current.is_none() && self.pending.is_none() {
                self.end("input ended");
                break;
            }
            if let Some(message) = queued.pop_front() {
                self.on_capture(Some(message));
                continue;
            }
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Interrupt) => self.interrupt(),
                    Some(Command::Stop) | None => self.end("stopped"),
                },
                message = capture.recv(), if !self.input_ended => self.on_capture(message),
                event = participant.next_event(Duration::from_secs(3600)) => match event {
                    Some(event) => self.on_event(event),
                    None => self.end("the room connection ended"),
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    fn on_capture(&mut self, message: Option<CaptureMsg>) {
        match message {
            Some(CaptureMsg::Vad(VadEvent::SpeechStarted { at })) => self.speech_started(at),
            Some(CaptureMsg::Vad(VadEvent::SpeechEnded { at, utterance, .. })) => {
                let delay = *lock_unpoisoned(&self.control.delay);
                let last_speech = if *lock_unpoisoned(&self.control.mode) == VadMode::Auto {
                    at.checked_sub(delay).unwrap_or(at).min(at)
                } else {
                    at
                };
                let ms = utterance.len() as f64 * 1000.0 / STT_RATE as f64;
                self.speech_ended(last_speech, at, ms);
            }
            Some(CaptureMsg::Ended) => self.input_ended = true,
            Some(CaptureMsg::Failed(message)) => {
                self.input_ended = true;
                self.shared
                    .notice(NoticeLevel::Error, message.clone(), None);
                self.end(message);
            }
            None => {
                self.input_ended = true;
                self.end("the capture thread stopped");
            }
        }
    }

    fn marie_speaking(&self) -> bool {
        self.agent.state.as_deref() == Some("speaking")
    }

    fn new_turn(&mut self, started: Instant) -> LiveTurn {
        LiveTurn::new(self.turns.len() as u32, started)
    }

    fn speech_started(&mut self, at: Instant) {
        self.learner_speaking = true;
        let speaking = self.marie_speaking();
        match self.current.as_mut() {
            Some(turn) if speaking || turn.closing_since.is_some() => {
                // Over Marie's reply: hers to stop or not; the words open the next turn.
                if speaking {
                    turn.barge_at.get_or_insert(at);
                }
                self.pending.get_or_insert(PendingSpeech {
                    started: at,
                    ended: None,
                    utterance_ms: 0.0,
                });
            }
            Some(turn) => {
                // Before she answered: the learner had not finished.
                turn.learner_speaking = true;
            }
            None => {
                let mut turn = self.new_turn(at);
                turn.learner_speaking = true;
                self.current = Some(turn);
            }
        }
        if !speaking {
            self.shared
                .set_state(TalkState::LearnerSpeaking, self.turn_index());
        }
    }

    fn speech_ended(&mut self, last_speech: Instant, at: Instant, utterance_ms: f64) {
        self.learner_speaking = false;
        if let Some(pending) = self.pending.as_mut() {
            pending.ended = Some((last_speech, at));
            pending.utterance_ms += utterance_ms;
            return;
        }
        let Some(turn) = self.current.as_mut() else {
            return;
        };
        turn.learner_speaking = false;
        turn.marks.speech_last = Some(last_speech);
        turn.marks.endpointed = Some(at);
        turn.utterance_ms += utterance_ms;
        if !turn.reacted() {
            self.shared
                .set_state(TalkState::EndOfSpeech, Some(turn.index));
        }
        if self.agent.identity.is_none() {
            // Nobody is there to answer: say so now rather than after the reply timeout.
            let mut turn = self.current.take().expect("checked");
            let message = match self.agent.left_at {
                Some(left) => format!(
                    "no agent is in the room to answer: Marie's agent left {:.0} s ago",
                    Instant::now().saturating_duration_since(left).as_secs_f64()
                ),
                None => {
                    "no agent is in the room to answer yet: Marie's agent has not joined".into()
                }
            };
            self.shared
                .notice(NoticeLevel::Error, message.clone(), Some(Service::Agent));
            turn.error = Some(self.agent_error("no_agent", message));
            self.finish(turn, None);
            self.shared.set_state(TalkState::Idle, None);
        }
    }

    fn turn_index(&self) -> Option<u32> {
        self.current.as_ref().map(|t| t.index)
    }

    fn interrupt(&mut self) {
        if !self.marie_speaking() && !self.output.is_playing() {
            return;
        }
        self.output.stop();
        self.muted = true;
        if let Some(turn) = self.current.as_mut() {
            turn.muted_by_coach = true;
        }
        self.shared.notice(
            NoticeLevel::Info,
            "Marie is silenced here until she finishes: in LiveKit mode her agent decides whether to stop (speak over her to interrupt her)".into(),
            Some(Service::Agent),
        );
    }

    fn on_event(&mut self, event: ParticipantEvent) {
        let now = Instant::now();
        match event {
            ParticipantEvent::ParticipantJoined { identity, .. } => {
                if looks_like_agent(&identity) {
                    self.agent_joined(identity, now);
                } else {
                    self.shared.notice(
                        NoticeLevel::Info,
                        format!("{identity} joined the room"),
                        None,
                    );
                }
            }
            ParticipantEvent::ParticipantLeft { identity, .. } => {
                if self.agent.identity.as_deref() == Some(identity.as_str()) {
                    self.agent_left(identity, now);
                } else {
                    self.shared.notice(
                        NoticeLevel::Info,
                        format!("{identity} left the room"),
                        None,
                    );
                }
            }
            ParticipantEvent::AgentState { participant, state } => {
                self.agent_state(participant, state, now)
            }
            ParticipantEvent::Audio(frame) => self.marie_audio(frame, now),
            ParticipantEvent::Text {
                participant,
                topic,
                text,
                attributes,
            } => {
                if let Some(t) = Transcript::read(&topic, &text, &attributes, &self.own_track) {
                    self.transcript(&participant, t, now);
                }
            }
            ParticipantEvent::Reconnecting(reason) => self.shared.notice(
                NoticeLevel::Warning,
                format!(
                    "the signalling connection was lost ({reason}); resuming, media keeps flowing"
                ),
                None,
            ),
            ParticipantEvent::Reconnected { took, .. } => self.shared.notice(
                NoticeLevel::Info,
                format!(
                    "the signalling connection is back after {} ms",
                    took.as_millis()
                ),
                None,
            ),
            ParticipantEvent::Closed(reason) => {
                use greenroom_rooms::signal::Closed;
                let why = match reason {
                    Closed::Left => "we left".to_string(),
                    Closed::ByServer { reason, .. } => format!(
                        "the server sent us away ({reason}: the room was deleted, we were removed, or the server is shutting down)"
                    ),
                    Closed::PingTimeout(after) => {
                        format!("the server went silent for {} s", after.as_secs())
                    }
                    Closed::Transport(e) => format!("the connection failed ({e})"),
                };
                let message = format!("the room session ended: {why}");
                self.shared
                    .notice(NoticeLevel::Error, message.clone(), None);
                self.end(message);
            }
            ParticipantEvent::TrackSubscribed { .. } | ParticipantEvent::Data { .. } => {}
        }
    }

    fn agent_joined(&mut self, identity: String, now: Instant) {
        if self.agent.departed.contains(&identity) {
            return;
        }
        if let Some(known) = &self.agent.identity {
            if *known != identity {
                self.shared.notice(
                    NoticeLevel::Warning,
                    format!(
                        "a second agent, {identity}, joined the room; Greenroom follows {known}"
                    ),
                    Some(Service::Agent),
                );
            }
            return;
        }
        let back_after = self.agent.left_at.map(|left| now - left);
        self.agent.identity = Some(identity.clone());
        self.agent.joined_at = Some(now);
        self.agent.waiting_since = None;
        self.agent.left_at = None;
        self.report.agent_identity = Some(identity.clone());
        self.report
            .agent_joined_at_ms
            .get_or_insert(self.shared.ms(now));
        self.shared.sink.emit(TalkEvent::Agent {
            presence: AgentPresence::Joined,
            identity: Some(identity.clone()),
            state: self.agent.state.clone(),
            detail: back_after.map(|d| format!("back after {:.1} s", d.as_secs_f64())),
            timeout_ms: None,
            at_ms: self.shared.ms(now),
        });
        if let Some(d) = back_after {
            self.shared.notice(
                NoticeLevel::Info,
                format!(
                    "Marie's agent is back in the room ({identity}) after {:.1} s",
                    d.as_secs_f64()
                ),
                Some(Service::Agent),
            );
        }
    }

    fn agent_left(&mut self, identity: String, now: Instant) {
        let mut departed = std::mem::take(&mut self.agent.departed);
        departed.insert(identity.clone());
        self.agent = AgentWatch {
            waiting_since: Some(now),
            left_at: Some(now),
            has_spoken: self.agent.has_spoken,
            departed,
            ..Default::default()
        };
        let message = format!(
            "Marie's agent ({identity}) left the room: its process may have stopped. A supervisor restarts a crashed agent, but LiveKit sends a new worker only to new rooms: start a new talk to go on. Waiting {} s in case it comes back",
            self.link.agent_timeout.as_secs()
        );
        self.shared.sink.emit(TalkEvent::Agent {
            presence: AgentPresence::Left,
            identity: Some(identity),
            state: None,
            detail: Some(message.clone()),
            timeout_ms: Some(self.link.agent_timeout.as_secs_f64() * 1000.0),
            at_ms: self.shared.ms(now),
        });
        self.shared
            .notice(NoticeLevel::Error, message.clone(), Some(Service::Agent));
        self.output.stop();
        if let Some(mut turn) = self.current.take() {
            turn.error = Some(self.agent_error("agent_left", message));
            self.finish(turn, None);
        }
        self.pending = None;
        self.shared.set_state(TalkState::Idle, None);
    }

    fn agent_state(&mut self, participant: String, state: String, now: Instant) {
        if self.agent.departed.contains(&participant) {
            return;
        }
        if self.agent.identity.is_none() {
            self.agent_joined(participant.clone(), now);
        }
        if self.agent.identity.as_deref() != Some(participant.as_str()) {
            return;
        }
        let previous = self.agent.state.replace(state.clone());
        if previous.as_deref() == Some(state.as_str()) {
            return;
        }
        self.report.agent_states.push(AgentStateAt {
            state: state.clone(),
            at_ms: self.shared.ms(now),
        });
        self.shared.sink.emit(TalkEvent::Agent {
            presence: AgentPresence::Joined,
            identity: Some(participant),
            state: Some(state.clone()),
            detail: None,
            timeout_ms: None,
            at_ms: self.shared.ms(now),
        });
        let was_speaking = previous.as_deref() == Some("speaking");
        if was_speaking {
            self.marie_stopped(now);
        }
        match state.as_str() {
            "thinking" => {
                if self.current.is_none() && self.opening_done {
                    // The agent heard something our detector did not.
                    self.current = Some(self.new_turn(now));
                }
                if let Some(turn) = self.current.as_mut() {
                    turn.marks.agent_thinking.get_or_insert(now);
                }
                self.shared
                    .set_state(TalkState::Thinking, self.turn_index());
            }
            "speaking" => {
                self.agent.has_spoken = true;
                if let Some(turn) = self
                    .current
                    .as_mut()
                    .filter(|t| t.reacted() || t.marks.speech_last.is_some())
                {
                    turn.marks.agent_speaking.get_or_insert(now);
                }
                let index = self
                    .current
                    .as_ref()
                    .filter(|t| t.marks.agent_speaking.is_some())
                    .map(|t| t.index);
                self.shared.set_state(TalkState::Speaking, index);
            }
            "listening" => {
                let state = if self.learner_speaking {
                    TalkState::LearnerSpeaking
                } else {
                    TalkState::Listening
                };
                self.shared.set_state(state, self.turn_index());
            }
            _ => {}
        }
    }

    /// Marie's state left `speaking`: her reply (or opening) is over, or she was cut.
    fn marie_stopped(&mut self, now: Instant) {
        self.muted = false;
        let Some(turn) = self.current.as_mut() else {
            if self.agent.has_spoken {
                self.opening_done = true;
            }
            return;
        };
        if !turn.answered() {
            // Her opening, spoken while the learner had begun.
            self.opening_done = true;
            return;
        }
        let cut = turn.barge_at.is_some() && self.learner_speaking;
        if cut {
            let barge = turn.barge_at.expect("checked");
            let stopped = self
                .last_audible
                .filter(|a| *a > barge)
                .map(|a| (a + Duration::from_millis(20)).min(now))
                .unwrap_or(now);
            turn.marks.playback_ended = Some(stopped);
            let turn = self.current.take().expect("checked");
            self.finish(turn, Some(stopped.saturating_duration_since(barge)));
            self.promote_pending();
        } else {
            turn.marks.playback_ended.get_or_insert(now);
            turn.closing_since = Some(now);
        }
    }

    /// Speech heard during Marie's reply becomes the current turn.
    fn promote_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            let mut turn = self.new_turn(p.started);
            turn.utterance_ms = p.utterance_ms;
            match p.ended {
                Some((last, at)) => {
                    turn.marks.speech_last = Some(last);
                    turn.marks.endpointed = Some(at);
                }
                None => turn.learner_speaking = true,
            }
            self.current = Some(turn);
        }
    }

    fn marie_audio(&mut self, frame: AudioFrame, now: Instant) {
        let from_agent = match &self.agent.identity {
            Some(agent) => *agent == frame.participant,
            None => looks_like_agent(&frame.participant),
        };
        if !from_agent {
            return;
        }
        let samples: Vec<f32> = frame
            .samples
            .iter()
            .map(|s| *s as f32 / i16::MAX as f32)
            .collect();
        if let Some(level) = self.marie_meter.push(&samples, frame.played_at) {
            self.shared.sink.emit(TalkEvent::Level {
                side: Side::Marie,
                rms_dbfs: level.rms_dbfs,
                peak_dbfs: level.peak_dbfs,
                at_ms: self.shared.ms(frame.played_at),
            });
        }
        if let Some(r) = self.marie_to_16k.as_mut()
            && let Ok(converted) = r.push(&samples)
        {
            self.shared
                .record(|rec| rec.write_marie(&converted, frame.played_at));
        }
        let audible = greenroom_voice::meter::rms_dbfs(&samples) > AUDIBLE_DBFS;
        // The agent's track never stops: silence flows between replies. Silence is played
        // only as the pauses inside her speech (up to TRAILING_SILENCE after her last
        // audible frame), so that the output is silent, and says so, when she is.
        let in_speech = audible
            || self
                .last_audible
                .is_some_and(|a| frame.played_at.saturating_duration_since(a) < TRAILING_SILENCE);
        if !self.muted
            && in_speech
            && let Err(e) = self.output.play(samples, SAMPLE_RATE)
        {
            self.shared.notice(
                NoticeLevel::Error,
                format!("Marie's voice cannot be played: {e}"),
                None,
            );
            self.muted = true;
        }
        if !audible {
            return;
        }
        self.last_audible = Some(frame.played_at);
        match self.current.as_mut() {
            Some(turn)
                if turn.marks.audio_received.is_none()
                    && (turn.reacted() || turn.marks.speech_last.is_some()) =>
            {
                turn.marks.audio_received = Some(frame.played_at);
                turn.marks.first_audio = Some(now);
                turn.play_requested = Some(now);
            }
            Some(_) => {}
            None => {
                if !self.opening_done {
                    self.report
                        .opening_first_audio_at_ms
                        .get_or_insert(self.shared.ms(frame.played_at));
                }
            }
        }
    }

    fn transcript(&mut self, participant: &str, t: Transcript, now: Instant) {
        if t.text.is_empty() {
            return;
        }
        if t.of_learner {
            if self.current.is_none() && t.is_final {
                self.current = Some(self.new_turn(now));
            }
            let turn = self.current.as_mut();
            let index = turn.as_ref().map(|t| t.index);
            if let Some(turn) = turn
                && t.is_final
            {
                turn.marks.learner_transcript.get_or_insert(now);
                join_text(&mut turn.learner_text, &t.text);
            }
            self.shared.sink.emit(TalkEvent::Text {
                turn: index,
                side: Side::Learner,
                text: t.text,
                is_final: t.is_final,
            });
            return;
        }
        if self
            .agent
            .identity
            .as_deref()
            .is_some_and(|a| a != participant)
        {
            return;
        }
        let turn = self.current.as_mut().filter(|t| t.reacted());
        let index = turn.as_ref().map(|t| t.index);
        match turn {
            Some(turn) => {
                if t.is_final {
                    join_text(&mut turn.marie_text, &t.text);
                    turn.marie_final = true;
                }
            }
            None => {
                if t.is_final && self.turns.is_empty() {
                    join_text(&mut self.opening, &t.text);
                }
            }
        }
        self.shared.sink.emit(TalkEvent::Text {
            turn: index,
            side: Side::Marie,
            text: t.text,
            is_final: t.is_final,
        });
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        // The agent never came, or did not come back.
        if let Some(since) = self.agent.waiting_since
            && now.saturating_duration_since(since) >= self.link.agent_timeout
        {
            self.agent_missing(now);
            return;
        }
        // When the sound device actually started her reply.
        if let Some(turn) = self.current.as_mut()
            && let Some(requested) = turn.play_requested
        {
            if let Some(at) = self.output.last_started_at().filter(|at| *at >= requested) {
                turn.marks.first_audio = Some(at);
                turn.play_requested = None;
            } else if now.saturating_duration_since(requested) > Duration::from_secs(1) {
                turn.play_requested = None;
            }
        }
        // A reply heard to its end, once its transcript came (or the grace ran out).
        if let Some(turn) = self.current.as_ref()
            && let Some(since) = turn.closing_since
            && (turn.marie_final || now.saturating_duration_since(since) >= CLOSING_GRACE)
        {
            let turn = self.current.take().expect("checked");
            self.finish(turn, None);
            self.promote_pending();
        }
        // An utterance the agent never answered (never reacted to, or thought about for
        // longer than a reply may take).
        if let Some(turn) = self.current.as_ref()
            && !turn.answered()
            && !turn.learner_speaking
            && let Some(since) = turn.marks.agent_thinking.or(turn.marks.endpointed)
            && now.saturating_duration_since(since) >= self.link.reply_timeout
        {
            let mut turn = self.current.take().expect("checked");
            turn.error = Some(self.agent_error(
                "no_reply",
                if turn.reacted() {
                    format!(
                        "Marie's agent thought about the utterance for {} s without answering: its LLM or TTS may be down or slow; look at the agent's log",
                        self.link.reply_timeout.as_secs()
                    )
                } else {
                    format!(
                        "Marie's agent did not react to the utterance within {} s: it may not have heard it (is its speech detection too strict, its STT down?); look at the agent's log",
                        self.link.reply_timeout.as_secs()
                    )
                },
            ));
            if let Some(e) = &turn.error {
                self.shared
                    .notice(NoticeLevel::Error, e.message.clone(), Some(Service::Agent));
            }
            self.finish(turn, None);
            self.shared.set_state(TalkState::Listening, None);
        }
        // A script waits for the opening line to be heard.
        if self.held {
            let listened_long = self.agent.state.as_deref() == Some("listening")
                && self
                    .agent
                    .joined_at
                    .is_some_and(|j| now.saturating_duration_since(j) >= NO_OPENING_AFTER);
            if self.opening_done || (listened_long && !self.agent.has_spoken) {
                self.held = false;
                let _ = self.control.capture.send(CaptureControl::Go);
            }
        }
    }

    fn agent_missing(&mut self, now: Instant) {
        let reasons = why_no_agent(&self.link);
        let gone = self.agent.left_at.is_some();
        let head = if gone {
            format!(
                "Marie's agent left room {} and did not come back within {} s",
                self.link.room,
                self.link.agent_timeout.as_secs()
            )
        } else {
            format!(
                "Marie's agent did not join room {} within {} s",
                self.link.room,
                self.link.agent_timeout.as_secs()
            )
        };
        let detail = format!(
            "{head}. Why it may not have: {}",
            reasons
                .iter()
                .enumerate()
                .map(|(i, r)| format!("({}) {r}", i + 1))
                .collect::<Vec<_>>()
                .join(" ")
        );
        self.agent.waiting_since = None;
        self.shared.sink.emit(TalkEvent::Agent {
            presence: AgentPresence::Missing,
            identity: None,
            state: None,
            detail: Some(detail.clone()),
            timeout_ms: Some(self.link.agent_timeout.as_secs_f64() * 1000.0),
            at_ms: self.shared.ms(now),
        });
        self.shared
            .notice(NoticeLevel::Error, detail.clone(), Some(Service::Agent));
        self.end(detail);
    }

    fn finish(&mut self, turn: LiveTurn, barge_in_stop: Option<Duration>) {
        let interrupted = barge_in_stop.is_some() || turn.muted_by_coach;
        let report = super::build_report(
            &self.shared,
            super::TurnFacts {
                index: turn.index,
                started: turn.started,
                marks: turn.marks,
                learner_text: turn.learner_text,
                marie_text: turn.marie_text,
                utterance_ms: turn.utterance_ms,
                stt_confidence: None,
                interrupted,
                barge_in_stop_ms: barge_in_stop.map(|d| d.as_secs_f64() * 1000.0),
                error: turn.error,
            },
        );
        publish_turn(&self.shared, turn.started, &turn.marks, &report);
        self.turns.push(report);
        if self
            .config
            .max_turns
            .is_some_and(|m| self.turns.len() as u32 >= m)
        {
            self.end("max turns");
        }
    }
}

impl Live {
    /// A turn's failure that Marie's agent is the cause of.
    fn agent_error(&self, tag: &str, message: String) -> TurnError {
        TurnError {
            service: Service::Agent,
            url: self.link.url.clone(),
            tag: tag.into(),
            message,
        }
    }
}

fn join_text(into: &mut String, text: &str) {
    if !into.is_empty() {
        into.push(' ');
    }
    into.push_str(text);
}

/// Joins the room and publishes the microphone; the error is a sentence for the coach.
async fn join_and_publish(
    link: &LivekitLink,
) -> Result<(Participant, greenroom_rooms::participant::AudioTrack), String> {
    let participant = Participant::join(&link.url, &link.token, &link.options)
        .await
        .map_err(|e| format!("cannot join room {} at {}: {e}", link.room, link.url))?;
    let track = participant.publish_audio("microphone").await.map_err(|e| {
        format!(
            "joined room {} but cannot publish the microphone: {e}",
            link.room
        )
    })?;
    Ok((participant, track))
}
