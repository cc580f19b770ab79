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
//! - **`stop_grace_period`** becomes `stop.grace_ms` (compose's default: 10 s); docker itself
//!   sends the container's `stop_signal`.
//! - **Labels** `greenroom.critical: "true"` and `greenroom.group: fallback` set those fields.
//!
//! Every imported field records where it came from (`file:line`) in the service's
//! `provenance`, so errors point at the compose file a person edits. Errors are
//! [`DefinitionError`]s (kind `InvalidInput`: the files need an edit).
//!
//! This file reads, includes, interpolates and merges the files; `service` (a submodule)
//! maps one merged service to a [`crate::manifest::ServiceSpec`].

use crate::dotenv;
use crate::interpolate::interpolate;
use crate::manifest::{DefinitionError, Location, Manifest};
use crate::yaml::{self, YamlNode, YamlValue};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

mod service;

pub use service::parse_duration_ms;

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
    /// The `${VARIABLE}`s that were not set (each also has its line in `notes`), for
    /// pre-flight: typed, so nobody has to find them in the notes' text.
    pub unset_variables: Vec<UnsetVariable>,
}

/// A variable a compose file uses that is set neither in the environment nor in `.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    pub name: String,
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for UnsetVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: variable {} is not set; it is read as an empty string",
            self.file.display(),
            self.line,
            self.name
        )
    }
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
    unset: Vec<UnsetVariable>,
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
        unset: Vec::new(),
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
        unset_variables: loader.unset,
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
                        let unset = UnsetVariable {
                            name,
                            file: file.to_path_buf(),
                            line: node.line,
                        };
                        if !self.unset.contains(&unset) {
                            self.notes.push(unset.to_string());
                            self.unset.push(unset);
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

/// Why an imported manifest could not be written out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The manifest could not be serialised as TOML (a bug: every manifest should be).
    #[error("cannot write the manifest: {reason}")]
    Serialize { reason: String },
}

impl greenroom_core::Classified for ExportError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        match self {
            ExportError::Serialize { .. } => greenroom_core::ErrorKind::Internal,
        }
    }
}

/// Writes an imported manifest as TOML, with a header saying where it came from.
pub fn to_toml(import: &ComposeImport, sources: &[PathBuf]) -> Result<String, ExportError> {
    let body = toml::to_string_pretty(&import.manifest).map_err(|e| ExportError::Serialize {
        reason: e.to_string(),
    })?;
    let list: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
    Ok(format!(
        "# Greenroom stack manifest, imported from {} by `greenroom import compose`.\n# Edit freely; `provenance` says where each field came from.\n\n{body}",
        list.join(", ")
    ))
}
