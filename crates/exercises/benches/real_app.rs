//! Real-app benchmark: `cargo bench -p greenroom-exercises --bench real_app`.
//!
//! On the Eloquence snapshot (`../shared/eloquence-2025-08-04` next to the workspace; when
//! it is missing the benchmark says so and exits with success), with a warm file cache:
//! - the phases of a scan, each run [`RUNS`] times, median and p95: walk + read the Dart
//!   files (one thread), lex + structure ([`dart::read`], one thread) of the files read
//!   and lex alone, `read_project` (as the library does it), [`analyse`],
//!   dropping the project, and the whole scan as `greenroom exercises scan` does it (rule
//!   pack, `read_project`, `analyse`, drop);
//! - the team's regex baseline ([`baseline::detect`]) on the same tree, in the same
//!   process, and the ratio;
//! - save → updated score through the real [`ExerciseWatcher`] on a temporary copy of the
//!   snapshot: [`SAVES`] atomic saves (write a temporary file, rename it over the screen)
//!   and [`SAVES`] plain in-place writes of one screen, each changing a string literal;
//!   p50, p95 and max from the write to the callback.
//!
//! Figures are printed; nothing is asserted about time. `-- --scan-only` skips the saves.

use greenroom_exercises::analysis::{StackContext, analyse};
use greenroom_exercises::rules::Compiled;
use greenroom_exercises::watch::ExerciseWatcher;
use greenroom_exercises::{baseline, dart, project};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 20;
const SAVES: usize = 30;
/// Saved in turn: a screen no exercise depends on (everything is scored again: the change
/// could register it), and an exercise's own screen (only that exercise is scored again).
const SAVED: [&str; 2] = [
    "frontend/flutter_app/lib/features/confidence_boost/presentation/screens/confidence_boost_main_screen.dart",
    "frontend/flutter_app/lib/features/confidence_boost/presentation/screens/dragon_breath_screen.dart",
];
const SCREEN: &str = SAVED[0];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p95) in ms.
fn stats(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let p = |q: f64| greenroom_test_support::percentile(&samples, q);
    (p(0.5), p(0.95))
}

/// `f` run [`RUNS`] times after a warm-up: the samples, in ms, and its last result. Each
/// result is dropped outside the timed region (a scan's drop is timed as its own phase).
fn time<T>(mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut samples = Vec::with_capacity(RUNS);
    let mut last = f(); // warm-up
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = f();
        samples.push(ms(started.elapsed()));
        drop(std::mem::replace(&mut last, result));
    }
    (samples, last)
}

/// The Dart files of every package under `root`, walked as `read_project` walks them.
fn dart_files(root: &Path) -> Vec<PathBuf> {
    let walker = |dir: &Path| {
        ignore::WalkBuilder::new(dir)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && project::PRUNED.contains(&e.file_name().to_string_lossy().as_ref()))
            })
            .build()
    };
    let mut files = Vec::new();
    for pubspec in walker(root)
        .flatten()
        .filter(|e| e.file_name() == "pubspec.yaml")
    {
        let lib = pubspec.path().parent().unwrap().join("lib");
        if !lib.is_dir() {
            continue;
        }
        files.extend(
            walker(&lib)
                .flatten()
                .filter(|e| {
                    e.file_type().is_some_and(|t| t.is_file())
                        && e.path().extension().is_some_and(|x| x == "dart")
                })
                .map(|e| e.into_path()),
        );
    }
    files
}

/// A writable copy of `from` (the snapshot's files are read-only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

fn print_row(what: &str, samples: Vec<f64>) -> f64 {
    let (p50, p95) = stats(samples);
    println!("  {what:<44} median {p50:7.2} ms   p95 {p95:7.2} ms");
    p50
}

fn saves(
    watcher: &ExerciseWatcher,
    rx: &std::sync::mpsc::Receiver<(Instant, Vec<String>)>,
    file: &Path,
    original: &str,
    atomic: bool,
) -> Vec<f64> {
    let mut delays = Vec::with_capacity(SAVES);
    for round in 0..SAVES {
        let marker = format!("Text('r{} ", round + if atomic { 0 } else { 1000 });
        let text = original.replacen("Text('", &marker, 1);
        assert_ne!(
            text, original,
            "the screen has the literal the benchmark edits"
        );
        let written = if atomic {
            let tmp = file.with_extension("dart.tmp");
            std::fs::write(&tmp, &text).unwrap();
            std::fs::rename(&tmp, file).unwrap();
            Instant::now()
        } else {
            std::fs::write(file, &text).unwrap();
            Instant::now()
        };
        let (at, revalidated) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("an update after a save");
        if round == 0 && atomic {
            println!("    scored again on save: {revalidated:?}");
        }
        delays.push(ms(at.saturating_duration_since(written)));
        watcher.flush(Duration::from_secs(10));
        while rx.try_recv().is_ok() {}
    }
    delays
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04");
    if !root.join(SCREEN).is_file() {
        println!(
            "real_app benchmark skipped: the Eloquence snapshot is not at {} (expected {SCREEN} in it)",
            root.display()
        );
        return;
    }
    let root = root.canonicalize().unwrap();
    let rules = Compiled::for_project(&root).expect("the rule pack loads");
    let context = StackContext::default();

    let files = dart_files(&root);
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| project::read_file(f).ok().map(|(t, _, _)| t))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "greenroom exercise scan on the Eloquence snapshot: {} Dart files, {:.2} MB ({})\n",
        files.len(),
        bytes as f64 / 1e6,
        root.display()
    );
    println!("phases, {RUNS} runs each, warm file cache:");

    let (walk_read, _) = time(|| {
        dart_files(&root)
            .iter()
            .filter_map(|f| project::read_file(f).ok())
            .map(|(t, _, _)| t.len())
            .sum::<usize>()
    });
    print_row("walk + read Dart files (one thread)", walk_read);
    let (lex, _) = time(|| {
        texts
            .iter()
            .map(|t| dart::read(t).tokens.len())
            .sum::<usize>()
    });
    print_row("lex + structure (dart::read, one thread)", lex);
    let (lex_only, _) = time(|| {
        texts
            .iter()
            .map(|t| dart::lexer::lex(t).len())
            .sum::<usize>()
    });
    print_row("  of which lex (dart::lexer::lex)", lex_only);
    let (read_project, project) = time(|| project::read_project(&root, &rules.rules.agent.paths));
    print_row("read_project (walk, read, lex, structure)", read_project);
    let (analysis_t, analysis) = time(|| analyse(&project, &rules, &context));
    print_row("analysis::analyse", analysis_t);
    // Dropping what read_project built (freeing every token, call, string…).
    let drop_t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let copy = project::read_project(&root, &rules.rules.agent.paths);
            let started = Instant::now();
            drop(copy);
            ms(started.elapsed())
        })
        .collect();
    print_row("dropping the Project", drop_t);
    let (total, found) = time(|| {
        let rules = Compiled::for_project(&root).expect("the rule pack loads");
        let project = project::read_project(&root, &rules.rules.agent.paths);
        let found = analyse(&project, &rules, &context).exercises.len();
        drop(project);
        found
    });
    let ours = print_row("total scan (rules, read_project, analyse, drop)", total);
    let (regex, matched) = time(|| baseline::detect(&root).len());
    let theirs = print_row("regex baseline (baseline::detect)", regex);
    println!(
        "\n  {found} exercises, {} orphans found; the baseline matched {matched} classes",
        analysis.orphans.len()
    );
    let dir_of_screen = SCREEN.rsplit_once('/').map_or("", |(d, _)| d);
    let here: Vec<&str> = analysis
        .exercises
        .iter()
        .filter(|e| e.file.contains(dir_of_screen))
        .map(|e| e.file.as_str())
        .collect();
    println!("  exercises in the edited folder: {here:?}");
    println!(
        "  ratio greenroom / baseline: {:.2}× the time (medians)",
        ours / theirs
    );

    if std::env::args().any(|a| a == "--scan-only") {
        return;
    }

    // Save → updated score through the real watcher, on a writable copy.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("eloquence");
    copy_tree(&root, &copy);
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<String>)>();
    let debounce = Duration::from_millis(50);
    let (watcher, _) = ExerciseWatcher::start(
        &copy,
        Compiled::for_project(&copy).expect("the rule pack loads"),
        StackContext::default(),
        debounce,
        move |u| {
            let _ = tx.send((Instant::now(), u.revalidated.clone()));
        },
    )
    .expect("the watcher starts");
    println!(
        "\nsave → updated score, {SAVES} saves of each file, through ExerciseWatcher (debounce argument {} ms, {} folders watched):",
        debounce.as_millis(),
        watcher.watched_folders()
    );
    for saved in SAVED {
        let file = copy.join(saved);
        let original = std::fs::read_to_string(&file).unwrap();
        println!("  {}", saved.rsplit('/').next().unwrap_or(saved));
        for (what, atomic) in [
            ("atomic save (tmp + rename)", true),
            ("in-place write", false),
        ] {
            let mut delays = saves(&watcher, &rx, &file, &original, atomic);
            delays.sort_by(f64::total_cmp);
            let p = |q: f64| greenroom_test_support::percentile(&delays, q);
            println!(
                "    {what:<28} p50 {:6.2} ms   p95 {:6.2} ms   max {:6.2} ms",
                p(0.5),
                p(0.95),
                delays[delays.len() - 1]
            );
        }
        std::fs::write(&file, &original).unwrap();
        watcher.flush(Duration::from_secs(10));
        while rx.try_recv().is_ok() {}
    }
}
