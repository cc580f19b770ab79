//! The talk commands through the API, as every front calls them: the catalogue, where the
//! services are, a scripted talk run to its end against the sandbox's real speech services,
//! its recording listed and exported, and the errors a front can get.

use std::sync::Arc;

use greenroom_api::{
    Api, AppHome, ErrorCode, NullSink, SettingsPatch, TalkAction, TalkInput, TalkOutput,
    TalkRequest, TalkServiceOverrides,
};

fn api(home: &std::path::Path) -> Api {
    Api::new(AppHome::at(home.to_path_buf()), vec![], Arc::new(NullSink))
}

#[tokio::test]
async fn the_catalogue_and_the_services_come_from_the_file_and_settings() {
    let home = tempfile::tempdir().unwrap();
    let api = api(home.path());
    let view = api.talk_catalog().await.unwrap();
    assert!(view.file.is_none() && view.problem.is_none());
    assert_eq!(view.catalog.exercises.len(), 5);
    assert!(view.local_stt_note.contains("English"));
    // A broken team file: its line, and the built-in catalogue meanwhile.
    std::fs::write(&view.editable_file, "[exercises.x]\ntitle = 3\n").unwrap();
    let view = api.talk_catalog().await.unwrap();
    assert!(view.problem.unwrap().contains("talk-catalog.toml:2:"));
    assert_eq!(view.catalog.exercises.len(), 5);

    // Settings win over the shared ports; the Mistral key goes to Mistral only.
    api.update_settings(SettingsPatch {
        talk_stt_url: Some("http://127.0.0.1:9/v1/audio/transcriptions".into()),
        mistral_api_key: Some("sk-secret-value".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let endpoints = api.talk_endpoints().await.unwrap();
    assert_eq!(
        endpoints.stt.url,
        "http://127.0.0.1:9/v1/audio/transcriptions"
    );
    assert_eq!(endpoints.stt.origin, "Settings");
    assert_eq!(
        endpoints.stt_shape,
        greenroom_talk::services::SttShape::OpenAi
    );
    assert_eq!(
        endpoints.llm.url,
        "https://api.mistral.ai/v1/chat/completions"
    );
    assert!(endpoints.llm.key_set);
    assert!(
        !serde_json::to_string(&endpoints)
            .unwrap()
            .contains("sk-secret")
    );
    api.update_settings(SettingsPatch {
        talk_llm_url: Some("http://127.0.0.1:8001/v1".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let endpoints = api.talk_endpoints().await.unwrap();
    assert_eq!(
        endpoints.llm.url,
        "http://127.0.0.1:8001/v1/chat/completions"
    );
    assert!(
        !endpoints.llm.key_set,
        "the key is not sent to this machine"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let api = api(home.path());
    let err = api.talk_control(TalkAction::Interrupt).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("no talk is running"));
    let request = |input, exercise: Option<&str>| TalkRequest {
        exercise: exercise.map(str::to_owned),
        input,
        output: TalkOutput::Silent,
        record: false,
        ..Default::default()
    };
    let err = api
        .talk_start(request(
            TalkInput::File {
                path: "/nonexistent/said.wav".into(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(
        err.message.contains("/nonexistent/said.wav"),
        "{}",
        err.message
    );
    let not_wav = home.path().join("said.wav");
    std::fs::write(&not_wav, "not a wav").unwrap();
    let err = api
        .talk_start(request(
            TalkInput::File {
                path: not_wav.display().to_string(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(
        err.message.contains("sox"),
        "says how to convert: {}",
        err.message
    );
    let err = api
        .talk_start(request(
            TalkInput::File {
                path: not_wav.display().to_string(),
            },
            Some("nope"),
        ))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("conversation_libre"),
        "{}",
        err.message
    );
    let err = api
        .talk_export("../etc".into(), home.path().display().to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_talk_runs_to_its_end_and_its_recording_is_listed_and_exported() {
    let home = tempfile::tempdir().unwrap();
    let python = greenroom_sandbox::stt::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the speech virtualenv tools/venv-speech: run scripts/setup");
    let speech =
        greenroom_sandbox::local::LocalSpeech::start(&python, home.path(), Default::default())
            .await
            .expect("the speech services start");
    // Two sentences with a second of silence between them: two turns, the second said once
    // Marie has answered the first.
    let sentences = [
        "Thank you for coming today, I want to talk about our new project.",
        "Please tell me how I can speak more clearly during the meeting.",
    ];
    let mut samples = Vec::new();
    for (i, sentence) in sentences.iter().enumerate() {
        let one = home.path().join(format!("{i}.wav"));
        greenroom_test_support::english_wav(sentence, &one);
        let (s, rate) = greenroom_talk::clients::decode_wav(&std::fs::read(&one).unwrap()).unwrap();
        assert_eq!(rate, 16_000);
        samples.extend(s);
        samples.extend(std::iter::repeat_n(0.0, 16_000));
    }
    let said = home.path().join("said.wav");
    greenroom_test_support::fake_mic::write_wav(&said, &samples, 16_000);
    let api = api(&home.path().join("greenroom"));
    let report = api
        .talk_run(TalkRequest {
            exercise: Some("entretien".into()),
            input: TalkInput::File {
                path: said.display().to_string(),
            },
            output: TalkOutput::Silent,
            speak_opening: Some(false),
            record: true,
            seed: Some(5),
            services: TalkServiceOverrides {
                stt_url: Some(speech.stt_url.clone()),
                llm_url: Some(speech.coach_url.clone()),
                tts_url: Some(speech.tts_url.clone()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(report.exercise, "entretien");
    assert_eq!(report.turns.len(), 2, "{report:#?}");
    for (turn, sentence) in report.turns.iter().zip(sentences) {
        assert!(greenroom_voice::wer::word_error_rate(sentence, &turn.learner_text).rate <= 0.25);
        assert!(turn.figures.time_to_first_audio_ms.is_some());
        assert!(!turn.interrupted, "the learner waited for the answer");
    }
    // The talk is over: the snapshot says so and carries the turn.
    let snapshot = api.talk_current().await.unwrap().unwrap();
    assert!(!snapshot.running);
    assert_eq!(snapshot.turns.len(), 2);
    // Listed, then exported as one folder.
    let sessions = api.talk_sessions(10).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].turns, 2);
    let out = tempfile::tempdir().unwrap();
    let copy = api
        .talk_export(
            sessions[0].session.clone(),
            out.path().display().to_string(),
        )
        .await
        .unwrap();
    for file in [
        "learner.wav",
        "marie.wav",
        "transcript.json",
        "session.json",
    ] {
        assert!(std::path::Path::new(&copy).join(file).is_file(), "{file}");
    }
    let again = api
        .talk_export(
            sessions[0].session.clone(),
            out.path().display().to_string(),
        )
        .await
        .unwrap_err();
    assert!(again.message.contains("exists already"));
}
