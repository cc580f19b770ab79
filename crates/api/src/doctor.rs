//! The machine check: what this machine has for Greenroom, and how to get what it lacks.

use crate::{Api, ApiError, ApiEvent, DoctorReport};

impl Api {
    /// Checks this machine; emits `doctor://check/{id}` as each check finishes, then
    /// `doctor://finished`.
    pub async fn run_doctor(&self) -> Result<DoctorReport, ApiError> {
        let mut options = greenroom_doctor::DoctorOptions::new(self.home.root().to_path_buf());
        options.extra_dirs = self.tool_dirs.clone();
        let report = greenroom_doctor::run(&options, |check, done, total| {
            self.emit(ApiEvent::DoctorCheck {
                check: check.clone(),
                done: done as u32,
                total: total as u32,
            });
        })
        .await;
        self.emit(ApiEvent::DoctorFinished {
            summary: report.summary.clone(),
        });
        Ok(report)
    }
}
