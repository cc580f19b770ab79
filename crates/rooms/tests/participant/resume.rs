//! Signalling faults on the real livekit-server: a lost connection is resumed and media
//! goes on; a server that restarted (and forgot the session) ends it with a clear reason.

use crate::common::{CuttableProxy, LiveKitServer, token, wait_for, wait_for_event};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::audio::Tone;
use greenroom_rooms::participant::{
    DataOptions, Participant, ParticipantEvent, ParticipantOptions,
};
use greenroom_rooms::signal::Closed;
use std::time::Duration;

fn data(text: &str) -> (Vec<u8>, DataOptions) {
    (
        text.as_bytes().to_vec(),
        DataOptions {
            topic: Some("resume".into()),
            reliable: true,
            destinations: vec![],
        },
    )
}

#[tokio::test]
async fn a_lost_signalling_connection_is_resumed_and_media_goes_on() {
    let server = LiveKitServer::start();
    let proxy = CuttableProxy::start(server.port).await;
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = ParticipantOptions::default();
    // The listener's signalling goes through the proxy; its media goes to the server.
    let mut listener = Participant::join(
        &proxy.url(),
        &token(&target, "resume", "listener"),
        &options,
    )
    .await
    .expect("the listener joins through the proxy");
    let mut speaker =
        Participant::join(&target.url, &token(&target, "resume", "speaker"), &options)
            .await
            .expect("the speaker joins");
    let track = speaker.publish_audio("tone").await.unwrap();
    let player = tokio::spawn(async move {
        let mut tone = Tone::new(440.0, 0.3);
        track.play(&mut tone, None, |_, _| {}).await
    });
    let heard_speaker = |e: &ParticipantEvent| match e {
        ParticipantEvent::Audio(f) if f.participant == "speaker" && !f.concealed => Some(()),
        _ => None,
    };
    wait_for(&mut listener, "the speaker's audio", heard_speaker).await;

    proxy.cut();
    let reason = wait_for(&mut listener, "the loss to be noticed", |e| match e {
        ParticipantEvent::Reconnecting(reason) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("signalling"), "{reason}");
    let (took, attempts) = wait_for(&mut listener, "the session to resume", |e| match e {
        ParticipantEvent::Reconnected { took, attempts } => Some((*took, *attempts)),
        _ => None,
    })
    .await;
    assert!(attempts >= 1);
    eprintln!("resumed in {took:?} after {attempts} attempt(s); lost because {reason}");
    assert_eq!(
        listener.stats().reconnections_ms,
        vec![took.as_secs_f64() * 1000.0]
    );

    // After the resume (and the server's ICE restart of our subscriber): audio, and data
    // both ways.
    let (payload, send) = data("after the resume");
    speaker.send_data(payload, send).unwrap();
    wait_for(&mut listener, "the speaker's data", |e| match e {
        ParticipantEvent::Data {
            participant,
            payload,
            ..
        } if participant == "speaker" && payload == b"after the resume" => Some(()),
        _ => None,
    })
    .await;
    let (payload, send) = data("still here");
    listener.send_data(payload, send).unwrap();
    wait_for(&mut speaker, "the listener's data", |e| match e {
        ParticipantEvent::Data {
            participant,
            payload,
            ..
        } if participant == "listener" && payload == b"still here" => Some(()),
        _ => None,
    })
    .await;
    // Drain what arrived before the cut, then hear new audio.
    while listener.next_event(Duration::ZERO).await.is_some() {}
    wait_for(
        &mut listener,
        "the speaker's audio after the resume",
        heard_speaker,
    )
    .await;

    player.abort();
    speaker.leave().await;
    listener.leave().await;
}

#[tokio::test]
async fn a_server_that_restarted_ends_the_session_saying_it_could_not_resume() {
    let mut server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let mut learner = Participant::join(
        &target.url,
        &token(&target, "forgotten", "learner"),
        &ParticipantOptions::default(),
    )
    .await
    .unwrap();
    server.restart();
    wait_for(&mut learner, "the loss to be noticed", |e| {
        matches!(e, ParticipantEvent::Reconnecting(_)).then_some(())
    })
    .await;
    let closed = wait_for_event(
        &mut learner,
        "the session to end (it cannot resume)",
        Duration::from_secs(30),
        |e| match e {
            ParticipantEvent::Closed(closed) => Some(closed.clone()),
            _ => None,
        },
    )
    .await;
    let Closed::Transport(reason) = &closed else {
        panic!("{closed:?}")
    };
    eprintln!("{reason}");
    assert!(reason.contains("could not be resumed"), "{reason}");
}
