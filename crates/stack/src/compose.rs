//! Importing docker compose files, read as `docker compose` reads them.
//!
//! What is read, and how:
//! - **Files** are merged in the order given (`-f base -f overlay`): mappings merge key by
//!   key; `ports`, `expose`, `volumes`, `env_file`, `secrets`, `configs`, `dns` and
//!   `profiles` lists are appended without duplicates; `environment`, `labels` and
//!   `depends_on` are normalised to mappings first, then merged; any other value of a later
//!   file replaces the earlier one.
//! - **`include:`** (a path, a list of paths, or `{path, project_directory, env_file}`) loads
//!   the included files first, relative to the including file; a service defined twice is an
//!   error, as in compose. Includes nest up to 10 deep; a loop is an error.
//! - **Interpolation** ([`crate::interpolate`]) applies to every value, with variables from
//!   the process environment first, then the `.env` file of the project directory (the
//!   folder of the first file); an included file's `env_file` adds its own.
//! - **Profiles**: a service with `profiles` is imported disabled unless one of its
//!   profiles is active (`--profile`, or `COMPOSE_PROFILES`).
//! - **Ports**: `"8000"`, `"8000:8000"`, `"127.0.0.1:8000:8000"`, `"7882:7882/udp"`,
//!   ranges `"50000-50100:50000-50100/udp"`, and the long syntax. Only *published* ports
//!   become manifest ports; a port published without a host port (`"8000"`) is published
//!   on a random host port by docker, and cannot be probed from the host.
//! - **Healthchecks**: a `curl`/`wget` of an `http(s)://` URL on the container becomes an
//!   HTTP probe of the published host port; `redis-cli … ping` becomes a Redis probe;
//!   anything else, and any service without a published port, is probed through docker's
//!   own health status (`compose` probe). A service with published ports and no
//!   healthcheck gets a TCP probe of its first TCP port. `retries` becomes the failure
//!   threshold, `timeout` the probe timeout, and `start_period` extends the start timeout.
//! - **`depends_on`**: `service_started`, `service_healthy`,
//!   `service_completed_successfully`; `required: false` entries are dropped.
//! - **`restart`**: `no`, `always`, `on-failure[:N]` (N = max restarts), `unless-stopped`.
//! - **Labels** `greenroom.critical: "true"` and `greenroom.group: fallback` set those fields.
//!
//! Every imported field records where it came from (`file:line`) in the service's
//! `provenance`, so errors point at the compose file a person edits.

use crate::dotenv;
use crate::interpolate::interpolate;
use crate::manifest::{
    Condition, DefinitionError, DependsOn, Group, Location, Manifest, PortSpec, ProbeCheck,
    ProbeSpec, Protocol, RestartPolicy, ServiceKind, ServiceSpec,
};
use crate::yaml::{self, YamlNode, YamlValue};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// How deep `include:` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct ComposeOptions {
    /// The compose files, base first.
    pub files: Vec<PathBuf>,
    /// Active profiles (in addition to `COMPOSE_PROFILES` from `env`).
    pub profiles: Vec<String>,
    /// The environment interpolation sees first (normally the process's).
    pub env: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ComposeImport {
    pub manifest: Manifest,
    /// Things a person should know: unset variables, healthchecks kept as docker health…
    pub notes: Vec<String>,
}

/// A service as merged from the files, with where it was defined.
#[derive(Debug, Clone)]
struct ServiceDoc {
    /// The service's name as written where it was first defined (its location).
    key: YamlNode,
    node: YamlNode,
}

struct Loader<'a> {
    options: &'a ComposeOptions,
    errors: Vec<DefinitionError>,
    notes: Vec<String>,
    project_name: Option<String>,
    /// Every file read, indexed by [`YamlNode::source`].
    files: Vec<PathBuf>,
}

fn error_at(
    file: &Path,
    node: Option<&YamlNode>,
    message: impl Into<String>,
    hint: Option<&str>,
) -> DefinitionError {
    DefinitionError {
        location: Location {
            file: file.to_path_buf(),
            line: node.map(|n| n.line),
            column: node.map(|n| n.column),
        },
        message: message.into(),
        hint: hint.map(str::to_owned),
    }
}

pub fn import(options: &ComposeOptions) -> Result<ComposeImport, Vec<DefinitionError>> {
    let Some(first) = options.files.first() else {
        return Err(vec![error_at(
            Path::new("."),
            None,
            "no compose file given",
            Some("name at least one file"),
        )]);
    };
    let project_dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        options,
        errors: Vec::new(),
        notes: Vec::new(),
        project_name: None,
        files: Vec::new(),
    };
    let mut vars = HashMap::new();
    let dotenv_path = project_dir.join(".env");
    if dotenv_path.is_file() {
        loader.read_env_file(&dotenv_path, &mut vars);
    }

    let mut merged: BTreeMap<String, ServiceDoc> = BTreeMap::new();
    for file in &options.files {
        let mut stack = Vec::new();
        if let Some(services) = loader.load_file(file, &vars, &mut stack) {
            for (name, doc) in services {
                let combined = match merged.remove(&name) {
                    Some(base) => ServiceDoc {
                        node: merge(&base.node, &doc.node, ""),
                        key: base.key,
                    },
                    None => doc,
                };
                merged.insert(name, combined);
            }
        }
    }

    let active: Vec<String> = options
        .profiles
        .iter()
        .cloned()
        .chain(
            options
                .env
                .get("COMPOSE_PROFILES")
                .map(|p| {
                    p.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .collect();
    let project = loader.project_name.clone().unwrap_or_else(|| {
        project_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
            .unwrap_or_else(|| "stack".into())
    });
    let compose_files: Vec<String> = options
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();

    let mut manifest = Manifest {
        name: Some(project.clone()),
        ..Default::default()
    };
    for (name, doc) in &merged {
        if let Some(spec) = loader.service(name, doc, &active, &project, &compose_files) {
            manifest.services.insert(name.clone(), spec);
        }
    }
    if !loader.errors.is_empty() {
        return Err(loader.errors);
    }
    // References and cycles, with the compose file's lines.
    let problems = crate::manifest::validate(&manifest);
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|p| {
                let at = manifest.services.get(&p.service).and_then(|s| {
                    p.field
                        .as_deref()
                        .and_then(|f| s.provenance.get(f))
                        .or_else(|| s.provenance.get("service"))
                });
                DefinitionError {
                    location: parse_location(at.map(String::as_str)),
                    message: format!("service `{}`: {}", p.service, p.message),
                    hint: p.hint,
                }
            })
            .collect());
    }
    Ok(ComposeImport {
        manifest,
        notes: loader.notes,
    })
}

fn parse_location(text: Option<&str>) -> Location {
    let text = text.unwrap_or("?");
    let (file, line) = match text.rsplit_once(':') {
        Some((f, l)) if l.parse::<usize>().is_ok() => (f, l.parse().ok()),
        _ => (text, None),
    };
    Location {
        file: PathBuf::from(file),
        line,
        column: None,
    }
}

impl Loader<'_> {
    fn read_env_file(&mut self, path: &Path, vars: &mut HashMap<String, String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.errors
                    .push(error_at(path, None, format!("cannot read: {e}"), None));
                return;
            }
        };
        let env = &self.options.env;
        let outer = |name: &str| env.get(name).cloned();
        match dotenv::parse(&text, &outer) {
            Ok(parsed) => vars.extend(parsed),
            Err(e) => self.errors.push(DefinitionError {
                location: Location {
                    file: path.to_path_buf(),
                    line: Some(e.line),
                    column: None,
                },
                message: e.message,
                hint: Some("each line must be KEY=VALUE".into()),
            }),
        }
    }

    /// Loads one file and its includes; returns its services (includes first).
    fn load_file(
        &mut self,
        file: &Path,
        vars: &HashMap<String, String>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<(String, ServiceDoc)>> {
        let canonical = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        if stack.contains(&canonical) {
            self.errors.push(error_at(
                file,
                None,
                "this file includes itself (through `include:`)",
                None,
            ));
            return None;
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            self.errors.push(error_at(
                file,
                None,
                format!("`include:` nests deeper than {MAX_INCLUDE_DEPTH} files"),
                None,
            ));
            return None;
        }
        let text = match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    self.errors.push(error_at(
                        file,
                        None,
                        "not UTF-8 text",
                        Some("save the compose file as UTF-8"),
                    ));
                    return None;
                }
            },
            Err(e) => {
                self.errors.push(error_at(
                    file,
                    None,
                    format!("cannot read: {e}"),
                    Some("check the path"),
                ));
                return None;
            }
        };
        let source = self.files.len();
        self.files.push(file.to_path_buf());
        let root = match yaml::parse(&text) {
            Ok(mut r) => {
                r.set_source(source);
                r
            }
            Err(e) => {
                self.errors.push(DefinitionError {
                    location: Location {
                        file: file.to_path_buf(),
                        line: Some(e.line),
                        column: Some(e.column),
                    },
                    message: format!("not valid YAML: {}", e.message),
                    hint: None,
                });
                return None;
            }
        };
        if root.is_null() {
            return Some(Vec::new());
        }
        if root.as_map().is_none() {
            self.errors.push(error_at(
                file,
                Some(&root),
                format!("a compose file is a mapping, this is {}", root.kind()),
                None,
            ));
            return None;
        }
        if self.project_name.is_none() {
            self.project_name = root.get("name").and_then(|n| n.as_str()).map(str::to_owned);
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        stack.push(canonical);
        let mut services = Vec::new();
        if let Some(include) = root.get("include") {
            let entries: Vec<&YamlNode> = match &include.value {
                YamlValue::Seq(items) => items.iter().collect(),
                _ => vec![include],
            };
            for entry in entries {
                let (paths, env_file): (Vec<&YamlNode>, Option<&YamlNode>) = match &entry.value {
                    YamlValue::Scalar { .. } => (vec![entry], None),
                    YamlValue::Map(_) => {
                        let paths = match entry.get("path") {
                            Some(p) if p.as_seq().is_some() => {
                                p.as_seq().unwrap_or_default().iter().collect()
                            }
                            Some(p) => vec![p],
                            None => {
                                self.errors.push(error_at(
                                    file,
                                    Some(entry),
                                    "an `include:` entry needs a `path`",
                                    None,
                                ));
                                continue;
                            }
                        };
                        (paths, entry.get("env_file"))
                    }
                    _ => {
                        self.errors.push(error_at(
                            file,
                            Some(entry),
                            "an `include:` entry is a path or a mapping",
                            None,
                        ));
                        continue;
                    }
                };
                let mut included_vars = vars.clone();
                if let Some(env_file) = env_file.and_then(|e| e.as_str()) {
                    self.read_env_file(&dir.join(env_file), &mut included_vars);
                }
                for path in paths {
                    let Some(rel) = path.as_str() else {
                        self.errors.push(error_at(
                            file,
                            Some(path),
                            "an include path must be a string",
                            None,
                        ));
                        continue;
                    };
                    let target = dir.join(rel);
                    if let Some(included) = self.load_file(&target, &included_vars, stack) {
                        for (name, doc) in included {
                            if services
                                .iter()
                                .any(|(n, _): &(String, ServiceDoc)| *n == name)
                            {
                                self.errors.push(error_at(
                                    &target,
                                    Some(&doc.key),
                                    format!("service `{name}` is defined by two included files"),
                                    Some("compose refuses this too: rename one"),
                                ));
                                continue;
                            }
                            services.push((name, doc));
                        }
                    }
                }
            }
        }
        if let Some(defined) = root.get("services") {
            match defined.as_map() {
                Some(entries) => {
                    let env = &self.options.env;
                    let lookup =
                        |name: &str| env.get(name).cloned().or_else(|| vars.get(name).cloned());
                    for (key, node) in entries {
                        let Some(name) = key.as_str() else { continue };
                        let mut node = node.clone();
                        self.interpolate_node(file, &mut node, &lookup);
                        if let Some(existing) = services.iter().position(|(n, _)| n == name) {
                            if root.get("include").is_some() {
                                self.errors.push(error_at(
                                    file,
                                    Some(key),
                                    format!("service `{name}` is defined here and in an included file"),
                                    Some("compose refuses this too: rename one, or use an override file (-f) instead"),
                                ));
                            }
                            services.remove(existing);
                        }
                        services.push((
                            name.to_owned(),
                            ServiceDoc {
                                key: key.clone(),
                                node,
                            },
                        ));
                    }
                }
                None if defined.is_null() => {}
                None => self.errors.push(error_at(
                    file,
                    Some(defined),
                    format!("`services` must be a mapping, this is {}", defined.kind()),
                    None,
                )),
            }
        }
        stack.pop();
        Some(services)
    }

    fn interpolate_node(
        &mut self,
        file: &Path,
        node: &mut YamlNode,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) {
        match &mut node.value {
            YamlValue::Scalar { text, .. } => match interpolate(text, lookup) {
                Ok(done) => {
                    for name in done.unset {
                        let note = format!(
                            "{}:{}: variable {name} is not set; it is read as an empty string",
                            file.display(),
                            node.line
                        );
                        if !self.notes.contains(&note) {
                            self.notes.push(note);
                        }
                    }
                    *text = done.value;
                }
                Err(e) => self.errors.push(DefinitionError {
                    location: Location {
                        file: file.to_path_buf(),
                        line: Some(node.line),
                        column: Some(node.column + e.offset),
                    },
                    message: e.message,
                    hint: Some("set it in the environment or in .env".into()),
                }),
            },
            YamlValue::Seq(items) => items
                .iter_mut()
                .for_each(|i| self.interpolate_node(file, i, lookup)),
            YamlValue::Map(entries) => entries
                .iter_mut()
                .for_each(|(_, v)| self.interpolate_node(file, v, lookup)),
            YamlValue::Null => {}
        }
    }

    fn service(
        &mut self,
        name: &str,
        doc: &ServiceDoc,
        active: &[String],
        project: &str,
        files: &[String],
    ) -> Option<ServiceSpec> {
        let sources = self.files.clone();
        let file_of = |n: &YamlNode| sources.get(n.source).cloned().unwrap_or_default();
        let file = &file_of(&doc.key);
        let node = &doc.node;
        let here = |n: &YamlNode| format!("{}:{}", file_of(n).display(), n.line);
        if node.as_map().is_none() && !node.is_null() {
            self.errors.push(error_at(
                &file_of(node),
                Some(node),
                format!(
                    "service `{name}` must be a mapping, this is {}",
                    node.kind()
                ),
                None,
            ));
            return None;
        }
        let mut spec = ServiceSpec {
            kind: ServiceKind::Compose,
            compose_files: files.to_vec(),
            compose_project: Some(project.to_owned()),
            compose_service: Some(name.to_owned()),
            ..Default::default()
        };
        spec.provenance.insert("service".into(), here(&doc.key));
        spec.description = node
            .get("image")
            .and_then(|i| i.as_str())
            .map(|i| format!("image {i}"))
            .or_else(|| node.get("build").map(|_| "built from source".to_owned()));

        if let Some(profiles) = node.get("profiles") {
            spec.compose_profiles = strings(profiles);
            spec.enabled = spec.compose_profiles.iter().any(|p| active.contains(p));
            spec.provenance.insert("enabled".into(), here(profiles));
        }

        let mut container_to_host: Vec<(u16, u16, Protocol)> = Vec::new();
        if let Some(ports) = node.get("ports") {
            spec.provenance.insert("ports".into(), here(ports));
            for entry in ports.as_seq().unwrap_or_default() {
                match parse_compose_port(entry) {
                    Ok(Some((published, container_start))) => {
                        for (offset, host) in published.ports().enumerate() {
                            container_to_host.push((container_start + offset as u16, host, published.protocol));
                        }
                        spec.ports.push(published);
                    }
                    Ok(None) => self.notes.push(format!(
                        "{}: service `{name}` exposes a port without a host port; docker picks one at random, so it is not probed",
                        here(entry)
                    )),
                    Err(message) => self.errors.push(error_at(&file_of(entry), Some(entry), format!("service `{name}`: {message}"), None)),
                }
            }
        }

        if let Some(deps) = node.get("depends_on") {
            spec.provenance.insert("depends_on".into(), here(deps));
            let mut map = BTreeMap::new();
            match &deps.value {
                YamlValue::Seq(items) => {
                    for item in items {
                        if let Some(n) = item.as_str() {
                            map.insert(n.to_owned(), Condition::Started);
                        }
                    }
                }
                YamlValue::Map(entries) => {
                    for (key, value) in entries {
                        let Some(dep) = key.as_str() else { continue };
                        if value.get("required").and_then(|r| r.as_str()) == Some("false") {
                            continue;
                        }
                        let condition = match value
                            .get("condition")
                            .and_then(|c| c.as_str())
                            .unwrap_or("service_started")
                        {
                            "service_started" => Condition::Started,
                            "service_healthy" => Condition::Healthy,
                            "service_completed_successfully" => Condition::CompletedSuccessfully,
                            other => {
                                self.errors.push(error_at(
                                    file,
                                    Some(value),
                                    format!("service `{name}`: unknown depends_on condition `{other}`"),
                                    Some("use service_started, service_healthy or service_completed_successfully"),
                                ));
                                continue;
                            }
                        };
                        map.insert(dep.to_owned(), condition);
                    }
                }
                _ => self.errors.push(error_at(
                    &file_of(deps),
                    Some(deps),
                    format!("service `{name}`: depends_on must be a list or a mapping"),
                    None,
                )),
            }
            spec.depends_on = DependsOn::Map(map);
        }

        if let Some(restart) = node.get("restart").and_then(|r| r.as_str().map(|s| (r, s))) {
            spec.provenance.insert("restart".into(), here(restart.0));
            let (policy, max) = match restart.1.split_once(':') {
                Some((p, n)) => (p, n.parse::<u32>().ok()),
                None => (restart.1, None),
            };
            spec.restart.policy = match policy {
                "no" | "" => RestartPolicy::No,
                "always" => RestartPolicy::Always,
                "on-failure" => RestartPolicy::OnFailure,
                "unless-stopped" => RestartPolicy::UnlessStopped,
                other => {
                    self.errors.push(error_at(
                        file,
                        Some(restart.0),
                        format!("service `{name}`: unknown restart policy `{other}`"),
                        None,
                    ));
                    RestartPolicy::No
                }
            };
            if let Some(max) = max {
                spec.restart.max_restarts = max;
            }
        } else {
            // Compose's default: never restart.
            spec.restart.policy = RestartPolicy::No;
        }

        if let Some(labels) = node.get("labels") {
            let labels = key_values(labels);
            if labels.get("greenroom.critical").map(String::as_str) == Some("true") {
                spec.critical = true;
            }
            if labels.get("greenroom.group").map(String::as_str) == Some("fallback") {
                spec.group = Group::Fallback;
            }
        }

        spec.probe = self.probe_for(name, node, &container_to_host, file);
        if let Some(hc) = node.get("healthcheck") {
            spec.provenance.insert("probe".into(), here(hc));
        }
        Some(spec)
    }

    fn probe_for(
        &mut self,
        name: &str,
        node: &YamlNode,
        ports: &[(u16, u16, Protocol)],
        file: &Path,
    ) -> Option<ProbeSpec> {
        let host_port_for = |container: u16| {
            ports
                .iter()
                .find(|(c, _, p)| *c == container && *p == Protocol::Tcp)
                .map(|(_, h, _)| *h)
        };
        let first_tcp = ports
            .iter()
            .find(|(_, _, p)| *p == Protocol::Tcp)
            .map(|(_, h, _)| *h);
        let healthcheck = node.get("healthcheck");
        let disabled = healthcheck.is_some_and(|hc| {
            hc.get("disable").and_then(|d| d.as_str()) == Some("true")
                || hc
                    .get("test")
                    .and_then(|t| t.as_seq())
                    .and_then(|s| s.first())
                    .and_then(|f| f.as_str())
                    == Some("NONE")
        });
        let test: Option<Vec<String>> = healthcheck
            .filter(|_| !disabled)
            .and_then(|hc| hc.get("test"))
            .map(|t| match &t.value {
                YamlValue::Seq(items) => {
                    let words: Vec<String> = items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect();
                    match words.first().map(String::as_str) {
                        Some("CMD") => words[1..].to_vec(),
                        Some("CMD-SHELL") => shell_words(&words[1..].join(" ")),
                        _ => words,
                    }
                }
                YamlValue::Scalar { text, .. } => shell_words(text),
                _ => Vec::new(),
            });

        let duration = |key: &str| {
            healthcheck
                .and_then(|hc| hc.get(key))
                .and_then(|d| d.as_str())
                .and_then(parse_duration_ms)
        };
        let retries = healthcheck
            .and_then(|hc| hc.get("retries"))
            .and_then(|r| r.as_str())
            .and_then(|r| r.parse::<u32>().ok());
        let finish = |check: ProbeCheck| {
            let mut probe = ProbeSpec::new(check);
            if let Some(t) = duration("timeout") {
                probe.timeout_ms = t.max(1);
            }
            if let Some(r) = retries {
                probe.failure_threshold = r.max(1);
            }
            if let Some(sp) = duration("start_period") {
                probe.start_timeout_ms = probe
                    .start_timeout_ms
                    .max(sp + probe.timeout_ms * u64::from(probe.failure_threshold));
            }
            probe
        };

        if let Some(words) = &test {
            let program = words
                .first()
                .map(|w| w.rsplit('/').next().unwrap_or(w).to_owned());
            match program.as_deref() {
                Some("curl") | Some("wget") => {
                    if let Some(url) = words
                        .iter()
                        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                        && let Some((scheme, container_port, path)) = split_url(url)
                        && let Some(host) = host_port_for(container_port)
                    {
                        return Some(finish(ProbeCheck::Http {
                            url: format!("{scheme}://127.0.0.1:{host}{path}"),
                            expect_status: None,
                            body_contains: None,
                            json_field: None,
                            json_equals: None,
                        }));
                    }
                }
                Some("redis-cli") if words.iter().any(|w| w.eq_ignore_ascii_case("ping")) => {
                    let container = words
                        .iter()
                        .position(|w| w == "-p")
                        .and_then(|i| words.get(i + 1))
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(6379);
                    if let Some(host) = host_port_for(container) {
                        return Some(finish(ProbeCheck::Redis {
                            port: host,
                            host: "127.0.0.1".into(),
                        }));
                    }
                }
                _ => {}
            }
            self.notes.push(format!(
                "{}: service `{name}`: healthcheck `{}` is kept as docker's own health status (it cannot be run from the host)",
                file.display(),
                words.join(" ")
            ));
            return Some(finish(ProbeCheck::Compose {}));
        }
        match first_tcp {
            Some(port) => Some(finish(ProbeCheck::Tcp {
                port,
                host: "127.0.0.1".into(),
            })),
            None => Some(finish(ProbeCheck::Compose {})),
        }
    }
}

/// `(scheme, port, path)` of an http(s) URL; the port defaults by scheme.
fn split_url(url: &str) -> Option<(&str, u16, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => p.parse().ok()?,
        None if scheme == "https" => 443,
        None => 80,
    };
    Some((scheme, port, path))
}

/// Splits a shell command line into words (quotes respected; `||`, `&&` and what follows dropped).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    if let Some(cut) = words
        .iter()
        .position(|w| w == "||" || w == "&&" || w == "|" || w == ";")
    {
        words.truncate(cut);
    }
    words
}

/// Compose durations: `30s`, `1m30s`, `500ms`, `1h`, `2us`; a bare number is seconds.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Some((seconds * 1000.0) as u64);
    }
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        total += value
            * match unit.as_str() {
                "h" => 3_600_000.0,
                "m" => 60_000.0,
                "s" => 1000.0,
                "ms" => 1.0,
                "us" | "µs" => 0.001,
                "ns" => 0.000_001,
                _ => return None,
            };
        any = true;
    }
    (any && number.is_empty()).then_some(total as u64)
}

/// One entry of `ports:` → the published host ports and the first container port, or
/// `None` when nothing is published on the host.
fn parse_compose_port(node: &YamlNode) -> Result<Option<(PortSpec, u16)>, String> {
    if let Some(map) = node.as_map() {
        let get = |k: &str| {
            map.iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .and_then(|(_, v)| v.as_str())
        };
        let target: u16 = get("target")
            .and_then(|t| t.parse().ok())
            .ok_or("a long-syntax port needs a numeric `target`")?;
        let protocol = match get("protocol").unwrap_or("tcp") {
            "udp" => Protocol::Udp,
            _ => Protocol::Tcp,
        };
        let Some(published) = get("published") else {
            return Ok(None);
        };
        let mut spec: PortSpec = published.parse()?;
        spec.protocol = protocol;
        spec.host_ip = get("host_ip").map(str::to_owned);
        return Ok(Some((spec, target)));
    }
    let text = node
        .as_str()
        .ok_or("a port is a string like \"8000:8000\" or a mapping")?;
    let (body, protocol) = match text.rsplit_once('/') {
        Some((b, "udp")) => (b, Protocol::Udp),
        Some((b, "tcp")) => (b, Protocol::Tcp),
        Some((_, other)) => return Err(format!("`{text}`: unknown protocol `{other}`")),
        None => (text, Protocol::Tcp),
    };
    // [ip:][host:]container — the IP may be [ipv6].
    let (ip, rest) = if let Some(r) = body.strip_prefix('[') {
        let (ip, after) = r
            .split_once("]:")
            .ok_or_else(|| format!("`{text}`: expected [ipv6]:host:container"))?;
        (Some(ip.to_owned()), after.to_owned())
    } else {
        let parts: Vec<&str> = body.split(':').collect();
        match parts.len() {
            1 | 2 => (None, body.to_owned()),
            3 => (
                Some(parts[0].to_owned()),
                format!("{}:{}", parts[1], parts[2]),
            ),
            _ => return Err(format!("`{text}` is not a port mapping")),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest.as_str()),
    };
    let container_start: u16 = container
        .split('-')
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("`{text}`: `{container}` is not a container port"))?;
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let mut spec: PortSpec = host
        .parse()
        .map_err(|e: String| e.replace(&format!("`{host}`"), &format!("`{text}`")))?;
    spec.protocol = protocol;
    spec.host_ip = ip.filter(|i| !i.is_empty());
    Ok(Some((spec, container_start)))
}

fn strings(node: &YamlNode) -> Vec<String> {
    match &node.value {
        YamlValue::Seq(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        YamlValue::Scalar { text, .. } => vec![text.clone()],
        _ => Vec::new(),
    }
}

/// `environment` / `labels`: a mapping, or a list of `KEY=VALUE`.
fn key_values(node: &YamlNode) -> BTreeMap<String, String> {
    match &node.value {
        YamlValue::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str()?.to_owned(), v.as_str().unwrap_or("").to_owned()))
            })
            .collect(),
        YamlValue::Seq(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (s.to_owned(), String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

const APPENDED_LISTS: [&str; 8] = [
    "ports", "expose", "volumes", "env_file", "secrets", "configs", "dns", "profiles",
];
const LIST_OR_MAP: [&str; 3] = ["environment", "labels", "depends_on"];

/// A list-or-mapping field as a mapping node (`KEY=VALUE` items, or bare names).
fn as_mapping(node: &YamlNode) -> YamlNode {
    match &node.value {
        YamlValue::Seq(items) => {
            let entries = items
                .iter()
                .filter_map(|i| {
                    let s = i.as_str()?;
                    let (k, v) = match s.split_once('=') {
                        Some((k, v)) => (
                            k,
                            YamlValue::Scalar {
                                text: v.to_owned(),
                                plain: false,
                            },
                        ),
                        None => (s, YamlValue::Null),
                    };
                    let key = YamlNode {
                        value: YamlValue::Scalar {
                            text: k.to_owned(),
                            plain: false,
                        },
                        line: i.line,
                        column: i.column,
                        source: i.source,
                    };
                    Some((
                        key,
                        YamlNode {
                            value: v,
                            line: i.line,
                            column: i.column,
                            source: i.source,
                        },
                    ))
                })
                .collect();
            YamlNode {
                value: YamlValue::Map(entries),
                line: node.line,
                column: node.column,
                source: node.source,
            }
        }
        _ => node.clone(),
    }
}

/// Compose's merge of `over` onto `base`; `field` is the key the two values are under.
fn merge(base: &YamlNode, over: &YamlNode, field: &str) -> YamlNode {
    if LIST_OR_MAP.contains(&field) {
        return merge(&as_mapping(base), &as_mapping(over), "");
    }
    match (&base.value, &over.value) {
        (YamlValue::Map(a), YamlValue::Map(b)) => {
            let mut entries = a.clone();
            for (key, value) in b {
                let name = key.as_str().unwrap_or("");
                match entries.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
                    Some((_, existing)) => *existing = merge(existing, value, name),
                    None => entries.push((key.clone(), value.clone())),
                }
            }
            YamlNode {
                value: YamlValue::Map(entries),
                line: over.line,
                column: over.column,
                source: over.source,
            }
        }
        (YamlValue::Seq(a), YamlValue::Seq(b)) if APPENDED_LISTS.contains(&field) => {
            let mut items = a.clone();
            for item in b {
                if !items.iter().any(|i| i.value == item.value) {
                    items.push(item.clone());
                }
            }
            YamlNode {
                value: YamlValue::Seq(items),
                line: over.line,
                column: over.column,
                source: over.source,
            }
        }
        _ => over.clone(),
    }
}

/// Writes an imported manifest as TOML, with a header saying where it came from.
pub fn to_toml(import: &ComposeImport, sources: &[PathBuf]) -> Result<String, String> {
    let body = toml::to_string_pretty(&import.manifest)
        .map_err(|e| format!("cannot write the manifest: {e}"))?;
    let list: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
    Ok(format!(
        "# Greenroom stack manifest, imported from {} by `greenroom import compose`.\n# Edit freely; `provenance` says where each field came from.\n\n{body}",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("2"), Some(2000));
        assert_eq!(parse_duration_ms("1x"), None);
        assert_eq!(parse_duration_ms("10"), Some(10_000));
        assert_eq!(parse_duration_ms("s"), None);
    }

    #[test]
    fn shell_words_stop_at_operators() {
        assert_eq!(
            shell_words("curl -f 'http://localhost:8000/health' || exit 1"),
            vec!["curl", "-f", "http://localhost:8000/health"]
        );
    }

    #[test]
    fn port_forms() {
        let port = |t: &str| parse_compose_port(&yaml::parse(&format!("\"{t}\"")).unwrap());
        let (p, c) = port("8000:80").unwrap().unwrap();
        assert_eq!((p.to_string(), c), ("8000".into(), 80));
        let (p, _) = port("127.0.0.1:7880:7880").unwrap().unwrap();
        assert_eq!(p.to_string(), "127.0.0.1:7880");
        let (p, c) = port("50000-50100:50000-50100/udp").unwrap().unwrap();
        assert_eq!((p.to_string(), c), ("50000-50100/udp".into(), 50000));
        assert_eq!(port("8000").unwrap(), None);
        assert!(port("a:b").is_err());
        let long = yaml::parse("target: 80\npublished: \"8080\"\nprotocol: tcp\n").unwrap();
        let (p, c) = parse_compose_port(&long).unwrap().unwrap();
        assert_eq!((p.to_string(), c), ("8080".into(), 80));
    }

    proptest::proptest! {
        #[test]
        fn port_parsing_never_panics(s in "[0-9a-z:/\\[\\]\\-.]{0,30}") {
            if let Ok(node) = yaml::parse(&format!("\"{s}\"")) {
                let _ = parse_compose_port(&node);
            }
        }

        #[test]
        fn durations_never_panic(s in "[0-9a-zµ.]{0,12}") {
            let _ = parse_duration_ms(&s);
        }
    }
}
