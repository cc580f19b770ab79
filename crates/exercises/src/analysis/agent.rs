//! The exercise types the agent (Python) routes, read from its sources without running them.

use crate::rules::Compiled;
use std::collections::{BTreeMap, BTreeSet};

/// Where the agent compares the type variable with a literal inside a function that nothing
/// calls: (file, line, function).
pub type Unreached = BTreeMap<String, (String, u32, String)>;

/// How many times `word` occurs in `text` as a whole word (not inside a longer name).
fn words(text: &str, word: &str) -> usize {
    let part = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .filter(|(at, _)| {
            !text[..*at].chars().next_back().is_some_and(part)
                && !text[at + word.len()..].chars().next().is_some_and(part)
        })
        .count()
}

/// The types whose every comparison sits in a function (`def name(`) that no agent file
/// names anywhere else: the agent can never take that branch.
pub fn unreached_types(files: &[(std::path::PathBuf, String)], rules: &Compiled) -> Unreached {
    let var = regex::escape(&rules.rules.agent.type_variable);
    let compare = regex::Regex::new(&format!(
        r#"(?-u:\b){var}[ \t]*==[ \t]*["']([A-Za-z0-9_\-]+)["']|["']([A-Za-z0-9_\-]+)["'][ \t]*==[ \t]*{var}(?-u:\b)"#
    ))
    .expect("a valid regex");
    let def = regex::Regex::new(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z0-9_]+)[ \t]*\(")
        .expect("a valid regex");
    let all: String = files
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Per type: whether some comparison is reachable, and the first unreachable one.
    type Seen = (bool, Option<(String, u32, String)>);
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for (path, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let code = line.split_once('#').map_or(*line, |(c, _)| c);
            for c in compare.captures_iter(code) {
                let Some(t) = c.get(1).or_else(|| c.get(2)) else {
                    continue;
                };
                let indent = line.len() - line.trim_start().len();
                // The innermost `def` above, less indented than this line.
                let mut limit = indent;
                let mut function = None;
                for above in lines[..n].iter().rev() {
                    if let Some(d) = def.captures(above)
                        && d[1].len() < limit
                    {
                        function = Some(d[2].to_owned());
                        break;
                    }
                    let ind = above.len() - above.trim_start().len();
                    if !above.trim().is_empty()
                        && ind < limit
                        && !above.trim_start().starts_with('#')
                    {
                        limit = ind;
                    }
                }
                let called = function.as_ref().is_none_or(|f| words(&all, f) > 1);
                let entry = seen.entry(t.as_str().to_owned()).or_insert((false, None));
                if called {
                    entry.0 = true;
                } else if entry.1.is_none() {
                    entry.1 = Some((
                        path.display().to_string(),
                        n as u32 + 1,
                        function.unwrap_or_default(),
                    ));
                }
            }
        }
    }
    seen.into_iter()
        .filter(|(_, (reached, _))| !reached)
        .filter_map(|(t, (_, at))| at.map(|a| (t, a)))
        .collect()
}

/// Exercise types the agent routes: literals compared with the type variable, and keys of
/// the route tables.
pub fn agent_types(files: &[(std::path::PathBuf, String)], rules: &Compiled) -> BTreeSet<String> {
    let var = regex::escape(&rules.rules.agent.type_variable);
    let compare = regex::Regex::new(&format!(
        r#"(?-u:\b){var}[ \t]*==[ \t]*["']([A-Za-z0-9_\-]+)["']|["']([A-Za-z0-9_\-]+)["'][ \t]*==[ \t]*{var}(?-u:\b)"#
    ))
    .expect("a valid regex");
    let membership = regex::Regex::new(&format!(
        r#"(?-u:\b){var}[ \t]+in[ \t]*[\(\[\{{]([^\)\]\}}]*)"#
    ))
    .expect("a valid regex");
    let literal = regex::Regex::new(r#"["']([A-Za-z0-9_\-]+)["']"#).expect("a valid regex");
    let table = regex::Regex::new(r"(?m)^[ \t]*([A-Za-z0-9_]+)[ \t]*(?::[^=\n]*)?=[ \t\r\n]*\{")
        .expect("a valid regex");
    let key = regex::Regex::new(r#"["']([A-Za-z0-9_\-]+)["'][ \t\r\n]*:"#).expect("a valid regex");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comparison_in_a_function_nothing_calls_is_unreached() {
        let py = r#"
class Manager:
    @staticmethod
    def from_metadata(meta):
        exercise_type = meta.get("exercise_type")
        if exercise_type == "job_interview":
            return 1
        elif exercise_type == "confidence_boost":
            return 2

def route(exercise_type):
    if exercise_type == "confidence_boost":  # reached: route() is called below
        return 3

route("x")
"#;
        let files = [(std::path::PathBuf::from("main.py"), py.to_owned())];
        let unreached = unreached_types(&files, &Compiled::default_rules());
        assert_eq!(
            unreached.into_iter().collect::<Vec<_>>(),
            [(
                "job_interview".to_owned(),
                ("main.py".to_owned(), 6, "from_metadata".to_owned())
            )]
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
