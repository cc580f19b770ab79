//! The exercises of the Eloquence Flutter app: found by reading the code, scored, watched.

pub mod analysis;
pub mod baseline;
pub mod dart;
pub mod history;
pub mod project;
pub mod rules;
pub mod watch;
