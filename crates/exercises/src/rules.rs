//! The rule pack: what "an exercise" means in a project, as data.
//!
//! The default (`rules/eloquence.toml`, embedded) encodes Eloquence's conventions. A project
//! may put `greenroom-exercises.toml` at its root: its top-level tables replace the default
//! tables of the same name (`[screens]`, `[router]`, `[lifecycle]`, `[network]`, `[agent]`,
//! `[[services]]`, `[weights]`, `[fix_minutes]`), so a project changes only what differs.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULT_RULES: &str = include_str!("../rules/eloquence.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub screens: Screens,
    pub router: Router,
    pub lifecycle: Lifecycle,
    pub network: Network,
    pub agent: Agent,
    pub services: Vec<ServiceRule>,
    pub weights: BTreeMap<String, u32>,
    pub fix_minutes: BTreeMap<String, u32>,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    pub route_calls: Vec<String>,
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
    pub route_tables: regex::Regex,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RulesError {
    pub file: String,
    pub message: String,
}

impl Compiled {
    pub fn default_rules() -> Self {
        Self::from_toml(DEFAULT_RULES, "the default rules")
            .expect("the embedded rule pack is valid")
    }

    /// The default rules with the project's overrides (`greenroom-exercises.toml`) applied.
    pub fn for_project(root: &Path) -> Result<Self, RulesError> {
        let file = root.join("greenroom-exercises.toml");
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Ok(Self::default_rules());
        };
        let mut base: toml::Table =
            toml::from_str(DEFAULT_RULES).expect("the embedded rule pack is TOML");
        let over: toml::Table = toml::from_str(&text).map_err(|e| RulesError {
            file: location(&file, &text, e.span()),
            message: e.message().to_owned(),
        })?;
        for (key, value) in over {
            base.insert(key, value);
        }
        let merged = toml::to_string(&base).map_err(|e| RulesError {
            file: file.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml(&merged, &file.display().to_string())
    }

    pub fn from_toml(text: &str, origin: &str) -> Result<Self, RulesError> {
        let err = |message: String| RulesError {
            file: origin.to_owned(),
            message,
        };
        let rules: Rules = toml::from_str(text).map_err(|e| err(e.message().to_owned()))?;
        let re = |p: &str| {
            regex::Regex::new(p)
                .map_err(|e| err(format!("`{p}` is not a valid regular expression: {e}")))
        };
        Ok(Self {
            not_exercises: rules
                .screens
                .not_exercises
                .iter()
                .map(|p| re(p))
                .collect::<Result<_, _>>()?,
            exercise_route: re(&rules.screens.exercise_route)?,
            route_tables: re(&rules.agent.route_tables)?,
            rules,
        })
    }

    pub fn is_excluded(&self, class: &str) -> bool {
        let plain = class.trim_start_matches('_');
        self.not_exercises.iter().any(|r| r.is_match(plain))
    }
}

fn location(file: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => {
            let before = &text[..s.start.min(text.len())];
            format!("{}:{}", file.display(), before.matches('\n').count() + 1)
        }
        None => file.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(err.file.contains("greenroom-exercises.toml:"), "{err}");
    }
}
