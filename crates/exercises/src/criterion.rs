//! The nine criteria an exercise is scored on, as one closed vocabulary.
//!
//! A [`CriterionId`] is a criterion's identity everywhere: its wire name (serde snake_case,
//! the `id` of a [`Criterion`](crate::analysis::Criterion) in JSON and TypeScript), the key
//! of the rule pack's `[weights]` and `[fix_minutes]` tables, its title and whether it is
//! **blocking** (failing it makes an exercise invalid whatever its score). How each one is
//! judged is in [`crate::analysis::criteria`].
//!
//! [`PerCriterion`] holds one value per criterion and nothing else: the rule pack's weights
//! and fix minutes are of that type, so a missing or misspelt id cannot reach the scoring
//! (the loader rejects it, saying where: see [`crate::rules`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// A criterion, by its wire name. The declaration order is the order of an exercise's
/// `criteria`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CriterionId {
    /// Where it is registered (always passes for an exercise: detection requires it).
    Registered,
    /// A mixin user implements every `lifecycle.mixin_callbacks`.
    MixinCallbacks,
    /// `initState` calls an audio init with a real exercise type.
    AudioInit,
    /// Every releasable field is released in `dispose()`.
    Dispose,
    /// The agent routes its exercise type (blocking).
    AgentRouting,
    /// It calls only ports the stack publishes.
    EndpointDrift,
    /// The services it needs are healthy in the running stack.
    ServicesHealthy,
    /// Its network calls handle errors.
    ErrorHandling,
    /// A template copy no longer carries placeholders (blocking).
    TemplateChanged,
}

impl CriterionId {
    /// How many criteria there are.
    pub const COUNT: usize = 9;

    /// Every criterion, in declaration (scoring) order.
    pub const ALL: [CriterionId; Self::COUNT] = [
        Self::Registered,
        Self::MixinCallbacks,
        Self::AudioInit,
        Self::Dispose,
        Self::AgentRouting,
        Self::EndpointDrift,
        Self::ServicesHealthy,
        Self::ErrorHandling,
        Self::TemplateChanged,
    ];

    /// The wire name: the serde name and the rule pack's key.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::MixinCallbacks => "mixin_callbacks",
            Self::AudioInit => "audio_init",
            Self::Dispose => "dispose",
            Self::AgentRouting => "agent_routing",
            Self::EndpointDrift => "endpoint_drift",
            Self::ServicesHealthy => "services_healthy",
            Self::ErrorHandling => "error_handling",
            Self::TemplateChanged => "template_changed",
        }
    }

    /// The title a person reads.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Registered => "Registered in the router or the exercise list",
            Self::MixinCallbacks => "Implements the exercise mixin's callbacks",
            Self::AudioInit => "Initialises audio in initState with a real exercise type",
            Self::Dispose => "Releases controllers, streams, timers and subscriptions in dispose",
            Self::AgentRouting => "The agent routes its exercise type",
            Self::EndpointDrift => "Calls only ports the stack publishes",
            Self::ServicesHealthy => "The services it needs are healthy now",
            Self::ErrorHandling => "Handles errors around its network calls",
            Self::TemplateChanged => "A template copy has been made its own",
        }
    }

    /// Whether failing it makes the exercise invalid whatever its score: an unknown type
    /// silently falls back to another exercise in the agent; a template copy is not an
    /// exercise yet.
    pub const fn blocking(self) -> bool {
        matches!(self, Self::AgentRouting | Self::TemplateChanged)
    }

    /// The criterion of a wire name; `None` for any other text.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Every wire name, comma-separated (for messages).
    pub fn known() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl std::fmt::Display for CriterionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for CriterionId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CriterionId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One `T` per criterion: total by construction, indexed by [`CriterionId`].
///
/// As TOML (or any serde format) it is a table keyed by wire names that names every
/// criterion exactly once; an unknown or a missing name is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerCriterion<T>([T; CriterionId::COUNT]);

impl<T> PerCriterion<T> {
    pub fn from_fn(mut f: impl FnMut(CriterionId) -> T) -> Self {
        Self(CriterionId::ALL.map(&mut f))
    }

    /// (criterion, value), in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (CriterionId, &T)> {
        CriterionId::ALL.into_iter().zip(self.0.iter())
    }

    /// From a map naming every criterion; otherwise the ids that are missing.
    pub fn from_map(mut map: BTreeMap<CriterionId, T>) -> Result<Self, Vec<CriterionId>> {
        let missing: Vec<CriterionId> = CriterionId::ALL
            .into_iter()
            .filter(|c| !map.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(Self::from_fn(|c| map.remove(&c).expect("checked above")))
    }
}

impl<T> std::ops::Index<CriterionId> for PerCriterion<T> {
    type Output = T;
    fn index(&self, id: CriterionId) -> &T {
        &self.0[id as usize]
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerCriterion<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, T>::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (name, value) in raw {
            let id = CriterionId::from_name(&name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown criterion \"{name}\"; known: {}",
                    CriterionId::known()
                ))
            })?;
            map.insert(id, value);
        }
        Self::from_map(map).map_err(|missing| {
            serde::de::Error::custom(format!(
                "missing criteria: {}",
                missing
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_serde_names_and_round_trip() {
        for id in CriterionId::ALL {
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                format!("\"{}\"", id.as_str())
            );
            assert_eq!(CriterionId::from_name(id.as_str()), Some(id));
            assert_eq!(id, id.as_str());
            assert_eq!(CriterionId::ALL[id as usize], id);
        }
        assert_eq!(CriterionId::from_name("dispos"), None);
        let blocking: Vec<_> = CriterionId::ALL
            .into_iter()
            .filter(|c| c.blocking())
            .collect();
        assert_eq!(
            blocking,
            [CriterionId::AgentRouting, CriterionId::TemplateChanged]
        );
    }

    #[test]
    fn a_per_criterion_table_names_every_criterion_once() {
        let full: String = CriterionId::ALL
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {i}\n"))
            .collect();
        let t: PerCriterion<u32> = toml::from_str(&full).unwrap();
        assert_eq!(t[CriterionId::Dispose], 3);
        assert_eq!(t.iter().count(), CriterionId::COUNT);
        let err = toml::from_str::<PerCriterion<u32>>("registered = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing criteria: mixin_callbacks"), "{err}");
        let err = toml::from_str::<PerCriterion<u32>>(&format!("{full}dispos = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown criterion \"dispos\""), "{err}");
    }
}
