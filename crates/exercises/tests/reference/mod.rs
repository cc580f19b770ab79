//! The Dart reader as it was before it was made fast, kept verbatim as the oracle: the
//! fast lexer and structural pass must give exactly what these give, token for token and
//! field for field, on random input, on the fixture project and on the Eloquence snapshot.

#![allow(dead_code, clippy::all)]

mod lexer {
    use greenroom_exercises::dart::lexer::{HOLE, Token, TokenKind};

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
        "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", "++", "--", "+=", "-=", "*=",
        "/=", "%=", "&=", "|=", "^=",
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
                    let name = self
                        .take_while(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.');
                    self.push(TokenKind::Annotation, name, line);
                } else if c.is_alphabetic() || c == '_' || c == '$' {
                    let word = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '$');
                    self.push(TokenKind::Ident, word, line);
                } else if c.is_ascii_digit()
                    || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
                {
                    let number =
                        self.take_while(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
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
}

mod structure {
    use greenroom_exercises::dart::lexer::{Token, TokenKind};
    use greenroom_exercises::dart::{Call, Class, DartFile, Field, Import, Method};

    pub fn read(source: &str) -> DartFile {
        let tokens = super::lexer::lex(source);
        let mut file = DartFile {
            ..Default::default()
        };
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
                names.push(t.text.to_string());
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
        let keyword = tokens[at].text.to_string();
        let name_tok = tokens.get(at + 1).filter(|t| t.is_ident())?;
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
        let mut i = at + 2;
        if tokens.get(i).is_some_and(|t| t.is("<")) {
            i = matching(tokens, i).map_or(i + 1, |e| e + 1);
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
                        let end = matching(tokens, i + 2).unwrap_or(i + 2);
                        class.superclass_args = tokens[i + 3..end]
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
                    if (paren_at.is_some() || getter_name(&tokens[start..j]).is_some())
                        && !saw_assign
                    {
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
            // Added with the reader's getters and body spans (not in the old reader).
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
                    class.methods.push(Method {
                        name: name_tok.text.to_string(),
                        line: name_tok.line,
                        is_override,
                        calls: calls_in(tokens, b0, b1.min(tokens.len())),
                        // `=> }` (a body being typed) is empty, as in the reader.
                        body: b0..b1.min(tokens.len()).max(b0),
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

    /// The calls between token indexes `from` and `to`.
    fn getter_name(head: &[Token]) -> Option<&Token> {
        let at = head.iter().position(|t| t.is("get"))?;
        head.get(at + 1)
            .filter(|t| t.is_ident() && head.get(at + 2).is_none_or(|n| n.is("{") || n.is("=>")))
    }

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
                && (tokens[i - 1].is("class")
                    || tokens[i - 1].is("void")
                    || tokens[i - 1].is("fun"))
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
                        named_string_args
                            .push((tokens[k - 2].text.to_string(), tk.text.to_string()));
                    } else if k == open + 1 || tokens[k - 1].is(",") {
                        string_args.push(tk.text.to_string());
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
                receiver: receiver.map(|r| r.as_str().into()),
                line: t.line,
                string_args,
                named_string_args,
                handled: in_try || caught_after,
            });
        }
        calls
    }
}

pub use lexer::lex;
pub use structure::read;
