//! Greenroom's own LiveKit participant: what a learner's app does in a room, in pure Rust.
//!
//! - [`signal`]: signalling (join with a token, pings and round trip, events, resume after
//!   a dropped connection, a clean leave, a reason for every end).
//! - [`participant`]: the whole participant: signalling plus audio and data over two `str0m`
//!   peer connections driven by one media loop.
//! - [`ice_tcp`]: ICE over TCP (RFC 6544 active candidates, RFC 4571 framing) for networks
//!   that block UDP.
//! - [`jitter`]: the playout buffer of each remote audio track.
//! - [`audio`]: PCM sources (tone, WAV at any rate, raw reader), 20 ms frames, measurements
//!   (RMS, Goertzel, dominant frequency).
//!
//! Tokens and the room service live in `greenroom-livekit` (no media); the suites that
//! measure streaming (the stream-test suites) live in `greenroom-engine`.

/// LiveKit's protobuf messages, as our participant speaks them.
pub use livekit_protocol as protocol;
pub mod audio;
pub mod ice_tcp;
pub mod jitter;
pub mod participant;
pub mod signal;
