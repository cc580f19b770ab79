//! Helpers shared by the tests that run the real livekit-server.

use greenroom_livekit::room_service::{self, Target, TokenOptions};
use greenroom_rooms::audio::dominant_frequency;
use greenroom_rooms::participant::{Participant, ParticipantEvent};
use greenroom_rooms::signal::{SignalEvent, SignalSession};
pub use greenroom_test_support::LiveKitServer;
use std::time::Duration;

/// [`greenroom_test_support::eventually`] within 10 s.
pub async fn eventually<T>(what: &str, f: impl AsyncFnMut() -> Option<T>) -> T {
    greenroom_test_support::eventually(what, Duration::from_secs(10), f).await
}

/// A token for a participant that publishes, subscribes and sends data.
pub fn token(target: &Target, room: &str, identity: &str) -> String {
    room_service::token(target, room, identity, &TokenOptions::participant()).unwrap()
}

/// About one second of `from`'s audio at `listener` (each frame must be `from`'s), past
/// 200 ms for the encoder and decoder to settle: its dominant frequency.
pub async fn pitch_heard(listener: &mut Participant, from: &str) -> f64 {
    let mut heard = Vec::new();
    while heard.len() < 48_000 {
        let frame = wait_for(listener, "audio frames", |e| match e {
            ParticipantEvent::Audio(frame) => Some(frame.clone()),
            _ => None,
        })
        .await;
        assert_eq!(frame.participant, from);
        heard.extend_from_slice(&frame.samples);
    }
    dominant_frequency(&heard[9600..], 100.0, 4000.0).expect("sound, not silence")
}

/// [`wait_for_event`] within 20 s.
pub async fn wait_for<S: EventSource, T>(
    source: &mut S,
    what: &str,
    pick: impl FnMut(&S::Event) -> Option<T>,
) -> T {
    wait_for_event(source, what, Duration::from_secs(20), pick).await
}

/// What [`wait_for_event`] reads: the events of a participant or of a signalling session,
/// one at a time, the last of them saying the session ended.
pub trait EventSource {
    type Event: std::fmt::Debug;
    /// The next event, or `None` if nothing came within `wait`.
    fn next_event(&mut self, wait: Duration) -> impl Future<Output = Option<Self::Event>>;
    /// The session ended: no event follows this one.
    fn is_end(event: &Self::Event) -> bool;
}

impl EventSource for Participant {
    type Event = ParticipantEvent;
    fn next_event(&mut self, wait: Duration) -> impl Future<Output = Option<ParticipantEvent>> {
        Participant::next_event(self, wait)
    }
    fn is_end(event: &ParticipantEvent) -> bool {
        matches!(event, ParticipantEvent::Closed(_))
    }
}

impl EventSource for SignalSession {
    type Event = SignalEvent;
    fn next_event(&mut self, wait: Duration) -> impl Future<Output = Option<SignalEvent>> {
        SignalSession::next_event(self, wait)
    }
    fn is_end(event: &SignalEvent) -> bool {
        matches!(event, SignalEvent::Closed(_))
    }
}

/// The source's events until `pick` returns something, failing after `within` or if the
/// session ends first. Events are consumed, so this waits on the stream itself rather than
/// polling (as [`greenroom_test_support::eventually`] does for a condition).
pub async fn wait_for_event<S: EventSource, T>(
    source: &mut S,
    what: &str,
    within: Duration,
    mut pick: impl FnMut(&S::Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = source
            .next_event(left)
            .await
            .unwrap_or_else(|| panic!("timed out waiting for {what}"));
        if let Some(v) = pick(&event) {
            return v;
        }
        assert!(
            !S::is_end(&event),
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
