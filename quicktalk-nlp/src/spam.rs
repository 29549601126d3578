//! Spam: a line is spam when enough weak signals pile up.
//!
//! "free", "win" or "call" are innocent alone; advertising and prize scams
//! stack them ("FREE entry to WIN a £1000 prize, txt WIN to 87121"). Each
//! signal word has a weight (data file `lexicon/spam_signals.txt`); the words
//! are compiled into the filter's lexicon automaton, so they are found on the
//! normalised line (`FR33` is `free`) in the same pass as the danger words.
//! Money, premium-rate and short-code patterns add to the score; a line whose
//! distinct signals reach [`THRESHOLD`] is spam, and every signal's span is
//! reported.

use std::ops::Range;

use regex::Regex;

use crate::Error;
use crate::lexicon::{Entry, Kind};

/// The score at which a line is spam.
pub(crate) const THRESHOLD: u32 = 3;

/// The spam signals' weights and the number patterns.
#[derive(Debug)]
pub(crate) struct SpamDetector {
    weights: Vec<u32>,
    money: Regex,
    rate: Regex,
    short_code: Regex,
}

impl SpamDetector {
    /// Reads a `spam_signals.txt`-format file; its phrases are pushed to
    /// `entries` as [`Kind::Signal`] entries for the lexicon automaton.
    ///
    /// # Errors
    ///
    /// [`Error::Lexicon`] for a line that is not `<weight> <phrase>`.
    pub(crate) fn new(name: &str, source: &str, entries: &mut Vec<Entry>) -> Result<Self, Error> {
        let mut weights = Vec::new();
        for (number, line) in source.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| Error::Lexicon {
                file: name.to_owned(),
                line: number + 1,
                reason: reason.to_owned(),
            };
            let (weight, phrase) = line
                .split_once(' ')
                .ok_or_else(|| fail("expected `<weight> <phrase>`"))?;
            let weight: u32 = weight
                .parse()
                .map_err(|_| fail("the weight is not a number"))?;
            let phrase = phrase.trim();
            let body = phrase.trim_start_matches('|').trim_end_matches('|').trim();
            if body.is_empty() {
                return Err(fail("empty phrase"));
            }
            let index = u16::try_from(weights.len()).map_err(|_| fail("too many signals"))?;
            weights.push(weight);
            entries.push(Entry {
                text: body.to_owned(),
                kind: Kind::Signal(index),
                starts_word: phrase.starts_with('|'),
                ends_word: phrase.len() > 1 && phrase.ends_with('|'),
            });
        }
        let compile = |pattern: &str| Regex::new(pattern).expect("built-in spam pattern");
        Ok(Self {
            weights,
            // £1000, $500, 1,000,000원, 100만원
            money: compile(r"[£$€]\s?\d|\d[\d,]*\s?(?:만\s?원|억|원|pounds?|dollars?)(?-u:\b)"),
            // 150p, 50p/msg, £1.50/min
            rate: compile(
                r"(?-u:\b)\d+(?:\.\d+)?p(?-u:\b)|/\s?(?:msg|min|wk|week)(?-u:\b)|(?-u:\b)p/msg(?-u:\b)",
            ),
            // text WIN to 87121
            short_code: compile(
                r"(?-u:\b)(?:txt|text|send|reply|sms)[a-z]*(?-u:\b)[^.\n]{0,24}?(?-u:\b)to:?\s?\d{4,6}(?-u:\b)",
            ),
        })
    }

    /// The weight of signal `index`.
    pub(crate) fn weight(&self, index: u16) -> u32 {
        self.weights.get(usize::from(index)).copied().unwrap_or(0)
    }

    /// Scores the money, rate and short-code patterns in `plain`, pushing
    /// their plain-text ranges. They only tip a line that already has a
    /// signal (`score > 0`) or a currency sign: an ordinary line with a
    /// number skips them.
    pub(crate) fn number_patterns(
        &self,
        plain: &str,
        score: u32,
        out: &mut Vec<Range<usize>>,
    ) -> u32 {
        let digits = plain.bytes().any(|b| b.is_ascii_digit());
        if !digits || (score == 0 && !plain.contains(['£', '$', '€', '원'])) {
            return 0;
        }
        let mut added = 0;
        for (regex, weight) in [(&self.money, 1), (&self.rate, 2), (&self.short_code, 3)] {
            if let Some(hit) = regex.find(plain) {
                added += weight;
                out.push(hit.range());
            }
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use quicktalk_core::ports::moderator::Category;

    use crate::FilterBuilder;

    fn is_spam(text: &str) -> bool {
        let filter = FilterBuilder::new()
            .without_builtin_lexicons()
            .build()
            .unwrap();
        filter
            .check(text)
            .findings
            .iter()
            .any(|f| f.category == Category::Spam)
    }

    #[test]
    fn stacked_prize_and_premium_rate_signals_are_spam() {
        assert!(is_spam("FREE entry to WIN a £1000 prize! txt WIN to 87121"));
        assert!(is_spam(
            "Congratulations, you have been selected for a cash award. Call now"
        ));
        assert!(is_spam("(광고) 고수익 부업 무료 상담"));
        assert!(is_spam("FR33 entry, W1N a pr1ze"));
    }

    #[test]
    fn one_innocent_signal_is_not_spam() {
        assert!(!is_spam("are you free tonight?"));
        assert!(!is_spam("we won the game lol"));
        assert!(!is_spam("문의할게 있어"));
        assert!(!is_spam("광고 보기 싫다"));
    }
}
