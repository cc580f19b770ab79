//! `greenroom token` and `greenroom rooms` against the real livekit-server.

use greenroom_fixture_service::{find_tool, free_port};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn livekit() -> Server {
    let (port, tcp, udp) = (free_port(), free_port(), free_port());
    let child = Command::new(find_tool("livekit-server"))
        .args([
            "--dev",
            "--bind",
            "127.0.0.1",
            "--config-body",
            &format!("port: {port}\nrtc:\n  tcp_port: {tcp}\n  udp_port: {udp}\n"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "livekit-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child, port)
}

fn greenroom(server: &Server, secret: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env(
        "GREENROOM_HOME",
        std::env::temp_dir().join(format!("greenroom-rooms-cli-{}", std::process::id())),
    )
    .env("LIVEKIT_URL", format!("ws://127.0.0.1:{}", server.1))
    .env("LIVEKIT_API_KEY", "devkey")
    .env("LIVEKIT_API_SECRET", secret);
    c
}

#[test]
fn rooms_and_tokens_from_the_command_line() {
    let server = livekit();
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        ok(greenroom(&server, "secret").args([
            "rooms",
            "create",
            "marie-breathing",
            "--metadata",
            "breathing"
        ]))
        .contains("created marie-breathing")
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(
        greenroom(&server, "secret").args(["rooms", "list", "--json"])
    ))
    .unwrap();
    assert_eq!(listed[0]["name"], "marie-breathing");
    assert_eq!(listed[0]["metadata"], "breathing");
    let jwt = ok(greenroom(&server, "secret").args([
        "token",
        "--room",
        "marie-breathing",
        "--identity",
        "coach",
        "--agent",
        "marie-agent:{\"x\":1}",
        "--room-metadata",
        "breathing",
    ]));
    let claims = greenroom_rooms::token::verify(jwt.trim(), "secret").unwrap();
    assert_eq!(claims.sub, "coach");
    assert!(
        ok(greenroom(&server, "secret").args(["rooms", "participants", "marie-breathing"]))
            .contains("nobody in marie-breathing")
    );
    assert!(
        ok(greenroom(&server, "secret").args(["rooms", "delete", "marie-breathing"]))
            .contains("deleted")
    );

    let wrong = greenroom(&server, "wrong-secret")
        .args(["rooms", "list"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("refused the API key or secret")
            && err.contains("secret from LIVEKIT_API_SECRET"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret"));
}
