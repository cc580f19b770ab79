//! The room service against the real livekit-server: rooms, metadata, participants,
//! and the errors a person gets for a wrong secret or a server that is not there.

mod common;

use common::{LiveKitServer, eventually};
use greenroom_fixture_service::free_port;
use greenroom_rooms::service::{self, Target, TokenOptions};
use std::time::{Duration, Instant};

#[tokio::test]
async fn rooms_metadata_and_participants_on_the_real_server() {
    let server = LiveKitServer::start();
    let target = Target::new(
        &format!("ws://127.0.0.1:{}", server.port),
        "devkey",
        "secret",
    );

    let room = service::create_room(&target, "marie-cosmic", "cosmic_voice", 300)
        .await
        .unwrap();
    assert_eq!(
        (room.name.as_str(), room.metadata.as_str()),
        ("marie-cosmic", "cosmic_voice")
    );
    let rooms = service::list_rooms(&target).await.unwrap();
    assert!(rooms.iter().any(|r| r.name == "marie-cosmic"));
    service::update_room_metadata(&target, "marie-cosmic", "breathing")
        .await
        .unwrap();
    let rooms = service::list_rooms(&target).await.unwrap();
    assert_eq!(
        rooms
            .iter()
            .find(|r| r.name == "marie-cosmic")
            .unwrap()
            .metadata,
        "breathing"
    );

    // A participant joins (signalling WebSocket with a token from livekit-api).
    let jwt = service::token(
        &target,
        "marie-cosmic",
        "learner-1",
        &TokenOptions::participant(),
    )
    .unwrap();
    let session =
        greenroom_rooms::signal::SignalSession::connect(&target.url, &jwt, &Default::default())
            .await
            .expect("the server accepts a livekit-api token");
    let listed = eventually("learner-1 in the room", async || {
        service::list_participants(&target, "marie-cosmic")
            .await
            .ok()
            .filter(|p| p.iter().any(|x| x.identity == "learner-1"))
    })
    .await;
    assert_eq!(listed[0].kind, "standard");

    service::remove_participant(&target, "marie-cosmic", "learner-1")
        .await
        .unwrap();
    eventually("learner-1 to be gone", async || {
        service::list_participants(&target, "marie-cosmic")
            .await
            .ok()
            .filter(|p| p.is_empty())
            .map(|_| ())
    })
    .await;
    drop(session);

    service::delete_room(&target, "marie-cosmic").await.unwrap();
    assert!(
        !service::list_rooms(&target)
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "marie-cosmic")
    );
}

#[tokio::test]
async fn wrong_secrets_and_missing_servers_are_explained() {
    let server = LiveKitServer::start();
    let wrong = Target::new(
        &format!("ws://127.0.0.1:{}", server.port),
        "devkey",
        "not-the-secret",
    );
    let err = service::list_rooms(&wrong).await.unwrap_err().0;
    assert!(err.contains("refused the API key or secret"), "{err}");
    assert!(!err.contains("not-the-secret"));

    let nowhere = Target::new(
        &format!("ws://127.0.0.1:{}", free_port()),
        "devkey",
        "secret",
    );
    let started = Instant::now();
    let err = service::list_rooms(&nowhere).await.unwrap_err().0;
    assert!(err.contains("no LiveKit server answers"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
}
