//! Finding the exercises the app registers, and scoring each one.
//!
//! **Registered**: a widget a route shows (read as `registry` documents: full paths of
//! nested routes, builders followed through factories and local variables, a dispatching
//! builder's `if`/`switch` on an id registering each screen at the path with `:id` = the id)
//! or one built inside an exercise-list entry (`ExerciseInfo(id: 'x', …)`). A widget shown
//! only with the route's parameter and no dispatch is **generic** (a detail page, a
//! dispatcher's fallback); a widget a shell route builds is a **shell**.
//!
//! **An exercise** is a registered widget, not generic, not a shell, not the template, not
//! excluded by name (`screens.not_exercises`), that uses the exercise mixin, extends the
//! exercise template, is an exercise-list entry or is shown at a path matching
//! `screens.exercise_route`; then **exercise lists** are taken out: such a widget that opens
//! two or more other registered screens (`go`/`push` to their paths, or a page route) is a
//! list, and the screens it opens are exercises. **Its flow**: the unregistered widgets it
//! opens, and they in turn. Every other registered widget is listed in
//! [`Analysis::screens`] with the reason. **An orphan** is an unregistered widget in no flow
//! that uses the mixin, extends the template, or is named like a screen
//! (`screens.screen_name`) and is built nowhere but in its own body.
//!
//! **Criteria**: the nine [`CriterionId`]s, every one judged for every exercise, in
//! declaration order; what each checks exactly is in [`criteria`]. A criterion's weight and
//! fix minutes come from the rule pack (which names all nine, see [`crate::rules`]);
//! `passed = None` means "does not apply" and leaves the criterion out of the score.
//!
//! **Score** = round(100 × Σ weights passed / Σ weights that apply), halves away from zero;
//! 0 when no weight applies. **Valid** = score ≥ [`VALID_SCORE`] and no blocking criterion
//! failed. **Fix time** = Σ `fix_minutes` of the failing criteria. **Content hash**: the
//! files of its import closure folded in path order (`h = h.rotl(5) ^ file_hash`), as 16
//! hex digits.
//!
//! Submodules: `registry` (which classes are widgets, where each is registered), `agent`
//! (the types the agent routes, [`agent_types`]), `drift` (config URLs on unpublished
//! ports), [`criteria`] (the judges).

mod agent;
pub mod criteria;
mod drift;
mod registry;

pub use crate::criterion::CriterionId;
pub use agent::agent_types;

use crate::project::{Project, Skipped};
use crate::rules::Compiled;
use criteria::{Subject, Surroundings};
use registry::{Index, Located, Navigation, Registration, Resolver, Routing};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
    /// On the wire, the criterion's snake_case name (`"dispose"`).
    pub id: CriterionId,
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
    /// The route path it is shown at first, or `registry:<id>` for an exercise-list entry.
    pub route: String,
    /// Every route that shows it (a direct route and a dispatcher's id, say), `route` first.
    pub routes: Vec<String>,
    /// The screens of its flow (selection → session → results), its own excluded.
    pub flow: Vec<FlowScreen>,
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

/// A registered screen that is not an exercise, and why (a designer checks the verdict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScreenVerdict {
    pub class_name: String,
    /// Its first route (empty for a shell).
    pub route: String,
    pub file: String,
    pub line: u32,
    pub reason: String,
}

/// A screen of an exercise's flow: reached from the exercise's screen, registered nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FlowScreen {
    pub class_name: String,
    pub file: String,
    pub line: u32,
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
    /// Registered screens that are not exercises, each with the reason.
    pub screens: Vec<ScreenVerdict>,
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
    let index = Index::new(project, rules);
    // What needs no routing runs beside it: the agent's and the config's findings, then how
    // often each class is built (for orphans).
    let (classes, widgets) = (&index.classes, &index.widgets);
    std::thread::scope(|scope| {
        let beside = scope.spawn(move || {
            let routed: BTreeSet<String> = agent_types(&project.agent_files, rules);
            let unreached = agent::unreached_types(&project.agent_files, rules);
            let drifts = drift::drift(project, rules, stack);
            (routed, unreached, drifts)
        });
        let built = scope.spawn(move || constructions(project, classes, widgets));
        let routing = registry::routing(project, &index, rules);
        let resolver = Resolver {
            index: &index,
            rules,
        };
        let screens = &rules.rules.screens;
        let detected = detect(&index, &routing, &resolver, rules);
        let (routed, unreached, drifts) = beside.join().expect("the agent and drift reading");
        let around = Surroundings {
            stack,
            routed: &routed,
            unreached: &unreached,
            drifts: &drifts,
        };

        let mut exercises = Vec::new();
        for found in &detected.exercises {
            let declared_in = found.registrations[0].declared_in.as_deref();
            let Some(located) = index.declared_at(&found.class, declared_in) else {
                continue;
            };
            let reg = &found.registrations[0];
            let kept = previous.and_then(|(prev, rescore)| {
                if rescore.contains(&found.class) {
                    return None;
                }
                prev.exercises
                    .iter()
                    .find(|e| e.class_name == found.class && e.route == reg.route)
                    .cloned()
            });
            exercises.push(kept.unwrap_or_else(|| {
                let flow: Vec<&Located> = found
                    .flow
                    .iter()
                    .filter_map(|f| index.classes.get(f.as_str()))
                    .collect();
                score_exercise(located, found, &flow, &index, rules, &around)
            }));
        }
        exercises.sort_by(|a, b| a.id.cmp(&b.id));

        let in_flow: BTreeSet<&str> = detected
            .exercises
            .iter()
            .flat_map(|e| e.flow.iter().map(String::as_str))
            .collect();
        let constructed = built.join().expect("the construction count");
        let mut orphans = Vec::new();
        // Every declaration: of two classes of one name, the one no route sees can be an orphan.
        let declarations = index
            .classes
            .keys()
            .flat_map(|name| index.declarations(name).iter().map(move |l| (name, l)));
        for (name, located) in declarations {
            let registered = routing.by_widget.get(*name).is_some_and(|regs| {
                regs.iter()
                    .any(|r| r.declared_in.as_deref().is_none_or(|f| f == located.file))
            });
            if registered
                || routing.shells.contains(*name)
                || in_flow.contains(name)
                || !index.is_widget(name)
                || screens.exercise_templates.iter().any(|t| t == name)
            {
                continue;
            }
            let reason = if uses_mixin(&index, located, rules) {
                "uses the exercise mixin, but no route or exercise list registers it"
            } else if from_template(&index, name, rules) {
                "extends the exercise template, but no route or exercise list registers it"
            } else if rules.screen_name.is_match(name.trim_start_matches('_'))
                && !rules.is_excluded(name)
                && constructed.get(*name).copied().unwrap_or(0) == 0
            {
                "nothing shows it: no route, navigation or other widget builds it"
            } else {
                continue;
            };
            orphans.push(Orphan {
                class_name: (*name).to_owned(),
                file: located.path(),
                line: located.class.line,
                reason: reason.into(),
            });
        }

        Analysis {
            project: project.root.display().to_string(),
            packages: project.packages.iter().map(|p| p.name.clone()).collect(),
            files_read: project.packages.iter().map(|p| p.files.len() as u32).sum(),
            exercises,
            screens: detected.screens,
            orphans,
            drift: drifts,
            skipped: project.skipped.clone(),
            agent_types: routed.into_iter().collect(),
        }
    })
}

fn uses_mixin(index: &Index, l: &Located, rules: &Compiled) -> bool {
    let state = index.state_of(&l.class.name);
    l.class
        .mixins
        .iter()
        .chain(state.map(|s| s.class.mixins.iter()).into_iter().flatten())
        .any(|m| rules.rules.screens.exercise_mixins.contains(m))
}

fn from_template(index: &Index, name: &str, rules: &Compiled) -> bool {
    index
        .chain(name)
        .iter()
        .skip(1)
        .any(|c| rules.rules.screens.exercise_templates.contains(c))
}

/// How many places construct each project class (`X(`, `const X(`, `X.named(`), its own
/// body excluded.
fn constructions<'a>(
    project: &'a Project,
    classes: &BTreeMap<&'a str, Located<'a>>,
    widgets: &rustc_hash::FxHashSet<&'a str>,
) -> BTreeMap<&'a str, usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for package in &project.packages {
        for (rel, file) in &package.files {
            let tokens = &file.dart.tokens;
            for (i, t) in tokens.iter().enumerate() {
                if !registry::is_upper_ident(t) {
                    continue;
                }
                let call = tokens.get(i + 1).is_some_and(|n| n.is("("))
                    || (tokens.get(i + 1).is_some_and(|n| n.is("."))
                        && tokens.get(i + 3).is_some_and(|n| n.is("(")));
                if !call {
                    continue;
                }
                let Some((name, located)) = classes.get_key_value(t.text.as_str()) else {
                    continue;
                };
                let own = located.file == rel.as_str() && located.class.body.contains(&i);
                if !own && widgets.contains(name) {
                    *counts.entry(name).or_default() += 1;
                }
            }
        }
    }
    counts
}

/// One exercise found: its widget, where it is registered (first the one it is shown by),
/// and the screens of its flow.
#[derive(Debug)]
struct Found {
    class: String,
    registrations: Vec<Registration>,
    flow: Vec<String>,
}

struct Detected {
    exercises: Vec<Found>,
    screens: Vec<ScreenVerdict>,
}

/// Which registered widgets are exercises (see the module docs), the flow of each, and why
/// each other registered widget is not one.
fn detect(index: &Index, routing: &Routing, resolver: &Resolver, rules: &Compiled) -> Detected {
    let screens_rules = &rules.rules.screens;
    let is_template_class = |n: &str| screens_rules.exercise_templates.iter().any(|t| t == n);
    let specific = |name: &str| -> Vec<Registration> {
        routing
            .by_widget
            .get(name)
            .map(|regs| regs.iter().filter(|r| !r.generic).cloned().collect())
            .unwrap_or_default()
    };
    // Where each registered widget navigates (its class and its state class).
    let navigation = |name: &str| -> Navigation {
        let mut nav = Navigation::default();
        let located = index.classes.get(name);
        let state = index.state_of(name);
        for l in located.into_iter().chain(state) {
            let n = registry::navigation(l, routing, resolver);
            nav.targets.extend(n.targets);
        }
        nav
    };
    let mut candidates: BTreeSet<&str> = BTreeSet::new();
    let mut verdicts: BTreeMap<&str, String> = BTreeMap::new();
    for (name, regs) in &routing.by_widget {
        let Some(located) = index.declared_at(name, regs[0].declared_in.as_deref()) else {
            continue;
        };
        let specific_regs = specific(name);
        if routing.shells.contains(name) {
            verdicts.insert(name, "a shell: it frames the routes below it".into());
        } else if rules.is_excluded(name) {
            verdicts.insert(
                name,
                "not an exercise by its name (rule screens.not_exercises)".into(),
            );
        } else if is_template_class(name) {
            verdicts.insert(name, "the exercise template itself".into());
        } else if specific_regs.is_empty() {
            let g = &regs[0];
            verdicts.insert(
                name,
                format!(
                    "a generic page: built with the route's parameter at {}, it serves every id",
                    g.route
                ),
            );
        } else if uses_mixin(index, located, rules)
            || from_template(index, name, rules)
            || specific_regs.iter().any(|r| r.via_registry)
            || specific_regs
                .iter()
                .any(|r| rules.exercise_route.is_match(&r.route))
        {
            candidates.insert(name);
        } else {
            verdicts.insert(
                name,
                "not on an exercise route, and no exercise list opens it".into(),
            );
        }
    }
    // Exercise lists: a candidate opening two or more other registered screens.
    let mut lists: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for name in &candidates {
        let targets: BTreeSet<&str> = navigation(name)
            .targets
            .iter()
            .filter_map(|(t, _)| routing.by_widget.get_key_value(t.as_str()))
            .map(|(t, _)| t.as_str())
            .filter(|t| t != name && !specific(t).is_empty() && !routing.shells.contains(*t))
            .collect();
        if targets.len() >= 2 {
            lists.insert(name, targets.into_iter().collect());
        }
    }
    for (list, targets) in &lists {
        candidates.remove(list);
        for t in targets {
            if !rules.is_excluded(t) && !lists.contains_key(t) {
                candidates.insert(t);
                verdicts.remove(t);
            }
        }
        verdicts.insert(
            list,
            format!("an exercise list: it opens {}", targets.join(", ")),
        );
    }
    let mut exercises = Vec::new();
    for name in &candidates {
        // Its flow: unregistered screens it (and they, in turn) navigate to.
        let mut flow: Vec<String> = Vec::new();
        let mut queue = vec![name.to_string()];
        while let Some(current) = queue.pop() {
            for (target, _) in navigation(&current).targets {
                if target != *name
                    && !routing.by_widget.contains_key(&target)
                    && !flow.contains(&target)
                    && index.is_widget(&target)
                    && !rules.is_excluded(&target)
                {
                    flow.push(target.clone());
                    queue.push(target);
                }
            }
        }
        exercises.push(Found {
            class: name.to_string(),
            registrations: specific(name),
            flow,
        });
    }
    for shell in &routing.shells {
        verdicts.insert(shell, "a shell: it frames the routes below it".into());
    }
    let screens = verdicts
        .into_iter()
        .filter_map(|(name, reason)| {
            let reg = routing.by_widget.get(name).and_then(|r| r.first());
            let located = index.declared_at(name, reg.and_then(|r| r.declared_in.as_deref()))?;
            Some(ScreenVerdict {
                class_name: name.to_owned(),
                route: reg.map(|r| r.route.clone()).unwrap_or_default(),
                file: located.path(),
                line: located.class.line,
                reason,
            })
        })
        .collect();
    Detected { exercises, screens }
}

fn score_exercise<'a>(
    located: &Located<'a>,
    found: &Found,
    flow: &[&Located<'a>],
    index: &Index<'a>,
    rules: &'a Compiled,
    around: &Surroundings,
) -> Exercise {
    let r = &rules.rules;
    let reg = &found.registrations[0];
    let s = Subject::new(located, &found.registrations, flow, index, rules);
    let criteria: Vec<Criterion> = CriterionId::ALL
        .into_iter()
        .map(|id| {
            let judged = criteria::judge(id, &s, around);
            Criterion {
                id,
                title: id.title().into(),
                weight: r.weights[id],
                passed: judged.passed,
                blocking: id.blocking(),
                findings: judged.findings,
            }
        })
        .collect();
    let score = score(&criteria);
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
    let fix_minutes = failing.iter().map(|c| r.fix_minutes[c.id]).sum();
    let content_hash = format!(
        "{:016x}",
        s.closure
            .iter()
            .filter_map(|f| s.package.files.get(f))
            .fold(0u64, |h, f| h.rotate_left(5) ^ f.hash)
    );
    Exercise {
        id: snake_case(&s.class.name),
        class_name: s.class.name.clone(),
        line: s.class.line,
        route: reg.route.clone(),
        routes: found
            .registrations
            .iter()
            .map(|r| r.route.clone())
            .collect(),
        flow: flow
            .iter()
            .map(|f| FlowScreen {
                class_name: f.class.name.clone(),
                file: f.path(),
                line: f.class.line,
            })
            .collect(),
        exercise_type: s.exercise_type().map(str::to_owned),
        required_services: s.required.iter().map(|x| x.name.clone()).collect(),
        score,
        valid: is_valid(score, &criteria),
        criteria,
        recommendations,
        fix_minutes,
        content_hash,
        depends_on: s.closure_paths,
        file: s.file,
    }
}

/// round(100 × Σ weights passed / Σ weights that apply); 0 when none applies.
fn score(criteria: &[Criterion]) -> u32 {
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
    if applicable == 0 {
        0
    } else {
        ((100.0 * passed as f64) / applicable as f64).round() as u32
    }
}

/// At least [`VALID_SCORE`], and no blocking criterion failed.
fn is_valid(score: u32, criteria: &[Criterion]) -> bool {
    let blocked = criteria
        .iter()
        .any(|c| c.blocking && c.passed == Some(false));
    score >= VALID_SCORE && !blocked
}

fn short(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(id: CriterionId, weight: u32, passed: Option<bool>) -> Criterion {
        Criterion {
            id,
            title: id.title().into(),
            weight,
            passed,
            blocking: id.blocking(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn snake_case_of_class_names() {
        assert_eq!(snake_case("CosmicVoiceScreen"), "cosmic_voice_screen");
        assert_eq!(snake_case("_State"), "state");
    }

    #[test]
    fn the_score_is_the_rounded_weighted_share_of_what_applies() {
        use CriterionId::*;
        let c = [
            criterion(Registered, 15, Some(true)),
            criterion(Dispose, 12, Some(false)),
            criterion(EndpointDrift, 12, None),
            criterion(ErrorHandling, 10, Some(true)),
        ];
        // 25 / 37 = 67.57… → 68; the 12 that does not apply counts nowhere.
        assert_eq!(score(&c), 68);
        assert!(!is_valid(68, &c));
        assert_eq!(
            score(&[
                criterion(Registered, 1, Some(true)),
                criterion(Dispose, 1, Some(false))
            ]),
            50
        );
        assert_eq!(
            score(&[criterion(Registered, 15, None)]),
            0,
            "nothing applies"
        );
        assert_eq!(
            score(&[criterion(Registered, 0, Some(true))]),
            0,
            "no weight applies"
        );
    }

    #[test]
    fn valid_needs_the_score_and_no_failed_blocking_criterion() {
        use CriterionId::*;
        let ok = [
            criterion(Registered, 80, Some(true)),
            criterion(Dispose, 20, Some(false)),
        ];
        assert_eq!(score(&ok), VALID_SCORE);
        assert!(is_valid(score(&ok), &ok));
        assert!(!is_valid(VALID_SCORE - 1, &ok));
        let blocked = [
            criterion(Registered, 95, Some(true)),
            criterion(AgentRouting, 5, Some(false)),
        ];
        assert_eq!(score(&blocked), 95);
        assert!(
            !is_valid(95, &blocked),
            "a failed blocking criterion invalidates"
        );
        let not_applying = [
            criterion(Registered, 95, Some(true)),
            criterion(TemplateChanged, 5, None),
        ];
        assert!(
            is_valid(100, &not_applying),
            "a blocking criterion that does not apply does not block"
        );
    }

    #[test]
    fn a_criterion_keeps_its_wire_shape() {
        let mut c = criterion(CriterionId::AgentRouting, 15, Some(false));
        c.findings.push(evidence("m", "f.dart", 3));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "agent_routing",
                "title": "The agent routes its exercise type",
                "weight": 15,
                "passed": false,
                "blocking": true,
                "findings": [{"message": "m", "file": "f.dart", "line": 3}]
            })
        );
        assert_eq!(serde_json::from_value::<Criterion>(json).unwrap(), c);
    }
}
