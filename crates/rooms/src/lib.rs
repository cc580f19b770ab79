//! LiveKit for Greenroom.
//!
//! - [`token`]: LiveKit access tokens (JWT, HS256) with video grants, as LiveKit's own
//!   SDKs mint them; verified against the real `livekit-server` in the tests.
//! - [`token_service`]: the Eloquence token API over HTTP, the sandbox stack's built-in.

pub mod service;
pub mod token;
pub mod token_service;
