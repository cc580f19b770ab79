//! `.env` files, as docker compose reads them.
//!
//! One `KEY=VALUE` per line; blank lines and lines starting with `#` are skipped; an
//! optional `export ` prefix is allowed. Values:
//! - unquoted: trimmed, and a ` #` starts a comment; interpolated;
//! - `"double quoted"`: `\n`, `\t`, `\"`, `\\` escapes; interpolated;
//! - `'single quoted'`: literal.
//!
//! Interpolation sees the variables defined earlier in the same file, then `outer`
//! (the process environment, for compose). A line that is not `KEY=VALUE` is an error
//! with its line number; the caller adds the file name.

use crate::interpolate::interpolate;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

/// A malformed env file: the person edits it (`InvalidInput`).
impl greenroom_core::Classified for DotenvError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

pub fn parse(
    text: &str,
    outer: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, DotenvError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_start_matches('\u{feff}').trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let trimmed = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(DotenvError {
                line,
                message: format!(
                    "expected KEY=VALUE, found `{}`",
                    trimmed.chars().take(40).collect::<String>()
                ),
            });
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(DotenvError {
                line,
                message: format!("`{key}` is not a valid variable name"),
            });
        }
        let value = value.trim();
        let interpolate_with = |v: &str, vars: &BTreeMap<String, String>| {
            let lookup = |name: &str| vars.get(name).cloned().or_else(|| outer(name));
            interpolate(v, &lookup)
                .map(|i| i.value)
                .map_err(|e| DotenvError {
                    line,
                    message: e.message,
                })
        };
        let parsed = if let Some(inner) = value.strip_prefix('\'') {
            let end = inner.find('\'').ok_or_else(|| DotenvError {
                line,
                message: "a single-quoted value is never closed".into(),
            })?;
            inner[..end].to_owned()
        } else if let Some(inner) = value.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = inner.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some(other) => out.push(other),
                        None => out.push('\\'),
                    },
                    c => out.push(c),
                }
            }
            if !closed {
                return Err(DotenvError {
                    line,
                    message: "a double-quoted value is never closed".into(),
                });
            }
            interpolate_with(&out, &vars)?
        } else {
            let unquoted = match value.find(" #") {
                Some(n) => value[..n].trim_end(),
                None => value,
            };
            interpolate_with(unquoted, &vars)?
        };
        vars.insert(key.to_owned(), parsed);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_compose_reads() {
        let text = "# comment\n\nexport A=1\nB = two words # note\nC='lit ${A}'\nD=\"x\\ny ${A}\"\nE=${A}${B}\nF=\n";
        let vars = parse(text, &|_| None).unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "lit ${A}");
        assert_eq!(vars["D"], "x\ny 1");
        assert_eq!(vars["E"], "1two words");
        assert_eq!(vars["F"], "");
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse("A=1\nnot a pair\n", &|_| None).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("A=\"open\n", &|_| None).unwrap_err();
        assert_eq!(e.line, 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s, &|_| None);
        }
    }
}
