//! The rule pack: what "an exercise" means in a project, as data.
//!
//! **Sources and precedence.** The default pack ([`DEFAULT_RULES`], `rules/eloquence.toml`,
//! embedded) encodes Eloquence's conventions. A project may put `greenroom-exercises.toml`
//! at its root. Each top-level table that file gives (`[screens]`, `[router]`,
//! `[lifecycle]` with its `[lifecycle.release]`, `[network]`, `[agent]`, `[[services]]`,
//! `[weights]`, `[fix_minutes]`) replaces the default's table of that name **whole**; a
//! table it does not give keeps the default's. Nothing is merged below the top level, so a
//! project changes only the tables that differ. No file (or one that cannot be read as
//! text) means the default pack as it is.
//!
//! **Criteria tables.** `[weights]` and `[fix_minutes]` are keyed by [`CriterionId`] wire
//! names. In whichever file supplies it, each of these tables must name every criterion
//! exactly once: since a project's table replaces the default's whole, the final pack then
//! has every id, and a partial table is an error rather than a silent weight of 0. Checked
//! when a pack is loaded, before anything is scored: an unknown id is reported at its key's
//! line, a missing one at the table's header line —
//! `greenroom-exercises.toml:4: unknown criterion "dispos" in [weights]; known: registered, …`,
//! `greenroom-exercises.toml:1: [weights] lacks dispose, …`.
//!
//! **Weights** need not add up to 100 (the score is the weighted share passed, see
//! [`crate::analysis`]); **fix minutes** are summed over the failing criteria.
//!
//! **Errors** ([`RulesError`], all [`ErrorKind::InvalidInput`]) name the file, and the line
//! when it is known: TOML syntax, a rule pack's shape (an unknown table or key, a value of
//! the wrong type) and criteria ids are located in the file that holds them; an invalid
//! regular expression is reported against the file it was merged from.

use crate::criterion::{CriterionId, PerCriterion};
use greenroom_core::{Classified, ErrorKind};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

pub const DEFAULT_RULES: &str = include_str!("../rules/eloquence.toml");

/// How the default pack is named in messages.
pub const DEFAULT_ORIGIN: &str = "rules/eloquence.toml";

/// The project file that overrides the default pack's tables, at the project's root.
pub const PROJECT_FILE: &str = "greenroom-exercises.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub screens: Screens,
    pub router: Router,
    pub lifecycle: Lifecycle,
    pub network: Network,
    pub agent: Agent,
    pub services: Vec<ServiceRule>,
    pub weights: PerCriterion<u32>,
    pub fix_minutes: PerCriterion<u32>,
}

/// A project's `greenroom-exercises.toml`: any of the pack's tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    screens: Option<Screens>,
    router: Option<Router>,
    lifecycle: Option<Lifecycle>,
    network: Option<Network>,
    agent: Option<Agent>,
    services: Option<Vec<ServiceRule>>,
    weights: Option<PerCriterion<u32>>,
    fix_minutes: Option<PerCriterion<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screens {
    pub widget_bases: Vec<String>,
    pub state_bases: Vec<String>,
    pub exercise_mixins: Vec<String>,
    pub exercise_templates: Vec<String>,
    pub template_placeholders: Vec<String>,
    pub not_exercises: Vec<String>,
    pub exercise_route: String,
    /// A widget named like this is a screen: when nothing builds it, it is an orphan.
    #[serde(default = "default_screen_name")]
    pub screen_name: String,
}

fn default_screen_name() -> String {
    "(Screen|Page)$".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    pub route_calls: Vec<String>,
    /// Calls whose builder frames other routes (`ShellRoute`): what they build is a shell.
    #[serde(default)]
    pub shell_calls: Vec<String>,
    pub path_arg: String,
    pub registry_calls: Vec<String>,
    pub registry_id_args: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    pub mixin_callbacks: Vec<String>,
    pub audio_init_calls: Vec<String>,
    pub type_args: Vec<String>,
    pub release: BTreeMap<String, Vec<String>>,
    /// Calls that start an exercise's audio session through a provider or service
    /// (`notifier.startSession(…)`), a regular expression on the method name.
    #[serde(default = "default_session_start")]
    pub session_start: String,
    /// Calls that end it (in `dispose`), a regular expression on the method name.
    #[serde(default = "default_session_stop")]
    pub session_stop: String,
    /// Imports that mean an exercise uses audio (URI prefixes).
    #[serde(default = "default_audio_imports")]
    pub audio_imports: Vec<String>,
    /// Map keys and named arguments carrying the exercise type to a service or the agent
    /// (`'exercise_type': 'x'`, `exerciseType: 'x'`).
    #[serde(default = "default_type_keys")]
    pub type_keys: Vec<String>,
}

fn default_session_start() -> String {
    "(?i)^(init(ialize)?audio|start\\w*(session|recording|listening|exercise|audio)|connect(to\\w*)?|open\\w*recorder)$".into()
}

fn default_session_stop() -> String {
    "(?i)^(stop|end|dispose|disconnect|close|cancel|cleanup|leave)\\w*$".into()
}

fn default_audio_imports() -> Vec<String> {
    [
        "package:livekit_client/",
        "package:flutter_sound/",
        "package:record/",
        "package:just_audio/",
        "package:audioplayers/",
        "package:flutter_webrtc/",
        "package:speech_to_text/",
    ]
    .map(String::from)
    .to_vec()
}

fn default_type_keys() -> Vec<String> {
    ["exercise_type", "exerciseType"].map(String::from).to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub calls: Vec<String>,
    pub config_files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub paths: Vec<String>,
    pub type_variable: String,
    pub route_tables: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRule {
    pub name: String,
    pub stack_names: Vec<String>,
    pub when_uses: Vec<String>,
    pub when_imports: Vec<String>,
}

/// Compiled regular expressions of a rule pack.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rules: Rules,
    pub not_exercises: Vec<regex::Regex>,
    pub exercise_route: regex::Regex,
    pub screen_name: regex::Regex,
    pub session_start: regex::Regex,
    pub session_stop: regex::Regex,
    pub route_tables: regex::Regex,
    /// `network.config_files`, as regular expressions on package-relative paths.
    pub config_files: Vec<regex::Regex>,
}

/// Where a problem is: a file, and the line (1-based) when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
}

impl Location {
    fn file(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
        }
    }

    /// The line of byte `offset` in `text` (`None`: the file only).
    fn at(file: &str, text: &str, offset: Option<usize>) -> Self {
        Self {
            file: file.to_owned(),
            line: offset.map(|o| text[..o.min(text.len())].matches('\n').count() as u32 + 1),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// Why a rule pack cannot be used (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// Not TOML, or not a rule pack's shape (an unknown table or key, a wrong type).
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    #[error("{at}: `{pattern}` is not a valid regular expression: {message}")]
    Pattern {
        at: Location,
        pattern: String,
        message: String,
    },
    #[error(
        "{at}: unknown criterion \"{id}\" in [{table}]; known: {}",
        CriterionId::known()
    )]
    UnknownCriterion {
        at: Location,
        table: &'static str,
        id: String,
    },
    #[error(
        "{at}: [{table}] lacks {}; a table given here is the whole table, so it names every criterion: {}",
        names(.missing),
        CriterionId::known()
    )]
    MissingCriteria {
        at: Location,
        table: &'static str,
        missing: Vec<CriterionId>,
    },
}

fn names(ids: &[CriterionId]) -> String {
    ids.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RulesError {
    /// The file (and line) the error is about.
    pub fn location(&self) -> &Location {
        match self {
            Self::Invalid { at, .. }
            | Self::Pattern { at, .. }
            | Self::UnknownCriterion { at, .. }
            | Self::MissingCriteria { at, .. } => at,
        }
    }

    fn toml(file: &str, text: &str, e: toml::de::Error) -> Self {
        Self::Invalid {
            at: Location::at(file, text, e.span().map(|s| s.start)),
            message: e.message().to_owned(),
        }
    }
}

impl Classified for RulesError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. }
            | Self::Pattern { .. }
            | Self::UnknownCriterion { .. }
            | Self::MissingCriteria { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// A criteria table with the spans of its keys and of itself (its header).
type SpannedTable = Spanned<BTreeMap<Spanned<String>, IgnoredAny>>;

/// Only the criteria tables of a file, with spans; other tables are not looked at.
#[derive(Deserialize)]
struct CriteriaTables {
    weights: Option<SpannedTable>,
    fix_minutes: Option<SpannedTable>,
}

/// Checks each criteria table `text` gives against [`CriterionId`] (see the module docs).
fn check_criteria(text: &str, file: &str) -> Result<(), RulesError> {
    let tables: CriteriaTables =
        toml::from_str(text).map_err(|e| RulesError::toml(file, text, e))?;
    for (name, table) in [
        ("weights", &tables.weights),
        ("fix_minutes", &tables.fix_minutes),
    ] {
        let Some(table) = table else { continue };
        if let Some(key) = table
            .get_ref()
            .keys()
            .find(|k| CriterionId::from_name(k.get_ref()).is_none())
        {
            return Err(RulesError::UnknownCriterion {
                at: Location::at(file, text, Some(key.span().start)),
                table: name,
                id: key.get_ref().clone(),
            });
        }
        let missing: Vec<CriterionId> = CriterionId::ALL
            .into_iter()
            .filter(|c| !table.get_ref().keys().any(|k| k.get_ref() == c.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(RulesError::MissingCriteria {
                at: Location::at(file, text, Some(table.span().start)),
                table: name,
                missing,
            });
        }
    }
    Ok(())
}

impl Compiled {
    pub fn default_rules() -> Self {
        Self::from_toml(DEFAULT_RULES, DEFAULT_ORIGIN).expect("the embedded rule pack is valid")
    }

    /// Where the project's agent sources are (`[agent] paths`, with the same precedence),
    /// read without compiling the pack: a scan starts reading files with it while the pack
    /// compiles. A project file that cannot be read as a pack gives the default's paths
    /// ([`Compiled::for_project`] reports the error).
    pub fn agent_paths(root: &Path) -> Vec<String> {
        let from = |text: &str| -> Option<Vec<String>> {
            let value: toml::Value = toml::from_str(text).ok()?;
            value
                .get("agent")?
                .get("paths")?
                .as_array()?
                .iter()
                .map(|p| p.as_str().map(str::to_owned))
                .collect()
        };
        std::fs::read_to_string(root.join(PROJECT_FILE))
            .ok()
            .and_then(|t| from(&t))
            .or_else(|| from(DEFAULT_RULES))
            .unwrap_or_default()
    }

    /// The default rules with the project's overrides (`greenroom-exercises.toml`) applied
    /// (precedence in the module docs).
    pub fn for_project(root: &Path) -> Result<Self, RulesError> {
        let path = root.join(PROJECT_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Self::default_rules());
        };
        let file = path.display().to_string();
        check_criteria(&text, &file)?;
        let over: Override =
            toml::from_str(&text).map_err(|e| RulesError::toml(&file, &text, e))?;
        let base = Self::default_rules().rules;
        let rules = Rules {
            screens: over.screens.unwrap_or(base.screens),
            router: over.router.unwrap_or(base.router),
            lifecycle: over.lifecycle.unwrap_or(base.lifecycle),
            network: over.network.unwrap_or(base.network),
            agent: over.agent.unwrap_or(base.agent),
            services: over.services.unwrap_or(base.services),
            weights: over.weights.unwrap_or(base.weights),
            fix_minutes: over.fix_minutes.unwrap_or(base.fix_minutes),
        };
        Self::compile(rules, &file)
    }

    /// A whole pack from its text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, RulesError> {
        check_criteria(text, origin)?;
        let rules: Rules = toml::from_str(text).map_err(|e| RulesError::toml(origin, text, e))?;
        Self::compile(rules, origin)
    }

    fn compile(rules: Rules, origin: &str) -> Result<Self, RulesError> {
        let re = |p: &str| {
            regex::Regex::new(p).map_err(|e| RulesError::Pattern {
                at: Location::file(origin),
                pattern: p.to_owned(),
                message: e.to_string(),
            })
        };
        Ok(Self {
            not_exercises: rules
                .screens
                .not_exercises
                .iter()
                .map(|p| re(p))
                .collect::<Result<_, _>>()?,
            exercise_route: re(&rules.screens.exercise_route)?,
            screen_name: re(&rules.screens.screen_name)?,
            session_start: re(&rules.lifecycle.session_start)?,
            session_stop: re(&rules.lifecycle.session_stop)?,
            route_tables: re(&rules.agent.route_tables)?,
            config_files: rules
                .network
                .config_files
                .iter()
                .map(|g| re(&glob_regex(g)))
                .collect::<Result<_, _>>()?,
            rules,
        })
    }

    /// Whether a package-relative path is one of the app's config files.
    pub fn is_config_file(&self, rel: &str) -> bool {
        self.config_files.iter().any(|r| r.is_match(rel))
    }

    pub fn is_excluded(&self, class: &str) -> bool {
        let plain = class.trim_start_matches('_');
        self.not_exercises.iter().any(|r| r.is_match(plain))
    }
}

/// A glob (`*` within a segment, `**/` any folders, `?` one character) as an anchored
/// regular expression.
pub fn glob_regex(pattern: &str) -> String {
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
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_paths_without_compiling_follow_the_same_precedence() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Compiled::agent_paths(dir.path()),
            Compiled::default_rules().rules.agent.paths
        );
        std::fs::write(
            dir.path().join(PROJECT_FILE),
            "[agent]\npaths = [\"bots\"]\ntype_variable = \"kind\"\nroute_tables = \"x\"\n",
        )
        .unwrap();
        assert_eq!(Compiled::agent_paths(dir.path()), ["bots"]);
        assert_eq!(
            Compiled::for_project(dir.path()).unwrap().rules.agent.paths,
            ["bots"]
        );
    }

    #[test]
    fn the_default_pack_compiles_and_excludes_what_is_not_an_exercise() {
        let c = Compiled::default_rules();
        for name in [
            "LoginScreen",
            "SignUpScreen",
            "HomePage",
            "ProfileScreen",
            "SplashScreen",
            "SettingsScreen",
            "ExerciseListScreen",
            "_HomeScreenState",
        ] {
            assert!(c.is_excluded(name), "{name}");
        }
        for name in [
            "CosmicVoiceScreen",
            "BreathingExerciseScreen",
            "ArticulationScreen",
        ] {
            assert!(!c.is_excluded(name), "{name}");
        }
    }

    #[test]
    fn a_project_overrides_whole_tables_and_bad_overrides_say_where() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("greenroom-exercises.toml"),
            "[agent]\npaths = [\"bot\"]\ntype_variable = \"kind\"\nroute_tables = \"ROUTES\"\n",
        )
        .unwrap();
        let c = Compiled::for_project(dir.path()).unwrap();
        assert_eq!(c.rules.agent.paths, ["bot"]);
        assert_eq!(
            c.rules.router.route_calls,
            ["GoRoute"],
            "other tables keep the defaults"
        );
        std::fs::write(
            dir.path().join("greenroom-exercises.toml"),
            "[agent]\npaths = [\n",
        )
        .unwrap();
        let err = Compiled::for_project(dir.path()).unwrap_err();
        assert!(
            err.location()
                .to_string()
                .contains("greenroom-exercises.toml:"),
            "{err}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    /// The default's `[weights]` table, with `edit` applied to its lines.
    fn weights(edit: impl Fn(&str) -> Option<String>) -> String {
        let start = DEFAULT_RULES.find("[weights]").unwrap();
        let end = DEFAULT_RULES.find("\n# Minutes to fix").unwrap();
        DEFAULT_RULES[start..end]
            .lines()
            .filter_map(&edit)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    fn project_with(text: &str) -> (tempfile::TempDir, Result<Compiled, RulesError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_FILE), text).unwrap();
        let result = Compiled::for_project(dir.path());
        (dir, result)
    }

    #[test]
    fn an_unknown_criterion_is_an_error_at_its_line() {
        // A project file of `[weights]` only (line 1), `dispos` on line 5.
        let text = weights(|l| Some(l.replace("dispose = 12", "dispos = 12")));
        assert_eq!(text.lines().nth(4), Some("dispos = 12"));
        let (dir, result) = project_with(&text);
        let err = result.unwrap_err();
        let file = dir.path().join(PROJECT_FILE).display().to_string();
        assert_eq!(
            err.to_string(),
            format!(
                "{file}:5: unknown criterion \"dispos\" in [weights]; known: registered, mixin_callbacks, audio_init, dispose, agent_routing, endpoint_drift, services_healthy, error_handling, template_changed"
            )
        );
        assert_eq!(err.location().line, Some(5));
        assert_eq!(err.kind(), ErrorKind::InvalidInput);

        // In the default pack itself, named as its file.
        let pack = DEFAULT_RULES.replace("\ndispose = 20\n", "\ndispos = 20\n");
        let line = pack.lines().position(|l| l == "dispos = 20").unwrap() as u32 + 1;
        let err = Compiled::from_toml(&pack, DEFAULT_ORIGIN).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "rules/eloquence.toml:{line}: unknown criterion \"dispos\" in [fix_minutes]; known: registered, "
            )),
            "{err}"
        );
    }

    #[test]
    fn a_missing_criterion_is_an_error_at_the_table_header() {
        let text = format!(
            "[agent]\npaths = [\"bot\"]\ntype_variable = \"kind\"\nroute_tables = \"ROUTES\"\n\n{}",
            weights(
                |l| (!l.starts_with("dispose") && !l.starts_with("error_handling"))
                    .then(|| l.to_owned())
            )
        );
        assert_eq!(text.lines().nth(5), Some("[weights]"));
        let (dir, result) = project_with(&text);
        let err = result.unwrap_err();
        let file = dir.path().join(PROJECT_FILE).display().to_string();
        assert!(
            err.to_string().starts_with(&format!(
                "{file}:6: [weights] lacks dispose, error_handling; a table given here is the whole table"
            )),
            "{err}"
        );
        assert_eq!(
            err,
            RulesError::MissingCriteria {
                at: Location {
                    file,
                    line: Some(6)
                },
                table: "weights",
                missing: vec![CriterionId::Dispose, CriterionId::ErrorHandling],
            }
        );

        // An inline table is located at its own line.
        let (_dir, result) = project_with("\nfix_minutes = { registered = 1 }\n");
        assert_eq!(result.unwrap_err().location().line, Some(2));
    }

    #[test]
    fn a_complete_criteria_table_replaces_the_default_one() {
        let (_dir, result) = project_with(&weights(|l| {
            Some(l.replace("dispose = 12", "dispose = 40"))
        }));
        let c = result.unwrap();
        assert_eq!(c.rules.weights[CriterionId::Dispose], 40);
        assert_eq!(c.rules.weights[CriterionId::Registered], 15);
        assert_eq!(
            c.rules.fix_minutes,
            Compiled::default_rules().rules.fix_minutes,
            "the other criteria table keeps the default"
        );
    }
}
