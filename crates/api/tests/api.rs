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

use greenroom_test_support::eventually;

/// How long the tests below wait for a process to start or end.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

fn write_stack(dir: &std::path::Path, name: &str, service: &str) {
    std::fs::write(
        dir.join("greenroom.toml"),
        format!("name = \"{name}\"\n[services.{service}]\ncommand = \"sleep\"\nargs = [\"300\"]\n"),
    )
    .unwrap();
}

fn alive(pid: u32) -> bool {
    greenroom_stack::process::start_time(pid).is_some()
}

/// Issue 14.3: switching the workspace while a stack runs hid that stack (its services
/// went on running, no screen showed them, `down` acted on the new one). The switch now
/// asks (`conflict`, nothing saved); "keep" shows the old stack under `also_running`,
/// from where it can be stopped; "stop" stops it first.
#[tokio::test(flavor = "multi_thread")]
async fn switching_the_workspace_under_a_running_stack_asks_and_never_hides_it() {
    let (_home, api, _sink) = api();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_stack(a.path(), "alpha", "long");
    write_stack(b.path(), "beta", "other");
    let to = |dir: &std::path::Path, choice: Option<RunningStackChoice>| SettingsPatch {
        workspace: Some(dir.display().to_string()),
        running_stack: choice,
        ..Default::default()
    };
    api.update_settings(to(a.path(), None)).await.unwrap();
    api.stack_up(vec![]).await.unwrap();
    let pid_a = eventually("alpha's service to run", WITHIN, async || {
        let view = api.stack_status().await.unwrap();
        view.status.services[0]
            .pid
            .filter(|_| view.status.summary.started)
    })
    .await;

    let refused = api.update_settings(to(b.path(), None)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Conflict);
    assert!(
        refused.message.contains("(long)") && refused.message.contains("Nothing was saved"),
        "{}",
        refused.message
    );
    let settings = api.get_settings().await.unwrap();
    assert_eq!(
        settings.workspace.as_deref(),
        Some(a.path().display().to_string().as_str())
    );

    api.update_settings(to(b.path(), Some(RunningStackChoice::Keep)))
        .await
        .unwrap();
    let view = api.stack_status().await.unwrap();
    assert_eq!(view.status.name, "beta");
    assert!(
        !view.status.summary.started,
        "beta was never launched: not started"
    );
    assert_eq!(view.also_running.len(), 1, "{:?}", view.also_running);
    let kept = &view.also_running[0];
    assert_eq!(
        (kept.name.as_str(), kept.supervision),
        ("alpha", OtherStackSupervision::Kept)
    );
    assert_eq!(
        kept.running,
        [OtherService {
            id: "long".into(),
            pid: Some(pid_a)
        }]
    );
    assert!(alive(pid_a), "keeping it keeps it running");

    let stopped = api.other_stack_down(kept.key.clone()).await.unwrap();
    assert_eq!(stopped, ["long"]);
    eventually("alpha's process to end", WITHIN, async || {
        (!alive(pid_a)).then_some(())
    })
    .await;
    assert!(api.stack_status().await.unwrap().also_running.is_empty());

    // "stop": beta runs, switching back to alpha stops it first.
    api.stack_up(vec![]).await.unwrap();
    let pid_b = eventually("beta's service to run", WITHIN, async || {
        api.stack_status().await.unwrap().status.services[0].pid
    })
    .await;
    api.update_settings(to(a.path(), Some(RunningStackChoice::Stop)))
        .await
        .unwrap();
    eventually("beta's process to end", WITHIN, async || {
        (!alive(pid_b)).then_some(())
    })
    .await;
    let view = api.stack_status().await.unwrap();
    assert_eq!(view.status.name, "alpha");
    assert!(view.also_running.is_empty(), "{:?}", view.also_running);
    let unknown = api
        .other_stack_down("../elsewhere".into())
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::InvalidInput);
}

/// Processes a Greenroom recorded and no Greenroom supervises any more (its supervisor
/// died) are shown, and stopped without asking: they are ours (same start time).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_left_without_a_supervisor_is_shown_and_can_be_stopped() {
    use std::os::unix::process::CommandExt;
    let (home, api, _sink) = api();
    let mut child = std::process::Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = greenroom_test_support::wait_until(
        "the child's start time",
        std::time::Duration::from_secs(10),
        || greenroom_stack::process::start_time(pid),
    );
    let dir = home.path().join("stacks").join("left-0000abcd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.json"),
        format!(r#"{{"version":1,"stack":"left","services":{{"worker":{{"pid":{pid},"start_time":{started},"wanted":true}},"gone":{{"pid":{pid},"start_time":1,"wanted":true}}}}}}"#),
    )
    .unwrap();
    let view = api.stack_status().await.unwrap();
    let left = view
        .also_running
        .iter()
        .find(|o| o.key == "left-0000abcd")
        .expect("the left stack is shown");
    assert_eq!(left.supervision, OtherStackSupervision::Nobody);
    // `gone` names the same PID with another start time: not ours, not listed.
    assert_eq!(
        left.running,
        [OtherService {
            id: "worker".into(),
            pid: Some(pid)
        }]
    );
    assert_eq!(
        api.other_stack_down(left.key.clone()).await.unwrap(),
        ["worker"]
    );
    assert!(
        child.wait().unwrap().code().is_none(),
        "stopped by a signal"
    );
    assert!(api.stack_status().await.unwrap().also_running.is_empty());
}

/// Issue 14, on the team's real checkout: a fresh clone has `.env.example` and no `.env`,
/// and the Stack screen failed whole ("env_file `.env` cannot be read") before showing
/// anything. The stack is now shown, pre-flight says what to copy, `up` refuses with
/// why, and once `.env` exists the stack is read again whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_clone_without_its_env_file_is_shown_and_preflight_says_what_to_copy() {
    let (_home, api, _sink) = api();
    let clone = tempfile::tempdir().unwrap();
    std::fs::write(
        clone.path().join("docker-compose.yml"),
        "services:\n  api:\n    image: busybox\n    env_file: .env\n    ports: [\"18080:8080\"]\n",
    )
    .unwrap();
    std::fs::write(clone.path().join(".env.example"), "MISTRAL_API_KEY=\n").unwrap();
    api.update_settings(SettingsPatch {
        workspace: Some(clone.path().display().to_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    let view = api.stack_status().await.unwrap();
    assert_eq!(view.source.kind, "compose");
    assert_eq!(view.status.services[0].id, "api");
    let pre = api.stack_preflight().await.unwrap();
    assert!(!pre.ok);
    let missing = &pre.findings[0];
    assert_eq!(missing.title, "`.env` is missing");
    assert!(
        missing.detail.contains("api (") && missing.detail.contains("docker-compose.yml:4)"),
        "{missing:?}"
    );
    assert!(
        missing.next_step.contains("copy `.env.example` to `.env`"),
        "{missing:?}"
    );
    let refused = api.stack_up(vec![]).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(
        refused.message.contains("Nothing was started"),
        "{}",
        refused.message
    );

    std::fs::write(clone.path().join(".env"), "MISTRAL_API_KEY=x\n").unwrap();
    let pre = api.stack_preflight().await.unwrap();
    assert!(
        pre.findings
            .iter()
            .all(|f| !f.detail.contains(".env.example")),
        "{:?}",
        pre.findings
    );
}
