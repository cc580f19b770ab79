//! `exercises …`: find the Flutter app's exercises, score them, watch them.

use crate::{api_failure, fail};
use clap::Subcommand;
use greenroom_api::Api;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Clone)]
pub(crate) struct ExercisesOptions {
    /// The repository root (its Flutter app, agent sources and compose files are found
    /// below it) [default: the workspace setting]
    #[arg(long, global = true)]
    project: Option<PathBuf>,
    /// Print JSON (schema: `exercises`, `screens`, `orphans`, `drift`, `skipped`, `agent_types`)
    #[arg(long, global = true)]
    json: bool,
    /// Exit with 1 when an exercise is not valid
    #[arg(long, global = true)]
    strict: bool,
}

#[derive(Subcommand)]
pub(crate) enum ExercisesCommand {
    /// The exercises the app registers, its orphans and endpoint drift
    Scan {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// One exercise in detail: every criterion with its evidence, recommendations, fix time
    Validate {
        /// Its id (`cosmic_voice_screen`) or class name (`CosmicVoiceScreen`)
        name: String,
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Every exercise with its score and what to do
    ValidateAll {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Revalidate on every save and print what changed (Ctrl+C stops)
    Watch {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Scan every few seconds and print a summary line
    Monitor {
        /// Seconds between scans
        #[arg(long, default_value_t = 300.0)]
        interval: f64,
        /// Stop after this many scans
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        options: ExercisesOptions,
    },
}

pub(crate) async fn run(api: Api, command: ExercisesCommand) -> ExitCode {
    let api = Arc::new(api);
    let (options, name, view) = match command {
        ExercisesCommand::Watch { options } => return exercises_watch(api, options).await,
        ExercisesCommand::Monitor {
            interval,
            count,
            options,
        } => return exercises_monitor(&api, options, interval, count).await,
        ExercisesCommand::Scan { options } => (options, None, "scan"),
        ExercisesCommand::Validate { name, options } => (options, Some(name), "validate"),
        ExercisesCommand::ValidateAll { options } => (options, None, "all"),
    };
    let analysis = match api
        .exercises_scan(options.project.map(|p| p.display().to_string()))
        .await
    {
        Ok(a) => a,
        Err(e) => return api_failure(&e),
    };
    let selected: Vec<&greenroom_exercises::analysis::Exercise> = match &name {
        Some(n) => {
            let wanted = n.trim();
            let found: Vec<_> = analysis
                .exercises
                .iter()
                .filter(|e| e.id == wanted || e.class_name == wanted)
                .collect();
            if found.is_empty() {
                eprintln!(
                    "error: no exercise `{wanted}`; the app registers: {}",
                    analysis
                        .exercises
                        .iter()
                        .map(|e| e.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return ExitCode::from(2);
            }
            found
        }
        None => analysis.exercises.iter().collect(),
    };
    if options.json {
        let value = if name.is_some() {
            serde_json::json!(selected)
        } else {
            serde_json::json!(analysis)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        exercises_text(&analysis, &selected, view);
    }
    if options.strict && selected.iter().any(|e| !e.valid) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn exercises_text(
    analysis: &greenroom_exercises::analysis::Analysis,
    selected: &[&greenroom_exercises::analysis::Exercise],
    view: &str,
) {
    let rel = |f: &str| {
        f.strip_prefix(&format!("{}/", analysis.project))
            .unwrap_or(f)
            .to_owned()
    };
    match view {
        "scan" => {
            println!(
                "{} exercises in {} ({} Dart files read)\n",
                analysis.exercises.len(),
                analysis.packages.join(", "),
                analysis.files_read
            );
            for e in selected {
                println!(
                    "{}  {} ({})",
                    if e.valid { "✔" } else { "✘" },
                    e.id,
                    e.score
                );
                println!(
                    "    type: {}   routes: {}",
                    e.exercise_type.as_deref().unwrap_or("—"),
                    e.routes.join(", ")
                );
                println!("    file: {}:{}", rel(&e.file), e.line);
                if !e.flow.is_empty() {
                    let flow: Vec<&str> = e.flow.iter().map(|f| f.class_name.as_str()).collect();
                    println!("    flow: {} → {}", e.class_name, flow.join(" → "));
                }
                println!(
                    "    needs: {}",
                    if e.required_services.is_empty() {
                        "—".into()
                    } else {
                        e.required_services.join(", ")
                    }
                );
            }
        }
        "validate" => {
            for e in selected {
                println!(
                    "{} {} — score {} / 100, {}",
                    if e.valid { "✔" } else { "✘" },
                    e.id,
                    e.score,
                    if e.valid { "valid" } else { "not valid" }
                );
                println!(
                    "  {} at {}:{}, route {}",
                    e.class_name,
                    rel(&e.file),
                    e.line,
                    e.route
                );
                for c in &e.criteria {
                    let mark = match c.passed {
                        Some(true) => "✔",
                        Some(false) if c.blocking => "✘ (blocking)",
                        Some(false) => "✘",
                        None => "–",
                    };
                    println!("  {mark} {} [{}]", c.title, c.weight);
                    for f in &c.findings {
                        println!("      {} ({}:{})", f.message, rel(&f.file), f.line);
                    }
                }
                if !e.recommendations.is_empty() {
                    println!("  estimated fix time: {} min", e.fix_minutes);
                }
            }
        }
        _ => {
            let valid = selected.iter().filter(|e| e.valid).count();
            let average = if selected.is_empty() {
                0.0
            } else {
                selected.iter().map(|e| f64::from(e.score)).sum::<f64>() / selected.len() as f64
            };
            println!(
                "valid exercises: {valid}/{}   average score: {average:.1}\n",
                selected.len()
            );
            for e in selected {
                println!("{} {} ({})", if e.valid { "✔" } else { "✘" }, e.id, e.score);
                for r in e.recommendations.iter().take(3) {
                    println!("  └─ {r}");
                }
            }
        }
    }
    if view == "scan" && !analysis.screens.is_empty() {
        println!("\nnot exercises:");
        for sc in &analysis.screens {
            println!(
                "  {} {}at {}:{} — {}",
                sc.class_name,
                if sc.route.is_empty() {
                    String::new()
                } else {
                    format!("({}) ", sc.route)
                },
                rel(&sc.file),
                sc.line,
                sc.reason
            );
        }
    }
    if !analysis.orphans.is_empty() {
        println!("\norphans (screens nothing registers or shows):");
        for o in &analysis.orphans {
            println!(
                "  {} at {}:{} — {}",
                o.class_name,
                rel(&o.file),
                o.line,
                o.reason
            );
        }
    }
    if view != "validate" && !analysis.drift.is_empty() {
        println!("\nendpoint drift:");
        for d in &analysis.drift {
            println!("  {}:{} {}", rel(&d.file), d.line, d.message);
        }
    }
    for s in &analysis.skipped {
        println!("skipped {}: {}", rel(&s.file), s.reason);
    }
}

async fn exercises_watch(api: Arc<Api>, options: ExercisesOptions) -> ExitCode {
    let (root, rules, context) = match api
        .exercises_context(options.project.map(|p| p.display().to_string()))
        .await
    {
        Ok(x) => x,
        Err(e) => return api_failure(&e),
    };
    let recorder = api.clone();
    let previous: std::sync::Mutex<std::collections::BTreeMap<String, u32>> = Default::default();
    let started = greenroom_exercises::watch::ExerciseWatcher::start(
        &root,
        rules,
        context,
        std::time::Duration::from_millis(50),
        move |u| {
            recorder.record_history(&u.analysis);
            let mut before = greenroom_core::lock_unpoisoned(&previous);
            let names: Vec<String> = u
                .changed
                .iter()
                .map(|c| c.rsplit(['/', '\\']).next().unwrap_or(c).to_owned())
                .collect();
            let scores: Vec<String> = u
                .analysis
                .exercises
                .iter()
                .filter(|e| u.revalidated.contains(&e.id))
                .map(|e| match before.insert(e.id.clone(), e.score) {
                    Some(old) if old != e.score => format!("{} {old} → {}", e.id, e.score),
                    _ => format!("{} {}", e.id, e.score),
                })
                .collect();
            println!(
                "saved {} — revalidated in {:.0} ms: {}",
                names.join(", "),
                u.elapsed_ms,
                if scores.is_empty() {
                    "no exercise affected".into()
                } else {
                    scores.join(", ")
                }
            );
            let _ = std::io::Write::flush(&mut std::io::stdout());
        },
    );
    let (watcher, analysis) = match started {
        Ok(x) => x,
        Err(e) => return fail(&e.to_string()),
    };
    api.record_history(&analysis);
    let valid = analysis.exercises.iter().filter(|e| e.valid).count();
    println!(
        "watching {} folders of {} — {} exercises, {valid} valid. Save a file to see its exercises revalidated; Ctrl+C stops.",
        watcher.watched_folders(),
        root.display(),
        analysis.exercises.len()
    );
    let _ = tokio::signal::ctrl_c().await;
    drop(watcher);
    ExitCode::SUCCESS
}

async fn exercises_monitor(
    api: &Api,
    options: ExercisesOptions,
    interval: f64,
    count: Option<u64>,
) -> ExitCode {
    let project = options.project.map(|p| p.display().to_string());
    let mut round = 0;
    loop {
        let clock = greenroom_core::clock::utc_time_of_day();
        match api.exercises_scan(project.clone()).await {
            Ok(a) => {
                let valid = a.exercises.iter().filter(|e| e.valid).count();
                println!(
                    "[{clock}] {} exercises: {valid}/{} valid",
                    if valid == a.exercises.len() {
                        "✔"
                    } else {
                        "!"
                    },
                    a.exercises.len()
                );
                for e in a.exercises.iter().filter(|e| !e.valid) {
                    println!(
                        "  └─ {}: {}",
                        e.id,
                        e.recommendations
                            .first()
                            .map_or("see greenroom exercises validate", String::as_str)
                    );
                }
            }
            Err(e) => println!("[{clock}] ✘ {}", e.message),
        }
        round += 1;
        if count.is_some_and(|c| round >= c) {
            return ExitCode::SUCCESS;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs_f64(interval.max(1.0))) => {}
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
    }
}
