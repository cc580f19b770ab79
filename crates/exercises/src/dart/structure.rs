//! The structural pass: what a Dart file declares and does, from its tokens.
//!
//! It is not a parser of all of Dart: it finds what the exercise rules need, tolerantly.
//! - imports (`import 'uri' [as p] [show …];`, `export`, `part`);
//! - classes, mixins and enums at the top level (extensions and extension types are
//!   passed over whole, their bodies included): modifiers
//!   (`abstract`, `base`, `final`, `sealed`, `interface`, `mixin class`), type parameters,
//!   `extends` (with its type arguments, which may hold function types such as
//!   `void Function()` and records such as `(int, int)`), `with`, `implements`, `on`;
//! - members of a class: fields (name, type, line) and methods (name, line, `@override`,
//!   and what their body calls); a member whose type is a record (`(int, String) pair()`)
//!   is told from a parameter list by what follows the parentheses;
//! - calls in a method: `name(`, `receiver.name(`, constructor calls (`const`/`new` optional),
//!   with the string literal arguments, named string arguments (`type: 'x'`), and whether
//!   the call sits inside a `try` block or is followed by `.catchError(`.
//!
//! Anything it does not understand is skipped, never fatal; and if it ever panics on a
//! file, [`read_guarded`] turns that into a reason, so the scan skips the file and a
//! watcher lives on.

use super::lexer::{Text, Token, TokenKind, lex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub uri: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: Text,
    /// `x` in `x.name(` (the last identifier before the dot), when there is one.
    pub receiver: Option<Text>,
    pub line: u32,
    /// String literals passed positionally, in order.
    pub string_args: Vec<String>,
    /// `name: 'literal'` arguments.
    pub named_string_args: Vec<(String, String)>,
    /// Inside a `try { … }` block, or followed by `.catchError(` / `.onError(`.
    pub handled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The type's name without arguments or `?` (`StreamSubscription`, `Timer`), when written.
    pub type_name: Option<String>,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    pub line: u32,
    pub is_override: bool,
    pub calls: Vec<Call>,
    /// The body's token range in the file's [`DartFile::tokens`] (`{`/`=>` excluded); empty
    /// for a method without a body.
    pub body: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub line: u32,
    /// `class`, `mixin` or `enum`.
    pub keyword: String,
    pub modifiers: Vec<String>,
    pub superclass: Option<String>,
    /// Type arguments of the superclass (`State<FooScreen>` → `["FooScreen"]`).
    pub superclass_args: Vec<String>,
    pub mixins: Vec<String>,
    pub interfaces: Vec<String>,
    pub fields: Vec<Field>,
    pub methods: Vec<Method>,
    /// The body's token range in the file's [`DartFile::tokens`] (braces excluded).
    pub body: std::ops::Range<usize>,
}

impl DartFile {
    /// Every string literal: (text, line, interpolated).
    pub fn strings(&self) -> impl Iterator<Item = (&str, u32, bool)> {
        self.tokens.iter().filter_map(|t| match t.kind {
            TokenKind::Str { interpolated } => Some((t.text.as_str(), t.line, interpolated)),
            _ => None,
        })
    }
}

impl Class {
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct DartFile {
    pub imports: Vec<Import>,
    pub classes: Vec<Class>,
    pub tokens: Vec<Token>,
}

pub fn read(source: &str) -> DartFile {
    let tokens = lex(source);
    let mut file = read_tokens(&Index::new(&tokens));
    file.tokens = tokens;
    file
}

/// [`read`], with a panic of the reader turned into the reason to skip the file.
pub fn read_guarded(source: &str) -> Result<DartFile, String> {
    guarded(|| read(source))
}

fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!(
            "Greenroom's Dart reader failed on this file ({what}); it is skipped. Please report it with the file"
        )
    })
}

/// Whether the `(` at `i` may sit inside a type argument list: a function type's
/// parameters (`Function(`), or a record type (`<(` or `, (`).
fn paren_in_type(tokens: &[Token], i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|p| tokens.get(p))
        .is_some_and(|p| p.is("Function") || p.is("<") || p.is(","))
}

/// Whether the `{` at `i` may sit inside a type argument list: the named fields of a
/// record type (`({int a})`, `(int, {String name})`) or of a function type's parameters.
fn brace_in_type(tokens: &[Token], i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|p| tokens.get(p))
        .is_some_and(|p| p.is("(") || p.is(","))
}

/// What the structural pass asks of a file's tokens again and again, computed once, in
/// one pass over them: where each bracket closes, where the `try` blocks are, and the
/// bracket depth of every string literal (so a call's string arguments are found without
/// walking its nested arguments).
struct Index<'t> {
    tokens: &'t [Token],
    /// For each token, the index of the bracket closing it, or [`Index::NONE`]: exactly
    /// what [`matching`] answers for a punctuation token.
    close: Vec<u32>,
    /// Bracket depth before each token (and after the last one): `(`, `[` and `{` count
    /// one up, `)`, `]` and `}` one down, whatever their kinds (as `calls_in` counts them).
    depth: Vec<i32>,
    /// (depth, index) of every string literal, sorted.
    strings: Vec<(i32, u32)>,
    /// `try {`: (index of `try`, index of the `}` closing its block), in order.
    tries: Vec<(usize, usize)>,
}

impl<'t> Index<'t> {
    const NONE: u32 = u32::MAX;

    fn new(tokens: &'t [Token]) -> Self {
        let n = tokens.len();
        let mut close = vec![Self::NONE; n];
        let mut depth = Vec::with_capacity(n + 1);
        let mut strings = Vec::new();
        // Open brackets waiting for their close, by kind: ( [ { <
        let mut open: [Vec<u32>; 4] = Default::default();
        let mut d = 0i32;
        for (i, t) in tokens.iter().enumerate() {
            depth.push(d);
            match t.kind {
                TokenKind::Punct => {}
                TokenKind::Str { .. } => {
                    strings.push((d, i as u32));
                    continue;
                }
                _ => continue,
            }
            let (kind, opens) = match t.text.as_str() {
                "(" => (0, true),
                "[" => (1, true),
                "{" => (2, true),
                "<" => (3, true),
                ")" => (0, false),
                "]" => (1, false),
                "}" => (2, false),
                ">" => (3, false),
                ";" => {
                    // A `<` still open here was not a type argument list.
                    open[3].clear();
                    continue;
                }
                _ => continue,
            };
            if kind < 3 {
                d += if opens { 1 } else { -1 };
            }
            if opens {
                if (kind == 2 && !brace_in_type(tokens, i))
                    || (kind == 0 && !paren_in_type(tokens, i))
                {
                    open[3].clear();
                }
                open[kind].push(i as u32);
            } else if let Some(o) = open[kind].pop() {
                close[o as usize] = i as u32;
            }
        }
        depth.push(d);
        strings.sort_unstable();
        let mut tries = Vec::new();
        for i in 0..n.saturating_sub(1) {
            if tokens[i].is("try") && tokens[i + 1].is("{") && close[i + 1] != Self::NONE {
                tries.push((i, close[i + 1] as usize));
            }
        }
        Self {
            tokens,
            close,
            depth,
            strings,
            tries,
        }
    }

    /// [`matching`], looked up (`open` is a punctuation token, or out of range).
    fn matching(&self, open: usize) -> Option<usize> {
        self.close
            .get(open)
            .filter(|c| **c != Self::NONE)
            .map(|c| *c as usize)
    }

    /// Index just past the next `what` at this nesting level.
    fn skip_past(&self, from: usize, what: &str) -> usize {
        let tokens = self.tokens;
        let mut i = from;
        while i < tokens.len() {
            if tokens[i].is(what) {
                return i + 1;
            }
            if tokens[i].is("{") || tokens[i].is("(") || tokens[i].is("[") {
                i = self.matching(i).map_or(tokens.len(), |e| e + 1);
                continue;
            }
            i += 1;
        }
        tokens.len()
    }
}

fn read_tokens(ix: &Index) -> DartFile {
    let tokens = ix.tokens;
    let mut file = DartFile::default();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is("import") || t.is("export") || t.is("part") {
            if let Some(uri) = tokens.get(i + 1).filter(|n| n.is_str()) {
                file.imports.push(Import {
                    uri: uri.text.to_string(),
                    line: t.line,
                });
            }
            i = ix.skip_past(i, ";");
            continue;
        }
        if t.is("class") || t.is("mixin") || t.is("enum") {
            // `mixin class` is a class.
            if t.is("mixin") && tokens.get(i + 1).is_some_and(|n| n.is("class")) {
                i += 1;
                continue;
            }
            if let Some((class, end)) = class_at(ix, i, i + 1, t.text.as_str()) {
                file.classes.push(class);
                i = end;
                continue;
            }
        }
        // Extensions and extension types declare no screens or states: their headers (an
        // extension type's representation, `on` clauses) are passed and their bodies
        // skipped whole below.
        if t.is("{") {
            i = ix.matching(i).map_or(tokens.len(), |e| e + 1);
            continue;
        }
        i += 1;
    }
    file
}

/// The index of the bracket closing the one at `open` (`{`, `(`, `[`, `<`): the first
/// closing punctuation of its kind that brings the count of its kind back to zero; for
/// `<`, `None` when a `;`, or a `{` or `(` that cannot be part of a type (see
/// [`paren_in_type`], [`brace_in_type`]) comes first (not a type argument list after all).
/// A linear scan: the structural pass looks the answer up in a table built once per file.
pub fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let (o, c) = match tokens.get(open)?.text.as_str() {
        "{" => ("{", "}"),
        "(" => ("(", ")"),
        "[" => ("[", "]"),
        "<" => ("<", ">"),
        _ => return None,
    };
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.kind != TokenKind::Punct {
            continue;
        }
        if t.text == o {
            depth += 1;
        } else if t.text == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        } else if o == "<"
            && (t.text == ";"
                || (t.text == "{" && !brace_in_type(tokens, i))
                || (t.text == "(" && !paren_in_type(tokens, i)))
        {
            return None; // not a type argument list after all
        }
    }
    None
}

/// Identifiers of a type list (`A, B<C>, D`) from `from` until one of `stops`.
fn type_names(ix: &Index, mut i: usize, stops: &[&str]) -> (Vec<String>, usize) {
    let tokens = ix.tokens;
    let mut names = Vec::new();
    while i < tokens.len() && !stops.iter().any(|s| tokens[i].is(s)) {
        let t = &tokens[i];
        if t.is_ident() {
            names.push(t.text.to_string());
            if tokens.get(i + 1).is_some_and(|n| n.is("<")) {
                i = ix.matching(i + 1).map_or(i + 1, |e| e + 1);
                continue;
            }
        }
        i += 1;
    }
    (names, i)
}

/// The declaration whose keyword starts at `at` and whose name is at `name_at`.
fn class_at(ix: &Index, at: usize, name_at: usize, keyword: &str) -> Option<(Class, usize)> {
    let tokens = ix.tokens;
    let keyword = keyword.to_owned();
    let name_tok = tokens.get(name_at).filter(|t| t.is_ident())?;
    let mut modifiers = Vec::new();
    let mut back = at;
    while back > 0 {
        let prev = &tokens[back - 1];
        if ["abstract", "base", "final", "sealed", "interface", "mixin"]
            .contains(&prev.text.as_str())
            && prev.is_ident()
        {
            modifiers.push(prev.text.to_string());
            back -= 1;
        } else {
            break;
        }
    }
    let mut i = name_at + 1;
    if tokens.get(i).is_some_and(|t| t.is("<")) {
        i = ix.matching(i).map_or(i + 1, |e| e + 1);
    }
    let mut class = Class {
        name: name_tok.text.to_string(),
        line: name_tok.line,
        keyword,
        modifiers,
        superclass: None,
        superclass_args: Vec::new(),
        mixins: Vec::new(),
        interfaces: Vec::new(),
        fields: Vec::new(),
        methods: Vec::new(),
        body: 0..0,
    };
    let header_stops = ["extends", "with", "implements", "on", "{", ";"];
    while i < tokens.len() && !tokens[i].is("{") && !tokens[i].is(";") {
        let t = &tokens[i];
        if t.is("extends") {
            if let Some(sup) = tokens.get(i + 1).filter(|t| t.is_ident()) {
                class.superclass = Some(sup.text.to_string());
                if tokens.get(i + 2).is_some_and(|n| n.is("<")) {
                    // An unclosed `<` (a header being typed): no type arguments.
                    let end = ix.matching(i + 2).unwrap_or(i + 2);
                    class.superclass_args = tokens
                        .get(i + 3..end)
                        .unwrap_or_default()
                        .iter()
                        .filter(|t| t.is_ident())
                        .map(|t| t.text.to_string())
                        .collect();
                    i = end + 1;
                    continue;
                }
            }
            i += 2;
        } else if t.is("with") || t.is("implements") || t.is("on") {
            let (names, next) = type_names(ix, i + 1, &header_stops);
            if t.is("with") {
                class.mixins = names;
            } else if t.is("implements") {
                class.interfaces = names;
            } else {
                class
                    .superclass
                    .get_or_insert_with(|| names.first().cloned().unwrap_or_default());
            }
            i = next;
        } else {
            i += 1;
        }
    }
    if !tokens.get(i).is_some_and(|t| t.is("{")) {
        return Some((class, i + 1));
    }
    let close = ix.matching(i).unwrap_or(tokens.len().saturating_sub(1));
    class.body = (i + 1).min(close)..close;
    members(ix, i + 1, close, &mut class);
    Some((class, close + 1))
}

/// Fields and methods between `from` and `to` (the class body, braces excluded).
fn members(ix: &Index, from: usize, to: usize, class: &mut Class) {
    let tokens = ix.tokens;
    let mut i = from;
    let mut is_override = false;
    while i < to {
        let t = &tokens[i];
        if t.kind == TokenKind::Annotation {
            is_override |= t.text == "override";
            // Skip an annotation's arguments: `@Deprecated('x')`.
            if tokens.get(i + 1).is_some_and(|n| n.is("(")) {
                i = ix.matching(i + 1).map_or(to, |e| e + 1);
            } else {
                i += 1;
            }
            continue;
        }
        // One member: up to `;` at this level, or through a `{ … }` body.
        let start = i;
        let mut paren_at = None;
        let mut saw_assign = false;
        let mut end = to;
        let mut body = None;
        let mut j = i;
        while j < to {
            let tj = &tokens[j];
            if tj.is("(") {
                let close = ix.matching(j);
                // `(int, String) pair()`: parentheses followed by a name (or `?` and a
                // name) are a record type, not the parameter list.
                let is_record_type = close.is_some_and(|c| {
                    let after = |k: usize| tokens.get(c + k).filter(|_| c + k < to);
                    let named = |t: Option<&Token>| {
                        t.is_some_and(|t| {
                            t.is_ident() && !["async", "sync"].contains(&t.text.as_str())
                        })
                    };
                    named(after(1)) || (after(1).is_some_and(|t| t.is("?")) && named(after(2)))
                });
                if paren_at.is_none() && !saw_assign && !is_record_type {
                    paren_at = Some(j);
                }
                j = close.map_or(to, |e| e + 1);
                continue;
            }
            if tj.is("[") {
                j = ix.matching(j).map_or(to, |e| e + 1);
                continue;
            }
            if tj.is("=") {
                saw_assign = true;
            }
            if tj.is("=>") {
                let semi = ix.skip_past(j, ";").min(to);
                body = Some((j + 1, semi.saturating_sub(1)));
                end = semi;
                break;
            }
            if tj.is("{") {
                let close = ix.matching(j).unwrap_or(to);
                if (paren_at.is_some() || getter_name(&tokens[start..j]).is_some()) && !saw_assign {
                    body = Some((j + 1, close));
                    end = close + 1;
                    break;
                }
                j = close + 1;
                continue;
            }
            if tj.is(";") {
                end = j + 1;
                break;
            }
            j += 1;
        }
        // A getter (`get name {` / `get name =>`) is a method without parameters.
        let getter = body.and_then(|(b0, _)| getter_name(&tokens[start..b0]));
        let method = match (getter, paren_at) {
            (Some(name), _) => Some((Some(name), body.map_or(start, |(b0, _)| b0))),
            (None, Some(p)) if !(saw_assign && body.is_none()) => {
                Some((tokens[start..p].iter().rev().find(|t| t.is_ident()), p))
            }
            _ => None,
        };
        if let Some((name_tok, p)) = method {
            if let Some(name_tok) = name_tok {
                let (b0, b1) = body.unwrap_or((p, p));
                // `=> }` (a body being typed) is empty.
                let b1 = b1.min(tokens.len()).max(b0.min(tokens.len()));
                class.methods.push(Method {
                    name: name_tok.text.to_string(),
                    line: name_tok.line,
                    is_override,
                    calls: calls_in(ix, b0, b1),
                    body: b0..b1.min(tokens.len()),
                });
            }
        } else {
            // A field: the identifier before `=`/`;`/`,`; its type, the first non-keyword identifier.
            let stop = tokens[start..end.min(to)]
                .iter()
                .position(|t| t.is("=") || t.is(";"))
                .map_or(end.min(to), |p| start + p);
            let idents: Vec<&Token> = tokens[start..stop]
                .iter()
                .filter(|t| {
                    t.is_ident()
                        && ![
                            "late",
                            "final",
                            "static",
                            "const",
                            "var",
                            "external",
                            "covariant",
                        ]
                        .contains(&t.text.as_str())
                })
                .collect();
            if let Some(name) = idents.last() {
                let type_name = (idents.len() > 1).then(|| idents[0].text.to_string());
                class.fields.push(Field {
                    name: name.text.to_string(),
                    type_name,
                    line: name.line,
                });
            }
        }
        is_override = false;
        i = end.max(i + 1);
    }
}

/// The name of a getter declared by a member's head (`static String get url`), if it is one.
fn getter_name(head: &[Token]) -> Option<&Token> {
    let at = head.iter().position(|t| t.is("get"))?;
    head.get(at + 1)
        .filter(|t| t.is_ident() && head.get(at + 2).is_none_or(|n| n.is("{") || n.is("=>")))
}

/// The calls between token indexes `from` and `to`.
fn calls_in(ix: &Index, from: usize, to: usize) -> Vec<Call> {
    let tokens = ix.tokens;
    let to = to.min(tokens.len());
    // The `try { … }` blocks whose `try` is in the range, as token ranges.
    let tries = {
        let lo = ix.tries.partition_point(|t| t.0 < from);
        let hi = ix.tries.partition_point(|t| t.0 < to).max(lo);
        &ix.tries[lo..hi]
    };
    let mut calls = Vec::new();
    for i in from..to {
        let t = &tokens[i];
        if !t.is_ident() {
            continue;
        }
        let mut open = i + 1;
        if tokens.get(open).is_some_and(|n| n.is("<")) {
            match ix.matching(open) {
                Some(e) => open = e + 1,
                None => continue,
            }
        }
        if !tokens.get(open).is_some_and(|n| n.is("(")) {
            continue;
        }
        if i > 0
            && (tokens[i - 1].is("class") || tokens[i - 1].is("void") || tokens[i - 1].is("fun"))
        {
            continue;
        }
        if [
            "if", "for", "while", "switch", "catch", "return", "assert", "super", "this",
        ]
        .contains(&t.text.as_str())
        {
            continue;
        }
        let close = ix.matching(open).unwrap_or(to.saturating_sub(1));
        let receiver = if i >= 2
            && (tokens[i - 1].is(".") || tokens[i - 1].is("?.") || tokens[i - 1].is(".."))
        {
            let r = &tokens[i - 2];
            if r.is_ident() {
                Some(r.text.clone())
            } else if r.is(")") {
                Some(Text::from_static(")"))
            } else {
                None
            }
        } else {
            None
        };
        // The string literals at the call's own level: those between `open` and `close`
        // whose bracket depth is the depth just inside `open`.
        let mut string_args = Vec::new();
        let mut named_string_args = Vec::new();
        if open + 1 < close {
            let level = ix.depth[open + 1];
            let lo = ix
                .strings
                .partition_point(|&s| s < (level, (open + 1) as u32));
            let hi = ix.strings.partition_point(|&s| s < (level, close as u32));
            for &(_, k) in &ix.strings[lo..hi.max(lo)] {
                let k = k as usize;
                let tk = &tokens[k];
                let named = k >= 2 && tokens[k - 1].is(":") && tokens[k - 2].is_ident();
                if named {
                    named_string_args.push((tokens[k - 2].text.to_string(), tk.text.to_string()));
                } else if k == open + 1 || tokens[k - 1].is(",") {
                    string_args.push(tk.text.to_string());
                }
            }
        }
        let caught_after = tokens.get(close + 1).is_some_and(|d| d.is("."))
            && tokens
                .get(close + 2)
                .is_some_and(|n| n.is("catchError") || n.is("onError"));
        let in_try = tries.iter().any(|&(a, b)| a + 1 < i && i < b);
        calls.push(Call {
            name: t.text.clone(),
            receiver,
            line: t.line,
            string_args,
            named_string_args,
            handled: in_try || caught_after,
        });
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: &str = r#"
import 'package:flutter/material.dart';
import '../services/livekit_service.dart' as lk show LiveKitService;

/// A screen: `class NotThis extends StatefulWidget` in a comment must not count.
class CosmicVoiceScreen extends ConsumerStatefulWidget with ExerciseLiveKitMixin implements Trackable {
  const CosmicVoiceScreen({super.key});
  @override
  ConsumerState<CosmicVoiceScreen> createState() => _CosmicVoiceScreenState();
}

final class _CosmicVoiceScreenState extends ConsumerState<CosmicVoiceScreen> {
  late AnimationController _controller;
  StreamSubscription<String>? _sub;
  Timer? _timer;
  final String title = 'Voix cosmique';

  @override
  void initState() {
    super.initState();
    initAudio(exerciseType: 'cosmic_voice');
    _controller = AnimationController(vsync: this);
  }

  Future<void> connect() async {
    try {
      await service.connect('ws://localhost:7880');
    } catch (e) {
      log('failed $e');
    }
    http.get(Uri.parse('http://localhost:8005/api')).catchError((e) => null);
    http.post(Uri.parse('http://localhost:8004/token'));
  }

  @override
  void dispose() {
    _controller.dispose();
    _sub?.cancel();
    super.dispose();
  }

  @override
  Widget build(BuildContext context) => Text('${title}!');
}

sealed class Shape {}
mixin class Both {}
enum Mode { a, b }
"#;

    #[test]
    fn reads_classes_with_their_headers() {
        let f = read(SCREEN);
        let names: Vec<&str> = f.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CosmicVoiceScreen",
                "_CosmicVoiceScreenState",
                "Shape",
                "Both",
                "Mode"
            ]
        );
        let screen = &f.classes[0];
        assert_eq!(screen.superclass.as_deref(), Some("ConsumerStatefulWidget"));
        assert_eq!(screen.mixins, ["ExerciseLiveKitMixin"]);
        assert_eq!(screen.interfaces, ["Trackable"]);
        assert_eq!(screen.line, 6);
        let state = &f.classes[1];
        assert_eq!(
            (
                state.superclass.as_deref(),
                state.superclass_args.as_slice()
            ),
            (Some("ConsumerState"), &["CosmicVoiceScreen".to_owned()][..])
        );
        assert_eq!(state.modifiers, ["final"]);
        assert_eq!(f.classes[2].modifiers, ["sealed"]);
        assert_eq!(
            f.imports.iter().map(|i| i.uri.as_str()).collect::<Vec<_>>(),
            [
                "package:flutter/material.dart",
                "../services/livekit_service.dart"
            ]
        );
    }

    #[test]
    fn reads_fields_methods_and_calls() {
        let f = read(SCREEN);
        let state = &f.classes[1];
        let fields: Vec<(&str, Option<&str>)> = state
            .fields
            .iter()
            .map(|x| (x.name.as_str(), x.type_name.as_deref()))
            .collect();
        assert_eq!(
            fields,
            [
                ("_controller", Some("AnimationController")),
                ("_sub", Some("StreamSubscription")),
                ("_timer", Some("Timer")),
                ("title", Some("String"))
            ]
        );
        let init = state.method("initState").unwrap();
        assert!(init.is_override);
        let audio = init.calls.iter().find(|c| c.name == "initAudio").unwrap();
        assert_eq!(
            audio.named_string_args,
            [("exerciseType".to_owned(), "cosmic_voice".to_owned())]
        );
        let dispose = state.method("dispose").unwrap();
        let released: Vec<(Option<&str>, &str)> = dispose
            .calls
            .iter()
            .map(|c| (c.receiver.as_deref(), c.name.as_str()))
            .collect();
        assert!(
            released.contains(&(Some("_controller"), "dispose"))
                && released.contains(&(Some("_sub"), "cancel")),
            "{released:?}"
        );
        let connect = state.method("connect").unwrap();
        let net: Vec<(&str, bool)> = connect
            .calls
            .iter()
            .filter(|c| ["connect", "get", "post"].contains(&c.name.as_str()))
            .map(|c| (c.name.as_str(), c.handled))
            .collect();
        assert_eq!(net, [("connect", true), ("get", true), ("post", false)]);
        assert_eq!(
            connect
                .calls
                .iter()
                .find(|c| c.name == "connect")
                .unwrap()
                .string_args,
            ["ws://localhost:7880"]
        );
        assert!(state.method("build").is_some());
    }

    #[test]
    fn reads_modern_dart_headers_and_members() {
        let f = read(
            r#"
sealed class S {}
base class T extends S {}
interface class V {}
abstract final class U {}
class A extends B<void Function()> with M implements I {
  (int, String) pair() => (1, 'a');
  (int, {String name})? maybe() => null;
  final Function(int) onTap;
  static (int, int) origin = (0, 0);
  void f() {
    switch (shape) {
      case Square(length: var l) when l > 0:
        g();
      case (int a, int b):
        h(a, b);
    }
    final (x, y) = pair();
  }
  @override
  Widget build(BuildContext context) => const Text('a');
}
class R extends Base<(int, int)> { void r() {} }
class F extends Holder<int Function(String), Map<String, (int, int)>> { void k() {} }
extension type Meters(double value) implements Comparable<Meters> { int get whole => value.round(); }
extension Shout on String { String shout() => toUpperCase(); }
extension on int { void hidden() {} }
class Half extends B<
"#,
        );
        let names: Vec<(&str, &str)> = f
            .classes
            .iter()
            .map(|c| (c.keyword.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("class", "S"),
                ("class", "T"),
                ("class", "V"),
                ("class", "U"),
                ("class", "A"),
                ("class", "R"),
                ("class", "F"),
                ("class", "Half"),
            ]
        );
        let a = &f.classes[4];
        assert_eq!(a.superclass.as_deref(), Some("B"));
        assert_eq!(a.superclass_args, ["void", "Function"]);
        assert_eq!(a.mixins, ["M"]);
        assert_eq!(a.interfaces, ["I"]);
        let methods: Vec<&str> = a.methods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(methods, ["pair", "maybe", "f", "build"]);
        let fields: Vec<&str> = a.fields.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(fields, ["onTap", "origin"]);
        let calls: Vec<&str> = a
            .method("f")
            .unwrap()
            .calls
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(calls.contains(&"g") && calls.contains(&"h"), "{calls:?}");
        assert!(a.method("build").unwrap().is_override);
        assert_eq!(f.classes[5].superclass_args, ["int", "int"]);
        assert_eq!(f.classes[5].methods[0].name, "r");
        assert_eq!(f.classes[6].methods[0].name, "k");
        assert_eq!(f.classes[7].superclass.as_deref(), Some("B"));
    }

    #[test]
    fn a_panic_becomes_a_reason() {
        let err = guarded(|| -> u8 { panic!("index 7 out of range") }).unwrap_err();
        assert!(
            err.contains("index 7 out of range") && err.contains("skipped"),
            "{err}"
        );
        assert_eq!(guarded(|| 3), Ok(3));
        assert!(read_guarded("class A extends B<(int, int)> {}").is_ok());
    }

    #[test]
    fn the_bracket_table_answers_as_matching_does() {
        let toks = lex("a<b>(c[d{e}]) < f; g<h(i)> { j<k<l>> } ) ] } < 'x' < {");
        let ix = Index::new(&toks);
        for i in 0..=toks.len() {
            assert_eq!(ix.matching(i), matching(&toks, i), "token {i}");
        }
        // `f<` then `;`: not a type argument list.
        let at = toks.iter().position(|t| t.is("<") && t.line == 1).unwrap();
        assert_eq!(ix.matching(at), Some(at + 2));
    }

    proptest::proptest! {
        #[test]
        fn bracket_table_equals_matching_on_random_token_streams(
            s in "([(){}\\[\\]<>;,=.]|<=|>=|=>|'s'|'\\{'|'\\}'|\"\\(\"|\\$|x|try|class|// c\n| |\n){0,200}"
        ) {
            let toks = lex(&s);
            let ix = Index::new(&toks);
            for (i, t) in toks.iter().enumerate() {
                // The structural pass only asks about punctuation.
                if t.kind == TokenKind::Punct {
                    proptest::prop_assert_eq!(ix.matching(i), matching(&toks, i), "token {} of {:?}", i, s);
                }
            }
            proptest::prop_assert_eq!(ix.matching(toks.len()), None);
        }

        #[test]
        fn never_panics(s in "\\PC{0,400}") {
            let _ = read(&s);
        }

        #[test]
        fn never_panics_on_class_soup(s in "(class|extends|with|implements|mixin|enum|@override|\\{|\\}|\\(|\\)|<|>|;|=|=>|try|'s'|A|b|\\.| ){0,80}") {
            let _ = read(&s);
        }

        /// Modern Dart's words and shapes, shuffled: class modifiers, extension types,
        /// function types and records in type arguments, patterns, half-typed headers.
        #[test]
        fn never_panics_on_modern_dart_soup(s in "(class|sealed|base|interface|final|mixin|extension|type|on|extends|Function|switch|case|when|var|\\(|\\)|<|>|,|\\?|\\{|\\}|;|=>|=|:|int|A|B|x|'s'| ){0,100}") {
            let _ = read(&s);
        }

        /// Any of those type arguments, in a complete class: the class, its superclass and
        /// its method are all found, and the file after it too.
        #[test]
        fn generic_superclasses_of_every_shape_keep_the_class_whole(
            arg in proptest::sample::select(vec![
                "void Function()", "(int, int)", "int Function(String)", "({int a, int b})",
                "List<(int, String)>", "Map<String, void Function(int)>", "(int, int)?",
                "Future<(int, {String name})>", "State<Screen>",
            ]),
            modifier in proptest::sample::select(vec!["", "sealed ", "base ", "final ", "interface ", "abstract ", "mixin "]),
            record_member in proptest::bool::ANY,
        ) {
            let member = if record_member { "(int, int) pair() => (1, 2);" } else { "" };
            let src = format!("{modifier}class A extends B<{arg}> {{ {member} void run() {{ go(); }} }}\nclass After {{}}");
            let f = read(&src);
            let names: Vec<&str> = f.classes.iter().map(|c| c.name.as_str()).collect();
            proptest::prop_assert_eq!(names, vec!["A", "After"], "{}", src);
            proptest::prop_assert_eq!(f.classes[0].superclass.as_deref(), Some("B"));
            let run = f.classes[0].method("run");
            proptest::prop_assert!(run.is_some_and(|m| m.calls.iter().any(|c| c.name == "go")), "{}", src);
            proptest::prop_assert_eq!(f.classes[0].method("pair").is_some(), record_member, "{}", src);
        }
    }
}
