//! Audio in and out without a device: the two traits a talk session and the test engine
//! use, and the scripted implementations that stand in for a microphone and a speaker.
//!
//! Why: the session loop (capture → VAD → STT → LLM → TTS → playback) must run the same
//! against a cpal microphone, a LiveKit track or a script, and tests must drive it with
//! known utterances and see exactly what Marie said and when she was cut off.
//!
//! Semantics:
//! - All PCM is **mono f32** in `[-1, 1]` at a declared sample rate ([`MIN_SAMPLE_RATE`] ..=
//!   [`MAX_SAMPLE_RATE`]; below it, resampling to 16 or 48 kHz would make gigabytes).
//! - [`AudioIn::next_chunk`] waits at most `timeout` and returns [`Next::Chunk`] (one chunk,
//!   stamped with the [`Instant`] its **first** sample was captured), [`Next::Waiting`] (nothing
//!   yet; call again) or [`Next::Ended`] (the source is exhausted for good). A device
//!   implementation pushes chunks from its callback into a channel; `next_chunk` receives.
//! - [`AudioOut::play`] queues a clip after whatever is queued and returns at once;
//!   [`AudioOut::stop`] drops the clip sounding and everything queued, and must silence the
//!   output within 100 ms (barge-in); [`AudioOut::is_playing`] is true while anything is
//!   queued or sounding; [`AudioOut::last_started_at`] tells when the latest clip began to
//!   sound, where the implementation knows. Its methods take `&self` so one output can be shared (in an `Arc`)
//!   by the thread that speaks and the thread that hears the learner interrupt.
//! - [`ScriptedInput`] plays a [`Script`]: lead-in silence, the utterances separated by gaps,
//!   a tail, then [`Next::Ended`]. Chunk timestamps follow the sample clock from the first
//!   call, whether paced in real time or delivered as fast as possible.
//! - [`RecordingOutput`] keeps every clip it was asked to play with when it was asked, when
//!   it started sounding and when `stop()` cut it; it plays on a virtual clock (the wall
//!   clock unless a test supplies one), so nothing waits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_core::{Classified, ErrorKind, lock_unpoisoned};

/// The highest sample rate accepted anywhere in this crate.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// The lowest sample rate accepted (telephony is 8 kHz).
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// How soon after [`AudioOut::stop`] returns every implementation must be silent.
pub const MAX_STOP_LATENCY: Duration = Duration::from_millis(100);

/// What can go wrong feeding or taking PCM.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(
        "a sample rate of {rate} Hz is not usable: give {MIN_SAMPLE_RATE} ..= {MAX_SAMPLE_RATE} Hz"
    )]
    BadSampleRate { rate: u32 },
    #[error("the audio script is not usable: {reason}")]
    BadScript { reason: String },
    #[error(
        "the audio device {device} failed: {message}; check it is connected and not used by another program"
    )]
    Device { device: String, message: String },
    #[error("the audio stream is closed; open it again")]
    Closed,
    /// No input device can be opened: none exists, the one there fails to start (a Linux
    /// machine with no sound server still lists ALSA's `default`), or it vanished.
    #[error(
        "No microphone is available: {reason}. Plug one in, or check Windows Settings › Privacy › Microphone; on Linux start PulseAudio or PipeWire."
    )]
    NoMicrophone { reason: String },
    /// The system refuses Greenroom the microphone (Windows privacy settings, a sandbox).
    #[error(
        "Greenroom is not allowed to use the microphone: {reason}. Allow desktop apps to use it in Windows Settings › Privacy › Microphone (or your system's privacy settings), then try again."
    )]
    MicrophoneBlocked { reason: String },
    /// No output device can be opened, for the same reasons as [`AudioError::NoMicrophone`].
    #[error(
        "No speaker or headphones are available: {reason}. Plug some in or turn them on, or check the sound settings (Windows Settings › System › Sound); on Linux start PulseAudio or PipeWire."
    )]
    NoSpeaker { reason: String },
}

impl Classified for AudioError {
    fn kind(&self) -> ErrorKind {
        match self {
            AudioError::BadSampleRate { .. } | AudioError::BadScript { .. } => {
                ErrorKind::InvalidInput
            }
            AudioError::Device { .. }
            | AudioError::Closed
            | AudioError::NoMicrophone { .. }
            | AudioError::MicrophoneBlocked { .. }
            | AudioError::NoSpeaker { .. } => ErrorKind::Unavailable,
        }
    }
}

/// Checks a sample rate against 1 ..= [`MAX_SAMPLE_RATE`].
pub fn check_rate(rate: u32) -> Result<u32, AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(AudioError::BadSampleRate { rate })
    }
}

/// How long `samples` samples last at `rate` (0 Hz counts as 1 Hz; never panics).
pub fn duration_of(samples: usize, rate: u32) -> Duration {
    let nanos = samples as u128 * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// How many samples at `rate` fit in `d`, rounded to the nearest sample.
pub fn samples_in(d: Duration, rate: u32) -> usize {
    let n = (d.as_nanos() * u128::from(rate) + 500_000_000) / 1_000_000_000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// One chunk of captured mono PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// When the chunk's first sample was captured.
    pub captured_at: Instant,
}

impl AudioChunk {
    pub fn duration(&self) -> Duration {
        duration_of(self.samples.len(), self.sample_rate)
    }
}

/// What [`AudioIn::next_chunk`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Chunk(AudioChunk),
    /// Nothing arrived within the timeout; the source is still open.
    Waiting,
    /// The source is exhausted; every later call says so too.
    Ended,
}

/// A source of captured mono PCM: a microphone, a remote track, a script.
pub trait AudioIn: Send {
    /// The rate of every chunk this source delivers.
    fn sample_rate(&self) -> u32;
    /// The next chunk, waiting at most `timeout` for it.
    fn next_chunk(&mut self, timeout: Duration) -> Result<Next, AudioError>;
}

/// A sink that plays mono PCM and can be silenced at once.
pub trait AudioOut: Send + Sync {
    /// Queues `samples` at `sample_rate` after whatever is queued; returns without waiting.
    fn play(&self, samples: Vec<f32>, sample_rate: u32) -> Result<(), AudioError>;
    /// Drops what is sounding and everything queued; silent within [`MAX_STOP_LATENCY`].
    fn stop(&self);
    /// True while anything is sounding or queued.
    fn is_playing(&self) -> bool;
    /// When the first sample of the clip that most recently started sounding did, if the
    /// implementation knows (the barge-in and latency marks use it); `None` before any.
    fn last_started_at(&self) -> Option<Instant> {
        None
    }
}

/// How a [`ScriptedInput`] hands out its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Each chunk when its last sample would have been captured (like a microphone).
    RealTime,
    /// At once; timestamps still advance by each chunk's duration.
    AsFastAsPossible,
}

/// What a [`ScriptedInput`] says. [`Script::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub sample_rate: u32,
    /// Mono sample buffers at `sample_rate`, played in order.
    pub utterances: Vec<Vec<f32>>,
    /// Silence before the first utterance (default 500 ms).
    pub lead_in: Duration,
    /// Silence between utterances (default 1.5 s).
    pub gap: Duration,
    /// Silence after the last utterance (default 1.5 s).
    pub tail: Duration,
    /// Length of each chunk, the last may be shorter (default 20 ms; 1 ms ..= 1 s).
    pub chunk: Duration,
    /// White noise added to the whole stream at this RMS level; `None` for digital silence.
    pub noise_dbfs: Option<f32>,
    pub pacing: Pacing,
}

impl Script {
    pub fn new(sample_rate: u32, utterances: Vec<Vec<f32>>) -> Self {
        Self {
            sample_rate,
            utterances,
            lead_in: Duration::from_millis(500),
            gap: Duration::from_millis(1500),
            tail: Duration::from_millis(1500),
            chunk: Duration::from_millis(20),
            noise_dbfs: None,
            pacing: Pacing::AsFastAsPossible,
        }
    }
}

/// A microphone that says a [`Script`], then ends.
pub struct ScriptedInput {
    rate: u32,
    stream: Vec<f32>,
    spans: Vec<(usize, usize)>,
    chunk: usize,
    pacing: Pacing,
    pos: usize,
    started: Option<Instant>,
}

impl std::fmt::Debug for ScriptedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedInput")
            .field("rate", &self.rate)
            .field("samples", &self.stream.len())
            .field("position", &self.pos)
            .finish()
    }
}

impl ScriptedInput {
    pub fn new(script: Script) -> Result<Self, AudioError> {
        let rate = check_rate(script.sample_rate)?;
        if script.chunk < Duration::from_millis(1) || script.chunk > Duration::from_secs(1) {
            return Err(AudioError::BadScript {
                reason: format!("a chunk of {:?} is outside 1 ms ..= 1 s", script.chunk),
            });
        }
        let limit = Duration::from_secs(3600);
        if [script.lead_in, script.gap, script.tail]
            .iter()
            .any(|d| *d > limit)
        {
            return Err(AudioError::BadScript {
                reason: "lead-in, gaps and tail must each be at most one hour".into(),
            });
        }
        let mut stream = vec![0.0; samples_in(script.lead_in, rate)];
        let mut spans = Vec::with_capacity(script.utterances.len());
        for (i, utterance) in script.utterances.iter().enumerate() {
            if i > 0 {
                stream.resize(stream.len() + samples_in(script.gap, rate), 0.0);
            }
            let start = stream.len();
            stream.extend(
                utterance
                    .iter()
                    .map(|s| if s.is_finite() { *s } else { 0.0 }),
            );
            spans.push((start, stream.len()));
        }
        stream.resize(stream.len() + samples_in(script.tail, rate), 0.0);
        if let Some(db) = script.noise_dbfs {
            if !(-120.0..=0.0).contains(&db) {
                return Err(AudioError::BadScript {
                    reason: format!("a noise level of {db} dBFS is outside -120 ..= 0 dBFS"),
                });
            }
            add_white_noise(&mut stream, db);
        }
        Ok(Self {
            rate,
            stream,
            spans,
            chunk: samples_in(script.chunk, rate).max(1),
            pacing: script.pacing,
            pos: 0,
            started: None,
        })
    }

    /// Where each utterance sits in the stream, as (start, end) offsets from the first
    /// sample: the ground truth a detector is checked against.
    pub fn utterance_spans(&self) -> Vec<(Duration, Duration)> {
        let at = |n: usize| duration_of(n, self.rate);
        self.spans.iter().map(|(s, e)| (at(*s), at(*e))).collect()
    }

    /// The capture instant of the first sample, once the first chunk was asked for.
    pub fn started_at(&self) -> Option<Instant> {
        self.started
    }

    /// The whole stream's length.
    pub fn duration(&self) -> Duration {
        duration_of(self.stream.len(), self.rate)
    }
}

impl AudioIn for ScriptedInput {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn next_chunk(&mut self, timeout: Duration) -> Result<Next, AudioError> {
        if self.pos >= self.stream.len() {
            return Ok(Next::Ended);
        }
        let start = *self.started.get_or_insert_with(Instant::now);
        let end = (self.pos + self.chunk).min(self.stream.len());
        let captured_at = start + duration_of(self.pos, self.rate);
        if self.pacing == Pacing::RealTime {
            let ready = start + duration_of(end, self.rate);
            let now = Instant::now();
            if ready > now {
                let wait = ready - now;
                if wait > timeout {
                    std::thread::sleep(timeout);
                    return Ok(Next::Waiting);
                }
                std::thread::sleep(wait);
            }
        }
        let samples = self.stream[self.pos..end].to_vec();
        self.pos = end;
        Ok(Next::Chunk(AudioChunk {
            samples,
            sample_rate: self.rate,
            captured_at,
        }))
    }
}

/// Adds uniform white noise at `dbfs` RMS (a fixed seed: the same script, the same noise).
pub fn add_white_noise(samples: &mut [f32], dbfs: f32) {
    let amplitude = 10f32.powf(dbfs / 20.0) * 3f32.sqrt();
    let mut state: u32 = 0x9E37_79B9;
    for s in samples {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let unit = (state as f32 / u32::MAX as f32) * 2.0 - 1.0;
        *s = (*s + unit * amplitude).clamp(-1.0, 1.0);
    }
}

/// One clip a [`RecordingOutput`] was asked to play.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayedClip {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// When `play` was called.
    pub requested_at: Instant,
    /// When it started (or would have started) sounding: after what was queued before it.
    pub starts_at: Instant,
    /// When `stop()` cut it, if it did before its natural end.
    pub stopped_at: Option<Instant>,
}

impl PlayedClip {
    pub fn duration(&self) -> Duration {
        duration_of(self.samples.len(), self.sample_rate)
    }

    /// When it ends if nothing stops it.
    pub fn natural_end(&self) -> Instant {
        self.starts_at + self.duration()
    }

    /// The samples that actually sounded (all of them unless `stop()` cut the clip).
    pub fn heard(&self) -> &[f32] {
        match self.stopped_at {
            None => &self.samples,
            Some(at) => {
                let sounded = at.saturating_duration_since(self.starts_at);
                let n = samples_in(sounded, self.sample_rate).min(self.samples.len());
                &self.samples[..n]
            }
        }
    }
}

type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A speaker that keeps what it was asked to play. Share it in an `Arc`.
pub struct RecordingOutput {
    clock: Clock,
    state: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    clips: Vec<PlayedClip>,
    stops: Vec<Instant>,
    queue_end: Option<Instant>,
}

impl Default for RecordingOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RecordingOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock_unpoisoned(&self.state);
        f.debug_struct("RecordingOutput")
            .field("clips", &state.clips.len())
            .field("stops", &state.stops.len())
            .finish()
    }
}

impl RecordingOutput {
    /// Plays on the wall clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(Instant::now))
    }

    /// Plays on `clock` (a test's fake clock: nothing ever waits).
    pub fn with_clock(clock: Arc<dyn Fn() -> Instant + Send + Sync>) -> Self {
        Self {
            clock,
            state: Mutex::new(Recorded::default()),
        }
    }

    /// Every clip asked for, in order.
    pub fn clips(&self) -> Vec<PlayedClip> {
        lock_unpoisoned(&self.state).clips.clone()
    }

    /// When `stop()` was called, in order.
    pub fn stops(&self) -> Vec<Instant> {
        lock_unpoisoned(&self.state).stops.clone()
    }

    /// Everything that sounded, concatenated (clips at different rates are not converted).
    pub fn heard(&self) -> Vec<f32> {
        let state = lock_unpoisoned(&self.state);
        state
            .clips
            .iter()
            .flat_map(|c| c.heard().iter().copied())
            .collect()
    }
}

impl AudioOut for RecordingOutput {
    fn play(&self, samples: Vec<f32>, sample_rate: u32) -> Result<(), AudioError> {
        let sample_rate = check_rate(sample_rate)?;
        let now = (self.clock)();
        let mut state = lock_unpoisoned(&self.state);
        let starts_at = state.queue_end.filter(|end| *end > now).unwrap_or(now);
        let clip = PlayedClip {
            samples,
            sample_rate,
            requested_at: now,
            starts_at,
            stopped_at: None,
        };
        state.queue_end = Some(clip.natural_end());
        state.clips.push(clip);
        Ok(())
    }

    fn stop(&self) {
        let now = (self.clock)();
        let mut state = lock_unpoisoned(&self.state);
        for clip in state.clips.iter_mut() {
            if clip.stopped_at.is_none() && clip.natural_end() > now {
                clip.stopped_at = Some(now);
            }
        }
        state.stops.push(now);
        state.queue_end = Some(now);
    }

    fn is_playing(&self) -> bool {
        let now = (self.clock)();
        lock_unpoisoned(&self.state)
            .queue_end
            .is_some_and(|end| end > now)
    }

    /// The start of the latest clip that began sounding by now and was not cut before it did.
    fn last_started_at(&self) -> Option<Instant> {
        let now = (self.clock)();
        lock_unpoisoned(&self.state)
            .clips
            .iter()
            .rev()
            .find(|c| c.starts_at <= now && c.stopped_at.is_none_or(|at| at > c.starts_at))
            .map(|c| c.starts_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_clock() -> (Arc<Mutex<Instant>>, Clock) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let read = now.clone();
        (now, Arc::new(move || *lock_unpoisoned(&read)))
    }

    fn advance(clock: &Mutex<Instant>, ms: u64) {
        *lock_unpoisoned(clock) += Duration::from_millis(ms);
    }

    #[test]
    fn a_script_plays_its_utterances_between_silences_then_ends() {
        let script = Script {
            lead_in: Duration::from_millis(100),
            gap: Duration::from_millis(200),
            tail: Duration::from_millis(50),
            chunk: Duration::from_millis(10),
            ..Script::new(1000, vec![vec![0.5; 30], vec![-0.5; 40]])
        };
        let mut input = ScriptedInput::new(script).unwrap();
        assert_eq!(
            input.duration(),
            Duration::from_millis(100 + 30 + 200 + 40 + 50)
        );
        let spans = input.utterance_spans();
        assert_eq!(
            spans[1],
            (Duration::from_millis(330), Duration::from_millis(370))
        );
        let mut all = Vec::new();
        let mut stamps = Vec::new();
        while let Next::Chunk(c) = input.next_chunk(Duration::ZERO).unwrap() {
            assert_eq!(c.sample_rate, 1000);
            stamps.push(c.captured_at);
            all.extend(c.samples);
        }
        assert_eq!(all.len(), 420);
        assert_eq!(&all[100..130], &[0.5; 30]);
        assert_eq!(all[130], 0.0);
        let start = input.started_at().unwrap();
        assert_eq!(stamps[5] - start, Duration::from_millis(50));
        assert_eq!(input.next_chunk(Duration::ZERO).unwrap(), Next::Ended);
    }

    #[test]
    fn a_real_time_script_waits_for_each_chunk_and_says_waiting_on_a_short_timeout() {
        let script = Script {
            lead_in: Duration::from_millis(60),
            tail: Duration::ZERO,
            pacing: Pacing::RealTime,
            chunk: Duration::from_millis(30),
            ..Script::new(16_000, vec![])
        };
        let mut input = ScriptedInput::new(script).unwrap();
        let t0 = Instant::now();
        assert_eq!(
            input.next_chunk(Duration::from_millis(1)).unwrap(),
            Next::Waiting
        );
        let mut chunks = 0;
        loop {
            match input.next_chunk(Duration::from_secs(1)).unwrap() {
                Next::Chunk(_) => chunks += 1,
                Next::Waiting => {}
                Next::Ended => break,
            }
        }
        assert_eq!(chunks, 2);
        assert!(t0.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn bad_scripts_are_refused_with_their_reason() {
        let e = ScriptedInput::new(Script::new(0, vec![])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("1000 ..= 384000 Hz"), "{e}");
        let e = ScriptedInput::new(Script {
            chunk: Duration::ZERO,
            ..Script::new(16_000, vec![])
        })
        .unwrap_err();
        assert!(e.to_string().contains("1 ms ..= 1 s"), "{e}");
    }

    #[test]
    fn noise_has_the_asked_level() {
        let mut s = vec![0.0f32; 16_000];
        add_white_noise(&mut s, -40.0);
        let rms = (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt();
        let db = 20.0 * rms.log10();
        assert!((db + 40.0).abs() < 0.5, "{db}");
    }

    #[test]
    fn the_recording_output_queues_clips_and_stop_cuts_them_at_once() {
        let (clock, read) = fake_clock();
        let out = RecordingOutput::with_clock(read);
        assert!(!out.is_playing());
        assert_eq!(out.last_started_at(), None);
        out.play(vec![0.1; 1000], 1000).unwrap(); // 1 s
        out.play(vec![0.2; 500], 1000).unwrap(); // queued after it
        assert!(out.is_playing());
        assert_eq!(out.last_started_at(), Some(out.clips()[0].starts_at));
        advance(&clock, 1200);
        assert_eq!(out.last_started_at(), Some(out.clips()[1].starts_at));
        assert!(out.is_playing());
        out.stop();
        assert!(!out.is_playing(), "stop silences at once");
        let clips = out.clips();
        assert_eq!(
            clips[1].starts_at - clips[0].starts_at,
            Duration::from_secs(1)
        );
        assert_eq!(clips[0].stopped_at, None);
        assert_eq!(clips[0].heard().len(), 1000);
        assert_eq!(clips[1].heard().len(), 200);
        assert_eq!(out.heard().len(), 1200);
        assert_eq!(out.stops().len(), 1);
        advance(&clock, 100);
        out.play(vec![0.3; 100], 1000).unwrap();
        assert_eq!(out.clips()[2].starts_at, out.clips()[2].requested_at);
        assert_eq!(out.last_started_at(), Some(out.clips()[2].starts_at));
        advance(&clock, 100);
        assert!(!out.is_playing(), "a clip ends on its own");
        assert!(out.play(vec![], 0).is_err());
    }

    #[test]
    fn outputs_and_inputs_cross_threads() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<ScriptedInput>();
        send::<RecordingOutput>();
        sync::<RecordingOutput>();
        let out: Arc<dyn AudioOut> = Arc::new(RecordingOutput::new());
        let o = out.clone();
        std::thread::spawn(move || o.play(vec![0.0; 48_000], 48_000))
            .join()
            .unwrap()
            .unwrap();
        assert!(out.is_playing());
        out.stop();
        assert!(!out.is_playing());
    }
}
