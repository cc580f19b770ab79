//! Sentences out of a reply that arrives a few characters at a time, so that Marie starts
//! speaking the first one while the conversation service is still writing the rest.
//!
//! Why: time to first audio is dominated by waiting for text; a whole reply takes the LLM
//! a second or more, its first sentence a fraction of that.
//!
//! Semantics of [`SentenceSplitter`]:
//! - [`push`](SentenceSplitter::push) takes the next piece of text and returns every
//!   sentence completed by it, trimmed, in order; [`finish`](SentenceSplitter::finish)
//!   returns what is left (if not blank).
//! - A sentence ends after `.`, `!`, `?` or `…` (any run of them, with closing quotes or
//!   brackets right after) **followed by whitespace**; so "3.5", "www.x.fr" and a reply
//!   cut mid-word do not end one. French spacing ("Bonjour !") works: the mark is followed
//!   by whitespace.
//! - Not an end: a period after a common abbreviation (M., Mme, Dr, etc., p. ex.) or a
//!   single capital letter (an initial).
//! - A sentence shorter than [`MIN_CHARS`] letters is held and joined to the next one
//!   ("Oui. Bien sûr !" is one clip): very short clips sound chopped.
//! - Concatenating everything returned equals the input with whitespace between sentences
//!   normalised to one space.

/// The fewest characters a sentence has before it is released on its own.
pub const MIN_CHARS: usize = 12;

const ABBREVIATIONS: &[&str] = &[
    "m", "mm", "mme", "mmes", "mlle", "dr", "pr", "st", "ste", "etc", "ex", "p", "cf", "vs", "env",
    "av", "apr", "mr", "mrs", "ms", "no", "n°",
];

#[derive(Debug, Default, Clone)]
pub struct SentenceSplitter {
    pending: String,
    /// Sentences held back because they were short.
    held: String,
}

fn ends_sentence(before: &str) -> bool {
    let trimmed = before.trim_end_matches(['"', '»', ')', ']', '\'', '’', ' ', '\u{a0}']);
    let Some(last) = trimmed.chars().last() else {
        return false;
    };
    if matches!(last, '!' | '?' | '…') {
        return true;
    }
    if last != '.' {
        return false;
    }
    // The word before the period.
    let body = trimmed.trim_end_matches('.');
    let word = body
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '«')
        .next()
        .unwrap_or("");
    if word.is_empty() {
        return true;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_uppercase()
    {
        return false;
    }
    true
}

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds text; returns the sentences it completed.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        loop {
            // The first whitespace that follows an end of sentence.
            let mut cut = None;
            for (i, c) in self.pending.char_indices() {
                if c.is_whitespace() && i > 0 && ends_sentence(&self.pending[..i]) {
                    cut = Some(i);
                    break;
                }
            }
            let Some(mut i) = cut else { break };
            // French quotes and brackets close after a space: « C'est parfait ! »
            let after = self.pending[i..].trim_start();
            if let Some(c) = after.chars().next()
                && matches!(c, '»' | '”' | ')')
            {
                i = self.pending.len() - after.len() + c.len_utf8();
            }
            let sentence = self.pending[..i].trim().to_string();
            let rest = self.pending[i..].trim_start().to_string();
            self.pending = rest;
            if let Some(s) = self.release(sentence) {
                out.push(s);
            }
        }
        out
    }

    fn release(&mut self, sentence: String) -> Option<String> {
        if sentence.is_empty() {
            return None;
        }
        if !self.held.is_empty() {
            self.held.push(' ');
        }
        self.held.push_str(&sentence);
        if self.held.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_CHARS {
            Some(std::mem::take(&mut self.held))
        } else {
            None
        }
    }

    /// The end of the reply: whatever is left, if not blank.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        let mut out = std::mem::take(&mut self.held);
        if !rest.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(rest);
        }
        (!out.is_empty()).then_some(out)
    }
}

/// All the sentences of a complete text.
pub fn split_all(text: &str) -> Vec<String> {
    let mut s = SentenceSplitter::new();
    let mut out = s.push(text);
    out.extend(s.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn french_sentences_split_where_a_reader_would() {
        assert_eq!(
            split_all("Bonjour ! Je suis ravie de discuter avec vous. De quoi parle-t-on ?"),
            [
                "Bonjour ! Je suis ravie de discuter avec vous.",
                "De quoi parle-t-on ?"
            ]
        );
        assert_eq!(
            split_all("M. Dupont a lu 3.5 pages, etc. puis il est parti. Voilà tout."),
            [
                "M. Dupont a lu 3.5 pages, etc. puis il est parti.",
                "Voilà tout."
            ]
        );
        assert_eq!(
            split_all("« C'est vraiment parfait ! » Continuez ainsi… Oui. Très bien."),
            [
                "« C'est vraiment parfait ! »",
                "Continuez ainsi…",
                "Oui. Très bien."
            ]
        );
    }

    #[test]
    fn a_sentence_is_released_as_soon_as_it_is_complete() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("C'est une très bonne").is_empty());
        assert!(
            s.push(" question.").is_empty(),
            "no whitespace after the period yet"
        );
        assert_eq!(s.push(" Et"), ["C'est une très bonne question."]);
        assert_eq!(s.finish().as_deref(), Some("Et"));
        assert_eq!(s.finish(), None);
    }

    proptest! {
        #[test]
        fn splitting_loses_nothing_whatever_the_chunking(
            words in proptest::collection::vec("[a-zA-Zéà]{1,8}[.!?,]?", 0..40),
            cuts in proptest::collection::vec(1usize..7, 1..60),
        ) {
            let text = words.join(" ");
            let mut s = SentenceSplitter::new();
            let mut out = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            for c in cuts.iter().cycle() {
                if i >= chars.len() { break; }
                let end = (i + c).min(chars.len());
                out.extend(s.push(&chars[i..end].iter().collect::<String>()));
                i = end;
            }
            out.extend(s.finish());
            let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(norm(&out.join(" ")), norm(&text));
            prop_assert!(out.iter().all(|s| !s.trim().is_empty()));
        }
    }
}
