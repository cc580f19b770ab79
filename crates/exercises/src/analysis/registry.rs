//! Detection: the project's classes, which are widgets, where the router registers each
//! widget, and where each screen navigates (see [`super`] for what these make of a screen).
//!
//! **Reading the router.** Every route call (`GoRoute(`) in any file, wherever it sits (a
//! top-level `GoRouter`, one built inside a Riverpod `Provider((ref) { … })`, a function):
//! - its **full path** joins the `path:` of the route calls and shell calls (`ShellRoute(`)
//!   around it: `'login'` under `'/'` is `/login`; a path starting with `/` stands alone;
//! - its **builder** is everything in its parentheses but the nested route and shell calls;
//!   each expression the builder returns (`=> expr`, `return expr;`) names the screen it
//!   shows. An expression is followed: a project widget constructed in it (`X(…)`, `const
//!   X(…)`, a named constructor `X.named(…)`), else a static method or factory called on a
//!   project class (`Entry.livekitScreen(s)`: that method's own returns, in its own file),
//!   else a local variable (`final screen = …;` earlier in the builder), at most
//!   [`MAX_DEPTH`] steps deep;
//! - **dispatch on an id**: a return after `id == 'x'` / `'x' == id` (an `if` chain), `case
//!   'x':` (a `switch` statement) or `'x' =>` (a switch expression) registers its screen at
//!   the path with the path's parameter replaced by `x` (`exercise_active/:id` →
//!   `/exercise_active/x`), or at `path#x` when the path has none;
//! - a screen returned without an id on a path that has a parameter, and built with that
//!   parameter (`X(id: state.pathParameters['id'])`, or through a local variable holding it),
//!   is **generic**: one page for every id (a detail page, a dispatcher's fallback).
//!
//! Widgets built in a shell call's builder are **shells** (`MainScreen(child: child)`).
//! Exercise-list entries (`ExerciseInfo(id: 'x', …)`) register the widgets built inside at
//! `registry:x`.
//!
//! **Navigation** of a class: `go`/`push`/`pushNamed`/`goNamed`/`pushReplacement…`/`replace`
//! with a path literal (interpolations match a `:param` segment), resolved against the
//! routes' full paths; and widgets built inside a page route (`MaterialPageRoute(`,
//! `CupertinoPageRoute(`, `PageRouteBuilder(`, any `…PageRoute(`), followed as above.

use crate::dart::Class;
use crate::dart::lexer::{HOLE, Token};
use crate::dart::structure::matching;
use crate::project::{Package, Project};
use crate::rules::Compiled;
use std::collections::{BTreeMap, BTreeSet};

/// How many steps (factory → its return → a local variable …) an expression is followed.
pub const MAX_DEPTH: usize = 6;

/// Where a class is: the package, its file, the class.
#[derive(Clone, Copy)]
pub(super) struct Located<'a> {
    pub package: &'a Package,
    /// Relative to the package root.
    pub file: &'a str,
    pub class: &'a Class,
}

impl<'a> Located<'a> {
    pub fn tokens(&self) -> &'a [Token] {
        &self.package.files[self.file].dart.tokens
    }
    pub fn path(&self) -> String {
        self.package.files[self.file].path.display().to_string()
    }
}

/// A file's LAN addresses: (line, address).
pub(super) type LanAddresses = std::rc::Rc<Vec<(u32, String)>>;

/// Every class of the project by name (the first one, when two files declare the same name),
/// and where each top-level name (class, variable, function) is declared.
pub(super) struct Index<'a> {
    pub classes: BTreeMap<&'a str, Located<'a>>,
    /// Every declaration of each class name, in package and path order (two files may
    /// declare the same name: the one a file imports is the one it means).
    all: rustc_hash::FxHashMap<&'a str, Vec<Located<'a>>>,
    /// Top-level name → package-relative file declaring it (per package name).
    declared: rustc_hash::FxHashMap<(&'a str, &'a str), &'a str>,
    /// Per file, the files whose top-level names it mentions (filled on first use).
    uses: std::cell::RefCell<rustc_hash::FxHashMap<&'a str, Vec<&'a str>>>,
    /// Per file, the LAN addresses its string literals hold (filled on first use).
    lan: std::cell::RefCell<rustc_hash::FxHashMap<&'a str, LanAddresses>>,
    /// Per file, the identifiers and string literals it holds (filled on first use).
    names: std::cell::RefCell<
        rustc_hash::FxHashMap<&'a str, std::rc::Rc<rustc_hash::FxHashSet<&'a str>>>,
    >,
    /// The project's widget classes.
    pub widgets: rustc_hash::FxHashSet<&'a str>,
    /// The state class of each widget: `… extends State<Widget>` (the first one).
    states: BTreeMap<&'a str, &'a str>,
}

impl<'a> Index<'a> {
    pub fn new(project: &'a Project, rules: &Compiled) -> Self {
        let mut classes = BTreeMap::new();
        let mut all: rustc_hash::FxHashMap<&str, Vec<Located>> = Default::default();
        let mut states = BTreeMap::new();
        let mut declared = rustc_hash::FxHashMap::default();
        for package in &project.packages {
            for (rel, file) in &package.files {
                for class in &file.dart.classes {
                    if class
                        .superclass
                        .as_ref()
                        .is_some_and(|s| rules.rules.screens.state_bases.contains(s))
                    {
                        for widget in &class.superclass_args {
                            states.entry(widget.as_str()).or_insert(class.name.as_str());
                        }
                    }
                    let here = Located {
                        package,
                        file: rel,
                        class,
                    };
                    classes.entry(class.name.as_str()).or_insert(here);
                    all.entry(class.name.as_str()).or_default().push(here);
                    declared
                        .entry((package.name.as_str(), class.name.as_str()))
                        .or_insert(rel.as_str());
                }
                // Top-level variables and functions: `name =`, `name(` … `{`/`=>` at depth 0.
                let t = &file.dart.tokens;
                let mut depth = 0i32;
                for k in 0..t.len() {
                    match t[k].text.as_str() {
                        "{" | "(" | "[" if !t[k].is_str() => depth += 1,
                        "}" | ")" | "]" if !t[k].is_str() => depth -= 1,
                        _ if depth == 0
                            && t[k].is_ident()
                            && t.get(k + 1).is_some_and(|n| n.is("=") || n.is("("))
                            && k > 0
                            && !t[k - 1].is(".") =>
                        {
                            declared
                                .entry((package.name.as_str(), t[k].text.as_str()))
                                .or_insert(rel.as_str());
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut index = Self {
            classes,
            all,
            declared,
            uses: Default::default(),
            names: Default::default(),
            lan: Default::default(),
            widgets: Default::default(),
            states,
        };
        let widgets = index
            .classes
            .keys()
            .copied()
            .filter(|name| {
                index
                    .chain(name)
                    .iter()
                    .skip(1)
                    .any(|c| rules.rules.screens.widget_bases.contains(c))
            })
            .collect();
        index.widgets = widgets;
        index
    }

    /// Every declaration of a class name.
    pub fn declarations(&self, name: &str) -> &[Located<'a>] {
        self.all.get(name).map_or(&[], Vec::as_slice)
    }

    /// The class `name` as the file `from` (of `package`) sees it: the only declaration, else
    /// the one nearest in `from`'s imports (breadth first), else the first declared.
    pub fn visible_from(&self, name: &str, package: &Package, from: &str) -> Option<&Located<'a>> {
        let all = self.all.get(name)?;
        if all.len() > 1 {
            let mut seen = std::collections::BTreeSet::from([from.to_owned()]);
            let mut queue = std::collections::VecDeque::from([from.to_owned()]);
            while let Some(file) = queue.pop_front() {
                if let Some(l) = all
                    .iter()
                    .find(|l| l.file == file && std::ptr::eq(l.package, package))
                {
                    return Some(l);
                }
                for import in package
                    .files
                    .get(&file)
                    .map_or(&[][..], |f| &f.dart.imports)
                {
                    if let Some(target) =
                        crate::project::resolve_import(package, &file, &import.uri)
                        && seen.insert(target.clone())
                    {
                        queue.push_back(target);
                    }
                }
            }
        }
        all.first()
    }

    /// The declaration of `name` in file `rel`, else the first declared.
    pub fn declared_at(&self, name: &str, rel: Option<&str>) -> Option<&Located<'a>> {
        let all = self.all.get(name)?;
        rel.and_then(|r| all.iter().find(|l| l.file == r))
            .or(all.first())
    }

    /// Whether `rel` is a hub the use graph does not go through: the app's entry
    /// (`lib/main.dart`) or a file declaring routes (from there, everything is reachable).
    pub fn is_hub(&self, package: &Package, rel: &str, rules: &Compiled) -> bool {
        rel == "lib/main.dart"
            || package.files.get(rel).is_some_and(|f| {
                f.dart.tokens.iter().any(|t| {
                    t.is_ident() && rules.rules.router.route_calls.iter().any(|c| *c == t.text)
                })
            })
    }

    /// The files of `package` whose top-level names `rel` mentions (itself excluded).
    pub fn uses(&self, package: &'a Package, rel: &'a str) -> Vec<&'a str> {
        if let Some(u) = self.uses.borrow().get(rel) {
            return u.clone();
        }
        let mut out: Vec<&'a str> = Vec::new();
        for name in self.names(package, rel).iter() {
            if let Some(&at) = self.declared.get(&(package.name.as_str(), *name))
                && at != rel
                && !out.contains(&at)
            {
                out.push(at);
            }
        }
        out.sort_unstable();
        self.uses.borrow_mut().insert(rel, out.clone());
        out
    }

    /// The LAN addresses (see [`lan_address`]) in a file's string literals: (line, address).
    pub fn lan_addresses(
        &self,
        package: &'a Package,
        rel: &'a str,
    ) -> std::rc::Rc<Vec<(u32, String)>> {
        if let Some(found) = self.lan.borrow().get(rel) {
            return found.clone();
        }
        let found: Vec<(u32, String)> = package
            .files
            .get(rel)
            .map(|f| {
                f.dart
                    .strings()
                    .filter(|(text, _, _)| text.contains('.'))
                    .filter_map(|(text, line, _)| lan_address(text).map(|ip| (line, ip.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let found = std::rc::Rc::new(found);
        self.lan.borrow_mut().insert(rel, found.clone());
        found
    }

    /// The identifiers and string literals of a file, as a set.
    pub fn names(
        &self,
        package: &'a Package,
        rel: &'a str,
    ) -> std::rc::Rc<rustc_hash::FxHashSet<&'a str>> {
        if let Some(n) = self.names.borrow().get(rel) {
            return n.clone();
        }
        let set: rustc_hash::FxHashSet<&'a str> = package
            .files
            .get(rel)
            .map(|f| {
                f.dart
                    .tokens
                    .iter()
                    .filter(|t| t.is_ident() || t.is_str())
                    .map(|t| t.text.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let set = std::rc::Rc::new(set);
        self.names.borrow_mut().insert(rel, set.clone());
        set
    }

    /// The superclass chain of `name` (itself first), within the project then one step out.
    pub fn chain(&self, name: &str) -> Vec<String> {
        let mut out = vec![name.to_owned()];
        let mut current = name.to_owned();
        for _ in 0..16 {
            match self
                .classes
                .get(current.as_str())
                .and_then(|l| l.class.superclass.clone())
            {
                Some(sup) if !out.contains(&sup) => {
                    out.push(sup.clone());
                    current = sup;
                }
                _ => break,
            }
        }
        out
    }

    /// A class of the project that extends a widget base (directly or through its classes).
    pub fn is_widget(&self, name: &str) -> bool {
        self.widgets.contains(name)
    }

    /// The state class of a widget: `… extends State<Widget>` (the first one declared, in
    /// package and path order).
    pub fn state_of(&self, widget: &str) -> Option<&Located<'a>> {
        self.states
            .get(widget)
            .and_then(|state| self.classes.get(state))
    }
}

/// One place a widget is registered.
#[derive(Debug, Clone)]
pub(super) struct Registration {
    /// The full route path (`/exercise_active/x` for a dispatched id), or `registry:<id>`.
    pub route: String,
    /// Registered by an exercise-list entry, not a route.
    pub via_registry: bool,
    /// The id a dispatching builder compared before returning it.
    pub dispatched: Option<String>,
    /// Built with the route's parameter on a parameterised path, without dispatch.
    pub generic: bool,
    /// The package-relative file declaring the widget, as the registering file sees it.
    pub declared_in: Option<String>,
    /// The file (absolute) and line of the registering constructor call.
    pub file: String,
    pub line: u32,
}

/// What the router says.
#[derive(Debug, Default)]
pub(super) struct Routing {
    /// Every registration of each widget, in reading order (packages, files by path, calls).
    pub by_widget: BTreeMap<String, Vec<Registration>>,
    /// Widgets built by shell routes.
    pub shells: BTreeSet<String>,
    /// (full path, widget) of every route registration, for navigation targets.
    pub paths: Vec<(String, String)>,
}

impl Routing {
    /// The widget a navigation path literal opens: the route whose segments match (a
    /// `:param` segment matches anything; an interpolated segment matches a `:param` one).
    pub fn widget_at(&self, target: &str) -> Option<&str> {
        let clean = target.split(['?', '#']).next().unwrap_or(target);
        let want: Vec<&str> = clean.split('/').filter(|s| !s.is_empty()).collect();
        let fits = |path: &str| {
            let have: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            have.len() == want.len()
                && have.iter().zip(&want).all(|(h, w)| {
                    if w.contains(HOLE) {
                        h.starts_with(':') || glob_fits(h, w)
                    } else {
                        h == w || h.starts_with(':')
                    }
                })
        };
        // An exact route wins over a parameterised one.
        self.paths
            .iter()
            .find(|(p, _)| {
                p.split('/')
                    .filter(|s| !s.is_empty())
                    .eq(want.iter().copied())
            })
            .or_else(|| self.paths.iter().find(|(p, _)| fits(p)))
            .map(|(_, w)| w.as_str())
    }
}

/// `abc_\u{1}` (a literal with a hole) against a concrete segment.
fn glob_fits(segment: &str, pattern: &str) -> bool {
    let mut parts = pattern.split(HOLE);
    let first = parts.next().unwrap_or("");
    segment.starts_with(first) && segment.len() >= first.len()
}

/// A private IPv4 address (`192.168.1.44`) written in a string literal; not the emulators'
/// aliases of the host (`10.0.2.2` Android, `10.0.3.2` Genymotion).
pub(super) fn lan_address(text: &str) -> Option<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| {
            let octets: Vec<u8> = w.split('.').filter_map(|o| o.parse().ok()).collect();
            w.split('.').count() == 4
                && octets.len() == 4
                && !["10.0.2.2", "10.0.3.2"].contains(w)
                && (octets[0] == 10
                    || (octets[0] == 192 && octets[1] == 168)
                    || (octets[0] == 172 && (16..=31).contains(&octets[1])))
        })
}

pub(super) fn is_upper_ident(t: &Token) -> bool {
    t.is_ident() && t.text.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The context an expression is resolved in.
pub(super) struct Resolver<'i, 'a> {
    pub index: &'i Index<'a>,
    pub rules: &'i Compiled,
}

/// A widget an expression shows, with the line of its construction, and whether that
/// construction passes the route's parameter (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shown {
    pub widget: String,
    pub line: u32,
    pub takes_parameter: bool,
}

impl Resolver<'_, '_> {
    fn nested_route(&self, t: &Token) -> bool {
        let r = &self.rules.rules.router;
        r.route_calls.iter().any(|c| *c == t.text) || r.shell_calls.iter().any(|c| *c == t.text)
    }

    /// The screen that `tokens[from..to]` shows (see the module docs); `scope` is where local
    /// variables are looked up (the enclosing builder or method body).
    pub fn shown(
        &self,
        tokens: &[Token],
        from: usize,
        to: usize,
        scope: usize,
        depth: usize,
    ) -> Option<Shown> {
        if depth > MAX_DEPTH {
            return None;
        }
        let to = to.min(tokens.len());
        // 1. A project widget constructed here (skipping nested routes).
        let mut i = from;
        while i < to {
            let t = &tokens[i];
            if self.nested_route(t) && tokens.get(i + 1).is_some_and(|n| n.is("(")) {
                i = matching(tokens, i + 1).map_or(to, |e| e + 1);
                continue;
            }
            if is_upper_ident(t) && self.index.is_widget(&t.text) {
                let open = if tokens.get(i + 1).is_some_and(|n| n.is("(")) {
                    Some(i + 1)
                } else if tokens.get(i + 1).is_some_and(|n| n.is("."))
                    && tokens.get(i + 2).is_some_and(Token::is_ident)
                    && tokens.get(i + 3).is_some_and(|n| n.is("("))
                {
                    Some(i + 3)
                } else {
                    None
                };
                if let Some(open) = open {
                    let close = matching(tokens, open).unwrap_or(to).min(to);
                    return Some(Shown {
                        widget: t.text.to_string(),
                        line: t.line,
                        takes_parameter: passes_parameter(tokens, open, close, scope),
                    });
                }
            }
            i += 1;
        }
        // 2. A static method or factory of a project class: follow its returns.
        for i in from..to.saturating_sub(3) {
            let t = &tokens[i];
            if !(is_upper_ident(t)
                && tokens[i + 1].is(".")
                && tokens[i + 2].is_ident()
                && tokens[i + 3].is("("))
            {
                continue;
            }
            let Some(owner) = self.index.classes.get(t.text.as_str()) else {
                continue;
            };
            let Some(method) = owner.class.method(&tokens[i + 2].text) else {
                continue;
            };
            let body = owner.tokens();
            let (b0, b1) = (method.body.start, method.body.end);
            for (_, e0, e1) in returns(body, b0, b1, self) {
                if let Some(s) = self.shown(body, e0, e1, b0, depth + 1) {
                    return Some(s);
                }
            }
        }
        // 3. A local variable declared earlier in the scope.
        let lone = (to - from == 1 || (to - from == 2 && tokens[from + 1].is("!")))
            .then(|| &tokens[from])
            .filter(|t| t.is_ident() && !is_upper_ident(t));
        if let Some(var) = lone {
            let decl = (scope..from).rev().find(|&k| {
                tokens[k].text == var.text
                    && tokens[k].is_ident()
                    && tokens.get(k + 1).is_some_and(|n| n.is("="))
            })?;
            let end = (decl + 2..to).find(|&k| tokens[k].is(";")).unwrap_or(to);
            return self.shown(tokens, decl + 2, end, scope, depth + 1);
        }
        None
    }
}

/// Whether the arguments `tokens[open..close]` pass a route parameter: they read
/// `pathParameters`/`queryParameters`/`params`, or name a local variable (declared in
/// `scope..open`) whose initialiser does.
fn passes_parameter(tokens: &[Token], open: usize, close: usize, scope: usize) -> bool {
    const READS: [&str; 4] = ["pathParameters", "queryParameters", "params", "queryParams"];
    let reads = |from: usize, to: usize| {
        tokens[from..to]
            .iter()
            .any(|t| READS.contains(&t.text.as_str()))
    };
    if reads(open, close) {
        return true;
    }
    tokens[open..close].iter().any(|arg| {
        arg.is_ident()
            && !is_upper_ident(arg)
            && (scope..open).any(|k| {
                tokens[k].text == arg.text
                    && tokens[k].is_ident()
                    && tokens.get(k + 1).is_some_and(|n| n.is("="))
                    && {
                        let end = (k + 2..open).find(|&e| tokens[e].is(";")).unwrap_or(open);
                        reads(k + 2, end)
                    }
            })
    })
}

/// The expressions returned in `tokens[from..to]` (`return expr;`, `=> expr`), each with
/// the id compared just before it (see the module docs), skipping nested route calls.
pub(super) fn returns(
    tokens: &[Token],
    from: usize,
    to: usize,
    resolver: &Resolver,
) -> Vec<(Option<String>, usize, usize)> {
    let to = to.min(tokens.len());
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    let mut k = from;
    while k < to {
        let t = &tokens[k];
        if resolver.nested_route(t) && tokens.get(k + 1).is_some_and(|n| n.is("(")) {
            k = matching(tokens, k + 1).map_or(to, |e| e + 1);
            continue;
        }
        if t.is("==") {
            let literal = [
                tokens.get(k + 1),
                k.checked_sub(1).and_then(|p| tokens.get(p)),
            ]
            .into_iter()
            .flatten()
            .find(|t| t.is_str() && !t.text.contains(HOLE));
            if let Some(l) = literal {
                pending = Some(l.text.to_string());
            }
        } else if t.is("case")
            && tokens.get(k + 1).is_some_and(Token::is_str)
            && tokens.get(k + 2).is_some_and(|n| n.is(":"))
        {
            pending = Some(tokens[k + 1].text.to_string());
        } else if t.is("return") || t.is("=>") {
            if t.is("=>")
                && let Some(prev) = k.checked_sub(1).map(|p| &tokens[p])
                && prev.is_str()
            {
                pending = Some(prev.text.to_string());
            }
            let end = expression_end(tokens, k + 1, to, t.is("=>"));
            // An arrow whose body returns in turn (`=> switch … { 'a' => A() }`) is left to
            // the returns inside it.
            let nests = t.is("=>")
                && tokens[k + 1..end]
                    .iter()
                    .any(|n| n.is("=>") || n.is("return"));
            if end > k + 1 && !nests {
                out.push((pending.take(), k + 1, end));
            }
            k = if t.is("=>") { k + 1 } else { end };
            continue;
        }
        k += 1;
    }
    out
}

/// Where the expression starting at `from` ends: the `;` at its level, or for an arrow
/// body also a `,`, `)`, `]` or `}` closing its level.
fn expression_end(tokens: &[Token], from: usize, to: usize, arrow: bool) -> usize {
    let mut k = from;
    while k < to {
        let t = &tokens[k];
        if t.is("(") || t.is("[") || t.is("{") {
            k = matching(tokens, k).map_or(to, |e| e + 1);
            continue;
        }
        if t.is(";") || (arrow && (t.is(",") || t.is(")") || t.is("]") || t.is("}"))) {
            return k;
        }
        k += 1;
    }
    to
}

/// The value of `name: 'literal'` among `tokens[from..to]` (top level or not).
fn named_literal(tokens: &[Token], from: usize, to: usize, name: &str) -> Option<String> {
    (from..to).find_map(|k| {
        (tokens[k].is(name)
            && tokens.get(k + 1).is_some_and(|c| c.is(":"))
            && tokens.get(k + 2).is_some_and(Token::is_str))
        .then(|| tokens[k + 2].text.to_string())
    })
}

/// Joins a route's path onto its parent's full path.
fn join(parent: &str, path: &str) -> String {
    if path.starts_with('/') || parent.is_empty() {
        if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        }
    } else if parent.ends_with('/') {
        format!("{parent}{path}")
    } else {
        format!("{parent}/{path}")
    }
}

/// Replaces the path's first `:param` segment with `id`, or appends `#id`.
fn dispatched_path(path: &str, id: &str) -> String {
    if path.contains("/:") || path.starts_with(':') {
        let mut replaced = false;
        path.split('/')
            .map(|s| {
                if s.starts_with(':') && !replaced {
                    replaced = true;
                    id
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        format!("{path}#{id}")
    }
}

/// Everything the router registers (see the module docs).
pub(super) fn routing(project: &Project, index: &Index, rules: &Compiled) -> Routing {
    let router = &rules.rules.router;
    let resolver = Resolver { index, rules };
    let mut routing = Routing::default();
    for package in &project.packages {
        for (rel, file) in &package.files {
            let tokens = &file.dart.tokens;
            let file_path = file.path.display().to_string();
            let declared_in = |widget: &str| {
                index
                    .visible_from(widget, package, rel)
                    .map(|l| l.file.to_owned())
            };
            // Route and shell calls of this file: (start, close, own path, is_shell).
            let mut calls: Vec<(usize, usize, String, bool)> = Vec::new();
            let mut registry_calls: Vec<(usize, usize)> = Vec::new();
            for (i, t) in tokens.iter().enumerate() {
                if !t.is_ident() || !tokens.get(i + 1).is_some_and(|n| n.is("(")) {
                    continue;
                }
                let is_route = router.route_calls.iter().any(|c| *c == t.text);
                let is_shell = router.shell_calls.iter().any(|c| *c == t.text);
                let is_registry = router.registry_calls.iter().any(|c| *c == t.text);
                if !(is_route || is_shell || is_registry) {
                    continue;
                }
                let Some(close) = matching(tokens, i + 1) else {
                    continue;
                };
                if is_registry {
                    registry_calls.push((i, close));
                    continue;
                }
                let path = if is_shell {
                    String::new()
                } else {
                    // The route's own `path:` (not a nested route's).
                    let mut own = None;
                    let mut k = i + 2;
                    while k < close {
                        if resolver.nested_route(&tokens[k])
                            && tokens.get(k + 1).is_some_and(|n| n.is("("))
                        {
                            k = matching(tokens, k + 1).map_or(close, |e| e + 1);
                            continue;
                        }
                        if tokens[k].is(&router.path_arg)
                            && tokens.get(k + 1).is_some_and(|c| c.is(":"))
                            && tokens.get(k + 2).is_some_and(Token::is_str)
                        {
                            own = Some(tokens[k + 2].text.to_string());
                            break;
                        }
                        k += 1;
                    }
                    own.unwrap_or_default()
                };
                calls.push((i, close, path, is_shell));
            }
            for (n, (start, close, path, is_shell)) in calls.iter().enumerate() {
                let mut full = path.clone();
                // Parents: the calls before this one whose range holds it, innermost first.
                let mut inner = *start;
                for (s, c, p, _) in calls[..n].iter().rev() {
                    if *s < inner && *c > *close {
                        if !p.is_empty() {
                            full = if full.is_empty() {
                                p.clone()
                            } else {
                                join(p, &full)
                            };
                        }
                        inner = *s;
                    }
                }
                let full = if full.starts_with('/') || full.is_empty() {
                    full
                } else {
                    format!("/{full}")
                };
                let has_param = full.split('/').any(|s| s.starts_with(':'));
                for (id, e0, e1) in returns(tokens, start + 2, *close, &resolver) {
                    let Some(shown) = resolver.shown(tokens, e0, e1, start + 2, 0) else {
                        continue;
                    };
                    if *is_shell {
                        routing.shells.insert(shown.widget);
                        continue;
                    }
                    let route = id
                        .as_deref()
                        .map_or_else(|| full.clone(), |id| dispatched_path(&full, id));
                    routing.paths.push((route.clone(), shown.widget.clone()));
                    let declared_in = declared_in(&shown.widget);
                    routing
                        .by_widget
                        .entry(shown.widget)
                        .or_default()
                        .push(Registration {
                            route,
                            via_registry: false,
                            generic: id.is_none() && has_param && shown.takes_parameter,
                            declared_in,
                            dispatched: id,
                            file: file_path.clone(),
                            // The returned expression's line, here: the widget itself may be
                            // built in another file (a factory).
                            line: tokens[e0].line,
                        });
                }
            }
            for (i, close) in registry_calls {
                let id = router
                    .registry_id_args
                    .iter()
                    .find_map(|a| named_literal(tokens, i + 2, close, a))
                    .unwrap_or_default();
                let mut k = i + 2;
                while k < close {
                    let t = &tokens[k];
                    if is_upper_ident(t)
                        && tokens.get(k + 1).is_some_and(|n| n.is("("))
                        && index.is_widget(&t.text)
                    {
                        routing
                            .by_widget
                            .entry(t.text.to_string())
                            .or_default()
                            .push(Registration {
                                route: format!("registry:{id}"),
                                via_registry: true,
                                dispatched: None,
                                generic: false,
                                declared_in: declared_in(&t.text),
                                file: file_path.clone(),
                                line: t.line,
                            });
                    }
                    k += 1;
                }
            }
        }
    }
    routing
}

/// Where a class navigates: each target widget (resolved through the routes or built in a
/// page route) with the line of the navigation. A path no route declares is left out.
#[derive(Debug, Default, Clone)]
pub(super) struct Navigation {
    pub targets: Vec<(String, u32)>,
}

/// Navigation calls taking a path (see the module docs).
const NAVIGATE_CALLS: [&str; 9] = [
    "go",
    "push",
    "goNamed",
    "pushNamed",
    "pushReplacement",
    "pushReplacementNamed",
    "pushNamedAndRemoveUntil",
    "replace",
    "popAndPushNamed",
];

pub(super) fn navigation(located: &Located, routing: &Routing, resolver: &Resolver) -> Navigation {
    let tokens = located.tokens();
    let mut nav = Navigation::default();
    for method in &located.class.methods {
        for call in &method.calls {
            if !NAVIGATE_CALLS.contains(&call.name.as_str()) {
                continue;
            }
            let Some(path) = call.string_args.first().filter(|p| p.starts_with('/')) else {
                continue;
            };
            if let Some(w) = routing.widget_at(path) {
                nav.targets.push((w.to_owned(), call.line));
            }
        }
    }
    let body = &located.class.body;
    let mut k = body.start;
    while k < body.end.min(tokens.len()) {
        let t = &tokens[k];
        let page_route = t.is_ident()
            && (t.text.ends_with("PageRoute") || t.text == "PageRouteBuilder")
            && tokens.get(k + 1).is_some_and(|n| n.is("("));
        if page_route && let Some(close) = matching(tokens, k + 1) {
            for (_, e0, e1) in returns(tokens, k + 2, close, resolver) {
                if let Some(s) = resolver.shown(tokens, e0, e1, body.start, 0) {
                    nav.targets.push((s.widget, s.line));
                }
            }
            k = close + 1;
            continue;
        }
        k += 1;
    }
    nav
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing_of(files: &[(&str, &str)]) -> Routing {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pubspec.yaml"), "name: app\n").unwrap();
        for (rel, text) in files {
            let p = dir.path().join("lib").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let project = crate::project::read_project(dir.path(), &[]);
        let rules = Compiled::default_rules();
        let index = Index::new(&project, &rules);
        routing(&project, &index, &rules)
    }

    fn routes(r: &Routing) -> Vec<(String, String, Option<String>, bool)> {
        r.by_widget
            .iter()
            .flat_map(|(w, regs)| {
                regs.iter()
                    .map(|g| (w.clone(), g.route.clone(), g.dispatched.clone(), g.generic))
            })
            .collect()
    }

    const SCREENS: &str = "
class A extends StatelessWidget {}
class B extends StatefulWidget { B.named(); }
class C extends ConsumerWidget {}
class Shell extends StatelessWidget {}
class Detail extends StatelessWidget {}
class Entry { static Widget make(int s) { final w = B.named(); return w; } }
";

    #[test]
    fn a_router_in_a_provider_with_nested_routes_shells_factories_and_dispatch() {
        let router = "
final routerProvider = Provider<GoRouter>((ref) {
  return GoRouter(routes: <RouteBase>[
    GoRoute(path: '/', builder: (c, s) { return const A(); }, routes: [
      ShellRoute(builder: (c, s, child) => Shell(child: child), routes: [
        GoRoute(path: 'home', builder: (c, s) => const C()),
      ]),
      GoRoute(path: 'b', builder: (c, s) { final x = 1; return Entry.make(x); }),
      GoRoute(path: 'detail/:id', builder: (c, s) {
        final id = s.pathParameters['id']!;
        return Detail(id: id);
      }),
      GoRoute(path: 'active/:id', builder: (c, s) {
        final id = s.pathParameters['id']!;
        if (id == 'c') { final screen = const C(); return screen; }
        switch (id) { case 'a': return const A(); }
        return Detail(id: id);
      }),
    ]),
  ]);
});
";
        let r = routing_of(&[("screens.dart", SCREENS), ("router.dart", router)]);
        assert_eq!(
            routes(&r),
            [
                ("A".into(), "/".into(), None, false),
                ("A".into(), "/active/a".into(), Some("a".into()), false),
                ("B".into(), "/b".into(), None, false),
                ("C".into(), "/home".into(), None, false),
                ("C".into(), "/active/c".into(), Some("c".into()), false),
                ("Detail".into(), "/detail/:id".into(), None, true),
                ("Detail".into(), "/active/:id".into(), None, true),
            ]
        );
        assert_eq!(r.shells, BTreeSet::from(["Shell".to_owned()]));
        assert_eq!(r.widget_at("/active/c"), Some("C"));
        assert_eq!(r.widget_at("/detail/\u{1}"), Some("Detail"));
        assert_eq!(r.widget_at("/nowhere"), None);
    }

    #[test]
    fn switch_expressions_dispatch_too() {
        let router = "
final r = GoRouter(routes: [
  GoRoute(path: '/ex/:id', builder: (c, s) => switch (s.pathParameters['id']) {
    'a' => const A(),
    _ => const C(),
  }),
]);
";
        let r = routing_of(&[("screens.dart", SCREENS), ("router.dart", router)]);
        let found = routes(&r);
        assert!(
            found.contains(&("A".into(), "/ex/a".into(), Some("a".into()), false)),
            "{found:?}"
        );
    }

    #[test]
    fn a_name_two_files_declare_is_the_one_the_router_imports() {
        let home = "class HomeScreen extends StatelessWidget {}";
        let router = "import 'b/home.dart';\nfinal r = GoRouter(routes: [GoRoute(path: '/home', builder: (c, s) => const HomeScreen())]);";
        let r = routing_of(&[
            ("a/home.dart", home),
            ("b/home.dart", home),
            ("router.dart", router),
        ]);
        assert_eq!(
            r.by_widget["HomeScreen"][0].declared_in.as_deref(),
            Some("lib/b/home.dart")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any soup of router words reads without a panic, and every exercise found has a route.
        #[test]
        fn router_soup_never_panics(words in proptest::collection::vec(0usize..WORDS.len(), 0..80)) {
            let soup: Vec<&str> = words.iter().map(|w| WORDS[*w]).collect();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("pubspec.yaml"), "name: app\n").unwrap();
            std::fs::create_dir_all(dir.path().join("lib")).unwrap();
            std::fs::write(dir.path().join("lib/screens.dart"), SCREENS).unwrap();
            std::fs::write(dir.path().join("lib/router.dart"), soup.join(" ")).unwrap();
            let project = crate::project::read_project(dir.path(), &[]);
            let analysis = crate::analysis::analyse(&project, &Compiled::default_rules(), &Default::default());
            for e in &analysis.exercises {
                proptest::prop_assert!(!e.routes.is_empty() && e.routes[0] == e.route);
            }
        }
    }

    const WORDS: [&str; 34] = [
        "GoRoute(",
        "ShellRoute(",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "path:",
        "'/exercise/a'",
        "':id'",
        "builder:",
        "(c, s)",
        "=>",
        "return",
        "if",
        "(id ==",
        "'a')",
        "switch",
        "case 'b':",
        "'c' =>",
        "final x =",
        "x;",
        "A()",
        "const C()",
        "B.named()",
        "Entry.make(x)",
        "Detail(id: id)",
        "state.pathParameters['id']",
        ",",
        ";",
        "routes:",
        "context.go('/exercise/a');",
        "Navigator.push(MaterialPageRoute(builder: (_) => C()));",
    ];

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "GoRoute(",
            "GoRoute(path: '/x', builder: (c, s) =>",
            "GoRoute(path: , builder: (c, s) { return ; })",
            "ShellRoute(builder: => ) GoRoute(path: '/', builder: (c,s) { if ( == 'x') return",
            "class A extends StatelessWidget {} GoRoute(path: '/a', builder: (c, s) { final a = a; return a; })",
            "class E { static Widget m() => E.m(); } GoRoute(path: '/e', builder: (c, s) => E.m())",
        ] {
            let _ = routing_of(&[("screens.dart", SCREENS), ("r.dart", text)]);
        }
    }
}
