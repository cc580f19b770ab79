//! How each criterion is judged: one function per [`CriterionId`], each a pure function of
//! the exercise being scored (a `Subject`) and, for some, of what the project around it
//! says (`Surroundings`). `judge` dispatches on the id exhaustively, so a criterion
//! cannot be declared without its judge.
//!
//! "Its classes" are the widget and its state class (`… extends State<Widget>`); "its
//! closure" is the package-internal import closure of their files. `passed = None`: the
//! criterion does not apply (it is left out of the score).
//! - `registered`: always passes (an exercise is registered by definition); the evidence
//!   says where.
//! - `mixin_callbacks`: applies when its classes use one of `screens.exercise_mixins`;
//!   passes when they implement every `lifecycle.mixin_callbacks` between them.
//! - `audio_init`: always applies; passes when `initState` (the first of its classes that
//!   has one) calls one of `lifecycle.audio_init_calls` with an exercise type (its first
//!   `lifecycle.type_args` named string argument, else its first string argument) that is
//!   not blank, not interpolated and holds none of `screens.template_placeholders`.
//! - `dispose`: applies when a field of its classes has a `lifecycle.release` type; passes
//!   when `dispose()` calls one of that type's release calls on every such field (for a
//!   `sink` release: mentions the field).
//! - `agent_routing` (blocking): applies when agent sources were found and `audio_init`
//!   found a type (placeholder or not); passes when the agent routes that type.
//! - `endpoint_drift`: applies when the stack's published ports are known; fails with each
//!   drift found in a file of its closure, unless the drift is a named config entry that no
//!   file of its closure (drift files aside) names.
//! - `services_healthy`: applies when a stack is running; passes when every service it
//!   needs is found under one of its `stack_names` and healthy. It needs a `[[services]]`
//!   entry when its closure mentions (or its classes mix in) one of `when_uses`, or its
//!   closure imports a URI starting with one of `when_imports`.
//! - `error_handling`: always applies; passes when every `network.calls` call on a
//!   receiver in its classes sits in a `try` block or is followed by `.catchError(` /
//!   `.onError(`.
//! - `template_changed` (blocking): applies when it extends one of
//!   `screens.exercise_templates`; passes when no string literal of its classes holds a
//!   template placeholder.

use super::registry::{Index, Located, Registration, is_upper_ident};
use super::{Drift, Evidence, StackContext, evidence};
use crate::criterion::CriterionId;
use crate::dart::lexer::HOLE;
use crate::dart::{Class, Field, Method};
use crate::project::{Package, resolve_import};
use crate::rules::{Compiled, Rules, ServiceRule};
use std::collections::{BTreeSet, VecDeque};

/// One exercise being scored: its classes and files, and what several criteria (and the
/// exercise itself) read, computed once.
pub(super) struct Subject<'a> {
    pub rules: &'a Rules,
    pub registration: &'a Registration,
    pub package: &'a Package,
    /// The widget.
    pub class: &'a Class,
    pub state_class: Option<&'a Class>,
    /// The widget, then its state class.
    pub own: Vec<&'a Class>,
    /// The widget's file (absolute).
    pub file: String,
    /// The state class's file (absolute); the widget's when it has no state class.
    pub state_file: String,
    pub uses_mixin: bool,
    pub is_template: bool,
    /// Its closure (package-relative paths), sorted.
    pub closure: Vec<String>,
    /// The same files, absolute.
    pub closure_paths: Vec<String>,
    /// `initState`, from the first of its classes that declares one.
    pub init: Option<&'a Method>,
    /// The exercise type given to the audio init call in `initState`, and that call's line.
    pub audio: Option<(String, u32)>,
    /// The services it needs, in rule pack order.
    pub required: Vec<&'a ServiceRule>,
}

/// What the project around an exercise says, the same for every exercise.
pub(super) struct Surroundings<'a> {
    pub stack: &'a StackContext,
    /// Exercise types the agent routes (empty: no agent source found).
    pub routed: &'a BTreeSet<String>,
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
        registration: &'a Registration,
        index: &Index<'a>,
        rules: &'a Compiled,
    ) -> Self {
        let r = &rules.rules;
        let class = located.class;
        let package = located.package;
        let file = package.files[located.file].path.display().to_string();
        let state = index
            .state_of(&class.name, rules)
            .map(|s| (s.class, s.file));
        let state_class = state.map(|(c, _)| c);
        let state_file = state
            .map(|(_, f)| {
                package
                    .files
                    .get(f)
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
        let mut closure = import_closure(package, located.file);
        if let Some((_, f)) = state {
            closure.extend(import_closure(package, f));
        }
        closure.sort();
        closure.dedup();
        let closure_paths = closure
            .iter()
            .filter_map(|f| package.files.get(f))
            .map(|f| f.path.display().to_string())
            .collect();
        let init = own.iter().find_map(|c| c.method("initState"));
        let audio = init.and_then(|m| audio_type(m, r));
        let required = required_services(package, &closure, &own, r);
        Self {
            rules: r,
            registration,
            package,
            class,
            state_class,
            own,
            file,
            state_file,
            uses_mixin,
            is_template,
            closure,
            closure_paths,
            init,
            audio,
            required,
        }
    }

    /// Its exercise type, placeholder or not (see `audio_init`).
    pub fn exercise_type(&self) -> Option<&str> {
        self.audio.as_ref().map(|(t, _)| t.as_str())
    }

    /// The line findings about its classes as a whole point at: the state class's, else the
    /// widget's.
    fn home_line(&self) -> u32 {
        self.state_class.unwrap_or(self.class).line
    }
}

/// Files of `package` reachable from `start` through package-internal imports (`start`
/// included), sorted.
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

/// The exercise type of the first audio init call in `init`, with the call's line.
fn audio_type(init: &Method, rules: &Rules) -> Option<(String, u32)> {
    init.calls
        .iter()
        .filter(|c| rules.lifecycle.audio_init_calls.contains(&c.name))
        .find_map(|c| {
            c.named_string_args
                .iter()
                .find(|(k, _)| rules.lifecycle.type_args.contains(k))
                .map(|(_, v)| v.clone())
                .or_else(|| c.string_args.first().cloned())
                .map(|t| (t, c.line))
        })
}

/// The `[[services]]` an exercise needs (see the module docs).
fn required_services<'r>(
    package: &Package,
    closure: &[String],
    own: &[&Class],
    rules: &'r Rules,
) -> Vec<&'r ServiceRule> {
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
    for c in own {
        used.extend(c.mixins.iter().map(String::as_str));
    }
    rules
        .services
        .iter()
        .filter(|s| {
            s.when_uses.iter().any(|u| used.contains(u.as_str()))
                || s.when_imports
                    .iter()
                    .any(|p| imports.iter().any(|i| i.starts_with(p.as_str())))
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
        CriterionId::AgentRouting => agent_routing(s, around.routed),
        CriterionId::EndpointDrift => endpoint_drift(s, around.stack, around.drifts),
        CriterionId::ServicesHealthy => services_healthy(s, around.stack),
        CriterionId::ErrorHandling => error_handling(s),
        CriterionId::TemplateChanged => template_changed(s),
    }
}

fn registered(s: &Subject) -> Judgement {
    let reg = s.registration;
    Judgement {
        passed: Some(true),
        findings: vec![evidence(
            format!("registered at {}", reg.route),
            &reg.file,
            reg.line,
        )],
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
            .filter(|cb| !s.own.iter().any(|c| c.method(cb).is_some()))
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

fn audio_init(s: &Subject) -> Judgement {
    let r = s.rules;
    let (passed, finding) = match (s.init, &s.audio) {
        (None, _) => (
            false,
            evidence(
                "no initState: the exercise's audio is never initialised",
                &s.state_file,
                s.home_line(),
            ),
        ),
        (Some(m), None) => (
            false,
            evidence(
                format!(
                    "initState does not call {} with an exercise type",
                    r.lifecycle.audio_init_calls.join(" or ")
                ),
                &s.state_file,
                m.line,
            ),
        ),
        (Some(_), Some((t, line)))
            if t.trim().is_empty()
                || t.contains(HOLE)
                || r.screens
                    .template_placeholders
                    .iter()
                    .any(|p| t.contains(p)) =>
        {
            (
                false,
                evidence(
                    format!("the exercise type `{t}` is a placeholder, not a real type"),
                    &s.state_file,
                    *line,
                ),
            )
        }
        (Some(_), Some((t, line))) => (
            true,
            evidence(format!("audio initialised as `{t}`"), &s.state_file, *line),
        ),
    };
    Judgement {
        passed: Some(passed),
        findings: vec![finding],
    }
}

fn dispose(s: &Subject) -> Judgement {
    let releasable: Vec<(&Field, &Vec<String>)> = s
        .own
        .iter()
        .flat_map(|c| c.fields.iter())
        .filter_map(|f| {
            f.type_name
                .as_ref()
                .and_then(|t| s.rules.lifecycle.release.get(t))
                .map(|calls| (f, calls))
        })
        .collect();
    if releasable.is_empty() {
        return Judgement::not_applicable();
    }
    let dispose = s.own.iter().find_map(|c| c.method("dispose"));
    let mut findings = Vec::new();
    if dispose.is_none() {
        findings.push(evidence(
            "there is no dispose() method",
            &s.state_file,
            s.home_line(),
        ));
    }
    for (field, calls) in &releasable {
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
                &s.state_file,
                field.line,
            ));
        }
    }
    Judgement::unless_found(findings)
}

fn agent_routing(s: &Subject, routed: &BTreeSet<String>) -> Judgement {
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
    match s.exercise_type() {
        None => Judgement::not_applicable(),
        Some(t) if routed.contains(t) => Judgement {
            passed: Some(true),
            findings: vec![evidence(
                format!("the agent routes `{t}`"),
                &s.file,
                s.class.line,
            )],
        },
        Some(t) => Judgement {
            passed: Some(false),
            findings: vec![evidence(
                format!(
                    "the agent does not route `{t}`: it will silently fall back to another exercise (it routes: {})",
                    routed.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                &s.state_file,
                s.init.map_or(s.class.line, |m| m.line),
            )],
        },
    }
}

fn endpoint_drift(s: &Subject, stack: &StackContext, drifts: &[Drift]) -> Judgement {
    if stack.published_ports.is_none() {
        return Judgement::not_applicable();
    }
    // Affected when a file it depends on uses the drifted entry (or, for a URL that is not
    // a named entry, when it depends on the config file at all).
    let uses = |name: &str| {
        s.closure
            .iter()
            .filter_map(|f| s.package.files.get(f))
            .filter(|f| {
                !drifts
                    .iter()
                    .any(|d| d.file == f.path.display().to_string())
            })
            .any(|f| f.dart.tokens.iter().any(|t| t.is_ident() && t.text == name))
    };
    Judgement::unless_found(
        drifts
            .iter()
            .filter(|d| s.closure_paths.contains(&d.file))
            .filter(|d| d.entry.as_deref().is_none_or(uses))
            .map(|d| evidence(d.message.clone(), &d.file, d.line))
            .collect(),
    )
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
            .flat_map(|c| c.methods.iter())
            .flat_map(|m| m.calls.iter())
            .filter(|c| {
                c.receiver.is_some() && s.rules.network.calls.contains(&c.name) && !c.handled
            })
            .map(|c| {
                evidence(
                    format!(
                        "`{}.{}(…)` is not in a try block and has no .catchError",
                        c.receiver.as_deref().unwrap_or("?"),
                        c.name
                    ),
                    &s.state_file,
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
            .flat_map(|c| c.strings.iter())
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
                    *line,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
#[path = "criteria_tests.rs"]
mod tests;
