//! Our participant's signalling against the real livekit-server: join, see each other,
//! measure the round trip, leave, be thrown out with the room, and fail clearly.

use crate::common::{LiveKitServer, eventually, token, wait_for_event};
use greenroom_core::{Classified, ErrorKind};
use greenroom_livekit::room_service::{self as service, Target, TokenOptions};
use greenroom_rooms::signal::{Closed, SignalError, SignalEvent, SignalOptions, SignalSession};
use livekit_protocol::signal_response::Message;
use std::time::Duration;

/// How long each signalling event may take to come.
const WITHIN: Duration = Duration::from_secs(15);

#[tokio::test]
async fn two_participants_join_see_each_other_and_leave() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = SignalOptions::default();

    let mut learner = SignalSession::connect(
        &target.url,
        &token(&target, "signal-room", "learner"),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(learner.participant().0, "learner");
    assert!(learner.participant().1.starts_with("PA_"));
    assert_eq!(learner.join.room.as_ref().unwrap().name, "signal-room");
    assert!(learner.join.ping_interval > 0);

    let coach = SignalSession::connect(
        &target.url,
        &token(&target, "signal-room", "coach"),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(
        coach
            .join
            .other_participants
            .iter()
            .map(|p| p.identity.as_str())
            .collect::<Vec<_>>(),
        ["learner"],
        "the second participant is told who is already there"
    );
    wait_for_event(
        &mut learner,
        "the coach to be announced",
        WITHIN,
        |e| match e {
            SignalEvent::Message(m) => match m.as_ref() {
                Message::Update(u) => u
                    .participants
                    .iter()
                    .any(|p| p.identity == "coach")
                    .then_some(()),
                _ => None,
            },
            _ => None,
        },
    )
    .await;

    let rtt = eventually("a signalling round trip", async || learner.rtt()).await;
    assert!(rtt < Duration::from_secs(5), "loopback round trip {rtt:?}");

    let listed = service::list_participants(&target, "signal-room")
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    coach.leave().await;
    eventually("the coach to be gone from the room service", async || {
        service::list_participants(&target, "signal-room")
            .await
            .ok()
            .filter(|p| p.len() == 1 && p[0].identity == "learner")
    })
    .await;

    // The room is deleted under the learner: the session ends, saying why.
    service::delete_room(&target, "signal-room").await.unwrap();
    let closed = wait_for_event(
        &mut learner,
        "the end of the session",
        WITHIN,
        |e| match e {
            SignalEvent::Closed(c) => Some(c.clone()),
            _ => None,
        },
    )
    .await;
    assert!(
        matches!(&closed, Closed::ByServer { reason, .. } if reason == "ROOM_DELETED"),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_server_that_dies_ends_the_session_instead_of_hanging() {
    let mut server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = SignalOptions {
        resume_window: Duration::from_secs(2),
        ..SignalOptions::default()
    };
    let mut learner =
        SignalSession::connect(&target.url, &token(&target, "doomed", "learner"), &options)
            .await
            .unwrap();
    server.kill();
    wait_for_event(&mut learner, "the attempt to resume", WITHIN, |e| {
        matches!(e, SignalEvent::Reconnecting(_)).then_some(())
    })
    .await;
    let closed = wait_for_event(
        &mut learner,
        "the end of the session",
        WITHIN,
        |e| match e {
            SignalEvent::Closed(c) => Some(c.clone()),
            _ => None,
        },
    )
    .await;
    let Closed::Transport(reason) = &closed else {
        panic!("{closed:?}")
    };
    assert!(
        reason.contains("could not be resumed") && reason.contains("no LiveKit server answers"),
        "{reason}"
    );
}

#[tokio::test]
async fn bad_tokens_and_missing_servers_are_explained() {
    let server = LiveKitServer::start();
    let options = SignalOptions {
        connect_timeout: Duration::from_secs(5),
        ..Default::default()
    };

    let wrong = Target::new(&server.url(), "devkey", "not-the-secret");
    let forged = token(&wrong, "r", "x");
    let e = SignalSession::connect(&wrong.url, &forged, &options)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SignalError::TokenRefused { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("refused the token"), "{e}");
    assert!(
        e.to_string().contains("signature is invalid"),
        "the server's reason is kept: {e}"
    );
    assert!(!e.to_string().contains(&forged), "the token leaked: {e}");
    assert!(e.to_string().contains("LIVEKIT_API_SECRET"), "{e}");
    assert!(
        !e.to_string().contains("not-the-secret"),
        "the secret leaked: {e}"
    );

    let right = Target::new(&server.url(), "devkey", "secret");
    let expired = service::token(
        &right,
        "r",
        "x",
        &TokenOptions {
            ttl: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    )
    .unwrap();
    eventually(
        "the one-second token to expire",
        async || match SignalSession::connect(&right.url, &expired, &options).await {
            Err(e) if e.to_string().contains("expired") => Some(()),
            _ => None,
        },
    )
    .await;

    let nowhere = format!("ws://127.0.0.1:{}", greenroom_test_support::free_port());
    let e = SignalSession::connect(&nowhere, &token(&right, "r", "x"), &options)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("no LiveKit server answers"), "{e}");
    assert!(matches!(e, SignalError::NoServer { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unavailable);

    let e = SignalSession::connect("localhost:7880", &token(&right, "r", "x"), &options)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("ws://"), "{e}");
    assert!(matches!(e, SignalError::NotALiveKitUrl { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
