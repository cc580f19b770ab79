//! Where Greenroom keeps its files.
//!
//! Precedence: the `GREENROOM_HOME` environment variable when it is set and not empty;
//! otherwise the platform's config directory joined with `Greenroom`
//! (`%APPDATA%\Greenroom` on Windows, `~/.config/greenroom` on Linux,
//! `~/Library/Application Support/Greenroom` on macOS). Tests always set `GREENROOM_HOME`
//! to a temporary directory so that they never touch a user's files.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the home directory.
pub const HOME_ENV: &str = "GREENROOM_HOME";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHome {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(
        "cannot find a configuration directory for Greenroom on this machine; set {HOME_ENV} to a writable folder"
    )]
    NoConfigDir,
}

impl AppHome {
    /// A home rooted at an explicit directory (tests, `--home`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The home chosen by the precedence rule in the module docs.
    pub fn from_env() -> Result<Self, HomeError> {
        if let Some(dir) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            return Ok(Self::at(dir));
        }
        let base = dirs::config_dir().ok_or(HomeError::NoConfigDir)?;
        let name = if cfg!(target_os = "linux") {
            "greenroom"
        } else {
            "Greenroom"
        };
        Ok(Self::at(base.join(name)))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The user's settings (TOML).
    pub fn settings_file(&self) -> PathBuf {
        self.root.join("settings.toml")
    }

    /// Per-service logs and Greenroom's own.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}
