//! How each criterion is judged: one function per [`CriterionId`], each a pure function of
//! the exercise being scored (a `Subject`) and, for some, of what the project around it
//! says (`Surroundings`). `judge` dispatches on the id exhaustively, so a criterion
//! cannot be declared without its judge.
//!
//! "Its classes" are the widget and its state class (`… extends State<Widget>`), then each
//! screen of its flow and its state class; "its screen" is the first two. "Its closure" is
//! the package-internal import closure of their files (what a change can affect: the watch
//! rescoring set). "What it uses" is narrower: from its classes' files, the files declaring
//! a top-level name (class, variable, function) that a file already reached mentions, within
//! the closure, nearest first; the app's entry (`lib/main.dart`) and files declaring routes
//! are reached but not gone through (everything is reachable from them). "A session start" is
//! a call matching `lifecycle.session_start` (or an audio init call); one "through a
//! provider" is on a receiver read from `ref.read(x.notifier)` / `ref.watch(x)`.
//! `passed = None`: the criterion does not apply (it is left out of the score).
//! - `registered`: always passes (an exercise is registered by definition); the evidence
//!   gives every route that shows it, with the dispatcher's id.
//! - `mixin_callbacks`: applies when its screen uses one of `screens.exercise_mixins`;
//!   passes when its classes implement every `lifecycle.mixin_callbacks` between them.
//! - `audio_init`: applies when it uses audio (the mixin, an audio init call in `initState`,
//!   or an import starting with one of `lifecycle.audio_imports` in what it uses). Passes
//!   when `initState` calls one of `lifecycle.audio_init_calls` with an exercise type (its
//!   first `lifecycle.type_args` named string argument, else its first string argument)
//!   that is not blank, not interpolated and holds none of `screens.template_placeholders`;
//!   or when, with no such call, a session start is reached from `initState` through its
//!   screen's own methods. Fails saying where the session starts instead when that is
//!   `build` (it runs on every rebuild).
//! - `dispose`: applies when a field of its classes has a `lifecycle.release` type, or its
//!   classes start a session through a provider. Passes when the `dispose()` of the class
//!   holding each such field calls one of that type's release calls on it (for a `sink`
//!   release: names the field), and when every provider a session starts through is ended
//!   in its screen's `dispose()` (a `lifecycle.session_stop` call on it) or declared
//!   `autoDispose`.
//! - `agent_routing` (blocking): applies when agent sources were found, it reaches the agent
//!   (it needs a LiveKit service, uses the mixin or gives the audio init call a type) and it
//!   has a type: the audio init call's, else the one it sends (`lifecycle.type_keys`: the
//!   nearest used file writing exactly one). Passes when the agent compares that type in a
//!   branch something calls; fails when it does not route it, or routes it only in a
//!   function nothing calls.
//! - `endpoint_drift`: applies when the stack's published ports are known or a file it uses
//!   writes a LAN address (`10.x`, `172.16–31.x`, `192.168.x`; not the emulators' host
//!   aliases). Fails with each such address, and each drift in a file it uses, unless the
//!   drift is a named config entry that no file it uses (drift files aside) names.
//! - `services_healthy`: applies when a stack is running; passes when every service it
//!   needs is found under one of its `stack_names` and healthy. It needs a `[[services]]`
//!   entry when a file it uses (config files aside) names one of `when_uses` (or its classes
//!   mix one in), or imports a URI starting with one of `when_imports`.
//! - `error_handling`: always applies; passes when every `network.calls` call on a
//!   receiver in its classes sits in a `try` block or is followed by `.catchError(` /
//!   `.onError(`.
//! - `template_changed` (blocking): applies when it extends one of
//!   `screens.exercise_templates`; passes when no string literal of its classes holds a
//!   template placeholder.

use super::registry::{Index, Located, Registration};
use super::{Drift, Evidence, StackContext, evidence};
use crate::criterion::CriterionId;
use crate::dart::lexer::HOLE;
use crate::dart::{Call, Class, Field, Method};
use crate::project::{Package, resolve_import};
use crate::rules::{Compiled, Rules, ServiceRule};
use std::collections::{BTreeSet, VecDeque};

/// The identifiers and string literals of a file (see [`Index::names`]).
pub(super) type Names<'a> = std::rc::Rc<rustc_hash::FxHashSet<&'a str>>;

/// One of an exercise's classes, with its file (absolute).
pub(super) struct Owned<'a> {
    pub class: &'a Class,
    pub file: String,
    pub tokens: &'a [crate::dart::lexer::Token],
}

/// A call found by following a lifecycle method through its class's own methods.
#[derive(Debug, Clone)]
pub(super) struct Reached<'a> {
    pub call: &'a Call,
    /// The methods followed to it, from the lifecycle method (`initState → _start`).
    pub path: Vec<String>,
    /// The file (absolute) of the class holding it.
    pub file: String,
    /// The provider read to get the receiver (`ref.read(xProvider.notifier)`), if any.
    pub provider: Option<String>,
}

/// One exercise being scored: its classes and files, and what several criteria (and the
/// exercise itself) read, computed once.
pub(super) struct Subject<'a> {
    pub rules: &'a Rules,
    pub compiled: &'a Compiled,
    /// Every place it is shown, `registration` first.
    pub registrations: Vec<Registration>,
    pub package: &'a Package,
    /// The widget.
    pub class: &'a Class,
    pub state_class: Option<&'a Class>,
    /// The widget, its state class, then each flow screen and its state class.
    pub own: Vec<Owned<'a>>,
    /// The widget's file (absolute).
    pub file: String,
    /// The state class's file (absolute); the widget's when it has no state class.
    pub state_file: String,
    pub uses_mixin: bool,
    pub is_template: bool,
    /// Its closure (package-relative paths), sorted.
    pub closure: Vec<String>,
    /// The files it uses, nearest first (see [`Subject::new`]), a subset of the closure: each
    /// one's absolute path, and the names (identifiers, strings) it holds.
    pub used_files: Vec<(String, Names<'a>)>,
    /// LAN addresses written in those files: (file, line, address).
    pub lan_addresses: Vec<(String, u32, String)>,
    /// The same files, absolute.
    pub closure_paths: Vec<String>,
    /// `initState`, from the first of its classes that declares one.
    pub init: Option<&'a Method>,
    /// The exercise type given to the audio init call in `initState`, and that call's line.
    pub audio: Option<(String, u32)>,
    /// Where the exercise type that reaches a service or the agent is written, when the
    /// audio init call does not give it: (type, file, line).
    pub sent_type: Option<(String, String, u32)>,
    /// Whether it uses audio (an audio import in its closure, the mixin, an audio init call).
    pub uses_audio: bool,
    /// Session starts reached from `initState`, and from `build`, of its screen.
    pub started_in_init: Vec<Reached<'a>>,
    pub started_in_build: Vec<Reached<'a>>,
    /// Session starts through a provider anywhere in its screens (a button's handler too).
    pub started_anywhere: Vec<Reached<'a>>,
    /// The services it needs, in rule pack order.
    pub required: Vec<&'a ServiceRule>,
}

/// What the project around an exercise says, the same for every exercise.
pub(super) struct Surroundings<'a> {
    pub stack: &'a StackContext,
    /// Exercise types the agent routes (empty: no agent source found).
    pub routed: &'a BTreeSet<String>,
    /// Routed types whose every branch sits in a function nothing calls.
    pub unreached: &'a super::agent::Unreached,
    pub drifts: &'a [Drift],
}

/// A criterion's verdict on one exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Judgement {
    /// `None`: does not apply.
    pub passed: Option<bool>,
    pub findings: Vec<Evidence>,
}

impl Judgement {
    fn not_applicable() -> Self {
        Self {
            passed: None,
            findings: Vec::new(),
        }
    }

    /// Passed when nothing was found.
    fn unless_found(findings: Vec<Evidence>) -> Self {
        Self {
            passed: Some(findings.is_empty()),
            findings,
        }
    }
}

impl<'a> Subject<'a> {
    pub fn new(
        located: &Located<'a>,
        registrations: &[Registration],
        flow: &[&Located<'a>],
        index: &Index<'a>,
        rules: &'a Compiled,
    ) -> Self {
        let r = &rules.rules;
        let class = located.class;
        let package = located.package;
        let file = located.path();
        let state = index.state_of(&class.name);
        let state_class = state.map(|s| s.class);
        let state_file = state.map_or_else(|| file.clone(), |s| s.path());
        let mut owned_at: Vec<(&Located<'a>, bool)> = vec![(located, true)];
        if let Some(s) = state {
            owned_at.push((s, true));
        }
        for f in flow {
            owned_at.push((f, false));
            if let Some(s) = index.state_of(&f.class.name) {
                owned_at.push((s, false));
            }
        }
        let own: Vec<Owned> = owned_at
            .iter()
            .map(|(l, _)| Owned {
                class: l.class,
                file: l.path(),
                tokens: l.tokens(),
            })
            .collect();
        let screen_own = &own[..owned_at.iter().take_while(|(_, s)| *s).count()];
        let uses_mixin = screen_own.iter().any(|o| {
            o.class
                .mixins
                .iter()
                .any(|m| r.screens.exercise_mixins.contains(m))
        });
        let is_template = index
            .chain(&class.name)
            .iter()
            .skip(1)
            .any(|c| r.screens.exercise_templates.contains(c));
        // What it depends on: the import closure of its files (a change there can change
        // its score) …
        let starts: Vec<&str> = owned_at.iter().map(|(l, _)| l.file).collect();
        let mut closure = import_closure(package, &starts);
        closure.sort();
        let closure_paths = closure
            .iter()
            .filter_map(|f| package.files.get(f))
            .map(|f| f.path.display().to_string())
            .collect();
        // … and what it uses, nearest first: the files declaring the names its files
        // mention, in turn, within that closure.
        let mut order: Vec<&'a str> = Vec::new();
        for (l, _) in &owned_at {
            if !order.contains(&l.file) {
                order.push(l.file);
            }
        }
        let mut next = 0;
        while next < order.len() {
            if next >= owned_at.len() && index.is_hub(package, order[next], rules) {
                next += 1;
                continue;
            }
            for used in index.uses(package, order[next]) {
                if !order.contains(&used)
                    && closure.binary_search_by(|c| c.as_str().cmp(used)).is_ok()
                {
                    order.push(used);
                }
            }
            next += 1;
        }
        let used_files: Vec<(String, Names<'a>)> = order
            .iter()
            .filter_map(|rel| {
                let f = package.files.get(*rel)?;
                Some((f.path.display().to_string(), index.names(package, rel)))
            })
            .collect();
        let lan_addresses = order
            .iter()
            .zip(&used_files)
            .flat_map(|(rel, (path, _))| {
                index
                    .lan_addresses(package, rel)
                    .iter()
                    .map(|(line, ip)| (path.clone(), *line, ip.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let init = screen_own.iter().find_map(|o| o.class.method("initState"));
        let audio = init.and_then(|m| audio_type(m, r));
        let sent_type = if audio.is_some() {
            None
        } else {
            sent_type(package, &order, r)
        };
        let reach = |lifecycle: &str| -> Vec<Reached<'a>> {
            screen_own
                .iter()
                .flat_map(|o| reached(o, lifecycle))
                .filter(|c| {
                    rules.session_start.is_match(&c.call.name)
                        || r.lifecycle
                            .audio_init_calls
                            .iter()
                            .any(|x| *x == c.call.name)
                })
                .collect()
        };
        let started_in_init = reach("initState");
        let started_in_build = reach("build");
        let started_anywhere: Vec<Reached<'a>> = own
            .iter()
            .flat_map(|o| {
                o.class.methods.iter().flat_map(move |m| {
                    let providers = providers_read(o.tokens, &m.body);
                    m.calls.iter().filter_map(move |call| {
                        let provider = provider_of(&providers, call)?;
                        rules.session_start.is_match(&call.name).then(|| Reached {
                            call,
                            path: vec![m.name.clone()],
                            file: o.file.clone(),
                            provider: Some(provider),
                        })
                    })
                })
            })
            .collect();
        let uses_audio = uses_mixin
            || audio.is_some()
            || order.iter().filter_map(|f| package.files.get(*f)).any(|f| {
                f.dart.imports.iter().any(|i| {
                    r.lifecycle
                        .audio_imports
                        .iter()
                        .any(|p| i.uri.starts_with(p.as_str()))
                })
            });
        let required = required_services(package, &order, &own, index, rules);
        Self {
            rules: r,
            compiled: rules,
            registrations: registrations.to_vec(),
            package,
            class,
            state_class,
            own,
            file,
            state_file,
            uses_mixin,
            is_template,
            closure,
            used_files,
            lan_addresses,
            closure_paths,
            init,
            audio,
            sent_type,
            uses_audio,
            started_in_init,
            started_in_build,
            started_anywhere,
            required,
        }
    }

    /// Its exercise type, placeholder or not: the audio init call's, else the one it sends.
    pub fn exercise_type(&self) -> Option<&str> {
        self.audio
            .as_ref()
            .map(|(t, _)| t.as_str())
            .or(self.sent_type.as_ref().map(|(t, _, _)| t.as_str()))
    }

    /// The line findings about its classes as a whole point at: the state class's, else the
    /// widget's.
    fn home_line(&self) -> u32 {
        self.state_class.unwrap_or(self.class).line
    }
}

/// Files of `package` reachable from `starts` through package-internal imports (`starts`
/// included), breadth first.
fn import_closure(package: &Package, starts: &[&str]) -> Vec<String> {
    let mut seen: BTreeSet<String> = starts.iter().map(|s| (*s).to_owned()).collect();
    let mut order: Vec<String> = seen.iter().cloned().collect();
    let mut queue: VecDeque<String> = order.iter().cloned().collect();
    while let Some(file) = queue.pop_front() {
        let Some(src) = package.files.get(&file) else {
            continue;
        };
        for import in &src.dart.imports {
            if let Some(target) = resolve_import(package, &file, &import.uri)
                && seen.insert(target.clone())
            {
                order.push(target.clone());
                queue.push_back(target);
            }
        }
    }
    order
}

/// The calls of `lifecycle` (a method of `o`), and of the class's own methods it calls, in
/// turn (each method once), with the path followed and the provider each receiver was read
/// from.
fn reached<'a>(o: &Owned<'a>, lifecycle: &str) -> Vec<Reached<'a>> {
    let mut out = Vec::new();
    let Some(start) = o.class.method(lifecycle) else {
        return out;
    };
    let mut seen = BTreeSet::from([start.name.as_str()]);
    let mut queue: VecDeque<(&Method, Vec<String>)> =
        VecDeque::from([(start, vec![start.name.clone()])]);
    while let Some((method, path)) = queue.pop_front() {
        let providers = providers_read(o.tokens, &method.body);
        for call in &method.calls {
            if call.receiver.is_none()
                && let Some(next) = o.class.method(&call.name)
                && seen.insert(next.name.as_str())
            {
                let mut p = path.clone();
                p.push(next.name.clone());
                queue.push_back((next, p));
                continue;
            }
            let provider = provider_of(&providers, call);
            out.push(Reached {
                call,
                path: path.clone(),
                file: o.file.clone(),
                provider,
            });
        }
    }
    out
}

/// The key of a call chained on `ref.read(…)` in [`providers_read`]'s list.
fn chained(method: &str, line: u32) -> String {
    format!("){method}@{line}")
}

/// The provider a call's receiver was read from, in a body's [`providers_read`] list.
fn provider_of(providers: &[(String, String)], call: &Call) -> Option<String> {
    let recv = call.receiver.as_deref()?;
    let key = if recv == ")" {
        chained(&call.name, call.line)
    } else {
        recv.to_owned()
    };
    providers
        .iter()
        .find(|(var, _)| *var == key)
        .map(|(_, p)| p.clone())
}

/// `var = ref.read(xProvider.notifier)` (or `watch`) in a body: (var, provider); and
/// `ref.read(xProvider.notifier).method(` directly, keyed by [`chained`].
fn providers_read(
    tokens: &[crate::dart::lexer::Token],
    body: &std::ops::Range<usize>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let end = body.end.min(tokens.len());
    for k in body.start..end {
        if !(tokens[k].is("ref")
            && tokens.get(k + 1).is_some_and(|t| t.is("."))
            && tokens
                .get(k + 2)
                .is_some_and(|t| t.is("read") || t.is("watch"))
            && tokens.get(k + 3).is_some_and(|t| t.is("(")))
        {
            continue;
        }
        let Some(provider) = tokens.get(k + 4).filter(|t| t.is_ident()) else {
            continue;
        };
        let close = crate::dart::structure::matching(tokens, k + 3).unwrap_or(k + 4);
        if k >= 2 && tokens[k - 1].is("=") && tokens[k - 2].is_ident() {
            out.push((tokens[k - 2].text.to_string(), provider.text.to_string()));
        }
        if tokens.get(close + 1).is_some_and(|t| t.is("."))
            && let Some(m) = tokens.get(close + 2).filter(|t| t.is_ident())
        {
            out.push((chained(&m.text, m.line), provider.text.to_string()));
        }
    }
    out
}

/// The exercise type of the first audio init call in `init`, with the call's line.
fn audio_type(init: &Method, rules: &Rules) -> Option<(String, u32)> {
    init.calls
        .iter()
        .filter(|c| {
            rules
                .lifecycle
                .audio_init_calls
                .iter()
                .any(|x| *x == c.name)
        })
        .find_map(|c| {
            c.named_string_args
                .iter()
                .find(|(k, _)| rules.lifecycle.type_args.contains(k))
                .map(|(_, v)| v.clone())
                .or_else(|| c.string_args.first().cloned())
                .map(|t| (t, c.line))
        })
}

/// The exercise type its closure sends (`'exercise_type': 'x'`, `exerciseType: 'x'`): in the
/// nearest file (breadth-first `order`) that writes exactly one such type — a file writing
/// several is a catalogue of exercises, not this one's service.
fn sent_type(package: &Package, order: &[&str], rules: &Rules) -> Option<(String, String, u32)> {
    for rel in order {
        let Some(f) = package.files.get(*rel) else {
            continue;
        };
        let t = &f.dart.tokens;
        let mut found: Vec<(&str, u32)> = Vec::new();
        for k in 0..t.len().saturating_sub(2) {
            let key = (t[k].is_str() || t[k].is_ident())
                && rules
                    .lifecycle
                    .type_keys
                    .iter()
                    .any(|key| *key == t[k].text);
            if key && t[k + 1].is(":") && t[k + 2].is_str() && !t[k + 2].text.contains(HOLE) {
                found.push((t[k + 2].text.as_str(), t[k + 2].line));
            }
        }
        let distinct: BTreeSet<&str> = found.iter().map(|(v, _)| *v).collect();
        if distinct.len() == 1 {
            let (v, line) = found[0];
            return Some((v.to_owned(), f.path.display().to_string(), line));
        }
    }
    None
}

/// The `[[services]]` an exercise needs (see the module docs). The app's config files
/// (`network.config_files`) are left out: they name every service.
fn required_services<'a, 'r>(
    package: &'a Package,
    uses: &[&'a str],
    own: &[Owned],
    index: &Index<'a>,
    rules: &'r Compiled,
) -> Vec<&'r ServiceRule> {
    let files: Vec<(&'a str, &crate::project::SourceFile)> = uses
        .iter()
        .filter(|rel| !rules.is_config_file(rel))
        .filter_map(|rel| package.files.get(*rel).map(|f| (*rel, f)))
        .collect();
    let names: Vec<_> = files
        .iter()
        .map(|(rel, _)| index.names(package, rel))
        .collect();
    let mentioned = |u: &str| {
        names.iter().any(|n| n.contains(u))
            || own.iter().any(|o| o.class.mixins.iter().any(|m| m == u))
    };
    rules
        .rules
        .services
        .iter()
        .filter(|s| {
            s.when_uses.iter().any(|u| mentioned(u))
                || s.when_imports.iter().any(|p| {
                    files
                        .iter()
                        .any(|(_, f)| f.dart.imports.iter().any(|i| i.uri.starts_with(p.as_str())))
                })
        })
        .collect()
}

/// The verdict of criterion `id` on `s`.
pub(super) fn judge(id: CriterionId, s: &Subject, around: &Surroundings) -> Judgement {
    match id {
        CriterionId::Registered => registered(s),
        CriterionId::MixinCallbacks => mixin_callbacks(s),
        CriterionId::AudioInit => audio_init(s),
        CriterionId::Dispose => dispose(s),
        CriterionId::AgentRouting => agent_routing(s, around.routed, around.unreached),
        CriterionId::EndpointDrift => endpoint_drift(s, around.stack, around.drifts),
        CriterionId::ServicesHealthy => services_healthy(s, around.stack),
        CriterionId::ErrorHandling => error_handling(s),
        CriterionId::TemplateChanged => template_changed(s),
    }
}

fn registered(s: &Subject) -> Judgement {
    Judgement {
        passed: Some(true),
        findings: s
            .registrations
            .iter()
            .map(|reg| {
                let how = match &reg.dispatched {
                    Some(id) => format!("registered at {} (the builder's `{id}` case)", reg.route),
                    None => format!("registered at {}", reg.route),
                };
                evidence(how, &reg.file, reg.line)
            })
            .collect(),
    }
}

fn mixin_callbacks(s: &Subject) -> Judgement {
    if !s.uses_mixin {
        return Judgement::not_applicable();
    }
    Judgement::unless_found(
        s.rules
            .lifecycle
            .mixin_callbacks
            .iter()
            .filter(|cb| !s.own.iter().any(|o| o.class.method(cb).is_some()))
            .map(|m| {
                evidence(
                    format!("`{m}` of the exercise mixin is not implemented"),
                    &s.state_file,
                    s.home_line(),
                )
            })
            .collect(),
    )
}

/// `initState → _start → startSession`.
fn trail(r: &Reached) -> String {
    let mut steps = r.path.clone();
    steps.push(match (&r.call.receiver, &r.provider) {
        (_, Some(p)) => format!("{p}.{}", r.call.name),
        (Some(recv), None) => format!("{recv}.{}", r.call.name),
        (None, None) => r.call.name.to_string(),
    });
    steps.join(" → ")
}

fn audio_init(s: &Subject) -> Judgement {
    let r = s.rules;
    if !s.uses_audio {
        return Judgement::not_applicable();
    }
    let placeholder = |t: &str| {
        t.trim().is_empty()
            || t.contains(HOLE)
            || r.screens
                .template_placeholders
                .iter()
                .any(|p| t.contains(p))
    };
    let (passed, finding) = match (&s.audio, s.started_in_init.first(), s.init) {
        (Some((t, line)), _, _) if placeholder(t) => (
            false,
            evidence(
                format!("the exercise type `{t}` is a placeholder, not a real type"),
                &s.state_file,
                *line,
            ),
        ),
        (Some((t, line)), _, _) => (
            true,
            evidence(format!("audio initialised as `{t}`"), &s.state_file, *line),
        ),
        (None, Some(reached), _) => (
            true,
            evidence(
                format!(
                    "the audio session starts from initState: {}",
                    trail(reached)
                ),
                &reached.file,
                reached.call.line,
            ),
        ),
        (None, None, _) if !s.started_in_build.is_empty() => {
            let b = &s.started_in_build[0];
            (
                false,
                evidence(
                    format!(
                        "the audio session starts in build ({}), which runs on every rebuild: start it once, from initState",
                        trail(b)
                    ),
                    &b.file,
                    b.call.line,
                ),
            )
        }
        (None, None, None) => (
            false,
            evidence(
                "no initState: the exercise's audio is never initialised",
                &s.state_file,
                s.home_line(),
            ),
        ),
        (None, None, Some(m)) => (
            false,
            evidence(
                format!(
                    "initState does not start the audio: it calls none of {}, directly or through the screen's own methods",
                    r.lifecycle.audio_init_calls.join(", ")
                ),
                &s.state_file,
                m.line,
            ),
        ),
    };
    Judgement {
        passed: Some(passed),
        findings: vec![finding],
    }
}

/// Whether the provider named `name` is declared `autoDispose` somewhere in the package, and
/// where it is declared: (auto, file, line).
fn provider_declaration(package: &Package, name: &str) -> Option<(bool, String, u32)> {
    for f in package.files.values() {
        let t = &f.dart.tokens;
        for k in 0..t.len().saturating_sub(1) {
            if t[k].is(name)
                && t[k + 1].is("=")
                && k > 0
                && (t[k - 1].is("final") || t[k - 1].is("var") || t[k - 1].is_ident())
            {
                let end = (k..t.len()).find(|&e| t[e].is(";")).unwrap_or(t.len());
                let auto = t[k..end]
                    .iter()
                    .any(|x| x.text.contains("autoDispose") || x.text.contains("AutoDispose"));
                return Some((auto, f.path.display().to_string(), t[k].line));
            }
        }
    }
    None
}

fn dispose(s: &Subject) -> Judgement {
    let releasable: Vec<(&Owned, &Field, &Vec<String>)> = s
        .own
        .iter()
        .flat_map(|o| o.class.fields.iter().map(move |f| (o, f)))
        .filter_map(|(o, f)| {
            f.type_name
                .as_ref()
                .and_then(|t| s.rules.lifecycle.release.get(t))
                .map(|calls| (o, f, calls))
        })
        .collect();
    // Sessions the screen starts through a provider that outlives it.
    let started: Vec<&Reached> = s
        .started_in_init
        .iter()
        .chain(&s.started_in_build)
        .chain(&s.started_anywhere)
        .filter(|r| r.provider.is_some())
        .collect();
    if releasable.is_empty() && started.is_empty() {
        return Judgement::not_applicable();
    }
    // dispose() of the class holding each field (its own, in a flow screen).
    let dispose_of = |o: &Owned| {
        s.own
            .iter()
            .filter(|x| x.file == o.file || std::ptr::eq(x.class, o.class))
            .find_map(|x| x.class.method("dispose"))
    };
    let mut findings = Vec::new();
    let mut missing_reported = BTreeSet::new();
    for (o, field, calls) in &releasable {
        let dispose = dispose_of(o);
        if dispose.is_none() && missing_reported.insert(o.file.clone()) {
            findings.push(evidence(
                format!("{} has no dispose() method", o.class.name),
                &o.file,
                o.class.line,
            ));
        }
        let released = dispose.is_some_and(|d| {
            d.calls.iter().any(|c| {
                c.receiver.as_deref() == Some(field.name.as_str())
                    && calls.iter().any(|x| *x == c.name)
            }) || (calls.iter().any(|c| c == "sink")
                && o.tokens
                    .get(d.body.clone())
                    .is_some_and(|body| body.iter().any(|t| t.is_ident() && t.text == field.name)))
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
                &o.file,
                field.line,
            ));
        }
    }
    let screen = &s.own[..s.state_class.map_or(1, |_| 2)];
    let stops: Vec<Reached> = screen
        .iter()
        .flat_map(|o| reached(o, "dispose"))
        .filter(|r| s.compiled.session_stop.is_match(&r.call.name))
        .collect();
    let mut seen = BTreeSet::new();
    for start in started {
        let provider = start.provider.as_deref().unwrap_or_default();
        if !seen.insert(provider)
            || stops
                .iter()
                .any(|x| x.provider.as_deref() == Some(provider))
        {
            continue;
        }
        match provider_declaration(s.package, provider) {
            Some((true, _, _)) => {}
            Some((false, file, line)) => findings.push(evidence(
                format!(
                    "{} starts a session that dispose() never ends, and `{provider}` is not autoDispose ({}:{line}): leaving the screen keeps it running",
                    trail(start),
                    short_name(&file)
                ),
                &start.file,
                start.call.line,
            )),
            None => findings.push(evidence(
                format!(
                    "{} starts a session that dispose() never ends",
                    trail(start)
                ),
                &start.file,
                start.call.line,
            )),
        }
    }
    Judgement::unless_found(findings)
}

fn short_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn agent_routing(
    s: &Subject,
    routed: &BTreeSet<String>,
    unreached: &super::agent::Unreached,
) -> Judgement {
    // Only an exercise on LiveKit (or started with the audio init call) reaches the agent.
    let on_livekit = s.audio.is_some()
        || s.required.iter().any(|x| {
            x.when_imports.iter().any(|i| i.contains("livekit")) || x.name.contains("livekit")
        });
    if !on_livekit && !s.uses_mixin {
        return Judgement::not_applicable();
    }
    if routed.is_empty() {
        return Judgement {
            passed: None,
            findings: vec![evidence(
                format!(
                    "no agent source found under {}",
                    s.rules.agent.paths.join(", ")
                ),
                &s.file,
                s.class.line,
            )],
        };
    }
    let (file, line) = match (&s.audio, &s.sent_type) {
        (Some((_, line)), _) => (s.state_file.clone(), *line),
        (None, Some((_, file, line))) => (file.clone(), *line),
        (None, None) => (s.file.clone(), s.class.line),
    };
    match s.exercise_type() {
        None => Judgement::not_applicable(),
        Some(t) if let Some((afile, aline, function)) = unreached.get(t) => Judgement {
            passed: Some(false),
            findings: vec![
                evidence(
                    format!(
                        "the agent compares the type with `{t}` only in {function}(), which nothing calls: every room runs the agent's default exercise"
                    ),
                    afile,
                    *aline,
                ),
                evidence(format!("this exercise sends `{t}`"), &file, line),
            ],
        },
        Some(t) if routed.contains(t) => Judgement {
            passed: Some(true),
            findings: vec![evidence(
                format!("the agent routes `{t}`, the type this exercise sends"),
                &file,
                line,
            )],
        },
        Some(t) => Judgement {
            passed: Some(false),
            findings: vec![evidence(
                format!(
                    "the agent does not route `{t}`: it will silently fall back to another exercise (it routes: {})",
                    routed.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                &file,
                line,
            )],
        },
    }
}

fn endpoint_drift(s: &Subject, stack: &StackContext, drifts: &[Drift]) -> Judgement {
    // Hard-coded LAN addresses in the files it depends on: they work on one network only.
    let mut findings: Vec<Evidence> = Vec::new();
    for (file, line, ip) in &s.lan_addresses {
        findings.push(evidence(
            format!(
                "the LAN address {ip} is written in the code: the app reaches the stack only on that one network; read it from the config (.env) instead"
            ),
            file,
            *line,
        ));
    }
    if stack.published_ports.is_none() {
        return if findings.is_empty() {
            Judgement::not_applicable()
        } else {
            Judgement::unless_found(findings)
        };
    }
    // Affected when a file it uses names the drifted entry (or, for a URL that is not a
    // named entry, when it uses the config file at all).
    let names = |name: &str| {
        s.used_files
            .iter()
            .filter(|(path, _)| !drifts.iter().any(|d| d.file == *path))
            .any(|(_, names)| names.contains(name))
    };
    findings.extend(
        drifts
            .iter()
            .filter(|d| s.used_files.iter().any(|(path, _)| *path == d.file))
            .filter(|d| d.entry.as_deref().is_none_or(names))
            .map(|d| evidence(d.message.clone(), &d.file, d.line)),
    );
    Judgement::unless_found(findings)
}

fn services_healthy(s: &Subject, stack: &StackContext) -> Judgement {
    let Some(health) = &stack.healthy else {
        return Judgement::not_applicable();
    };
    let mut findings = Vec::new();
    for service in &s.required {
        let found = service
            .stack_names
            .iter()
            .find_map(|n| health.get(n).map(|h| (n, *h)));
        match found {
            Some((_, true)) => {}
            Some((n, false)) => findings.push(evidence(
                format!("`{n}` ({}) is not healthy", service.name),
                &s.file,
                s.class.line,
            )),
            None => findings.push(evidence(
                format!(
                    "the stack has no service for {} (looked for {})",
                    service.name,
                    service.stack_names.join(", ")
                ),
                &s.file,
                s.class.line,
            )),
        }
    }
    Judgement::unless_found(findings)
}

fn error_handling(s: &Subject) -> Judgement {
    Judgement::unless_found(
        s.own
            .iter()
            .flat_map(|o| {
                o.class
                    .methods
                    .iter()
                    .flat_map(|m| m.calls.iter())
                    .map(move |c| (o, c))
            })
            .filter(|(_, c)| {
                c.receiver.is_some()
                    && s.rules.network.calls.iter().any(|x| *x == c.name)
                    && !c.handled
            })
            .map(|(o, c)| {
                evidence(
                    format!(
                        "`{}.{}(…)` is not in a try block and has no .catchError",
                        c.receiver.as_deref().unwrap_or("?"),
                        c.name
                    ),
                    &o.file,
                    c.line,
                )
            })
            .collect(),
    )
}

fn template_changed(s: &Subject) -> Judgement {
    if !s.is_template {
        return Judgement::not_applicable();
    }
    Judgement::unless_found(
        s.own
            .iter()
            .flat_map(|o| {
                o.tokens
                    .get(o.class.body.clone())
                    .unwrap_or_default()
                    .iter()
                    .filter(|t| t.is_str())
                    .map(|t| (t.text.as_str(), t.line))
            })
            .filter(|(text, _)| {
                s.rules
                    .screens
                    .template_placeholders
                    .iter()
                    .any(|p| text.contains(p))
            })
            .map(|(text, line)| {
                evidence(
                    format!("still the template's placeholder: \"{text}\""),
                    &s.file,
                    line,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
#[path = "criteria_tests.rs"]
mod tests;
