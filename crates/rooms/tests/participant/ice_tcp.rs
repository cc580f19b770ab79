//! ICE over TCP on the real livekit-server: when UDP is blocked, the participant falls back
//! to the server's passive TCP candidates, and audio and data flow as they do over UDP.

use crate::common::{LiveKitServer, pitch_heard, token, wait_for};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::audio::Tone;
use greenroom_rooms::participant::{
    DataOptions, IceTransport, NetworkConditions, Participant, ParticipantEvent, ParticipantOptions,
};

async fn data_arrives(to: &mut Participant, from: &Participant, text: &str) {
    from.send_data(
        text.as_bytes().to_vec(),
        DataOptions {
            topic: Some("ice-tcp".into()),
            reliable: true,
            destinations: vec![],
        },
    )
    .unwrap();
    let payload = wait_for(to, text, |e| match e {
        ParticipantEvent::Data {
            participant,
            payload,
            ..
        } if *participant == from.identity => Some(payload.clone()),
        _ => None,
    })
    .await;
    assert_eq!(payload, text.as_bytes());
}

#[tokio::test]
async fn with_udp_blocked_the_participant_falls_back_to_tcp_and_is_heard() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let mut listener = Participant::join(
        &target.url,
        &token(&target, "firewalled", "listener"),
        &ParticipantOptions {
            transport: IceTransport::Udp,
            ..Default::default()
        },
    )
    .await
    .expect("the listener joins over UDP");
    let firewalled = ParticipantOptions {
        network: NetworkConditions {
            block_udp: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut speaker = Participant::join(
        &target.url,
        &token(&target, "firewalled", "speaker"),
        &firewalled,
    )
    .await
    .expect("the speaker joins although UDP is blocked");
    eprintln!(
        "joined with UDP blocked in {:.0} ms (the listener over UDP: {:.0} ms)",
        speaker.ready_time.as_secs_f64() * 1000.0,
        listener.ready_time.as_secs_f64() * 1000.0
    );
    let stats = speaker.stats();
    assert_eq!(
        stats.publisher_transport.as_deref(),
        Some("tcp"),
        "{stats:?}"
    );
    assert!(
        stats.packets_dropped_by_conditions > 0,
        "ICE tried UDP first (the firewall dropped those checks): {stats:?}"
    );

    let track = speaker
        .publish_audio("tone")
        .await
        .expect("published over TCP");
    let player = tokio::spawn(async move {
        let mut tone = Tone::new(523.0, 0.3);
        track.play(&mut tone, Some(150), |_, _| {}).await
    });
    let frequency = pitch_heard(&mut listener, "speaker").await;
    assert!((frequency - 523.0).abs() <= 3.0, "heard {frequency} Hz");
    assert_eq!(player.await.unwrap().unwrap(), 150);

    data_arrives(&mut listener, &speaker, "sent over TCP").await;
    data_arrives(&mut speaker, &listener, "received over TCP").await;
    let stats = speaker.stats();
    assert_eq!(
        stats.subscriber_transport.as_deref(),
        Some("tcp"),
        "{stats:?}"
    );
    assert_eq!(listener.stats().publisher_transport.as_deref(), Some("udp"));
    speaker.leave().await;
    listener.leave().await;
}

#[tokio::test]
async fn a_participant_offering_only_tcp_hears_and_answers_a_udp_one() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let tcp_only = ParticipantOptions {
        transport: IceTransport::Tcp,
        ..Default::default()
    };
    let mut listener = Participant::join(
        &target.url,
        &token(&target, "tcp-only", "listener"),
        &tcp_only,
    )
    .await
    .expect("the listener joins over TCP");
    let mut speaker = Participant::join(
        &target.url,
        &token(&target, "tcp-only", "speaker"),
        &ParticipantOptions::default(),
    )
    .await
    .expect("the speaker joins");
    assert_eq!(listener.stats().publisher_transport.as_deref(), Some("tcp"));
    assert_eq!(
        listener.stats().packets_dropped_by_conditions,
        0,
        "no UDP candidate was offered, so nothing was dropped"
    );
    assert_eq!(
        speaker.stats().publisher_transport.as_deref(),
        Some("udp"),
        "with UDP open, ICE prefers it"
    );

    let track = speaker.publish_audio("tone").await.expect("published");
    let player = tokio::spawn(async move {
        let mut tone = Tone::new(659.0, 0.3);
        track.play(&mut tone, Some(150), |_, _| {}).await
    });
    let frequency = pitch_heard(&mut listener, "speaker").await;
    assert!(
        (frequency - 659.0).abs() <= 3.0,
        "heard {frequency} Hz over TCP"
    );
    assert_eq!(player.await.unwrap().unwrap(), 150);
    assert_eq!(
        listener.stats().subscriber_transport.as_deref(),
        Some("tcp")
    );

    data_arrives(&mut speaker, &listener, "from the TCP side").await;
    data_arrives(&mut listener, &speaker, "to the TCP side").await;
    assert_eq!(
        speaker.stats().subscriber_transport.as_deref(),
        Some("udp"),
        "the UDP side stays on UDP"
    );
    speaker.leave().await;
    listener.leave().await;
}
