//! Where a command runs: in this process ([`Target::Local`]) or in the Greenroom process
//! that already supervises the stack ([`Target::Remote`], see `greenroom_api::control`).
//!
//! Every command that the API offers goes through [`Target::call`] with a typed
//! [`Request`]: locally it is [`Api::dispatch`], remotely the same request as JSON on the
//! control endpoint. No command is named by a string here.

use greenroom_api::control::ControlEndpoint;
use greenroom_api::{Api, ApiError, ErrorCode, Request};
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub enum Target {
    Local(Arc<Api>),
    Remote(ControlEndpoint),
}

impl Target {
    /// The supervising Greenroom when another process supervises `api`'s stack, else `api`.
    pub async fn for_stack(api: Arc<Api>) -> Result<Target, ApiError> {
        Ok(match api.remote_supervisor().await? {
            Some(endpoint) => Target::Remote(endpoint),
            None => Target::Local(api),
        })
    }

    /// The other process's endpoint, when the command runs there.
    pub fn remote(&self) -> Option<&ControlEndpoint> {
        match self {
            Target::Remote(endpoint) => Some(endpoint),
            Target::Local(_) => None,
        }
    }

    /// Runs `request` where this target is and decodes its result.
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, ApiError> {
        let value = match self {
            Target::Local(api) => api.dispatch(request).await?,
            Target::Remote(endpoint) => call_remote(endpoint, &request).await?,
        };
        serde_json::from_value(value)
            .map_err(|e| ApiError::internal(format!("unexpected answer from Greenroom's API: {e}")))
    }
}

async fn call_remote(
    endpoint: &ControlEndpoint,
    request: &Request,
) -> Result<serde_json::Value, ApiError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| ApiError::internal(format!("cannot make an HTTP client: {e}")))?;
    let response = client
        .post(format!("{}/api/call", endpoint.url))
        .bearer_auth(&endpoint.token)
        .json(request)
        .send()
        .await
        .map_err(|e| {
            ApiError::unavailable(format!(
                "the Greenroom that supervises this stack (PID {}) does not answer at {} ({e}); if it hangs, stop it and run the command again",
                endpoint.pid, endpoint.url
            ))
        })?;
    let ok = response.status().is_success();
    let body: serde_json::Value = response.json().await.map_err(|e| {
        ApiError::internal(format!(
            "unexpected answer from the supervising Greenroom: {e}"
        ))
    })?;
    if ok {
        Ok(body)
    } else {
        Err(serde_json::from_value(body).unwrap_or_else(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "the supervising Greenroom refused the command",
            )
        }))
    }
}
