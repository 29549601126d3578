//! Hangul: syllable arithmetic, composing spelled-out jamo, Korean typed on
//! an English keyboard (`tlqkf` = 시발), and hanja read as Hangul.
//!
//! A syllable is `0xAC00 + (initial * 21 + vowel) * 28 + final`. The
//! compatibility jamo block (`ㄱ`..`ㅣ`) is what people type for
//! initial-consonant slang (`ㅅㅂ`), so every other jamo form is mapped to it.

/// The first and last precomposed Hangul syllables.
pub(crate) const SYLLABLE_BASE: u32 = 0xAC00;
pub(crate) const SYLLABLE_LAST: u32 = 0xD7A3;
const VOWELS: u32 = 21;
const FINALS: u32 = 28;

/// Initial consonants in syllable order.
const INITIALS: [char; 19] = [
    'ㄱ', 'ㄲ', 'ㄴ', 'ㄷ', 'ㄸ', 'ㄹ', 'ㅁ', 'ㅂ', 'ㅃ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅉ', 'ㅊ', 'ㅋ',
    'ㅌ', 'ㅍ', 'ㅎ',
];
/// Final consonants in syllable order (index 0 is "no final").
const FINAL_JAMO: [char; 28] = [
    '\0', 'ㄱ', 'ㄲ', 'ㄳ', 'ㄴ', 'ㄵ', 'ㄶ', 'ㄷ', 'ㄹ', 'ㄺ', 'ㄻ', 'ㄼ', 'ㄽ', 'ㄾ', 'ㄿ', 'ㅀ',
    'ㅁ', 'ㅂ', 'ㅄ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅊ', 'ㅋ', 'ㅌ', 'ㅍ', 'ㅎ',
];
const FIRST_VOWEL: u32 = 0x314F;
const LAST_VOWEL: u32 = 0x3163;

/// The Hangul syllable whose UTF-8 starts at byte `at` of `bytes` (a
/// `str`'s bytes, so the sequence is whole), if one does: a syllable is
/// three bytes, led by 0xEA to 0xED.
pub(crate) fn syllable_at(bytes: &[u8], at: usize) -> Option<char> {
    let [lead, second, third] = *bytes.get(at..at + 3)? else {
        return None;
    };
    if !(0xEA..=0xED).contains(&lead) {
        return None;
    }
    let code =
        (u32::from(lead & 0x0F) << 12) | (u32::from(second & 0x3F) << 6) | u32::from(third & 0x3F);
    char::from_u32(code).filter(|&c| is_syllable(c))
}

/// A set of syllables, one bit each: a test costs one load, where a
/// `match` over a few syllables is a tree of compares whose branches go
/// either way on running text (and mispredict).
pub(crate) struct SyllableSet([u64; SYLLABLE_WORDS]);

const SYLLABLE_WORDS: usize = ((SYLLABLE_LAST - SYLLABLE_BASE) / 64 + 1) as usize;

impl SyllableSet {
    /// The set of the syllables in `members` (other characters are left
    /// out).
    pub(crate) const fn new(members: &[char]) -> Self {
        let mut set = Self([0; SYLLABLE_WORDS]);
        let mut index = 0;
        while index < members.len() {
            set = set.with(members[index]);
            index += 1;
        }
        set
    }

    /// The set with `c` added, if it is a syllable.
    pub(crate) const fn with(mut self, c: char) -> Self {
        let code = c as u32;
        if code >= SYLLABLE_BASE && code <= SYLLABLE_LAST {
            let offset = code - SYLLABLE_BASE;
            self.0[(offset / 64) as usize] |= 1 << (offset % 64);
        }
        self
    }

    /// Whether `c` is in the set.
    #[inline]
    pub(crate) fn contains(&self, c: char) -> bool {
        let Some(offset) = (c as u32).checked_sub(SYLLABLE_BASE) else {
            return false;
        };
        self.0
            .get(offset as usize / 64)
            .is_some_and(|bits| bits & (1 << (offset % 64)) != 0)
    }
}

/// `true` for a precomposed Hangul syllable.
pub(crate) fn is_syllable(c: char) -> bool {
    (SYLLABLE_BASE..=SYLLABLE_LAST).contains(&(c as u32))
}

/// `true` for a compatibility vowel (`ㅏ`..`ㅣ`).
pub(crate) fn is_vowel(c: char) -> bool {
    (FIRST_VOWEL..=LAST_VOWEL).contains(&(c as u32))
}

/// A syllable's (initial, vowel, final) indices.
pub(crate) fn split(c: char) -> Option<(u32, u32, u32)> {
    let index = (c as u32).checked_sub(SYLLABLE_BASE)?;
    if index > SYLLABLE_LAST - SYLLABLE_BASE {
        return None;
    }
    Some((
        index / (VOWELS * FINALS),
        index / FINALS % VOWELS,
        index % FINALS,
    ))
}

/// The syllable of (initial, vowel, final) indices.
pub(crate) fn join(initial: u32, vowel: u32, last: u32) -> char {
    char::from_u32(SYLLABLE_BASE + (initial * VOWELS + vowel) * FINALS + last).unwrap_or('\0')
}

/// Any jamo form (compatibility, conjoining, halfwidth) as a compatibility jamo.
pub(crate) fn compat_jamo(c: char) -> Option<char> {
    let code = c as u32;
    match code {
        0x3131..=0x3163 => Some(c),
        // Conjoining initials, vowels and finals.
        0x1100..=0x1112 => INITIALS.get((code - 0x1100) as usize).copied(),
        0x1161..=0x1175 => char::from_u32(FIRST_VOWEL + code - 0x1161),
        0x11A8..=0x11C2 => FINAL_JAMO.get((code - 0x11A8 + 1) as usize).copied(),
        // Halfwidth jamo map 1:1 onto the compatibility block, with gaps.
        0xFFA1..=0xFFBE => char::from_u32(0x3131 + code - 0xFFA1),
        0xFFC2..=0xFFC7 => char::from_u32(FIRST_VOWEL + code - 0xFFC2),
        0xFFCA..=0xFFCF => char::from_u32(FIRST_VOWEL + 6 + code - 0xFFCA),
        0xFFD2..=0xFFD7 => char::from_u32(FIRST_VOWEL + 12 + code - 0xFFD2),
        0xFFDA..=0xFFDC => char::from_u32(FIRST_VOWEL + 18 + code - 0xFFDA),
        _ => None,
    }
}

fn initial_index(c: char) -> Option<u32> {
    INITIALS.iter().position(|&j| j == c).map(|i| i as u32)
}

fn final_index(c: char) -> Option<u32> {
    FINAL_JAMO[1..]
        .iter()
        .position(|&j| j == c)
        .map(|i| i as u32 + 1)
}

fn vowel_index(c: char) -> Option<u32> {
    is_vowel(c).then(|| c as u32 - FIRST_VOWEL)
}

/// Two vowels typed in a row that make one (ㅗ+ㅏ = ㅘ).
fn compound_vowel(first: u32, second: u32) -> Option<u32> {
    let pair = (first, second);
    let compound = match pair {
        (8, 0) => 9,    // ㅗ ㅏ -> ㅘ
        (8, 1) => 10,   // ㅗ ㅐ -> ㅙ
        (8, 20) => 11,  // ㅗ ㅣ -> ㅚ
        (13, 4) => 14,  // ㅜ ㅓ -> ㅝ
        (13, 5) => 15,  // ㅜ ㅔ -> ㅞ
        (13, 20) => 16, // ㅜ ㅣ -> ㅟ
        (18, 20) => 19, // ㅡ ㅣ -> ㅢ
        _ => return None,
    };
    Some(compound)
}

/// Two consonants typed in a row that make one final (ㄹ+ㄱ = ㄺ).
fn compound_final(first: u32, second: char) -> Option<u32> {
    let compound = match (FINAL_JAMO[first as usize], second) {
        ('ㄱ', 'ㅅ') => 'ㄳ',
        ('ㄴ', 'ㅈ') => 'ㄵ',
        ('ㄴ', 'ㅎ') => 'ㄶ',
        ('ㄹ', 'ㄱ') => 'ㄺ',
        ('ㄹ', 'ㅁ') => 'ㄻ',
        ('ㄹ', 'ㅂ') => 'ㄼ',
        ('ㄹ', 'ㅅ') => 'ㄽ',
        ('ㄹ', 'ㅌ') => 'ㄾ',
        ('ㄹ', 'ㅍ') => 'ㄿ',
        ('ㄹ', 'ㅎ') => 'ㅀ',
        ('ㅂ', 'ㅅ') => 'ㅄ',
        _ => return None,
    };
    final_index(compound)
}

/// One output of [`compose`]: a syllable or a jamo left standing, and the
/// range of input positions it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Composed {
    pub ch: char,
    pub first: usize,
    pub last: usize,
}

/// Composes a run of compatibility jamo the way a Korean keyboard does:
/// `ㅅㅣㅂㅏㄹ` becomes `시발`. Jamo that cannot join a syllable (initial
/// consonant slang such as `ㅅㅂ`) are passed through unchanged.
pub(crate) fn compose(jamo: &[char], out: &mut Vec<Composed>) {
    let mut i = 0;
    while i < jamo.len() {
        let c = jamo[i];
        let next_is_vowel = |at: usize| jamo.get(at).is_some_and(|&j| is_vowel(j));
        let (Some(initial), Some(mut vowel)) = (
            initial_index(c),
            jamo.get(i + 1).and_then(|&v| vowel_index(v)),
        ) else {
            out.push(Composed {
                ch: c,
                first: i,
                last: i,
            });
            i += 1;
            continue;
        };
        let mut last = i + 1;
        if let Some(compound) = jamo
            .get(last + 1)
            .and_then(|&v| vowel_index(v))
            .and_then(|v| compound_vowel(vowel, v))
        {
            vowel = compound;
            last += 1;
        }
        let mut final_consonant = 0;
        if let Some(f) = jamo.get(last + 1).and_then(|&f| final_index(f))
            && !next_is_vowel(last + 2)
        {
            final_consonant = f;
            last += 1;
            if let Some(compound) = jamo
                .get(last + 1)
                .and_then(|&f| compound_final(final_consonant, f))
                && !next_is_vowel(last + 2)
            {
                final_consonant = compound;
                last += 1;
            }
        }
        out.push(Composed {
            ch: join(initial, vowel, final_consonant),
            first: i,
            last,
        });
        i = last + 1;
    }
}

/// The jamo a key types on the standard (dubeolsik) Korean layout.
pub(crate) fn keyboard_jamo(key: char) -> Option<char> {
    let jamo = match key {
        'Q' => 'ㅃ',
        'W' => 'ㅉ',
        'E' => 'ㄸ',
        'R' => 'ㄲ',
        'T' => 'ㅆ',
        'O' => 'ㅒ',
        'P' => 'ㅖ',
        _ => match key.to_ascii_lowercase() {
            'q' => 'ㅂ',
            'w' => 'ㅈ',
            'e' => 'ㄷ',
            'r' => 'ㄱ',
            't' => 'ㅅ',
            'y' => 'ㅛ',
            'u' => 'ㅕ',
            'i' => 'ㅑ',
            'o' => 'ㅐ',
            'p' => 'ㅔ',
            'a' => 'ㅁ',
            's' => 'ㄴ',
            'd' => 'ㅇ',
            'f' => 'ㄹ',
            'g' => 'ㅎ',
            'h' => 'ㅗ',
            'j' => 'ㅓ',
            'k' => 'ㅏ',
            'l' => 'ㅣ',
            'z' => 'ㅋ',
            'x' => 'ㅌ',
            'c' => 'ㅊ',
            'v' => 'ㅍ',
            'b' => 'ㅠ',
            'n' => 'ㅜ',
            'm' => 'ㅡ',
            _ => return None,
        },
    };
    Some(jamo)
}

/// Whether keys typed on the Korean layout could compose into two or more
/// whole syllables, judged from where the vowel keys are: a cheap test that
/// spares most English words the full composition (`hello` starts with a
/// vowel key, `the` has one vowel). Every syllable is a consonant, one or
/// two vowel keys and at most two final consonants, so the keys start with
/// exactly one consonant, have at least two vowel runs of at most two keys,
/// at most three consonants between vowels and at most two at the end.
#[inline]
pub(crate) fn keys_could_be_syllables(keys: &[u8]) -> bool {
    // The vowel keys `y u i o p h j k l b n m`, one bit a letter: a
    // `match` is a tree of compares that goes either way on English words.
    const VOWEL_KEYS: u32 = {
        let keys = *b"yuiophjklbnm";
        let mut mask = 0;
        let mut index = 0;
        while index < keys.len() {
            mask |= 1 << (keys[index] - b'a');
            index += 1;
        }
        mask
    };
    /// 1 for a vowel key in either case, looked up.
    static IS_VOWEL: [u8; 256] = {
        let mut table = [0; 256];
        let mut byte = 0;
        while byte < 256 {
            let k = (byte as u8).to_ascii_lowercase();
            if k.is_ascii_lowercase() && VOWEL_KEYS & (1 << (k - b'a')) != 0 {
                table[byte] = 1;
            }
            byte += 1;
        }
        table
    };
    let is_vowel = |k: u8| IS_VOWEL[usize::from(k)] != 0;
    // One bit a key, vowel keys set: the rules below are tests on the bits,
    // with no branch a key (an English word's keys go either way).
    if keys.is_empty() || keys.len() > 32 {
        return false; // callers pass 2 to 12 keys
    }
    let all = u32::MAX >> (32 - keys.len());
    let vowels = keys.iter().enumerate().fold(0u32, |bits, (index, &key)| {
        bits | u32::from(is_vowel(key)) << index
    });
    let consonants = !vowels & all;
    // Exactly one consonant first: key 0 a consonant, key 1 a vowel.
    let one_initial = vowels & 0b11 == 0b10;
    // Vowel runs of at most two keys, and at least two runs.
    let short_vowels = vowels & (vowels >> 1) & (vowels >> 2) == 0;
    let two_runs = (vowels & !(vowels << 1)).count_ones() >= 2;
    // At most three consonants between vowels (at most two at the end,
    // below, and one at the start, above: no four anywhere).
    let short_consonants =
        consonants & (consonants >> 1) & (consonants >> 2) & (consonants >> 3) == 0;
    let trailing = keys.len() as u32 - (32 - vowels.leading_zeros());
    one_initial && short_vowels && two_runs && short_consonants && trailing <= 2
}

/// The Hangul reading of hanja (and CJK look-alikes) that people use to spell
/// Korean swear words (`始發` = 시발, `病身` = 병신, `人` for `ㅅ`).
pub(crate) fn hanja_reading(c: char) -> Option<char> {
    let reading = match c {
        '始' | '詩' | '時' | '市' | '是' | '示' | '視' | '侍' | '施' | '矢' => '시',
        '發' | '髮' | '拔' | '跋' => '발',
        '病' | '兵' | '丙' | '餠' => '병',
        '身' | '神' | '新' | '信' | '申' | '臣' | '辛' => '신',
        '犬' | '見' | '堅' => '견',
        '開' | '個' | '改' | '介' | '箇' => '개',
        '子' | '自' | '字' | '者' | '刺' => '자',
        '十' | '拾' => '십',
        '地' | '支' | '知' | '至' | '指' | '紙' | '志' => '지',
        '羅' | '喇' | '裸' => '라',
        '亂' | '卵' => '란',
        '尊' | '存' => '존',
        '那' | '奈' | '拿' => '나',
        '等' | '燈' | '登' => '등',
        '色' | '塞' => '색',
        '器' | '氣' | '記' | '期' | '起' => '기',
        '人' => 'ㅅ',
        '口' => 'ㅁ',
        '己' => 'ㄹ',
        _ => return None,
    };
    Some(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syllable_is_read_from_its_bytes_and_nothing_else_is() {
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            let text = format!("{c}");
            let read = syllable_at(text.as_bytes(), 0);
            assert_eq!(read, is_syllable(c).then_some(c), "{c:?}");
        }
    }

    /// The quick test never turns away keys that compose into two or more
    /// whole syllables: every string of up to six keys from a set that
    /// covers consonants, vowels, compound vowels and
    /// finals (and case) is checked against the composition.
    #[test]
    fn the_key_test_never_turns_away_whole_syllables() {
        let alphabet = b"rkhnTOfl";
        let mut keys = Vec::new();
        let (mut total, mut kept) = (0, 0);
        for len in 1..=6u32 {
            for code in 0..alphabet.len().pow(len) {
                keys.clear();
                let mut rest = code;
                for _ in 0..len {
                    keys.push(alphabet[rest % alphabet.len()]);
                    rest /= alphabet.len();
                }
                let jamo: Vec<char> = keys
                    .iter()
                    .filter_map(|&k| keyboard_jamo(k as char))
                    .collect();
                let mut out = Vec::new();
                compose(&jamo, &mut out);
                let whole = out.len() >= 2 && out.iter().all(|c| is_syllable(c.ch));
                total += 1;
                if whole {
                    kept += 1;
                    assert!(
                        keys_could_be_syllables(&keys),
                        "{:?}",
                        String::from_utf8_lossy(&keys)
                    );
                }
            }
        }
        assert!(kept > 1000 && kept < total / 2, "{kept} of {total}");
        assert!(!keys_could_be_syllables(b"hello"));
        assert!(!keys_could_be_syllables(b"the"));
        assert!(keys_could_be_syllables(b"tlqkf"));
    }

    /// The test on bits says what the test a key at a time (as first
    /// written) says, for every pattern of vowel and consonant keys of 1 to
    /// 12 keys, in both cases.
    #[test]
    fn the_key_test_on_bits_agrees_with_the_test_a_key_at_a_time() {
        fn by_key(keys: &[u8]) -> bool {
            let is_vowel = |k: u8| b"yuiophjklbnm".contains(&k.to_ascii_lowercase());
            let (mut vowel_runs, mut run, mut consonants) = (0, 0, 0);
            for (index, &key) in keys.iter().enumerate() {
                if is_vowel(key) {
                    if index == 0 {
                        return false;
                    }
                    if run == 0 {
                        vowel_runs += 1;
                        let most = if vowel_runs == 1 { 1 } else { 3 };
                        if consonants > most {
                            return false;
                        }
                    }
                    run += 1;
                    consonants = 0;
                    if run > 2 {
                        return false;
                    }
                } else {
                    run = 0;
                    consonants += 1;
                }
            }
            vowel_runs >= 2 && consonants <= 2
        }
        let mut kept = 0;
        for len in 1..=12u32 {
            for pattern in 0..1u32 << len {
                for upper in [false, true] {
                    let keys: Vec<u8> = (0..len)
                        .map(|i| match (pattern >> i & 1 == 1, upper && i % 2 == 0) {
                            (true, false) => b'k',
                            (true, true) => b'K',
                            (false, false) => b'r',
                            (false, true) => b'R',
                        })
                        .collect();
                    let expected = by_key(&keys);
                    kept += usize::from(expected);
                    assert_eq!(
                        keys_could_be_syllables(&keys),
                        expected,
                        "{:?}",
                        String::from_utf8_lossy(&keys)
                    );
                }
            }
        }
        assert!(kept > 100, "{kept}");
        assert!(!keys_could_be_syllables(b""));
    }

    fn composed(jamo: &str) -> String {
        let chars: Vec<char> = jamo.chars().collect();
        let mut out = Vec::new();
        compose(&chars, &mut out);
        out.iter().map(|c| c.ch).collect()
    }

    #[test]
    fn spelled_out_jamo_compose_into_syllables() {
        assert_eq!(composed("ㅅㅣㅂㅏㄹ"), "시발");
        assert_eq!(composed("ㅂㅕㅇㅅㅣㄴ"), "병신");
        assert_eq!(composed("ㄷㅟㅈㅕ"), "뒤져");
        assert_eq!(composed("ㄷㅜㅣㅈㅕ"), "뒤져");
        assert_eq!(composed("ㅇㅓㅂㅅㅇㅓ"), "없어");
    }

    #[test]
    fn initial_consonant_slang_is_left_alone() {
        assert_eq!(composed("ㅅㅂ"), "ㅅㅂ");
        assert_eq!(composed("ㅈㄴ"), "ㅈㄴ");
    }

    #[test]
    fn syllable_parts_round_trip() {
        let (initial, vowel, last) = split('발').unwrap();
        assert_eq!(join(initial, vowel, last), '발');
        assert_eq!(compat_jamo('\u{1109}'), Some('ㅅ'));
        assert_eq!(compat_jamo('\u{11AF}'), Some('ㄹ'));
    }

    #[test]
    fn english_keys_type_korean() {
        let jamo: Vec<char> = "tlqkf".chars().filter_map(keyboard_jamo).collect();
        let mut out = Vec::new();
        compose(&jamo, &mut out);
        assert_eq!(out.iter().map(|c| c.ch).collect::<String>(), "시발");
    }
}
