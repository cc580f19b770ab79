//! Media benchmark: `cargo bench -p greenroom-rooms --bench media` (or `scripts/bench`).
//!
//! Against a real `livekit-server --dev` on loopback (release build of our participant):
//! 1. **Echo round trip**, 100 reliable data packets each, same server, same run: our
//!    participant sends, an echo peer sends each packet back. Echo peer = our participant,
//!    then the official LiveKit Python SDK (`tests/interop/python_peer.py latency-echo`).
//!    The ratio is ours / the SDK's (< 1: our participant is quicker).
//!    Then the same echo between two of our participants with UDP blocked at both ends
//!    (ICE over TCP), in the same run: the ratio is TCP / UDP.
//! 2. **Join → first audio**, 10 times: from minting the publisher's token to the first
//!    decoded frame of its track at a listener already in the room. Then **join → ready**,
//!    10 times each, same server, same run: ours ([`Participant::join`] returning: both
//!    connections up, the publisher's two data channels and the subscriber's `_reliable`
//!    open) and the official Python SDK's (`Room.connect()` returning: its primary, the
//!    subscriber, connected; `tests/interop/python_peer.py join-times`, token minted before
//!    the clock starts, after an untimed warm-up join), p50 / min / max and the ratio ours /
//!    SDK; then the p50 of each step of ours ([`Participant::join_steps`]). Then ours with
//!    UDP blocked: what the TCP fallback costs. It includes UDP's 300 ms head start and the
//!    server's ICE agent (pion), which nominates the subscriber's TCP pair, peer-reflexive
//!    to it since an active candidate's real port is only known once connected, after
//!    about a second.
//! 3. **Publishers on 2 cores**: P publishers (1, 2, 4, 8, 16, 24) each sending a tone to
//!    one listener for 4 s, all in this process: CPU time per published stream, and the
//!    share of the listener's frames that were concealed (lost or late); it stops after
//!    the first P above 1 %.
//!
//! Figures are printed; nothing is asserted (benchmarks measure, tests check). Without
//! `livekit-server` (`scripts/setup` builds it into tools/bin) the benchmark says so and
//! measures nothing; without `.venv-interop` (`scripts/setup --test`) it leaves the SDK out
//! and says so.

use greenroom_livekit::room_service::{self as service, Target, TokenOptions};
use greenroom_rooms::audio::Tone;
use greenroom_rooms::participant::{
    DataOptions, JoinStep, NetworkConditions, Participant, ParticipantEvent, ParticipantOptions,
};
use greenroom_test_support::{LiveKitServer, percentile};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ECHOES: usize = 100;

fn token(target: &Target, room: &str, identity: &str) -> String {
    service::token(target, room, identity, &TokenOptions::participant()).unwrap()
}

fn p50_p95(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.95))
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        Duration::from_millis(ticks * 10)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Duration::ZERO
    }
}

async fn wait_event<T>(
    p: &mut Participant,
    mut pick: impl FnMut(ParticipantEvent) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(event) = p.next_event(Duration::from_millis(200)).await
            && let Some(v) = pick(event)
        {
            return Some(v);
        }
    }
    None
}

/// Two of our participants joined with `options` in `room`: one echoes, the other times
/// `ECHOES` round trips through it.
async fn rust_echo_round_trips(
    target: &Target,
    room: &str,
    options: &ParticipantOptions,
) -> Vec<f64> {
    let mut sender = Participant::join(&target.url, &token(target, room, "sender"), options)
        .await
        .unwrap();
    let mut ours = Participant::join(&target.url, &token(target, room, "rust-echo"), options)
        .await
        .unwrap();
    wait_event(&mut sender, |e| matches!(e, ParticipantEvent::ParticipantJoined { ref identity, .. } if identity == "rust-echo").then_some(())).await;
    let echo_task = tokio::spawn(async move {
        while let Some(event) = ours.next_event(Duration::from_secs(30)).await {
            if let ParticipantEvent::Data {
                participant,
                payload,
                topic,
                ..
            } = event
            {
                let _ = ours.send_data(
                    payload,
                    DataOptions {
                        topic,
                        reliable: true,
                        destinations: vec![participant],
                    },
                );
            }
        }
    });
    let rtts = round_trips(&mut sender, "rust-echo").await;
    echo_task.abort();
    sender.leave().await;
    rtts
}

/// Sends `ECHOES` packets to `echo` one at a time and times each round trip.
async fn round_trips(sender: &mut Participant, echo: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..ECHOES {
        let payload = format!("rtt-{i}").into_bytes();
        let started = Instant::now();
        sender
            .send_data(
                payload.clone(),
                DataOptions {
                    topic: Some("rtt".into()),
                    reliable: true,
                    destinations: vec![echo.into()],
                },
            )
            .unwrap();
        let back = wait_event(sender, |e| match e {
            ParticipantEvent::Data { payload: p, .. } if p == payload => Some(()),
            _ => None,
        })
        .await;
        if back.is_some() {
            out.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    out
}

/// p50, min and max of some samples, in ms.
fn p50_min_max(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), ms[0], ms[ms.len() - 1])
}

/// Whether `livekit-server` is where [`LiveKitServer::start`] looks (the tool dirs, PATH).
fn livekit_server_present() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    greenroom_test_support::tool_dirs()
        .into_iter()
        .chain(std::env::split_paths(&path))
        .any(|d| {
            d.join(format!("livekit-server{}", std::env::consts::EXE_SUFFIX))
                .is_file()
        })
}

/// The Python of `.venv-interop`, if `scripts/setup --test` made it.
fn interop_python() -> Option<PathBuf> {
    let venv = greenroom_test_support::workspace().join(".venv-interop");
    let python = if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    };
    python.exists().then_some(python)
}

fn python_echo(url: &str, token: &str) -> Option<Child> {
    let root = greenroom_test_support::workspace();
    let Some(python) = interop_python() else {
        println!("  (no .venv-interop: run scripts/setup --test for the Python SDK comparison)");
        return None;
    };
    Command::new(python)
        .arg(root.join("tests/interop/python_peer.py"))
        .args([
            "--url",
            url,
            "--token",
            token,
            "--mode",
            "latency-echo",
            "--seconds",
            "60",
            "--quiet",
            "--log-level",
            "ERROR",
        ])
        .stdout(Stdio::null())
        .spawn()
        .ok()
}

/// `runs` joins of the official Python SDK (`Room.connect()`, ms each) in `room`, or why
/// there are none.
async fn python_joins(url: &str, room: &str, runs: usize) -> Result<Vec<f64>, String> {
    let python = interop_python()
        .ok_or("no .venv-interop: run scripts/setup --test for the Python SDK comparison")?;
    let script = greenroom_test_support::workspace().join("tests/interop/python_peer.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .args([
            "--url",
            url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
        ])
        .args(["--room", room, "--identity", "sdk", "--mode", "join-times"])
        .args(["--count", &runs.to_string(), "--seconds", "30"])
        .args(["--log-level", "ERROR"])
        .stderr(Stdio::inherit());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the Python SDK did not start: {e}"))?;
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if let Some(error) = lines.iter().find(|l| l["event"] == "error") {
        return Err(format!("the Python SDK failed: {}", error["message"]));
    }
    let joins: Vec<f64> = lines
        .iter()
        .filter(|l| l["event"] == "join")
        .filter_map(|l| l["connect_ms"].as_f64())
        .collect();
    if joins.len() != runs {
        return Err(format!(
            "the Python SDK timed {} of {runs} joins ({})",
            joins.len(),
            output.status
        ));
    }
    Ok(joins)
}

/// The p50 of each step over the joins that have it, earliest first (a step some joins
/// lack, like `triggered check sent`, says in how many it happened).
fn step_medians(joins: &[Vec<JoinStep>]) -> Vec<(f64, String)> {
    let mut by_step: Vec<(String, Vec<f64>)> = Vec::new();
    for step in joins.iter().flatten() {
        let name = match step.connection {
            Some(connection) => format!("{connection}: {}", step.step),
            None => step.step.to_string(),
        };
        let ms = step.at.as_secs_f64() * 1000.0;
        match by_step.iter_mut().find(|(n, _)| *n == name) {
            Some((_, times)) => times.push(ms),
            None => by_step.push((name, vec![ms])),
        }
    }
    let mut out: Vec<(f64, String)> = by_step
        .into_iter()
        .map(|(name, mut times)| {
            times.sort_by(f64::total_cmp);
            let name = if times.len() < joins.len() {
                format!("{name} (in {} of {})", times.len(), joins.len())
            } else {
                name
            };
            (percentile(&times, 0.5), name)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[tokio::main]
async fn main() {
    if !livekit_server_present() {
        println!(
            "media benchmark skipped: no livekit-server in tools/bin or on PATH (scripts/setup builds it)"
        );
        return;
    }
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = ParticipantOptions::default();

    let udp_blocked = ParticipantOptions {
        network: NetworkConditions {
            block_udp: true,
            ..Default::default()
        },
        ..Default::default()
    };

    // 1. Echo round trips: our echo peer (over UDP, then over TCP), then the Python SDK's.
    let rust_rtts = rust_echo_round_trips(&target, "echo", &options).await;
    let tcp_rtts = rust_echo_round_trips(&target, "echo-tcp", &udp_blocked).await;
    let mut sender = Participant::join(
        &target.url,
        &token(&target, "echo-python", "sender"),
        &options,
    )
    .await
    .unwrap();
    let python = python_echo(&target.url, &token(&target, "echo-python", "python-echo"));
    let python_rtts = if python.is_some() {
        wait_event(&mut sender, |e| matches!(e, ParticipantEvent::ParticipantJoined { ref identity, .. } if identity == "python-echo").then_some(())).await;
        // The server tells the newcomer about us a moment after it joined (see the interop
        // tests); until then its echoes have no destination. Let that settle.
        tokio::time::sleep(Duration::from_secs(3)).await;
        round_trips(&mut sender, "python-echo").await
    } else {
        vec![]
    };
    if let Some(mut child) = python {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (r50, r95) = p50_p95(rust_rtts.clone());
    println!("echo round trip, reliable data, {} packets:", ECHOES);
    println!(
        "  our participant as echo:       p50 {r50:.2} ms  p95 {r95:.2} ms  ({} answered)",
        rust_rtts.len()
    );
    let (t50, t95) = p50_p95(tcp_rtts.clone());
    println!(
        "  same, UDP blocked (ICE-TCP):   p50 {t50:.2} ms  p95 {t95:.2} ms  ({} answered); TCP / UDP p50 {:.2}×  p95 {:.2}×",
        tcp_rtts.len(),
        t50 / r50,
        t95 / r95
    );
    if !python_rtts.is_empty() {
        let (p50, p95) = p50_p95(python_rtts.clone());
        println!(
            "  Python SDK (livekit 1.2) echo: p50 {p50:.2} ms  p95 {p95:.2} ms  ({} answered)",
            python_rtts.len()
        );
        println!(
            "  ratio ours / Python SDK:       p50 {:.2}×  p95 {:.2}×",
            r50 / p50,
            r95 / p95
        );
    }
    sender.leave().await;

    // 2. Join → first audio heard by a listener already in the room.
    let mut listener = Participant::join(
        &target.url,
        &token(&target, "first-audio", "listener"),
        &options,
    )
    .await
    .unwrap();
    let mut firsts = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        let speaker = Participant::join(
            &target.url,
            &token(&target, "first-audio", &format!("speaker-{i}")),
            &options,
        )
        .await
        .unwrap();
        let track = speaker.publish_audio("tone").await.unwrap();
        let player = tokio::spawn(async move {
            let mut tone = Tone::new(440.0, 0.3);
            let _ = track.play(&mut tone, Some(100), |_, _| {}).await;
        });
        let me = format!("speaker-{i}");
        let heard = wait_event(&mut listener, |e| match e {
            ParticipantEvent::Audio(f) if f.participant == me && !f.concealed => Some(()),
            _ => None,
        })
        .await;
        if heard.is_some() {
            firsts.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        player.abort();
        speaker.leave().await;
    }
    let (f50, f95) = p50_p95(firsts.clone());
    println!(
        "join → first audio frame decoded by a listener (heard in {} of 10 runs; includes the 40 ms playout delay):",
        firsts.len()
    );
    println!("  p50 {f50:.0} ms  p95 {f95:.0} ms");
    listener.leave().await;

    // 2b. Join → ready: ours with UDP open, then blocked (alternating, same room), then the
    // Python SDK's, same server, same run.
    let (mut open, mut blocked, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..10 {
        for (times, opts, how) in [
            (&mut open, &options, "udp"),
            (&mut blocked, &udp_blocked, "tcp"),
        ] {
            let p = Participant::join(
                &target.url,
                &token(&target, "join-times", &format!("{how}-{i}")),
                opts,
            )
            .await
            .unwrap();
            times.push(p.ready_time.as_secs_f64() * 1000.0);
            if how == "udp" {
                steps.push(p.join_steps.clone());
            }
            p.leave().await;
        }
    }
    let sdk = python_joins(&target.url, "join-times-sdk", 10).await;
    let (o50, omin, omax) = p50_min_max(open.clone());
    let (b50, b95) = p50_p95(blocked);
    println!("join → ready, 10 joins each, same server:");
    println!(
        "  ours, UDP open:       p50 {o50:5.1} ms  min {omin:5.1} ms  max {omax:5.1} ms  (both connections up, data channels open)"
    );
    match sdk {
        Ok(sdk) => {
            let (s50, smin, smax) = p50_min_max(sdk);
            println!(
                "  Python SDK connect(): p50 {s50:5.1} ms  min {smin:5.1} ms  max {smax:5.1} ms  (its subscriber connection up)"
            );
            println!(
                "  ratio ours / SDK:     p50 {:.2}×  min {:.2}×  max {:.2}×",
                o50 / s50,
                omin / smin,
                omax / smax
            );
        }
        Err(why) => println!("  Python SDK left out: {why}"),
    }
    println!("  our steps, p50 over the 10 joins (ms from the start of Participant::join):");
    for (ms, step) in step_medians(&steps) {
        println!("    {ms:6.1} ms  {step}");
    }
    println!(
        "  ours, UDP blocked:    p50 {b50:5.0} ms  p95 {b95:5.0} ms  (ICE-TCP after UDP's 300 ms head start; +{:.0} ms at p50)",
        b50 - o50
    );

    // 3. Publishers on this machine until the listener loses more than 1 % of frames.
    println!(
        "publishers → one listener, 4 s each, all in this process (our participant, release build):"
    );
    println!(
        "  {:>10}  {:>16}  {:>18}",
        "publishers", "CPU per stream", "frames concealed"
    );
    for (round, publishers) in [1usize, 2, 4, 8, 16, 24].into_iter().enumerate() {
        let room = format!("load-{round}");
        let mut listener =
            Participant::join(&target.url, &token(&target, &room, "listener"), &options)
                .await
                .unwrap();
        let mut speakers = Vec::new();
        for i in 0..publishers {
            let p = Participant::join(
                &target.url,
                &token(&target, &room, &format!("pub-{i}")),
                &options,
            )
            .await
            .unwrap();
            let track = p.publish_audio("tone").await.unwrap();
            speakers.push((p, track));
        }
        let cpu_before = cpu_time();
        let wall = Instant::now();
        let players: Vec<_> = speakers
            .iter()
            .enumerate()
            .map(|(i, (_, track))| {
                let track = track.clone();
                tokio::spawn(async move {
                    let mut tone = Tone::new(300.0 + 50.0 * i as f64, 0.3);
                    let _ = track.play(&mut tone, Some(200), |_, _| {}).await;
                })
            })
            .collect();
        let (mut frames, mut concealed) = (0u64, 0u64);
        let until = Instant::now() + Duration::from_millis(4300);
        while Instant::now() < until {
            if let Some(ParticipantEvent::Audio(f)) =
                listener.next_event(Duration::from_millis(100)).await
            {
                frames += 1;
                concealed += u64::from(f.concealed);
            }
        }
        for p in players {
            let _ = p.await;
        }
        let cpu = cpu_time().saturating_sub(cpu_before).as_secs_f64();
        let share = if frames == 0 {
            1.0
        } else {
            concealed as f64 / frames as f64
        };
        println!(
            "  {publishers:>10}  {:>13.2} %  {:>12.2} % of {frames}",
            100.0 * cpu / wall.elapsed().as_secs_f64() / publishers as f64,
            share * 100.0
        );
        for (p, _) in speakers {
            p.leave().await;
        }
        listener.leave().await;
        if share > 0.01 {
            break;
        }
    }
    println!(
        "  (CPU per stream: this process's CPU time over the wall time, per publisher, in % of one core; it includes the listener.)"
    );
}
