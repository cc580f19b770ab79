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
    pub text: String,
    pub line: u32,
}

impl Token {
    pub fn is(&self, text: &str) -> bool {
        matches!(self.kind, TokenKind::Ident | TokenKind::Punct) && self.text == text
    }
    pub fn is_ident(&self) -> bool {
        self.kind == TokenKind::Ident
    }
    pub fn is_str(&self) -> bool {
        matches!(self.kind, TokenKind::Str { .. })
    }
}

/// The marker that stands for an interpolation inside a string's text.
pub const HOLE: char = '\u{1}';

pub fn lex(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        out: Vec::with_capacity(source.len() / 4),
    };
    lexer.run(false);
    lexer.out
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    out: Vec<Token>,
}

// No `>>`, `>>>` or `>>=`: closing generics (`List<List<int>>`) must stay two `>`.
const PUNCT3: [&str; 4] = ["...", "??=", "<<=", "?.."];
const PUNCT2: [&str; 20] = [
    "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", "++", "--", "+=", "-=", "*=", "/=",
    "%=", "&=", "|=", "^=",
];

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek(i) == Some(c))
    }

    /// Lexes until the end, or (inside `${…}`) until the `}` that closes it.
    fn run(&mut self, in_interpolation: bool) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            let line = self.line;
            if c.is_whitespace() {
                self.bump();
            } else if self.starts_with("//") {
                while let Some(c) = self.peek(0) {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else if self.starts_with("/*") {
                self.block_comment();
            } else if (c == 'r' || c == 'R') && matches!(self.peek(1), Some('\'' | '"')) {
                self.bump();
                self.string_token(true, line);
            } else if c == '\'' || c == '"' {
                self.string_token(false, line);
            } else if c == '@' {
                self.bump();
                let name =
                    self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.');
                self.push(TokenKind::Annotation, name, line);
            } else if c.is_alphabetic() || c == '_' || c == '$' {
                let word = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '$');
                self.push(TokenKind::Ident, word, line);
            } else if c.is_ascii_digit()
                || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
            {
                let number = self.take_while(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
                self.push(TokenKind::Number, number, line);
            } else {
                if in_interpolation {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        if depth == 0 {
                            self.bump();
                            return;
                        }
                        depth -= 1;
                    }
                }
                let punct = PUNCT3
                    .iter()
                    .chain(PUNCT2.iter())
                    .find(|p| self.starts_with(p))
                    .map(|p| (*p).to_owned())
                    .unwrap_or_else(|| c.to_string());
                for _ in 0..punct.chars().count() {
                    self.bump();
                }
                self.push(TokenKind::Punct, punct, line);
            }
        }
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
            text,
            line,
        };
    }

    fn push(&mut self, kind: TokenKind, text: String, line: u32) {
        self.out.push(Token { kind, text, line });
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0) {
            if !keep(c) {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    fn block_comment(&mut self) {
        self.bump();
        self.bump();
        let mut depth = 1;
        while depth > 0 && self.peek(0).is_some() {
            if self.starts_with("/*") {
                self.bump();
                self.bump();
                depth += 1;
            } else if self.starts_with("*/") {
                self.bump();
                self.bump();
                depth -= 1;
            } else {
                self.bump();
            }
        }
    }

    /// A string literal starting at its opening quote; returns its constant text and
    /// whether it had interpolations. Tokens inside `${…}` are lexed (and kept) as usual.
    fn string(&mut self, raw: bool) -> (String, bool) {
        let quote = self.bump().unwrap_or('\'');
        let triple = self.peek(0) == Some(quote) && self.peek(1) == Some(quote);
        if triple {
            self.bump();
            self.bump();
        } else if self.peek(0) == Some(quote) {
            // The empty string: two quotes, not the start of a triple.
            self.bump();
            return (String::new(), false);
        }
        let mut text = String::new();
        let mut interpolated = false;
        while let Some(c) = self.peek(0) {
            if triple {
                if c == quote && self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.bump();
                    self.bump();
                    self.bump();
                    break;
                }
            } else if c == quote {
                self.bump();
                break;
            } else if c == '\n' {
                // An unterminated single-line string ends at the end of its line.
                break;
            }
            if !raw && c == '\\' {
                self.bump();
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
            if !raw && c == '$' {
                if self.peek(1) == Some('{') {
                    self.bump();
                    self.bump();
                    self.run(true);
                    text.push(HOLE);
                    interpolated = true;
                    continue;
                }
                if self.peek(1).is_some_and(|n| n.is_alphabetic() || n == '_') {
                    self.bump();
                    let _ = self.take_while(|c| c.is_alphanumeric() || c == '_');
                    text.push(HOLE);
                    interpolated = true;
                    continue;
                }
            }
            text.push(c);
            self.bump();
        }
        (text, interpolated)
    }
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
            .map(|t| t.text)
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
