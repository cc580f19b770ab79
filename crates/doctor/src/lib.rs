//! `greenroom doctor`: what this machine has of what Greenroom uses.
//!
//! Every check answers three questions for a person: is it there (and which version), what
//! Greenroom needs it for, and — when it is not there — how to install it on Debian and on
//! Windows 11. Checks run concurrently; each command they run has a timeout
//! ([`DoctorOptions::command_timeout`]), so a hung `docker info` costs seconds, not forever.
//!
//! Statuses: `ok` (present and working), `warn` (present but not usable as is, or optional
//! and absent, e.g. PulseAudio installed but not running, low disk), `fail` (missing or
//! broken). Tools are looked up on `PATH` (or [`DoctorOptions::path`]) and then in
//! [`DoctorOptions::extra_dirs`], in that order; the first hit wins.

mod checks;
mod probe;

use serde::Serialize;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;
use ts_rs::TS;

pub use checks::all_checks;
pub use probe::locate_tool;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
}

/// How to get a missing piece, per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct InstallHint {
    pub debian: String,
    pub windows: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CheckResult {
    /// Stable identifier (`redis-server`, `docker`, `disk`…).
    pub id: String,
    /// What a person calls it.
    pub name: String,
    /// What Greenroom uses it for.
    pub purpose: String,
    pub status: CheckStatus,
    /// What was found: a version, a path, an error.
    pub detail: String,
    /// How to fix it; present only when the status is not `ok`.
    pub install: Option<InstallHint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DoctorSummary {
    pub ok: u32,
    pub warn: u32,
    pub fail: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DoctorReport {
    /// `linux`, `windows` or `macos`.
    pub platform: String,
    /// In the order of [`all_checks`], whatever order they finished in.
    pub checks: Vec<CheckResult>,
    pub summary: DoctorSummary,
}

#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The search path for tools; `None` means this process's `PATH`.
    pub path: Option<OsString>,
    /// Searched after the path (e.g. the project's `tools/bin`).
    pub extra_dirs: Vec<PathBuf>,
    /// The folder whose disk must have room (Greenroom's home).
    pub disk_path: PathBuf,
    /// The longest any single command may run.
    pub command_timeout: Duration,
}

impl DoctorOptions {
    pub fn new(disk_path: PathBuf) -> Self {
        Self {
            path: None,
            extra_dirs: Vec::new(),
            disk_path,
            command_timeout: Duration::from_secs(5),
        }
    }
}

/// Runs every check concurrently; `on_check(result, done, total)` is called as each one
/// finishes (for progress), then the report lists them in their declared order.
pub async fn run(
    options: &DoctorOptions,
    on_check: impl Fn(&CheckResult, usize, usize),
) -> DoctorReport {
    use futures_util::stream::{FuturesUnordered, StreamExt};

    let checks = all_checks();
    let total = checks.len();
    let mut pending: FuturesUnordered<_> = checks
        .iter()
        .enumerate()
        .map(|(index, check)| async move { (index, check.run(options).await) })
        .collect();
    let mut results: Vec<Option<CheckResult>> = vec![None; total];
    let mut done = 0;
    while let Some((index, result)) = pending.next().await {
        done += 1;
        on_check(&result, done, total);
        results[index] = Some(result);
    }
    let checks: Vec<CheckResult> = results.into_iter().flatten().collect();
    let count = |s: CheckStatus| checks.iter().filter(|c| c.status == s).count() as u32;
    DoctorReport {
        platform: std::env::consts::OS.to_owned(),
        summary: DoctorSummary {
            ok: count(CheckStatus::Ok),
            warn: count(CheckStatus::Warn),
            fail: count(CheckStatus::Fail),
        },
        checks,
    }
}
