//! The exercises of the project's Flutter app: scan, watch (revalidated on every save),
//! and each exercise's scores over time (SQLite history under Greenroom's home).
//!
//! Which project: the request's, else the `workspace` setting. Endpoint drift is checked
//! against the project's own stack, service health against the running stack when it is
//! the project's.

use crate::{Api, ApiError, ApiEvent, ErrorCode, StackSource, settings, stack};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use ts_rs::TS;

/// The exercises being watched: the current analysis and what the watch covers.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ExercisesWatch {
    pub analysis: greenroom_exercises::analysis::Analysis,
    pub watched_folders: u32,
}

/// One round of revalidation after a save.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ExercisesUpdate {
    pub changed: Vec<String>,
    pub revalidated: Vec<String>,
    pub elapsed_ms: f64,
    pub analysis: greenroom_exercises::analysis::Analysis,
}

/// The exercises capability's state on [`Api`].
#[derive(Default)]
pub(crate) struct ExercisesState {
    /// One connection per database per process, shared by scans and the watcher.
    history: std::sync::OnceLock<Arc<greenroom_exercises::history::History>>,
    /// The exercise watcher of the UI, and the project it watches.
    watcher: std::sync::Mutex<Option<(PathBuf, greenroom_exercises::watch::ExerciseWatcher)>>,
}

impl Api {
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
        let rules =
            greenroom_exercises::rules::Compiled::for_project(&root).map_err(ApiError::of)?;
        let project_stack = stack::resolve(None, None, Some(&root));
        let published_ports = match &project_stack {
            StackSource::Sandbox => None,
            source => self
                .read_manifest(source)
                .ok()
                .map(|d| d.manifest.published_tcp_ports()),
        };
        let healthy = match self.stack.loaded.lock().await.as_ref() {
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
    pub fn exercise_history(
        &self,
    ) -> Result<&Arc<greenroom_exercises::history::History>, ApiError> {
        if self.exercises.history.get().is_none() {
            let history = greenroom_exercises::history::History::open(
                &self.home.root().join("history.sqlite"),
            )
            .map_err(ApiError::of)?;
            let _ = self.exercises.history.set(Arc::new(history));
        }
        self.exercises
            .history
            .get()
            .ok_or_else(|| ApiError::internal("the history could not be opened"))
    }

    /// Reads the project's Flutter app, finds its exercises and scores them; every score
    /// that changed is stored in the history.
    pub async fn exercises_scan(
        &self,
        project: Option<String>,
    ) -> Result<greenroom_exercises::analysis::Analysis, ApiError> {
        // Reading the files (the longest part) starts first; the rule pack compiles and the
        // stack is read meanwhile.
        let root = self.exercises_project(project)?;
        let agent_paths = greenroom_exercises::rules::Compiled::agent_paths(&root);
        let read_root = root.clone();
        let reading = tokio::task::spawn_blocking(move || {
            greenroom_exercises::project::read_project(&read_root, &agent_paths)
        });
        let (root, rules, context) = self
            .exercises_context(Some(root.display().to_string()))
            .await?;
        let read = reading
            .await
            .map_err(|e| ApiError::internal(format!("the scan stopped: {e}")))?;
        let analysis = tokio::task::spawn_blocking(move || {
            let project = if read.agent_paths_match(&rules.rules.agent.paths) {
                read
            } else {
                greenroom_exercises::project::read_project(&root, &rules.rules.agent.paths)
            };
            let analysis = greenroom_exercises::analysis::analyse(&project, &rules, &context);
            // Freeing a read project (every token of every file) takes about as long as
            // analysing it: do it off the caller's path (a one-shot CLI exits before).
            // When no thread can start, the closure (and the project) is dropped right here.
            let _ = std::thread::Builder::new()
                .name("greenroom-free-project".into())
                .spawn(move || drop(project));
            analysis
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
            let current = greenroom_core::lock_unpoisoned(&self.exercises.watcher);
            if let Some((watched, watcher)) = current.as_ref().filter(|(r, _)| *r == root) {
                let _ = watched;
                return Ok(ExercisesWatch {
                    analysis: watcher.analysis(),
                    watched_folders: watcher.watched_folders() as u32,
                });
            }
        }
        let emitter = self.emitter.clone();
        let history = match self.exercise_history() {
            Ok(h) => Some(h.clone()),
            Err(e) => {
                eprintln!("greenroom: {}", e.message);
                None
            }
        };
        let start_root = root.clone();
        let started = tokio::task::spawn_blocking(move || {
            greenroom_exercises::watch::ExerciseWatcher::start(
                &start_root,
                rules,
                context,
                std::time::Duration::from_millis(50),
                move |u| {
                    if let Some(h) = &history {
                        store_scores(h, &u.analysis);
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
        .map_err(ApiError::of)?;
        let (watcher, analysis) = started;
        if analysis.packages.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no Flutter app (pubspec.yaml) under {}", root.display()),
            ));
        }
        self.record_history(&analysis);
        let watched_folders = watcher.watched_folders() as u32;
        *greenroom_core::lock_unpoisoned(&self.exercises.watcher) = Some((root, watcher));
        Ok(ExercisesWatch {
            analysis,
            watched_folders,
        })
    }

    /// Stores the scores that changed; a history that cannot be written is reported, not fatal.
    pub fn record_history(&self, analysis: &greenroom_exercises::analysis::Analysis) {
        match self.exercise_history() {
            Ok(h) => store_scores(h, analysis),
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
            .map_err(ApiError::of)
    }
}

/// Stores what changed in the history; a failure is said (stderr and the log), never
/// dropped: the scores are still shown, but their history misses this change.
fn store_scores(
    history: &greenroom_exercises::history::History,
    analysis: &greenroom_exercises::analysis::Analysis,
) {
    if let Err(e) = history.record(analysis, greenroom_core::unix_millis()) {
        tracing::warn!("cannot store exercise scores: {e}");
        eprintln!("greenroom: cannot store exercise scores: {e}");
    }
}
