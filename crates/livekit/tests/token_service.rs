//! The token service over HTTP. That the real livekit-server accepts its tokens (and
//! refuses forged ones) is shown where a participant exists: `crates/rooms/tests`.

use greenroom_livekit::token::verify;
use greenroom_livekit::token_service::{TokenServiceConfig, serve};

fn config(url: &str) -> TokenServiceConfig {
    TokenServiceConfig {
        api_key: "devkey".into(),
        api_secret: "secret".into(),
        livekit_url: url.into(),
        default_ttl_seconds: 600,
    }
}

async fn start(url: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, config(url), std::future::pending()));
    format!("http://{addr}")
}

#[tokio::test]
async fn speaks_the_eloquence_token_api() {
    let base = start("ws://127.0.0.1:7880").await;
    let client = reqwest::Client::new();
    let health: serde_json::Value = client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    for (path, body) in [
        (
            "/token",
            serde_json::json!({"room": "marie", "identity": "u1"}),
        ),
        (
            "/api/token",
            serde_json::json!({"room_name": "marie", "participant_name": "u1", "metadata": {"exercise": "cosmic"}}),
        ),
        (
            "/generate-token",
            serde_json::json!({"room": "marie", "identity": "u1", "grants": {"canPublish": false}}),
        ),
    ] {
        let r = client
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["url"], "ws://127.0.0.1:7880");
        let claims = verify(answer["token"].as_str().unwrap(), "secret").unwrap();
        assert_eq!(claims.video.room.as_deref(), Some("marie"));
        if path == "/api/token" {
            assert_eq!(claims.metadata.as_deref(), Some(r#"{"exercise":"cosmic"}"#));
        }
        if path == "/generate-token" {
            assert_eq!(claims.video.can_publish, Some(false));
        }
    }
    let missing = client
        .post(format!("{base}/token"))
        .json(&serde_json::json!({"room": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let text = missing.text().await.unwrap();
    assert!(text.contains("identity"), "{text}");
    assert!(!text.contains("secret"));
}
