//! `fake-audio`: the fake microphone and speaker of [`greenroom_test_support::fake_mic`] for
//! tests written in another language (the end-to-end tests drive the app from Node).
//!
//! It starts a private PulseAudio daemon, prints one JSON line
//! `{"ready": true, "env": {"XDG_RUNTIME_DIR": …, "PULSE_SERVER": …}}` and then reads
//! commands, one per line on stdin, answering each with one JSON line on stdout:
//!
//! | command             | does                                              | answers |
//! |---------------------|---------------------------------------------------|---------|
//! | `speak FILE.wav`    | plays the file into the microphone, to its end    | `{"ok": true}` |
//! | `record`            | starts recording the speaker (its monitor)        | `{"ok": true}` |
//! | `stop-record FILE`  | stops, writes the recording as a WAV              | `{"ok": true, "seconds": …, "speech_band_seconds": …}` |
//! | `unplug` / `replug` | removes / restores the microphone                 | `{"ok": true}` |
//! | `quit` (or EOF)     | kills everything it started, exits                | nothing |
//!
//! A failed command answers `{"ok": false, "error": "…"}`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

use greenroom_test_support::fake_mic::{FakeAudio, RECORD_RATE, speech_band_seconds};

fn answer(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn main() {
    let audio = FakeAudio::start();
    let env: serde_json::Map<String, serde_json::Value> = audio
        .env()
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    answer(serde_json::json!({"ready": true, "env": env}));
    let mut recording = None;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (command, argument) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        match command {
            "speak" => {
                audio
                    .speak_wav(Path::new(argument))
                    .wait(Duration::from_secs(60));
                answer(serde_json::json!({"ok": true}));
            }
            "record" => {
                recording = Some(audio.start_recording_speaker());
                answer(serde_json::json!({"ok": true}));
            }
            "stop-record" => match recording.take() {
                Some(r) => {
                    let samples = r.stop_to_wav(Path::new(argument));
                    answer(serde_json::json!({
                        "ok": true,
                        "seconds": samples.len() as f64 / f64::from(RECORD_RATE),
                        "speech_band_seconds": speech_band_seconds(&samples),
                    }));
                }
                None => answer(
                    serde_json::json!({"ok": false, "error": "not recording: send `record` first"}),
                ),
            },
            "unplug" => {
                audio.unplug_mic();
                answer(serde_json::json!({"ok": true}));
            }
            "replug" => {
                audio.replug_mic();
                answer(serde_json::json!({"ok": true}));
            }
            "quit" => break,
            "" => {}
            other => answer(
                serde_json::json!({"ok": false, "error": format!("unknown command {other:?}")}),
            ),
        }
    }
    drop(recording);
    drop(audio);
}
