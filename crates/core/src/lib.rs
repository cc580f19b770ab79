//! What every Greenroom crate shares, and nothing else.
//!
//! - [`EventSink`]: the one way the core tells the outside world that something happened.
//!   Domain crates emit their own event types through it; each front (Tauri shell, HTTP
//!   server, CLI) supplies an implementation that forwards to its transport.
//! - [`AppHome`]: where Greenroom keeps its files (settings, state, logs, history).
//! - [`clock`]: Unix time in UTC, as every record and message uses it.
//! - [`redact_tokens`]: credentials out of error messages and log views.
//! - [`write_atomic`]: the only way Greenroom writes a file it must not lose.
//! - [`lock_unpoisoned`]: a mutex lock that survives a panicked holder.
//! - [`percentile`]: the one percentile (nearest rank) of every report, bench and figure.
//! - [`ErrorKind`] / [`Classified`]: the kind of a failure, decided where it happens.
//! - [`paths`]: paths as people write them (never Windows' verbatim `\\?\` form).
//! - [`console`]: child processes that open no console window on Windows.

mod atomic;
pub mod clock;
pub mod console;
mod error;
mod home;
pub mod paths;
mod percentile;
mod secrets;
mod sink;
mod sync;

pub use atomic::write_atomic;
pub use clock::{unix_micros, unix_millis, unix_seconds};
pub use error::{Classified, ErrorKind};
pub use home::AppHome;
pub use percentile::{percentile, sorted};
pub use secrets::redact_tokens;
pub use sink::{EventSink, NullSink, RecordingSink};
pub use sync::lock_unpoisoned;
