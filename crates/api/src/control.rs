//! One process supervises a stack; others drive it.
//!
//! Built-in services run inside the process that supervises the stack, and only that
//! process restarts what crashes. So when a stack is supervised (by `greenroom up`,
//! `greenroom serve` or the desktop app), that process serves the API on a loopback
//! control endpoint and records it in `supervisor.json` beside the stack's state:
//! `{"pid": …, "start_time": …, "url": "http://127.0.0.1:PORT", "token": "…"}` (readable by
//! the user only: 0600 on Unix, an owner-only ACL on Windows). Any other `greenroom` command on the same stack finds it with
//! [`find`] and sends its command there (`POST /api/call` with the bearer token) instead of
//! acting itself. A record whose process is gone (or whose PID was reused) is ignored.
//!
//! One supervisor per stack: the process that supervises holds an OS lock on
//! `supervisor.lock` in the stack's state folder ([`SupervisorLock`]; `flock` on Unix,
//! `LockFileEx` on Windows) for as long as it supervises, so two processes that start at
//! once cannot both adopt the same services; the lock goes with the process, even killed.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlEndpoint {
    pub pid: u32,
    pub start_time: Option<u64>,
    pub url: String,
    pub token: String,
}

const FILE: &str = "supervisor.json";
const LOCK_FILE: &str = "supervisor.lock";

/// The stack's supervisor lock, held while this process supervises it (module docs).
#[derive(Debug)]
pub struct SupervisorLock {
    _file: std::fs::File,
}

/// Takes the supervisor lock of the stack in `stack_dir`: `Ok(None)` when another process
/// holds it.
pub fn try_lock(stack_dir: &Path) -> std::io::Result<Option<SupervisorLock>> {
    std::fs::create_dir_all(stack_dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(stack_dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(SupervisorLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

pub fn register(stack_dir: &Path, endpoint: &ControlEndpoint) -> std::io::Result<()> {
    let path = stack_dir.join(FILE);
    let text = serde_json::to_vec_pretty(endpoint).map_err(std::io::Error::other)?;
    crate::write_private_file(&path, &text)
}

/// Forgets this process as the supervisor of the stack in `stack_dir`, when the record names
/// it: it no longer supervises that stack (it switched to another, or stopped it), and
/// another `greenroom` must not relay that stack's commands here.
pub fn unregister(stack_dir: &Path) {
    let path = stack_dir.join(FILE);
    let ours = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<ControlEndpoint>(&t).ok())
        .is_some_and(|e| e.pid == std::process::id());
    if ours {
        let _ = std::fs::remove_file(&path);
    }
}

/// A token for a control endpoint or `greenroom serve` ([`greenroom_core::token`]).
pub fn new_token() -> std::io::Result<String> {
    greenroom_core::token::new_token()
}

/// The live supervisor of the stack in `stack_dir`, unless it is this process.
pub fn find(stack_dir: &Path) -> Option<ControlEndpoint> {
    let text = std::fs::read_to_string(stack_dir.join(FILE)).ok()?;
    let endpoint: ControlEndpoint = serde_json::from_str(&text).ok()?;
    (endpoint.pid != std::process::id()
        && greenroom_stack::process::is_ours(endpoint.pid, endpoint.start_time))
    .then_some(endpoint)
}

/// How long a relayed command may take: starting, stopping or repairing services can pull
/// images and wait out grace periods; anything else answers at once from a live supervisor.
pub fn answer_within(request: &crate::Request) -> std::time::Duration {
    use crate::Request as R;
    std::time::Duration::from_secs(match request {
        R::StackUp { .. }
        | R::StackDown {}
        | R::OtherStackDown { .. }
        | R::StackRepair { .. }
        | R::ServiceStart { .. }
        | R::ServiceStop { .. }
        | R::ServiceRestart { .. } => 30 * 60,
        _ => 30,
    })
}

/// Sends `request` to the supervisor at `endpoint` (`POST /api/call` with its bearer
/// token) and returns its answer: the command's result as JSON, or its error.
pub async fn call(
    endpoint: &ControlEndpoint,
    request: &crate::Request,
) -> Result<serde_json::Value, crate::ApiError> {
    call_within(endpoint, request, answer_within(request)).await
}

async fn call_within(
    endpoint: &ControlEndpoint,
    request: &crate::Request,
    within: std::time::Duration,
) -> Result<serde_json::Value, crate::ApiError> {
    use crate::{ApiError, ErrorCode};
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(within)
        .build()
        .map_err(|e| ApiError::internal(format!("cannot make an HTTP client: {e}")))?;
    let response = client
        .post(format!("{}/api/call", endpoint.url))
        .bearer_auth(&endpoint.token)
        .json(request)
        .send()
        .await
        .map_err(|e| {
            let what = if e.is_timeout() {
                format!("did not answer within {} s", within.as_secs())
            } else {
                format!("does not answer at {} ({e})", endpoint.url)
            };
            ApiError::unavailable(format!(
                "the Greenroom that supervises this stack (PID {}) {what}; if it hangs, stop it (PID {}) and run the command again",
                endpoint.pid, endpoint.pid
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_of_this_process_or_a_dead_one_is_not_a_remote_supervisor() {
        let dir = tempfile::tempdir().unwrap();
        let me = ControlEndpoint {
            pid: std::process::id(),
            start_time: greenroom_stack::process::start_time(std::process::id()),
            url: "http://127.0.0.1:1".into(),
            token: new_token().unwrap(),
        };
        register(dir.path(), &me).unwrap();
        assert_eq!(find(dir.path()), None, "this process is not remote");
        let gone = ControlEndpoint {
            pid: u32::MAX - 7,
            ..me.clone()
        };
        register(dir.path(), &gone).unwrap();
        assert_eq!(find(dir.path()), None, "a dead process is not a supervisor");
    }

    /// Issue 13.14: a wedged supervisor (it accepts, never answers) hung every command.
    #[tokio::test]
    async fn a_supervisor_that_never_answers_is_a_clear_error_not_a_hang() {
        let wedged = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = ControlEndpoint {
            pid: 4242,
            start_time: None,
            url: format!("http://{}", wedged.local_addr().unwrap()),
            token: "t".repeat(64),
        };
        let err = call_within(
            &endpoint,
            &crate::Request::StackStatus {},
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(
            err.message.contains("did not answer within 1 s"),
            "{}",
            err.message
        );
        assert!(err.message.contains("4242"));
        assert_eq!(
            answer_within(&crate::Request::StackStatus {}),
            std::time::Duration::from_secs(30)
        );
        drop(wedged);
    }
}
