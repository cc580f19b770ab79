//! `greenroom`: Greenroom without a window.
//!
//! Exit codes: 0 success; 1 a failure (the message says what and what to do); 2 the
//! command line or a value given on it is invalid (nothing was changed).

mod remote;
mod stack_commands;

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
    /// The stack: a greenroom.toml manifest or a docker compose file
    /// [default: ./greenroom.toml, else the workspace setting, else the sandbox]
    #[arg(long, global = true, env = "GREENROOM_STACK", value_name = "FILE")]
    stack: Option<PathBuf>,
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
    /// Start the stack in dependency order and supervise it until Ctrl+C (which stops it)
    Up {
        /// Only these services (and what they depend on), comma-separated
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Start even when pre-flight finds a blocker
        #[arg(long)]
        force: bool,
    },
    /// What would make `up` fail: ports taken (and by whom), missing programs, unset variables
    Preflight {
        #[arg(long)]
        json: bool,
    },
    /// Stop every service of the stack, dependents first
    Down,
    /// Restart one service
    Restart { service: String },
    /// Each service with its state, PID and ports
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Probe every service now: status, response time, health score, recommended actions
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Check the stack every few seconds
    Monitor {
        /// Seconds between checks
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
        /// Stop after this many checks
        #[arg(long)]
        count: Option<u64>,
    },
    /// Show a service's log (all services merged when none is named)
    Logs {
        service: Option<String>,
        /// Keep printing new lines
        #[arg(long, short)]
        follow: bool,
        /// Only lines matching this regular expression
        #[arg(long)]
        grep: Option<String>,
        /// How many past lines to show
        #[arg(long, default_value_t = 50)]
        lines: usize,
    },
    /// Diagnose unwell services and repair them (asking before anything that could lose data)
    Fix {
        /// Confirm repairs that need it (stopping a program Greenroom did not start,
        /// re-creating a virtualenv) without asking
        #[arg(long)]
        yes: bool,
    },
    /// Write the stack report (JSON, schema version 1: see the README)
    Report {
        #[arg(long, short)]
        output: PathBuf,
        /// With no supervising Greenroom running, probe the stack this long first (seconds)
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
    },
    /// Print a LiveKit access token (the server and keys: LIVEKIT_URL / LIVEKIT_API_KEY /
    /// LIVEKIT_API_SECRET, else Settings, else the sandbox)
    Token {
        #[arg(long)]
        room: String,
        #[arg(long)]
        identity: String,
        #[arg(long)]
        name: Option<String>,
        /// The participant's metadata
        #[arg(long)]
        metadata: Option<String>,
        /// Lifetime in seconds [default: 6 h]
        #[arg(long)]
        ttl: Option<u64>,
        #[arg(long)]
        no_publish: bool,
        #[arg(long)]
        no_subscribe: bool,
        #[arg(long)]
        no_data: bool,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        hidden: bool,
        /// Dispatch this agent to the room on join: NAME or NAME:METADATA (repeatable)
        #[arg(long = "agent")]
        agents: Vec<String>,
        /// The room's metadata if the token creates it (Eloquence: the exercise type)
        #[arg(long)]
        room_metadata: Option<String>,
    },
    /// LiveKit rooms: list, create, delete, participants
    #[command(subcommand)]
    Rooms(RoomsCommand),
    /// Streaming tests through a LiveKit server: our participants send audio and packets,
    /// we measure latency (data and audio), jitter, loss and throughput. The server and
    /// keys: LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET, else Settings, else the
    /// sandbox; the room: LIVEKIT_ROOM. A --config JSON file overrides them, flags override it.
    StreamTest {
        /// basic (spoken French phrases), stress (N packets at an interval), latency (N short
        /// packets every 200 ms) or load (P publishers × S subscribers)
        #[arg(value_enum)]
        suite: StreamSuite,
        /// Seconds (basic, load)
        #[arg(long)]
        duration: Option<f64>,
        /// Packets to send (stress, latency)
        #[arg(long)]
        packets: Option<u32>,
        /// Milliseconds between packets (stress, latency, load)
        #[arg(long)]
        interval: Option<u32>,
        /// Publishers (load)
        #[arg(long)]
        publishers: Option<u32>,
        /// Subscribers (load)
        #[arg(long)]
        subscribers: Option<u32>,
        /// Drop this share of the packets we send (0..1), at our socket layer
        #[arg(long)]
        loss: Option<f64>,
        /// Add this much latency to every packet we send (ms)
        #[arg(long)]
        latency: Option<u32>,
        /// Add up to this much random delay to every packet we send (ms)
        #[arg(long)]
        jitter: Option<u32>,
        /// Drop all UDP both ways, as a firewall would: the run goes over ICE-TCP
        #[arg(long)]
        block_udp: bool,
        /// ICE candidates to offer: auto (UDP, falling back to TCP), udp or tcp
        #[arg(long, value_name = "auto|udp|tcp")]
        transport: Option<greenroom_rooms::participant::IceTransport>,
        /// A JSON configuration (the team's config.json keys, plus ours)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Write the JSON report here (schema greenroom.stream-test/1)
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print every packet's latency, not only the summary
        #[arg(long)]
        verbose: bool,
    },
    /// The exercises of the Flutter app: find them, score them
    #[command(subcommand)]
    Exercises(ExercisesCommand),
    /// Write a greenroom.toml manifest from other definitions
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StreamSuite {
    Basic,
    Stress,
    Latency,
    Load,
}

#[derive(Subcommand)]
enum RoomsCommand {
    /// The server's rooms
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a room
    Create {
        name: String,
        /// Its metadata (Eloquence: the exercise type)
        #[arg(long, default_value = "")]
        metadata: String,
        /// Seconds an empty room lives
        #[arg(long, default_value_t = 300)]
        empty_timeout: u32,
    },
    /// Delete a room (disconnects its participants)
    Delete { name: String },
    /// A room's participants, their tracks, and an agent's state
    Participants {
        room: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a participant from a room
    Remove { room: String, identity: String },
    /// Replace a room's metadata
    Metadata { room: String, metadata: String },
    /// Join a room as our own participant (signalling only so far): prints the join time,
    /// who is there, arrivals and departures, agent states and the round trip, then leaves
    Join {
        room: String,
        #[arg(long, default_value = "greenroom-cli")]
        identity: String,
        /// How long to stay, in seconds
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(clap::Args, Clone)]
struct ExercisesOptions {
    /// The repository root (its Flutter app, agent sources and compose files are found
    /// below it) [default: the workspace setting]
    #[arg(long, global = true)]
    project: Option<PathBuf>,
    /// Print JSON (schema: `exercises`, `orphans`, `drift`, `skipped`, `agent_types`)
    #[arg(long, global = true)]
    json: bool,
    /// Exit with 1 when an exercise is not valid
    #[arg(long, global = true)]
    strict: bool,
}

#[derive(Subcommand)]
enum ExercisesCommand {
    /// The exercises the app registers, its orphans and endpoint drift
    Scan {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// One exercise in detail: every criterion with its evidence, recommendations, fix time
    Validate {
        /// Its id (`cosmic_voice_screen`) or class name (`CosmicVoiceScreen`)
        name: String,
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Every exercise with its score and what to do
    ValidateAll {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Revalidate on every save and print what changed (Ctrl+C stops)
    Watch {
        #[command(flatten)]
        options: ExercisesOptions,
    },
    /// Scan every few seconds and print a summary line
    Monitor {
        /// Seconds between scans
        #[arg(long, default_value_t = 300.0)]
        interval: f64,
        /// Stop after this many scans
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        options: ExercisesOptions,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// From docker compose files (base first, overlays after), read as docker compose does
    Compose {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Profiles to activate
        #[arg(long)]
        profile: Vec<String>,
        /// Where to write the manifest [default: standard output]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
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
    runtime.block_on(run(cli.command, home, cli.stack))
}

fn stack_api(
    home: AppHome,
    stack: Option<PathBuf>,
    sink: Arc<dyn greenroom_api::EventSink<greenroom_api::EventEnvelope>>,
) -> Api {
    Api::new(home, greenroom_api::default_tool_dirs(), sink)
        .with_stack(stack, std::env::current_dir().ok())
}

async fn run(command: Command, home: AppHome, stack: Option<PathBuf>) -> ExitCode {
    match command {
        Command::Up { only, force } => {
            up(
                Arc::new(stack_api(home, stack, Arc::new(StateLines::default()))),
                only,
                force,
            )
            .await
        }
        Command::Preflight { json } => {
            let api = stack_api(home, stack, Arc::new(NullSink));
            match api.stack_preflight().await {
                Ok(report) if json => print_json(&report),
                Ok(report) => {
                    stack_commands::print_preflight(&report);
                    if report.ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Down => {
            let api = stack_api(home, stack, Arc::new(NullSink));
            let result = match api.remote_supervisor().await {
                Ok(Some(remote)) => {
                    println!(
                        "the stack is supervised by another Greenroom (PID {}); asking it to stop the stack",
                        remote.pid
                    );
                    remote::call::<Vec<String>>(&remote, "stack_down", serde_json::json!({})).await
                }
                Ok(None) => api.stack_down().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(stopped) if stopped.is_empty() => {
                    println!("nothing was running");
                    ExitCode::SUCCESS
                }
                Ok(stopped) => {
                    println!("stopped {}", stopped.join(", "));
                    ExitCode::SUCCESS
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Restart { service } => {
            let api = stack_api(home, stack, Arc::new(NullSink));
            let result = match api.remote_supervisor().await {
                Ok(Some(remote)) => {
                    remote::call(
                        &remote,
                        "service_restart",
                        serde_json::json!({ "id": service }),
                    )
                    .await
                }
                Ok(None) => api.service_restart(service).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => {
                    stack_commands::print_up_result(&r);
                    if r.ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Status { json } => {
            let api = stack_api(home, stack, Arc::new(NullSink));
            let result = match api.remote_supervisor().await {
                Ok(Some(remote)) => remote::call::<greenroom_api::StackView>(
                    &remote,
                    "stack_status",
                    serde_json::json!({}),
                )
                .await
                .map(|mut v| {
                    v.notes.insert(
                        0,
                        format!(
                            "supervised by Greenroom PID {} ({})",
                            remote.pid, remote.url
                        ),
                    );
                    v
                }),
                Ok(None) => api.stack_status().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(view) if json => print_json(&view),
                Ok(view) => {
                    for note in &view.notes {
                        println!("note: {note}");
                    }
                    stack_commands::print_table(&view);
                    ExitCode::SUCCESS
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Token {
            room,
            identity,
            name,
            metadata,
            ttl,
            no_publish,
            no_subscribe,
            no_data,
            admin,
            hidden,
            agents,
            room_metadata,
        } => {
            let api = Api::new(home, vec![], Arc::new(NullSink));
            let options = greenroom_rooms::service::TokenOptions {
                name,
                metadata,
                ttl: ttl.map(std::time::Duration::from_secs),
                can_publish: !no_publish,
                can_subscribe: !no_subscribe,
                can_publish_data: !no_data,
                room_admin: admin,
                hidden,
                agents: agents
                    .iter()
                    .map(|a| match a.split_once(':') {
                        Some((n, m)) => (n.to_owned(), m.to_owned()),
                        None => (a.clone(), String::new()),
                    })
                    .collect(),
                room_metadata,
            };
            match greenroom_rooms::service::token(&api.livekit_target(), &room, &identity, &options)
            {
                Ok(jwt) => {
                    println!("{jwt}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e.0);
                    ExitCode::from(2)
                }
            }
        }
        Command::Rooms(command) => {
            rooms_command(Api::new(home, vec![], Arc::new(NullSink)), command).await
        }
        Command::StreamTest {
            suite,
            duration,
            packets,
            interval,
            publishers,
            subscribers,
            loss,
            latency,
            jitter,
            block_udp,
            transport,
            config,
            output,
            verbose,
        } => {
            use greenroom_rooms::stream_test::{StreamTestConfig, Suite};
            let api = Api::new(home, vec![], Arc::new(NullSink));
            let mut settings = StreamTestConfig::for_target(
                &api.livekit_target(),
                std::env::var("LIVEKIT_ROOM").ok(),
            );
            if let Some(path) = &config
                && let Err(e) = settings.overlay_file(path)
            {
                return usage_error(&e.0);
            }
            settings.duration_seconds = duration.or(settings.duration_seconds);
            settings.packets = packets.or(settings.packets);
            settings.interval_ms = interval.or(settings.interval_ms);
            settings.publishers = publishers.unwrap_or(settings.publishers);
            settings.subscribers = subscribers.unwrap_or(settings.subscribers);
            settings.network.loss = loss.unwrap_or(settings.network.loss);
            settings.network.latency_ms = latency.unwrap_or(settings.network.latency_ms);
            settings.network.jitter_ms = jitter.unwrap_or(settings.network.jitter_ms);
            settings.network.block_udp |= block_udp;
            settings.transport = transport.unwrap_or(settings.transport);
            let suite = match suite {
                StreamSuite::Basic => Suite::Basic,
                StreamSuite::Stress => Suite::Stress,
                StreamSuite::Latency => Suite::Latency,
                StreamSuite::Load => Suite::Load,
            };
            if let Err(e) = settings.validate(suite) {
                return usage_error(&e.0);
            }
            stream_test_command(suite, settings, output, verbose).await
        }
        Command::Exercises(command) => {
            exercises_command(
                Api::new(home, greenroom_api::default_tool_dirs(), Arc::new(NullSink)),
                command,
            )
            .await
        }
        Command::Fix { yes } => {
            stack_commands::fix(&stack_api(home, stack, Arc::new(NullSink)), yes).await
        }
        Command::Report { output, duration } => {
            let api = stack_api(home, stack, Arc::new(NullSink));
            let report = match api.remote_supervisor().await {
                Ok(Some(remote)) => {
                    remote::call::<serde_json::Value>(
                        &remote,
                        "stack_report",
                        serde_json::json!({}),
                    )
                    .await
                }
                Ok(None) => {
                    // This process re-attaches and probes what runs, for `duration`.
                    let _ = api.stack_status().await;
                    tokio::time::sleep(std::time::Duration::from_secs_f64(duration.max(0.0))).await;
                    api.stack_report().await
                }
                Err(e) => Err(e),
            };
            match report {
                Ok(value) => {
                    let text = serde_json::to_vec_pretty(&value).unwrap_or_default();
                    match greenroom_api::write_file_atomically(&output, &text) {
                        Ok(()) => {
                            println!(
                                "wrote {} (health score {}, {} recommendation(s))",
                                output.display(),
                                value["current_status"]["global_health_score"],
                                value["recommendations"].as_array().map_or(0, Vec::len)
                            );
                            ExitCode::SUCCESS
                        }
                        Err(e) => fail(&format!("cannot write {}: {e}", output.display())),
                    }
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Check { json } => {
            stack_commands::check(&stack_api(home, stack, Arc::new(NullSink)), json).await
        }
        Command::Monitor { interval, count } => {
            stack_commands::monitor(&stack_api(home, stack, Arc::new(NullSink)), interval, count)
                .await
        }
        Command::Logs {
            service,
            follow,
            grep,
            lines,
        } => {
            stack_commands::logs(
                &stack_api(home, stack, Arc::new(NullSink)),
                service,
                follow,
                grep,
                lines,
            )
            .await
        }
        Command::Import(ImportCommand::Compose {
            files,
            profile,
            output,
        }) => stack_commands::import_compose(files, profile, output),
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
    let server = match greenroom_server::bind(api.clone(), events, addr).await {
        Ok(s) => s,
        Err(e) => return fail(&e.0),
    };
    let bound = server.local_addr();
    // Other `greenroom` commands on the same stack drive this process (no token: this
    // server already answers any local client that the host/origin guard lets through).
    api.set_control_endpoint(
        format!(
            "http://{}",
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bound.port())
        ),
        String::new(),
    );
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

/// Prints each service's state changes as lines, while `up` supervises.
#[derive(Default)]
struct StateLines {
    last: std::sync::Mutex<std::collections::HashMap<String, greenroom_api::ServiceState>>,
    quiet: std::sync::atomic::AtomicBool,
}

impl greenroom_api::EventSink<greenroom_api::EventEnvelope> for StateLines {
    fn emit(&self, envelope: greenroom_api::EventEnvelope) {
        if self.quiet.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let greenroom_api::ApiEvent::StackService { status } = envelope.event {
            let mut last = greenroom_core::lock_unpoisoned(&self.last);
            if last.insert(status.id.clone(), status.state) != Some(status.state) {
                println!(
                    "  · {:<20} {:<12} {}",
                    status.id,
                    stack_commands::state_name(status.state),
                    status.message
                );
            }
        }
    }
}

async fn up(api: Arc<Api>, only: Vec<String>, force: bool) -> ExitCode {
    match api.remote_supervisor().await {
        Err(e) => return api_failure(&e),
        Ok(Some(remote)) => {
            println!(
                "the stack is already supervised by another Greenroom (PID {}); asking it to start what is not running",
                remote.pid
            );
            return match remote::call::<greenroom_api::UpReport>(
                &remote,
                "stack_up",
                serde_json::json!({ "only": only }),
            )
            .await
            {
                Ok(report) => {
                    report
                        .services
                        .iter()
                        .for_each(stack_commands::print_up_result);
                    if report.ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => api_failure(&e),
            };
        }
        Ok(None) => {}
    }
    // While this command supervises, other `greenroom` commands drive it through a
    // loopback control endpoint (see greenroom_api::control).
    let events = greenroom_server::BroadcastSink::default();
    let token = greenroom_api::control::new_token();
    match greenroom_server::bind_with_token(
        api.clone(),
        events,
        "127.0.0.1:0".parse().expect("an address"),
        Some(token.clone()),
    )
    .await
    {
        Ok(server) => {
            api.set_control_endpoint(format!("http://{}", server.local_addr()), token);
            tokio::spawn(server.serve(std::future::pending()));
        }
        Err(e) => eprintln!(
            "warning: no control endpoint ({e}); other greenroom commands will act on their own"
        ),
    }
    match api.stack_preflight().await {
        Err(e) => return api_failure(&e),
        Ok(pre) if !pre.findings.is_empty() => {
            stack_commands::print_preflight(&pre);
            if !pre.ok && !force {
                eprintln!(
                    "\nnothing was started: fix the blockers above, or run `greenroom up --force`"
                );
                return ExitCode::from(2);
            }
        }
        Ok(_) => {}
    }
    println!("starting the stack…");
    let report = match api
        .stack_up_with(&only, stack_commands::print_up_result)
        .await
    {
        Ok(r) => r,
        Err(e) => return api_failure(&e),
    };
    let view = match api.stack_status().await {
        Ok(v) => v,
        Err(e) => return api_failure(&e),
    };
    stack_commands::print_up_report(&report, &view);
    if !report.ok {
        println!("stopping what was started…");
        let _ = api.stack_down().await;
        return ExitCode::FAILURE;
    }
    println!("\nsupervising: restarts, health and logs are watched. Ctrl+C stops the stack.");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {
                let all_stopped = api.stack_status().await.is_ok_and(|v| {
                    v.status.services.iter().all(|s| matches!(s.state, greenroom_api::ServiceState::Stopped | greenroom_api::ServiceState::Disabled))
                });
                if all_stopped {
                    println!("\nthe stack was stopped (greenroom down); done");
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
    println!("\nstopping the stack…");
    match api.stack_down().await {
        Ok(stopped) => {
            println!(
                "stopped {}",
                if stopped.is_empty() {
                    "nothing".into()
                } else {
                    stopped.join(", ")
                }
            );
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

pub(crate) fn api_failure(error: &ApiError) -> ExitCode {
    eprintln!("error: {}", error.message);
    if error.code == ErrorCode::InvalidInput {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// A bad value on the command line or in a file it names: exit 2, nothing happened.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn exercises_command(api: Api, command: ExercisesCommand) -> ExitCode {
    let api = Arc::new(api);
    let (options, name, view) = match command {
        ExercisesCommand::Watch { options } => return exercises_watch(api, options).await,
        ExercisesCommand::Monitor {
            interval,
            count,
            options,
        } => return exercises_monitor(&api, options, interval, count).await,
        ExercisesCommand::Scan { options } => (options, None, "scan"),
        ExercisesCommand::Validate { name, options } => (options, Some(name), "validate"),
        ExercisesCommand::ValidateAll { options } => (options, None, "all"),
    };
    let analysis = match api
        .exercises_scan(options.project.map(|p| p.display().to_string()))
        .await
    {
        Ok(a) => a,
        Err(e) => return api_failure(&e),
    };
    let selected: Vec<&greenroom_exercises::analysis::Exercise> = match &name {
        Some(n) => {
            let wanted = n.trim();
            let found: Vec<_> = analysis
                .exercises
                .iter()
                .filter(|e| e.id == wanted || e.class_name == wanted)
                .collect();
            if found.is_empty() {
                eprintln!(
                    "error: no exercise `{wanted}`; the app registers: {}",
                    analysis
                        .exercises
                        .iter()
                        .map(|e| e.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return ExitCode::from(2);
            }
            found
        }
        None => analysis.exercises.iter().collect(),
    };
    if options.json {
        let value = if name.is_some() {
            serde_json::json!(selected)
        } else {
            serde_json::json!(analysis)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        exercises_text(&analysis, &selected, view);
    }
    if options.strict && selected.iter().any(|e| !e.valid) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn exercises_text(
    analysis: &greenroom_exercises::analysis::Analysis,
    selected: &[&greenroom_exercises::analysis::Exercise],
    view: &str,
) {
    let rel = |f: &str| {
        f.strip_prefix(&format!("{}/", analysis.project))
            .unwrap_or(f)
            .to_owned()
    };
    match view {
        "scan" => {
            println!(
                "{} exercises in {} ({} Dart files read)\n",
                analysis.exercises.len(),
                analysis.packages.join(", "),
                analysis.files_read
            );
            for e in selected {
                println!("{}  {}", if e.valid { "✔" } else { "✘" }, e.id);
                println!(
                    "    type: {}   route: {}",
                    e.exercise_type.as_deref().unwrap_or("—"),
                    e.route
                );
                println!("    file: {}:{}", rel(&e.file), e.line);
                println!(
                    "    needs: {}",
                    if e.required_services.is_empty() {
                        "—".into()
                    } else {
                        e.required_services.join(", ")
                    }
                );
            }
        }
        "validate" => {
            for e in selected {
                println!(
                    "{} {} — score {} / 100, {}",
                    if e.valid { "✔" } else { "✘" },
                    e.id,
                    e.score,
                    if e.valid { "valid" } else { "not valid" }
                );
                println!(
                    "  {} at {}:{}, route {}",
                    e.class_name,
                    rel(&e.file),
                    e.line,
                    e.route
                );
                for c in &e.criteria {
                    let mark = match c.passed {
                        Some(true) => "✔",
                        Some(false) if c.blocking => "✘ (blocking)",
                        Some(false) => "✘",
                        None => "–",
                    };
                    println!("  {mark} {} [{}]", c.title, c.weight);
                    for f in &c.findings {
                        println!("      {} ({}:{})", f.message, rel(&f.file), f.line);
                    }
                }
                if !e.recommendations.is_empty() {
                    println!("  estimated fix time: {} min", e.fix_minutes);
                }
            }
        }
        _ => {
            let valid = selected.iter().filter(|e| e.valid).count();
            let average = if selected.is_empty() {
                0.0
            } else {
                selected.iter().map(|e| f64::from(e.score)).sum::<f64>() / selected.len() as f64
            };
            println!(
                "valid exercises: {valid}/{}   average score: {average:.1}\n",
                selected.len()
            );
            for e in selected {
                println!("{} {} ({})", if e.valid { "✔" } else { "✘" }, e.id, e.score);
                for r in e.recommendations.iter().take(3) {
                    println!("  └─ {r}");
                }
            }
        }
    }
    if !analysis.orphans.is_empty() {
        println!("\norphans (exercise-like screens nothing registers):");
        for o in &analysis.orphans {
            println!(
                "  {} at {}:{} — {}",
                o.class_name,
                rel(&o.file),
                o.line,
                o.reason
            );
        }
    }
    if view != "validate" && !analysis.drift.is_empty() {
        println!("\nendpoint drift:");
        for d in &analysis.drift {
            println!("  {}:{} {}", rel(&d.file), d.line, d.message);
        }
    }
    for s in &analysis.skipped {
        println!("skipped {}: {}", rel(&s.file), s.reason);
    }
}

async fn exercises_watch(api: Arc<Api>, options: ExercisesOptions) -> ExitCode {
    let (root, rules, context) = match api
        .exercises_context(options.project.map(|p| p.display().to_string()))
        .await
    {
        Ok(x) => x,
        Err(e) => return api_failure(&e),
    };
    let recorder = api.clone();
    let previous: std::sync::Mutex<std::collections::BTreeMap<String, u32>> = Default::default();
    let started = greenroom_exercises::watch::ExerciseWatcher::start(
        &root,
        rules,
        context,
        std::time::Duration::from_millis(50),
        move |u| {
            recorder.record_history(&u.analysis);
            let mut before = greenroom_core::lock_unpoisoned(&previous);
            let names: Vec<String> = u
                .changed
                .iter()
                .map(|c| c.rsplit(['/', '\\']).next().unwrap_or(c).to_owned())
                .collect();
            let scores: Vec<String> = u
                .analysis
                .exercises
                .iter()
                .filter(|e| u.revalidated.contains(&e.id))
                .map(|e| match before.insert(e.id.clone(), e.score) {
                    Some(old) if old != e.score => format!("{} {old} → {}", e.id, e.score),
                    _ => format!("{} {}", e.id, e.score),
                })
                .collect();
            println!(
                "saved {} — revalidated in {:.0} ms: {}",
                names.join(", "),
                u.elapsed_ms,
                if scores.is_empty() {
                    "no exercise affected".into()
                } else {
                    scores.join(", ")
                }
            );
            let _ = std::io::Write::flush(&mut std::io::stdout());
        },
    );
    let (watcher, analysis) = match started {
        Ok(x) => x,
        Err(e) => return fail(&e.to_string()),
    };
    api.record_history(&analysis);
    let valid = analysis.exercises.iter().filter(|e| e.valid).count();
    println!(
        "watching {} folders of {} — {} exercises, {valid} valid. Save a file to see its exercises revalidated; Ctrl+C stops.",
        watcher.watched_folders(),
        root.display(),
        analysis.exercises.len()
    );
    let _ = tokio::signal::ctrl_c().await;
    drop(watcher);
    ExitCode::SUCCESS
}

async fn exercises_monitor(
    api: &Api,
    options: ExercisesOptions,
    interval: f64,
    count: Option<u64>,
) -> ExitCode {
    let project = options.project.map(|p| p.display().to_string());
    let mut round = 0;
    loop {
        let clock = greenroom_core::clock::utc_time_of_day();
        match api.exercises_scan(project.clone()).await {
            Ok(a) => {
                let valid = a.exercises.iter().filter(|e| e.valid).count();
                println!(
                    "[{clock}] {} exercises: {valid}/{} valid",
                    if valid == a.exercises.len() {
                        "✔"
                    } else {
                        "!"
                    },
                    a.exercises.len()
                );
                for e in a.exercises.iter().filter(|e| !e.valid) {
                    println!(
                        "  └─ {}: {}",
                        e.id,
                        e.recommendations
                            .first()
                            .map_or("see greenroom exercises validate", String::as_str)
                    );
                }
            }
            Err(e) => println!("[{clock}] ✘ {}", e.message),
        }
        round += 1;
        if count.is_some_and(|c| round >= c) {
            return ExitCode::SUCCESS;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs_f64(interval.max(1.0))) => {}
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
    }
}

async fn rooms_command(api: Api, command: RoomsCommand) -> ExitCode {
    use greenroom_rooms::service;
    let target = api.livekit_target();
    let fail_with = |e: service::RoomsError| {
        eprintln!("error: {} ({})", e.0, target.origin);
        ExitCode::FAILURE
    };
    let done = |message: String| {
        println!("{message}");
        ExitCode::SUCCESS
    };
    match command {
        RoomsCommand::List { json } => match service::list_rooms(&target).await {
            Ok(rooms) if json => print_json(&rooms),
            Ok(rooms) if rooms.is_empty() => done(format!("no room on {}", target.url)),
            Ok(rooms) => {
                println!(
                    "{:<28} {:>12}  {:>10}  METADATA",
                    "ROOM", "PARTICIPANTS", "PUBLISHERS"
                );
                for r in rooms {
                    println!(
                        "{:<28} {:>12}  {:>10}  {}",
                        r.name, r.num_participants, r.num_publishers, r.metadata
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail_with(e),
        },
        RoomsCommand::Create {
            name,
            metadata,
            empty_timeout,
        } => match service::create_room(&target, &name, &metadata, empty_timeout).await {
            Ok(r) => done(format!("created {} ({})", r.name, r.sid)),
            Err(e) => fail_with(e),
        },
        RoomsCommand::Delete { name } => match service::delete_room(&target, &name).await {
            Ok(()) => done(format!("deleted {name}")),
            Err(e) => fail_with(e),
        },
        RoomsCommand::Participants { room, json } => {
            match service::list_participants(&target, &room).await {
                Ok(list) if json => print_json(&list),
                Ok(list) if list.is_empty() => done(format!("nobody in {room}")),
                Ok(list) => {
                    for p in &list {
                        let agent = p
                            .agent_state
                            .as_deref()
                            .map(|s| format!(" agent:{s}"))
                            .unwrap_or_default();
                        println!("{} ({}, {}){agent}", p.identity, p.kind, p.state);
                        for t in &p.tracks {
                            println!(
                                "    {} {} {}{}",
                                t.kind,
                                t.sid,
                                t.name,
                                if t.muted { " (muted)" } else { "" }
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail_with(e),
            }
        }
        RoomsCommand::Remove { room, identity } => {
            match service::remove_participant(&target, &room, &identity).await {
                Ok(()) => done(format!("removed {identity} from {room}")),
                Err(e) => fail_with(e),
            }
        }
        RoomsCommand::Join {
            room,
            identity,
            seconds,
        } => match join_room(
            &target,
            &room,
            &identity,
            std::time::Duration::from_secs(seconds),
        )
        .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e} ({})", target.origin);
                ExitCode::FAILURE
            }
        },
        RoomsCommand::Metadata { room, metadata } => {
            match service::update_room_metadata(&target, &room, &metadata).await {
                Ok(()) => done(format!("{room}: metadata set")),
                Err(e) => fail_with(e),
            }
        }
    }
}

/// `greenroom rooms join`: our participant's signalling, narrated.
async fn join_room(
    target: &greenroom_rooms::service::Target,
    room: &str,
    identity: &str,
    stay: std::time::Duration,
) -> Result<(), String> {
    use greenroom_rooms::protocol::signal_response::Message;
    use greenroom_rooms::signal::{self, SignalEvent, SignalSession};
    let options = greenroom_rooms::service::TokenOptions {
        ttl: Some(stay + std::time::Duration::from_secs(600)),
        ..greenroom_rooms::service::TokenOptions::participant()
    };
    let jwt = greenroom_rooms::service::token(target, room, identity, &options).map_err(|e| e.0)?;
    let mut session = SignalSession::connect(&target.url, &jwt, &Default::default())
        .await
        .map_err(|e| e.0)?;
    let (me, sid) = session.participant();
    let version = session
        .join
        .server_info
        .as_ref()
        .map(|i| i.version.clone())
        .unwrap_or_default();
    println!(
        "joined {room} as {me} ({sid}) in {:.1} ms · livekit-server {version}",
        session.join_time.as_secs_f64() * 1000.0
    );
    for other in &session.join.other_participants {
        println!(
            "  already there: {} ({} tracks)",
            other.identity,
            other.tracks.len()
        );
    }
    let until = tokio::time::Instant::now() + stay;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match session.next_event(left).await {
            Some(SignalEvent::Message(message)) => match *message {
                Message::Update(update) => {
                    for (who, state) in signal::agent_states(&update) {
                        println!("  agent {who}: {state}");
                    }
                    for p in update
                        .participants
                        .iter()
                        .filter(|p| p.identity != identity)
                    {
                        let gone = p.state
                            == greenroom_rooms::protocol::participant_info::State::Disconnected
                                as i32;
                        println!("  {} {}", if gone { "left:" } else { "here:" }, p.identity);
                    }
                }
                Message::RoomUpdate(update) => {
                    if let Some(room) = update.room {
                        println!("  room metadata: {}", room.metadata);
                    }
                }
                _ => {}
            },
            Some(SignalEvent::Reconnecting(reason)) => {
                println!("  connection lost ({reason}); resuming…");
            }
            Some(SignalEvent::Resumed { took, attempts }) => {
                println!(
                    "  resumed in {:.1} ms ({attempts} attempt{})",
                    took.as_secs_f64() * 1000.0,
                    if attempts == 1 { "" } else { "s" }
                );
            }
            Some(SignalEvent::Closed(closed)) => {
                return Err(format!("the session ended: {closed:?}"));
            }
            None => break,
        }
    }
    if let Some(rtt) = session.rtt() {
        println!(
            "signalling round trip: {:.2} ms",
            rtt.as_secs_f64() * 1000.0
        );
    }
    session.leave().await;
    println!("left {room}");
    Ok(())
}

/// `greenroom stream-test`: the run narrated in the team's categories, coloured by their
/// thresholds, then the summary and (with --output) the JSON report.
async fn stream_test_command(
    suite: greenroom_rooms::stream_test::Suite,
    config: greenroom_rooms::stream_test::StreamTestConfig,
    output: Option<PathBuf>,
    verbose: bool,
) -> ExitCode {
    use greenroom_rooms::stream_test::{self, Category, LatencyPath, Rating, StreamEvent};
    use std::io::IsTerminal;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let paint = move |rating: Option<Rating>, text: &str| -> String {
        let code = match rating {
            _ if !colour => return text.to_string(),
            Some(Rating::Excellent) => "32",
            Some(Rating::Good) => "33",
            Some(Rating::Acceptable) => "38;5;208",
            Some(Rating::Problem) => "31",
            None => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let category_name = |c: Category| match c {
        Category::Connection => "CONNECTION",
        Category::Audio => "AUDIO",
        Category::Latency => "LATENCY",
        Category::Network => "NETWORK",
    };
    println!(
        "stream-test {} against {} (room {}){}{}",
        suite.name(),
        config.livekit_url,
        config.room_name,
        if config.network.is_none() {
            String::new()
        } else {
            format!(
                ", simulating {:.1} % loss, +{} ms ± {} ms",
                config.network.loss * 100.0,
                config.network.latency_ms,
                config.network.jitter_ms
            )
        },
        match (config.network.block_udp, config.transport) {
            (true, _) => ", UDP blocked (ICE over TCP)",
            (false, greenroom_rooms::participant::IceTransport::Tcp) => ", over TCP only",
            (false, greenroom_rooms::participant::IceTransport::Udp) => ", over UDP only",
            (false, greenroom_rooms::participant::IceTransport::Auto) => "",
        }
    );
    // Ctrl-C once: stop sending and report what was measured; twice: quit at once.
    let stop = stream_test::StopSignal::default();
    let stopper = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: waiting for the packets in flight (Ctrl-C again quits at once)");
            stopper.stop();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let result = stream_test::run_until_stopped(suite, &config, &stop, move |event| match event {
        StreamEvent::Log {
            category,
            rating,
            message,
        } => println!(
            "{} {:<10} | {}",
            greenroom_core::clock::utc_time_of_day(),
            category_name(category),
            paint(rating, &message)
        ),
        StreamEvent::Latency {
            path,
            seq,
            latency_ms,
            ..
        } if verbose => {
            let what = match path {
                LatencyPath::Data => "packet",
                LatencyPath::Audio => "audio marker",
            };
            let rating = stream_test::rate_latency(latency_ms);
            println!(
                "{} {:<10} | {what} #{seq}: {}",
                greenroom_core::clock::utc_time_of_day(),
                "LATENCY",
                paint(Some(rating), &format!("{latency_ms:.1} ms"))
            );
        }
        _ => {}
    })
    .await;
    let report = match result {
        Ok(report) => report,
        Err(e) => return fail(&e.0),
    };
    println!(
        "{}: {} of {} packets in {:.1} s ({:.1} packets/s), loss {}, latency p50 {:.1} / p95 {:.1} / p99 {:.1} ms, {} error(s)",
        report.test_name,
        report.packets_received,
        report.packets_sent * u64::from(report.subscribers),
        report.duration_seconds,
        report.throughput_pps,
        paint(
            Some(report.loss_rating),
            &format!("{:.2} %", report.packet_loss_rate * 100.0)
        ),
        report.latency_stats.p50_ms,
        report.latency_stats.p95_ms,
        report.latency_stats.p99_ms,
        report.errors_count
    );
    for e in &report.errors {
        println!("  error: {e}");
    }
    if report.stopped_early {
        println!("  stopped early: the figures cover the packets sent before the stop");
    }
    for ms in &report.reconnections_ms {
        println!("  a lost signalling connection resumed in {ms:.1} ms");
    }
    if let Some(path) = output {
        let text = match serde_json::to_string_pretty(&report) {
            Ok(t) => t,
            Err(e) => return fail(&format!("cannot encode the report: {e}")),
        };
        if let Err(e) = greenroom_core::write_atomic(&path, text.as_bytes()) {
            return fail(&format!(
                "cannot write the report to {}: {e}",
                path.display()
            ));
        }
        println!("report: {}", path.display());
    }
    if report.errors_count > 0 || report.packets_received == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
