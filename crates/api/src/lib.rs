//! The one surface every Greenroom front calls.
//!
//! The desktop shell, the CLI and the local HTTP server hold an [`Api`] and call its plain
//! async methods, or [`Api::dispatch`] with a [`Request`] decoded from the wire. Results
//! are DTOs defined here (or in the domain crates) and exported to TypeScript
//! (`ui/src/generated/api.ts`, checked by the `bindings_are_current` test). Errors are
//! [`ApiError`] (`{code, message}`). Events go out through the
//! [`greenroom_core::EventSink`] the front passed in, wrapped in an [`EventEnvelope`].
//!
//! To add a command: write the method on `Api`, add one line to the `commands!` table
//! below, regenerate the bindings (`UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings`).

pub mod control;
mod error;
mod events;
pub mod settings;
pub mod stack;
pub mod stream_tests;

pub use error::{ApiError, ErrorCode};
pub use events::{ApiEvent, EventEnvelope, TAURI_EVENT};
pub use greenroom_core::{
    AppHome, EventSink, NullSink, RecordingSink, write_atomic as write_file_atomically,
};
pub use greenroom_doctor::{CheckResult, CheckStatus, DoctorReport, DoctorSummary, InstallHint};
pub use greenroom_stack::logs::{LogLevel, LogLine};
pub use greenroom_stack::status::{ServiceState, ServiceStatus, StackStatus};
pub use greenroom_stack::supervisor::{StackEvent, Supervisor, UpReport, UpResult};
pub use settings::{SecretState, SettingsPatch, SettingsView};
pub use stack::{StackSource, StackSourceView};
pub use stream_tests::{
    StreamLogLine, StreamReportEntry, StreamTestOutcome, StreamTestRequest, StreamTestSnapshot,
    StreamTestStarted,
};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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

/// Everything about the stack in one answer: where it comes from and how it is.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct StackView {
    pub source: StackSourceView,
    pub status: StackStatus,
    /// Things worth knowing about how it was loaded (re-attached services, import notes).
    pub notes: Vec<String>,
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

struct LoadedStack {
    source: StackSource,
    supervisor: Supervisor,
    notes: Vec<String>,
}

pub struct Api {
    home: AppHome,
    tool_dirs: Vec<PathBuf>,
    emitter: Arc<Emitter>,
    /// Serialises read-modify-write of the settings file within this process.
    settings_lock: tokio::sync::Mutex<()>,
    /// `--stack FILE`, when the front was given one.
    explicit_stack: Option<PathBuf>,
    /// Where `greenroom.toml` is looked for (the CLI's current directory).
    cwd: Option<PathBuf>,
    stack: tokio::sync::Mutex<Option<LoadedStack>>,
    /// Where this process can be driven from another `greenroom` (see [`control`]).
    control: std::sync::Mutex<Option<control::ControlEndpoint>>,
    /// When the stack was first loaded (the report's sampling window starts there).
    started: std::sync::OnceLock<std::time::Instant>,
    history: std::sync::OnceLock<greenroom_exercises::history::History>,
    /// The exercise watcher of the UI, and the project it watches.
    exercise_watcher:
        std::sync::Mutex<Option<(PathBuf, greenroom_exercises::watch::ExerciseWatcher)>>,
    /// The streaming test in progress or last finished.
    stream_tests: stream_tests::StreamTestRunner,
}

/// The exercises being watched: the current analysis and what the watch covers.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ExercisesWatch {
    pub analysis: greenroom_exercises::analysis::Analysis,
    pub watched_folders: u32,
}

/// The LiveKit server in use (the secret is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
pub struct LiveKitInfo {
    pub url: String,
    pub api_key: String,
    /// Where each value comes from: `url from settings, key from LIVEKIT_API_KEY, …`.
    pub origin: String,
}

/// One round of revalidation after a save.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ExercisesUpdate {
    pub changed: Vec<String>,
    pub revalidated: Vec<String>,
    pub elapsed_ms: f64,
    pub analysis: greenroom_exercises::analysis::Analysis,
}

impl Api {
    /// `tool_dirs` are searched for tools after `PATH` (e.g. the project's `tools/bin`).
    pub fn new(
        home: AppHome,
        tool_dirs: Vec<PathBuf>,
        sink: Arc<dyn EventSink<EventEnvelope>>,
    ) -> Self {
        Self {
            home,
            tool_dirs,
            emitter: Arc::new(Emitter {
                sink,
                seq: AtomicU64::new(0),
            }),
            settings_lock: tokio::sync::Mutex::new(()),
            explicit_stack: None,
            cwd: None,
            stack: tokio::sync::Mutex::new(None),
            control: std::sync::Mutex::new(None),
            started: std::sync::OnceLock::new(),
            history: std::sync::OnceLock::new(),
            exercise_watcher: std::sync::Mutex::new(None),
            stream_tests: stream_tests::StreamTestRunner::new(),
        }
    }

    /// Which stack to run: `explicit` (`--stack FILE`) and the directory where a
    /// `greenroom.toml` is looked for; see [`stack`] for the precedence.
    pub fn with_stack(mut self, explicit: Option<PathBuf>, cwd: Option<PathBuf>) -> Self {
        self.explicit_stack = explicit;
        self.cwd = cwd;
        self
    }

    pub fn home(&self) -> &AppHome {
        &self.home
    }

    fn emit(&self, event: ApiEvent) {
        self.emitter.emit(event);
    }

    /// The stack source the precedence rule picks now.
    pub async fn stack_source(&self) -> StackSource {
        let workspace = settings::load(&self.home.settings_file())
            .settings
            .workspace;
        stack::resolve(
            self.explicit_stack.as_deref(),
            self.cwd.as_deref(),
            workspace.as_deref(),
        )
    }

    /// The supervisor of the current stack, created (and re-attached) on first use, and
    /// replaced when the source changed while nothing of the old one runs.
    async fn supervisor(&self) -> Result<(Supervisor, StackSource, Vec<String>), ApiError> {
        let source = self.stack_source().await;
        let mut loaded = self.stack.lock().await;
        if let Some(current) = loaded.as_ref() {
            let idle = current
                .supervisor
                .status()
                .services
                .iter()
                .all(|s| s.pid.is_none() && !s.state.is_healthy());
            if current.source == source || !idle {
                return Ok((
                    current.supervisor.clone(),
                    current.source.clone(),
                    current.notes.clone(),
                ));
            }
        }
        let (manifest, root, mut notes) = self.load_manifest(&source)?;
        let (supervisor, attach_notes) = Supervisor::new(
            manifest,
            root,
            self.home.root(),
            self.tool_dirs.clone(),
            stack::builtins(),
            self.emitter.clone(),
        )
        .map_err(|e| ApiError::internal(e.0))?;
        notes.extend(attach_notes);
        let _ = self.started.set(std::time::Instant::now());
        if let Some(endpoint) = greenroom_core::lock_unpoisoned(&self.control).clone() {
            let dir = greenroom_stack::supervisor::stack_dir(
                self.home.root(),
                supervisor.name(),
                supervisor.root(),
            );
            if let Err(e) = control::register(&dir, &endpoint) {
                notes.push(format!(
                    "cannot register this process as the stack's supervisor: {e}"
                ));
            }
        }
        *loaded = Some(LoadedStack {
            source: source.clone(),
            supervisor: supervisor.clone(),
            notes: notes.clone(),
        });
        Ok((supervisor, source, notes))
    }

    fn load_manifest(
        &self,
        source: &StackSource,
    ) -> Result<(greenroom_stack::manifest::Manifest, PathBuf, Vec<String>), ApiError> {
        let joined = |errors: Vec<greenroom_stack::manifest::DefinitionError>| {
            ApiError::invalid_input(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        };
        match source {
            StackSource::Sandbox => Ok((
                stack::sandbox_manifest(&self.tool_dirs),
                self.home.root().to_path_buf(),
                Vec::new(),
            )),
            StackSource::Manifest(path) => {
                let manifest = greenroom_stack::manifest::load(path).map_err(joined)?;
                let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
                Ok((manifest, root, Vec::new()))
            }
            StackSource::Compose(files) => {
                let imported =
                    greenroom_stack::compose::import(&greenroom_stack::compose::ComposeOptions {
                        files: files.clone(),
                        profiles: Vec::new(),
                        env: std::env::vars().collect(),
                    })
                    .map_err(joined)?;
                let root = files
                    .first()
                    .and_then(|f| f.parent())
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                Ok((imported.manifest, root, imported.notes))
            }
        }
    }

    /// Makes this process the one other `greenroom` commands drive: `url` and `token` of
    /// its control server are recorded beside the stack's state when the stack is loaded.
    pub fn set_control_endpoint(&self, url: String, token: String) {
        *greenroom_core::lock_unpoisoned(&self.control) = Some(control::ControlEndpoint {
            pid: std::process::id(),
            start_time: greenroom_stack::process::start_time(std::process::id()),
            url,
            token,
        });
    }

    /// Another live Greenroom process that supervises the current stack, if any.
    pub async fn remote_supervisor(&self) -> Result<Option<control::ControlEndpoint>, ApiError> {
        let source = self.stack_source().await;
        let (manifest, root, _) = self.load_manifest(&source)?;
        let name = manifest.name.clone().unwrap_or_else(|| "stack".into());
        let dir = greenroom_stack::supervisor::stack_dir(self.home.root(), &name, &root);
        Ok(control::find(&dir))
    }

    /// The supervisor itself, for fronts that need more than the commands (the CLI's
    /// `logs --follow` and `check`).
    pub async fn supervisor_handle(&self) -> Result<Supervisor, ApiError> {
        Ok(self.supervisor().await?.0)
    }

    pub async fn stack_status(&self) -> Result<StackView, ApiError> {
        let (supervisor, source, notes) = self.supervisor().await?;
        Ok(StackView {
            source: source.view(),
            status: supervisor.status(),
            notes,
        })
    }

    /// Starts the stack (or `only` these services and their dependencies).
    pub async fn stack_up(&self, only: Vec<String>) -> Result<UpReport, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .up(&only, |_| {})
            .await
            .map_err(|e| ApiError::invalid_input(e.0))
    }

    /// Like [`Api::stack_up`], reporting each service as it comes up (or fails).
    pub async fn stack_up_with(
        &self,
        only: &[String],
        on_result: impl Fn(&UpResult) + Send + Sync,
    ) -> Result<UpReport, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .up(only, on_result)
            .await
            .map_err(|e| ApiError::invalid_input(e.0))
    }

    /// What would make `up` fail, found before anything starts; the compose importer's
    /// notes about unset variables join as warnings.
    pub async fn stack_preflight(&self) -> Result<greenroom_stack::preflight::Preflight, ApiError> {
        let (supervisor, _, notes) = self.supervisor().await?;
        let mut report = supervisor.preflight().await;
        for note in notes.iter().filter(|n| n.contains("is not set")) {
            report.findings.push(greenroom_stack::preflight::Finding {
                severity: greenroom_stack::preflight::Severity::Warning,
                service: None,
                title: "a compose variable is not set".into(),
                detail: note.clone(),
                next_step: "set it in the .env file beside the compose file, or in the environment"
                    .into(),
                holder_pid: None,
                token: None,
            });
        }
        Ok(report)
    }

    /// The project to read exercises from: `project`, else the workspace setting.
    fn exercises_project(&self, project: Option<String>) -> Result<PathBuf, ApiError> {
        let root = match project.filter(|p| !p.trim().is_empty()) {
            Some(p) => PathBuf::from(p),
            None => settings::load(&self.home.settings_file()).settings.workspace.ok_or_else(|| {
                ApiError::invalid_input("no project to read: set the workspace in Settings (your Eloquence checkout), or pass --project PATH")
            })?,
        };
        if !root.is_dir() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "{} is not a folder; give the root of your Eloquence checkout",
                    root.display()
                ),
            ));
        }
        Ok(root)
    }

    /// The rules and the stack context for reading a project's exercises. Endpoint drift is
    /// checked against the project's own stack (its `greenroom.toml`, else its compose
    /// files); service health against the running stack, when it is the project's.
    pub async fn exercises_context(
        &self,
        project: Option<String>,
    ) -> Result<
        (
            PathBuf,
            greenroom_exercises::rules::Compiled,
            greenroom_exercises::analysis::StackContext,
        ),
        ApiError,
    > {
        let root = self.exercises_project(project)?;
        let rules = greenroom_exercises::rules::Compiled::for_project(&root)
            .map_err(|e| ApiError::invalid_input(e.to_string()))?;
        let project_stack = stack::resolve(None, None, Some(&root));
        let published_ports = match &project_stack {
            StackSource::Sandbox => None,
            source => self.load_manifest(source).ok().map(|(m, _, _)| {
                m.services
                    .values()
                    .filter(|s| s.enabled)
                    .flat_map(|s| s.ports.iter().flat_map(|p| p.ports()))
                    .collect()
            }),
        };
        let healthy = match self.stack.lock().await.as_ref() {
            Some(loaded) if loaded.source == project_stack => Some(
                loaded
                    .supervisor
                    .status()
                    .services
                    .iter()
                    .map(|s| (s.id.clone(), s.is_healthy()))
                    .collect(),
            ),
            _ => None,
        };
        Ok((
            root,
            rules,
            greenroom_exercises::analysis::StackContext {
                published_ports,
                healthy,
            },
        ))
    }

    /// The exercise history database (opened on first use).
    pub fn exercise_history(&self) -> Result<&greenroom_exercises::history::History, ApiError> {
        if self.history.get().is_none() {
            let history = greenroom_exercises::history::History::open(
                &self.home.root().join("history.sqlite"),
            )
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let _ = self.history.set(history);
        }
        self.history
            .get()
            .ok_or_else(|| ApiError::internal("the history could not be opened"))
    }

    /// Reads the project's Flutter app, finds its exercises and scores them; every score
    /// that changed is stored in the history.
    pub async fn exercises_scan(
        &self,
        project: Option<String>,
    ) -> Result<greenroom_exercises::analysis::Analysis, ApiError> {
        let (root, rules, context) = self.exercises_context(project).await?;
        let analysis = tokio::task::spawn_blocking(move || {
            let project =
                greenroom_exercises::project::read_project(&root, &rules.rules.agent.paths);
            greenroom_exercises::analysis::analyse(&project, &rules, &context)
        })
        .await
        .map_err(|e| ApiError::internal(format!("the scan stopped: {e}")))?;
        if analysis.packages.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no Flutter app (pubspec.yaml) under {}", analysis.project),
            ));
        }
        self.record_history(&analysis);
        Ok(analysis)
    }

    /// Starts watching the project (once; again only when the project changed) and returns
    /// the current analysis. Each save then emits `exercises://update`.
    pub async fn exercises_watch(
        &self,
        project: Option<String>,
    ) -> Result<ExercisesWatch, ApiError> {
        let (root, rules, context) = self.exercises_context(project).await?;
        {
            let current = greenroom_core::lock_unpoisoned(&self.exercise_watcher);
            if let Some((watched, watcher)) = current.as_ref().filter(|(r, _)| *r == root) {
                let _ = watched;
                return Ok(ExercisesWatch {
                    analysis: watcher.analysis(),
                    watched_folders: watcher.watched_folders() as u32,
                });
            }
        }
        let emitter = self.emitter.clone();
        let history =
            greenroom_exercises::history::History::open(&self.home.root().join("history.sqlite"))
                .ok();
        let start_root = root.clone();
        let started = tokio::task::spawn_blocking(move || {
            greenroom_exercises::watch::ExerciseWatcher::start(
                &start_root,
                rules,
                context,
                std::time::Duration::from_millis(50),
                move |u| {
                    if let Some(h) = &history {
                        let now = greenroom_core::unix_millis();
                        let _ = h.record(&u.analysis, now);
                    }
                    emitter.emit(ApiEvent::ExercisesUpdated {
                        update: ExercisesUpdate {
                            changed: u.changed.clone(),
                            revalidated: u.revalidated.clone(),
                            elapsed_ms: u.elapsed_ms,
                            analysis: u.analysis.clone(),
                        },
                    });
                },
            )
        })
        .await
        .map_err(|e| ApiError::internal(format!("the watcher stopped: {e}")))?
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
        let (watcher, analysis) = started;
        if analysis.packages.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no Flutter app (pubspec.yaml) under {}", root.display()),
            ));
        }
        self.record_history(&analysis);
        let watched_folders = watcher.watched_folders() as u32;
        *greenroom_core::lock_unpoisoned(&self.exercise_watcher) = Some((root, watcher));
        Ok(ExercisesWatch {
            analysis,
            watched_folders,
        })
    }

    /// Stores the scores that changed; a history that cannot be written is reported, not fatal.
    pub fn record_history(&self, analysis: &greenroom_exercises::analysis::Analysis) {
        let now = greenroom_core::unix_millis();
        match self.exercise_history() {
            Ok(h) => {
                if let Err(e) = h.record(analysis, now) {
                    eprintln!("greenroom: cannot store exercise scores: {e}");
                }
            }
            Err(e) => eprintln!("greenroom: {}", e.message),
        }
    }

    /// One exercise's scores over time, oldest first.
    pub async fn exercises_history(
        &self,
        project: Option<String>,
        id: String,
        limit: u32,
    ) -> Result<Vec<greenroom_exercises::history::HistoryPoint>, ApiError> {
        let root = self.exercises_project(project)?;
        self.exercise_history()?
            .series(&root.display().to_string(), &id, limit.clamp(1, 10_000))
            .map_err(|e| ApiError::internal(format!("cannot read the exercise history: {e}")))
    }

    /// The LiveKit server to talk to: `LIVEKIT_*` variables, then Settings, then the
    /// sandbox (see `greenroom_rooms::service::Target`).
    pub fn livekit_target(&self) -> greenroom_rooms::service::Target {
        let s = settings::load(&self.home.settings_file()).settings;
        greenroom_rooms::service::Target::resolve((
            s.livekit_url,
            s.livekit_api_key,
            s.livekit_api_secret,
        ))
    }

    /// Which LiveKit server Greenroom talks to, and where that comes from (never the secret).
    pub async fn livekit_info(&self) -> Result<LiveKitInfo, ApiError> {
        let t = self.livekit_target();
        Ok(LiveKitInfo {
            url: t.url.clone(),
            api_key: t.api_key.clone(),
            origin: t.origin.clone(),
        })
    }

    pub async fn rooms_list(&self) -> Result<Vec<greenroom_rooms::service::RoomInfo>, ApiError> {
        greenroom_rooms::service::list_rooms(&self.livekit_target())
            .await
            .map_err(|e| ApiError::unavailable(e.0))
    }

    pub async fn room_create(
        &self,
        name: String,
        metadata: String,
    ) -> Result<greenroom_rooms::service::RoomInfo, ApiError> {
        greenroom_rooms::service::create_room(&self.livekit_target(), &name, &metadata, 300)
            .await
            .map_err(|e| ApiError::unavailable(e.0))
    }

    pub async fn room_delete(&self, name: String) -> Result<(), ApiError> {
        greenroom_rooms::service::delete_room(&self.livekit_target(), &name)
            .await
            .map_err(|e| ApiError::unavailable(e.0))
    }

    pub async fn room_participants(
        &self,
        room: String,
    ) -> Result<Vec<greenroom_rooms::service::ParticipantSummary>, ApiError> {
        greenroom_rooms::service::list_participants(&self.livekit_target(), &room)
            .await
            .map_err(|e| ApiError::unavailable(e.0))
    }

    pub async fn participant_remove(&self, room: String, identity: String) -> Result<(), ApiError> {
        greenroom_rooms::service::remove_participant(&self.livekit_target(), &room, &identity)
            .await
            .map_err(|e| ApiError::unavailable(e.0))
    }

    /// A diagnosis, with ranked repairs, for every service that is unwell.
    pub async fn stack_diagnose(
        &self,
    ) -> Result<Vec<greenroom_stack::repair::Diagnosis>, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        Ok(supervisor.diagnoses().await)
    }

    /// Runs one proposed repair; those that could lose data or touch a process Greenroom
    /// did not start need `confirmed`.
    pub async fn stack_repair(
        &self,
        id: String,
        kind: greenroom_stack::repair::RepairKind,
        confirmed: bool,
    ) -> Result<greenroom_stack::repair::RepairOutcome, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .repair(&id, kind, confirmed)
            .await
            .map_err(|e| ApiError::invalid_input(e.0))
    }

    /// The stack report (schema in `greenroom_stack::report`), from the probes this
    /// supervisor made since it started.
    pub async fn stack_report(&self) -> Result<serde_json::Value, ApiError> {
        let (supervisor, source, _) = self.supervisor().await?;
        let diagnoses = supervisor.diagnoses().await;
        let started = *self.started.get_or_init(std::time::Instant::now);
        Ok(greenroom_stack::report::build(
            &greenroom_stack::report::ReportInput {
                status: &supervisor.status(),
                stats: &supervisor.stats(),
                diagnoses: &diagnoses,
                source: &source.view().description,
                sampling_seconds: started.elapsed().as_secs_f64(),
                version: env!("CARGO_PKG_VERSION"),
            },
        ))
    }

    /// Stops every service of the stack; returns those that were running.
    pub async fn stack_down(&self) -> Result<Vec<String>, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        Ok(supervisor.down().await)
    }

    pub async fn service_start(&self, id: String) -> Result<UpResult, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .start(&id)
            .await
            .map_err(|e| ApiError::new(ErrorCode::NotFound, e.0))
    }

    pub async fn service_stop(&self, id: String) -> Result<(), ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .stop(&id)
            .await
            .map_err(|e| ApiError::new(ErrorCode::NotFound, e.0))
    }

    pub async fn service_restart(&self, id: String) -> Result<UpResult, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor
            .restart(&id)
            .await
            .map_err(|e| ApiError::new(ErrorCode::NotFound, e.0))
    }

    /// The last `limit` log lines of one service, or of all of them merged.
    pub async fn stack_logs(
        &self,
        service: Option<String>,
        limit: u32,
    ) -> Result<Vec<LogLine>, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        if let Some(id) = &service
            && !supervisor.manifest().services.contains_key(id)
        {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no service `{id}` in this stack"),
            ));
        }
        Ok(supervisor
            .logs()
            .recent(service.as_deref(), limit.clamp(1, 5000) as usize))
    }

    pub async fn app_info(&self) -> Result<AppInfo, ApiError> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: std::env::consts::OS.to_owned(),
            home: self.home.root().display().to_string(),
        })
    }

    pub async fn get_settings(&self) -> Result<SettingsView, ApiError> {
        let file = self.home.settings_file();
        let loaded = settings::load(&file);
        Ok(settings::view(&loaded.settings, &file, loaded.error))
    }

    /// Validates and saves `patch` (all or nothing), then emits `settings://changed`.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<SettingsView, ApiError> {
        let _guard = self.settings_lock.lock().await;
        let file = self.home.settings_file();
        let loaded = settings::load(&file);
        let next = settings::apply(&loaded.settings, &patch)?;
        let note = settings::save(&file, &next, loaded.error.is_some())?;
        let view = settings::view(&next, &file, note);
        self.emit(ApiEvent::SettingsChanged {
            settings: view.clone(),
        });
        Ok(view)
    }

    /// Checks this machine; emits `doctor://check/{id}` as each check finishes, then
    /// `doctor://finished`.
    pub async fn run_doctor(&self) -> Result<DoctorReport, ApiError> {
        let mut options = greenroom_doctor::DoctorOptions::new(self.home.root().to_path_buf());
        options.extra_dirs = self.tool_dirs.clone();
        let report = greenroom_doctor::run(&options, |check, done, total| {
            self.emit(ApiEvent::DoctorCheck {
                check: check.clone(),
                done: done as u32,
                total: total as u32,
            });
        })
        .await;
        self.emit(ApiEvent::DoctorFinished {
            summary: report.summary.clone(),
        });
        Ok(report)
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
            /// Runs a decoded [`Request`]; the result is the command's DTO as JSON.
            pub async fn dispatch(&self, request: Request) -> Result<serde_json::Value, ApiError> {
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
    RoomsList => rooms_list {} -> Vec<greenroom_rooms::service::RoomInfo>;
    /// Create a room (its metadata: the exercise type).
    RoomCreate => room_create { name: String, metadata: String } -> greenroom_rooms::service::RoomInfo;
    /// Delete a room (its participants are disconnected).
    RoomDelete => room_delete { name: String } -> ();
    /// A room's participants, their tracks and an agent's state.
    RoomParticipants => room_participants { room: String } -> Vec<greenroom_rooms::service::ParticipantSummary>;
    /// Remove a participant from a room.
    ParticipantRemove => participant_remove { room: String, identity: String } -> ();
    /// Diagnose every unwell service, with ranked repairs.
    StackDiagnose => stack_diagnose {} -> Vec<greenroom_stack::repair::Diagnosis>;
    /// Run one proposed repair (`confirmed` for those that need it).
    StackRepair => stack_repair { id: String, kind: greenroom_stack::repair::RepairKind, confirmed: bool } -> greenroom_stack::repair::RepairOutcome;
    /// The stack report (JSON, schema version 1).
    StackReport => stack_report {} -> serde_json::Value;
    /// Stop every service, dependents first.
    StackDown => stack_down {} -> Vec<String>;
    /// Start one service.
    ServiceStart => service_start { id: String } -> UpResult;
    /// Stop one service.
    ServiceStop => service_stop { id: String } -> ();
    /// Restart one service.
    ServiceRestart => service_restart { id: String } -> UpResult;
    /// Recent log lines.
    StackLogs => stack_logs { service: Option<String>, limit: u32 } -> Vec<LogLine>;
    /// Start a streaming suite in the background; `stream-test://…` events follow.
    StreamTestStart => stream_test_start { request: StreamTestRequest } -> StreamTestStarted;
    /// The streaming test in progress, or the last one.
    StreamTestCurrent => stream_test_current {} -> Option<StreamTestSnapshot>;
    /// Ask the streaming test in progress to stop (its report covers what was sent).
    StreamTestStop => stream_test_stop {} -> bool;
    /// Saved streaming reports, newest first.
    StreamTestReports => stream_test_reports { limit: u32 } -> Vec<StreamReportEntry>;
    /// One saved streaming report, by file name.
    StreamTestReport => stream_test_report { file: String } -> greenroom_rooms::stream_test::StreamReport;
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
