//! The offline French coach: a rule and template dialogue engine that answers in the
//! sandbox where Mistral would. No chat model ships in any registry we can reach (see the
//! shared FACTS, "Speech"), so this is what Marie sounds like with no key and no network.
//! It is pure: no I/O, no clock, no global state.
//!
//! # What it reads
//!
//! The OpenAI chat messages exactly as a client sends them: the system prompt(s) and the
//! conversation so far. [`detect`] reads the character and the exercise from the system
//! and developer messages (accents and case ignored):
//!
//! | exercise ([`Exercise`])  | keywords (weight)                                              |
//! |--------------------------|----------------------------------------------------------------|
//! | `FreeConversation`       | "conversation libre" / "discussion libre" (3)                  |
//! | `FirstImpression`        | "première impression" (3), "networking" / "réseautage" (2), "pitch", "événement" (1) |
//! | `Interview`              | "entretien" (3), "recrut…", "embauche", "interview" (2), "candidat" (1) |
//! | `Presentation`           | "présentation", "prise de parole", "audience", "auditoire" (2), "public", "conférence", "storytelling" (1) |
//! | `Negotiation`            | "négoci…" (3), "contrat commercial", "acheteur" (2), "achat", "prix" (1) |
//!
//! The highest total wins; a tie goes to the more specific exercise (negotiation, then
//! interview, first impression, presentation, free conversation); no keyword at all
//! means free conversation.
//! The character ([`Character`]) is the role the prompt names ("recruteur/recruteuse",
//! "audience/auditoire/public engagé"), else the first of "Marie" / "Thomas" it names, else
//! the exercise's own (Marie for free conversation and first impression, the recruiter for
//! the interview, Thomas for presentation and negotiation). A recruiter always runs an
//! interview and an audience always listens to a presentation, whatever else was detected.
//!
//! # What it answers
//!
//! One short turn (at most [`MAX_REPLY_CHARS`] characters, one to three sentences) in the
//! character's voice, and the phase it belongs to ([`Phase`]):
//!
//! - **greeting** — no assistant turn yet: a greeting, a reaction to what the learner said
//!   if they spoke first, and the opening question;
//! - **question** — a reaction that quotes the learner's last message (a name, a figure with
//!   its unit, else the longest noun or content word, always inside « »), then the next
//!   question. Questions come in stages (introduction → motivation → examples → …); a stage
//!   is skipped once any of its variants appears in an earlier assistant turn, so no
//!   question is asked twice in one conversation. An empty message gets "je n'ai pas bien
//!   entendu" and no new question; one in another language gets an invitation to continue
//!   in French; one or two words get an invitation to say more;
//! - **closing** — once the learner has spoken [`CLOSING_AFTER_USER_TURNS`] times: thanks,
//!   one piece of feedback (hesitation words, answers too short or too long, another
//!   language, else what went well) and a goodbye. Turns after the closing get a short
//!   "the session is over" line, still in the closing phase.
//!
//! # Determinism
//!
//! The same messages and the same seed give the same reply, on every platform and every
//! run. With no seed, the seed is [`conversation_seed`], a 64-bit FNV-1a hash of the roles
//! and contents (not `RandomState`, which changes every run). The seed picks among
//! interchangeable variants; it never changes the phase or the stage.

mod scripts;
mod text;

use scripts::Script;
use serde::{Deserialize, Deserializer, Serialize};
use text::Utterance;

/// After this many learner turns, the coach closes the session.
pub const CLOSING_AFTER_USER_TURNS: usize = 5;

/// The longest reply the coach gives, in characters.
pub const MAX_REPLY_CHARS: usize = 300;

/// Who wrote a chat message, as the OpenAI chat API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    /// OpenAI's newer name for a system message; read the same way.
    Developer,
    User,
    Assistant,
    /// `tool`, `function` or any other role: ignored.
    #[serde(other)]
    Other,
}

/// One chat message. `content` reads a string, `null`, or an array of text parts
/// (`[{"type": "text", "text": "…"}]`, parts joined with a space); anything else is a
/// deserialisation error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default, deserialize_with = "content_text")]
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

fn content_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Array(parts) => {
            let mut texts = Vec::new();
            for part in parts {
                match part {
                    serde_json::Value::String(s) => texts.push(s),
                    serde_json::Value::Object(mut o) => match o.remove("text") {
                        Some(serde_json::Value::String(s)) => texts.push(s),
                        // Images, audio…: nothing the coach can read.
                        _ if o.contains_key("type") => {}
                        _ => return Err(D::Error::custom("a content part has no `text`")),
                    },
                    _ => {
                        return Err(D::Error::custom(
                            "content parts must be strings or {\"type\": \"text\", \"text\": …}",
                        ));
                    }
                }
            }
            Ok(texts.join(" "))
        }
        _ => Err(D::Error::custom(
            "`content` must be a string, null or an array of text parts",
        )),
    }
}

/// Who the coach plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Character {
    /// Marie, a caring communication coach.
    Marie,
    /// Thomas, presentation and public-speaking expert (and the buyer in a negotiation).
    Thomas,
    /// The recruiter of an interview simulation.
    Recruiter,
    /// The engaged audience of a presentation.
    Audience,
}

impl Character {
    /// The first name the character introduces itself with, if it has one.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::Marie => Some("Marie"),
            Self::Thomas => Some("Thomas"),
            Self::Recruiter | Self::Audience => None,
        }
    }
}

/// The exercise being practised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exercise {
    FreeConversation,
    FirstImpression,
    Interview,
    Presentation,
    Negotiation,
}

impl Exercise {
    /// The exercise's French title, as the app shows it.
    pub fn title(self) -> &'static str {
        match self {
            Self::FreeConversation => "Conversation libre",
            Self::FirstImpression => "Première impression",
            Self::Interview => "Simulation d'entretien",
            Self::Presentation => "Présentation",
            Self::Negotiation => "Négociation",
        }
    }
}

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Greeting,
    Question,
    Closing,
}

/// The character and exercise a system prompt describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Setting {
    pub character: Character,
    pub exercise: Exercise,
}

/// One coach turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// What the coach says: never empty, at most [`MAX_REPLY_CHARS`] characters.
    pub text: String,
    pub character: Character,
    pub exercise: Exercise,
    pub phase: Phase,
}

/// Lower case, accents folded, apostrophes straightened: what the keyword tables match.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' => out.push('i'),
            'ô' | 'ö' | 'ó' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ç' => out.push('c'),
            'œ' => out.push_str("oe"),
            '’' => out.push('\''),
            _ => out.push(c),
        }
    }
    out
}

const EXERCISE_KEYWORDS: &[(Exercise, &[(&str, u32)])] = &[
    (
        Exercise::FreeConversation,
        &[("conversation libre", 3), ("discussion libre", 3)],
    ),
    (
        Exercise::Presentation,
        &[
            ("presentation", 2),
            ("prise de parole", 2),
            ("audience", 2),
            ("auditoire", 2),
            ("public", 1),
            ("conference", 1),
            ("storytelling", 1),
        ],
    ),
    (
        Exercise::FirstImpression,
        &[
            ("premiere impression", 3),
            ("networking", 2),
            ("reseautage", 2),
            ("pitch", 1),
            ("evenement", 1),
        ],
    ),
    (
        Exercise::Interview,
        &[
            ("entretien", 3),
            ("recrut", 2),
            ("embauche", 2),
            ("interview", 2),
            ("candidat", 1),
        ],
    ),
    (
        Exercise::Negotiation,
        &[
            ("negoci", 3),
            ("contrat commercial", 2),
            ("acheteur", 2),
            ("achat", 1),
            ("prix", 1),
        ],
    ),
];

/// Reads the character and the exercise from a system prompt (see the module docs).
/// The exercise whose keywords weigh most in `folded` text; later rows win ties (they are
/// the more specific exercises).
fn best_exercise(folded: &str) -> Option<Exercise> {
    let mut found = None;
    let mut best = 0;
    for (candidate, keywords) in EXERCISE_KEYWORDS {
        let score: u32 = keywords
            .iter()
            .filter(|(k, _)| folded.contains(k))
            .map(|(_, w)| w)
            .sum();
        if score > 0 && score >= best {
            best = score;
            found = Some(*candidate);
        }
    }
    found
}

pub fn detect(system_prompt: &str) -> Setting {
    let folded = fold(system_prompt);
    // An explicit declaration ("Exercice : négociation commerciale", as Greenroom's talk
    // catalogue writes it) wins over keywords scattered in a character's own prompt.
    let declared = ["exercice :", "exercice:"].iter().find_map(|marker| {
        let at = folded.find(marker)? + marker.len();
        let line: String = folded[at..]
            .chars()
            .take_while(|c| *c != '\n' && *c != '.')
            .collect();
        best_exercise(&line)
    });
    let mut exercise = declared
        .or_else(|| best_exercise(&folded))
        .unwrap_or(Exercise::FreeConversation);
    let has_word = |word: &str| {
        folded
            .match_indices(word)
            .find(|(i, _)| {
                let before = folded[..*i].chars().next_back();
                let after = folded[i + word.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
            .map(|(i, _)| i)
    };
    let role = if folded.contains("recruteu") || folded.contains("charge de recrutement") {
        Some(Character::Recruiter)
    } else if ["audience", "auditoire", "public engage", "spectateur"]
        .iter()
        .any(|k| folded.contains(k))
    {
        Some(Character::Audience)
    } else {
        None
    };
    let named = match (has_word("marie"), has_word("thomas")) {
        (Some(m), Some(t)) => Some(if m <= t {
            Character::Marie
        } else {
            Character::Thomas
        }),
        (Some(_), None) => Some(Character::Marie),
        (None, Some(_)) => Some(Character::Thomas),
        (None, None) => None,
    };
    let mut character = role.or(named).unwrap_or(match exercise {
        Exercise::FreeConversation | Exercise::FirstImpression => Character::Marie,
        Exercise::Interview => Character::Recruiter,
        Exercise::Presentation | Exercise::Negotiation => Character::Thomas,
    });
    match character {
        Character::Recruiter => exercise = Exercise::Interview,
        Character::Audience => exercise = Exercise::Presentation,
        _ if exercise == Exercise::Interview => character = Character::Recruiter,
        _ => {}
    }
    Setting {
        character,
        exercise,
    }
}

fn script(setting: Setting) -> &'static Script {
    match (setting.exercise, setting.character) {
        (Exercise::Interview, _) => &scripts::RECRUITER,
        (Exercise::Negotiation, _) => &scripts::NEGOTIATOR,
        (Exercise::FirstImpression, _) => &scripts::NETWORKING,
        (_, Character::Audience) => &scripts::AUDIENCE,
        (Exercise::Presentation, _) | (_, Character::Thomas) => &scripts::PRESENTATION_COACH,
        _ => &scripts::MARIE_FREE,
    }
}

/// The seed used when the request has none: FNV-1a (64-bit) over every message's role and
/// content. Stable across runs, platforms and versions of Rust.
pub fn conversation_seed(messages: &[Message]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    };
    for m in messages {
        eat(match m.role {
            Role::System => b's',
            Role::Developer => b'd',
            Role::User => b'u',
            Role::Assistant => b'a',
            Role::Other => b'o',
        });
        m.content.bytes().for_each(&mut eat);
        eat(0xff);
    }
    hash
}

/// SplitMix64: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A variant of `items` (which is never empty in the scripts).
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let n = items.len().max(1) as u64;
        items.get((self.next() % n) as usize).copied().unwrap_or("")
    }
}

/// A variant that changes from one turn to the next (acknowledgements): the seed picks
/// where the rotation starts, the turn moves it on, so two turns in a row never say the
/// same line.
fn rotate<'a>(items: &[&'a str], seed: u64, turn: usize) -> &'a str {
    let n = items.len().max(1);
    let start = (seed % n as u64) as usize;
    items.get((start + turn) % n).copied().unwrap_or("")
}

fn fill(template: &str, name: &str, word: Option<&str>) -> String {
    let mut out = template.replace("{nom}", name);
    if let Some(word) = word {
        out = out.replace("{mot}", word);
    }
    out
}

/// Joins the parts, dropping optional ones (from the end) until the reply fits.
fn compose(parts: Vec<(String, bool)>) -> String {
    let mut parts: Vec<(String, bool)> = parts.into_iter().filter(|(p, _)| !p.is_empty()).collect();
    let joined = |parts: &[(String, bool)]| {
        parts
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    while joined(&parts).chars().count() > MAX_REPLY_CHARS {
        match parts.iter().rposition(|(_, optional)| *optional) {
            Some(i) => {
                parts.remove(i);
            }
            None => break,
        }
    }
    let text = joined(&parts);
    if text.chars().count() <= MAX_REPLY_CHARS {
        return text;
    }
    // Unreachable with the scripts as written; keep the promise anyway.
    let cut: String = text.chars().take(MAX_REPLY_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The coach's next turn for this conversation. Never panics, never returns empty text.
pub fn reply(messages: &[Message], seed: Option<u64>) -> Reply {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| matches!(m.role, Role::System | Role::Developer))
        .map(|m| m.content.as_str())
        .collect();
    let setting = detect(&system.join("\n"));
    let script = script(setting);
    let name = setting.character.name().unwrap_or("votre coach");
    let seed = seed.unwrap_or_else(|| conversation_seed(messages));

    let users: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    let assistants: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    // What the learner said since the coach last spoke (nothing if the coach spoke last).
    let last_user = messages
        .iter()
        .rev()
        .find(|m| matches!(m.role, Role::User | Role::Assistant))
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str());
    let turn = users.len();
    let mut rng = Rng(seed ^ (turn as u64).wrapping_mul(0xa076_1d64_78bd_642f));
    let asked = |line: &str| assistants.iter().any(|a| a.contains(line));

    let (phase, text) = if turn >= CLOSING_AFTER_USER_TURNS {
        let closed = script.closings.iter().any(|c| asked(c));
        let text = if closed {
            compose(vec![(rng.pick(script.after_close).to_string(), false)])
        } else {
            compose(vec![
                (rng.pick(script.closings).to_string(), false),
                (feedback(&users, script, &mut rng), false),
                (rng.pick(script.goodbyes).to_string(), true),
            ])
        };
        (Phase::Closing, text)
    } else {
        let utterance = last_user.map(text::analyse);
        let reaction = utterance
            .as_ref()
            .map(|u| reaction(u, script, seed, turn))
            .unwrap_or_default();
        let question = next_question(script, &asked, &mut rng);
        if assistants.is_empty() {
            let greeting = fill(rng.pick(script.greetings), name, None);
            let question = question.unwrap_or("Je vous écoute.");
            let reaction = if matches!(utterance, Some(Utterance::Empty)) {
                String::new()
            } else {
                reaction
            };
            let text = compose(vec![
                (greeting, false),
                (reaction, true),
                (question.to_string(), false),
            ]);
            (Phase::Greeting, text)
        } else {
            let text = match utterance {
                Some(Utterance::Empty) => compose(vec![(reaction, false)]),
                _ => compose(vec![
                    (reaction, true),
                    (question.unwrap_or("Je vous écoute.").to_string(), false),
                ]),
            };
            (Phase::Question, text)
        }
    };
    let text = if text.trim().is_empty() {
        "Je vous écoute.".to_string()
    } else {
        text
    };
    Reply {
        text,
        character: setting.character,
        exercise: setting.exercise,
        phase,
    }
}

/// The reaction to the learner's last message.
fn reaction(utterance: &Utterance, script: &Script, seed: u64, turn: usize) -> String {
    let quoted =
        |templates: &[&str], word: &str| fill(rotate(templates, seed, turn), "", Some(word));
    match utterance {
        Utterance::Empty => rotate(scripts::NOT_HEARD, seed, turn).to_string(),
        Utterance::NotFrench => rotate(scripts::SPEAK_FRENCH, seed, turn).to_string(),
        Utterance::Short { topic: Some(word) } => quoted(scripts::TOO_SHORT_WITH_WORD, word),
        Utterance::Short { topic: None } => rotate(scripts::TOO_SHORT, seed, turn).to_string(),
        Utterance::Answer { topic: Some(word) } => quoted(script.acks, word),
        Utterance::Answer { topic: None } => rotate(script.plain_acks, seed, turn).to_string(),
    }
}

/// The first stage none of whose variants was asked yet, one variant of it; else any
/// variant never asked; else nothing.
fn next_question(
    script: &Script,
    asked: &dyn Fn(&str) -> bool,
    rng: &mut Rng,
) -> Option<&'static str> {
    let stage = script
        .questions
        .iter()
        .find(|stage| !stage.iter().any(|q| asked(q)));
    match stage {
        Some(stage) => Some(rng.pick(stage)),
        None => script
            .questions
            .iter()
            .flat_map(|stage| stage.iter())
            .find(|q| !asked(q))
            .copied(),
    }
}

/// One piece of feedback on the whole session.
fn feedback(users: &[&str], script: &Script, rng: &mut Rng) -> String {
    let spoken: Vec<&str> = users
        .iter()
        .copied()
        .filter(|u| text::word_count(u) > 0)
        .collect();
    let not_french = spoken
        .iter()
        .filter(|u| matches!(text::analyse(u), Utterance::NotFrench))
        .count();
    let words: usize = spoken.iter().map(|u| text::word_count(u)).sum();
    let mut fillers: Vec<(&str, usize)> = Vec::new();
    for filler in spoken.iter().flat_map(|u| text::fillers(u)) {
        match fillers.iter_mut().find(|(f, _)| *f == filler) {
            Some((_, n)) => *n += 1,
            None => fillers.push((filler, 1)),
        }
    }
    let filler_total: usize = fillers.iter().map(|(_, n)| n).sum();
    // The most frequent; the first one heard wins a tie.
    let top_filler = fillers
        .iter()
        .fold(None::<(&str, usize)>, |best, &(f, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((f, n)),
        });
    let average = if spoken.is_empty() {
        0
    } else {
        words / spoken.len()
    };
    if !spoken.is_empty() && not_french * 2 >= spoken.len() {
        scripts::FEEDBACK_FRENCH.to_string()
    } else if let Some((filler, _)) =
        top_filler.filter(|_| filler_total >= 3 || filler_total * 15 >= words.max(1))
    {
        fill(scripts::FEEDBACK_FILLERS, "", Some(filler))
    } else if average < 6 {
        scripts::FEEDBACK_SHORT.to_string()
    } else if average > 60 {
        scripts::FEEDBACK_LONG.to_string()
    } else {
        rng.pick(script.strengths).to_string()
    }
}

#[cfg(test)]
mod tests;
