//! What the participant reads out of LiveKit's session descriptions and trickled
//! candidates, beyond what `str0m` reads itself.
//!
//! Why it exists: `str0m` keeps the first `msid` an m-line ever had, while LiveKit recycles
//! subscriber m-lines for other participants' tracks; and LiveKit trickles candidates as
//! `RTCIceCandidateInit` JSON, which `str0m` does not parse. These helpers are pure string
//! functions, so they are tested here without a server.
//!
//! Exact semantics:
//! - [`split_stream_id`]: LiveKit's stream id `PA_xxx|TR_xxx` → (participant sid, track
//!   sid); a stream id without `|` is taken whole as the participant, with the track id.
//! - [`offered_msids`]: for each m-section with both an `a=mid:` and an
//!   `a=msid:<stream> <track>` line, mid → (stream id, track id); sections missing either
//!   are left out.
//! - [`parse_trickle`]: the `candidate` field of the JSON, with or without `a=` and
//!   `candidate:` prefixes; `None` for the end-of-candidates marker (an empty candidate),
//!   invalid JSON, or a line `str0m` cannot read.

use std::collections::HashMap;
use str0m::Candidate;

/// `PA_xxx|TR_xxx` (LiveKit's stream id) → (participant sid, track sid).
pub fn split_stream_id(stream_id: &str, track_id: &str) -> (String, String) {
    match stream_id.split_once('|') {
        Some((participant, track)) => (participant.to_string(), track.to_string()),
        None => (stream_id.to_string(), track_id.to_string()),
    }
}

/// mid → (stream id, track id) from an SDP's `a=mid:` and `a=msid:` lines, per m-section.
pub fn offered_msids(sdp: &str) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for section in sdp.split("\nm=").skip(1) {
        let mut mid = None;
        let mut msid = None;
        for line in section.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("a=mid:") {
                mid = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("a=msid:") {
                let mut parts = v.split_whitespace();
                if let (Some(stream), Some(track)) = (parts.next(), parts.next()) {
                    msid = Some((stream.to_string(), track.to_string()));
                }
            }
        }
        if let (Some(mid), Some(msid)) = (mid, msid) {
            out.insert(mid, msid);
        }
    }
    out
}

/// A trickled `RTCIceCandidateInit` JSON → a candidate (`None` for end-of-candidates or
/// anything we cannot read).
pub fn parse_trickle(candidate_init: &str) -> Option<Candidate> {
    let value: serde_json::Value = serde_json::from_str(candidate_init).ok()?;
    let line = value.get("candidate")?.as_str()?.trim();
    if line.is_empty() {
        return None;
    }
    let line = line.strip_prefix("a=").unwrap_or(line);
    Candidate::from_sdp_string(line)
        .or_else(|_| {
            Candidate::from_sdp_string(&format!(
                "candidate:{}",
                line.trim_start_matches("candidate:")
            ))
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_split_into_participant_and_track() {
        assert_eq!(
            split_stream_id("PA_abc|TR_def", "TR_def"),
            ("PA_abc".to_string(), "TR_def".to_string())
        );
        assert_eq!(
            split_stream_id("PA_abc", "TR_x"),
            ("PA_abc".to_string(), "TR_x".to_string())
        );
    }

    #[test]
    fn msids_are_read_per_m_section() {
        let sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=msid:PA_a|TR_b TR_b\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=recvonly\r\n";
        let msids = offered_msids(sdp);
        assert_eq!(msids.len(), 1);
        assert_eq!(msids["1"], ("PA_a|TR_b".to_string(), "TR_b".to_string()));
    }

    #[test]
    fn trickled_candidates_parse_and_the_end_marker_is_none() {
        let c = parse_trickle(r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0","sdpMLineIndex":0}"#)
            .expect("a host candidate");
        assert_eq!(c.addr(), "127.0.0.1:7882".parse().unwrap());
        assert!(parse_trickle(r#"{"candidate":"","sdpMid":"0"}"#).is_none());
        assert!(parse_trickle("not json").is_none());
    }
}
