//! Greenroom's test engine: the suites that prove the pipeline works, what they measure,
//! and where their reports go.
//!
//! - [`metrics`]: the metric catalogue (id, unit, direction, the team's rating bands) and
//!   the one percentile; the UI receives both through the generated types.
//! - [`reports`]: every report under `<home>/reports/<kind>/`, written atomically, listed
//!   newest first, whichever front started the run.
//! - [`stream_test`]: the stream-test suites (`basic`, `stress`, `latency`, `load`): our
//!   participants talk through a real LiveKit server and we measure what arrives; one run
//!   at a time in the background ([`stream_test::runs`]).

pub mod metrics;
pub mod reports;
pub mod stream_test;
