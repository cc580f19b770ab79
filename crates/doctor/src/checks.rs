//! The checks, in the order `greenroom doctor` prints them.

use crate::probe::{locate_tool, run_command};
use crate::{CheckResult, CheckStatus, DoctorOptions, InstallHint};

/// Below this much free space the disk check fails; below `DISK_WARN_BYTES` it warns.
pub const DISK_FAIL_BYTES: u64 = 2 * 1024 * 1024 * 1024;
pub const DISK_WARN_BYTES: u64 = 10 * 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
enum Kind {
    /// A program that must answer `version_args` with exit code 0.
    Tool {
        names: &'static [&'static str],
        version_args: &'static [&'static str],
    },
    /// The Docker CLI, then whether its engine answers.
    DockerEngine,
    /// The system webview Tauri renders into.
    Webview,
    /// PulseAudio (Linux): installed, and is a server answering?
    PulseAudio,
    /// Free space on the disk of Greenroom's home.
    Disk,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: &'static str,
    pub name: &'static str,
    pub purpose: &'static str,
    debian: &'static str,
    windows: &'static str,
    kind: Kind,
}

pub fn all_checks() -> Vec<Check> {
    vec![
        Check {
            id: "webview",
            name: "System webview",
            purpose: "renders the Greenroom desktop window (WebKitGTK 4.1 on Linux, WebView2 on Windows)",
            debian: "sudo apt install libwebkit2gtk-4.1-0",
            windows: "WebView2 ships with Windows 11; if it was removed: winget install Microsoft.EdgeWebView2Runtime",
            kind: Kind::Webview,
        },
        Check {
            id: "livekit-server",
            name: "LiveKit server",
            purpose: "the media server of the sandbox stack; rooms, talking to Marie and stream tests need it",
            debian: "scripts/setup installs v1.13.5 into tools/bin (needs Go >= 1.26: GOBIN=$PWD/tools/bin go install github.com/livekit/livekit-server/cmd/server@v1.13.5, then rename server to livekit-server)",
            windows: "download livekit_1.13.5_windows_amd64.zip from the livekit-server releases and put livekit-server.exe on PATH (or with Go >= 1.26: go install github.com/livekit/livekit-server/cmd/server@v1.13.5, then rename server.exe)",
            kind: Kind::Tool {
                names: &["livekit-server"],
                version_args: &["--version"],
            },
        },
        Check {
            id: "redis-server",
            name: "Redis",
            purpose: "the cache and message bus of the Eloquence stack; the sandbox stack starts it",
            debian: "sudo apt install redis-server",
            windows: "no native Redis for Windows: winget install Memurai.MemuraiDeveloper (Redis-compatible), or run Redis in Docker Desktop",
            kind: Kind::Tool {
                names: &["redis-server", "memurai"],
                version_args: &["--version"],
            },
        },
        Check {
            id: "espeak-ng",
            name: "eSpeak NG",
            purpose: "the offline French voice: TTS fallback and the simulated learner's speech in tests",
            debian: "sudo apt install espeak-ng",
            windows: "install espeak-ng-X64.msi from the espeak-ng releases and add C:\\Program Files\\eSpeak NG to PATH",
            kind: Kind::Tool {
                names: &["espeak-ng"],
                version_args: &["--version"],
            },
        },
        Check {
            id: "python3",
            name: "Python 3",
            purpose: "runs Marie's LiveKit agent and the official LiveKit SDK peer of the interop tests",
            debian: "sudo apt install python3 python3-venv",
            windows: "winget install Python.Python.3.12 (then reopen the terminal so that python is on PATH)",
            kind: Kind::Tool {
                names: &["python3", "python", "py"],
                version_args: &["--version"],
            },
        },
        Check {
            id: "docker",
            name: "Docker",
            purpose: "runs the real Eloquence stack from its docker-compose.yml (the sandbox stack does not need it)",
            debian: "install Docker Engine with the compose plugin (sudo apt install docker.io docker-compose), then sudo systemctl start docker",
            windows: "winget install Docker.DockerDesktop, then start Docker Desktop",
            kind: Kind::DockerEngine,
        },
        Check {
            id: "pulseaudio",
            name: "PulseAudio",
            purpose: "the sound server on Linux: the microphone for Talk and the fake microphone of the tests",
            debian: "sudo apt install pulseaudio pulseaudio-utils (it starts with your desktop session; tests start their own)",
            windows: "nothing to install: Windows audio (WASAPI) is used directly",
            kind: Kind::PulseAudio,
        },
        Check {
            id: "disk",
            name: "Free disk space",
            purpose: "logs, recordings, reports and history in Greenroom's home folder",
            debian: "free space on that disk (e.g. cargo clean in old projects, sudo apt clean)",
            windows: "free space on that drive (Settings > System > Storage > Cleanup recommendations)",
            kind: Kind::Disk,
        },
    ]
}

impl Check {
    pub async fn run(&self, options: &DoctorOptions) -> CheckResult {
        let (status, detail) = match &self.kind {
            Kind::Tool {
                names,
                version_args,
            } => tool(names, version_args, options).await,
            Kind::DockerEngine => docker(options).await,
            Kind::Webview => webview(options).await,
            Kind::PulseAudio => pulseaudio(options).await,
            Kind::Disk => disk(options),
        };
        CheckResult {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            purpose: self.purpose.to_owned(),
            status,
            detail,
            install: (status != CheckStatus::Ok).then(|| InstallHint {
                debian: self.debian.to_owned(),
                windows: self.windows.to_owned(),
            }),
        }
    }
}

async fn tool(
    names: &[&str],
    version_args: &[&str],
    options: &DoctorOptions,
) -> (CheckStatus, String) {
    let Some(path) = locate_tool(names, options.path.as_ref(), &options.extra_dirs) else {
        return (
            CheckStatus::Fail,
            format!("not found on PATH ({})", names.join(", ")),
        );
    };
    match run_command(&path, version_args, options.command_timeout).await {
        Ok(out) if out.success => (
            CheckStatus::Ok,
            format!("{} ({})", out.first_line(), path.display()),
        ),
        Ok(out) => (
            CheckStatus::Fail,
            format!(
                "{} exited with {} : {}",
                path.display(),
                out.code
                    .map_or("a signal".to_owned(), |c| format!("code {c}")),
                out.first_line()
            ),
        ),
        Err(e) => (CheckStatus::Fail, e),
    }
}

async fn docker(options: &DoctorOptions) -> (CheckStatus, String) {
    let Some(path) = locate_tool(&["docker"], options.path.as_ref(), &options.extra_dirs) else {
        return (
            CheckStatus::Warn,
            "docker not found on PATH: only the sandbox stack can run".into(),
        );
    };
    let client = match run_command(&path, &["--version"], options.command_timeout).await {
        Ok(out) if out.success => out.first_line(),
        Ok(out) => {
            return (
                CheckStatus::Fail,
                format!("docker --version failed: {}", out.first_line()),
            );
        }
        Err(e) => return (CheckStatus::Fail, e),
    };
    match run_command(
        &path,
        &["info", "--format", "{{.ServerVersion}}"],
        options.command_timeout,
    )
    .await
    {
        Ok(out) if out.success && !out.stdout.trim().is_empty() => (
            CheckStatus::Ok,
            format!("{client}; engine {} answers", out.stdout.trim()),
        ),
        Ok(out) => (
            CheckStatus::Warn,
            format!("{client}; the engine does not answer: {}", out.first_line()),
        ),
        Err(e) => (
            CheckStatus::Warn,
            format!("{client}; the engine does not answer: {e}"),
        ),
    }
}

#[cfg(target_os = "linux")]
async fn webview(_options: &DoctorOptions) -> (CheckStatus, String) {
    const LIB: &str = "libwebkit2gtk-4.1.so.0";
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    match dirs
        .iter()
        .map(|d| std::path::Path::new(d).join(LIB))
        .find(|p| p.exists())
    {
        Some(found) => (
            CheckStatus::Ok,
            format!("WebKitGTK 4.1 ({})", found.display()),
        ),
        None => (
            CheckStatus::Fail,
            format!("{LIB} not found in {}", dirs.join(", ")),
        ),
    }
}

#[cfg(windows)]
async fn webview(options: &DoctorOptions) -> (CheckStatus, String) {
    // The Evergreen WebView2 runtime registers its version under this client id.
    const KEYS: [&str; 2] = [
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}",
        r"HKCU\Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}",
    ];
    let reg = std::path::Path::new(r"C:\Windows\System32\reg.exe");
    for key in KEYS {
        if let Ok(out) =
            run_command(reg, &["query", key, "/v", "pv"], options.command_timeout).await
            && out.success
        {
            let version = out
                .stdout
                .split_whitespace()
                .last()
                .unwrap_or("unknown version")
                .to_owned();
            return (CheckStatus::Ok, format!("WebView2 {version}"));
        }
    }
    (
        CheckStatus::Fail,
        "the WebView2 runtime is not registered".into(),
    )
}

#[cfg(not(any(target_os = "linux", windows)))]
async fn webview(_options: &DoctorOptions) -> (CheckStatus, String) {
    (CheckStatus::Ok, "WKWebView is part of the system".into())
}

#[cfg(windows)]
async fn pulseaudio(_options: &DoctorOptions) -> (CheckStatus, String) {
    (
        CheckStatus::Ok,
        "not needed: Windows audio (WASAPI) is used directly".into(),
    )
}

#[cfg(not(windows))]
async fn pulseaudio(options: &DoctorOptions) -> (CheckStatus, String) {
    let Some(pactl) = locate_tool(&["pactl"], options.path.as_ref(), &options.extra_dirs) else {
        let daemon = locate_tool(&["pulseaudio"], options.path.as_ref(), &options.extra_dirs);
        return match daemon {
            Some(p) => (
                CheckStatus::Warn,
                format!("{} found but pactl is missing", p.display()),
            ),
            None => (
                CheckStatus::Fail,
                "pulseaudio and pactl not found on PATH".into(),
            ),
        };
    };
    match run_command(&pactl, &["info"], options.command_timeout).await {
        Ok(out) if out.success => {
            let server = out
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("Server Name:"))
                .map(str::trim)
                .unwrap_or("a sound server");
            (CheckStatus::Ok, format!("{server} answers"))
        }
        Ok(out) => (
            CheckStatus::Warn,
            format!(
                "installed, but no sound server answers ({}); tests start their own",
                out.first_line()
            ),
        ),
        Err(e) => (CheckStatus::Warn, e),
    }
}

fn disk(options: &DoctorOptions) -> (CheckStatus, String) {
    // The home may not exist yet: measure the disk of its nearest existing ancestor.
    let mut probe = options.disk_path.clone();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    // Never the verbatim form (`\\?\C:\…`): no mount point starts with it.
    let target = greenroom_core::paths::canonical(&probe).unwrap_or(probe);
    let (free, volume) = match free_space(&target) {
        Ok(found) => found,
        Err(message) => return (CheckStatus::Warn, message),
    };
    let gib = free as f64 / (1024.0 * 1024.0 * 1024.0);
    let detail = format!(
        "{gib:.1} GiB free on {volume} (for {})",
        options.disk_path.display()
    );
    let status = if free < DISK_FAIL_BYTES {
        CheckStatus::Fail
    } else if free < DISK_WARN_BYTES {
        CheckStatus::Warn
    } else {
        CheckStatus::Ok
    };
    (status, detail)
}

/// Free bytes for this user on the volume that holds `target` (an existing folder), and
/// that volume's root. Windows asks the OS about the path itself (`GetDiskFreeSpaceExW`,
/// which follows junctions and mounted folders, and needs no list of disks).
#[cfg(windows)]
fn free_space(target: &std::path::Path) -> Result<(u64, String), String> {
    use windows::Win32::Storage::FileSystem::{GetDiskFreeSpaceExW, GetVolumePathNameW};
    use windows::core::HSTRING;
    let path = HSTRING::from(target.as_os_str());
    let mut free = 0u64;
    // SAFETY: plain Win32 calls with a valid string and out pointers that outlive them.
    unsafe {
        GetDiskFreeSpaceExW(&path, Some(&mut free), None, None)
            .map_err(|e| format!("cannot read the free space of {}: {e}", target.display()))?;
        let mut volume = [0u16; 261];
        let root = match GetVolumePathNameW(&path, &mut volume) {
            Ok(()) => String::from_utf16_lossy(
                &volume[..volume.iter().position(|&c| c == 0).unwrap_or(0)],
            ),
            Err(_) => target.display().to_string(),
        };
        Ok((free, root))
    }
}

/// As above, from the disk whose mount point is the longest prefix of `target`.
#[cfg(not(windows))]
fn free_space(target: &std::path::Path) -> Result<(u64, String), String> {
    let disks = match sysinfo::Disks::new_with_refreshed_list() {
        Ok(d) => d,
        Err(e) => return Err(format!("cannot list the disks of this machine: {e}")),
    };
    let best = disks
        .iter()
        .filter(|d| target.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len());
    let Some(disk) = best else {
        return Err(format!(
            "could not tell which disk holds {} (disks seen: {})",
            target.display(),
            if disks.iter().next().is_none() {
                "none".to_string()
            } else {
                disks
                    .iter()
                    .map(|d| d.mount_point().display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    };
    Ok((
        disk.available_space(),
        disk.mount_point().display().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_unique_and_every_check_says_how_to_install() {
        let checks = all_checks();
        let mut ids: Vec<_> = checks.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), checks.len());
        for c in &checks {
            assert!(
                !c.purpose.is_empty() && !c.debian.is_empty() && !c.windows.is_empty(),
                "{}",
                c.id
            );
        }
    }
}
