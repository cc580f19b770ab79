//! The token service over HTTP, and its tokens accepted (or refused) by the real
//! livekit-server.

use greenroom_fixture_service::LiveKitServer;
use greenroom_rooms::signal::{SignalOptions, SignalSession};
use greenroom_rooms::token::verify;
use greenroom_rooms::token_service::{TokenServiceConfig, serve};

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

#[tokio::test]
async fn the_real_livekit_server_accepts_our_tokens_and_refuses_forged_ones() {
    let server = LiveKitServer::start();
    let base = start(&server.url()).await;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .json(&serde_json::json!({"room": "interop", "identity": "greenroom-test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["token"].as_str().unwrap();
    let joined = SignalSession::connect(&server.url(), token, &SignalOptions::default())
        .await
        .expect("livekit-server accepts the token");
    assert_eq!(joined.participant().0, "greenroom-test");
    joined.leave().await;

    let forged = greenroom_rooms::token::mint(&greenroom_rooms::token::TokenRequest {
        api_key: "devkey",
        api_secret: "not-the-secret",
        identity: "intruder",
        name: None,
        metadata: None,
        grants: greenroom_rooms::token::VideoGrants::participant("interop"),
        ttl_seconds: 600,
    })
    .unwrap();
    // Only an HTTP 401 from the server is worded "refused the token".
    let refused = SignalSession::connect(&server.url(), &forged, &SignalOptions::default())
        .await
        .err()
        .expect("a forged token must be refused");
    assert!(refused.0.contains("refused the token"), "{refused}");
}
