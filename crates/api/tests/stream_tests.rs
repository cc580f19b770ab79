//! Stream tests driven through the API as the Tests screen and the CLI drive them, on the
//! real livekit-server: start, live events and figures, stop, the saved report, the list.

use greenroom_api::*;
use greenroom_test_support::{LiveKitServer, eventually};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_run_streams_its_events_stops_on_request_and_saves_its_report() {
    let server = LiveKitServer::start();
    let home = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let api = Api::new(AppHome::at(home.path()), vec![], sink.clone());
    api.update_settings(SettingsPatch {
        livekit_url: Some(server.url()),
        ..Default::default()
    })
    .await
    .unwrap();

    // Bad values are refused before anything runs.
    let refused = api
        .stream_test_start(StreamTestRequest {
            suite: Some(Suite::Stress),
            interval_ms: Some(5),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(refused.message.contains("interval"), "{}", refused.message);
    assert!(api.stream_test_current().await.unwrap().is_none());

    let started = api
        .stream_test_start(StreamTestRequest {
            suite: Some(Suite::Stress),
            packets: Some(200),
            interval_ms: Some(100),
            room: Some("api-stream".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((started.run, started.room.as_str()), (1, "api-stream"));
    let topic = format!("stream-test://run/{}", started.run);

    // One run at a time.
    let busy = api
        .stream_test_start(StreamTestRequest::default())
        .await
        .unwrap_err();
    assert!(busy.message.contains("still running"), "{}", busy.message);

    // Latencies arrive as events while it runs; the snapshot follows them.
    eventually(
        "three latency events",
        Duration::from_secs(20),
        async || {
            let latencies = sink
                .events()
                .iter()
                .filter(|e| e.topic == topic)
                .filter(|e| {
                    matches!(&e.event, ApiEvent::StreamTest { event, .. }
                    if matches!(event, StreamEvent::Latency { .. }))
                })
                .count();
            (latencies >= 3).then_some(())
        },
    )
    .await;
    let snapshot = api.stream_test_current().await.unwrap().unwrap();
    assert!(snapshot.running);
    assert!(!snapshot.samples.is_empty());
    assert!(
        snapshot.figures.data.count >= 1,
        "figures are computed as latencies arrive: {:?}",
        snapshot.figures
    );
    assert!(
        snapshot
            .logs
            .iter()
            .any(|l| l.message.contains("connected")),
        "{:?}",
        snapshot.logs
    );

    assert!(api.stream_test_stop().await.unwrap());
    let outcome = eventually("the finished event", Duration::from_secs(20), async || {
        sink.events().into_iter().find_map(|e| match e.event {
            ApiEvent::StreamTestFinished { outcome } => Some(*outcome),
            _ => None,
        })
    })
    .await;
    assert_eq!(outcome.error, None);
    let report = outcome.report.expect("a report");
    assert!(report.stopped_early);
    assert!(
        report.packets_sent > 0 && report.packets_sent < 200,
        "{}",
        report.packets_sent
    );
    assert_eq!(report.packets_received, report.packets_sent);
    let last_figures = sink
        .events()
        .into_iter()
        .rev()
        .find_map(|e| match e.event {
            ApiEvent::StreamTest { figures, .. } => figures,
            _ => None,
        })
        .expect("figures were sent");
    assert_eq!(
        last_figures.data.count, report.latency_stats.count,
        "the last figures cover every packet the report counts"
    );
    assert!(
        !api.stream_test_stop().await.unwrap(),
        "nothing left to stop"
    );

    // Saved, listed newest first next to a file that is not a report, and opened by name.
    let file = outcome.file.expect("saved");
    let dir = home.path().join("reports").join("stream-test");
    std::fs::write(dir.join("stream-test-1-latency.json"), "{ not json").unwrap();
    let listed = api.stream_test_reports(10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].file, file);
    assert!(listed[0].stopped_early);
    assert_eq!(listed[0].p95_ms, Some(report.latency_stats.p95_ms));
    assert!(
        listed[1]
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("line 1"),
        "{:?}",
        listed[1]
    );
    assert_eq!(api.stream_test_report(file).await.unwrap(), report);
    let bad = api
        .stream_test_report("stream-test-1-latency.json".into())
        .await
        .unwrap_err();
    assert!(
        bad.message.contains("stream-test-1-latency.json:1:"),
        "{}",
        bad.message
    );
    let outside = api
        .stream_test_report("../settings.json".into())
        .await
        .unwrap_err();
    assert_eq!(outside.code, ErrorCode::InvalidInput);
    let text = std::fs::read_to_string(dir.join(&listed[0].file)).unwrap();
    assert!(
        !text.contains("\"secret\""),
        "the report never holds the secret"
    );
}
