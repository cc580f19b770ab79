//! Marie, the sandbox's reference LiveKit agent: a Python child process on the official
//! LiveKit Agents framework (livekit-agents 1.8.9 with its OpenAI and Silero plugins) that
//! the app runs and supervises like any other service.
//!
//! The program is [`SCRIPT`] (`crates/sandbox/agent/marie.py`, compiled in): the app writes
//! it out with [`install_script`], finds the interpreter of the `venv-agent` virtualenv that
//! `scripts/setup` makes with [`locate_python`], and spawns [`command`] with [`env`]'s
//! variables. The child is a worker, not a server: it listens on no known port. It
//! registers with the LiveKit server (about 10 s of plugin preload first) and the framework
//! then logs a JSON line containing [`READY_PATTERN`] on stdout; it stops on SIGTERM /
//! SIGINT.
//!
//! With no agent name it is dispatched automatically to every room created after it
//! registered; with one ([`AGENT_NAME_ENV`]) only to rooms whose token or dispatch names it.
//! Each job reads the exercise from the room's metadata (JSON: `exercise_type`,
//! `character`, `character_name`, `voice`, `system_prompt`, `opening`, `language`; see the
//! script's docstring), says the opening line and then talks: speech-to-text, LLM and
//! text-to-speech through OpenAI-compatible endpoints (the sandbox's own on 8002, 8001 and
//! 5002), Silero VAD, and the framework's turn-taking, interruptions, `lk.transcription`
//! transcripts and `lk.agent.state` attribute.

use std::path::{Path, PathBuf};

/// The agent's source, written out by [`install_script`].
pub const SCRIPT: &str = include_str!("../agent/marie.py");

/// The pinned Python packages the script needs (what `scripts/setup` installs into
/// `tools/venv-agent`).
pub const REQUIREMENTS: &str = include_str!("../agent/requirements.txt");

/// The file name [`install_script`] writes.
pub const SCRIPT_NAME: &str = "marie.py";

/// The environment variable naming a Python interpreter to use instead of the virtualenv's.
pub const PYTHON_ENV: &str = "GREENROOM_AGENT_PYTHON";

/// The virtualenv's folder name, a sibling of each tool dir (`<repo>/tools/venv-agent`).
pub const VENV_DIR: &str = "venv-agent";

/// The variable that gives the worker an agent name (explicit dispatch only).
pub const AGENT_NAME_ENV: &str = "GREENROOM_AGENT_NAME";

/// What the framework logs once the worker has registered: the agent is ready from then on.
pub const READY_PATTERN: &str = "registered worker";

/// Writes [`SCRIPT`] to `dir/marie.py` (creating `dir`) and returns that path; like
/// [`crate::stt::install_script`], only when the content differs, and atomically.
pub fn install_script(dir: &Path) -> std::io::Result<PathBuf> {
    crate::stt::install_file(dir, SCRIPT_NAME, SCRIPT)
}

/// The Python interpreter to run the script with, by [`crate::stt::locate_python`]'s rules
/// with [`PYTHON_ENV`] and the `venv-agent` virtualenv (`d/../venv-agent/bin/python3`).
pub fn locate_python(tool_dirs: &[PathBuf]) -> Option<PathBuf> {
    crate::stt::locate_venv_python(std::env::var_os(PYTHON_ENV), tool_dirs, VENV_DIR)
}

/// The program and arguments that run `script` with `python` as a worker: unbuffered
/// (`-u`), in UTF-8 mode (`-X utf8`), `start` (the framework's production mode).
pub fn command(python: &Path, script: &Path) -> (PathBuf, Vec<String>) {
    let args = vec![
        "-u".to_string(),
        "-X".to_string(),
        "utf8".to_string(),
        script.to_string_lossy().into_owned(),
        "start".to_string(),
    ];
    (python.to_path_buf(), args)
}

/// Where the agent connects: its LiveKit server and its speech and language endpoints.
///
/// The three speech URLs are OpenAI-style bases, to which the plugins append their paths:
/// `<stt_url>/audio/transcriptions`, `<llm_url>/chat/completions`, `<tts_url>/audio/speech`
/// (so `http://127.0.0.1:8002/v1` for a server that serves `/v1/audio/transcriptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints<'a> {
    pub livekit_url: &'a str,
    pub api_key: &'a str,
    pub api_secret: &'a str,
    pub stt_url: &'a str,
    pub llm_url: &'a str,
    pub llm_model: &'a str,
    pub tts_url: &'a str,
    /// `None`: automatic dispatch; `Some(name)`: explicit dispatch under `name`.
    pub agent_name: Option<&'a str>,
}

/// The child's environment for `endpoints`. [`AGENT_NAME_ENV`] is always set (empty for
/// automatic dispatch), so a value inherited from the app's own environment cannot turn
/// automatic dispatch off; `PYTHONIOENCODING=utf-8` keeps its French log lines intact on
/// any console; `ORT_DISABLE_TELEMETRY=1` stops onnxruntime (which runs Silero's VAD) from
/// looking up and posting to Microsoft's telemetry service and from writing a device id
/// under `~/.cache` (onnxruntime 1.29 and later do both on Linux by default).
pub fn env(endpoints: &Endpoints<'_>) -> Vec<(String, String)> {
    [
        ("LIVEKIT_URL", endpoints.livekit_url),
        ("LIVEKIT_API_KEY", endpoints.api_key),
        ("LIVEKIT_API_SECRET", endpoints.api_secret),
        ("GREENROOM_STT_URL", endpoints.stt_url),
        ("GREENROOM_LLM_URL", endpoints.llm_url),
        ("GREENROOM_LLM_MODEL", endpoints.llm_model),
        ("GREENROOM_TTS_URL", endpoints.tts_url),
        (AGENT_NAME_ENV, endpoints.agent_name.unwrap_or("")),
        ("PYTHONIOENCODING", "utf-8"),
        ("ORT_DISABLE_TELEMETRY", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stt::{locate_venv_python, venv_python};

    #[test]
    fn finds_its_own_venv_not_the_speech_one() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("tools").join("bin");
        let speech = venv_python(&root.path().join("tools").join(crate::stt::VENV_DIR));
        std::fs::create_dir_all(speech.parent().unwrap()).unwrap();
        std::fs::write(&speech, b"").unwrap();
        assert_eq!(
            locate_venv_python(None, std::slice::from_ref(&bin), VENV_DIR),
            None
        );
        let agent = venv_python(&root.path().join("tools").join(VENV_DIR));
        std::fs::create_dir_all(agent.parent().unwrap()).unwrap();
        std::fs::write(&agent, b"").unwrap();
        assert_eq!(
            locate_venv_python(None, std::slice::from_ref(&bin), VENV_DIR),
            Some(agent)
        );
        assert_eq!(
            locate_venv_python(Some("/opt/py".into()), &[bin], VENV_DIR),
            Some(PathBuf::from("/opt/py"))
        );
    }

    #[test]
    fn install_script_writes_marie_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sandbox");
        let path = install_script(&dir).unwrap();
        assert_eq!(path, dir.join(SCRIPT_NAME));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SCRIPT);
        assert_eq!(install_script(&dir).unwrap(), path);
        // Beside the speech-to-text's script, each its own file.
        crate::stt::install_script(&dir).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [SCRIPT_NAME, crate::stt::SCRIPT_NAME]);
    }

    #[test]
    fn the_command_starts_a_worker() {
        let (program, args) = command(
            Path::new("/venv/bin/python3"),
            Path::new("/home/sandbox/marie.py"),
        );
        assert_eq!(program, PathBuf::from("/venv/bin/python3"));
        assert_eq!(
            args,
            ["-u", "-X", "utf8", "/home/sandbox/marie.py", "start"]
        );
    }

    fn sandbox(agent_name: Option<&str>) -> Vec<(String, String)> {
        env(&Endpoints {
            livekit_url: "ws://127.0.0.1:7880",
            api_key: "devkey",
            api_secret: "secret",
            stt_url: "http://127.0.0.1:8002/v1",
            llm_url: "http://127.0.0.1:8001/v1",
            llm_model: "greenroom-offline-coach",
            tts_url: "http://127.0.0.1:5002/v1",
            agent_name,
        })
    }

    fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_environment_names_every_endpoint() {
        let vars = sandbox(None);
        for (key, value) in [
            ("LIVEKIT_URL", "ws://127.0.0.1:7880"),
            ("LIVEKIT_API_KEY", "devkey"),
            ("LIVEKIT_API_SECRET", "secret"),
            ("GREENROOM_STT_URL", "http://127.0.0.1:8002/v1"),
            ("GREENROOM_LLM_URL", "http://127.0.0.1:8001/v1"),
            ("GREENROOM_LLM_MODEL", "greenroom-offline-coach"),
            ("GREENROOM_TTS_URL", "http://127.0.0.1:5002/v1"),
            ("PYTHONIOENCODING", "utf-8"),
            ("ORT_DISABLE_TELEMETRY", "1"),
        ] {
            assert_eq!(get(&vars, key), Some(value), "{key}");
        }
        // Every variable the environment sets is one the script reads.
        for (key, _) in &vars {
            assert!(
                SCRIPT.contains(key.as_str())
                    || key.starts_with("LIVEKIT_")
                    || key == "PYTHONIOENCODING",
                "{key} is not read by marie.py"
            );
        }
    }

    #[test]
    fn the_agent_name_switches_to_explicit_dispatch() {
        assert_eq!(get(&sandbox(None), AGENT_NAME_ENV), Some(""));
        assert_eq!(
            get(&sandbox(Some("marie-explicit")), AGENT_NAME_ENV),
            Some("marie-explicit")
        );
    }

    #[test]
    fn the_script_and_its_requirements_agree_with_the_docs() {
        assert!(SCRIPT.contains(AGENT_NAME_ENV));
        assert!(SCRIPT.contains("response_format=\"pcm\""));
        assert!(SCRIPT.contains("use_realtime=False"));
        assert!(SCRIPT.contains("os.environ.setdefault(\"ORT_DISABLE_TELEMETRY\", \"1\")"));
        assert!(SCRIPT.lines().count() < 150);
        for pin in [
            "livekit-agents==1.8.9",
            "livekit-plugins-openai==1.8.9",
            "livekit-plugins-silero==1.8.9",
        ] {
            assert!(REQUIREMENTS.contains(pin), "{pin}");
        }
    }
}
