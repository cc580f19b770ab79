//! `greenroom up | down | restart | status | preflight | check | monitor | logs | fix |
//! report | import compose`. The verbs that change or read the running stack go to its
//! [`Target`]: the Greenroom that supervises it when there is one, else this process.

use crate::target::Target;
use crate::{api_failure, print_json};
use clap::Subcommand;
use greenroom_api::{Api, ApiError, Request, ServiceState, StackView, UpReport, UpResult};
use greenroom_stack::probe;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub fn print_up_result(r: &UpResult) {
    if r.ok {
        let after = r
            .ready_after_ms
            .map(|ms| format!("ready in {ms:.0} ms"))
            .unwrap_or_else(|| "already running".into());
        println!("  ✔ {:<20} {after}", r.id);
    } else {
        println!(
            "  ✘ {:<20} {}",
            r.id,
            r.error.as_deref().unwrap_or("failed")
        );
    }
    let _ = std::io::stdout().flush();
}

pub fn print_up_report(report: &UpReport, view: &StackView) {
    println!();
    print_table(view);
    for failed in report.services.iter().filter(|r| !r.ok) {
        if !failed.log_tail.is_empty() {
            println!("\nlast lines of {}:", failed.id);
            for line in &failed.log_tail {
                println!("  | {line}");
            }
        }
    }
    println!(
        "\n{} in {:.1} s — {}",
        if report.ok {
            "stack up"
        } else {
            "stack NOT fully up"
        },
        report.total_ms / 1000.0,
        view.source.description
    );
}

pub fn print_table(view: &StackView) {
    println!(
        "{:<20} {:<12} {:>8}  {:<28} STATUS",
        "SERVICE", "STATE", "PID", "PORTS"
    );

    for s in &view.status.services {
        let pid = s.pid.or(s.container.as_ref().and_then(|c| c.pid));
        println!(
            "{:<20} {:<12} {:>8}  {:<28} {}",
            s.id,
            state_name(s.state),
            pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            truncate(&s.ports.join(", "), 28),
            s.message
        );
        if let Some(c) = &s.container {
            println!("{:<20} {}", "", container_line(c, s));
        }
    }
    if view.status.summary.started {
        println!(
            "health score {:.0} / 100, architecture {:?}",
            view.status.summary.score, view.status.summary.architecture
        );
    } else {
        println!("not started: `greenroom up` launches it");
    }
    for other in &view.also_running {
        let services: Vec<String> = other
            .running
            .iter()
            .map(|s| match s.pid {
                Some(pid) => format!("{} (PID {pid})", s.id),
                None => s.id.clone(),
            })
            .collect();
        println!(
            "also running: {}; {} [key {}]",
            other.description,
            services.join(", "),
            other.key
        );
    }
}

/// A compose service's container on one line: id, image, docker's state and health,
/// docker's restarts, CPU and memory.
fn container_line(c: &greenroom_api::ContainerStatus, s: &greenroom_api::ServiceStatus) -> String {
    let mut parts = vec![format!(
        "container {} ({}), docker: {}",
        c.id, c.image, c.state
    )];
    if let Some(h) = &c.health {
        parts.push(match &c.health_output {
            Some(out) => format!("{h} (last check: {out})"),
            None => h.clone(),
        });
    }
    if c.engine_restarts > 0 {
        parts.push(format!("restarted by docker {} time(s)", c.engine_restarts));
    }
    if let (Some(cpu), Some(memory)) = (s.cpu_percent, s.memory_bytes) {
        parts.push(format!(
            "CPU {cpu:.1} %, {:.1} MiB",
            memory as f64 / 1_048_576.0
        ));
    }
    parts.join(", ")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub fn state_name(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Stopped => "stopped",
        ServiceState::Starting => "starting",
        ServiceState::Running => "running",
        ServiceState::Unhealthy => "unhealthy",
        ServiceState::BackingOff => "backing-off",
        ServiceState::Stopping => "stopping",
        ServiceState::Completed => "completed",
        ServiceState::Failed => "failed",
        ServiceState::Disabled => "disabled",
    }
}

/// One probe of every enabled service, now: `check` and each `monitor` round.
pub struct CheckRow {
    pub id: String,
    pub ok: bool,
    pub latency_ms: f64,
    pub detail: String,
    pub critical: bool,
    pub fallback: bool,
}

pub async fn check_once(api: &Api) -> Result<(StackView, Vec<CheckRow>), ApiError> {
    // The supervising process's view, when another one supervises.
    let view: StackView = serde_json::from_value(api.dispatch(Request::StackStatus {}).await?)
        .map_err(|e| ApiError::internal(format!("an unexpected status answer: {e}")))?;
    let (manifest, root) = api.stack_definition().await?;
    let services = &view.status.services;
    let futures = manifest
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(id, spec)| {
            let root = root.clone();
            async move {
                let running = services.iter().find(|s| &s.id == id);
                let (ok, latency_ms, detail) = match &spec.probe {
                    Some(p) => {
                        let ctx = probe::ProbeContext {
                            log_matched: running.is_some_and(|s| s.state.is_healthy()),
                            compose: (spec.kind == greenroom_stack::manifest::ServiceKind::Compose)
                                .then(|| {
                                    (
                                        spec.compose_files.iter().map(|f| root.join(f)).collect(),
                                        spec.compose_project.clone().unwrap_or_default(),
                                        spec.compose_service.clone().unwrap_or_else(|| id.clone()),
                                    )
                                }),
                            cwd: Some(root.clone()),
                        };
                        let s =
                            probe::run(&p.check, Duration::from_millis(p.timeout_ms), &ctx).await;
                        (s.ok, s.latency_ms, s.detail)
                    }
                    None => {
                        let up = running.is_some_and(|s| s.pid.is_some());
                        (
                            up,
                            0.0,
                            if up {
                                "running (no probe)".into()
                            } else {
                                "not running (no probe)".into()
                            },
                        )
                    }
                };
                CheckRow {
                    id: id.clone(),
                    ok,
                    latency_ms,
                    detail,
                    critical: spec.critical,
                    fallback: spec.group == greenroom_stack::manifest::Group::Fallback,
                }
            }
        });
    let rows = futures_util::future::join_all(futures).await;
    Ok((view, rows))
}

pub fn score_of(rows: &[CheckRow]) -> (f64, greenroom_stack::health::Architecture) {
    let members: Vec<_> = rows
        .iter()
        .map(|r| greenroom_stack::health::Member {
            critical: r.critical,
            fallback: r.fallback,
            healthy: r.ok,
        })
        .collect();
    (
        greenroom_stack::health::score(&members),
        greenroom_stack::health::architecture(&members),
    )
}

/// What to do about each failing service, most useful first.
pub fn recommendations(view: &StackView, rows: &[CheckRow]) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| !r.ok) {
        let status = view.status.services.iter().find(|s| s.id == row.id);
        let advice = match status.map(|s| s.state) {
            Some(ServiceState::Running) | Some(ServiceState::Unhealthy) => {
                format!(
                    "restart {} (running but failing its probe): greenroom restart {}",
                    row.id, row.id
                )
            }
            Some(ServiceState::Failed) => format!(
                "look at its log, then start it again: greenroom logs {}",
                row.id
            ),
            _ => format!("start it: greenroom up --only {}", row.id),
        };
        out.push(advice);
    }
    out
}

pub async fn check(api: &Api, json: bool) -> ExitCode {
    let (view, rows) = match check_once(api).await {
        Ok(x) => x,
        Err(e) => return crate::api_failure(&e),
    };
    let (score, architecture) = score_of(&rows);
    let recs = recommendations(&view, &rows);
    if json {
        let value = serde_json::json!({
            "stack": view.status.name,
            "services": rows.iter().map(|r| serde_json::json!({
                "id": r.id, "healthy": r.ok, "response_time_ms": r.latency_ms, "detail": r.detail, "critical": r.critical,
            })).collect::<Vec<_>>(),
            "global_health_score": score,
            "architecture": architecture,
            "recommendations": recs,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        for r in &rows {
            let mark = if r.ok { "✔" } else { "✘" };
            let time = if r.latency_ms > 0.0 {
                format!("({:.0} ms)", r.latency_ms)
            } else {
                String::new()
            };
            println!("{mark} {:<20} {:<10} {}", r.id, time, r.detail);
        }
        println!("\nglobal health score: {score:.0} / 100 ({architecture:?})");
        if recs.is_empty() {
            println!("nothing to do");
        } else {
            println!("{} recommended action(s):", recs.len());
            for r in recs {
                println!("  - {r}");
            }
        }
    }
    if rows.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub async fn monitor(api: &Api, interval: f64, count: Option<u64>) -> ExitCode {
    let mut round = 0u64;
    let stop = crate::interrupted();
    tokio::pin!(stop);
    loop {
        match check_once(api).await {
            Ok((_, rows)) => {
                let (score, _) = score_of(&rows);
                let healthy = rows.iter().filter(|r| r.ok).count();
                let mark = if healthy == rows.len() { "✔" } else { "!" };
                println!(
                    "[{}] {mark} score {score:.0} | services {healthy}/{}",
                    clock(),
                    rows.len()
                );
                for r in rows.iter().filter(|r| !r.ok) {
                    println!("  └─ {}: {}", r.id, r.detail);
                }
            }
            Err(e) => println!("[{}] ✘ {}", clock(), e.message),
        }
        let _ = std::io::stdout().flush();
        round += 1;
        if count.is_some_and(|c| round >= c) {
            return ExitCode::SUCCESS;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(interval.max(0.1))) => {}
            _ = &mut stop => return ExitCode::SUCCESS,
        }
    }
}

fn clock() -> String {
    format!("{} UTC", greenroom_core::clock::utc_time_of_day())
}

pub async fn logs(
    api: &Api,
    service: Option<String>,
    follow: bool,
    grep: Option<String>,
    lines: usize,
) -> ExitCode {
    let pattern = match grep.as_deref().map(regex::Regex::new).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: --grep is not a valid regular expression: {e}");
            return ExitCode::from(2);
        }
    };
    // The log files are read as they are, whoever supervises the stack.
    let (manifest, book) = match api.stack_log_reader().await {
        Ok(read) => read,
        Err(e) => return crate::api_failure(&e),
    };
    let services: Vec<String> = match &service {
        Some(s) if manifest.services.contains_key(s) => vec![s.clone()],
        Some(s) => {
            eprintln!(
                "error: no service `{s}`; the stack has: {}",
                manifest
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return ExitCode::from(2);
        }
        None => manifest.services.keys().cloned().collect(),
    };
    let book = &book;
    let show = |svc: &str, line: &str| {
        if pattern.as_ref().is_none_or(|p| p.is_match(line)) {
            if services.len() > 1 {
                println!("{svc:>16} | {line}");
            } else {
                println!("{line}");
            }
        }
    };
    for svc in &services {
        for line in book.tail_file(svc, lines) {
            show(svc, &line);
        }
        book.follow_from_end(svc);
    }
    if !follow {
        return ExitCode::SUCCESS;
    }
    let stop = crate::interrupted();
    tokio::pin!(stop);
    loop {
        for svc in &services {
            for line in book.poll(svc) {
                show(svc, &line.text);
            }
        }
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut stop => return ExitCode::SUCCESS,
        }
    }
}

pub fn import_compose(
    files: Vec<PathBuf>,
    profiles: Vec<String>,
    output: Option<PathBuf>,
) -> ExitCode {
    let imported =
        match greenroom_stack::compose::import(&greenroom_stack::compose::ComposeOptions {
            files: files.clone(),
            profiles,
            env: std::env::vars().collect(),
            missing_env_files_are_notes: false,
        }) {
            Ok(i) => i,
            Err(errors) => {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                eprintln!("{} problem(s); nothing was written", errors.len());
                return ExitCode::from(2);
            }
        };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let text = match greenroom_stack::compose::to_toml(&imported, &files) {
        Ok(t) => t,
        Err(e) => return crate::fail(&e.to_string()),
    };
    match output {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some(path) => match greenroom_api::write_file_atomically(&path, text.as_bytes()) {
            Ok(()) => {
                eprintln!(
                    "wrote {} ({} services)",
                    path.display(),
                    imported.manifest.services.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => crate::fail(&format!("cannot write {}: {e}", path.display())),
        },
    }
}

pub fn print_preflight(report: &greenroom_stack::preflight::Preflight) {
    use greenroom_stack::preflight::Severity;
    if report.findings.is_empty() {
        println!("pre-flight: nothing in the way");
    }
    for f in &report.findings {
        let mark = match f.severity {
            Severity::Blocker => "✘ blocker",
            Severity::Warning => "! warning",
        };
        let who = f
            .service
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        println!("{mark}{who}: {} — {}", f.title, f.detail);
        println!("           next: {}", f.next_step);
    }
    let secrets: Vec<String> = report
        .variables
        .iter()
        .filter(|v| v.secret)
        .map(|v| {
            format!(
                "{} {}",
                v.name,
                if v.set { "set (hidden)" } else { "NOT SET" }
            )
        })
        .collect();
    if !secrets.is_empty() {
        println!("secrets: {}", secrets.join(", "));
    }
}

/// `greenroom fix`: for each unwell service, say what is wrong and run the best repair;
/// a repair that needs confirmation is asked for (or taken with --yes), and declined ones
/// fall back to the next repair that needs none.
pub async fn fix(api: Arc<Api>, yes: bool) -> ExitCode {
    let target = match Target::for_stack(api).await {
        Ok(t) => t,
        Err(e) => return crate::api_failure(&e),
    };
    let diagnoses: Vec<greenroom_stack::repair::Diagnosis> = target
        .call(Request::StackDiagnose {})
        .await
        .unwrap_or_default();
    if diagnoses.is_empty() {
        println!("nothing to repair: every service is healthy or stopped on purpose");
        return ExitCode::SUCCESS;
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut all_ok = true;
    for d in &diagnoses {
        println!("\n✘ {}", d.problem);
        for e in &d.evidence {
            println!("    {e}");
        }
        if !d.affects.is_empty() {
            println!("    affects: {}", d.affects.join(", "));
        }
        let mut done = false;
        for action in &d.actions {
            if action.needs_confirmation {
                let confirmed = yes
                    || (interactive
                        && ask(&format!(
                            "  {}\n  {}\n  Do it? [y/N] ",
                            action.title, action.detail
                        )));
                if !confirmed {
                    println!(
                        "  skipped (needs confirmation): {} — rerun with --yes to allow it",
                        action.title
                    );
                    continue;
                }
            }
            println!("  → {}", action.title);
            let outcome: Result<greenroom_stack::repair::RepairOutcome, ApiError> = target
                .call(Request::StackRepair {
                    id: d.service.clone(),
                    kind: action.kind,
                    confirmed: true,
                    fingerprint: Some(action.fingerprint.clone()),
                })
                .await;
            match outcome {
                Ok(o) if o.ok => {
                    println!("  ✔ {}", o.message);
                    done = true;
                    break;
                }
                Ok(o) => println!("  ✘ {}", o.message),
                Err(e) => println!("  ✘ {}", e.message),
            }
        }
        all_ok &= done;
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ask(question: &str) -> bool {
    print!("{question}");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// From docker compose files (base first, overlays after), read as docker compose does
    Compose {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Profiles to activate
        #[arg(long)]
        profile: Vec<String>,
        /// Where to write the manifest [default: standard output]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Prints each service's state changes as lines, while `up` supervises.
#[derive(Default)]
pub struct StateLines {
    last: std::sync::Mutex<std::collections::HashMap<String, greenroom_api::ServiceState>>,
}

impl greenroom_api::EventSink<greenroom_api::EventEnvelope> for StateLines {
    fn emit(&self, envelope: greenroom_api::EventEnvelope) {
        if let greenroom_api::ApiEvent::StackService { status } = envelope.event {
            let mut last = greenroom_core::lock_unpoisoned(&self.last);
            if last.insert(status.id.clone(), status.state) != Some(status.state) {
                println!(
                    "  · {:<20} {:<12} {}",
                    status.id,
                    state_name(status.state),
                    status.message
                );
            }
        }
    }
}

/// `up`: starts the stack and supervises it until Ctrl+C or `down`. When a service fails
/// to come up, what was started is stopped, unless `background` (the supervisor that
/// `up --detach` starts), which goes on supervising, as `docker compose up -d` leaves
/// containers running.
pub async fn up(api: Arc<Api>, only: Vec<String>, force: bool, background: bool) -> ExitCode {
    let target = match Target::for_stack(api.clone()).await {
        Ok(t) => t,
        Err(e) => return api_failure(&e),
    };
    if let Some(remote) = target.remote() {
        println!(
            "the stack is already supervised by another Greenroom (PID {}); asking it to start what is not running",
            remote.pid
        );
        return match target
            .call::<greenroom_api::UpReport>(Request::StackUp { only })
            .await
        {
            Ok(report) => {
                report.services.iter().for_each(print_up_result);
                if report.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => api_failure(&e),
        };
    }
    // While this command supervises, other `greenroom` commands drive it through a
    // loopback control endpoint (see greenroom_api::control).
    if let Err(e) = greenroom_server::start_control_endpoint(api.clone()).await {
        eprintln!(
            "warning: no control endpoint ({e}); other greenroom commands will act on their own"
        );
    }
    match api.stack_preflight().await {
        Err(e) => return api_failure(&e),
        Ok(pre) if !pre.findings.is_empty() => {
            print_preflight(&pre);
            if !pre.ok && !force {
                eprintln!(
                    "\nnothing was started: fix the blockers above, or run `greenroom up --force`"
                );
                return ExitCode::from(2);
            }
        }
        Ok(_) => {}
    }
    println!("starting the stack…");
    let report = match api.stack_up_with(&only, print_up_result).await {
        Ok(r) => r,
        Err(e) => return api_failure(&e),
    };
    let view = match api.stack_status().await {
        Ok(v) => v,
        Err(e) => return api_failure(&e),
    };
    print_up_report(&report, &view);
    if !report.ok && background {
        println!("not every service came up; supervising what runs (`greenroom down` stops it)");
    } else if !report.ok {
        println!("stopping what was started…");
        let _ = api.stack_down().await;
        return ExitCode::FAILURE;
    }
    println!("\nsupervising: restarts, health and logs are watched. Ctrl+C stops the stack.");
    let stop = crate::interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {
                // Nothing left to supervise (stopped by `down`, or done or given up on):
                // a service that failed before `down` must not keep this process alive.
                let all_stopped = api.stack_status().await.is_ok_and(|v| {
                    v.status.services.iter().all(|s| matches!(s.state, ServiceState::Stopped | ServiceState::Disabled | ServiceState::Failed | ServiceState::Completed))
                        && v.status.services.iter().any(|s| s.state == ServiceState::Stopped)
                });
                if all_stopped {
                    println!("\nthe stack was stopped (greenroom down); done");
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
    println!("\nstopping the stack…");
    match api.stack_down().await {
        Ok(stopped) => {
            println!(
                "stopped {}",
                if stopped.is_empty() {
                    "nothing".into()
                } else {
                    stopped.join(", ")
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => api_failure(&e),
    }
}

/// `up --detach [--wait]`: what to start, and how long to wait.
pub struct Detach {
    pub home: PathBuf,
    pub stack: Option<PathBuf>,
    pub only: Vec<String>,
    pub force: bool,
    pub wait: bool,
    pub wait_timeout: Duration,
}

/// `up --detach`: starts `greenroom up` as a background process of its own (its output in
/// `supervisor.log` beside the stack's state), returns once it serves its control
/// endpoint, and with `--wait` once every enabled service is ready. Exit codes: 0 ready (or
/// started, without `--wait`); 1 the supervisor failed, or a service failed or was not
/// ready in time (said, with the supervisor's last lines).
pub async fn up_detached(api: Arc<Api>, detach: Detach) -> ExitCode {
    if let Ok(Some(remote)) = api.remote_supervisor().await {
        println!(
            "the stack is already supervised by Greenroom PID {} ({}); `greenroom down` stops it",
            remote.pid, remote.url
        );
        return if detach.wait {
            wait_until_ready(&Target::Remote(remote, api), detach.wait_timeout, None).await
        } else {
            ExitCode::SUCCESS
        };
    }
    let dir = match api.stack_dir().await {
        Ok(d) => d,
        Err(e) => return api_failure(&e),
    };
    let log_path = dir.join("supervisor.log");
    let log = match std::fs::create_dir_all(&dir).and_then(|_| std::fs::File::create(&log_path)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", log_path.display());
            return ExitCode::FAILURE;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this program to start it in the background: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = std::process::Command::new(exe);
    command.arg("--home").arg(&detach.home);
    if let Some(stack) = &detach.stack {
        command
            .arg("--stack")
            .arg(std::path::absolute(stack).unwrap_or_else(|_| stack.clone()));
    }
    command.arg("up").arg("--background");
    if !detach.only.is_empty() {
        command.arg("--only").arg(detach.only.join(","));
    }
    if detach.force {
        command.arg("--force");
    }
    let err = match log.try_clone() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", log_path.display());
            return ExitCode::FAILURE;
        }
    };
    command
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err);
    // Its own process group (session-less on Windows): the terminal's Ctrl+C and closing
    // it do not reach the supervisor.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    #[cfg(windows)]
    {
        // No console at all, so no console event of the terminal reaches it. Not a new
        // process group: that would make it, and every service it starts, ignore CTRL_C,
        // which is how services are stopped (greenroom_stack::process).
        use std::os::windows::process::CommandExt;
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        command.creation_flags(DETACHED_PROCESS);
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start the background supervisor: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "starting the stack in the background (supervisor PID {}, its output in {})…",
        child.id(),
        log_path.display()
    );
    // Until it serves its control endpoint, or ends.
    let started = std::time::Instant::now();
    let remote = loop {
        if let Ok(Some(remote)) = api.remote_supervisor().await
            && remote.pid == child.id()
        {
            break remote;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("error: the background supervisor ended ({status}) before it served:");
            print_tail(&log_path);
            return ExitCode::FAILURE;
        }
        if started.elapsed() > detach.wait_timeout {
            eprintln!(
                "error: the background supervisor did not answer within {} s; its output:",
                detach.wait_timeout.as_secs()
            );
            print_tail(&log_path);
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if !detach.wait {
        println!(
            "supervised in the background by PID {}: `greenroom status`, `greenroom logs`, `greenroom down`",
            remote.pid
        );
        return ExitCode::SUCCESS;
    }
    let remaining = detach.wait_timeout.saturating_sub(started.elapsed());
    let code = wait_until_ready(&Target::Remote(remote, api), remaining, Some(&log_path)).await;
    if let Ok(Some(status)) = child.try_wait() {
        eprintln!("the background supervisor ended ({status})");
    }
    code
}

/// Polls the stack until every enabled service is ready (`running` or `completed`), one
/// fails, or `timeout` passes; prints the table at the end.
async fn wait_until_ready(
    target: &Target,
    timeout: Duration,
    log: Option<&std::path::Path>,
) -> ExitCode {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(remote) = target.remote()
            && !greenroom_stack::process::is_ours(remote.pid, remote.start_time)
        {
            eprintln!(
                "error: the background supervisor (PID {}) ended before the stack was ready",
                remote.pid
            );
            if let Some(log) = log {
                print_tail(log);
            }
            return ExitCode::FAILURE;
        }
        let view = match target.call::<StackView>(Request::StackStatus {}).await {
            Ok(v) => v,
            Err(e) => {
                if let Some(log) = log {
                    print_tail(log);
                }
                return api_failure(&e);
            }
        };
        let enabled: Vec<_> = view
            .status
            .services
            .iter()
            .filter(|s| s.state != ServiceState::Disabled)
            .collect();
        let failed: Vec<_> = enabled
            .iter()
            .filter(|s| s.state == ServiceState::Failed)
            .collect();
        let ready = enabled.iter().all(|s| s.is_healthy());
        if ready || !failed.is_empty() || std::time::Instant::now() > deadline {
            print_table(&view);
            if ready {
                println!("ready: every service is up");
                return ExitCode::SUCCESS;
            }
            for s in &failed {
                eprintln!("error: {} failed: {}", s.id, s.message);
            }
            let late: Vec<_> = enabled
                .iter()
                .filter(|s| !s.is_healthy() && s.state != ServiceState::Failed)
                .map(|s| format!("{} ({})", s.id, state_name(s.state)))
                .collect();
            if failed.is_empty() {
                eprintln!(
                    "error: not ready after {} s: {}",
                    timeout.as_secs(),
                    late.join(", ")
                );
            }
            eprintln!("the stack goes on running in the background: `greenroom down` stops it");
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The last lines of a file, to stderr.
fn print_tail(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(20)..] {
        eprintln!("  | {line}");
    }
}

pub async fn preflight(api: &Api, json: bool) -> ExitCode {
    // Asked of the process that supervises the stack, when another one does.
    let report = api
        .dispatch(Request::StackPreflight {})
        .await
        .and_then(|v| {
            serde_json::from_value::<greenroom_stack::preflight::Preflight>(v)
                .map_err(|e| ApiError::internal(format!("an unexpected pre-flight answer: {e}")))
        });
    match report {
        Ok(report) if json => print_json(&report),
        Ok(report) => {
            print_preflight(&report);
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => api_failure(&e),
    }
}

/// The stack's target: this process, or the Greenroom that supervises the stack (said).
async fn target_said(api: Arc<Api>, what: &str) -> Result<Target, ApiError> {
    let target = Target::for_stack(api).await?;
    if let Some(remote) = target.remote() {
        println!(
            "the stack is supervised by another Greenroom (PID {}); asking it to {what}",
            remote.pid
        );
    }
    Ok(target)
}

pub async fn down(api: Arc<Api>) -> ExitCode {
    let result = match target_said(api, "stop the stack").await {
        Ok(target) => target.call::<Vec<String>>(Request::StackDown {}).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(stopped) if stopped.is_empty() => {
            println!("nothing was running");
            ExitCode::SUCCESS
        }
        Ok(stopped) => {
            println!("stopped {}", stopped.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => api_failure(&e),
    }
}

pub async fn restart(api: Arc<Api>, service: String) -> ExitCode {
    let result = match Target::for_stack(api).await {
        Ok(target) => {
            target
                .call::<UpResult>(Request::ServiceRestart { id: service })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            print_up_result(&r);
            if r.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => api_failure(&e),
    }
}

pub async fn status(api: Arc<Api>, json: bool) -> ExitCode {
    let result = match Target::for_stack(api).await {
        Ok(target) => target
            .call::<StackView>(Request::StackStatus {})
            .await
            .map(|mut view| {
                if let Some(remote) = target.remote() {
                    view.notes.insert(
                        0,
                        format!(
                            "supervised by Greenroom PID {} ({})",
                            remote.pid, remote.url
                        ),
                    );
                }
                view
            }),
        Err(e) => Err(e),
    };
    match result {
        Ok(view) if json => print_json(&view),
        Ok(view) => {
            for note in &view.notes {
                println!("note: {note}");
            }
            print_table(&view);
            ExitCode::SUCCESS
        }
        Err(e) => api_failure(&e),
    }
}

pub async fn report(api: Arc<Api>, output: PathBuf, duration: f64) -> ExitCode {
    let report = match Target::for_stack(api.clone()).await {
        Ok(target @ Target::Remote(..)) => {
            target
                .call::<serde_json::Value>(Request::StackReport {})
                .await
        }
        Ok(Target::Local(_)) => {
            // This process re-attaches and probes what runs, for `duration`.
            let _ = api.stack_status().await;
            tokio::time::sleep(std::time::Duration::from_secs_f64(duration.max(0.0))).await;
            api.stack_report().await
        }
        Err(e) => Err(e),
    };
    match report {
        Ok(value) => {
            let text = serde_json::to_vec_pretty(&value).unwrap_or_default();
            match greenroom_api::write_file_atomically(&output, &text) {
                Ok(()) => {
                    println!(
                        "wrote {} (health score {}, {} recommendation(s))",
                        output.display(),
                        value["current_status"]["global_health_score"],
                        value["recommendations"].as_array().map_or(0, Vec::len)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => crate::fail(&format!("cannot write {}: {e}", output.display())),
            }
        }
        Err(e) => api_failure(&e),
    }
}
