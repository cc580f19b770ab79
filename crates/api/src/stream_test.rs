//! The stream-test suites from any front: the API side of
//! [`greenroom_engine::stream_test::runs`], which runs one suite at a time in the
//! background and keeps the reports.
//!
//! Each run reports `stream-test://run/<n>` events ([`ApiEvent::StreamTest`]: a log line, a
//! latency, progress, and the live figures when they were recomputed) and ends with one
//! `stream-test://finished` ([`ApiEvent::StreamTestFinished`]). The LiveKit target is
//! Settings' (see [`Api::livekit_target`]); its secret never leaves the process.

use crate::{Api, ApiError, ApiEvent};
use greenroom_engine::metrics::Metric;
use greenroom_engine::stream_test::StreamReport;
use greenroom_engine::stream_test::runs::{
    RunEvent, StreamReportEntry, StreamTestRequest, StreamTestSnapshot, StreamTestStarted,
};

impl Api {
    /// Starts a stream test in the background (see the module doc).
    pub async fn stream_test_start(
        &self,
        request: StreamTestRequest,
    ) -> Result<StreamTestStarted, ApiError> {
        let emitter = self.emitter.clone();
        self.stream_test
            .start(&request, &self.livekit_target(), move |event| {
                emitter.emit(match event {
                    RunEvent::Event {
                        run,
                        event,
                        figures,
                    } => ApiEvent::StreamTest {
                        run,
                        event,
                        figures,
                    },
                    RunEvent::Finished(outcome) => ApiEvent::StreamTestFinished { outcome },
                })
            })
            .map_err(ApiError::of)
    }

    /// The run in progress, or the last one (`None` before the first).
    pub async fn stream_test_current(&self) -> Result<Option<StreamTestSnapshot>, ApiError> {
        Ok(self.stream_test.current())
    }

    /// Asks the run in progress to stop; false when none is running.
    pub async fn stream_test_stop(&self) -> Result<bool, ApiError> {
        Ok(self.stream_test.stop())
    }

    /// Saved reports, newest first, at most `limit`.
    pub async fn stream_test_reports(
        &self,
        limit: u32,
    ) -> Result<Vec<StreamReportEntry>, ApiError> {
        self.stream_test.reports(limit).map_err(ApiError::of)
    }

    /// One saved report, by its file name.
    pub async fn stream_test_report(&self, file: String) -> Result<StreamReport, ApiError> {
        self.stream_test.report(&file).map_err(ApiError::of)
    }

    /// Every metric the engine reports, with the team's rating bands (the UI rates with
    /// these, never with thresholds of its own).
    pub async fn metric_catalogue(&self) -> Result<Vec<Metric>, ApiError> {
        Ok(greenroom_engine::metrics::catalogue())
    }
}
