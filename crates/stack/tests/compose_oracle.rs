//! The compose importer against compose itself (the oracle): `docker compose config
//! --format json` on the same files, run in the first file's folder, with the same
//! environment and a fixed project name (`-p oracle`).
//!
//! The corpus, read where it lies (never copied into this repository):
//! - compose-go v2.9.1's own test data (`loader/testdata`, `cli/testdata` and
//!   `loader/full-example.yml`), from the Go module cache (`go mod download -json` says
//!   where; `GOMODCACHE` or `~/go/pkg/mod` when `go` is not on PATH). We did not write these.
//! - the team's compose files (`shared/eloquence-2025-08-04`, beside the repository). Nor these.
//!   They name a `.env` the snapshot does not have, so both refuse them as they are; they
//!   are compared again from a temporary copy beside an empty `.env` (`team+.env/…`).
//! - files we wrote for the rules compose enforces (`tests/fixtures/compose/oracle`, each
//!   marked as ours), and our `eloquence` fixture.
//!
//! For each case: both accept or both refuse. When both accept: the same service names
//! (every profile), the same enabled services (no profile active), and for each enabled
//! service the same dependencies (names and conditions, implicit ones included; compose's
//! `required: false` entries are left out, as Greenroom drops them) and the same published
//! host ports (expanded, then compared as ranges).
//!
//! The compose binary: `docker-compose` in `GREENROOM_TOOLS_DIR`, else in the checkout's
//! `tools/bin`, else `docker compose` on PATH. Without it (or without compose-go's test
//! data) the test fails when `CI` is set, and otherwise says it skipped.
//!
//! The agreement table: `cargo test -p greenroom-stack --test compose_oracle -- --nocapture`.

use greenroom_stack::compose::{ComposeOptions, import};
use greenroom_stack::manifest::{Condition, Protocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const COMPOSE_GO: &str = "github.com/compose-spec/compose-go/v2@v2.9.1";

/// Cases left out of the comparison, by the name the table gives them, each with why.
/// Empty: every case of the corpus is compared. (Greenroom does not resolve `extends`;
/// no case of the corpus shows it today, as none takes ports or dependencies from a base.)
const SKIP: &[(&str, &str)] = &[];

/// Compose files, the first one's folder as the working directory.
struct Case {
    name: String,
    files: Vec<PathBuf>,
}

/// What a model of a project is compared on.
#[derive(Debug, Clone, PartialEq, Default)]
struct Model {
    /// Every service (every profile active); `None` when compose could not say.
    all: Option<BTreeSet<String>>,
    /// The services enabled with no profile active.
    enabled: BTreeSet<String>,
    /// Enabled service → its dependencies (`service:condition`).
    deps: BTreeMap<String, BTreeSet<String>>,
    /// Enabled service → its published host ports, as ranges.
    ports: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
enum Verdict {
    Accepted(Model),
    Refused(String),
    Panicked(String),
}

impl Verdict {
    fn word(&self) -> &'static str {
        match self {
            Verdict::Accepted(_) => "accept",
            Verdict::Refused(_) => "refuse",
            Verdict::Panicked(_) => "PANIC",
        }
    }
}

enum Oracle {
    Binary(PathBuf),
    DockerPlugin,
}

impl Oracle {
    fn find() -> Option<Oracle> {
        let name = format!("docker-compose{}", std::env::consts::EXE_SUFFIX);
        if let Some(bin) = greenroom_test_support::tool_dirs()
            .into_iter()
            .map(|d| d.join(&name))
            .find(|p| p.is_file())
        {
            return Some(Oracle::Binary(bin));
        }
        let plugin = Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        plugin.then_some(Oracle::DockerPlugin)
    }

    fn command(&self) -> Command {
        match self {
            Oracle::Binary(path) => Command::new(path),
            Oracle::DockerPlugin => {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Oracle::Binary(path) => path.display().to_string(),
            Oracle::DockerPlugin => "docker compose (PATH)".into(),
        }
    }

    /// `config --format json`, every profile active when `all_profiles`.
    fn config(
        &self,
        case: &Case,
        env: &BTreeMap<String, String>,
        all_profiles: bool,
    ) -> Result<Value, String> {
        let mut command = self.command();
        command
            .current_dir(folder(&case.files[0]))
            .env_clear()
            .envs(env)
            .args(["-p", "oracle"]);
        // Where the docker CLI finds its compose plugin, when it is the oracle.
        if let Some(config) = std::env::var_os("DOCKER_CONFIG") {
            command.env("DOCKER_CONFIG", config);
        }
        for file in &case.files {
            command.arg("-f").arg(file);
        }
        if all_profiles {
            command.args(["--profile", "*"]);
        }
        command.args(["config", "--format", "json"]);
        let out = command
            .output()
            .map_err(|e| format!("cannot run compose: {e}"))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            // The refusal, not the warnings before it.
            let reason = text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.contains("level="))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(reason);
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("compose's JSON: {e}"))
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn folder(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("compose oracle: {why} (CI is set, so this is a failure)");
    }
    println!("compose oracle SKIPPED: {why}");
}

/// compose-go's module folder in the Go module cache (downloaded when missing).
fn compose_go_dir() -> Option<PathBuf> {
    let download = Command::new("go")
        .args(["mod", "download", "-json", COMPOSE_GO])
        .current_dir(std::env::temp_dir())
        .output();
    if let Ok(out) = download
        && let Ok(json) = serde_json::from_slice::<Value>(&out.stdout)
        && let Some(dir) = json.get("Dir").and_then(Value::as_str)
        && Path::new(dir).is_dir()
    {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("GOMODCACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join("go/pkg/mod")))?;
    let dir = cache.join(COMPOSE_GO);
    dir.is_dir().then_some(dir)
}

fn yaml_files(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if recurse {
                yaml_files(&path, recurse, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The cases, and the temporary folders some of them are read from (kept until the end).
fn corpus(compose_go: &Path) -> (Vec<Case>, Vec<tempfile::TempDir>) {
    let mut scratch = Vec::new();
    let mut cases = Vec::new();
    // compose-go's test data.
    let mut files = Vec::new();
    for sub in ["cli/testdata", "loader/testdata"] {
        yaml_files(&compose_go.join(sub), true, &mut files);
    }
    files.push(compose_go.join("loader/full-example.yml"));
    for file in files {
        let rel = file.strip_prefix(compose_go).unwrap_or(&file);
        cases.push(Case {
            name: format!("compose-go/{}", rel.display()),
            files: vec![file],
        });
    }
    // The team's compose files.
    let team = canonical(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04"),
    );
    let team_files: [&[&str]; 4] = [
        &["docker-compose.yml"],
        &["docker-compose.yml", "docker-compose.override.yml"],
        &["docker-compose-new.yml"],
        &["docker-compose.production.yml"],
    ];
    if team.join("docker-compose.yml").is_file() {
        for files in team_files {
            cases.push(Case {
                name: format!("team/{}", files.join(" + ")),
                files: files.iter().map(|f| team.join(f)).collect(),
            });
        }
        // The snapshot has no `.env` (its secrets stay out of the repository), so compose
        // refuses the files that name it. To compare what they define, the same files are
        // also read from a temporary copy beside an empty `.env` (never copied into ours).
        for files in team_files {
            let dir = tempfile::tempdir().expect("a temporary folder");
            // The env files the snapshot has (`.env.production`…) come along.
            let env_files = std::fs::read_dir(&team)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".env"));
            let copied = files
                .iter()
                .map(|f| f.to_string())
                .chain(env_files)
                .all(|f| std::fs::copy(team.join(&f), dir.path().join(&f)).is_ok());
            if !copied || std::fs::write(dir.path().join(".env"), "").is_err() {
                continue;
            }
            cases.push(Case {
                name: format!("team+.env/{}", files.join(" + ")),
                files: files
                    .iter()
                    .map(|f| canonical(&dir.path().join(f)))
                    .collect(),
            });
            scratch.push(dir);
        }
    } else {
        skip_or_fail(&format!(
            "the team's compose file is missing: {}",
            team.display()
        ));
    }
    // Ours.
    let fixtures =
        canonical(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/compose"));
    let mut ours = Vec::new();
    yaml_files(&fixtures.join("oracle"), false, &mut ours);
    for file in ours {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if name.contains(".part.") {
            continue; // only ever given after another file (below)
        }
        cases.push(Case {
            name: format!("ours/oracle/{name}"),
            files: vec![file.clone()],
        });
    }
    let several: [&[&str]; 3] = [
        // An empty file after a file with services: compose ignores it.
        &["oracle/implicit-deps.yml", "oracle/empty.part.yml"],
        // …and before one.
        &["oracle/empty.part.yml", "oracle/implicit-deps.yml"],
        // Two empty files: refused.
        &["oracle/empty.part.yml", "oracle/empty.yml"],
    ];
    for files in several {
        cases.push(Case {
            name: format!("ours/{}", files.join(" + ")),
            files: files.iter().map(|f| fixtures.join(f)).collect(),
        });
    }
    cases.push(Case {
        name: "ours/eloquence/docker-compose.yml + docker-compose.override.yml".into(),
        files: vec![
            fixtures.join("eloquence/docker-compose.yml"),
            fixtures.join("eloquence/docker-compose.override.yml"),
        ],
    });
    (cases, scratch)
}

fn condition(c: Condition) -> &'static str {
    match c {
        Condition::Started => "service_started",
        Condition::Healthy => "service_healthy",
        Condition::CompletedSuccessfully => "service_completed_successfully",
    }
}

/// `(host_ip, protocol, port)`s as sorted ranges: `[ip:]start[-end][/udp]`.
fn ranges(ports: BTreeSet<(String, String, u32)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(String, String, u32, u32)> = None;
    let show = |(ip, proto, start, end): (String, String, u32, u32)| {
        let ip = if ip.is_empty() {
            String::new()
        } else if ip.contains(':') {
            format!("[{ip}]:")
        } else {
            format!("{ip}:")
        };
        let span = if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        };
        let proto = if proto == "tcp" {
            String::new()
        } else {
            format!("/{proto}")
        };
        format!("{ip}{span}{proto}")
    };
    for (ip, proto, port) in ports {
        run = match run {
            Some((i, p, s, e)) if i == ip && p == proto && e + 1 == port => Some((i, p, s, port)),
            Some(done) => {
                out.push(show(done));
                Some((ip, proto, port, port))
            }
            None => Some((ip, proto, port, port)),
        };
    }
    if let Some(done) = run {
        out.push(show(done));
    }
    out
}

fn from_compose(oracle: &Oracle, case: &Case, env: &BTreeMap<String, String>) -> Verdict {
    let json = match oracle.config(case, env, false) {
        Ok(json) => json,
        Err(reason) => return Verdict::Refused(reason),
    };
    let mut model = Model::default();
    let empty = serde_json::Map::new();
    let services = json
        .get("services")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, service) in services {
        model.enabled.insert(name.clone());
        let mut deps = BTreeSet::new();
        if let Some(map) = service.get("depends_on").and_then(Value::as_object) {
            for (dep, how) in map {
                if how.get("required") == Some(&Value::Bool(false)) {
                    continue;
                }
                let c = how
                    .get("condition")
                    .and_then(Value::as_str)
                    .unwrap_or("service_started");
                deps.insert(format!("{dep}:{c}"));
            }
        }
        model.deps.insert(name.clone(), deps);
        let mut published = BTreeSet::new();
        for port in service
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = match port.get("published") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            if text.is_empty() {
                continue;
            }
            let ip = port
                .get("host_ip")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let proto = port
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("tcp")
                .to_owned();
            let (start, end) = match text.split_once('-') {
                Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
                None => {
                    let p = text.parse().unwrap_or(0);
                    (p, p)
                }
            };
            for p in start..=end {
                published.insert((ip.clone(), proto.clone(), p));
            }
        }
        model.ports.insert(name.clone(), ranges(published));
    }
    model.all = oracle.config(case, env, true).ok().map(|json| {
        json.get("services")
            .and_then(Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    });
    Verdict::Accepted(model)
}

fn from_greenroom(case: &Case, env: &BTreeMap<String, String>) -> Verdict {
    let options = ComposeOptions {
        files: case.files.clone(),
        profiles: Vec::new(),
        env: env.clone().into_iter().collect(),
        // What `docker compose config` does: a missing env_file is an error.
        missing_env_files_are_notes: false,
    };
    let imported = match std::panic::catch_unwind(|| import(&options)) {
        Ok(Ok(imported)) => imported,
        Ok(Err(errors)) => {
            return Verdict::Refused(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
        }
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Verdict::Panicked(text);
        }
    };
    let services = &imported.manifest.services;
    let mut model = Model {
        all: Some(services.keys().cloned().collect()),
        ..Default::default()
    };
    for (name, spec) in services.iter().filter(|(_, s)| s.enabled) {
        model.enabled.insert(name.clone());
        model.deps.insert(
            name.clone(),
            spec.depends_on
                .entries()
                .into_iter()
                .map(|(d, c)| format!("{d}:{}", condition(c)))
                .collect(),
        );
        let mut published = BTreeSet::new();
        for p in &spec.ports {
            let proto = match p.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            for port in p.ports() {
                published.insert((
                    p.host_ip.clone().unwrap_or_default(),
                    proto.to_owned(),
                    u32::from(port),
                ));
            }
        }
        model.ports.insert(name.clone(), ranges(published));
    }
    Verdict::Accepted(model)
}

fn short(text: &str) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() > 150 {
        format!("{}…", text.chars().take(150).collect::<String>())
    } else {
        text
    }
}

/// What differs between the two verdicts (empty: they agree).
fn differences(compose: &Verdict, greenroom: &Verdict) -> Vec<String> {
    match (compose, greenroom) {
        (_, Verdict::Panicked(p)) => vec![format!("Greenroom panicked: {}", short(p))],
        (Verdict::Refused(_), Verdict::Refused(_)) => Vec::new(),
        (Verdict::Refused(why), Verdict::Accepted(_)) => {
            vec![format!("compose refuses: {}", short(why))]
        }
        (Verdict::Accepted(_), Verdict::Refused(why)) => {
            vec![format!("Greenroom refuses: {}", short(why))]
        }
        (Verdict::Accepted(c), Verdict::Accepted(g)) => {
            let mut out = Vec::new();
            if let (Some(ca), Some(ga)) = (&c.all, &g.all)
                && ca != ga
            {
                out.push(format!("services: compose {ca:?}, Greenroom {ga:?}"));
            }
            if c.enabled != g.enabled {
                out.push(format!(
                    "enabled: compose {:?}, Greenroom {:?}",
                    c.enabled, g.enabled
                ));
            }
            for (name, deps) in &c.deps {
                let theirs = g.deps.get(name).cloned().unwrap_or_default();
                if *deps != theirs {
                    out.push(format!(
                        "depends_on of {name}: compose {deps:?}, Greenroom {theirs:?}"
                    ));
                }
            }
            for (name, ports) in &c.ports {
                let theirs = g.ports.get(name).cloned().unwrap_or_default();
                if *ports != theirs {
                    out.push(format!(
                        "ports of {name}: compose {ports:?}, Greenroom {theirs:?}"
                    ));
                }
            }
            out
        }
        (Verdict::Panicked(_), _) => vec!["compose panicked".into()],
    }
}

#[test]
fn greenroom_reads_compose_files_as_compose_does() {
    let Some(oracle) = Oracle::find() else {
        skip_or_fail(
            "no compose binary: put docker-compose in GREENROOM_TOOLS_DIR or tools/bin, or install `docker compose`",
        );
        return;
    };
    let Some(compose_go) = compose_go_dir() else {
        skip_or_fail(&format!(
            "compose-go's test data is not in the Go module cache: run `go mod download {COMPOSE_GO}`"
        ));
        return;
    };
    // The same environment for both: PATH and HOME only (the docker CLI finds its compose
    // plugin under HOME), so that nothing else of this process's is interpolated.
    let env: BTreeMap<String, String> = ["PATH", "HOME"]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), std::env::var(name).ok()?)))
        .collect();

    let (cases, _scratch) = corpus(&compose_go);
    let width = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4);
    println!("compose oracle: {}", oracle.describe());
    println!("compose-go test data: {}", compose_go.display());
    println!(
        "{:width$}  {:7}  {:9}  {:5}  what differs (both refusing: why)",
        "case", "compose", "Greenroom", "agree"
    );
    let (mut agree, mut skipped, mut disagree) = (0, 0, Vec::new());
    // Per group (compose-go, team, ours): cases, agreeing, skipped.
    let mut groups: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for case in &cases {
        let group = groups
            .entry(case.name.split('/').next().unwrap_or(""))
            .or_default();
        group.0 += 1;
        let skip = SKIP.iter().find(|(name, _)| *name == case.name);
        let compose = from_compose(&oracle, case, &env);
        let greenroom = from_greenroom(case, &env);
        let diffs = differences(&compose, &greenroom);
        let verdict = match (skip, diffs.is_empty()) {
            (Some(_), _) => "skip",
            (None, true) => "yes",
            (None, false) => "NO",
        };
        let why = match (skip, &compose, &greenroom) {
            (Some((_, reason)), _, _) => format!("(skipped: {reason}) {}", diffs.join("; ")),
            (None, Verdict::Refused(c), Verdict::Refused(g)) => {
                format!("compose: {} | Greenroom: {}", short(c), short(g))
            }
            (None, _, _) => diffs.join("; "),
        };
        println!(
            "{:width$}  {:7}  {:9}  {:5}  {}",
            case.name,
            compose.word(),
            greenroom.word(),
            verdict,
            why
        );
        match (skip, diffs.is_empty()) {
            (Some(_), _) => {
                skipped += 1;
                group.2 += 1;
            }
            (None, true) => {
                agree += 1;
                group.1 += 1;
            }
            (None, false) => disagree.push(case.name.clone()),
        }
    }
    for (name, (count, agreeing, skips)) in &groups {
        println!("{name}: {count} cases, {agreeing} agree, {skips} skipped");
    }
    println!(
        "{} cases: {agree} agree, {} disagree, {skipped} skipped",
        cases.len(),
        disagree.len()
    );
    assert!(
        disagree.is_empty(),
        "Greenroom and compose disagree on {}: {:?} (the table above says how)",
        disagree.len(),
        disagree
    );
}
