//! LiveKit for Greenroom.
//!
//! - [`token`]: LiveKit access tokens (JWT, HS256) with video grants, as LiveKit's own
//!   SDKs mint them; verified against the real `livekit-server` in the tests.
//! - [`signal`]: our own participant's signalling (join, pings, events, leave).
//! - [`token_service`]: the Eloquence token API over HTTP, the sandbox stack's built-in.

/// LiveKit's protobuf messages, as our participant speaks them.
pub use livekit_protocol as protocol;
pub mod service;
pub mod signal;
pub mod token;
pub mod token_service;
