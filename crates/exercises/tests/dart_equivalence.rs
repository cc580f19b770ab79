//! The fast Dart reader gives exactly what the reader it replaced gave (kept verbatim in
//! `reference/`): tokens, imports, classes (fields, methods, their calls and body spans)
//! and strings, on random input, on the fixture project and, when it is next to the
//! workspace, on every Dart file of the Eloquence snapshot.
//!
//! Except where the reader since learnt modern Dart (function types and records in type
//! arguments and member types: `B<void Function()>`, `(int, int) pair()`,
//! `final Function(int) onTap;`, which the old reader read as a method named `Function`).
//! Where a source holds one of those shapes ([`modern`]), the classes are not compared;
//! tokens and imports always are.

mod reference;

use greenroom_exercises::dart::{self, DartFile, lexer};
use std::path::{Path, PathBuf};

thread_local! {
    static IN_REFERENCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The old reader on `source`, or `None` where it panicked (it did on some half-typed
/// headers and bodies: `class A extends B<` then `{`, `f() => }`; the new one reads those
/// as no type arguments and an empty body).
fn reference_read(source: &str) -> Option<DartFile> {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_REFERENCE.with(std::cell::Cell::get) {
                default(info);
            }
        }));
    });
    IN_REFERENCE.with(|f| f.set(true));
    let old = std::panic::catch_unwind(|| reference::read(source)).ok();
    IN_REFERENCE.with(|f| f.set(false));
    old
}

/// `real`: a file of a real project, where braces balance, so [`modern`] can tell the
/// level of class members; in random text it looks at every level.
fn assert_same_as(source: &str, what: &str, real: bool) {
    assert_eq!(
        lexer::lex(source),
        reference::lex(source),
        "tokens of {what}"
    );
    let new = dart::read(source);
    let Some(old) = reference_read(source) else {
        return;
    };
    assert_eq!(new.tokens, old.tokens, "tokens of {what}");
    assert_eq!(new.imports, old.imports, "imports of {what}");
    if !modern(&new.tokens, !real) {
        assert_eq!(new.classes, old.classes, "classes of {what}");
    }
}

/// Whether the tokens hold a shape that the reader reads differently since it learnt
/// modern Dart: `Function(`, `<(`, `, (`, `({`, `, {`, or parentheses followed by a name
/// (`(int, int) pair`) at the level of class members (or anywhere, with `anywhere`).
fn modern(tokens: &[lexer::Token], anywhere: bool) -> bool {
    let mut depth = 0i32;
    tokens.windows(2).any(|w| {
        let (a, b) = (&w[0], &w[1]);
        if a.is("{") {
            depth += 1;
        } else if a.is("}") {
            depth -= 1;
        }
        (b.is("(") && (a.is("Function") || a.is("<") || a.is(",")))
            || (b.is("{") && (a.is("(") || a.is(",")))
            || ((anywhere || depth <= 1) && a.is(")") && (b.is_ident() || b.is("?")))
    })
}

fn assert_same(source: &str, what: &str) {
    assert_same_as(source, what, false);
}

fn dart_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            dart_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "dart") {
            out.push(path);
        }
    }
}

fn check_tree(root: &Path) -> usize {
    let mut files = Vec::new();
    dart_files(root, &mut files);
    for f in &files {
        if let Ok(text) = std::fs::read_to_string(f) {
            assert_same_as(&text, &f.display().to_string(), true);
            // Half-edited files: every prefix cut at a line end is read alike too.
            for (cut, _) in text.match_indices('\n').step_by(97) {
                assert_same_as(
                    &text[..cut],
                    &format!("{} up to byte {cut}", f.display()),
                    true,
                );
            }
        }
    }
    files.len()
}

#[test]
fn same_as_before_on_the_fixture_project() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flutter");
    assert!(check_tree(&root) > 0);
}

#[test]
fn same_as_before_on_the_eloquence_snapshot_when_present() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04");
    if root.is_dir() {
        assert!(check_tree(&root) > 100);
    }
}

#[test]
fn same_as_before_on_hand_written_edge_cases() {
    for src in [
        "",
        "'",
        "r'",
        "'''",
        "\"\"\"a\"\"b\"\"\"",
        "'a\\\nb' c",
        "'\\é' x",
        "'$é' '$_x' '${' '${a{b}c}d' '${'${x}'}'",
        "/* /* */ é */ x /* open",
        "// é\nx",
        "a?..b ??= c <<= d ... e >>= f >>> g",
        "é€→ ١٢ x١ _é $é @é.x @ .5 1.e5x 0x_F",
        "class A<T extends B<C>> extends D<E> with F, G<H> implements I { void m() { try { f('a', k: 'b'); } catch (e) {} } }",
        "f(g(h('x'), [i('y')], {j: 'z'}), 'w')..k().catchError((e) => 0)",
        "f( [ ) ] 'a' ) 'b'",
        "class A { x(]; y() {} }",
        "class A { int get x => 1; set x(v) { y(); } @Deprecated('x') final a = b(c); }",
        "enum E { a, b; void f() { g(); } } mixin class M {} mixin N on O {}",
        "f<T>(x); f<T x; a < b && c > d; List<List<int>>",
        "try { f(); } try { g(",
        "class A extends B<\n  @override\n  void f() {}\n}",
        "class A { f() => }",
        "\u{1}\u{0}\u{2028}\r\n\t x",
        "\u{b}a\u{c}b\u{1c}c\u{85}d\u{a0}e\u{3000}f\u{2028}g\u{200b}h",
        "x\u{301} é\u{301} ٣ 'a\u{301}$é\u{301}'",
    ] {
        assert_same(src, &format!("{src:?}"));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    #[test]
    fn same_as_before_on_any_text(s in "\\PC{0,300}") {
        assert_same(&s, &format!("{s:?}"));
    }

    #[test]
    fn same_as_before_on_dart_characters(s in "[a-zé'\"$\\{\\}/\\*\\\\ \n@<>=.()r\\[\\];:,?0-9]{0,300}") {
        assert_same(&s, &format!("{s:?}"));
    }

    #[test]
    fn same_as_before_on_dart_token_soup(words in proptest::collection::vec(
        "(class|extends|with|implements|on|mixin|enum|abstract|final|sealed|import|export|part|@override|@Deprecated|try|catch|catchError|onError|void|fun|if|return|super|this|const|late|static|var|get|set|\\{|\\}|\\(|\\)|\\[|\\]|<|>|;|,|:|=|=>|\\.|\\?\\.|\\.\\.|\\?|'s'|\"t\"|'a\\$b'|'\\$\\{x\\}'|'''m'''|r'q'|A|B|b|c|State|StatefulWidget|1|// c\n|/\\* c \\*/|\n)",
        0..200,
    )) {
        let s = words.join(" ");
        assert_same(&s, &format!("{s:?}"));
    }
}
