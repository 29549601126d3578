//! Spam: a line is spam when enough weak signals pile up.
//!
//! "free", "win" or "call" are innocent alone; advertising and prize scams
//! stack them ("FREE entry to WIN a £1000 prize, txt WIN to 87121"). Each
//! signal has a weight (data file `lexicon/spam_signals.txt`, plus money,
//! premium-rate and short-code patterns here); a line whose distinct signals
//! reach [`THRESHOLD`] is spam, and every signal's span is reported.

use std::ops::Range;

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::Error;

/// The score at which a line is spam.
pub(crate) const THRESHOLD: u32 = 3;

#[derive(Debug)]
struct Signal {
    weight: u32,
    starts_word: bool,
    ends_word: bool,
}

/// The compiled spam signals.
#[derive(Debug)]
pub(crate) struct SpamDetector {
    words: AhoCorasick,
    signals: Vec<Signal>,
    money: Regex,
    rate: Regex,
    short_code: Regex,
}

impl SpamDetector {
    /// Compiles the signals of a `spam_signals.txt`-format file.
    ///
    /// # Errors
    ///
    /// [`Error::Lexicon`] for a line that is not `<weight> <phrase>`.
    pub(crate) fn new(name: &str, source: &str) -> Result<Self, Error> {
        let mut phrases = Vec::new();
        let mut signals = Vec::new();
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
            let body = phrase.trim_start_matches('|').trim_end_matches('|');
            if body.is_empty() {
                return Err(fail("empty phrase"));
            }
            phrases.push(body.to_owned());
            signals.push(Signal {
                weight,
                starts_word: phrase.starts_with('|'),
                ends_word: phrase.len() > 1 && phrase.ends_with('|'),
            });
        }
        let compile = |pattern: &str| Regex::new(pattern).expect("built-in spam pattern");
        Ok(Self {
            words: AhoCorasick::new(&phrases).map_err(|e| Error::Lexicon {
                file: name.to_owned(),
                line: 0,
                reason: e.to_string(),
            })?,
            signals,
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

    /// The spans of the signals in `plain` when they add up to spam; empty
    /// otherwise. `extra` adds to the score (a phone number or link found).
    pub(crate) fn find(&self, plain: &str, extra: u32, out: &mut Vec<Range<usize>>) {
        let mut score = extra;
        let mut seen = Vec::new();
        let mut spans = Vec::new();
        for hit in self.words.find_overlapping_iter(plain) {
            let signal = &self.signals[hit.pattern().as_usize()];
            let bytes = plain.as_bytes();
            let word = |b: u8| b.is_ascii_alphanumeric();
            if signal.starts_word && hit.start() > 0 && word(bytes[hit.start() - 1]) {
                continue;
            }
            if signal.ends_word && bytes.get(hit.end()).is_some_and(|&b| word(b)) {
                continue;
            }
            if !seen.contains(&hit.pattern()) {
                seen.push(hit.pattern());
                score += signal.weight;
            }
            spans.push(hit.range());
        }
        // The number patterns only tip a line that already has a signal, a
        // contact, or a currency sign: an ordinary line with a number
        // skips them.
        let digits = plain.bytes().any(|b| b.is_ascii_digit());
        let worth = score > 0 || plain.contains(['£', '$', '€', '원']);
        let patterns = [(&self.money, 1), (&self.rate, 2), (&self.short_code, 3)];
        for (regex, weight) in patterns.into_iter().filter(|_| digits && worth) {
            if let Some(hit) = regex.find(plain) {
                score += weight;
                spans.push(hit.range());
            }
        }
        if score >= THRESHOLD {
            out.extend(spans);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> SpamDetector {
        SpamDetector::new(
            "spam_signals.txt",
            include_str!("../lexicon/spam_signals.txt"),
        )
        .unwrap()
    }

    fn is_spam(text: &str) -> bool {
        let mut out = Vec::new();
        detector().find(&text.to_lowercase(), 0, &mut out);
        !out.is_empty()
    }

    #[test]
    fn stacked_prize_and_premium_rate_signals_are_spam() {
        assert!(is_spam("FREE entry to WIN a £1000 prize! txt WIN to 87121"));
        assert!(is_spam(
            "Congratulations, you have been selected for a cash award. Call now"
        ));
        assert!(is_spam("(광고) 고수익 부업 무료 상담"));
    }

    #[test]
    fn one_innocent_signal_is_not_spam() {
        assert!(!is_spam("are you free tonight?"));
        assert!(!is_spam("we won the game lol"));
        assert!(!is_spam("문의할게 있어"));
    }
}
