//! Driving the Greenroom process that supervises the stack (see `greenroom_api::control`).

use greenroom_api::control::ControlEndpoint;
use greenroom_api::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;

pub async fn call<T: DeserializeOwned>(
    endpoint: &ControlEndpoint,
    command: &str,
    args: serde_json::Value,
) -> Result<T, ApiError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| ApiError::internal(format!("cannot make an HTTP client: {e}")))?;
    let response = client
        .post(format!("{}/api/call", endpoint.url))
        .bearer_auth(&endpoint.token)
        .json(&serde_json::json!({"command": command, "args": args}))
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
        serde_json::from_value(body).map_err(|e| {
            ApiError::internal(format!(
                "unexpected answer from the supervising Greenroom: {e}"
            ))
        })
    } else {
        Err(serde_json::from_value(body).unwrap_or_else(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "the supervising Greenroom refused the command",
            )
        }))
    }
}
