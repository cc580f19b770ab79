//! Greenroom's voice foundation: what a talk with Marie (STT → LLM → TTS) needs from audio,
//! with no sound device and no network. Devices (cpal, rodio) come later, behind [`io`]'s
//! traits; everything here runs the same on a machine without a sound card.
//!
//! | module       | what it gives                                                              |
//! |--------------|----------------------------------------------------------------------------|
//! | [`io`]       | [`AudioIn`] / [`AudioOut`]: PCM in with capture timestamps, PCM out that stops at once (barge-in); [`ScriptedInput`] and [`RecordingOutput`] for tests and the test engine |
//! | [`resample`] | any rate and channel count to mono at a target rate (16 kHz for STT and VAD, 48 kHz for Opus), whole clips or streamed, on rubato |
//! | [`vad`]      | [`EndOfSpeech`]: utterances out of a 16 kHz stream (earshot), with an end-of-speech delay and push-to-talk; its timing is pure and tested apart from the model |
//! | [`meter`]    | RMS and peak in dBFS, and a [`LevelMeter`] that emits at most N levels a second |
//! | [`recorder`] | [`SessionRecorder`]: the learner's and Marie's channels as two WAV files plus `transcript.json` (schema `greenroom.talk-session/1`) |
//! | [`wer`]      | word error rate (Unicode-aware, Levenshtein on words) with its S/D/I counts |
//!
//! Errors are `thiserror` enums implementing [`greenroom_core::Classified`]; nothing here
//! panics on what a caller or a file gives it.

pub mod io;
pub mod meter;
pub mod recorder;
pub mod resample;
pub mod vad;
pub mod wer;

pub use io::{AudioChunk, AudioError, AudioIn, AudioOut, Next, Pacing, RecordingOutput, Script};
pub use io::{PlayedClip, ScriptedInput};
pub use meter::{Level, LevelMeter, MeterError};
pub use recorder::{RecorderError, SessionRecorder, Stage, Transcript, TurnRecord};
pub use resample::{ResampleError, StreamResampler};
pub use vad::{EndOfSpeech, VadConfig, VadError, VadEvent, VadMode};
pub use wer::{WerReport, word_error_rate};
