//! The token service over HTTP, and its tokens accepted (or refused) by the real
//! livekit-server.

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

use greenroom_fixture_service::LiveKitServer;

#[tokio::test]
async fn the_real_livekit_server_accepts_our_tokens_and_refuses_forged_ones() {
    let mut server = LiveKitServer::start();
    let port = server.port;
    let base = start(&format!("ws://127.0.0.1:{port}")).await;
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
    let url =
        format!("ws://127.0.0.1:{port}/rtc?access_token={token}&protocol=15&auto_subscribe=1");
    let (socket, response) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("livekit-server accepts the token");
    assert_eq!(response.status().as_u16(), 101);
    drop(socket);

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
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{port}/rtc?access_token={forged}&protocol=15"
    ))
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("a forged token must be refused, got {other:?}"),
    }
    server.kill();
}
