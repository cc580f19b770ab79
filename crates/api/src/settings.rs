//! The user's settings: what they are, how they are checked, how they are kept.
//!
//! **File.** `settings.toml` in Greenroom's home ([`greenroom_core::AppHome`]). Keys this
//! version does not know are kept as they are (a newer Greenroom's settings survive an
//! older one). Every write is atomic (temp + rename).
//!
//! **A malformed file loses nothing.** Loading it reports `file:line:column` and what is
//! wrong, and Greenroom runs on defaults; the next save first moves the unreadable file
//! aside to `settings.toml.unreadable-<unix seconds>` and says so, then writes the new one.
//!
//! **Patches.** In a [`SettingsPatch`], a field left out (`null`) is unchanged, an empty
//! string resets it to its default, anything else is validated and set. A patch is applied
//! whole or not at all: if any field is invalid, nothing is written and the error lists
//! every invalid field.
//!
//! **Secrets** (`livekit_api_key`, `livekit_api_secret`, `mistral_api_key`) are write-only
//! through the API: a [`SettingsView`] says whether each is set, never what it is, and no
//! error message ever quotes a secret's value.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Where the LiveKit server is when nothing else is said: the sandbox's `livekit-server --dev`.
pub const DEFAULT_LIVEKIT_URL: &str = "ws://127.0.0.1:7880";

/// What `settings.toml` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredSettings {
    pub workspace: Option<PathBuf>,
    pub livekit_url: Option<String>,
    pub livekit_api_key: Option<String>,
    pub livekit_api_secret: Option<String>,
    pub mistral_api_key: Option<String>,
    pub talk_stt_url: Option<String>,
    pub talk_llm_url: Option<String>,
    pub talk_llm_model: Option<String>,
    pub talk_tts_url: Option<String>,
    pub talk_token_url: Option<String>,
    /// Keys written by another version of Greenroom, kept verbatim.
    #[serde(flatten)]
    pub unknown: toml::Table,
}

/// Whether a secret is set. The value itself never leaves the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SecretState {
    pub is_set: bool,
}

/// The settings as a front sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsView {
    /// The Eloquence checkout Greenroom works on (its compose files, Flutter app, agent).
    pub workspace: Option<String>,
    /// The LiveKit server's WebSocket URL (default `ws://127.0.0.1:7880`).
    pub livekit_url: String,
    pub livekit_api_key: SecretState,
    pub livekit_api_secret: SecretState,
    pub mistral_api_key: SecretState,
    /// Talking to Marie: the speech-to-text URL (`…/transcribe`: the Vosk shape;
    /// `…/v1/audio/transcriptions`: OpenAI's); `None`: the stack's, else 127.0.0.1:8002.
    pub talk_stt_url: Option<String>,
    /// The conversation service's OpenAI-compatible base (`…/v1`); `None`: Mistral's API
    /// when a Mistral key is set, else the stack's, else 127.0.0.1:8001.
    pub talk_llm_url: Option<String>,
    pub talk_llm_model: Option<String>,
    /// The text-to-speech service's OpenAI-compatible base (`…/v1`); `None`: the stack's,
    /// else 127.0.0.1:5002.
    pub talk_tts_url: Option<String>,
    /// Eloquence's token service (`POST …/generate-token`), for LiveKit talks; `None`: the
    /// stack's, else 127.0.0.1:8004.
    pub talk_token_url: Option<String>,
    /// The settings file, for the person who wants to look at it.
    pub file: String,
    /// Who may read that file (it holds secrets), as the OS says.
    pub file_access: crate::file_access::FileAccess,
    /// Why the file could not be read, when it could not (Greenroom then runs on defaults).
    pub load_error: Option<String>,
}

/// A change to the settings; see the module docs for the exact semantics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct SettingsPatch {
    pub workspace: Option<String>,
    pub livekit_url: Option<String>,
    pub livekit_api_key: Option<String>,
    pub livekit_api_secret: Option<String>,
    pub mistral_api_key: Option<String>,
    pub talk_stt_url: Option<String>,
    pub talk_llm_url: Option<String>,
    pub talk_llm_model: Option<String>,
    pub talk_tts_url: Option<String>,
    pub talk_token_url: Option<String>,
    /// Not a setting: what to do with the stack that runs when `workspace` changes which
    /// stack Greenroom runs. Without it such a change is refused (`conflict`) and nothing
    /// is saved; see [`crate::stack::RunningStackChoice`].
    pub running_stack: Option<crate::stack::RunningStackChoice>,
}

/// The names of the settings, as the CLI and the patch spell them.
pub const SETTING_NAMES: [&str; 10] = [
    "workspace",
    "livekit_url",
    "livekit_api_key",
    "livekit_api_secret",
    "mistral_api_key",
    "talk_stt_url",
    "talk_llm_url",
    "talk_llm_model",
    "talk_tts_url",
    "talk_token_url",
];

/// Whether a setting is a secret (never printed).
pub fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "livekit_api_key" | "livekit_api_secret" | "mistral_api_key"
    )
}

impl SettingsPatch {
    /// A patch that sets one setting by name; `None` for an unknown name.
    pub fn single(name: &str, value: String) -> Option<Self> {
        let mut patch = Self::default();
        let slot = match name {
            "workspace" => &mut patch.workspace,
            "livekit_url" => &mut patch.livekit_url,
            "livekit_api_key" => &mut patch.livekit_api_key,
            "livekit_api_secret" => &mut patch.livekit_api_secret,
            "mistral_api_key" => &mut patch.mistral_api_key,
            "talk_stt_url" => &mut patch.talk_stt_url,
            "talk_llm_url" => &mut patch.talk_llm_url,
            "talk_llm_model" => &mut patch.talk_llm_model,
            "talk_tts_url" => &mut patch.talk_tts_url,
            "talk_token_url" => &mut patch.talk_token_url,
            _ => return None,
        };
        *slot = Some(value);
        Some(patch)
    }
}

/// The result of reading the settings file.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: StoredSettings,
    /// `Some` when the file exists but could not be read or parsed.
    pub error: Option<String>,
}

pub fn load(file: &Path) -> Loaded {
    let text = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                settings: StoredSettings::default(),
                error: None,
            };
        }
        Err(e) => {
            return Loaded {
                settings: StoredSettings::default(),
                error: Some(format!("{}: cannot read: {e}", file.display())),
            };
        }
    };
    let text = match String::from_utf8(text) {
        Ok(t) => t,
        Err(e) => {
            return Loaded {
                settings: StoredSettings::default(),
                error: Some(format!(
                    "{}: not UTF-8 text (invalid byte at offset {}); Greenroom is using defaults and will keep this file aside on the next save",
                    file.display(),
                    e.utf8_error().valid_up_to()
                )),
            };
        }
    };
    match toml::from_str::<StoredSettings>(&text) {
        Ok(settings) => Loaded {
            settings,
            error: None,
        },
        Err(e) => Loaded {
            settings: StoredSettings::default(),
            error: Some(format!(
                "{}: {}; Greenroom is using defaults and will keep this file aside on the next save",
                locate(file, &text, e.span()),
                e.message()
            )),
        },
    }
}

/// `file:line:column` for a byte span of `text` (1-based, as editors count).
fn locate(file: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return file.display().to_string();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{column}", file.display())
}

pub fn view(settings: &StoredSettings, file: &Path, load_error: Option<String>) -> SettingsView {
    let secret = |s: &Option<String>| SecretState {
        is_set: s.is_some(),
    };
    SettingsView {
        workspace: settings.workspace.as_ref().map(|p| p.display().to_string()),
        livekit_url: settings
            .livekit_url
            .clone()
            .unwrap_or_else(|| DEFAULT_LIVEKIT_URL.to_owned()),
        livekit_api_key: secret(&settings.livekit_api_key),
        livekit_api_secret: secret(&settings.livekit_api_secret),
        mistral_api_key: secret(&settings.mistral_api_key),
        talk_stt_url: settings.talk_stt_url.clone(),
        talk_llm_url: settings.talk_llm_url.clone(),
        talk_llm_model: settings.talk_llm_model.clone(),
        talk_tts_url: settings.talk_tts_url.clone(),
        talk_token_url: settings.talk_token_url.clone(),
        file: file.display().to_string(),
        file_access: crate::file_access::describe(file),
        load_error,
    }
}

/// Applies `patch` to `current`, validating every field; all or nothing.
pub fn apply(current: &StoredSettings, patch: &SettingsPatch) -> Result<StoredSettings, ApiError> {
    let mut next = current.clone();
    let mut problems = Vec::new();

    if let Some(value) = &patch.workspace {
        match validate_workspace(value) {
            Ok(v) => next.workspace = v,
            Err(e) => problems.push(format!("workspace: {e}")),
        }
    }
    if let Some(value) = &patch.livekit_url {
        match validate_livekit_url(value) {
            Ok(v) => next.livekit_url = v,
            Err(e) => problems.push(format!("livekit_url: {e}")),
        }
    }
    for (name, value, slot) in [
        ("talk_stt_url", &patch.talk_stt_url, &mut next.talk_stt_url),
        ("talk_llm_url", &patch.talk_llm_url, &mut next.talk_llm_url),
        ("talk_tts_url", &patch.talk_tts_url, &mut next.talk_tts_url),
        (
            "talk_token_url",
            &patch.talk_token_url,
            &mut next.talk_token_url,
        ),
    ] {
        if let Some(value) = value {
            match validate_http_url(value) {
                Ok(v) => *slot = v,
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    if let Some(value) = &patch.talk_llm_model {
        let value = value.trim();
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            problems.push(
                "talk_llm_model: give a model name (at most 200 characters, one line)".into(),
            );
        } else {
            next.talk_llm_model = (!value.is_empty()).then(|| value.to_owned());
        }
    }
    for (name, value, slot) in [
        (
            "livekit_api_key",
            &patch.livekit_api_key,
            &mut next.livekit_api_key,
        ),
        (
            "livekit_api_secret",
            &patch.livekit_api_secret,
            &mut next.livekit_api_secret,
        ),
        (
            "mistral_api_key",
            &patch.mistral_api_key,
            &mut next.mistral_api_key,
        ),
    ] {
        if let Some(value) = value {
            match validate_secret(value) {
                Ok(v) => *slot = v,
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }

    if problems.is_empty() {
        Ok(next)
    } else {
        Err(ApiError::invalid_input(format!(
            "{}. Nothing was saved.",
            problems.join("; ")
        )))
    }
}

fn validate_workspace(value: &str) -> Result<Option<PathBuf>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(value);
    if !path.is_absolute() {
        return Err(format!(
            "\"{value}\" is a relative path; give the full path of your Eloquence checkout"
        ));
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(Some(path)),
        Ok(_) => Err(format!(
            "{value} is a file; choose the folder of your Eloquence checkout (the one with docker-compose.yml)"
        )),
        Err(_) => Err(format!(
            "{value} does not exist; choose the folder of your Eloquence checkout (the one with docker-compose.yml)"
        )),
    }
}

/// `ws://` or `wss://`, a host, an optional port in 1..=65535, an optional path.
fn validate_livekit_url(value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let rest = value
        .strip_prefix("ws://")
        .or_else(|| value.strip_prefix("wss://"))
        .ok_or_else(|| {
            format!("\"{value}\" is not a WebSocket URL; use ws://host:port (e.g. {DEFAULT_LIVEKIT_URL}) or wss://host for a remote server")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("\"{value}\" has an unclosed IPv6 address"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!(
            "\"{value}\" has no valid host; e.g. {DEFAULT_LIVEKIT_URL}"
        ));
    }
    if let Some(port) = port {
        match port.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => {}
            _ => {
                return Err(format!(
                    "\"{value}\": the port must be a number from 1 to 65535"
                ));
            }
        }
    }
    Ok(Some(value.to_owned()))
}

/// `http://` or `https://`, a host, an optional port in 1..=65535, an optional path.
fn validate_http_url(value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("\"{value}\" is not an HTTP URL; use http://host:port/path (e.g. http://127.0.0.1:8002/transcribe)")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!(
            "\"{value}\" has no valid host (and must not hold credentials: keys go in their own settings)"
        ));
    }
    if let Some(port) = port
        && !port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
    {
        return Err(format!(
            "\"{value}\": the port must be a number from 1 to 65535"
        ));
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

/// Secrets: printable, no spaces, at most 1024 characters. Errors never quote the value.
fn validate_secret(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > 1024 {
        return Err("longer than 1024 characters; paste the key alone".into());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters; paste the key alone, without quotes or line breaks".into());
    }
    Ok(Some(value.to_owned()))
}

/// Writes `settings` to `file` atomically. When the file on disk was unreadable, it is
/// first moved aside; the returned note says where.
pub fn save(
    file: &Path,
    settings: &StoredSettings,
    file_was_unreadable: bool,
) -> Result<Option<String>, ApiError> {
    let mut note = None;
    if file_was_unreadable && file.exists() {
        let stamp = greenroom_core::unix_seconds();
        let aside = file.with_file_name(format!(
            "{}.unreadable-{stamp}",
            file.file_name()
                .map_or("settings.toml".into(), |n| n.to_string_lossy())
        ));
        std::fs::rename(file, &aside).map_err(|e| {
            ApiError::internal(format!(
                "cannot move the unreadable {} aside to {}: {e}; nothing was saved. Fix or move the file by hand, then save again",
                file.display(),
                aside.display()
            ))
        })?;
        note = Some(format!(
            "the unreadable settings file was kept as {}",
            aside.display()
        ));
    }
    let text = toml::to_string_pretty(settings)
        .map_err(|e| ApiError::internal(format!("cannot encode the settings: {e}")))?;
    let header = "# Greenroom settings. Edit through Greenroom (Settings, or `greenroom settings set`),\n# or by hand while Greenroom is closed.\n";
    greenroom_core::write_private(file, format!("{header}{text}").as_bytes()).map_err(|e| {
        ApiError::internal(format!(
            "cannot write {}: {e}; check that the folder is writable (or set GREENROOM_HOME)",
            file.display()
        ))
    })?;
    // The file holds secrets: only its owner may read it (`crate::file_access`). The view
    // reads the protection back, so a failure here shows there.
    if let Err(e) = crate::file_access::restrict_to_owner(file) {
        tracing::warn!("{e}");
    }
    Ok(note)
}

/// The settings capability's state on [`crate::Api`].
#[derive(Default)]
pub(crate) struct SettingsState {
    /// Serialises read-modify-write of the settings file within this process.
    lock: tokio::sync::Mutex<()>,
}

impl crate::Api {
    pub async fn get_settings(&self) -> Result<SettingsView, ApiError> {
        let file = self.home.settings_file();
        let loaded = load(&file);
        Ok(view(&loaded.settings, &file, loaded.error))
    }

    /// Validates and saves `patch` (all or nothing), then emits `settings://changed`.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<SettingsView, ApiError> {
        let _guard = self.settings.lock.lock().await;
        let file = self.home.settings_file();
        let loaded = load(&file);
        let next = apply(&loaded.settings, &patch)?;
        if next.workspace != loaded.settings.workspace {
            self.switching_stacks(next.workspace.as_deref(), patch.running_stack)
                .await?;
        }
        let note = save(&file, &next, loaded.error.is_some())?;
        let view = view(&next, &file, note);
        self.emit(crate::ApiEvent::SettingsChanged {
            settings: view.clone(),
        });
        Ok(view)
    }
}

impl crate::Api {
    /// Before the workspace changes to `workspace`: when that changes which stack runs and
    /// the current one runs, the person's `choice` is applied, or the change is refused
    /// with what runs and how to say what to do ([`crate::stack::RunningStackChoice`]).
    async fn switching_stacks(
        &self,
        workspace: Option<&Path>,
        choice: Option<crate::stack::RunningStackChoice>,
    ) -> Result<(), ApiError> {
        let before = self.stack_source().await;
        let after = crate::stack::resolve(
            self.stack.explicit.as_deref(),
            self.stack.cwd.as_deref(),
            workspace,
        );
        if before == after {
            return Ok(());
        }
        let Some((description, running)) = self.running_stack().await? else {
            return Ok(());
        };
        match choice {
            Some(choice) => self.settle_running_stack(choice).await,
            None => Err(ApiError::conflict(format!(
                "{description} still runs {} service(s) that Greenroom started ({}): say whether to stop it or keep it running beside the new workspace's stack (running_stack: \"stop\" or \"keep\"; the CLI's --running-stack stop|keep). Nothing was saved.",
                running.len(),
                running.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(f: impl FnOnce(&mut SettingsPatch)) -> SettingsPatch {
        let mut p = SettingsPatch::default();
        f(&mut p);
        p
    }

    #[test]
    fn talk_service_urls() {
        for ok in [
            "http://127.0.0.1:8002/transcribe",
            "https://api.mistral.ai/v1/",
            "http://[::1]:5002/v1",
            "http://stt",
        ] {
            assert!(validate_http_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            validate_http_url("https://api.mistral.ai/v1/")
                .unwrap()
                .as_deref(),
            Some("https://api.mistral.ai/v1")
        );
        for bad in [
            "ftp://x",
            "127.0.0.1:8002",
            "http://:80",
            "http://h:99999",
            "http://user:pw@h",
        ] {
            assert!(validate_http_url(bad).is_err(), "{bad}");
        }
        let next = apply(
            &StoredSettings::default(),
            &patch(|p| {
                p.talk_stt_url = Some("http://127.0.0.1:9/v1/audio/transcriptions".into());
                p.talk_llm_model = Some(" mistral-small-latest ".into());
            }),
        )
        .unwrap();
        assert_eq!(next.talk_llm_model.as_deref(), Some("mistral-small-latest"));
        assert!(apply(&next, &patch(|p| p.talk_tts_url = Some("nope".into()))).is_err());
    }

    #[test]
    fn livekit_urls() {
        for ok in [
            "ws://127.0.0.1:7880",
            "wss://lk.example.com",
            "ws://[::1]:7880/rtc",
            "ws://host",
        ] {
            assert!(validate_livekit_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:7880",
            "ws://",
            "ws://:7880",
            "ws://h:0",
            "ws://h:99999",
            "ws://h:x",
            "127.0.0.1:7880",
            "ws://[::1",
        ] {
            assert!(validate_livekit_url(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_livekit_url("  ").unwrap(), None);
    }

    #[test]
    fn a_bad_patch_changes_nothing_and_names_every_bad_field() {
        let current = StoredSettings {
            livekit_url: Some("ws://a:1".into()),
            ..Default::default()
        };
        let err = apply(
            &current,
            &patch(|p| {
                p.workspace = Some("/definitely/not/here".into());
                p.livekit_url = Some("http://x".into());
                p.mistral_api_key = Some("has space".into());
            }),
        )
        .unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidInput);
        for field in [
            "workspace:",
            "livekit_url:",
            "mistral_api_key:",
            "Nothing was saved",
        ] {
            assert!(err.message.contains(field), "{}", err.message);
        }
        assert!(
            !err.message.contains("has space"),
            "a secret leaked: {}",
            err.message
        );
    }

    #[test]
    fn empty_string_resets_and_absent_keeps() {
        let current = StoredSettings {
            livekit_url: Some("ws://a:1".into()),
            mistral_api_key: Some("k".into()),
            ..Default::default()
        };
        let next = apply(&current, &patch(|p| p.livekit_url = Some(String::new()))).unwrap();
        assert_eq!(next.livekit_url, None);
        assert_eq!(next.mistral_api_key.as_deref(), Some("k"));
    }

    #[test]
    fn workspace_must_be_an_existing_absolute_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(
            validate_workspace(dir.path().to_str().unwrap())
                .unwrap()
                .is_some()
        );
        assert!(
            validate_workspace(file.to_str().unwrap())
                .unwrap_err()
                .contains("is a file")
        );
        assert!(
            validate_workspace("relative/dir")
                .unwrap_err()
                .contains("relative")
        );
    }

    #[test]
    fn view_masks_secrets() {
        let s = StoredSettings {
            livekit_api_secret: Some("s3cr3t-value".into()),
            ..Default::default()
        };
        let v = view(&s, Path::new("/x/settings.toml"), None);
        assert!(v.livekit_api_secret.is_set);
        assert!(!v.mistral_api_key.is_set);
        assert!(!serde_json::to_string(&v).unwrap().contains("s3cr3t"));
        assert_eq!(v.livekit_url, DEFAULT_LIVEKIT_URL);
    }

    #[test]
    fn malformed_file_reports_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "livekit_url = \"ws://a:1\"\nworkspace = [1, 2\n").unwrap();
        let loaded = load(&file);
        let err = loaded.error.unwrap();
        assert!(err.contains("settings.toml:2:"), "{err}");
        assert_eq!(loaded.settings, StoredSettings::default());
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "future_key = 3\n[future_table]\na = \"b\"\n").unwrap();
        let loaded = load(&file);
        assert!(loaded.error.is_none());
        save(&file, &loaded.settings, false).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("future_key = 3") && text.contains("[future_table]"),
            "{text}"
        );
    }

    #[test]
    fn saving_over_an_unreadable_file_keeps_it_aside() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "this is = = not toml").unwrap();
        let loaded = load(&file);
        assert!(loaded.error.is_some());
        let note = save(&file, &loaded.settings, true).unwrap().unwrap();
        assert!(note.contains("unreadable-"), "{note}");
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("settings.toml.unreadable-"))
            .collect();
        assert_eq!(kept.len(), 1);
        let old = std::fs::read_to_string(dir.path().join(&kept[0])).unwrap();
        assert_eq!(old, "this is = = not toml");
        assert!(load(&file).error.is_none());
    }

    proptest::proptest! {
        /// Whatever bytes are in the file, loading never panics and either parses or
        /// says where it failed.
        #[test]
        fn loading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("settings.toml");
            std::fs::write(&file, &bytes).unwrap();
            let loaded = load(&file);
            if let Some(e) = loaded.error {
                proptest::prop_assert!(e.contains("settings.toml"));
            }
        }

        #[test]
        fn url_validation_never_panics(s in "\\PC{0,60}") {
            let _ = validate_livekit_url(&s);
            let _ = validate_secret(&s);
        }
    }
}
