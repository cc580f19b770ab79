//! LiveKit for Greenroom.
//!
//! - [`token`]: LiveKit access tokens (JWT, HS256) with video grants, as LiveKit's own
//!   SDKs mint them; verified against the real `livekit-server` in the tests.
//! - [`signal`]: our own participant's signalling (join, pings, events, leave).
//! - [`participant`]: the whole participant: signalling plus audio and data over `str0m`
//!   ([`audio`]: PCM sources and measurements; [`jitter`]: the playout buffer).
//! - [`token_service`]: the Eloquence token API over HTTP, the sandbox stack's built-in.

/// LiveKit's protobuf messages, as our participant speaks them.
pub use livekit_protocol as protocol;
pub mod audio;
pub mod ice_tcp;
pub mod jitter;
pub mod participant;
pub mod service;
pub mod signal;
pub mod stream_test;
pub mod token;
pub mod token_service;
