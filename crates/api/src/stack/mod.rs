//! The stack as the fronts drive it: which stack (see [`source`] for the precedence), its
//! one supervisor per process (created and re-attached on first use), and every verb.
//!
//! State: [`StackState`] on [`Api`] holds the loaded supervisor, the `--stack FILE` and
//! directory a front gave, and this process's control endpoint (see [`crate::control`]).

mod others;
mod source;

pub use others::{OtherService, OtherStack, OtherStackSupervision};
pub use source::*;

use crate::{Api, ApiError, ErrorCode, UpReport, UpResult, control, settings};
use greenroom_stack::logs::LogLine;
use greenroom_stack::status::StackStatus;
use greenroom_stack::supervisor::Supervisor;
use serde::Serialize;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Everything about the stack in one answer: where it comes from and how it is.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct StackView {
    pub source: StackSourceView,
    pub status: StackStatus,
    /// Things worth knowing about how it was loaded (re-attached services, import notes).
    pub notes: Vec<String>,
    /// Set when another Greenroom process supervises the stack and this one only relays
    /// to it (it then sends no live events: refresh the view).
    #[serde(default)]
    pub attached_to: Option<String>,
    /// Other stacks that still run processes Greenroom started (see [`others`]): kept
    /// running when the workspace changed, supervised by another Greenroom, or left
    /// without a supervisor.
    #[serde(default)]
    pub also_running: Vec<OtherStack>,
}

/// What to do with the running stack when the workspace changes under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RunningStackChoice {
    /// Stop its services, then switch.
    Stop,
    /// Keep it running; it shows under "also running" and can be stopped from there.
    Keep,
}

pub(crate) struct LoadedStack {
    pub(crate) source: StackSource,
    pub(crate) supervisor: Supervisor,
    /// Its state folder (`<home>/stacks/<key>`).
    pub(crate) dir: PathBuf,
    /// Held while this process supervises the stack (one supervisor per stack).
    _lock: control::SupervisorLock,
    notes: Vec<String>,
    unset_variables: Vec<greenroom_stack::compose::UnsetVariable>,
    /// Why `up` would refuse this compose stack as it is on disk: the `env_file`s it needs
    /// that are missing (a fresh clone has no `.env`). It was loaded to be shown and
    /// pre-flighted; it is loaded again once one of them exists and nothing of it runs.
    missing_env_files: Vec<greenroom_stack::compose::MissingEnvFile>,
}

impl Drop for LoadedStack {
    /// This process no longer supervises the stack: its record goes with it (the lock is
    /// released right after).
    fn drop(&mut self) {
        control::unregister(&self.dir);
    }
}

/// A missing `env_file`, with every service that reads it.
struct MissingFile {
    path: PathBuf,
    named: String,
    template: Option<String>,
    /// `service (compose file:line)`.
    services: Vec<String>,
}

impl MissingFile {
    fn next_step(&self) -> String {
        match &self.template {
            Some(t) => format!(
                "copy `{t}` to `{}` beside the compose file and fill in your keys (a fresh clone has only the template), then check again",
                self.named
            ),
            None => format!(
                "create `{}` beside the compose file, then check again",
                self.named
            ),
        }
    }

    fn say(&self) -> String {
        format!(
            "{} is missing ({} read it): {}",
            self.path.display(),
            self.services.join(", "),
            self.next_step()
        )
    }
}

/// A stack's definition, read from its source.
pub(crate) struct Definition {
    pub(crate) manifest: greenroom_stack::manifest::Manifest,
    /// The folder relative paths are resolved against.
    pub(crate) root: PathBuf,
    /// What the importer wants a person to know.
    pub(crate) notes: Vec<String>,
    pub(crate) unset_variables: Vec<greenroom_stack::compose::UnsetVariable>,
    /// Read with missing `env_file`s as notes ([`Api::read_manifest`]): which.
    pub(crate) missing_env_files: Vec<greenroom_stack::compose::MissingEnvFile>,
}

/// The stack capability's state on [`Api`].
#[derive(Default)]
pub(crate) struct StackState {
    /// `--stack FILE`, when the front was given one.
    pub(crate) explicit: Option<PathBuf>,
    /// Where `greenroom.toml` is looked for (the CLI's current directory).
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) loaded: tokio::sync::Mutex<Option<LoadedStack>>,
    /// Stacks this process still supervises after the workspace changed under them
    /// ([`RunningStackChoice::Keep`]); gone once stopped.
    pub(crate) kept: tokio::sync::Mutex<Vec<LoadedStack>>,
    /// Where this process can be driven from another `greenroom` (see [`control`]).
    control: std::sync::Mutex<Option<control::ControlEndpoint>>,
    /// When the stack was first loaded (the report's sampling window starts there).
    started: std::sync::OnceLock<std::time::Instant>,
}

impl Api {
    /// The stack source the precedence rule picks now.
    pub async fn stack_source(&self) -> StackSource {
        let workspace = settings::load(&self.home.settings_file())
            .settings
            .workspace;
        source::resolve(
            self.stack.explicit.as_deref(),
            self.stack.cwd.as_deref(),
            workspace.as_deref(),
        )
    }

    /// The supervisor of the current stack, created (and re-attached) on first use, and
    /// replaced when the source changed: the old one is dropped when nothing of it runs,
    /// else kept running and shown under `also_running` (never out of sight).
    async fn supervisor(&self) -> Result<(Supervisor, StackSource, Vec<String>), ApiError> {
        let source = self.stack_source().await;
        let mut loaded = self.stack.loaded.lock().await;
        if let Some(current) = loaded.as_ref()
            && current.source == source
            && (current.missing_env_files.iter().all(|m| !m.path.is_file())
                || current.supervisor.status().summary.started)
        {
            return Ok((
                current.supervisor.clone(),
                current.source.clone(),
                current.notes.clone(),
            ));
        }
        if let Some(old) = loaded.take()
            && old.supervisor.status().summary.started
        {
            self.stack.kept.lock().await.push(old);
        }
        // A compose stack whose env files are missing is still shown (read as `docker
        // compose config` would with them empty), and `up` refuses it with why.
        let Definition {
            manifest,
            root,
            mut notes,
            unset_variables,
            missing_env_files,
        } = self.load_shown(&source)?;
        let dir = greenroom_stack::supervisor::stack_dir(
            self.home.root(),
            manifest.name.as_deref().unwrap_or("stack"),
            &root,
        );
        // The stack this replaces (if idle) let go of its lock above: it may be the same folder.
        let lock = self.supervisor_lock(&dir).await?;
        let (supervisor, attach_notes) = Supervisor::new(
            manifest,
            root,
            self.home.root(),
            self.tool_dirs.clone(),
            source::builtins(),
            self.emitter.clone(),
        )
        .map_err(ApiError::of)?;
        notes.extend(attach_notes);
        // Greenroom's own secrets never show in a service's log lines either.
        supervisor.logs().add_secret_values(self.settings_secrets());
        let _ = self.stack.started.set(std::time::Instant::now());
        if let Some(endpoint) = greenroom_core::lock_unpoisoned(&self.stack.control).clone() {
            let dir = greenroom_stack::supervisor::stack_dir(
                self.home.root(),
                supervisor.name(),
                supervisor.root(),
            );
            // Never take over the record of another live supervisor: `down` must still
            // find it.
            if let Some(other) = control::find(&dir) {
                notes.push(format!(
                    "another Greenroom (PID {}) supervises this stack: this process relays to it",
                    other.pid
                ));
            } else if let Err(e) = control::register(&dir, &endpoint) {
                notes.push(format!(
                    "cannot register this process as the stack's supervisor: {e}"
                ));
            }
        }
        *loaded = Some(LoadedStack {
            source: source.clone(),
            supervisor: supervisor.clone(),
            dir: dir.clone(),
            _lock: lock,
            notes: notes.clone(),
            unset_variables,
            missing_env_files,
        });
        Ok((supervisor, source, notes))
    }

    /// The lock that makes this process the stack's only supervisor. Another process may
    /// hold it for a moment (a short command, or a supervisor that has not registered its
    /// endpoint yet): wait up to 3 s, then refuse, naming it when it can be named.
    async fn supervisor_lock(&self, dir: &Path) -> Result<control::SupervisorLock, ApiError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let dir_owned = dir.to_path_buf();
            let attempt = tokio::task::spawn_blocking(move || control::try_lock(&dir_owned))
                .await
                .map_err(|e| ApiError::internal(format!("the lock attempt failed: {e}")))?
                .map_err(|e| {
                    ApiError::unavailable(format!(
                        "cannot lock the stack's state folder {}: {e}; check that it is writable",
                        dir.display()
                    ))
                })?;
            if let Some(lock) = attempt {
                return Ok(lock);
            }
            if std::time::Instant::now() > deadline {
                let who = control::find(dir).map_or_else(
                    || "another Greenroom process".to_owned(),
                    |e| format!("another Greenroom (PID {})", e.pid),
                );
                return Err(ApiError::unavailable(format!(
                    "{who} supervises this stack (it holds {}); use it (its window, or `greenroom status` once it answers), or stop it first",
                    dir.join("supervisor.lock").display()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The stack's definition as `source` gives it (a compose file is imported).
    pub(crate) fn load_manifest(&self, source: &StackSource) -> Result<Definition, ApiError> {
        self.load_definition(source, false)
    }

    /// The stack's definition to show and probe: as `up` would run it, else (a compose
    /// stack missing an `env_file`) as [`Api::read_manifest`] reads it.
    pub(crate) fn load_shown(&self, source: &StackSource) -> Result<Definition, ApiError> {
        match self.load_manifest(source) {
            Err(strict) if matches!(source, StackSource::Compose(_)) => {
                self.read_manifest(source).map_err(|_| strict)
            }
            other => other,
        }
    }

    /// The stack's definition, to read it without running it: a compose service's missing
    /// `env_file` is a note ([`greenroom_stack::compose::ComposeOptions`]).
    pub(crate) fn read_manifest(&self, source: &StackSource) -> Result<Definition, ApiError> {
        self.load_definition(source, true)
    }

    fn load_definition(&self, source: &StackSource, reading: bool) -> Result<Definition, ApiError> {
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
            StackSource::Sandbox => Ok(Definition {
                manifest: source::sandbox_manifest(&self.tool_dirs, self.home.root()),
                root: self.home.root().to_path_buf(),
                notes: Vec::new(),
                unset_variables: Vec::new(),
                missing_env_files: Vec::new(),
            }),
            StackSource::Manifest(path) => Ok(Definition {
                manifest: greenroom_stack::manifest::load(path).map_err(joined)?,
                root: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                notes: Vec::new(),
                unset_variables: Vec::new(),
                missing_env_files: Vec::new(),
            }),
            StackSource::Compose(files) => {
                let imported =
                    greenroom_stack::compose::import(&greenroom_stack::compose::ComposeOptions {
                        files: files.clone(),
                        profiles: Vec::new(),
                        env: std::env::vars().collect(),
                        missing_env_files_are_notes: reading,
                    })
                    .map_err(joined)?;
                let root = files
                    .first()
                    .and_then(|f| f.parent())
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                Ok(Definition {
                    manifest: imported.manifest,
                    root,
                    notes: imported.notes,
                    unset_variables: imported.unset_variables,
                    missing_env_files: imported.missing_env_files,
                })
            }
        }
    }

    /// Makes this process the one other `greenroom` commands drive: `url` and `token` of
    /// its control server are recorded beside the stack's state when the stack is loaded.
    pub fn set_control_endpoint(&self, url: String, token: String) {
        *greenroom_core::lock_unpoisoned(&self.stack.control) = Some(control::ControlEndpoint {
            pid: std::process::id(),
            start_time: greenroom_stack::process::start_time(std::process::id()),
            url,
            token,
        });
    }

    /// Another live Greenroom process that supervises the current stack, if any.
    pub async fn remote_supervisor(&self) -> Result<Option<control::ControlEndpoint>, ApiError> {
        Ok(control::find(&self.stack_dir().await?))
    }

    /// The folder of the current stack's state, logs and `supervisor.json`.
    pub async fn stack_dir(&self) -> Result<std::path::PathBuf, ApiError> {
        let source = self.stack_source().await;
        let definition = self.load_shown(&source)?;
        let name = definition
            .manifest
            .name
            .clone()
            .unwrap_or_else(|| "stack".into());
        Ok(greenroom_stack::supervisor::stack_dir(
            self.home.root(),
            &name,
            &definition.root,
        ))
    }

    /// Greenroom's own secrets (its API keys), which no log line may show.
    fn settings_secrets(&self) -> Vec<String> {
        let settings = settings::load(&self.home.settings_file()).settings;
        [
            settings.livekit_api_key,
            settings.livekit_api_secret,
            settings.mistral_api_key,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The current stack's definition and root, read without supervising it (the CLI's
    /// `check`, which probes what runs, whoever supervises it).
    pub async fn stack_definition(
        &self,
    ) -> Result<(greenroom_stack::manifest::Manifest, std::path::PathBuf), ApiError> {
        let source = self.stack_source().await;
        let definition = self.load_shown(&source)?;
        Ok((definition.manifest, definition.root))
    }

    /// The current stack's definition and a reader of its services' logs, without
    /// supervising it (the CLI's `logs`, while another process supervises): the lines come
    /// masked as the supervisor's own ([`greenroom_stack::logs`]).
    pub async fn stack_log_reader(
        &self,
    ) -> Result<
        (
            greenroom_stack::manifest::Manifest,
            greenroom_stack::logs::LogBook,
        ),
        ApiError,
    > {
        let (manifest, root) = self.stack_definition().await?;
        let dir = greenroom_stack::supervisor::stack_dir(
            self.home.root(),
            manifest.name.as_deref().unwrap_or("stack"),
            &root,
        );
        let book = greenroom_stack::logs::LogBook::new(dir.join("logs")).map_err(|e| {
            ApiError::internal(format!("cannot read the logs in {}: {e}", dir.display()))
        })?;
        book.set_secret_values(greenroom_stack::preflight::secret_values(&manifest, &root));
        book.add_secret_values(self.settings_secrets());
        Ok((manifest, book))
    }

    /// The supervisor itself, for fronts that need more than the commands (the CLI's
    /// `logs --follow` and `check`).
    pub async fn supervisor_handle(&self) -> Result<Supervisor, ApiError> {
        Ok(self.supervisor().await?.0)
    }

    pub async fn stack_status(&self) -> Result<StackView, ApiError> {
        let (supervisor, source, notes) = self.supervisor().await?;
        let current = greenroom_stack::supervisor::stack_dir(
            self.home.root(),
            supervisor.name(),
            supervisor.root(),
        );
        Ok(StackView {
            source: source.view(),
            status: supervisor.status(),
            notes,
            attached_to: None,
            also_running: self.other_stacks(Some(&current)).await,
        })
    }

    /// Other stacks that still run (see [`others`]), the current one's state folder left out.
    pub async fn other_stacks(&self, current: Option<&Path>) -> Vec<OtherStack> {
        let (mut found, mut skip) = {
            let kept = self.stack.kept.lock().await;
            (
                others::kept(&kept),
                kept.iter()
                    .map(|k| others::key_of(&k.dir))
                    .collect::<Vec<_>>(),
            )
        };
        skip.extend(current.map(others::key_of));
        let home = self.home.root().to_path_buf();
        found.extend(
            tokio::task::spawn_blocking(move || others::recorded(&home, &skip))
                .await
                .unwrap_or_default(),
        );
        found
    }

    /// Stops another running stack, named by its `key` in `also_running`; returns the
    /// services that were running.
    pub async fn other_stack_down(&self, key: String) -> Result<Vec<String>, ApiError> {
        if key.is_empty() || key.contains(['/', '\\']) || key.starts_with('.') {
            return Err(ApiError::invalid_input(format!(
                "`{key}` is not a stack's key: use one that `also_running` lists"
            )));
        }
        let kept = {
            let mut kept = self.stack.kept.lock().await;
            kept.iter()
                .position(|k| others::key_of(&k.dir) == key)
                .map(|i| kept.remove(i))
        };
        if let Some(kept) = kept {
            return Ok(kept.supervisor.down().await);
        }
        // Asked of this process about the stack it supervises now (relayed by a front that
        // saw it as another process's): its own down.
        let current = self
            .stack
            .loaded
            .lock()
            .await
            .as_ref()
            .is_some_and(|l| others::key_of(&l.dir) == key);
        if current {
            return self.stack_down().await;
        }
        let dir = self.home.root().join("stacks").join(&key);
        if !dir.is_dir() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "no stack `{key}` in {}: refresh the list",
                    self.home.root().join("stacks").display()
                ),
            ));
        }
        if let Some(remote) = control::find(&dir) {
            // That process may supervise another stack now and keep this one: name it.
            let answer = control::call(
                &remote,
                &crate::Request::OtherStackDown { key: key.clone() },
            )
            .await?;
            return serde_json::from_value(answer).map_err(|e| {
                ApiError::internal(format!(
                    "the supervisor's answer to down cannot be read: {e}"
                ))
            });
        }
        others::stop_orphans(&dir).await
    }

    /// The current stack, when it runs: its description and its services under way. A
    /// stack another Greenroom supervises counts (asked through its control endpoint).
    pub(crate) async fn running_stack(&self) -> Result<Option<(String, Vec<String>)>, ApiError> {
        let under_way = |view: &StackView| {
            view.status
                .services
                .iter()
                .filter(|s| {
                    !matches!(
                        s.state,
                        greenroom_stack::status::ServiceState::Stopped
                            | greenroom_stack::status::ServiceState::Disabled
                    )
                })
                .map(|s| s.id.clone())
                .collect::<Vec<_>>()
        };
        if let Ok(Some(remote)) = self.remote_supervisor().await {
            let answer = control::call(&remote, &crate::Request::StackStatus {}).await?;
            let view: StackView = serde_json::from_value(answer).map_err(|e| {
                ApiError::internal(format!("the supervisor's status cannot be read: {e}"))
            })?;
            let running = under_way(&view);
            return Ok((!running.is_empty()).then(|| {
                (
                    format!(
                        "{} (supervised by the Greenroom with PID {})",
                        view.source.description, remote.pid
                    ),
                    running,
                )
            }));
        }
        let loaded = self.stack.loaded.lock().await;
        Ok(loaded.as_ref().and_then(|l| {
            let view = StackView {
                source: l.source.view(),
                status: l.supervisor.status(),
                notes: Vec::new(),
                attached_to: None,
                also_running: Vec::new(),
            };
            let running = under_way(&view);
            (!running.is_empty()).then_some((view.source.description, running))
        }))
    }

    /// Applies a person's choice for the running stack before the workspace changes.
    pub(crate) async fn settle_running_stack(
        &self,
        choice: RunningStackChoice,
    ) -> Result<(), ApiError> {
        match choice {
            RunningStackChoice::Stop => {
                if let Ok(Some(remote)) = self.remote_supervisor().await {
                    control::call(&remote, &crate::Request::StackDown {}).await?;
                } else if self.stack.loaded.lock().await.is_some() {
                    self.stack_down().await?;
                }
            }
            RunningStackChoice::Keep => {
                let mut loaded = self.stack.loaded.lock().await;
                if let Some(old) = loaded.take()
                    && old.supervisor.status().summary.started
                {
                    self.stack.kept.lock().await.push(old);
                }
            }
        }
        Ok(())
    }

    /// Starts the stack (or `only` these services and their dependencies).
    pub async fn stack_up(&self, only: Vec<String>) -> Result<UpReport, ApiError> {
        self.stack_up_with(&only, |_| {}).await
    }

    /// The `env_file`s the current stack needs that are missing, one entry per file with
    /// the services that read it ([`LoadedStack::missing_env_files`]).
    async fn missing_env_files(&self) -> Vec<MissingFile> {
        let loaded = self.stack.loaded.lock().await;
        let mut files: Vec<MissingFile> = Vec::new();
        for m in loaded.iter().flat_map(|l| &l.missing_env_files) {
            let at = format!("{} ({}:{})", m.service, m.file.display(), m.line);
            match files.iter_mut().find(|f| f.path == m.path) {
                Some(f) => f.services.push(at),
                None => files.push(MissingFile {
                    path: m.path.clone(),
                    named: m.named.clone(),
                    template: m.template.clone(),
                    services: vec![at],
                }),
            }
        }
        files
    }

    /// Like [`Api::stack_up`], reporting each service as it comes up (or fails).
    pub async fn stack_up_with(
        &self,
        only: &[String],
        on_result: impl Fn(&UpResult) + Send + Sync,
    ) -> Result<UpReport, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        let missing = self.missing_env_files().await;
        if !missing.is_empty() {
            let said: Vec<String> = missing.iter().map(MissingFile::say).collect();
            return Err(ApiError::invalid_input(format!(
                "{}. Nothing was started.",
                said.join("; ")
            )));
        }
        supervisor.up(only, on_result).await.map_err(ApiError::of)
    }

    /// What would make `up` fail, found before anything starts; the variables the compose
    /// importer found unset join as warnings.
    pub async fn stack_preflight(&self) -> Result<greenroom_stack::preflight::Preflight, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        let mut report = supervisor.preflight().await;
        let unset = self
            .stack
            .loaded
            .lock()
            .await
            .as_ref()
            .map(|l| l.unset_variables.clone())
            .unwrap_or_default();
        for (i, missing) in self.missing_env_files().await.into_iter().enumerate() {
            report.ok = false;
            report.findings.insert(
                i,
                greenroom_stack::preflight::Finding {
                    severity: greenroom_stack::preflight::Severity::Blocker,
                    service: None,
                    title: format!("`{}` is missing", missing.named),
                    detail: format!(
                        "{} cannot be read, and compose refuses to start without it; {} read it: {}",
                        missing.path.display(),
                        if missing.services.len() == 1 { "one service" } else { "these services" },
                        missing.services.join(", ")
                    ),
                    next_step: missing.next_step(),
                    holder_pid: None,
                    token: None,
                },
            );
        }
        for variable in unset {
            report.findings.push(greenroom_stack::preflight::Finding {
                severity: greenroom_stack::preflight::Severity::Warning,
                service: None,
                title: "a compose variable is not set".into(),
                detail: variable.to_string(),
                next_step: "set it in the .env file beside the compose file, or in the environment"
                    .into(),
                holder_pid: None,
                token: None,
            });
        }
        Ok(report)
    }

    /// A diagnosis, with ranked repairs, for every service that is unwell.
    pub async fn stack_diagnose(
        &self,
    ) -> Result<Vec<greenroom_stack::repair::Diagnosis>, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        Ok(supervisor.diagnoses().await)
    }

    /// Runs one proposed repair; those that could lose data or touch a process Greenroom
    /// did not start need `confirmed`, with the `fingerprint` of the action the person saw
    /// (a confirmation without it, or for a diagnosis that has changed since, is refused).
    pub async fn stack_repair(
        &self,
        id: String,
        kind: greenroom_stack::repair::RepairKind,
        confirmed: bool,
        fingerprint: Option<String>,
    ) -> Result<greenroom_stack::repair::RepairOutcome, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        let approved = confirmed.then(|| fingerprint.unwrap_or_default());
        supervisor
            .repair(&id, kind, approved.as_deref())
            .await
            .map_err(ApiError::of)
    }

    /// The stack report (schema in `greenroom_stack::report`), from the probes this
    /// supervisor made since it started.
    pub async fn stack_report(&self) -> Result<serde_json::Value, ApiError> {
        let (supervisor, source, _) = self.supervisor().await?;
        let diagnoses = supervisor.diagnoses().await;
        let started = *self.stack.started.get_or_init(std::time::Instant::now);
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
        supervisor.start(&id).await.map_err(ApiError::of)
    }

    pub async fn service_stop(&self, id: String) -> Result<(), ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor.stop(&id).await.map_err(ApiError::of)
    }

    pub async fn service_restart(&self, id: String) -> Result<UpResult, ApiError> {
        let (supervisor, _, _) = self.supervisor().await?;
        supervisor.restart(&id).await.map_err(ApiError::of)
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
}
