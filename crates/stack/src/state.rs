//! What Greenroom remembers of a running stack, across its own restarts.
//!
//! One JSON file per stack (`<home>/stacks/<key>/state.json`), written atomically after
//! every change. For each service: the PID and the process's start time (a PID alone can
//! be reused by another program), its published ports, its restart count, and whether a
//! person wants it running. A Greenroom that starts reads it and re-attaches to the
//! processes that are still the ones it started; anything else is forgotten.
//!
//! Schema (version 1): `{"version": 1, "stack": "<name>", "services": {"<id>":
//! {"pid": 123, "start_time": 1700000000, "ports": ["6379"], "restarts": 0,
//! "wanted": true, "started_at_ms": 1700000000000}}}`. A file of an unknown version, or
//! one that cannot be parsed, is kept aside as `state.json.unreadable` and a fresh state
//! begins (the processes it named are then not re-attached: `greenroom status` says so).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub pid: Option<u32>,
    pub start_time: Option<u64>,
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub restarts: u32,
    /// A person asked for it to run (`up`, start, restart) and not to stop.
    #[serde(default)]
    pub wanted: bool,
    #[serde(default)]
    pub started_at_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    pub version: u32,
    pub stack: String,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceRecord>,
}

impl StackState {
    pub fn new(stack: &str) -> Self {
        Self {
            version: STATE_VERSION,
            stack: stack.to_owned(),
            services: BTreeMap::new(),
        }
    }
}

/// Reads the state; a missing file is a fresh state, an unreadable one is kept aside.
pub fn load(path: &Path, stack: &str) -> (StackState, Option<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => return (StackState::new(stack), None),
    };
    match serde_json::from_str::<StackState>(&text) {
        Ok(state) if state.version == STATE_VERSION => (state, None),
        Ok(state) => (
            StackState::new(stack),
            Some(keep_aside(
                path,
                &format!(
                    "state version {} is not one this Greenroom reads",
                    state.version
                ),
            )),
        ),
        Err(e) => (
            StackState::new(stack),
            Some(keep_aside(path, &format!("cannot parse it ({e})"))),
        ),
    }
}

fn keep_aside(path: &Path, why: &str) -> String {
    let aside = PathBuf::from(format!("{}.unreadable", path.display()));
    let _ = std::fs::rename(path, &aside);
    format!(
        "{}: {why}; it was kept as {} and Greenroom starts from a fresh state (running services it named are not re-attached)",
        path.display(),
        aside.display()
    )
}

pub fn save(path: &Path, state: &StackState) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    greenroom_core::write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_a_checked_in_version_one_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = StackState::new("demo");
        state.services.insert(
            "redis".into(),
            ServiceRecord {
                pid: Some(42),
                start_time: Some(7),
                wanted: true,
                ..Default::default()
            },
        );
        save(&path, &state).unwrap();
        assert_eq!(load(&path, "demo"), (state, None));

        // The version-1 format as documented above must keep loading.
        let v1 = r#"{"version": 1, "stack": "demo", "services": {"redis": {"pid": 123, "start_time": 1700000000, "ports": ["6379"], "restarts": 2, "wanted": true, "started_at_ms": 1700000000000}}}"#;
        std::fs::write(&path, v1).unwrap();
        let (loaded, note) = load(&path, "demo");
        assert!(note.is_none());
        assert_eq!(loaded.services["redis"].restarts, 2);
    }

    #[test]
    fn an_unreadable_file_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{torn").unwrap();
        let (state, note) = load(&path, "demo");
        assert!(state.services.is_empty());
        assert!(note.unwrap().contains("kept as"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("state.json.unreadable")).unwrap(),
            "{torn"
        );
    }
}
