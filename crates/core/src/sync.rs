//! Locks that outlive a panic.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, going on with its data when a holder panicked: Greenroom's shared state
/// (log offsets, a test run's snapshot) stays meaningful after a panicked writer, and one
/// panic must not cascade into every later reader.
pub fn lock_unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicked_holder_leaves_the_data_readable() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let held = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = held.lock().unwrap();
            *g = 2;
            panic!("a holder panics");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*lock_unpoisoned(&m), 2);
    }
}
