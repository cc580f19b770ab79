//! The whole `greenroom exercises scan` process on the Eloquence team's repository
//! (`../shared/eloquence-2025-08-04`): `cargo bench -p greenroom-cli --bench scan_process`.
//!
//! Each run is a fresh process (start-up, rule pack, stack from the checkout's compose file,
//! reading, analysis, history, printing), as a user or a script runs it. Baselines in the same
//! command: the process floor (`greenroom --version`) and the same scan of a one-file app.
//! Figures are printed; nothing is asserted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 30;

fn timed(args: &[&str], home: &Path) -> Vec<f64> {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_greenroom"))
            .args(args)
            .env("GREENROOM_HOME", home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("greenroom runs");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(status.success(), "greenroom {args:?} failed");
    }
    samples.sort_by(f64::total_cmp);
    samples
}

fn main() {
    let snapshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04");
    if !snapshot.join("frontend/flutter_app").is_dir() {
        println!(
            "scan_process benchmark skipped: the Eloquence snapshot is not at {}",
            snapshot.display()
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tiny = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tiny.path().join("app/lib")).unwrap();
    std::fs::write(tiny.path().join("app/pubspec.yaml"), "name: tiny\n").unwrap();
    std::fs::write(tiny.path().join("app/lib/a.dart"), "class A {}\n").unwrap();
    let snapshot = snapshot.display().to_string();
    let tiny = tiny.path().display().to_string();
    // One run first: the history database is created, files are in the page cache.
    let _ = timed(&["exercises", "scan", "--project", &snapshot], home.path());
    let rows = [
        (
            "greenroom --version (process floor)",
            timed(&["--version"], home.path()),
        ),
        (
            "exercises scan of a one-file app",
            timed(&["exercises", "scan", "--project", &tiny], home.path()),
        ),
        (
            "exercises scan of the team's app",
            timed(&["exercises", "scan", "--project", &snapshot], home.path()),
        ),
    ];
    println!("whole process, {RUNS} runs each (fresh process per run):");
    for (what, s) in &rows {
        let p = |q: f64| greenroom_test_support::percentile(s, q);
        println!(
            "  {what:<40} p50 {:6.1} ms   p95 {:6.1} ms",
            p(0.5),
            p(0.95)
        );
    }
    let p50 = |i: usize| greenroom_test_support::percentile(&rows[i].1, 0.5);
    println!(
        "  the team's app costs {:.1} ms over the one-file app ({:.1}× its time)",
        p50(2) - p50(1),
        p50(2) / p50(1)
    );
}
