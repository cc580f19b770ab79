//! Interop with the official LiveKit Python SDK (`tests/interop/python_peer.py`, in the
//! `.venv-interop` that `scripts/setup --test` makes) on the real livekit-server: audio
//! both ways at the right frequency, data both ways.

use crate::common::{LiveKitServer, pitch_heard, token, wait_for};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::audio::Tone;
use greenroom_rooms::participant::{
    DataOptions, Participant, ParticipantEvent, ParticipantOptions,
};
use greenroom_test_support::wait_until;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn python() -> PathBuf {
    greenroom_test_support::interop_python()
}

/// The Python peer as a child process, its JSON lines read on a thread. Killed on drop.
struct PythonPeer {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl PythonPeer {
    fn start(url: &str, token: &str, mode: &str, extra: &[&str]) -> PythonPeer {
        let script = greenroom_test_support::workspace().join("tests/interop/python_peer.py");
        let mut child = Command::new(python())
            .arg(script)
            .args([
                "--url",
                url,
                "--token",
                token,
                "--mode",
                mode,
                "--log-level",
                "WARNING",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the Python peer starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
            }
        });
        PythonPeer { child, lines }
    }

    /// The first line whose `event` is `event`, within `wait`; an `error` line fails, and
    /// so does the peer exiting first.
    fn wait_for(&self, event: &str, wait: Duration) -> Value {
        let what = format!("the Python peer's {event:?} line");
        wait_until(&what, wait, || {
            loop {
                let line = match self.lines.try_recv() {
                    Ok(line) => line,
                    Err(mpsc::TryRecvError::Empty) => return None,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        panic!("the Python peer exited without printing {what}")
                    }
                };
                assert_ne!(line["event"], "error", "the Python peer failed: {line}");
                if line["event"] == event {
                    return Some(line);
                }
            }
        })
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn our_tone_reaches_the_python_sdk_at_its_frequency() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let rust = Participant::join(
        &target.url,
        &token(&target, "interop-a", "rust"),
        &ParticipantOptions::default(),
    )
    .await
    .unwrap();
    let track = rust.publish_audio("tone").await.unwrap();
    let python = PythonPeer::start(
        &target.url,
        &token(&target, "interop-a", "python"),
        "receive-audio",
        &[
            "--frames",
            "150",
            "--seconds",
            "25",
            "--from-identity",
            "rust",
        ],
    );
    let player = tokio::spawn(async move {
        let mut tone = Tone::new(523.0, 0.3);
        track.play(&mut tone, Some(1000), |_, _| {}).await
    });
    let audio =
        tokio::task::spawn_blocking(move || python.wait_for("audio", Duration::from_secs(30)))
            .await
            .unwrap();
    player.abort();
    let frequency = audio["frequency_hz"].as_f64().unwrap();
    assert!(
        (frequency - 523.0).abs() <= 3.0,
        "the Python SDK heard {audio}"
    );
    assert_eq!(audio["participant"], "rust");
    rust.leave().await;
}

#[tokio::test]
async fn the_python_sdks_tone_reaches_us_at_its_frequency() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let mut rust = Participant::join(
        &target.url,
        &token(&target, "interop-b", "rust"),
        &ParticipantOptions::default(),
    )
    .await
    .unwrap();
    // The SDK's default: Opus with redundancy (RED); the server hands us plain Opus.
    let _python = PythonPeer::start(
        &target.url,
        &token(&target, "interop-b", "python"),
        "publish-tone",
        &["--frequency", "660", "--seconds", "20"],
    );
    let (participant, _) = wait_for(&mut rust, "the Python track", |e| match e {
        ParticipantEvent::TrackSubscribed {
            participant,
            track_sid,
        } => Some((participant.clone(), track_sid.clone())),
        _ => None,
    })
    .await;
    assert_eq!(participant, "python");
    let frequency = pitch_heard(&mut rust, "python").await;
    assert!((frequency - 660.0).abs() <= 3.0, "we heard {frequency} Hz");
    rust.leave().await;
}

#[tokio::test]
async fn data_goes_to_the_python_sdk_and_its_echo_comes_back() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let python = PythonPeer::start(
        &target.url,
        &token(&target, "interop-c", "python"),
        "echo-data",
        &["--seconds", "25"],
    );
    let python = tokio::task::spawn_blocking(move || {
        python.wait_for("joined", Duration::from_secs(20));
        python
    })
    .await
    .unwrap();
    let mut rust = Participant::join(
        &target.url,
        &token(&target, "interop-c", "rust"),
        &ParticipantOptions::default(),
    )
    .await
    .unwrap();
    assert!(rust.others.iter().any(|(_, identity)| identity == "python"));
    // The server announces a new participant to the others a moment after it is active;
    // until then they see its packets without a sender. Wait until the Python side knows us.
    let python = tokio::task::spawn_blocking(move || {
        let seen = python.wait_for("participant_connected", Duration::from_secs(20));
        assert_eq!(seen["identity"], "rust");
        python
    })
    .await
    .unwrap();
    for (i, reliable) in [(0, true), (1, true), (2, false)] {
        rust.send_data(
            format!("bonjour #{i}").into_bytes(),
            DataOptions {
                topic: Some("greenroom-test".into()),
                reliable,
                destinations: vec!["python".into()],
            },
        )
        .unwrap();
        let (topic, payload) = wait_for(&mut rust, "the echo", |e| match e {
            ParticipantEvent::Data {
                participant,
                topic,
                payload,
                ..
            } if participant == "python" => Some((topic.clone(), payload.clone())),
            _ => None,
        })
        .await;
        assert_eq!(topic.as_deref(), Some("echo"));
        assert_eq!(payload, format!("bonjour #{i}").into_bytes());
    }
    let seen = tokio::task::spawn_blocking(move || python.wait_for("data", Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(seen["from"], "rust");
    assert_eq!(seen["topic"], "greenroom-test");
    rust.leave().await;
}
