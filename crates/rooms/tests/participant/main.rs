//! Our participant against the real livekit-server (and the official Python SDK), in one
//! test binary: each integration-test binary links str0m, aws-lc and libopus again, so the
//! modules below share one.
//!
//! - `control_plane`: the server accepts our tokens and refuses forged ones; a joined
//!   participant is listed and removed through the room service.
//! - `signal`: signalling alone (join, pings, events, leave, expired tokens).
//! - `media`: audio and data between our participants.
//! - `ice_tcp`: the fallback to ICE over TCP when UDP is blocked.
//! - `resume`: a dropped signalling connection is resumed; a restarted server ends it.
//! - `python_interop`: the official LiveKit Python SDK as the other peer.

mod common;
mod control_plane;
mod ice_tcp;
mod media;
mod python_interop;
mod resume;
mod signal;
