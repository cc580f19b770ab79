//! A service's Python virtualenv (`venv = "agent/.venv"`): what is there, and how it is
//! replaced without destroying anything.
//!
//! Greenroom re-creates a virtualenv only when its folder is missing, or is a virtualenv
//! (it holds `pyvenv.cfg`) whose `bin/` (`Scripts\` on Windows) is gone. A folder without
//! `pyvenv.cfg` is someone's sources, never replaced. The path must stay inside the stack's
//! folder ([`crate::manifest::confined_relative_path`]). The old folder is renamed aside
//! (`.venv.broken-<unix seconds>`), never cleared, so what it held can still be copied out.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenvState {
    /// Nothing at the path: Greenroom may create it.
    Missing,
    /// A virtualenv with its `bin/`.
    Healthy,
    /// A virtualenv (`pyvenv.cfg`) without its `bin/`: Greenroom may re-create it.
    Broken,
    /// Something that is not a virtualenv (a file, or a folder without `pyvenv.cfg`):
    /// never replaced.
    NotAVirtualenv,
}

/// The folder of executables inside a virtualenv.
pub fn bin_dir(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

pub fn state(venv: &Path) -> VenvState {
    match std::fs::symlink_metadata(venv) {
        Err(_) => VenvState::Missing,
        Ok(m) if !m.is_dir() => VenvState::NotAVirtualenv,
        Ok(_) if !venv.join("pyvenv.cfg").is_file() => {
            // A virtualenv made by tools that write no pyvenv.cfg still has its bin/ and
            // activate script: usable, but not ours to replace.
            if bin_dir(venv).join("activate").is_file() {
                VenvState::Healthy
            } else {
                VenvState::NotAVirtualenv
            }
        }
        Ok(_) if bin_dir(venv).is_dir() => VenvState::Healthy,
        Ok(_) => VenvState::Broken,
    }
}

/// The virtualenv of a service: `root` joined with `venv`, refused when `venv` leaves
/// `root`.
pub fn resolve(root: &Path, venv: &str) -> Result<PathBuf, String> {
    crate::manifest::confined_relative_path(venv)
        .map(|()| root.join(venv))
        .map_err(|why| format!("`venv = {venv:?}` {why}"))
}

/// Renames a broken virtualenv aside, beside it, and returns where it went.
pub fn set_aside(venv: &Path) -> std::io::Result<PathBuf> {
    let name = venv
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "venv".into());
    let stamp = greenroom_core::unix_seconds();
    let mut aside = venv.with_file_name(format!("{name}.broken-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        aside = venv.with_file_name(format!("{name}.broken-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(venv, &aside)?;
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        assert_eq!(state(&venv), VenvState::Missing);
        std::fs::create_dir(&venv).unwrap();
        std::fs::write(venv.join("agent.py"), "print('mine')").unwrap();
        assert_eq!(
            state(&venv),
            VenvState::NotAVirtualenv,
            "sources are not a virtualenv"
        );
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin").unwrap();
        assert_eq!(state(&venv), VenvState::Broken);
        std::fs::create_dir(bin_dir(&venv)).unwrap();
        assert_eq!(state(&venv), VenvState::Healthy);
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(state(&file), VenvState::NotAVirtualenv);
    }

    #[test]
    fn only_paths_inside_the_stack() {
        let root = Path::new("stack");
        assert_eq!(
            resolve(root, "agent/.venv").unwrap(),
            root.join("agent/.venv")
        );
        for bad in [
            "/",
            "/home/me/agent",
            "../agent",
            "agent/../../x",
            "",
            ".",
            "C:\\x",
            "\\\\server\\share",
        ] {
            assert!(resolve(root, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn set_aside_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        std::fs::create_dir(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "x").unwrap();
        let aside = set_aside(&venv).unwrap();
        assert!(!venv.exists());
        assert_eq!(
            std::fs::read_to_string(aside.join("pyvenv.cfg")).unwrap(),
            "x"
        );
        assert!(
            aside
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".venv.broken-")
        );
    }
}
