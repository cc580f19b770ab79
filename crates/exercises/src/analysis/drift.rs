//! Endpoint drift: the app's config files calling loopback ports the stack does not publish.

use super::{Drift, StackContext};
use crate::dart::lexer::HOLE;
use crate::project::Project;
use crate::rules::Compiled;

/// URLs on loopback in string literals: (url, port).
fn loopback_urls(text: &str) -> Vec<(String, u16)> {
    static LOOPBACK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = LOOPBACK.get_or_init(|| {
        regex::Regex::new(
            r"(?i)\b(https?|wss?)://(localhost|127\.0\.0\.1|10\.0\.2\.2|0\.0\.0\.0)(?::(\d{1,5}))?",
        )
        .expect("a valid regex")
    });
    re.captures_iter(text)
        .filter_map(|c| {
            let default = match c[1].to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                _ => 80,
            };
            let port = c
                .get(3)
                .map_or(Some(default), |p| p.as_str().parse::<u16>().ok())?;
            Some((c[0].to_owned(), port))
        })
        .collect()
}

/// Ports as a list with runs collapsed: `6379, 7880–7881, 40000–40100`.
fn port_ranges(ports: &std::collections::BTreeSet<u16>) -> String {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &p in ports {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(p) => *end = p,
            _ => runs.push((p, p)),
        }
    }
    runs.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loopback URLs in the app's config files (`network.config_files`) whose port the stack does
/// not publish; none when the published ports are unknown.
pub(super) fn drift(project: &Project, rules: &Compiled, stack: &StackContext) -> Vec<Drift> {
    let Some(published) = &stack.published_ports else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for package in &project.packages {
        for (rel, file) in &package.files {
            if !rules.is_config_file(rel) {
                continue;
            }
            for (text, line, _) in file.dart.strings() {
                let constant = text.replace(HOLE, "");
                // The field or getter holding it: the last member declared at or before
                // its line in the class around it.
                let entry = file
                    .dart
                    .classes
                    .iter()
                    .rfind(|c| c.line <= line)
                    .and_then(|c| {
                        c.fields
                            .iter()
                            .map(|f| (f.line, &f.name))
                            .chain(c.methods.iter().map(|m| (m.line, &m.name)))
                            .filter(|(l, _)| *l <= line)
                            .max_by_key(|(l, _)| *l)
                            .map(|(_, n)| n.clone())
                    });
                for (url, port) in loopback_urls(&constant) {
                    if !published.contains(&port) {
                        out.push(Drift {
                            entry: entry.clone(),
                            file: file.path.display().to_string(),
                            line,
                            message: format!(
                                "the app calls port {port} ({url}) but the stack publishes no port {port}; it publishes {}",
                                port_ranges(published)
                            ),
                            url,
                            port,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_read_as_runs() {
        let ports = [6379u16, 7880, 7881, 8005, 40000, 40001, 40002]
            .into_iter()
            .collect();
        assert_eq!(port_ranges(&ports), "6379, 7880–7881, 8005, 40000–40002");
    }

    #[test]
    fn globs_and_loopback_urls() {
        let glob_matches = |g: &str, p: &str| {
            regex::Regex::new(&crate::rules::glob_regex(g))
                .unwrap()
                .is_match(p)
        };
        assert!(glob_matches(
            "lib/**/app_config.dart",
            "lib/core/app_config.dart"
        ));
        assert!(glob_matches(
            "lib/**/app_config.dart",
            "lib/app_config.dart"
        ));
        assert!(!glob_matches(
            "lib/**/app_config.dart",
            "lib/core/other.dart"
        ));
        assert_eq!(
            loopback_urls("ws://localhost:7880 and http://127.0.0.1/x https://10.0.2.2:8005"),
            vec![
                ("ws://localhost:7880".to_owned(), 7880),
                ("http://127.0.0.1".to_owned(), 80),
                ("https://10.0.2.2:8005".to_owned(), 8005)
            ]
        );
    }
}
