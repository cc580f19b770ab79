//! Finding the exercises the app registers, and scoring each one.
//!
//! **Registered**: a widget built inside a route declaration (`GoRoute(path: …, builder:
//! …)`; in a builder that dispatches on an id, `if (id == 'x') return XScreen();` registers
//! `XScreen` at the path with `:id` = `x`) or inside an exercise-list entry
//! (`ExerciseInfo(id: 'x', …)`). **An exercise** is a registered widget that uses the
//! exercise mixin, extends the exercise template, is an exercise-list entry, or sits on a
//! route matching `screens.exercise_route` — unless its name is excluded
//! (`screens.not_exercises`: login, home, splash, settings, lists…). **An orphan** is an
//! unregistered widget that uses the mixin or extends the template.
//!
//! **Criteria** (weights in the rule pack; `passed = None` means "does not apply" and the
//! criterion is left out of the score):
//! - `registered` — where it is registered.
//! - `mixin_callbacks` — a mixin user implements every `lifecycle.mixin_callbacks`.
//! - `audio_init` — `initState` calls an audio init with a real exercise type (not empty,
//!   not a template placeholder).
//! - `dispose` — every field of a releasable type (`lifecycle.release`) is released in
//!   `dispose()` with one of its release calls.
//! - `agent_routing` — the exercise type is one the agent routes (**blocking**: an unknown
//!   type silently falls back to another exercise there).
//! - `endpoint_drift` — no file it imports calls a port the stack does not publish.
//! - `services_healthy` — the services it needs are healthy in the running stack.
//! - `error_handling` — its network calls are in `try` blocks or have `.catchError`.
//! - `template_changed` — a template copy no longer carries placeholders (**blocking**).
//!
//! **Score** = round(100 × Σ weights passed / Σ weights that apply). **Valid** = score ≥
//! [`VALID_SCORE`] and no blocking criterion failed. **Fix time** = Σ `fix_minutes` of the
//! failing criteria.

use crate::dart::lexer::{HOLE, Token};
use crate::dart::{Class, Method};
use crate::project::{Package, Project, Skipped, resolve_import};
use crate::rules::Compiled;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use ts_rs::TS;

pub const VALID_SCORE: u32 = 80;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Evidence {
    pub message: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Criterion {
    pub id: String,
    pub title: String,
    pub weight: u32,
    /// `None`: does not apply to this exercise (left out of the score).
    pub passed: Option<bool>,
    pub blocking: bool,
    pub findings: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Exercise {
    /// snake_case of the class name (`cosmic_voice_screen`).
    pub id: String,
    pub class_name: String,
    pub file: String,
    pub line: u32,
    /// The route path, or `registry:<id>` for an exercise-list entry.
    pub route: String,
    pub exercise_type: Option<String>,
    pub required_services: Vec<String>,
    pub score: u32,
    pub valid: bool,
    pub criteria: Vec<Criterion>,
    pub recommendations: Vec<String>,
    pub fix_minutes: u32,
    /// Content hash of the files it depends on (its import closure), for history.
    pub content_hash: String,
    /// Files (absolute) whose change can change this exercise's score.
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Orphan {
    pub class_name: String,
    pub file: String,
    pub line: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Drift {
    pub file: String,
    pub line: u32,
    pub url: String,
    pub port: u16,
    pub message: String,
    /// The config entry holding the URL (`exercisesApiUrl`), when it is a named field:
    /// only exercises whose code uses that name are affected.
    pub entry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Analysis {
    pub project: String,
    pub packages: Vec<String>,
    pub files_read: u32,
    pub exercises: Vec<Exercise>,
    pub orphans: Vec<Orphan>,
    pub drift: Vec<Drift>,
    pub skipped: Vec<Skipped>,
    /// Exercise types the agent routes (empty when no agent source was found).
    pub agent_types: Vec<String>,
}

/// What the analysis needs to know about the stack.
#[derive(Debug, Clone, Default)]
pub struct StackContext {
    /// Host ports the stack publishes (from its compose files or manifest); `None`: unknown.
    pub published_ports: Option<BTreeSet<u16>>,
    /// Health of the stack's services by id; `None`: no stack running.
    pub healthy: Option<BTreeMap<String, bool>>,
}

pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.trim_start_matches('_').chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a class is: the package, its file, the class.
struct Located<'a> {
    package: &'a Package,
    file: &'a str,
    class: &'a Class,
}

struct Index<'a> {
    classes: BTreeMap<&'a str, Located<'a>>,
}

impl<'a> Index<'a> {
    fn new(project: &'a Project) -> Self {
        let mut classes = BTreeMap::new();
        for package in &project.packages {
            for (rel, file) in &package.files {
                for class in &file.dart.classes {
                    classes.entry(class.name.as_str()).or_insert(Located {
                        package,
                        file: rel,
                        class,
                    });
                }
            }
        }
        Self { classes }
    }

    /// The superclass chain of `name` (itself first), within the project then one step out.
    fn chain(&self, name: &str) -> Vec<String> {
        let mut out = vec![name.to_owned()];
        let mut current = name.to_owned();
        for _ in 0..16 {
            match self
                .classes
                .get(current.as_str())
                .and_then(|l| l.class.superclass.clone())
            {
                Some(sup) if !out.contains(&sup) => {
                    out.push(sup.clone());
                    current = sup;
                }
                _ => break,
            }
        }
        out
    }

    fn is_widget(&self, name: &str, rules: &Compiled) -> bool {
        self.chain(name)
            .iter()
            .skip(1)
            .any(|c| rules.rules.screens.widget_bases.contains(c))
    }

    /// The state class of a widget: `… extends State<Widget>`.
    fn state_of(&self, widget: &str, rules: &Compiled) -> Option<&Located<'a>> {
        self.classes.values().find(|l| {
            l.class
                .superclass
                .as_ref()
                .is_some_and(|s| rules.rules.screens.state_bases.contains(s))
                && l.class.superclass_args.iter().any(|a| a == widget)
        })
    }
}

#[derive(Debug, Clone)]
struct Registration {
    route: String,
    via_registry: bool,
    file: String,
    line: u32,
}

fn is_upper_ident(t: &Token) -> bool {
    t.is_ident() && t.text.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Widgets built in `tokens[from..to]` (constructor calls of known widgets), skipping
/// nested route declarations.
fn built_widgets(
    tokens: &[Token],
    from: usize,
    to: usize,
    index: &Index,
    rules: &Compiled,
) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        let t = &tokens[i];
        if rules.rules.router.route_calls.contains(&t.text)
            && tokens.get(i + 1).is_some_and(|n| n.is("("))
        {
            i = crate::dart::structure::matching(tokens, i + 1).map_or(to, |e| e + 1);
            continue;
        }
        if is_upper_ident(t)
            && tokens.get(i + 1).is_some_and(|n| n.is("("))
            && index.is_widget(&t.text, rules)
        {
            out.push((t.text.clone(), t.line));
        }
        i += 1;
    }
    out
}

fn registrations(
    project: &Project,
    index: &Index,
    rules: &Compiled,
) -> BTreeMap<String, Registration> {
    let mut found: BTreeMap<String, Registration> = BTreeMap::new();
    for package in &project.packages {
        for (rel, file) in &package.files {
            let tokens = &file.dart.tokens;
            let file_path = file.path.display().to_string();
            for (i, t) in tokens.iter().enumerate() {
                let is_route = rules.rules.router.route_calls.contains(&t.text);
                let is_registry = rules.rules.router.registry_calls.contains(&t.text);
                if !(is_route || is_registry)
                    || !t.is_ident()
                    || !tokens.get(i + 1).is_some_and(|n| n.is("("))
                {
                    continue;
                }
                let Some(close) = crate::dart::structure::matching(tokens, i + 1) else {
                    continue;
                };
                let named = |arg: &str| {
                    (i + 2..close).find_map(|k| {
                        (tokens[k].is(arg)
                            && tokens.get(k + 1).is_some_and(|c| c.is(":"))
                            && tokens.get(k + 2).is_some_and(Token::is_str))
                        .then(|| tokens[k + 2].text.clone())
                    })
                };
                if is_registry {
                    let id = rules
                        .rules
                        .router
                        .registry_id_args
                        .iter()
                        .find_map(|a| named(a))
                        .unwrap_or_default();
                    for (widget, line) in built_widgets(tokens, i + 2, close, index, rules) {
                        found.entry(widget).or_insert(Registration {
                            route: format!("registry:{id}"),
                            via_registry: true,
                            file: file_path.clone(),
                            line,
                        });
                    }
                    continue;
                }
                let path = named(&rules.rules.router.path_arg).unwrap_or_default();
                // Id dispatch: `'x' == id` or `id == 'x'`, then `return [const] XScreen(`.
                let mut dispatched = BTreeSet::new();
                let mut k = i + 2;
                while k < close {
                    if tokens[k].is("==") {
                        let literal = [
                            tokens.get(k + 1),
                            k.checked_sub(1).and_then(|p| tokens.get(p)),
                        ]
                        .into_iter()
                        .flatten()
                        .find(|t| t.is_str())
                        .map(|t| t.text.clone());
                        if let Some(id) = literal {
                            let ret = (k..close).find(|&r| tokens[r].is("return"));
                            if let Some(r) = ret {
                                let widget = tokens[r + 1..close.min(r + 4)]
                                    .iter()
                                    .find(|t| is_upper_ident(t));
                                if let Some(w) = widget.filter(|w| index.is_widget(&w.text, rules))
                                {
                                    let route =
                                        if path.contains(':') {
                                            path.split('/')
                                                .map(|s| {
                                                    if s.starts_with(':') { id.as_str() } else { s }
                                                })
                                                .collect::<Vec<_>>()
                                                .join("/")
                                        } else {
                                            format!("{path}#{id}")
                                        };
                                    dispatched.insert(w.text.clone());
                                    found.entry(w.text.clone()).or_insert(Registration {
                                        route,
                                        via_registry: false,
                                        file: file_path.clone(),
                                        line: w.line,
                                    });
                                }
                            }
                        }
                    }
                    k += 1;
                }
                for (widget, line) in built_widgets(tokens, i + 2, close, index, rules) {
                    if dispatched.contains(&widget) {
                        continue;
                    }
                    found.entry(widget).or_insert(Registration {
                        route: path.clone(),
                        via_registry: false,
                        file: file_path.clone(),
                        line,
                    });
                }
                let _ = rel;
            }
        }
    }
    found
}

/// Exercise types the agent routes: literals compared with the type variable, and keys of
/// the route tables.
pub fn agent_types(files: &[(std::path::PathBuf, String)], rules: &Compiled) -> BTreeSet<String> {
    let var = regex::escape(&rules.rules.agent.type_variable);
    let compare = regex::Regex::new(&format!(
        r#"\b{var}\s*==\s*["']([\w\-]+)["']|["']([\w\-]+)["']\s*==\s*{var}\b"#
    ))
    .expect("a valid regex");
    let membership = regex::Regex::new(&format!(r#"\b{var}\s+in\s*[\(\[\{{]([^\)\]\}}]*)"#))
        .expect("a valid regex");
    let literal = regex::Regex::new(r#"["']([\w\-]+)["']"#).expect("a valid regex");
    let table = regex::Regex::new(r"(?m)^\s*(\w+)\s*(?::[^=\n]*)?=\s*\{").expect("a valid regex");
    let key = regex::Regex::new(r#"["']([\w\-]+)["']\s*:"#).expect("a valid regex");
    let mut types = BTreeSet::new();
    for (_, text) in files {
        let code: String = text
            .lines()
            .map(|l| l.split_once('#').map_or(l, |(c, _)| c))
            .collect::<Vec<_>>()
            .join("\n");
        for c in compare.captures_iter(&code) {
            if let Some(m) = c.get(1).or_else(|| c.get(2)) {
                types.insert(m.as_str().to_owned());
            }
        }
        for c in membership.captures_iter(&code) {
            for l in literal.captures_iter(&c[1]) {
                types.insert(l[1].to_owned());
            }
        }
        for c in table.captures_iter(&code) {
            if !rules.route_tables.is_match(&c[1]) {
                continue;
            }
            let start = c.get(0).map_or(0, |m| m.end());
            let mut depth = 1;
            let mut end = start;
            for (i, ch) in code[start..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = start + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            // Only keys at the table's own level.
            let body = &code[start..end.max(start)];
            let mut level = 0;
            let mut flat = String::new();
            for ch in body.chars() {
                match ch {
                    '{' | '[' | '(' => level += 1,
                    '}' | ']' | ')' => level -= 1,
                    _ if level == 0 => flat.push(ch),
                    _ => {}
                }
            }
            for k in key.captures_iter(&flat) {
                types.insert(k[1].to_owned());
            }
        }
    }
    types
}

/// URLs on loopback in string literals: (url, port).
fn loopback_urls(text: &str) -> Vec<(String, u16)> {
    let re = regex::Regex::new(
        r"(?i)\b(https?|wss?)://(localhost|127\.0\.0\.1|10\.0\.2\.2|0\.0\.0\.0)(?::(\d{1,5}))?",
    )
    .expect("a valid regex");
    re.captures_iter(text)
        .filter_map(|c| {
            let default = match c[1].to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                _ => 80,
            };
            let port = c
                .get(3)
                .map_or(Some(default), |p| p.as_str().parse::<u16>().ok())?;
            Some((c[0].to_owned(), port))
        })
        .collect()
}

fn glob_matches(pattern: &str, path: &str) -> bool {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(path))
}

fn drift(project: &Project, rules: &Compiled, stack: &StackContext) -> Vec<Drift> {
    let Some(published) = &stack.published_ports else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for package in &project.packages {
        for (rel, file) in &package.files {
            if !rules
                .rules
                .network
                .config_files
                .iter()
                .any(|g| glob_matches(g, rel))
            {
                continue;
            }
            for (text, line, _) in &file.dart.strings {
                let constant = text.replace(HOLE, "");
                // The field or getter declared on that line, if any.
                let entry = file.dart.classes.iter().find_map(|c| {
                    c.fields
                        .iter()
                        .find(|f| f.line == *line)
                        .map(|f| f.name.clone())
                        .or_else(|| {
                            c.methods
                                .iter()
                                .find(|m| m.line == *line)
                                .map(|m| m.name.clone())
                        })
                });
                for (url, port) in loopback_urls(&constant) {
                    if !published.contains(&port) {
                        out.push(Drift {
                            entry: entry.clone(),
                            file: file.path.display().to_string(),
                            line: *line,
                            message: format!(
                                "the app calls port {port} ({url}) but the stack publishes no port {port}; it publishes {}",
                                published.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
                            ),
                            url,
                            port,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Files of `package` reachable from `start` through package-internal imports.
fn import_closure(package: &Package, start: &str) -> Vec<String> {
    let mut seen = BTreeSet::from([start.to_owned()]);
    let mut queue = VecDeque::from([start.to_owned()]);
    while let Some(file) = queue.pop_front() {
        let Some(src) = package.files.get(&file) else {
            continue;
        };
        for import in &src.dart.imports {
            if let Some(target) = resolve_import(package, &file, &import.uri)
                && seen.insert(target.clone())
            {
                queue.push_back(target);
            }
        }
    }
    seen.into_iter().collect()
}

fn evidence(message: impl Into<String>, file: &str, line: u32) -> Evidence {
    Evidence {
        message: message.into(),
        file: file.to_owned(),
        line,
    }
}

pub fn analyse(project: &Project, rules: &Compiled, stack: &StackContext) -> Analysis {
    analyse_incremental(project, rules, stack, None)
}

/// Like [`analyse`], but scores again only the exercises whose class is in the given set,
/// taking the others from the previous analysis (detection itself always runs: it is cheap,
/// and a change can register or unregister any screen).
pub fn analyse_incremental(
    project: &Project,
    rules: &Compiled,
    stack: &StackContext,
    previous: Option<(&Analysis, &BTreeSet<String>)>,
) -> Analysis {
    let index = Index::new(project);
    let registered = registrations(project, &index, rules);
    let routed: BTreeSet<String> = agent_types(&project.agent_files, rules);
    let drifts = drift(project, rules, stack);
    let screens = &rules.rules.screens;

    let uses_mixin = |l: &Located| {
        let state = index.state_of(&l.class.name, rules);
        l.class
            .mixins
            .iter()
            .chain(state.map(|s| s.class.mixins.iter()).into_iter().flatten())
            .any(|m| screens.exercise_mixins.contains(m))
    };
    let from_template = |name: &str| {
        index
            .chain(name)
            .iter()
            .skip(1)
            .any(|c| screens.exercise_templates.contains(c))
    };

    let mut exercises = Vec::new();
    let mut orphans = Vec::new();
    for (name, located) in &index.classes {
        if !index.is_widget(name, rules)
            || rules.is_excluded(name)
            || screens.exercise_templates.iter().any(|t| t == name)
        {
            continue;
        }
        let file_path = located.package.files[located.file]
            .path
            .display()
            .to_string();
        match registered.get(*name) {
            Some(reg) => {
                let is_exercise = uses_mixin(located)
                    || from_template(name)
                    || reg.via_registry
                    || rules.exercise_route.is_match(&reg.route);
                if is_exercise {
                    let kept = previous.and_then(|(prev, rescore)| {
                        if rescore.contains(*name) {
                            return None;
                        }
                        prev.exercises
                            .iter()
                            .find(|e| e.class_name == *name && e.route == reg.route)
                            .cloned()
                    });
                    exercises.push(kept.unwrap_or_else(|| {
                        score_exercise(located, reg, &index, rules, stack, &routed, &drifts)
                    }));
                }
            }
            None => {
                let why = if uses_mixin(located) {
                    Some("uses the exercise mixin, but no route or exercise list registers it")
                } else if from_template(name) {
                    Some(
                        "extends the exercise template, but no route or exercise list registers it",
                    )
                } else {
                    None
                };
                if let Some(reason) = why {
                    orphans.push(Orphan {
                        class_name: (*name).to_owned(),
                        file: file_path,
                        line: located.class.line,
                        reason: reason.into(),
                    });
                }
            }
        }
    }
    exercises.sort_by(|a, b| a.id.cmp(&b.id));
    Analysis {
        project: project.root.display().to_string(),
        packages: project.packages.iter().map(|p| p.name.clone()).collect(),
        files_read: project.packages.iter().map(|p| p.files.len() as u32).sum(),
        exercises,
        orphans,
        drift: drifts,
        skipped: project.skipped.clone(),
        agent_types: routed.into_iter().collect(),
    }
}

fn audio_type(init: &Method, rules: &Compiled) -> Option<(String, u32)> {
    init.calls
        .iter()
        .filter(|c| rules.rules.lifecycle.audio_init_calls.contains(&c.name))
        .find_map(|c| {
            c.named_string_args
                .iter()
                .find(|(k, _)| rules.rules.lifecycle.type_args.contains(k))
                .map(|(_, v)| v.clone())
                .or_else(|| c.string_args.first().cloned())
                .map(|t| (t, c.line))
        })
}

#[allow(clippy::too_many_arguments)]
fn score_exercise(
    located: &Located,
    reg: &Registration,
    index: &Index,
    rules: &Compiled,
    stack: &StackContext,
    routed: &BTreeSet<String>,
    drifts: &[Drift],
) -> Exercise {
    let r = &rules.rules;
    let class = located.class;
    let package = located.package;
    let file = package.files[located.file].path.display().to_string();
    let state = index.state_of(&class.name, rules);
    let state_class = state.map(|s| s.class);
    let state_file = state
        .map(|s| {
            package
                .files
                .get(s.file)
                .map_or(file.clone(), |f| f.path.display().to_string())
        })
        .unwrap_or_else(|| file.clone());
    let own: Vec<&Class> = [Some(class), state_class].into_iter().flatten().collect();
    let uses_mixin = own.iter().any(|c| {
        c.mixins
            .iter()
            .any(|m| r.screens.exercise_mixins.contains(m))
    });
    let is_template = index
        .chain(&class.name)
        .iter()
        .skip(1)
        .any(|c| r.screens.exercise_templates.contains(c));
    let mut criteria = Vec::new();
    let weight = |id: &str| r.weights.get(id).copied().unwrap_or(0);
    let mut add =
        |id: &str, title: &str, passed: Option<bool>, blocking: bool, findings: Vec<Evidence>| {
            criteria.push(Criterion {
                id: id.into(),
                title: title.into(),
                weight: weight(id),
                passed,
                blocking,
                findings,
            });
        };

    add(
        "registered",
        "Registered in the router or the exercise list",
        Some(true),
        false,
        vec![evidence(
            format!("registered at {}", reg.route),
            &reg.file,
            reg.line,
        )],
    );

    // Mixin callbacks.
    if uses_mixin {
        let missing: Vec<&String> = r
            .lifecycle
            .mixin_callbacks
            .iter()
            .filter(|cb| !own.iter().any(|c| c.method(cb).is_some()))
            .collect();
        let findings = missing
            .iter()
            .map(|m| {
                evidence(
                    format!("`{m}` of the exercise mixin is not implemented"),
                    &state_file,
                    state_class.unwrap_or(class).line,
                )
            })
            .collect::<Vec<_>>();
        add(
            "mixin_callbacks",
            "Implements the exercise mixin's callbacks",
            Some(missing.is_empty()),
            false,
            findings,
        );
    } else {
        add(
            "mixin_callbacks",
            "Implements the exercise mixin's callbacks",
            None,
            false,
            Vec::new(),
        );
    }

    // Audio initialised in initState with a real type.
    let init = own
        .iter()
        .find_map(|c| c.method("initState").map(|m| (c, m)));
    let mut exercise_type = None;
    let audio = match init {
        None => (
            false,
            vec![evidence(
                "no initState: the exercise's audio is never initialised",
                &state_file,
                state_class.unwrap_or(class).line,
            )],
        ),
        Some((_, m)) => match audio_type(m, rules) {
            None => (
                false,
                vec![evidence(
                    format!(
                        "initState does not call {} with an exercise type",
                        r.lifecycle.audio_init_calls.join(" or ")
                    ),
                    &state_file,
                    m.line,
                )],
            ),
            Some((t, line))
                if t.trim().is_empty()
                    || t.contains(HOLE)
                    || r.screens
                        .template_placeholders
                        .iter()
                        .any(|p| t.contains(p)) =>
            {
                exercise_type = Some(t.clone());
                (
                    false,
                    vec![evidence(
                        format!("the exercise type `{t}` is a placeholder, not a real type"),
                        &state_file,
                        line,
                    )],
                )
            }
            Some((t, line)) => {
                exercise_type = Some(t.clone());
                (
                    true,
                    vec![evidence(
                        format!("audio initialised as `{t}`"),
                        &state_file,
                        line,
                    )],
                )
            }
        },
    };
    add(
        "audio_init",
        "Initialises audio in initState with a real exercise type",
        Some(audio.0),
        false,
        audio.1,
    );

    // Releases in dispose.
    let releasable: Vec<(&str, &crate::dart::Field, &Vec<String>)> = own
        .iter()
        .flat_map(|c| c.fields.iter().map(move |f| (c, f)))
        .filter_map(|(c, f)| {
            f.type_name
                .as_ref()
                .and_then(|t| r.lifecycle.release.get(t))
                .map(|calls| (c.name.as_str(), f, calls))
        })
        .collect();
    if releasable.is_empty() {
        add(
            "dispose",
            "Releases controllers, streams, timers and subscriptions in dispose",
            None,
            false,
            Vec::new(),
        );
    } else {
        let dispose = own.iter().find_map(|c| c.method("dispose"));
        let mut findings = Vec::new();
        for (_, field, calls) in &releasable {
            let released = dispose.is_some_and(|d| {
                d.calls.iter().any(|c| {
                    c.receiver.as_deref() == Some(field.name.as_str()) && calls.contains(&c.name)
                }) || (calls.iter().any(|c| c == "sink") && d.mentions.contains(&field.name))
            });
            if !released {
                findings.push(evidence(
                    format!(
                        "`{}` ({}) is not released in dispose (call {} on it)",
                        field.name,
                        field.type_name.as_deref().unwrap_or("?"),
                        calls
                            .iter()
                            .map(|c| format!("{}.{c}()", field.name))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                    &state_file,
                    field.line,
                ));
            }
        }
        if dispose.is_none() {
            findings.insert(
                0,
                evidence(
                    "there is no dispose() method",
                    &state_file,
                    state_class.unwrap_or(class).line,
                ),
            );
        }
        add(
            "dispose",
            "Releases controllers, streams, timers and subscriptions in dispose",
            Some(findings.is_empty()),
            false,
            findings,
        );
    }

    // Agent routing.
    match (&exercise_type, routed.is_empty()) {
        (_, true) => add(
            "agent_routing",
            "The agent routes its exercise type",
            None,
            true,
            vec![evidence(
                format!("no agent source found under {}", r.agent.paths.join(", ")),
                &file,
                class.line,
            )],
        ),
        (None, false) => add(
            "agent_routing",
            "The agent routes its exercise type",
            None,
            true,
            Vec::new(),
        ),
        (Some(t), false) if routed.contains(t) => add(
            "agent_routing",
            "The agent routes its exercise type",
            Some(true),
            true,
            vec![evidence(
                format!("the agent routes `{t}`"),
                &file,
                class.line,
            )],
        ),
        (Some(t), false) => add(
            "agent_routing",
            "The agent routes its exercise type",
            Some(false),
            true,
            vec![evidence(
                format!(
                    "the agent does not route `{t}`: it will silently fall back to another exercise (it routes: {})",
                    routed.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                &state_file,
                init.map_or(class.line, |(_, m)| m.line),
            )],
        ),
    }

    // Files it depends on.
    let closure: Vec<String> = {
        let mut files = import_closure(package, located.file);
        if let Some(s) = state {
            files.extend(import_closure(package, s.file));
        }
        files.sort();
        files.dedup();
        files
    };
    let closure_paths: Vec<String> = closure
        .iter()
        .filter_map(|f| package.files.get(f))
        .map(|f| f.path.display().to_string())
        .collect();

    // Endpoint drift.
    if stack.published_ports.is_none() {
        add(
            "endpoint_drift",
            "Calls only ports the stack publishes",
            None,
            false,
            Vec::new(),
        );
    } else {
        // Affected when a file it depends on uses the drifted entry (or, for a URL that is not
        // a named entry, when it depends on the config file at all).
        let uses = |name: &str| {
            closure
                .iter()
                .filter_map(|f| package.files.get(f))
                .filter(|f| {
                    !drifts
                        .iter()
                        .any(|d| d.file == f.path.display().to_string())
                })
                .any(|f| f.dart.tokens.iter().any(|t| t.is_ident() && t.text == name))
        };
        let mine: Vec<Evidence> = drifts
            .iter()
            .filter(|d| closure_paths.contains(&d.file))
            .filter(|d| d.entry.as_deref().is_none_or(uses))
            .map(|d| evidence(d.message.clone(), &d.file, d.line))
            .collect();
        add(
            "endpoint_drift",
            "Calls only ports the stack publishes",
            Some(mine.is_empty()),
            false,
            mine,
        );
    }

    // Services it needs.
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut imports: Vec<&str> = Vec::new();
    for f in closure.iter().filter_map(|f| package.files.get(f)) {
        used.extend(
            f.dart
                .tokens
                .iter()
                .filter(|t| is_upper_ident(t))
                .map(|t| t.text.as_str()),
        );
        imports.extend(f.dart.imports.iter().map(|i| i.uri.as_str()));
    }
    for c in &own {
        used.extend(c.mixins.iter().map(String::as_str));
    }
    let required: Vec<&crate::rules::ServiceRule> = r
        .services
        .iter()
        .filter(|s| {
            s.when_uses.iter().any(|u| used.contains(u.as_str()))
                || s.when_imports
                    .iter()
                    .any(|p| imports.iter().any(|i| i.starts_with(p.as_str())))
        })
        .collect();
    let required_services: Vec<String> = required.iter().map(|s| s.name.clone()).collect();
    match &stack.healthy {
        None => add(
            "services_healthy",
            "The services it needs are healthy now",
            None,
            false,
            Vec::new(),
        ),
        Some(health) => {
            let mut findings = Vec::new();
            for s in &required {
                let found = s
                    .stack_names
                    .iter()
                    .find_map(|n| health.get(n).map(|h| (n, *h)));
                match found {
                    Some((_, true)) => {}
                    Some((n, false)) => findings.push(evidence(
                        format!("`{n}` ({}) is not healthy", s.name),
                        &file,
                        class.line,
                    )),
                    None => findings.push(evidence(
                        format!(
                            "the stack has no service for {} (looked for {})",
                            s.name,
                            s.stack_names.join(", ")
                        ),
                        &file,
                        class.line,
                    )),
                }
            }
            add(
                "services_healthy",
                "The services it needs are healthy now",
                Some(findings.is_empty()),
                false,
                findings,
            );
        }
    }

    // Error handling around network calls.
    let network: Vec<Evidence> = own
        .iter()
        .flat_map(|c| c.methods.iter())
        .flat_map(|m| m.calls.iter())
        .filter(|c| c.receiver.is_some() && r.network.calls.contains(&c.name) && !c.handled)
        .map(|c| {
            evidence(
                format!(
                    "`{}.{}(…)` is not in a try block and has no .catchError",
                    c.receiver.as_deref().unwrap_or("?"),
                    c.name
                ),
                &state_file,
                c.line,
            )
        })
        .collect();
    add(
        "error_handling",
        "Handles errors around its network calls",
        Some(network.is_empty()),
        false,
        network,
    );

    // Template copy.
    if is_template {
        let placeholders: Vec<Evidence> = own
            .iter()
            .flat_map(|c| c.strings.iter())
            .filter(|(s, _)| {
                r.screens
                    .template_placeholders
                    .iter()
                    .any(|p| s.contains(p))
            })
            .map(|(s, line)| {
                evidence(
                    format!("still the template's placeholder: \"{s}\""),
                    &file,
                    *line,
                )
            })
            .collect();
        add(
            "template_changed",
            "A template copy has been made its own",
            Some(placeholders.is_empty()),
            true,
            placeholders,
        );
    } else {
        add(
            "template_changed",
            "A template copy has been made its own",
            None,
            true,
            Vec::new(),
        );
    }

    let applicable: u32 = criteria
        .iter()
        .filter(|c| c.passed.is_some())
        .map(|c| c.weight)
        .sum();
    let passed: u32 = criteria
        .iter()
        .filter(|c| c.passed == Some(true))
        .map(|c| c.weight)
        .sum();
    let score = if applicable == 0 {
        0
    } else {
        ((100.0 * passed as f64) / applicable as f64).round() as u32
    };
    let blocked = criteria
        .iter()
        .any(|c| c.blocking && c.passed == Some(false));
    let failing: Vec<&Criterion> = criteria
        .iter()
        .filter(|c| c.passed == Some(false))
        .collect();
    let recommendations = failing
        .iter()
        .flat_map(|c| {
            c.findings
                .iter()
                .map(move |f| format!("{}: {} ({}:{})", c.title, f.message, short(&f.file), f.line))
        })
        .collect();
    let fix_minutes = failing
        .iter()
        .map(|c| r.fix_minutes.get(&c.id).copied().unwrap_or(15))
        .sum();
    let content_hash = format!(
        "{:016x}",
        closure
            .iter()
            .filter_map(|f| package.files.get(f))
            .fold(0u64, |h, f| h.rotate_left(5) ^ f.hash)
    );
    Exercise {
        id: snake_case(&class.name),
        class_name: class.name.clone(),
        file,
        line: class.line,
        route: reg.route.clone(),
        exercise_type,
        required_services,
        score,
        valid: score >= VALID_SCORE && !blocked,
        criteria,
        recommendations,
        fix_minutes,
        content_hash,
        depends_on: closure_paths,
    }
}

fn short(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(snake_case("CosmicVoiceScreen"), "cosmic_voice_screen");
        assert_eq!(snake_case("_State"), "state");
        assert!(glob_matches(
            "lib/**/app_config.dart",
            "lib/core/app_config.dart"
        ));
        assert!(glob_matches(
            "lib/**/app_config.dart",
            "lib/app_config.dart"
        ));
        assert!(!glob_matches(
            "lib/**/app_config.dart",
            "lib/core/other.dart"
        ));
        assert_eq!(
            loopback_urls("ws://localhost:7880 and http://127.0.0.1/x https://10.0.2.2:8005"),
            vec![
                ("ws://localhost:7880".to_owned(), 7880),
                ("http://127.0.0.1".to_owned(), 80),
                ("https://10.0.2.2:8005".to_owned(), 8005)
            ]
        );
    }

    #[test]
    fn agent_types_from_comparisons_membership_and_tables() {
        let py = r#"
EXERCISE_ROUTES = {
    "cosmic_voice": CosmicHandler,
    'breathing': {"nested": 1},
}
OTHER = {"not_this": 1}
if exercise_type == "conversation":  # "commented": 1
    pass
elif "impromptu" == exercise_type or exercise_type in ("tongue_twister", 'debate'):
    pass
"#;
        let types = agent_types(
            &[(std::path::PathBuf::from("a.py"), py.into())],
            &Compiled::default_rules(),
        );
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            [
                "breathing",
                "conversation",
                "cosmic_voice",
                "debate",
                "impromptu",
                "tongue_twister"
            ]
        );
    }
}
