//! Domain events as the fronts receive them.
//!
//! Every event travels in an [`EventEnvelope`]: a URI-like `topic` that says what it is
//! about (`settings://changed`, `doctor://check/redis-server`, `doctor://finished`), a
//! `seq` number that increases by one per event within one API instance (a front that sees
//! a gap knows it missed events), the time in Unix milliseconds, and the typed payload.
//! The Tauri shell emits every envelope on the single Tauri event `greenroom://event`; the
//! HTTP server pushes them as JSON text frames on the `/api/events` WebSocket. Both UIs
//! filter by topic with the same code.

use crate::settings::SettingsView;
use greenroom_doctor::{CheckResult, DoctorSummary};
use greenroom_stack::logs::LogLine;
use greenroom_stack::status::{ServiceStatus, StackSummary};
use serde::Serialize;
use ts_rs::TS;

/// The name of the one Tauri event that carries every envelope.
pub const TAURI_EVENT: &str = "greenroom://event";

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApiEvent {
    /// The settings were saved (by any front).
    SettingsChanged { settings: SettingsView },
    /// One doctor check finished; `done` of `total` are finished.
    DoctorCheck {
        check: CheckResult,
        done: u32,
        total: u32,
    },
    /// The doctor run finished.
    DoctorFinished { summary: DoctorSummary },
    /// A stack service's status changed.
    StackService { status: ServiceStatus },
    /// A stack service printed a line.
    StackLog { line: LogLine },
    /// The stack's score, architecture or healthy count changed.
    StackSummary { summary: StackSummary },
    /// A save was revalidated.
    ExercisesUpdated { update: crate::ExercisesUpdate },
    /// A stream test's log line, latency sample or progress, and its figures so far when
    /// they were recomputed.
    StreamTest {
        run: u32,
        event: greenroom_engine::stream_test::StreamEvent,
        figures: Option<crate::LiveFigures>,
    },
    /// A stream test ended: its report, or why not.
    StreamTestFinished {
        outcome: Box<crate::StreamTestOutcome>,
    },
    /// Something happened while our participant visits a room.
    RoomVisit {
        room: String,
        event: crate::RoomVisitEvent,
    },
    /// Something happened in a talk with Marie.
    Talk {
        session: String,
        event: greenroom_talk::TalkEvent,
    },
}

impl ApiEvent {
    pub fn topic(&self) -> String {
        match self {
            ApiEvent::SettingsChanged { .. } => "settings://changed".into(),
            ApiEvent::DoctorCheck { check, .. } => format!("doctor://check/{}", check.id),
            ApiEvent::DoctorFinished { .. } => "doctor://finished".into(),
            ApiEvent::StackService { status } => format!("stack://service/{}/status", status.id),
            ApiEvent::StackLog { line } => format!("stack://service/{}/log", line.service),
            ApiEvent::StackSummary { .. } => "stack://summary".into(),
            ApiEvent::ExercisesUpdated { .. } => "exercises://update".into(),
            ApiEvent::StreamTest { run, .. } => format!("stream-test://run/{run}"),
            ApiEvent::StreamTestFinished { .. } => "stream-test://finished".into(),
            ApiEvent::RoomVisit { room, .. } => format!("rooms://visit/{room}"),
            ApiEvent::Talk { session, .. } => format!("talk://{session}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct EventEnvelope {
    pub topic: String,
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub at_ms: u64,
    pub event: ApiEvent,
}
