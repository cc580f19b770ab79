//! The sandbox's speech services: what answers a coach when no Eloquence service, key or
//! Docker engine is around. Each one speaks the same HTTP shape as the real service it
//! stands in for, so the talk session cannot tell them apart.
//!
//! | module          | stands in for                          | shape                                      |
//! |-----------------|----------------------------------------|--------------------------------------------|
//! | [`coach`]       | Mistral / `mistral-conversation`       | pure: a French rule and template dialogue engine |
//! | [`chat_server`] | Mistral / `mistral-conversation`       | `POST /v1/chat/completions` (+ `stream: true`), `GET /health` |
//! | [`tts_server`]  | OpenAI TTS                             | `POST /v1/audio/speech` → WAV, `GET /health` |
//! | [`stt`]         | `vosk-stt`, any Whisper server         | a Python child: `POST /transcribe`, `POST /v1/audio/transcriptions`, `GET /health` |
//! | [`agent`]       | the team's Marie agent                 | a Python child on livekit-agents 1.8.9: a LiveKit worker (automatic dispatch) on the chat, TTS and STT servers above |
//!
//! [`local`] starts all three on free ports for tests and benchmarks.

pub mod agent;
pub mod chat_server;
pub mod coach;
pub mod local;
pub mod stt;
pub mod tts_server;
