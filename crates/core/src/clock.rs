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

#[cfg(test)]
mod tests {
    use super::*;

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
