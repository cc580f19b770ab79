//! The Greenroom desktop app: the shell only.
//!
//! It owns one [`Api`] and forwards every UI call to [`Api::dispatch`] through the single
//! `call` command (plus `pick_folder`, the system's folder dialog, which only a desktop
//! window has); every core event goes to the UI as the Tauri event
//! [`greenroom_api::TAURI_EVENT`]. Everything with logic lives in the Tauri-free crates.

// No console window behind the app on Windows (release builds).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[cfg_attr(not(windows), allow(dead_code))]
mod webview2;

use greenroom_api::{Api, ApiError, AppHome, EventEnvelope, EventSink, Request};
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, State};

struct TauriSink(AppHandle);

impl EventSink<EventEnvelope> for TauriSink {
    fn emit(&self, event: EventEnvelope) {
        if let Err(e) = self.0.emit(greenroom_api::TAURI_EVENT, &event) {
            eprintln!(
                "greenroom: cannot deliver event {} to the window: {e}",
                event.topic
            );
        }
    }
}

#[tauri::command]
async fn call(api: State<'_, Arc<Api>>, request: Request) -> Result<serde_json::Value, ApiError> {
    api.dispatch(request).await
}

/// The system's folder dialog, for the workspace: the chosen folder, or `None` when the
/// person cancelled. `start` is where it opens (the current workspace, if any).
#[tauri::command]
async fn pick_folder(
    app: AppHandle,
    title: String,
    start: Option<String>,
) -> Result<Option<String>, ApiError> {
    use tauri_plugin_dialog::DialogExt;
    let mut dialog = app.dialog().file().set_title(title);
    if let Some(dir) = start.filter(|s| std::path::Path::new(s).is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| ApiError::internal(format!("the folder dialog failed: {e}")))?;
    picked
        .map(|p| {
            p.into_path().map(|p| p.display().to_string()).map_err(|e| {
                ApiError::internal(format!("the folder dialog gave no local path: {e}"))
            })
        })
        .transpose()
}

fn main() {
    // Windows: this executable is also the helper that delivers a stop to a service's console.
    if let Some(code) = greenroom_api::run_console_event_helper_if_asked() {
        std::process::exit(code);
    }
    greenroom_api::keep_std_handles_from_children();
    #[cfg(windows)]
    if let Err(reason) = webview2::installed_version() {
        let message = webview2::missing_message(&reason);
        eprintln!("greenroom: {message}");
        webview2::offer_download(&message);
        std::process::exit(webview2::EXIT_NO_WEBVIEW2);
    }
    let home = match AppHome::from_env() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("greenroom: {e}");
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let sink = Arc::new(TauriSink(app.handle().clone()));
            let api = Arc::new(Api::new(home, greenroom_api::default_tool_dirs(), sink));
            // While the app supervises a stack, `greenroom status`, `down`… drive it here
            // instead of starting a second supervisor (greenroom_api::control).
            let endpoint_api = api.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = greenroom_server::start_control_endpoint(endpoint_api).await {
                    eprintln!("greenroom: no control endpoint ({e}); other greenroom commands will not see this app's stack");
                }
            });
            app.manage(api);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![call, pick_folder])
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("greenroom: the desktop app could not start: {e}");
        std::process::exit(1);
    }
}
