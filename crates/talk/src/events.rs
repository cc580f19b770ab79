//! What a talk session tells the outside world, and the report it leaves.
//!
//! Events go through the core's [`greenroom_core::EventSink`]; the API forwards them on
//! the channel `talk://<session id>`. Times are milliseconds from the session's start.
//!
//! | event     | when                                                               |
//! |-----------|--------------------------------------------------------------------|
//! | `state`   | the turn state changes (see [`TalkState`])                         |
//! | `level`   | at most 15 times a second per side while that side has sound        |
//! | `text`    | the learner's transcript (final), Marie's reply as it streams (partial) and whole (final) |
//! | `turn`    | a turn ended: its texts, segments, interruption, error             |
//! | `notice`  | something a coach should know: a device change, a service failure, the headphones hint |
//! | `room`    | LiveKit mode: we joined the room (where, how the token was had, how long it took) |
//! | `agent`   | LiveKit mode: Marie's agent is awaited, joined, changed state, left, or never came |
//! | `ended`   | the session is over; the [`TalkReport`] follows from `finished()`  |
//!
//! The report's schema is `greenroom.talk/1` ([`REPORT_SCHEMA`]): `turns[]`, each with
//! `learner_text`, `marie_text`, `segments` (contiguous, in ms, summing to
//! `time_to_first_audio_ms`), `interrupted`, and `error` when a service failed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::segments::{Segment, TurnFigures};
use crate::services::{EndpointsView, Service};

pub const REPORT_SCHEMA: &str = "greenroom.talk/1";

/// Where a session is in its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TalkState {
    Idle,
    /// The microphone is live; nobody is talking.
    Listening,
    LearnerSpeaking,
    /// The learner stopped; the end-of-speech delay decided the turn is over.
    EndOfSpeech,
    Transcribing,
    /// Waiting for the conversation service.
    Thinking,
    /// Marie's voice is playing.
    Speaking,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Learner,
    Marie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
    Error,
}

/// A failed stage of a turn, as reports and the UI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TurnError {
    pub service: Service,
    pub url: String,
    /// `down`, `timeout`, `http_500`, `bad_answer`.
    pub tag: String,
    pub message: String,
}

/// One learner turn and Marie's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TurnReport {
    pub index: u32,
    /// When the learner started speaking.
    pub started_ms: f64,
    pub learner_text: String,
    pub marie_text: String,
    /// The learner's utterance, in ms of audio.
    pub utterance_ms: f64,
    pub stt_confidence: Option<f32>,
    #[serde(flatten)]
    pub figures: TurnFigures,
    /// The learner spoke over Marie (or the coach pressed Interrupt) and she was stopped.
    pub interrupted: bool,
    /// Speech detected → playback stopped, for an interruption during playback.
    pub barge_in_stop_ms: Option<f64>,
    pub error: Option<TurnError>,
    /// Every instant the segments were cut at, for whoever wants to look closer.
    pub marks: Vec<crate::segments::MarkAt>,
}

impl TurnReport {
    pub fn segments(&self) -> &[Segment] {
        &self.figures.segments
    }
}

/// Aggregates over the session's turns (nearest-rank percentiles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkSummary {
    pub turns: u32,
    /// Turns whose reply was heard to its end.
    pub completed: u32,
    pub interrupted: u32,
    pub failed: u32,
    pub time_to_first_audio_p50_ms: Option<f64>,
    pub time_to_first_audio_p95_ms: Option<f64>,
    pub overhead_p50_ms: Option<f64>,
    pub overhead_max_ms: Option<f64>,
}

/// The whole session (`greenroom.talk/1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TalkReport {
    pub schema: String,
    /// `direct` (this issue) or `livekit`.
    pub mode: String,
    pub exercise: String,
    pub character: String,
    pub endpoints: Option<EndpointsView>,
    #[ts(type = "number")]
    pub started_unix_ms: u64,
    pub duration_ms: f64,
    /// Marie's opening line, when she spoke first.
    pub opening: Option<String>,
    pub turns: Vec<TurnReport>,
    pub summary: TalkSummary,
    /// Where the recording is, when one was made.
    pub record_dir: Option<String>,
    /// LiveKit mode: the room, the agent and their timings.
    pub livekit: Option<LivekitReport>,
    /// Why it ended: `stopped`, `input ended`, `max turns`, or the failure.
    pub ended_because: String,
}

/// Whether Marie's agent is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AgentPresence {
    /// Joined the room; waiting for the agent (until the agent timeout).
    Waiting,
    Joined,
    /// It left the room (its process may have stopped); waiting for it to come back.
    Left,
    /// It did not come within the timeout: `detail` says why it may not have.
    Missing,
}

/// One `lk.agent.state` the agent published, when it reached us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AgentStateAt {
    pub state: String,
    pub at_ms: f64,
}

/// A LiveKit session's room, agent and timings (ms from the session's start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LivekitReport {
    pub url: String,
    pub room: String,
    /// Our identity in the room.
    pub identity: String,
    /// `token service` (as the Flutter app gets it) or `minted` (with the stack's keys), and why.
    pub token_source: String,
    /// `automatic`, or `explicit: <agent name>`.
    pub dispatch: String,
    /// Token → joined and ready (our participant's own figure).
    pub join_ms: Option<f64>,
    /// Session start → joined and the microphone track published.
    pub joined_at_ms: Option<f64>,
    /// Session start → the agent was in the room.
    pub agent_joined_at_ms: Option<f64>,
    pub agent_identity: Option<String>,
    /// Session start → the first audible frame of Marie's opening line.
    pub opening_first_audio_at_ms: Option<f64>,
    /// Every state the agent published, in order.
    pub agent_states: Vec<AgentStateAt>,
}

/// What a session emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TalkEvent {
    State {
        state: TalkState,
        turn: Option<u32>,
        at_ms: f64,
    },
    Level {
        side: Side,
        rms_dbfs: f32,
        peak_dbfs: f32,
        at_ms: f64,
    },
    Text {
        turn: Option<u32>,
        side: Side,
        text: String,
        is_final: bool,
    },
    Turn {
        turn: TurnReport,
    },
    Notice {
        level: NoticeLevel,
        message: String,
        service: Option<Service>,
    },
    /// LiveKit mode: joined `room` (the microphone is published).
    Room {
        url: String,
        room: String,
        identity: String,
        token_source: String,
        /// `automatic`, or `explicit: <agent name>`.
        dispatch: String,
        join_ms: f64,
        at_ms: f64,
    },
    /// LiveKit mode: where Marie's agent is, and its `lk.agent.state` when it has one.
    Agent {
        presence: AgentPresence,
        identity: Option<String>,
        state: Option<String>,
        /// Why it may be missing, what happened to it.
        detail: Option<String>,
        /// While waiting (or after it left): how long it may take to come, in ms.
        timeout_ms: Option<f64>,
        at_ms: f64,
    },
    Ended {
        because: String,
        summary: TalkSummary,
    },
}

pub(crate) fn summarize(turns: &[TurnReport]) -> TalkSummary {
    let ttfa: Vec<f64> = turns
        .iter()
        .filter_map(|t| t.figures.time_to_first_audio_ms)
        .collect();
    let overhead: Vec<f64> = turns
        .iter()
        .filter(|t| t.figures.time_to_first_audio_ms.is_some())
        .map(|t| t.figures.overhead_ms)
        .collect();
    let p = |v: &[f64], q: f64| greenroom_core::percentile(&greenroom_core::sorted(v.to_vec()), q);
    TalkSummary {
        turns: turns.len() as u32,
        completed: turns
            .iter()
            .filter(|t| {
                !t.interrupted && t.error.is_none() && t.figures.time_to_first_audio_ms.is_some()
            })
            .count() as u32,
        interrupted: turns.iter().filter(|t| t.interrupted).count() as u32,
        failed: turns.iter().filter(|t| t.error.is_some()).count() as u32,
        time_to_first_audio_p50_ms: p(&ttfa, 0.5),
        time_to_first_audio_p95_ms: p(&ttfa, 0.95),
        overhead_p50_ms: p(&overhead, 0.5),
        overhead_max_ms: overhead.iter().copied().reduce(f64::max),
    }
}
