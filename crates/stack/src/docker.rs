//! The Docker engine, through the `docker` command line.
//!
//! Why the CLI and not the engine's HTTP API: the CLI already knows where the engine is
//! (`DOCKER_HOST`, the current `docker context`, Docker Desktop's named pipe on Windows),
//! and `docker compose` is a plugin of it. Every call runs with stdin closed, is killed
//! if Greenroom drops it, and on Windows opens no console window (`CREATE_NO_WINDOW`).
//!
//! What is read, and how:
//! - **A compose service's container**: `docker ps -a` filtered on compose's labels
//!   (`com.docker.compose.project`, `com.docker.compose.service`, `oneoff=False`), the
//!   newest first; then `docker inspect` of it ([`ContainerState`]).
//! - **Health**: `.State.Health.Status` and the output of the last check that ran
//!   (`.State.Health.Log`, last entry), trimmed to one line of at most 200 characters.
//! - **CPU and memory**: `docker stats --no-stream` (it samples for about two seconds, so it
//!   runs apart from the state polls). CPU is in percent of one core, as on the tiles of
//!   process services; memory is the container's usage in bytes.
//! - **Failures** of the CLI are sorted by what a person can do about them
//!   ([`Failure::of`]): the engine is not running, an image cannot be found or pulled,
//!   or anything else (its last line).
//!
//! Docker Desktop (Windows, macOS) runs containers in a virtual machine: the PID that
//! `inspect` gives is a PID inside that machine, not one of the host, so Greenroom shows
//! it and never acts on it.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use ts_rs::TS;

/// How long a short docker call (ps, inspect, version) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A `docker …` command that opens no window, reads nothing and dies with its owner.
pub fn command() -> tokio::process::Command {
    let mut c = tokio::process::Command::new("docker");
    c.stdin(std::process::Stdio::null()).kill_on_drop(true);
    greenroom_core::console::no_console_window(c.as_std_mut());
    c
}

/// Why a docker command failed, sorted by what a person can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `docker` itself is not installed (or not on PATH).
    Missing(String),
    /// The CLI is there, but no engine answers.
    EngineDown(String),
    /// The image is neither here nor in a registry that answered.
    ImageNotFound { image: String, detail: String },
    /// A registry could not be reached to pull the image.
    RegistryUnreachable { image: String, detail: String },
    /// Anything else: the last line docker printed.
    Other(String),
}

impl Failure {
    /// Sorts what a failed docker command printed on stderr. Only the lines that report
    /// an error are read when there are some (compose's progress lines name images and
    /// registries too).
    pub fn of(stderr: &str) -> Failure {
        let text = strip_ansi(stderr);
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error")
                    || l.contains("denied")
                    || l.contains("cannot")
                    || l.contains("failed")
            })
            .collect();
        let text = if errors.is_empty() {
            text.clone()
        } else {
            errors.join("\n")
        };
        let lower = text.to_ascii_lowercase();
        let last = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("docker failed without saying why")
            .to_owned();
        if lower.contains("cannot connect to the docker daemon")
            || lower.contains("is the docker daemon running")
            || lower.contains("error during connect")
            || lower.contains("docker_engine: the system cannot find the file specified")
            || (lower.contains("docker.sock") && lower.contains("connect:"))
        {
            return Failure::EngineDown(last);
        }
        let image = image_named_in(&text).unwrap_or_default();
        if lower.contains("pull access denied")
            || lower.contains("manifest unknown")
            || lower.contains("repository does not exist")
            || (lower.contains("not found") && lower.contains("manifest"))
            || lower.contains("no such image")
        {
            return Failure::ImageNotFound {
                image,
                detail: last,
            };
        }
        if lower.contains("dial tcp")
            || lower.contains("no such host")
            || lower.contains("tls handshake timeout")
            || lower.contains("i/o timeout")
            || lower.contains("failed to resolve reference")
            || lower.contains("network is unreachable")
        {
            return Failure::RegistryUnreachable {
                image,
                detail: last,
            };
        }
        Failure::Other(last)
    }

    /// Names the image when docker's message did not (compose names the service).
    pub fn with_image(self, known: Option<&str>) -> Failure {
        let fill = |image: String| match known {
            Some(k) if image.is_empty() => k.to_owned(),
            _ => image,
        };
        match self {
            Failure::ImageNotFound { image, detail } => Failure::ImageNotFound {
                image: fill(image),
                detail,
            },
            Failure::RegistryUnreachable { image, detail } => Failure::RegistryUnreachable {
                image: fill(image),
                detail,
            },
            other => other,
        }
    }

    /// What to tell a person: what failed, and what to do.
    pub fn explain(&self, service: &str) -> String {
        match self {
            Failure::Missing(e) => format!(
                "cannot run docker ({e}): install Docker Desktop (Windows, macOS) or docker.io and the compose plugin (Linux); `greenroom doctor` says how"
            ),
            Failure::EngineDown(detail) => format!(
                "the Docker engine is not running ({detail}): start Docker Desktop (Windows, macOS) or the docker service (`sudo systemctl start docker`); Greenroom starts {service} when the engine answers"
            ),
            Failure::ImageNotFound { image, detail } => format!(
                "image {} of {service} is not on this machine and no registry has it ({detail}): check the name, build it (`docker build -t {0} …` or a `build:` section), or `docker login` if it is private",
                shown_image(image)
            ),
            Failure::RegistryUnreachable { image, detail } => format!(
                "cannot reach the registry to pull image {} of {service} ({detail}): connect to the network, or load the image locally (`docker load`, `docker build`)",
                shown_image(image)
            ),
            Failure::Other(last) => format!("docker compose failed for {service}: {last}"),
        }
    }
}

fn shown_image(image: &str) -> String {
    if image.is_empty() {
        "(unnamed)".into()
    } else {
        format!("`{image}`")
    }
}

/// The image a docker error names: `pull access denied for NAME,`, `manifest for NAME not
/// found`, `No such image: NAME`, or compose's ` Image NAME Error`.
fn image_named_in(text: &str) -> Option<String> {
    let clean = |s: &str| {
        s.trim_matches(|c: char| c == ',' || c == '"' || c == '\'' || c == ':' || c == '`')
            .to_owned()
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let next = words.get(i + 1).map(|n| clean(n));
            match (w.to_ascii_lowercase().as_str(), next) {
                ("for", Some(n))
                    if i > 0
                        && matches!(
                            words[i - 1].to_ascii_lowercase().as_str(),
                            "denied" | "manifest"
                        ) =>
                {
                    return Some(n);
                }
                ("image:", Some(n)) if i > 0 && words[i - 1].eq_ignore_ascii_case("such") => {
                    return Some(n);
                }
                // compose: ` ghost Error pull access denied for …` names the service, not
                // the image: only the forms above name images.
                _ => {}
            }
        }
    }
    None
}

/// Runs a short docker command; its stdout, or why it failed.
pub async fn output(args: &[&str]) -> Result<String, Failure> {
    let mut c = command();
    c.args(args);
    let out = match tokio::time::timeout(CALL_TIMEOUT, c.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Missing(e.to_string()));
        }
        Ok(Err(e)) => return Err(Failure::Other(e.to_string())),
        Err(_) => {
            return Err(Failure::EngineDown(format!(
                "`docker {}` did not answer within {} s",
                args.first().unwrap_or(&""),
                CALL_TIMEOUT.as_secs()
            )));
        }
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Failure::of(&String::from_utf8_lossy(&out.stderr)))
    }
}

/// Whether an engine answers: its version, or why not.
pub async fn engine_version() -> Result<String, Failure> {
    output(&["version", "--format", "{{.Server.Version}}"])
        .await
        .map(|v| v.trim().to_owned())
}

/// The newest container of a compose service (full id), if there is one.
pub async fn container_of(project: &str, service: &str) -> Result<Option<String>, Failure> {
    let project = format!("label=com.docker.compose.project={project}");
    let service = format!("label=com.docker.compose.service={service}");
    let out = output(&[
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        &project,
        "--filter",
        &service,
        "--filter",
        "label=com.docker.compose.oneoff=False",
    ])
    .await?;
    Ok(out
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned))
}

/// A container as `docker inspect` describes it (the fields Greenroom uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    /// `created`, `running`, `restarting`, `paused`, `exited`, `dead`, `removing`.
    pub status: String,
    pub restarting: bool,
    /// Its main process; a PID inside Docker Desktop's virtual machine on Windows/macOS.
    pub pid: Option<u32>,
    /// The code of its last exit (0 while it has never exited).
    pub exit_code: i32,
    pub oom_killed: bool,
    /// How many times docker restarted it (its restart policy).
    pub restart_count: u32,
    /// `starting`, `healthy` or `unhealthy`; `None` without a healthcheck.
    pub health: Option<String>,
    /// The output of the last healthcheck that ran, on one line.
    pub health_output: Option<String>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: String,
    pub max_retries: u32,
    pub image: String,
    /// When its current run started (RFC 3339), to tell runs apart.
    pub started_at: String,
}

impl ContainerState {
    /// Whether docker will start it again by itself after this exit.
    pub fn docker_restarts_it(&self) -> bool {
        if self.restarting {
            return true;
        }
        match self.restart_policy.as_str() {
            "always" | "unless-stopped" => self.status != "exited" && self.status != "dead",
            _ => false,
        }
    }

    /// Running, or about to run again.
    pub fn is_up(&self) -> bool {
        self.status == "running" || self.restarting
    }

    /// The short id people see (12 characters).
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    id: String,
    #[serde(default)]
    state: InspectedState,
    #[serde(default)]
    restart_count: u32,
    #[serde(default)]
    config: InspectedConfig,
    #[serde(default)]
    host_config: InspectedHostConfig,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedState {
    #[serde(default)]
    status: String,
    #[serde(default)]
    restarting: bool,
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    exit_code: i32,
    #[serde(default, rename = "OOMKilled")]
    oom_killed: bool,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    health: Option<InspectedHealth>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedHealth {
    #[serde(default)]
    status: String,
    #[serde(default)]
    log: Option<Vec<InspectedCheck>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedCheck {
    #[serde(default)]
    output: String,
    #[serde(default)]
    exit_code: i32,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    #[serde(default)]
    image: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedHostConfig {
    #[serde(default)]
    restart_policy: InspectedPolicy,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedPolicy {
    #[serde(default)]
    name: String,
    #[serde(default)]
    maximum_retry_count: u32,
}

/// Reads `docker inspect`'s JSON (an array of containers).
pub fn parse_inspect(json: &str) -> Result<Vec<ContainerState>, String> {
    let items: Vec<Inspected> = serde_json::from_str(json)
        .map_err(|e| format!("unexpected `docker inspect` output: {e}"))?;
    Ok(items
        .into_iter()
        .map(|i| {
            let health = i.state.health.filter(|h| !h.status.is_empty());
            let health_output = health.as_ref().and_then(|h| {
                let last = h.log.as_ref()?.last()?;
                let line = one_line(&last.output);
                Some(if line.is_empty() {
                    format!("exit code {}", last.exit_code)
                } else {
                    line
                })
            });
            ContainerState {
                id: i.id,
                status: i.state.status,
                restarting: i.state.restarting,
                pid: (i.state.pid > 0).then_some(i.state.pid),
                exit_code: i.state.exit_code,
                oom_killed: i.state.oom_killed,
                restart_count: i.restart_count,
                health: health.map(|h| h.status),
                health_output,
                restart_policy: if i.host_config.restart_policy.name.is_empty() {
                    "no".into()
                } else {
                    i.host_config.restart_policy.name
                },
                max_retries: i.host_config.restart_policy.maximum_retry_count,
                image: i.config.image,
                started_at: i.state.started_at,
            }
        })
        .collect())
}

/// One container by id; `None` when it no longer exists.
pub async fn inspect(id: &str) -> Result<Option<ContainerState>, Failure> {
    match output(&["inspect", "--type", "container", id]).await {
        Ok(json) => parse_inspect(&json)
            .map(|mut all| all.pop())
            .map_err(Failure::Other),
        Err(Failure::ImageNotFound { .. }) => Ok(None),
        Err(Failure::Other(last)) if last.to_ascii_lowercase().contains("no such") => Ok(None),
        Err(e) => Err(e),
    }
}

/// CPU (percent of one core) and memory (bytes) of a container, from `docker stats`.
pub async fn stats(id: &str) -> Option<(f32, u64)> {
    let mut c = command();
    c.args(["stats", "--no-stream", "--format", "{{json .}}", id]);
    let out = tokio::time::timeout(CALL_TIMEOUT, c.output())
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(parse_stats)
}

/// One line of `docker stats --format '{{json .}}'`.
pub fn parse_stats(line: &str) -> Option<(f32, u64)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Line {
        #[serde(rename = "CPUPerc")]
        cpu_perc: String,
        mem_usage: String,
    }
    let l: Line = serde_json::from_str(line).ok()?;
    let cpu: f32 = l.cpu_perc.trim().trim_end_matches('%').parse().ok()?;
    let used = l.mem_usage.split('/').next()?.trim();
    Some(((cpu * 10.0).round() / 10.0, parse_size(used)?))
}

/// `1.117MiB`, `512KiB`, `2GB`, `0B` → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "B" | "" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024f64.powi(4),
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some((number * factor) as u64)
}

/// Text without terminal escape sequences (compose colours and erases lines even with
/// `--no-color` when it reports a container's exit).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in @..~.
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Text on one line, at most 200 characters.
pub fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 200 {
        let cut: String = joined.chars().take(199).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// A line of `docker compose logs --timestamps --no-log-prefix`: its RFC 3339 time (as
/// written, to resume from, and in ms since the epoch) and its text. `None` for lines
/// without a timestamp (compose's own notes).
pub fn split_timestamp(line: &str) -> Option<(&str, u64, &str)> {
    let (stamp, text) = line.split_once(' ').unwrap_or((line, ""));
    let ms = rfc3339_ms(stamp)?;
    Some((stamp, ms, text))
}

/// `2026-12-02T17:51:31.504831521Z` (or with an offset) → ms since the epoch.
pub fn rfc3339_ms(stamp: &str) -> Option<u64> {
    rfc3339_nanos(stamp).map(|n| (n / 1_000_000) as u64)
}

/// `2026-12-02T17:51:31.504831521Z` (or with an offset) → ns since the epoch. Docker
/// drops trailing zeros of the fraction, so stamps compare by this, not as text.
pub fn rfc3339_nanos(stamp: &str) -> Option<u128> {
    let b = stamp.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = stamp.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = stamp.get(19..)?;
    let mut nanos = 0u128;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if digits == 0 || digits > 9 {
            return None;
        }
        let padded: String = frac[..digits]
            .chars()
            .chain("000000000".chars())
            .take(9)
            .collect();
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        r if (r.starts_with('+') || r.starts_with('-'))
            && r.len() == 6
            && r.get(3..4) == Some(":") =>
        {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (r.get(1..3)?.parse::<i64>().ok()? * 60 + r.get(4..6)?.parse::<i64>().ok()?)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    u128::try_from(seconds)
        .ok()
        .map(|s| s * 1_000_000_000 + nanos)
}

/// What a tile, `status` and the report show of a compose service's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ContainerStatus {
    /// The short id (12 characters).
    pub id: String,
    /// Its main process (inside Docker Desktop's virtual machine on Windows and macOS).
    pub pid: Option<u32>,
    pub image: String,
    /// Docker's word for it: `running`, `restarting`, `exited`…
    pub state: String,
    /// Docker's healthcheck: `starting`, `healthy`, `unhealthy`; `None` without one.
    pub health: Option<String>,
    /// The output of the last healthcheck, when it failed.
    pub health_output: Option<String>,
    /// How many times docker restarted this container (its `restart:` policy).
    pub engine_restarts: u32,
}

impl From<&ContainerState> for ContainerStatus {
    fn from(c: &ContainerState) -> Self {
        ContainerStatus {
            id: c.short_id().to_owned(),
            pid: c.pid,
            image: c.image.clone(),
            state: if c.restarting {
                "restarting".into()
            } else {
                c.status.clone()
            },
            health: c.health.clone(),
            health_output: c
                .health_output
                .clone()
                .filter(|_| c.health.as_deref() != Some("healthy")),
            engine_restarts: c.restart_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_sorted_by_what_to_do() {
        assert!(matches!(
            Failure::of(
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
            ),
            Failure::EngineDown(_)
        ));
        assert!(matches!(
            Failure::of(
                "error during connect: this error may indicate that the docker daemon is not running: Get \"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/version\": open //./pipe/docker_engine: The system cannot find the file specified."
            ),
            Failure::EngineDown(_)
        ));
        match Failure::of(
            " web Error pull access denied for local/nope, repository does not exist or may require 'docker login'\nError response from daemon: pull access denied for local/nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
        ) {
            Failure::ImageNotFound { image, .. } => assert_eq!(image, "local/nope"),
            other => panic!("{other:?}"),
        }
        match Failure::of(
            "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host",
        ) {
            Failure::RegistryUnreachable { .. } => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Failure::of("something\nelse broke\n"),
            Failure::Other("else broke".into())
        );
        let told = Failure::of("pull access denied for local/nope, repository does not exist")
            .explain("web");
        // Progress lines that name images and registries are not the error.
        assert_eq!(
            Failure::of(" greeter Warning Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host\n#6 writing image sha256:72b3 done\nError response from daemon: network gr_default is ambiguous (2 matches found on name)"),
            Failure::Other("Error response from daemon: network gr_default is ambiguous (2 matches found on name)".into())
        );
        assert!(
            told.contains("`local/nope`") && told.contains("web"),
            "{told}"
        );
    }

    #[test]
    fn inspect_output_is_read() {
        let json = r#"[{"Id":"232b7c28e76d0123456789","RestartCount":2,
            "State":{"Status":"running","Restarting":false,"Pid":4242,"ExitCode":137,"OOMKilled":false,
                     "StartedAt":"2026-12-02T17:51:33.1Z",
                     "Health":{"Status":"unhealthy","Log":[{"ExitCode":0,"Output":"ok"},{"ExitCode":1,"Output":"wget: server returned error:\n HTTP/1.1 500 "}]}},
            "Config":{"Image":"local/busybox:1"},
            "HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}}]"#;
        let c = &parse_inspect(json).unwrap()[0];
        assert_eq!(c.short_id(), "232b7c28e76d");
        assert_eq!((c.pid, c.restart_count, c.exit_code), (Some(4242), 2, 137));
        assert_eq!(c.health.as_deref(), Some("unhealthy"));
        assert_eq!(
            c.health_output.as_deref(),
            Some("wget: server returned error: HTTP/1.1 500")
        );
        assert_eq!(
            (c.restart_policy.as_str(), c.max_retries),
            ("on-failure", 3)
        );
        let shown = ContainerStatus::from(c);
        assert_eq!(shown.engine_restarts, 2);
        assert!(shown.health_output.is_some());
        let none = &parse_inspect(r#"[{"Id":"x","State":{"Status":"exited","Pid":0},"HostConfig":{"RestartPolicy":{"Name":""}}}]"#).unwrap()[0];
        assert_eq!(
            (
                none.pid,
                none.health.as_deref(),
                none.restart_policy.as_str()
            ),
            (None, None, "no")
        );
        assert!(!none.docker_restarts_it());
        assert!(parse_inspect("not json").is_err());
    }

    #[test]
    fn stats_and_sizes() {
        let line = r#"{"BlockIO":"0B / 0B","CPUPerc":"0.14%","Container":"t1","ID":"232b7c28e76d","MemPerc":"0.01%","MemUsage":"1.668MiB / 23.54GiB","Name":"t1","NetIO":"736B / 0B","PIDs":"2"}"#;
        assert_eq!(parse_stats(line), Some((0.1, 1_749_024)));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("512KiB"), Some(524_288));
        assert_eq!(parse_size("2GB"), Some(2_000_000_000));
        assert_eq!(parse_size("2XB"), None);
        assert_eq!(parse_stats("{}"), None);
    }

    #[test]
    fn timestamps_and_escapes() {
        let (stamp, ms, text) =
            split_timestamp("2026-12-02T17:51:31.504831521Z hello world").unwrap();
        assert_eq!(stamp, "2026-12-02T17:51:31.504831521Z");
        assert_eq!(text, "hello world");
        assert_eq!(ms, 1_796_233_891_504);
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(rfc3339_ms("1970-01-01T01:00:01+01:00"), Some(1000));
        assert!(
            rfc3339_nanos("2026-12-02T17:51:31.50483152Z")
                < rfc3339_nanos("2026-12-02T17:51:31.504831521Z"),
            "trailing zeros are dropped by docker: compared as numbers"
        );
        assert_eq!(
            split_timestamp("\u{1b}[Kweb-1 exited with code 137 (restarting)"),
            None
        );
        assert_eq!(
            strip_ansi("\u{1b}[Kweb-1 exited with code 137 \u{1b}[31m(restarting)\u{1b}[0m"),
            "web-1 exited with code 137 (restarting)"
        );
        assert_eq!(one_line(" a\n  b "), "a b");
    }

    proptest::proptest! {
        #[test]
        fn readers_never_panic(s in "\\PC{0,60}") {
            let _ = split_timestamp(&s);
            let _ = rfc3339_nanos(&s);
            let _ = parse_size(&s);
            let _ = parse_stats(&s);
            let _ = strip_ansi(&s);
            let _ = Failure::of(&s);
            let _ = parse_inspect(&s);
        }
    }
}
