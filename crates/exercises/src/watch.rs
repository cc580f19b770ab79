//! Revalidating exercises when a file is saved.
//!
//! **Watch plan** ([`plan`], a pure function of the project on disk): every folder under
//! each package's `lib/` that the walk keeps (ignored trees — `build/`, `.dart_tool/`,
//! `.git/`, anything in `.gitignore` — are pruned *before* watches are placed), the agent's
//! folders, and the project root itself, non-recursively (compose files, `.env`,
//! `greenroom-exercises.toml`). Each folder gets a non-recursive watch; a folder created
//! later is added when its creation is seen.
//!
//! **Batches**: the OS's file events (notify, unbatched) are gathered into batches; reads
//! (open, close without writing) are not changes and never count. A batch is handled as
//! soon as a save is complete — a file closed after writing, or renamed into place, when it
//! is a Dart file, a Python file, `.env`, a compose file, a rule pack or the flush sentinel
//! (not an editor's temporary: `~`, `.swp`, `.tmp`, `.#…`) — and no other change follows
//! within [`SETTLE`]; otherwise once no change has come for the quiet window (the `debounce`
//! given to [`ExerciseWatcher::start`]); and at the latest [`MAX_BATCH_AGE`] after its first
//! change. An editor's write-temp-then-rename is one batch (the rename completes it), and so
//! is a burst of changes (a checkout) that arrive closer together than the window.
//!
//! **On a change**: changed Dart files are read again — only those whose content hash
//! changed count —, deleted ones dropped; then only the exercises whose import closure
//! contains a changed file are scored again. A change to the agent, a compose
//! file, `.env` or the rule pack, or a Dart file that is in no closure (a router, a new
//! file), scores everything again. Each round is an [`Update`] given to the callback.
//!
//! **Errors** ([`WatchError`]): when the OS refuses more watches (Linux inotify), the error
//! says how to raise the limit ([`ErrorKind::Unavailable`]); a folder that is gone is
//! [`ErrorKind::NotFound`]; any other failure to watch, or to start the worker thread, is
//! [`ErrorKind::Internal`]. A rule pack that fails to load on change keeps the previous one.

use crate::analysis::{Analysis, StackContext, analyse, analyse_incremental};
use crate::project::{self, Project};
use crate::rules::Compiled;
use greenroom_core::{Classified, ErrorKind, lock_unpoisoned};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// After a completed save, how long the batch waits for more events before it is handled.
pub const SETTLE: Duration = Duration::from_millis(1);

/// The longest a batch waits for its quiet window (events that never stop).
pub const MAX_BATCH_AGE: Duration = Duration::from_millis(500);

/// What a round of revalidation did.
#[derive(Debug, Clone)]
pub struct Update {
    pub revision: u64,
    /// Files whose content changed (or that were created or deleted).
    pub changed: Vec<String>,
    /// Exercises scored again (ids).
    pub revalidated: Vec<String>,
    /// From the moment its batch was complete (see the module docs) to the new analysis.
    pub elapsed_ms: f64,
    pub analysis: Analysis,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "the system's limit on watched folders is reached ({0}); on Linux raise it: echo fs.inotify.max_user_watches=524288 | sudo tee -a /etc/sysctl.conf && sudo sysctl -p"
    )]
    Limit(String),
    #[error("cannot watch {path}: it does not exist")]
    NotFound { path: String },
    #[error("cannot watch {path}: {message}")]
    Other { path: String, message: String },
    #[error("cannot start the watcher of {path}: {source}")]
    Thread {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Classified for WatchError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Limit(_) => ErrorKind::Unavailable,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Other { .. } | Self::Thread { .. } => ErrorKind::Internal,
        }
    }
}

/// The folders to watch, each non-recursively (see the module docs).
pub fn plan(project: &Project, rules: &Compiled) -> Vec<PathBuf> {
    let mut dirs = BTreeSet::from([project.root.clone()]);
    let walk = |root: &Path, dirs: &mut BTreeSet<PathBuf>| {
        if !root.is_dir() {
            return;
        }
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && project::PRUNED.contains(&e.file_name().to_string_lossy().as_ref()))
            })
            .build();
        for entry in walker.flatten() {
            if entry.file_type().is_some_and(|t| t.is_dir()) {
                dirs.insert(entry.into_path());
            }
        }
    };
    for package in &project.packages {
        walk(&package.root.join("lib"), &mut dirs);
        dirs.insert(package.root.clone());
    }
    for agent in &rules.rules.agent.paths {
        walk(&project.root.join(agent), &mut dirs);
    }
    dirs.into_iter().collect()
}

struct State {
    project: Project,
    rules: Compiled,
    context: StackContext,
    analysis: Analysis,
    revision: u64,
    busy: bool,
    watched: usize,
    /// The highest flush sentinel the worker has seen (after processing its batch).
    flushed: u64,
}

/// The prefix of flush sentinel files (see [`ExerciseWatcher::flush`]).
const SENTINEL: &str = ".greenroom-flush-";

pub struct ExerciseWatcher {
    state: Arc<Mutex<State>>,
    /// The only strong reference: dropping the `ExerciseWatcher` stops the OS watcher, which
    /// ends the worker thread.
    _watcher: Arc<Mutex<notify::RecommendedWatcher>>,
}

/// An editor's temporary file (`~`, `.swp`, `.tmp`, `.#…`).
fn is_scratch(name: &str) -> bool {
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".tmp")
        || name.starts_with(".#")
}

/// A file whose completed write ends a batch at once (see the module docs).
fn completes_a_save(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with(SENTINEL) {
        return true;
    }
    !is_scratch(name)
        && (path.extension().is_some_and(|e| e == "dart" || e == "py")
            || ["greenroom-exercises.toml", ".env", "greenroom.toml"].contains(&name)
            || name.contains("compose"))
}

/// Whether an event is a change (reads are not), and whether it completes a save.
fn classify(event: &notify::Event) -> (bool, bool) {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            (true, event.paths.iter().any(|p| completes_a_save(p)))
        }
        EventKind::Access(_) => (false, false),
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => (
            true,
            event.paths.last().is_some_and(|p| completes_a_save(p)),
        ),
        _ => (true, false),
    }
}

/// The next batch of changes (see the module docs); `None` when the watcher has stopped.
fn next_batch(
    rx: &Receiver<notify::Result<notify::Event>>,
    quiet: Duration,
) -> Option<Vec<notify::Event>> {
    let mut events = Vec::new();
    let mut complete = false;
    // The first change: wait as long as it takes.
    while events.is_empty() {
        let Ok(event) = rx.recv().ok()? else { continue };
        let (change, completes) = classify(&event);
        if change {
            complete = completes;
            events.push(event);
        }
    }
    // Then more, until the batch is complete: reads (which are not changes) do not delay it.
    let first = Instant::now();
    let mut last = first;
    loop {
        let window = if complete { SETTLE } else { quiet };
        let deadline = (last + window).min(first + MAX_BATCH_AGE);
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            return Some(events);
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(event)) => {
                let (change, completes) = classify(&event);
                if change {
                    complete |= completes;
                    events.push(event);
                    last = Instant::now();
                }
            }
            Ok(Err(_)) => {}
            // Out of time, or the watcher stopped: what was gathered is handled.
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                return Some(events);
            }
        }
    }
}

fn map_error(path: &Path, e: notify::Error) -> WatchError {
    match e.kind {
        notify::ErrorKind::MaxFilesWatch => WatchError::Limit(e.to_string()),
        notify::ErrorKind::Io(ref io) if io.raw_os_error() == Some(28) => {
            WatchError::Limit(e.to_string())
        }
        // Asked of the path, not of the error: each OS backend words a missing one differently.
        _ if matches!(e.kind, notify::ErrorKind::PathNotFound) || !path.exists() => {
            WatchError::NotFound {
                path: path.display().to_string(),
            }
        }
        _ => WatchError::Other {
            path: path.display().to_string(),
            message: e.to_string(),
        },
    }
}

impl ExerciseWatcher {
    /// Scans `root`, then keeps its analysis current; `on_update` is called after each round.
    pub fn start(
        root: &Path,
        rules: Compiled,
        context: StackContext,
        debounce: Duration,
        on_update: impl Fn(&Update) + Send + 'static,
    ) -> Result<(Self, Analysis), WatchError> {
        let project = project::read_project(root, &rules.rules.agent.paths);
        let analysis = analyse(&project, &rules, &context);
        let dirs = plan(&project, &rules);
        let state = Arc::new(Mutex::new(State {
            project,
            rules,
            context,
            analysis: analysis.clone(),
            revision: 0,
            busy: false,
            watched: dirs.len(),
            flushed: 0,
        }));
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(tx).map_err(|e| map_error(root, e))?;
        for dir in &dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|e| map_error(dir, e))?;
        }
        let worker_state = state.clone();
        let watcher = Arc::new(Mutex::new(watcher));
        let worker_watcher: Weak<Mutex<notify::RecommendedWatcher>> = Arc::downgrade(&watcher);
        let mut known: BTreeSet<PathBuf> = dirs.into_iter().collect();
        std::thread::Builder::new()
            .name("greenroom-exercise-watch".into())
            .spawn(move || {
                while let Some(events) = next_batch(&rx, debounce) {
                    if events.is_empty() {
                        continue;
                    }
                    let received = Instant::now();
                    lock_unpoisoned(&worker_state).busy = true;
                    let mut paths: BTreeSet<PathBuf> = events
                        .iter()
                        .flat_map(|e| e.paths.iter().cloned())
                        .collect();
                    // A new folder: watch it (and what it holds), and read the files already in it.
                    let created: Vec<PathBuf> = paths
                        .iter()
                        .filter(|p| p.is_dir() && !known.contains(*p))
                        .cloned()
                        .collect();
                    for dir in created {
                        let walker = ignore::WalkBuilder::new(&dir)
                            .hidden(false)
                            .require_git(false)
                            .filter_entry(|e| {
                                !(e.file_type().is_some_and(|t| t.is_dir())
                                    && project::PRUNED
                                        .contains(&e.file_name().to_string_lossy().as_ref()))
                            })
                            .build();
                        for entry in walker.flatten() {
                            let p = entry.into_path();
                            if p.is_dir() {
                                let Some(watcher) = worker_watcher.upgrade() else {
                                    break;
                                };
                                let mut w = lock_unpoisoned(&watcher);
                                if w.watch(&p, RecursiveMode::NonRecursive).is_ok() {
                                    known.insert(p);
                                    lock_unpoisoned(&worker_state).watched += 1;
                                }
                            } else {
                                paths.insert(p);
                            }
                        }
                    }
                    // A bug on one change must not kill the watch (it would stay "busy"
                    // forever): the change is dropped, said, and the next one is handled.
                    let update = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        process(&worker_state, &paths, received)
                    }))
                    .unwrap_or_else(|_| {
                        tracing::error!(
                            "the exercise watch failed on a change to {paths:?}; it goes on with the next one"
                        );
                        None
                    });
                    {
                        let mut s = lock_unpoisoned(&worker_state);
                        s.busy = false;
                        let seen = paths
                            .iter()
                            .filter_map(|p| {
                                p.file_name()?
                                    .to_str()?
                                    .strip_prefix(SENTINEL)?
                                    .parse::<u64>()
                                    .ok()
                            })
                            .max();
                        if let Some(n) = seen {
                            s.flushed = s.flushed.max(n);
                        }
                    }
                    if let Some(update) = update {
                        on_update(&update);
                    }
                }
            })
            .map_err(|source| WatchError::Thread {
                path: root.display().to_string(),
                source,
            })?;
        Ok((
            Self {
                state,
                _watcher: watcher,
            },
            analysis,
        ))
    }

    pub fn analysis(&self) -> Analysis {
        lock_unpoisoned(&self.state).analysis.clone()
    }

    pub fn watched_folders(&self) -> usize {
        lock_unpoisoned(&self.state).watched
    }

    /// Waits until every change made before the call has been processed, or `timeout`;
    /// returns the current revision. It writes a sentinel file into the project's root and
    /// waits for the watcher to see it: events arrive in order, so every earlier change has
    /// been processed by then (no guessing with sleeps).
    pub fn flush(&self, timeout: Duration) -> u64 {
        let (root, n) = {
            let s = lock_unpoisoned(&self.state);
            (s.project.root.clone(), s.flushed + 1)
        };
        let sentinel = root.join(format!("{SENTINEL}{n}"));
        let wrote = std::fs::write(&sentinel, b"flush").is_ok();
        let deadline = Instant::now() + timeout;
        let revision = loop {
            {
                let s = lock_unpoisoned(&self.state);
                if (s.flushed >= n || !wrote) && !s.busy {
                    break s.revision;
                }
            }
            if Instant::now() > deadline {
                break lock_unpoisoned(&self.state).revision;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = std::fs::remove_file(&sentinel);
        revision
    }
}

/// Applies one batch; `None` when no content changed.
fn process(state: &Mutex<State>, paths: &BTreeSet<PathBuf>, received: Instant) -> Option<Update> {
    let mut s = lock_unpoisoned(state);
    let mut changed: Vec<String> = Vec::new();
    let mut global = false;
    // (file, why it is skipped now, or None when it reads again).
    let mut skips: Vec<(String, Option<String>)> = Vec::new();
    let agent_dirs: Vec<PathBuf> = s
        .rules
        .rules
        .agent
        .paths
        .iter()
        .map(|a| s.project.root.join(a))
        .collect();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_scratch(&name) || name.starts_with(SENTINEL) {
            continue;
        }
        if path.extension().is_some_and(|e| e == "dart") {
            let Some(package) = s
                .project
                .packages
                .iter_mut()
                .find(|p| path.starts_with(p.root.join("lib")))
            else {
                continue;
            };
            let rel = path
                .strip_prefix(&package.root)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/");
            match project::read_file(path) {
                Ok((text, hash, bytes)) => {
                    if package.files.get(&rel).is_some_and(|f| f.hash == hash) {
                        continue;
                    }
                    let known = package.files.contains_key(&rel);
                    match crate::dart::read_guarded(&text) {
                        Ok(dart) => {
                            package.files.insert(
                                rel.clone(),
                                project::SourceFile {
                                    path: path.clone(),
                                    rel,
                                    hash,
                                    bytes,
                                    dart,
                                },
                            );
                            skips.push((path.display().to_string(), None));
                            global |= !known;
                        }
                        // The reader failed on it: the file is skipped, with why, and the
                        // watch goes on.
                        Err(reason) => {
                            package.files.remove(&rel);
                            skips.push((path.display().to_string(), Some(reason)));
                            global = true;
                        }
                    }
                }
                Err(_) if !path.exists() => {
                    if package.files.remove(&rel).is_none() {
                        continue;
                    }
                    global = true;
                }
                Err(_) => continue,
            }
            changed.push(path.display().to_string());
        } else if path.extension().is_some_and(|e| e == "py")
            && agent_dirs.iter().any(|d| path.starts_with(d))
        {
            let root = s.project.root.clone();
            let paths = s.rules.rules.agent.paths.clone();
            s.project.agent_files = project::read_project(&root, &paths).agent_files;
            changed.push(path.display().to_string());
            global = true;
        } else if ["greenroom-exercises.toml", ".env", "greenroom.toml"].contains(&name.as_str())
            || name.contains("compose")
        {
            if name == "greenroom-exercises.toml"
                && let Ok(rules) = Compiled::for_project(&s.project.root)
            {
                s.rules = rules;
            }
            changed.push(path.display().to_string());
            global = true;
        }
    }
    for (file, reason) in skips {
        s.project.skipped.retain(|k| k.file != file);
        if let Some(reason) = reason {
            s.project.skipped.push(project::Skipped { file, reason });
        }
    }
    if changed.is_empty() {
        return None;
    }
    // Exercises whose files include a changed one; a changed file in no closure (a router,
    // a new screen) may change registration: score everything.
    let mut rescore: BTreeSet<String> = BTreeSet::new();
    if !global {
        let mut all_covered = true;
        for c in &changed {
            let users: Vec<String> = s
                .analysis
                .exercises
                .iter()
                .filter(|e| e.depends_on.contains(c))
                .map(|e| e.class_name.clone())
                .collect();
            all_covered &= !users.is_empty();
            rescore.extend(users);
        }
        global = !all_covered;
    }
    let analysis = if global {
        analyse(&s.project, &s.rules, &s.context)
    } else {
        analyse_incremental(
            &s.project,
            &s.rules,
            &s.context,
            Some((&s.analysis, &rescore)),
        )
    };
    let revalidated = if global {
        analysis.exercises.iter().map(|e| e.id.clone()).collect()
    } else {
        analysis
            .exercises
            .iter()
            .filter(|e| rescore.contains(&e.class_name))
            .map(|e| e.id.clone())
            .collect()
    };
    s.analysis = analysis.clone();
    s.revision += 1;
    Some(Update {
        revision: s.revision,
        changed,
        revalidated,
        elapsed_ms: received.elapsed().as_secs_f64() * 1000.0,
        analysis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_prunes_ignored_trees_before_watching() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("pubspec.yaml"), "name: p\n").unwrap();
        for d in [
            "lib/a/b",
            "lib/build/x",
            "lib/generated",
            ".dart_tool/cache",
            "build/app",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "lib/generated/\n").unwrap();
        let rules = Compiled::default_rules();
        let project = project::read_project(root, &rules.rules.agent.paths);
        let planned: Vec<String> = plan(&project, &rules)
            .iter()
            .map(|p| {
                p.strip_prefix(root)
                    .unwrap()
                    .display()
                    .to_string()
                    .replace('\\', "/")
            })
            .collect();
        assert_eq!(planned, ["", "lib", "lib/a", "lib/a/b"]);
    }

    fn event(kind: EventKind, paths: &[&str]) -> notify::Result<notify::Event> {
        let mut e = notify::Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        Ok(e)
    }

    fn close_write(path: &str) -> notify::Result<notify::Event> {
        event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &[path],
        )
    }

    fn kinds(batch: &[notify::Event]) -> Vec<String> {
        batch
            .iter()
            .map(|e| format!("{:?} {}", e.kind, e.paths.last().unwrap().display()))
            .collect()
    }

    #[test]
    fn a_completed_save_ends_its_batch_without_waiting_for_the_quiet_window() {
        let (tx, rx) = std::sync::mpsc::channel();
        // An atomic save: the temporary is written, then renamed onto the Dart file.
        tx.send(event(
            EventKind::Create(notify::event::CreateKind::File),
            &["/p/lib/a.dart.tmp"],
        ))
        .unwrap();
        tx.send(close_write("/p/lib/a.dart.tmp")).unwrap();
        tx.send(event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/p/lib/a.dart.tmp", "/p/lib/a.dart"],
        ))
        .unwrap();
        // Someone reads the file: not a change.
        tx.send(event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/p/lib/a.dart"],
        ))
        .unwrap();
        let started = Instant::now();
        let batch = next_batch(&rx, Duration::from_secs(30)).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no quiet window"
        );
        assert_eq!(batch.len(), 3, "{:?}", kinds(&batch));
        // An in-place write of a Dart file completes too; a temporary's does not.
        tx.send(close_write("/p/lib/b.dart")).unwrap();
        assert_eq!(next_batch(&rx, Duration::from_secs(30)).unwrap().len(), 1);
        assert!(!completes_a_save(Path::new("/p/lib/b.dart.tmp")));
        assert!(!completes_a_save(Path::new("/p/lib/b.dart~")));
        assert!(completes_a_save(Path::new("/p/.greenroom-flush-3")));
        assert!(completes_a_save(Path::new("/p/docker-compose.yml")));
    }

    #[test]
    fn other_changes_wait_for_the_quiet_window_and_reads_never_count() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/p/lib/a.dart"],
        ))
        .unwrap();
        tx.send(event(
            EventKind::Remove(notify::event::RemoveKind::File),
            &["/p/lib/gone.dart"],
        ))
        .unwrap();
        let sender = std::thread::spawn(move || {
            // Within the window: the same batch; then a save completes it.
            std::thread::sleep(Duration::from_millis(20));
            tx.send(event(
                EventKind::Create(notify::event::CreateKind::Folder),
                &["/p/lib/new"],
            ))
            .unwrap();
            std::thread::sleep(Duration::from_millis(20));
            tx.send(close_write("/p/lib/new/c.dart")).unwrap();
            tx
        });
        let batch = next_batch(&rx, Duration::from_secs(5)).unwrap();
        assert_eq!(
            kinds(&batch),
            [
                "Remove(File) /p/lib/gone.dart",
                "Create(Folder) /p/lib/new",
                "Access(Close(Write)) /p/lib/new/c.dart"
            ]
        );
        // Changes that complete nothing are handled once the window has passed.
        let tx = sender.join().unwrap();
        tx.send(event(
            EventKind::Remove(notify::event::RemoveKind::File),
            &["/p/lib/x.dart"],
        ))
        .unwrap();
        let started = Instant::now();
        assert_eq!(next_batch(&rx, Duration::from_millis(30)).unwrap().len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(30));
        // A stopped watcher ends the batches.
        drop(tx);
        assert!(next_batch(&rx, Duration::from_millis(30)).is_none());
    }

    #[test]
    fn watching_a_folder_that_is_gone_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let err = ExerciseWatcher::start(
            &gone,
            Compiled::default_rules(),
            StackContext::default(),
            Duration::from_millis(10),
            |_| {},
        )
        .err()
        .unwrap();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!(
            err.to_string(),
            format!("cannot watch {}: it does not exist", gone.display())
        );
    }
}
