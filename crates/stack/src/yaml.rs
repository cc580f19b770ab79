//! A YAML reader that keeps where every value came from.
//!
//! Compose files need three things serde-based YAML crates do not give together: the
//! line and column of every node (for `file:line` in errors), anchors and aliases
//! (`x-common: &base` … `*base`), and merge keys (`<<: *base`). This builds a small tree
//! from yaml-rust2's events. Semantics:
//!
//! - An alias is replaced by a copy of the anchored node (with the anchor's location).
//! - `<<` in a mapping merges the keys of the mapping (or of each mapping in a sequence,
//!   earlier ones winning) that the mapping does not define itself; the `<<` entry is removed.
//! - Plain scalars `~`, `null`, `Null`, `NULL` and the empty plain scalar are null.
//! - Only the first document of a stream is read.
//! - At most [`MAX_NODES`] nodes and [`MAX_EXPANDED_BYTES`] bytes of scalar text are
//!   built, counting every copy an alias makes, so that an alias bomb (many aliases, or a
//!   few of a huge anchored string) is an error, not an out-of-memory; and nesting stops at
//!   [`MAX_DEPTH`] levels.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub const MAX_NODES: usize = 1_000_000;
/// Scalar text the tree may hold, aliases' copies included.
pub const MAX_EXPANDED_BYTES: usize = 64 * 1024 * 1024;
/// How deep sequences and mappings may nest.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub struct YamlNode {
    pub value: YamlValue,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Which file this node came from, when a caller reads several (see [`YamlNode::set_source`]).
    pub source: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YamlValue {
    Null,
    /// `plain` is false for quoted and block scalars (never read as null/bool/number).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<YamlNode>),
    Map(Vec<(YamlNode, YamlNode)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Malformed YAML: the person edits the file (`InvalidInput`).
impl greenroom_core::Classified for YamlError {
    fn kind(&self) -> greenroom_core::ErrorKind {
        greenroom_core::ErrorKind::InvalidInput
    }
}

impl YamlNode {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YamlValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(YamlNode, YamlNode)]> {
        match &self.value {
            YamlValue::Map(entries) => Some(entries),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[YamlNode]> {
        match &self.value {
            YamlValue::Seq(items) => Some(items),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, YamlValue::Null)
    }
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    /// What kind of node this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            YamlValue::Null => "null",
            YamlValue::Scalar { .. } => "a scalar",
            YamlValue::Seq(_) => "a list",
            YamlValue::Map(_) => "a mapping",
        }
    }
    /// Marks this node and everything under it as coming from file `source`.
    pub fn set_source(&mut self, source: usize) {
        self.source = source;
        match &mut self.value {
            YamlValue::Seq(items) => items.iter_mut().for_each(|i| i.set_source(source)),
            YamlValue::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.set_source(source);
                v.set_source(source);
            }),
            _ => {}
        }
    }

    /// How many nodes, and how many bytes of scalar text, this node holds.
    fn size(&self) -> (usize, usize) {
        let add = |(n, b): (usize, usize), (n2, b2): (usize, usize)| (n + n2, b + b2);
        match &self.value {
            YamlValue::Seq(items) => items.iter().map(YamlNode::size).fold((1, 0), add),
            YamlValue::Map(entries) => entries
                .iter()
                .map(|(k, v)| add(k.size(), v.size()))
                .fold((1, 0), add),
            YamlValue::Scalar { text, .. } => (1, text.len()),
            _ => (1, 0),
        }
    }
}

enum Open {
    Seq(YamlNode, usize, Vec<YamlNode>),
    /// The mapping, its anchor, its entries, and a key waiting for its value.
    Map(YamlNode, usize, Vec<(YamlNode, YamlNode)>, Option<YamlNode>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    /// Anchored nodes and their size (nodes, bytes), so that an alias is refused before it
    /// is copied.
    anchors: HashMap<usize, (YamlNode, (usize, usize))>,
    root: Option<YamlNode>,
    nodes: usize,
    bytes: usize,
    error: Option<YamlError>,
    documents: usize,
}

fn at(mark: Marker) -> (usize, usize) {
    (mark.line().max(1), mark.col() + 1)
}

impl Builder {
    /// Why adding `nodes` and `bytes` would be too much, if it would.
    fn over_budget(&self, nodes: usize, bytes: usize) -> Option<String> {
        if self.nodes.saturating_add(nodes) > MAX_NODES {
            Some(format!(
                "more than {MAX_NODES} values (an alias expanding without end?)"
            ))
        } else if self.bytes.saturating_add(bytes) > MAX_EXPANDED_BYTES {
            Some(format!(
                "more than {} MiB of text once aliases are expanded (an alias of a huge value, many times?)",
                MAX_EXPANDED_BYTES / 1024 / 1024
            ))
        } else {
            None
        }
    }

    fn fail(&mut self, mark: Marker, message: impl Into<String>) {
        if self.error.is_none() {
            let (line, column) = at(mark);
            self.error = Some(YamlError {
                line,
                column,
                message: message.into(),
            });
        }
    }

    /// Places a finished node; `added` is how many new nodes and bytes it brings (a copy
    /// made for an alias brings all of its own; a container was counted when it opened).
    fn push_value(&mut self, node: YamlNode, anchor: usize, mark: Marker, added: (usize, usize)) {
        self.nodes += added.0;
        self.bytes += added.1;
        if let Some(message) = self.over_budget(0, 0) {
            self.fail(mark, message);
            return;
        }
        if anchor != 0 {
            let size = node.size();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::Seq(_, _, items)) => items.push(node),
            Some(Open::Map(_, _, entries, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() || self.documents > 1 {
            return;
        }
        let (line, column) = at(mark);
        let blank = |value| YamlNode {
            value,
            line,
            column,
            source: 0,
        };
        match event {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                let value = if plain && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    YamlValue::Null
                } else {
                    YamlValue::Scalar { text, plain }
                };
                let bytes = match &value {
                    YamlValue::Scalar { text, .. } => text.len(),
                    _ => 0,
                };
                self.push_value(blank(value), anchor, mark, (1, bytes));
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((_, size)) if self.over_budget(size.0, size.1).is_some() => {
                    let message = self.over_budget(size.0, size.1).unwrap_or_default();
                    self.fail(mark, message)
                }
                Some((node, size)) => {
                    let (node, size) = (node.clone(), *size);
                    self.push_value(node, 0, mark, size)
                }
                None => self.fail(
                    mark,
                    "an alias refers to an anchor that is not defined before it",
                ),
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.fail(mark, format!("nested more than {MAX_DEPTH} levels deep"));
            }
            Event::SequenceStart(anchor, _) => {
                self.nodes += 1;
                self.stack
                    .push(Open::Seq(blank(YamlValue::Null), anchor, Vec::new()))
            }
            Event::MappingStart(anchor, _) => {
                self.nodes += 1;
                self.stack
                    .push(Open::Map(blank(YamlValue::Null), anchor, Vec::new(), None))
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(mut node, anchor, items)) = self.stack.pop() {
                    node.value = YamlValue::Seq(items);
                    self.push_value(node, anchor, mark, (0, 0));
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, anchor, entries, _)) = self.stack.pop() {
                    match merge_keys(entries) {
                        Ok(entries) => {
                            node.value = YamlValue::Map(entries);
                            self.push_value(node, anchor, mark, (0, 0));
                        }
                        Err((l, c, message)) => {
                            self.error = Some(YamlError {
                                line: l,
                                column: c,
                                message,
                            });
                        }
                    }
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

type MergeError = (usize, usize, String);

fn merge_keys(entries: Vec<(YamlNode, YamlNode)>) -> Result<Vec<(YamlNode, YamlNode)>, MergeError> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged_in = Vec::new();
    for (key, value) in entries {
        if key.as_str() == Some("<<") {
            let sources: Vec<YamlNode> = match value.value {
                YamlValue::Map(_) => vec![value],
                YamlValue::Seq(items) => items,
                _ => {
                    return Err((
                        value.line,
                        value.column,
                        "`<<` must merge a mapping or a list of mappings".into(),
                    ));
                }
            };
            for source in sources {
                match source.value {
                    YamlValue::Map(inner) => merged_in.extend(inner),
                    _ => {
                        return Err((
                            source.line,
                            source.column,
                            "`<<` must merge a mapping or a list of mappings".into(),
                        ));
                    }
                }
            }
        } else {
            own.push((key, value));
        }
    }
    for (key, value) in merged_in {
        let taken = own
            .iter()
            .any(|(k, _)| k.as_str().is_some() && k.as_str() == key.as_str());
        if !taken {
            own.push((key, value));
        }
    }
    Ok(own)
}

/// Reads the first document of `text`. An empty document is `Null` at 1:1.
pub fn parse(text: &str) -> Result<YamlNode, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let (line, column) = at(*e.marker());
        return Err(YamlError {
            line,
            column,
            message: e.info().to_owned(),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root.unwrap_or(YamlNode {
        value: YamlValue::Null,
        line: 1,
        column: 1,
        source: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_columns() {
        let doc = parse("services:\n  redis:\n    image: redis:7\n").unwrap();
        let image = doc
            .get("services")
            .unwrap()
            .get("redis")
            .unwrap()
            .get("image")
            .unwrap();
        assert_eq!(image.as_str(), Some("redis:7"));
        assert_eq!((image.line, image.column), (3, 12));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "x-base: &base\n  restart: always\n  image: base\nservices:\n  a:\n    <<: *base\n    image: mine\n";
        let doc = parse(text).unwrap();
        let a = doc.get("services").unwrap().get("a").unwrap();
        assert_eq!(a.get("image").unwrap().as_str(), Some("mine"));
        assert_eq!(a.get("restart").unwrap().as_str(), Some("always"));
        assert!(a.get("<<").is_none());
    }

    #[test]
    fn nulls_and_quoted_scalars() {
        let doc = parse("a: ~\nb:\nc: 'null'\nd: \"\"\n").unwrap();
        assert!(doc.get("a").unwrap().is_null());
        assert!(doc.get("b").unwrap().is_null());
        assert_eq!(doc.get("c").unwrap().as_str(), Some("null"));
        assert_eq!(doc.get("d").unwrap().as_str(), Some(""));
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("services:\n  a: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }

    #[test]
    fn an_alias_bomb_is_an_error() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias"), "{err}");
    }

    /// Issue 13.13: a few aliases of a big string expanded to gigabytes within the node cap.
    #[test]
    fn an_alias_bomb_by_bytes_is_an_error() {
        let big = "x".repeat(1024 * 1024);
        let mut text = format!("big: &big \"{big}\"\nmany: [");
        for _ in 0..100 {
            text.push_str("*big, ");
        }
        text.push_str("]\n");
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("MiB"), "{err}");
        assert!(err.line >= 2, "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&text).unwrap_err();
        // yaml-rust2 stops at 256 levels itself; ours stops sooner.
        assert!(
            err.message.contains("nested") || err.message.contains("recursion"),
            "{err}"
        );
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nested more than 128"), "{err}");
        let ok = format!("{}1{}", "[".repeat(50), "]".repeat(50));
        assert!(parse(&ok).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_yamlish_text(text in "[a-z:&*<\\[\\]{},\\-'\" \n#!|>]{0,120}") {
            let _ = parse(&text);
        }
    }
}
