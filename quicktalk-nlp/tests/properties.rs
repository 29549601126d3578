//! Properties over arbitrary input: no panic, spans on char boundaries,
//! masking never touches text outside a finding.
//!
//! `QUICKTALK_FUZZ_CASES` sets the number of cases (default 2,000). The
//! long run, the fuzz stand-in for the normaliser, is
//! `QUICKTALK_FUZZ_CASES=1000000 cargo test --release -p quicktalk-nlp --test properties`
//! (see docs/moderation.md).

use proptest::prelude::*;
use proptest::test_runner::Config;

use quicktalk_core::ports::moderator::Action;
use quicktalk_nlp::{Filter, View};

fn filter() -> &'static Filter {
    static FILTER: std::sync::OnceLock<Filter> = std::sync::OnceLock::new();
    FILTER.get_or_init(Filter::new)
}

fn cases() -> u32 {
    std::env::var("QUICKTALK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Characters that exercise every path of the normaliser: Latin, leet and
/// mask symbols, Hangul syllables and every jamo form, hanja, combining
/// marks, zero-width and bidi controls, look-alikes, fullwidth and
/// enclosed letters, digits, spaces and anything else.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::sample::select(vec![
            '@', '$', '!', '|', '+', '(', ')', '[', ']', '_', '\\', '/', '*', '#', '^', '&', '%',
            '?', '.', '-', ' ', ' ', '0', '1', '3', '5', '8', 'x', 'X', '\u{200B}', '\u{202E}',
            '\u{FEFF}', '\u{0301}', '\u{0338}', 'ß', 'ı', 'е', 'ѕ', 'β', 'ｆ', 'Ⓕ', '🅵', '🇬', '始',
            '發', '人', '十', '卐', '🖕', '\u{FC60}', '\u{1109}', '\u{1175}', '\u{11AF}',
            '\u{FFA1}', 'ㅇ', 'ㅣ', 'ㅏ', 'ㄹ', 'ㅅ', 'ㅂ', '이', '시', '발', '씨', '공', '일',
            'Ӧ', 'о', 'с', 'к', 'у', 'κ', '§', 'I', 'l',
        ]),
        prop::char::range('가', '힣'),
        prop::char::range('\u{3131}', '\u{3163}'),
        prop::char::range('\u{1100}', '\u{11FF}'),
        any::<char>(),
    ]
}

fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..80).prop_map(|chars| chars.into_iter().collect())
}

fn check_invariants(text: &str) -> Result<(), TestCaseError> {
    let check = filter().check(text);
    for finding in &check.findings {
        let span = &finding.span;
        prop_assert!(
            span.start < span.end && span.end <= text.len(),
            "{span:?} in {text:?}"
        );
        prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    for span in &check.mask_spans {
        prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    // Masking changes characters inside findings and nothing else.
    let masked = check.masked(text);
    prop_assert_eq!(masked.chars().count(), text.chars().count());
    for ((index, original), replaced) in text.char_indices().zip(masked.chars()) {
        let inside = check.findings.iter().any(|f| f.span.contains(&index));
        if inside {
            prop_assert_eq!(replaced, '*');
        } else {
            prop_assert_eq!(replaced, original, "outside any finding in {:?}", text);
        }
    }
    if !check.flagged() {
        prop_assert!(check.mask_spans.is_empty());
        prop_assert_eq!(check.clone().into_verdict().mask(text), text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn arbitrary_unicode_never_panics_and_spans_are_char_boundaries(text in any::<String>()) {
        check_invariants(&text)?;
    }

    #[test]
    fn tricky_text_never_panics_and_masking_stays_inside_findings(text in tricky_text()) {
        check_invariants(&text)?;
    }

    #[test]
    fn the_view_maps_every_unit_back_into_the_source(text in tricky_text()) {
        let mut view = View::new();
        view.build(&text);
        // The view is derived from the text only: building it twice gives
        // the same result (no state leaks between lines).
        let first = view.as_str().to_owned();
        view.build("something else entirely 씨발");
        view.build(&text);
        prop_assert_eq!(view.as_str(), first);
    }

    #[test]
    fn a_line_checks_the_same_alone_and_after_other_lines(a in tricky_text(), b in tricky_text()) {
        let alone = filter().check(&b);
        let _ = filter().check(&a);
        prop_assert_eq!(filter().check(&b), alone);
    }
}

#[test]
fn very_long_lines_are_checked_piece_by_piece_without_panic() {
    let mut text = "안녕 ".repeat(40_000);
    text.push_str("씨발");
    let check = filter().check(&text);
    let finding = check.findings.last().expect("the word at the end is found");
    assert_eq!(&text[finding.span.clone()], "씨발");
}

#[test]
fn a_phrase_across_the_cut_between_pieces_is_found_once() {
    // The first piece is cut at whitespace before 64 KiB; each phrase is
    // placed so that it starts before that cut and ends after it.
    for phrase in ["kakao id minji99", "f u c k", "0 1 0 1 2 3 4 5 6 7 8"] {
        for before in [3, 7, 12, 20] {
            let fill = 65_536 - before;
            let mut text = "a ".repeat(fill / 2);
            text.push(' ');
            text.push_str(phrase);
            let check = filter().check(&text);
            assert!(
                matches!(check.action, Action::Block | Action::Mask),
                "{phrase:?} {before} bytes before the cut: {:?}",
                check.findings
            );
            let spans: Vec<_> = check
                .findings
                .iter()
                .map(|f| (f.span.clone(), f.category))
                .collect();
            let mut unique = spans.clone();
            unique.dedup();
            assert_eq!(spans, unique, "found once: {phrase:?}");
        }
    }
}
