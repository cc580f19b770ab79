//! LiveKit's control plane, for every Greenroom crate that needs a token or a room but no
//! media. Nothing here links WebRTC, Opus or a TLS stack of its own, so the stack
//! supervisor can check tokens without compiling our participant.
//!
//! - [`token`]: access tokens (JWT, HS256) with video grants and room configuration
//!   (agent dispatch, room metadata). The one minter: everything Greenroom signs goes
//!   through [`token::mint`].
//! - [`room_service`]: LiveKit's room service (list, create, delete rooms; participants;
//!   metadata), which server to talk to ([`room_service::Target`]), and tokens for a
//!   participant ([`room_service::token`]), each failure explained.
//! - [`token_service`]: the Eloquence token API over HTTP, the sandbox stack's built-in.

/// LiveKit's protobuf messages.
pub use livekit_protocol as protocol;
pub mod room_service;
pub mod token;
pub mod token_service;
