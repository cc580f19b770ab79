//! The API as a front uses it: through `dispatch`, with events recorded.

use greenroom_api::*;
use std::sync::Arc;

fn api() -> (tempfile::TempDir, Api, Arc<RecordingSink<EventEnvelope>>) {
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let api = Api::new(AppHome::at(home.path()), vec![], sink.clone());
    (home, api, sink)
}

fn request(json: &str) -> Request {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn a_saved_setting_persists_and_emits_settings_changed() {
    let (home, api, sink) = api();
    let workspace = tempfile::tempdir().unwrap();
    let body = format!(
        r#"{{"command":"update_settings","args":{{"patch":{{"workspace":{:?},"mistral_api_key":"sk-test-123"}}}}}}"#,
        workspace.path().display().to_string()
    );
    let saved = api.dispatch(request(&body)).await.unwrap();
    assert_eq!(saved["workspace"], workspace.path().display().to_string());
    assert_eq!(saved["mistral_api_key"]["is_set"], true);

    // A fresh API on the same home reads it back; the secret is on disk, never in a view.
    let again = Api::new(AppHome::at(home.path()), vec![], Arc::new(NullSink));
    let view = again.get_settings().await.unwrap();
    assert_eq!(
        view.workspace.as_deref(),
        Some(workspace.path().to_str().unwrap())
    );
    assert!(
        !serde_json::to_string(&view)
            .unwrap()
            .contains("sk-test-123")
    );

    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, "settings://changed");
    assert_eq!(events[0].seq, 1);
}

#[tokio::test]
async fn an_invalid_setting_is_refused_and_the_old_value_stays() {
    let (_home, api, sink) = api();
    api.dispatch(request(
        r#"{"command":"update_settings","args":{"patch":{"livekit_url":"ws://127.0.0.1:9999"}}}"#,
    ))
    .await
    .unwrap();
    let err = api
        .dispatch(request(
            r#"{"command":"update_settings","args":{"patch":{"livekit_url":"http://oops"}}}"#,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("livekit_url"), "{}", err.message);
    assert_eq!(
        api.get_settings().await.unwrap().livekit_url,
        "ws://127.0.0.1:9999"
    );
    assert_eq!(sink.events().len(), 1, "a refused patch emits nothing");
}

#[tokio::test]
async fn doctor_reports_progress_events_then_finished() {
    let (_home, api, sink) = api();
    let report = api
        .dispatch(request(r#"{"command":"run_doctor","args":{}}"#))
        .await
        .unwrap();
    let total = report["checks"].as_array().unwrap().len();
    let events = sink.events();
    assert_eq!(events.len(), total + 1);
    assert!(
        events[..total]
            .iter()
            .all(|e| e.topic.starts_with("doctor://check/"))
    );
    assert_eq!(events[total].topic, "doctor://finished");
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=total as u64 + 1).collect::<Vec<_>>());
}

#[test]
fn unknown_commands_and_bad_args_do_not_decode() {
    assert!(serde_json::from_str::<Request>(r#"{"command":"drop_tables","args":{}}"#).is_err());
    assert!(
        serde_json::from_str::<Request>(r#"{"command":"update_settings","args":{"patch":3}}"#)
            .is_err()
    );
}

/// Issue 13.10: two fronts on one stack both supervised it (both adopted the same PIDs
/// and both restarted what crashed). The second one now finds the lock and refuses,
/// naming what holds it; once the first lets go, the second supervises.
#[tokio::test]
async fn only_one_process_supervises_a_stack() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let manifest = project.path().join("greenroom.toml");
    std::fs::write(
        &manifest,
        "name = \"one\"\n[services.idle]\ncommand = \"true\"\n",
    )
    .unwrap();
    let front = || {
        Api::new(
            AppHome::at(home.path()),
            vec![],
            Arc::new(RecordingSink::<EventEnvelope>::default()),
        )
        .with_stack(Some(manifest.clone()), None)
    };
    let first = front();
    first.stack_status().await.unwrap();
    let second = front();
    let refused = second.stack_status().await.unwrap_err();
    assert!(
        refused.message.contains("supervises this stack")
            && refused.message.contains("supervisor.lock"),
        "{}",
        refused.message
    );
    drop(first);
    second.stack_status().await.unwrap();
}
