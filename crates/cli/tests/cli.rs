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

/// Issue 13.16: a secret typed as an argument lands in the shell's history; say so.
#[test]
fn a_secret_on_the_command_line_warns_about_shell_history() {
    let home = tempfile::tempdir().unwrap();
    let out = greenroom(home.path())
        .args([
            "settings",
            "set",
            "mistral_api_key",
            "sk-typed-in-the-shell",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("history") && stderr.contains("settings set mistral_api_key -"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sk-typed"),
        "the warning does not repeat it: {stderr}"
    );
    let plain = greenroom(home.path())
        .args(["settings", "set", "livekit_url", "ws://127.0.0.1:7001"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&plain.stderr).is_empty(),
        "no warning for a URL"
    );
}

/// Issue 14.4: `GREENROOM_HOME=` (set, empty) failed every command with "a value is
/// required for '--home'"; an empty variable is an unset one.
#[test]
fn empty_greenroom_variables_count_as_unset() {
    let config = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_greenroom"))
        .env("GREENROOM_HOME", "")
        .env("GREENROOM_STACK", "")
        .env("GREENROOM_LOG", "")
        .env("XDG_CONFIG_HOME", config.path())
        .env("HOME", config.path())
        .args(["settings", "show", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = view["file"].as_str().unwrap();
    assert!(
        file.starts_with(&config.path().display().to_string()),
        "the default home is used: {file}"
    );
}

/// One HTTP/1.0 exchange with 127.0.0.1:`port`: the status and the whole answer.
fn http(port: u16, head: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{head}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn serve_prints_its_token_keeps_it_private_and_refuses_callers_without_it() {
    use std::io::BufRead;
    let home = tempfile::tempdir().unwrap();
    let mut serve = greenroom(home.path())
        .args(["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = serve.stdout.take().unwrap();
    let _serve = Stop(serve);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let (base, token) = url.split_once("/?token=").unwrap();
    assert_eq!(token.len(), 64, "{first}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();

    // The file for the CLI and scripts: the same token, readable by the user only.
    let file = home.path().join(format!("serve-{port}.json"));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(record["token"], token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let call = |extra: &str| {
        http(
            port,
            &format!(
                "POST /api/call HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json{extra}"
            ),
            r#"{"command":"app_info","args":{}}"#,
        )
    };
    let (status, answer) = call("");
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains(&file.display().to_string()),
        "says where the token is: {answer}"
    );
    let (status, answer) = call(&format!("\r\nAuthorization: Bearer {token}"));
    assert_eq!(status, 200, "{answer}");
    // A page that rebinds its DNS name to 127.0.0.1 has the wrong Host, token or not.
    let (status, _) = http(
        port,
        &format!(
            "POST /api/call HTTP/1.0\r\nHost: rebind.example:{port}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}"
        ),
        r#"{"command":"app_info","args":{}}"#,
    );
    assert_eq!(status, 403);
    // The browser's way in: the printed address sets the cookie, and no page may frame it.
    let (status, answer) = http(
        port,
        &format!("GET /?token={token} HTTP/1.0\r\nHost: 127.0.0.1:{port}"),
        "",
    );
    assert_eq!(status, 303, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("set-cookie: greenroom-token-")
            && lower.contains("httponly")
            && lower.contains("samesite=strict"),
        "{answer}"
    );
    assert!(
        lower.contains("frame-ancestors 'none'")
            && lower.contains("x-content-type-options: nosniff"),
        "{answer}"
    );
}
