//! Two of our participants on the real livekit-server: audio one way (a tone arrives at
//! its frequency), data both ways on both channels.

use crate::common::{LiveKitServer, token, wait_for};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::audio::{Tone, dominant_frequency};
use greenroom_rooms::participant::{
    DataOptions, Participant, ParticipantEvent, ParticipantOptions,
};

#[tokio::test]
async fn a_tone_published_by_one_participant_is_heard_by_the_other_at_its_frequency() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = ParticipantOptions::default();
    let mut listener =
        Participant::join(&target.url, &token(&target, "media", "listener"), &options)
            .await
            .expect("the listener joins");
    let speaker = Participant::join(&target.url, &token(&target, "media", "speaker"), &options)
        .await
        .expect("the speaker joins");
    let track = speaker
        .publish_audio("tone")
        .await
        .expect("the track is published");
    assert!(track.sid.starts_with("TR_"), "{}", track.sid);

    let player = {
        let track = track.clone();
        tokio::spawn(async move {
            let mut tone = Tone::new(440.0, 0.3);
            track.play(&mut tone, Some(150), |_, _| {}).await
        })
    };
    let subscribed = wait_for(&mut listener, "the speaker's track", |e| match e {
        ParticipantEvent::TrackSubscribed {
            participant,
            track_sid,
        } => Some((participant.clone(), track_sid.clone())),
        _ => None,
    })
    .await;
    assert_eq!(subscribed, ("speaker".to_string(), track.sid.clone()));

    let mut heard = Vec::new();
    let mut concealed = 0;
    while heard.len() < 48_000 {
        let frame = wait_for(&mut listener, "audio frames", |e| match e {
            ParticipantEvent::Audio(frame) => Some(frame.clone()),
            _ => None,
        })
        .await;
        assert_eq!(frame.participant, "speaker");
        assert_eq!(frame.track_sid, track.sid);
        concealed += usize::from(frame.concealed);
        heard.extend_from_slice(&frame.samples);
    }
    // Skip the first 200 ms (the encoder and decoder settle).
    let frequency = dominant_frequency(&heard[9600..], 100.0, 4000.0).expect("sound, not silence");
    assert!((frequency - 440.0).abs() <= 3.0, "heard {frequency} Hz");
    assert!(
        concealed <= 5,
        "{concealed} of 50 frames concealed on loopback"
    );
    assert_eq!(player.await.unwrap().unwrap(), 150);

    let stats = listener.stats();
    assert!(stats.audio_frames_played >= 45, "{stats:?}");
    speaker.leave().await;
    listener.leave().await;
}

#[tokio::test]
async fn data_goes_both_ways_on_both_channels_and_to_one_identity() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = ParticipantOptions::default();
    let mut alice = Participant::join(&target.url, &token(&target, "data", "alice"), &options)
        .await
        .unwrap();
    let mut bob = Participant::join(&target.url, &token(&target, "data", "bob"), &options)
        .await
        .unwrap();
    assert_eq!(bob.others.len(), 1, "bob sees alice in the JoinResponse");
    wait_for(&mut alice, "bob to join", |e| {
        matches!(e, ParticipantEvent::ParticipantJoined { identity, .. } if identity == "bob")
            .then_some(())
    })
    .await;

    for reliable in [true, false] {
        alice
            .send_data(
                format!("bonjour reliable={reliable}").into_bytes(),
                DataOptions {
                    topic: Some("greenroom-test".into()),
                    reliable,
                    destinations: vec![],
                },
            )
            .unwrap();
        let (from, topic, payload, was_reliable) =
            wait_for(&mut bob, "alice's packet", |e| match e {
                ParticipantEvent::Data {
                    participant,
                    topic,
                    payload,
                    reliable,
                    ..
                } => Some((
                    participant.clone(),
                    topic.clone(),
                    payload.clone(),
                    *reliable,
                )),
                _ => None,
            })
            .await;
        assert_eq!(from, "alice");
        assert_eq!(topic.as_deref(), Some("greenroom-test"));
        assert_eq!(payload, format!("bonjour reliable={reliable}").into_bytes());
        assert_eq!(was_reliable, reliable);
    }

    bob.send_data(
        b"salut".to_vec(),
        DataOptions {
            topic: None,
            reliable: true,
            destinations: vec!["alice".into()],
        },
    )
    .unwrap();
    let payload = wait_for(&mut alice, "bob's answer", |e| match e {
        ParticipantEvent::Data {
            participant,
            payload,
            ..
        } if participant == "bob" => Some(payload.clone()),
        _ => None,
    })
    .await;
    assert_eq!(payload, b"salut");
    assert_eq!(alice.stats().data_received, 1);
    assert_eq!(alice.stats().data_sent, 2);

    bob.leave().await;
    wait_for(&mut alice, "bob to leave", |e| {
        matches!(e, ParticipantEvent::ParticipantLeft { identity, .. } if identity == "bob")
            .then_some(())
    })
    .await;
    alice.leave().await;
}

/// LiveKit recycles a subscriber m-line for the next speaker and keeps its SSRC, while the
/// new speaker's sequence numbers may start below the last one we saw. Each speaker has its
/// own pitch, so the test tells whose audio comes out under which name.
#[tokio::test]
async fn speakers_who_come_and_go_are_each_heard_under_their_own_name() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = ParticipantOptions::default();
    let mut listener =
        Participant::join(&target.url, &token(&target, "turns", "listener"), &options)
            .await
            .unwrap();
    for (turn, pitch) in [330.0, 440.0, 554.0, 659.0].into_iter().enumerate() {
        let name = format!("speaker-{turn}");
        let speaker = Participant::join(&target.url, &token(&target, "turns", &name), &options)
            .await
            .unwrap();
        let track = speaker.publish_audio("tone").await.unwrap();
        let player = tokio::spawn(async move {
            let mut tone = Tone::new(pitch, 0.3);
            track.play(&mut tone, Some(250), |_, _| {}).await
        });
        let mut heard = Vec::new();
        // 300 ms heard; the first 100 ms are left out while the decoder settles.
        while heard.len() < 14_400 {
            let samples = wait_for(&mut listener, &format!("audio from {name}"), |e| match e {
                ParticipantEvent::Audio(f) if f.participant == name && !f.concealed => {
                    Some(f.samples.clone())
                }
                _ => None,
            })
            .await;
            heard.extend_from_slice(&samples);
        }
        let frequency =
            dominant_frequency(&heard[4800..], 100.0, 4000.0).expect("sound, not silence");
        assert!(
            (frequency - pitch).abs() <= 5.0,
            "{name} played {pitch} Hz, we heard {frequency} Hz under that name"
        );
        player.abort();
        speaker.leave().await;
    }
    listener.leave().await;
}

/// The join's timeline (`join_steps`) tells how both connections came up, in order: each
/// was checked, nominated, secured and had its data channels opened before ready.
#[tokio::test]
async fn the_join_steps_tell_how_each_connection_came_up_in_order() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let p = Participant::join(
        &target.url,
        &token(&target, "steps", "alice"),
        &ParticipantOptions::default(),
    )
    .await
    .unwrap();
    let steps = &p.join_steps;
    let at = |connection: Option<&str>, step: &str| {
        steps
            .iter()
            .find(|s| s.connection == connection && s.step == step)
            .unwrap_or_else(|| panic!("no {connection:?} {step:?} in {steps:#?}"))
            .at
    };
    assert!(
        steps.windows(2).all(|w| w[0].at <= w[1].at),
        "in the order they happened: {steps:#?}"
    );
    assert_eq!(steps.first().map(|s| s.step), Some("JoinResponse"));
    assert_eq!(steps.last().map(|s| s.step), Some("ready"));
    assert_eq!(at(None, "ready"), steps.last().unwrap().at);
    assert!(at(None, "ready") <= p.ready_time);
    let (publisher, subscriber) = (Some("publisher"), Some("subscriber"));
    // We offer the publisher connection and nominate its pair; the server offers the
    // subscriber connection and nominates.
    assert!(at(publisher, "offer sent") <= at(publisher, "answer received"));
    assert!(at(publisher, "nomination sent") <= at(publisher, "DTLS connected"));
    assert!(at(subscriber, "offer received") <= at(subscriber, "answer sent"));
    assert!(at(subscriber, "nomination received") <= at(subscriber, "DTLS connected"));
    for side in [publisher, subscriber] {
        assert!(at(side, "first check sent") <= at(side, "ICE connected"));
        assert!(at(side, "ICE connected") <= at(side, "DTLS connected"));
        assert!(at(side, "DTLS connected") <= at(side, "_reliable open"));
    }
    assert!(at(publisher, "_lossy open") <= at(None, "ready"));
    p.leave().await;
}
