//! Starting, watching and stopping a service's process tree.
//!
//! Every process service runs as the leader of its own process group (Unix) or inside its
//! own Job Object (Windows), so that stopping it stops everything it started, grandchildren
//! included. Stopping is graceful first: the configured signal to the whole group (Unix),
//! or a console control event to the service's console (Windows); after the grace period,
//! the group is killed (SIGKILL) or the Job Object terminated.
//!
//! ## Windows: how a stop reaches a service
//!
//! Windows has no signals. Its graceful stop for console programs is a console control
//! event, and an event only reaches the processes attached to the *sender's* console.
//! Services are started with `CREATE_NO_WINDOW`: each gets a console of its own, without a
//! window (nothing flashes or lingers, and the desktop app, which has no console, can start
//! them), shared by the service and the children it starts. Greenroom's own console (or its
//! lack of one, in the app) is never the service's, so `GenerateConsoleCtrlEvent` called by
//! Greenroom would reach nothing. The event is sent by a helper instead: Greenroom starts its
//! own executable again with [`CONSOLE_EVENT_HELPER_ARG`], the service's PID and the event
//! (also with `CREATE_NO_WINDOW`). The helper leaves its console, attaches to the service's,
//! ignores the event itself, and sends it to every process on that console: the service and
//! its children. Every executable that can host a supervisor (`greenroom.exe`,
//! `greenroom-app.exe`) calls [`run_console_event_helper_if_asked`] first thing in `main`.
//!
//! Which event ([`windows_event`]): `SIGTERM`, `SIGINT` and `SIGHUP` become `CTRL_C`, which
//! Python (`KeyboardInterrupt`, so `finally` blocks and uvicorn's shutdown run), Node, Go and
//! Rust's ctrlc all handle; `SIGQUIT` becomes `CTRL_BREAK`; `SIGKILL` sends nothing. The
//! service is therefore *not* started with `CREATE_NEW_PROCESS_GROUP`, which would make it
//! ignore CTRL_C. Whether a process ignores CTRL_C is also inherited from its parent (a
//! process started in a new process group ignores it), so before it starts the first
//! service, Greenroom clears that flag in itself (`SetConsoleCtrlHandler(NULL, FALSE)`).
//! A service that is not a console program (GUI subsystem) gets no event and is stopped by
//! the Job Object when its grace period ends.
//!
//! Wine (our Windows tests) delivers CTRL_C but not CTRL_BREAK (its server does not
//! implement it), so `QUIT` is not tested there.
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
        // A child inherits whether its parent ignores CTRL_C; this one must not (module docs).
        static HANDLE_CTRL_C: std::sync::Once = std::sync::Once::new();
        HANDLE_CTRL_C.call_once(|| {
            // SAFETY: clears this process's "ignore CTRL_C" flag; no handler is involved.
            let _ = unsafe { windows::Win32::System::Console::SetConsoleCtrlHandler(None, false) };
        });
        // Its own console, with no window (module docs); never a new process group.
        use windows::Win32::System::Threading::PROCESS_CREATION_FLAGS;
        command.wrap(process_wrap::tokio::CreationFlags(PROCESS_CREATION_FLAGS(
            greenroom_core::console::CREATE_NO_WINDOW,
        )));
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
        // Without the start time we recorded, a live PID may be anyone's (PIDs are reused):
        // never adopt or signal it.
        (Some(_), None) => false,
        (None, _) => false,
    }
}

/// The processes below `pid` now, each with its start time: what a service started,
/// including what left its process group (`setsid`), to be stopped with it.
pub fn tree_of(pid: u32) -> Vec<(u32, Option<u64>)> {
    descendants(&[pid])
        .into_iter()
        .filter(|p| *p != pid)
        .map(|p| (p, start_time(p)))
        .collect()
}

/// Sends `signal` to each of `members` that is still the process we saw (same start time)
/// and not in the group of `leader` (the group gets its signal from [`request_stop`]).
#[cfg(unix)]
pub fn signal_escaped(leader: u32, members: &[(u32, Option<u64>)], signal: StopSignal) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::{Pid, getpgid};
    let sig = match signal {
        StopSignal::Term => Signal::SIGTERM,
        StopSignal::Int => Signal::SIGINT,
        StopSignal::Quit => Signal::SIGQUIT,
        StopSignal::Hup => Signal::SIGHUP,
        StopSignal::Kill => Signal::SIGKILL,
    };
    for (pid, started) in members {
        let in_group =
            getpgid(Some(Pid::from_raw(*pid as i32))).is_ok_and(|g| g.as_raw() as u32 == leader);
        if !in_group && is_ours(*pid, *started) {
            let _ = kill(Pid::from_raw(*pid as i32), sig);
        }
    }
}

/// Whether anything of a service's tree still runs: its process group, or one of the
/// `members` seen when it was asked to stop.
pub fn tree_alive(leader: u32, members: &[(u32, Option<u64>)]) -> bool {
    #[cfg(unix)]
    let group = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(leader as i32), None).is_ok();
    #[cfg(not(unix))]
    let group = {
        let _ = leader;
        false
    };
    group || members.iter().any(|(p, t)| is_ours(*p, *t))
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

/// How a stop signal is delivered on this OS, in words ("SIGTERM", "CTRL_C").
pub fn signal_name(signal: StopSignal) -> &'static str {
    if cfg!(windows) {
        match windows_event(signal) {
            Some(WindowsEvent::CtrlC) => "CTRL_C",
            Some(WindowsEvent::CtrlBreak) => "CTRL_BREAK",
            None => "termination",
        }
    } else {
        match signal {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
            StopSignal::Quit => "SIGQUIT",
            StopSignal::Hup => "SIGHUP",
            StopSignal::Kill => "SIGKILL",
        }
    }
}

/// A console control event (Windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsEvent {
    CtrlC,
    CtrlBreak,
}

/// The console event that stands for `signal` on Windows (module docs); `None`: none, the
/// Job Object is terminated.
pub fn windows_event(signal: StopSignal) -> Option<WindowsEvent> {
    match signal {
        StopSignal::Term | StopSignal::Int | StopSignal::Hup => Some(WindowsEvent::CtrlC),
        StopSignal::Quit => Some(WindowsEvent::CtrlBreak),
        StopSignal::Kill => None,
    }
}

/// Asks the process group of `pid` (which we made its leader) to stop; on Windows, every
/// process on its console.
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
        let Some(event) = windows_event(signal) else {
            return;
        };
        // The helper is started and left to finish on its own thread: a failure only means
        // that the grace period ends in termination of the Job Object.
        let helper = std::env::current_exe().map(|exe| {
            let mut command = std::process::Command::new(exe);
            greenroom_core::console::no_console_window(&mut command)
                .arg(CONSOLE_EVENT_HELPER_ARG)
                .arg(pid.to_string())
                .arg(match event {
                    WindowsEvent::CtrlC => "ctrl-c",
                    WindowsEvent::CtrlBreak => "ctrl-break",
                })
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            command
        });
        std::thread::spawn(move || match helper.and_then(|mut c| c.status()) {
            Ok(status) if status.success() => {}
            Ok(status) => tracing::debug!(pid, ?status, "console event helper failed"),
            Err(e) => tracing::debug!(pid, %e, "console event helper did not start"),
        });
    }
}

/// The first argument with which Greenroom's executables act as the console event helper
/// (module docs): `<exe> --greenroom-send-console-event <pid> ctrl-c|ctrl-break`.
pub const CONSOLE_EVENT_HELPER_ARG: &str = "--greenroom-send-console-event";

/// When this process was started as the console event helper (module docs), sends the event
/// and returns the exit code to end with: 0 sent, 2 bad arguments, 3 could not attach to
/// the service's console, 4 the event could not be sent. `None`: not asked, carry on.
/// Off Windows it only checks its arguments (and sends nothing: 2).
pub fn run_console_event_helper_if_asked() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != CONSOLE_EVENT_HELPER_ARG {
        return None;
    }
    let pid = args.next().and_then(|a| a.to_str()?.parse::<u32>().ok());
    let event = match args.next().as_ref().and_then(|a| a.to_str()) {
        Some("ctrl-c") => Some(WindowsEvent::CtrlC),
        Some("ctrl-break") => Some(WindowsEvent::CtrlBreak),
        _ => None,
    };
    match (pid, event) {
        (Some(pid), Some(event)) => Some(send_console_event(pid, event)),
        _ => Some(2),
    }
}

#[cfg(windows)]
fn send_console_event(pid: u32, event: WindowsEvent) -> i32 {
    use windows::Win32::System::Console::{
        AttachConsole, CTRL_BREAK_EVENT, CTRL_C_EVENT, FreeConsole, GenerateConsoleCtrlEvent,
        SetConsoleCtrlHandler,
    };
    unsafe extern "system" fn ignore(_event: u32) -> windows::core::BOOL {
        true.into()
    }
    // SAFETY: plain Win32 calls on this helper's own console state; nothing else runs in it.
    unsafe {
        let _ = FreeConsole();
        if AttachConsole(pid).is_err() {
            return 3;
        }
        // The event goes to every process on the service's console, this helper included:
        // it must outlive it.
        let _ = SetConsoleCtrlHandler(Some(ignore), true);
        let code = match event {
            WindowsEvent::CtrlC => CTRL_C_EVENT,
            WindowsEvent::CtrlBreak => CTRL_BREAK_EVENT,
        };
        let sent = GenerateConsoleCtrlEvent(code, 0).is_ok();
        let _ = FreeConsole();
        if sent { 0 } else { 4 }
    }
}

#[cfg(not(windows))]
fn send_console_event(_pid: u32, _event: WindowsEvent) -> i32 {
    2
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
        let _ =
            greenroom_core::console::no_console_window(&mut std::process::Command::new("taskkill"))
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
        let _ =
            greenroom_core::console::no_console_window(&mut std::process::Command::new("taskkill"))
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
        let _ =
            greenroom_core::console::no_console_window(&mut std::process::Command::new("taskkill"))
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

    /// Issue 13.15: a live PID without a recorded start time was "ours", so a reused PID
    /// could be adopted and later killed.
    #[test]
    fn a_pid_without_its_start_time_is_never_ours() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        assert!(!is_ours(me, None));
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
    fn stop_signals_map_to_console_events_that_runtimes_handle() {
        assert_eq!(windows_event(StopSignal::Term), Some(WindowsEvent::CtrlC));
        assert_eq!(windows_event(StopSignal::Int), Some(WindowsEvent::CtrlC));
        assert_eq!(windows_event(StopSignal::Hup), Some(WindowsEvent::CtrlC));
        assert_eq!(
            windows_event(StopSignal::Quit),
            Some(WindowsEvent::CtrlBreak)
        );
        assert_eq!(windows_event(StopSignal::Kill), None);
        if cfg!(unix) {
            assert_eq!(signal_name(StopSignal::Term), "SIGTERM");
        }
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
