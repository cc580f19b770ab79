//! Where every report goes: `<home>/reports/<kind>/<file>.json`.
//!
//! Whichever front started a run (the app, the CLI, the browser UI), its report is saved
//! here, so every front lists the same runs. Files are pretty JSON written atomically
//! (temp file + rename: a crash mid-write leaves the old file or none, never half of one).
//! A front names a report by its bare file name only ([`checked_name`]): no folder, no
//! `..`, nothing that leaves the kind's folder.
//!
//! Kinds and their folders: [`ReportKind::StreamTest`] → `stream-test/`. Reports saved
//! before the folder had that name (`stream-tests/`) are still listed and opened.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    StreamTest,
}

impl ReportKind {
    /// The kind's folder under `<home>/reports/`.
    pub fn folder(self) -> &'static str {
        match self {
            ReportKind::StreamTest => "stream-test",
        }
    }

    /// Folders an older Greenroom saved this kind in, still read.
    fn legacy_folders(self) -> &'static [&'static str] {
        match self {
            ReportKind::StreamTest => &["stream-tests"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("{0:?} is not a report's file name: pick one from the list of saved reports")]
    BadName(String),
    #[error("no report {name} in {folder}")]
    NotFound { name: String, folder: String },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("cannot list the reports in {folder}: {reason}")]
    Unlistable { folder: String, reason: String },
    #[error("{path}:{line}:{column}: not a {what} report: {reason}")]
    Malformed {
        path: String,
        line: usize,
        column: usize,
        what: String,
        reason: String,
    },
    #[error("cannot save the report to {path}: {reason}")]
    Unwritable { path: String, reason: String },
}

impl greenroom_core::Classified for ReportError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        use greenroom_core::ErrorKind;
        match self {
            ReportError::BadName(_) | ReportError::Malformed { .. } => ErrorKind::InvalidInput,
            ReportError::NotFound { .. } => ErrorKind::NotFound,
            ReportError::Unreadable { .. }
            | ReportError::Unlistable { .. }
            | ReportError::Unwritable { .. } => ErrorKind::Internal,
        }
    }
}

/// A file name a front may ask for: a bare `*.json` name, nothing that leaves the folder.
pub fn checked_name(file: &str) -> Result<&str, ReportError> {
    let bare = !file.is_empty()
        && !file.contains(['/', '\\', ':'])
        && !file.starts_with('.')
        && file.ends_with(".json");
    if bare {
        Ok(file)
    } else {
        Err(ReportError::BadName(file.to_owned()))
    }
}

/// The reports under one home.
#[derive(Debug, Clone)]
pub struct ReportStore {
    root: PathBuf,
}

impl ReportStore {
    /// The store of the Greenroom home `home` (its `reports/` folder).
    pub fn new(home: &Path) -> Self {
        Self {
            root: home.join("reports"),
        }
    }

    /// Where new reports of `kind` are saved.
    pub fn folder(&self, kind: ReportKind) -> PathBuf {
        self.root.join(kind.folder())
    }

    /// Saves `report` as `name` (pretty JSON, atomically) and returns its path.
    pub fn save(
        &self,
        kind: ReportKind,
        name: &str,
        report: &impl Serialize,
    ) -> Result<PathBuf, ReportError> {
        let name = checked_name(name)?;
        let folder = self.folder(kind);
        let path = folder.join(name);
        let unwritable = |reason: String| ReportError::Unwritable {
            path: path.display().to_string(),
            reason,
        };
        let bytes = serde_json::to_vec_pretty(report).map_err(|e| unwritable(e.to_string()))?;
        std::fs::create_dir_all(&folder)
            .and_then(|_| greenroom_core::write_atomic(&path, &bytes))
            .map_err(|e| unwritable(e.to_string()))?;
        Ok(path)
    }

    /// The bare names of the saved `*.json` reports of `kind` whose name starts with
    /// `prefix` (current and legacy folders; a name in both counts once).
    pub fn names(&self, kind: ReportKind, prefix: &str) -> Result<Vec<String>, ReportError> {
        let mut names = Vec::new();
        for folder in self.folders(kind) {
            let entries = match std::fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ReportError::Unlistable {
                        folder: folder.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            };
            names.extend(
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with(prefix) && checked_name(n).is_ok()),
            );
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The text of the report `name` of `kind` (from the current folder, else a legacy one).
    pub fn read(&self, kind: ReportKind, name: &str) -> Result<(PathBuf, String), ReportError> {
        let name = checked_name(name)?;
        for folder in self.folders(kind) {
            let path = folder.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok((path, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ReportError::Unreadable {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Err(ReportError::NotFound {
            name: name.to_owned(),
            folder: self.folder(kind).display().to_string(),
        })
    }

    fn folders(&self, kind: ReportKind) -> impl Iterator<Item = PathBuf> + '_ {
        std::iter::once(self.folder(kind))
            .chain(kind.legacy_folders().iter().map(|f| self.root.join(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_json_names_are_accepted() {
        for bad in [
            "",
            "../x.json",
            "a/b.json",
            "c:\\x.json",
            ".hidden.json",
            "x.txt",
        ] {
            assert!(checked_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            checked_name("stream-test-1-latency.json"),
            Ok("stream-test-1-latency.json")
        );
    }

    #[test]
    fn saves_lists_and_reads_in_the_current_and_legacy_folders() {
        let home = tempfile::tempdir().unwrap();
        let store = ReportStore::new(home.path());
        let kind = ReportKind::StreamTest;
        let path = store
            .save(
                kind,
                "stream-test-2-latency.json",
                &serde_json::json!({"a": 1}),
            )
            .unwrap();
        assert!(path.starts_with(home.path().join("reports").join("stream-test")));
        let legacy = home.path().join("reports").join("stream-tests");
        std::fs::create_dir_all(&legacy).unwrap();
        std::fs::write(legacy.join("stream-test-1-stress.json"), "{}").unwrap();
        std::fs::write(legacy.join("notes.txt"), "x").unwrap();
        assert_eq!(
            store.names(kind, "stream-test-").unwrap(),
            ["stream-test-1-stress.json", "stream-test-2-latency.json"]
        );
        assert_eq!(
            store.read(kind, "stream-test-1-stress.json").unwrap().1,
            "{}"
        );
        assert!(matches!(
            store.read(kind, "stream-test-9-load.json"),
            Err(ReportError::NotFound { .. })
        ));
        assert!(matches!(
            store.read(kind, "../secrets.json"),
            Err(ReportError::BadName(_))
        ));
    }
}
