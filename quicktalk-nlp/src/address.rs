//! Whether a harmful phrase is aimed at the person reading it.
//!
//! A context word (news, medicine, a report, history, a game) turns a block
//! of sexual, hate or threat words into a flag: the line talks *about*
//! harm. An outside review showed the other side of that rule: any
//! harasser could add one word (`i'll rape you, call the police if you
//! want`, `kill yourself, the doctor agrees`) and the line went through.
//! A line that talks about harm rarely aims it at "you"; a line that aims it
//! at "you" is not talking about it. So a harmful finding with a
//! second-person word in it or within a few words of it keeps its block
//! whatever context words the line has.

use std::ops::Range;

/// Words either side of a finding that count as aiming it.
const REACH: usize = 3;

/// English second-person words (lowercase, apostrophes dropped).
const ENGLISH: &[&str] = &[
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "youre",
    "youll",
    "youd",
    "youve",
    "u",
    "ur",
    "urs",
    "urself",
    "ya",
    "yall",
    "thee",
    "thy",
];

/// Korean second-person words, alone or with a particle after them.
const KOREAN: &[&str] = &["너", "니", "넌", "널", "네가", "너희", "느그", "당신"];

/// What may follow a Korean second-person word in the same word.
const PARTICLES: &[&str] = &[
    "", "가", "는", "를", "도", "랑", "한테", "네", "들", "희", "이", "의", "야", "만", "에게",
];

/// Whether `word` (lowercase, letters only) names the reader.
fn second_person(word: &str) -> bool {
    ENGLISH.contains(&word)
        || KOREAN.iter().any(|stem| {
            word.strip_prefix(stem)
                .is_some_and(|rest| PARTICLES.contains(&rest))
        })
}

/// Whether a second-person word is in `span` of `text` or within
/// [`REACH`] words of it in the same sentence.
pub(crate) fn aimed_at_reader(text: &str, span: &Range<usize>) -> bool {
    // Words: runs of letters and digits (an apostrophe inside one is
    // dropped: `you're` is `youre`), with their byte ranges and sentences.
    let mut words: Vec<(Range<usize>, String, usize)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut sentence = 0;
    for (at, c) in text.char_indices() {
        if c.is_alphanumeric() {
            let (_, word) = current.get_or_insert_with(|| (at, String::new()));
            word.extend(c.to_lowercase());
            continue;
        }
        if matches!(c, '\'' | '’') && current.is_some() {
            continue; // inside a word
        }
        if let Some((start, word)) = current.take() {
            words.push((start..at, word, sentence));
        }
        if matches!(c, '.' | '?' | '!' | '\n' | '。' | '？' | '！') {
            sentence += 1;
        }
    }
    if let Some((start, word)) = current.take() {
        words.push((start..text.len(), word, sentence));
    }
    let inside: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(_, (range, _, _))| range.start < span.end && span.start < range.end)
        .map(|(index, _)| index)
        .collect();
    let (Some(&first), Some(&last)) = (inside.first(), inside.last()) else {
        return false;
    };
    let from = first.saturating_sub(REACH);
    let to = (last + REACH).min(words.len() - 1);
    let sentences = words[first].2..=words[last].2;
    words[from..=to]
        .iter()
        .any(|(_, word, sentence)| sentences.contains(sentence) && second_person(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aimed(text: &str, phrase: &str) -> bool {
        let start = text.find(phrase).expect("phrase in text");
        aimed_at_reader(text, &(start..start + phrase.len()))
    }

    #[test]
    fn a_phrase_with_you_near_it_is_aimed_and_one_about_others_is_not() {
        assert!(aimed("i'll rape you, call the police if you want", "rape"));
        assert!(aimed("kill yourself, the doctor agrees", "kill yourself"));
        assert!(aimed("you nigger, this is history", "nigger"));
        assert!(aimed("you're dead meat in this game", "dead meat"));
        assert!(aimed("니가 죽어야 돼 뉴스에 나오게", "죽어야"));
        assert!(aimed("너를 강간할 거야 경찰 불러", "강간"));
        assert!(!aimed("the rape crisis center helped my sister", "rape"));
        assert!(!aimed("he was convicted of rape in court today", "rape"));
        assert!(!aimed("너무 무서운 살인 사건 뉴스 봤어", "살인"));
        assert!(!aimed("nazi germany in history class", "nazi"));
        // Not across a sentence's end.
        assert!(!aimed(
            "they were the opposite sex?? That you rose up",
            "sex"
        ));
    }
}
