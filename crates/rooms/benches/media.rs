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
//!    decoded frame of its track at a listener already in the room. Then **join → ready**
//!    ([`Participant::join`] returning), 10 times each with UDP open and UDP blocked: what
//!    the TCP fallback costs. It includes UDP's 300 ms head start and the server's ICE agent
//!    (pion), which nominates the subscriber's TCP pair, peer-reflexive to it since an
//!    active candidate's real port is only known once connected, after about a second.
//! 3. **Publishers on 2 cores**: P publishers (1, 2, 4, 8, 16, 24) each sending a tone to
//!    one listener for 4 s, all in this process: CPU time per published stream, and the
//!    share of the listener's frames that were concealed (lost or late); it stops after
//!    the first P above 1 %.
//!
//! Figures are printed; nothing is asserted (benchmarks measure, tests check).

use greenroom_livekit::room_service::{self as service, Target, TokenOptions};
use greenroom_rooms::audio::Tone;
use greenroom_rooms::participant::{
    DataOptions, NetworkConditions, Participant, ParticipantEvent, ParticipantOptions,
};
use greenroom_test_support::{LiveKitServer, percentile};
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

fn python_echo(url: &str, token: &str) -> Option<Child> {
    let root = greenroom_test_support::workspace();
    let python = root.join(".venv-interop/bin/python");
    if !python.exists() {
        println!("  (no .venv-interop: run scripts/setup --test for the Python SDK comparison)");
        return None;
    }
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

#[tokio::main]
async fn main() {
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

    // 2b. Join → ready with UDP open, then blocked (alternating, same room, same run).
    let (mut open, mut blocked) = (Vec::new(), Vec::new());
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
            p.leave().await;
        }
    }
    let (o50, o95) = p50_p95(open);
    let (b50, b95) = p50_p95(blocked);
    println!("join → ready (publisher and subscriber data channels open), 10 each:");
    println!("  UDP open:    p50 {o50:.0} ms  p95 {o95:.0} ms");
    println!(
        "  UDP blocked: p50 {b50:.0} ms  p95 {b95:.0} ms  (ICE-TCP after UDP's 300 ms head start; +{:.0} ms at p50)",
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
