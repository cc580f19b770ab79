//! The one surface every Greenroom front calls.
//!
//! The desktop shell, the CLI and the local HTTP server hold an [`Api`] and call its plain
//! async methods, or [`Api::dispatch`] with a [`Request`] decoded from the wire. Results
//! are DTOs defined here (or in the domain crates) and exported to TypeScript
//! (`ui/src/generated/api.ts`, checked by the `bindings_are_current` test). Errors are
//! [`ApiError`] (`{code, message}`). Events go out through the
//! [`greenroom_core::EventSink`] the front passed in, wrapped in an [`EventEnvelope`].
//!
//! One module per capability, each with its methods on [`Api`] and its state field:
//!
//! - [`settings`]: Greenroom's settings (secrets write-only, masked when shown);
//! - `doctor`: the machine check;
//! - [`stack`]: which stack, its supervisor and every verb; [`control`]: the loopback
//!   endpoint through which other `greenroom` processes drive the one that supervises;
//! - `exercises`: scan, watch and history of the Flutter app's exercises;
//! - `rooms`: the LiveKit server, its rooms and participants, tokens, joining a room;
//! - `talk`: talking to Marie (direct mode): devices, the catalogue, sessions and their
//!   recordings;
//! - `stream_test`: the stream-test suites (through `greenroom-engine`) and the metric
//!   catalogue.
//!
//! To add a command: write the method on `Api`, add one line to the `commands!` table
//! below, regenerate the bindings (`UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings`).

pub mod control;
mod doctor;
mod error;
mod events;
mod exercises;
pub mod file_access;
mod rooms;
pub mod settings;
pub mod stack;
mod stream_test;
mod talk;
pub mod workspace;

pub use error::{ApiError, ErrorCode};
pub use events::{ApiEvent, EventEnvelope, TAURI_EVENT};
pub use exercises::{ExercisesUpdate, ExercisesWatch};
/// Windows: Greenroom's own stdout must not stay open in what it starts
/// (`greenroom_core::console`); every executable calls it first thing in `main`.
pub use greenroom_core::console::keep_std_handles_from_children;
pub use greenroom_core::{
    AppHome, EventSink, NullSink, RecordingSink, write_atomic as write_file_atomically,
};

/// Writes a file that holds a secret (a token, keys) atomically, readable by the user only:
/// 0600 from its creation on Unix, and an owner-only ACL on Windows ([`file_access`]).
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    greenroom_core::write_private(path, bytes)?;
    file_access::restrict_to_owner(path).map_err(std::io::Error::other)
}
pub use greenroom_doctor::{CheckResult, CheckStatus, DoctorReport, DoctorSummary, InstallHint};
pub use greenroom_engine::stream_test::runs::{
    LiveFigures, StreamLogLine, StreamReportEntry, StreamTestOutcome, StreamTestRequest,
    StreamTestSnapshot, StreamTestStarted,
};
pub use greenroom_engine::stream_test::{
    Category, LatencyPath, Rating, StreamEvent, StreamReport, Suite, rate_latency,
};
pub use greenroom_rooms::participant::IceTransport;
pub use greenroom_stack::docker::ContainerStatus;
pub use greenroom_stack::logs::{LogLevel, LogLine};
/// Windows: how a stop reaches a service's console (`greenroom_stack::process`); every
/// executable that hosts a supervisor calls it first thing in `main`.
pub use greenroom_stack::process::run_console_event_helper_if_asked;
pub use greenroom_stack::status::{ServiceState, ServiceStatus, StackStatus};
pub use greenroom_stack::supervisor::{StackEvent, Supervisor, UpReport, UpResult};
pub use rooms::{LiveKitInfo, RoomVisit, RoomVisitEvent, TokenRequest};
pub use settings::{SecretState, SettingsPatch, SettingsView};
pub use stack::{
    OtherService, OtherStack, OtherStackSupervision, RunningStackChoice, StackSource,
    StackSourceView, StackView,
};
pub use talk::{
    TalkAction, TalkCatalogView, TalkInput, TalkMode, TalkOutput, TalkRequest,
    TalkServiceOverrides, TalkSessionEntry, TalkSnapshot, TalkStarted,
};
pub use workspace::{
    FolderEntry, FolderListing, WorkspaceCheck, WorkspacePart, WorkspacePartKind, WorkspaceVerdict,
};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use ts_rs::TS;

/// Facts about this Greenroom, for the About line and bug reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AppInfo {
    pub version: String,
    /// `linux`, `windows` or `macos`.
    pub platform: String,
    /// Greenroom's home folder (settings, logs, history).
    pub home: String,
}

/// Numbers events and hands them to the front's sink.
struct Emitter {
    sink: Arc<dyn EventSink<EventEnvelope>>,
    seq: AtomicU64,
}

impl Emitter {
    fn emit(&self, event: ApiEvent) {
        let at_ms = greenroom_core::unix_millis();
        self.sink.emit(EventEnvelope {
            topic: event.topic(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at_ms,
            event,
        });
    }
}

impl EventSink<StackEvent> for Emitter {
    fn emit(&self, event: StackEvent) {
        Emitter::emit(
            self,
            match event {
                StackEvent::Service { status } => ApiEvent::StackService { status },
                StackEvent::Log { line } => ApiEvent::StackLog { line },
                StackEvent::Summary { summary } => ApiEvent::StackSummary { summary },
            },
        );
    }
}

/// Every capability's state, one field each; the methods live in the capability's module.
pub struct Api {
    home: AppHome,
    tool_dirs: Vec<PathBuf>,
    emitter: Arc<Emitter>,
    settings: settings::SettingsState,
    stack: stack::StackState,
    exercises: exercises::ExercisesState,
    stream_test: greenroom_engine::stream_test::runs::StreamTestRuns,
    talk: talk::TalkApiState,
}

impl Api {
    /// `tool_dirs` are searched for tools after `PATH` (e.g. the project's `tools/bin`).
    pub fn new(
        home: AppHome,
        tool_dirs: Vec<PathBuf>,
        sink: Arc<dyn EventSink<EventEnvelope>>,
    ) -> Self {
        // Private, and without what a crashed write left (a secret in a stray temp file).
        match home.prepare() {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} temporary file(s) left by an interrupted write"),
            Err(e) => tracing::warn!(
                "cannot prepare Greenroom's folder {}: {e}",
                home.root().display()
            ),
        }
        let stream_test = greenroom_engine::stream_test::runs::StreamTestRuns::new(home.root());
        Self {
            home,
            tool_dirs,
            emitter: Arc::new(Emitter {
                sink,
                seq: AtomicU64::new(0),
            }),
            settings: Default::default(),
            stack: Default::default(),
            exercises: Default::default(),
            stream_test,
            talk: Default::default(),
        }
    }

    /// Which stack to run: `explicit` (`--stack FILE`) and the directory where a
    /// `greenroom.toml` is looked for; see [`stack`] for the precedence.
    pub fn with_stack(mut self, explicit: Option<PathBuf>, cwd: Option<PathBuf>) -> Self {
        self.stack.explicit = explicit;
        self.stack.cwd = cwd;
        self
    }

    pub fn home(&self) -> &AppHome {
        &self.home
    }

    fn emit(&self, event: ApiEvent) {
        self.emitter.emit(event);
    }

    pub async fn app_info(&self) -> Result<AppInfo, ApiError> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: std::env::consts::OS.to_owned(),
            home: self.home.root().display().to_string(),
        })
    }
}

/// Declares the commands once: the wire [`Request`], [`Api::dispatch`] and the TypeScript
/// maps from command name to arguments and result.
macro_rules! commands {
    ($( $(#[doc = $doc:literal])* $variant:ident => $method:ident { $($arg:ident : $argty:ty),* } -> $ret:ty; )*) => {
        /// A command as it crosses the wire: `{"command": "<name>", "args": {…}}`.
        #[derive(Debug, Clone, Deserialize, Serialize, TS)]
        #[serde(tag = "command", content = "args", rename_all = "snake_case")]
        pub enum Request {
            $( $(#[doc = $doc])* $variant { $($arg: $argty),* }, )*
        }

        impl Api {
            /// Runs a decoded [`Request`] in this process.
            async fn dispatch_here(&self, request: Request) -> Result<serde_json::Value, ApiError> {
                match request {
                    $( Request::$variant { $($arg),* } => {
                        let result = self.$method($($arg),*).await?;
                        serde_json::to_value(result)
                            .map_err(|e| ApiError::internal(format!("cannot encode the result of {}: {e}", stringify!($method))))
                    } )*
                }
            }
        }

        /// TypeScript: `CommandArgs` and `CommandResults`, keyed by command name.
        pub fn typescript_command_maps() -> String {
            let cfg = ts_rs::Config::default();
            let mut args = String::from("export type CommandArgs = {\n");
            let mut results = String::from("export type CommandResults = {\n");
            $(
                let fields: Vec<String> = vec![$(format!("{}: {}", stringify!($arg), <$argty as TS>::name(&cfg))),*];
                args.push_str(&format!("  {}: {{ {} }};\n", stringify!($method), fields.join(", ")));
                results.push_str(&format!("  {}: {};\n", stringify!($method), <$ret as TS>::name(&cfg)));
            )*
            args.push_str("};\n");
            results.push_str("};\n");
            format!("{args}\n{results}\nexport type CommandName = keyof CommandResults;\n")
        }
    };
}

commands! {
    /// Version, platform and home folder.
    AppInfo => app_info {} -> AppInfo;
    /// The current settings (secrets masked).
    GetSettings => get_settings {} -> SettingsView;
    /// Validate and save a settings patch.
    UpdateSettings => update_settings { patch: SettingsPatch } -> SettingsView;
    /// Check this machine for what Greenroom uses.
    RunDoctor => run_doctor {} -> DoctorReport;
    /// Where the stack comes from, and every service's status.
    StackStatus => stack_status {} -> StackView;
    /// What would make `up` fail: ports taken (by whom), missing programs, unset variables.
    StackPreflight => stack_preflight {} -> greenroom_stack::preflight::Preflight;
    /// Start the stack (or only these services and their dependencies).
    StackUp => stack_up { only: Vec<String> } -> UpReport;
    /// Read the Flutter app, find its exercises, score them.
    ExercisesScan => exercises_scan { project: Option<String> } -> greenroom_exercises::analysis::Analysis;
    /// Watch the project: the current analysis now, `exercises://update` on every save.
    ExercisesWatch => exercises_watch { project: Option<String> } -> ExercisesWatch;
    /// One exercise's scores over time.
    ExercisesHistory => exercises_history { project: Option<String>, id: String, limit: u32 } -> Vec<greenroom_exercises::history::HistoryPoint>;
    /// Which LiveKit server, and where its settings come from.
    LivekitInfo => livekit_info {} -> LiveKitInfo;
    /// The LiveKit server's rooms.
    RoomsList => rooms_list {} -> Vec<greenroom_livekit::room_service::RoomInfo>;
    /// Create a room (its metadata: the exercise type).
    RoomCreate => room_create { name: String, metadata: String } -> greenroom_livekit::room_service::RoomInfo;
    /// Delete a room (its participants are disconnected).
    RoomDelete => room_delete { name: String } -> ();
    /// A room's participants, their tracks and an agent's state.
    RoomParticipants => room_participants { room: String } -> Vec<greenroom_livekit::room_service::ParticipantSummary>;
    /// Remove a participant from a room.
    ParticipantRemove => participant_remove { room: String, identity: String } -> ();
    /// Diagnose every unwell service, with ranked repairs.
    StackDiagnose => stack_diagnose {} -> Vec<greenroom_stack::repair::Diagnosis>;
    /// Run one proposed repair (`confirmed` for those that need it).
    StackRepair => stack_repair { id: String, kind: greenroom_stack::repair::RepairKind, confirmed: bool, fingerprint: Option<String> } -> greenroom_stack::repair::RepairOutcome;
    /// The stack report (JSON, schema version 1).
    StackReport => stack_report {} -> serde_json::Value;
    /// Stop every service, dependents first.
    StackDown => stack_down {} -> Vec<String>;
    /// Stop another stack that still runs (one `also_running` lists, by its key).
    OtherStackDown => other_stack_down { key: String } -> Vec<String>;
    /// What a folder holds of an Eloquence checkout: its compose file, Flutter app, agent.
    CheckWorkspace => check_workspace { path: String } -> WorkspaceCheck;
    /// A folder's sub-folders (the home folder when none is given), for a folder picker.
    ListFolders => list_folders { path: Option<String> } -> FolderListing;
    /// Start one service.
    ServiceStart => service_start { id: String } -> UpResult;
    /// Stop one service.
    ServiceStop => service_stop { id: String } -> ();
    /// Restart one service.
    ServiceRestart => service_restart { id: String } -> UpResult;
    /// Recent log lines.
    StackLogs => stack_logs { service: Option<String>, limit: u32 } -> Vec<LogLine>;
    /// Start a stream-test suite in the background; `stream-test://…` events follow.
    StreamTestStart => stream_test_start { request: StreamTestRequest } -> StreamTestStarted;
    /// The stream test in progress, or the last one.
    StreamTestCurrent => stream_test_current {} -> Option<StreamTestSnapshot>;
    /// Ask the stream test in progress to stop (its report covers what was sent).
    StreamTestStop => stream_test_stop {} -> bool;
    /// Saved stream-test reports, newest first.
    StreamTestReports => stream_test_reports { limit: u32 } -> Vec<StreamReportEntry>;
    /// One saved stream-test report, by file name.
    StreamTestReport => stream_test_report { file: String } -> greenroom_engine::stream_test::StreamReport;
    /// Every metric the engine reports, with the team's rating bands.
    MetricCatalogue => metric_catalogue {} -> Vec<greenroom_engine::metrics::Metric>;
    /// A token for a participant (the secret stays here; the token is the result).
    TokenMint => token_mint { request: TokenRequest } -> String;
    /// Set a room's metadata.
    RoomMetadata => room_metadata { room: String, metadata: String } -> ();
    /// The characters and exercises a coach can talk with.
    TalkCatalog => talk_catalog {} -> TalkCatalogView;
    /// The microphones and speakers, with the defaults.
    TalkDevices => talk_devices {} -> greenroom_voice::device::DeviceList;
    /// Where the speech-to-text, conversation and text-to-speech services are (keys hidden).
    TalkEndpoints => talk_endpoints {} -> greenroom_talk::services::EndpointsView;
    /// Start talking to Marie; `talk://<session>` events follow.
    TalkStart => talk_start { request: TalkRequest } -> TalkStarted;
    /// Run a talk to its end (a scripted input) and return its report.
    TalkRun => talk_run { request: TalkRequest } -> greenroom_talk::TalkReport;
    /// Push-to-talk, the key, the end-of-speech delay, interrupt, stop.
    TalkControl => talk_control { action: TalkAction } -> ();
    /// The talk in progress, or the last one.
    TalkCurrent => talk_current {} -> Option<TalkSnapshot>;
    /// Recorded talks, newest first.
    TalkSessions => talk_sessions { limit: u32 } -> Vec<TalkSessionEntry>;
    /// Copy a recorded talk's folder into a folder; returns the copy's path.
    TalkExport => talk_export { session: String, destination: String } -> String;
}

impl Request {
    /// The stack's verbs: what the process that supervises the stack answers.
    pub fn acts_on_the_stack(&self) -> bool {
        matches!(
            self,
            Request::StackStatus {}
                | Request::StackPreflight {}
                | Request::StackUp { .. }
                | Request::StackDiagnose {}
                | Request::StackRepair { .. }
                | Request::StackReport {}
                | Request::StackDown {}
                | Request::ServiceStart { .. }
                | Request::ServiceStop { .. }
                | Request::ServiceRestart { .. }
                | Request::StackLogs { .. }
        )
    }
}

impl Api {
    /// Runs a decoded [`Request`]; the result is the command's DTO as JSON.
    ///
    /// A stack verb goes to the process that supervises the stack when that is another
    /// live Greenroom (`greenroom up --detach`, a terminal's `greenroom up`): this process
    /// attaches to it rather than supervising the same services a second time. Its
    /// `stack_status` answer then says so (`attached_to`).
    pub async fn dispatch(&self, request: Request) -> Result<serde_json::Value, ApiError> {
        if request.acts_on_the_stack()
            && let Ok(Some(remote)) = self.remote_supervisor().await
        {
            let status = matches!(request, Request::StackStatus {});
            let mut answer = control::call(&remote, &request).await?;
            if status && let Some(view) = answer.as_object_mut() {
                view.insert(
                    "attached_to".into(),
                    serde_json::Value::String(format!(
                        "the Greenroom (PID {}) that supervises this stack",
                        remote.pid
                    )),
                );
            }
            return Ok(answer);
        }
        self.dispatch_here(request).await
    }
}

/// Where Greenroom looks for its tools after `PATH`, in order: `GREENROOM_TOOLS_DIR` when
/// set, then `tools/bin` of the source checkout this binary was built in (a binary at
/// `<repo>/target/<profile>/greenroom` finds `<repo>/tools/bin`, where setup installs
/// `livekit-server`).
pub fn default_tool_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("GREENROOM_TOOLS_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(repo) = exe
            .parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.parent())
    {
        let candidate = repo.join("tools").join("bin");
        if candidate.is_dir() {
            dirs.push(candidate);
        }
    }
    dirs
}
