//! Wall-clock time as Greenroom records it: Unix time in UTC, never local time (event
//! envelopes, logs, reports, token lifetimes and backup names all use it). A clock set
//! before 1970 reads as 0 rather than failing.

fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn unix_seconds() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    since_epoch().as_millis() as u64
}

/// Microseconds since the Unix epoch (packet timestamps of the stream tests).
pub fn unix_micros() -> u64 {
    since_epoch().as_micros() as u64
}

/// The time of day in UTC as `HH:MM:SS`, for terminal lines.
pub fn utc_time_of_day() -> String {
    let day = unix_seconds() % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, (day % 3600) / 60, day % 60)
}

/// Unix milliseconds as a UTC calendar date and time: `(year, month, day, hour, minute,
/// second)`, proleptic Gregorian (Howard Hinnant's civil-from-days), without a date library.
pub fn utc_civil(ms: u64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = ms / 1000;
    let rem = secs % 86_400;
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right_on_known_days() {
        assert_eq!(utc_civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_civil(951_782_400_000), (2000, 2, 29, 0, 0, 0));
        assert_eq!(utc_civil(1_796_189_049_123), (2026, 12, 2, 5, 24, 9));
    }

    #[test]
    fn seconds_and_millis_agree_and_the_time_of_day_is_well_formed() {
        let (s, ms) = (unix_seconds(), unix_millis());
        assert!(ms / 1000 >= s && ms / 1000 - s <= 1);
        let t = utc_time_of_day();
        let parts: Vec<u64> = t.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(t.len(), 8);
        assert!(parts[0] < 24 && parts[1] < 60 && parts[2] < 60, "{t}");
    }
}
