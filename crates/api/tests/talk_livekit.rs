//! LiveKit mode end to end, on real servers: the real `livekit-server`, Marie on the
//! official agents framework (`crates/sandbox/agent/marie.py` in `tools/venv-agent`), the
//! sandbox's real speech services behind her, and our talk session fed an English script.
//! Plus the faults a coach meets: no worker, an agent name nobody serves, the token
//! service down, the agent killed mid-turn. And the official Python SDK as a second
//! learner in the same room, hearing Marie too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenroom_api::{
    Api, ApiEvent, AppHome, EventEnvelope, EventSink, SettingsPatch, TalkInput, TalkOutput,
    TalkRequest, TalkServiceOverrides,
};
use greenroom_talk::events::{AgentPresence, TalkEvent, TalkReport};
use greenroom_talk::segments::SegmentKind;
use greenroom_test_support::{LiveKitServer, free_port, wait_until};
use greenroom_voice::wer::word_error_rate;

const SAID: &str = "Thank you for coming today, I want to talk about our new project.";
const AGAIN: &str = "Please tell me how I can speak more clearly during the meeting.";

/// Every API event, kept for the test to look at.
#[derive(Default)]
struct Events(Mutex<Vec<ApiEvent>>);

impl EventSink<EventEnvelope> for Events {
    fn emit(&self, envelope: EventEnvelope) {
        self.0.lock().unwrap().push(envelope.event);
    }
}

impl Events {
    fn talk(&self) -> Vec<TalkEvent> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                ApiEvent::Talk { event, .. } => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    fn agent_identity(&self) -> Option<String> {
        self.talk().into_iter().find_map(|e| match e {
            TalkEvent::Agent {
                presence: AgentPresence::Joined,
                identity,
                ..
            } => identity,
            _ => None,
        })
    }
}

/// An API on `server`, with its keys in Settings.
async fn api_on(home: &Path, server: &LiveKitServer, events: Arc<Events>) -> Api {
    let api = Api::new(AppHome::at(home.to_path_buf()), vec![], events);
    api.update_settings(SettingsPatch {
        livekit_url: Some(server.url()),
        livekit_api_key: Some("devkey".into()),
        livekit_api_secret: Some("secret".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    api
}

/// The sandbox's speech services, on free ports.
async fn speech(dir: &Path) -> greenroom_sandbox::local::LocalSpeech {
    let python = greenroom_sandbox::stt::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the speech virtualenv tools/venv-speech: run scripts/setup");
    greenroom_sandbox::local::LocalSpeech::start(&python, dir, Default::default())
        .await
        .expect("the speech services start")
}

/// Marie's worker, registered with `server` and pointed at `speech`.
async fn marie(
    server: &LiveKitServer,
    speech: &greenroom_sandbox::local::LocalSpeech,
    dir: &Path,
) -> greenroom_sandbox::local::LocalMarie {
    let python = greenroom_sandbox::agent::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the agent virtualenv tools/venv-agent: run scripts/setup");
    greenroom_sandbox::local::LocalMarie::start(
        &python,
        dir,
        speech,
        (&server.url(), "devkey", "secret"),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// English sentences, each followed by two seconds of silence, as a learner would say them.
fn script(dir: &Path, sentences: &[&str]) -> PathBuf {
    let mut samples = Vec::new();
    let mut rate = 16_000;
    for (i, sentence) in sentences.iter().enumerate() {
        let one = dir.join(format!("sentence-{i}.wav"));
        greenroom_test_support::english_wav(sentence, &one);
        let (s, r) = greenroom_talk::clients::decode_wav(&std::fs::read(&one).unwrap()).unwrap();
        rate = r;
        samples.extend(s);
        samples.extend(std::iter::repeat_n(0.0, rate as usize * 2));
    }
    let said = dir.join("said.wav");
    greenroom_test_support::fake_mic::write_wav(&said, &samples, rate);
    said
}

/// The official Python SDK in `.venv-interop`, receiving `identity`'s audio for `seconds`.
fn python_listener(url: &str, token: &str, identity: &str, seconds: u32) -> Child {
    Command::new(greenroom_test_support::interop_python())
        .arg(greenroom_test_support::workspace().join("tests/interop/python_peer.py"))
        .args(["--url", url, "--token", token, "--mode", "receive-audio"])
        .args([
            "--from-identity",
            identity,
            "--seconds",
            &seconds.to_string(),
        ])
        .args(["--log-level", "WARNING"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the Python peer starts")
}

fn states(report: &TalkReport) -> Vec<String> {
    report
        .livekit
        .as_ref()
        .unwrap()
        .agent_states
        .iter()
        .map(|s| s.state.clone())
        .collect()
}

/// Whether `wanted` occurs in `seen` in order (other states may come between).
fn in_order(seen: &[String], wanted: &[&str]) -> bool {
    let mut at = 0;
    for s in seen {
        if at < wanted.len() && s == wanted[at] {
            at += 1;
        }
    }
    at == wanted.len()
}

fn rms_of_wav(path: &Path) -> f64 {
    let (samples, _) = greenroom_talk::clients::decode_wav(&std::fs::read(path).unwrap()).unwrap();
    (samples.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marie_answers_through_livekit_and_a_second_learner_hears_her() {
    let dir = tempfile::tempdir().unwrap();
    let server = LiveKitServer::start();
    let speech = speech(dir.path()).await;
    // The Eloquence token service, as the app calls it.
    let token_port = free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", token_port))
        .await
        .unwrap();
    tokio::spawn(greenroom_livekit::token_service::serve(
        listener,
        greenroom_livekit::token_service::TokenServiceConfig::new(
            "devkey".into(),
            "secret".into(),
            server.url(),
        ),
        std::future::pending(),
    ));
    let marie = marie(&server, &speech, &dir.path().join("agent")).await;
    let events = Arc::new(Events::default());
    let api = api_on(&dir.path().join("home"), &server, events.clone()).await;
    let said = script(dir.path(), &[SAID]);
    let record = dir.path().join("rec");
    let started = api
        .talk_start(TalkRequest {
            exercise: Some("entretien".into()),
            input: TalkInput::File {
                path: said.display().to_string(),
            },
            output: TalkOutput::Silent,
            record_dir: Some(record.display().to_string()),
            mode: Some(greenroom_api::TalkMode::Livekit),
            room: Some("greenroom-lk-e2e".into()),
            max_turns: Some(1),
            services: TalkServiceOverrides {
                token_url: Some(format!("http://127.0.0.1:{token_port}")),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(started.room.as_deref(), Some("greenroom-lk-e2e"));
    // A second learner on the official SDK joins once Marie is there, and listens to her.
    let agent = wait_until("Marie's agent to join", Duration::from_secs(30), || {
        events.agent_identity()
    });
    let target = greenroom_livekit::room_service::Target::new(&server.url(), "devkey", "secret");
    let token = greenroom_livekit::room_service::token(
        &target,
        "greenroom-lk-e2e",
        "second-learner",
        &greenroom_livekit::room_service::TokenOptions::participant(),
    )
    .unwrap();
    let listener = python_listener(&server.url(), &token, &agent, 25);
    let report = talk_ended(&api, Duration::from_secs(120), &|| {
        format!("{:#?}\nMarie's log:\n{}", events.talk(), marie.log())
    })
    .await;
    let heard = listener.wait_with_output().unwrap();
    let log = marie.log();
    let lk = report.livekit.clone().expect("a LiveKit report");
    assert_eq!(report.mode, "livekit");
    assert!(lk.token_source.starts_with("token service"), "{lk:?}");
    assert_eq!(lk.dispatch, "automatic");
    assert_eq!(lk.agent_identity.as_deref(), Some(agent.as_str()));
    assert!(
        lk.agent_joined_at_ms.is_some() && lk.opening_first_audio_at_ms.is_some(),
        "{lk:?}"
    );
    // The opening, then one turn: heard, understood, answered aloud.
    assert!(
        report.opening.as_deref().is_some_and(|o| !o.is_empty()),
        "{report:#?}\n{log}"
    );
    assert_eq!(report.turns.len(), 1, "{report:#?}\n{log}");
    let turn = &report.turns[0];
    assert!(turn.error.is_none(), "{turn:#?}\n{log}");
    let wer = word_error_rate(SAID, &turn.learner_text).rate;
    assert!(wer <= 0.35, "WER {wer:.2}: {:?}\n{log}", turn.learner_text);
    assert!(!turn.marie_text.is_empty(), "{turn:#?}");
    assert!(
        in_order(
            &states(&report),
            &["listening", "thinking", "speaking", "listening"]
        ),
        "{:?}",
        states(&report)
    );
    // The wire's segments, adding up to the time to first audio.
    let kinds: Vec<SegmentKind> = turn.segments().iter().map(|s| s.kind).collect();
    assert!(
        kinds.starts_with(&[SegmentKind::AgentEndOfTurn, SegmentKind::AgentReply]),
        "{kinds:?}"
    );
    let ttfa = turn
        .figures
        .time_to_first_audio_ms
        .expect("Marie was heard");
    let sum: f64 = turn.segments().iter().map(|s| s.ms).sum();
    assert!((sum - ttfa).abs() < 1e-6, "{sum} vs {ttfa}");
    // Her voice, recorded as it came out of the room.
    assert!(rms_of_wav(&record.join("marie.wav")) > 0.005);
    // The second learner heard her too.
    let lines = String::from_utf8_lossy(&heard.stdout);
    let audio: serde_json::Value = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "audio")
        .unwrap_or_else(|| panic!("the Python SDK heard no audio from {agent}: {lines}"));
    assert!(audio["rms"].as_f64().unwrap() > 0.003, "{audio}");
    assert!(audio["first_nonsilent_ms"].is_number(), "{audio}");
}

/// The report of the talk `talk_start` began, once it ended.
async fn talk_ended(api: &Api, within: Duration, explain: &dyn Fn() -> String) -> TalkReport {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(report) = api.talk_current().await.unwrap().and_then(|c| c.report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the talk did not end within {within:?}: {}",
            explain()
        );
        tokio::time::sleep(greenroom_test_support::POLL_EVERY).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_agent_is_explained_within_the_timeout_and_a_dead_token_service_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = LiveKitServer::start();
    let events = Arc::new(Events::default());
    let api = api_on(dir.path(), &server, events.clone()).await;
    let silence = dir.path().join("silence.wav");
    greenroom_test_support::fake_mic::write_wav(&silence, &vec![0.0; 16_000 * 30], 16_000);
    let dead_token_service = format!("http://127.0.0.1:{}", free_port());
    let run = |agent: Option<&str>| TalkRequest {
        input: TalkInput::File {
            path: silence.display().to_string(),
        },
        output: TalkOutput::Silent,
        record: false,
        mode: Some(greenroom_api::TalkMode::Livekit),
        agent: agent.map(str::to_string),
        agent_timeout_ms: Some(1500),
        services: TalkServiceOverrides {
            token_url: Some(dead_token_service.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    // Silence holds no utterance: give the file a word so that the script is accepted.
    let word = dir.path().join("word.wav");
    greenroom_test_support::english_wav("hello", &word);
    let (mut samples, rate) =
        greenroom_talk::clients::decode_wav(&std::fs::read(&word).unwrap()).unwrap();
    samples.extend(std::iter::repeat_n(0.0, rate as usize * 20));
    greenroom_test_support::fake_mic::write_wav(&silence, &samples, rate);

    // No worker at all, automatic dispatch: said within the timeout, with the likely cause.
    let report = api.talk_run(run(None)).await.unwrap();
    assert!(
        report.ended_because.contains("did not join"),
        "{}",
        report.ended_because
    );
    assert!(
        report
            .ended_because
            .contains("no agent worker is registered"),
        "{}",
        report.ended_because
    );
    let lk = report.livekit.unwrap();
    assert!(
        lk.token_source.contains("minted") && lk.token_source.contains(&dead_token_service),
        "{}",
        lk.token_source
    );
    assert!(lk.joined_at_ms.is_some(), "the room was joined: {lk:?}");
    let talk = events.talk();
    assert!(talk.iter().any(|e| matches!(e, TalkEvent::Notice { message, .. } if message.contains("token service") && message.contains("minted"))), "the fallback is said");
    assert!(talk.iter().any(|e| matches!(
        e,
        TalkEvent::Agent {
            presence: AgentPresence::Missing,
            ..
        }
    )));

    // An explicit name no worker serves: the name, in the reason.
    let report = api
        .talk_run(run(Some("coach-nobody-serves")))
        .await
        .unwrap();
    assert!(
        report.ended_because.contains("\"coach-nobody-serves\""),
        "{}",
        report.ended_because
    );
    let lk = report.livekit.unwrap();
    assert_eq!(lk.dispatch, "explicit: coach-nobody-serves");
    assert!(
        lk.token_source.contains("room configuration"),
        "{}",
        lk.token_source
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_turn_is_restarted_by_the_supervisor_and_the_session_says_what_happened()
 {
    use greenroom_stack::manifest::{Manifest, ProbeCheck, ProbeSpec, ServiceSpec};
    let dir = tempfile::tempdir().unwrap();
    let server = LiveKitServer::start();
    let speech = speech(dir.path()).await;
    // Marie as a service of a stack that Greenroom supervises, as the sandbox runs her.
    let agent_python =
        greenroom_sandbox::agent::locate_python(&greenroom_test_support::tool_dirs())
            .expect("the agent virtualenv tools/venv-agent: run scripts/setup");
    let workspace = dir.path().join("project");
    let agent_script = greenroom_sandbox::agent::install_script(&workspace).unwrap();
    let (program, args) = greenroom_sandbox::agent::command(&agent_python, &agent_script);
    let url = server.url();
    let stt = speech.stt_url.replace("/transcribe", "/v1");
    let mut probe = ProbeSpec::new(ProbeCheck::Log {
        pattern: greenroom_sandbox::agent::READY_PATTERN.into(),
    });
    probe.start_timeout_ms = 120_000;
    let mut env: std::collections::BTreeMap<String, String> =
        greenroom_sandbox::agent::env(&greenroom_sandbox::agent::Endpoints {
            livekit_url: &url,
            api_key: "devkey",
            api_secret: "secret",
            stt_url: &stt,
            llm_url: &speech.coach_url,
            llm_model: greenroom_sandbox::chat_server::MODEL_ID,
            tts_url: &speech.tts_url,
            agent_name: None,
        })
        .into_iter()
        .collect();
    env.insert("HF_HUB_OFFLINE".into(), "1".into());
    let manifest = Manifest {
        name: Some("lk-fault".into()),
        env_files: Vec::new(),
        services: [(
            "marie".to_string(),
            ServiceSpec {
                command: Some(program.display().to_string()),
                args,
                env,
                probe: Some(probe),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
    };
    std::fs::write(
        workspace.join("greenroom.toml"),
        toml::to_string(&manifest).unwrap(),
    )
    .unwrap();
    let events = Arc::new(Events::default());
    let api = api_on(&dir.path().join("home"), &server, events.clone()).await;
    api.update_settings(SettingsPatch {
        workspace: Some(workspace.display().to_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    let up = api.stack_up(vec!["marie".into()]).await.unwrap();
    assert!(up.ok, "{up:?}");
    // A failing assertion must not leave the agent running: kill what runs then.
    struct KillOnPanic(Vec<u32>);
    impl Drop for KillOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                for pid in &self.0 {
                    let _ = Command::new("pkill")
                        .args(["-9", "-P", &pid.to_string()])
                        .status();
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
    }
    let mut guard = KillOnPanic(Vec::new());
    let marie_pid = |status: &greenroom_api::StackView| {
        status
            .status
            .services
            .iter()
            .find(|s| s.id == "marie")
            .and_then(|s| s.pid)
    };
    guard
        .0
        .extend(marie_pid(&api.stack_status().await.unwrap()));
    let said = script(dir.path(), &[SAID, AGAIN]);
    api.talk_start(TalkRequest {
        input: TalkInput::File {
            path: said.display().to_string(),
        },
        output: TalkOutput::Silent,
        record: false,
        mode: Some(greenroom_api::TalkMode::Livekit),
        agent_timeout_ms: Some(60_000),
        ..Default::default()
    })
    .await
    .unwrap();
    // Kill the agent as soon as it thinks about the learner's words: mid-turn.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !events.talk().iter().any(|e| {
        matches!(
            e,
            TalkEvent::State {
                state: greenroom_talk::TalkState::Thinking,
                turn: Some(0),
                ..
            }
        )
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never thought about the first turn: {:#?}",
            events.talk()
        );
        tokio::time::sleep(greenroom_test_support::POLL_EVERY).await;
    }
    let pid = marie_pid(&api.stack_status().await.unwrap()).expect("the agent runs");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let report = talk_ended(&api, Duration::from_secs(150), &|| {
        format!("{:#?}", events.talk())
    })
    .await;
    guard
        .0
        .extend(marie_pid(&api.stack_status().await.unwrap()));
    let talk = events.talk();
    eprintln!("{report:#?}");
    // The session said what happened, and the turn in flight failed with it.
    assert!(
        talk.iter().any(|e| matches!(
            e,
            TalkEvent::Agent {
                presence: AgentPresence::Left,
                ..
            }
        )),
        "{talk:#?}"
    );
    let turn = &report.turns[0];
    assert_eq!(
        turn.error.as_ref().map(|e| e.tag.as_str()),
        Some("agent_left"),
        "{turn:#?}"
    );
    // LiveKit does not send the restarted worker back to a room that exists: the next
    // utterance finds nobody, and is told so at once.
    let next = &report.turns[1];
    assert_eq!(
        next.error.as_ref().map(|e| e.tag.as_str()),
        Some("no_agent"),
        "{next:#?}"
    );
    // The supervisor restarted the agent.
    let status = api.stack_status().await.unwrap();
    let marie = status
        .status
        .services
        .iter()
        .find(|s| s.id == "marie")
        .unwrap();
    assert!(marie.restarts >= 1, "{marie:?}");
    let _ = api.stack_down().await;
}

/// "Talk here": a coach drops into a room that the Flutter app opened. The official SDK
/// plays the app: its join creates the room, Marie is dispatched to it and greets it; then
/// our talk joins that room and finds her there. An agent on the framework listens to the
/// participant it started with: the coach is told so, and a coach's turn is not answered
/// (said as such, not a hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coach_drops_into_a_room_the_app_opened_and_is_told_marie_listens_to_its_learner() {
    let dir = tempfile::tempdir().unwrap();
    let server = LiveKitServer::start();
    let speech = speech(dir.path()).await;
    let marie = marie(&server, &speech, &dir.path().join("agent")).await;
    let target = greenroom_livekit::room_service::Target::new(&server.url(), "devkey", "secret");
    let room = "flutter-app-room";
    let token = greenroom_livekit::room_service::token(
        &target,
        room,
        "flutter-learner",
        &greenroom_livekit::room_service::TokenOptions::participant(),
    )
    .unwrap();
    // The app's learner: in the room for the whole test, listening to whoever speaks.
    let app = Command::new(greenroom_test_support::interop_python())
        .arg(greenroom_test_support::workspace().join("tests/interop/python_peer.py"))
        .args([
            "--url",
            &server.url(),
            "--token",
            &token,
            "--mode",
            "receive-audio",
        ])
        .args(["--seconds", "90", "--log-level", "WARNING"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the Python peer starts");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _app = Kill(app);
    // Marie is dispatched to the room the app's join created.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let people = greenroom_livekit::room_service::list_participants(&target, room)
            .await
            .unwrap_or_default();
        if people.iter().any(|p| p.identity.starts_with("agent-")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Marie never joined the app's room: {people:?}\n{}",
            marie.log()
        );
        tokio::time::sleep(greenroom_test_support::POLL_EVERY).await;
    }
    let events = Arc::new(Events::default());
    let api = api_on(&dir.path().join("home"), &server, events.clone()).await;
    let said = script(dir.path(), &[SAID]);
    let report = api
        .talk_run(TalkRequest {
            input: TalkInput::File {
                path: said.display().to_string(),
            },
            output: TalkOutput::Silent,
            record: false,
            mode: Some(greenroom_api::TalkMode::Livekit),
            room: Some(room.into()),
            max_turns: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let lk = report.livekit.clone().unwrap();
    assert_eq!(lk.room, room);
    assert!(
        lk.agent_joined_at_ms
            .is_some_and(|a| a <= lk.joined_at_ms.unwrap() + 1.0),
        "Marie was already there: {lk:?}"
    );
    assert!(
        events.talk().iter().any(|e| matches!(e, TalkEvent::Notice { message, .. }
            if message.contains("already here with flutter-learner") && message.contains("may not hear you"))),
        "{:#?}",
        events.talk()
    );
    assert_eq!(report.turns.len(), 1, "{report:#?}\n{}", marie.log());
    let turn = &report.turns[0];
    assert_eq!(
        turn.error.as_ref().map(|e| e.tag.as_str()),
        Some("no_reply"),
        "{turn:#?}"
    );
}
