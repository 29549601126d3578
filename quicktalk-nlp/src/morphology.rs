//! When a short Korean match is really that word.
//!
//! A one- or two-syllable slur (`지나`, the hanja 支那 read in Hangul)
//! hides inside everyday words (`지나가다`, `지나치다`). A short hate match
//! counts only when it is a word of its own: it starts the word, or
//! follows a swearing prefix (`개`, `씹`), and what follows it in the word
//! is nothing, or what makes a noun into a word: an insult suffix (`놈`,
//! `새끼`), a plural, and then at most one particle or ending (`가`,
//! `한테`, `이야`). `지나가는` does not qualify (`가는` is not one
//! particle).
//!
//! Only hate entries are judged this way. Measured on ko-curse-2runo, the
//! same rule for every category cost a third of the recall: Korean chat
//! writes insult suffixes onto any noun (`판사새끼`, `깡패새끼`) and drops
//! the space after intensifiers (`존나좋아`), so profanity and sexual
//! entries keep their lexicon markers and the allowlist (`바보짓`).

use crate::normalize::hangul::is_syllable;
use crate::normalize::{ENDS, STARTS, Unit};

/// Prefixes that turn a word into a swear word (`개새끼`, `씹년`).
const PREFIXES: &[&str] = &["개", "씹", "좆", "존", "썅", "쌍", "왕", "상", "미친"];

/// What may follow a noun before its particle (insult suffixes, plural,
/// `-짓`/`-질` "the act of").
const GROUPS: &[&str] = &[
    "놈",
    "년",
    "새끼",
    "새기",
    "색기",
    "색히",
    "들",
    "인",
    "짓",
    "질",
    "같은",
    "같이",
    "스러운",
    "스럽",
];

/// One particle, copula or verb ending: the last piece of a word.
const ENDINGS: &[&str] = &[
    // particles
    "이",
    "가",
    "은",
    "는",
    "을",
    "를",
    "의",
    "에",
    "에서",
    "에게",
    "한테",
    "께",
    "도",
    "만",
    "과",
    "와",
    "랑",
    "이랑",
    "처럼",
    "보다",
    "까지",
    "부터",
    "조차",
    "마저",
    "이나",
    "나",
    "라도",
    "이라도",
    "로",
    "으로",
    "씩",
    // vocative and copula
    "아",
    "야",
    "여",
    "이여",
    "요",
    "이요",
    "이다",
    "다",
    "이야",
    "이네",
    "네",
    "이냐",
    "냐",
    "니",
    "임",
    "이지",
    "지",
    "인데",
    "인가",
    "이고",
    "고",
    "라",
    "이라",
    "라고",
    "이라고",
    "이란",
    "란",
    "같다",
    "같네",
    "같아",
    // 하다 / 되다 forms
    "하다",
    "하는",
    "하고",
    "해",
    "해라",
    "해서",
    "했",
    "했어",
    "했다",
    "했네",
    "하네",
    "한다",
    "할",
    "함",
    "하지",
    "하냐",
    "하니",
    "된",
    "됨",
    "되다",
    "되는",
    "돼",
];

/// Whether `rest` is at most two groups and then at most one ending.
fn is_inflection(rest: &str) -> bool {
    fn groups_then_ending(rest: &str, groups_left: u8) -> bool {
        if rest.is_empty() || ENDINGS.contains(&rest) {
            return true;
        }
        groups_left > 0
            && GROUPS.iter().any(|group| {
                rest.strip_prefix(group)
                    .is_some_and(|after| groups_then_ending(after, groups_left - 1))
            })
    }
    groups_then_ending(rest, 2)
}

/// Whether a match over `units[first..=last]` (already accepted by its
/// rule) stands as a word of its own, for short all-Hangul matches. Longer
/// or non-Hangul matches are not judged here.
pub(crate) fn short_korean_match_is_a_word(units: &[Unit], first: usize, last: usize) -> bool {
    let matched = &units[first..=last];
    if matched.len() > 2 || !matched.iter().all(|u| is_syllable(u.ch)) {
        return true;
    }
    // The word around the match, in this reading (shadow readings are
    // fenced by sentinels that start and end a word).
    let start = (0..=first)
        .rev()
        .find(|&i| units[i].has(STARTS))
        .unwrap_or(0);
    let end = (last..units.len())
        .find(|&i| units[i].has(ENDS))
        .unwrap_or(units.len() - 1);
    let text = |range: std::ops::Range<usize>| -> Option<String> {
        units[range]
            .iter()
            .map(|u| is_syllable(u.ch).then_some(u.ch))
            .collect()
    };
    let prefix_ok = start == first
        || text(start..first).is_some_and(|prefix| PREFIXES.contains(&prefix.as_str()));
    let suffix_ok = last == end || text(last + 1..end + 1).is_some_and(|rest| is_inflection(&rest));
    prefix_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::is_inflection;

    #[test]
    fn what_makes_a_stem_a_word_and_what_does_not() {
        for ok in [
            "",
            "가",
            "새끼",
            "새끼들아",
            "놈아",
            "하는",
            "이야",
            "들이",
            "짓",
        ] {
            assert!(is_inflection(ok), "{ok}");
        }
        for no in ["가는", "친", "갔어", "가게", "나가", "새끼새끼새끼"] {
            assert!(!is_inflection(no), "{no}");
        }
    }
}
