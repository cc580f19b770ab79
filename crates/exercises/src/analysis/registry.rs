//! Detection: the project's classes, which are widgets, and where each widget is
//! registered (see [`super`] for the exact meaning of "registered").

use crate::dart::Class;
use crate::dart::lexer::Token;
use crate::project::{Package, Project};
use crate::rules::Compiled;
use std::collections::{BTreeMap, BTreeSet};

/// Where a class is: the package, its file, the class.
pub(super) struct Located<'a> {
    pub package: &'a Package,
    /// Relative to the package root.
    pub file: &'a str,
    pub class: &'a Class,
}

/// Every class of the project by name (the first one, when two files declare the same name).
pub(super) struct Index<'a> {
    pub classes: BTreeMap<&'a str, Located<'a>>,
}

impl<'a> Index<'a> {
    pub fn new(project: &'a Project) -> Self {
        let mut classes = BTreeMap::new();
        for package in &project.packages {
            for (rel, file) in &package.files {
                for class in &file.dart.classes {
                    classes.entry(class.name.as_str()).or_insert(Located {
                        package,
                        file: rel,
                        class,
                    });
                }
            }
        }
        Self { classes }
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

    pub fn is_widget(&self, name: &str, rules: &Compiled) -> bool {
        self.chain(name)
            .iter()
            .skip(1)
            .any(|c| rules.rules.screens.widget_bases.contains(c))
    }

    /// The state class of a widget: `… extends State<Widget>`.
    pub fn state_of(&self, widget: &str, rules: &Compiled) -> Option<&Located<'a>> {
        self.classes.values().find(|l| {
            l.class
                .superclass
                .as_ref()
                .is_some_and(|s| rules.rules.screens.state_bases.contains(s))
                && l.class.superclass_args.iter().any(|a| a == widget)
        })
    }
}

/// Where a widget is registered.
#[derive(Debug, Clone)]
pub(super) struct Registration {
    /// The route path, or `registry:<id>`.
    pub route: String,
    /// Registered by an exercise-list entry, not a route.
    pub via_registry: bool,
    /// The file (absolute) and line of the registering constructor call.
    pub file: String,
    pub line: u32,
}

pub(super) fn is_upper_ident(t: &Token) -> bool {
    t.is_ident() && t.text.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Widgets built in `tokens[from..to]` (constructor calls of known widgets), skipping
/// nested route declarations.
fn built_widgets(
    tokens: &[Token],
    from: usize,
    to: usize,
    index: &Index,
    rules: &Compiled,
) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        let t = &tokens[i];
        if rules.rules.router.route_calls.contains(&t.text)
            && tokens.get(i + 1).is_some_and(|n| n.is("("))
        {
            i = crate::dart::structure::matching(tokens, i + 1).map_or(to, |e| e + 1);
            continue;
        }
        if is_upper_ident(t)
            && tokens.get(i + 1).is_some_and(|n| n.is("("))
            && index.is_widget(&t.text, rules)
        {
            out.push((t.text.clone(), t.line));
        }
        i += 1;
    }
    out
}

/// Every registered widget, by class name: the first registration found wins (packages in
/// order, files by path, calls in order).
pub(super) fn registrations(
    project: &Project,
    index: &Index,
    rules: &Compiled,
) -> BTreeMap<String, Registration> {
    let mut found: BTreeMap<String, Registration> = BTreeMap::new();
    for package in &project.packages {
        for file in package.files.values() {
            let tokens = &file.dart.tokens;
            let file_path = file.path.display().to_string();
            for (i, t) in tokens.iter().enumerate() {
                let is_route = rules.rules.router.route_calls.contains(&t.text);
                let is_registry = rules.rules.router.registry_calls.contains(&t.text);
                if !(is_route || is_registry)
                    || !t.is_ident()
                    || !tokens.get(i + 1).is_some_and(|n| n.is("("))
                {
                    continue;
                }
                let Some(close) = crate::dart::structure::matching(tokens, i + 1) else {
                    continue;
                };
                let named = |arg: &str| {
                    (i + 2..close).find_map(|k| {
                        (tokens[k].is(arg)
                            && tokens.get(k + 1).is_some_and(|c| c.is(":"))
                            && tokens.get(k + 2).is_some_and(Token::is_str))
                        .then(|| tokens[k + 2].text.clone())
                    })
                };
                if is_registry {
                    let id = rules
                        .rules
                        .router
                        .registry_id_args
                        .iter()
                        .find_map(|a| named(a))
                        .unwrap_or_default();
                    for (widget, line) in built_widgets(tokens, i + 2, close, index, rules) {
                        found.entry(widget).or_insert(Registration {
                            route: format!("registry:{id}"),
                            via_registry: true,
                            file: file_path.clone(),
                            line,
                        });
                    }
                    continue;
                }
                let path = named(&rules.rules.router.path_arg).unwrap_or_default();
                // Id dispatch: `'x' == id` or `id == 'x'`, then `return [const] XScreen(`.
                let mut dispatched = BTreeSet::new();
                let mut k = i + 2;
                while k < close {
                    if tokens[k].is("==") {
                        let literal = [
                            tokens.get(k + 1),
                            k.checked_sub(1).and_then(|p| tokens.get(p)),
                        ]
                        .into_iter()
                        .flatten()
                        .find(|t| t.is_str())
                        .map(|t| t.text.clone());
                        if let Some(id) = literal {
                            let ret = (k..close).find(|&r| tokens[r].is("return"));
                            if let Some(r) = ret {
                                let widget = tokens[r + 1..close.min(r + 4)]
                                    .iter()
                                    .find(|t| is_upper_ident(t));
                                if let Some(w) = widget.filter(|w| index.is_widget(&w.text, rules))
                                {
                                    let route =
                                        if path.contains(':') {
                                            path.split('/')
                                                .map(|s| {
                                                    if s.starts_with(':') { id.as_str() } else { s }
                                                })
                                                .collect::<Vec<_>>()
                                                .join("/")
                                        } else {
                                            format!("{path}#{id}")
                                        };
                                    dispatched.insert(w.text.clone());
                                    found.entry(w.text.clone()).or_insert(Registration {
                                        route,
                                        via_registry: false,
                                        file: file_path.clone(),
                                        line: w.line,
                                    });
                                }
                            }
                        }
                    }
                    k += 1;
                }
                for (widget, line) in built_widgets(tokens, i + 2, close, index, rules) {
                    if dispatched.contains(&widget) {
                        continue;
                    }
                    found.entry(widget).or_insert(Registration {
                        route: path.clone(),
                        via_registry: false,
                        file: file_path.clone(),
                        line,
                    });
                }
            }
        }
    }
    found
}
