//! LiveKit-mode benchmark: `cargo bench -p greenroom-talk --bench livekit` (or
//! `scripts/bench`).
//!
//! On the sandbox's real parts: livekit-server, Marie on the official agents framework
//! (`tools/venv-agent`), and the same speech services behind her as behind the direct
//! mode. A learner speaks the same English sentences in real time, in both modes, in the
//! same run. Printed, nothing asserted:
//!
//! 1. **Time to first audio per turn, LiveKit against direct.** The ratio and the
//!    difference. The difference is not only the transport: the agent endpoints the turn
//!    with its own detector (Silero VAD and the framework's delays) where the direct mode
//!    uses ours; the `transport` segment (agent speaking → her first audible frame out of
//!    our jitter buffer) is the transport's own share, printed beside it.
//! 2. **Join → agent joined → first audio of the opening line**, per session: our join
//!    (token to ready), the agent's arrival after it, and her opening's first audible frame
//!    after that.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Cue, Events, Learner, Sandbox, speak_english, talk};
use greenroom_livekit::room_service::{self, Target, TokenOptions};
use greenroom_talk::Catalog;
use greenroom_talk::events::TalkReport;
use greenroom_talk::livekit::{LivekitLink, room_metadata};
use greenroom_talk::segments::SegmentKind;
use greenroom_talk::session::{TalkConfig, TalkSession};
use greenroom_test_support::{LiveKitServer, percentile};
use greenroom_voice::{AudioOut, RecordingOutput};

const SAID: [&str; 3] = [
    "Thank you for coming today, I want to talk about our new project.",
    "Please tell me how I can speak more clearly during the meeting.",
    "I think the budget is too high for our small team this year.",
];
const SESSIONS: usize = 3;

fn config() -> TalkConfig {
    let catalog = Catalog::builtin();
    let (e, c) = catalog.pick(Some("presentation")).unwrap();
    let mut config = TalkConfig::new(e.clone(), c.clone());
    config.seed = Some(11);
    config
}

fn utterances() -> Vec<(Cue, Vec<f32>)> {
    SAID.iter()
        .enumerate()
        .map(|(k, s)| (Cue::AfterTurns(k), speak_english(s)))
        .collect()
}

async fn livekit_session(server: &LiveKitServer, room: &str) -> TalkReport {
    let target = Target::new(&server.url(), "devkey", "secret");
    let mut config = config();
    config.mode = "livekit".into();
    config.hold_input_during_opening = true;
    let metadata = room_metadata(&config.character, &config.exercise).to_string();
    room_service::create_room(&target, room, &metadata, 60)
        .await
        .expect("the room is created");
    let token = room_service::token(&target, room, "bench-learner", &TokenOptions::participant())
        .expect("a token");
    let mut link = LivekitLink::new(&server.url(), &token, room);
    link.token_source = "minted".into();
    let events = Arc::new(Events::default());
    let output = Arc::new(RecordingOutput::new());
    let learner = Learner::new(
        utterances(),
        config.turns_done.clone(),
        output.clone() as Arc<dyn AudioOut>,
        SAID.len(),
    );
    let session =
        TalkSession::start_livekit(config, link, Box::new(learner), output, events.clone())
            .expect("the session starts");
    match tokio::time::timeout(Duration::from_secs(240), session.finished()).await {
        Ok(report) => report,
        Err(_) => panic!(
            "a LiveKit talk of three turns did not end within 4 minutes; its events:\n{:#?}",
            events
                .snapshot()
                .into_iter()
                .filter(|e| !matches!(e, greenroom_talk::TalkEvent::Level { .. }))
                .collect::<Vec<_>>()
        ),
    }
}

fn ttfa(report: &TalkReport) -> Vec<f64> {
    report
        .turns
        .iter()
        .filter_map(|t| t.figures.time_to_first_audio_ms)
        .collect()
}

fn segment(reports: &[TalkReport], kind: SegmentKind) -> Vec<f64> {
    reports
        .iter()
        .flat_map(|r| &r.turns)
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

fn line(label: &str, mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        println!("  {label:<46} (no sample)");
        return None;
    }
    v.sort_by(f64::total_cmp);
    let p50 = percentile(&v, 0.5);
    println!(
        "  {label:<46} p50 {p50:8.1} ms   min {:8.1} ms   max {:8.1} ms   (n={})",
        v[0],
        v[v.len() - 1],
        v.len()
    );
    Some(p50)
}

fn main() {
    let tools = greenroom_test_support::tool_dirs();
    let Some(agent_python) = greenroom_sandbox::agent::locate_python(&tools) else {
        println!(
            "livekit bench skipped: the agent virtualenv tools/venv-agent is missing (scripts/setup)"
        );
        return;
    };
    if greenroom_sandbox::stt::locate_python(&tools).is_none() {
        println!(
            "livekit bench skipped: the speech virtualenv tools/venv-speech is missing (scripts/setup)"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(agent_python));
}

async fn bench(agent_python: std::path::PathBuf) {
    let sandbox = Sandbox::start().await;
    let server = LiveKitServer::start();
    let dir = tempfile::tempdir().unwrap();
    let _marie = greenroom_sandbox::local::LocalMarie::start(
        &agent_python,
        dir.path(),
        sandbox.speech(),
        (&server.url(), "devkey", "secret"),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    println!("talk through LiveKit against direct, same speech services, same sentences:");
    let mut direct = Vec::new();
    for _ in 0..SESSIONS {
        let mut c = config();
        c.speak_opening = false;
        direct.push(
            talk(c, &sandbox.endpoints(), utterances(), SAID.len())
                .await
                .0,
        );
    }
    let mut livekit = Vec::new();
    for i in 0..SESSIONS {
        livekit.push(livekit_session(&server, &format!("bench-livekit-{i}")).await);
    }
    let d = line(
        "time to first audio, direct",
        direct.iter().flat_map(ttfa).collect(),
    );
    let l = line(
        "time to first audio, LiveKit (agent)",
        livekit.iter().flat_map(ttfa).collect(),
    );
    if let (Some(d), Some(l)) = (d, l) {
        println!(
            "  ratio LiveKit / direct (p50)                   {:.2}×   difference {:+.0} ms",
            l / d,
            l - d
        );
    }
    println!("  LiveKit turns, segment by segment:");
    for kind in SegmentKind::VIA_AGENT {
        line(&format!("  {}", kind.label()), segment(&livekit, kind));
    }
    let failed: usize = livekit.iter().map(|r| r.summary.failed as usize).sum();
    let answered: usize = livekit.iter().map(|r| r.summary.completed as usize).sum();
    println!("  LiveKit turns answered {answered}, failed {failed}");

    println!("join → agent joined → first audio of the opening line ({SESSIONS} sessions):");
    let lk: Vec<_> = livekit.iter().filter_map(|r| r.livekit.clone()).collect();
    line(
        "our join (token → ready)",
        lk.iter().filter_map(|l| l.join_ms).collect(),
    );
    line(
        "joined → agent in the room",
        lk.iter()
            .filter_map(|l| Some((l.agent_joined_at_ms? - l.joined_at_ms?).max(0.0)))
            .collect(),
    );
    line(
        "agent in the room → opening's first audio",
        lk.iter()
            .filter_map(|l| Some(l.opening_first_audio_at_ms? - l.agent_joined_at_ms?))
            .collect(),
    );
    line(
        "session start → opening's first audio",
        lk.iter()
            .filter_map(|l| l.opening_first_audio_at_ms)
            .collect(),
    );
}
