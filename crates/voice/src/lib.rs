//! Greenroom's voice foundation: what a talk with Marie (STT → LLM → TTS) needs from audio.
//! Everything but [`device`] runs the same with no sound device and no network; the real
//! microphone and speaker sit behind [`io`]'s traits, so the session loop and its tests do
//! not know which they drive.
//!
//! | module       | what it gives                                                              |
//! |--------------|----------------------------------------------------------------------------|
//! | [`io`]       | [`AudioIn`] / [`AudioOut`]: PCM in with capture timestamps, PCM out that stops at once (barge-in); [`ScriptedInput`] and [`RecordingOutput`] for tests and the test engine |
//! | [`device`]   | real devices: [`Microphone`] (cpal) and [`Speaker`] (rodio) behind the traits, [`list_devices`], following the default device when one goes away ([`DeviceNotice`]), "no microphone" errors a coach understands |
//! | [`resample`] | any rate and channel count to mono at a target rate (16 kHz for STT and VAD, 48 kHz for Opus), whole clips or streamed, on rubato |
//! | [`vad`]      | [`EndOfSpeech`]: utterances out of a 16 kHz stream (earshot), with an end-of-speech delay and push-to-talk; its timing is pure and tested apart from the model |
//! | [`meter`]    | RMS and peak in dBFS, and a [`LevelMeter`] that emits at most N levels a second |
//! | [`recorder`] | [`SessionRecorder`]: the learner's and Marie's channels as two WAV files plus `transcript.json` (schema `greenroom.talk-session/1`) |
//! | [`wer`]      | word error rate (Unicode-aware, Levenshtein on words) with its S/D/I counts |
//!
//! Errors are `thiserror` enums implementing [`greenroom_core::Classified`]; nothing here
//! panics on what a caller or a file gives it.

pub mod device;
pub mod io;
pub mod meter;
pub mod recorder;
pub mod resample;
pub mod vad;
pub mod wer;

pub use device::{
    DeviceChoice, DeviceInfo, DeviceList, DeviceNotice, Direction, Microphone, NoticeCallback,
    OpenOptions, Speaker, list_devices,
};
pub use io::{AudioChunk, AudioError, AudioIn, AudioOut, Next, Pacing, RecordingOutput, Script};
pub use io::{PlayedClip, ScriptedInput};
pub use meter::{Level, LevelMeter, MeterError};
pub use recorder::{RecorderError, SessionRecorder, Stage, Transcript, TurnRecord};
pub use resample::{ResampleError, StreamResampler};
pub use vad::{EndOfSpeech, VadConfig, VadError, VadEvent, VadMode};
pub use wer::{WerReport, word_error_rate};
