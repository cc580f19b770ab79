//! `${VAR}` interpolation, as docker compose does it.
//!
//! | form               | value |
//! |--------------------|-------|
//! | `$VAR`, `${VAR}`   | VAR's value; empty when unset |
//! | `${VAR:-default}`  | `default` when VAR is unset **or empty** |
//! | `${VAR-default}`   | `default` when VAR is unset |
//! | `${VAR:?message}`  | an error saying `message` when VAR is unset or empty |
//! | `${VAR?message}`   | an error saying `message` when VAR is unset |
//! | `${VAR:+other}`    | `other` when VAR is set and not empty, else empty |
//! | `${VAR+other}`     | `other` when VAR is set, else empty |
//! | `$$`               | a literal `$` |
//!
//! `default`, `message` and `other` may themselves contain interpolations
//! (`${A:-${B:-x}}`). A `$` not followed by `{`, `$` or a name is kept as it is. A name is
//! `[A-Za-z_][A-Za-z0-9_]*`. Unset variables used without a default are collected in
//! [`Interpolated::unset`] (compose warns about them; so do we). Nesting stops at
//! [`MAX_NESTING`] levels, with an error (no input can exhaust the stack).

/// How deep `${A:-${B:-…}}` may nest.
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {offset})")]
pub struct InterpolationError {
    /// Byte offset in the input where the faulty `${` starts.
    pub offset: usize,
    pub message: String,
}

/// A malformed `${…}` (or a required variable that is unset): fixed by editing the text
/// or setting the variable (`InvalidInput`).
impl greenroom_core::Classified for InterpolationError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interpolated {
    pub value: String,
    /// Variables referenced without a default while unset.
    pub unset: Vec<String>,
}

pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolationError> {
    let mut out = Interpolated::default();
    let rest = expand(input, 0, lookup, &mut out, false, 0)?;
    debug_assert!(rest == input.len());
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `input[start..]` into `out.value`. When `nested`, stops at the `}` that closes
/// the enclosing `${…}` and returns its offset; otherwise runs to the end.
fn expand(
    input: &str,
    start: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Interpolated,
    nested: bool,
    depth: usize,
) -> Result<usize, InterpolationError> {
    let bytes = input.as_bytes();
    let mut i = start;
    while i < input.len() {
        let c = input[i..].chars().next().unwrap_or('\0');
        if nested && c == '}' {
            return Ok(i);
        }
        if c != '$' {
            out.value.push(c);
            i += c.len_utf8();
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.value.push('$');
                i += 2;
            }
            Some(b'{') => i = braced(input, i, lookup, out, depth)?,
            Some(&b) if is_name_start(b as char) => {
                let end = input[i + 1..]
                    .find(|ch: char| !is_name_char(ch))
                    .map_or(input.len(), |n| i + 1 + n);
                let name = &input[i + 1..end];
                match lookup(name) {
                    Some(v) => out.value.push_str(&v),
                    None => out.unset.push(name.to_owned()),
                }
                i = end;
            }
            _ => {
                out.value.push('$');
                i += 1;
            }
        }
    }
    if nested {
        return Err(InterpolationError {
            offset: start,
            message: "`${` is never closed by `}`".into(),
        });
    }
    Ok(i)
}

/// Expands the `${…}` starting at `dollar`; returns the offset just after its `}`.
fn braced(
    input: &str,
    dollar: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Interpolated,
    depth: usize,
) -> Result<usize, InterpolationError> {
    let err = |message: String| InterpolationError {
        offset: dollar,
        message,
    };
    if depth >= MAX_NESTING {
        return Err(err(format!(
            "interpolations nested more than {MAX_NESTING} deep"
        )));
    }
    let name_start = dollar + 2;
    let name_end = input[name_start..]
        .find(|ch: char| !is_name_char(ch))
        .map_or(input.len(), |n| name_start + n);
    let name = &input[name_start..name_end];
    if name.is_empty() || !name.starts_with(is_name_start) {
        let shown: String = input[dollar..].chars().take(20).collect();
        return Err(err(format!(
            "invalid interpolation `{shown}`: expected a variable name after `${{`"
        )));
    }
    let value = lookup(name);
    let rest = &input[name_end..];
    let (op, op_len) = ["}", ":-", "-", ":?", "?", ":+", "+"]
        .iter()
        .find(|op| rest.starts_with(**op))
        .map(|op| (*op, op.len()))
        .ok_or_else(|| {
            if rest.is_empty() {
                err(format!("`${{{name}` is never closed by `}}`"))
            } else {
                let bad: String = rest.chars().take(10).collect();
                err(format!(
                    "invalid interpolation: unexpected `{bad}` after `${{{name}`"
                ))
            }
        })?;
    if op == "}" {
        match value {
            Some(v) => out.value.push_str(&v),
            None => out.unset.push(name.to_owned()),
        }
        return Ok(name_end + 1);
    }
    // The word after the operator, itself interpolated (into a scratch buffer).
    let mut word = Interpolated::default();
    let word_start = name_end + op_len;
    let close =
        expand(input, word_start, lookup, &mut word, true, depth + 1).map_err(|mut e| {
            if !e.message.contains("nested more than") {
                e.offset = dollar;
                e.message = format!("`${{{name}{op}…` is never closed by `}}`");
            }
            e
        })?;
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let chosen = match op {
        ":-" => Some(if non_empty {
            value.unwrap_or_default()
        } else {
            word.value
        }),
        "-" => Some(if set {
            value.unwrap_or_default()
        } else {
            word.value
        }),
        ":?" | "?" => {
            let ok = if op == ":?" { non_empty } else { set };
            if !ok {
                let why = if word.value.is_empty() {
                    format!("required variable {name} is missing a value")
                } else {
                    format!(
                        "required variable {name} is missing a value: {}",
                        word.value
                    )
                };
                return Err(err(why));
            }
            value
        }
        ":+" => Some(if non_empty { word.value } else { String::new() }),
        "+" => Some(if set { word.value } else { String::new() }),
        _ => unreachable!("every operator is matched above"),
    };
    out.value.push_str(&chosen.unwrap_or_default());
    if matches!(op, ":-" | "-") {
        out.unset.extend(word.unset);
    }
    Ok(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(input: &str) -> Result<String, InterpolationError> {
        let lookup = |name: &str| match name {
            "SET" => Some("v".to_owned()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8000".to_owned()),
            _ => None,
        };
        interpolate(input, &lookup).map(|i| i.value)
    }

    #[test]
    fn the_compose_table() {
        let cases = [
            ("$SET ${SET}", "v v"),
            ("${UNSET}", ""),
            ("${UNSET:-d} ${EMPTY:-d} ${SET:-d}", "d d v"),
            ("${UNSET-d} ${EMPTY-d} ${SET-d}", "d  v"),
            ("${SET:+alt} ${EMPTY:+alt} ${UNSET:+alt}", "alt  "),
            ("${SET+alt} ${EMPTY+alt} ${UNSET+alt}", "alt alt "),
            ("$$SET costs $$5", "$SET costs $5"),
            (
                "http://127.0.0.1:${PORT}/health",
                "http://127.0.0.1:8000/health",
            ),
            ("${UNSET:-${PORT:-1}}", "8000"),
            ("${UNSET:-${ALSO_UNSET:-x}}", "x"),
            ("price: 5$ and $ alone", "price: 5$ and $ alone"),
            ("é${SET}ü", "évü"),
        ];
        for (input, want) in cases {
            assert_eq!(env(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn required_variables() {
        let e = env("${UNSET:?set it in .env}").unwrap_err();
        assert_eq!(
            e.message,
            "required variable UNSET is missing a value: set it in .env"
        );
        assert!(env("${EMPTY:?x}").is_err());
        assert_eq!(env("${EMPTY?x}").unwrap(), "");
        assert_eq!(env("${SET:?x}").unwrap(), "v");
    }

    #[test]
    fn malformed_forms_are_errors_with_an_offset() {
        for bad in ["${", "${SET", "${1X}", "${}", "${SET:-x", "a ${SET!}"] {
            let e = env(bad).unwrap_err();
            assert!(e.offset <= bad.len(), "{bad}: {e}");
        }
        assert_eq!(env("ab ${").unwrap_err().offset, 3);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        let err = env(&deep).unwrap_err();
        assert!(err.message.contains("nested more than 32"), "{err}");
        let fine = format!("{}x{}", "${A:-".repeat(10), "}".repeat(10));
        assert_eq!(env(&fine).unwrap(), "x");
    }

    #[test]
    fn unset_variables_are_reported() {
        let lookup = |_: &str| None;
        let r = interpolate("${A} $B ${C:-x} ${D:-${E}}", &lookup).unwrap();
        assert_eq!(r.unset, vec!["A", "B", "E"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = env(&s);
        }

        #[test]
        fn never_panics_on_dollar_soup(s in "[${}:?+\\-A-Z_a-z0-9é ]{0,60}") {
            let _ = env(&s);
        }

        /// Text without `$` comes out unchanged.
        #[test]
        fn text_without_dollars_is_unchanged(s in "[^$]{0,80}") {
            proptest::prop_assert_eq!(env(&s).unwrap(), s);
        }
    }
}
