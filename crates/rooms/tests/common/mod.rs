//! Helpers shared by the tests that run the real livekit-server.
#![allow(dead_code)]

pub use greenroom_fixture_service::LiveKitServer;
use std::time::{Duration, Instant};

pub async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A token for a participant that publishes, subscribes and sends data.
pub fn token(target: &greenroom_rooms::service::Target, room: &str, identity: &str) -> String {
    greenroom_rooms::service::token(
        target,
        room,
        identity,
        &greenroom_rooms::service::TokenOptions::participant(),
    )
    .unwrap()
}

/// The participant's events until `pick` returns something, failing after `within` or if
/// the session ends first.
pub async fn wait_for_event<T>(
    participant: &mut greenroom_rooms::participant::Participant,
    what: &str,
    within: Duration,
    mut pick: impl FnMut(&greenroom_rooms::participant::ParticipantEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = participant
            .next_event(left)
            .await
            .unwrap_or_else(|| panic!("timed out waiting for {what}"));
        if let Some(v) = pick(&event) {
            return v;
        }
        assert!(
            !matches!(
                event,
                greenroom_rooms::participant::ParticipantEvent::Closed(_)
            ),
            "the session ended while waiting for {what}: {event:?}"
        );
    }
}
