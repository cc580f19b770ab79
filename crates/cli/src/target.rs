//! Where a command runs: in this process ([`Target::Local`]) or in the Greenroom process
//! that already supervises the stack ([`Target::Remote`], see `greenroom_api::control`).
//!
//! Every command that the API offers goes through [`Target::call`] with a typed
//! [`Request`]: locally it is [`Api::dispatch`], remotely the same request as JSON on the
//! control endpoint. No command is named by a string here.

use greenroom_api::control::ControlEndpoint;
use greenroom_api::{Api, ApiError, Request};
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub enum Target {
    Local(Arc<Api>),
    /// The other process, and this one's API for when that process ends meanwhile.
    Remote(ControlEndpoint, Arc<Api>),
}

impl Target {
    /// The supervising Greenroom when another process supervises `api`'s stack, else `api`.
    pub async fn for_stack(api: Arc<Api>) -> Result<Target, ApiError> {
        Ok(match api.remote_supervisor().await? {
            Some(endpoint) => Target::Remote(endpoint, api),
            None => Target::Local(api),
        })
    }

    /// The other process's endpoint, when the command runs there.
    pub fn remote(&self) -> Option<&ControlEndpoint> {
        match self {
            Target::Remote(endpoint, _) => Some(endpoint),
            Target::Local(_) => None,
        }
    }

    /// Runs `request` where this target is and decodes its result.
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, ApiError> {
        let value = match self {
            Target::Local(api) => api.dispatch(request).await?,
            Target::Remote(endpoint, api) => {
                match greenroom_api::control::call(endpoint, &request).await {
                    Ok(value) => value,
                    // It ended between being found and being asked (a supervisor whose
                    // stack just stopped): the command runs here.
                    Err(_)
                        if !greenroom_stack::process::is_ours(
                            endpoint.pid,
                            endpoint.start_time,
                        ) =>
                    {
                        api.dispatch(request).await?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        serde_json::from_value(value)
            .map_err(|e| ApiError::internal(format!("unexpected answer from Greenroom's API: {e}")))
    }
}
