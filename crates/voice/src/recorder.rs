//! A talk session on disk: what the learner said, what Marie said, and when each stage
//! of each turn happened, in one folder.
//!
//! Why: coaches review sessions, the team measures latencies turn by turn (speech ended →
//! transcript → first token → first audio), and STT is scored on real recordings.
//!
//! The folder holds:
//! - `learner.wav` and `marie.wav`: mono 16-bit PCM, each at its own sample rate. Both
//!   channels are aligned on the session clock: a write dated later than the channel's end
//!   is preceded by silence up to its place, so sample `n` of either file sounded at
//!   `n / rate` seconds after the session started. Audio is never dropped: a write dated
//!   earlier than the channel's end is appended.
//! - `transcript.json`, a [`Transcript`] (schema [`SCHEMA`]): the session's start in Unix
//!   milliseconds, both channels' files, rates and lengths, and the turns with the
//!   learner's text, Marie's text, and the time of each turn and [`Stage`] in milliseconds
//!   from the session's start. It is written atomically (`greenroom_core::write_atomic`)
//!   when the session starts, at the end of each turn and at the end.
//!
//! Crash safety: audio is written to `learner.wav.part` / `marie.wav.part` with a valid
//! header every second of audio (a crash leaves them playable up to the last second), and
//! becomes `*.wav` only once finalized and synced ([`SessionRecorder::finish`], or when
//! the recorder is dropped). A finished file is never opened for writing again, and a
//! folder that already holds a session is refused.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use greenroom_core::{Classified, ErrorKind};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::io::{check_rate, samples_in};

/// The transcript's schema name and version.
pub const SCHEMA: &str = "greenroom.talk-session/1";
pub const LEARNER_WAV: &str = "learner.wav";
pub const MARIE_WAV: &str = "marie.wav";
pub const TRANSCRIPT_JSON: &str = "transcript.json";

/// What can go wrong recording a session.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("{dir} already holds a recorded session: choose a new folder")]
    AlreadyRecorded { dir: PathBuf },
    #[error("a sample rate of {rate} Hz is not usable: give 1 ..= 384000 Hz")]
    BadRate { rate: u32 },
    #[error("there is no turn {turn} in this session (it has {turns})")]
    UnknownTurn { turn: usize, turns: usize },
    #[error("the {channel} channel reached the WAV size limit (4 GiB): start a new session")]
    TooLong { channel: &'static str },
    #[error("could not write {path}: {source}; check the disk has room and the folder is writable")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write the WAV file {path}: {message}")]
    Wav { path: PathBuf, message: String },
}

impl Classified for RecorderError {
    fn kind(&self) -> ErrorKind {
        match self {
            RecorderError::AlreadyRecorded { .. }
            | RecorderError::BadRate { .. }
            | RecorderError::UnknownTurn { .. }
            | RecorderError::TooLong { .. } => ErrorKind::InvalidInput,
            RecorderError::Io { .. } | RecorderError::Wav { .. } => ErrorKind::Internal,
        }
    }
}

/// `transcript.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Transcript {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the session started, Unix time in milliseconds (UTC).
    #[ts(type = "number")]
    pub started_at_unix_ms: u64,
    /// True once both WAV files are finalized; false in a folder a crash left behind
    /// (the audio is then in `*.wav.part`, playable up to its last second).
    pub complete: bool,
    pub learner: ChannelInfo,
    pub marie: ChannelInfo,
    pub turns: Vec<TurnRecord>,
}

/// One channel's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChannelInfo {
    /// The file name in the session's folder.
    pub file: String,
    pub sample_rate: u32,
    /// Samples written so far (with the silence that aligns the channel).
    #[ts(type = "number")]
    pub samples: u64,
}

/// One exchange: the learner speaks, Marie answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TurnRecord {
    pub index: u32,
    pub learner_text: String,
    pub marie_text: String,
    /// Milliseconds from the session's start.
    #[ts(type = "number")]
    pub started_ms: u64,
    #[ts(type = "number | null")]
    pub ended_ms: Option<u64>,
    /// In the order they were marked.
    pub stages: Vec<StageMark>,
}

/// When a stage of a turn happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StageMark {
    pub stage: Stage,
    /// Milliseconds from the session's start.
    #[ts(type = "number")]
    pub at_ms: u64,
}

/// The stages of a turn, in their usual order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    LearnerSpeechStarted,
    LearnerSpeechEnded,
    TranscriptReady,
    ReplyFirstToken,
    ReplyDone,
    SpeechFirstAudio,
    PlaybackStarted,
    PlaybackEnded,
    /// The learner spoke over Marie and playback was stopped.
    BargedIn,
}

struct Channel {
    name: &'static str,
    path: PathBuf,
    part: PathBuf,
    rate: u32,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    written: u64,
    since_flush: u64,
    /// Renamed to its final name: never written again.
    published: bool,
}

/// Samples of 16-bit mono a WAV file can hold (its sizes are 32-bit).
const MAX_SAMPLES: u64 = (u32::MAX as u64 - 64) / 2;

impl Channel {
    fn create(
        dir: &Path,
        name: &'static str,
        file: &str,
        rate: u32,
    ) -> Result<Self, RecorderError> {
        let path = dir.join(file);
        let part = dir.join(format!("{file}.part"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(&part, spec).map_err(|e| wav(&part, e))?;
        Ok(Self {
            name,
            path,
            part,
            rate,
            writer: Some(writer),
            written: 0,
            since_flush: 0,
            published: false,
        })
    }

    fn info(&self) -> ChannelInfo {
        ChannelInfo {
            file: self
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sample_rate: self.rate,
            samples: self.written,
        }
    }

    /// Writes `samples` at `position` (in samples from the session's start).
    fn write(&mut self, samples: &[f32], position: u64) -> Result<(), RecorderError> {
        let pad = position.saturating_sub(self.written);
        if self.written + pad + samples.len() as u64 > MAX_SAMPLES {
            return Err(RecorderError::TooLong { channel: self.name });
        }
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let part = &self.part;
        for _ in 0..pad {
            writer.write_sample(0i16).map_err(|e| wav(part, e))?;
        }
        for s in samples {
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            writer
                .write_sample((s * 32767.0).round() as i16)
                .map_err(|e| wav(part, e))?;
        }
        let n = pad + samples.len() as u64;
        self.written += n;
        self.since_flush += n;
        if self.since_flush >= u64::from(self.rate) {
            writer.flush().map_err(|e| wav(part, e))?;
            self.since_flush = 0;
        }
        Ok(())
    }

    /// Finalizes, syncs and renames `*.part` to its final name (once; a failed step is
    /// tried again by the next call).
    fn finish(&mut self) -> Result<(), RecorderError> {
        if self.published {
            return Ok(());
        }
        if let Some(writer) = self.writer.take() {
            writer.finalize().map_err(|e| wav(&self.part, e))?;
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RecorderError::Io { path, source }
        };
        OpenOptions::new()
            .write(true)
            .open(&self.part)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.part))?;
        std::fs::rename(&self.part, &self.path).map_err(io(&self.path))?;
        self.published = true;
        Ok(())
    }
}

fn wav(path: &Path, e: hound::Error) -> RecorderError {
    match e {
        hound::Error::IoError(source) => RecorderError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => RecorderError::Wav {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// Records one session into one folder; see the module's documentation.
pub struct SessionRecorder {
    dir: PathBuf,
    started: Instant,
    learner: Channel,
    marie: Channel,
    transcript: Transcript,
}

impl std::fmt::Debug for SessionRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecorder")
            .field("dir", &self.dir)
            .field("turns", &self.transcript.turns.len())
            .finish()
    }
}

impl SessionRecorder {
    /// Starts a session now in `dir` (created if missing; refused if it holds a session).
    pub fn create(dir: &Path, learner_rate: u32, marie_rate: u32) -> Result<Self, RecorderError> {
        Self::create_at(dir, learner_rate, marie_rate, Instant::now())
    }

    /// Starts a session whose clock starts at `started` (the capture clock's origin).
    pub fn create_at(
        dir: &Path,
        learner_rate: u32,
        marie_rate: u32,
        started: Instant,
    ) -> Result<Self, RecorderError> {
        for rate in [learner_rate, marie_rate] {
            check_rate(rate).map_err(|_| RecorderError::BadRate { rate })?;
        }
        let taken = [TRANSCRIPT_JSON, LEARNER_WAV, MARIE_WAV]
            .iter()
            .any(|f| dir.join(f).exists());
        if taken {
            return Err(RecorderError::AlreadyRecorded {
                dir: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| RecorderError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let learner = Channel::create(dir, "learner", LEARNER_WAV, learner_rate)?;
        let marie = Channel::create(dir, "Marie", MARIE_WAV, marie_rate)?;
        let transcript = Transcript {
            schema: SCHEMA.to_string(),
            started_at_unix_ms: greenroom_core::unix_millis()
                .saturating_sub(started.elapsed().as_millis() as u64),
            complete: false,
            learner: learner.info(),
            marie: marie.info(),
            turns: Vec::new(),
        };
        let mut recorder = Self {
            dir: dir.to_path_buf(),
            started,
            learner,
            marie,
            transcript,
        };
        recorder.save_transcript()?;
        Ok(recorder)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Milliseconds from the session's start to `at` (0 for anything earlier).
    pub fn ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The transcript as it stands.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// The learner's audio, mono at the learner's rate, captured at `captured_at`.
    pub fn write_learner(
        &mut self,
        samples: &[f32],
        captured_at: Instant,
    ) -> Result<(), RecorderError> {
        let position = samples_in(
            captured_at.saturating_duration_since(self.started),
            self.learner.rate,
        );
        self.learner.write(samples, position as u64)
    }

    /// Marie's audio, mono at Marie's rate, played from `played_at`.
    pub fn write_marie(
        &mut self,
        samples: &[f32],
        played_at: Instant,
    ) -> Result<(), RecorderError> {
        let position = samples_in(
            played_at.saturating_duration_since(self.started),
            self.marie.rate,
        );
        self.marie.write(samples, position as u64)
    }

    /// Opens a turn at `at`; returns its index for the calls below.
    pub fn begin_turn(&mut self, at: Instant) -> usize {
        let index = self.transcript.turns.len();
        self.transcript.turns.push(TurnRecord {
            index: index as u32,
            learner_text: String::new(),
            marie_text: String::new(),
            started_ms: self.ms_at(at),
            ended_ms: None,
            stages: Vec::new(),
        });
        index
    }

    fn turn(&mut self, turn: usize) -> Result<&mut TurnRecord, RecorderError> {
        let turns = self.transcript.turns.len();
        self.transcript
            .turns
            .get_mut(turn)
            .ok_or(RecorderError::UnknownTurn { turn, turns })
    }

    /// Notes that `stage` of `turn` happened at `at`.
    pub fn mark(&mut self, turn: usize, stage: Stage, at: Instant) -> Result<(), RecorderError> {
        let at_ms = self.ms_at(at);
        self.turn(turn)?.stages.push(StageMark { stage, at_ms });
        Ok(())
    }

    pub fn set_learner_text(&mut self, turn: usize, text: &str) -> Result<(), RecorderError> {
        self.turn(turn)?.learner_text = text.to_string();
        Ok(())
    }

    pub fn set_marie_text(&mut self, turn: usize, text: &str) -> Result<(), RecorderError> {
        self.turn(turn)?.marie_text = text.to_string();
        Ok(())
    }

    /// Closes `turn` at `at` and saves the transcript.
    pub fn end_turn(&mut self, turn: usize, at: Instant) -> Result<(), RecorderError> {
        let at_ms = self.ms_at(at);
        self.turn(turn)?.ended_ms = Some(at_ms);
        self.save_transcript()
    }

    /// Writes `transcript.json` atomically, as it stands.
    pub fn save_transcript(&mut self) -> Result<(), RecorderError> {
        self.transcript.learner = self.learner.info();
        self.transcript.marie = self.marie.info();
        let path = self.dir.join(TRANSCRIPT_JSON);
        let json = serde_json::to_vec_pretty(&self.transcript).map_err(|e| RecorderError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        greenroom_core::write_atomic(&path, &json)
            .map_err(|source| RecorderError::Io { path, source })
    }

    /// Finalizes both WAV files and writes the complete transcript.
    pub fn finish(mut self) -> Result<Transcript, RecorderError> {
        self.finish_files()?;
        Ok(self.transcript.clone())
    }

    fn finish_files(&mut self) -> Result<(), RecorderError> {
        let learner = self.learner.finish();
        let marie = self.marie.finish();
        learner?;
        marie?;
        self.transcript.complete = true;
        self.save_transcript()?;
        #[cfg(unix)]
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for SessionRecorder {
    fn drop(&mut self) {
        if !self.transcript.complete {
            let _ = self.finish_files();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut reader = hound::WavReader::open(path).unwrap();
        let samples = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        (reader.spec(), samples)
    }

    #[test]
    fn a_session_reads_back_with_its_rates_lengths_and_turns() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut rec = SessionRecorder::create_at(dir.path(), 16_000, 24_000, t0).unwrap();
        rec.write_learner(&vec![0.25; 16_000], t0).unwrap(); // 0 .. 1 s
        let turn = rec.begin_turn(t0);
        rec.mark(
            turn,
            Stage::LearnerSpeechStarted,
            t0 + Duration::from_millis(100),
        )
        .unwrap();
        rec.mark(
            turn,
            Stage::LearnerSpeechEnded,
            t0 + Duration::from_millis(900),
        )
        .unwrap();
        rec.set_learner_text(turn, "Bonjour, je m'appelle Léa.")
            .unwrap();
        rec.set_marie_text(turn, "Enchantée, Léa !").unwrap();
        // Marie answers at 1.5 s for 0.5 s: the channel starts with 1.5 s of silence
        rec.write_marie(&vec![-0.5; 12_000], t0 + Duration::from_millis(1500))
            .unwrap();
        rec.mark(
            turn,
            Stage::PlaybackStarted,
            t0 + Duration::from_millis(1500),
        )
        .unwrap();
        rec.end_turn(turn, t0 + Duration::from_secs(2)).unwrap();
        assert!(matches!(
            rec.mark(7, Stage::BargedIn, t0),
            Err(RecorderError::UnknownTurn { turn: 7, turns: 1 })
        ));
        let transcript = rec.finish().unwrap();

        let (spec, learner) = read_wav(&dir.path().join(LEARNER_WAV));
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (16_000, 1, 16)
        );
        assert_eq!(learner.len(), 16_000);
        assert_eq!(learner[0], 8192);
        let (spec, marie) = read_wav(&dir.path().join(MARIE_WAV));
        assert_eq!(spec.sample_rate, 24_000);
        assert_eq!(marie.len(), 36_000 + 12_000);
        assert_eq!((marie[35_999], marie[36_000]), (0, -16384));

        let text = std::fs::read_to_string(dir.path().join(TRANSCRIPT_JSON)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["schema"], "greenroom.talk-session/1");
        assert_eq!(json["complete"], true);
        assert_eq!(json["marie"]["samples"], 48_000);
        assert_eq!(
            json["turns"][0]["learner_text"],
            "Bonjour, je m'appelle Léa."
        );
        assert_eq!(json["turns"][0]["ended_ms"], 2000);
        assert_eq!(
            json["turns"][0]["stages"][1]["stage"],
            "learner_speech_ended"
        );
        assert_eq!(json["turns"][0]["stages"][1]["at_ms"], 900);
        let parsed: Transcript = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, transcript);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".part") || n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn dropping_finalizes_and_a_recorded_folder_is_never_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        {
            let mut rec = SessionRecorder::create_at(dir.path(), 16_000, 16_000, t0).unwrap();
            rec.write_learner(&vec![0.1; 8000], t0).unwrap();
        }
        let before = std::fs::read(dir.path().join(LEARNER_WAV)).unwrap();
        assert_eq!(read_wav(&dir.path().join(LEARNER_WAV)).1.len(), 8000);
        let e = SessionRecorder::create(dir.path(), 16_000, 16_000).unwrap_err();
        assert!(
            e.to_string().contains("already holds a recorded session"),
            "{e}"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(std::fs::read(dir.path().join(LEARNER_WAV)).unwrap(), before);
        assert!(SessionRecorder::create(&dir.path().join("x"), 0, 16_000).is_err());
    }

    #[test]
    fn a_crash_leaves_a_playable_part_file_and_the_last_saved_transcript() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut rec = SessionRecorder::create_at(dir.path(), 16_000, 16_000, t0).unwrap();
        let turn = rec.begin_turn(t0);
        rec.set_learner_text(turn, "one").unwrap();
        rec.end_turn(turn, t0).unwrap();
        for i in 0..25 {
            let at = t0 + Duration::from_millis(100 * i);
            rec.write_learner(&[0.2; 1600], at).unwrap();
        }
        std::mem::forget(rec); // no drop, no finalize: as if the process died
        let (_, samples) = read_wav(&dir.path().join("learner.wav.part"));
        assert!(
            samples.len() >= 32_000,
            "flushed up to the last second: {}",
            samples.len()
        );
        assert!(!dir.path().join(LEARNER_WAV).exists());
        let text = std::fs::read_to_string(dir.path().join(TRANSCRIPT_JSON)).unwrap();
        let transcript: Transcript = serde_json::from_str(&text).unwrap();
        assert!(!transcript.complete);
        assert_eq!(transcript.turns[0].learner_text, "one");
    }
}
