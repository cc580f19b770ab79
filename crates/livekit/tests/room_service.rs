//! The room service against the real livekit-server: rooms and their metadata, and the
//! errors a person gets for a wrong secret or a server that is not there. Participants in a
//! room need our participant: `crates/rooms/tests/participant/control_plane.rs`.

use greenroom_livekit::room_service::{self, RoomsError, Target};
use greenroom_test_support::{LiveKitServer, free_port};
use std::time::{Duration, Instant};

#[tokio::test]
async fn rooms_and_their_metadata_on_the_real_server() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");

    let room = room_service::create_room(&target, "marie-cosmic", "cosmic_voice", 300)
        .await
        .unwrap();
    assert_eq!(
        (room.name.as_str(), room.metadata.as_str()),
        ("marie-cosmic", "cosmic_voice")
    );
    let rooms = room_service::list_rooms(&target).await.unwrap();
    assert!(rooms.iter().any(|r| r.name == "marie-cosmic"));
    room_service::update_room_metadata(&target, "marie-cosmic", "breathing")
        .await
        .unwrap();
    let rooms = room_service::list_rooms(&target).await.unwrap();
    assert_eq!(
        rooms
            .iter()
            .find(|r| r.name == "marie-cosmic")
            .unwrap()
            .metadata,
        "breathing"
    );

    room_service::delete_room(&target, "marie-cosmic")
        .await
        .unwrap();
    assert!(
        !room_service::list_rooms(&target)
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "marie-cosmic")
    );
    let unnamed = room_service::create_room(&target, " ", "", 300)
        .await
        .unwrap_err();
    assert!(matches!(unnamed, RoomsError::InvalidInput(_)), "{unnamed}");
}

#[tokio::test]
async fn wrong_secrets_and_missing_servers_are_explained() {
    let server = LiveKitServer::start();
    let wrong = Target::new(&server.url(), "devkey", "not-the-secret");
    let err = room_service::list_rooms(&wrong).await.unwrap_err();
    assert!(matches!(err, RoomsError::Refused { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("refused the API key or secret"), "{text}");
    assert!(!text.contains("not-the-secret"));

    let nowhere = Target::new(
        &format!("ws://127.0.0.1:{}", free_port()),
        "devkey",
        "secret",
    );
    let started = Instant::now();
    let err = room_service::list_rooms(&nowhere).await.unwrap_err();
    assert!(matches!(err, RoomsError::NoServer { .. }), "{err}");
    assert!(
        err.to_string().contains("no LiveKit server answers"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}
