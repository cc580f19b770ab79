//! The one surface every Greenroom front calls.
//!
//! The desktop shell, the CLI and the local HTTP server hold an [`Api`] and call its plain
//! async methods, or [`Api::dispatch`] with a [`Request`] decoded from the wire. Results
//! are DTOs defined here (or in the domain crates) and exported to TypeScript
//! (`ui/src/generated/api.ts`, checked by the `bindings_are_current` test). Errors are
//! [`ApiError`] (`{code, message}`). Events go out through the
//! [`greenroom_core::EventSink`] the front passed in, wrapped in an [`EventEnvelope`].
//!
//! To add a command: write the method on `Api`, add one line to the `commands!` table
//! below, regenerate the bindings (`UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings`).

mod error;
mod events;
pub mod settings;

pub use error::{ApiError, ErrorCode};
pub use events::{ApiEvent, EventEnvelope, TAURI_EVENT};
pub use greenroom_core::{AppHome, EventSink, NullSink, RecordingSink};
pub use greenroom_doctor::{CheckResult, CheckStatus, DoctorReport, DoctorSummary, InstallHint};
pub use settings::{SecretState, SettingsPatch, SettingsView};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use ts_rs::TS;

/// Facts about this Greenroom, for the About line and bug reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AppInfo {
    pub version: String,
    /// `linux`, `windows` or `macos`.
    pub platform: String,
    /// Greenroom's home folder (settings, logs, history).
    pub home: String,
}

pub struct Api {
    home: AppHome,
    tool_dirs: Vec<PathBuf>,
    sink: Arc<dyn EventSink<EventEnvelope>>,
    seq: AtomicU64,
    /// Serialises read-modify-write of the settings file within this process.
    settings_lock: tokio::sync::Mutex<()>,
}

impl Api {
    /// `tool_dirs` are searched for tools after `PATH` (e.g. the project's `tools/bin`).
    pub fn new(
        home: AppHome,
        tool_dirs: Vec<PathBuf>,
        sink: Arc<dyn EventSink<EventEnvelope>>,
    ) -> Self {
        Self {
            home,
            tool_dirs,
            sink,
            seq: AtomicU64::new(0),
            settings_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn home(&self) -> &AppHome {
        &self.home
    }

    fn emit(&self, event: ApiEvent) {
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.sink.emit(EventEnvelope {
            topic: event.topic(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at_ms,
            event,
        });
    }

    pub async fn app_info(&self) -> Result<AppInfo, ApiError> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: std::env::consts::OS.to_owned(),
            home: self.home.root().display().to_string(),
        })
    }

    pub async fn get_settings(&self) -> Result<SettingsView, ApiError> {
        let file = self.home.settings_file();
        let loaded = settings::load(&file);
        Ok(settings::view(&loaded.settings, &file, loaded.error))
    }

    /// Validates and saves `patch` (all or nothing), then emits `settings://changed`.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<SettingsView, ApiError> {
        let _guard = self.settings_lock.lock().await;
        let file = self.home.settings_file();
        let loaded = settings::load(&file);
        let next = settings::apply(&loaded.settings, &patch)?;
        let note = settings::save(&file, &next, loaded.error.is_some())?;
        let view = settings::view(&next, &file, note);
        self.emit(ApiEvent::SettingsChanged {
            settings: view.clone(),
        });
        Ok(view)
    }

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

/// Declares the commands once: the wire [`Request`], [`Api::dispatch`] and the TypeScript
/// maps from command name to arguments and result.
macro_rules! commands {
    ($( $(#[doc = $doc:literal])* $variant:ident => $method:ident { $($arg:ident : $argty:ty),* } -> $ret:ty; )*) => {
        /// A command as it crosses the wire: `{"command": "<name>", "args": {…}}`.
        #[derive(Debug, Clone, Deserialize, Serialize, TS)]
        #[serde(tag = "command", content = "args", rename_all = "snake_case")]
        pub enum Request {
            $( $(#[doc = $doc])* $variant { $($arg: $argty),* }, )*
        }

        impl Api {
            /// Runs a decoded [`Request`]; the result is the command's DTO as JSON.
            pub async fn dispatch(&self, request: Request) -> Result<serde_json::Value, ApiError> {
                match request {
                    $( Request::$variant { $($arg),* } => {
                        let result = self.$method($($arg),*).await?;
                        serde_json::to_value(result)
                            .map_err(|e| ApiError::internal(format!("cannot encode the result of {}: {e}", stringify!($method))))
                    } )*
                }
            }
        }

        /// TypeScript: `CommandArgs` and `CommandResults`, keyed by command name.
        pub fn typescript_command_maps() -> String {
            let cfg = ts_rs::Config::default();
            let mut args = String::from("export type CommandArgs = {\n");
            let mut results = String::from("export type CommandResults = {\n");
            $(
                let fields: Vec<String> = vec![$(format!("{}: {}", stringify!($arg), <$argty as TS>::name(&cfg))),*];
                args.push_str(&format!("  {}: {{ {} }};\n", stringify!($method), fields.join(", ")));
                results.push_str(&format!("  {}: {};\n", stringify!($method), <$ret as TS>::name(&cfg)));
            )*
            args.push_str("};\n");
            results.push_str("};\n");
            format!("{args}\n{results}\nexport type CommandName = keyof CommandResults;\n")
        }
    };
}

commands! {
    /// Version, platform and home folder.
    AppInfo => app_info {} -> AppInfo;
    /// The current settings (secrets masked).
    GetSettings => get_settings {} -> SettingsView;
    /// Validate and save a settings patch.
    UpdateSettings => update_settings { patch: SettingsPatch } -> SettingsView;
    /// Check this machine for what Greenroom uses.
    RunDoctor => run_doctor {} -> DoctorReport;
}

/// Where Greenroom looks for its tools after `PATH`, in order: `GREENROOM_TOOLS_DIR` when
/// set, then `tools/bin` of the source checkout this binary was built in (a binary at
/// `<repo>/target/<profile>/greenroom` finds `<repo>/tools/bin`, where setup installs
/// `livekit-server`).
pub fn default_tool_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("GREENROOM_TOOLS_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(repo) = exe
            .parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.parent())
    {
        let candidate = repo.join("tools").join("bin");
        if candidate.is_dir() {
            dirs.push(candidate);
        }
    }
    dirs
}
