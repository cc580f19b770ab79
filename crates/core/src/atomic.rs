//! Crash-safe file writes.
//!
//! [`write_atomic`] and [`write_private`] write to a temporary file in the same directory,
//! flush it to disk, rename it over the target, then flush the directory (Unix), so that a
//! crash at any point leaves either the old file or the new one, never a torn mix.
//!
//! Exact semantics:
//! - The temporary file has a random name, `.<name>.tmp-XXXXXX`, and is created readable by
//!   its owner only (0600 on Unix), so a secret is never readable by others, not even for a
//!   moment and not in a leftover after a crash. [`sweep_temp_files`] removes such leftovers.
//! - [`write_atomic`] gives the new file the permissions of the file it replaces (a 0600
//!   `.env` stays 0600); a new file gets 0644. [`write_private`] always gives 0600 (on
//!   Windows, callers that hold secrets also set an owner-only ACL).
//! - When the target is a symbolic link, the file it points to is replaced and the link is
//!   kept.
//! - Rename over an existing file is atomic on Linux and macOS and uses
//!   `MoveFileExW(MOVEFILE_REPLACE_EXISTING)` on Windows (what `std::fs::rename` does).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path`, keeping the permissions of the file it replaces.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write(path, bytes, false)
}

/// Writes `bytes` to `path`, readable and writable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write(path, bytes, true)
}

/// The infix of temporary files; [`sweep_temp_files`] recognises them by it.
const TEMP_INFIX: &str = ".tmp-";

fn write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let path = resolve_symlink(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}{TEMP_INFIX}"))
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private {
            0o600
        } else {
            std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode() & 0o7777)
        };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(&path).map_err(|e| e.error)?;
    sync_dir(&dir);
    Ok(())
}

/// `path` itself, or the file it links to (one level or many), so a write keeps the link.
fn resolve_symlink(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .map(|p| crate::paths::simplified(&p))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

/// Flushes a directory's entries (the rename) to disk. Best effort: some filesystems
/// refuse to open a directory, and Windows has no such call (NTFS journals the rename).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes temporary files that a crashed write left in `dir` (older than a minute, so a
/// write in progress in another process is left alone). Returns how many were removed.
pub fn sweep_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.')
                && name.contains(TEMP_INFIX)
                && e.metadata()
                    .is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t < minute_ago))
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/settings.toml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(path.parent().unwrap()), vec!["settings.toml"]);
    }

    #[test]
    fn failure_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails, the directory survives.
        let path = dir.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(std::fs::read(path.join("keep")).unwrap(), b"x");
        assert_eq!(
            names(dir.path()),
            vec!["taken"],
            "no temporary file is left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept_or_private_and_never_widened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(&env, b"A=1\n").unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&env, b"A=2\n").unwrap();
        assert_eq!(mode(&env), 0o600, "a 0600 file stays 0600");
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&env, b"A=3\n").unwrap();
        assert_eq!(mode(&env), 0o640);
        let new = dir.path().join("report.json");
        write_atomic(&new, b"{}").unwrap();
        assert_eq!(mode(&new), 0o644);
        let secret = dir.path().join("settings.toml");
        std::fs::write(&secret, b"").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&secret, b"key = 1").unwrap();
        assert_eq!(mode(&secret), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_kept_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.env");
        std::fs::write(&real, b"A=1\n").unwrap();
        let link = dir.path().join(".env");
        std::os::unix::fs::symlink("real.env", &link).unwrap();
        write_atomic(&link, b"A=2\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"A=2\n");
    }

    #[test]
    fn old_leftovers_are_swept_and_other_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join(".settings.toml.tmp-4242");
        std::fs::write(&leftover, b"secret").unwrap();
        let recent = dir.path().join(".settings.toml.tmp-Ab12Cd");
        std::fs::write(&recent, b"in progress").unwrap();
        std::fs::write(dir.path().join("settings.toml"), b"kept").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&leftover)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(sweep_temp_files(dir.path()), 1);
        assert_eq!(
            names(dir.path()),
            vec![".settings.toml.tmp-Ab12Cd", "settings.toml"]
        );
    }
}
