//! The one percentile Greenroom reports.
//!
//! **Nearest rank**: the `q`-th percentile (`q` in 0.0–1.0) of `n` sorted values is the
//! value at rank `ceil(q × n)` (1-based), rank 0 counting as 1. So p50 of 1..=100 is 50,
//! p95 is 95, p99 is 99, and p100 is the largest; it is always one of the values, never an
//! interpolation. Every report, benchmark and UI figure uses this definition (the UI
//! receives figures computed here).

/// The nearest-rank percentile `q` (0.0–1.0) of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sorts `values` (NaN last) and returns them, for [`percentile`].
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(|a, b| a.total_cmp(b));
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_known_answers() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.5), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    proptest::proptest! {
        #[test]
        fn always_one_of_the_values_and_monotonic(
            values in proptest::collection::vec(-1e6f64..1e6, 1..200),
            a in 0.0f64..=1.0,
            b in 0.0f64..=1.0,
        ) {
            let s = sorted(values);
            let (lo, hi) = (a.min(b), a.max(b));
            let (pl, ph) = (percentile(&s, lo).unwrap(), percentile(&s, hi).unwrap());
            proptest::prop_assert!(s.contains(&pl) && s.contains(&ph));
            proptest::prop_assert!(pl <= ph);
        }
    }
}
