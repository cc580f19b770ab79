//! LiveKit mode's barge-in, on real parts: livekit-server, Marie on the official agents
//! framework, the sandbox's speech services. Barge-in is the agent's decision there: a
//! learner who speaks over her reply is heard by her agent, which stops her; the session
//! records the turn as interrupted, with the time from the learner's first word to her
//! last audible frame.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Cue, Events, Learner, Sandbox, speak_english};
use greenroom_livekit::room_service::{self, Target, TokenOptions};
use greenroom_talk::Catalog;
use greenroom_talk::livekit::{LivekitLink, room_metadata};
use greenroom_talk::session::{TalkConfig, TalkSession};
use greenroom_test_support::LiveKitServer;
use greenroom_voice::{AudioOut, RecordingOutput};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_who_speaks_over_marie_is_heard_by_her_agent_and_she_stops() {
    let sandbox = Sandbox::start().await;
    let server = LiveKitServer::start();
    let dir = tempfile::tempdir().unwrap();
    let python = greenroom_sandbox::agent::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the agent virtualenv tools/venv-agent: run scripts/setup");
    let marie = greenroom_sandbox::local::LocalMarie::start(
        &python,
        dir.path(),
        sandbox.speech(),
        (&server.url(), "devkey", "secret"),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let catalog = Catalog::builtin();
    let (exercise, character) = catalog.pick(Some("presentation")).unwrap();
    let mut config = TalkConfig::new(exercise.clone(), character.clone());
    config.mode = "livekit".into();
    config.hold_input_during_opening = true;
    let target = Target::new(&server.url(), "devkey", "secret");
    let room = "barge-in";
    room_service::create_room(
        &target,
        room,
        &room_metadata(character, exercise).to_string(),
        60,
    )
    .await
    .unwrap();
    let token =
        room_service::token(&target, room, "learner", &TokenOptions::participant()).unwrap();
    let output = Arc::new(RecordingOutput::new());
    // A question, then, a second into her answer, a long sentence over it.
    let learner = Learner::new(
        vec![
            (
                Cue::AfterTurns(0),
                speak_english("Thank you for coming today, I want to talk about our new project."),
            ),
            (
                Cue::WhileMarieSpeaks(Duration::from_millis(1200)),
                speak_english(
                    "Sorry to interrupt you, but I really need to ask about the budget and the deadline for the whole team right now.",
                ),
            ),
        ],
        config.turns_done.clone(),
        output.clone() as Arc<dyn AudioOut>,
        2,
    );
    let events = Arc::new(Events::default());
    let session = TalkSession::start_livekit(
        config,
        LivekitLink::new(&server.url(), &token, room),
        Box::new(learner),
        output,
        events.clone(),
    )
    .unwrap();
    let report = tokio::time::timeout(common::AT_MOST, session.finished())
        .await
        .unwrap_or_else(|_| panic!("the talk did not end: {:#?}", events.snapshot()));
    assert!(report.turns.len() >= 2, "{report:#?}\n{}", marie.log());
    let first = &report.turns[0];
    assert!(first.interrupted, "{first:#?}\n{}", marie.log());
    let stop = first
        .barge_in_stop_ms
        .expect("when she stopped is recorded");
    assert!(stop > 0.0, "{first:#?}");
    assert!(
        first.figures.time_to_first_audio_ms.is_some(),
        "she had started answering"
    );
    // The words said over her open the next turn, which she answers.
    let second = &report.turns[1];
    assert!(
        second.error.is_none() && !second.learner_text.is_empty(),
        "{second:#?}"
    );
    println!("Marie stopped {stop:.0} ms after the learner started speaking over her");
}
