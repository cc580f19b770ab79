// Generated from the Rust types of crates/api and crates/doctor. Do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p greenroom-api --test bindings

export type AppInfo = { version: string, 
/**
 * `linux`, `windows` or `macos`.
 */
platform: string, 
/**
 * Greenroom's home folder (settings, logs, history).
 */
home: string, };

export type ErrorCode = "invalid_input" | "not_found" | "unavailable" | "internal";

export type ApiError = { code: ErrorCode, message: string, };

export type SecretState = { is_set: boolean, };

export type SettingsView = { 
/**
 * The Eloquence checkout Greenroom works on (its compose files, Flutter app, agent).
 */
workspace: string | null, 
/**
 * The LiveKit server's WebSocket URL (default `ws://127.0.0.1:7880`).
 */
livekit_url: string, livekit_api_key: SecretState, livekit_api_secret: SecretState, mistral_api_key: SecretState, 
/**
 * The settings file, for the person who wants to look at it.
 */
file: string, 
/**
 * Why the file could not be read, when it could not (Greenroom then runs on defaults).
 */
load_error: string | null, };

export type SettingsPatch = { workspace?: string, livekit_url?: string, livekit_api_key?: string, livekit_api_secret?: string, mistral_api_key?: string, };

export type CheckStatus = "ok" | "warn" | "fail";

export type InstallHint = { debian: string, windows: string, };

export type CheckResult = { 
/**
 * Stable identifier (`redis-server`, `docker`, `disk`…).
 */
id: string, 
/**
 * What a person calls it.
 */
name: string, 
/**
 * What Greenroom uses it for.
 */
purpose: string, status: CheckStatus, 
/**
 * What was found: a version, a path, an error.
 */
detail: string, 
/**
 * How to fix it; present only when the status is not `ok`.
 */
install: InstallHint | null, };

export type DoctorSummary = { ok: number, warn: number, fail: number, };

export type DoctorReport = { 
/**
 * `linux`, `windows` or `macos`.
 */
platform: string, 
/**
 * In the order of [`all_checks`], whatever order they finished in.
 */
checks: Array<CheckResult>, summary: DoctorSummary, };

export type ApiEvent = { "kind": "settings_changed", settings: SettingsView, } | { "kind": "doctor_check", check: CheckResult, done: number, total: number, } | { "kind": "doctor_finished", summary: DoctorSummary, };

export type EventEnvelope = { topic: string, seq: number, at_ms: number, event: ApiEvent, };

export type Request = { "command": "app_info", "args": Record<symbol, never> } | { "command": "get_settings", "args": Record<symbol, never> } | { "command": "update_settings", "args": { patch: SettingsPatch, } } | { "command": "run_doctor", "args": Record<symbol, never> };

export type CommandArgs = {
  app_info: {  };
  get_settings: {  };
  update_settings: { patch: SettingsPatch };
  run_doctor: {  };
};

export type CommandResults = {
  app_info: AppInfo;
  get_settings: SettingsView;
  update_settings: SettingsView;
  run_doctor: DoctorReport;
};

export type CommandName = keyof CommandResults;
