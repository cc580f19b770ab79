//! Running one probe, with a deadline, and saying what it found.
//!
//! | type        | healthy when |
//! |-------------|--------------|
//! | `http`      | the status is `expect_status` (default: any 2xx or 3xx), the body contains `body_contains`, and the JSON value at `json_field` (dotted path) equals `json_equals` (compared as text) |
//! | `tcp`       | a TCP connection opens |
//! | `websocket` | the WebSocket handshake completes, or the server answers it with an HTTP status below 500 (LiveKit answers 401 without a token: it is up) |
//! | `redis`     | `PING` gets `+PONG`, or `-NOAUTH` (up, but password-protected) |
//! | `command`   | the command exits with 0 |
//! | `log`       | the service printed a line matching `pattern` since it started |
//! | `compose`   | `docker inspect` reports the service's container healthy (or running, when it has no healthcheck); a failure quotes the last healthcheck's output |
//!
//! Every probe ends within its timeout; a probe that runs out of time is a failure that
//! says so. The response time is measured around the probe itself.

use crate::manifest::ProbeCheck;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, TS)]
pub struct ProbeSample {
    pub ok: bool,
    pub latency_ms: f64,
    #[ts(type = "number")]
    pub at_ms: u64,
    pub detail: String,
}

/// What some probes need besides their own fields.
#[derive(Debug, Clone, Default)]
pub struct ProbeContext {
    /// `log`: whether the pattern was seen since the service started.
    pub log_matched: bool,
    /// `compose`: the files, project and service.
    pub compose: Option<(Vec<PathBuf>, String, String)>,
    /// `command`: where to run it.
    pub cwd: Option<PathBuf>,
}

pub async fn run(check: &ProbeCheck, timeout: Duration, ctx: &ProbeContext) -> ProbeSample {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, probe(check, ctx)).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (ok, detail) = match result {
        Ok(Ok(detail)) => (true, detail),
        Ok(Err(detail)) => (false, detail),
        Err(_) => (
            false,
            format!("no answer within {} ms", timeout.as_millis()),
        ),
    };
    ProbeSample {
        ok,
        latency_ms: (latency_ms * 100.0).round() / 100.0,
        at_ms: crate::logs::now_ms(),
        detail,
    }
}

async fn probe(check: &ProbeCheck, ctx: &ProbeContext) -> Result<String, String> {
    match check {
        ProbeCheck::Tcp { port, host } => tokio::net::TcpStream::connect((host.as_str(), *port))
            .await
            .map(|_| format!("{host}:{port} accepts connections"))
            .map_err(|e| format!("{host}:{port}: {e}")),
        ProbeCheck::Redis { port, host } => redis_ping(host, *port).await,
        ProbeCheck::Http {
            url,
            expect_status,
            body_contains,
            json_field,
            json_equals,
        } => {
            http(
                url,
                *expect_status,
                body_contains.as_deref(),
                json_field.as_deref(),
                json_equals.as_deref(),
            )
            .await
        }
        ProbeCheck::Websocket { url } => websocket(url).await,
        ProbeCheck::Command { command } => {
            let (program, args) = command.split_first().ok_or("the probe command is empty")?;
            let mut c = tokio::process::Command::new(program);
            greenroom_core::console::no_console_window(c.as_std_mut());
            c.args(args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            if let Some(cwd) = &ctx.cwd {
                c.current_dir(cwd);
            }
            let out = c
                .output()
                .await
                .map_err(|e| format!("cannot run {program}: {e}"))?;
            if out.status.success() {
                Ok(format!("{program} exited with 0"))
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                Err(format!(
                    "{program} exited with {}: {}",
                    out.status,
                    stderr.lines().next().unwrap_or("").trim()
                ))
            }
        }
        ProbeCheck::Log { pattern } => {
            if ctx.log_matched {
                Ok(format!("printed a line matching /{pattern}/"))
            } else {
                Err(format!("has not printed a line matching /{pattern}/ yet"))
            }
        }
        ProbeCheck::Compose {} => compose_health(ctx).await,
    }
}

async fn redis_ping(host: &str, port: u16) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .await
        .map_err(|e| format!("cannot send PING: {e}"))?;
    let mut buf = [0u8; 128];
    let n = stream
        .read(&mut buf)
        .await
        .map_err(|e| format!("no answer to PING: {e}"))?;
    let answer = String::from_utf8_lossy(&buf[..n]);
    if answer.starts_with("+PONG") {
        Ok("PONG".into())
    } else if answer.starts_with("-NOAUTH") {
        Ok("answers, and requires a password".into())
    } else {
        Err(format!("answered PING with {}", answer.trim()))
    }
}

async fn http(
    url: &str,
    expect_status: Option<u16>,
    body_contains: Option<&str>,
    json_field: Option<&str>,
    json_equals: Option<&str>,
) -> Result<String, String> {
    let client = http_client();
    let response = client.get(url).send().await.map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        format!("GET {url}: {text}")
    })?;
    let status = response.status().as_u16();
    let status_ok = match expect_status {
        Some(want) => status == want,
        None => (200..400).contains(&status),
    };
    if !status_ok {
        return Err(format!(
            "GET {url} answered {status}{}",
            expect_status
                .map(|w| format!(", expected {w}"))
                .unwrap_or_default()
        ));
    }
    if body_contains.is_none() && json_field.is_none() {
        return Ok(format!("answered {status}"));
    }
    let body = response
        .text()
        .await
        .map_err(|e| format!("GET {url}: cannot read the body: {e}"))?;
    if let Some(needle) = body_contains
        && !body.contains(needle)
    {
        return Err(format!("GET {url}: the body does not contain {needle:?}"));
    }
    if let Some(path) = json_field {
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {url}: the body is not JSON ({e})"))?;
        let value = path.split('.').try_fold(&json, |v, key| v.get(key));
        let text = match value {
            None => return Err(format!("GET {url}: no field `{path}` in the answer")),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if let Some(want) = json_equals
            && text != want
        {
            return Err(format!(
                "GET {url}: `{path}` is {text:?}, expected {want:?}"
            ));
        }
    }
    Ok(format!("answered {status}"))
}

fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default()
        })
        .clone()
}

async fn websocket(url: &str) -> Result<String, String> {
    use tokio_tungstenite::tungstenite::Error;
    match tokio_tungstenite::connect_async(url).await {
        Ok((mut socket, _)) => {
            let _ = socket.close(None).await;
            Ok("WebSocket handshake completed".into())
        }
        Err(Error::Http(response)) if response.status().as_u16() < 500 => Ok(format!(
            "answers the handshake with HTTP {}",
            response.status().as_u16()
        )),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

async fn compose_health(ctx: &ProbeContext) -> Result<String, String> {
    let (_, project, service) = ctx
        .compose
        .as_ref()
        .ok_or("no compose service to ask about")?;
    let id = crate::docker::container_of(project, service)
        .await
        .map_err(|e| e.explain(service))?
        .ok_or("it has no container")?;
    let c = crate::docker::inspect(&id)
        .await
        .map_err(|e| e.explain(service))?
        .ok_or("its container is gone")?;
    let last_check = |c: &crate::docker::ContainerState| {
        c.health_output
            .as_deref()
            .map(|o| format!(" (last check: {o})"))
            .unwrap_or_default()
    };
    match (c.status.as_str(), c.health.as_deref()) {
        ("running", Some("healthy")) => Ok("docker reports it healthy".into()),
        ("running", None) => Ok("running (no healthcheck)".into()),
        ("running", Some(h)) => Err(format!("docker reports it {h}{}", last_check(&c))),
        (s, _) => Err(format!(
            "docker reports it {s}{}",
            if s == "exited" {
                format!(" (code {})", c.exit_code)
            } else {
                String::new()
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_probe_of_a_listener_and_of_a_closed_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ok = run(
            &ProbeCheck::Tcp {
                port,
                host: "127.0.0.1".into(),
            },
            Duration::from_secs(1),
            &ProbeContext::default(),
        )
        .await;
        assert!(ok.ok, "{}", ok.detail);
        drop(listener);
        let closed = run(
            &ProbeCheck::Tcp {
                port,
                host: "127.0.0.1".into(),
            },
            Duration::from_secs(1),
            &ProbeContext::default(),
        )
        .await;
        assert!(!closed.ok);
    }

    #[tokio::test]
    async fn http_probe_checks_status_body_and_json() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = r#"{"status":{"db":"ok"},"up":true}"#;
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        let check = |json_equals: &str| ProbeCheck::Http {
            url: url.clone(),
            expect_status: Some(200),
            body_contains: Some("up".into()),
            json_field: Some("status.db".into()),
            json_equals: Some(json_equals.into()),
        };
        let ctx = ProbeContext::default();
        assert!(run(&check("ok"), Duration::from_secs(2), &ctx).await.ok);
        let wrong = run(&check("down"), Duration::from_secs(2), &ctx).await;
        assert!(
            !wrong.ok && wrong.detail.contains("expected \"down\""),
            "{}",
            wrong.detail
        );
    }

    #[tokio::test]
    async fn a_probe_that_hangs_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, never answers PING.
        tokio::spawn(async move {
            let _held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let sample = run(
            &ProbeCheck::Redis {
                port,
                host: "127.0.0.1".into(),
            },
            Duration::from_millis(200),
            &ProbeContext::default(),
        )
        .await;
        assert!(!sample.ok);
        assert!(
            sample.detail.contains("no answer within 200 ms"),
            "{}",
            sample.detail
        );
    }
}
