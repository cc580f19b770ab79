//! LiveKit access tokens.
//!
//! A token is a JWT signed with HS256 by the API secret, whose claims are: `iss` = the API
//! key, `sub` = the participant identity, `name`, `nbf` / `exp` (seconds since the epoch),
//! `metadata` (a string), and `video` — the grants, in LiveKit's camelCase
//! (`roomJoin`, `room`, `canPublish`, `canSubscribe`, `canPublishData`, `roomAdmin`,
//! `roomCreate`, `roomList`, `agent`, `hidden`), and `roomConfig` — what the room gets if
//! this participant's join creates it (`metadata`, and `agents` to dispatch:
//! `[{agentName, metadata}]`). The secret never appears in an error.
//!
//! This is Greenroom's one minter: the token service, the room service's calls, the CLI's
//! `greenroom token` and every test sign through [`mint`].

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

/// LiveKit's video grants (the subset Greenroom uses; unknown grants are not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_join: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_subscribe: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish_data: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_admin: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_create: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub room_list: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl VideoGrants {
    /// Join `room`, publish, subscribe and send data: what a learner's app gets.
    pub fn participant(room: &str) -> Self {
        Self {
            room: Some(room.to_owned()),
            room_join: true,
            can_publish: Some(true),
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            ..Default::default()
        }
    }
}

/// An agent to dispatch to the room when it is created by this token's join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentDispatch {
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
}

/// The room's configuration if the token's join creates it (LiveKit's `RoomConfiguration`,
/// the fields Greenroom sets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentDispatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub nbf: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub video: VideoGrants,
    #[serde(
        default,
        rename = "roomConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub room_config: Option<RoomConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the API key is empty; set LIVEKIT_API_KEY (the sandbox uses `devkey`)")]
    NoKey,
    #[error("the API secret is empty; set LIVEKIT_API_SECRET (the sandbox uses `secret`)")]
    NoSecret,
    #[error("the identity is empty: every participant needs one")]
    NoIdentity,
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token's signature does not match this API secret")]
    BadSignature,
}

impl greenroom_core::Classified for TokenError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        // Every token failure is in what the caller gave: keys, identity or the token.
        greenroom_core::ErrorKind::InvalidInput
    }
}

pub struct TokenRequest<'a> {
    pub api_key: &'a str,
    pub api_secret: &'a str,
    pub identity: &'a str,
    pub name: Option<&'a str>,
    pub metadata: Option<&'a str>,
    pub grants: VideoGrants,
    pub ttl_seconds: u64,
    pub room_config: Option<RoomConfig>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(secret: &str, message: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn mint(request: &TokenRequest<'_>) -> Result<String, TokenError> {
    if request.api_key.is_empty() {
        return Err(TokenError::NoKey);
    }
    if request.api_secret.is_empty() {
        return Err(TokenError::NoSecret);
    }
    if request.identity.is_empty() {
        return Err(TokenError::NoIdentity);
    }
    let issued = greenroom_core::unix_seconds();
    let claims = Claims {
        iss: request.api_key.to_owned(),
        sub: request.identity.to_owned(),
        name: request.name.map(str::to_owned),
        nbf: issued.saturating_sub(10),
        exp: issued + request.ttl_seconds,
        metadata: request.metadata.map(str::to_owned),
        video: request.grants.clone(),
        room_config: request.room_config.clone(),
    };
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload =
        b64(&serde_json::to_vec(&claims).map_err(|e| TokenError::Malformed(e.to_string()))?);
    let signing_input = format!("{header}.{payload}");
    let signature = b64(&sign(request.api_secret, &signing_input));
    Ok(format!("{signing_input}.{signature}"))
}

/// The claims of a token, without checking its signature: to tell whether a token found in
/// a file is a LiveKit token and when it expires. Never trust these claims otherwise.
pub fn decode_unverified(token: &str) -> Result<Claims, TokenError> {
    let payload = token
        .split('.')
        .nth(1)
        .filter(|_| token.split('.').count() == 3)
        .ok_or_else(|| TokenError::Malformed("a JWT has three dot-separated parts".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| TokenError::Malformed(format!("payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::Malformed(format!("payload is not LiveKit claims: {e}")))
}

/// Checks the signature and returns the claims (expiry is the caller's business).
pub fn verify(token: &str, api_secret: &str) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "a JWT has three dot-separated parts".into(),
        ));
    };
    let expected = b64(&sign(api_secret, &format!("{header}.{payload}")));
    if expected != signature {
        return Err(TokenError::BadSignature);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| TokenError::Malformed(format!("payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::Malformed(format!("payload is not LiveKit claims: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(grants: VideoGrants) -> TokenRequest<'static> {
        TokenRequest {
            api_key: "devkey",
            api_secret: "secret",
            identity: "learner-1",
            name: Some("Léa"),
            metadata: Some(r#"{"exercise":"cosmic"}"#),
            grants,
            ttl_seconds: 600,
            room_config: None,
        }
    }

    #[test]
    fn mints_a_verifiable_token_with_camel_case_grants() {
        let token = mint(&request(VideoGrants::participant("marie"))).unwrap();
        let claims = verify(&token, "secret").unwrap();
        assert_eq!(
            (claims.iss.as_str(), claims.sub.as_str()),
            ("devkey", "learner-1")
        );
        assert_eq!(claims.video.room.as_deref(), Some("marie"));
        assert!(claims.exp > claims.nbf);
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert!(
            json.contains(r#""roomJoin":true"#) && json.contains(r#""canPublish":true"#),
            "{json}"
        );
        assert_eq!(verify(&token, "other"), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_empty_inputs_without_echoing_the_secret() {
        let mut r = request(VideoGrants::default());
        r.api_secret = "";
        assert_eq!(mint(&r), Err(TokenError::NoSecret));
        let mut r = request(VideoGrants::default());
        r.identity = "";
        assert_eq!(mint(&r), Err(TokenError::NoIdentity));
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(s in "\\PC{0,200}") {
            let _ = verify(&s, "secret");
        }
    }
}
