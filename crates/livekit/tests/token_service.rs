//! The token service over HTTP. That the real livekit-server accepts its tokens (and
//! refuses forged ones) is shown where a participant exists: `crates/rooms/tests`.

use greenroom_livekit::token::verify;
use greenroom_livekit::token_service::{TokenServiceConfig, serve};

fn config(url: &str) -> TokenServiceConfig {
    TokenServiceConfig {
        default_ttl_seconds: 600,
        ..TokenServiceConfig::new("devkey".into(), "secret".into(), url.into())
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
async fn admin_and_hidden_grants_need_the_manifest_and_the_ttl_is_capped() {
    let base = start("ws://127.0.0.1:7880").await;
    let client = reqwest::Client::new();
    for grants in [
        serde_json::json!({"roomAdmin": true}),
        serde_json::json!({"hidden": true}),
        serde_json::json!({"room_admin": true, "hidden": true}),
    ] {
        let r = client
            .post(format!("{base}/token"))
            .json(&serde_json::json!({"room": "marie", "identity": "spy", "grants": grants}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{grants}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains("TOKEN_SERVICE_ALLOW_PRIVILEGED_GRANTS"),
            "{text}"
        );
    }
    let long = client
        .post(format!("{base}/token"))
        .json(
            &serde_json::json!({"room": "marie", "identity": "u1", "ttl_seconds": 30 * 24 * 3600}),
        )
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = long.json().await.unwrap();
    let claims = verify(answer["token"].as_str().unwrap(), "secret").unwrap();
    let lifetime = claims.exp - claims.nbf;
    // `nbf` is a few seconds early, for clocks that differ.
    assert!(lifetime <= 6 * 3600 + 60, "capped at 6 h, got {lifetime} s");

    // A manifest that enables them gets them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = TokenServiceConfig {
        allow_privileged_grants: true,
        ..config("ws://127.0.0.1:7880")
    };
    tokio::spawn(serve(listener, open, std::future::pending()));
    let r = client
        .post(format!("http://{addr}/token"))
        .json(&serde_json::json!({"room": "marie", "identity": "admin", "grants": {"roomAdmin": true, "hidden": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    let claims = verify(answer["token"].as_str().unwrap(), "secret").unwrap();
    assert!(claims.video.room_admin && claims.video.hidden);
}

#[tokio::test]
async fn a_rebinding_page_gets_nothing_and_an_emulator_by_address_does() {
    let base = start("ws://127.0.0.1:7880").await;
    let port = base.rsplit(':').next().unwrap();
    let client = reqwest::Client::new();
    let ask = |host: String| {
        client
            .post(format!("{base}/token"))
            .header("Host", host)
            .json(&serde_json::json!({"room": "marie", "identity": "u1"}))
            .send()
    };
    let rebound = ask(format!("attacker.example:{port}")).await.unwrap();
    assert_eq!(rebound.status(), 403);
    assert!(
        !rebound.text().await.unwrap().contains("eyJ"),
        "no token in a refusal"
    );
    assert_eq!(ask(format!("10.0.2.2:{port}")).await.unwrap().status(), 200);
    assert_eq!(
        ask(format!("localhost:{port}")).await.unwrap().status(),
        200
    );
}
