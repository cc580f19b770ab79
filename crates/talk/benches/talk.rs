//! Talk benchmark: `cargo bench -p greenroom-talk --bench talk` (or `scripts/bench`).
//!
//! The sandbox's real services (faster-whisper STT as a child process, the offline coach
//! and espeak-ng TTS over HTTP on 127.0.0.1) and a learner speaking English in real time
//! into the session; Marie's voice goes to a recording output. Printed, nothing asserted:
//!
//! 1. **Greenroom's own overhead per turn**: the `overhead` segment (every gap between the
//!    services' and the devices' segments: handing the utterance over, encoding it,
//!    decoding the reply's audio, queueing it), over 6 turns.
//! 2. **Time to first audio, streaming against waiting**: the coach paced like a real LLM
//!    (40 ms a word); the same replies (same seed) spoken from their first sentence
//!    against once whole. The ratio is streaming / whole, same process, same services.
//! 3. **A live microphone, idle** (a private PulseAudio daemon: the fake microphone and
//!    speaker of the tests, through cpal and rodio): for 10 s of a talk that listens and
//!    nobody speaks, the capture-to-frame delay (a chunk's last sample captured → the chunk
//!    in the session) and this process's CPU, against 10 s of the same process with no
//!    talk (the baseline). The webview's own CPU is not in it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Cue, Events, Sandbox, speak_english, talk};
use greenroom_talk::Catalog;
use greenroom_talk::events::TalkReport;
use greenroom_talk::segments::SegmentKind;
use greenroom_talk::session::{DirectPipeline, ReplyStrategy, TalkConfig, TalkSession};
use greenroom_test_support::percentile;

const SAID: [&str; 3] = [
    "Thank you for coming today, I want to talk about our new project.",
    "Please tell me how I can speak more clearly during the meeting.",
    "I think the budget is too high for our small team this year.",
];

async fn run(sandbox: &Sandbox, reply: ReplyStrategy, turns: usize) -> TalkReport {
    let catalog = Catalog::builtin();
    let (e, c) = catalog.pick(Some("presentation")).unwrap();
    let mut config = TalkConfig::new(e.clone(), c.clone());
    config.seed = Some(11);
    config.speak_opening = false;
    config.reply = reply;
    let utterances = (0..turns)
        .map(|k| (Cue::AfterTurns(k), speak_english(SAID[k % SAID.len()])))
        .collect();
    talk(config, &sandbox.endpoints(), utterances, turns)
        .await
        .0
}

fn stats(label: &str, mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let p50 = percentile(&v, 0.5);
    println!(
        "  {label:<44} p50 {p50:8.1} ms   p95 {:8.1} ms   max {:8.1} ms   (n={})",
        percentile(&v, 0.95),
        v.last().copied().unwrap_or(0.0),
        v.len()
    );
    p50
}

fn segment(report: &TalkReport, kind: SegmentKind) -> Vec<f64> {
    report
        .turns
        .iter()
        .filter(|t| t.figures.time_to_first_audio_ms.is_some())
        .map(|t| {
            t.segments()
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| s.ms)
                .sum()
        })
        .collect()
}

/// This process's CPU time (user + system), from /proc (Linux only).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux we run on.
    Some(Duration::from_millis(ticks * 10))
}

async fn cpu_share(over: Duration) -> Option<f64> {
    let (cpu0, t0) = (cpu_time()?, std::time::Instant::now());
    tokio::time::sleep(over).await;
    let (cpu1, t1) = (cpu_time()?, std::time::Instant::now());
    Some((cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64() * 100.0)
}

async fn live_microphone(sandbox: &Sandbox) {
    use greenroom_voice::device::{DeviceChoice, Microphone, Speaker};
    println!("3. A live microphone, nobody speaking (PulseAudio fake microphone and speaker):");
    let idle = Duration::from_secs(10);
    let baseline = cpu_share(idle).await;
    let microphone = Microphone::open(DeviceChoice::Default).expect("the fake microphone opens");
    let speaker = Speaker::open(DeviceChoice::Default).expect("the fake speaker opens");
    let catalog = Catalog::builtin();
    let (e, c) = catalog.pick(None).unwrap();
    let mut config = TalkConfig::new(e.clone(), c.clone());
    config.speak_opening = false;
    let session = TalkSession::start(
        config,
        DirectPipeline::new(&sandbox.endpoints(), "bench"),
        Box::new(microphone),
        Arc::new(speaker),
        Arc::new(Events::default()),
    )
    .expect("the session starts");
    // Let it settle (the first chunks, the detector's priming), then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let live = cpu_share(idle).await;
    let stats = session.capture_stats();
    session.control().stop();
    session.finished().await;
    stats_line("capture → frame in the session", stats.delays_ms);
    match (baseline, live) {
        (Some(b), Some(l)) => println!(
            "  CPU of this process: {l:.2} % of one core with the talk listening, {b:.2} % without (baseline); the talk's share {:.2} %",
            l - b
        ),
        _ => println!("  CPU: not measured on this platform (/proc is Linux's)"),
    }
}

/// Sound through the devices and back: our speaker plays a 1 kHz burst into the fake
/// speaker, our microphone listens to that speaker's monitor; from `play()` (and from the
/// instant the output pulled the burst's first sample) to the chunk holding the burst's
/// onset in our hands. Both devices' buffers and PulseAudio's routing are in it.
fn loopback() {
    use greenroom_voice::device::{DeviceChoice, Microphone, Speaker};
    use greenroom_voice::{AudioIn, AudioOut, Next};
    println!(
        "4. Sound through the devices: our speaker → PulseAudio → our microphone (the speaker's monitor):"
    );
    let mut microphone = Microphone::open(DeviceChoice::Id("pulseaudio:speaker.monitor".into()))
        .expect("the speaker's monitor opens as a microphone");
    let speaker = Speaker::open(DeviceChoice::Default).expect("the fake speaker opens");
    let rate = 48_000;
    let burst: Vec<f32> = (0..rate / 20)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
        .collect();
    let (mut from_play, mut from_pulled) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        // Drain, so the next loud chunk is this burst's.
        while let Ok(Next::Chunk(_)) = microphone.next_chunk(Duration::from_millis(1)) {}
        let played = std::time::Instant::now();
        speaker.play(burst.clone(), rate).expect("the burst plays");
        let deadline = played + Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            if let Ok(Next::Chunk(c)) = microphone.next_chunk(Duration::from_millis(50))
                && c.samples.iter().any(|s| s.abs() > 0.1)
            {
                let arrived = std::time::Instant::now();
                from_play.push((arrived - played).as_secs_f64() * 1000.0);
                if let Some(pulled) = speaker.last_started_at().filter(|t| *t >= played) {
                    from_pulled.push((arrived - pulled).as_secs_f64() * 1000.0);
                }
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stats_line("play() → onset chunk in hand", from_play);
    stats_line(
        "first sample pulled by the output → onset chunk",
        from_pulled,
    );
}

fn stats_line(label: &str, v: Vec<f64>) {
    if v.is_empty() {
        println!("  {label}: no sample");
    } else {
        stats(label, v);
    }
}

fn main() {
    // The fake sound server, before any thread exists: cpal reads its address from the
    // environment.
    let audio = greenroom_test_support::fake_mic::FakeAudio::start();
    audio.install_in_process_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(bench());
    loopback();
    drop(audio);
}

async fn bench() {
    println!("talk: the sandbox's services, a learner in real time, Marie to a recording output");
    let sandbox = Sandbox::start().await;
    let report = run(&sandbox, ReplyStrategy::FirstSentence, 6).await;
    println!(
        "1. Greenroom's own overhead per turn ({} turns):",
        report.turns.len()
    );
    stats(
        "overhead (excluding the services)",
        segment(&report, SegmentKind::Overhead),
    );
    stats(
        "speech-to-text (faster-whisper, for scale)",
        segment(&report, SegmentKind::Stt),
    );
    stats(
        "time to first audio (for scale)",
        report
            .turns
            .iter()
            .filter_map(|t| t.figures.time_to_first_audio_ms)
            .collect(),
    );
    drop(sandbox);

    let paced = greenroom_sandbox::chat_server::ChatServerConfig {
        token_delay: Duration::from_millis(40),
    };
    let sandbox = Sandbox::start_with(paced).await;
    println!("2. Time to first audio, the coach paced at 40 ms a word:");
    let mut p50s = Vec::new();
    for (label, strategy) in [
        (
            "from the first sentence (streaming)",
            ReplyStrategy::FirstSentence,
        ),
        (
            "once the reply is whole (baseline)",
            ReplyStrategy::WholeReply,
        ),
    ] {
        let report = run(&sandbox, strategy, 4).await;
        // From the transcript to the first audio: what the strategy changes.
        let after_stt: Vec<f64> = report
            .turns
            .iter()
            .filter_map(|t| {
                let ttfa = t.figures.time_to_first_audio_ms?;
                let before: f64 = t
                    .segments()
                    .iter()
                    .filter(|s| matches!(s.kind, SegmentKind::EndOfUtterance | SegmentKind::Stt))
                    .map(|s| s.ms)
                    .sum();
                Some(ttfa - before)
            })
            .collect();
        p50s.push(stats(
            &format!("{label}: transcript → first audio"),
            after_stt,
        ));
        p50s.push(stats(
            &format!("{label}: end of speech → first audio"),
            report
                .turns
                .iter()
                .filter_map(|t| t.figures.time_to_first_audio_ms)
                .collect(),
        ));
    }
    if let [s_reply, s_total, w_reply, w_total] = p50s[..] {
        println!(
            "  ratio streaming / whole, transcript → first audio (p50): {:.2}",
            s_reply / w_reply
        );
        println!(
            "  ratio streaming / whole, end of speech → first audio (p50): {:.2}",
            s_total / w_total
        );
    }
    live_microphone(&sandbox).await;
}
