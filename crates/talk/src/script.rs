//! A learner who takes turns, for scripted talks: the CLI's `--input FILE.wav`, the test
//! engine, the tests and the benchmarks.
//!
//! Why: a file of utterances played straight through talks over Marie (each gap would have
//! to outlast her reply); a learner waits for the answer, then speaks again. [`Learner`]
//! does that, on the session's clock.
//!
//! Semantics:
//! - [`Learner`] is an [`AudioIn`] at 16 kHz that hands out 20 ms chunks in real time:
//!   silence, and each utterance when its [`Cue`] comes: [`Cue::AfterTurns`]`(n)` once `n`
//!   turns have ended (the session's [`crate::session::TalkConfig::turns_done`]) and
//!   nothing plays; [`Cue::WhileMarieSpeaks`]`(d)` `d` after Marie's voice starts (a learner
//!   who cuts in). It ends ([`Next::Ended`]) once `end_after_turns` turns have ended, or
//!   when its last utterance has been said and [`LAST_TURN_WITHIN`] has passed with no turn.
//! - [`split_utterances`] cuts a recording into utterances where the end-of-speech detector
//!   would (a pause of [`SPLIT_PAUSE`]), so a file of several sentences becomes several turns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenroom_voice::resample::{STT_RATE, resample};
use greenroom_voice::vad::{EndOfSpeech, VadConfig, VadEvent};
use greenroom_voice::{AudioChunk, AudioError, AudioIn, AudioOut, Next};

/// How long a [`Learner`] waits, after its last utterance, for that turn to end.
pub const LAST_TURN_WITHIN: Duration = Duration::from_secs(120);
/// The pause that separates two utterances in [`split_utterances`].
pub const SPLIT_PAUSE: Duration = Duration::from_millis(700);
/// Samples per chunk (20 ms at 16 kHz).
pub const CHUNK: usize = 320;

/// When the learner says the next utterance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cue {
    /// Once `n` turns have ended and nothing plays (a polite learner).
    AfterTurns(usize),
    /// `delay` after Marie's voice starts (a learner who cuts in).
    WhileMarieSpeaks(Duration),
}

/// A learner at a microphone: 20 ms chunks of silence in real time, and each utterance on
/// its cue; ends once `end_after_turns` turns have ended.
pub struct Learner {
    utterances: Vec<(Cue, Vec<f32>)>,
    next: usize,
    speaking: Option<(Vec<f32>, usize)>,
    turns: Arc<AtomicUsize>,
    output: Arc<dyn AudioOut>,
    end_after_turns: usize,
    clock: Option<(Instant, u64)>,
    marie_started: Option<Instant>,
    /// When the last utterance was said, for [`LAST_TURN_WITHIN`].
    last_said: Option<Instant>,
}

impl Learner {
    pub fn new(
        utterances: Vec<(Cue, Vec<f32>)>,
        turns: Arc<AtomicUsize>,
        output: Arc<dyn AudioOut>,
        end_after_turns: usize,
    ) -> Self {
        Self {
            utterances,
            next: 0,
            speaking: None,
            turns,
            output,
            end_after_turns,
            clock: None,
            marie_started: None,
            last_said: None,
        }
    }
}

impl AudioIn for Learner {
    fn sample_rate(&self) -> u32 {
        16_000
    }

    fn next_chunk(&mut self, timeout: Duration) -> Result<Next, AudioError> {
        let (start, sent) = *self.clock.get_or_insert((Instant::now(), 0));
        let captured_at = start + greenroom_voice::io::duration_of(sent as usize, 16_000);
        let ready = captured_at + Duration::from_millis(20);
        let now = Instant::now();
        if ready > now {
            if ready - now > timeout {
                std::thread::sleep(timeout);
                return Ok(Next::Waiting);
            }
            std::thread::sleep(ready - now);
        }
        let turns = self.turns.load(Ordering::SeqCst);
        let all_said = self.speaking.is_none() && self.next >= self.utterances.len();
        if self.speaking.is_none() && turns >= self.end_after_turns
            || all_said
                && self
                    .last_said
                    .is_some_and(|t| t.elapsed() > LAST_TURN_WITHIN)
        {
            return Ok(Next::Ended);
        }
        if self.output.is_playing() {
            self.marie_started.get_or_insert(Instant::now());
        } else if self.speaking.is_none() {
            self.marie_started = None;
        }
        if self.speaking.is_none()
            && let Some((cue, samples)) = self.utterances.get(self.next)
        {
            let due = match cue {
                Cue::AfterTurns(n) => turns >= *n && !self.output.is_playing(),
                Cue::WhileMarieSpeaks(d) => self.marie_started.is_some_and(|t| t.elapsed() >= *d),
            };
            if due {
                self.speaking = Some((samples.clone(), 0));
                self.next += 1;
            }
        }
        let mut samples = vec![0.0f32; CHUNK];
        if let Some((utterance, at)) = self.speaking.as_mut() {
            let n = (utterance.len() - *at).min(CHUNK);
            samples[..n].copy_from_slice(&utterance[*at..*at + n]);
            *at += n;
            if *at >= utterance.len() {
                self.speaking = None;
                self.last_said = Some(Instant::now());
            }
        }
        self.clock = Some((start, sent + CHUNK as u64));
        Ok(Next::Chunk(AudioChunk {
            samples,
            sample_rate: 16_000,
            captured_at,
        }))
    }
}

/// `samples` (mono at `rate`) cut into utterances at pauses of [`SPLIT_PAUSE`], at 16 kHz;
/// a recording with no speech in it gives none.
pub fn split_utterances(samples: &[f32], rate: u32) -> Result<Vec<Vec<f32>>, String> {
    let at16 = resample(samples, 1, rate, STT_RATE).map_err(|e| e.to_string())?;
    let config = VadConfig {
        end_of_speech_delay: SPLIT_PAUSE,
        ..VadConfig::default()
    };
    let mut vad = EndOfSpeech::new(config).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut take = |events: Vec<VadEvent>| {
        for e in events {
            if let VadEvent::SpeechEnded { utterance, .. } = e {
                out.push(utterance);
            }
        }
    };
    for (i, chunk) in at16.chunks(CHUNK).enumerate() {
        let at = t0 + greenroom_voice::io::duration_of(i * CHUNK, STT_RATE);
        take(vad.push(chunk, at));
    }
    // The detector needs its delay of silence after the last word.
    let tail = vec![0.0; greenroom_voice::io::samples_in(SPLIT_PAUSE * 2, STT_RATE)];
    take(vad.push(
        &tail,
        t0 + greenroom_voice::io::duration_of(at16.len(), STT_RATE),
    ));
    take(vad.finish());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize) -> Vec<f32> {
        (0..ms * 16)
            .map(|i| {
                0.4 * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 16_000.0).sin()
                    * (1.0 + (i as f32 / 800.0).sin())
                    / 2.0
            })
            .collect()
    }

    #[test]
    fn silence_has_no_utterance() {
        assert!(
            split_utterances(&vec![0.0; 32_000], 16_000)
                .unwrap()
                .is_empty()
        );
        assert!(split_utterances(&[], 16_000).unwrap().is_empty());
    }

    #[test]
    fn a_learner_waits_for_its_cue_and_ends_after_its_turns() {
        let turns = Arc::new(AtomicUsize::new(0));
        let output: Arc<dyn AudioOut> = Arc::new(greenroom_voice::RecordingOutput::new());
        let mut learner = Learner::new(
            vec![(Cue::AfterTurns(1), tone(40))],
            turns.clone(),
            output,
            2,
        );
        let mut next = || match learner.next_chunk(Duration::from_secs(1)).unwrap() {
            Next::Chunk(c) => Some(c),
            Next::Waiting => panic!("a chunk every 20 ms"),
            Next::Ended => None,
        };
        // Before the cue: silence.
        for _ in 0..3 {
            assert!(next().unwrap().samples.iter().all(|s| *s == 0.0));
        }
        turns.store(1, Ordering::SeqCst);
        assert!(
            next().unwrap().samples.iter().any(|s| *s != 0.0),
            "the utterance starts on its cue"
        );
        // Said (40 ms: two chunks); silence until the turn it started ends, then the end.
        assert!(next().is_some());
        assert!(next().unwrap().samples.iter().all(|s| *s == 0.0));
        turns.store(2, Ordering::SeqCst);
        assert!(next().is_none());
    }
}
