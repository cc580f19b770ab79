//! The dependency graph: start order, stop order, and who is affected by whom.
//!
//! `start_order` returns the enabled services in *levels*: every service of a level
//! depends only on services of earlier levels, so a level's services may start in
//! parallel. Within a level, names are sorted (deterministic output). Stopping runs the
//! levels in reverse. A dependency on a disabled service is ignored for ordering (the
//! supervisor reports it as unmet). A cycle is an `Err` with the path (`a → b → a`).

use crate::manifest::Manifest;
use std::collections::{BTreeMap, BTreeSet};

pub fn start_order(manifest: &Manifest) -> Result<Vec<Vec<String>>, Vec<String>> {
    let enabled: BTreeSet<&str> = manifest
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(id, _)| id.as_str())
        .collect();
    let deps: BTreeMap<&str, BTreeSet<String>> = enabled
        .iter()
        .map(|id| {
            let d = manifest.services[*id]
                .depends_on
                .entries()
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| enabled.contains(n.as_str()) && n != id)
                .collect();
            (*id, d)
        })
        .collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < enabled.len() {
        let level: Vec<String> = enabled
            .iter()
            .filter(|id| !placed.contains(**id))
            .filter(|id| deps[**id].iter().all(|d| placed.contains(d)))
            .map(|id| (*id).to_owned())
            .collect();
        if level.is_empty() {
            let rest: BTreeSet<&str> = enabled
                .iter()
                .copied()
                .filter(|id| !placed.contains(*id))
                .collect();
            return Err(find_cycle(&deps, &rest));
        }
        placed.extend(level.iter().cloned());
        levels.push(level);
    }
    Ok(levels)
}

fn find_cycle(deps: &BTreeMap<&str, BTreeSet<String>>, rest: &BTreeSet<&str>) -> Vec<String> {
    // Walk from the first remaining service along remaining dependencies until a repeat.
    let mut path: Vec<String> = Vec::new();
    let mut current = rest
        .iter()
        .next()
        .map(|s| (*s).to_owned())
        .unwrap_or_default();
    loop {
        if let Some(pos) = path.iter().position(|p| *p == current) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(current);
            return cycle;
        }
        path.push(current.clone());
        let next = deps
            .get(current.as_str())
            .and_then(|d| d.iter().find(|n| rest.contains(n.as_str())).cloned());
        match next {
            Some(n) => current = n,
            None => return path,
        }
    }
}

/// Every service that depends on `id`, directly or not, sorted.
pub fn dependents(manifest: &Manifest, id: &str) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut frontier = vec![id.to_owned()];
    while let Some(current) = frontier.pop() {
        for (other, spec) in &manifest.services {
            if spec.depends_on.entries().iter().any(|(d, _)| *d == current)
                && found.insert(other.clone())
            {
                frontier.push(other.clone());
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DependsOn, ServiceSpec};

    fn stack(edges: &[(&str, &[&str])]) -> Manifest {
        let mut m = Manifest::default();
        for (id, deps) in edges {
            m.services.insert(
                (*id).into(),
                ServiceSpec {
                    command: Some("x".into()),
                    depends_on: DependsOn::List(deps.iter().map(|d| (*d).into()).collect()),
                    ..Default::default()
                },
            );
        }
        m
    }

    #[test]
    fn levels_start_independent_services_together() {
        let m = stack(&[
            ("redis", &[]),
            ("livekit", &["redis"]),
            ("token", &[]),
            ("agent", &["livekit", "token"]),
        ]);
        assert_eq!(
            start_order(&m).unwrap(),
            vec![vec!["redis", "token"], vec!["livekit"], vec!["agent"]]
        );
        assert_eq!(dependents(&m, "redis"), vec!["agent", "livekit"]);
    }

    #[test]
    fn cycles_are_reported_as_paths() {
        let m = stack(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(start_order(&m).unwrap_err(), vec!["a", "b", "c", "a"]);
    }

    #[test]
    fn disabled_services_are_left_out() {
        let mut m = stack(&[("a", &["b"]), ("b", &[])]);
        m.services.get_mut("b").unwrap().enabled = false;
        assert_eq!(start_order(&m).unwrap(), vec![vec!["a"]]);
    }
}
