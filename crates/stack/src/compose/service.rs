//! From one merged compose service (YAML) to a manifest [`ServiceSpec`]: its command,
//! environment, ports, dependencies (explicit and implicit), restart policy, labels and
//! probe, each field with the `file:line` it came from (see the table in [`super`] for
//! what maps to what); and the checks compose makes of one service (references to other
//! services, `env_file`s, an image or a build).

use super::{Loader, ServiceDoc, error_at};
use crate::manifest::{
    Condition, DependsOn, Group, PortError, PortSpec, ProbeCheck, ProbeSpec, Protocol,
    RestartPolicy, ServiceKind, ServiceSpec,
};
use crate::yaml::{YamlNode, YamlValue};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the other services need to know of a service: whether it is enabled, and its profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Known {
    pub enabled: bool,
    pub profiles: Vec<String>,
}

impl Known {
    /// A service is enabled when it has no `profiles`, or one of them is active.
    pub fn of(node: &YamlNode, active: &[String]) -> Known {
        match node.get("profiles") {
            Some(p) => {
                let profiles = strings(p);
                Known {
                    enabled: profiles.iter().any(|p| active.contains(p)),
                    profiles,
                }
            }
            None => Known {
                enabled: true,
                profiles: Vec::new(),
            },
        }
    }
}

/// How a service refers to another, for messages: `depends_on`, or what makes compose add
/// an implicit dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    DependsOn,
    Links,
    VolumesFrom,
    /// `network_mode`, `ipc`, `pid`, `uts` or `cgroup`: `service:NAME`.
    Namespace(&'static str),
}

impl Via {
    /// `depends on`, `links to`… (`service `web` links to `db``).
    fn verb(self) -> String {
        match self {
            Via::DependsOn => "depends on".into(),
            Via::Links => "links to".into(),
            Via::VolumesFrom => "mounts the volumes (volumes_from) of".into(),
            Via::Namespace("network_mode") => "shares the network (network_mode) of".into(),
            Via::Namespace(key) => format!(
                "shares the {} namespace ({key}) of",
                if key == "cgroup" {
                    "cgroup".to_owned()
                } else {
                    key.to_ascii_uppercase()
                }
            ),
        }
    }
}

/// The services one service makes compose start first without a `depends_on` entry, as
/// compose adds them: `links` (`db`, `db:alias`), `volumes_from` (`files`, `files:ro`; not
/// `container:NAME`), and `service:NAME` in `network_mode`, `ipc`, `pid`, `uts`, `cgroup`.
/// Each with the node that names it.
pub(super) fn implicit_dependencies(node: &YamlNode) -> Vec<(String, &YamlNode, Via)> {
    let mut out = Vec::new();
    for link in node
        .get("links")
        .and_then(YamlNode::as_seq)
        .unwrap_or_default()
    {
        let Some(text) = link.as_str() else { continue };
        // `name:alias`; anything else is the name as written.
        let name = match text.split(':').collect::<Vec<_>>().as_slice() {
            [name, _alias] => (*name).to_owned(),
            _ => text.to_owned(),
        };
        out.push((name, link, Via::Links));
    }
    for key in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
        if let Some(value) = node.get(key)
            && let Some(name) = value.as_str().and_then(|v| v.strip_prefix("service:"))
        {
            out.push((name.to_owned(), value, Via::Namespace(key)));
        }
    }
    for from in node
        .get("volumes_from")
        .and_then(YamlNode::as_seq)
        .unwrap_or_default()
    {
        let Some(text) = from.as_str() else { continue };
        if text.starts_with("container:") {
            continue;
        }
        let name = text.split(':').next().unwrap_or(text);
        out.push((name.to_owned(), from, Via::VolumesFrom));
    }
    out
}

impl Loader<'_> {
    pub(super) fn service(
        &mut self,
        name: &str,
        doc: &ServiceDoc,
        known: &BTreeMap<String, Known>,
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

        let me = known.get(name).cloned().unwrap_or(Known {
            enabled: true,
            profiles: Vec::new(),
        });
        if let Some(profiles) = node.get("profiles") {
            spec.compose_profiles = me.profiles.clone();
            spec.provenance.insert("enabled".into(), here(profiles));
        }
        spec.enabled = me.enabled;

        // What compose checks of a service before it runs anything.
        let has = |key: &str| node.get(key).is_some();
        if !(has("image") || has("build") || has("provider") || has("extends")) {
            self.errors.push(error_at(
                file,
                Some(&doc.key),
                format!("service `{name}` has neither an image nor a build context"),
                Some("add `image: NAME` or `build: FOLDER` (compose refuses this too)"),
            ));
        }
        if let (Some(mode), Some(_)) = (node.get("network_mode"), node.get("networks")) {
            self.errors.push(error_at(
                &file_of(mode),
                Some(mode),
                format!("service `{name}` has both `network_mode` and `networks`, which exclude each other"),
                Some("keep one of them (compose refuses both)"),
            ));
        }
        if let Some(extends) = node.get("extends") {
            self.check_extends(name, extends, known);
            self.notes.push(format!(
                "{}: service `{name}` uses `extends`, which Greenroom does not resolve: ports, dependencies and healthcheck of the service it extends are not imported",
                here(extends)
            ));
        }
        if me.enabled {
            self.check_env_files(name, node);
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

        // Dependencies: explicit ones, then the implicit ones compose adds (an explicit
        // entry for the same service wins, even one dropped as `required: false`).
        let mut map = BTreeMap::new();
        let mut explicit = BTreeSet::new();
        if let Some(deps) = node.get("depends_on") {
            spec.provenance.insert("depends_on".into(), here(deps));
            let entries: Vec<(&YamlNode, Option<&YamlNode>)> = match &deps.value {
                YamlValue::Seq(items) => items.iter().map(|i| (i, None)).collect(),
                YamlValue::Map(entries) => entries.iter().map(|(k, v)| (k, Some(v))).collect(),
                _ => Vec::new(), // the schema check refused it
            };
            for (key, value) in entries {
                let Some(dep) = key.as_str() else { continue };
                explicit.insert(dep.to_owned());
                let required = !value
                    .and_then(|v| v.get("required"))
                    .and_then(|r| r.as_str())
                    .is_some_and(is_false);
                if !required {
                    continue;
                }
                let condition_node = value.and_then(|v| v.get("condition"));
                let condition = match condition_node
                    .and_then(|c| c.as_str())
                    .unwrap_or("service_started")
                {
                    "service_started" => Condition::Started,
                    "service_healthy" => Condition::Healthy,
                    "service_completed_successfully" => Condition::CompletedSuccessfully,
                    // Only an interpolated value gets here: the schema check saw the others.
                    other => {
                        self.errors.push(error_at(
                            &file_of(key),
                            condition_node,
                            format!("service `{name}`: unknown depends_on condition `{other}`"),
                            Some("use service_started, service_healthy or service_completed_successfully"),
                        ));
                        continue;
                    }
                };
                if self.check_reference(name, dep, key, Via::DependsOn, known) {
                    map.insert(dep.to_owned(), condition);
                }
            }
        }
        for (dep, at, via) in implicit_dependencies(node) {
            if explicit.contains(&dep) || map.contains_key(&dep) {
                continue;
            }
            if self.check_reference(name, &dep, at, via, known) {
                spec.provenance
                    .entry("depends_on".into())
                    .or_insert_with(|| here(at));
                spec.provenance
                    .insert(format!("depends_on.{dep}"), here(at));
                map.insert(dep, Condition::Started);
            }
        }
        if !map.is_empty() || node.get("depends_on").is_some() {
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

        // Docker stops a container with its own `stop_signal`, then kills it after the grace
        // period: compose's default is 10 s.
        spec.stop.grace_ms = 10_000;
        if let Some(grace) = node.get("stop_grace_period") {
            match grace.as_str().and_then(parse_duration_ms) {
                Some(ms) => {
                    spec.stop.grace_ms = ms;
                    spec.provenance.insert("stop".into(), here(grace));
                }
                None => self.errors.push(error_at(
                    &file_of(grace),
                    Some(grace),
                    format!("service `{name}`: stop_grace_period is not a duration"),
                    Some("write it as compose does: 10s, 1m30s, 500ms"),
                )),
            }
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

    /// Whether service `name` may depend on `dep` (named at `node`): it must be a service
    /// of the project, and enabled when `name` is (compose refuses both, as "depends on
    /// undefined service"). The error, with the line, when not.
    fn check_reference(
        &mut self,
        name: &str,
        dep: &str,
        node: &YamlNode,
        via: Via,
        known: &BTreeMap<String, Known>,
    ) -> bool {
        let file = self.files.get(node.source).cloned().unwrap_or_default();
        let enabled = known.get(name).is_none_or(|k| k.enabled);
        let verb = via.verb();
        match known.get(dep) {
            None => {
                let hint = match via {
                    Via::VolumesFrom | Via::Namespace(_) => {
                        "fix the name, or define that service; a container that is not a service is written container:NAME (compose refuses this too)"
                    }
                    Via::DependsOn | Via::Links => {
                        "fix the name, or define that service (compose refuses this too)"
                    }
                };
                self.errors.push(error_at(
                    &file,
                    Some(node),
                    format!(
                        "service `{name}` {verb} `{dep}`, which is not a service of this project"
                    ),
                    Some(hint),
                ));
                false
            }
            Some(other) if enabled && !other.enabled => {
                let profiles = other.profiles.join(", ");
                let hint = format!(
                    "activate one of its profiles (--profile {}, or COMPOSE_PROFILES), or give `{name}` the same profile{}; compose refuses this too",
                    other.profiles.first().map(String::as_str).unwrap_or(""),
                    if via == Via::DependsOn {
                        ", or mark the dependency `required: false`"
                    } else {
                        ""
                    }
                );
                self.errors.push(error_at(
                    &file,
                    Some(node),
                    format!("service `{name}` {verb} `{dep}`, which is disabled: none of its profiles ({profiles}) is active"),
                    Some(&hint),
                ));
                false
            }
            Some(_) => true,
        }
    }

    /// `extends` is not resolved, but what compose would fail to find is refused: a `file`
    /// that cannot be read (relative to the folder of the file that names it), or, without
    /// `file`, a service that is not defined.
    fn check_extends(&mut self, name: &str, extends: &YamlNode, known: &BTreeMap<String, Known>) {
        let file = self.files.get(extends.source).cloned().unwrap_or_default();
        let (base, other) = match extends.as_str() {
            Some(base) => (Some((base, extends)), None),
            None => (
                extends
                    .get("service")
                    .and_then(|b| b.as_str().map(|t| (t, b))),
                extends.get("file"),
            ),
        };
        match other {
            Some(other) => {
                let Some(rel) = other.as_str() else { return };
                let full = file
                    .parent()
                    .map(|d| d.join(rel))
                    .unwrap_or_else(|| rel.into());
                if !full.is_file() {
                    self.errors.push(error_at(
                        &file,
                        Some(other),
                        format!(
                            "service `{name}` extends a service of `{rel}` ({}), which cannot be read",
                            full.display()
                        ),
                        Some("fix the path (relative to this file's folder); compose refuses this too"),
                    ));
                }
            }
            None => {
                if let Some((base, at)) = base
                    && !known.contains_key(base)
                {
                    self.errors.push(error_at(
                        &file,
                        Some(at),
                        format!("service `{name}` extends `{base}`, which is not a service of this project"),
                        Some("fix the name, or add `file:` to extend a service of another file; compose refuses this too"),
                    ));
                }
            }
        }
    }

    /// Compose reads every `env_file` of an enabled service when it loads the project: a
    /// missing one is an error unless its long form says `required: false`. A relative path
    /// is resolved against the folder of the file that names it (the project directory for a
    /// `-f` file, the included file's folder or its include's `project_directory`).
    fn check_env_files(&mut self, name: &str, node: &YamlNode) {
        let Some(env_file) = node.get("env_file") else {
            return;
        };
        let entries: Vec<&YamlNode> = env_file
            .as_seq()
            .map_or_else(|| vec![env_file], |s| s.iter().collect());
        for entry in entries {
            let (path, required) = match entry.as_map() {
                Some(_) => (
                    entry.get("path").and_then(YamlNode::as_str),
                    !entry
                        .get("required")
                        .and_then(YamlNode::as_str)
                        .is_some_and(is_false),
                ),
                None => (entry.as_str(), true),
            };
            let Some(path) = path.filter(|_| required) else {
                continue;
            };
            let workdir = self.workdirs.get(entry.source).cloned().unwrap_or_default();
            let full = workdir.join(path);
            let problem = match std::fs::metadata(&full) {
                Ok(m) if m.is_file() => continue,
                Ok(_) => "it is not a file".to_owned(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    "it does not exist".to_owned()
                }
                Err(e) => e.to_string(),
            };
            let file = self.files.get(entry.source).cloned().unwrap_or_default();
            // A checkout often ships the template of its secrets (`.env.example`).
            let template = ["example", "sample", "template", "dist"]
                .iter()
                .map(|suffix| format!("{path}.{suffix}"))
                .find(|t| workdir.join(t).is_file());
            if self.options.missing_env_files_are_notes {
                self.notes.push(format!(
                    "{}:{}: service `{name}`: env_file `{path}` cannot be read ({problem}); `up` refuses to start it until it exists",
                    file.display(),
                    entry.line
                ));
                self.missing_env_files.push(crate::compose::MissingEnvFile {
                    service: name.to_owned(),
                    file: file.clone(),
                    line: entry.line,
                    named: path.to_owned(),
                    path: full.clone(),
                    template,
                });
                continue;
            }
            let hint = match template {
                Some(t) => format!(
                    "copy `{t}` to `{path}` and fill it in (compose refuses to start without it), or mark it optional: `- path: FILE` with `required: false`"
                ),
                None => "create it (compose refuses to start without it), or mark it optional: `- path: FILE` with `required: false`".to_owned(),
            };
            self.errors.push(error_at(
                &file,
                Some(entry),
                format!(
                    "service `{name}`: env_file `{path}` cannot be read ({}): {problem}",
                    full.display()
                ),
                Some(&hint),
            ));
        }
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
        let mut spec: PortSpec = published.parse().map_err(|e: PortError| e.to_string())?;
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
    let mut spec: PortSpec = host.parse().map_err(|e: PortError| {
        e.to_string()
            .replace(&format!("`{host}`"), &format!("`{text}`"))
    })?;
    spec.protocol = protocol;
    spec.host_ip = ip.filter(|i| !i.is_empty());
    Ok(Some((spec, container_start)))
}

/// A boolean written as compose casts it: `false`, `no`, `n`, `off`, `0` (any case).
fn is_false(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "false" | "no" | "n" | "off" | "0"
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

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
