//! The direct mode for real: a learner (English speech from espeak-ng, in real time) talks
//! through the session to the sandbox's faster-whisper STT (a child process), offline coach
//! and espeak-ng TTS (served over HTTP on 127.0.0.1). Marie's voice goes to a recording
//! output, so what she said, when, and where she was cut off is known exactly.

mod common;

use std::time::Duration;

use common::{Cue, Fault, FaultyService, Sandbox, origin, path, speak_english, talk};
use greenroom_talk::events::{TalkEvent, TalkReport, TalkState};
use greenroom_talk::segments::SegmentKind;
use greenroom_talk::services::{Endpoints, Service, Timeouts};
use greenroom_talk::session::TalkConfig;
use greenroom_talk::{Catalog, TurnReport};
use greenroom_voice::wer::word_error_rate;

// Sentences faster-whisper tiny.en hears right from espeak-ng (its WER on espeak-ng voices
// is about 11 % over many words; these two come back whole).
const SAID: [&str; 2] = [
    "Thank you for coming today, I want to talk about our new project.",
    "Please tell me how I can speak more clearly during the meeting.",
];

fn config(exercise: &str) -> TalkConfig {
    let catalog = Catalog::builtin();
    let (e, c) = catalog.pick(Some(exercise)).unwrap();
    let mut config = TalkConfig::new(e.clone(), c.clone());
    config.seed = Some(7);
    config.hold_input_during_opening = true;
    config
}

fn segment_sum(turn: &TurnReport) -> f64 {
    turn.segments().iter().map(|s| s.ms).sum()
}

fn ms_of(turn: &TurnReport, kind: SegmentKind) -> f64 {
    turn.segments()
        .iter()
        .find(|s| s.kind == kind)
        .map_or(0.0, |s| s.ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_talks_with_marie_through_the_sandbox() {
    let sandbox = Sandbox::start().await;
    let record = tempfile::tempdir().unwrap();
    let dir = record.path().join("session");
    let mut config = config("conversation_libre");
    config.record_dir = Some(dir.clone());
    let utterances = vec![
        (Cue::AfterTurns(0), speak_english(SAID[0])),
        (Cue::AfterTurns(1), speak_english(SAID[1])),
    ];
    let (report, events, output) = talk(config, &sandbox.endpoints(), utterances, 2).await;

    assert_eq!(report.schema, "greenroom.talk/1");
    assert_eq!(report.ended_because, "input ended");
    assert!(report.opening.as_deref().unwrap().starts_with("Bonjour"));
    assert_eq!(report.turns.len(), 2, "{report:#?}");
    for (turn, said) in report.turns.iter().zip(SAID) {
        assert!(turn.error.is_none(), "{:?}", turn.error);
        assert!(!turn.interrupted);
        let wer = word_error_rate(said, &turn.learner_text);
        println!(
            "turn {}: WER {:.3} ({:?}); Marie: {:?}",
            turn.index, wer.rate, turn.learner_text, turn.marie_text
        );
        assert!(
            wer.rate <= 0.25,
            "heard {:?} for {said:?}",
            turn.learner_text
        );
        assert!(
            turn.marie_text.chars().count() > 10,
            "{:?}",
            turn.marie_text
        );
        // The segments are contiguous and add up to the time to first audio.
        let ttfa = turn
            .figures
            .time_to_first_audio_ms
            .expect("Marie was heard");
        assert!((segment_sum(turn) - ttfa).abs() < 1e-6);
        let kinds: Vec<SegmentKind> = turn.segments().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, SegmentKind::DIRECT.to_vec(), "every stage happened");
        // The end of speech took the delay, give or take a 16 ms frame and a 20 ms chunk.
        let eou = ms_of(turn, SegmentKind::EndOfUtterance);
        assert!((eou - 800.0).abs() <= 40.0, "end of utterance {eou} ms");
        assert!(ms_of(turn, SegmentKind::Stt) > 0.0);
        println!(
            "turn {}: first audio after {ttfa:.0} ms, Greenroom's share {:.1} ms: {:?}",
            turn.index,
            turn.figures.overhead_ms,
            turn.segments()
        );
    }
    // The coach answered what was said: its second reply differs from its first.
    assert_ne!(report.turns[0].marie_text, report.turns[1].marie_text);
    assert_eq!(report.summary.completed, 2);

    // Marie was heard: the opening and at least one clip per turn, with sound in them.
    let clips = output.clips();
    assert!(clips.len() >= 3, "{} clips", clips.len());
    let heard = output.heard();
    let rms = (heard.iter().map(|s| s * s).sum::<f32>() / heard.len() as f32).sqrt();
    assert!(rms > 0.02, "Marie's voice has energy (rms {rms})");

    // The states went round the turn, in order, twice.
    let states: Vec<TalkState> = events
        .iter()
        .filter_map(|e| match e {
            TalkEvent::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    let round = [
        TalkState::Listening,
        TalkState::LearnerSpeaking,
        TalkState::EndOfSpeech,
        TalkState::Transcribing,
        TalkState::Thinking,
        TalkState::Speaking,
        TalkState::Listening,
    ];
    let rounds = states.windows(round.len()).filter(|w| *w == round).count();
    assert_eq!(rounds, 2, "{states:?}");
    assert_eq!(states.last(), Some(&TalkState::Ended));
    // Levels: both sides, at most 15 a second per side.
    let levels = |side| {
        events
            .iter()
            .filter(|e| matches!(e, TalkEvent::Level { side: s, .. } if *s == side))
            .count()
    };
    let learner_levels = levels(greenroom_talk::events::Side::Learner);
    let marie_levels = levels(greenroom_talk::events::Side::Marie);
    let seconds = report.duration_ms / 1000.0;
    assert!(learner_levels > 0 && marie_levels > 0);
    assert!(
        learner_levels as f64 <= 15.0 * seconds + 1.0,
        "{learner_levels} learner levels in {seconds:.1} s"
    );
    // Marie's reply streamed: partial texts before the final one.
    assert!(events.iter().any(|e| matches!(
        e,
        TalkEvent::Text {
            is_final: false,
            ..
        }
    )));

    // The recording: both sides as WAV, the transcript with each turn's stages, the report.
    for wav in ["learner.wav", "marie.wav"] {
        let seconds = common::wav_seconds(&dir.join(wav));
        assert!(seconds > 3.0, "{wav} holds {seconds} s");
    }
    let transcript: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("transcript.json")).unwrap()).unwrap();
    assert_eq!(transcript["schema"], "greenroom.talk-session/1");
    let turns = transcript["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns[0]["stages"].as_array().unwrap().len() >= 8);
    assert_eq!(
        turns[1]["learner_text"],
        report.turns[1].learner_text.as_str()
    );
    let saved: TalkReport =
        serde_json::from_slice(&std::fs::read(dir.join("session.json")).unwrap()).unwrap();
    assert_eq!(saved, report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_over_marie_stops_her_at_once_and_the_turn_says_so() {
    let sandbox = Sandbox::start().await;
    let mut config = config("entretien");
    config.speak_opening = false;
    let utterances = vec![
        (Cue::AfterTurns(0), speak_english(SAID[0])),
        (
            Cue::WhileMarieSpeaks(Duration::from_millis(500)),
            speak_english(SAID[1]),
        ),
    ];
    let (report, _, output) = talk(config, &sandbox.endpoints(), utterances, 2).await;
    assert_eq!(report.turns.len(), 2, "{report:#?}");
    let cut = &report.turns[0];
    assert!(cut.interrupted, "{cut:#?}");
    let stop = cut.barge_in_stop_ms.expect("a barge-in during playback");
    println!("speech onset → playback stopped: {stop:.1} ms");
    assert!(
        stop < 100.0,
        "Marie stopped {stop} ms after the learner spoke"
    );
    assert!(!output.stops().is_empty());
    // What sounded of the first reply is shorter than the reply.
    let first = &output.clips()[0];
    assert!(first.stopped_at.is_some(), "the first clip was cut");
    assert!(first.heard().len() < first.samples.len());
    // The learner's words were understood, and Marie answered them.
    let next = &report.turns[1];
    assert!(!next.interrupted && next.error.is_none(), "{next:#?}");
    assert!(word_error_rate(SAID[1], &next.learner_text).rate <= 0.25);
    assert_eq!(report.summary.interrupted, 1);

    // Speaking over Marie's opening line stops it too, and the learner's turn goes on.
    let mut over_opening = self::config("presentation");
    over_opening.hold_input_during_opening = false;
    let utterances = vec![(
        Cue::WhileMarieSpeaks(Duration::from_millis(500)),
        speak_english(SAID[0]),
    )];
    let (report, _, output) = talk(over_opening, &sandbox.endpoints(), utterances, 1).await;
    let opening = &output.clips()[0];
    assert!(opening.stopped_at.is_some(), "the opening was cut");
    assert!(opening.heard().len() < opening.samples.len());
    assert_eq!(report.turns.len(), 1, "{report:#?}");
    assert!(!report.turns[0].interrupted && report.turns[0].error.is_none());
    assert!(word_error_rate(SAID[0], &report.turns[0].learner_text).rate <= 0.25);
}

/// Endpoints where `service` goes through `base` (a faulty service or a closed port).
fn with(endpoints: &Endpoints, service: Service, base: &str) -> Endpoints {
    let mut e = endpoints.clone();
    match service {
        Service::Stt => e.stt.url = format!("{base}{}", path(&endpoints.stt.url)),
        Service::Llm => e.chat.base_url = format!("{base}{}", path(&endpoints.chat.base_url)),
        Service::Tts => e.tts.base_url = format!("{base}{}", path(&endpoints.tts.base_url)),
        Service::Agent => unreachable!("the direct mode has no agent"),
    }
    e
}

fn upstream(endpoints: &Endpoints, service: Service) -> String {
    origin(match service {
        Service::Stt => &endpoints.stt.url,
        Service::Llm => &endpoints.chat.base_url,
        Service::Tts => &endpoints.tts.base_url,
        Service::Agent => unreachable!("the direct mode has no agent"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_fails_its_turn_clearly_and_nothing_hangs() {
    let sandbox = Sandbox::start().await;
    let mut endpoints = sandbox.endpoints();
    endpoints.timeouts = Timeouts {
        connect: Duration::from_secs(1),
        stt: Duration::from_secs(20),
        llm_first_token: Duration::from_secs(2),
        llm_total: Duration::from_secs(4),
        tts: Duration::from_secs(2),
    };
    let closed = format!("http://127.0.0.1:{}", greenroom_test_support::free_port());
    let utterance = speak_english(SAID[0]);
    // The nine cases run side by side (they share the one STT child, which takes one
    // request at a time): each is a whole talk of one turn.
    let mut cases = Vec::new();
    for service in [Service::Stt, Service::Llm, Service::Tts] {
        for fault in ["down", "http_500", "timeout"] {
            let (endpoints, closed, utterance) =
                (endpoints.clone(), closed.clone(), utterance.clone());
            cases.push(async move {
                let mut e = endpoints;
                // The STT's own timeout is long (whisper on a busy CI box); a stuck one is
                // tested against a short one.
                if service == Service::Stt {
                    e.timeouts.stt = Duration::from_secs(2);
                }
                let faulty = match fault {
                    "http_500" => {
                        Some(FaultyService::start(Fault::Http500, &upstream(&e, service)).await)
                    }
                    "timeout" => {
                        Some(FaultyService::start(Fault::Hang, &upstream(&e, service)).await)
                    }
                    _ => None,
                };
                let base = faulty.as_ref().map_or(closed, |f| f.base.clone());
                let e = with(&e, service, &base);
                let mut config = config("conversation_libre");
                config.speak_opening = false;
                let (report, events, _) =
                    talk(config, &e, vec![(Cue::AfterTurns(0), utterance)], 1).await;
                (service, fault, base, report, events)
            });
        }
    }
    for (service, fault, base, report, events) in futures_util::future::join_all(cases).await {
        let turn = &report.turns[0];
        let error = turn
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{service:?} {fault}: {turn:#?}"));
        println!("{service:?} {fault}: {}", error.message);
        assert_eq!(error.service, service);
        assert_eq!(error.tag, fault, "{}", error.message);
        assert!(
            error.message.contains(&base),
            "names the URL: {}",
            error.message
        );
        assert!(error.message.contains(service.label()), "{}", error.message);
        // The coach saw it as a notice, and the session went back to listening.
        assert!(
            events.iter().any(
                |ev| matches!(ev, TalkEvent::Notice { service: Some(s), .. } if *s == service)
            )
        );
        assert_eq!(report.ended_because, "input ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_talk_survives_a_failed_turn_and_delays_land_in_their_segment() {
    let sandbox = Sandbox::start().await;
    let endpoints = sandbox.endpoints();
    // The conversation service fails once, then answers: the second turn is fine.
    let flaky =
        FaultyService::start(Fault::FailFirst(1), &upstream(&endpoints, Service::Llm)).await;
    let e = with(&endpoints, Service::Llm, &flaky.base);
    let mut config = config("negociation");
    config.speak_opening = false;
    let utterances = vec![
        (Cue::AfterTurns(0), speak_english(SAID[0])),
        (Cue::AfterTurns(1), speak_english(SAID[1])),
    ];
    let (report, _, _) = talk(config.clone(), &e, utterances, 2).await;
    assert_eq!(report.turns.len(), 2, "{report:#?}");
    assert_eq!(
        report.turns[0].error.as_ref().map(|e| e.tag.as_str()),
        Some("http_500"),
        "{report:#?}"
    );
    assert!(report.turns[1].error.is_none(), "{:#?}", report.turns[1]);
    assert!(report.turns[1].figures.time_to_first_audio_ms.is_some());
    assert_eq!((report.summary.failed, report.summary.completed), (1, 1));

    // A known delay in front of each service shows in that service's segment.
    let delay = Duration::from_millis(400);
    let cases = [
        (Service::Stt, SegmentKind::Stt),
        (Service::Llm, SegmentKind::LlmFirstToken),
        (Service::Tts, SegmentKind::TtsFirstByte),
    ]
    .map(|(service, kind)| {
        let (endpoints, config) = (endpoints.clone(), config.clone());
        async move {
            let slow =
                FaultyService::start(Fault::Delay(delay), &upstream(&endpoints, service)).await;
            let e = with(&endpoints, service, &slow.base);
            let said = vec![(Cue::AfterTurns(0), speak_english(SAID[1]))];
            let (report, _, _) = talk(config, &e, said, 1).await;
            (service, kind, report)
        }
    });
    for (service, kind, report) in futures_util::future::join_all(cases).await {
        let turn = &report.turns[0];
        assert!(turn.error.is_none(), "{turn:#?}");
        let ms = ms_of(turn, kind);
        println!("{service:?} delayed by {delay:?}: {kind:?} {ms:.1} ms");
        assert!(ms >= delay.as_millis() as f64, "{kind:?} took {ms} ms");
        let ttfa = turn.figures.time_to_first_audio_ms.unwrap();
        assert!((segment_sum(turn) - ttfa).abs() < 1e-6);
    }
}
