//! What a stream-test run needs, where each value comes from, and what makes a run.
//!
//! Precedence (later wins): defaults < Settings < `LIVEKIT_URL` / `LIVEKIT_API_KEY` /
//! `LIVEKIT_API_SECRET` / `LIVEKIT_ROOM` ([`StreamTestConfig::for_target`]) < the config
//! JSON file ([`StreamTestConfig::overlay_file`]) < the request's own values (the CLI's
//! flags, the Tests screen's form). [`StreamTestConfig::validate`] refuses a run that
//! could not measure anything before anything runs.

use super::{DEFAULT_PHRASES, StreamTestError, Suite};
use greenroom_livekit::room_service::Target;
use greenroom_rooms::participant::{IceTransport, NetworkConditions};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Everything a run needs. `api_secret` is never serialised, nor shown by `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamTestConfig {
    pub livekit_url: String,
    pub api_key: String,
    #[serde(skip_serializing)]
    pub api_secret: String,
    pub room_name: String,
    pub duration_seconds: Option<f64>,
    pub packets: Option<u32>,
    pub interval_ms: Option<u32>,
    pub publishers: u32,
    pub subscribers: u32,
    pub network: NetworkConditions,
    /// The ICE candidates our participants offer (`auto`: UDP, falling back to TCP).
    pub transport: IceTransport,
    pub phrases: Vec<String>,
    /// espeak-ng voice for `basic`.
    pub voice: String,
}

impl Default for StreamTestConfig {
    fn default() -> Self {
        Self {
            livekit_url: "ws://127.0.0.1:7880".into(),
            api_key: "devkey".into(),
            api_secret: "secret".into(),
            room_name: "greenroom-stream-test".into(),
            duration_seconds: None,
            packets: None,
            interval_ms: None,
            publishers: 2,
            subscribers: 2,
            network: NetworkConditions::default(),
            transport: IceTransport::Auto,
            phrases: DEFAULT_PHRASES.iter().map(|s| s.to_string()).collect(),
            voice: "fr".into(),
        }
    }
}

impl StreamTestConfig {
    /// Defaults with the server and keys of `target` (which already applied
    /// `LIVEKIT_URL` / `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET` over Settings) and the room
    /// `LIVEKIT_ROOM` if set.
    pub fn for_target(target: &Target, room: Option<String>) -> Self {
        let mut config = Self {
            livekit_url: target.url.clone(),
            api_key: target.api_key.clone(),
            api_secret: target.api_secret().to_owned(),
            ..Self::default()
        };
        if let Some(room) = room.filter(|r| !r.trim().is_empty()) {
            config.room_name = room.trim().to_string();
        }
        config
    }

    /// Overlays a JSON config file (only the keys it has). Errors name the file and line.
    pub fn overlay_file(&mut self, path: &std::path::Path) -> Result<(), StreamTestError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StreamTestError::Config(format!("{}: cannot read it: {e}", path.display()))
        })?;
        let file: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| {
                StreamTestError::Config(format!("{}:{}: {e}", path.display(), e.line()))
            })?;
        let file_has_secret = file.contains_key("api_secret");
        let mut merged = serde_json::to_value(&*self)
            .map_err(|e| StreamTestError::Config(format!("config: {e}")))?;
        if let Some(object) = merged.as_object_mut() {
            object.extend(file);
        }
        let secret = std::mem::take(&mut self.api_secret);
        let mut parsed: StreamTestConfig = serde_json::from_value(merged).map_err(|e| {
            StreamTestError::Config(format!(
                "{}: {e} (keys: livekit_url, api_key, api_secret, room_name, duration_seconds, packets, interval_ms, publishers, subscribers, network {{loss, latency_ms, jitter_ms, block_udp}}, transport (auto, udp, tcp), phrases, voice)",
                path.display()
            ))
        })?;
        if !file_has_secret {
            // The secret is never serialised, so it did not go through the merge.
            parsed.api_secret = secret;
        }
        *self = parsed;
        Ok(())
    }

    /// Twice the most our injected conditions hold a packet back (there and back).
    pub(crate) fn network_delay(&self) -> Duration {
        Duration::from_millis(u64::from(self.network.latency_ms + self.network.jitter_ms) * 2)
    }

    /// Checks the values make a run; errors name the flag or key.
    pub fn validate(&self, suite: Suite) -> Result<(), StreamTestError> {
        let bad = |m: String| Err(StreamTestError::Config(m));
        if !(0.0..=1.0).contains(&self.network.loss) {
            return bad(format!(
                "network.loss is {}: give a share between 0 and 1",
                self.network.loss
            ));
        }
        if self.network.block_udp && self.transport == IceTransport::Udp {
            return bad(
                "UDP is blocked and the transport is udp: nothing could connect; use --transport auto or tcp"
                    .into(),
            );
        }
        if self.packets == Some(0) {
            return bad("--packets must be at least 1".into());
        }
        if self.interval_ms.is_some_and(|i| i < 20) {
            return bad("--interval must be at least 20 ms (one audio frame)".into());
        }
        if self
            .duration_seconds
            .is_some_and(|d| !(d > 0.0 && d <= 3600.0))
        {
            return bad("--duration must be between 0 and 3600 seconds".into());
        }
        if suite == Suite::Load
            && (self.publishers == 0
                || self.subscribers == 0
                || self
                    .publishers
                    .checked_mul(self.subscribers)
                    .is_none_or(|streams| streams > 400))
        {
            return bad(format!(
                "load needs 1..=400 streams (publishers × subscribers), not {} × {}",
                self.publishers, self.subscribers
            ));
        }
        if suite == Suite::Basic && self.phrases.is_empty() {
            return bad("basic needs at least one phrase".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for StreamTestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = shown.as_object_mut() {
            o.insert("api_secret".into(), "••••".into());
        }
        write!(f, "StreamTestConfig {shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_overrides_only_its_keys_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"room_name": "test_coaching_vocal", "packets": 7, "network": {"loss": 0.1, "latency_ms": 5, "jitter_ms": 0}}"#).unwrap();
        let mut config = StreamTestConfig {
            api_secret: "from-the-environment".into(),
            ..Default::default()
        };
        config.overlay_file(&path).unwrap();
        assert_eq!(config.room_name, "test_coaching_vocal");
        assert_eq!(config.packets, Some(7));
        assert_eq!(config.network.loss, 0.1);
        assert_eq!(
            config.api_secret, "from-the-environment",
            "a file without a secret keeps ours"
        );
        assert_eq!(config.livekit_url, "ws://127.0.0.1:7880");

        std::fs::write(&path, "{\n  \"packets\": 3,\n  \"packets\" 4\n}").unwrap();
        let e = config.overlay_file(&path).unwrap_err().to_string();
        assert!(e.contains("config.json:3"), "{e}");
        std::fs::write(&path, r#"{"pakets": 3}"#).unwrap();
        let e = config.overlay_file(&path).unwrap_err().to_string();
        assert!(e.contains("pakets") && e.contains("keys:"), "{e}");
        assert_eq!(config.packets, Some(7), "a bad file changes nothing");
    }

    /// Issue 13.13: `publishers × subscribers` overflowed u32 (a panic in debug builds,
    /// a wrapped small number that passed the check in release builds).
    #[test]
    fn huge_stream_counts_are_refused_not_overflowed() {
        let config = StreamTestConfig {
            publishers: 65_536,
            subscribers: 65_536,
            ..Default::default()
        };
        let e = config.validate(Suite::Load).unwrap_err().to_string();
        assert!(e.contains("65536 × 65536"), "{e}");
        let fine = StreamTestConfig {
            publishers: 20,
            subscribers: 20,
            ..Default::default()
        };
        assert!(fine.validate(Suite::Load).is_ok());
    }

    #[test]
    fn the_secret_is_never_serialised_nor_debug_printed() {
        let config = StreamTestConfig {
            api_secret: "s3cr3t-value".into(),
            ..Default::default()
        };
        assert!(!serde_json::to_string(&config).unwrap().contains("s3cr3t"));
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_values_are_refused_before_anything_runs() {
        let config = |f: fn(&mut StreamTestConfig)| {
            let mut c = StreamTestConfig::default();
            f(&mut c);
            c
        };
        assert!(
            config(|c| c.network.loss = 1.5)
                .validate(Suite::Stress)
                .unwrap_err()
                .to_string()
                .contains("loss")
        );
        assert!(
            config(|c| c.packets = Some(0))
                .validate(Suite::Latency)
                .is_err()
        );
        assert!(
            config(|c| c.interval_ms = Some(5))
                .validate(Suite::Stress)
                .unwrap_err()
                .to_string()
                .contains("20 ms")
        );
        assert!(config(|c| c.publishers = 0).validate(Suite::Load).is_err());
        assert!(
            config(|c| c.phrases.clear())
                .validate(Suite::Basic)
                .is_err()
        );
        assert!(StreamTestConfig::default().validate(Suite::Load).is_ok());
    }
}
