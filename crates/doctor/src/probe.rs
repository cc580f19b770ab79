//! Finding tools and running them with a deadline.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The first of `names` found on `path` (or this process's `PATH`), then in `extra_dirs`.
/// On Windows `which` applies `PATHEXT`, so `redis-server` finds `redis-server.exe`.
pub fn locate_tool(
    names: &[&str],
    path: Option<&OsString>,
    extra_dirs: &[PathBuf],
) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let search = path
        .cloned()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    for name in names {
        if let Ok(found) = which::which_in(name, Some(&search), &cwd) {
            return Some(found);
        }
    }
    if extra_dirs.is_empty() {
        return None;
    }
    let extra = std::env::join_paths(extra_dirs).ok()?;
    names
        .iter()
        .find_map(|name| which::which_in(name, Some(&extra), &cwd).ok())
}

/// What a finished command printed.
pub struct CommandOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// The first non-empty line of stdout, else of stderr (many tools print versions there).
    pub fn first_line(&self) -> String {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_owned()
    }
}

/// Runs `program args…` with no stdin and a deadline; the child is killed on timeout.
pub async fn run_command(
    program: &Path,
    args: &[&str],
    timeout: Duration,
) -> Result<CommandOutput, String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // A GUI app must not flash a console window for every probe.
    greenroom_core::console::no_console_window(command.as_std_mut());
    let child = command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(format!(
            "{} {} did not answer within {} s",
            program.display(),
            args.join(" "),
            timeout.as_secs_f32()
        )),
        Ok(Err(e)) => Err(format!("{} failed: {e}", program.display())),
        Ok(Ok(output)) => Ok(CommandOutput {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_hidden_from_path_is_not_found() {
        let empty = tempfile::tempdir().unwrap();
        let path = OsString::from(empty.path());
        assert_eq!(locate_tool(&["sh", "cmd"], Some(&path), &[]), None);
    }

    #[cfg(unix)]
    #[test]
    fn extra_dirs_are_searched_after_the_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("fake-tool");
        std::fs::write(&tool, "#!/bin/sh\necho fake 1.0\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let path = OsString::from(empty.path());
        assert_eq!(
            locate_tool(&["fake-tool"], Some(&path), &[dir.path().to_path_buf()]),
            Some(tool)
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_command_that_hangs_is_cut_off() {
        let started = std::time::Instant::now();
        let err = run_command(Path::new("/bin/sleep"), &["30"], Duration::from_millis(200))
            .await
            .err()
            .expect("sleep 30 must time out");
        assert!(err.contains("did not answer"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
