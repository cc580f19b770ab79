//! `greenroom token` and `greenroom rooms` against the real livekit-server.

use greenroom_test_support::LiveKitServer;
use std::process::Command;

fn greenroom(server: &LiveKitServer, secret: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env(
        "GREENROOM_HOME",
        std::env::temp_dir().join(format!("greenroom-rooms-cli-{}", std::process::id())),
    )
    .env("LIVEKIT_URL", format!("ws://127.0.0.1:{}", server.port))
    .env("LIVEKIT_API_KEY", "devkey")
    .env("LIVEKIT_API_SECRET", secret);
    c
}

#[test]
fn rooms_and_tokens_from_the_command_line() {
    let server = LiveKitServer::start();
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        ok(greenroom(&server, "secret").args([
            "rooms",
            "create",
            "marie-breathing",
            "--metadata",
            "breathing"
        ]))
        .contains("created marie-breathing")
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(
        greenroom(&server, "secret").args(["rooms", "list", "--json"])
    ))
    .unwrap();
    assert_eq!(listed[0]["name"], "marie-breathing");
    assert_eq!(listed[0]["metadata"], "breathing");
    let jwt = ok(greenroom(&server, "secret").args([
        "token",
        "--room",
        "marie-breathing",
        "--identity",
        "coach",
        "--agent",
        "marie-agent:{\"x\":1}",
        "--room-metadata",
        "breathing",
    ]));
    let claims = greenroom_livekit::token::verify(jwt.trim(), "secret").unwrap();
    assert_eq!(claims.sub, "coach");
    assert!(
        ok(greenroom(&server, "secret").args(["rooms", "participants", "marie-breathing"]))
            .contains("nobody in marie-breathing")
    );
    // Two participants of ours: the one staying sees the other already there, hears it
    // leave, and both leave cleanly.
    let staying = greenroom(&server, "secret")
        .args([
            "rooms",
            "join",
            "marie-breathing",
            "--identity",
            "marie-watch",
            "--seconds",
            "3",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ok(greenroom(&server, "secret").args(["rooms", "participants", "marie-breathing"]))
        .contains("marie-watch")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "marie-watch never joined"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let joined = ok(greenroom(&server, "secret").args([
        "rooms",
        "join",
        "marie-breathing",
        "--identity",
        "learner",
        "--seconds",
        "0",
    ]));
    assert!(
        joined.contains("joined marie-breathing as learner"),
        "{joined}"
    );
    assert!(joined.contains("livekit-server 1.13.5"), "{joined}");
    assert!(joined.contains("already there: marie-watch"), "{joined}");
    assert!(joined.contains("left marie-breathing"), "{joined}");
    let watched = staying.wait_with_output().unwrap();
    let watched = String::from_utf8_lossy(&watched.stdout);
    assert!(watched.contains("left: learner"), "{watched}");
    assert!(watched.contains("signalling round trip"), "{watched}");
    assert!(
        ok(greenroom(&server, "secret").args(["rooms", "delete", "marie-breathing"]))
            .contains("deleted")
    );

    let wrong = greenroom(&server, "wrong-secret")
        .args(["rooms", "list"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("refused the API key or secret")
            && err.contains("secret from LIVEKIT_API_SECRET"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret"));
}

#[test]
fn stream_test_writes_the_teams_report_and_refuses_a_bad_config_with_its_line() {
    let server = LiveKitServer::start();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("results.json");
    let out = greenroom(&server, "secret")
        .env("LIVEKIT_ROOM", "cli-stream")
        .args(["stream-test", "latency", "--packets", "4", "--output"])
        .arg(&report_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CONNECTION | connected: greenroom-receiver-0 in room cli-stream"),
        "{stdout}"
    );
    assert!(stdout.contains("latency_test: 4 of 4 packets"), "{stdout}");
    assert!(
        !stdout.contains("\x1b["),
        "no colour codes when stdout is not a terminal"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    for field in [
        "test_name",
        "duration_seconds",
        "packets_sent",
        "packets_received",
        "packet_loss_rate",
        "latency_stats",
        "errors_count",
        "throughput_pps",
    ] {
        assert!(
            report.get(field).is_some(),
            "the team's field {field} is missing: {report}"
        );
    }
    for field in ["min_ms", "max_ms", "avg_ms", "count"] {
        assert!(
            report["latency_stats"].get(field).is_some(),
            "latency_stats.{field}"
        );
    }
    assert_eq!(report["packets_received"], 4);
    assert_eq!(report["schema"], "greenroom.stream-test/1");
    assert!(!report.to_string().contains("secret"), "{report}");

    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        "{\n  \"room_name\": \"x\",\n  \"packets\": \"many\"\n}",
    )
    .unwrap();
    let out = greenroom(&server, "secret")
        .args(["stream-test", "stress", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.json") && stderr.contains("packets"),
        "{stderr}"
    );
    let out = greenroom(&server, "secret")
        .args(["stream-test", "stress", "--loss", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loss"));
}
