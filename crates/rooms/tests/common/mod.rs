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

/// About one second of `from`'s audio at `listener` (each frame must be `from`'s), past
/// 200 ms for the encoder and decoder to settle: its dominant frequency.
pub async fn pitch_heard(
    listener: &mut greenroom_rooms::participant::Participant,
    from: &str,
) -> f64 {
    let mut heard = Vec::new();
    while heard.len() < 48_000 {
        let frame = wait_for(listener, "audio frames", |e| match e {
            greenroom_rooms::participant::ParticipantEvent::Audio(frame) => Some(frame.clone()),
            _ => None,
        })
        .await;
        assert_eq!(frame.participant, from);
        heard.extend_from_slice(&frame.samples);
    }
    greenroom_rooms::audio::dominant_frequency(&heard[9600..], 100.0, 4000.0)
        .expect("sound, not silence")
}

/// [`wait_for_event`] within 20 s.
pub async fn wait_for<T>(
    participant: &mut greenroom_rooms::participant::Participant,
    what: &str,
    pick: impl FnMut(&greenroom_rooms::participant::ParticipantEvent) -> Option<T>,
) -> T {
    wait_for_event(participant, what, Duration::from_secs(20), pick).await
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

/// A TCP proxy in front of a port whose connections can be cut, as a flaky network or a
/// proxy restart would: new connections are still accepted after a cut.
pub struct CuttableProxy {
    pub port: u16,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let tracked = connections.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    continue;
                };
                let task = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            port,
            connections,
            acceptor,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Drops every connection open now.
    pub fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}
