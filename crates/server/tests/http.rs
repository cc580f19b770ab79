//! The server on a real socket: commands, errors, events and the host/origin guard.

use futures_util::StreamExt;
use greenroom_api::{Api, AppHome};
use greenroom_server::{BroadcastSink, bind};
use std::sync::Arc;
use std::time::Duration;

async fn start() -> (tempfile::TempDir, std::net::SocketAddr) {
    let home = tempfile::tempdir().unwrap();
    let events = BroadcastSink::default();
    let api = Arc::new(Api::new(
        AppHome::at(home.path()),
        vec![],
        Arc::new(events.clone()),
    ));
    let server = bind(api, events, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(std::future::pending()));
    (home, addr)
}

#[tokio::test]
async fn commands_errors_and_events_over_http() {
    let (_home, addr) = start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/events"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/call");

    let ok = client
        .post(&url)
        .json(&serde_json::json!({"command": "update_settings", "args": {"patch": {"livekit_url": "ws://127.0.0.1:7999"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let view: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(view["livekit_url"], "ws://127.0.0.1:7999");

    // The event arrives on the WebSocket (poll with a deadline, never sleep).
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(envelope["topic"], "settings://changed");
    assert_eq!(envelope["event"]["kind"], "settings_changed");

    let bad = client
        .post(&url)
        .json(&serde_json::json!({"command": "update_settings", "args": {"patch": {"livekit_url": "nope"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let err: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(err["code"], "invalid_input");

    let garbage = client.post(&url).body("{not json").send().await.unwrap();
    assert_eq!(garbage.status(), 400);
    let err: serde_json::Value = garbage.json().await.unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a Greenroom command")
    );
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (_home, addr) = start().await;
    let client = reqwest::Client::new();
    let health = format!("http://{addr}/api/health");
    assert_eq!(client.get(&health).send().await.unwrap().status(), 200);
    let rebound = client
        .get(&health)
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let cross_site = client
        .post(format!("http://{addr}/api/call"))
        .header("Origin", "http://evil.example")
        .body(r#"{"command":"app_info","args":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let home = tempfile::tempdir().unwrap();
    let events = BroadcastSink::default();
    let api = Arc::new(Api::new(
        AppHome::at(home.path()),
        vec![],
        Arc::new(events.clone()),
    ));
    let err = bind(api, events, addr)
        .await
        .err()
        .expect("the port is taken");
    assert!(
        matches!(err, greenroom_server::BindError::InUse(_)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("already in use") && text.contains("--port"),
        "{text}"
    );
}
