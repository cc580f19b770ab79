//! What LiveKit mode needs besides the session loop: the room's metadata, the microphone's
//! way into the room, and reading what Marie's agent publishes.
//!
//! Why: the Flutter app meets Marie in a LiveKit room. It gets a token, joins a room whose
//! metadata carries the exercise, and the agent (the official agents framework) joins,
//! listens, answers, and publishes its state (`lk.agent.state`) and transcripts
//! (`lk.transcription` text streams). LiveKit mode does the same with our own participant
//! ([`greenroom_rooms::Participant`]) carrying the coach's microphone.
//!
//! Exact semantics:
//! - **Metadata** ([`room_metadata`]): a JSON object with `exercise_type` (the exercise's
//!   id, the key Eloquence's agent reads), `character`, `character_name`, `voice`,
//!   `system_prompt`, `opening`, `language` (`fr`) and `title`.
//! - **Uplink** ([`Uplink`]): each captured chunk, at the device's rate, is converted to
//!   48 kHz, cut into 20 ms frames and sent at once: the device's clock paces the track, no
//!   second timer does. Before the track is published, frames are dropped; in push-to-talk
//!   with the key up, silence is sent (the track stays alive, the agent hears nothing).
//! - **Agents**: a participant is Marie's agent when it publishes `lk.agent.state`, or when
//!   its identity starts with `agent-` (what the framework gives its participants).
//! - **Transcripts** ([`Transcript::read`]): a `lk.transcription` stream whose
//!   `lk.transcribed_track_id` is our microphone track is the learner's words as the agent
//!   heard them; any other is Marie's. `lk.transcription_final` = `true` marks a final one.
//! - **Missing agent** ([`why_no_agent`]): what may explain an agent that never came,
//!   most likely first; the caller adds what it knows of the stack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenroom_core::lock_unpoisoned;
use greenroom_rooms::audio::{FRAME_SAMPLES, Frame, SAMPLE_RATE};
use greenroom_rooms::participant::{AudioTrack, ParticipantOptions, TRANSCRIPTION_TOPIC};
use greenroom_voice::resample::StreamResampler;

use crate::catalog::{Catalog, Character, Exercise};

/// The text-stream attribute naming the track a transcript is of.
pub const TRANSCRIBED_TRACK_ATTRIBUTE: &str = "lk.transcribed_track_id";
/// The text-stream attribute saying a transcript is final (`true`).
pub const TRANSCRIPTION_FINAL_ATTRIBUTE: &str = "lk.transcription_final";
/// How long the agent may take to join before the session says why it may not have.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the agent is brought into the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Workers registered without an agent name join every new room on their own (how
    /// Eloquence's Marie runs).
    Automatic,
    /// Only the worker registered with this name, dispatched in the token's room
    /// configuration.
    Explicit(String),
}

impl Dispatch {
    pub fn describe(&self) -> String {
        match self {
            Dispatch::Automatic => "automatic".into(),
            Dispatch::Explicit(name) => format!("explicit: {name}"),
        }
    }
}

/// Everything a LiveKit session needs to join; the caller got the token.
#[derive(Debug, Clone)]
pub struct LivekitLink {
    /// `ws://…` or `wss://…`.
    pub url: String,
    /// A join token for `room` (never logged or shown).
    pub token: String,
    pub room: String,
    /// Where the token came from, for the report: `token service`, `minted …`.
    pub token_source: String,
    pub dispatch: Dispatch,
    /// How long the agent may take to join (default [`DEFAULT_AGENT_TIMEOUT`]).
    pub agent_timeout: Duration,
    /// How long the agent may take to react to an utterance before the turn fails.
    pub reply_timeout: Duration,
    /// The room existed before we joined (automatic dispatch only reaches new rooms).
    pub room_existed: bool,
    /// What the caller knows that may explain a missing agent (the stack's agent service
    /// stopped, say), most useful first.
    pub hints: Vec<String>,
    pub options: ParticipantOptions,
}

impl LivekitLink {
    pub fn new(url: &str, token: &str, room: &str) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            room: room.into(),
            token_source: "given".into(),
            dispatch: Dispatch::Automatic,
            agent_timeout: DEFAULT_AGENT_TIMEOUT,
            reply_timeout: Duration::from_secs(30),
            room_existed: false,
            hints: Vec::new(),
            options: ParticipantOptions::default(),
        }
    }
}

/// The room's metadata for `exercise` with `character` (see the module docs).
pub fn room_metadata(character: &Character, exercise: &Exercise) -> serde_json::Value {
    serde_json::json!({
        "exercise_type": exercise.id,
        "title": exercise.title,
        "character": character.id,
        "character_name": character.name,
        "voice": character.voice,
        "system_prompt": Catalog::system_prompt(character, exercise),
        "opening": exercise.opening,
        "language": "fr",
    })
}

/// Whether `identity` looks like an agent's (the framework names them `agent-…`).
pub fn looks_like_agent(identity: &str) -> bool {
    identity.starts_with("agent-")
}

/// Whose words a transcript is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The learner's words, as the agent heard them.
    pub of_learner: bool,
    pub is_final: bool,
    pub text: String,
}

impl Transcript {
    /// Reads one completed text stream; `None` for other topics. `own_track` is the sid
    /// of our microphone track.
    pub fn read(
        topic: &str,
        text: &str,
        attributes: &HashMap<String, String>,
        own_track: &str,
    ) -> Option<Transcript> {
        if topic != TRANSCRIPTION_TOPIC {
            return None;
        }
        let of_learner = attributes
            .get(TRANSCRIBED_TRACK_ATTRIBUTE)
            .is_some_and(|t| !own_track.is_empty() && t == own_track);
        // A stream without the attribute is complete when it ends: final.
        let is_final = attributes
            .get(TRANSCRIPTION_FINAL_ATTRIBUTE)
            .is_none_or(|v| v.eq_ignore_ascii_case("true"));
        Some(Transcript {
            of_learner,
            is_final,
            text: text.trim().to_string(),
        })
    }
}

/// Why the agent may not have joined `link.room` within its timeout, most likely first.
pub fn why_no_agent(link: &LivekitLink) -> Vec<String> {
    let mut reasons = Vec::new();
    match &link.dispatch {
        Dispatch::Explicit(name) => reasons.push(format!(
            "the token dispatches the agent named {name:?}: no worker registered under that name took the job (an agent with an explicit agent_name joins only rooms that ask for it by that exact name; check the agent's WorkerOptions(agent_name=…), or leave the name empty for automatic dispatch)"
        )),
        Dispatch::Automatic => {
            if link.room_existed {
                reasons.push(format!(
                    "room {:?} existed before: automatic dispatch sends an agent only when a room is created (and only workers registered by then); use a new room, or dispatch the agent by name",
                    link.room
                ));
            }
            reasons.push(
                "no agent worker is registered with this LiveKit server for automatic dispatch: start the agent (the sandbox's `marie` service, or the stack's livekit-agent) and look at its log for `registered worker`; a worker registered with an agent_name is never dispatched automatically".into(),
            );
        }
    }
    reasons.extend(link.hints.iter().cloned());
    reasons.push(
        "the server may have refused the worker (wrong API key or secret in the agent's LIVEKIT_API_KEY / LIVEKIT_API_SECRET): its log says so".into(),
    );
    reasons
}

/// The microphone's way into the room: converts, frames and sends as chunks come (see
/// the module docs). Lives on the capture thread.
pub struct Uplink {
    track: Arc<Mutex<Option<AudioTrack>>>,
    resampler: Option<StreamResampler>,
    pending: Vec<i16>,
    frame: Frame,
    /// Frames sent, for the report and tests.
    pub sent: u64,
}

impl std::fmt::Debug for Uplink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uplink").field("sent", &self.sent).finish()
    }
}

/// Where the session puts the published track for the [`Uplink`] to use.
pub type TrackSlot = Arc<Mutex<Option<AudioTrack>>>;

impl Uplink {
    /// An uplink for chunks at `input_rate`, sending on the track put in the returned slot.
    pub fn new(input_rate: u32) -> Result<(Uplink, TrackSlot), greenroom_voice::ResampleError> {
        let resampler = if input_rate == SAMPLE_RATE {
            None
        } else {
            Some(StreamResampler::new(input_rate, SAMPLE_RATE)?)
        };
        let track: TrackSlot = Arc::default();
        Ok((
            Uplink {
                track: track.clone(),
                resampler,
                pending: Vec::with_capacity(FRAME_SAMPLES * 2),
                frame: [0; FRAME_SAMPLES],
                sent: 0,
            },
            track,
        ))
    }

    /// One captured chunk; `muted` sends silence of the same length (push-to-talk, key up).
    pub fn push(&mut self, chunk: &[f32], muted: bool) {
        let converted = match self.resampler.as_mut() {
            None => None,
            Some(r) => match r.push(chunk) {
                Ok(out) => Some(out),
                Err(e) => {
                    tracing::warn!("the uplink cannot convert the microphone's audio: {e}");
                    return;
                }
            },
        };
        let samples = converted.as_deref().unwrap_or(chunk);
        self.pending.extend(samples.iter().map(|s| {
            if muted {
                0
            } else {
                (s.clamp(-1.0, 1.0) * i16::MAX as f32) as i16
            }
        }));
        let track = lock_unpoisoned(&self.track).clone();
        let mut start = 0;
        while self.pending.len() - start >= FRAME_SAMPLES {
            self.frame
                .copy_from_slice(&self.pending[start..start + FRAME_SAMPLES]);
            start += FRAME_SAMPLES;
            if let Some(track) = track.as_ref()
                && track.send(&self.frame).is_ok()
            {
                self.sent += 1;
            }
        }
        self.pending.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_learners_words_are_the_transcript_of_our_own_track() {
        let own = "TR_mic";
        let learner = Transcript::read(
            TRANSCRIPTION_TOPIC,
            " hello Marie ",
            &attrs(&[
                (TRANSCRIBED_TRACK_ATTRIBUTE, "TR_mic"),
                (TRANSCRIPTION_FINAL_ATTRIBUTE, "true"),
            ]),
            own,
        )
        .unwrap();
        assert_eq!(
            learner,
            Transcript {
                of_learner: true,
                is_final: true,
                text: "hello Marie".into()
            }
        );
        let marie = Transcript::read(
            TRANSCRIPTION_TOPIC,
            "Bonjour",
            &attrs(&[
                (TRANSCRIBED_TRACK_ATTRIBUTE, "TR_agent"),
                (TRANSCRIPTION_FINAL_ATTRIBUTE, "false"),
            ]),
            own,
        )
        .unwrap();
        assert!(!marie.of_learner && !marie.is_final);
        // No attribute: Marie's, and final once the stream ended.
        let bare = Transcript::read(TRANSCRIPTION_TOPIC, "Oui.", &HashMap::new(), own).unwrap();
        assert!(!bare.of_learner && bare.is_final);
        assert_eq!(
            Transcript::read("chat", "x", &HashMap::new(), own),
            None,
            "other topics are not transcripts"
        );
        // Before our track exists nothing is the learner's.
        let early = Transcript::read(
            TRANSCRIPTION_TOPIC,
            "x",
            &attrs(&[(TRANSCRIBED_TRACK_ATTRIBUTE, "")]),
            "",
        )
        .unwrap();
        assert!(!early.of_learner);
    }

    #[test]
    fn a_missing_agent_is_explained_by_how_it_was_dispatched() {
        let mut link = LivekitLink::new("ws://127.0.0.1:7880", "t", "r1");
        let auto = why_no_agent(&link);
        assert!(
            auto[0].contains("no agent worker is registered"),
            "{auto:?}"
        );
        link.room_existed = true;
        link.hints
            .push("the stack's service marie is stopped".into());
        let existed = why_no_agent(&link);
        assert!(existed[0].contains("existed before"), "{existed:?}");
        assert!(existed.iter().any(|r| r.contains("marie is stopped")));
        link.dispatch = Dispatch::Explicit("coach-x".into());
        let named = why_no_agent(&link);
        assert!(named[0].contains("\"coach-x\""), "{named:?}");
        assert!(!named.iter().any(|r| r.contains("existed before")));
    }

    #[test]
    fn metadata_carries_the_exercise_the_way_eloquences_agent_reads_it() {
        let catalog = Catalog::builtin();
        let exercise = &catalog.exercises[0];
        let character = catalog.character(&exercise.character).unwrap();
        let m = room_metadata(character, exercise);
        assert_eq!(m["exercise_type"], exercise.id.as_str());
        assert_eq!(m["character"], character.id.as_str());
        assert_eq!(m["opening"], exercise.opening.as_str());
        assert!(
            m["system_prompt"]
                .as_str()
                .unwrap()
                .contains(&exercise.instructions)
        );
    }

    #[test]
    fn the_uplink_sends_whole_20_ms_frames_at_48_khz_once_the_track_exists() {
        let (mut uplink, slot) = Uplink::new(16_000).unwrap();
        // No track yet: nothing is sent, nothing piles up for later.
        uplink.push(&vec![0.1; 1600], false);
        assert_eq!(uplink.sent, 0);
        assert!(slot.lock().unwrap().is_none());
        assert!(uplink.pending.len() < FRAME_SAMPLES);
    }
}
