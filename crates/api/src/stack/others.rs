//! Stacks other than the current one that still run, so that no screen loses sight of
//! processes Greenroom started when the workspace changes.
//!
//! Every stack Greenroom ran has a state folder under `<home>/stacks/<key>/` (its
//! `state.json` records each service's PID and start time, see
//! [`greenroom_stack::state`]). A stack other than the current one is *still running*
//! when one of its recorded processes is alive and is still the process Greenroom started
//! (same start time). Who looks after it, in this order:
//!
//! 1. `kept`: this process, because the person chose "keep it running" when switching the
//!    workspace (or the workspace changed under a running stack);
//! 2. `another_process`: another live Greenroom that recorded itself as its supervisor
//!    (`supervisor.json`), e.g. a terminal's `greenroom up`;
//! 3. `nobody`: its supervisor is gone; its processes are still ours (recorded by
//!    Greenroom, same start time), so stopping them needs no confirmation.
//!
//! [`crate::Api::other_stack_down`] stops one: through its supervisor when it has one,
//! else by asking each recorded process group to stop (SIGTERM / CTRL_C), then killing what
//! is left after [`ORPHAN_GRACE`].

use super::LoadedStack;
use crate::{ApiError, ErrorCode, control};
use greenroom_stack::status::ServiceState;
use serde::{Deserialize, Serialize};
use std::path::Path;
use ts_rs::TS;

/// How long the processes of an unsupervised stack get to stop before they are killed.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OtherStackSupervision {
    Kept,
    AnotherProcess,
    Nobody,
}

/// A running service of another stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OtherService {
    pub id: String,
    pub pid: Option<u32>,
}

/// A stack other than the current one that still runs (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OtherStack {
    /// Its state folder's name under `<home>/stacks` (what `other_stack_down` takes).
    pub key: String,
    pub name: String,
    pub supervision: OtherStackSupervision,
    /// The PID of the Greenroom that supervises it (`kept`: this one).
    pub supervisor_pid: Option<u32>,
    /// One line for people: where it comes from and who looks after it.
    pub description: String,
    pub running: Vec<OtherService>,
}

/// The key of a stack's state folder.
pub(crate) fn key_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `kept` stacks that still run (from their supervisors, in memory).
pub(crate) fn kept(kept: &[LoadedStack]) -> Vec<OtherStack> {
    kept.iter()
        .filter_map(|k| {
            let running: Vec<OtherService> = k
                .supervisor
                .status()
                .services
                .into_iter()
                .filter(|s| !matches!(s.state, ServiceState::Stopped | ServiceState::Disabled))
                .map(|s| OtherService {
                    id: s.id,
                    pid: s.pid,
                })
                .collect();
            (!running.is_empty()).then(|| OtherStack {
                key: key_of(&k.dir),
                name: k.supervisor.name().to_owned(),
                supervision: OtherStackSupervision::Kept,
                supervisor_pid: Some(std::process::id()),
                description: format!(
                    "{}: kept running by this Greenroom when the workspace changed",
                    k.source.view().description
                ),
                running,
            })
        })
        .collect()
}

/// What the state folders under `home` say, leaving out the folders named in `skip` (the
/// current stack's, the kept ones'): reads the disk and the process table.
pub(crate) fn recorded(home: &Path, skip: &[String]) -> Vec<OtherStack> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(home.join("stacks")) else {
        return found;
    };
    let mut dirs: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let key = key_of(&dir);
        if skip.contains(&key) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join("state.json")) else {
            continue;
        };
        let Ok(state) = serde_json::from_str::<greenroom_stack::state::StackState>(&text) else {
            continue;
        };
        let running: Vec<OtherService> = state
            .services
            .iter()
            .filter(|(_, r)| {
                r.pid
                    .is_some_and(|pid| greenroom_stack::process::is_ours(pid, r.start_time))
            })
            .map(|(id, r)| OtherService {
                id: id.clone(),
                pid: r.pid,
            })
            .collect();
        // Another Greenroom's stack counts when something of it runs, or when a person
        // asked for it to run (a compose service's container has no PID of ours); an idle
        // stack another window merely shows does not.
        let supervisor = control::find(&dir);
        let wanted = state.services.values().any(|r| r.wanted);
        if running.is_empty() && !(supervisor.is_some() && wanted) {
            continue;
        }
        let (supervision, description) = match &supervisor {
            Some(s) => (
                OtherStackSupervision::AnotherProcess,
                format!("supervised by another Greenroom (PID {})", s.pid),
            ),
            None => (
                OtherStackSupervision::Nobody,
                "no Greenroom supervises it any more: its processes were left running".to_owned(),
            ),
        };
        found.push(OtherStack {
            key,
            name: state.stack.clone(),
            supervision,
            supervisor_pid: supervisor.map(|s| s.pid),
            description: format!(
                "the stack `{}` ({}): {description}",
                state.stack,
                dir.display()
            ),
            running,
        });
    }
    found
}

/// Stops the recorded processes of an unsupervised stack (module docs); returns the
/// services that were running.
pub(crate) async fn stop_orphans(dir: &Path) -> Result<Vec<String>, ApiError> {
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("cannot read {}: {e}", dir.join("state.json").display()),
        )
    })?;
    let state: greenroom_stack::state::StackState = serde_json::from_str(&text).map_err(|e| {
        ApiError::internal(format!(
            "{} cannot be read ({e}); stop its processes by hand",
            dir.join("state.json").display()
        ))
    })?;
    let live: Vec<(String, u32, Option<u64>)> = state
        .services
        .iter()
        .filter_map(|(id, r)| {
            let pid = r.pid?;
            greenroom_stack::process::is_ours(pid, r.start_time)
                .then(|| (id.clone(), pid, r.start_time))
        })
        .collect();
    for (_, pid, _) in &live {
        greenroom_stack::process::request_stop(*pid, greenroom_stack::manifest::StopSignal::Term);
    }
    let deadline = std::time::Instant::now() + ORPHAN_GRACE;
    loop {
        let left: Vec<_> = live
            .iter()
            .filter(|(_, pid, started)| greenroom_stack::process::is_ours(*pid, *started))
            .collect();
        if left.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            for (_, pid, _) in left {
                greenroom_stack::process::kill_tree(*pid);
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(live.into_iter().map(|(id, _, _)| id).collect())
}
