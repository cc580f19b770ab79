//! The structural pass: what a Dart file declares and does, from its tokens.
//!
//! It is not a parser of all of Dart: it finds what the exercise rules need, tolerantly.
//! - imports (`import 'uri' [as p] [show …];`, `export`, `part`);
//! - classes, mixins and enums at the top level: modifiers (`abstract`, `base`, `final`,
//!   `sealed`, `interface`, `mixin class`), type parameters, `extends` (with its type
//!   arguments), `with`, `implements`, `on`;
//! - members of a class: fields (name, type, line) and methods (name, line, `@override`,
//!   and what their body calls);
//! - calls anywhere: `name(`, `receiver.name(`, constructor calls (`const`/`new` optional),
//!   with the string literal arguments, named string arguments (`type: 'x'`), and whether
//!   the call sits inside a `try` block or is followed by `.catchError(`.
//!
//! Anything it does not understand is skipped, never fatal.

use super::lexer::{Token, TokenKind, lex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub uri: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// `x` in `x.name(` (the last identifier before the dot), when there is one.
    pub receiver: Option<String>,
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
    /// Identifiers the body mentions (to see which fields it touches).
    pub mentions: Vec<String>,
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
    /// String literals in the class body, with lines.
    pub strings: Vec<(String, u32)>,
    /// The body's token range in the file's [`DartFile::tokens`] (braces excluded).
    pub body: std::ops::Range<usize>,
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
    /// Every call in the file (top level and in classes).
    pub calls: Vec<Call>,
    /// Every string literal: (text, line, interpolated).
    pub strings: Vec<(String, u32, bool)>,
    pub tokens: Vec<Token>,
}

pub fn read(source: &str) -> DartFile {
    let tokens = lex(source);
    let mut file = DartFile {
        strings: tokens
            .iter()
            .filter_map(|t| match t.kind {
                TokenKind::Str { interpolated } => Some((t.text.clone(), t.line, interpolated)),
                _ => None,
            })
            .collect(),
        calls: calls_in(&tokens, 0, tokens.len()),
        ..Default::default()
    };
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is("import") || t.is("export") || t.is("part") {
            if let Some(uri) = tokens.get(i + 1).filter(|n| n.is_str()) {
                file.imports.push(Import {
                    uri: uri.text.clone(),
                    line: t.line,
                });
            }
            i = skip_past(&tokens, i, ";");
            continue;
        }
        if t.is("class") || t.is("mixin") || t.is("enum") {
            // `mixin class` is a class.
            if t.is("mixin") && tokens.get(i + 1).is_some_and(|n| n.is("class")) {
                i += 1;
                continue;
            }
            if let Some((class, end)) = class_at(&tokens, i) {
                file.classes.push(class);
                i = end;
                continue;
            }
        }
        if t.is("{") {
            i = matching(&tokens, i).map_or(tokens.len(), |e| e + 1);
            continue;
        }
        i += 1;
    }
    file.tokens = tokens;
    file
}

/// Index just past the next `what` at this nesting level.
fn skip_past(tokens: &[Token], from: usize, what: &str) -> usize {
    let mut i = from;
    while i < tokens.len() {
        if tokens[i].is(what) {
            return i + 1;
        }
        if tokens[i].is("{") || tokens[i].is("(") || tokens[i].is("[") {
            i = matching(tokens, i).map_or(tokens.len(), |e| e + 1);
            continue;
        }
        i += 1;
    }
    tokens.len()
}

/// The index of the bracket closing the one at `open` (`{`, `(`, `[`, `<`).
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
        } else if o == "<" && (t.text == ";" || t.text == "{" || t.text == "(") {
            return None; // not a type argument list after all
        }
    }
    None
}

/// Identifiers of a type list (`A, B<C>, D`) from `from` until one of `stops`.
fn type_names(tokens: &[Token], mut i: usize, stops: &[&str]) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    while i < tokens.len() && !stops.iter().any(|s| tokens[i].is(s)) {
        let t = &tokens[i];
        if t.is_ident() {
            names.push(t.text.clone());
            if tokens.get(i + 1).is_some_and(|n| n.is("<")) {
                i = matching(tokens, i + 1).map_or(i + 1, |e| e + 1);
                continue;
            }
        }
        i += 1;
    }
    (names, i)
}

fn class_at(tokens: &[Token], at: usize) -> Option<(Class, usize)> {
    let keyword = tokens[at].text.clone();
    let name_tok = tokens.get(at + 1).filter(|t| t.is_ident())?;
    let mut modifiers = Vec::new();
    let mut back = at;
    while back > 0 {
        let prev = &tokens[back - 1];
        if ["abstract", "base", "final", "sealed", "interface", "mixin"]
            .contains(&prev.text.as_str())
            && prev.is_ident()
        {
            modifiers.push(prev.text.clone());
            back -= 1;
        } else {
            break;
        }
    }
    let mut i = at + 2;
    if tokens.get(i).is_some_and(|t| t.is("<")) {
        i = matching(tokens, i).map_or(i + 1, |e| e + 1);
    }
    let mut class = Class {
        name: name_tok.text.clone(),
        line: name_tok.line,
        keyword,
        modifiers,
        superclass: None,
        superclass_args: Vec::new(),
        mixins: Vec::new(),
        interfaces: Vec::new(),
        fields: Vec::new(),
        methods: Vec::new(),
        strings: Vec::new(),
        body: 0..0,
    };
    let header_stops = ["extends", "with", "implements", "on", "{", ";"];
    while i < tokens.len() && !tokens[i].is("{") && !tokens[i].is(";") {
        let t = &tokens[i];
        if t.is("extends") {
            if let Some(sup) = tokens.get(i + 1).filter(|t| t.is_ident()) {
                class.superclass = Some(sup.text.clone());
                if tokens.get(i + 2).is_some_and(|n| n.is("<")) {
                    let end = matching(tokens, i + 2).unwrap_or(i + 2);
                    class.superclass_args = tokens[i + 3..end]
                        .iter()
                        .filter(|t| t.is_ident())
                        .map(|t| t.text.clone())
                        .collect();
                    i = end + 1;
                    continue;
                }
            }
            i += 2;
        } else if t.is("with") || t.is("implements") || t.is("on") {
            let (names, next) = type_names(tokens, i + 1, &header_stops);
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
    let close = matching(tokens, i).unwrap_or(tokens.len().saturating_sub(1));
    class.strings = tokens[i..close.min(tokens.len())]
        .iter()
        .filter(|t| t.is_str())
        .map(|t| (t.text.clone(), t.line))
        .collect();
    class.body = (i + 1).min(close)..close;
    members(tokens, i + 1, close, &mut class);
    Some((class, close + 1))
}

/// Fields and methods between `from` and `to` (the class body, braces excluded).
fn members(tokens: &[Token], from: usize, to: usize, class: &mut Class) {
    let mut i = from;
    let mut is_override = false;
    while i < to {
        let t = &tokens[i];
        if t.kind == TokenKind::Annotation {
            is_override |= t.text == "override";
            // Skip an annotation's arguments: `@Deprecated('x')`.
            if tokens.get(i + 1).is_some_and(|n| n.is("(")) {
                i = matching(tokens, i + 1).map_or(to, |e| e + 1);
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
                if paren_at.is_none() && !saw_assign {
                    paren_at = Some(j);
                }
                j = matching(tokens, j).map_or(to, |e| e + 1);
                continue;
            }
            if tj.is("[") {
                j = matching(tokens, j).map_or(to, |e| e + 1);
                continue;
            }
            if tj.is("=") {
                saw_assign = true;
            }
            if tj.is("=>") {
                let semi = skip_past(tokens, j, ";").min(to);
                body = Some((j + 1, semi.saturating_sub(1)));
                end = semi;
                break;
            }
            if tj.is("{") {
                let close = matching(tokens, j).unwrap_or(to);
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
        if let (Some(name_tok), Some((b0, b1))) = (getter, body) {
            class.methods.push(Method {
                name: name_tok.text.clone(),
                line: name_tok.line,
                is_override,
                calls: calls_in(tokens, b0, b1.min(tokens.len())),
                mentions: tokens[b0..b1.min(tokens.len())]
                    .iter()
                    .filter(|t| t.is_ident())
                    .map(|t| t.text.clone())
                    .collect(),
                body: b0..b1.min(tokens.len()),
            });
        } else if let (Some(p), false) = (paren_at, saw_assign && body.is_none()) {
            let name_tok = tokens[start..p].iter().rev().find(|t| t.is_ident());
            if let Some(name_tok) = name_tok {
                let (b0, b1) = body.unwrap_or((p, p));
                class.methods.push(Method {
                    name: name_tok.text.clone(),
                    line: name_tok.line,
                    is_override,
                    calls: calls_in(tokens, b0, b1.min(tokens.len())),
                    mentions: tokens[b0..b1.min(tokens.len())]
                        .iter()
                        .filter(|t| t.is_ident())
                        .map(|t| t.text.clone())
                        .collect(),
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
                let type_name = (idents.len() > 1).then(|| idents[0].text.clone());
                class.fields.push(Field {
                    name: name.text.clone(),
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
fn calls_in(tokens: &[Token], from: usize, to: usize) -> Vec<Call> {
    let to = to.min(tokens.len());
    // Where `try { … }` blocks are, as token ranges.
    let mut tries: Vec<(usize, usize)> = Vec::new();
    for i in from..to {
        if tokens[i].is("try")
            && tokens.get(i + 1).is_some_and(|t| t.is("{"))
            && let Some(close) = matching(tokens, i + 1)
        {
            tries.push((i + 1, close));
        }
    }
    let mut calls = Vec::new();
    for i in from..to {
        let t = &tokens[i];
        if !t.is_ident() {
            continue;
        }
        let mut open = i + 1;
        if tokens.get(open).is_some_and(|n| n.is("<")) {
            match matching(tokens, open) {
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
        let close = matching(tokens, open).unwrap_or(to.saturating_sub(1));
        let receiver = (i >= 2
            && (tokens[i - 1].is(".") || tokens[i - 1].is("?.") || tokens[i - 1].is("..")))
        .then(|| tokens[i - 2].clone())
        .filter(|r| r.is_ident() || r.is(")"))
        .map(|r| if r.is_ident() { r.text } else { ")".into() });
        let mut string_args = Vec::new();
        let mut named_string_args = Vec::new();
        let mut depth = 0;
        let mut k = open + 1;
        while k < close {
            let tk = &tokens[k];
            if tk.is("(") || tk.is("[") || tk.is("{") {
                depth += 1;
            } else if tk.is(")") || tk.is("]") || tk.is("}") {
                depth -= 1;
            } else if depth == 0 && tk.is_str() {
                let named = k >= 2 && tokens[k - 1].is(":") && tokens[k - 2].is_ident();
                if named {
                    named_string_args.push((tokens[k - 2].text.clone(), tk.text.clone()));
                } else if k == open + 1 || tokens[k - 1].is(",") {
                    string_args.push(tk.text.clone());
                }
            }
            k += 1;
        }
        let caught_after = tokens.get(close + 1).is_some_and(|d| d.is("."))
            && tokens
                .get(close + 2)
                .is_some_and(|n| n.is("catchError") || n.is("onError"));
        let in_try = tries.iter().any(|(a, b)| *a < i && i < *b);
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

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,400}") {
            let _ = read(&s);
        }

        #[test]
        fn never_panics_on_class_soup(s in "(class|extends|with|implements|mixin|enum|@override|\\{|\\}|\\(|\\)|<|>|;|=|=>|try|'s'|A|b|\\.| ){0,80}") {
            let _ = read(&s);
        }
    }
}
