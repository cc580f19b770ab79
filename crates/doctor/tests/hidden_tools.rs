//! Doctor against the real machine, with tools hidden from PATH: it must say what is
//! missing, and how to get it, instead of guessing.

use greenroom_doctor::{CheckStatus, DoctorOptions, run};
use std::ffi::OsString;

#[tokio::test]
async fn with_an_empty_path_every_tool_is_reported_missing_with_a_fix() {
    let empty = tempfile::tempdir().unwrap();
    let mut options = DoctorOptions::new(empty.path().to_path_buf());
    options.path = Some(OsString::from(empty.path()));
    let progress = std::sync::Mutex::new(Vec::new());
    let report = run(&options, |c, done, total| {
        progress.lock().unwrap().push((c.id.clone(), done, total))
    })
    .await;

    for id in ["livekit-server", "redis-server", "espeak-ng", "python3"] {
        let check = report.checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(check.status, CheckStatus::Fail, "{id}: {}", check.detail);
        assert!(check.detail.contains("not found"), "{id}: {}", check.detail);
        let hint = check
            .install
            .as_ref()
            .expect("a missing tool has an install hint");
        assert!(!hint.debian.is_empty() && !hint.windows.is_empty());
    }
    let docker = report.checks.iter().find(|c| c.id == "docker").unwrap();
    assert_ne!(docker.status, CheckStatus::Ok);

    // Progress: one call per check, `done` counting up to `total`.
    let progress = progress.into_inner().unwrap();
    assert_eq!(progress.len(), report.checks.len());
    assert_eq!(progress.last().unwrap().1, report.checks.len());
    assert_eq!(
        report.summary.ok + report.summary.warn + report.summary.fail,
        report.checks.len() as u32
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_tool_on_the_path_is_found_with_its_version() {
    let options = DoctorOptions::new(std::env::temp_dir());
    let report = run(&options, |_, _, _| {}).await;
    // python3 is on every machine that runs these tests (the project's setup needs it).
    let python = report.checks.iter().find(|c| c.id == "python3").unwrap();
    assert_eq!(python.status, CheckStatus::Ok, "{}", python.detail);
    assert!(python.detail.contains("Python 3"), "{}", python.detail);
    assert!(python.install.is_none());
    let disk = report.checks.iter().find(|c| c.id == "disk").unwrap();
    assert!(disk.detail.contains("GiB free"), "{}", disk.detail);
}
