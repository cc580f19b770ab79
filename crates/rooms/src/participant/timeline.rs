//! The timeline of a join: when each step of bringing the two connections up first
//! happened, counted from the start of [`super::Participant::join`].
//!
//! Why it exists: a join is a chain of round trips over two transports (signalling over the
//! WebSocket, ICE, DTLS and SCTP over UDP or TCP) and two connections. When a join is
//! slow, the question is always which link of the chain waited; the answer used to take a
//! packet capture. Every step is now a `debug` event (target `greenroom_rooms::join`, so
//! `RUST_LOG=greenroom_rooms::join=debug` shows a join step by step), and the steps up to
//! ready are handed out as [`super::Participant::join_steps`], which the media benchmark
//! prints.
//!
//! Exact semantics: [`Timeline::mark`] records a (connection, step) pair the first time it
//! happens and ignores it afterwards (a step is the *first* check sent, the *first*
//! nomination received…), so a renegotiation or an ICE restart later on adds nothing.
//! Steps are kept in the order they were marked.

use super::peer::Side;
use std::time::{Duration, Instant};

/// One step of a join, first seen `at` after the join started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinStep {
    /// `publisher` or `subscriber`; `None` for a step of the whole participant.
    pub connection: Option<&'static str>,
    /// What happened, e.g. `first check sent`, `nomination received`, `DTLS connected`.
    pub step: &'static str,
    pub at: Duration,
}

impl std::fmt::Display for JoinStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.at.as_secs_f64() * 1000.0;
        match self.connection {
            Some(connection) => write!(f, "{ms:7.1} ms  {connection}: {}", self.step),
            None => write!(f, "{ms:7.1} ms  {}", self.step),
        }
    }
}

pub(super) struct Timeline {
    started: Instant,
    steps: Vec<JoinStep>,
}

impl Timeline {
    pub(super) fn new(started: Instant) -> Self {
        Self {
            started,
            steps: Vec::new(),
        }
    }

    /// Records `step` of `side` (or of the participant) now, if it is its first time.
    pub(super) fn mark(&mut self, side: Option<Side>, step: &'static str) {
        self.mark_at(side, step, Instant::now());
    }

    /// Records `step` of `side` at `when`, if it is its first time.
    pub(super) fn mark_at(&mut self, side: Option<Side>, step: &'static str, when: Instant) {
        let connection = side.map(Side::name);
        if self
            .steps
            .iter()
            .any(|s| s.connection == connection && s.step == step)
        {
            return;
        }
        let step = JoinStep {
            connection,
            step,
            at: when.saturating_duration_since(self.started),
        };
        tracing::debug!(target: "greenroom_rooms::join", "{step}");
        self.steps.push(step);
    }

    /// The steps so far, in the order they were marked.
    pub(super) fn steps(&self) -> Vec<JoinStep> {
        self.steps.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_counts_the_first_time_it_happens_on_each_connection() {
        let started = Instant::now();
        let mut timeline = Timeline::new(started);
        let at = |ms| started + Duration::from_millis(ms);
        timeline.mark_at(Some(Side::Subscriber), "first check sent", at(5));
        timeline.mark_at(Some(Side::Publisher), "first check sent", at(6));
        timeline.mark_at(Some(Side::Subscriber), "first check sent", at(9));
        timeline.mark_at(None, "ready", at(12));
        let steps = timeline.steps();
        assert_eq!(
            steps,
            vec![
                JoinStep {
                    connection: Some("subscriber"),
                    step: "first check sent",
                    at: Duration::from_millis(5),
                },
                JoinStep {
                    connection: Some("publisher"),
                    step: "first check sent",
                    at: Duration::from_millis(6),
                },
                JoinStep {
                    connection: None,
                    step: "ready",
                    at: Duration::from_millis(12),
                },
            ]
        );
        assert_eq!(
            steps[0].to_string(),
            "    5.0 ms  subscriber: first check sent"
        );
        assert_eq!(steps[2].to_string(), "   12.0 ms  ready");
    }
}
