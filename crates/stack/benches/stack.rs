//! Stack benchmarks: `cargo bench -p greenroom-stack --bench stack` (or `scripts/bench`).
//!
//! 1. Readiness detection delay — from the moment a fixture service starts listening (it
//!    prints the wall-clock time) to the moment Greenroom marks it healthy; baseline: the
//!    Eloquence team's scripts, which poll every 2 s, measured the same way in this run.
//! 2. Monitoring cost — CPU (user + system) and memory of this process while it supervises
//!    20 services probed every second.
//! 3. `up` of a 10-service dependency graph whose services each take 200 ms to become
//!    ready — total time against the critical path.
//!
//! Figures are printed; nothing is asserted (benchmarks measure, tests check).

use greenroom_core::NullSink;
use greenroom_stack::manifest::{self, Manifest};
use greenroom_stack::status::ServiceState;
use greenroom_stack::supervisor::Supervisor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenroom_test_support::{free_port, percentile, release_binary};

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as f64
        / 1000.0
}

fn supervisor(text: &str, home: &Path, root: &Path) -> Supervisor {
    let m: Manifest = manifest::parse(text).unwrap();
    Supervisor::new(
        m,
        root.to_path_buf(),
        home,
        vec![],
        Default::default(),
        Arc::new(NullSink),
    )
    .unwrap()
    .0
}

/// The `ready at <ms>` a fixture printed in its log.
fn ready_at(log: &Path) -> Option<f64> {
    std::fs::read_to_string(log)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("ready at ")?.trim().parse().ok())
}

async fn readiness(fixture: &Path, rounds: usize) -> Vec<f64> {
    let mut delays = Vec::new();
    for i in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let ready_after = 100 + (i * 37) % 200;
        let text = format!(
            "[services.s]\ncommand = {fixture:?}\nargs = [\"--port\", \"{port}\", \"--ready-after\", \"{ready_after}\"]\n[services.s.probe]\ntype = \"tcp\"\nport = {port}\n"
        );
        let sup = supervisor(&text, dir.path(), dir.path());
        let mut rx = sup.watch("s").unwrap();
        let starter = sup.clone();
        tokio::spawn(async move { starter.start("s").await });
        let marked = loop {
            rx.changed().await.unwrap();
            if rx.borrow().state == ServiceState::Running {
                break now_ms();
            }
        };
        let listening = ready_at(&sup.logs().path("s")).expect("the fixture says when it listens");
        delays.push(marked - listening);
        sup.down().await;
    }
    delays
}

/// The team's start script: start, then `sleep 2` between health checks.
async fn readiness_polling_every_2s(fixture: &Path, rounds: usize) -> Vec<f64> {
    let mut delays = Vec::new();
    for i in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("out.log");
        let ready_after = 100 + (i * 37) % 200;
        let mut child = std::process::Command::new(fixture)
            .args([
                "--port",
                &port.to_string(),
                "--ready-after",
                &ready_after.to_string(),
            ])
            .stdout(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let marked = loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break now_ms();
            }
        };
        delays.push(marked - ready_at(&log).unwrap());
        let _ = child.kill();
        let _ = child.wait();
    }
    delays
}

fn cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        let usage =
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(usage.user_time()) + t(usage.system_time())
    }
    #[cfg(not(unix))]
    {
        0.0
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            })
        })
        .flatten()
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn monitoring_cost(fixture: &Path, services: usize, seconds: u64) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name = \"twenty\"\n");
    for i in 0..services {
        let port = free_port();
        text.push_str(&format!(
            "[services.s{i:02}]\ncommand = {fixture:?}\nargs = [\"--port\", \"{port}\"]\n[services.s{i:02}.probe]\ntype = \"http\"\nurl = \"http://127.0.0.1:{port}/health\"\ninterval_ms = 1000\n"
        ));
    }
    let rss_before = rss_mib();
    let sup = supervisor(&text, dir.path(), dir.path());
    assert!(sup.up(&[], |_| {}).await.unwrap().ok);
    tokio::time::sleep(Duration::from_secs(2)).await; // settle
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    let rss = rss_mib();
    sup.down().await;
    (100.0 * cpu / wall, rss, rss - rss_before)
}

async fn up_of_a_graph(fixture: &Path) -> (f64, f64) {
    // Levels: 3 → 3 → 2 → 2 services, each level depending on the previous one;
    // every service needs 200 ms to listen: critical path = 4 × 200 ms.
    let levels: [&[&str]; 4] = [
        &["a1", "a2", "a3"],
        &["b1", "b2", "b3"],
        &["c1", "c2"],
        &["d1", "d2"],
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name = \"graph\"\n");
    for (depth, level) in levels.iter().enumerate() {
        for id in *level {
            let port = free_port();
            let deps = if depth == 0 {
                String::new()
            } else {
                let prev: Vec<String> = levels[depth - 1]
                    .iter()
                    .map(|d| format!("{d} = \"healthy\""))
                    .collect();
                format!("depends_on = {{ {} }}\n", prev.join(", "))
            };
            text.push_str(&format!(
                "[services.{id}]\ncommand = {fixture:?}\nargs = [\"--port\", \"{port}\", \"--ready-after\", \"200\"]\n{deps}[services.{id}.probe]\ntype = \"tcp\"\nport = {port}\n"
            ));
        }
    }
    let sup = supervisor(&text, dir.path(), dir.path());
    let started = Instant::now();
    let report = sup.up(&[], |_| {}).await.unwrap();
    let total = started.elapsed().as_secs_f64() * 1000.0;
    assert!(report.ok);
    sup.down().await;
    (total, 4.0 * 200.0)
}

fn main() {
    let fixture = release_binary().to_path_buf();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("greenroom stack benchmarks ({} cores)\n", std::thread::available_parallelism().map_or(0, |n| n.get()));

        let mut ours = readiness(&fixture, 30).await;
        ours.sort_by(f64::total_cmp);
        let mut baseline = readiness_polling_every_2s(&fixture, 6).await;
        baseline.sort_by(f64::total_cmp);
        let (p50, p95, max) = (percentile(&ours, 0.5), percentile(&ours, 0.95), ours[ours.len() - 1]);
        let b50 = percentile(&baseline, 0.5);
        println!("1. readiness detection delay (listening → marked healthy), {} starts", ours.len());
        println!("   greenroom (tcp probe every 10 ms while starting): p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");
        println!("   baseline, polling every 2 s (the team's scripts), {} starts: p50 {b50:.0} ms", baseline.len());
        println!("   ratio p50 baseline / greenroom: {:.0}×   (docker compose's default 30 s interval: ~15000 ms expected)\n", b50 / p50.max(0.01));

        let (cpu, rss, grown) = monitoring_cost(&fixture, 20, 20).await;
        println!("2. monitoring 20 services (HTTP probe every 1 s, CPU/RAM refresh every 1 s), 20 s");
        println!("   greenroom CPU: {cpu:.2} % of one core; resident memory {rss:.1} MiB (+{grown:.1} MiB for the stack)\n");

        let (total, critical) = up_of_a_graph(&fixture).await;
        println!("3. up of a 10-service graph (4 levels, 200 ms each to become ready)");
        println!("   total {total:.0} ms; critical path {critical:.0} ms; ratio {:.3} ({:+.1} %)", total / critical, 100.0 * (total / critical - 1.0));
    });
}
