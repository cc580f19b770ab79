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
use registry::{Index, Located, Registration};
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
    let registered = registry::registrations(project, &index, rules);
    let routed: BTreeSet<String> = agent_types(&project.agent_files, rules);
    let drifts = drift::drift(project, rules, stack);
    let around = Surroundings {
        stack,
        routed: &routed,
        drifts: &drifts,
    };
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
                    exercises.push(
                        kept.unwrap_or_else(|| {
                            score_exercise(located, reg, &index, rules, &around)
                        }),
                    );
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

fn score_exercise(
    located: &Located,
    reg: &Registration,
    index: &Index,
    rules: &Compiled,
    around: &Surroundings,
) -> Exercise {
    let r = &rules.rules;
    let s = Subject::new(located, reg, index, rules);
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
