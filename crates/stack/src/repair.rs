//! Diagnosis and repair of unhealthy services.
//!
//! [`diagnose`] looks at a service's status, its spec, the pre-flight findings that name it
//! and the stack's dependency graph, and proposes ranked [`RepairAction`]s (best first).
//! Semantics of the actions:
//!
//! | action | what it does | confirmation |
//! |--------|--------------|--------------|
//! | `restart` | stop (signal, grace, kill) and start again; resets its breaker and restart count | no |
//! | `raise_timeout` | a slow but alive service: doubles its probe timeout (max 30 s) for this session, saying old → new | no |
//! | `recreate_compose` | `docker compose up -d --force-recreate --no-deps SERVICE` (named volumes are kept) | **yes**: what the container wrote outside its volumes (its writable layer) is lost |
//! | `recreate_venv` | only for a missing folder or a virtualenv (`pyvenv.cfg`) inside the stack: the old one renamed aside (`.venv.broken-<time>`), `python -m venv`, then `pip install -r requirements.txt` when there is one | **yes**: the virtualenv's packages are reinstalled |
//! | `free_port` | stops the program holding the port; names it and its PID | **yes**: Greenroom did not start it |
//! | `regenerate_token` | an expired LiveKit token in an env file: mints a new one (same identity, grants, lifetime) with the stack's `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET`, rewrites that line (backup kept), restarts the service | **yes**: it edits your file |
//!
//! Nothing here flushes a cache, removes a volume or deletes data. Every action is appended
//! to `repairs.log` (JSON lines: time, service, action, outcome) beside the stack's state.
//!
//! Running a repair ([`crate::supervisor::Supervisor::repair`], executed here) refuses,
//! with a [`SupervisorError`], an action that [`diagnose`] does not propose for the service
//! now (`InvalidInput`), or one that needs confirmation without it (`InvalidInput`);
//! otherwise it runs the action and returns its outcome, `ok` or not, with a message that
//! says what was done or why it failed. Every action that restarts the service waits for
//! it to be up (or to fail) before it reports.

use crate::manifest::{ProbeCheck, ServiceKind, ServiceSpec};
use crate::preflight::Finding;
use crate::status::{ServiceState, ServiceStatus};
use crate::supervisor::{Supervisor, SupervisorError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RepairKind {
    Restart,
    RaiseTimeout,
    RecreateCompose,
    RecreateVenv,
    FreePort,
    RegenerateToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RepairAction {
    pub kind: RepairKind,
    pub title: String,
    /// What exactly will happen, for the person who confirms.
    pub detail: String,
    /// It may lose data or touch a process Greenroom did not start: ask first.
    pub needs_confirmation: bool,
    /// `free_port`: whose process.
    pub target_pid: Option<u32>,
    /// `raise_timeout`: the new timeout.
    pub new_timeout_ms: Option<u64>,
    /// What exactly the person is shown and approves: a digest of the service, the action,
    /// its detail and its target (PID and that process's start time). A confirmed repair
    /// carries it back; if the diagnosis changed in between (another program now holds
    /// the port), the digest differs and the repair is refused with the new one.
    pub fingerprint: String,
}

/// The [`RepairAction::fingerprint`] of `action` for `service` (FNV-1a, 64 bits, hex).
pub fn fingerprint(service: &str, action: &RepairAction) -> String {
    let target_start = action
        .target_pid
        .and_then(crate::process::start_time)
        .unwrap_or_default();
    let text = format!(
        "{service}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{target_start}\u{0}{:?}",
        action.kind, action.detail, action.target_pid, action.new_timeout_ms
    );
    let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Diagnosis {
    pub service: String,
    pub problem: String,
    pub evidence: Vec<String>,
    /// Services that depend on this one and suffer with it (cascade).
    pub affects: Vec<String>,
    /// Best first.
    pub actions: Vec<RepairAction>,
}

/// Whether the service needs a diagnosis at all.
pub fn is_unwell(status: &ServiceStatus) -> bool {
    matches!(
        status.state,
        ServiceState::Failed | ServiceState::Unhealthy | ServiceState::BackingOff
    ) || (status.state == ServiceState::Completed && !status.ports.is_empty())
}

pub fn diagnose(
    status: &ServiceStatus,
    spec: &ServiceSpec,
    findings: &[Finding],
    dependents: Vec<String>,
    log_tail: &[String],
) -> Diagnosis {
    let mut evidence = Vec::new();
    if let Some(probe) = &status.last_probe {
        evidence.push(format!(
            "last probe: {} ({:.0} ms)",
            probe.detail, probe.latency_ms
        ));
    }
    if let Some(code) = status.last_exit_code {
        evidence.push(format!("last exit code: {code}"));
    }
    evidence.extend(
        log_tail
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|l| format!("log: {l}")),
    );
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.service.as_deref() == Some(status.id.as_str()))
        .collect();
    evidence.extend(mine.iter().map(|f| format!("pre-flight: {}", f.detail)));

    let mut actions = Vec::new();
    for f in mine.iter().filter(|f| f.holder_pid.is_some()) {
        let pid = f.holder_pid.unwrap_or_default();
        actions.push(RepairAction {
            kind: RepairKind::FreePort,
            title: format!("Free the port: stop PID {pid}"),
            detail: format!(
                "{}. Greenroom did not start that program; stopping it may lose its unsaved work.",
                f.detail
            ),
            needs_confirmation: true,
            target_pid: Some(pid),
            new_timeout_ms: None,
            fingerprint: String::new(),
        });
    }
    for f in mine.iter().filter(|f| f.token.is_some()) {
        let token = f.token.as_ref().expect("filtered on token");
        actions.push(RepairAction {
            kind: RepairKind::RegenerateToken,
            title: format!("Regenerate {}", token.variable),
            detail: format!(
                "Mint a new LiveKit token with the same identity, grants and lifetime, signed with LIVEKIT_API_KEY and LIVEKIT_API_SECRET, and write it to {}:{} (the old file is kept as a backup); then restart {}.",
                token.file, token.line, status.id
            ),
            needs_confirmation: true,
            target_pid: None,
            new_timeout_ms: None,
            fingerprint: String::new(),
        });
    }
    let timed_out = status
        .last_probe
        .as_ref()
        .is_some_and(|p| p.detail.starts_with("no answer within"));
    if let (true, Some(probe)) = (timed_out && status.pid.is_some(), &spec.probe) {
        let new = (probe.timeout_ms * 2).min(30_000);
        if new > probe.timeout_ms {
            actions.push(RepairAction {
                kind: RepairKind::RaiseTimeout,
                title: format!("Give its probe more time: {} ms → {new} ms", probe.timeout_ms),
                detail: format!(
                    "{} is alive but answers slower than its probe waits. For this session its probe timeout goes from {} ms to {new} ms; put `timeout_ms = {new}` in its probe to keep it.",
                    status.id, probe.timeout_ms
                ),
                needs_confirmation: false,
                target_pid: None,
                new_timeout_ms: Some(new),
                fingerprint: String::new(),
            });
        }
    }
    let venv_repairable = |f: &&&Finding| {
        f.title == crate::preflight::VENV_MISSING || f.title == crate::preflight::VENV_BROKEN
    };
    if spec.venv.is_some() && mine.iter().any(|f| venv_repairable(&f)) {
        actions.push(RepairAction {
            kind: RepairKind::RecreateVenv,
            title: "Re-create its virtualenv".into(),
            detail: format!(
                "The old folder, if any, is renamed aside ({0}.broken-<time>), then `python3 -m venv {0}` and, if there is a requirements.txt beside it, `pip install -r requirements.txt`. Nothing is deleted.",
                spec.venv.as_deref().unwrap_or_default()
            ),
            needs_confirmation: true,
            target_pid: None,
            new_timeout_ms: None,
            fingerprint: String::new(),
        });
    }
    if spec.kind == ServiceKind::Compose {
        actions.push(RepairAction {
            kind: RepairKind::RecreateCompose,
            title: "Re-create its container".into(),
            detail: format!(
                "`docker compose up -d --force-recreate --no-deps {}`: a fresh container from the same image. Its named volumes are kept, but anything written inside the container itself (outside volumes) is lost.",
                spec.compose_service.as_deref().unwrap_or(&status.id)
            ),
            // The container's writable layer goes with it.
            needs_confirmation: true,
            target_pid: None,
            new_timeout_ms: None,
            fingerprint: String::new(),
        });
    }
    // A running, healthy service whose only problem is an expired token needs no restart
    // of its own (regenerating restarts it); otherwise restarting comes right after the
    // repairs that remove a cause (a taken port, an expired token).
    let healthy = status.state == ServiceState::Running;
    let port_taken = actions.iter().any(|a| a.kind == RepairKind::FreePort);
    if spec.kind != ServiceKind::External && !healthy && !port_taken {
        let causes = actions
            .iter()
            .take_while(|a| matches!(a.kind, RepairKind::FreePort | RepairKind::RegenerateToken))
            .count();
        actions.insert(
            causes,
            RepairAction {
                kind: RepairKind::Restart,
                title: format!("Restart {}", status.id),
                detail: format!(
                    "Stop {} (its stop signal, then a kill after {} s) and start it again, resetting its restart count and circuit breaker. Nothing is deleted.",
                    status.id,
                    spec.stop.grace_ms as f64 / 1000.0
                ),
                needs_confirmation: false,
                target_pid: None,
                new_timeout_ms: None,
                fingerprint: String::new(),
            },
        );
    }
    let expired_token = mine.iter().find_map(|f| f.token.as_ref());
    let problem = match status.state {
        ServiceState::Running if expired_token.is_some() => {
            format!(
                "{}'s LiveKit token {} has expired",
                status.id,
                expired_token.map_or("", |t| t.variable.as_str())
            )
        }
        ServiceState::Unhealthy => format!("{} is running but fails its probe", status.id),
        ServiceState::BackingOff => {
            format!("{} keeps stopping; Greenroom is restarting it", status.id)
        }
        ServiceState::Completed => format!("{} is a server and it exited", status.id),
        _ if matches!(
            spec.probe.as_ref().map(|p| &p.check),
            Some(ProbeCheck::Compose {})
        ) =>
        {
            format!("{} is not healthy according to docker", status.id)
        }
        _ => format!("{} is down: {}", status.id, status.message),
    };
    for action in &mut actions {
        action.fingerprint = fingerprint(&status.id, action);
    }
    Diagnosis {
        service: status.id.clone(),
        problem,
        evidence,
        affects: dependents,
        actions,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RepairOutcome {
    pub service: String,
    pub kind: RepairKind,
    pub ok: bool,
    pub message: String,
}

/// Appends one line to the repair log.
pub fn log_outcome(stack_dir: &std::path::Path, outcome: &RepairOutcome) {
    use std::io::Write;
    let line = serde_json::json!({
        "at_ms": crate::logs::now_ms(),
        "service": outcome.service,
        "action": outcome.kind,
        "ok": outcome.ok,
        "message": outcome.message,
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stack_dir.join("repairs.log"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Runs one proposed repair of `id` (the body of [`Supervisor::repair`], which has
/// checked that `id` exists): it must be among the actions [`diagnose`] proposes now, and
/// confirmed when it needs to be, with the [`RepairAction::fingerprint`] of what the
/// person saw (`approved`), which must still be what would be done. The outcome — done or failed, with why — is appended to
/// `repairs.log` and returned; only a refusal (not proposed, not confirmed) is an error.
pub(crate) async fn execute(
    supervisor: &Supervisor,
    id: &str,
    kind: RepairKind,
    confirmed: bool,
    approved: Option<&str>,
) -> Result<RepairOutcome, SupervisorError> {
    let diagnoses = supervisor.diagnoses().await;
    let action = diagnoses
        .iter()
        .find(|d| d.service == id)
        .and_then(|d| d.actions.iter().find(|a| a.kind == kind))
        .cloned()
        .ok_or_else(|| SupervisorError::NotProposed {
            id: id.to_owned(),
            kind,
        })?;
    if action.needs_confirmation && !confirmed {
        return Err(SupervisorError::NeedsConfirmation {
            id: id.to_owned(),
            detail: action.detail,
        });
    }
    // A confirmation approves what was shown, not whatever holds the port now.
    if action.needs_confirmation && approved != Some(action.fingerprint.as_str()) {
        return Err(SupervisorError::Changed {
            id: id.to_owned(),
            detail: action.detail,
        });
    }
    let spec = &supervisor.manifest().services[id];
    let result: Result<String, String> = match kind {
        RepairKind::Restart => supervisor
            .restart(id)
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.ok {
                    Ok("restarted; it is up".into())
                } else {
                    Err(r.error.unwrap_or_default())
                }
            }),
        RepairKind::RaiseTimeout => {
            let ms = action.new_timeout_ms.unwrap_or(1000);
            let _ = supervisor.set_probe_timeout(id, ms).await;
            supervisor
                .restart(id)
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    if r.ok {
                        Ok(format!("probe timeout raised to {ms} ms; it is up"))
                    } else {
                        Err(r.error.unwrap_or_default())
                    }
                })
        }
        RepairKind::RecreateCompose => {
            let (base, service) =
                crate::child::compose_invocation(spec, supervisor.root(), supervisor.name(), id);
            let mut c = crate::docker::command();
            c.args(&base)
                .args(["up", "-d", "--force-recreate", "--no-deps", &service]);
            // Pulling nothing, it takes seconds; a wedged engine must not hold the repair.
            match tokio::time::timeout(Duration::from_secs(600), c.output())
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::other(
                        "docker compose did not finish within 10 minutes",
                    ))
                }) {
                Ok(out) if out.status.success() => supervisor
                    .restart(id)
                    .await
                    .map_err(|e| e.to_string())
                    .map(|_| "container re-created".into()),
                Ok(out) => Err(String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("docker compose failed")
                    .to_owned()),
                Err(e) => Err(format!("cannot run docker compose: {e}")),
            }
        }
        RepairKind::RecreateVenv => recreate_venv(supervisor, id).await,
        RepairKind::RegenerateToken => regenerate_token(supervisor, id).await,
        RepairKind::FreePort => match action.target_pid {
            Some(pid) => match crate::process::stop_foreign(pid, Duration::from_secs(5)).await {
                Ok(()) => supervisor
                    .start(id)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        if r.ok {
                            Ok(format!("stopped PID {pid}; {id} is up"))
                        } else {
                            Err(r.error.unwrap_or_default())
                        }
                    }),
                Err(e) => Err(e.to_string()),
            },
            None => Err("no process to stop".into()),
        },
    };
    let outcome = RepairOutcome {
        service: id.to_owned(),
        kind,
        ok: result.is_ok(),
        message: result.unwrap_or_else(|e| e),
    };
    log_outcome(&supervisor.dir(), &outcome);
    Ok(outcome)
}

async fn regenerate_token(supervisor: &Supervisor, id: &str) -> Result<String, String> {
    let pre = supervisor.preflight().await;
    let token = pre
        .findings
        .iter()
        .filter(|f| f.service.as_deref() == Some(id))
        .find_map(|f| f.token.clone())
        .ok_or("no expired token any more")?;
    // The key and secret the stack uses: the process environment, then the env file.
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    if let Ok(text) = std::fs::read_to_string(&token.file)
        && let Ok(vars) = crate::dotenv::parse(&text, &|n: &str| std::env::var(n).ok())
    {
        for (k, v) in vars {
            env.entry(k).or_insert(v);
        }
    }
    let key = env
        .get("LIVEKIT_API_KEY")
        .filter(|v| !v.is_empty())
        .ok_or("LIVEKIT_API_KEY is not set: Greenroom needs it to sign the new token")?;
    let secret = env
        .get("LIVEKIT_API_SECRET")
        .filter(|v| !v.is_empty())
        .ok_or("LIVEKIT_API_SECRET is not set: Greenroom needs it to sign the new token")?;
    let expired = crate::tokens::ExpiredToken {
        file: PathBuf::from(&token.file),
        line: token.line as usize,
        variable: token.variable.clone(),
        expired_at: 0,
    };
    let message = crate::tokens::regenerate(&expired, key, secret)?;
    let restarted = supervisor.restart(id).await.map_err(|e| e.to_string())?;
    if restarted.ok {
        Ok(format!("{message}; {id} restarted"))
    } else {
        Err(format!(
            "{message}, but {id} did not come back: {}",
            restarted.error.unwrap_or_default()
        ))
    }
}

async fn recreate_venv(supervisor: &Supervisor, id: &str) -> Result<String, String> {
    let spec = &supervisor.manifest().services[id];
    let venv = crate::venv::resolve(
        supervisor.root(),
        spec.venv.as_deref().ok_or("it has no virtualenv")?,
    )?;
    // Only a missing folder or a virtualenv is replaced, and never cleared (crate::venv).
    let aside = match crate::venv::state(&venv) {
        crate::venv::VenvState::Missing => None,
        crate::venv::VenvState::Broken | crate::venv::VenvState::Healthy => {
            Some(crate::venv::set_aside(&venv).map_err(|e| {
                format!(
                    "cannot rename {} aside: {e}; nothing was changed",
                    venv.display()
                )
            })?)
        }
        crate::venv::VenvState::NotAVirtualenv => {
            return Err(format!(
                "{} is not a virtualenv (no pyvenv.cfg); Greenroom will not replace it. Fix `venv` in the manifest",
                venv.display()
            ));
        }
    };
    let python = if cfg!(windows) { "python" } else { "python3" };
    let mut venv_command = tokio::process::Command::new(python);
    greenroom_core::console::no_console_window(venv_command.as_std_mut());
    let out = venv_command
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .await
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python} -m venv failed: {}{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            aside
                .as_ref()
                .map(|a| format!("; the old one is kept at {}", a.display()))
                .unwrap_or_default()
        ));
    }
    let requirements = venv
        .parent()
        .map(|p| p.join("requirements.txt"))
        .filter(|r| r.is_file());
    if let Some(req) = &requirements {
        let pip = venv.join(if cfg!(windows) {
            "Scripts/pip.exe"
        } else {
            "bin/pip"
        });
        let mut pip_command = tokio::process::Command::new(pip);
        greenroom_core::console::no_console_window(pip_command.as_std_mut());
        let out = pip_command
            .arg("install")
            .arg("-r")
            .arg(req)
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "pip install -r {} failed: {}",
                req.display(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
    }
    let r = supervisor.restart(id).await.map_err(|e| e.to_string())?;
    if r.ok {
        Ok(format!(
            "virtualenv re-created{}; it is up{}",
            if requirements.is_some() {
                " and requirements installed"
            } else {
                ""
            },
            aside
                .map(|a| format!(" (the old one is kept at {})", a.display()))
                .unwrap_or_default()
        ))
    } else {
        Err(r.error.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ProbeSpec, ServiceSpec};
    use crate::probe::ProbeSample;
    use crate::status::ServiceStatus;

    fn status(state: ServiceState, probe_detail: &str) -> ServiceStatus {
        ServiceStatus {
            id: "api".into(),
            kind: ServiceKind::Process,
            state,
            critical: true,
            group: crate::manifest::Group::Principal,
            pid: Some(42),
            ports: vec!["8000".into()],
            restarts: 0,
            started_at_ms: None,
            ready_after_ms: None,
            last_exit_code: None,
            last_probe: Some(ProbeSample {
                ok: false,
                latency_ms: 1000.0,
                at_ms: 0,
                detail: probe_detail.into(),
            }),
            latencies_ms: vec![],
            breaker: crate::breaker::BreakerState::Closed,
            message: "unhealthy".into(),
            attached: false,
            cpu_percent: None,
            container: None,
            memory_bytes: None,
        }
    }

    fn spec() -> ServiceSpec {
        ServiceSpec {
            command: Some("x".into()),
            probe: Some(ProbeSpec::new(ProbeCheck::Tcp {
                port: 8000,
                host: "127.0.0.1".into(),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn slow_but_alive_gets_a_longer_timeout_with_old_and_new_values() {
        let d = diagnose(
            &status(ServiceState::Unhealthy, "no answer within 1000 ms"),
            &spec(),
            &[],
            vec!["web".into()],
            &[],
        );
        assert_eq!(d.actions[0].kind, RepairKind::Restart);
        let raise = d
            .actions
            .iter()
            .find(|a| a.kind == RepairKind::RaiseTimeout)
            .unwrap();
        assert!(raise.title.contains("1000 ms → 2000 ms"), "{}", raise.title);
        assert_eq!(raise.new_timeout_ms, Some(2000));
        assert_eq!(d.affects, vec!["web"]);
        assert!(d.actions.iter().all(|a| !a.needs_confirmation));
    }

    /// Issue 13.7: re-creating a container discards its writable layer, so it asks first.
    #[test]
    fn recreating_a_container_asks_and_says_what_is_lost() {
        let compose = ServiceSpec {
            kind: ServiceKind::Compose,
            compose_service: Some("redis".into()),
            ..spec()
        };
        let d = diagnose(
            &status(ServiceState::Unhealthy, "no answer"),
            &compose,
            &[],
            vec![],
            &[],
        );
        let recreate = d
            .actions
            .iter()
            .find(|a| a.kind == RepairKind::RecreateCompose)
            .unwrap();
        assert!(recreate.needs_confirmation);
        assert!(recreate.detail.contains("lost"), "{}", recreate.detail);
        let restart = d
            .actions
            .iter()
            .find(|a| a.kind == RepairKind::Restart)
            .unwrap();
        assert!(!restart.needs_confirmation, "a restart loses nothing");
    }

    #[test]
    fn freeing_a_port_asks_names_the_process_and_is_the_only_way() {
        let finding = Finding {
            severity: crate::preflight::Severity::Blocker,
            service: Some("api".into()),
            title: "port 8000 is taken".into(),
            detail: "port 8000 is held by `nginx` (PID 777), which this stack did not start".into(),
            next_step: String::new(),
            holder_pid: Some(777),
            token: None,
        };
        let d = diagnose(
            &status(ServiceState::Failed, "connection refused"),
            &spec(),
            &[finding],
            vec![],
            &[],
        );
        assert_eq!(d.actions[0].kind, RepairKind::FreePort);
        assert!(d.actions[0].needs_confirmation);
        assert!(d.actions[0].detail.contains("nginx") && d.actions[0].detail.contains("777"));
        assert!(
            d.actions.iter().all(|a| a.kind != RepairKind::Restart),
            "restarting cannot help while another program holds its port"
        );
    }
}
