//! Talking to Marie: what a coach does with a microphone, and what the test engine does
//! with a script, through the same session.
//!
//! | module         | what it gives                                                           |
//! |----------------|-------------------------------------------------------------------------|
//! | [`catalog`]    | the characters and exercises file (`data/talk-catalog.toml` by default) |
//! | [`services`]   | where the three services are, their keys (never shown) and their failures |
//! | [`clients`]    | the direct mode's STT (Vosk / OpenAI shapes), chat (async-openai, streamed) and TTS clients |
//! | [`sentences`]  | sentences out of a streamed reply, so Marie speaks the first one early   |
//! | [`script`]     | a learner who takes turns (scripted talks), and a recording cut into utterances |
//! | [`segments`]   | a turn's time cut into contiguous segments that add up to the time to first audio |
//! | [`session`]    | the turn state machine, barge-in, recording, events; direct and LiveKit modes |
//! | [`livekit`]    | LiveKit mode's room metadata, microphone uplink, agent transcripts and why an agent is missing |
//! | [`events`]     | the events (`talk://…`) and the report (`greenroom.talk/1`)             |

pub mod catalog;
pub mod clients;
pub mod events;
pub mod livekit;
pub mod script;
pub mod segments;
pub mod sentences;
pub mod services;
pub mod session;

pub use catalog::{Catalog, Character, Exercise, LoadedCatalog, load_or_default};
pub use events::{TalkEvent, TalkReport, TalkState, TurnReport};
pub use services::{Endpoints, Service, ServiceError};
pub use session::{DirectPipeline, ReplyStrategy, TalkConfig, TalkControl, TalkSession};
