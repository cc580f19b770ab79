//! `talk`: talk to Marie from a terminal, through the same session as the app.
//!
//! With `--input FILE.wav` the file is the learner's voice: it is cut into utterances at
//! pauses (`greenroom_talk::script`), each is said once Marie has answered the one before,
//! each turn is printed with its text and its timings, and the command exits after the last. Without it, the microphone is live until Ctrl-C. `--json` prints
//! the report (`greenroom.talk/1`, see `greenroom_talk::events`) instead of the narration.
//! `--mode livekit` talks with Marie's agent in a LiveKit room instead (see
//! `greenroom_api::talk`): the join, the agent's arrival and its states go to stderr.
//! Exit status: 0 when every turn got a reply, 1 when a turn failed or none happened.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use greenroom_api::{
    Api, ApiEvent, AppHome, EventEnvelope, EventSink, TalkInput, TalkOutput, TalkRequest,
    TalkServiceOverrides,
};
use greenroom_talk::events::{NoticeLevel, Side, TalkEvent, TalkReport, TalkState};
use greenroom_talk::segments::SegmentKind;
use tokio::sync::mpsc;

use crate::{fail, print_json, usage_error};

/// What `greenroom talk` was asked.
pub(crate) struct TalkArgs {
    pub mode: greenroom_api::TalkMode,
    pub room: Option<String>,
    pub agent: Option<String>,
    pub agent_timeout_ms: Option<u32>,
    pub exercise: Option<String>,
    pub input: Option<PathBuf>,
    pub record: Option<PathBuf>,
    pub json: bool,
    pub push_to_talk: bool,
    pub end_of_speech_ms: Option<u32>,
    pub silent: bool,
    pub no_opening: bool,
    pub whole_reply: bool,
    pub seed: Option<i64>,
    pub max_turns: Option<u32>,
    pub services: TalkServiceOverrides,
}

struct Forward(mpsc::UnboundedSender<ApiEvent>);

impl EventSink<EventEnvelope> for Forward {
    fn emit(&self, envelope: EventEnvelope) {
        let _ = self.0.send(envelope.event);
    }
}

fn state_word(state: TalkState) -> &'static str {
    match state {
        TalkState::Idle => "idle",
        TalkState::Listening => "listening",
        TalkState::LearnerSpeaking => "learner speaking",
        TalkState::EndOfSpeech => "end of speech",
        TalkState::Transcribing => "transcribing",
        TalkState::Thinking => "thinking",
        TalkState::Speaking => "speaking",
        TalkState::Ended => "ended",
    }
}

/// One line per segment kind, e.g. `end of speech 800 · speech-to-text 312 · …`.
fn segments_line(turn: &greenroom_talk::TurnReport) -> String {
    turn.segments()
        .iter()
        .filter(|s| s.ms >= 0.05 || s.kind == SegmentKind::Overhead)
        .map(|s| format!("{} {:.0}", s.kind.label(), s.ms))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub(crate) async fn run(home: AppHome, args: TalkArgs) -> ExitCode {
    let input = match &args.input {
        Some(path) => TalkInput::File {
            path: path.display().to_string(),
        },
        None => TalkInput::Device { id: None },
    };
    let scripted = args.input.is_some();
    let request = TalkRequest {
        exercise: args.exercise.clone(),
        input,
        output: if args.silent {
            TalkOutput::Silent
        } else {
            TalkOutput::Device { id: None }
        },
        push_to_talk: args.push_to_talk,
        end_of_speech_ms: args.end_of_speech_ms,
        record: args.record.is_some(),
        record_dir: args.record.as_ref().map(|p| p.display().to_string()),
        speak_opening: Some(!args.no_opening),
        wait_for_whole_reply: args.whole_reply,
        seed: args.seed,
        max_turns: args.max_turns,
        services: args.services.clone(),
        mode: Some(args.mode),
        room: args.room.clone(),
        agent: args.agent.clone(),
        agent_timeout_ms: args.agent_timeout_ms,
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let api = Arc::new(Api::new(
        home,
        greenroom_api::default_tool_dirs(),
        Arc::new(Forward(events)),
    ));
    let narrate = !args.json;
    let printer = tokio::spawn(async move {
        let mut last_state = None;
        while let Some(event) = received.recv().await {
            let ApiEvent::Talk { event, .. } = event else {
                continue;
            };
            // Progress and notices go to stderr in every mode (a script can wait for
            // "… listening"); the conversation goes to stdout unless --json.
            if let TalkEvent::Notice { level, message, .. } = &event {
                let tag = match level {
                    NoticeLevel::Info => "note",
                    NoticeLevel::Warning => "warning",
                    NoticeLevel::Error => "error",
                };
                eprintln!("{tag}: {message}");
                continue;
            }
            match &event {
                TalkEvent::Room {
                    room, url, join_ms, ..
                } => {
                    eprintln!("  joined room {room} at {url} in {join_ms:.0} ms");
                    continue;
                }
                TalkEvent::Agent {
                    presence,
                    identity,
                    state,
                    detail,
                    ..
                } => {
                    use greenroom_talk::events::AgentPresence;
                    match (presence, state) {
                        (AgentPresence::Joined, None) => eprintln!(
                            "  Marie's agent joined ({}){}",
                            identity.as_deref().unwrap_or("?"),
                            detail
                                .as_deref()
                                .map_or(String::new(), |d| format!(", {d}"))
                        ),
                        (AgentPresence::Joined, Some(state)) => {
                            eprintln!("  agent state: {state}")
                        }
                        (AgentPresence::Waiting, _) => {
                            eprintln!(
                                "  … {}",
                                detail.as_deref().unwrap_or("waiting for the agent")
                            )
                        }
                        // Left and missing come with an error notice that says it all.
                        (AgentPresence::Left | AgentPresence::Missing, _) => {}
                    }
                    continue;
                }
                _ => {}
            }
            if !narrate && !matches!(event, TalkEvent::State { .. }) {
                continue;
            }
            match event {
                TalkEvent::State { state, .. } if Some(state) != last_state => {
                    last_state = Some(state);
                    if matches!(
                        state,
                        TalkState::Listening | TalkState::Transcribing | TalkState::Thinking
                    ) {
                        eprintln!("  … {}", state_word(state));
                    }
                }
                TalkEvent::Text {
                    side: Side::Marie,
                    text,
                    is_final: true,
                    turn: None,
                } => println!("Marie   ▸ {text}"),
                TalkEvent::Turn { turn } => {
                    println!(
                        "learner ▸ {}",
                        if turn.learner_text.is_empty() {
                            "(nothing understood)"
                        } else {
                            &turn.learner_text
                        }
                    );
                    if !turn.marie_text.is_empty() {
                        println!("Marie   ▸ {}", turn.marie_text);
                    }
                    let ttfa = turn
                        .figures
                        .time_to_first_audio_ms
                        .map_or("no audio".to_string(), |ms| {
                            format!("first audio after {ms:.0} ms")
                        });
                    println!(
                        "          turn {}: {ttfa}{}  [{}]",
                        turn.index + 1,
                        if turn.interrupted {
                            ", interrupted"
                        } else {
                            ""
                        },
                        segments_line(&turn)
                    );
                }
                _ => {}
            }
        }
    });
    if narrate && !scripted {
        eprintln!(
            "Talking to Marie: speak when you are ready; Ctrl-C ends the talk. Use headphones, or Marie hears herself."
        );
    }
    let run = api.talk_run(request);
    let report: TalkReport = if scripted {
        match run.await {
            Ok(r) => r,
            Err(e) if e.code == greenroom_api::ErrorCode::InvalidInput => {
                return usage_error(&e.message);
            }
            Err(e) => return fail(&e.message),
        }
    } else {
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => match r {
                Ok(r) => r,
                Err(e) => return fail(&e.message),
            },
            _ = crate::interrupted() => {
                let _ = api.talk_control(greenroom_api::TalkAction::Stop).await;
                match run.await {
                    Ok(r) => r,
                    Err(e) => return fail(&e.message),
                }
            }
        }
    };
    drop(api);
    let _ = printer.await;
    let ok = report.summary.turns > 0 && report.summary.failed == 0;
    if args.json {
        let code = print_json(&report);
        return if ok { code } else { ExitCode::from(1) };
    }
    let s = &report.summary;
    println!(
        "{} turn(s): {} answered, {} interrupted, {} failed{}",
        s.turns,
        s.completed,
        s.interrupted,
        s.failed,
        s.time_to_first_audio_p50_ms
            .map_or(String::new(), |p| format!(
                "; time to first audio p50 {p:.0} ms"
            ))
    );
    if let Some(dir) = &report.record_dir {
        println!("recorded in {dir}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `greenroom talk --list`: the characters and exercises.
pub(crate) async fn list(home: AppHome, json: bool) -> ExitCode {
    let api = Api::new(home, vec![], Arc::new(greenroom_api::NullSink));
    let view = match api.talk_catalog().await {
        Ok(v) => v,
        Err(e) => return fail(&e.message),
    };
    if json {
        return print_json(&view);
    }
    if let Some(problem) = &view.problem {
        eprintln!("warning: {problem}");
    }
    println!(
        "catalogue: {}",
        view.file
            .as_deref()
            .unwrap_or("built-in (copy it to the editable file to change it)")
    );
    println!("editable file: {}", view.editable_file);
    for e in &view.catalog.exercises {
        let who = view
            .catalog
            .character(&e.character)
            .map_or(e.character.as_str(), |c| c.name.as_str());
        println!(
            "  {:<22} {} — with {who} ({} min)",
            e.id, e.title, e.duration_minutes
        );
    }
    ExitCode::SUCCESS
}
