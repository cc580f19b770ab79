//! Importing docker compose files, read as `docker compose` reads them.
//!
//! What is read, and how:
//! - **Files** are merged in the order given (`-f base -f overlay`): mappings merge key by
//!   key; `ports`, `expose`, `volumes`, `env_file`, `secrets`, `configs`, `dns` and
//!   `profiles` lists are appended without duplicates; `environment`, `labels` and
//!   `depends_on` are normalised to mappings first, then merged; any other value of a later
//!   file replaces the earlier one. An empty file (nothing, comments only, or `{}`) among
//!   others is ignored, as compose ignores it.
//! - **`include:`** (a list of paths, or of `{path, project_directory, env_file}`) loads
//!   the included files first, relative to the including file; a service defined twice is an
//!   error, as in compose. Includes nest up to 10 deep; a loop is an error. The relative
//!   `env_file`s of an included file are found from its own folder (or from the include's
//!   `project_directory`), those of a `-f` file from the project directory.
//! - **Interpolation** ([`crate::interpolate`]) applies to every value, with variables from
//!   the process environment first, then the `.env` file of the project directory (the
//!   folder of the first file); an include's `env_file` adds its own.
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
//! - **Implicit dependencies**, as compose adds them: `links` (`db`, `db:alias`),
//!   `volumes_from` (`files`, `files:ro`; not `container:NAME`) and `service:NAME` in
//!   `network_mode`, `ipc`, `pid`, `uts` or `cgroup` make the service depend on that one,
//!   `started` (provenance `depends_on.NAME`, the line that names it). An explicit
//!   `depends_on` entry for the same service wins (even one dropped as `required: false`).
//! - **`restart`**: `no`, `always`, `on-failure[:N]` (N = max restarts), `unless-stopped`.
//! - **`stop_grace_period`** becomes `stop.grace_ms` (compose's default: 10 s); docker itself
//!   sends the container's `stop_signal`.
//! - **Labels** `greenroom.critical: "true"` and `greenroom.group: fallback` set those fields.
//! - **`extends`** is not resolved: a note says so, and the service keeps only its own keys
//!   (what it extends must still exist, as below).
//!
//! What compose refuses, Greenroom refuses, each with the `file:line` and a hint:
//! - an empty compose file, alone or with only empty ones (`empty compose file`);
//! - what compose's schema refuses (the `schema` submodule): an unknown key at the top or in a
//!   service (keys starting with `x-` are allowed everywhere), a value of the wrong type
//!   (`ports` not a list, `environment` neither a list nor a mapping, `image: 12`…),
//!   `include` or `services` in another form;
//! - a reference to a service that does not exist, or that is disabled (its profiles
//!   inactive) while the referring service is enabled, by `depends_on` (unless `required:
//!   false`) or by an implicit dependency;
//! - a missing `env_file` of an enabled service, unless its long form says `required: false`;
//! - an `include:` that cannot be read, and any remote include (`oci://`, `git@…`,
//!   `https://…`: compose would download it; Greenroom reads local files only);
//! - a service with neither `image` nor `build` (nor `provider`, nor `extends`), or with both
//!   `network_mode` and `networks`; an `extends` of a file that cannot be read, or of a
//!   service the project does not define; and what [`crate::manifest::validate`] refuses
//!   (dependency cycles…).
//!
//! Every imported field records where it came from (`file:line`) in the service's
//! `provenance`, so errors point at the compose file a person edits. Errors are
//! [`DefinitionError`]s (kind `InvalidInput`: the files need an edit). Problems of a file
//! (YAML, schema, includes, `.env`) are reported first and alone; then every service's.
//!
//! This file reads, includes, interpolates and merges the files; `schema` checks each file's
//! shape; `service` maps one merged service to a [`crate::manifest::ServiceSpec`].
//! `tests/compose_oracle.rs` compares the result with `docker compose config` itself.

use crate::dotenv;
use crate::interpolate::interpolate;
use crate::manifest::{DefinitionError, Location, Manifest};
use crate::yaml::{self, YamlNode, YamlValue};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

mod schema;
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
    /// Reading a checkout without running it (the exercise analysis reads its published
    /// ports): a missing `env_file` is a note, not an error. A fresh clone has no `.env`
    /// (it holds secrets and is not committed), and its ports do not depend on it.
    pub missing_env_files_are_notes: bool,
}

#[derive(Debug, Clone)]
pub struct ComposeImport {
    pub manifest: Manifest,
    /// Things a person should know: unset variables, healthchecks kept as docker health…
    pub notes: Vec<String>,
    /// The `${VARIABLE}`s that were not set (each also has its line in `notes`), for
    /// pre-flight: typed, so nobody has to find them in the notes' text.
    pub unset_variables: Vec<UnsetVariable>,
    /// With [`ComposeOptions::missing_env_files_are_notes`]: the `env_file`s that are missing
    /// (each also has its line in `notes`), typed for pre-flight.
    pub missing_env_files: Vec<MissingEnvFile>,
}

/// A required `env_file` of a service that does not exist (or is not a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingEnvFile {
    pub service: String,
    /// The compose file and line that name it.
    pub file: PathBuf,
    pub line: usize,
    /// As written (`.env`), and where that is.
    pub named: String,
    pub path: PathBuf,
    /// A template beside it (`.env.example`…), as written relative to the same folder.
    pub template: Option<String>,
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
    missing_env_files: Vec<MissingEnvFile>,
    project_name: Option<String>,
    /// Every file read, indexed by [`YamlNode::source`].
    files: Vec<PathBuf>,
    /// For each file read (same index): the folder its relative paths (`env_file`) are
    /// resolved against — the project directory for a `-f` file, the included file's folder
    /// (or the include's `project_directory`) for an included one.
    workdirs: Vec<PathBuf>,
}

/// One file as loaded: its services (includes first), and whether it defines nothing at all.
struct Loaded {
    services: Vec<(String, ServiceDoc)>,
    empty: bool,
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
        missing_env_files: Vec::new(),
        project_name: None,
        files: Vec::new(),
        workdirs: Vec::new(),
    };
    let mut vars = HashMap::new();
    let dotenv_path = project_dir.join(".env");
    if dotenv_path.is_file() {
        loader.read_env_file(&dotenv_path, None, &mut vars);
    }

    let mut merged: BTreeMap<String, ServiceDoc> = BTreeMap::new();
    let mut all_empty = true;
    for file in &options.files {
        let mut stack = Vec::new();
        let Some(loaded) = loader.load_file(file, &project_dir, &vars, &mut stack) else {
            all_empty = false;
            continue;
        };
        all_empty &= loaded.empty;
        for (name, doc) in loaded.services {
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
    if all_empty {
        let which = if options.files.len() == 1 {
            "this file defines nothing".to_owned()
        } else {
            format!("none of the {} files defines anything", options.files.len())
        };
        return Err(vec![error_at(
            first,
            None,
            format!("empty compose file: {which}"),
            Some(
                "add a `services:` mapping with at least one service (compose refuses an empty file too)",
            ),
        )]);
    }
    // A file compose would not read stops here: what follows would only add noise.
    if !loader.errors.is_empty() {
        return Err(loader.errors);
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
        greenroom_core::paths::canonical(&project_dir)
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
    let known: BTreeMap<String, service::Known> = merged
        .iter()
        .map(|(name, doc)| (name.clone(), service::Known::of(&doc.node, &active)))
        .collect();
    for (name, doc) in &merged {
        if let Some(spec) = loader.service(name, doc, &known, &project, &compose_files) {
            manifest.services.insert(name.clone(), spec);
        }
    }
    // The services' own problems, then references and cycles, with the compose file's lines.
    let mut errors = std::mem::take(&mut loader.errors);
    errors.extend(crate::manifest::validate(&manifest).into_iter().map(|p| {
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
    }));
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ComposeImport {
        manifest,
        notes: loader.notes,
        unset_variables: loader.unset,
        missing_env_files: loader.missing_env_files,
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
    /// Reads a `.env`-format file into `vars`; `named_at` is the `file:line` that names it
    /// (an include's `env_file`), for the error when it cannot be read.
    fn read_env_file(
        &mut self,
        path: &Path,
        named_at: Option<(&Path, &YamlNode)>,
        vars: &mut HashMap<String, String>,
    ) {
        // Only a regular file is read (not a FIFO or a device that never ends).
        let text = match std::fs::metadata(path).and_then(|m| {
            if m.is_file() {
                std::fs::read_to_string(path)
            } else {
                Err(std::io::Error::other("it is not a file"))
            }
        }) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(match named_at {
                    Some((file, node)) => error_at(
                        file,
                        Some(node),
                        format!("cannot read the env file {}: {e}", path.display()),
                        Some("create it, or fix the path (relative to this file's folder)"),
                    ),
                    None => error_at(path, None, format!("cannot read: {e}"), None),
                });
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

    /// Loads one file and its includes; returns its services (includes first), or `None`
    /// when the file cannot be used (the errors say why). `workdir` is the folder the
    /// file's relative paths are resolved against.
    fn load_file(
        &mut self,
        file: &Path,
        workdir: &Path,
        vars: &HashMap<String, String>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Loaded> {
        let canonical =
            greenroom_core::paths::canonical(file).unwrap_or_else(|_| file.to_path_buf());
        if stack.contains(&canonical) {
            self.errors.push(error_at(
                file,
                None,
                "this file includes itself (through `include:`)",
                Some("remove the `include:` entry that leads back to this file"),
            ));
            return None;
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            self.errors.push(error_at(
                file,
                None,
                format!("`include:` nests deeper than {MAX_INCLUDE_DEPTH} files"),
                Some("include the deepest files directly from a higher one"),
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
        self.workdirs.push(workdir.to_path_buf());
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
            return Some(Loaded {
                services: Vec::new(),
                empty: true,
            });
        }
        let Some(top) = root.as_map() else {
            self.errors.push(error_at(
                file,
                Some(&root),
                format!("a compose file is a mapping, this is {}", root.kind()),
                Some("start with `services:` and the services under it"),
            ));
            return None;
        };
        let empty = top.is_empty();
        let problems = schema::check_file(file, &root);
        if !problems.is_empty() {
            self.errors.extend(problems);
            return None;
        }
        if self.project_name.is_none() {
            self.project_name = root.get("name").and_then(|n| n.as_str()).map(str::to_owned);
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        stack.push(canonical);
        let mut services = Vec::new();
        // The schema says `include` is a list of paths or of mappings with a `path`.
        for entry in root
            .get("include")
            .and_then(YamlNode::as_seq)
            .unwrap_or_default()
        {
            let paths: Vec<&YamlNode> = match entry.get("path") {
                Some(p) => p.as_seq().map_or_else(|| vec![p], |s| s.iter().collect()),
                None => vec![entry],
            };
            let mut included_vars = vars.clone();
            if let Some(env_files) = entry.get("env_file") {
                let env_files: Vec<&YamlNode> = env_files
                    .as_seq()
                    .map_or_else(|| vec![env_files], |s| s.iter().collect());
                for env_file in env_files {
                    if let Some(rel) = env_file.as_str() {
                        self.read_env_file(
                            &dir.join(rel),
                            Some((file, env_file)),
                            &mut included_vars,
                        );
                    }
                }
            }
            let project_directory = entry
                .get("project_directory")
                .and_then(YamlNode::as_str)
                .map(|p| dir.join(p));
            for path in paths {
                let Some(rel) = path.as_str() else { continue };
                if let Some(what) = remote_include(rel) {
                    self.errors.push(error_at(
                        file,
                        Some(path),
                        format!("`include:` of `{rel}`: a remote include ({what}); Greenroom reads only local files"),
                        Some("vendor it: copy the compose file(s) into this project and include them by their local path"),
                    ));
                    continue;
                }
                let target = dir.join(rel);
                if let Err(e) = std::fs::metadata(&target).and_then(|m| {
                    if m.is_file() {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("it is not a file"))
                    }
                }) {
                    self.errors.push(error_at(
                        file,
                        Some(path),
                        format!("`include:` cannot read `{rel}` ({}): {e}", target.display()),
                        Some("fix the path (relative to this file's folder), or remove the entry"),
                    ));
                    continue;
                }
                let workdir = project_directory
                    .clone()
                    .unwrap_or_else(|| target.parent().map(Path::to_path_buf).unwrap_or_default());
                let Some(included) = self.load_file(&target, &workdir, &included_vars, stack)
                else {
                    continue;
                };
                for (name, doc) in included.services {
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
        if let Some(entries) = root.get("services").and_then(YamlNode::as_map) {
            let env = &self.options.env;
            let lookup = |name: &str| env.get(name).cloned().or_else(|| vars.get(name).cloned());
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
        stack.pop();
        Some(Loaded { services, empty })
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

/// What compose would do with an `include:` path that is remote, or `None` for a local path.
fn remote_include(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("oci://") {
        Some("compose would pull it from an OCI registry")
    } else if lower.starts_with("git@")
        || lower.starts_with("git://")
        || lower.starts_with("ssh://")
        || ((lower.starts_with("https://") || lower.starts_with("http://"))
            && (lower.contains(".git") || lower.contains("github.com/")))
    {
        Some("compose would clone it from a git repository")
    } else if lower.starts_with("https://") || lower.starts_with("http://") {
        Some(
            "compose does not download it either: it reads a URL that is not a git repository as a path, and fails",
        )
    } else {
        None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Condition;

    /// Writes `files` (name, text) into a new folder; imports the first ones named in `given`.
    fn import_files(
        files: &[(&str, &str)],
        given: &[&str],
    ) -> (
        tempfile::TempDir,
        Result<ComposeImport, Vec<DefinitionError>>,
    ) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("a folder");
            }
            std::fs::write(&path, text).expect("a file");
        }
        let result = import(&ComposeOptions {
            files: given.iter().map(|g| dir.path().join(g)).collect(),
            ..Default::default()
        });
        (dir, result)
    }

    fn ok(files: &[(&str, &str)]) -> ComposeImport {
        let (_dir, result) = import_files(files, &[files[0].0]);
        result.unwrap_or_else(|e| panic!("{e:#?}"))
    }

    fn refused(files: &[(&str, &str)], given: &[&str]) -> String {
        let (_dir, result) = import_files(files, given);
        match result {
            Ok(_) => panic!("{given:?} must be refused"),
            Err(errors) => errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn links_volumes_from_and_shared_namespaces_are_dependencies() {
        let imported = ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    links: [db, \"cache:c\"]\n    volumes_from: [files, \"logs:ro\", \"container:other\"]\n    depends_on:\n      db:\n        condition: service_healthy\n  side:\n    image: x\n    network_mode: \"service:web\"\n    ipc: \"service:files\"\n    pid: \"service:logs\"\n    uts: \"service:cache\"\n  db: {image: x}\n  cache: {image: x}\n  files: {image: x}\n  logs: {image: x}\n",
        )]);
        let s = &imported.manifest.services;
        // The explicit entry wins (db stays healthy); the others are `started`.
        assert_eq!(
            s["web"].depends_on.entries(),
            vec![
                ("cache".to_owned(), Condition::Started),
                ("db".to_owned(), Condition::Healthy),
                ("files".to_owned(), Condition::Started),
                ("logs".to_owned(), Condition::Started),
            ]
        );
        let side: Vec<String> = s["side"]
            .depends_on
            .entries()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(side, ["cache", "files", "logs", "web"]);
        // Provenance: the line that names each implicit dependency.
        let p = &s["web"].provenance;
        assert!(p["depends_on.cache"].ends_with("c.yml:4"), "{p:?}");
        assert!(p["depends_on.logs"].ends_with("c.yml:5"), "{p:?}");
        assert!(!p.contains_key("depends_on.db"), "{p:?}");
        let p = &s["side"].provenance;
        assert!(p["depends_on.web"].ends_with("c.yml:11"), "{p:?}");
        assert_eq!(p["depends_on"], p["depends_on.web"], "{p:?}");
    }

    #[test]
    fn implicit_dependencies_survive_the_written_manifest() {
        let imported = ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    links: [db]\n    network_mode: \"service:db\"\n  db: {image: x}\n",
        )]);
        let text = to_toml(&imported, &[PathBuf::from("c.yml")]).expect("TOML");
        let back = crate::manifest::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, imported.manifest);
        assert!(crate::manifest::validate(&back).is_empty());
    }

    #[test]
    fn an_explicit_optional_dependency_wins_over_an_implicit_one() {
        let imported = ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    links: [db]\n    depends_on:\n      db: {condition: service_healthy, required: false}\n  db: {image: x}\n",
        )]);
        assert!(imported.manifest.services["web"].depends_on.is_empty());
    }

    #[test]
    fn a_reference_to_an_unknown_or_disabled_service_is_refused_with_its_line() {
        let cases = [
            (
                "links: [\"ghost:g\"]",
                "c.yml:4:",
                "service `web` links to `ghost`, which is not a service of this project",
            ),
            (
                "network_mode: \"service:ghost\"",
                "c.yml:4:",
                "shares the network (network_mode) of `ghost`",
            ),
            (
                "ipc: \"service:ghost\"",
                "c.yml:4:",
                "shares the IPC namespace (ipc) of `ghost`",
            ),
            (
                "volumes_from: [\"container:elsewhere\", \"ghost:ro\"]",
                "c.yml:4:",
                "mounts the volumes (volumes_from) of `ghost`",
            ),
            (
                "depends_on: [ghost]",
                "c.yml:4:",
                "service `web` depends on `ghost`, which is not a service",
            ),
            (
                "links: [db]",
                "c.yml:4:",
                "service `web` links to `db`, which is disabled: none of its profiles (db) is active",
            ),
            (
                "depends_on: {db: {condition: service_healthy}}",
                "c.yml:4:",
                "depends on `db`, which is disabled",
            ),
        ];
        for (line, location, message) in cases {
            let text = format!(
                "services:\n  web:\n    image: x\n    {line}\n  db:\n    image: x\n    profiles: [db]\n"
            );
            let errors = refused(&[("c.yml", &text)], &["c.yml"]);
            assert!(
                errors.contains(location) && errors.contains(message),
                "{line}:\n{errors}"
            );
        }
        // Optional, or both disabled: accepted.
        ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_started, required: false}, ghost: {condition: service_started, required: \"false\"}}\n  db:\n    image: x\n    profiles: [db]\n",
        )]);
        ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    profiles: [db]\n    links: [db]\n  db:\n    image: x\n    profiles: [db]\n",
        )]);
    }

    #[test]
    fn empty_files_are_refused_alone_and_ignored_among_others() {
        let empty = ("empty.yml", "# nothing here\n");
        let web = ("web.yml", "services:\n  web: {image: x}\n");
        let errors = refused(&[empty], &["empty.yml"]);
        assert!(errors.contains("empty.yml: empty compose file"), "{errors}");
        let errors = refused(&[("e.yml", "{}\n")], &["e.yml"]);
        assert!(errors.contains("empty compose file"), "{errors}");
        let errors = refused(&[empty, ("e2.yml", "")], &["empty.yml", "e2.yml"]);
        assert!(
            errors.contains("none of the 2 files defines anything"),
            "{errors}"
        );
        for given in [["empty.yml", "web.yml"], ["web.yml", "empty.yml"]] {
            let (_dir, result) = import_files(&[empty, web], &given);
            assert!(result.is_ok(), "{given:?}: {result:?}");
        }
        // A file with only a name is not empty.
        ok(&[("n.yml", "name: demo\n")]);
    }

    #[test]
    fn a_missing_env_file_is_refused_unless_optional() {
        let errors = refused(
            &[
                (
                    "c.yml",
                    "services:\n  web:\n    image: x\n    env_file:\n      - here.env\n      - missing.env\n",
                ),
                ("here.env", "A=1\n"),
            ],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:6:")
                && errors.contains("env_file `missing.env` cannot be read")
                && errors.contains("it does not exist"),
            "{errors}"
        );
        assert!(!errors.contains("here.env"), "{errors}");
        ok(&[(
            "c.yml",
            "services:\n  web:\n    image: x\n    env_file:\n      - path: missing.env\n        required: false\n",
        )]);
        // A disabled service's env_file is not read, as compose does not read it.
        ok(&[(
            "c.yml",
            "services:\n  web: {image: x}\n  tools:\n    image: x\n    profiles: [tools]\n    env_file: missing.env\n",
        )]);
        // A folder is not an env file.
        let errors = refused(
            &[
                (
                    "c.yml",
                    "services:\n  web:\n    image: x\n    env_file: sub\n",
                ),
                ("sub/x", ""),
            ],
            &["c.yml"],
        );
        assert!(errors.contains("it is not a file"), "{errors}");
    }

    #[test]
    fn env_files_are_found_from_the_folder_of_the_file_that_names_them() {
        // Included: from the included file's folder, or the include's project_directory.
        ok(&[
            (
                "c.yml",
                "include:\n  - sub/inc.yml\nservices:\n  web: {image: x}\n",
            ),
            (
                "sub/inc.yml",
                "services:\n  worker:\n    image: x\n    env_file: [w.env]\n",
            ),
            ("sub/w.env", "W=1\n"),
        ]);
        ok(&[
            (
                "c.yml",
                "include:\n  - path: sub/inc.yml\n    project_directory: other\n",
            ),
            (
                "sub/inc.yml",
                "services:\n  worker:\n    image: x\n    env_file: [w.env]\n",
            ),
            ("other/w.env", "W=1\n"),
        ]);
        // An overlay (-f) in another folder: from the project directory.
        let files = [
            ("a/c.yml", "services:\n  web: {image: x}\n"),
            ("b/over.yml", "services:\n  web:\n    env_file: [x.env]\n"),
            ("b/x.env", "X=1\n"),
        ];
        let (_dir, result) = import_files(&files, &["a/c.yml", "b/over.yml"]);
        let errors = result.err().map(|e| format!("{e:?}")).unwrap_or_default();
        assert!(
            errors.contains("over.yml") && errors.contains("a/x.env"),
            "{errors}"
        );
    }

    #[test]
    fn includes_that_cannot_be_read_or_are_remote_are_refused_with_their_line() {
        let errors = refused(&[("c.yml", "include:\n  - nope.yml\n")], &["c.yml"]);
        assert!(
            errors.contains("c.yml:2:5: `include:` cannot read `nope.yml`"),
            "{errors}"
        );
        for (path, what) in [
            ("oci://registry.example/team/stack:1", "OCI registry"),
            ("git@github.com:team/stack.git", "git repository"),
            (
                "https://github.com/team/stack.git#main:compose.yml",
                "git repository",
            ),
            ("https://example.com/compose.yml", "not a git repository"),
        ] {
            let errors = refused(
                &[("c.yml", &format!("include:\n  - path: \"{path}\"\n"))],
                &["c.yml"],
            );
            assert!(
                errors.contains("c.yml:2:")
                    && errors.contains("a remote include")
                    && errors.contains(what)
                    && errors.contains("vendor it"),
                "{path}: {errors}"
            );
        }
        let errors = refused(
            &[
                ("c.yml", "include: other.yml\n"),
                ("other.yml", "services: {}\n"),
            ],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:1:10: include must be a list"),
            "{errors}"
        );
        let errors = refused(
            &[
                (
                    "c.yml",
                    "include:\n  - path: other.yml\n    env_file: missing.env\n",
                ),
                ("other.yml", "services:\n  a: {image: x}\n"),
            ],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:3:15: cannot read the env file"),
            "{errors}"
        );
    }

    #[test]
    fn a_service_compose_would_not_run_is_refused() {
        let errors = refused(
            &[("c.yml", "services:\n  web:\n    ports: [\"80:80\"]\n")],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:2:3: service `web` has neither an image nor a build context"),
            "{errors}"
        );
        let errors = refused(
            &[(
                "c.yml",
                "services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n",
            )],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:4:") && errors.contains("both `network_mode` and `networks`"),
            "{errors}"
        );
        // A schema problem is refused with its line, before anything else.
        let errors = refused(
            &[("c.yml", "services:\n  web:\n    imgae: x\n")],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:3:5: services.web: unknown key `imgae`"),
            "{errors}"
        );
        assert!(!errors.contains("neither an image"), "{errors}");
    }

    #[test]
    fn extends_of_what_compose_cannot_find_is_refused() {
        let errors = refused(
            &[(
                "c.yml",
                "services:\n  web:\n    extends:\n      file: gone.yml\n      service: web\n",
            )],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:4:13: service `web` extends a service of `gone.yml`"),
            "{errors}"
        );
        let errors = refused(
            &[("c.yml", "services:\n  web:\n    extends: base\n")],
            &["c.yml"],
        );
        assert!(
            errors.contains("c.yml:3:14: service `web` extends `base`, which is not a service"),
            "{errors}"
        );
        // A file beside it: found from the folder of the file that names it.
        ok(&[
            (
                "sub/c.yml",
                "services:\n  web:\n    extends: {file: base.yml, service: web}\n",
            ),
            ("sub/base.yml", "services:\n  web: {image: x}\n"),
        ]);
    }

    #[test]
    fn extends_is_noted_as_not_resolved() {
        let imported = ok(&[(
            "c.yml",
            "services:\n  base: {image: x, ports: [\"80:80\"]}\n  web:\n    extends: base\n",
        )]);
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("c.yml:4") && n.contains("`extends`")),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn remote_includes_are_told_apart_from_paths() {
        assert_eq!(remote_include("sub/compose.yml"), None);
        assert_eq!(remote_include("../x.yml"), None);
        assert!(remote_include("OCI://x/y").is_some());
        assert!(remote_include("ssh://git@host/x.git").is_some());
    }
}
