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

    /// Makes the home folder exist and private to the user (0700 on Unix: it holds
    /// settings with API keys, tokens and logs), and removes the temporary files that a
    /// crashed write left in it and in each stack's state folder. Returns how many leftovers
    /// were removed.
    pub fn prepare(&self) -> std::io::Result<usize> {
        std::fs::create_dir_all(&self.root)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.root)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        let mut swept = crate::sweep_temp_files(&self.root);
        if let Ok(stacks) = std::fs::read_dir(self.root.join("stacks")) {
            for stack in stacks.flatten() {
                swept += crate::sweep_temp_files(&stack.path());
            }
        }
        Ok(swept)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_makes_the_home_private_and_sweeps_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let home = AppHome::at(dir.path().join("home"));
        let stack = home.root().join("stacks/eloquence-1234");
        std::fs::create_dir_all(&stack).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for leftover in [
            home.root().join(".settings.toml.tmp-4242"),
            stack.join(".supervisor.json.tmp-77"),
        ] {
            std::fs::write(&leftover, b"secret").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&leftover)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(home.prepare().unwrap(), 2);
        assert!(!home.root().join(".settings.toml.tmp-4242").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.root()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
