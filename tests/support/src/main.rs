//! `fixture-service`: a service that behaves as a test asks it to.
//!
//! ```text
//! fixture-service [--port P] [--ready-after MS] [--crash-after MS] [--exit-code N]
//!                 [--unhealthy-after MS] [--health-500] [--ignore-sigterm]
//!                 [--spawn-grandchild] [--say TEXT]
//! ```
//! - `--port P`: after `--ready-after` ms, listen on 127.0.0.1:P and answer HTTP:
//!   `GET /health` → 200 `ok` (500 with `--health-500`, or once `--unhealthy-after` ms
//!   have passed since start); anything else → 200.
//! - `--crash-after MS`: exit with `--exit-code` (default 3) after MS; with
//!   `--crash-once MARKER`, only the first time (the marker file remembers).
//! - `--ignore-sigterm`: SIGTERM does nothing (the supervisor must kill it); on Windows,
//!   CTRL_BREAK and CTRL_C do nothing either.
//! - `--spawn-grandchild`: start a copy of itself that sleeps forever, and print its PID
//!   as `grandchild <pid>` (it must die with its parent's group). With `--ignore-sigterm`,
//!   the grandchild ignores them too.
//! - `--say TEXT`: print TEXT once ready (for log probes).
//!
//! It prints `pid <pid>` at start and `ready at <unix ms>` when it starts listening. On
//! Windows it also prints `console window: none` or `console window: shown` (whether the
//! process that started it opened a console window for it), and, unless it ignores them,
//! answers CTRL_BREAK or CTRL_C by printing `stopping on CTRL_BREAK` and exiting with 0
//! (a graceful stop, as a service that handles them does).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sleep-forever") {
        if args.iter().any(|a| a == "--ignore-sigterm") {
            windows_console::ignore_stop_events();
        }
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let flag = |name: &str| args.iter().any(|a| a == name);
    let number = |name: &str| value(name).and_then(|v| v.parse::<u64>().ok());
    let started = Instant::now();
    println!("pid {}", std::process::id());
    windows_console::report_window();
    if flag("--ignore-sigterm") {
        windows_console::ignore_stop_events();
    } else {
        windows_console::stop_on_ctrl_break();
    }
    if flag("--ignore-sigterm") {
        #[cfg(unix)]
        // SAFETY: installing SIG_IGN for SIGTERM has no preconditions.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGTERM,
                nix::sys::signal::SigHandler::SigIgn,
            );
        }
    }
    if flag("--spawn-grandchild") {
        let me = std::env::current_exe().expect("own path");
        let mut grandchild = std::process::Command::new(me);
        grandchild.arg("--sleep-forever");
        if flag("--ignore-sigterm") {
            grandchild.arg("--ignore-sigterm");
        }
        // Deliberately never waited for: it must die with its parent's process group.
        #[allow(clippy::zombie_processes)]
        let child = grandchild.spawn().expect("grandchild");
        println!("grandchild {}", child.id());
    }
    // --crash-once MARKER: crash only if MARKER does not exist yet (and create it), so that
    // a repaired service stays up.
    let crash_once = value("--crash-once").map(std::path::PathBuf::from);
    let may_crash = match &crash_once {
        Some(marker) if marker.exists() => false,
        Some(marker) => std::fs::write(marker, b"crashed once\n").is_ok(),
        None => true,
    };
    if let Some(ms) = number("--crash-after").filter(|_| may_crash) {
        let code = number("--exit-code").unwrap_or(3) as i32;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            println!("crashing with code {code}");
            let _ = std::io::stdout().flush();
            std::process::exit(code);
        });
    }
    std::thread::sleep(Duration::from_millis(number("--ready-after").unwrap_or(0)));
    let listener = number("--port").map(|p| match TcpListener::bind(("127.0.0.1", p as u16)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ERROR cannot bind 127.0.0.1:{p}: {e}");
            std::process::exit(2);
        }
    });
    let ready_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_micros() as f64 / 1000.0);
    println!("ready at {ready_at_ms:.3}");
    if let Some(text) = value("--say") {
        println!("{text}");
    }
    let _ = std::io::stdout().flush();
    let unhealthy_after = number("--unhealthy-after").map(Duration::from_millis);
    let always_500 = flag("--health-500");
    match listener {
        Some(listener) => {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request_line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut request_line);
                let sick = always_500 || unhealthy_after.is_some_and(|d| started.elapsed() >= d);
                let (status, body) = if request_line.starts_with("GET /health") && sick {
                    ("500 Internal Server Error", "sick")
                } else {
                    ("200 OK", "ok")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

/// What the fixture does with its console on Windows (nothing elsewhere).
mod windows_console {
    #[cfg(windows)]
    use windows::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, GetConsoleWindow, SetConsoleCtrlHandler,
    };

    /// Prints whether this process has a console window.
    pub fn report_window() {
        #[cfg(windows)]
        {
            // SAFETY: no preconditions.
            let window = unsafe { GetConsoleWindow() };
            let shown = if window.is_invalid() { "none" } else { "shown" };
            println!("console window: {shown}");
        }
    }

    /// CTRL_BREAK and CTRL_C end the process with 0, after saying so.
    pub fn stop_on_ctrl_break() {
        #[cfg(windows)]
        {
            unsafe extern "system" fn handler(event: u32) -> windows::core::BOOL {
                let name = match event {
                    e if e == CTRL_BREAK_EVENT => "CTRL_BREAK",
                    e if e == CTRL_C_EVENT => "CTRL_C",
                    _ => return false.into(),
                };
                println!("stopping on {name}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                std::process::exit(0);
            }
            // SAFETY: the handler is a plain function that lives as long as the process.
            unsafe {
                let _ = SetConsoleCtrlHandler(Some(handler), true);
            }
        }
    }

    /// CTRL_BREAK and CTRL_C are swallowed (the supervisor must end the Job Object).
    pub fn ignore_stop_events() {
        #[cfg(windows)]
        {
            unsafe extern "system" fn handler(_event: u32) -> windows::core::BOOL {
                true.into()
            }
            // SAFETY: as above.
            unsafe {
                let _ = SetConsoleCtrlHandler(Some(handler), true);
            }
        }
    }
}
