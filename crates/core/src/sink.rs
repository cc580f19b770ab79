//! The event sink: how the core emits events without knowing who listens.
//!
//! Semantics: `emit` is called from any thread or task, must not block for long (fronts
//! queue or drop, they never apply back-pressure to the core), and never fails from the
//! caller's point of view — a front that cannot deliver an event logs it and moves on.
//! Events are delivered to one sink in the order `emit` was called on that sink.

use std::sync::Mutex;

/// Receives the events of type `E` that the core emits.
pub trait EventSink<E>: Send + Sync {
    fn emit(&self, event: E);
}

/// Drops every event: for callers that do not listen (one-shot CLI commands).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl<E> EventSink<E> for NullSink {
    fn emit(&self, _event: E) {}
}

/// Keeps every event in memory, in order: for tests.
#[derive(Debug)]
pub struct RecordingSink<E> {
    events: Mutex<Vec<E>>,
}

impl<E> Default for RecordingSink<E> {
    fn default() -> Self {
        Self {
            events: Mutex::new(Vec::new()),
        }
    }
}

impl<E: Clone> RecordingSink<E> {
    /// A copy of the events received so far.
    pub fn events(&self) -> Vec<E> {
        crate::lock_unpoisoned(&self.events).clone()
    }
}

impl<E: Send> EventSink<E> for RecordingSink<E> {
    fn emit(&self, event: E) {
        crate::lock_unpoisoned(&self.events).push(event);
    }
}

impl<E, F> EventSink<E> for F
where
    F: Fn(E) + Send + Sync,
{
    fn emit(&self, event: E) {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_sink_keeps_order() {
        let sink = RecordingSink::default();
        sink.emit(1);
        sink.emit(2);
        assert_eq!(sink.events(), vec![1, 2]);
    }

    #[test]
    fn closures_are_sinks() {
        let seen = Mutex::new(Vec::new());
        let sink = |e: &str| seen.lock().unwrap().push(e.to_owned());
        EventSink::emit(&sink, "a");
        assert_eq!(*seen.lock().unwrap(), vec!["a".to_owned()]);
    }
}
