//! A Dart lexer that gets the hard parts right and never panics.
//!
//! It yields identifiers (keywords included: the structural pass decides what they mean),
//! numbers, punctuation, annotations (`@name`) and string literals, with 1-based lines.
//! Comments (`//`, `///`, nested `/* … */`) are dropped. Strings: `'…'`, `"…"`,
//! `'''…'''`, `"""…"""`, raw `r'…'` (no escapes, no interpolation); adjacent literals are
//! separate tokens. Interpolations: `$name` and `${ expression }` (nested braces and nested
//! strings included) — the literal's `text` keeps only the constant parts with each
//! interpolation replaced by `\u{1}`, and its `interpolated` flag is set, so a URL like
//! `'http://$host:8005/x'` is still readable. Unterminated strings and comments end at the
//! end of the file (the reader is tolerant: it is given half-edited files on every save).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    Number,
    Str { interpolated: bool },
    Annotation,
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Identifier, punctuation, number, annotation name (without `@`), or a string's
    /// constant text.
    pub text: Text,
    pub line: u32,
}

impl Token {
    pub fn is(&self, text: &str) -> bool {
        // Most questions are one-character punctuation: compare bytes before calling memcmp.
        let (a, b) = (self.text.as_bytes(), text.as_bytes());
        matches!(self.kind, TokenKind::Ident | TokenKind::Punct)
            && a.len() == b.len()
            && a.first() == b.first()
            && a == b
    }
    pub fn is_ident(&self) -> bool {
        self.kind == TokenKind::Ident
    }
    pub fn is_str(&self) -> bool {
        matches!(self.kind, TokenKind::Str { .. })
    }
}

/// A token's text: punctuation and frequent words share one static string each; the rest
/// is owned. Reads as a `&str` (it derefs to one); `to_string()` gives an owned copy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Text(std::borrow::Cow<'static, str>);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(std::borrow::Cow::Owned(s))
    }
}

impl From<&str> for Text {
    /// An owned copy (see [`Text::from_static`] for text that lives for ever).
    fn from(s: &str) -> Self {
        Self(std::borrow::Cow::Owned(s.to_owned()))
    }
}

impl Text {
    pub fn from_static(s: &'static str) -> Self {
        Self(std::borrow::Cow::Borrowed(s))
    }
}

/// The static text of a punctuation token (every symbol [`punct_len`] yields), if it is one.
fn static_punct(p: &str) -> Option<&'static str> {
    const ALL: [&str; 47] = [
        "...", "??=", "<<=", "?..", "=>", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=",
        "&=", "|=", "^=", "&&", "||", "??", "?.", "..", "++", "--", "(", ")", "{", "}", "[", "]",
        "<", ">", ";", ",", ".", ":", "=", "!", "?", "+", "-", "*", "/", "%", "&", "|", "^",
    ];
    ALL.iter().find(|a| **a == p).copied()
}

/// The static text of a frequent identifier (keywords, Flutter's common names), so that
/// most identifiers need no allocation.
fn static_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "abstract" => "abstract",
        "as" => "as",
        "assert" => "assert",
        "async" => "async",
        "await" => "await",
        "base" => "base",
        "break" => "break",
        "case" => "case",
        "catch" => "catch",
        "class" => "class",
        "const" => "const",
        "continue" => "continue",
        "covariant" => "covariant",
        "default" => "default",
        "deferred" => "deferred",
        "do" => "do",
        "dynamic" => "dynamic",
        "else" => "else",
        "enum" => "enum",
        "export" => "export",
        "extends" => "extends",
        "extension" => "extension",
        "external" => "external",
        "factory" => "factory",
        "false" => "false",
        "final" => "final",
        "finally" => "finally",
        "for" => "for",
        "Function" => "Function",
        "get" => "get",
        "hide" => "hide",
        "if" => "if",
        "implements" => "implements",
        "import" => "import",
        "in" => "in",
        "interface" => "interface",
        "is" => "is",
        "late" => "late",
        "library" => "library",
        "mixin" => "mixin",
        "new" => "new",
        "null" => "null",
        "on" => "on",
        "operator" => "operator",
        "part" => "part",
        "required" => "required",
        "rethrow" => "rethrow",
        "return" => "return",
        "sealed" => "sealed",
        "set" => "set",
        "show" => "show",
        "static" => "static",
        "super" => "super",
        "switch" => "switch",
        "sync" => "sync",
        "this" => "this",
        "throw" => "throw",
        "true" => "true",
        "try" => "try",
        "typedef" => "typedef",
        "var" => "var",
        "void" => "void",
        "when" => "when",
        "while" => "while",
        "with" => "with",
        "yield" => "yield",
        "String" => "String",
        "int" => "int",
        "double" => "double",
        "bool" => "bool",
        "num" => "num",
        "List" => "List",
        "Map" => "Map",
        "Set" => "Set",
        "Future" => "Future",
        "Stream" => "Stream",
        "Duration" => "Duration",
        "DateTime" => "DateTime",
        "Widget" => "Widget",
        "BuildContext" => "BuildContext",
        "State" => "State",
        "context" => "context",
        "child" => "child",
        "children" => "children",
        "widget" => "widget",
        "state" => "state",
        "color" => "color",
        "style" => "style",
        "height" => "height",
        "width" => "width",
        "size" => "size",
        "value" => "value",
        "type" => "type",
        "id" => "id",
        "message" => "message",
        "text" => "text",
        "padding" => "padding",
        "key" => "key",
        "Text" => "Text",
        "SizedBox" => "SizedBox",
        "Colors" => "Colors",
        "Container" => "Container",
        "Icons" => "Icons",
        "Icon" => "Icon",
        "Column" => "Column",
        "Row" => "Row",
        "EdgeInsets" => "EdgeInsets",
        "TextStyle" => "TextStyle",
        "Color" => "Color",
        "Padding" => "Padding",
        "Center" => "Center",
        "Expanded" => "Expanded",
        "setState" => "setState",
        "mounted" => "mounted",
        "override" => "override",
        "dispose" => "dispose",
        "initState" => "initState",
        "build" => "build",
        "debugPrint" => "debugPrint",
        "print" => "print",
        "e" => "e",
        "i" => "i",
        "json" => "json",
        "map" => "map",
        "toList" => "toList",
        "copyWith" => "copyWith",
        "withOpacity" => "withOpacity",
        "length" => "length",
        "isEmpty" => "isEmpty",
        "isNotEmpty" => "isNotEmpty",
        "ref" => "ref",
        "read" => "read",
        "watch" => "watch",
        "notifier" => "notifier",
        "add" => "add",
        "logger" => "logger",
        "_logger" => "_logger",
        _ => return None,
    })
}

/// The marker that stands for an interpolation inside a string's text.
pub const HOLE: char = '\u{1}';

pub fn lex(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        line: 1,
        out: Vec::with_capacity(source.len() / 5),
    };
    lexer.run(false);
    lexer.out
}

/// Works on the bytes of the source (a `&str`, so `pos` is always on a character
/// boundary): ASCII is handled byte by byte, other characters are decoded where they are
/// met. Every token's text is one slice of the source copied once, except a string's text.
struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    /// Byte offset of the next character.
    pos: usize,
    line: u32,
    out: Vec<Token>,
}

// No `>>`, `>>>` or `>>=`: closing generics (`List<List<int>>`) must stay two `>`.
// The punctuation `punct_len` recognises (the tests check it against these lists).
#[cfg_attr(not(test), allow(dead_code))]
const PUNCT3: [&str; 4] = ["...", "??=", "<<=", "?.."];
#[cfg_attr(not(test), allow(dead_code))]
const PUNCT2: [&str; 20] = [
    "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", "++", "--", "+=", "-=", "*=", "/=",
    "%=", "&=", "|=", "^=",
];

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

impl Lexer<'_> {
    /// The character starting at byte `at`.
    fn char_at(&self, at: usize) -> Option<char> {
        let b = *self.bytes.get(at)?;
        if b < 0x80 {
            Some(char::from(b))
        } else {
            self.src.get(at..)?.chars().next()
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    /// Moves past the character at `pos`, which is `c`.
    fn bump_char(&mut self, c: char) {
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.char_at(self.pos)?;
        self.bump_char(c);
        Some(c)
    }

    /// Lexes until the end, or (inside `${…}`) until the `}` that closes it.
    fn run(&mut self, in_interpolation: bool) {
        let mut depth = 0usize;
        let bytes = self.bytes;
        while self.pos < bytes.len() {
            let b = bytes[self.pos];
            let line = self.line;
            // ASCII by its first byte (each arm is the branch the character would take);
            // other characters are whitespace, identifiers or punctuation.
            let c = if b < 0x80 {
                match b {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        continue;
                    }
                    b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                        self.pos += 1;
                        while matches!(
                            self.byte(self.pos),
                            Some(b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
                        ) {
                            self.pos += 1;
                        }
                        continue;
                    }
                    b'/' if self.byte(self.pos + 1) == Some(b'/') => {
                        // Up to the end of the line (the newline is left for the next turn).
                        self.pos =
                            memchr(b'\n', &bytes[self.pos..]).map_or(bytes.len(), |n| self.pos + n);
                        continue;
                    }
                    b'/' if self.byte(self.pos + 1) == Some(b'*') => {
                        self.block_comment();
                        continue;
                    }
                    b'r' | b'R' if matches!(self.byte(self.pos + 1), Some(b'\'' | b'"')) => {
                        self.pos += 1;
                        self.string_token(true, line);
                        continue;
                    }
                    b'\'' | b'"' => {
                        self.string_token(false, line);
                        continue;
                    }
                    b'@' => {
                        self.pos += 1;
                        let name = self.take_while(|c| is_ident_char(c) || c == '.');
                        self.push(TokenKind::Annotation, name, line);
                        continue;
                    }
                    b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                        let start = self.pos;
                        self.pos += 1;
                        self.skip_ident();
                        let word = &self.src[start..self.pos];
                        let text = match static_word(word) {
                            Some(w) => Text::from_static(w),
                            None => Text::from(word),
                        };
                        self.out.push(Token {
                            kind: TokenKind::Ident,
                            text,
                            line,
                        });
                        continue;
                    }
                    b'0'..=b'9' => {
                        let number = self.take_number();
                        self.push(TokenKind::Number, number, line);
                        continue;
                    }
                    b'.' if self.byte(self.pos + 1).is_some_and(|d| d.is_ascii_digit()) => {
                        let number = self.take_number();
                        self.push(TokenKind::Number, number, line);
                        continue;
                    }
                    _ => char::from(b),
                }
            } else {
                let Some(c) = self.char_at(self.pos) else {
                    break;
                };
                if c.is_whitespace() {
                    self.bump_char(c);
                    continue;
                }
                if is_ident_start(c) {
                    let start = self.pos;
                    self.pos += c.len_utf8();
                    self.skip_ident();
                    let word = self.src[start..self.pos].to_owned();
                    self.push(TokenKind::Ident, word, line);
                    continue;
                }
                c
            };
            // Punctuation (never a newline: whitespace was taken above).
            if in_interpolation {
                if c == '{' {
                    depth += 1;
                } else if c == '}' {
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                    depth -= 1;
                }
            }
            let len = if c.is_ascii() {
                punct_len(&bytes[self.pos..])
            } else {
                c.len_utf8()
            };
            let slice = &self.src[self.pos..self.pos + len];
            let text = match static_punct(slice) {
                Some(p) => Text::from_static(p),
                None => Text::from(slice),
            };
            self.pos += len;
            self.out.push(Token {
                kind: TokenKind::Punct,
                text,
                line,
            });
        }
    }

    /// The rest of an identifier.
    fn skip_ident(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' {
                self.pos += 1;
            } else if b >= 0x80 && self.char_at(self.pos).is_some_and(char::is_alphanumeric) {
                self.pos += self.char_at(self.pos).map_or(1, char::len_utf8);
            } else {
                break;
            }
        }
    }

    /// A number: ASCII letters, digits, `.` and `_` (`1.5e3`, `0xFF`, `1_000`).
    fn take_number(&mut self) -> String {
        let start = self.pos;
        while self
            .byte(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        {
            self.pos += 1;
        }
        self.src[start..self.pos].to_owned()
    }

    /// A string literal, placed before the tokens of its interpolations (source order).
    fn string_token(&mut self, raw: bool, line: u32) {
        let slot = self.out.len();
        self.push(
            TokenKind::Str {
                interpolated: false,
            },
            String::new(),
            line,
        );
        let (text, interpolated) = self.string(raw);
        self.out[slot] = Token {
            kind: TokenKind::Str { interpolated },
            text: text.into(),
            line,
        };
    }

    fn push(&mut self, kind: TokenKind, text: String, line: u32) {
        self.out.push(Token {
            kind,
            text: text.into(),
            line,
        });
    }

    /// The characters from `pos` that `keep` accepts (never a newline), as a new string.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        self.skip_while(keep);
        self.src[start..self.pos].to_owned()
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while let Some(c) = self.char_at(self.pos) {
            if !keep(c) {
                break;
            }
            self.bump_char(c);
        }
    }

    fn block_comment(&mut self) {
        self.pos += 2;
        let mut depth = 1;
        let bytes = self.bytes;
        // Byte by byte: `/`, `*` and `\n` never occur inside a multi-byte character.
        while depth > 0 && self.pos < bytes.len() {
            match bytes[self.pos] {
                b'/' if bytes.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    depth += 1;
                }
                b'*' if bytes.get(self.pos + 1) == Some(&b'/') => {
                    self.pos += 2;
                    depth -= 1;
                }
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A string literal starting at its opening quote; returns its constant text and
    /// whether it had interpolations. Tokens inside `${…}` are lexed (and kept) as usual.
    fn string(&mut self, raw: bool) -> (String, bool) {
        let Some(quote) = self.byte(self.pos) else {
            return (String::new(), false);
        };
        self.pos += 1;
        let triple = self.byte(self.pos) == Some(quote) && self.byte(self.pos + 1) == Some(quote);
        if triple {
            self.pos += 2;
        } else if self.byte(self.pos) == Some(quote) {
            // The empty string: two quotes, not the start of a triple.
            self.pos += 1;
            return (String::new(), false);
        }
        let bytes = self.bytes;
        let mut text = String::new();
        let mut interpolated = false;
        while self.pos < bytes.len() {
            // A run of plain characters is copied at once.
            let run = bytes[self.pos..]
                .iter()
                .position(|&b| b == quote || b == b'\n' || b == b'\\' || b == b'$')
                .unwrap_or(bytes.len() - self.pos);
            if run > 0 {
                text.push_str(&self.src[self.pos..self.pos + run]);
                self.pos += run;
                continue;
            }
            let c = bytes[self.pos];
            if triple {
                if c == quote
                    && self.byte(self.pos + 1) == Some(quote)
                    && self.byte(self.pos + 2) == Some(quote)
                {
                    self.pos += 3;
                    break;
                }
            } else if c == quote {
                self.pos += 1;
                break;
            } else if c == b'\n' {
                // An unterminated single-line string ends at the end of its line.
                break;
            }
            if !raw && c == b'\\' {
                self.pos += 1;
                if let Some(escaped) = self.bump() {
                    text.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                }
                continue;
            }
            if !raw && c == b'$' {
                if self.byte(self.pos + 1) == Some(b'{') {
                    self.pos += 2;
                    self.run(true);
                    text.push(HOLE);
                    interpolated = true;
                    continue;
                }
                if self
                    .char_at(self.pos + 1)
                    .is_some_and(|n| n.is_alphabetic() || n == '_')
                {
                    self.pos += 1;
                    self.skip_while(|c| c.is_alphanumeric() || c == '_');
                    text.push(HOLE);
                    interpolated = true;
                    continue;
                }
            }
            // A quote that does not close, a newline in a triple-quoted string, a `\` or
            // `$` of a raw string, or a `$` that starts nothing: plain text.
            text.push(char::from(c));
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
            }
        }
        (text, interpolated)
    }
}

/// The length of the punctuation at the start of `rest` (ASCII): the first of [`PUNCT3`],
/// then of [`PUNCT2`], that it starts with, else one character.
fn punct_len(rest: &[u8]) -> usize {
    match rest {
        [b'.', b'.', b'.', ..]
        | [b'?', b'?', b'=', ..]
        | [b'<', b'<', b'=', ..]
        | [b'?', b'.', b'.', ..] => 3,
        [b'=', b'>' | b'=', ..]
        | [
            b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^',
            b'=',
            ..,
        ]
        | [b'&', b'&', ..]
        | [b'|', b'|', ..]
        | [b'?', b'?' | b'.', ..]
        | [b'.', b'.', ..]
        | [b'+', b'+', ..]
        | [b'-', b'-', ..] => 2,
        _ => 1,
    }
}

/// The index of the first `needle` in `haystack`.
fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(String, u32)> {
        lex(src)
            .into_iter()
            .map(|t| (format!("{:?}:{}", t.kind, t.text), t.line))
            .collect()
    }

    #[test]
    fn strings_of_every_form() {
        let toks = lex(r#"a('x', "y", '''m
l''', r'raw\n$x', "a$b c${d + e['k']}f", '', "it's");"#);
        let strs: Vec<(&str, bool)> = toks
            .iter()
            .filter_map(|t| match t.kind {
                TokenKind::Str { interpolated } => Some((t.text.as_str(), interpolated)),
                _ => None,
            })
            .collect();
        assert_eq!(
            strs,
            vec![
                ("x", false),
                ("y", false),
                ("m\nl", false),
                ("raw\\n$x", false),
                ("a\u{1} c\u{1}f", true),
                ("k", false),
                ("", false),
                ("it's", false)
            ]
        );
    }

    #[test]
    fn comments_do_not_fool_it_and_lines_are_right() {
        let src = "// class Fake extends StatefulWidget\n/* nested /* class X */ still comment */\nclass Real {}\n/// doc\n@override\nvoid f() {}";
        let toks = kinds(src);
        assert_eq!(toks[0], ("Ident:class".into(), 3));
        assert_eq!(toks[1], ("Ident:Real".into(), 3));
        assert!(
            toks.iter()
                .all(|(t, _)| !t.contains("Fake") && !t.contains(":X"))
        );
        assert_eq!(toks[4], ("Annotation:override".into(), 5));
    }

    #[test]
    fn a_class_inside_a_string_is_not_code() {
        let toks = lex("final s = 'class Evil extends State<X> {}';");
        assert!(!toks.iter().any(|t| t.is_ident() && t.text == "Evil"));
    }

    #[test]
    fn generics_and_operators() {
        let texts: Vec<String> = lex("Map<String, List<int>>? m = a ?? b; x?.y..z(); f() => 1;")
            .into_iter()
            .map(|t| t.text.to_string())
            .collect();
        assert!(
            texts.contains(&"??".to_owned())
                && texts.contains(&"?.".to_owned())
                && texts.contains(&"..".to_owned())
                && texts.contains(&"=>".to_owned())
        );
        assert_eq!(
            texts.iter().filter(|t| *t == ">").count(),
            2,
            "`>>` in generics comes as two `>`"
        );
    }

    #[test]
    fn unterminated_things_end_gracefully() {
        assert!(!lex("var s = 'open\nclass A {}").is_empty());
        assert!(
            !lex("/* never closed class A {}")
                .iter()
                .any(|t| t.text == "A")
        );
        assert!(!lex("x = \"${unclosed").is_empty() || lex("x = \"${unclosed").is_empty());
    }

    #[test]
    fn punct_len_is_the_first_listed_punctuation_that_matches() {
        let ascii: Vec<u8> = (0x20u8..0x7f).collect();
        for &a in &ascii {
            for &b in &ascii {
                for &c in &ascii {
                    let rest = [a, b, c];
                    let listed = PUNCT3
                        .iter()
                        .chain(PUNCT2.iter())
                        .find(|p| rest.starts_with(p.as_bytes()))
                        .map_or(1, |p| p.len());
                    assert_eq!(punct_len(&rest), listed, "{:?}", std::str::from_utf8(&rest));
                }
            }
            assert_eq!(punct_len(&[a]), 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = lex(&s);
        }

        #[test]
        fn never_panics_on_dart_soup(s in "[a-z'\"$\\{\\}/\\*\\\\ \n@<>=.()r]{0,200}") {
            let toks = lex(&s);
            // Lines only move forward.
            proptest::prop_assert!(toks.windows(2).all(|w| w[0].line <= w[1].line));
        }
    }
}
