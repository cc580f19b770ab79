//! The chat and speech servers over real HTTP on 127.0.0.1, with the real engine
//! (espeak-ng, or pico2wave where installed) as a child process. Nothing is mocked; every
//! wait polls a condition.

use greenroom_sandbox::chat_server::{self, ChatServerConfig, MODEL_ID};
use greenroom_sandbox::tts_server::{self, TtsServerConfig};
use greenroom_test_support::eventually;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const RECRUITER_PROMPT: &str = "Tu es Marie, dans le rôle d'un recruteur professionnel. \
    Simulation d'entretien d'embauche : formelle mais bienveillante.";

/// A server running on its own port until [`Running::stop`].
struct Running<E> {
    base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), E>>,
}

impl<E: std::fmt::Debug> Running<E> {
    async fn stop(self) {
        let _ = self.stop.send(());
        let done = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let result = done
            .expect("the server stops within 10 s")
            .expect("the server task");
        result.expect("the server ends cleanly");
    }
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    (listener, base)
}

async fn wait_healthy(client: &reqwest::Client, base: &str) -> Value {
    let url = format!("{base}/health");
    eventually(
        "the server's /health",
        Duration::from_secs(10),
        async || {
            let response = client.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())?;
            response.json::<Value>().await.ok()
        },
    )
    .await
}

async fn start_chat(config: ChatServerConfig) -> Running<std::io::Error> {
    let (listener, base) = listener().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(chat_server::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    Running { base, stop, task }
}

async fn start_tts(config: TtsServerConfig) -> Running<tts_server::TtsError> {
    let (listener, base) = listener().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(tts_server::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    Running { base, stop, task }
}

fn chat_body(messages: &Value, seed: u64, stream: bool) -> Value {
    json!({
        "model": "mistral-small-latest",
        "messages": messages,
        "temperature": 0.7,
        "max_tokens": 300,
        "seed": seed,
        "stream": stream,
    })
}

/// The `data:` payloads of an SSE response, each with when it arrived.
async fn sse_events(response: reqwest::Response) -> Vec<(String, Instant)> {
    use futures_util::StreamExt;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("an SSE chunk");
        buffer.push_str(std::str::from_utf8(&chunk).expect("SSE is UTF-8"));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    events.push((data.trim_start().to_string(), Instant::now()));
                }
            }
        }
    }
    assert!(
        buffer.trim().is_empty(),
        "an unfinished SSE event: {buffer:?}"
    );
    events
}

#[tokio::test]
async fn chat_health_and_models() {
    let server = start_chat(ChatServerConfig::default()).await;
    let client = reqwest::Client::new();
    let health = wait_healthy(&client, &server.base).await;
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["model"], MODEL_ID);
    let models: Value = client
        .get(format!("{}/v1/models", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(models["data"][0]["id"], MODEL_ID);
    server.stop().await;
}

#[tokio::test]
async fn streamed_chunks_reassemble_to_the_non_streaming_reply() {
    let server = start_chat(ChatServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    let url = format!("{}/v1/chat/completions", server.base);
    let messages = json!([
        {"role": "system", "content": "Tu es Marie, une coach en communication bienveillante."},
        {"role": "assistant", "content": "Bonjour ! De quoi avez-vous envie de parler aujourd'hui ?"},
        {"role": "user", "content": "J'aimerais parler de mon voyage au Japon l'été dernier."},
    ]);

    let whole: Value = client
        .post(&url)
        .bearer_auth("sk-anything-goes")
        .json(&chat_body(&messages, 1234, false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whole["object"], "chat.completion");
    assert!(
        whole["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert_eq!(whole["model"], "mistral-small-latest");
    assert_eq!(whole["choices"][0]["message"]["role"], "assistant");
    assert_eq!(whole["choices"][0]["finish_reason"], "stop");
    let text = whole["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("« Japon »"), "{text}");
    let usage = &whole["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(usage["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        )
    );

    let response = client
        .post(&url)
        .bearer_auth("sk-anything-goes")
        .json(&chat_body(&messages, 1234, true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let events = sse_events(response).await;
    assert_eq!(events.last().map(|(d, _)| d.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(d, _)| serde_json::from_str(d).expect("each chunk is JSON"))
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"])
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|p| !p.is_empty())
        .collect();
    assert!(pieces.len() >= 5, "word-sized deltas, got {pieces:?}");
    assert_eq!(pieces.concat(), text);
    server.stop().await;
}

#[tokio::test]
async fn streamed_words_leave_one_by_one_at_the_configured_pace() {
    let delay = Duration::from_millis(25);
    let server = start_chat(ChatServerConfig { token_delay: delay }).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    let messages = json!([{"role": "system", "content": "Simulation d'entretien"}]);
    let response = client
        .post(format!("{}/v1/chat/completions", server.base))
        .json(&chat_body(&messages, 5, true))
        .send()
        .await
        .unwrap();
    let events = sse_events(response).await;
    let words: Vec<Instant> = events
        .iter()
        .filter(|(d, _)| d.contains("\"content\"") && !d.contains("\"role\""))
        .map(|(_, at)| *at)
        .collect();
    assert!(words.len() >= 5);
    // Sent as produced: the words arrive spread out, not in one burst at the end.
    let spread = *words.last().unwrap() - words[0];
    let expected = delay * (words.len() as u32 - 1);
    assert!(
        spread >= expected / 2,
        "{} words arrived within {spread:?}",
        words.len()
    );
    server.stop().await;
}

#[tokio::test]
async fn interview_over_http_stays_in_character_and_closes() {
    let server = start_chat(ChatServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    let url = format!("{}/v1/chat/completions", server.base);
    let answers = [
        "Je m'appelle Karim, j'ai un master en finance et deux ans d'expérience en audit.",
        "Votre entreprise a une vraie culture de l'innovation et cela me motive.",
        "Je suis rigoureux, curieux, et je communique facilement avec les clients.",
        "Un client mécontent : j'ai organisé une réunion pour clarifier les attentes.",
        "Je dois apprendre à déléguer davantage, j'y travaille avec mon manager.",
        "Merci beaucoup pour cet échange.",
    ];
    let mut messages = vec![json!({"role": "system", "content": RECRUITER_PROMPT})];
    let mut replies: Vec<(String, String)> = Vec::new(); // (text, phase)
    for turn in 0..=answers.len() {
        let body: Value = client
            .post(&url)
            .json(&json!({"model": "mistral-small-latest", "messages": messages, "seed": 77}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(body["greenroom"]["character"], "recruiter", "{body}");
        assert_eq!(body["greenroom"]["exercise"], "interview", "{body}");
        replies.push((
            text.clone(),
            body["greenroom"]["phase"].as_str().unwrap().to_string(),
        ));
        messages.push(json!({"role": "assistant", "content": text}));
        if let Some(answer) = answers.get(turn) {
            messages.push(json!({"role": "user", "content": answer}));
        }
    }
    let phases: Vec<&str> = replies.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        phases,
        [
            "greeting", "question", "question", "question", "question", "closing", "closing"
        ]
    );
    let interview_words = [
        "entretien",
        "poste",
        "parcours",
        "présenter",
        "motive",
        "qualités",
        "point fort",
        "difficulté",
        "amélioration",
        "cinq ans",
        "équipe",
        "salaire",
    ];
    for (text, _) in &replies[..5] {
        assert!(
            interview_words.iter().any(|w| text.contains(w)),
            "off topic: {text}"
        );
        assert!(
            !text.contains("Marie") && !text.contains("Thomas"),
            "out of character: {text}"
        );
    }
    // Each question turn asks a question never asked before (its last sentence).
    let questions: Vec<&str> = replies[..5]
        .iter()
        .map(|(t, _)| {
            let end = t.trim_end_matches(['?', '.', ' ']);
            end.rsplit(['.', '!', '?']).next().unwrap_or(end).trim()
        })
        .collect();
    let unique: std::collections::HashSet<&&str> = questions.iter().collect();
    assert_eq!(unique.len(), questions.len(), "{questions:#?}");
    // The learner's words are reflected.
    assert!(
        replies[1..5]
            .iter()
            .filter(|(t, _)| t.contains('«'))
            .count()
            >= 3,
        "{replies:#?}"
    );
    // The closing thanks, gives one piece of feedback and says goodbye.
    let closing = &replies[5].0;
    assert!(
        closing.contains("Merci") && closing.contains("Au revoir"),
        "{closing}"
    );
    assert!(
        closing.contains("Point fort") || closing.contains("Un conseil"),
        "{closing}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_chat_requests_get_openai_errors() {
    let server = start_chat(ChatServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    let url = format!("{}/v1/chat/completions", server.base);
    let cases = [
        ("{\"messages\": [", "invalid_json"),
        ("", "invalid_json"),
        ("[]", "invalid_request_body"),
        ("{\"model\": \"x\"}", "missing_messages"),
        ("{\"messages\": []}", "missing_messages"),
        ("{\"messages\": \"Bonjour\"}", "invalid_request_body"),
        (
            "{\"messages\": [{\"role\": \"user\", \"content\": 42}]}",
            "invalid_request_body",
        ),
        (
            "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 0}",
            "invalid_max_tokens",
        ),
        (
            "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"seed\": -1}",
            "invalid_request_body",
        ),
    ];
    for (body, code) in cases {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let missing = client
        .get(format!("{}/v1/nothing", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    // Still serving after all that.
    wait_healthy(&client, &server.base).await;
    server.stop().await;
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_with_finish_reason_length() {
    let server = start_chat(ChatServerConfig::default()).await;
    let client = reqwest::Client::new();
    let messages = json!([{"role": "user", "content": "Bonjour Marie"}]);
    let body: Value = client
        .post(format!("{}/v1/chat/completions", server.base))
        .json(&json!({"messages": messages, "max_tokens": 3, "seed": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert!(
        body["usage"]["completion_tokens"].as_u64().unwrap() <= 3,
        "{body}"
    );
    assert_eq!(body["model"], MODEL_ID);
    server.stop().await;
}

/// A 16-bit mono WAV read from its bytes: (sample rate, samples).
fn read_wav(bytes: &[u8]) -> (u32, Vec<i16>) {
    assert!(bytes.len() > 44, "{} bytes", bytes.len());
    assert_eq!(&bytes[0..4], b"RIFF");
    let riff_size = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_size, bytes.len() - 8, "the RIFF size is the real one");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(&bytes[12..16], b"fmt ");
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(u16_at(20), 1, "PCM");
    assert_eq!(u16_at(22), 1, "mono");
    let rate = u32_at(24);
    assert!((8000..=48_000).contains(&rate), "{rate} Hz");
    assert_eq!(u16_at(34), 16, "16-bit");
    assert_eq!(&bytes[36..40], b"data");
    let data_len = u32_at(40) as usize;
    assert_eq!(data_len, bytes.len() - 44, "the data size is the real one");
    let samples = bytes[44..]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect();
    (rate, samples)
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

const SENTENCE: &str =
    "Bonjour, je suis Marie. Parlez-moi de votre parcours, et prenez votre temps.";

async fn speak(client: &reqwest::Client, base: &str, body: Value) -> reqwest::Response {
    client
        .post(format!("{base}/v1/audio/speech"))
        .bearer_auth("sk-ignored")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tts_health_names_the_engine() {
    let server = start_tts(TtsServerConfig::default()).await;
    let client = reqwest::Client::new();
    let health = wait_healthy(&client, &server.base).await;
    assert_eq!(health["status"], "healthy");
    let engine = health["engine"].as_str().unwrap();
    assert!(["espeak-ng", "pico2wave"].contains(&engine), "{health}");
    assert_eq!(health["formats"], json!(["wav", "pcm"]));
    server.stop().await;
}

#[tokio::test]
async fn tts_speaks_a_sentence_as_wav_and_as_24k_pcm() {
    let server = start_tts(TtsServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;

    let response = speak(
        &client,
        &server.base,
        json!({"model": "tts-1", "input": SENTENCE, "voice": "alloy"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let (rate, samples) = read_wav(&response.bytes().await.unwrap());
    let wav_secs = samples.len() as f64 / f64::from(rate);
    assert!(wav_secs > 0.5, "{wav_secs} s");
    assert!(
        rms(&samples) > 300.0,
        "speech has energy: rms {}",
        rms(&samples)
    );

    let response = speak(
        &client,
        &server.base,
        json!({"model": "tts-1", "input": SENTENCE, "voice": "alloy", "response_format": "pcm"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/pcm");
    assert_eq!(response.headers()["x-sample-rate"], "24000");
    let bytes = response.bytes().await.unwrap();
    assert_ne!(&bytes[..4], b"RIFF", "raw samples, no header");
    assert_eq!(bytes.len() % 2, 0);
    let pcm: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect();
    let pcm_secs = pcm.len() as f64 / 24_000.0;
    assert!(
        (pcm_secs - wav_secs).abs() < wav_secs * 0.02,
        "pcm {pcm_secs} s vs wav {wav_secs} s"
    );
    assert!(rms(&pcm) > 300.0);
    server.stop().await;
}

#[tokio::test]
async fn tts_speaks_the_coachs_reply_with_any_voice() {
    let chat = start_chat(ChatServerConfig::default()).await;
    let tts = start_tts(TtsServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &chat.base).await;
    wait_healthy(&client, &tts.base).await;
    let body: Value = client
        .post(format!("{}/v1/chat/completions", chat.base))
        .json(&json!({"messages": [{"role": "system", "content": RECRUITER_PROMPT}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    // Unknown voices fall back to plain French; several requests at once all succeed.
    let voices = ["marie", "does-not-exist", "fr-be+f4", "nova"];
    let requests = voices.map(|voice| {
        let client = client.clone();
        let base = tts.base.clone();
        let text = text.clone();
        tokio::spawn(async move {
            speak(
                &client,
                &base,
                json!({"input": text, "voice": voice, "speed": 1.2}),
            )
            .await
        })
    });
    for (voice, request) in voices.iter().zip(requests) {
        let response = request.await.unwrap();
        assert_eq!(response.status(), 200, "{voice}");
        let (rate, samples) = read_wav(&response.bytes().await.unwrap());
        assert!(samples.len() as f64 / f64::from(rate) > 0.5, "{voice}");
    }
    chat.stop().await;
    tts.stop().await;
}

#[tokio::test]
async fn tts_refuses_unsupported_formats_and_bad_input_with_400() {
    let server = start_tts(TtsServerConfig::default()).await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    for format in ["mp3", "opus", "aac", "flac"] {
        let response = speak(
            &client,
            &server.base,
            json!({"input": "Bonjour", "response_format": format}),
        )
        .await;
        assert_eq!(response.status(), 400, "{format}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unsupported_response_format");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        for needle in [format, "`wav`", "`pcm`"] {
            assert!(message.contains(needle), "{message}");
        }
    }
    let too_long = "a".repeat(tts_server::MAX_INPUT_CHARS + 1);
    let cases = [
        (json!({"input": too_long}), "input_too_long"),
        (json!({"input": "   "}), "missing_input"),
        (json!({"voice": "alloy"}), "missing_input"),
        (json!({"input": "Bonjour", "speed": 10}), "invalid_speed"),
        (json!({"input": ["Bonjour"]}), "invalid_request_body"),
    ];
    for (body, code) in cases {
        let response = speak(&client, &server.base, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let response = client
        .post(format!("{}/v1/audio/speech", server.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_json");
    server.stop().await;
}

#[tokio::test]
async fn tts_kills_an_engine_past_its_timeout_and_answers_500() {
    let server = start_tts(TtsServerConfig {
        timeout: Duration::from_millis(1),
        ..TtsServerConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base).await;
    let long = SENTENCE.repeat(20);
    let response = speak(&client, &server.base, json!({"input": long})).await;
    assert_eq!(response.status(), 500);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "engine_timeout", "{error}");
    assert_eq!(error["error"]["type"], "server_error");
    server.stop().await;
}

#[tokio::test]
async fn tts_without_an_engine_fails_before_serving() {
    let empty = tempfile::tempdir().unwrap();
    let (listener, _) = listener().await;
    let config = TtsServerConfig {
        search_path: Some(empty.path().as_os_str().to_owned()),
        ..TtsServerConfig::default()
    };
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        tts_server::serve(listener, config, std::future::pending()),
    )
    .await
    .expect("fails at once, does not serve");
    let message = result.expect_err("no engine").to_string();
    assert!(
        message.contains("espeak-ng") && message.contains("apt install espeak-ng"),
        "{message}"
    );
}
