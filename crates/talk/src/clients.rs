//! The direct mode's clients: one HTTP call per stage, exactly the services Marie's agent
//! uses.
//!
//! - [`SttClient`]: a 16 kHz utterance as a WAV file, posted as multipart to Eloquence's
//!   Vosk service (`POST /transcribe`, field `audio` → `{text, confidence, words, duration}`)
//!   or to any Whisper server (`POST /v1/audio/transcriptions`, fields `file` and `model`
//!   → `{text}`).
//! - [`ChatClient`]: the OpenAI-compatible `POST /v1/chat/completions` with `stream: true`
//!   through **async-openai** pointed at a base URL (Mistral, the team's
//!   `mistral-conversation`, the sandbox's offline coach). It yields text deltas as they
//!   come and marks the first token's instant.
//! - [`TtsClient`]: `POST /v1/audio/speech {model, input, voice, response_format: "wav"}`,
//!   read as a stream so the first byte's instant is known; WAV (any rate, 8/16/24/32-bit
//!   or float) or raw `pcm` (s16le 24 kHz mono, OpenAI's) is decoded to mono f32.
//!
//! Every call has a timeout, and every failure is a [`ServiceError`] naming the service
//! and the URL. Nothing here retries (async-openai's own retries are turned off): a turn
//! that fails says so at once.

use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::events::Side;
use crate::services::{
    ChatEndpoint, Service, ServiceError, SttEndpoint, SttShape, Timeouts, TtsEndpoint, excerpt,
    root_cause,
};

/// The sample rate of raw `pcm` answers (OpenAI's speech API).
pub const OPENAI_PCM_RATE: u32 = 24_000;

fn http_client(timeouts: &Timeouts) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        // Local services: never go through a proxy the user set for the web.
        .no_proxy()
        .build()
        .unwrap_or_default()
}

/// What the speech-to-text service heard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Transcription {
    pub text: String,
    pub confidence: Option<f32>,
    /// The audio's duration as the service measured it, in seconds.
    pub duration_s: Option<f32>,
}

/// Encodes 16-bit mono PCM as a WAV file in memory.
pub fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    if let Ok(mut writer) = hound::WavWriter::new(&mut cursor, spec) {
        for s in samples {
            let v = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let _ = writer.write_sample((v * i16::MAX as f32) as i16);
        }
        let _ = writer.finalize();
    }
    cursor.into_inner()
}

/// Decodes a WAV file to mono f32 and its rate.
pub fn decode_wav(bytes: &[u8]) -> Result<(Vec<f32>, u32), String> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err("a WAV with no channels".into());
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
    };
    let mono = greenroom_voice::resample::downmix(&interleaved, spec.channels)
        .map_err(|e| e.to_string())?;
    Ok((mono, spec.sample_rate))
}

/// Decodes raw s16le mono.
pub fn decode_pcm16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect()
}

#[derive(Debug, Clone)]
pub struct SttClient {
    http: reqwest::Client,
    endpoint: SttEndpoint,
    timeout: Duration,
}

#[derive(Deserialize)]
struct SttAnswer {
    text: String,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    duration: Option<f32>,
}

impl SttClient {
    pub fn new(endpoint: SttEndpoint, timeouts: &Timeouts) -> Self {
        Self {
            http: http_client(timeouts),
            endpoint,
            timeout: timeouts.stt,
        }
    }

    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// Transcribes mono `samples` at `rate`.
    pub async fn transcribe(
        &self,
        samples: &[f32],
        rate: u32,
    ) -> Result<Transcription, ServiceError> {
        self.transcribe_wav(wav_bytes(samples, rate)).await
    }

    /// Transcribes a WAV file (what [`wav_bytes`] makes).
    pub async fn transcribe_wav(&self, wav: Vec<u8>) -> Result<Transcription, ServiceError> {
        let url = self.endpoint.url.clone();
        let part = reqwest::multipart::Part::bytes(wav)
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .map_err(|e| ServiceError::BadAnswer {
                service: Service::Stt,
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let mut form = reqwest::multipart::Form::new();
        match self.endpoint.shape {
            SttShape::Vosk => form = form.part("audio", part),
            SttShape::OpenAi => {
                form = form
                    .part("file", part)
                    .text("model", self.endpoint.model.clone())
                    .text("response_format", "json");
                if let Some(language) = &self.endpoint.language {
                    form = form.text("language", language.clone());
                }
            }
        }
        let mut request = self.http.post(&url).multipart(form).timeout(self.timeout);
        if let Some(key) = &self.endpoint.api_key {
            request = request.bearer_auth(key.expose());
        }
        let error =
            |e: reqwest::Error| ServiceError::from_reqwest(Service::Stt, &url, &e, self.timeout);
        let response = request.send().await.map_err(error)?;
        let status = response.status();
        let body = response.text().await.map_err(error)?;
        if !status.is_success() {
            return Err(ServiceError::status(
                Service::Stt,
                &url,
                status.as_u16(),
                &body,
            ));
        }
        let answer: SttAnswer =
            serde_json::from_str(&body).map_err(|e| ServiceError::BadAnswer {
                service: Service::Stt,
                url: url.clone(),
                detail: format!(
                    "expected JSON with a `text` field ({e}); got {}",
                    excerpt(&body)
                ),
            })?;
        Ok(Transcription {
            text: answer.text.trim().to_string(),
            confidence: answer.confidence,
            duration_s: answer.duration,
        })
    }
}

/// One line of the conversation so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Line {
    pub speaker: Side,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct ChatClient {
    client: async_openai::Client<OpenAIConfig>,
    endpoint: ChatEndpoint,
    timeouts: Timeouts,
    url: String,
}

/// A reply being streamed.
pub struct ReplyStream {
    inner: async_openai::types::chat::ChatCompletionResponseStream,
    url: String,
    deadline: tokio::time::Instant,
    total: Duration,
    first_token: Option<Instant>,
}

impl ReplyStream {
    /// The next piece of text; `Ok(None)` at the end of the reply.
    pub async fn next(&mut self) -> Result<Option<String>, ServiceError> {
        loop {
            let item = tokio::time::timeout_at(self.deadline, self.inner.next())
                .await
                .map_err(|_| ServiceError::Timeout {
                    service: Service::Llm,
                    url: self.url.clone(),
                    timeout_ms: self.total.as_millis() as u64,
                    stage: " to finish its reply".into(),
                })?;
            match item {
                None => return Ok(None),
                Some(Err(e)) => return Err(chat_error(&self.url, e)),
                Some(Ok(chunk)) => {
                    let text: String = chunk
                        .choices
                        .iter()
                        .filter_map(|c| c.delta.content.as_deref())
                        .collect();
                    if !text.is_empty() {
                        self.first_token.get_or_insert_with(Instant::now);
                        return Ok(Some(text));
                    }
                }
            }
        }
    }

    /// When the first non-empty piece arrived.
    pub fn first_token(&self) -> Option<Instant> {
        self.first_token
    }
}

fn chat_error(url: &str, e: async_openai::error::OpenAIError) -> ServiceError {
    use async_openai::error::OpenAIError as E;
    match e {
        E::ApiError(api) => ServiceError::status(
            Service::Llm,
            url,
            api.status_code.as_u16(),
            &api.api_error.message,
        ),
        E::Reqwest(e) => ServiceError::from_reqwest(Service::Llm, url, &e, Duration::ZERO),
        E::JSONDeserialize(e, content) => ServiceError::BadAnswer {
            service: Service::Llm,
            url: url.to_string(),
            detail: format!("{e} in {}", excerpt(&content)),
        },
        other => ServiceError::BadAnswer {
            service: Service::Llm,
            url: url.to_string(),
            detail: root_cause(&other),
        },
    }
}

impl ChatClient {
    pub fn new(endpoint: ChatEndpoint, timeouts: &Timeouts) -> Self {
        let base = endpoint.base_url.trim_end_matches('/').to_string();
        let mut config = OpenAIConfig::new().with_api_base(base.clone());
        // async-openai sends `Authorization: Bearer <key>`; a keyless local service
        // ignores it, so an absent key is sent as an empty one.
        config = config.with_api_key(endpoint.api_key.as_ref().map_or("", |k| k.expose()));
        // No retries: async-openai's default transport retries 5xx answers and refused
        // connections three times with a back-off, which would hide a broken service
        // behind seconds of silence. A failed turn says so at once; the coach retries.
        let http = http_client(timeouts);
        let client = async_openai::Client::with_config(config)
            .with_http_client(http.clone())
            .with_http_service(async_openai::middleware::ReqwestService::new(http));
        Self {
            client,
            url: format!("{base}/chat/completions"),
            endpoint,
            timeouts: *timeouts,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts the reply to `history` under `system_prompt`; `seed` makes deterministic
    /// services deterministic.
    pub async fn stream_reply(
        &self,
        system_prompt: &str,
        history: &[Line],
        seed: Option<i64>,
    ) -> Result<ReplyStream, ServiceError> {
        let mut messages: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(system_prompt).into()];
        for line in history {
            messages.push(match line.speaker {
                Side::Learner => ChatCompletionRequestUserMessage::from(line.text.as_str()).into(),
                Side::Marie => {
                    ChatCompletionRequestAssistantMessage::from(line.text.as_str()).into()
                }
            });
        }
        #[allow(deprecated)] // `max_tokens`: what Mistral and older servers read.
        let request = CreateChatCompletionRequest {
            model: self.endpoint.model.clone(),
            messages,
            temperature: Some(self.endpoint.temperature),
            max_tokens: Some(self.endpoint.max_tokens),
            seed,
            stream: Some(true),
            ..Default::default()
        };
        let started = tokio::time::Instant::now();
        let first = self.timeouts.llm_first_token;
        let inner = tokio::time::timeout(first, self.client.chat().create_stream(request))
            .await
            .map_err(|_| ServiceError::Timeout {
                service: Service::Llm,
                url: self.url.clone(),
                timeout_ms: first.as_millis() as u64,
                stage: " to start its reply".into(),
            })?
            .map_err(|e| chat_error(&self.url, e))?;
        Ok(ReplyStream {
            inner,
            url: self.url.clone(),
            deadline: started + self.timeouts.llm_total,
            total: self.timeouts.llm_total,
            first_token: None,
        })
    }
}

/// One synthesised clip and when its bytes came.
#[derive(Debug, Clone)]
pub struct SpokenClip {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub first_byte: Instant,
    pub done: Instant,
}

#[derive(Debug, Clone)]
pub struct TtsClient {
    http: reqwest::Client,
    endpoint: TtsEndpoint,
    timeout: Duration,
    url: String,
}

impl TtsClient {
    pub fn new(endpoint: TtsEndpoint, timeouts: &Timeouts) -> Self {
        let url = format!("{}/audio/speech", endpoint.base_url.trim_end_matches('/'));
        Self {
            http: http_client(timeouts),
            endpoint,
            timeout: timeouts.tts,
            url,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Speaks `text` with `voice`.
    pub async fn synthesize(&self, text: &str, voice: &str) -> Result<SpokenClip, ServiceError> {
        let url = self.url.clone();
        let body = serde_json::json!({
            "model": self.endpoint.model,
            "input": text,
            "voice": voice,
            "response_format": "wav",
        });
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timeout = || ServiceError::Timeout {
            service: Service::Tts,
            url: url.clone(),
            timeout_ms: self.timeout.as_millis() as u64,
            stage: String::new(),
        };
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = &self.endpoint.api_key {
            request = request.bearer_auth(key.expose());
        }
        let error =
            |e: reqwest::Error| ServiceError::from_reqwest(Service::Tts, &url, &e, self.timeout);
        let response = tokio::time::timeout_at(deadline, request.send())
            .await
            .map_err(|_| timeout())?
            .map_err(error)?;
        let status = response.status();
        let is_pcm = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("pcm") || v.contains("L16"));
        if !status.is_success() {
            let body = tokio::time::timeout_at(deadline, response.text())
                .await
                .map_err(|_| timeout())?
                .unwrap_or_default();
            return Err(ServiceError::status(
                Service::Tts,
                &url,
                status.as_u16(),
                &body,
            ));
        }
        let mut stream = response.bytes_stream();
        let mut bytes = Vec::new();
        let mut first_byte = None;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next())
                .await
                .map_err(|_| timeout())?;
            match next {
                None => break,
                Some(Err(e)) => return Err(error(e)),
                Some(Ok(chunk)) => {
                    if !chunk.is_empty() {
                        first_byte.get_or_insert_with(Instant::now);
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
        }
        let done = Instant::now();
        let bad = |detail: String| ServiceError::BadAnswer {
            service: Service::Tts,
            url: url.clone(),
            detail,
        };
        let (samples, sample_rate) = if bytes.starts_with(b"RIFF") {
            decode_wav(&bytes).map_err(|e| bad(format!("its WAV does not decode: {e}")))?
        } else if is_pcm {
            (decode_pcm16(&bytes), OPENAI_PCM_RATE)
        } else {
            return Err(bad(format!(
                "expected a WAV file (response_format \"wav\"), got {} bytes starting {:?}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
            )));
        };
        if samples.is_empty() {
            return Err(bad("an empty clip".into()));
        }
        Ok(SpokenClip {
            samples,
            sample_rate,
            first_byte: first_byte.unwrap_or(done),
            done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trips() {
        let samples: Vec<f32> = (0..1600).map(|i| (i as f32 / 10.0).sin() * 0.5).collect();
        let bytes = wav_bytes(&samples, 16_000);
        let (back, rate) = decode_wav(&bytes).unwrap();
        assert_eq!(rate, 16_000);
        assert_eq!(back.len(), samples.len());
        assert!(back.iter().zip(&samples).all(|(a, b)| (a - b).abs() < 1e-3));
        assert!(decode_wav(b"RIFF....garbage").is_err());
        assert_eq!(decode_pcm16(&[0, 0x40, 1]), [0.5]);
    }
}
