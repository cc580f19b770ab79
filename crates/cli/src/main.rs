//! `greenroom`: Greenroom without a window.
//!
//! Exit codes: 0 success; 1 a failure (the message says what and what to do); 2 the
//! command line or a value given on it is invalid (nothing was changed).

use clap::{Parser, Subcommand};
use greenroom_api::settings::{SETTING_NAMES, is_secret};
use greenroom_api::{Api, ApiError, AppHome, CheckStatus, ErrorCode, NullSink, SettingsPatch};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The port `greenroom serve` listens on unless told otherwise.
const DEFAULT_PORT: u16 = 7870;

#[derive(Parser)]
#[command(
    name = "greenroom",
    version,
    about = "The cockpit of the Eloquence voice-coaching stack, headless."
)]
struct Cli {
    /// Greenroom's home folder (settings, logs, history) [default: the platform's config dir]
    #[arg(long, global = true, env = "GREENROOM_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Greenroom UI and API on this machine, for a browser
    Serve {
        /// The port to listen on (0: any free port)
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// The address to listen on. Anything but a loopback address lets other machines
        /// change your settings: only do it on a network you trust.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// Check this machine for everything Greenroom uses, and say how to get what is missing
    Doctor {
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show or change settings
    #[command(subcommand)]
    Settings(SettingsCommand),
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Show the settings (secrets show only whether they are set)
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set a setting. For a secret, give `-` as the value to read it from standard input
    /// (it then stays out of your shell history).
    Set {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(SETTING_NAMES))]
        name: String,
        value: String,
    },
    /// Reset a setting to its default
    Reset {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(SETTING_NAMES))]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GREENROOM_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let home = match cli.home {
        Some(dir) => AppHome::at(dir),
        None => match AppHome::from_env() {
            Ok(h) => h,
            Err(e) => return fail(&e.to_string()),
        },
    };
    runtime.block_on(run(cli.command, home))
}

async fn run(command: Command, home: AppHome) -> ExitCode {
    match command {
        Command::Serve { port, host } => serve(home, SocketAddr::new(host, port)).await,
        Command::Doctor { json } => {
            let api = Api::new(home, greenroom_api::default_tool_dirs(), Arc::new(NullSink));
            match api.run_doctor().await {
                Ok(report) if json => print_json(&report),
                Ok(report) => {
                    print_doctor(&report);
                    ExitCode::SUCCESS
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Settings(command) => {
            let api = Api::new(home, vec![], Arc::new(NullSink));
            settings(&api, command).await
        }
    }
}

async fn serve(home: AppHome, addr: SocketAddr) -> ExitCode {
    let events = greenroom_server::BroadcastSink::default();
    let api = Arc::new(Api::new(
        home,
        greenroom_api::default_tool_dirs(),
        Arc::new(events.clone()),
    ));
    let server = match greenroom_server::bind(api, events, addr).await {
        Ok(s) => s,
        Err(e) => return fail(&e.0),
    };
    let bound = server.local_addr();
    if !bound.ip().is_loopback() {
        eprintln!(
            "warning: listening on {bound}: other machines that reach this address can use Greenroom and change its settings"
        );
    }
    let shown = if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bound.port())
    } else {
        bound
    };
    println!("Greenroom is serving the UI at http://{shown}/ (Ctrl+C to stop)");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match server.serve(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("the server stopped: {e}")),
    }
}

fn print_doctor(report: &greenroom_api::DoctorReport) {
    let windows = report.platform == "windows";
    for check in &report.checks {
        let mark = match check.status {
            CheckStatus::Ok => "[ok]  ",
            CheckStatus::Warn => "[warn]",
            CheckStatus::Fail => "[FAIL]",
        };
        println!("{mark} {:<16} {}", check.name, check.detail);
        if let Some(hint) = &check.install {
            println!("       for: {}", check.purpose);
            let (here, other) = if windows {
                (("Windows 11", &hint.windows), ("Debian", &hint.debian))
            } else {
                (("Debian", &hint.debian), ("Windows 11", &hint.windows))
            };
            println!("       fix on {}: {}", here.0, here.1);
            println!("       fix on {}: {}", other.0, other.1);
        }
    }
    let s = &report.summary;
    println!(
        "\n{} ok, {} warnings, {} missing or broken",
        s.ok, s.warn, s.fail
    );
}

async fn settings(api: &Api, command: SettingsCommand) -> ExitCode {
    match command {
        SettingsCommand::Show { json } => match api.get_settings().await {
            Ok(view) if json => print_json(&view),
            Ok(view) => {
                let secret = |s: greenroom_api::SecretState| {
                    if s.is_set { "set (hidden)" } else { "not set" }
                };
                println!("file                {}", view.file);
                if let Some(err) = &view.load_error {
                    println!("warning             {err}");
                }
                println!(
                    "workspace           {}",
                    view.workspace.as_deref().unwrap_or("(not set)")
                );
                println!("livekit_url         {}", view.livekit_url);
                println!("livekit_api_key     {}", secret(view.livekit_api_key));
                println!("livekit_api_secret  {}", secret(view.livekit_api_secret));
                println!("mistral_api_key     {}", secret(view.mistral_api_key));
                ExitCode::SUCCESS
            }
            Err(e) => api_failure(&e),
        },
        SettingsCommand::Set { name, value } => {
            let value = if value == "-" && is_secret(&name) {
                let mut buf = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut buf) {
                    return fail(&format!("cannot read {name} from standard input: {e}"));
                }
                buf.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                value
            };
            apply(api, &name, value).await
        }
        SettingsCommand::Reset { name } => apply(api, &name, String::new()).await,
    }
}

async fn apply(api: &Api, name: &str, value: String) -> ExitCode {
    let Some(patch) = SettingsPatch::single(name, value) else {
        return fail(&format!(
            "unknown setting {name}; known: {}",
            SETTING_NAMES.join(", ")
        ));
    };
    match api.update_settings(patch).await {
        Ok(view) => {
            if let Some(note) = &view.load_error {
                eprintln!("note: {note}");
            }
            println!("saved {name} in {}", view.file);
            ExitCode::SUCCESS
        }
        Err(e) => api_failure(&e),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("cannot encode JSON: {e}")),
    }
}

fn api_failure(error: &ApiError) -> ExitCode {
    eprintln!("error: {}", error.message);
    if error.code == ErrorCode::InvalidInput {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
