//! `greenroom`: Greenroom without a window.
//!
//! Exit codes: 0 success; 1 a failure (the message says what and what to do); 2 the
//! command line or a value given on it is invalid (nothing was changed).
//!
//! Every command goes through `greenroom_api`: its methods in this process, or, for the
//! stack's verbs while another Greenroom supervises the stack, a typed request to that
//! process ([`target::Target`]). One module per command family:
//!
//! - `app_commands`: `serve`, `doctor`, `settings`;
//! - `stack_commands`: `up`, `down`, `restart`, `status`, `preflight`, `check`, `monitor`,
//!   `logs`, `fix`, `report`, `import`;
//! - `rooms_commands`: `token`, `rooms …` (including `rooms join`);
//! - `stream_test_command`: `stream-test`;
//! - `exercises_commands`: `exercises …`;
//! - `talk_command`: `talk`.

mod app_commands;
mod exercises_commands;
mod rooms_commands;
mod stack_commands;
mod stream_test_command;
mod talk_command;
mod target;

use app_commands::SettingsCommand;
use clap::{Parser, Subcommand};
use exercises_commands::ExercisesCommand;
use greenroom_api::{Api, ApiError, AppHome, ErrorCode, NullSink};
use rooms_commands::RoomsCommand;
use stack_commands::ImportCommand;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use stream_test_command::StreamSuite;

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
        /// that have the token start processes and change your settings: only do it on a
        /// network you trust.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// A host name the server also answers to (repeatable): `name`, `name:port`, or
        /// `.domain` for a domain and its subdomains. Loopback names, and off loopback this
        /// machine's IP addresses, are always allowed.
        #[arg(long = "allowed-host", value_name = "NAME")]
        allowed_hosts: Vec<String>,
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
        /// Supervise in the background and return (as `docker compose up -d`); `down`,
        /// `status` and `logs` drive it, and the desktop app attaches to it
        #[arg(long, short = 'd')]
        detach: bool,
        /// With --detach: return only once every service is ready, or fail saying which is not
        #[arg(long, requires = "detach")]
        wait: bool,
        /// With --wait: give up after this many seconds
        #[arg(long, default_value_t = 300, value_name = "SECONDS")]
        wait_timeout: u64,
        /// Set by `--detach` on the background supervisor: a service that fails does not
        /// stop the others (as `docker compose up -d`)
        #[arg(long, hide = true)]
        background: bool,
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
    /// Stream tests through a LiveKit server: our participants send audio and packets,
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
        transport: Option<greenroom_api::IceTransport>,
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
    /// Talk to Marie: your microphone (or --input FILE.wav) → speech-to-text → the
    /// conversation service → text-to-speech → your speaker, with each turn's timings.
    /// The services: 127.0.0.1 ports 8002 (STT, Vosk shape), 8001 (chat), 5002 (TTS), as
    /// the sandbox and Eloquence publish them, unless --stt-url/--llm-url/--tts-url say otherwise
    Talk {
        /// direct: Greenroom runs STT → LLM → TTS over HTTP; livekit: Marie's agent in a
        /// LiveKit room, over WebRTC, as the Flutter app meets her
        #[arg(long, default_value = "direct", value_parser = ["direct", "livekit"])]
        mode: String,
        /// LiveKit mode: join this room (default: a new one); a room the app opened works
        #[arg(long, value_name = "ROOM")]
        room: Option<String>,
        /// LiveKit mode: dispatch the agent registered under this name (explicit
        /// dispatch); without it, the agent joins new rooms on its own
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        /// LiveKit mode: how long the agent may take to join, in seconds [default: 10]
        #[arg(long, value_name = "S")]
        agent_timeout: Option<f64>,
        /// An exercise id (greenroom talk --list shows them) [default: conversation_libre]
        #[arg(long)]
        exercise: Option<String>,
        /// List the characters and exercises, and exit
        #[arg(long)]
        list: bool,
        /// Play this WAV file as the learner instead of the microphone: it is cut into
        /// utterances at pauses, each said once Marie has answered the one before; exits
        /// after the last turn
        #[arg(long, value_name = "FILE.wav")]
        input: Option<PathBuf>,
        /// Write learner.wav, marie.wav, transcript.json and session.json here
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// Print the report (schema greenroom.talk/1) as JSON
        #[arg(long)]
        json: bool,
        /// Silence after speech that ends a turn, 200..2000 ms [default: 800]
        #[arg(long, value_name = "MS")]
        end_of_speech: Option<u32>,
        /// Do not play Marie's voice (scripted runs without a speaker)
        #[arg(long)]
        silent: bool,
        /// Marie does not say the exercise's opening line first
        #[arg(long)]
        no_opening: bool,
        /// Speak the reply once it is whole, not from its first sentence (a baseline)
        #[arg(long)]
        whole_reply: bool,
        /// A seed for the conversation service (the offline coach is deterministic with it)
        #[arg(long)]
        seed: Option<i64>,
        /// End after this many turns (default: when the input ends, or Ctrl-C)
        #[arg(long, value_name = "N")]
        turns: Option<u32>,
        /// Speech-to-text URL (…/transcribe: Vosk shape; …/v1/audio/transcriptions: OpenAI)
        #[arg(long, value_name = "URL")]
        stt_url: Option<String>,
        /// The conversation service's OpenAI-compatible base URL (…/v1)
        #[arg(long, value_name = "URL")]
        llm_url: Option<String>,
        /// The conversation model
        #[arg(long)]
        llm_model: Option<String>,
        /// The text-to-speech service's OpenAI-compatible base URL (…/v1)
        #[arg(long, value_name = "URL")]
        tts_url: Option<String>,
        /// LiveKit mode: Eloquence's token service base URL (POST …/generate-token)
        #[arg(long, value_name = "URL")]
        token_url: Option<String>,
    },
    /// Write a greenroom.toml manifest from other definitions
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Greenroom's own variables that are set but empty count as unset, as most tools treat
/// them (`GREENROOM_HOME=` would otherwise be "a value is required for '--home'").
/// Variables that services read are left alone: for them, set-but-empty can mean something
/// (compose's `${VAR-default}`), and Greenroom's readers of LIVEKIT_* already skip empty ones.
fn forget_empty_variables() {
    for name in [
        "GREENROOM_HOME",
        "GREENROOM_STACK",
        "GREENROOM_LOG",
        "GREENROOM_TOOLS_DIR",
    ] {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            // SAFETY: called first thing in main, before any thread is started.
            unsafe { std::env::remove_var(name) };
        }
    }
}

fn main() -> ExitCode {
    // Windows: this executable is also the helper that delivers a stop to a service's console.
    if let Some(code) = greenroom_api::run_console_event_helper_if_asked() {
        return ExitCode::from(code as u8);
    }
    greenroom_core::console::keep_std_handles_from_children();
    forget_empty_variables();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GREENROOM_LOG")
                // cpal's PulseAudio client logs a reconnection as an error; the device
                // notice says it in words.
                .unwrap_or_else(|_| "warn,pulseaudio=off".into()),
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

pub(crate) fn stack_api(
    home: AppHome,
    stack: Option<PathBuf>,
    sink: Arc<dyn greenroom_api::EventSink<greenroom_api::EventEnvelope>>,
) -> Api {
    Api::new(home, greenroom_api::default_tool_dirs(), sink)
        .with_stack(stack, std::env::current_dir().ok())
}

async fn run(command: Command, home: AppHome, stack: Option<PathBuf>) -> ExitCode {
    let quiet = || Arc::new(stack_api(home.clone(), stack.clone(), Arc::new(NullSink)));
    match command {
        Command::Up {
            only,
            force,
            detach: true,
            wait,
            wait_timeout,
            ..
        } => {
            let detach = stack_commands::Detach {
                home: home.root().to_path_buf(),
                stack: stack.clone(),
                only,
                force,
                wait,
                wait_timeout: std::time::Duration::from_secs(wait_timeout),
            };
            stack_commands::up_detached(quiet(), detach).await
        }
        Command::Up {
            only,
            force,
            background,
            ..
        } => {
            let lines = Arc::new(stack_commands::StateLines::default());
            stack_commands::up(
                Arc::new(stack_api(home, stack, lines)),
                only,
                force,
                background,
            )
            .await
        }
        Command::Preflight { json } => stack_commands::preflight(&quiet(), json).await,
        Command::Down => stack_commands::down(quiet()).await,
        Command::Restart { service } => stack_commands::restart(quiet(), service).await,
        Command::Status { json } => stack_commands::status(quiet(), json).await,
        Command::Fix { yes } => stack_commands::fix(quiet(), yes).await,
        Command::Report { output, duration } => {
            stack_commands::report(quiet(), output, duration).await
        }
        Command::Check { json } => stack_commands::check(&quiet(), json).await,
        Command::Monitor { interval, count } => {
            stack_commands::monitor(&quiet(), interval, count).await
        }
        Command::Logs {
            service,
            follow,
            grep,
            lines,
        } => stack_commands::logs(&quiet(), service, follow, grep, lines).await,
        Command::Import(ImportCommand::Compose {
            files,
            profile,
            output,
        }) => stack_commands::import_compose(files, profile, output),
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
            let request = greenroom_api::TokenRequest {
                room,
                identity,
                name,
                metadata,
                ttl_seconds: ttl.unwrap_or(6 * 3600),
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
            rooms_commands::token(&Api::new(home, vec![], Arc::new(NullSink)), request).await
        }
        Command::Rooms(command) => rooms_commands::rooms(home, command).await,
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
            let request = greenroom_api::StreamTestRequest {
                suite: Some(suite.into()),
                duration_seconds: duration,
                packets,
                interval_ms: interval,
                publishers,
                subscribers,
                loss,
                latency_ms: latency,
                jitter_ms: jitter,
                block_udp,
                transport,
                room: None,
                config_file: config.map(|p| p.display().to_string()),
            };
            stream_test_command::run(home, request, output, verbose).await
        }
        Command::Exercises(command) => {
            exercises_commands::run(
                Api::new(home, greenroom_api::default_tool_dirs(), Arc::new(NullSink)),
                command,
            )
            .await
        }
        Command::Talk {
            mode,
            room,
            agent,
            agent_timeout,
            exercise,
            list,
            input,
            record,
            json,
            end_of_speech,
            silent,
            no_opening,
            whole_reply,
            seed,
            turns,
            stt_url,
            llm_url,
            llm_model,
            tts_url,
            token_url,
        } => {
            if list {
                return talk_command::list(home, json).await;
            }
            let mode = match mode.parse::<greenroom_api::TalkMode>() {
                Ok(m) => m,
                Err(e) => return usage_error(&e),
            };
            if mode == greenroom_api::TalkMode::Direct && (room.is_some() || agent.is_some()) {
                return usage_error("--room and --agent are for --mode livekit");
            }
            let agent_timeout_ms = match agent_timeout {
                None => None,
                Some(s) if s.is_finite() && (0.5..=600.0).contains(&s) => {
                    Some((s * 1000.0).round() as u32)
                }
                Some(s) => {
                    return usage_error(&format!(
                        "--agent-timeout {s}: give seconds between 0.5 and 600"
                    ));
                }
            };
            let args = talk_command::TalkArgs {
                mode,
                room,
                agent,
                agent_timeout_ms,
                exercise,
                input,
                record,
                json,
                push_to_talk: false,
                end_of_speech_ms: end_of_speech,
                silent,
                no_opening,
                whole_reply,
                seed,
                max_turns: turns,
                services: greenroom_api::TalkServiceOverrides {
                    stt_url,
                    stt_shape: None,
                    llm_url,
                    llm_model,
                    tts_url,
                    token_url,
                },
            };
            talk_command::run(home, args).await
        }
        Command::Serve {
            port,
            host,
            allowed_hosts,
        } => {
            app_commands::serve(
                home,
                stack,
                std::net::SocketAddr::new(host, port),
                allowed_hosts,
            )
            .await
        }
        Command::Doctor { json } => app_commands::doctor(home, json).await,
        Command::Settings(command) => {
            app_commands::settings(&Api::new(home, vec![], Arc::new(NullSink)), command).await
        }
    }
}

/// Ctrl-C, or a polite request to end: SIGTERM on Unix; Ctrl-Break or the console window
/// closing on Windows. Commands that run until told to stop (`up`, `talk`, `logs -f`)
/// wait on this, so that a service manager's stop ends them as cleanly as Ctrl-C does.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_close};
        match (ctrl_break(), ctrl_close()) {
            (Ok(mut brk), Ok(mut close)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = brk.recv() => {}
                    _ = close.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
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
    // Refused before anything happened: a wrong value, or a decision the command lacks.
    if matches!(error.code, ErrorCode::InvalidInput | ErrorCode::Conflict) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// A bad value on the command line or in a file it names: exit 2, nothing happened.
pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
