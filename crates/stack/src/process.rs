//! Starting, watching and stopping a service's process tree.
//!
//! Every process service runs as the leader of its own process group (Unix) or inside its
//! own Job Object (Windows), so that stopping it stops everything it started, grandchildren
//! included. Stopping is graceful first: the configured signal to the whole group (Unix),
//! or CTRL_BREAK to its console process group (Windows; the service is started with
//! `CREATE_NEW_PROCESS_GROUP`); after the grace period, the group is killed (SIGKILL) or
//! the Job Object terminated.
//!
//! Processes survive Greenroom itself (no kill-on-drop, and the Job Object is not
//! kill-on-close): a restarted Greenroom re-attaches to them through the state file. A
//! re-attached process is identified by its PID *and* its start time, so a PID reused by
//! another program is never mistaken for ours — and never signalled.
//!
//! This module holds the primitives; the sequence (signal, grace, kill) is the runner's
//! (`crate::runner`), applied through the child seam (`crate::child`).

use crate::manifest::StopSignal;
use process_wrap::tokio::{ChildWrapper, CommandWrap};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A process we started, with the handle that can wait for it.
pub struct Spawned {
    pub child: Box<dyn ChildWrapper>,
    pub pid: u32,
    /// Seconds since the epoch, as the OS reports it (to tell a reused PID apart).
    pub start_time: Option<u64>,
}

pub struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    pub log: &'a Path,
}

pub fn spawn(launch: &Launch<'_>) -> std::io::Result<Spawned> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.log)?;
    let err_log = log.try_clone()?;
    let mut command = CommandWrap::with_new(launch.program, |c| {
        c.args(launch.args)
            .current_dir(launch.cwd)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log));
    });
    #[cfg(unix)]
    command.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    {
        use windows::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW};
        command.wrap(process_wrap::tokio::CreationFlags(
            CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
        ));
        command.wrap(process_wrap::tokio::JobObject);
    }
    let child = command.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process exited before it could be watched"))?;
    Ok(Spawned {
        child,
        pid,
        start_time: start_time(pid),
    })
}

/// When the process `pid` started (seconds since the epoch), if it exists and has not
/// exited (a zombie — exited, not yet reaped by its parent — counts as gone).
pub fn start_time(pid: u32) -> Option<u64> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};
    if exited_but_not_reaped(pid) {
        return None;
    }
    let mut system = System::new().ok()?;
    let pid = Pid::from_u32(pid);
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    system
        .process(pid)
        .filter(|p| !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead))
        .map(|p| p.start_time())
}

/// Linux: the state letter in `/proc/<pid>/stat` (after the command name in parentheses)
/// is `Z` (zombie: exited, not yet reaped) or `X` (dead); sysinfo does not always say so.
#[cfg(target_os = "linux")]
fn exited_but_not_reaped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
fn exited_but_not_reaped(_pid: u32) -> bool {
    false
}

/// Whether `pid` is still the process we started at `started` (not a reused PID).
pub fn is_ours(pid: u32, started: Option<u64>) -> bool {
    match (start_time(pid), started) {
        (Some(now), Some(then)) => now.abs_diff(then) <= 1,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `roots` and every process descended from them, from a fresh read of the process table.
pub fn descendants(roots: &[u32]) -> BTreeSet<u32> {
    ProcessTable::read().descendants(roots)
}

/// Who is whose parent, read once from the OS, so that several trees (one per service,
/// for the resource monitor) cost one read of the process table.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    /// `(child, parent)` of every process that has a parent.
    parents: Vec<(u32, u32)>,
}

impl ProcessTable {
    /// Reads the table now (empty when the OS will not say).
    pub fn read() -> Self {
        use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
        let Ok(mut system) = System::new() else {
            return Self::default();
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing(),
        );
        Self {
            parents: system
                .processes()
                .iter()
                .filter_map(|(pid, p)| p.parent().map(|parent| (pid.as_u32(), parent.as_u32())))
                .collect(),
        }
    }

    /// `roots` and every process descended from them (the roots are included even when
    /// they are not in the table).
    pub fn descendants(&self, roots: &[u32]) -> BTreeSet<u32> {
        let mut found: BTreeSet<u32> = roots.iter().copied().collect();
        loop {
            let before = found.len();
            for (child, parent) in &self.parents {
                if found.contains(parent) {
                    found.insert(*child);
                }
            }
            if found.len() == before {
                return found;
            }
        }
    }
}

/// Asks the process group of `pid` (which we made its leader) to stop.
pub fn request_stop(pid: u32, signal: StopSignal) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let sig = match signal {
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Int => Signal::SIGINT,
            StopSignal::Quit => Signal::SIGQUIT,
            StopSignal::Hup => Signal::SIGHUP,
            StopSignal::Kill => Signal::SIGKILL,
        };
        let _ = killpg(Pid::from_raw(pid as i32), sig);
    }
    #[cfg(windows)]
    {
        use windows::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
        let _ = signal;
        // SAFETY: a plain Win32 call with a process group id; a failure only means the
        // grace period ends in termination of the Job Object.
        unsafe {
            let _ = GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid);
        }
    }
}

/// Why a process Greenroom did not start could not be stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopError {
    /// It had already gone (or never was): nothing to stop.
    #[error("PID {pid} is not running any more")]
    Gone { pid: u32 },
    /// The OS refused the signal (typically: another user's process).
    #[error("cannot signal PID {pid}: {reason}")]
    Signal { pid: u32, reason: String },
    /// Still running after the kill.
    #[error("PID {pid} did not stop")]
    DidNotStop { pid: u32 },
}

impl greenroom_core::Classified for StopError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        use greenroom_core::ErrorKind;
        match self {
            StopError::Gone { .. } => ErrorKind::NotFound,
            StopError::Signal { .. } | StopError::DidNotStop { .. } => ErrorKind::Unavailable,
        }
    }
}

/// Stops a process Greenroom did not start (a repair the person confirmed): that process
/// only, never its group — SIGTERM, `grace`, then SIGKILL (Windows: `taskkill`, then `/F`).
pub async fn stop_foreign(pid: u32, grace: Duration) -> Result<(), StopError> {
    let started = start_time(pid).ok_or(StopError::Gone { pid })?;
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).map_err(|e| StopError::Signal {
            pid,
            reason: e.to_string(),
        })?;
    }
    #[cfg(windows)]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string()])
            .status();
    }
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if !is_ours(pid, Some(started)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill};
        let _ = kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    #[cfg(windows)]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/F"])
            .status();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    if is_ours(pid, Some(started)) {
        Err(StopError::DidNotStop { pid })
    } else {
        Ok(())
    }
}

/// Kills the whole tree of `pid` now (for processes re-attached after a Greenroom restart,
/// which we hold no handle for).
pub fn kill_tree(pid: u32) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    #[cfg(windows)]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T", "/F"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_zombie_is_not_running() {
        // Exits at once and is never waited for: a zombie until this test ends.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while start_time(pid).is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "a zombie still counts as running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!is_ours(pid, None));
    }

    #[test]
    fn descendants_are_found_at_any_depth_and_only_below_the_roots() {
        let table = ProcessTable {
            parents: vec![(2, 1), (3, 2), (4, 3), (6, 5), (7, 1)],
        };
        assert_eq!(table.descendants(&[1]), BTreeSet::from([1, 2, 3, 4, 7]));
        assert_eq!(table.descendants(&[3, 5]), BTreeSet::from([3, 4, 5, 6]));
        assert_eq!(
            table.descendants(&[9]),
            BTreeSet::from([9]),
            "a root is kept"
        );
        assert!(
            descendants(&[std::process::id()]).contains(&std::process::id()),
            "the real table"
        );
    }

    #[test]
    fn this_process_is_ours() {
        let me = std::process::id();
        assert!(is_ours(me, start_time(me)));
        assert!(
            !is_ours(me, start_time(me).map(|t| t + 100)),
            "another start time is another process"
        );
    }
}
