//! The exercise types the agent (Python) routes, read from its sources without running them.

use crate::rules::Compiled;
use std::collections::BTreeSet;

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

#[cfg(test)]
mod tests {
    use super::*;

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
