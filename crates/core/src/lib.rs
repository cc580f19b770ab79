//! What every Greenroom crate shares, and nothing else.
//!
//! - [`EventSink`]: the one way the core tells the outside world that something happened.
//!   Domain crates emit their own event types through it; each front (Tauri shell, HTTP
//!   server, CLI) supplies an implementation that forwards to its transport.
//! - [`AppHome`]: where Greenroom keeps its files (settings, state, logs, history).
//! - [`clock`]: Unix time in UTC, as every record and message uses it.
//! - [`redact_tokens`]: credentials out of error messages and log views.
//! - [`write_atomic`] / [`write_private`]: the only ways Greenroom writes a file it must not
//!   lose (or must not show), and [`sweep_temp_files`] for what a crash left.
//! - [`lock_unpoisoned`]: a mutex lock that survives a panicked holder.
//! - [`percentile`]: the one percentile (nearest rank) of every report, bench and figure.
//! - [`ErrorKind`] / [`Classified`]: the kind of a failure, decided where it happens.
//! - [`paths`]: paths as people write them (never Windows' verbatim `\\?\` form).
//! - [`console`]: child processes that open no console window on Windows.
//! - [`host`]: which `Host` names a local server answers (DNS rebinding).
//! - [`token`]: secrets that guard Greenroom's local servers, and how to compare them.

mod atomic;
pub mod clock;
pub mod console;
mod error;
mod home;
pub mod host;
pub mod paths;
mod percentile;
pub mod secrets;
mod sink;
mod sync;
pub mod token;

pub use atomic::{sweep_temp_files, write_atomic, write_private};
pub use clock::{unix_micros, unix_millis, unix_seconds};
pub use error::{Classified, ErrorKind};
pub use home::AppHome;
pub use percentile::{percentile, sorted};
pub use secrets::{hides_value, mask_url_password, mask_values, redact_tokens};
pub use sink::{EventSink, NullSink, RecordingSink};
pub use sync::lock_unpoisoned;
