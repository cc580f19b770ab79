//! The metric catalogue: every figure the engine reports, written once.
//!
//! A [`Metric`] has an id, a label, a unit, a direction (is lower better?) and rating
//! bands. The bands are the Eloquence team's thresholds, and they are the only copy: the
//! CLI colours by them, reports store the ratings they give, and the UI receives the
//! catalogue through the generated types (`metric_catalogue`) and the figures already
//! computed, so nothing is written again in TypeScript.
//!
//! **Rating semantics.** Bands are listed best first. A value gets the rating of the first
//! band it falls in: `value < up_to`, or `value <= up_to` when the band is `inclusive`
//! (for a metric where lower is better; mirrored for higher is better). A value past every
//! band is [`Rating::Problem`]. A metric without bands is reported but never rated.
//!
//! Percentiles: [`greenroom_core::percentile`] (nearest rank), the one definition.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use greenroom_core::percentile;

/// How good a figure is, by the team's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Excellent,
    Good,
    Acceptable,
    Problem,
}

/// Every metric the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MetricId {
    /// End-to-end latency of a data packet or an audio marker.
    Latency,
    /// Share of packets that never arrived.
    PacketLoss,
    /// Packet delay variation (mean absolute difference of consecutive latencies).
    Jitter,
    /// Token to ready (connected, data channels open).
    JoinTime,
    /// From publishing to the first audio frame heard.
    FirstAudio,
    /// Packets per second received.
    Throughput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Milliseconds,
    /// A share between 0 and 1 (shown as a percentage).
    Share,
    PerSecond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// One rating band (see the module doc for the exact rule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct Band {
    pub up_to: f64,
    pub inclusive: bool,
    pub rating: Rating,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Metric {
    pub id: MetricId,
    pub label: String,
    pub unit: Unit,
    pub direction: Direction,
    /// Best first; empty: reported, never rated.
    pub bands: Vec<Band>,
}

const fn band(up_to: f64, inclusive: bool, rating: Rating) -> Band {
    Band {
        up_to,
        inclusive,
        rating,
    }
}

/// Latency: < 100 ms excellent, 100–300 good, 300–500 acceptable, > 500 problem.
const LATENCY_BANDS: [Band; 3] = [
    band(100.0, false, Rating::Excellent),
    band(300.0, true, Rating::Good),
    band(500.0, true, Rating::Acceptable),
];
/// Loss: < 1 % excellent, 1–5 % acceptable, > 5 % problem.
const LOSS_BANDS: [Band; 2] = [
    band(0.01, false, Rating::Excellent),
    band(0.05, true, Rating::Acceptable),
];

impl MetricId {
    pub const ALL: [MetricId; 6] = [
        MetricId::Latency,
        MetricId::PacketLoss,
        MetricId::Jitter,
        MetricId::JoinTime,
        MetricId::FirstAudio,
        MetricId::Throughput,
    ];

    pub fn metric(self) -> Metric {
        let (label, unit, direction, bands): (&str, Unit, Direction, &[Band]) = match self {
            MetricId::Latency => (
                "Latency",
                Unit::Milliseconds,
                Direction::LowerIsBetter,
                &LATENCY_BANDS,
            ),
            MetricId::PacketLoss => (
                "Packet loss",
                Unit::Share,
                Direction::LowerIsBetter,
                &LOSS_BANDS,
            ),
            MetricId::Jitter => ("Jitter", Unit::Milliseconds, Direction::LowerIsBetter, &[]),
            MetricId::JoinTime => (
                "Join time",
                Unit::Milliseconds,
                Direction::LowerIsBetter,
                &[],
            ),
            MetricId::FirstAudio => (
                "First audio",
                Unit::Milliseconds,
                Direction::LowerIsBetter,
                &[],
            ),
            MetricId::Throughput => (
                "Throughput",
                Unit::PerSecond,
                Direction::HigherIsBetter,
                &[],
            ),
        };
        Metric {
            id: self,
            label: label.to_owned(),
            unit,
            direction,
            bands: bands.to_vec(),
        }
    }
}

impl Metric {
    /// The rating of `value` (see the module doc); `None` for a metric without bands.
    pub fn rate(&self, value: f64) -> Option<Rating> {
        if self.bands.is_empty() {
            return None;
        }
        let within = |b: &Band| match (self.direction, b.inclusive) {
            (Direction::LowerIsBetter, false) => value < b.up_to,
            (Direction::LowerIsBetter, true) => value <= b.up_to,
            (Direction::HigherIsBetter, false) => value > b.up_to,
            (Direction::HigherIsBetter, true) => value >= b.up_to,
        };
        Some(
            self.bands
                .iter()
                .find(|b| within(b))
                .map_or(Rating::Problem, |b| b.rating),
        )
    }
}

/// Every metric, in [`MetricId::ALL`]'s order.
pub fn catalogue() -> Vec<Metric> {
    MetricId::ALL.iter().map(|id| id.metric()).collect()
}

/// The rating of a latency in ms (the team's thresholds).
pub fn rate_latency(ms: f64) -> Rating {
    MetricId::Latency
        .metric()
        .rate(ms)
        .unwrap_or(Rating::Problem)
}

/// The rating of a loss share, 0..1 (the team's thresholds).
pub fn rate_loss(share: f64) -> Rating {
    MetricId::PacketLoss
        .metric()
        .rate(share)
        .unwrap_or(Rating::Problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_follow_the_teams_thresholds() {
        assert_eq!(rate_latency(99.9), Rating::Excellent);
        assert_eq!(rate_latency(100.0), Rating::Good);
        assert_eq!(rate_latency(300.0), Rating::Good);
        assert_eq!(rate_latency(450.0), Rating::Acceptable);
        assert_eq!(rate_latency(500.1), Rating::Problem);
        assert_eq!(rate_loss(0.009), Rating::Excellent);
        assert_eq!(rate_loss(0.03), Rating::Acceptable);
        assert_eq!(rate_loss(0.051), Rating::Problem);
    }

    #[test]
    fn higher_is_better_metrics_mirror_the_bands_and_unbanded_ones_are_not_rated() {
        let m = Metric {
            id: MetricId::Throughput,
            label: "t".into(),
            unit: Unit::PerSecond,
            direction: Direction::HigherIsBetter,
            bands: vec![
                band(10.0, true, Rating::Excellent),
                band(5.0, false, Rating::Good),
            ],
        };
        assert_eq!(m.rate(10.0), Some(Rating::Excellent));
        assert_eq!(m.rate(7.0), Some(Rating::Good));
        assert_eq!(m.rate(5.0), Some(Rating::Problem));
        assert_eq!(MetricId::Jitter.metric().rate(1e9), None);
    }

    #[test]
    fn the_catalogue_has_every_metric_once_with_bands_best_first() {
        let all = catalogue();
        assert_eq!(all.len(), MetricId::ALL.len());
        for m in &all {
            assert!(
                m.bands.windows(2).all(|w| w[0].rating < w[1].rating),
                "{:?}",
                m.id
            );
        }
    }
}
