//! Word error rate: how far a transcript (speech recognition's hypothesis) is from what
//! was said (the reference).
//!
//! Why: the test engine scores STT on scripted utterances (espeak-ng, pico) and the team
//! compares engines and settings by WER; French must score right, accents included.
//!
//! Semantics:
//! - Both texts are normalised the same way: Unicode lowercase; letters, digits and
//!   combining marks (U+0300–U+036F) are kept; an apostrophe (`'` or `’`) between two
//!   letters stays in its word as `'` (`l'homme`, `aujourd'hui` are one word); every
//!   other character (punctuation, hyphens, symbols, spaces) separates words. Accents
//!   count: `où` and `ou` are different words. No Unicode normalisation (NFC) is applied.
//! - The alignment is a word-level Levenshtein distance (all edits cost 1); among the
//!   alignments of least cost, matches and substitutions are preferred to deletions,
//!   and deletions to insertions, so the counts are deterministic.
//! - `rate = (substitutions + deletions + insertions) / max(reference words, 1)`: 0 for
//!   equal texts, possibly above 1 when the hypothesis has extra words; an empty
//!   reference gives the number of inserted words.
//!
//! Memory is linear in the hypothesis' length and time is the product of the two lengths.

use serde::Serialize;
use ts_rs::TS;

/// The alignment counts and the rate.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct WerReport {
    pub reference_words: u32,
    pub hypothesis_words: u32,
    pub substitutions: u32,
    pub deletions: u32,
    pub insertions: u32,
    pub rate: f64,
}

impl WerReport {
    /// Substitutions, deletions and insertions together.
    pub fn errors(&self) -> u32 {
        self.substitutions + self.deletions + self.insertions
    }
}

/// The words of `text` after normalisation (see the module's documentation).
pub fn normalize_words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, c) in chars.iter().enumerate() {
        let keep = c.is_alphanumeric() || ('\u{300}'..='\u{36f}').contains(c);
        let apostrophe = matches!(c, '\'' | '’')
            && i > 0
            && chars[i - 1].is_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if keep {
            word.extend(c.to_lowercase());
        } else if apostrophe && !word.is_empty() {
            word.push('\'');
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    cost: u32,
    subs: u32,
    dels: u32,
    ins: u32,
}

/// The word error rate of `hypothesis` against `reference`.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> WerReport {
    let r = normalize_words(reference);
    let h = normalize_words(hypothesis);
    // prev[j]: the best alignment of r[..i] with h[..j]
    let mut prev: Vec<Cell> = (0..=h.len())
        .map(|j| Cell {
            cost: j as u32,
            ins: j as u32,
            ..Cell::default()
        })
        .collect();
    let mut cur = vec![Cell::default(); h.len() + 1];
    for (i, rw) in r.iter().enumerate() {
        cur[0] = Cell {
            cost: i as u32 + 1,
            dels: i as u32 + 1,
            ..Cell::default()
        };
        for (j, hw) in h.iter().enumerate() {
            let diagonal = if rw == hw {
                prev[j]
            } else {
                Cell {
                    cost: prev[j].cost + 1,
                    subs: prev[j].subs + 1,
                    ..prev[j]
                }
            };
            let deletion = Cell {
                cost: prev[j + 1].cost + 1,
                dels: prev[j + 1].dels + 1,
                ..prev[j + 1]
            };
            let insertion = Cell {
                cost: cur[j].cost + 1,
                ins: cur[j].ins + 1,
                ..cur[j]
            };
            // least cost first; on ties the order of preference written above
            let mut best = diagonal;
            if deletion.cost < best.cost {
                best = deletion;
            }
            if insertion.cost < best.cost {
                best = insertion;
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let end = prev[h.len()];
    WerReport {
        reference_words: r.len() as u32,
        hypothesis_words: h.len() as u32,
        substitutions: end.subs,
        deletions: end.dels,
        insertions: end.ins,
        rate: f64::from(end.cost) / r.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(r: &str, h: &str) -> (u32, u32, u32, f64) {
        let w = word_error_rate(r, h);
        (w.substitutions, w.deletions, w.insertions, w.rate)
    }

    #[test]
    fn known_answers() {
        assert_eq!(counts("the cat sat", "the cat sat"), (0, 0, 0, 0.0));
        assert_eq!(
            counts("the cat sat on the mat", "the cat sit on mat"),
            (1, 1, 0, 2.0 / 6.0)
        );
        assert_eq!(counts("a b", "a x b"), (0, 0, 1, 0.5));
        assert_eq!(counts("a b c d", ""), (0, 4, 0, 1.0));
        assert_eq!(counts("", "hello there"), (0, 0, 2, 2.0));
        assert_eq!(counts("", ""), (0, 0, 0, 0.0));
        assert_eq!(counts("one two", "three four five"), (2, 0, 1, 1.5));
    }

    #[test]
    fn case_and_punctuation_do_not_count_but_accents_do() {
        assert_eq!(counts("Bonjour, Marie !", "bonjour marie"), (0, 0, 0, 0.0));
        assert_eq!(
            counts("Où est la bibliothèque ?", "ou est la bibliothèque"),
            (1, 0, 0, 0.25)
        );
        assert_eq!(counts("ÉCOLE été", "école Été"), (0, 0, 0, 0.0));
        assert_eq!(
            normalize_words("L’homme, aujourd'hui : peut-être 3,5 €… 'quoted'"),
            ["l'homme", "aujourd'hui", "peut", "être", "3", "5", "quoted"]
        );
        assert_eq!(normalize_words("e\u{301}te\u{301}"), ["e\u{301}te\u{301}"]);
        assert_eq!(normalize_words("Straße ÇA"), ["straße", "ça"]);
    }

    proptest! {
        #[test]
        fn a_text_against_itself_scores_zero(text in "\\PC{0,60}") {
            let w = word_error_rate(&text, &text);
            prop_assert_eq!(w.errors(), 0);
            prop_assert_eq!(w.rate, 0.0);
        }

        #[test]
        fn never_panics_and_the_counts_add_up(r in any::<String>(), h in any::<String>()) {
            let w = word_error_rate(&r, &h);
            prop_assert!(w.rate.is_finite() && w.rate >= 0.0);
            // matched + substituted words, seen from either side
            prop_assert_eq!(w.reference_words - w.deletions, w.hypothesis_words - w.insertions);
            prop_assert!(w.errors() <= w.reference_words.max(w.hypothesis_words));
        }
    }
}
