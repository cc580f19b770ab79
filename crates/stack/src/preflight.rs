//! Pre-flight: what would make `up` fail, found before anything starts.
//!
//! | check | severity | next step |
//! |-------|----------|-----------|
//! | a published port is held by a process that is not part of this stack (name and PID) | blocker | stop that program, or give the service another port |
//! | a program a process service runs is not installed | blocker | install it (`greenroom doctor`) or fix `command` |
//! | docker is missing while the stack has compose services | blocker | install Docker |
//! | its engine does not answer (compose services wait for it) | warning | start Docker Desktop / the docker service |
//! | a process service's `venv` has no `bin` (`Scripts`) folder | blocker | re-create it |
//! | a `${VARIABLE}` the stack uses is not set | warning (secret-looking names: blocker) | set it in `.env` or the environment |
//! | a LiveKit token in an env file of the stack has expired | warning | regenerate it (`greenroom fix`, which asks first) |
//!
//! Ports of services that are already running under Greenroom are not checked (they are
//! ours), nor ports held by this process or by a process descended from it or from a
//! service's process; a port range is checked up to its first 16 ports. Variables whose
//! names look secret (`KEY`, `SECRET`, `TOKEN`, `PASSWORD`; unset, they block) or whose
//! values are never shown ([`greenroom_core::hides_value`]: also `DATABASE_URL`, `*_DSN`,
//! `*_PASS*`, `AUTH*`…) are reported as set or not, never with their value; a URL's
//! password is masked in any other value. [`of_stack`] gathers this input from a stack as it is now;
//! [`run`] checks it.

use crate::manifest::{Manifest, PortSpec, Protocol, ServiceKind, ServiceSpec};
use crate::status::{ServiceState, ServiceStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Blocker,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Finding {
    pub severity: Severity,
    pub service: Option<String>,
    pub title: String,
    pub detail: String,
    pub next_step: String,
    /// For a port held by another program: its PID (a repair may offer to stop it, after asking).
    pub holder_pid: Option<u32>,
    /// For an expired LiveKit token: where it is (a repair may regenerate it, after asking).
    pub token: Option<TokenRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TokenRef {
    pub file: String,
    pub line: u32,
    pub variable: String,
}

/// A variable the stack uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VariableCheck {
    pub name: String,
    pub services: Vec<String>,
    pub set: bool,
    pub secret: bool,
    /// The value for ordinary variables; `••••••••` for secrets that are set.
    pub shown: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Preflight {
    pub findings: Vec<Finding>,
    pub variables: Vec<VariableCheck>,
    /// No blocker.
    pub ok: bool,
}

/// Titles of the virtualenv findings; Repair offers to re-create the virtualenv only for
/// [`VENV_MISSING`] and [`VENV_BROKEN`] ([`crate::venv`]).
pub const VENV_MISSING: &str = "its virtualenv is missing";
pub const VENV_BROKEN: &str = "its virtualenv is broken";
pub const VENV_NOT_ONE: &str = "its `venv` folder is not a virtualenv";
pub const VENV_OUTSIDE: &str = "its `venv` path leaves the stack's folder";

/// The variables a stack's services see: this process's environment, then the stack's env
/// files in order (a later file wins).
fn stack_env(manifest: &Manifest, root: &Path) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let process_env = env.clone();
    let outer = |name: &str| process_env.get(name).cloned();
    let mut files: Vec<&String> = manifest.env_files.iter().collect();
    for spec in manifest.services.values() {
        files.extend(spec.env_files.iter());
    }
    for file in files {
        if let Ok(text) = std::fs::read_to_string(root.join(file))
            && let Ok(vars) = crate::dotenv::parse(&text, &outer)
        {
            env.extend(vars);
        }
    }
    env
}

/// The values a stack's logs must never show: of every variable whose value is hidden
/// ([`greenroom_core::hides_value`], [`looks_secret`]) in the stack's environment and in
/// its services' `env`, and the passwords of URLs there.
pub fn secret_values(manifest: &Manifest, root: &Path) -> Vec<String> {
    let mut env = stack_env(manifest, root);
    for spec in manifest.services.values() {
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut values: Vec<String> = Vec::new();
    for (name, value) in &env {
        if value.contains("${") {
            continue; // a reference, not a value
        }
        if greenroom_core::hides_value(name) || looks_secret(name) {
            values.push(value.clone());
        } else if let Some(password) = url_password(value) {
            values.push(password.to_owned());
        }
    }
    values.retain(|v| v.chars().count() >= greenroom_core::secrets::MIN_SECRET_LEN);
    values.sort();
    values.dedup();
    values
}

/// The password in `scheme://user:password@host…`, if there is one.
fn url_password(value: &str) -> Option<&str> {
    let rest = &value[value.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(&userinfo[userinfo.find(':')? + 1..]).filter(|p| !p.is_empty())
}

pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Who listens on `port`, when the OS tells.
pub fn port_holder(port: u16, protocol: Protocol) -> Option<(u32, String)> {
    let p = match protocol {
        Protocol::Tcp => listeners::Protocol::TCP,
        Protocol::Udp => listeners::Protocol::UDP,
    };
    listeners::get_process_by_port(port, p)
        .ok()
        .map(|proc_| (proc_.pid, proc_.name))
}

/// Whether `port` can be bound now on the address the service would use.
pub fn port_free(spec: &PortSpec, port: u16) -> bool {
    let ip = spec
        .host_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .unwrap_or("127.0.0.1");
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    match spec.protocol {
        Protocol::Tcp => std::net::TcpListener::bind((ip, port)).is_ok(),
        Protocol::Udp => std::net::UdpSocket::bind((ip, port)).is_ok(),
    }
}

pub struct PreflightInput<'a> {
    pub manifest: &'a Manifest,
    pub root: &'a Path,
    pub tool_dirs: &'a [PathBuf],
    /// Services already running under Greenroom (their ports are theirs).
    pub running: &'a BTreeSet<String>,
    /// PIDs of this stack's processes (a port they hold is not a conflict).
    pub our_pids: &'a BTreeSet<u32>,
    /// The environment variables are looked up in.
    pub env: &'a BTreeMap<String, String>,
    /// Env files of the stack (checked for expired LiveKit tokens), each with the first
    /// service that reads it.
    pub env_files: &'a [(PathBuf, Option<String>)],
}

/// The program holding a port: its PID and name.
type Holder = (u32, String);

pub async fn run(input: PreflightInput<'_>) -> Preflight {
    let mut findings = Vec::new();
    let enabled: Vec<_> = input
        .manifest
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .collect();

    for (id, spec) in &enabled {
        if input.running.contains(*id) {
            continue;
        }
        for port_spec in &spec.ports {
            // Ranges are checked up to 16 ports (a 100-port UDP range would take long to
            // scan); taken ports of one holder are said once, as a range.
            let mut taken: Vec<(u16, Option<Holder>)> = Vec::new();
            for port in port_spec.ports().take(16) {
                if port_free(port_spec, port) {
                    continue;
                }
                let holder = port_holder(port, port_spec.protocol);
                if holder
                    .as_ref()
                    .is_some_and(|(pid, _)| input.our_pids.contains(pid))
                {
                    continue;
                }
                taken.push((port, holder));
            }
            let proto = if port_spec.protocol == Protocol::Udp {
                "/udp"
            } else {
                ""
            };
            let mut runs: Vec<(u16, u16, Option<Holder>)> = Vec::new();
            for (port, holder) in taken {
                match runs.last_mut() {
                    Some((_, end, h)) if end.checked_add(1) == Some(port) && *h == holder => {
                        *end = port
                    }
                    _ => runs.push((port, port, holder)),
                }
            }
            for (first, last, holder) in runs {
                let (ports, are) = if first == last {
                    (format!("port {first}{proto}"), "is")
                } else {
                    (format!("ports {first}–{last}{proto}"), "are")
                };
                let (detail, next_step) = match &holder {
                    Some((pid, name)) => (
                        format!(
                            "{ports} {are} held by `{name}` (PID {pid}), which this stack did not start"
                        ),
                        format!(
                            "stop `{name}` (PID {pid}) if you do not need it, or give `{id}` another port"
                        ),
                    ),
                    None => (
                        format!(
                            "{ports} {are} in use by another program (the OS does not say which)"
                        ),
                        format!("free {ports}, or give `{id}` another port"),
                    ),
                };
                findings.push(Finding {
                    severity: Severity::Blocker,
                    service: Some((*id).clone()),
                    title: format!("{ports} {} taken", if first == last { "is" } else { "are" }),
                    detail,
                    next_step,
                    holder_pid: holder.map(|h| h.0),
                    token: None,
                });
            }
        }
    }

    // Programs.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut search: Vec<PathBuf> = std::env::split_paths(&path).collect();
    search.extend(input.tool_dirs.iter().cloned());
    let joined = std::env::join_paths(&search).unwrap_or_default();
    for (id, spec) in &enabled {
        if spec.kind != ServiceKind::Process {
            continue;
        }
        let command = spec.command.as_deref().unwrap_or_default();
        if command.contains('$') {
            continue; // resolved at launch, from variables checked below
        }
        let venv_bin = spec.venv.as_ref().map(|v| {
            input
                .root
                .join(v)
                .join(if cfg!(windows) { "Scripts" } else { "bin" })
        });
        let found = if command.contains('/') || command.contains('\\') {
            input.root.join(command).exists()
        } else {
            let mut dirs: Vec<PathBuf> = venv_bin.clone().into_iter().collect();
            dirs.extend(search.iter().cloned());
            let with_venv = std::env::join_paths(&dirs).unwrap_or_else(|_| joined.clone());
            which::which_in(command, Some(with_venv), input.root).is_ok()
        };
        if !found {
            findings.push(Finding {
                severity: Severity::Blocker,
                service: Some((*id).clone()),
                title: format!("`{command}` is not installed"),
                detail: format!(
                    "`{id}` runs `{command}`, which is not on PATH{}",
                    if input.tool_dirs.is_empty() {
                        String::new()
                    } else {
                        " nor in Greenroom's tools folder".into()
                    }
                ),
                next_step:
                    "install it (`greenroom doctor` says how), or fix `command` in the manifest"
                        .into(),
                holder_pid: None,
                token: None,
            });
        }
        if let Some(venv) = &spec.venv {
            match crate::venv::resolve(input.root, venv) {
                Err(why) => findings.push(Finding {
                    severity: Severity::Blocker,
                    service: Some((*id).clone()),
                    title: VENV_OUTSIDE.into(),
                    detail: why,
                    next_step:
                        "write `venv` relative to the stack's folder, such as \"agent/.venv\""
                            .into(),
                    holder_pid: None,
                    token: None,
                }),
                Ok(dir) => {
                    let (title, detail, next_step) = match crate::venv::state(&dir) {
                        crate::venv::VenvState::Healthy => (None, String::new(), String::new()),
                        crate::venv::VenvState::Missing => (
                            Some(VENV_MISSING),
                            format!("{} does not exist", dir.display()),
                            format!("create it: python3 -m venv {}", dir.display()),
                        ),
                        crate::venv::VenvState::Broken => (
                            Some(VENV_BROKEN),
                            format!(
                                "{} has a pyvenv.cfg but no {}",
                                dir.display(),
                                crate::venv::bin_dir(&dir).display()
                            ),
                            "re-create it (Repair sets the old one aside first)".into(),
                        ),
                        crate::venv::VenvState::NotAVirtualenv => (
                            Some(VENV_NOT_ONE),
                            format!(
                                "{} is not a virtualenv (it has no pyvenv.cfg): Greenroom will not replace it",
                                dir.display()
                            ),
                            "point `venv` at the service's virtualenv in the manifest (such as \"agent/.venv\")".into(),
                        ),
                    };
                    if let Some(title) = title {
                        findings.push(Finding {
                            severity: Severity::Blocker,
                            service: Some((*id).clone()),
                            title: title.into(),
                            detail,
                            next_step,
                            holder_pid: None,
                            token: None,
                        });
                    }
                }
            }
        }
    }

    // Docker, for compose services.
    if enabled.iter().any(|(_, s)| s.kind == ServiceKind::Compose) {
        match which::which_in("docker", Some(&joined), input.root) {
            Err(_) => findings.push(Finding {
                severity: Severity::Blocker,
                service: None,
                title: "docker is not installed".into(),
                detail: "this stack has docker compose services".into(),
                next_step: "install Docker (Windows: winget install Docker.DockerDesktop; Debian: docker.io) — `greenroom doctor` says more".into(),
                holder_pid: None,
                token: None,
            }),
            Ok(_) => {
                // Not a blocker: a compose service waits for the engine and starts when it
                // answers (crate::container).
                if let Err(failure) = crate::docker::engine_version().await {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        service: None,
                        title: "the Docker engine does not answer".into(),
                        detail: failure.explain("the compose services"),
                        next_step: "start Docker Desktop (Windows, macOS) or the docker service (`sudo systemctl start docker`)".into(),
                        holder_pid: None,
                        token: None,
                    });
                }
            }
        }
    }

    // Variables.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, spec) in &enabled {
        let texts = spec
            .command
            .iter()
            .chain(spec.args.iter())
            .chain(spec.env.values());
        for text in texts {
            for name in referenced_variables(text) {
                used.entry(name).or_default().insert((*id).clone());
            }
        }
    }
    let mut variables = Vec::new();
    for (name, services) in used {
        let value = input.env.get(&name).filter(|v| !v.is_empty());
        let secret = looks_secret(&name);
        let services: Vec<String> = services.into_iter().collect();
        if value.is_none() {
            findings.push(Finding {
                severity: if secret {
                    Severity::Blocker
                } else {
                    Severity::Warning
                },
                service: services.first().cloned(),
                title: format!("{name} is not set"),
                detail: format!("used by {}", services.join(", ")),
                next_step: format!("set {name} in the stack's .env file or in the environment"),
                holder_pid: None,
                token: None,
            });
        }
        variables.push(VariableCheck {
            shown: match value {
                None => String::new(),
                Some(_) if secret || greenroom_core::hides_value(&name) => "••••••••".into(),
                Some(v) => greenroom_core::mask_url_password(v),
            },
            name,
            services,
            set: value.is_some(),
            secret,
        });
    }
    for (file, service) in input.env_files {
        for expired in crate::tokens::find_expired(std::slice::from_ref(file)) {
            findings.push(Finding {
                severity: Severity::Warning,
                service: service.clone(),
                title: format!("{} has expired", expired.variable),
                detail: format!(
                    "{}:{}: the LiveKit token in {} expired at {}",
                    expired.file.display(),
                    expired.line,
                    expired.variable,
                    crate::report::rfc3339(expired.expired_at * 1000)
                ),
                next_step: format!(
                    "regenerate it with `greenroom fix` (it asks first: it edits {})",
                    expired.file.display()
                ),
                holder_pid: None,
                token: Some(TokenRef {
                    file: expired.file.display().to_string(),
                    line: expired.line as u32,
                    variable: expired.variable,
                }),
            });
        }
    }
    let ok = !findings.iter().any(|f| f.severity == Severity::Blocker);
    Preflight {
        findings,
        variables,
        ok,
    }
}

/// Pre-flight of a stack as it is now: gathers what [`run`] needs — which services run
/// (from `statuses`), the PIDs of their process trees and of this process (a port they
/// hold is no conflict), the environment (the process's, then every env file of the
/// stack and its services, later files winning), and the env files to check for expired
/// tokens (the stack's, each credited to its first enabled service; each service's own;
/// and the compose project's `.env` when there are compose services) — then runs it.
pub async fn of_stack(
    manifest: &Manifest,
    root: &Path,
    tool_dirs: &[PathBuf],
    statuses: &[ServiceStatus],
) -> Preflight {
    let running: BTreeSet<String> = statuses
        .iter()
        .filter(|s| {
            !matches!(
                s.state,
                ServiceState::Stopped
                    | ServiceState::Failed
                    | ServiceState::Disabled
                    | ServiceState::Completed
            )
        })
        .map(|s| s.id.clone())
        .collect();
    let roots: Vec<u32> = statuses
        .iter()
        .filter_map(|s| s.pid)
        .chain([std::process::id()])
        .collect();
    // A read of the whole process table: not on the async runtime's threads.
    let our_pids = tokio::task::spawn_blocking(move || crate::process::descendants(&roots))
        .await
        .unwrap_or_default();
    let env = stack_env(manifest, root);
    let mut env_files: Vec<(PathBuf, Option<String>)> = Vec::new();
    let first_of = |pred: &dyn Fn(&ServiceSpec) -> bool| {
        manifest
            .services
            .iter()
            .find(|(_, s)| s.enabled && pred(s))
            .map(|(id, _)| id.clone())
    };
    for file in &manifest.env_files {
        env_files.push((root.join(file), first_of(&|_| true)));
    }
    for (id, spec) in &manifest.services {
        for file in &spec.env_files {
            env_files.push((root.join(file), Some(id.clone())));
        }
    }
    if manifest
        .services
        .values()
        .any(|s| s.kind == ServiceKind::Compose)
    {
        env_files.push((
            root.join(".env"),
            first_of(&|s| s.kind == ServiceKind::Compose),
        ));
    }
    run(PreflightInput {
        manifest,
        root,
        tool_dirs,
        running: &running,
        our_pids: &our_pids,
        env: &env,
        env_files: &env_files,
    })
    .await
}

/// The names a text refers to with `$NAME` or `${NAME…}` (not `$$`).
pub fn referenced_variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = if bytes.get(i + 1) == Some(&b'{') {
            i + 2
        } else {
            i + 1
        };
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |n| start + n);
        if end > start && text[start..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            names.push(text[start..end].to_owned());
        }
        i = end.max(i + 1);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ServiceSpec;

    #[test]
    fn finds_variable_references() {
        assert_eq!(
            referenced_variables("${A:-x} $B $$C ${_D} $1"),
            vec!["A", "B", "_D"]
        );
        assert!(
            looks_secret("MISTRAL_API_KEY")
                && looks_secret("livekit_secret")
                && !looks_secret("PORT")
        );
    }

    #[tokio::test]
    async fn taken_ports_of_a_range_are_said_once_as_a_range() {
        // Three consecutive free ports, the first two then held by this process.
        let (start, _held) = (20_000u16..60_000)
            .step_by(7)
            .find_map(|p| {
                let a = std::net::TcpListener::bind(("127.0.0.1", p)).ok()?;
                let b = std::net::TcpListener::bind(("127.0.0.1", p + 1)).ok()?;
                std::net::TcpListener::bind(("127.0.0.1", p + 2)).ok()?;
                Some((p, (a, b)))
            })
            .expect("three free ports in a row");
        let mut manifest = Manifest::default();
        manifest.services.insert(
            "media".into(),
            ServiceSpec {
                command: Some("true".into()),
                ports: vec![format!("{start}-{}", start + 2).parse().unwrap()],
                ..Default::default()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let report = run(PreflightInput {
            manifest: &manifest,
            root: dir.path(),
            tool_dirs: &[],
            running: &BTreeSet::new(),
            our_pids: &BTreeSet::new(),
            env: &BTreeMap::new(),
            env_files: &[],
        })
        .await;
        let ports: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.title.contains("taken"))
            .collect();
        assert_eq!(ports.len(), 1, "{ports:?}");
        assert_eq!(
            ports[0].title,
            format!("ports {start}–{} are taken", start + 1)
        );
        assert_eq!(ports[0].holder_pid, Some(std::process::id()));
    }

    #[tokio::test]
    async fn a_port_held_by_another_program_is_a_blocker_naming_it() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let mut manifest = Manifest::default();
        manifest.services.insert(
            "api".into(),
            ServiceSpec {
                command: Some("definitely-not-installed-xyz".into()),
                ports: vec![PortSpec::tcp(port)],
                env: [
                    ("KEY".to_owned(), "${MISSING_API_KEY}".to_owned()),
                    ("MODE".to_owned(), "${MODE}".to_owned()),
                ]
                .into(),
                ..Default::default()
            },
        );
        let env = BTreeMap::from([("MODE".to_owned(), "dev".to_owned())]);
        let dir = tempfile::tempdir().unwrap();
        let report = run(PreflightInput {
            manifest: &manifest,
            root: dir.path(),
            tool_dirs: &[],
            running: &BTreeSet::new(),
            our_pids: &BTreeSet::new(),
            env: &env,
            env_files: &[],
        })
        .await;
        assert!(!report.ok);
        let port_finding = report
            .findings
            .iter()
            .find(|f| f.title.contains(&format!("port {port}")))
            .unwrap();
        assert_eq!(
            port_finding.holder_pid,
            Some(std::process::id()),
            "{port_finding:?}"
        );
        assert!(
            port_finding
                .detail
                .contains(&format!("PID {}", std::process::id())),
            "{}",
            port_finding.detail
        );
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.title.contains("definitely-not-installed-xyz"))
        );
        assert!(report.findings.iter().any(|f| f.title == "MISSING_API_KEY is not set" && f.severity == Severity::Blocker));
        let mode = report.variables.iter().find(|v| v.name == "MODE").unwrap();
        assert_eq!((mode.set, mode.shown.as_str()), (true, "dev"));
        drop(holder);
    }

    /// Issue 13.16: pre-flight printed the values of DATABASE_URL and friends.
    #[tokio::test]
    async fn values_of_secret_looking_variables_are_never_shown() {
        let names = [
            "DATABASE_URL",
            "DB_PASS",
            "SENTRY_DSN",
            "AUTH_HEADER",
            "JWT_SECRET",
            "REDIS_URL",
            "MODE",
        ];
        let mut manifest = Manifest::default();
        manifest.services.insert(
            "api".into(),
            ServiceSpec {
                command: Some("true".into()),
                env: names
                    .iter()
                    .map(|n| ((*n).to_owned(), format!("${{{n}}}")))
                    .collect(),
                ..Default::default()
            },
        );
        let env: BTreeMap<String, String> = [
            ("DATABASE_URL", "postgres://app:hunter2@db/x"),
            ("DB_PASS", "hunter2"),
            ("SENTRY_DSN", "https://abc123@sentry.example/1"),
            ("AUTH_HEADER", "Bearer abcdef"),
            ("JWT_SECRET", "s3cr3t-value"),
            ("REDIS_URL", "redis://:redispass@127.0.0.1:6379"),
            ("MODE", "dev"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let report = run(PreflightInput {
            manifest: &manifest,
            root: dir.path(),
            tool_dirs: &[],
            running: &BTreeSet::new(),
            our_pids: &BTreeSet::new(),
            env: &env,
            env_files: &[],
        })
        .await;
        let shown = serde_json::to_string(&report.variables).unwrap()
            + &serde_json::to_string(&report.findings).unwrap();
        for secret in ["hunter2", "abc123", "abcdef", "s3cr3t", "redispass"] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        let redis = report
            .variables
            .iter()
            .find(|v| v.name == "REDIS_URL")
            .unwrap();
        assert_eq!(redis.shown, "redis://:••••••@127.0.0.1:6379");
        let mode = report.variables.iter().find(|v| v.name == "MODE").unwrap();
        assert_eq!(mode.shown, "dev");
    }
}
