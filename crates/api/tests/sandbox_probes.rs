//! The sandbox's LiveKit probe against the real `livekit-server`: it asks what a client
//! asks (`GET /` answers `OK`), so the server's log stays free of the 401 warnings that a
//! WebSocket to `/rtc` without a token causes at every probe.

use greenroom_stack::manifest::ProbeCheck;
use greenroom_stack::probe::{ProbeContext, run};
use greenroom_test_support::{find_tool, free_port};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn the_livekit_probe_asks_what_a_client_asks_and_leaves_no_warning() {
    let home = tempfile::tempdir().unwrap();
    let manifest = greenroom_api::stack::sandbox_manifest(&[], home.path());
    let probe = manifest.services["livekit"].probe.clone().expect("a probe");
    let port = free_port();
    let check = match probe.check {
        ProbeCheck::Http {
            url,
            expect_status,
            body_contains,
            json_field,
            json_equals,
        } => ProbeCheck::Http {
            url: url.replace(
                &greenroom_api::stack::SANDBOX_LIVEKIT_PORT.to_string(),
                &port.to_string(),
            ),
            expect_status,
            body_contains,
            json_field,
            json_equals,
        },
        other => panic!("the sandbox probes LiveKit over HTTP, not {other:?}"),
    };
    let log_path = home.path().join("livekit.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Command::new(find_tool("livekit-server"))
        .args([
            "--dev",
            "--bind",
            "127.0.0.1",
            "--config-body",
            &format!(
                "port: {port}\nrtc:\n  tcp_port: {}\n  udp_port: {}\n",
                free_port(),
                free_port()
            ),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("livekit-server starts (scripts/setup installs it)");
    let ctx = ProbeContext::default();
    let mut ready = false;
    for _ in 0..200 {
        if run(&check, Duration::from_secs(1), &ctx).await.ok {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the probe never passed");
    for _ in 0..5 {
        let sample = run(&check, Duration::from_secs(1), &ctx).await;
        assert!(sample.ok, "{sample:?}");
    }
    let quiet = std::fs::read_to_string(&log_path).unwrap();
    // What the old probe did: a WebSocket to /rtc without a token. The server warns.
    let ws = ProbeCheck::Websocket {
        url: format!("ws://127.0.0.1:{port}/rtc"),
    };
    assert!(run(&ws, Duration::from_secs(1), &ctx).await.ok);
    let mut warned = String::new();
    for _ in 0..100 {
        warned = std::fs::read_to_string(&log_path).unwrap();
        if warned.len() > quiet.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        !quiet.contains("401") && !quiet.to_ascii_lowercase().contains("unauthorized"),
        "the probe made livekit-server complain:\n{quiet}"
    );
    assert!(
        warned[quiet.len()..].contains("WARN") || warned[quiet.len()..].contains("401"),
        "a WebSocket to /rtc without a token is what warned:\n{}",
        &warned[quiet.len()..]
    );
}
