//! The exercises of the Eloquence Flutter app: found by reading the code, scored, watched.
//!
//! Modules, in the order data flows through them:
//! - [`project`]: a project on disk — its Flutter packages, their Dart files, the agent's
//!   Python sources — read once, with every file it skipped and why.
//! - [`dart`]: a tolerant Dart reader (lexer, then classes, members, calls): enough
//!   structure for the rules, never a failure on code it does not understand.
//! - [`rules`]: the rule pack — what "an exercise" means in a project, as data — and how a
//!   project's file takes precedence over the built-in one; checked when loaded.
//! - [`criterion`]: the nine criteria's ids (wire names, rule pack keys), titles and which
//!   ones block.
//! - [`analysis`]: detection (registered widgets, exercises, orphans), the judge of each
//!   criterion, and the exact score, validity and fix-time formulas.
//! - [`watch`]: revalidation on save — which folders are watched and what a change rescores.
//! - [`history`]: every score that changed, in SQLite, for trends.
//! - [`baseline`]: the Eloquence team's regex detection, kept to measure ours against.
//!
//! Errors ([`rules::RulesError`], [`project::ReadError`], [`history::HistoryError`],
//! [`watch::WatchError`]) are `thiserror` enums that implement
//! [`greenroom_core::Classified`]: each variant carries its kind.

pub mod analysis;
pub mod baseline;
pub mod criterion;
pub mod dart;
pub mod history;
pub mod project;
pub mod rules;
pub mod watch;
