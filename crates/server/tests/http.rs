//! The server on a real socket: commands, errors, events, and who may drive it (the token,
//! the host/origin guard, the headers that keep other pages out).

use futures_util::{SinkExt, StreamExt};
use greenroom_api::{Api, AppHome};
use greenroom_server::{Access, BroadcastSink, bind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn access(allowed_hosts: Vec<String>) -> Access {
    Access {
        token: TOKEN.into(),
        allowed_hosts,
        token_location: "/home/someone/.local/share/greenroom/serve-7870.json".into(),
    }
}

async fn start_on(addr: SocketAddr, access: Access) -> (tempfile::TempDir, SocketAddr) {
    let home = tempfile::tempdir().unwrap();
    let events = BroadcastSink::default();
    let api = Arc::new(Api::new(
        AppHome::at(home.path()),
        vec![],
        Arc::new(events.clone()),
    ));
    let server = bind(api, events, addr, access).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(std::future::pending()));
    (home, addr)
}

async fn start() -> (tempfile::TempDir, SocketAddr) {
    start_on("127.0.0.1:0".parse().unwrap(), access(vec![])).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const APP_INFO: &str = r#"{"command":"app_info","args":{}}"#;

#[tokio::test]
async fn commands_errors_and_events_over_http() {
    let (_home, addr) = start().await;
    let mut request = format!("ws://{addr}/api/events")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let client = client();
    let url = format!("http://{addr}/api/call");

    let ok = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"command": "update_settings", "args": {"patch": {"livekit_url": "ws://127.0.0.1:7999"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let view: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(view["livekit_url"], "ws://127.0.0.1:7999");

    // The event arrives on the WebSocket (poll with a deadline, never sleep).
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(envelope["topic"], "settings://changed");
    assert_eq!(envelope["event"]["kind"], "settings_changed");

    let bad = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"command": "update_settings", "args": {"patch": {"livekit_url": "nope"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let err: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(err["code"], "invalid_input");

    let garbage = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let err: serde_json::Value = garbage.json().await.unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a Greenroom command")
    );

    // A client that sends a huge message is cut off; the server lives on.
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        "x".repeat(1 << 20),
    ))
    .await
    .ok();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(m)) if m.is_close() => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(ended);
    let health = client
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn without_the_token_nothing_but_health_answers() {
    let (_home, addr) = start().await;
    let client = client();
    let url = format!("http://{addr}/api/call");
    let json =
        |r: reqwest::RequestBuilder| r.header("content-type", "application/json").body(APP_INFO);
    let missing = json(client.post(&url)).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let err: serde_json::Value = missing.json().await.unwrap();
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("?token=") && message.contains("serve-7870.json"),
        "the refusal says where the token is: {message}"
    );
    let wrong = json(client.post(&url).bearer_auth(&TOKEN[1..]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let other_port_cookie = json(
        client
            .post(&url)
            .header("cookie", format!("greenroom-token-1={TOKEN}")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(other_port_cookie.status(), 401);
    let events = tokio_tungstenite::connect_async(format!("ws://{addr}/api/events")).await;
    assert!(events.is_err(), "the event stream needs the token too");
    let health = client
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let page = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(page.status(), 401);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("?token=") && text.contains("serve-7870.json"),
        "{text}"
    );
}

#[tokio::test]
async fn the_browser_trades_the_token_for_a_strict_http_only_cookie() {
    let (_home, addr) = start().await;
    let client = client();
    let traded = client
        .get(format!("http://{addr}/stack?token={TOKEN}&tab=logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(traded.status(), 303);
    assert_eq!(
        traded.headers()["location"],
        "/stack?tab=logs",
        "the token leaves the address bar"
    );
    let cookie = traded.headers()["set-cookie"].to_str().unwrap().to_owned();
    let port = addr.port();
    assert!(
        cookie.starts_with(&format!("greenroom-token-{port}={TOKEN};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    let page = client
        .get(format!("http://{addr}/stack?tab=logs"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 401, "the cookie opens the UI");
    let call = client
        .post(format!("http://{addr}/api/call"))
        .header("cookie", &pair)
        .header("content-type", "application/json")
        .header("origin", format!("http://{addr}"))
        .header("sec-fetch-site", "same-origin")
        .body(APP_INFO)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);

    let bad = client
        .get(format!("http://{addr}/?token=guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn foreign_hosts_origins_sites_and_forms_are_refused() {
    let (_home, addr) = start().await;
    let client = client();
    let health = format!("http://{addr}/api/health");
    let call = format!("http://{addr}/api/call");
    assert_eq!(client.get(&health).send().await.unwrap().status(), 200);
    let rebound = client
        .get(&health)
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let rebound_with_token = client
        .post(&call)
        .bearer_auth(TOKEN)
        .header("Host", format!("evil.example:{}", addr.port()))
        .header("content-type", "application/json")
        .body(APP_INFO)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound_with_token.status(), 403);
    let cross_origin = client
        .post(&call)
        .bearer_auth(TOKEN)
        .header("Origin", "http://evil.example")
        .header("content-type", "application/json")
        .body(APP_INFO)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_origin.status(), 403);
    let cross_site = client
        .post(&call)
        .bearer_auth(TOKEN)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/json")
        .body(APP_INFO)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // What an HTML form can send is not JSON.
    let form = client
        .post(&call)
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body(APP_INFO)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
}

#[tokio::test]
async fn every_answer_forbids_framing_and_sniffing() {
    let (_home, addr) = start().await;
    let client = client();
    for url in [
        format!("http://{addr}/api/health"),
        format!("http://{addr}/"),
        format!("http://{addr}/api/call"),
    ] {
        let answer = client.get(&url).send().await.unwrap();
        let headers = answer.headers();
        assert_eq!(
            headers["content-security-policy"],
            greenroom_server::CONTENT_SECURITY_POLICY,
            "{url}"
        );
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{url}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{url}");
    }
}

#[tokio::test]
async fn off_loopback_the_checks_stay_on() {
    let (_home, addr) = start_on(
        "0.0.0.0:0".parse().unwrap(),
        access(vec!["devbox.lan".into()]),
    )
    .await;
    let port = addr.port();
    let client = client();
    let call = format!("http://127.0.0.1:{port}/api/call");
    let send = |host: String, token: Option<&str>| {
        let mut r = client
            .post(&call)
            .header("Host", host)
            .header("content-type", "application/json")
            .body(APP_INFO);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        send(format!("rebind.attacker.example:{port}"), Some(TOKEN))
            .await
            .unwrap()
            .status(),
        403,
        "a DNS name not allowed is refused off loopback too"
    );
    assert_eq!(
        send(format!("10.1.2.3:{port}"), None)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send(format!("10.1.2.3:{port}"), Some(TOKEN))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(format!("devbox.lan:{port}"), Some(TOKEN))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_weak_or_missing_token_is_refused_at_bind() {
    let home = tempfile::tempdir().unwrap();
    let events = BroadcastSink::default();
    let api = Arc::new(Api::new(
        AppHome::at(home.path()),
        vec![],
        Arc::new(events.clone()),
    ));
    let mut weak = access(vec![]);
    weak.token = String::new();
    let err = bind(api, events, "0.0.0.0:0".parse().unwrap(), weak)
        .await
        .err()
        .expect("no token, no server");
    assert!(
        matches!(err, greenroom_server::BindError::WeakToken),
        "{err}"
    );
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let home = tempfile::tempdir().unwrap();
    let events = BroadcastSink::default();
    let api = Arc::new(Api::new(
        AppHome::at(home.path()),
        vec![],
        Arc::new(events.clone()),
    ));
    let err = bind(api, events, addr, access(vec![]))
        .await
        .err()
        .expect("the port is taken");
    assert!(
        matches!(err, greenroom_server::BindError::InUse(_)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("already in use") && text.contains("--port"),
        "{text}"
    );
}
