//! The `greenroom` binary as a person runs it.

use std::process::Command;

fn greenroom(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env("GREENROOM_HOME", home)
        .env_remove("GREENROOM_TOOLS_DIR");
    c
}

#[test]
fn version() {
    let home = tempfile::tempdir().unwrap();
    let out = greenroom(home.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("greenroom {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_invalid_setting_exits_2_with_a_reason_and_keeps_the_old_value() {
    let home = tempfile::tempdir().unwrap();
    let ok = greenroom(home.path())
        .args(["settings", "set", "livekit_url", "ws://127.0.0.1:7001"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = greenroom(home.path())
        .args(["settings", "set", "livekit_url", "http://x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("livekit_url") && stderr.contains("ws://"),
        "{stderr}"
    );
    let show = greenroom(home.path())
        .args(["settings", "show", "--json"])
        .output()
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(view["livekit_url"], "ws://127.0.0.1:7001");
}

#[test]
fn a_secret_from_stdin_is_saved_and_never_printed() {
    use std::io::Write;
    let home = tempfile::tempdir().unwrap();
    let mut child = greenroom(home.path())
        .args(["settings", "set", "mistral_api_key", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-secret-value-42\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let show = greenroom(home.path())
        .args(["settings", "show"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("mistral_api_key     set (hidden)"), "{text}");
    assert!(!text.contains("sk-secret"));
    let file = std::fs::read_to_string(home.path().join("settings.toml")).unwrap();
    assert!(
        file.contains("sk-secret-value-42"),
        "the secret is kept on disk for the app to use"
    );
}

#[test]
fn doctor_with_an_empty_path_says_what_is_missing_and_how_to_get_it() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = greenroom(home.path())
        .arg("doctor")
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[FAIL] Redis"), "{text}");
    assert!(
        text.contains("fix on Debian: sudo apt install redis-server"),
        "{text}"
    );
    assert!(text.contains("fix on Windows 11:"), "{text}");

    let json = greenroom(home.path())
        .args(["doctor", "--json"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let espeak = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "espeak-ng")
        .unwrap();
    assert_eq!(espeak["status"], "fail");
}
