//! Where a turn's time went: "the learner stopped talking, and 904 ms later Marie's voice
//! was heard" cut into contiguous segments that add up to those 904 ms.
//!
//! Why: a single latency figure says something is slow, not what. Each segment belongs to
//! one party (the end-of-speech detector, a service, the sound device, Greenroom itself),
//! so the slow one is obvious.
//!
//! Semantics. A turn's [`TurnMarks`] are instants, taken as things happen:
//!
//! ```text
//! speech_last ─ endpointed ─ stt_sent ─ stt_done ─ llm_sent ─ llm_first_token ─ llm_first_sentence
//!   ─ tts_sent ─ tts_first_byte ─ tts_done ─ play_requested ─ first_audio
//! ```
//!
//! [`segments`] turns consecutive marks into [`Segment`]s, in that order:
//!
//! | segment             | from → to                                   | whose   |
//! |---------------------|---------------------------------------------|---------|
//! | `end_of_utterance`  | speech_last → endpointed                    | the VAD's end-of-speech delay |
//! | `stt`               | stt_sent → stt_done                         | the STT service |
//! | `llm_first_token`   | llm_sent → llm_first_token                  | the conversation service |
//! | `llm_first_sentence`| llm_first_token → llm_first_sentence        | the conversation service |
//! | `tts_first_byte`    | tts_sent → tts_first_byte                   | the TTS service |
//! | `tts_rest`          | tts_first_byte → tts_done                   | the TTS service (the rest of the first clip) |
//! | `playback_start`    | play_requested → first_audio                | the sound device |
//! | `overhead`          | every other gap between consecutive marks   | Greenroom |
//!
//! - The segments' sum is exactly `first_audio − speech_last` (the **time to first audio**),
//!   to the microsecond: overhead is the sum of the gaps, not a difference of totals.
//! - A mark earlier than the one before it (clocks are monotonic, but marks may come from
//!   two threads) counts as equal to it: no segment is negative, the sum still holds.
//! - A turn that did not reach `first_audio` (a failure, an interruption) has segments up
//!   to its last mark and no time to first audio.
//! - LLM total (llm_sent → llm_done) and the whole reply's playback are figures of their
//!   own ([`TurnFigures`]), outside the contiguous chain.
//!
//! **Through LiveKit** ([`TurnMarks::via_agent`]) the services run inside Marie's agent,
//! out of sight: only what reaches the wire is marked, and the chain is
//!
//! ```text
//! speech_last ─ agent_thinking ─ agent_speaking ─ audio_received ─ first_audio
//! ```
//!
//! | segment              | from → to                         | whose   |
//! |----------------------|-----------------------------------|---------|
//! | `agent_end_of_turn`  | speech_last → agent_thinking      | the agent: its end-of-turn delay and speech-to-text (not separable from here) |
//! | `agent_reply`        | agent_thinking → agent_speaking   | the agent: its LLM and the first TTS audio (not separable from here) |
//! | `transport`          | agent_speaking → audio_received   | the agent's publication, the network and our jitter buffer |
//! | `playback_start`     | audio_received → first_audio      | the sound device |
//! | `unobserved`         | a gap across a mark that never came (the agent did not say it was thinking, say) | nobody can tell |
//!
//! Agent states reach us by signalling and audio by RTP, so `agent_speaking` may come after
//! `audio_received`: clamped as above, the transport segment is then 0. `endpointed` (our
//! own detector) and `learner_transcript` (the agent's transcript of the learner arrived)
//! are marks outside the chain.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The instants of one turn, as they happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TurnMarks {
    /// The end of the learner's last speech frame.
    pub speech_last: Option<Instant>,
    /// When the end-of-speech detector decided the turn was over.
    pub endpointed: Option<Instant>,
    pub stt_sent: Option<Instant>,
    pub stt_done: Option<Instant>,
    pub llm_sent: Option<Instant>,
    pub llm_first_token: Option<Instant>,
    /// The first sentence was complete (the first TTS request could go).
    pub llm_first_sentence: Option<Instant>,
    pub llm_done: Option<Instant>,
    pub tts_sent: Option<Instant>,
    pub tts_first_byte: Option<Instant>,
    /// The first clip was fully received and decoded.
    pub tts_done: Option<Instant>,
    pub play_requested: Option<Instant>,
    /// The first sample of Marie's reply sounded.
    pub first_audio: Option<Instant>,
    /// The last sample of Marie's reply sounded (or playback was cut).
    pub playback_ended: Option<Instant>,
    /// The turn went through a LiveKit agent: the agent chain applies (module docs).
    pub via_agent: bool,
    /// The agent's `lk.agent.state` became `thinking`.
    pub agent_thinking: Option<Instant>,
    /// The agent's `lk.agent.state` became `speaking`.
    pub agent_speaking: Option<Instant>,
    /// The first audible frame of Marie's reply left our jitter buffer.
    pub audio_received: Option<Instant>,
    /// The agent's final transcript of the learner's words arrived.
    pub learner_transcript: Option<Instant>,
}

impl TurnMarks {
    /// The marks that were taken, by name (the field's), in chain order.
    pub fn named(&self) -> Vec<(&'static str, Instant)> {
        [
            ("speech_last", self.speech_last),
            ("endpointed", self.endpointed),
            ("stt_sent", self.stt_sent),
            ("stt_done", self.stt_done),
            ("llm_sent", self.llm_sent),
            ("llm_first_token", self.llm_first_token),
            ("llm_first_sentence", self.llm_first_sentence),
            ("tts_sent", self.tts_sent),
            ("tts_first_byte", self.tts_first_byte),
            ("tts_done", self.tts_done),
            ("play_requested", self.play_requested),
            ("agent_thinking", self.agent_thinking),
            ("agent_speaking", self.agent_speaking),
            ("audio_received", self.audio_received),
            ("first_audio", self.first_audio),
            ("llm_done", self.llm_done),
            ("learner_transcript", self.learner_transcript),
            ("playback_ended", self.playback_ended),
        ]
        .into_iter()
        .filter_map(|(name, at)| at.map(|at| (name, at)))
        .collect()
    }
}

/// One mark of a turn, in ms from the session's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MarkAt {
    pub mark: String,
    pub at_ms: f64,
}

/// Which part of the pipeline a segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    EndOfUtterance,
    Stt,
    LlmFirstToken,
    LlmFirstSentence,
    TtsFirstByte,
    TtsRest,
    PlaybackStart,
    AgentEndOfTurn,
    AgentReply,
    Transport,
    Unobserved,
    Overhead,
}

impl SegmentKind {
    /// The direct mode's kinds, in chain order (overhead last).
    pub const DIRECT: [SegmentKind; 8] = [
        SegmentKind::EndOfUtterance,
        SegmentKind::Stt,
        SegmentKind::LlmFirstToken,
        SegmentKind::LlmFirstSentence,
        SegmentKind::TtsFirstByte,
        SegmentKind::TtsRest,
        SegmentKind::PlaybackStart,
        SegmentKind::Overhead,
    ];
    /// The kinds of a turn through an agent, in chain order (unobserved last).
    pub const VIA_AGENT: [SegmentKind; 5] = [
        SegmentKind::AgentEndOfTurn,
        SegmentKind::AgentReply,
        SegmentKind::Transport,
        SegmentKind::PlaybackStart,
        SegmentKind::Unobserved,
    ];
    /// Every kind, in chain order (overhead last).
    pub const ALL: [SegmentKind; 12] = [
        SegmentKind::EndOfUtterance,
        SegmentKind::Stt,
        SegmentKind::LlmFirstToken,
        SegmentKind::LlmFirstSentence,
        SegmentKind::TtsFirstByte,
        SegmentKind::TtsRest,
        SegmentKind::AgentEndOfTurn,
        SegmentKind::AgentReply,
        SegmentKind::Transport,
        SegmentKind::PlaybackStart,
        SegmentKind::Unobserved,
        SegmentKind::Overhead,
    ];

    /// How the UI labels it.
    pub fn label(self) -> &'static str {
        match self {
            SegmentKind::EndOfUtterance => "end of speech",
            SegmentKind::Stt => "speech-to-text",
            SegmentKind::LlmFirstToken => "LLM first token",
            SegmentKind::LlmFirstSentence => "LLM first sentence",
            SegmentKind::TtsFirstByte => "TTS first byte",
            SegmentKind::TtsRest => "TTS first clip",
            SegmentKind::PlaybackStart => "playback start",
            SegmentKind::AgentEndOfTurn => "agent: end of turn + STT",
            SegmentKind::AgentReply => "agent: LLM + TTS",
            SegmentKind::Transport => "transport: agent → Greenroom",
            SegmentKind::Unobserved => "not observable",
            SegmentKind::Overhead => "Greenroom",
        }
    }
}

/// One contiguous piece of a turn, in milliseconds (fractional: a 0.4 ms overhead shows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct Segment {
    pub kind: SegmentKind,
    pub ms: f64,
}

/// A turn's figures, all in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TurnFigures {
    /// One entry per kind that occurred, in chain order, overhead last (summed).
    pub segments: Vec<Segment>,
    /// End of the learner's speech → first audio; `None` when no audio was heard.
    pub time_to_first_audio_ms: Option<f64>,
    /// Conversation request → last token.
    pub llm_total_ms: Option<f64>,
    /// Greenroom's own share (the `overhead` segment), 0 when none (and through an agent,
    /// where Greenroom's part is inside `transport` and `playback_start`).
    pub overhead_ms: f64,
    /// First audio → last audio (or the cut).
    pub playback_ms: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A chain of marks: (mark, the kind of the segment that ends at it when the previous
/// mark is its start).
type Chain<'a> = &'a [(Option<Instant>, Option<SegmentKind>)];

/// Splits a turn into contiguous segments; see the module's documentation.
pub fn segments(m: &TurnMarks) -> TurnFigures {
    use SegmentKind::*;
    let (out, overhead) = if m.via_agent {
        walk(
            &[
                (m.speech_last, None),
                (m.agent_thinking, Some(AgentEndOfTurn)),
                (m.agent_speaking, Some(AgentReply)),
                (m.audio_received, Some(Transport)),
                (m.first_audio, Some(PlaybackStart)),
            ],
            Unobserved,
        )
    } else {
        walk(
            &[
                (m.speech_last, None),
                (m.endpointed, Some(EndOfUtterance)),
                (m.stt_sent, None),
                (m.stt_done, Some(Stt)),
                (m.llm_sent, None),
                (m.llm_first_token, Some(LlmFirstToken)),
                (m.llm_first_sentence, Some(LlmFirstSentence)),
                (m.tts_sent, None),
                (m.tts_first_byte, Some(TtsFirstByte)),
                (m.tts_done, Some(TtsRest)),
                (m.play_requested, None),
                (m.first_audio, Some(PlaybackStart)),
            ],
            Overhead,
        )
    };
    // Through an agent the gaps are nobody's that we can see, not Greenroom's.
    let overhead = if m.via_agent { 0.0 } else { overhead };
    let span = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => Some(ms(b.saturating_duration_since(a))),
        _ => None,
    };
    let time_to_first_audio_ms = match (m.speech_last, m.first_audio) {
        (Some(_), Some(_)) => Some(out.iter().map(|s| s.ms).sum()),
        _ => None,
    };
    TurnFigures {
        segments: out,
        time_to_first_audio_ms,
        llm_total_ms: span(m.llm_sent, m.llm_done),
        overhead_ms: overhead,
        playback_ms: span(m.first_audio, m.playback_ended),
    }
}

/// Walks `chain`: a segment between consecutive present marks gets the kind of its end
/// mark; a gap across a missing mark (or one with no kind) is `gap`, summed into one
/// segment placed last. Returns the segments and the gap's total in ms.
fn walk(chain: Chain<'_>, gap: SegmentKind) -> (Vec<Segment>, f64) {
    let mut out: Vec<Segment> = Vec::new();
    let mut gaps = Duration::ZERO;
    // The previous mark that was present, and its index in the chain.
    let mut previous: Option<(usize, Instant)> = None;
    for (i, (mark, kind)) in chain.iter().enumerate() {
        let Some(at) = *mark else { continue };
        if let Some((p, from)) = previous {
            // A mark before the previous one counts as equal to it.
            let at = at.max(from);
            let span = at - from;
            match kind {
                // Only a segment whose start mark is the one right before it is the
                // party's; a gap across a missing mark is not.
                Some(k) if p + 1 == i => out.push(Segment {
                    kind: *k,
                    ms: ms(span),
                }),
                _ => gaps += span,
            }
            previous = Some((i, at));
        } else {
            previous = Some((i, at));
        }
    }
    if previous.is_some_and(|(i, _)| i > 0) || gaps > Duration::ZERO {
        out.push(Segment {
            kind: gap,
            ms: ms(gaps),
        });
    }
    (out, ms(gaps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(base: Instant, ms: u64) -> Option<Instant> {
        Some(base + Duration::from_millis(ms))
    }

    #[test]
    fn a_complete_turn_splits_into_known_segments() {
        let t0 = Instant::now();
        let m = TurnMarks {
            speech_last: at(t0, 0),
            endpointed: at(t0, 800),
            stt_sent: at(t0, 802),
            stt_done: at(t0, 1102),
            llm_sent: at(t0, 1103),
            llm_first_token: at(t0, 1303),
            llm_first_sentence: at(t0, 1403),
            llm_done: at(t0, 1903),
            tts_sent: at(t0, 1404),
            tts_first_byte: at(t0, 1504),
            tts_done: at(t0, 1524),
            play_requested: at(t0, 1525),
            first_audio: at(t0, 1545),
            playback_ended: at(t0, 3545),
            ..Default::default()
        };
        let f = segments(&m);
        let got: Vec<(SegmentKind, f64)> = f.segments.iter().map(|s| (s.kind, s.ms)).collect();
        use SegmentKind::*;
        assert_eq!(
            got,
            [
                (EndOfUtterance, 800.0),
                (Stt, 300.0),
                (LlmFirstToken, 200.0),
                (LlmFirstSentence, 100.0),
                (TtsFirstByte, 100.0),
                (TtsRest, 20.0),
                (PlaybackStart, 20.0),
                (Overhead, 5.0),
            ]
        );
        assert_eq!(f.time_to_first_audio_ms, Some(1545.0));
        assert_eq!(f.llm_total_ms, Some(800.0));
        assert_eq!(f.overhead_ms, 5.0);
        assert_eq!(f.playback_ms, Some(2000.0));
    }

    #[test]
    fn a_failed_turn_stops_at_its_last_mark() {
        let t0 = Instant::now();
        let m = TurnMarks {
            speech_last: at(t0, 0),
            endpointed: at(t0, 500),
            stt_sent: at(t0, 501),
            ..Default::default()
        };
        let f = segments(&m);
        assert_eq!(f.time_to_first_audio_ms, None);
        assert_eq!(f.segments.len(), 2);
        assert_eq!(f.overhead_ms, 1.0);
    }

    #[test]
    fn a_gap_across_a_missing_mark_is_overhead() {
        // No llm_first_sentence mark: first token → tts_sent is Greenroom's.
        let t0 = Instant::now();
        let m = TurnMarks {
            speech_last: at(t0, 0),
            llm_sent: at(t0, 10),
            llm_first_token: at(t0, 30),
            tts_sent: at(t0, 100),
            ..Default::default()
        };
        let f = segments(&m);
        assert_eq!(f.overhead_ms, 80.0);
        assert_eq!(f.segments[0].kind, SegmentKind::LlmFirstToken);
    }

    #[test]
    fn a_turn_through_an_agent_splits_into_what_the_wire_shows() {
        let t0 = Instant::now();
        let m = TurnMarks {
            via_agent: true,
            speech_last: at(t0, 0),
            endpointed: at(t0, 500),
            agent_thinking: at(t0, 700),
            learner_transcript: at(t0, 720),
            agent_speaking: at(t0, 1500),
            // The audio overtook the state change: the transport segment is 0.
            audio_received: at(t0, 1490),
            first_audio: at(t0, 1530),
            playback_ended: at(t0, 3000),
            ..Default::default()
        };
        let f = segments(&m);
        let got: Vec<(SegmentKind, f64)> = f.segments.iter().map(|s| (s.kind, s.ms)).collect();
        use SegmentKind::*;
        assert_eq!(
            got,
            [
                (AgentEndOfTurn, 700.0),
                (AgentReply, 800.0),
                (Transport, 0.0),
                (PlaybackStart, 30.0),
                (Unobserved, 0.0),
            ]
        );
        assert_eq!(f.time_to_first_audio_ms, Some(1530.0));
        assert_eq!(f.overhead_ms, 0.0);
        assert_eq!(f.playback_ms, Some(1470.0));
    }

    #[test]
    fn a_state_the_agent_never_sent_is_named_unobserved_not_blamed() {
        let t0 = Instant::now();
        let m = TurnMarks {
            via_agent: true,
            speech_last: at(t0, 0),
            agent_speaking: at(t0, 1200),
            audio_received: at(t0, 1250),
            first_audio: at(t0, 1260),
            ..Default::default()
        };
        let f = segments(&m);
        let got: Vec<(SegmentKind, f64)> = f.segments.iter().map(|s| (s.kind, s.ms)).collect();
        use SegmentKind::*;
        assert_eq!(
            got,
            [
                (Transport, 50.0),
                (PlaybackStart, 10.0),
                (Unobserved, 1200.0)
            ]
        );
        assert_eq!(f.time_to_first_audio_ms, Some(1260.0));
    }

    proptest! {
        #[test]
        fn segments_always_add_up_to_the_time_to_first_audio(
            offsets in proptest::collection::vec(0u64..5_000, 12),
            present in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let t0 = Instant::now();
            let pick = |i: usize| if i == 0 || i == 11 || present[i] { at(t0, offsets[i]) } else { None };
            let m = TurnMarks {
                speech_last: pick(0), endpointed: pick(1), stt_sent: pick(2), stt_done: pick(3),
                llm_sent: pick(4), llm_first_token: pick(5), llm_first_sentence: pick(6),
                tts_sent: pick(7), tts_first_byte: pick(8), tts_done: pick(9),
                play_requested: pick(10), first_audio: pick(11), llm_done: None, playback_ended: None,
                ..Default::default()
            };
            let f = segments(&m);
            let sum: f64 = f.segments.iter().map(|s| s.ms).sum();
            prop_assert!(f.segments.iter().all(|s| s.ms >= 0.0));
            // With out-of-order marks the chain is clamped, so the sum is the running max.
            let mut last = offsets[0];
            for (i, o) in offsets.iter().enumerate().skip(1) {
                if i == 11 || present[i] { last = last.max(*o); }
            }
            let expected = (last - offsets[0]) as f64;
            prop_assert!((sum - expected).abs() < 1e-6, "sum {sum} expected {expected}");
            prop_assert_eq!(f.time_to_first_audio_ms, Some(sum));
        }
    }
}
