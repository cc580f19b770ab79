//! The timing of end-of-speech detection, with no model and no audio: per-frame speech
//! probabilities (or the push-to-talk key) in, start and end transitions out.
//!
//! Why apart: when the learner's turn ends decides when Marie answers; the rules must be
//! exact and testable with scripted decisions, whatever model produces the probabilities.
//!
//! Semantics (frames are [`FRAME`] = 16 ms, numbered from 0, each given its start instant):
//! - **Automatic** ([`VadMode::Auto`]): a frame is speech when its probability is at least
//!   the threshold (NaN is not speech). Speech starts after `min_speech` of consecutive
//!   speech frames; the transition is reported on the frame that completes them, dated at
//!   the **start of the first** of them. Speech ends when the silence since the end of the
//!   last speech frame reaches the end-of-speech delay: the transition is reported on the
//!   frame in which it does and dated **exactly** `end of last speech frame + delay`.
//!   Pauses shorter than the delay do not split an utterance.
//! - **Push-to-talk** ([`VadMode::PushToTalk`]): a frame is speech while the key is held,
//!   whatever the probability; speech starts on the first held frame (dated at its start)
//!   and ends on the first frame with the key up, dated at the end of the last held frame.
//! - Either way, an utterance reaching `max_utterance` ends on the frame that reaches it,
//!   dated at that frame's end; if speech goes on, a new one starts.
//! - [`Endpointer::finish`] ends an utterance in progress at the end of the stream.

use std::time::{Duration, Instant};

use super::{VadConfig, VadError, VadMode};

/// Samples in a frame at 16 kHz (earshot's frame).
pub const FRAME_SAMPLES: usize = 256;
/// A frame's length.
pub const FRAME: Duration = Duration::from_millis(16);

/// A change the timing reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Started { at: Instant, first_frame: u64 },
    Ended { at: Instant, last_speech_frame: u64 },
}

/// Where the timing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Silence,
    /// Speech frames seen, not yet `min_speech` of them.
    Onset,
    Speech,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Silence,
    Onset {
        first: u64,
        first_at: Instant,
    },
    Speech {
        first: u64,
        last: u64,
        last_end: Instant,
    },
}

/// The pure state machine; see the module's documentation.
#[derive(Debug, Clone)]
pub struct Endpointer {
    mode: VadMode,
    threshold: f32,
    delay: Duration,
    min_frames: u64,
    max_frames: u64,
    next_frame: u64,
    state: State,
    last_frame_end: Option<Instant>,
}

fn frames_in(d: Duration) -> u64 {
    (d.as_millis() as u64).div_ceil(16).max(1)
}

impl Endpointer {
    pub fn new(config: &VadConfig) -> Result<Self, VadError> {
        config.validate()?;
        Ok(Self {
            mode: config.mode,
            threshold: config.threshold,
            delay: config.end_of_speech_delay,
            min_frames: frames_in(config.min_speech),
            max_frames: frames_in(config.max_utterance),
            next_frame: 0,
            state: State::Silence,
            last_frame_end: None,
        })
    }

    pub fn mode(&self) -> VadMode {
        self.mode
    }

    /// Switches between automatic and push-to-talk; an utterance in progress goes on.
    pub fn set_mode(&mut self, mode: VadMode) {
        self.mode = mode;
    }

    /// Changes the end-of-speech delay; silence already counted counts against the new one.
    pub fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    pub fn phase(&self) -> Phase {
        match self.state {
            State::Silence => Phase::Silence,
            State::Onset { .. } => Phase::Onset,
            State::Speech { .. } => Phase::Speech,
        }
    }

    /// The index the next frame gets.
    pub fn next_frame(&self) -> u64 {
        self.next_frame
    }

    /// One frame starting at `start`: the model's `probability`, whether the key is held.
    pub fn frame(
        &mut self,
        start: Instant,
        probability: f32,
        key_held: bool,
    ) -> Option<Transition> {
        let index = self.next_frame;
        self.next_frame += 1;
        let end = start + FRAME;
        self.last_frame_end = Some(end);
        let (speech, min_frames, delay) = match self.mode {
            VadMode::Auto => (probability >= self.threshold, self.min_frames, self.delay),
            VadMode::PushToTalk => (key_held, 1, Duration::ZERO),
        };
        match self.state {
            State::Silence | State::Onset { .. } if !speech => {
                self.state = State::Silence;
                None
            }
            State::Silence | State::Onset { .. } => {
                let (first, first_at) = match self.state {
                    State::Onset { first, first_at } => (first, first_at),
                    _ => (index, start),
                };
                if index + 1 - first >= min_frames {
                    self.state = State::Speech {
                        first,
                        last: index,
                        last_end: end,
                    };
                    // `max_utterance` (>= 1 s) is longer than `min_speech` (<= 500 ms)
                    Some(Transition::Started {
                        at: first_at,
                        first_frame: first,
                    })
                } else {
                    self.state = State::Onset { first, first_at };
                    None
                }
            }
            State::Speech { first, .. } if speech => {
                self.state = State::Speech {
                    first,
                    last: index,
                    last_end: end,
                };
                self.split_if_too_long(first, index, end)
            }
            State::Speech {
                first,
                last,
                last_end,
            } => {
                let silence = FRAME * (index - last) as u32;
                if silence >= delay {
                    self.state = State::Silence;
                    Some(Transition::Ended {
                        at: last_end + delay,
                        last_speech_frame: last,
                    })
                } else {
                    self.split_if_too_long(first, index, end)
                }
            }
        }
    }

    /// Ends an utterance that reached `max_utterance` on frame `index`.
    fn split_if_too_long(&mut self, first: u64, index: u64, end: Instant) -> Option<Transition> {
        let State::Speech { last, .. } = self.state else {
            return None;
        };
        if index + 1 - first < self.max_frames {
            return None;
        }
        self.state = State::Silence;
        Some(Transition::Ended {
            at: end,
            last_speech_frame: last,
        })
    }

    /// The end of the stream: ends an utterance in progress at the end of the last frame.
    pub fn finish(&mut self) -> Option<Transition> {
        let state = std::mem::replace(&mut self.state, State::Silence);
        match state {
            State::Speech { last, .. } => Some(Transition::Ended {
                at: self.last_frame_end.unwrap_or_else(Instant::now),
                last_speech_frame: last,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `decisions` (probability, key held) from `t0`; the transitions with their frame.
    fn run(ep: &mut Endpointer, t0: Instant, decisions: &[(f32, bool)]) -> Vec<(u64, Transition)> {
        let mut out = Vec::new();
        for (p, key) in decisions {
            let index = ep.next_frame();
            let start = t0 + FRAME * index as u32;
            if let Some(t) = ep.frame(start, *p, *key) {
                out.push((index, t));
            }
        }
        out
    }

    fn frames(n: usize, p: f32) -> Vec<(f32, bool)> {
        vec![(p, false); n]
    }

    fn auto() -> Endpointer {
        Endpointer::new(&VadConfig::default()).unwrap()
    }

    #[test]
    fn a_one_second_utterance_ends_exactly_the_delay_after_its_last_speech_frame() {
        let mut ep = auto();
        let t0 = Instant::now();
        // 10 frames of silence, 1 s of speech (frames 10..=72), then 2 s of silence
        let script = [frames(10, 0.1), frames(63, 0.9), frames(125, 0.02)].concat();
        let got = run(&mut ep, t0, &script);
        assert_eq!(got.len(), 2, "{got:?}");
        let min = frames_in(VadConfig::default().min_speech);
        assert_eq!(
            got[0],
            (
                10 + min - 1,
                Transition::Started {
                    at: t0 + FRAME * 10,
                    first_frame: 10
                }
            )
        );
        let last_speech_end = t0 + FRAME * 73;
        let delay = Duration::from_millis(800);
        assert_eq!(
            got[1],
            (
                72 + 50, // 800 ms is 50 frames of silence: the 50th reports it
                Transition::Ended {
                    at: last_speech_end + delay,
                    last_speech_frame: 72
                }
            )
        );
        assert_eq!(ep.phase(), Phase::Silence);
    }

    #[test]
    fn a_delay_between_frames_is_still_exact_and_reported_on_the_next_frame() {
        let cfg = VadConfig::with_delay_ms(250).unwrap();
        let mut ep = Endpointer::new(&cfg).unwrap();
        let t0 = Instant::now();
        let got = run(&mut ep, t0, &[frames(20, 1.0), frames(40, 0.0)].concat());
        // 250 ms of silence is reached inside the 16th silent frame (256 ms)
        assert_eq!(
            got[1],
            (
                19 + 16,
                Transition::Ended {
                    at: t0 + FRAME * 20 + Duration::from_millis(250),
                    last_speech_frame: 19
                }
            )
        );
    }

    #[test]
    fn a_pause_shorter_than_the_delay_does_not_split_the_utterance() {
        let mut ep = auto();
        let t0 = Instant::now();
        // a 768 ms pause (< 800 ms) between two stretches of speech
        let script = [
            frames(5, 0.0),
            frames(30, 0.8),
            frames(48, 0.1),
            frames(30, 0.8),
            frames(60, 0.0),
        ]
        .concat();
        let got = run(&mut ep, t0, &script);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(
            got[0].1,
            Transition::Started { first_frame: 5, .. }
        ));
        assert!(matches!(
            got[1].1,
            Transition::Ended {
                last_speech_frame: 112,
                ..
            }
        ));
        // and a pause of exactly the delay does split it
        let mut ep = auto();
        let script = [
            frames(30, 0.8),
            frames(50, 0.1),
            frames(30, 0.8),
            frames(60, 0.0),
        ]
        .concat();
        assert_eq!(run(&mut ep, t0, &script).len(), 4);
    }

    #[test]
    fn blips_shorter_than_min_speech_and_nan_are_not_speech() {
        let mut ep = auto();
        let t0 = Instant::now();
        let blip = [frames(2, 0.9), frames(5, 0.0), frames(40, f32::NAN)].concat();
        assert!(run(&mut ep, t0, &blip).is_empty());
        assert_eq!(ep.phase(), Phase::Silence);
        run(&mut ep, t0, &frames(2, 0.9));
        assert_eq!(ep.phase(), Phase::Onset);
    }

    #[test]
    fn push_to_talk_ignores_the_model() {
        let cfg = VadConfig {
            mode: VadMode::PushToTalk,
            ..VadConfig::default()
        };
        let mut ep = Endpointer::new(&cfg).unwrap();
        let t0 = Instant::now();
        // the model hears speech while the key is up: nothing
        assert!(run(&mut ep, t0, &frames(100, 1.0)).is_empty());
        // the model hears silence while the key is held: speech from the first held frame
        let held = vec![(0.0, true); 30];
        let got = run(&mut ep, t0, &[held, frames(3, 1.0)].concat());
        assert_eq!(
            got,
            vec![
                (
                    100,
                    Transition::Started {
                        at: t0 + FRAME * 100,
                        first_frame: 100
                    }
                ),
                (
                    130,
                    Transition::Ended {
                        at: t0 + FRAME * 130,
                        last_speech_frame: 129
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_long_utterance_is_cut_at_max_utterance_and_goes_on() {
        let cfg = VadConfig {
            max_utterance: Duration::from_millis(1600), // 100 frames
            ..VadConfig::default()
        };
        let mut ep = Endpointer::new(&cfg).unwrap();
        let t0 = Instant::now();
        let got = run(&mut ep, t0, &[frames(150, 0.9), frames(60, 0.0)].concat());
        let kinds: Vec<_> = got
            .iter()
            .map(|(i, t)| (*i, matches!(t, Transition::Started { .. })))
            .collect();
        assert_eq!(
            kinds,
            vec![(2, true), (99, false), (102, true), (149 + 50, false)]
        );
        assert_eq!(
            got[1].1,
            Transition::Ended {
                at: t0 + FRAME * 100,
                last_speech_frame: 99
            }
        );
    }

    #[test]
    fn the_end_of_the_stream_ends_the_utterance() {
        let mut ep = auto();
        let t0 = Instant::now();
        run(&mut ep, t0, &[frames(10, 0.9), frames(5, 0.0)].concat());
        assert_eq!(
            ep.finish(),
            Some(Transition::Ended {
                at: t0 + FRAME * 15,
                last_speech_frame: 9
            })
        );
        assert_eq!(ep.finish(), None);
    }
}
