//! Join benchmark: `cargo bench -p greenroom-rooms --bench join` (or `scripts/bench`).
//!
//! Against a real `livekit-server --dev` on loopback, 50 times each:
//! 1. our participant's signalling join — token → `JoinResponse` in hand;
//! 2. baseline, in the same run: the bare WebSocket upgrade to the same `/rtc` endpoint
//!    with the same token (TCP + HTTP upgrade, without waiting for the server's answer),
//!    i.e. the floor any client pays;
//! 3. the signalling round trip (ping → pong) once joined.
//!
//! Figures are printed; nothing is asserted (benchmarks measure, tests check).

use greenroom_livekit::room_service::{self as service, Target, TokenOptions};
use greenroom_rooms::signal::{SignalOptions, SignalSession, rtc_url};
use greenroom_test_support::{LiveKitServer, percentile};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const RUNS: usize = 50;

fn summary(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.95))
}

#[tokio::main]
async fn main() {
    let server = LiveKitServer::start();
    let target = Target::new(&server.url(), "devkey", "secret");
    let options = SignalOptions::default();
    let grants = TokenOptions {
        can_publish: true,
        can_subscribe: true,
        ..Default::default()
    };

    let (mut joins, mut upgrades, mut rtts) = (vec![], vec![], vec![]);
    for i in 0..RUNS {
        let jwt = service::token(&target, "bench", &format!("p{i}"), &grants).unwrap();
        let session = SignalSession::connect(&target.url, &jwt, &options)
            .await
            .unwrap();
        joins.push(session.join_time.as_secs_f64() * 1000.0);
        let rtt_deadline = Instant::now() + Duration::from_secs(10);
        while session.rtt().is_none() && Instant::now() < rtt_deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Some(rtt) = session.rtt() {
            rtts.push(rtt.as_secs_f64() * 1000.0);
        }
        session.leave().await;

        let jwt = service::token(&target, "bench", &format!("u{i}"), &grants).unwrap();
        let mut request = rtc_url(&target.url, &options)
            .unwrap()
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {jwt}").parse().unwrap());
        let started = Instant::now();
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        upgrades.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(socket);
    }
    let (j50, j95) = summary(joins);
    let (u50, u95) = summary(upgrades);
    let (r50, r95) = summary(rtts);
    println!("signalling join, {RUNS} runs on loopback (livekit-server 1.13.5 --dev)");
    println!("  token → JoinResponse (ours)     p50 {j50:7.2} ms   p95 {j95:7.2} ms");
    println!("  bare WebSocket upgrade (floor)  p50 {u50:7.2} ms   p95 {u95:7.2} ms");
    println!(
        "  join / floor                    p50 {:7.2}×     p95 {:7.2}×",
        j50 / u50,
        j95 / u95
    );
    println!("  signalling round trip           p50 {r50:7.3} ms   p95 {r95:7.3} ms");
}
