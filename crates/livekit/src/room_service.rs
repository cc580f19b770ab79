//! LiveKit's room service (through `livekit-api`), and tokens with agent dispatch
//! (signed by [`crate::token::mint`], the one minter).
//!
//! **Which server** ([`Target::resolve`]), first match wins, per field: the environment
//! (`LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`, as the team's tools read them),
//! then what the caller passes from Greenroom's settings, then the sandbox's
//! `livekit-server --dev` (`ws://127.0.0.1:7880`, `devkey` / `secret`). The secret is never
//! printed, logged or put in an error.
//!
//! Every call has a timeout ([`CALL_TIMEOUT`]); an unreachable server, a wrong key or
//! secret, or a room that does not exist each gets a message that says which and what to do.

use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use ts_rs::TS;

pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
pub const SANDBOX_URL: &str = "ws://127.0.0.1:7880";
pub const SANDBOX_KEY: &str = "devkey";
pub const SANDBOX_SECRET: &str = "secret";

/// A LiveKit server and its credentials.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub api_key: String,
    pub(crate) api_secret: String,
    /// Where each value came from (`LIVEKIT_URL`, `settings`, `sandbox`), for messages.
    pub origin: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"••••••")
            .finish()
    }
}

impl Target {
    /// `settings`: (url, key, secret) from Greenroom's settings, each optional.
    pub fn resolve(settings: (Option<String>, Option<String>, Option<String>)) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let pick = |var: &str, from_settings: Option<String>, sandbox: &str| match (
            env(var),
            from_settings,
        ) {
            (Some(v), _) => (v, var.to_owned()),
            (None, Some(v)) => (v, "settings".to_owned()),
            (None, None) => (sandbox.to_owned(), "sandbox".to_owned()),
        };
        let (url, u) = pick("LIVEKIT_URL", settings.0, SANDBOX_URL);
        let (api_key, k) = pick("LIVEKIT_API_KEY", settings.1, SANDBOX_KEY);
        let (api_secret, s) = pick("LIVEKIT_API_SECRET", settings.2, SANDBOX_SECRET);
        Self {
            url,
            api_key,
            api_secret,
            origin: format!("url from {u}, key from {k}, secret from {s}"),
        }
    }

    pub fn new(url: &str, api_key: &str, api_secret: &str) -> Self {
        Self {
            url: url.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            origin: "given".into(),
        }
    }

    /// The API secret, for signing: never print, log or serialise it.
    pub fn api_secret(&self) -> &str {
        &self.api_secret
    }

    /// The room service's base URL: `ws://` → `http://`, `wss://` → `https://`.
    pub fn http_url(&self) -> String {
        if let Some(rest) = self.url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else if let Some(rest) = self.url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else {
            self.url.clone()
        }
    }

    fn client(&self) -> RoomClient {
        RoomClient::with_api_key(&self.http_url(), &self.api_key, &self.api_secret)
            .with_request_timeout(CALL_TIMEOUT)
    }
}

/// Why a room-service call failed. Each message says which call (`what`), the server's
/// URL where it matters, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomsError {
    #[error("{0}")]
    InvalidInput(String),
    #[error(
        "{what}: no LiveKit server answers at {url}: start the stack (greenroom up) or check LIVEKIT_URL"
    )]
    NoServer { what: String, url: String },
    #[error("{what}: {url} cannot be reached: {reason}")]
    Unreachable {
        what: String,
        url: String,
        reason: String,
    },
    #[error("{what}: no answer from {url} within {seconds} s")]
    Timeout {
        what: String,
        url: String,
        seconds: u64,
    },
    #[error(
        "{what}: the server refused the API key or secret: check LIVEKIT_API_KEY / LIVEKIT_API_SECRET (or Settings)"
    )]
    Refused { what: String },
    #[error("{what}: {url} is not a LiveKit server (no room service there)")]
    NotLiveKit { what: String, url: String },
    #[error("{what}: it does not exist (any more)")]
    NotFound { what: String },
    /// The server's own words, tokens redacted (it may quote the request's token back).
    #[error("{what}: the server answered: {answer}")]
    Server { what: String, answer: String },
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

impl greenroom_core::Classified for RoomsError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        use greenroom_core::ErrorKind;
        match self {
            RoomsError::InvalidInput(_) => ErrorKind::InvalidInput,
            RoomsError::NotFound { .. } => ErrorKind::NotFound,
            RoomsError::Signing(_) => ErrorKind::Internal,
            RoomsError::NoServer { .. }
            | RoomsError::Unreachable { .. }
            | RoomsError::Timeout { .. }
            | RoomsError::Refused { .. }
            | RoomsError::NotLiveKit { .. }
            | RoomsError::Server { .. } => ErrorKind::Unavailable,
        }
    }
}

/// What the server says to one request of ours: `livekit-api` cannot decode LiveKit's
/// plain-text error answers (a 401 is "error decoding response body"), so on a failure we
/// ask once more ourselves and read the HTTP status.
async fn diagnose(target: &Target, what: &str) -> Option<RoomsError> {
    let jwt = crate::token::mint(&crate::token::TokenRequest {
        api_key: &target.api_key,
        api_secret: &target.api_secret,
        identity: "greenroom-diagnosis",
        name: None,
        metadata: None,
        grants: crate::token::VideoGrants {
            room_list: true,
            ..Default::default()
        },
        ttl_seconds: 60,
        room_config: None,
    })
    .ok()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .ok()?;
    let answer = client
        .post(format!(
            "{}/twirp/livekit.RoomService/ListRooms",
            target.http_url()
        ))
        .bearer_auth(jwt)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    let what = what.to_owned();
    let url = target.url.clone();
    Some(match answer {
        Err(e) if e.is_connect() || e.is_timeout() => RoomsError::NoServer { what, url },
        Err(e) => RoomsError::Unreachable {
            what,
            url,
            reason: e.to_string(),
        },
        Ok(r) if r.status().as_u16() == 401 => RoomsError::Refused { what },
        Ok(r) if r.status().as_u16() == 404 => RoomsError::NotLiveKit { what, url },
        Ok(_) => return None,
    })
}

async fn explain(
    target: &Target,
    what: &str,
    e: livekit_api::services::ServiceError,
) -> RoomsError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if (lower.contains("decoding response body")
        || lower.contains("error sending request")
        || lower.contains("connect"))
        && let Some(diagnosed) = diagnose(target, what).await
    {
        return diagnosed;
    }
    let what = what.to_owned();
    if lower.contains("401")
        || lower.contains("unauthenticated")
        || lower.contains("permission")
        || lower.contains("invalid token")
    {
        RoomsError::Refused { what }
    } else if lower.contains("not found") || lower.contains("404") {
        RoomsError::NotFound { what }
    } else if lower.contains("connect")
        || lower.contains("timed out")
        || lower.contains("timeout")
        || lower.contains("dns")
        || lower.contains("refused")
    {
        RoomsError::NoServer {
            what,
            url: target.url.clone(),
        }
    } else {
        // The server may quote the request's token back; it is a credential.
        RoomsError::Server {
            what,
            answer: greenroom_core::redact_tokens(&text),
        }
    }
}

async fn timed<T>(
    target: &Target,
    what: &str,
    f: impl std::future::Future<Output = livekit_api::services::ServiceResult<T>>,
) -> Result<T, RoomsError> {
    match tokio::time::timeout(CALL_TIMEOUT + Duration::from_secs(1), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(explain(target, what, e).await),
        Err(_) => Err(RoomsError::Timeout {
            what: what.to_owned(),
            url: target.url.clone(),
            seconds: CALL_TIMEOUT.as_secs(),
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoomInfo {
    pub name: String,
    pub sid: String,
    pub num_participants: u32,
    pub num_publishers: u32,
    /// The room's metadata (Eloquence puts the exercise type there).
    pub metadata: String,
    #[ts(type = "number")]
    pub created_at_ms: i64,
}

impl From<livekit_protocol::Room> for RoomInfo {
    /// Older servers fill only `creation_time` (seconds); newer ones `creation_time_ms`.
    fn from(r: livekit_protocol::Room) -> Self {
        RoomInfo {
            name: r.name,
            sid: r.sid,
            num_participants: r.num_participants,
            num_publishers: r.num_publishers,
            metadata: r.metadata,
            created_at_ms: if r.creation_time_ms > 0 {
                r.creation_time_ms
            } else {
                r.creation_time * 1000
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrackSummary {
    pub sid: String,
    pub name: String,
    /// `audio`, `video` or `data`.
    pub kind: String,
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ParticipantSummary {
    pub identity: String,
    pub name: String,
    pub sid: String,
    /// `joining`, `joined`, `active` or `disconnected`.
    pub state: String,
    /// `standard`, `agent`, `ingress`, `egress` or `sip`.
    pub kind: String,
    pub tracks: Vec<TrackSummary>,
    /// An agent's state (`lk.agent.state`: initializing, listening, thinking, speaking), when it says.
    pub agent_state: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

fn participant(p: livekit_protocol::ParticipantInfo) -> ParticipantSummary {
    let state = match p.state {
        0 => "joining",
        1 => "joined",
        2 => "active",
        _ => "disconnected",
    };
    let kind = match p.kind {
        1 => "ingress",
        2 => "egress",
        3 => "sip",
        4 => "agent",
        _ => "standard",
    };
    let attributes: BTreeMap<String, String> = p.attributes.into_iter().collect();
    ParticipantSummary {
        identity: p.identity,
        name: p.name,
        sid: p.sid,
        state: state.into(),
        kind: kind.into(),
        tracks: p
            .tracks
            .into_iter()
            .map(|t| TrackSummary {
                sid: t.sid,
                name: t.name,
                kind: match t.r#type {
                    0 => "audio",
                    1 => "video",
                    _ => "data",
                }
                .into(),
                muted: t.muted,
            })
            .collect(),
        agent_state: attributes.get("lk.agent.state").cloned(),
        attributes,
    }
}

pub async fn list_rooms(target: &Target) -> Result<Vec<RoomInfo>, RoomsError> {
    let rooms = timed(
        target,
        "listing rooms",
        target.client().list_rooms(Vec::new()),
    )
    .await?;
    Ok(rooms.into_iter().map(RoomInfo::from).collect())
}

pub async fn create_room(
    target: &Target,
    name: &str,
    metadata: &str,
    empty_timeout: u32,
) -> Result<RoomInfo, RoomsError> {
    if name.trim().is_empty() {
        return Err(RoomsError::InvalidInput("a room needs a name".into()));
    }
    let options = CreateRoomOptions {
        empty_timeout,
        metadata: metadata.to_owned(),
        ..Default::default()
    };
    let r = timed(
        target,
        &format!("creating room `{name}`"),
        target.client().create_room(name, options),
    )
    .await?;
    Ok(RoomInfo::from(r))
}

pub async fn delete_room(target: &Target, name: &str) -> Result<(), RoomsError> {
    timed(
        target,
        &format!("deleting room `{name}`"),
        target.client().delete_room(name),
    )
    .await
}

pub async fn update_room_metadata(
    target: &Target,
    name: &str,
    metadata: &str,
) -> Result<(), RoomsError> {
    timed(
        target,
        &format!("updating the metadata of `{name}`"),
        target.client().update_room_metadata(name, metadata),
    )
    .await
    .map(|_| ())
}

pub async fn list_participants(
    target: &Target,
    room: &str,
) -> Result<Vec<ParticipantSummary>, RoomsError> {
    let list = timed(
        target,
        &format!("listing the participants of `{room}`"),
        target.client().list_participants(room),
    )
    .await?;
    Ok(list.into_iter().map(participant).collect())
}

pub async fn remove_participant(
    target: &Target,
    room: &str,
    identity: &str,
) -> Result<(), RoomsError> {
    timed(
        target,
        &format!("removing `{identity}` from `{room}`"),
        target.client().remove_participant(room, identity),
    )
    .await
}

/// What a token allows, beyond joining its room.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    pub name: Option<String>,
    pub metadata: Option<String>,
    pub ttl: Option<Duration>,
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub can_publish_data: bool,
    pub room_admin: bool,
    pub hidden: bool,
    /// Agents to dispatch to the room when this participant joins: (agent name, metadata).
    pub agents: Vec<(String, String)>,
    /// The room's metadata if the token creates it (Eloquence: the exercise type).
    pub room_metadata: Option<String>,
}

impl TokenOptions {
    /// A participant that publishes, subscribes and sends data (what the SDKs' users get).
    pub fn participant() -> Self {
        Self {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true,
            ..Self::default()
        }
    }
}

/// A LiveKit access token for `identity` in `room`, with explicit agent dispatch and the
/// room's metadata when its join creates the room.
pub fn token(
    target: &Target,
    room: &str,
    identity: &str,
    options: &TokenOptions,
) -> Result<String, RoomsError> {
    if identity.trim().is_empty() || room.trim().is_empty() {
        return Err(RoomsError::InvalidInput(
            "a token needs a room and an identity".into(),
        ));
    }
    let grants = crate::token::VideoGrants {
        room: Some(room.to_owned()),
        room_join: true,
        can_publish: Some(options.can_publish),
        can_subscribe: Some(options.can_subscribe),
        can_publish_data: Some(options.can_publish_data),
        room_admin: options.room_admin,
        hidden: options.hidden,
        ..Default::default()
    };
    let room_config = (!options.agents.is_empty() || options.room_metadata.is_some()).then(|| {
        crate::token::RoomConfig {
            metadata: options.room_metadata.clone().unwrap_or_default(),
            agents: options
                .agents
                .iter()
                .map(|(agent_name, metadata)| crate::token::AgentDispatch {
                    agent_name: agent_name.clone(),
                    metadata: metadata.clone(),
                })
                .collect(),
        }
    });
    crate::token::mint(&crate::token::TokenRequest {
        api_key: &target.api_key,
        api_secret: &target.api_secret,
        identity,
        name: options.name.as_deref(),
        metadata: options.metadata.as_deref(),
        grants,
        ttl_seconds: options
            .ttl
            .unwrap_or(Duration::from_secs(6 * 3600))
            .as_secs(),
        room_config,
    })
    .map_err(|e| match e {
        crate::token::TokenError::NoKey | crate::token::TokenError::NoSecret => {
            RoomsError::InvalidInput(e.to_string())
        }
        other => RoomsError::Signing(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_a_secret_that_never_prints() {
        let t = Target::new("wss://lk.example.com", "k", "super-secret");
        assert_eq!(t.http_url(), "https://lk.example.com");
        assert_eq!(
            Target::new("ws://127.0.0.1:7880", "k", "s").http_url(),
            "http://127.0.0.1:7880"
        );
        assert!(!format!("{t:?}").contains("super-secret"));
    }

    #[test]
    fn tokens_carry_agent_dispatch_and_room_metadata() {
        let t = Target::new(SANDBOX_URL, "devkey", "secret");
        let jwt = token(
            &t,
            "marie",
            "learner",
            &TokenOptions {
                can_publish: true,
                can_subscribe: true,
                agents: vec![("marie-agent".into(), "{\"coach\":\"marie\"}".into())],
                room_metadata: Some("cosmic_voice".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let claims = crate::token::verify(&jwt, "secret").unwrap();
        assert_eq!(
            (claims.iss.as_str(), claims.sub.as_str()),
            ("devkey", "learner")
        );
        let payload: serde_json::Value = {
            use base64::Engine;
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(jwt.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            payload["roomConfig"]["agents"][0]["agentName"],
            "marie-agent"
        );
        assert_eq!(payload["roomConfig"]["metadata"], "cosmic_voice");
        assert!(token(&t, "", "x", &TokenOptions::default()).is_err());
    }
}
