//! The view, table-driven: one line per evasion the normaliser undoes.

use super::*;

/// `(input, view text)`: the view has no word gaps and one char per run.
const VIEWS: &[(&str, &str)] = &[
    ("Hello World", "heloworld"),
    ("Hello, World...", "heloworld"),
    ("fuuuck.", "fuck"),
    ("f u c k", "fuck"),
    ("s.h.i.t", "shit"),
    ("F_u c_K", "fuck"),
    ("fuuuuuck", "fuck"),
    ("sh1t", "shit"),
    ("$h!t", "shit"),
    ("@ss", "as"),
    ("f()()k", "fok"),
    ("f[_]cker", "fucker"),
    ("\\/agina", "vagina"),
    ("f*ck", "f*ck"),
    ("f**k", "f*k"),
    ("f--k", "f*k"),
    ("*hello*", "helo"),
    ("hi!", "hi"),
    ("F A G G O T", "fagot"),
    ("시1발", "시발"),
    ("시@발", "시발"),
    ("시.발", "시발"),
    ("씨이이발", "씨발"),
    ("씨ㅣㅣ발", "씨발"),
    ("조오온나", "존나"),
    ("씨바아알", "씨발"),
    ("이익", "이익"),
    ("애액", "애액"),
    ("또라이인가", "또라이인가"),
    ("시ㅋ발", "시발"),
    ("씨ㅡ발", "씨발"),
    ("병ㅠ신", "병신"),
    ("웃겨ㅋㅋ진짜", "웃겨ㅋ진짜"),
    ("개ㅅ끼", "개ㅅ끼"),
    ("ㅅㅣㅂㅏㄹ", "시발"),
    ("ㅅㅂ", "ㅅㅂ"),
    ("씨X", "씨*"),
    ("개XX끼", "개*끼"),
    ("18놈", "18놈"),
    ("始發", "시발"),
    ("ＦＵＣＫ", "fuck"),
    ("s\u{200B}hit", "shit"),
    ("сука", "сука"),
    ("хуй", "хуи"),
];

#[test]
fn evasions_normalise_to_the_plain_word() {
    let mut view = View::new();
    for &(input, expected) in VIEWS {
        view.build(input);
        let primary = view.as_str().split(SENTINEL).next().unwrap_or_default();
        assert_eq!(primary, expected, "input {input:?}");
    }
}

#[test]
fn korean_typed_on_an_english_keyboard_gets_a_shadow_reading() {
    let mut view = View::new();
    view.build("tlqkf");
    assert_eq!(view.as_str(), "tlqkf 시발");
    let shadow: Vec<&Unit> = view.units.iter().filter(|u| u.has(SHADOW)).collect();
    assert_eq!(shadow.len(), 2);
    assert_eq!((shadow[0].start, shadow[1].end), (0, 5));
    view.build_pattern("tlqkf");
    assert_eq!(view.as_str(), "tlqkf");
}

#[test]
fn every_unit_maps_back_to_source_char_boundaries() {
    let mut view = View::new();
    for &(input, _) in VIEWS {
        view.build(input);
        for unit in &view.units {
            if unit.ch == SENTINEL {
                continue;
            }
            let (start, end) = (unit.start as usize, unit.end as usize);
            assert!(start < end && end <= input.len(), "{input:?}: {unit:?}");
            assert!(input.is_char_boundary(start) && input.is_char_boundary(end));
        }
    }
}

#[test]
fn runs_count_stretched_letters() {
    let mut view = View::new();
    view.build("fuuuck");
    let u = view.units.iter().find(|u| u.ch == 'u').unwrap();
    assert_eq!(u.run, 3);
    assert_eq!((u.start, u.end), (1, 4));
}

#[test]
fn word_gaps_are_kept_as_flags() {
    let mut view = View::new();
    view.build("살며시 발라");
    let bal = view.units.iter().find(|u| u.ch == '발').unwrap();
    assert!(bal.has(STARTS), "발 starts a word");
    view.build("a s s");
    let s = view.units.iter().find(|u| u.ch == 's').unwrap();
    assert_eq!(s.run, 2);
    assert!(s.has(GAP_INSIDE) && s.has(ENDS));
}

/// A number's pieces, split at its marks: each a word of its own, the
/// ones after a mark marked as split off (as for `a.rse`), in a line of
/// ASCII and in one with Hangul.
#[test]
fn a_number_splits_into_pieces_at_its_marks() {
    let cases: [(&str, &[(char, u8)]); 4] = [
        (
            "10:30",
            &[
                ('1', STARTS),
                ('0', ENDS),
                ('3', STARTS | SPLIT),
                ('0', ENDS),
            ],
        ),
        ("::5", &[('5', STARTS | ENDS)]),
        (
            "12::34.5",
            &[
                ('1', STARTS),
                ('2', ENDS),
                ('3', STARTS | SPLIT),
                ('4', ENDS),
                ('5', STARTS | ENDS | SPLIT),
            ],
        ),
        ("7.", &[('7', STARTS | ENDS)]),
    ];
    let mut view = View::new();
    for (number, expected) in cases {
        for line in [number.to_string(), format!("가 {number}")] {
            view.build(&line);
            let units: Vec<(char, u8)> = view
                .units
                .iter()
                .filter(|u| u.ch.is_ascii_digit())
                .map(|u| (u.ch, u.flags))
                .collect();
            assert_eq!(units, expected, "{line}");
        }
    }
}

/// The filter runs the contact patterns, which need an ASCII letter or
/// digit, only on a line with a Latin or digit atom (or one of the Korean
/// forms): no character of any class folds to an ASCII letter or digit
/// without being one of those.
#[test]
fn only_latin_and_digit_atoms_fold_to_ascii_letters_and_digits() {
    let mut atoms = Vec::new();
    for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
        atoms.clear();
        fold_char(c, 0, c.len_utf8() as u32, &mut atoms);
        for atom in &atoms {
            if atom.ch.is_ascii_alphanumeric() {
                assert!(
                    matches!(atom.class, Class::Latin | Class::Digit),
                    "{c:?} folds to {:?} of class {:?}",
                    atom.ch,
                    atom.class
                );
            }
        }
    }
}

/// `push_syllable` asks a range, not the syllable's parts, whether it
/// starts with ㅇ.
#[test]
fn the_syllables_that_start_with_ieung_are_one_range() {
    for c in '가'..='힣' {
        let initial = hangul::split(c).map(|(initial, _, _)| initial);
        assert_eq!(('아'..='잏').contains(&c), initial == Some(11), "{c}");
    }
}

#[test]
fn a_syllable_set_holds_exactly_its_syllables() {
    let set = super::hangul::SyllableSet::new(&['가', '힣', '공', 'a', 'ㄱ']);
    for code in 0..=0x10FFFF {
        if let Some(c) = char::from_u32(code) {
            assert_eq!(set.contains(c), matches!(c, '가' | '힣' | '공'), "{c:?}");
        }
    }
}

/// An ASCII line gets the same view the ASCII way as the general way:
/// units, shadows, plain text, its sources and features, for the table above
/// and for generated lines of letters, digits, leet and mask symbols,
/// punctuation and whitespace.
#[test]
fn the_ascii_way_gives_the_view_the_general_way_gives() {
    let alphabet: Vec<char> = "aeiouKTQtlqkfsxy01357 \t.,:;\")(@$!|+*#?-_'/\\[]<>=&%^~`"
        .chars()
        .collect();
    let mut rng = crate::rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
    let mut next = |bound: usize| rng.below(bound);
    let mut lines: Vec<String> = VIEWS
        .iter()
        .map(|(input, _)| input.to_string())
        .filter(|line| line.is_ascii())
        .collect();
    lines.extend(
        [
            "tlqkf",
            "Qudtls wkth",
            "hello, world:",
            "x",
            "",
            "   ",
            "don't it's 'tis dogs' rock'n'roll, i'm. o'clock\" `quoted` '' a'b'' a'1 a'b?",
        ]
        .map(String::from),
    );
    for _ in 0..20_000 {
        let len = next(24);
        lines.push((0..len).map(|_| alphabet[next(alphabet.len())]).collect());
    }
    // Words with marks after them, the shape the ASCII way takes at once
    // (`what?`, `hi!`, `so...`, `ok?!)`), and with marks inside.
    let (letters, marks): (Vec<char>, Vec<char>) = (
        "aeioutlqkfsxyhcnKTQ".chars().collect(),
        ",.:;\")?!'`*@".chars().collect(),
    );
    for _ in 0..20_000 {
        let words = 1 + next(4);
        let line: Vec<String> = (0..words)
            .map(|_| {
                let mut word: String = (0..1 + next(6))
                    .map(|_| letters[next(letters.len())])
                    .collect();
                if next(4) == 0 {
                    word.insert(next(word.len() + 1), marks[next(marks.len())]);
                }
                word.extend((0..next(4)).map(|_| marks[next(marks.len())]));
                word
            })
            .collect();
        lines.push(line.join(" "));
    }
    let (mut ascii, mut general) = (View::new(), View::new());
    let (mut ascii_plain, mut general_plain) = (String::new(), String::new());
    for line in &lines {
        ascii.build_units_by(line, true);
        general.build_units_by(line, false);
        assert_eq!(ascii.units, general.units, "{line:?}");
        assert_eq!(ascii.wildcard, general.wildcard, "{line:?}");
        assert_eq!(
            format!("{:?}", ascii.features),
            format!("{:?}", general.features),
            "{line:?}"
        );
        ascii.plain(&mut ascii_plain);
        general.plain(&mut general_plain);
        assert_eq!(ascii_plain, general_plain, "{line:?}");
        for at in 0..general_plain.len() {
            assert_eq!(
                ascii.plain_source(at),
                general.plain_source(at),
                "{line:?} {at}"
            );
        }
    }
}
