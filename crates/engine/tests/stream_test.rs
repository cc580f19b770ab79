//! The stream-test suites against the real livekit-server: packets and audio markers go
//! through it and the report accounts for them.

use greenroom_engine::stream_test::{
    self, LatencyPath, REPORT_SCHEMA, StreamEvent, StreamTestConfig, Suite,
};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::participant::NetworkConditions;
use greenroom_test_support::LiveKitServer;
use std::sync::{Arc, Mutex};

fn config(server: &LiveKitServer, room: &str) -> StreamTestConfig {
    let target = Target::new(&server.url(), "devkey", "secret");
    StreamTestConfig::for_target(&target, Some(room.into()))
}

#[tokio::test]
async fn the_latency_suite_measures_every_packet_and_every_marker() {
    let server = LiveKitServer::start();
    let mut config = config(&server, "latency-suite");
    config.packets = Some(8);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let report = stream_test::run(Suite::Latency, &config, move |e| {
        seen.lock().unwrap().push(e)
    })
    .await
    .expect("the suite runs");
    assert_eq!(report.schema, REPORT_SCHEMA);
    assert_eq!(report.test_name, "latency_test");
    assert_eq!((report.packets_sent, report.packets_received), (8, 8));
    assert_eq!(report.packet_loss_rate, 0.0);
    assert_eq!(report.latency_stats.count, 8);
    assert!(
        report.latency_stats.min_ms > 0.0 && report.latency_stats.max_ms < 1000.0,
        "{:?}",
        report.latency_stats
    );
    assert_eq!(report.audio.markers_heard, 8, "{:?}", report.audio);
    // Heard after the playout delay (40 ms), and not absurdly later on loopback.
    assert!(
        report.audio.latency_stats.min_ms >= 35.0,
        "{:?}",
        report.audio.latency_stats
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.join_ms.len(), 2);
    assert_eq!(report.transports, ["udp", "udp"]);
    let events = events.lock().unwrap();
    let live = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::Latency {
                    path: LatencyPath::Data,
                    ..
                }
            )
        })
        .count();
    assert_eq!(live, 8, "every packet's latency is reported as it arrives");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::Progress { done: 8, total: 8 }))
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        !json.contains("\"secret\""),
        "the report never holds the secret"
    );
}

#[tokio::test]
async fn injected_loss_is_measured_and_a_load_run_counts_every_pair() {
    let server = LiveKitServer::start();
    let mut lossy = config(&server, "lossy-suite");
    lossy.packets = Some(20);
    lossy.interval_ms = Some(100);
    lossy.network = NetworkConditions {
        loss: 0.1,
        latency_ms: 0,
        jitter_ms: 0,
        block_udp: false,
    };
    let report = stream_test::run(Suite::Stress, &lossy, |_| {})
        .await
        .expect("the suite runs under loss");
    assert!(
        report.network.dropped_by_conditions > 0,
        "{:?}",
        report.network
    );
    // The reliable channel retransmits what we dropped; the audio conceals it.
    assert_eq!(report.packets_received, 20, "{report:?}");
    assert!(report.audio.frames_concealed > 0, "{:?}", report.audio);

    let mut load = config(&server, "load-suite");
    load.duration_seconds = Some(2.0);
    load.interval_ms = Some(250);
    load.publishers = 2;
    load.subscribers = 2;
    let report = stream_test::run(Suite::Load, &load, |_| {})
        .await
        .expect("the load suite runs");
    assert_eq!(report.packets_sent, 2 * 8);
    assert_eq!(
        report.packets_received,
        2 * 8 * 2,
        "every subscriber hears every publisher"
    );
    assert_eq!(report.audio.first_audio_ms.len(), 2);
}

/// Behind a firewall that drops UDP, the suite runs over ICE-TCP and loses nothing.
#[tokio::test]
async fn with_udp_blocked_the_suite_runs_over_tcp_and_says_so() {
    let server = LiveKitServer::start();
    let mut config = config(&server, "firewalled-suite");
    config.packets = Some(5);
    config.network.block_udp = true;
    let report = stream_test::run(Suite::Latency, &config, |_| {})
        .await
        .expect("the suite runs with UDP blocked");
    assert_eq!(report.transports, ["tcp", "tcp"]);
    assert!(report.network.block_udp);
    assert_eq!((report.packets_sent, report.packets_received), (5, 5));
    assert_eq!(report.audio.markers_heard, 5, "{:?}", report.audio);
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    config.transport = greenroom_rooms::participant::IceTransport::Udp;
    let refused = stream_test::run(Suite::Latency, &config, |_| {})
        .await
        .expect_err("UDP only, with UDP blocked, cannot run");
    assert!(refused.to_string().contains("--transport"), "{refused}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let port = greenroom_test_support::free_port();
    let target = Target::new(&format!("ws://127.0.0.1:{port}"), "devkey", "secret");
    let config = StreamTestConfig::for_target(&target, None);
    let e = stream_test::run(Suite::Latency, &config, |_| {})
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("greenroom-receiver-0 could not join"),
        "{e}"
    );
}

#[tokio::test]
async fn a_stopped_run_reports_what_it_sent_and_says_it_stopped() {
    let server = LiveKitServer::start();
    let mut config = config(&server, "stopped-suite");
    config.packets = Some(50);
    config.interval_ms = Some(100);
    let stop = stream_test::StopSignal::default();
    let stopper = stop.clone();
    let report = stream_test::run_until_stopped(Suite::Stress, &config, &stop, move |e| {
        if let StreamEvent::Progress { done: 5, .. } = e {
            stopper.stop();
        }
    })
    .await
    .expect("a stopped run still reports");
    assert!(report.stopped_early);
    assert_eq!(report.packets_sent, 5, "{report:?}");
    assert_eq!(report.packets_received, 5, "{report:?}");
    assert_eq!(report.packet_loss_rate, 0.0);
    assert_eq!(report.audio.markers_sent, 5, "{:?}", report.audio);
}
