//! Folding one character: what it becomes and what kind of thing it is.
//!
//! Every source character turns into zero or more [`Atom`]s. ASCII and Hangul
//! take fast paths; anything else is NFKD-decomposed (which also undoes
//! fullwidth forms, circled and mathematical letters, ligatures and
//! superscripts), stripped of combining marks (accents, Zalgo), lowercased and
//! mapped through a table of look-alike letters from other scripts.

use quicktalk_core::protocol::is_invisible;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::hangul;

/// What a folded character is, for tokenisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Whitespace: always ends a token.
    Space,
    /// A Latin letter `a..=z` (after folding).
    Latin,
    /// An ASCII digit.
    Digit,
    /// A symbol that stands for a letter inside a word (`@`, `$`, `!`, ...).
    Leet,
    /// A symbol people use to hide letters (`*`, `#`, `^`, ...).
    Mask,
    /// Punctuation and other symbols: a gap inside a token.
    Sep,
    /// A Hangul syllable (or a hanja read as one).
    Hangul,
    /// A Hangul compatibility jamo.
    Jamo,
    /// A letter of another script (Cyrillic, Greek, CJK, ...), or a symbol
    /// the lexicon names itself (an emoji, a swastika).
    Word,
}

/// One folded character with the byte range of its source character.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Atom {
    /// The folded character.
    pub ch: char,
    /// The Latin letter it stands for in a Latin word (leet and look-alikes),
    /// or `'\0'`.
    pub latin: char,
    /// The original character before case folding (for keyboard layouts).
    pub orig: char,
    pub class: Class,
    pub start: u32,
    pub end: u32,
}

impl Atom {
    /// An atom of `class` Sep ending where it starts: callers set the rest.
    fn new(ch: char, latin: char, orig: char, start: u32) -> Self {
        Self {
            ch,
            latin,
            orig,
            class: Class::Sep,
            start,
            end: start,
        }
    }
}

/// Folds `c` (found at `start..end` in the source) into `out`: a Hangul
/// syllable, most characters of a Korean line, inline; the rest in
/// [`fold_other_char`].
#[inline]
pub(crate) fn fold_char(c: char, start: u32, end: u32, out: &mut Vec<Atom>) {
    if hangul::is_syllable(c) {
        out.push(Atom {
            ch: c,
            latin: '\0',
            orig: c,
            class: Class::Hangul,
            start,
            end,
        });
    } else {
        fold_other_char(c, start, end, out);
    }
}

/// [`fold_char`] for every character but a Hangul syllable.
fn fold_other_char(c: char, start: u32, end: u32, out: &mut Vec<Atom>) {
    let push = |out: &mut Vec<Atom>, ch: char, latin: char, class: Class| {
        out.push(Atom {
            class,
            end,
            ..Atom::new(ch, latin, c, start)
        });
    };
    if c.is_ascii() {
        fold_ascii(c, start, out);
        return;
    }
    if let Some(jamo) = hangul::compat_jamo(c) {
        push(out, jamo, '\0', Class::Jamo);
        return;
    }
    if let Some(reading) = hangul::hanja_reading(c) {
        let class = if hangul::is_syllable(reading) {
            Class::Hangul
        } else {
            Class::Jamo
        };
        push(out, reading, '\0', class);
        return;
    }
    if is_invisible(c) {
        return;
    }
    if c.is_whitespace() {
        push(out, ' ', '\0', Class::Space);
        return;
    }
    if let Some(letter) = enclosed_letter(c) {
        push(out, letter, letter, Class::Latin);
        return;
    }
    if matches!(c, '。' | '｡' | '︒') {
        // The ideographic full stop, which NFKD keeps: `naver。com` is a
        // link as much as `naver.com`.
        fold_ascii('.', start, out);
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_invisible(d) {
            return;
        }
        let (ch, latin, class) = other(d);
        if class == Class::Space && out.last().is_some_and(|a| a.start == start) {
            // A compatibility form that expands with spaces (Arabic ligatures):
            // the space is part of one source character, not a word gap.
            return;
        }
        push(out, ch, latin, class);
    });
}

/// Folds an ASCII character: the common case, kept small so it inlines.
#[inline]
pub(crate) fn fold_ascii(c: char, start: u32, out: &mut Vec<Atom>) {
    let (ch, latin, class) = ASCII[c as usize & 0x7f];
    out.push(Atom {
        class,
        end: start + 1,
        ..Atom::new(ch, latin, c, start)
    });
}

/// What an ASCII byte folds to (an ASCII byte: whitespace is a space,
/// a capital its small letter), as [`fold_ascii`] folds it.
#[inline]
pub(crate) fn ascii_folded(byte: u8) -> u8 {
    ASCII[usize::from(byte & 0x7f)].0 as u8
}

/// [`ascii`] for every ASCII character, looked up rather than matched: the
/// match is a chain of branches that mispredict on mixed text.
static ASCII: [(char, char, Class); 128] = {
    let mut table = [('\0', '\0', Class::Sep); 128];
    let mut byte = 0;
    while byte < 128 {
        table[byte] = ascii(byte as u8 as char);
        byte += 1;
    }
    table
};

/// ASCII: letters, digits, leet and mask symbols, separators.
pub(crate) const fn ascii(c: char) -> (char, char, Class) {
    match c {
        'a'..='z' => (c, c, Class::Latin),
        // A capital I looks like a small l (`heII`): read it as `i`, which
        // entries with an `l` also accept (see the filter's `l` variants).
        'A'..='Z' => {
            let lower = c.to_ascii_lowercase();
            (lower, lower, Class::Latin)
        }
        '0'..='9' => (c, leet_digit(c), Class::Digit),
        '@' => (c, 'a', Class::Leet),
        '$' => (c, 's', Class::Leet),
        '!' | '|' => (c, 'i', Class::Leet),
        '+' => (c, 't', Class::Leet),
        '(' | '<' | '{' | '[' => (c, 'c', Class::Leet),
        '*' | '#' | '^' | '&' | '%' | '?' => (c, '\0', Class::Mask),
        c if c.is_ascii_whitespace() => (' ', '\0', Class::Space),
        _ => (c, '\0', Class::Sep),
    }
}

/// The letter a digit stands for inside a Latin word (`sh1t`, `a55`), or `'\0'`.
const fn leet_digit(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '6' | '9' => 'g',
        _ => '\0',
    }
}

/// A non-ASCII character after decomposition.
fn other(d: char) -> (char, char, Class) {
    if d.is_ascii() {
        return ASCII[d as usize];
    }
    if d.is_whitespace() {
        return (' ', '\0', Class::Space);
    }
    let lower = d.to_lowercase().next().unwrap_or(d);
    if let Some(latin) = latin_letter(lower) {
        return (latin, latin, Class::Latin);
    }
    if let Some(latin) = look_alike(lower) {
        // A letter of another script: kept as itself in a word of its own
        // script, read as the Latin letter in a mixed word.
        return (lower, latin, Class::Word);
    }
    if matches!(lower, '§' | '¤') {
        return (lower, '\0', Class::Mask);
    }
    if let Some(latin) = symbol_letter(lower) {
        return (lower, latin, Class::Leet);
    }
    if lower.is_alphabetic() || is_named_symbol(lower) {
        (lower, '\0', Class::Word)
    } else {
        (lower, '\0', Class::Sep)
    }
}

/// Latin letters that NFKD leaves alone (stroked, hooked, small capitals,
/// turned letters).
fn latin_letter(c: char) -> Option<char> {
    let latin = match c {
        'ı' | 'ɨ' | 'ɪ' | 'ɩ' => 'i',
        'ł' | 'ƚ' | 'ʟ' | 'ɭ' => 'l',
        'ø' | 'ɵ' | 'ᴏ' | 'ɔ' => 'o',
        'đ' | 'ɗ' | 'ᴅ' | 'ð' | 'ɖ' => 'd',
        'ħ' | 'ɦ' | 'ʜ' | 'ɥ' => 'h',
        'ŧ' | 'ƭ' | 'ᴛ' | 'ʇ' => 't',
        'ƀ' | 'ɓ' | 'ʙ' | 'ß' => 'b',
        'ƈ' | 'ᴄ' => 'c',
        'ƒ' | 'ꜰ' => 'f',
        'ɠ' | 'ɡ' | 'ɢ' => 'g',
        'ƙ' | 'ĸ' | 'ᴋ' | 'ʞ' => 'k',
        'ɱ' | 'ᴍ' | 'ɯ' => 'm',
        'ɲ' | 'ɴ' | 'ŋ' => 'n',
        'ƥ' | 'ᴘ' | 'þ' => 'p',
        'ʠ' => 'q',
        'ɽ' | 'ʀ' | 'ɹ' => 'r',
        'ʂ' | 'ꜱ' => 's',
        'ʋ' | 'ᴠ' => 'v',
        'ⱳ' | 'ᴡ' => 'w',
        'ƴ' | 'ʏ' | 'ʎ' => 'y',
        'ʐ' | 'ʑ' | 'ᴢ' | 'ƶ' => 'z',
        'ʝ' | 'ᴊ' => 'j',
        'ᴀ' | 'ɐ' | 'ɑ' | 'ⱥ' => 'a',
        'ᴇ' | 'ǝ' | 'ɛ' | 'ə' => 'e',
        'ᴜ' | 'ʊ' => 'u',
        _ => return None,
    };
    Some(latin)
}

/// Letters of other scripts that look like a Latin letter.
fn look_alike(c: char) -> Option<char> {
    let latin = match c {
        // Cyrillic
        'а' => 'a',
        'в' | 'ъ' | 'ь' => 'b',
        'е' | 'ё' | 'є' | 'э' => 'e',
        'к' | 'ҝ' | 'ҡ' | 'ҟ' | 'ӄ' => 'k',
        'м' => 'm',
        'н' | 'һ' | 'ң' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' | 'ү' | 'ұ' => 'y',
        'х' | 'ҳ' => 'x',
        'і' | 'ї' | 'ӏ' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' | 'ш' | 'щ' => 'w',
        'ѵ' => 'v',
        'ғ' => 'f',
        'г' => 'r',
        'п' => 'n',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'γ' => 'y',
        'δ' => 'd',
        'ε' => 'e',
        'ζ' => 'z',
        'η' | 'π' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'μ' | 'υ' => 'u',
        'ν' => 'v',
        'ο' | 'σ' | 'θ' => 'o',
        'ρ' => 'p',
        'ς' => 's',
        'τ' => 't',
        'χ' => 'x',
        'ω' => 'w',
        // Armenian and Georgian
        'օ' => 'o',
        'ո' | 'ռ' | 'ი' => 'n',
        'ս' => 'u',
        'զ' => 'q',
        'ց' | 'უ' => 'g',
        'հ' => 'h',
        'ք' => 'p',
        // Canadian syllabics
        'ᑕ' => 'c',
        'ᑌ' => 'u',
        'ᖴ' => 'f',
        'ᗪ' => 'd',
        'ᑎ' => 'n',
        'ᗩ' => 'a',
        'ᗷ' => 'b',
        'ᕼ' => 'h',
        'ᒪ' => 'l',
        'ᗰ' => 'm',
        'ᑭ' => 'p',
        'ᔕ' => 's',
        'ᐯ' => 'v',
        'ᗯ' => 'w',
        // Lisu
        'ꓘ' => 'k',
        _ => return None,
    };
    Some(latin)
}

/// Symbols that stand for a letter inside a word.
fn symbol_letter(c: char) -> Option<char> {
    let latin = match c {
        '¢' | '©' | '⊂' | '⊄' | '€' => 'c',
        '®' => 'r',
        '¥' => 'y',
        '∂' => 'd',
        '∩' | '∏' => 'n',
        '∪' | '⋃' => 'u',
        '√' => 'v',
        '∈' | '℮' => 'e',
        '¡' | '¦' | '∥' | '❗' | '❕' | 'ǀ' => 'i',
        '†' | '✝' => 't',
        '×' | '✘' | '✗' => 'x',
        _ => return None,
    };
    Some(latin)
}

/// Symbols the lexicon may list as words of their own.
fn is_named_symbol(c: char) -> bool {
    matches!(
        c,
        '卐' | '卍' | '🖕' | '࿕' | '࿖' | '࿗' | '࿘' | 'ᛋ' | '🍆' | '💦' | '🍑'
    )
}

/// Squared, negative circled and regional-indicator letters, which NFKD
/// leaves alone.
fn enclosed_letter(c: char) -> Option<char> {
    let code = c as u32;
    let base = match code {
        0x1F130..=0x1F149 => 0x1F130,
        0x1F150..=0x1F169 => 0x1F150,
        0x1F170..=0x1F189 => 0x1F170,
        0x1F1E6..=0x1F1FF => 0x1F1E6,
        _ => return None,
    };
    char::from_u32(u32::from(b'a') + code - base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(text: &str) -> String {
        let mut atoms = Vec::new();
        for (i, c) in text.char_indices() {
            fold_char(c, i as u32, (i + c.len_utf8()) as u32, &mut atoms);
        }
        atoms
            .iter()
            .map(|a| if a.latin != '\0' { a.latin } else { a.ch })
            .collect()
    }

    #[test]
    fn fullwidth_accented_and_styled_letters_fold_to_ascii() {
        assert_eq!(fold("ＦＵＣＫ"), "fuck");
        assert_eq!(fold("fück"), "fuck");
        assert_eq!(fold("ⓕⓤⓒⓚ"), "fuck");
        assert_eq!(fold("🅵🆄🅲🅺"), "fuck");
        assert_eq!(fold("𝒻ᵤ𝒸ₖ"), "fuck");
    }

    #[test]
    fn zero_width_and_bidi_characters_vanish() {
        assert_eq!(fold("f\u{200B}u\u{202E}c\u{FEFF}k"), "fuck");
    }

    #[test]
    fn cyrillic_and_greek_look_alikes_read_as_latin() {
        assert_eq!(fold("sеx"), "sex");
        assert_eq!(fold("βιτ"), "bit");
    }
}
