//! The workspace: the Eloquence checkout a person points Greenroom at, and how it is
//! picked and checked before it is saved.
//!
//! **What makes a checkout** ([`check_workspace`]): three parts, looked for in this order
//! and each reported with where it was found (a path relative to the folder):
//!
//! 1. *the stack*: `greenroom.toml`, else the compose file `docker compose` would read
//!    there (`compose.yaml` … `docker-compose.yml`, see [`crate::stack::default_compose_files`]);
//! 2. *the Flutter app*: a `pubspec.yaml` that depends on the Flutter SDK (`sdk: flutter`);
//! 3. *the agent*: a `requirements.txt` or `pyproject.toml` that asks for `livekit-agents`.
//!
//! Parts 2 and 3 are searched at most [`SEARCH_DEPTH`] folders down, skipping what is
//! never source (`.git`, `build`, `node_modules`, virtualenvs…) and reading at most
//! [`SEARCH_ENTRIES`] entries, so that a home folder picked by mistake answers at once.
//! The verdict is `checkout` when all three are there, `partial` when one or two are,
//! `not_a_checkout` when none is, `missing` when the folder does not exist. Only the stack
//! changes what Greenroom runs; the other two say whether the Exercises and Talk screens
//! will find something there.
//!
//! **Picking a folder**: the desktop app opens the system's folder dialog; the browser UI
//! cannot learn a local path from a file input, so it browses folders through
//! [`crate::Api::list_folders`], which lists sub-folders only (never files' contents) and
//! is behind the same serve token as every other command.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// How far below the workspace the Flutter app and the agent are looked for.
pub const SEARCH_DEPTH: usize = 4;
/// At most this many files and folders are looked at per check.
pub const SEARCH_ENTRIES: usize = 20_000;
/// Folders never searched: build output, dependencies, virtualenvs, VCS metadata.
const NEVER_SOURCE: &[&str] = &[
    ".git",
    ".dart_tool",
    ".venv",
    "venv",
    "node_modules",
    "build",
    "target",
    "__pycache__",
    ".idea",
    ".gradle",
    "Pods",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceVerdict {
    Checkout,
    Partial,
    NotACheckout,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WorkspacePartKind {
    Stack,
    FlutterApp,
    Agent,
}

/// One part of a checkout, found or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WorkspacePart {
    pub kind: WorkspacePartKind,
    /// "compose file", "Flutter app", "agent".
    pub label: String,
    /// Where it was found, relative to the workspace (`/`-separated); `None`: not found.
    pub found: Option<String>,
    /// One line for people: what was found, or what is missing and what that means.
    pub detail: String,
}

/// What a folder holds of an Eloquence checkout (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WorkspaceCheck {
    /// The folder, absolute.
    pub path: String,
    pub verdict: WorkspaceVerdict,
    pub parts: Vec<WorkspacePart>,
    /// One line for people: "An Eloquence checkout: docker-compose.yml, frontend/flutter_app, services/livekit-agent".
    pub summary: String,
}

/// One sub-folder in a [`FolderListing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FolderEntry {
    pub name: String,
    pub path: String,
    /// It holds a compose file or a `greenroom.toml` (checked without searching deeper).
    pub has_stack: bool,
}

/// A folder's sub-folders, for the browser UI's folder picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FolderListing {
    pub path: String,
    /// `None` at a root.
    pub parent: Option<String>,
    /// Sorted by name, case-insensitively; hidden folders (`.name`) left out.
    pub folders: Vec<FolderEntry>,
    /// Whether the listing stopped at [`MAX_LISTED`] folders.
    pub truncated: bool,
}

/// At most this many sub-folders per listing.
pub const MAX_LISTED: usize = 2000;

/// Checks `path` (see the module docs); never fails: a folder that cannot be read is
/// `missing` or `not_a_checkout`, with why in its summary.
pub fn check_workspace(path: &Path) -> WorkspaceCheck {
    let shown = path.display().to_string();
    let metadata = std::fs::metadata(path);
    if !metadata.as_ref().is_ok_and(|m| m.is_dir()) {
        let why = match metadata {
            Ok(_) => "it is a file, not a folder".to_owned(),
            Err(e) => e.to_string(),
        };
        return WorkspaceCheck {
            path: shown.clone(),
            verdict: WorkspaceVerdict::Missing,
            parts: Vec::new(),
            summary: format!(
                "{shown} cannot be used: {why}. Pick the folder of your Eloquence clone."
            ),
        };
    }
    let relative = |p: &Path| {
        let rel = p
            .strip_prefix(path)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/");
        if rel.is_empty() { ".".to_owned() } else { rel }
    };
    let stack_found = if path.join("greenroom.toml").is_file() {
        Some("greenroom.toml".to_owned())
    } else {
        crate::stack::default_compose_files(path).map(|files| {
            files
                .iter()
                .map(|f| relative(f))
                .collect::<Vec<_>>()
                .join(" + ")
        })
    };
    let (flutter, agent) = search(path);
    let (flutter, agent) = (
        flutter.as_deref().map(relative),
        agent.as_deref().map(relative),
    );
    let parts = vec![
        WorkspacePart {
            kind: WorkspacePartKind::Stack,
            label: "compose file".into(),
            detail: match &stack_found {
                Some(f) => format!("{f}: Launch runs these services"),
                None => "no docker-compose.yml or greenroom.toml here: Launch would run the sandbox instead".into(),
            },
            found: stack_found,
        },
        WorkspacePart {
            kind: WorkspacePartKind::FlutterApp,
            label: "Flutter app".into(),
            detail: match &flutter {
                Some(f) => format!("{f}: the Exercises screen reads its exercises"),
                None => format!("no pubspec.yaml depending on Flutter within {SEARCH_DEPTH} folders: the Exercises screen will find nothing"),
            },
            found: flutter,
        },
        WorkspacePart {
            kind: WorkspacePartKind::Agent,
            label: "agent".into(),
            detail: match &agent {
                Some(f) => format!("{f}: Marie's LiveKit agent"),
                None => format!("no requirements.txt or pyproject.toml asking for livekit-agents within {SEARCH_DEPTH} folders"),
            },
            found: agent,
        },
    ];
    let found: Vec<&str> = parts.iter().filter_map(|p| p.found.as_deref()).collect();
    let verdict = match found.len() {
        3 => WorkspaceVerdict::Checkout,
        0 => WorkspaceVerdict::NotACheckout,
        _ => WorkspaceVerdict::Partial,
    };
    let summary = match verdict {
        WorkspaceVerdict::Checkout => format!("An Eloquence checkout: {}.", found.join(", ")),
        WorkspaceVerdict::Partial => format!(
            "Part of a checkout: found {}; missing {}.",
            found.join(", "),
            parts
                .iter()
                .filter(|p| p.found.is_none())
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        _ => "Not an Eloquence checkout: no compose file, Flutter app or agent here. Pick the folder of your Eloquence clone (the one with docker-compose.yml).".into(),
    };
    WorkspaceCheck {
        path: shown,
        verdict,
        parts,
        summary,
    }
}

/// The Flutter app's folder and the agent's folder under `root`, if any (breadth-first,
/// so the shallowest wins; bounded by depth and entry count).
fn search(root: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let (mut flutter, mut agent) = (None, None);
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    let mut seen = 0usize;
    while let Some((dir, depth)) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<(String, bool)> = entries
            .filter_map(Result::ok)
            .take(SEARCH_ENTRIES)
            .map(|e| {
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                (e.file_name().to_string_lossy().into_owned(), is_dir)
            })
            .collect();
        names.sort();
        for (name, is_dir) in names {
            seen += 1;
            if seen > SEARCH_ENTRIES {
                return (flutter, agent);
            }
            let path = dir.join(&name);
            if is_dir {
                if depth < SEARCH_DEPTH
                    && !NEVER_SOURCE.contains(&name.as_str())
                    && !name.starts_with('.')
                {
                    queue.push_back((path, depth + 1));
                }
                continue;
            }
            if flutter.is_none()
                && name == "pubspec.yaml"
                && file_mentions(&path, &["sdk: flutter"])
            {
                flutter = Some(dir.clone());
            }
            if agent.is_none()
                && (name == "requirements.txt" || name == "pyproject.toml")
                && file_mentions(&path, &["livekit-agents", "livekit_agents"])
            {
                agent = Some(dir.clone());
            }
        }
        if flutter.is_some() && agent.is_some() {
            break;
        }
    }
    (flutter, agent)
}

/// Whether the first 256 KiB of `path` contain one of `needles`.
fn file_mentions(path: &Path, needles: &[&str]) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file.take(256 * 1024).read_to_end(&mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    needles.iter().any(|n| text.contains(n))
}

/// The sub-folders of `path` (see [`FolderListing`]).
pub fn list_folders(path: &Path) -> Result<FolderListing, ApiError> {
    let entries = std::fs::read_dir(path).map_err(|e| {
        ApiError::invalid_input(format!(
            "cannot list {}: {e}; pick another folder",
            path.display()
        ))
    })?;
    let mut folders: Vec<FolderEntry> = Vec::new();
    let mut truncated = false;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = entry.path();
        // A symlink to a folder counts: a checkout is often linked into place.
        if name.starts_with('.') || !child.is_dir() {
            continue;
        }
        if folders.len() == MAX_LISTED {
            truncated = true;
            break;
        }
        folders.push(FolderEntry {
            has_stack: child.join("greenroom.toml").is_file()
                || crate::stack::default_compose_files(&child).is_some(),
            path: child.display().to_string(),
            name,
        });
    }
    folders.sort_by_key(|f| f.name.to_lowercase());
    Ok(FolderListing {
        path: path.display().to_string(),
        parent: path.parent().map(|p| p.display().to_string()),
        folders,
        truncated,
    })
}

/// Where the folder picker starts when nothing is set: the user's home folder.
pub fn home_folder() -> PathBuf {
    std::env::home_dir()
        .filter(|h| h.is_dir())
        .unwrap_or_else(|| PathBuf::from(if cfg!(windows) { "C:\\" } else { "/" }))
}

impl crate::Api {
    /// What `path` holds of an Eloquence checkout (see the module docs).
    pub async fn check_workspace(&self, path: String) -> Result<WorkspaceCheck, ApiError> {
        let path = absolute(&path)?;
        tokio::task::spawn_blocking(move || check_workspace(&path))
            .await
            .map_err(|e| ApiError::internal(format!("the workspace check failed: {e}")))
    }

    /// The sub-folders of `path` (the home folder when `None`), for a folder picker.
    pub async fn list_folders(&self, path: Option<String>) -> Result<FolderListing, ApiError> {
        let path = match path.filter(|p| !p.trim().is_empty()) {
            Some(p) => absolute(&p)?,
            None => home_folder(),
        };
        tokio::task::spawn_blocking(move || list_folders(&path))
            .await
            .map_err(|e| ApiError::internal(format!("listing the folder failed: {e}")))?
    }
}

fn absolute(path: &str) -> Result<PathBuf, ApiError> {
    let trimmed = path.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid_input(
            "no folder given: pick the folder of your Eloquence clone",
        ));
    }
    std::path::absolute(trimmed)
        .map_err(|e| ApiError::invalid_input(format!("{trimmed} is not a usable path: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_teams_checkout_is_recognised_with_where_each_part_is() {
        let snapshot =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04");
        assert!(
            snapshot.is_dir(),
            "the team's repository snapshot is missing at {}: it sits next to this checkout",
            snapshot.display()
        );
        let check = check_workspace(&snapshot);
        assert_eq!(
            check.verdict,
            WorkspaceVerdict::Checkout,
            "{}",
            check.summary
        );
        let found: Vec<_> = check
            .parts
            .iter()
            .map(|p| p.found.clone().unwrap())
            .collect();
        assert_eq!(
            found,
            [
                "docker-compose.yml + docker-compose.override.yml",
                "frontend/flutter_app",
                "services/livekit-agent"
            ]
        );
    }

    #[test]
    fn parts_are_found_at_depth_and_missing_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            check_workspace(root).verdict,
            WorkspaceVerdict::NotACheckout
        );
        write(
            root,
            "apps/mobile/pubspec.yaml",
            "name: m\ndependencies:\n  flutter:\n    sdk: flutter\n",
        );
        // A pubspec of a pure Dart package, and one inside build output, are not the app.
        write(root, "tools/pubspec.yaml", "name: tool\n");
        write(root, "node_modules/x/requirements.txt", "livekit-agents\n");
        let partial = check_workspace(root);
        assert_eq!(partial.verdict, WorkspaceVerdict::Partial);
        assert_eq!(partial.parts[1].found.as_deref(), Some("apps/mobile"));
        assert!(
            partial.summary.contains("missing compose file and agent"),
            "{}",
            partial.summary
        );
        write(root, "docker-compose.yml", "services: {}\n");
        write(
            root,
            "svc/agent/pyproject.toml",
            "[project]\ndependencies = [\"livekit-agents>=1\"]\n",
        );
        let whole = check_workspace(root);
        assert_eq!(
            whole.verdict,
            WorkspaceVerdict::Checkout,
            "{}",
            whole.summary
        );
        assert_eq!(whole.parts[2].found.as_deref(), Some("svc/agent"));
        // Too deep is not searched.
        let deep = tempfile::tempdir().unwrap();
        write(deep.path(), "a/b/c/d/e/pubspec.yaml", "sdk: flutter\n");
        assert!(check_workspace(deep.path()).parts[1].found.is_none());
    }

    #[test]
    fn a_missing_folder_or_a_file_is_said_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = check_workspace(&dir.path().join("nope"));
        assert_eq!(gone.verdict, WorkspaceVerdict::Missing);
        assert!(gone.summary.contains("cannot be used"));
        write(dir.path(), "f", "x");
        let file = check_workspace(&dir.path().join("f"));
        assert!(
            file.summary.contains("a file, not a folder"),
            "{}",
            file.summary
        );
    }

    #[test]
    fn listings_show_sub_folders_sorted_without_hidden_ones_and_mark_stacks() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b/docker-compose.yml", "services: {}\n");
        write(dir.path(), "A/readme", "");
        write(dir.path(), ".hidden/x", "");
        write(dir.path(), "file.txt", "");
        let listing = list_folders(dir.path()).unwrap();
        let names: Vec<_> = listing
            .folders
            .iter()
            .map(|f| (f.name.as_str(), f.has_stack))
            .collect();
        assert_eq!(names, [("A", false), ("b", true)]);
        assert_eq!(
            listing.parent.as_deref(),
            dir.path().parent().map(|p| p.to_str().unwrap())
        );
        let err = list_folders(&dir.path().join("missing")).unwrap_err();
        assert!(err.message.contains("cannot list"), "{}", err.message);
    }
}
