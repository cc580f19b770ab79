//! `greenroom.toml`: the stack manifest.
//!
//! ```toml
//! name = "eloquence"                     # optional; names the state and log folders
//! env_files = [".env"]                   # optional; read for every service, in order
//!
//! [services.redis]
//! kind = "process"                       # process | compose | external
//! command = "redis-server"               # process: looked up on PATH, or a path relative to the manifest
//! args = ["--port", "6379", "--bind", "127.0.0.1"]
//! cwd = "."                              # relative to the manifest's folder
//! env = { REDIS_LOG = "1" }
//! env_files = ["redis.env"]
//! venv = "agent/.venv"                   # a Python virtualenv, activated as `source venv/bin/activate` would
//! ports = ["6379"]                       # "[host_ip:]port[-end][/tcp|/udp]"
//! critical = true                        # weighs 70 % of the health score with the other critical services
//! group = "principal"                    # principal | fallback
//! enabled = true
//! depends_on = { livekit = "healthy" }   # started | healthy | completed_successfully; a list means "started"
//!
//! [services.redis.probe]                 # readiness, then liveness
//! type = "redis"                         # http | tcp | websocket | redis | command | log | compose
//! port = 6379
//! startup_interval_ms = 10               # polling until first ready
//! interval_ms = 1000                     # liveness, once ready
//! timeout_ms = 1000                      # one probe
//! start_timeout_ms = 30000               # not ready by then: `up` fails for this service
//! failure_threshold = 3                  # failed liveness probes in a row that make it unhealthy
//!
//! [services.redis.restart]
//! policy = "on-failure"                  # no | on-failure | always | unless-stopped
//! on_unhealthy = true                    # restart after `failure_threshold` failed liveness probes
//! max_restarts = 5                       # restarts in a row before giving up (reset by a stable period)
//! backoff_initial_ms = 500               # doubled each time, ±20 % jitter, up to backoff_max_ms
//! backoff_max_ms = 30000
//! stable_after_ms = 30000                # up this long: the backoff and the count reset
//!
//! [services.redis.stop]
//! signal = "TERM"                        # TERM | INT | QUIT | HUP | KILL (Windows: CTRL_BREAK, then the Job Object)
//! grace_ms = 5000                        # then killed
//!
//! [services.redis.breaker]
//! threshold = 5                          # failures in a row that open the circuit
//! open_ms = 60000                        # how long it stays open before one trial (half-open)
//! ```
//!
//! Probe fields by type: `http` — `url`, `expect_status` (default: any 2xx/3xx),
//! `body_contains`, `json_field` (a dotted path) with `json_equals`; `tcp` and `redis` —
//! `port`, `host` (default 127.0.0.1); `websocket` — `url`; `command` — `command` (a list;
//! exit code 0 is healthy); `log` — `pattern` (a regex matched against the service's
//! output); `compose` — docker's own health status of the compose service.
//!
//! Built-in services (`kind = "builtin"`) run inside Greenroom: `builtin` names which
//! (`token-service`), `env` configures it, `ports` says where it listens.
//!
//! Compose services: `compose_files` (relative to the manifest), `compose_project`,
//! `compose_service` (default: the service's name), `compose_profiles`.
//!
//! Every field not listed is an error (a typo must not be silently ignored).
//! `provenance` (written by `greenroom import compose`) maps a field to the `file:line` it
//! came from, so that errors point at the compose file a person edits.
//!
//! Errors: [`parse`] fails with a [`SyntaxError`] (line and column when TOML says),
//! [`load`] with [`DefinitionError`]s (file, line, what, and a hint), a port text with a
//! [`PortError`] (parsed in the `port` submodule); all are of kind `InvalidInput`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

mod port;

pub use port::{PortError, PortSpec, Protocol};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<String>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSpec>,
}

impl Manifest {
    /// The TCP ports that enabled services publish on the host: what an HTTP or WebSocket
    /// URL can reach (a UDP media range is not).
    pub fn published_tcp_ports(&self) -> std::collections::BTreeSet<u16> {
        self.services
            .values()
            .filter(|s| s.enabled)
            .flat_map(|s| s.ports.iter())
            .filter(|p| p.protocol == Protocol::Tcp)
            .flat_map(|p| p.ports())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    #[default]
    Process,
    Compose,
    External,
    /// Runs inside Greenroom (the sandbox's token service…); `builtin` names which.
    Builtin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    #[default]
    Principal,
    Fallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

/// `depends_on`: a list of names (each `started`) or a table of name → condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, Condition>),
}

impl Default for DependsOn {
    fn default() -> Self {
        DependsOn::Map(BTreeMap::new())
    }
}

impl DependsOn {
    pub fn entries(&self) -> Vec<(String, Condition)> {
        match self {
            DependsOn::List(names) => names
                .iter()
                .map(|n| (n.clone(), Condition::Started))
                .collect(),
            DependsOn::Map(map) => map.iter().map(|(n, c)| (n.clone(), *c)).collect(),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            DependsOn::List(v) => v.is_empty(),
            DependsOn::Map(m) => m.is_empty(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub kind: ServiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv: Option<String>,

    /// For `kind = "builtin"`: which built-in service (`token-service`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compose_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_service: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compose_profiles: Vec<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub group: Group,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "DependsOn::is_empty")]
    pub depends_on: DependsOn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    #[serde(default)]
    pub restart: RestartSpec,
    #[serde(default)]
    pub stop: StopSpec,
    #[serde(default)]
    pub breaker: BreakerSpec,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            kind: ServiceKind::Process,
            description: None,
            command: None,
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
            env_files: Vec::new(),
            venv: None,
            builtin: None,
            compose_files: Vec::new(),
            compose_project: None,
            compose_service: None,
            compose_profiles: Vec::new(),
            ports: Vec::new(),
            critical: false,
            group: Group::Principal,
            enabled: true,
            depends_on: DependsOn::default(),
            probe: None,
            restart: RestartSpec::default(),
            stop: StopSpec::default(),
            breaker: BreakerSpec::default(),
            provenance: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProbeCheck {
    Http {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body_contains: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        json_field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        json_equals: Option<String>,
    },
    Tcp {
        port: u16,
        #[serde(default = "loopback")]
        host: String,
    },
    Websocket {
        url: String,
    },
    Redis {
        port: u16,
        #[serde(default = "loopback")]
        host: String,
    },
    Command {
        command: Vec<String>,
    },
    Log {
        pattern: String,
    },
    Compose {},
}

fn loopback() -> String {
    "127.0.0.1".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSpec {
    #[serde(flatten)]
    pub check: ProbeCheck,
    #[serde(default = "defaults::startup_interval_ms")]
    pub startup_interval_ms: u64,
    #[serde(default = "defaults::interval_ms")]
    pub interval_ms: u64,
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "defaults::start_timeout_ms")]
    pub start_timeout_ms: u64,
    #[serde(default = "defaults::failure_threshold")]
    pub failure_threshold: u32,
}

impl ProbeSpec {
    pub fn new(check: ProbeCheck) -> Self {
        Self {
            check,
            startup_interval_ms: defaults::startup_interval_ms(),
            interval_ms: defaults::interval_ms(),
            timeout_ms: defaults::timeout_ms(),
            start_timeout_ms: defaults::start_timeout_ms(),
            failure_threshold: defaults::failure_threshold(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    #[default]
    OnFailure,
    Always,
    UnlessStopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    #[serde(default)]
    pub policy: RestartPolicy,
    #[serde(default = "yes")]
    pub on_unhealthy: bool,
    #[serde(default = "defaults::max_restarts")]
    pub max_restarts: u32,
    #[serde(default = "defaults::backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    #[serde(default = "defaults::backoff_max_ms")]
    pub backoff_max_ms: u64,
    #[serde(default = "defaults::stable_after_ms")]
    pub stable_after_ms: u64,
}

impl Default for RestartSpec {
    fn default() -> Self {
        Self {
            policy: RestartPolicy::default(),
            on_unhealthy: true,
            max_restarts: defaults::max_restarts(),
            backoff_initial_ms: defaults::backoff_initial_ms(),
            backoff_max_ms: defaults::backoff_max_ms(),
            stable_after_ms: defaults::stable_after_ms(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    #[default]
    Term,
    Int,
    Quit,
    Hup,
    Kill,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopSpec {
    #[serde(default)]
    pub signal: StopSignal,
    #[serde(default = "defaults::grace_ms")]
    pub grace_ms: u64,
}

impl Default for StopSpec {
    fn default() -> Self {
        Self {
            signal: StopSignal::Term,
            grace_ms: defaults::grace_ms(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    #[serde(default = "defaults::breaker_threshold")]
    pub threshold: u32,
    #[serde(default = "defaults::breaker_open_ms")]
    pub open_ms: u64,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        Self {
            threshold: defaults::breaker_threshold(),
            open_ms: defaults::breaker_open_ms(),
        }
    }
}

pub mod defaults {
    pub fn startup_interval_ms() -> u64 {
        10
    }
    pub fn interval_ms() -> u64 {
        1000
    }
    pub fn timeout_ms() -> u64 {
        1000
    }
    pub fn start_timeout_ms() -> u64 {
        30_000
    }
    pub fn failure_threshold() -> u32 {
        3
    }
    pub fn max_restarts() -> u32 {
        5
    }
    pub fn backoff_initial_ms() -> u64 {
        500
    }
    pub fn backoff_max_ms() -> u64 {
        30_000
    }
    pub fn stable_after_ms() -> u64 {
        30_000
    }
    pub fn grace_ms() -> u64 {
        5_000
    }
    pub fn breaker_threshold() -> u32 {
        5
    }
    pub fn breaker_open_ms() -> u64 {
        60_000
    }
}

/// Where something in a manifest or compose file is, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// A problem in a stack definition: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}{}", hint.as_ref().map(|h| format!(". {h}")).unwrap_or_default())]
pub struct DefinitionError {
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

/// Every definition error is fixed by editing the definition (`InvalidInput`) — even
/// "cannot read the manifest", which names the path the person gave.
impl greenroom_core::Classified for DefinitionError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

/// Manifest text that is not valid TOML for a manifest: where (1-based, when TOML says)
/// and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", match (line, column) {
    (Some(l), Some(c)) => format!("{l}:{c}: "),
    (Some(l), None) => format!("{l}: "),
    _ => String::new(),
})]
pub struct SyntaxError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl greenroom_core::Classified for SyntaxError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

/// Reads and validates a manifest file.
pub fn load(path: &Path) -> Result<Manifest, Vec<DefinitionError>> {
    let at = |line: Option<usize>, column: Option<usize>| Location {
        file: path.to_path_buf(),
        line,
        column,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![DefinitionError {
            location: at(None, None),
            message: format!("cannot read the manifest: {e}"),
            hint: Some("check the path given to --stack".into()),
        }]
    })?;
    let manifest = parse(&text).map_err(|e| {
        vec![DefinitionError {
            location: at(e.line, e.column),
            message: e.message,
            hint: Some("see the manifest format in the README (Stack manifest)".into()),
        }]
    })?;
    let problems = validate(&manifest);
    if problems.is_empty() {
        return Ok(manifest);
    }
    Err(problems
        .into_iter()
        .map(|p| {
            let line = p
                .provenance
                .clone()
                .or_else(|| find_line(&text, &p.service, p.field.as_deref()));
            DefinitionError {
                location: match line {
                    Some(Provenance::Here(line)) => at(Some(line), None),
                    Some(Provenance::Elsewhere(text)) => Location {
                        file: PathBuf::from(text),
                        line: None,
                        column: None,
                    },
                    None => at(None, None),
                },
                message: format!("service `{}`: {}", p.service, p.message),
                hint: p.hint,
            }
        })
        .collect())
}

/// Parses manifest text (no validation: see [`validate`]).
pub fn parse(text: &str) -> Result<Manifest, SyntaxError> {
    toml::from_str::<Manifest>(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        SyntaxError {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Provenance {
    Here(usize),
    /// `file:line` recorded by the compose importer.
    Elsewhere(String),
}

/// The line of `[services.<id>]` (or of `field = ` inside it) in manifest text.
fn find_line(text: &str, service: &str, field: Option<&str>) -> Option<Provenance> {
    let headers = [
        format!("[services.{service}]"),
        format!("[services.\"{service}\"]"),
    ];
    let mut in_service = false;
    let mut header_line = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let is_ours =
                headers.iter().any(|h| t == h) || t.starts_with(&format!("[services.{service}."));
            if headers.iter().any(|h| t == h) && header_line.is_none() {
                header_line = Some(i + 1);
            }
            in_service = is_ours;
            continue;
        }
        if in_service
            && let Some(field) = field
            && t.split('=').next().map(str::trim) == Some(field)
        {
            return Some(Provenance::Here(i + 1));
        }
    }
    header_line.map(Provenance::Here)
}

/// One problem found by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub service: String,
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    provenance: Option<Provenance>,
}

/// Whether `path` stays inside the folder it is relative to: not empty, not absolute (nor
/// rooted or with a drive on Windows), no `..`. `Err` says why not. Greenroom creates and
/// replaces what such a path names (a virtualenv), so it must never point elsewhere.
pub fn confined_relative_path(path: &str) -> Result<(), &'static str> {
    use std::path::Component;
    if path.trim().is_empty() || path.trim() == "." {
        return Err("names the stack's folder itself; it must name a folder inside it");
    }
    let looks_windows_absolute =
        path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':') || path.starts_with('/');
    if looks_windows_absolute {
        return Err("is an absolute path; it must be relative to the stack's folder");
    }
    for part in std::path::Path::new(path).components() {
        match part {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err("goes up with `..`; it must stay inside the stack's folder");
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path; it must be relative to the stack's folder");
            }
        }
    }
    if path.split(['/', '\\']).any(|p| p == "..") {
        return Err("goes up with `..`; it must stay inside the stack's folder");
    }
    Ok(())
}

/// Checks what serde cannot: names, references, cycles, ports, probe values.
pub fn validate(manifest: &Manifest) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |service: &str,
                       spec: &ServiceSpec,
                       field: Option<&str>,
                       message: String,
                       hint: Option<&str>| {
        let provenance = field
            .and_then(|f| spec.provenance.get(f))
            .or_else(|| spec.provenance.get("service"))
            .map(|p| Provenance::Elsewhere(p.clone()));
        problems.push(Problem {
            service: service.to_owned(),
            field: field.map(str::to_owned),
            message,
            hint: hint.map(str::to_owned),
            provenance,
        });
    };
    for (id, spec) in &manifest.services {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            problem(
                id,
                spec,
                None,
                "a service name may use only letters, digits, `-`, `_` and `.`".into(),
                None,
            );
        }
        match spec.kind {
            ServiceKind::Process if spec.command.as_deref().is_none_or(|c| c.trim().is_empty()) => {
                problem(
                    id,
                    spec,
                    Some("command"),
                    "a process service needs a `command`".into(),
                    Some("add command = \"…\" (the program to run)"),
                )
            }
            ServiceKind::Compose if spec.compose_files.is_empty() => problem(
                id,
                spec,
                Some("compose_files"),
                "a compose service needs `compose_files`".into(),
                Some("add compose_files = [\"docker-compose.yml\"]"),
            ),
            ServiceKind::Builtin if spec.builtin.is_none() => problem(
                id,
                spec,
                Some("builtin"),
                "a builtin service needs `builtin` (which one: token-service…)".into(),
                None,
            ),
            ServiceKind::External if spec.probe.is_none() => problem(
                id,
                spec,
                Some("probe"),
                "an external service needs a `probe`: it is the only way to know it is there"
                    .into(),
                Some("add [services.<name>.probe] with type = \"http\" and its url"),
            ),
            _ => {}
        }
        if let Some(venv) = &spec.venv
            && let Err(why) = confined_relative_path(venv)
        {
            problem(
                id,
                spec,
                Some("venv"),
                format!("`venv = {venv:?}` {why}"),
                Some(
                    "write the virtualenv's folder relative to the stack, such as venv = \"agent/.venv\"",
                ),
            );
        }
        for (dep, _) in spec.depends_on.entries() {
            if dep == *id {
                problem(
                    id,
                    spec,
                    Some("depends_on"),
                    "depends on itself".into(),
                    None,
                );
            } else if !manifest.services.contains_key(&dep) {
                problem(
                    id,
                    spec,
                    Some("depends_on"),
                    format!("depends on `{dep}`, which is not a service of this stack"),
                    Some("fix the name, or add that service"),
                );
            }
        }
        if let Some(probe) = &spec.probe {
            for message in probe_problems(probe) {
                problem(id, spec, Some("probe"), message, None);
            }
        }
        if spec.restart.backoff_initial_ms == 0
            || spec.restart.backoff_max_ms < spec.restart.backoff_initial_ms
        {
            problem(
                id,
                spec,
                Some("restart"),
                "backoff_initial_ms must be > 0 and backoff_max_ms at least as large".into(),
                None,
            );
        }
    }
    // Two enabled services publishing the same host port cannot both start.
    let enabled: Vec<_> = manifest
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .collect();
    for (i, (a, sa)) in enabled.iter().enumerate() {
        for (b, sb) in &enabled[i + 1..] {
            for pa in &sa.ports {
                if let Some(pb) = sb.ports.iter().find(|pb| pa.overlaps(pb)) {
                    problem(
                        b,
                        sb,
                        Some("ports"),
                        format!("publishes {pb}, which `{a}` publishes too ({pa})"),
                        Some("give one of them another port, or disable one"),
                    );
                }
            }
        }
    }
    if let Err(cycle) = crate::graph::start_order(manifest) {
        let first = manifest
            .services
            .get(&cycle[0])
            .cloned()
            .unwrap_or_default();
        problem(
            &cycle[0],
            &first,
            Some("depends_on"),
            format!("dependency cycle: {}", cycle.join(" → ")),
            Some("remove one of these depends_on entries"),
        );
    }
    problems
}

fn probe_problems(probe: &ProbeSpec) -> Vec<String> {
    let mut out = Vec::new();
    match &probe.check {
        ProbeCheck::Http { url, .. }
            if !(url.starts_with("http://") || url.starts_with("https://")) =>
        {
            out.push(format!(
                "http probe url `{url}` must start with http:// or https://"
            ))
        }
        ProbeCheck::Websocket { url }
            if !(url.starts_with("ws://") || url.starts_with("wss://")) =>
        {
            out.push(format!(
                "websocket probe url `{url}` must start with ws:// or wss://"
            ))
        }
        ProbeCheck::Command { command } if command.is_empty() => {
            out.push("command probe needs a command".into())
        }
        ProbeCheck::Log { pattern } => {
            if let Err(e) = regex::Regex::new(pattern) {
                out.push(format!("log probe pattern is not a valid regex: {e}"));
            }
        }
        _ => {}
    }
    if probe.timeout_ms == 0 || probe.interval_ms == 0 || probe.startup_interval_ms == 0 {
        out.push("probe intervals and timeout must be > 0 ms".into());
    }
    if probe.failure_threshold == 0 {
        out.push("failure_threshold must be at least 1".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_manifest_parses_with_defaults() {
        let m = parse(
            r#"
name = "demo"
[services.redis]
command = "redis-server"
ports = ["6379"]
critical = true
[services.redis.probe]
type = "redis"
port = 6379
[services.api]
command = "python3"
args = ["-m", "http.server"]
depends_on = { redis = "healthy" }
[services.api.probe]
type = "http"
url = "http://127.0.0.1:8000/"
interval_ms = 500
"#,
        )
        .unwrap();
        assert!(validate(&m).is_empty(), "{:?}", validate(&m));
        let api = &m.services["api"];
        assert_eq!(
            api.depends_on.entries(),
            vec![("redis".to_owned(), Condition::Healthy)]
        );
        let probe = api.probe.as_ref().unwrap();
        assert_eq!((probe.interval_ms, probe.startup_interval_ms), (500, 10));
        assert_eq!(api.restart.policy, RestartPolicy::OnFailure);
        assert_eq!(api.stop.grace_ms, 5000);
        assert!(api.enabled);
    }

    #[test]
    fn typos_are_errors_with_a_line() {
        let error = parse("[services.a]\ncommand = \"x\"\ncomand = \"y\"\n").unwrap_err();
        assert_eq!(error.line, Some(3));
        assert!(error.message.contains("comand"), "{}", error.message);
    }

    #[test]
    fn validation_finds_references_cycles_and_port_clashes() {
        let text = r#"
[services.a]
command = "x"
ports = ["8000"]
depends_on = ["b"]
[services.b]
command = "x"
ports = ["7990-8010"]
depends_on = ["a"]
[services.c]
depends_on = ["nope"]
"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("greenroom.toml");
        std::fs::write(&path, text).unwrap();
        let errors = load(&path).unwrap_err();
        let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let joined = all.join("\n");
        assert!(joined.contains("dependency cycle: a → b → a"), "{joined}");
        assert!(
            joined.contains("publishes 7990-8010, which `a` publishes too (8000)"),
            "{joined}"
        );
        assert!(
            joined.contains("`nope`, which is not a service"),
            "{joined}"
        );
        assert!(joined.contains("needs a `command`"), "{joined}");
        // Each error points at a line of the file.
        let c = errors.iter().find(|e| e.message.contains("nope")).unwrap();
        assert_eq!(c.location.line, Some(11), "{c}");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text).map(|m| validate(&m));
        }
    }
}
