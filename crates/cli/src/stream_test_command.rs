//! `stream-test`: a suite through the API (so its report lands in the reports folder every
//! front lists), narrated in the team's categories and coloured by the metric catalogue's
//! bands, then the summary and (with --output) a copy of the JSON report.

use crate::{fail, usage_error};
use greenroom_api::{
    Api, ApiEvent, AppHome, EventEnvelope, EventSink, IceTransport, StreamReport,
    StreamTestRequest, Suite,
};
use greenroom_api::{Category, LatencyPath, Rating, rate_latency};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum StreamSuite {
    Basic,
    Stress,
    Latency,
    Load,
}

impl From<StreamSuite> for Suite {
    fn from(suite: StreamSuite) -> Suite {
        match suite {
            StreamSuite::Basic => Suite::Basic,
            StreamSuite::Stress => Suite::Stress,
            StreamSuite::Latency => Suite::Latency,
            StreamSuite::Load => Suite::Load,
        }
    }
}

/// Forwards the API's events to the command's loop.
struct Forward(mpsc::UnboundedSender<ApiEvent>);

impl EventSink<EventEnvelope> for Forward {
    fn emit(&self, envelope: EventEnvelope) {
        let _ = self.0.send(envelope.event);
    }
}

pub(crate) async fn run(
    home: AppHome,
    request: StreamTestRequest,
    output: Option<PathBuf>,
    verbose: bool,
) -> ExitCode {
    use std::io::IsTerminal;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let paint = move |rating: Option<Rating>, text: &str| -> String {
        let code = match rating {
            _ if !colour => return text.to_string(),
            Some(Rating::Excellent) => "32",
            Some(Rating::Good) => "33",
            Some(Rating::Acceptable) => "38;5;208",
            Some(Rating::Problem) => "31",
            None => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let category_name = |c: Category| match c {
        Category::Connection => "CONNECTION",
        Category::Audio => "AUDIO",
        Category::Latency => "LATENCY",
        Category::Network => "NETWORK",
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let api = Arc::new(Api::new(home, vec![], Arc::new(Forward(events))));
    let started = match api.stream_test_start(request.clone()).await {
        Ok(started) => started,
        Err(e) if e.code == greenroom_api::ErrorCode::InvalidInput => {
            return usage_error(&e.message);
        }
        Err(e) => return fail(&e.message),
    };
    let network = request.loss.unwrap_or(0.0) > 0.0
        || request.latency_ms.unwrap_or(0) > 0
        || request.jitter_ms.unwrap_or(0) > 0;
    println!(
        "stream-test {} against {} (room {}){}{}",
        started.suite.name(),
        started.server,
        started.room,
        if network {
            format!(
                ", simulating {:.1} % loss, +{} ms ± {} ms",
                request.loss.unwrap_or(0.0) * 100.0,
                request.latency_ms.unwrap_or(0),
                request.jitter_ms.unwrap_or(0)
            )
        } else {
            String::new()
        },
        match (request.block_udp, request.transport.unwrap_or_default()) {
            (true, _) => ", UDP blocked (ICE over TCP)",
            (false, IceTransport::Tcp) => ", over TCP only",
            (false, IceTransport::Udp) => ", over UDP only",
            (false, IceTransport::Auto) => "",
        }
    );
    // Ctrl-C once: stop sending and report what was measured; twice: quit at once.
    let stopper = api.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: waiting for the packets in flight (Ctrl-C again quits at once)");
            let _ = stopper.stream_test_stop().await;
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let outcome = loop {
        match received.recv().await {
            Some(ApiEvent::StreamTest { run, event, .. }) if run == started.run => match event {
                greenroom_api::StreamEvent::Log {
                    category,
                    rating,
                    message,
                } => println!(
                    "{} {:<10} | {}",
                    greenroom_core::clock::utc_time_of_day(),
                    category_name(category),
                    paint(rating, &message)
                ),
                greenroom_api::StreamEvent::Latency {
                    path,
                    seq,
                    latency_ms,
                    ..
                } if verbose => {
                    let what = match path {
                        LatencyPath::Data => "packet",
                        LatencyPath::Audio => "audio marker",
                    };
                    println!(
                        "{} {:<10} | {what} #{seq}: {}",
                        greenroom_core::clock::utc_time_of_day(),
                        "LATENCY",
                        paint(
                            Some(rate_latency(latency_ms)),
                            &format!("{latency_ms:.1} ms")
                        )
                    );
                }
                _ => {}
            },
            Some(ApiEvent::StreamTestFinished { outcome }) if outcome.run == started.run => {
                break *outcome;
            }
            Some(_) => {}
            None => return fail("the stream test stopped without a report"),
        }
    };
    let report: StreamReport = match (outcome.report, outcome.error) {
        (Some(report), problem) => {
            if let Some(problem) = problem {
                eprintln!("warning: {problem}");
            }
            report
        }
        (None, Some(error)) => return fail(&error),
        (None, None) => return fail("the stream test ended without a report"),
    };
    if let Some(saved) = &outcome.saved_to {
        println!("saved: {saved}");
    }
    println!(
        "{}: {} of {} packets in {:.1} s ({:.1} packets/s), loss {}, latency p50 {:.1} / p95 {:.1} / p99 {:.1} ms, {} error(s)",
        report.test_name,
        report.packets_received,
        report.packets_sent * u64::from(report.subscribers),
        report.duration_seconds,
        report.throughput_pps,
        paint(
            Some(report.loss_rating),
            &format!("{:.2} %", report.packet_loss_rate * 100.0)
        ),
        report.latency_stats.p50_ms,
        report.latency_stats.p95_ms,
        report.latency_stats.p99_ms,
        report.errors_count
    );
    for e in &report.errors {
        println!("  error: {e}");
    }
    if report.stopped_early {
        println!("  stopped early: the figures cover the packets sent before the stop");
    }
    for ms in &report.reconnections_ms {
        println!("  a lost signalling connection resumed in {ms:.1} ms");
    }
    if let Some(path) = output {
        let text = match serde_json::to_string_pretty(&report) {
            Ok(t) => t,
            Err(e) => return fail(&format!("cannot encode the report: {e}")),
        };
        if let Err(e) = greenroom_core::write_atomic(&path, text.as_bytes()) {
            return fail(&format!(
                "cannot write the report to {}: {e}",
                path.display()
            ));
        }
        println!("report: {}", path.display());
    }
    if report.errors_count > 0 || report.packets_received == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
