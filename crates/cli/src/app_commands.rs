//! `serve`, `doctor` and `settings`: the UI for a browser, the machine check, settings.

use crate::{api_failure, fail, print_json};
use clap::Subcommand;
use greenroom_api::settings::{SETTING_NAMES, is_secret};
use greenroom_api::{Api, AppHome, CheckStatus, NullSink, SettingsPatch};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub(crate) enum SettingsCommand {
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
        /// When a new `workspace` changes which stack runs while the current one runs:
        /// stop it first, or keep it running (it shows under "also running")
        #[arg(long, value_enum)]
        running_stack: Option<RunningStack>,
    },
    /// Reset a setting to its default
    Reset {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(SETTING_NAMES))]
        name: String,
        /// As for `set`
        #[arg(long, value_enum)]
        running_stack: Option<RunningStack>,
    },
}

/// `serve`: the UI and API for a browser, on the stack `--stack` names (else the
/// workspace setting, else the sandbox).
pub(crate) async fn serve(
    home: AppHome,
    stack: Option<std::path::PathBuf>,
    addr: SocketAddr,
    allowed_hosts: Vec<String>,
) -> ExitCode {
    let token = match greenroom_api::control::new_token() {
        Ok(t) => t,
        Err(e) => return fail(&e.to_string()),
    };
    // `{port}`: the server fills in the port it gets (for --port 0).
    let token_file_pattern = home.root().join("serve-{port}.json");
    let events = greenroom_server::BroadcastSink::default();
    let api = Arc::new(
        Api::new(
            home,
            greenroom_api::default_tool_dirs(),
            Arc::new(events.clone()),
        )
        .with_stack(stack, std::env::current_dir().ok()),
    );
    let access = greenroom_server::Access {
        token: token.clone(),
        allowed_hosts: allowed_hosts.clone(),
        token_location: token_file_pattern.display().to_string(),
    };
    let server = match greenroom_server::bind(api.clone(), events, addr, access).await {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let bound = server.local_addr();
    let token_file = token_file_pattern.with_file_name(format!("serve-{}.json", bound.port()));
    let loopback_url = format!(
        "http://{}",
        SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bound.port())
    );
    // The browser gets the token in the printed address; the CLI and scripts read it from
    // this file, which only the user can read.
    let record = serde_json::json!({
        "pid": std::process::id(),
        "url": format!("{loopback_url}/"),
        "token": token,
    });
    if let Err(e) = greenroom_api::write_private_file(&token_file, record.to_string().as_bytes()) {
        return fail(&format!(
            "cannot write the server's token to {}: {e}",
            token_file.display()
        ));
    }
    // Other `greenroom` commands on the same stack drive this process with the same token.
    api.set_control_endpoint(loopback_url, token.clone());
    let shown = if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bound.port())
    } else {
        bound
    };
    if !bound.ip().is_loopback() {
        eprintln!(
            "warning: listening on {bound}, off loopback. Anyone who can reach this address and has the token can start and stop processes on this machine and read and change Greenroom's settings, API keys included. Only do this on a network you trust."
        );
        eprintln!(
            "         Host names answered: this machine's IP addresses and localhost{}",
            if allowed_hosts.is_empty() {
                " (add names with --allowed-host)".to_owned()
            } else {
                format!(", {}", allowed_hosts.join(", "))
            }
        );
    }
    println!("Greenroom is serving the UI at http://{shown}/?token={token} (Ctrl+C to stop)");
    println!(
        "The token is also in {} (readable by you only).",
        token_file.display()
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let served = server.serve(shutdown).await;
    let _ = std::fs::remove_file(&token_file);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("the server stopped: {e}")),
    }
}

pub(crate) async fn doctor(home: AppHome, json: bool) -> ExitCode {
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

pub(crate) async fn settings(api: &Api, command: SettingsCommand) -> ExitCode {
    match command {
        SettingsCommand::Show { json } => match api.get_settings().await {
            Ok(view) if json => print_json(&view),
            Ok(view) => {
                let secret = |s: greenroom_api::SecretState| {
                    if s.is_set { "set (hidden)" } else { "not set" }
                };
                println!("file                {}", view.file);
                use greenroom_api::file_access::FileAccess;
                match &view.file_access {
                    FileAccess::OwnerOnly => println!("file access         only you"),
                    FileAccess::Missing => println!("file access         (not written yet)"),
                    FileAccess::Shared { detail } => println!(
                        "warning             others may read this file, which holds secrets ({detail}); save a setting to make it yours only"
                    ),
                    FileAccess::Unknown { detail } => {
                        println!("file access         unknown ({detail})")
                    }
                }
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
        SettingsCommand::Set {
            name,
            value,
            running_stack,
        } => {
            let value = if value == "-" && is_secret(&name) {
                let mut buf = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut buf) {
                    return fail(&format!("cannot read {name} from standard input: {e}"));
                }
                buf.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                if is_secret(&name) && !value.is_empty() {
                    eprintln!(
                        "warning: {name} given on the command line lands in your shell's history (and, while this runs, in the process list). Prefer `greenroom settings set {name} -` and paste it, or pipe it in."
                    );
                }
                value
            };
            apply(api, &name, value, running_stack).await
        }
        SettingsCommand::Reset {
            name,
            running_stack,
        } => apply(api, &name, String::new(), running_stack).await,
    }
}

/// What `--running-stack` takes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum RunningStack {
    Stop,
    Keep,
}

async fn apply(api: &Api, name: &str, value: String, running: Option<RunningStack>) -> ExitCode {
    let Some(mut patch) = SettingsPatch::single(name, value) else {
        return fail(&format!(
            "unknown setting {name}; known: {}",
            SETTING_NAMES.join(", ")
        ));
    };
    patch.running_stack = running.map(|r| match r {
        RunningStack::Stop => greenroom_api::RunningStackChoice::Stop,
        RunningStack::Keep => greenroom_api::RunningStackChoice::Keep,
    });
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
