//! The control plane meets the participant: the real server accepts the tokens our token
//! service mints and refuses forged ones, and a participant who joined is listed and
//! removed through the room service.

use crate::common::{LiveKitServer, eventually, token};
use greenroom_livekit::room_service::{self, Target};
use greenroom_livekit::token_service::{TokenServiceConfig, serve};
use greenroom_rooms::signal::{SignalOptions, SignalSession};

async fn start_token_service(url: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = TokenServiceConfig {
        default_ttl_seconds: 600,
        ..TokenServiceConfig::new("devkey".into(), "secret".into(), url.into())
    };
    tokio::spawn(serve(listener, config, std::future::pending()));
    format!("http://{addr}")
}

#[tokio::test]
async fn the_real_livekit_server_accepts_our_tokens_and_refuses_forged_ones() {
    let server = LiveKitServer::start();
    let base = start_token_service(&server.url()).await;
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

    let forged = greenroom_livekit::token::mint(&greenroom_livekit::token::TokenRequest {
        api_key: "devkey",
        api_secret: "not-the-secret",
        identity: "intruder",
        name: None,
        metadata: None,
        grants: greenroom_livekit::token::VideoGrants::participant("interop"),
        ttl_seconds: 600,
        room_config: None,
    })
    .unwrap();
    // Only an HTTP 401 from the server is worded "refused the token".
    let refused = SignalSession::connect(&server.url(), &forged, &SignalOptions::default())
        .await
        .err()
        .expect("a forged token must be refused");
    assert!(
        refused.to_string().contains("refused the token"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_joined_participant_is_listed_and_removed_by_the_room_service() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    room_service::create_room(&target, "marie-cosmic", "cosmic_voice", 300)
        .await
        .unwrap();
    let jwt = token(&target, "marie-cosmic", "learner-1");
    let session = SignalSession::connect(&target.url, &jwt, &SignalOptions::default())
        .await
        .expect("the server accepts our token");
    let listed = eventually("learner-1 in the room", async || {
        room_service::list_participants(&target, "marie-cosmic")
            .await
            .ok()
            .filter(|p| p.iter().any(|x| x.identity == "learner-1"))
    })
    .await;
    assert_eq!(listed[0].kind, "standard");

    room_service::remove_participant(&target, "marie-cosmic", "learner-1")
        .await
        .unwrap();
    eventually("learner-1 to be gone", async || {
        room_service::list_participants(&target, "marie-cosmic")
            .await
            .ok()
            .filter(|p| p.is_empty())
            .map(|_| ())
    })
    .await;
    drop(session);
    room_service::delete_room(&target, "marie-cosmic")
        .await
        .unwrap();
}
