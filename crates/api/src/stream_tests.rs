//! Streaming tests run from a front (the Tests screen): one run at a time, in the
//! background, so a screen can leave and come back.
//!
//! - [`Api::stream_test_start`] validates the request and returns at once; the run then
//!   emits `stream-test://run/<n>` events ([`ApiEvent::StreamTest`]: logs, one latency per
//!   packet or marker, progress) and ends with one `stream-test://finished`
//!   ([`ApiEvent::StreamTestFinished`]).
//! - [`Api::stream_test_current`] is the latest run as a front would have drawn it from
//!   those events (the last [`LOG_LINES_KEPT`] log lines, every latency sample), then its
//!   outcome; a screen that mounts mid-run starts from it.
//! - [`Api::stream_test_stop`] asks the run to stop sending; its report then covers what
//!   was sent (`stopped_early`).
//! - Every finished report is saved, pretty JSON of schema `greenroom.stream-test/1`, as
//!   `<home>/reports/stream-tests/stream-test-<started unix ms>-<suite>.json` (written
//!   atomically). [`Api::stream_test_reports`] lists them newest first, a file that does
//!   not parse included with its problem; [`Api::stream_test_report`] opens one by file
//!   name (a bare name: no folder, no `..`).
//!
//! The server and keys are Settings' LiveKit target, the room `LIVEKIT_ROOM` or the
//! request's; the secret never leaves the process.

use crate::{Api, ApiError, ApiEvent, ErrorCode};
use greenroom_core::lock_unpoisoned;
use greenroom_rooms::participant::{IceTransport, NetworkConditions};
use greenroom_rooms::stream_test::{
    self, Category, LatencySample, Rating, StopSignal, StreamEvent, StreamReport, StreamTestConfig,
    Suite,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use ts_rs::TS;

/// How many log lines [`StreamTestSnapshot`] keeps (the oldest go first).
pub const LOG_LINES_KEPT: usize = 500;

/// What to run. Absent values take the suite's defaults (see `greenroom stream-test --help`).
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
    pub loss: f64,
    pub latency_ms: u32,
    pub jitter_ms: u32,
    /// Drop all UDP both ways (a firewall), so the run goes over ICE-TCP.
    pub block_udp: bool,
    /// The ICE candidates offered; `auto` (UDP, falling back to TCP) when absent.
    pub transport: Option<IceTransport>,
    /// The room; `LIVEKIT_ROOM`, then `greenroom-stream-test`, when absent.
    pub room: Option<String>,
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
    /// The report's file name in the reports folder (for [`Api::stream_test_report`]).
    pub file: Option<String>,
    /// Where the report was saved, in full.
    pub saved_to: Option<String>,
    pub error: Option<String>,
}

impl StreamTestOutcome {
    fn failed(run: u32, report: Option<StreamReport>, error: String) -> Self {
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
    pub outcome: Option<StreamTestOutcome>,
}

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

/// The run in progress or last finished.
pub(crate) struct StreamTestRunner {
    latest: Mutex<Option<RunState>>,
}

struct RunState {
    snapshot: Arc<Mutex<StreamTestSnapshot>>,
    stop: StopSignal,
}

impl StreamTestRunner {
    pub(crate) fn new() -> Self {
        Self {
            latest: Mutex::new(None),
        }
    }
}

/// Applies one event to a snapshot (what a front does with the same events).
fn record(snapshot: &mut StreamTestSnapshot, event: &StreamEvent) {
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

/// The reports folder under Greenroom's home.
fn reports_dir(home: &Path) -> PathBuf {
    home.join("reports").join("stream-tests")
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

/// A file name a front may ask for: a bare `*.json` name, nothing that leaves the folder.
fn checked_report_name(file: &str) -> Result<&str, ApiError> {
    let bare = !file.is_empty()
        && !file.contains(['/', '\\', ':'])
        && !file.starts_with('.')
        && file.ends_with(".json");
    if bare {
        Ok(file)
    } else {
        Err(ApiError::invalid_input(format!(
            "{file:?} is not a report's file name: pick one from the list of saved reports"
        )))
    }
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

impl Api {
    /// Starts a streaming suite in the background (see the module doc).
    pub async fn stream_test_start(
        &self,
        request: StreamTestRequest,
    ) -> Result<StreamTestStarted, ApiError> {
        let suite = request.suite.unwrap_or(Suite::Latency);
        let room = request
            .room
            .clone()
            .filter(|r| !r.trim().is_empty())
            .or_else(|| std::env::var("LIVEKIT_ROOM").ok());
        let mut config = StreamTestConfig::for_target(&self.livekit_target(), room);
        config.duration_seconds = request.duration_seconds;
        config.packets = request.packets;
        config.interval_ms = request.interval_ms;
        if let Some(p) = request.publishers {
            config.publishers = p;
        }
        if let Some(s) = request.subscribers {
            config.subscribers = s;
        }
        config.network = NetworkConditions {
            loss: request.loss,
            latency_ms: request.latency_ms,
            jitter_ms: request.jitter_ms,
            block_udp: request.block_udp,
        };
        config.transport = request.transport.unwrap_or_default();
        config
            .validate(suite)
            .map_err(|e| ApiError::invalid_input(e.0))?;

        let mut latest = lock_unpoisoned(&self.stream_tests.latest);
        if let Some(state) = latest.as_ref() {
            let snapshot = lock_unpoisoned(&state.snapshot);
            if snapshot.running {
                return Err(ApiError::invalid_input(format!(
                    "streaming test {} ({}) is still running: stop it first, or wait for its report",
                    snapshot.started.run,
                    snapshot.started.suite.name()
                )));
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
        let snapshot = Arc::new(Mutex::new(StreamTestSnapshot {
            started: started.clone(),
            running: true,
            done: 0,
            total: 0,
            logs: Vec::new(),
            samples: Vec::new(),
            outcome: None,
        }));
        let stop = StopSignal::default();
        *latest = Some(RunState {
            snapshot: snapshot.clone(),
            stop: stop.clone(),
        });
        drop(latest);

        let emitter = self.emitter.clone();
        let dir = reports_dir(self.home.root());
        tokio::spawn(async move {
            let on_event = {
                let emitter = emitter.clone();
                let snapshot = snapshot.clone();
                move |event: StreamEvent| {
                    record(&mut lock_unpoisoned(&snapshot), &event);
                    emitter.emit(ApiEvent::StreamTest { run, event });
                }
            };
            let result = stream_test::run_until_stopped(suite, &config, &stop, on_event).await;
            let outcome = match result {
                Ok(report) => {
                    let file = report_file_name(&report);
                    let path = dir.join(&file);
                    let saved = serde_json::to_vec_pretty(&report)
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| {
                            std::fs::create_dir_all(&dir)
                                .and_then(|_| greenroom_core::write_atomic(&path, &bytes))
                                .map_err(|e| e.to_string())
                        });
                    match saved {
                        Ok(()) => StreamTestOutcome {
                            run,
                            report: Some(report),
                            file: Some(file),
                            saved_to: Some(path.display().to_string()),
                            error: None,
                        },
                        Err(e) => StreamTestOutcome::failed(
                            run,
                            Some(report),
                            format!(
                                "the run finished but its report could not be saved to {}: {e}",
                                path.display()
                            ),
                        ),
                    }
                }
                Err(e) => StreamTestOutcome::failed(run, None, e.0),
            };
            {
                let mut s = lock_unpoisoned(&snapshot);
                s.running = false;
                s.outcome = Some(outcome.clone());
            }
            emitter.emit(ApiEvent::StreamTestFinished {
                outcome: Box::new(outcome),
            });
        });
        Ok(started)
    }

    /// The run in progress, or the last one (`None` before the first).
    pub async fn stream_test_current(&self) -> Result<Option<StreamTestSnapshot>, ApiError> {
        Ok(lock_unpoisoned(&self.stream_tests.latest)
            .as_ref()
            .map(|s| lock_unpoisoned(&s.snapshot).clone()))
    }

    /// Asks the run in progress to stop; false when none is running.
    pub async fn stream_test_stop(&self) -> Result<bool, ApiError> {
        let latest = lock_unpoisoned(&self.stream_tests.latest);
        match latest.as_ref() {
            Some(state) if lock_unpoisoned(&state.snapshot).running => {
                state.stop.stop();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Saved reports, newest first, at most `limit`.
    pub async fn stream_test_reports(
        &self,
        limit: u32,
    ) -> Result<Vec<StreamReportEntry>, ApiError> {
        let dir = reports_dir(self.home.root());
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ApiError::internal(format!(
                    "cannot list the reports in {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("stream-test-") && n.ends_with(".json"))
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(started_from_name(n)));
        names.truncate(limit as usize);
        Ok(names
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(dir.join(&name));
                match text {
                    Ok(text) => entry_for(name, &text),
                    Err(e) => {
                        let mut entry = entry_for(name, "");
                        entry.problem = Some(format!("cannot read it: {e}"));
                        entry
                    }
                }
            })
            .collect())
    }

    /// One saved report, by its file name.
    pub async fn stream_test_report(&self, file: String) -> Result<StreamReport, ApiError> {
        let name = checked_report_name(&file)?;
        let path = reports_dir(self.home.root()).join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no report {name} in {}", path.display()),
                )
            } else {
                ApiError::internal(format!("cannot read {}: {e}", path.display()))
            }
        })?;
        serde_json::from_str(&text).map_err(|e| {
            ApiError::invalid_input(format!(
                "{}:{}:{}: not a stream-test report: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenroom_rooms::stream_test::LatencyPath;

    fn snapshot() -> StreamTestSnapshot {
        StreamTestSnapshot {
            started: StreamTestStarted {
                run: 1,
                suite: Suite::Latency,
                server: "ws://127.0.0.1:7880".into(),
                room: "r".into(),
            },
            running: true,
            done: 0,
            total: 0,
            logs: Vec::new(),
            samples: Vec::new(),
            outcome: None,
        }
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
    fn only_bare_json_names_are_opened() {
        assert!(checked_report_name("stream-test-1-latency.json").is_ok());
        for bad in [
            "",
            "../settings.json",
            "a/b.json",
            "a\\b.json",
            "C:x.json",
            ".hidden.json",
            "report.txt",
        ] {
            assert!(checked_report_name(bad).is_err(), "{bad:?}");
        }
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
