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
