//! `greenroom talk` with a real microphone and speaker: a private PulseAudio daemon whose
//! default source is a fake microphone and whose default sink is a fake speaker (shared
//! FACTS, "Audio"). An English sentence from espeak-ng is played into the microphone; the
//! CLI captures it through cpal, the sandbox's services (faster-whisper, the offline coach,
//! espeak-ng) answer, and Marie's voice is recorded from the speaker's monitor.
//!
//! Each test starts its own daemon and hands its variables to the CLI at spawn, so no test
//! changes this process's environment.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use greenroom_test_support::fake_mic::{
    FakeAudio, RECORD_RATE, dead_audio_env, speech_band_seconds,
};
use greenroom_voice::wer::word_error_rate;

const SAID: [&str; 2] = [
    "Thank you for coming today, I want to talk about our new project.",
    "Please tell me how I can speak more clearly during the meeting.",
];

/// The CLI, its stderr lines arriving on a channel.
struct Talk {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// A test that fails mid-way must not leave `greenroom talk` running.
impl Drop for Talk {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Talk {
    fn start(env: &[(String, String)], home: &Path, args: &[&str]) -> Talk {
        let mut child = Command::new(env!("CARGO_BIN_EXE_greenroom"))
            .arg("talk")
            .args(args)
            .env("GREENROOM_HOME", home)
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("greenroom talk starts");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Talk {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the `n`-th stderr line containing `text` (counting all seen so far).
    fn wait_for(&mut self, text: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.seen.iter().filter(|l| l.contains(text)).count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {text:?} (#{n}) from greenroom talk within {within:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the exit; returns (status, stdout, stderr).
    fn finish(mut self, within: Duration) -> (std::process::ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "greenroom talk did not end within {within:?}:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(greenroom_test_support::POLL_EVERY);
        };
        let mut stdout = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status, stdout, self.seen.join("\n"))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The sandbox's speech services on free ports, and the CLI flags that point at them.
fn services(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
) -> (greenroom_sandbox::local::LocalSpeech, Vec<String>) {
    let python = greenroom_sandbox::stt::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the speech virtualenv tools/venv-speech: run scripts/setup");
    let speech = runtime
        .block_on(greenroom_sandbox::local::LocalSpeech::start(
            &python,
            dir,
            Default::default(),
        ))
        .expect("the speech services start");
    let flags = vec![
        "--stt-url".to_string(),
        speech.stt_url.clone(),
        "--llm-url".into(),
        speech.coach_url.clone(),
        "--tts-url".into(),
        speech.tts_url.clone(),
    ];
    (speech, flags)
}

#[test]
fn a_sentence_spoken_into_the_microphone_is_answered_aloud() {
    let audio = FakeAudio::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (_speech, flags) = services(&rt, dir.path());
    let wav = dir.path().join("said.wav");
    greenroom_test_support::english_wav(SAID[0], &wav);
    let record = dir.path().join("session");
    let mut args = vec!["--no-opening", "--turns", "1", "--json", "--seed", "3"];
    let record_arg = record.display().to_string();
    args.extend(["--record", &record_arg]);
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(flag_refs);
    let mut talk = Talk::start(&audio.env(), &dir.path().join("home"), &args);
    talk.wait_for("… listening", 1, Duration::from_secs(60));
    let speaker = audio.start_recording_speaker();
    audio.speak_wav(&wav).wait(Duration::from_secs(30));
    let (status, stdout, stderr) = talk.finish(Duration::from_secs(120));
    let heard = speaker.stop_to_wav(&dir.path().join("speaker.wav"));
    assert!(
        status.success(),
        "greenroom talk failed: {stderr}\n{stdout}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&stdout).expect("--json prints the report");
    assert_eq!(report["schema"], "greenroom.talk/1");
    let turn = &report["turns"][0];
    let learner = turn["learner_text"].as_str().unwrap();
    let wer = word_error_rate(SAID[0], learner);
    println!(
        "heard through the microphone: {learner:?} (WER {:.3})",
        wer.rate
    );
    assert!(wer.rate <= 0.25, "{learner:?}");
    assert!(turn["marie_text"].as_str().unwrap().chars().count() > 10);
    assert!(turn["time_to_first_audio_ms"].as_f64().is_some(), "{turn}");
    assert_eq!(turn["interrupted"], false);
    // Marie was heard on the speaker: sound in the speech band, for a while.
    let seconds = speech_band_seconds(&heard);
    println!(
        "Marie heard on the speaker for {seconds:.2} s of {:.2} s recorded",
        heard.len() as f64 / f64::from(RECORD_RATE)
    );
    assert!(seconds >= 1.0, "only {seconds} s of speech on the speaker");
    // The session was recorded, both sides.
    for file in [
        "learner.wav",
        "marie.wav",
        "transcript.json",
        "session.json",
    ] {
        assert!(
            record.join(file).is_file(),
            "{file} in {}",
            record.display()
        );
    }
}

#[test]
fn without_a_sound_server_talk_says_there_is_no_microphone() {
    let dir = tempfile::tempdir().unwrap();
    let talk = Talk::start(
        &dead_audio_env(dir.path()),
        &dir.path().join("home"),
        &["--no-opening", "--turns", "1"],
    );
    let (status, _, stderr) = talk.finish(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No microphone"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_microphone_unplugged_mid_talk_is_said_and_the_talk_goes_on() {
    let audio = FakeAudio::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (_speech, flags) = services(&rt, dir.path());
    let (first, second) = (dir.path().join("1.wav"), dir.path().join("2.wav"));
    greenroom_test_support::english_wav(SAID[0], &first);
    greenroom_test_support::english_wav(SAID[1], &second);
    let mut args = vec!["--no-opening", "--turns", "2", "--json", "--silent"];
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend(flag_refs);
    let mut talk = Talk::start(&audio.env(), &dir.path().join("home"), &args);
    talk.wait_for("… listening", 1, Duration::from_secs(60));
    audio.speak_wav(&first).wait(Duration::from_secs(30));
    talk.wait_for("… listening", 2, Duration::from_secs(90));
    audio.unplug_mic();
    talk.wait_for("is not working any more", 1, Duration::from_secs(30));
    audio.replug_mic();
    talk.wait_for(
        "Now listening through “Fake-microphone”",
        1,
        Duration::from_secs(30),
    );
    audio.speak_wav(&second).wait(Duration::from_secs(30));
    let (status, stdout, stderr) = talk.finish(Duration::from_secs(120));
    assert!(status.success(), "{stderr}\n{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let turns = report["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2, "{report}");
    let learner = turns[1]["learner_text"].as_str().unwrap();
    assert!(
        word_error_rate(SAID[1], learner).rate <= 0.25,
        "after the replug: {learner:?}"
    );
}

/// LiveKit mode from the CLI: the sentence goes through our participant into Marie's room
/// on the real livekit-server, the framework agent hears it, answers, and her voice comes
/// back through the jitter buffer to the speaker, with her states seen in order.
#[test]
fn a_sentence_spoken_into_the_microphone_reaches_marie_in_her_livekit_room() {
    let audio = FakeAudio::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (speech, _) = services(&rt, dir.path());
    let server = greenroom_test_support::LiveKitServer::start();
    let python = greenroom_sandbox::agent::locate_python(&greenroom_test_support::tool_dirs())
        .expect("the agent virtualenv tools/venv-agent: run scripts/setup");
    let marie = rt
        .block_on(greenroom_sandbox::local::LocalMarie::start(
            &python,
            &dir.path().join("agent"),
            &speech,
            (&server.url(), "devkey", "secret"),
            None,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let wav = dir.path().join("said.wav");
    greenroom_test_support::english_wav(SAID[0], &wav);
    let mut env = audio.env();
    env.extend(
        [
            ("LIVEKIT_URL", server.url()),
            ("LIVEKIT_API_KEY", "devkey".to_string()),
            ("LIVEKIT_API_SECRET", "secret".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    // No token service runs here: the CLI mints one and says so.
    let dead = format!("http://127.0.0.1:{}", greenroom_test_support::free_port());
    let args = [
        "--mode",
        "livekit",
        "--exercise",
        "entretien",
        "--turns",
        "1",
        "--json",
        "--token-url",
        &dead,
    ];
    let mut talk = Talk::start(&env, &dir.path().join("home"), &args);
    talk.wait_for("joined room greenroom-talk-", 1, Duration::from_secs(30));
    talk.wait_for("Marie's agent joined (agent-", 1, Duration::from_secs(30));
    // Her opening line, heard to its end.
    talk.wait_for("agent state: speaking", 1, Duration::from_secs(60));
    talk.wait_for("agent state: listening", 2, Duration::from_secs(60));
    let speaker = audio.start_recording_speaker();
    audio.speak_wav(&wav).wait(Duration::from_secs(30));
    let (status, stdout, stderr) = talk.finish(Duration::from_secs(120));
    let heard = speaker.stop_to_wav(&dir.path().join("speaker.wav"));
    assert!(
        status.success(),
        "greenroom talk failed: {stderr}\n{stdout}\nMarie's log:\n{}",
        marie.log()
    );
    assert!(stderr.contains("minted a token"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).expect("--json prints the report");
    assert_eq!(report["mode"], "livekit");
    let turn = &report["turns"][0];
    let learner = turn["learner_text"].as_str().unwrap();
    let wer = word_error_rate(SAID[0], learner);
    println!("Marie's agent heard: {learner:?} (WER {:.3})", wer.rate);
    assert!(wer.rate <= 0.35, "{learner:?}");
    assert!(
        turn["marie_text"].as_str().unwrap().chars().count() > 10,
        "{turn}"
    );
    assert!(turn["time_to_first_audio_ms"].as_f64().is_some(), "{turn}");
    let states: Vec<&str> = report["livekit"]["agent_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    let wanted = ["listening", "thinking", "speaking", "listening"];
    let mut at = 0;
    for s in &states {
        if at < wanted.len() && *s == wanted[at] {
            at += 1;
        }
    }
    assert_eq!(at, wanted.len(), "states seen: {states:?}");
    let seconds = speech_band_seconds(&heard);
    println!("Marie heard on the speaker for {seconds:.2} s");
    assert!(seconds >= 1.0, "only {seconds} s of speech on the speaker");
}
