//! End of speech: when the learner has finished talking, and what they said as audio.
//!
//! Why: Marie answers when the learner's turn ends. Too early and she cuts them off
//! mid-thought; too late and the talk drags. The delay is the coach's to set, and
//! push-to-talk lets a learner decide alone.
//!
//! Semantics: [`EndOfSpeech`] takes 16 kHz mono ([`crate::resample::StreamResampler`]
//! converts anything else) in chunks of any size with their capture instants, cuts it into
//! 16 ms frames, asks a [`SpeechModel`] (earshot by default) for each frame's speech
//! probability and lets the pure [`timing`] decide (its documentation has the exact rules).
//! - [`VadEvent::SpeechStarted`]`{ at }`: `at` is the capture instant of the first speech
//!   frame (the event itself comes `min_speech` later).
//! - [`VadEvent::SpeechEnded`]`{ at, utterance, trailing_silence_ms }`: `at` is when the
//!   silence reached the end-of-speech delay (push-to-talk: the end of the last held
//!   frame); `utterance` is 16 kHz mono from `pre_roll` before the first speech frame to at
//!   most `tail` after the last one (never overlapping the previous utterance);
//!   `trailing_silence_ms` is how much of its end follows the last speech frame.
//! - Frame instants follow the sample clock from the first chunk's instant; a chunk whose
//!   instant is more than 100 ms off that clock (a capture gap) re-anchors it.
//! - Configuration is checked: the delay must be 200 ..= 2,000 ms (default 800 ms).

pub mod timing;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use greenroom_core::{Classified, ErrorKind};

use crate::io::{AudioChunk, duration_of, samples_in};
use crate::resample::STT_RATE;
pub use timing::{Endpointer, FRAME, FRAME_SAMPLES, Phase, Transition};

/// The accepted end-of-speech delays, in milliseconds.
pub const DELAY_RANGE_MS: std::ops::RangeInclusive<u32> = 200..=2000;
/// The default end-of-speech delay.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(800);

/// What can go wrong setting up or feeding the detector.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error(
        "an end-of-speech delay of {ms} ms is not allowed: choose 200 to 2000 ms (default 800)"
    )]
    DelayOutOfRange { ms: u128 },
    #[error("the VAD setting {setting} is not usable: {reason}")]
    BadSetting {
        setting: &'static str,
        reason: String,
    },
    #[error(
        "the VAD takes 16000 Hz mono, not {rate} Hz: resample the stream first (StreamResampler)"
    )]
    WrongRate { rate: u32 },
}

impl Classified for VadError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Who decides what is speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VadMode {
    /// The model, with the end-of-speech delay.
    #[default]
    Auto,
    /// The learner: speech while the key is held.
    PushToTalk,
}

/// How the detector behaves; [`VadConfig::default`] is the product's setting.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    pub mode: VadMode,
    /// Silence after speech that ends an utterance: 200 ..= 2,000 ms (default 800 ms).
    pub end_of_speech_delay: Duration,
    /// Speech probability at and above which a frame is speech: 0.05 ..= 0.95 (0.5).
    pub threshold: f32,
    /// Consecutive speech needed to start an utterance: 16 ..= 500 ms (48 ms).
    pub min_speech: Duration,
    /// Audio kept before the first speech frame: 0 ..= 1,000 ms (200 ms).
    pub pre_roll: Duration,
    /// Silence kept after the last speech frame: 0 ..= 1,000 ms (200 ms).
    pub tail: Duration,
    /// An utterance this long is cut: 1 ..= 120 s (30 s).
    pub max_utterance: Duration,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            mode: VadMode::Auto,
            end_of_speech_delay: DEFAULT_DELAY,
            threshold: 0.5,
            min_speech: Duration::from_millis(48),
            pre_roll: Duration::from_millis(200),
            tail: Duration::from_millis(200),
            max_utterance: Duration::from_secs(30),
        }
    }
}

impl VadConfig {
    /// The defaults with an end-of-speech delay of `ms`, checked.
    pub fn with_delay_ms(ms: u32) -> Result<Self, VadError> {
        let config = Self {
            end_of_speech_delay: Duration::from_millis(u64::from(ms)),
            ..Self::default()
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), VadError> {
        let delay = self.end_of_speech_delay;
        let (lo, hi) = (*DELAY_RANGE_MS.start(), *DELAY_RANGE_MS.end());
        let in_range = |d: Duration, lo: u64, hi: u64| {
            d >= Duration::from_millis(lo) && d <= Duration::from_millis(hi)
        };
        if !in_range(delay, lo.into(), hi.into()) {
            return Err(VadError::DelayOutOfRange {
                ms: delay.as_millis(),
            });
        }
        let bad = |setting, reason: &str| {
            Err(VadError::BadSetting {
                setting,
                reason: reason.to_string(),
            })
        };
        if !(0.05..=0.95).contains(&self.threshold) {
            return bad(
                "threshold",
                "give a probability from 0.05 to 0.95 (default 0.5)",
            );
        }
        if !in_range(self.min_speech, 16, 500) {
            return bad("min_speech", "give 16 to 500 ms (default 48 ms)");
        }
        if self.pre_roll > Duration::from_secs(1) {
            return bad("pre_roll", "give 0 to 1000 ms (default 200 ms)");
        }
        if self.tail > Duration::from_secs(1) {
            return bad("tail", "give 0 to 1000 ms (default 200 ms)");
        }
        if !in_range(self.max_utterance, 1000, 120_000) {
            return bad("max_utterance", "give 1 to 120 s (default 30 s)");
        }
        Ok(())
    }
}

/// What the detector reports.
#[derive(Debug, Clone, PartialEq)]
pub enum VadEvent {
    SpeechStarted {
        at: Instant,
    },
    SpeechEnded {
        at: Instant,
        /// 16 kHz mono.
        utterance: Vec<f32>,
        trailing_silence_ms: u32,
    },
}

/// Something that rates a frame of [`FRAME_SAMPLES`] samples at 16 kHz as speech.
pub trait SpeechModel: Send {
    /// The probability, 0 ..= 1, that `frame` holds speech.
    fn probability(&mut self, frame: &[f32]) -> f32;
    /// Forgets everything heard (a new stream).
    fn reset(&mut self);
}

/// earshot's network (its weights are compiled in), with two guards measured on white
/// noise at -40 dBFS (which it otherwise scored above 0.5 for its first ~15 frames, or for
/// seconds after digital silence):
/// - **a cold start** overshoots on any onset, so a new model first hears
///   [`PRIMING_FRAMES`] frames of white noise at [`PRIMING_DBFS`] (a quiet room);
/// - **digital silence** (every sample within ±1 LSB of 16 bits) is not speech and is not
///   fed to the network; after [`SILENT_FRAMES_TO_RESET`] such frames the network is reset
///   and primed again, so the next sound is heard like the start of a stream. Samples get a
///   ±1 LSB dither so short runs of zeros stay ordinary quiet audio.
pub struct EarshotModel {
    detector: Box<earshot::Detector>,
    dither: u32,
    silent_run: usize,
}

/// Frames of quiet noise a new or reset model hears first (0.5 s).
pub const PRIMING_FRAMES: usize = 32;
/// The level of that noise.
pub const PRIMING_DBFS: f32 = -50.0;
/// Consecutive digitally silent frames (64 ms) after which the model starts afresh.
pub const SILENT_FRAMES_TO_RESET: usize = 4;

impl Default for EarshotModel {
    fn default() -> Self {
        let mut model = Self {
            detector: earshot::Detector::default_boxed(),
            dither: 0x2545_F491,
            silent_run: 0,
        };
        model.prime();
        model
    }
}

impl std::fmt::Debug for EarshotModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EarshotModel")
    }
}

impl EarshotModel {
    fn prime(&mut self) {
        let mut quiet = vec![0.0f32; FRAME_SAMPLES * PRIMING_FRAMES];
        crate::io::add_white_noise(&mut quiet, PRIMING_DBFS);
        for frame in quiet.chunks_exact(FRAME_SAMPLES) {
            self.predict(frame);
        }
    }

    fn predict(&mut self, frame: &[f32]) -> f32 {
        let mut pcm = [0i16; FRAME_SAMPLES];
        for (out, s) in pcm.iter_mut().zip(frame) {
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            self.dither ^= self.dither << 13;
            self.dither ^= self.dither >> 17;
            self.dither ^= self.dither << 5;
            let d = (self.dither % 3) as f32 - 1.0; // -1, 0 or +1 LSB
            *out = (s * 32766.0 + d).round() as i16;
        }
        self.detector.predict_i16(&pcm).clamp(0.0, 1.0)
    }
}

impl SpeechModel for EarshotModel {
    fn probability(&mut self, frame: &[f32]) -> f32 {
        if frame.len() != FRAME_SAMPLES {
            return 0.0;
        }
        let lsb = 1.0 / 32768.0;
        if frame.iter().all(|s| !s.is_finite() || s.abs() <= lsb) {
            self.silent_run += 1;
            if self.silent_run < SILENT_FRAMES_TO_RESET {
                self.predict(frame);
            }
            return 0.0;
        }
        if self.silent_run >= SILENT_FRAMES_TO_RESET {
            self.reset();
        }
        self.silent_run = 0;
        self.predict(frame)
    }

    fn reset(&mut self) {
        self.detector.reset();
        self.silent_run = 0;
        self.prime();
    }
}

/// Utterances out of a 16 kHz stream; see the module's documentation.
#[derive(Debug)]
pub struct EndOfSpeech<M: SpeechModel = EarshotModel> {
    config: VadConfig,
    model: M,
    timing: Endpointer,
    key_held: bool,
    /// A sample index and the instant it was captured.
    anchor: Option<(u64, Instant)>,
    /// Samples received so far.
    received: u64,
    frame: Vec<f32>,
    /// Audio kept, from sample index `kept_from`.
    kept: VecDeque<f32>,
    kept_from: u64,
    utterance_from: Option<u64>,
    /// Where the previous utterance ended: the next never starts before.
    floor: u64,
}

impl EndOfSpeech<EarshotModel> {
    pub fn new(config: VadConfig) -> Result<Self, VadError> {
        Self::with_model(config, EarshotModel::default())
    }
}

impl<M: SpeechModel> EndOfSpeech<M> {
    pub fn with_model(config: VadConfig, model: M) -> Result<Self, VadError> {
        let timing = Endpointer::new(&config)?;
        Ok(Self {
            config,
            model,
            timing,
            key_held: false,
            anchor: None,
            received: 0,
            frame: Vec::with_capacity(FRAME_SAMPLES),
            kept: VecDeque::new(),
            kept_from: 0,
            utterance_from: None,
            floor: 0,
        })
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Switches mode; an utterance in progress goes on under the new rule. The model,
    /// which push-to-talk does not run, starts afresh when it is needed again.
    pub fn set_mode(&mut self, mode: VadMode) {
        if mode == VadMode::Auto && self.config.mode == VadMode::PushToTalk {
            self.model.reset();
        }
        self.config.mode = mode;
        self.timing.set_mode(mode);
    }

    /// Changes the end-of-speech delay at once (a coach moving the slider mid-session);
    /// it must be within [`DELAY_RANGE_MS`].
    pub fn set_end_of_speech_delay(&mut self, delay: Duration) -> Result<(), VadError> {
        let config = VadConfig {
            end_of_speech_delay: delay,
            ..self.config.clone()
        };
        config.validate()?;
        self.config = config;
        self.timing.set_delay(delay);
        Ok(())
    }

    /// The push-to-talk key; frames completed while it is held are speech.
    pub fn set_key_held(&mut self, held: bool) {
        self.key_held = held;
    }

    /// True between `SpeechStarted` and `SpeechEnded`.
    pub fn in_speech(&self) -> bool {
        self.timing.phase() == Phase::Speech
    }

    /// A chunk from an [`crate::AudioIn`]; it must be at 16 kHz.
    pub fn push_chunk(&mut self, chunk: &AudioChunk) -> Result<Vec<VadEvent>, VadError> {
        if chunk.sample_rate != STT_RATE {
            return Err(VadError::WrongRate {
                rate: chunk.sample_rate,
            });
        }
        Ok(self.push(&chunk.samples, chunk.captured_at))
    }

    /// 16 kHz mono samples whose first was captured at `captured_at`.
    pub fn push(&mut self, samples: &[f32], captured_at: Instant) -> Vec<VadEvent> {
        let expected = self.instant_of(self.received);
        let off = match expected {
            Some(e) if e >= captured_at => e - captured_at,
            Some(e) => captured_at - e,
            None => Duration::MAX,
        };
        if off > Duration::from_millis(100) {
            self.anchor = Some((self.received, captured_at));
        }
        self.received += samples.len() as u64;
        let mut events = Vec::new();
        for s in samples {
            self.frame.push(if s.is_finite() { *s } else { 0.0 });
            if self.frame.len() == FRAME_SAMPLES {
                self.run_frame(&mut events);
            }
        }
        events
    }

    /// The end of the stream: ends an utterance in progress (a last partial frame, under
    /// 16 ms, is dropped); the detector starts afresh.
    pub fn finish(&mut self) -> Vec<VadEvent> {
        let mut events = Vec::new();
        if let Some(t) = self.timing.finish() {
            self.apply(t, &mut events);
        }
        self.model.reset();
        if let Ok(timing) = Endpointer::new(&self.config) {
            self.timing = timing;
        }
        self.anchor = None;
        self.received = 0;
        self.frame.clear();
        self.kept.clear();
        self.kept_from = 0;
        self.utterance_from = None;
        self.floor = 0;
        events
    }

    fn instant_of(&self, sample: u64) -> Option<Instant> {
        let (at, instant) = self.anchor?;
        if sample >= at {
            instant.checked_add(duration_of((sample - at) as usize, STT_RATE))
        } else {
            instant.checked_sub(duration_of((at - sample) as usize, STT_RATE))
        }
    }

    fn run_frame(&mut self, events: &mut Vec<VadEvent>) {
        let index = self.timing.next_frame();
        let first_sample = index * FRAME_SAMPLES as u64;
        let start = self
            .instant_of(first_sample)
            .or(self.anchor.map(|a| a.1))
            .unwrap_or_else(Instant::now);
        let probability = match self.config.mode {
            VadMode::Auto => self.model.probability(&self.frame),
            VadMode::PushToTalk => 0.0,
        };
        self.kept.extend(self.frame.drain(..));
        if let Some(t) = self.timing.frame(start, probability, self.key_held) {
            self.apply(t, events);
        }
        if self.timing.phase() == Phase::Silence {
            let keep = samples_in(self.config.pre_roll, STT_RATE);
            let excess = self.kept.len().saturating_sub(keep);
            self.kept.drain(..excess);
            self.kept_from += excess as u64;
        }
    }

    fn apply(&mut self, transition: Transition, events: &mut Vec<VadEvent>) {
        let frame = FRAME_SAMPLES as u64;
        let kept_end = self.kept_from + self.kept.len() as u64;
        match transition {
            Transition::Started { at, first_frame } => {
                let pre_roll = samples_in(self.config.pre_roll, STT_RATE) as u64;
                let from = (first_frame * frame)
                    .saturating_sub(pre_roll)
                    .max(self.kept_from)
                    .max(self.floor);
                self.utterance_from = Some(from);
                events.push(VadEvent::SpeechStarted { at });
            }
            Transition::Ended {
                at,
                last_speech_frame,
            } => {
                let speech_end = (last_speech_frame + 1) * frame;
                let tail = samples_in(self.config.tail, STT_RATE) as u64;
                let to = (speech_end + tail).min(kept_end).max(self.kept_from);
                let from = self
                    .utterance_from
                    .take()
                    .unwrap_or(self.kept_from)
                    .clamp(self.kept_from, to);
                let range = (from - self.kept_from) as usize..(to - self.kept_from) as usize;
                let utterance: Vec<f32> = self.kept.range(range).copied().collect();
                let trailing = to.saturating_sub(speech_end) as usize;
                self.floor = to;
                events.push(VadEvent::SpeechEnded {
                    at,
                    utterance,
                    trailing_silence_ms: duration_of(trailing, STT_RATE).as_millis() as u32,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that hears speech wherever the signal is louder than 0.1.
    struct Loudness;

    impl SpeechModel for Loudness {
        fn probability(&mut self, frame: &[f32]) -> f32 {
            let loud = frame.iter().any(|s| s.abs() > 0.1);
            if loud { 1.0 } else { 0.0 }
        }
        fn reset(&mut self) {}
    }

    fn seconds(s: f32, value: f32) -> Vec<f32> {
        vec![value; (s * 16_000.0) as usize]
    }

    #[test]
    fn delays_outside_200_to_2000_ms_are_refused_naming_the_range() {
        for ms in [0, 199, 2001, 60_000] {
            let e = VadConfig::with_delay_ms(ms).unwrap_err();
            assert!(e.to_string().contains("200 to 2000 ms"), "{e}");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
        for ms in [200, 800, 2000] {
            assert!(VadConfig::with_delay_ms(ms).is_ok());
        }
        let bad = VadConfig {
            threshold: f32::NAN,
            ..VadConfig::default()
        };
        assert!(EndOfSpeech::new(bad).is_err());
    }

    #[test]
    fn the_utterance_spans_pre_roll_to_tail_and_the_events_follow_the_sample_clock() {
        let mut vad = EndOfSpeech::with_model(VadConfig::default(), Loudness).unwrap();
        let t0 = Instant::now();
        let audio = [seconds(1.0, 0.0), seconds(1.0, 0.5), seconds(2.0, 0.0)].concat();
        let mut events = Vec::new();
        for (i, chunk) in audio.chunks(320).enumerate() {
            let at = t0 + Duration::from_millis(20 * i as u64);
            events.extend(vad.push(chunk, at));
        }
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[0],
            VadEvent::SpeechStarted {
                at: t0 + FRAME * 62
            }
        );
        let VadEvent::SpeechEnded {
            at,
            utterance,
            trailing_silence_ms,
        } = &events[1]
        else {
            panic!("{events:?}")
        };
        // speech covers frames 62..=124 (the 1 s starts inside frame 62, ends with 124)
        assert_eq!(*at, t0 + FRAME * 125 + DEFAULT_DELAY);
        assert_eq!(*trailing_silence_ms, 200);
        assert_eq!(utterance.len(), (125 - 62) * 256 + 3200 + 3200);
        assert_eq!(utterance.iter().filter(|s| **s == 0.5).count(), 16_000);
        assert!(!vad.in_speech());
    }

    #[test]
    fn push_to_talk_takes_the_key_not_the_model_and_finish_ends_what_is_open() {
        let cfg = VadConfig {
            mode: VadMode::PushToTalk,
            ..VadConfig::default()
        };
        let mut vad = EndOfSpeech::with_model(cfg, Loudness).unwrap();
        let t0 = Instant::now();
        assert!(vad.push(&seconds(1.0, 0.5), t0).is_empty(), "loud, key up");
        vad.set_key_held(true);
        let events = vad.push(&seconds(0.5, 0.0), t0 + Duration::from_secs(1));
        // frame 62 (started before the key went down) completes while it is held
        assert_eq!(
            events,
            vec![VadEvent::SpeechStarted {
                at: t0 + FRAME * 62
            }]
        );
        let events = vad.finish();
        let VadEvent::SpeechEnded { utterance, .. } = &events[0] else {
            panic!("{events:?}")
        };
        assert!(utterance.len() >= 8000, "{}", utterance.len());
        let wrong = AudioChunk {
            samples: vec![],
            sample_rate: 48_000,
            captured_at: t0,
        };
        assert!(matches!(
            vad.push_chunk(&wrong),
            Err(VadError::WrongRate { rate: 48_000 })
        ));
    }

    #[test]
    fn a_capture_gap_reanchors_the_clock() {
        let mut vad = EndOfSpeech::with_model(VadConfig::default(), Loudness).unwrap();
        let t0 = Instant::now();
        vad.push(&seconds(1.0, 0.0), t0);
        let later = t0 + Duration::from_secs(10);
        let events = vad.push(&seconds(0.5, 0.5), later);
        // frame 62 straddles the gap: its first half is dated on the new clock
        let at = later - Duration::from_millis(8);
        assert_eq!(events, vec![VadEvent::SpeechStarted { at }]);
    }
}
