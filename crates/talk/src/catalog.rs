//! The characters a coach talks to and the exercises they practise, in a TOML file the
//! team edits (`data/talk-catalog.toml` is the built-in default, from the team's pipeline
//! guide).
//!
//! Why a file: coaches and designers tune prompts without a Rust build, and the same
//! file drives the direct mode, the LiveKit mode's room metadata and the test engine.
//!
//! Semantics:
//! - [`Catalog::load`] reads a file; [`Catalog::builtin`] is the default. [`load_or_default`]
//!   never fails: a missing file is the default; a broken one is the default **plus** a
//!   [`CatalogError`] that names `file:line` and what to change, for the UI to show.
//! - Checked at load: `schema` (when present) is `greenroom.talk-catalog/1`; ids are
//!   `[a-z0-9_-]{1,64}`; every text field is non-blank; every exercise's `character` names a
//!   character of the same file; there is at least one exercise.
//! - [`Catalog::system_prompt`] is the character's prompt, a blank line, then the
//!   exercise's instructions. Exercises are listed in id order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use greenroom_core::{Classified, ErrorKind};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The schema name and version a catalogue file may declare.
pub const SCHEMA: &str = "greenroom.talk-catalog/1";
/// The built-in catalogue, as shipped.
pub const BUILTIN: &str = include_str!("../data/talk-catalog.toml");
/// The exercise a talk starts with when none is named.
pub const DEFAULT_EXERCISE: &str = "conversation_libre";

/// Why a catalogue file cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the talk catalogue {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}; fix the file (the built-in catalogue is used meanwhile)")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

impl Classified for CatalogError {
    fn kind(&self) -> ErrorKind {
        match self {
            CatalogError::Read { .. } => ErrorKind::Unavailable,
            CatalogError::Invalid { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// Someone Marie's side can be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Character {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The TTS voice (an OpenAI voice name; engines that lack it use their default).
    pub voice: String,
    pub system_prompt: String,
}

/// Something a learner practises with a character. (`TalkExercise` in TypeScript: the
/// Flutter app's exercises are `Exercise` there.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(rename = "TalkExercise")]
pub struct Exercise {
    pub id: String,
    pub title: String,
    /// A [`Character::id`].
    pub character: String,
    pub description: String,
    /// What the character says first.
    pub opening: String,
    /// Added to the character's system prompt.
    pub instructions: String,
    pub duration_minutes: u32,
    pub focus: Vec<String>,
}

/// The characters and exercises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Catalog {
    pub characters: Vec<Character>,
    pub exercises: Vec<Exercise>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCharacter {
    name: toml::Spanned<String>,
    role: toml::Spanned<String>,
    voice: toml::Spanned<String>,
    system_prompt: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExercise {
    title: toml::Spanned<String>,
    character: toml::Spanned<String>,
    description: toml::Spanned<String>,
    opening: toml::Spanned<String>,
    instructions: toml::Spanned<String>,
    #[serde(default = "default_duration")]
    duration_minutes: u32,
    #[serde(default)]
    focus: Vec<String>,
}

fn default_duration() -> u32 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema: Option<toml::Spanned<String>>,
    #[serde(default)]
    characters: BTreeMap<toml::Spanned<String>, FileCharacter>,
    #[serde(default)]
    exercises: BTreeMap<toml::Spanned<String>, FileExercise>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Catalog {
    /// The built-in catalogue.
    pub fn builtin() -> Catalog {
        // The shipped file is checked by a unit test; should it ever fail, an empty
        // catalogue is still usable by the code (the UI says there is nothing to pick).
        Self::parse(BUILTIN, "<built-in talk catalogue>").unwrap_or(Catalog {
            characters: Vec::new(),
            exercises: Vec::new(),
        })
    }

    /// Reads and checks the catalogue at `path`.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks catalogue `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Catalog, CatalogError> {
        let invalid = |offset: usize, message: String| CatalogError::Invalid {
            path: origin.to_string(),
            line: line_of(text, offset),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().trim().to_string())
        })?;
        if let Some(schema) = &file.schema
            && schema.get_ref() != SCHEMA
        {
            return Err(invalid(
                schema.span().start,
                format!(
                    "schema {:?} is not one this Greenroom reads (it reads {SCHEMA:?})",
                    schema.get_ref()
                ),
            ));
        }
        let text_field = |field: &toml::Spanned<String>, name: &str| {
            if field.get_ref().trim().is_empty() {
                Err(invalid(field.span().start, format!("`{name}` is empty")))
            } else {
                Ok(field.get_ref().trim().to_string())
            }
        };
        let check_id = |id: &toml::Spanned<String>, what: &str| {
            if valid_id(id.get_ref()) {
                Ok(id.get_ref().clone())
            } else {
                Err(invalid(
                    id.span().start,
                    format!(
                        "the {what} id {:?} is not usable: use 1 to 64 of a-z, 0-9, _ and -",
                        id.get_ref()
                    ),
                ))
            }
        };
        let mut characters = Vec::new();
        for (id, c) in &file.characters {
            characters.push(Character {
                id: check_id(id, "character")?,
                name: text_field(&c.name, "name")?,
                role: text_field(&c.role, "role")?,
                voice: text_field(&c.voice, "voice")?,
                system_prompt: text_field(&c.system_prompt, "system_prompt")?,
            });
        }
        let mut exercises = Vec::new();
        for (id, e) in &file.exercises {
            let character = text_field(&e.character, "character")?;
            if !characters.iter().any(|c| c.id == character) {
                let known: Vec<&str> = characters.iter().map(|c| c.id.as_str()).collect();
                return Err(invalid(
                    e.character.span().start,
                    format!(
                        "exercise {:?} names the character {character:?}, which is not in the file (characters: {})",
                        id.get_ref(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            exercises.push(Exercise {
                id: check_id(id, "exercise")?,
                title: text_field(&e.title, "title")?,
                character,
                description: text_field(&e.description, "description")?,
                opening: text_field(&e.opening, "opening")?,
                instructions: text_field(&e.instructions, "instructions")?,
                duration_minutes: e.duration_minutes,
                focus: e.focus.clone(),
            });
        }
        if exercises.is_empty() {
            return Err(invalid(
                0,
                "the catalogue has no exercise: add an [exercises.<id>] table".into(),
            ));
        }
        Ok(Catalog {
            characters,
            exercises,
        })
    }

    pub fn exercise(&self, id: &str) -> Option<&Exercise> {
        self.exercises.iter().find(|e| e.id == id)
    }

    pub fn character(&self, id: &str) -> Option<&Character> {
        self.characters.iter().find(|c| c.id == id)
    }

    /// The exercise `id` (or the default one) with its character, or an error listing
    /// the ids that exist.
    pub fn pick(&self, id: Option<&str>) -> Result<(&Exercise, &Character), String> {
        let wanted = id.unwrap_or(DEFAULT_EXERCISE);
        let exercise = self
            .exercise(wanted)
            .or_else(|| {
                if id.is_none() {
                    self.exercises.first()
                } else {
                    None
                }
            })
            .ok_or_else(|| {
                format!(
                    "there is no exercise {wanted:?}; pick one of: {}",
                    self.exercises
                        .iter()
                        .map(|e| e.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let character = self
            .character(&exercise.character)
            .ok_or_else(|| format!("exercise {:?} has no character", exercise.id))?;
        Ok((exercise, character))
    }

    /// The system prompt of `exercise` played by `character`.
    pub fn system_prompt(character: &Character, exercise: &Exercise) -> String {
        format!("{}\n\n{}", character.system_prompt, exercise.instructions)
    }
}

/// Where the catalogue came from, and what was wrong with the file if it was not used.
#[derive(Debug, Clone)]
pub struct LoadedCatalog {
    pub catalog: Catalog,
    /// The file used; `None` for the built-in catalogue.
    pub file: Option<PathBuf>,
    /// Why the file at hand was not used (the built-in one was).
    pub problem: Option<CatalogError>,
}

/// The catalogue at `path` when it exists and is valid; else the built-in one, with the
/// reason when a file was there but could not be used.
pub fn load_or_default(path: Option<&Path>) -> LoadedCatalog {
    let builtin = |problem| LoadedCatalog {
        catalog: Catalog::builtin(),
        file: None,
        problem,
    };
    match path {
        None => builtin(None),
        Some(p) if !p.exists() => builtin(None),
        Some(p) => match Catalog::load(p) {
            Ok(catalog) => LoadedCatalog {
                catalog,
                file: Some(p.to_path_buf()),
                problem: None,
            },
            Err(e) => builtin(Some(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_builtin_catalogue_has_the_guides_characters_and_exercises() {
        let c = Catalog::parse(BUILTIN, "builtin").expect("the shipped catalogue is valid");
        let ids: Vec<&str> = c.exercises.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "conversation_libre",
                "entretien",
                "negociation",
                "premiere_impression",
                "presentation"
            ]
        );
        let names: Vec<&str> = c.characters.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"Marie") && names.contains(&"Thomas"));
        let (exercise, character) = c.pick(Some("entretien")).unwrap();
        assert_eq!(character.id, "recruteur");
        let prompt = Catalog::system_prompt(character, exercise);
        assert!(prompt.contains("recruteuse") && prompt.contains("simulation d'entretien"));
        assert_eq!(c.pick(None).unwrap().0.id, DEFAULT_EXERCISE);
        let err = c.pick(Some("nope")).unwrap_err();
        assert!(err.contains("conversation_libre"), "{err}");
    }

    #[test]
    fn a_broken_file_names_its_line_and_the_default_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("talk.toml");
        std::fs::write(
            &path,
            "[characters.marie]\nname = \"Marie\"\nrole = \"r\"\nvoice = \"v\"\nsystem_prompt = \"p\"\n\n[exercises.x]\ntitle = \"X\"\ncharacter = \"thomas\"\ndescription = \"d\"\nopening = \"o\"\ninstructions = \"i\"\n",
        )
        .unwrap();
        let loaded = load_or_default(Some(&path));
        assert_eq!(loaded.catalog, Catalog::builtin());
        let problem = loaded.problem.expect("a problem").to_string();
        assert!(problem.contains("talk.toml:9:"), "{problem}");
        assert!(problem.contains("\"thomas\""), "{problem}");

        std::fs::write(&path, "[exercises.x]\ntitle = 3\n").unwrap();
        let problem = load_or_default(Some(&path)).problem.unwrap().to_string();
        assert!(problem.contains("talk.toml:2:"), "{problem}");

        std::fs::write(&path, "schema = \"other/2\"\n").unwrap();
        let problem = load_or_default(Some(&path)).problem.unwrap().to_string();
        assert!(
            problem.contains(":1:") && problem.contains("other/2"),
            "{problem}"
        );

        let missing = load_or_default(Some(&dir.path().join("absent.toml")));
        assert!(missing.problem.is_none() && missing.file.is_none());
    }

    #[test]
    fn bad_ids_and_blank_fields_are_refused() {
        let base = |id: &str, reference: &str, prompt: &str| {
            format!(
                "[characters.{id}]\nname = \"N\"\nrole = \"r\"\nvoice = \"v\"\nsystem_prompt = \"{prompt}\"\n[exercises.e]\ntitle = \"T\"\ncharacter = \"{reference}\"\ndescription = \"d\"\nopening = \"o\"\ninstructions = \"i\"\n"
            )
        };
        assert!(Catalog::parse(&base("ok_id", "ok_id", "p"), "f").is_ok());
        let e = Catalog::parse(&base("\"Bad Id\"", "Bad Id", "p"), "f").unwrap_err();
        assert!(e.to_string().contains("f:1:"), "{e}");
        let e = Catalog::parse(&base("a", "a", "  "), "f").unwrap_err();
        assert!(e.to_string().contains("f:5:") && e.to_string().contains("system_prompt"));
        let e = Catalog::parse("", "f").unwrap_err();
        assert!(e.to_string().contains("no exercise"));
    }

    proptest! {
        #[test]
        fn any_text_gives_a_catalogue_or_an_error_with_a_line(text in "\\PC{0,300}") {
            if let Err(CatalogError::Invalid { line, .. }) = Catalog::parse(&text, "f") {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
            }
        }
    }
}
