//! One stream test at a time, in the background, as every front sees it.
//!
//! - [`StreamTestRuns::start`] builds the run's configuration from the request (precedence
//!   in [`super::config`]), validates it and returns at once; the run then reports
//!   [`RunEvent::Event`]s (logs, one latency per packet or marker, progress, and the live
//!   figures) and ends with one [`RunEvent::Finished`].
//! - [`StreamTestRuns::current`] is the latest run as a front would have drawn it from
//!   those events (the last [`LOG_LINES_KEPT`] log lines, every latency sample, the
//!   figures), then its outcome; a screen that mounts mid-run starts from it.
//! - [`StreamTestRuns::stop`] asks the run to stop sending; its report then covers what
//!   was sent (`stopped_early`).
//! - Every finished report is saved in the [`ReportStore`] (kind `stream-test`) as
//!   `stream-test-<started unix ms>-<suite>.json`, pretty JSON of schema
//!   `greenroom.stream-test/1`. [`StreamTestRuns::reports`] lists them newest first, a file
//!   that does not parse included with its problem; [`StreamTestRuns::report`] opens one by
//!   its bare file name.
//!
//! The secret of the LiveKit target never leaves the process.

use super::{
    Category, LatencyPath, LatencySample, LatencyStats, Rating, StopSignal, StreamEvent,
    StreamReport, StreamTestConfig, StreamTestError, Suite,
};
use crate::reports::{ReportError, ReportKind, ReportStore};
use greenroom_core::lock_unpoisoned;
use greenroom_livekit::room_service::Target;
use greenroom_rooms::participant::{IceTransport, NetworkConditions};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ts_rs::TS;

/// How many log lines [`StreamTestSnapshot`] keeps (the oldest go first).
pub const LOG_LINES_KEPT: usize = 500;

/// What to run, as every front asks for it. Absent values take the config file's, then
/// the suite's defaults (see `greenroom stream-test --help`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct StreamTestRequest {
    pub suite: Option<Suite>,
    pub duration_seconds: Option<f64>,
    pub packets: Option<u32>,
    pub interval_ms: Option<u32>,
    pub publishers: Option<u32>,
    pub subscribers: Option<u32>,
    /// Share of our outgoing packets dropped, 0 ..= 1.
    pub loss: Option<f64>,
    pub latency_ms: Option<u32>,
    pub jitter_ms: Option<u32>,
    /// Drop all UDP both ways (a firewall), so the run goes over ICE-TCP.
    pub block_udp: bool,
    /// The ICE candidates offered; `auto` (UDP, falling back to TCP) when absent.
    pub transport: Option<IceTransport>,
    /// The room; `LIVEKIT_ROOM`, then `greenroom-stream-test`, when absent.
    pub room: Option<String>,
    /// A JSON config file in the team's format, applied under the values above (see
    /// [`super::config`] for the precedence).
    pub config_file: Option<String>,
}

/// A run that was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StreamTestStarted {
    pub run: u32,
    pub suite: Suite,
    pub server: String,
    pub room: String,
}

/// One log line of a run, as the CLI prints it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StreamLogLine {
    #[ts(type = "number")]
    pub at_ms: u64,
    pub category: Category,
    pub rating: Option<Rating>,
    pub message: String,
}

/// How a run ended: a report (saved where `saved_to` says), or an error.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StreamTestOutcome {
    pub run: u32,
    pub report: Option<StreamReport>,
    /// The report's file name in the reports folder (for [`StreamTestRuns::report`]).
    pub file: Option<String>,
    /// Where the report was saved, in full.
    pub saved_to: Option<String>,
    pub error: Option<String>,
}

impl StreamTestOutcome {
    pub fn failed(run: u32, report: Option<StreamReport>, error: String) -> Self {
        Self {
            run,
            report,
            file: None,
            saved_to: None,
            error: Some(error),
        }
    }
}

/// The latest run as its events drew it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StreamTestSnapshot {
    pub started: StreamTestStarted,
    pub running: bool,
    pub done: u32,
    pub total: u32,
    pub logs: Vec<StreamLogLine>,
    pub samples: Vec<LatencySample>,
    /// The figures so far, computed here (the fronts draw them, never recompute them).
    pub figures: LiveFigures,
    pub outcome: Option<StreamTestOutcome>,
}

impl StreamTestSnapshot {
    /// A run that has just started: running, nothing sent or heard yet.
    pub fn new(started: StreamTestStarted) -> Self {
        Self {
            started,
            running: true,
            done: 0,
            total: 0,
            logs: Vec::new(),
            samples: Vec::new(),
            figures: LiveFigures::default(),
            outcome: None,
        }
    }
}

/// A run's figures so far, per path: what the Tests screen shows while it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
pub struct LiveFigures {
    pub data: LatencyStats,
    pub audio: LatencyStats,
}

impl LiveFigures {
    fn of(samples: &[LatencySample]) -> Self {
        let path = |p: LatencyPath| {
            let values: Vec<f64> = samples
                .iter()
                .filter(|s| s.path == p)
                .map(|s| s.latency_ms)
                .collect();
            LatencyStats::from_samples(&values)
        };
        Self {
            data: path(LatencyPath::Data),
            audio: path(LatencyPath::Audio),
        }
    }
}

/// What a run tells the front that started it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// One event of run `run`; `figures` when they were recomputed (at most every
    /// [`FIGURES_EVERY`], and with the last event).
    Event {
        run: u32,
        event: StreamEvent,
        figures: Option<LiveFigures>,
    },
    /// The run ended: its report (saved), or why not.
    Finished(Box<StreamTestOutcome>),
}

/// How often live figures are recomputed while latencies arrive.
pub const FIGURES_EVERY: Duration = Duration::from_millis(250);

/// A saved report, in a line: enough to list runs and draw their trend.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StreamReportEntry {
    pub file: String,
    pub suite: Option<Suite>,
    #[ts(type = "number")]
    pub started_at_unix_ms: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub packet_loss_rate: Option<f64>,
    pub latency_rating: Option<Rating>,
    pub loss_rating: Option<Rating>,
    #[ts(type = "number | null")]
    pub errors_count: Option<u64>,
    pub stopped_early: bool,
    /// Set when the file cannot be read as a report (the rest is then empty).
    pub problem: Option<String>,
}

/// The run in progress or last finished, and the saved reports.
pub struct StreamTestRuns {
    latest: Mutex<Option<RunState>>,
    store: ReportStore,
}

struct RunState {
    snapshot: Arc<Mutex<StreamTestSnapshot>>,
    stop: StopSignal,
}

impl StreamTestRequest {
    /// The run's configuration: `target` and `LIVEKIT_ROOM` first, then the config file,
    /// then this request's values (see [`super::config`]).
    pub fn config(&self, target: &Target) -> Result<(Suite, StreamTestConfig), StreamTestError> {
        let suite = self.suite.unwrap_or(Suite::Latency);
        let mut config = StreamTestConfig::for_target(target, std::env::var("LIVEKIT_ROOM").ok());
        if let Some(file) = self.config_file.as_deref().filter(|f| !f.is_empty()) {
            config.overlay_file(std::path::Path::new(file))?;
        }
        if let Some(room) = self.room.clone().filter(|r| !r.trim().is_empty()) {
            config.room_name = room;
        }
        config.duration_seconds = self.duration_seconds.or(config.duration_seconds);
        config.packets = self.packets.or(config.packets);
        config.interval_ms = self.interval_ms.or(config.interval_ms);
        config.publishers = self.publishers.unwrap_or(config.publishers);
        config.subscribers = self.subscribers.unwrap_or(config.subscribers);
        config.network = NetworkConditions {
            loss: self.loss.unwrap_or(config.network.loss),
            latency_ms: self.latency_ms.unwrap_or(config.network.latency_ms),
            jitter_ms: self.jitter_ms.unwrap_or(config.network.jitter_ms),
            block_udp: self.block_udp || config.network.block_udp,
        };
        config.transport = self.transport.unwrap_or(config.transport);
        config.validate(suite)?;
        Ok((suite, config))
    }
}

impl StreamTestRuns {
    /// The runs of the Greenroom home `home` (reports under `<home>/reports/`).
    pub fn new(home: &std::path::Path) -> Self {
        Self {
            latest: Mutex::new(None),
            store: ReportStore::new(home),
        }
    }

    /// Starts a run in the background (see the module doc); `report` receives its events.
    /// Needs a tokio runtime.
    pub fn start(
        &self,
        request: &StreamTestRequest,
        target: &Target,
        report: impl Fn(RunEvent) + Send + Sync + 'static,
    ) -> Result<StreamTestStarted, StreamTestError> {
        let (suite, config) = request.config(target)?;
        let mut latest = lock_unpoisoned(&self.latest);
        if let Some(state) = latest.as_ref() {
            let snapshot = lock_unpoisoned(&state.snapshot);
            if snapshot.running {
                return Err(StreamTestError::Busy {
                    run: snapshot.started.run,
                    suite: snapshot.started.suite,
                });
            }
        }
        let run = latest
            .as_ref()
            .map(|s| lock_unpoisoned(&s.snapshot).started.run + 1)
            .unwrap_or(1);
        let started = StreamTestStarted {
            run,
            suite,
            server: config.livekit_url.clone(),
            room: config.room_name.clone(),
        };
        let snapshot = Arc::new(Mutex::new(StreamTestSnapshot::new(started.clone())));
        let stop = StopSignal::default();
        *latest = Some(RunState {
            snapshot: snapshot.clone(),
            stop: stop.clone(),
        });
        drop(latest);

        let store = self.store.clone();
        let report = Arc::new(report);
        tokio::spawn(async move {
            let on_event = {
                let report = report.clone();
                let snapshot = snapshot.clone();
                let last_figures = Mutex::new(None::<Instant>);
                move |event: StreamEvent| {
                    let figures = {
                        let mut s = lock_unpoisoned(&snapshot);
                        record(&mut s, &event);
                        let mut last = lock_unpoisoned(&last_figures);
                        let due = matches!(event, StreamEvent::Latency { .. })
                            && last.is_none_or(|at| at.elapsed() >= FIGURES_EVERY);
                        due.then(|| {
                            *last = Some(Instant::now());
                            s.figures = LiveFigures::of(&s.samples);
                            s.figures.clone()
                        })
                    };
                    report(RunEvent::Event {
                        run,
                        event,
                        figures,
                    });
                }
            };
            let result = super::run_until_stopped(suite, &config, &stop, on_event).await;
            let outcome = match result {
                Ok(saved_report) => {
                    let file = report_file_name(&saved_report);
                    match store.save(ReportKind::StreamTest, &file, &saved_report) {
                        Ok(path) => StreamTestOutcome {
                            run,
                            report: Some(saved_report),
                            file: Some(file),
                            saved_to: Some(path.display().to_string()),
                            error: None,
                        },
                        Err(e) => StreamTestOutcome::failed(
                            run,
                            Some(saved_report),
                            format!("the run finished but {e}"),
                        ),
                    }
                }
                Err(e) => StreamTestOutcome::failed(run, None, e.to_string()),
            };
            // The last figures cover every sample, then the outcome follows.
            let (figures, done, total) = {
                let mut s = lock_unpoisoned(&snapshot);
                s.running = false;
                s.figures = LiveFigures::of(&s.samples);
                s.outcome = Some(outcome.clone());
                (s.figures.clone(), s.done, s.total)
            };
            report(RunEvent::Event {
                run,
                event: StreamEvent::Progress { done, total },
                figures: Some(figures),
            });
            report(RunEvent::Finished(Box::new(outcome)));
        });
        Ok(started)
    }

    /// The run in progress, or the last one (`None` before the first).
    pub fn current(&self) -> Option<StreamTestSnapshot> {
        lock_unpoisoned(&self.latest)
            .as_ref()
            .map(|s| lock_unpoisoned(&s.snapshot).clone())
    }

    /// Asks the run in progress to stop; false when none is running.
    pub fn stop(&self) -> bool {
        let latest = lock_unpoisoned(&self.latest);
        match latest.as_ref() {
            Some(state) if lock_unpoisoned(&state.snapshot).running => {
                state.stop.stop();
                true
            }
            _ => false,
        }
    }

    /// Saved reports, newest first, at most `limit`.
    pub fn reports(&self, limit: u32) -> Result<Vec<StreamReportEntry>, ReportError> {
        let mut names = self.store.names(ReportKind::StreamTest, "stream-test-")?;
        names.sort_by_key(|n| std::cmp::Reverse(started_from_name(n)));
        names.truncate(limit as usize);
        Ok(names
            .into_iter()
            .map(
                |name| match self.store.read(ReportKind::StreamTest, &name) {
                    Ok((_, text)) => entry_for(name, &text),
                    Err(e) => {
                        let mut entry = entry_for(name, "");
                        entry.problem = Some(e.to_string());
                        entry
                    }
                },
            )
            .collect())
    }

    /// One saved report, by its bare file name.
    pub fn report(&self, file: &str) -> Result<StreamReport, ReportError> {
        let (path, text) = self.store.read(ReportKind::StreamTest, file)?;
        serde_json::from_str(&text).map_err(|e| ReportError::Malformed {
            path: path.display().to_string(),
            line: e.line(),
            column: e.column(),
            what: "stream-test".into(),
            reason: e.to_string(),
        })
    }
}

/// Applies one event to a snapshot (what a front does with the same events).
pub(crate) fn record(snapshot: &mut StreamTestSnapshot, event: &StreamEvent) {
    match event {
        StreamEvent::Log {
            category,
            rating,
            message,
        } => {
            if snapshot.logs.len() >= LOG_LINES_KEPT {
                snapshot.logs.remove(0);
            }
            snapshot.logs.push(StreamLogLine {
                at_ms: greenroom_core::unix_millis(),
                category: *category,
                rating: *rating,
                message: message.clone(),
            });
        }
        StreamEvent::Latency {
            path,
            at_ms,
            latency_ms,
            ..
        } => snapshot.samples.push(LatencySample {
            path: *path,
            at_ms: *at_ms,
            latency_ms: *latency_ms,
        }),
        StreamEvent::Progress { done, total } => {
            snapshot.done = *done;
            snapshot.total = *total;
        }
    }
}

fn report_file_name(report: &StreamReport) -> String {
    format!(
        "stream-test-{}-{}.json",
        report.started_at_unix_ms,
        report.suite.name()
    )
}

/// The start time in a report's file name, for files that do not parse.
fn started_from_name(name: &str) -> u64 {
    name.strip_prefix("stream-test-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

fn entry_for(file: String, text: &str) -> StreamReportEntry {
    match serde_json::from_str::<StreamReport>(text) {
        Ok(r) => StreamReportEntry {
            file,
            suite: Some(r.suite),
            started_at_unix_ms: r.started_at_unix_ms,
            p50_ms: Some(r.latency_stats.p50_ms),
            p95_ms: Some(r.latency_stats.p95_ms),
            packet_loss_rate: Some(r.packet_loss_rate),
            latency_rating: Some(r.latency_rating),
            loss_rating: Some(r.loss_rating),
            errors_count: Some(r.errors_count),
            stopped_early: r.stopped_early,
            problem: None,
        },
        Err(e) => StreamReportEntry {
            started_at_unix_ms: started_from_name(&file),
            file,
            suite: None,
            p50_ms: None,
            p95_ms: None,
            packet_loss_rate: None,
            latency_rating: None,
            loss_rating: None,
            errors_count: None,
            stopped_early: false,
            problem: Some(format!(
                "not a stream-test report (line {}, column {}: {e})",
                e.line(),
                e.column()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> StreamTestSnapshot {
        StreamTestSnapshot::new(StreamTestStarted {
            run: 1,
            suite: Suite::Latency,
            server: "ws://127.0.0.1:7880".into(),
            room: "r".into(),
        })
    }

    #[test]
    fn events_draw_the_snapshot_and_old_log_lines_go_first() {
        let mut s = snapshot();
        record(&mut s, &StreamEvent::Progress { done: 3, total: 20 });
        record(
            &mut s,
            &StreamEvent::Latency {
                path: LatencyPath::Data,
                seq: 0,
                at_ms: 10.0,
                latency_ms: 1.5,
            },
        );
        for i in 0..LOG_LINES_KEPT + 2 {
            record(
                &mut s,
                &StreamEvent::Log {
                    category: Category::Network,
                    rating: None,
                    message: format!("line {i}"),
                },
            );
        }
        assert_eq!((s.done, s.total), (3, 20));
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.logs.len(), LOG_LINES_KEPT);
        assert_eq!(s.logs[0].message, "line 2");
    }

    #[test]
    fn a_file_that_is_not_a_report_is_listed_with_its_problem() {
        let entry = entry_for(
            "stream-test-1700000000000-stress.json".into(),
            "{\n  \"x\": ",
        );
        assert_eq!(entry.started_at_unix_ms, 1_700_000_000_000);
        let problem = entry.problem.expect("a problem");
        assert!(problem.contains("line 2"), "{problem}");
        assert_eq!(started_from_name("whatever.json"), 0);
    }
}
