//! Normalisation: the text as the lexicon sees it, mapped back to the source.
//!
//! A line becomes a [`View`]: a string of folded letters with no separators,
//! one [`Unit`] per character, each unit remembering the byte range of the
//! source it came from and how many times it repeated (`fuuuck` is one `u`
//! with a run of 3). Word gaps are not characters but flags on the units, so
//! `f u c k`, `s.h.i.t` and `시.발` read as one word while the matcher can
//! still refuse hits that straddle real words (`살며시 발라` is not `시발`).
//!
//! What happens, in order:
//! 1. every character is folded ([`fold`]): NFKD, marks and invisible
//!    characters dropped, lowercase, look-alike letters mapped;
//! 2. the text is cut into tokens at whitespace, and a token into pieces at
//!    punctuation; in a Latin word leetspeak is read as letters and masking
//!    symbols become a `*` wildcard; in a Korean word everything between
//!    Hangul is noise (`시1발`), spelled-out jamo are composed and stretched
//!    vowels merged (`씨이이발`);
//! 3. repeated characters collapse into one unit with a run count, also
//!    across the gaps between single-letter pieces (`F A G G O T`);
//! 4. words typed in Latin letters on a Korean keyboard layout (`tlqkf`) are
//!    added after the text as a shadow reading.

mod fold;
pub(crate) mod hangul;

use fold::{Atom, Class, fold_char};
use hangul::Composed;

/// The unit starts a word.
pub(crate) const STARTS: u8 = 1;
/// The unit ends a word.
pub(crate) const ENDS: u8 = 2;
/// The unit was merged across a word gap.
pub(crate) const GAP_INSIDE: u8 = 4;
/// The unit belongs to a shadow reading (keyboard layout, look-alikes).
pub(crate) const SHADOW: u8 = 8;
/// The unit starts a piece that punctuation split off inside one token
/// (`a.rse`, `a-hole`), not a word after whitespace.
pub(crate) const SPLIT: u8 = 16;
/// The shadow reading is a keyboard-layout one.
pub(crate) const KEYBOARD: u8 = 32;
/// The syllable's vowel was stretched (`조오`).
const STRETCHED: u8 = 64;

/// The wildcard that masking symbols become.
pub(crate) const WILDCARD: char = '*';
/// Separates the text from its shadow readings; no pattern contains it.
const SENTINEL: char = ' ';

/// See [`View::features`]: one bit a kind of character, so noting a
/// character is one `or`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Features(u8);

impl Features {
    const NONE: Self = Self(0);
    pub const DIGITS: u8 = 1;
    pub const LATIN: u8 = 2;
    pub const HANGUL: u8 = 4;
    /// `공`, `영` or `빵`: a phone number spelled in Korean starts with one.
    pub const ZERO_WORD: u8 = 8;
    /// `@ . : / _ =`: e-mails, links, ids.
    pub const MARKS: u8 = 16;
    /// `닷`, as in `닷컴`: with a number in Korean words (`zero_word`), what
    /// a contact pattern can match in a line without ASCII letters or digits.
    pub const DAT: u8 = 32;
    /// Characters ASCII art is made of.
    pub const ART: u8 = 64;
    pub const CURRENCY: u8 = 128;

    /// Whether the line has a character of `kind` (one of the constants
    /// above).
    pub fn has(self, kind: u8) -> bool {
        self.0 & kind != 0
    }

    /// What a folded character that is not Hangul shows.
    const fn of(ch: char, class: Class) -> Self {
        let mut bits = match class {
            Class::Digit => Self::DIGITS,
            Class::Latin => Self::LATIN,
            _ => 0,
        };
        bits |= match ch {
            '@' | '.' | ':' | '/' => Self::MARKS,
            '_' | '=' => Self::MARKS | Self::ART,
            '(' | '🖕' | '╰' => Self::ART,
            '£' | '$' | '€' => Self::CURRENCY,
            _ => 0,
        };
        Self(bits)
    }

    /// Notes a folded character.
    fn add(&mut self, atom: &Atom) {
        if matches!(atom.class, Class::Hangul | Class::Jamo) {
            // None of the marks is Hangul.
            self.add_hangul(atom.ch);
        } else {
            self.0 |= Self::of(atom.ch, atom.class).0;
        }
    }

    /// Notes an ASCII character.
    #[inline]
    fn add_ascii(&mut self, byte: u8) {
        self.0 |= ASCII_FEATURES[usize::from(byte & 0x7f)].0;
    }

    /// Notes a line of ASCII characters.
    fn add_ascii_line(&mut self, bytes: &[u8]) {
        self.0 |= bytes.iter().fold(0, |bits, &byte| {
            bits | ASCII_FEATURES[usize::from(byte & 0x7f)].0
        });
    }

    /// Notes a syllable or jamo.
    #[inline]
    fn add_hangul(&mut self, ch: char) {
        /// The syllables below: one bit test for every other syllable.
        static NOTED: hangul::SyllableSet =
            hangul::SyllableSet::new(&['공', '영', '빵', '닷', '원']);
        self.0 |= Self::HANGUL;
        if !NOTED.contains(ch) {
            return;
        }
        self.0 |= match ch {
            '공' | '영' | '빵' => Self::ZERO_WORD,
            '닷' => Self::DAT,
            '원' => Self::CURRENCY,
            _ => 0,
        };
    }
}

/// What each ASCII character shows ([`Features`]), looked up: a `match` on
/// the character is a tree of compares that goes either way on running text.
static ASCII_FEATURES: [Features; 128] = {
    let mut table = [Features::NONE; 128];
    let mut byte = 0;
    while byte < 128 {
        let (ch, _, class) = fold::ascii(byte as u8 as char);
        table[byte] = Features::of(ch, class);
        byte += 1;
    }
    table
};

/// One character of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit {
    pub ch: char,
    /// Source byte range covered (all repeats included).
    pub start: u32,
    pub end: u32,
    /// How many times the character repeated.
    pub run: u16,
    pub flags: u8,
}

impl Unit {
    /// One character from source bytes `start..end`, not repeated, no flags.
    pub(crate) fn one(ch: char, start: u32, end: u32) -> Self {
        Self {
            ch,
            start,
            end,
            run: 1,
            flags: 0,
        }
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A normalised line, reusable across lines to avoid allocation.
#[derive(Debug, Default)]
pub struct View {
    atoms: Vec<Atom>,
    raw: Vec<Unit>,
    jamo: Vec<char>,
    composed: Vec<Composed>,
    /// The atoms of jamo typed one per word (see `spaced_jamo`).
    spaced: Vec<usize>,
    shadow: Vec<Unit>,
    pub(crate) units: Vec<Unit>,
    /// Whether to add keyboard-layout shadow readings (not for patterns).
    no_shadow: bool,
    /// The view as a string, one char per unit.
    pub(crate) text: String,
    /// For a line of ASCII only, its folded bytes: the plain text (see
    /// [`View::plain`]); the atoms then cover only the words that took the
    /// general way.
    folded: Vec<u8>,
    /// Whether the line was all ASCII (see [`View::build_ascii`]).
    ascii_line: bool,
    /// Whether a unit is a masking wildcard (`f*ck`).
    wildcard: bool,
    /// See [`View::features`].
    features: Features,
}

impl View {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// The normalised text: what the lexicon is matched against.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text has a masking wildcard (`f*ck`, `씨X`): only then
    /// can the masked variants of the entries match.
    pub(crate) fn has_wildcard(&self) -> bool {
        self.wildcard
    }

    /// What kinds of characters the line has, noted as its characters
    /// were folded: enough to skip the contact, art and number patterns
    /// (and building the plain text) for a line that cannot match them.
    pub(crate) fn features(&self) -> Features {
        self.features
    }

    /// The folded source without word tricks undone: lowercase, NFKD, with
    /// punctuation and spaces kept, for the contact and spam patterns.
    pub(crate) fn plain(&self, out: &mut String) {
        out.clear();
        if self.ascii_line {
            // Folded ASCII is ASCII: one copy.
            match std::str::from_utf8(&self.folded) {
                Ok(text) => out.push_str(text),
                Err(_) => out.extend(self.folded.iter().map(|&byte| char::from(byte))),
            }
            return;
        }
        out.extend(self.atoms.iter().map(|atom| atom.ch));
    }

    /// The characters of [`View::plain`], without writing it.
    pub(crate) fn plain_chars(&self) -> impl Iterator<Item = char> {
        let (folded, atoms): (&[u8], &[Atom]) = if self.ascii_line {
            (&self.folded, &[])
        } else {
            (&[], &self.atoms)
        };
        let ascii = folded.iter().map(|&byte| char::from(byte));
        ascii.chain(atoms.iter().map(|atom| atom.ch))
    }

    /// The source byte range that byte `at` of the [`View::plain`] text came
    /// from. A walk over the line: it is asked only for what was found.
    pub(crate) fn plain_source(&self, at: usize) -> (u32, u32) {
        if self.ascii_line {
            // One byte of plain text for each byte of the line.
            return (at as u32, at as u32 + 1);
        }
        let mut offset = 0;
        for atom in &self.atoms {
            offset += atom.ch.len_utf8();
            if offset > at {
                return (atom.start, atom.end);
            }
        }
        // Not reached for a byte of the plain text.
        self.atoms
            .last()
            .map_or((0, 0), |atom| (atom.start, atom.end))
    }

    /// Normalises a lexicon entry: like [`View::build`], without shadow
    /// readings.
    pub(crate) fn build_pattern(&mut self, entry: &str) {
        self.no_shadow = true;
        self.build(entry);
        self.no_shadow = false;
    }

    /// Normalises `source` into this view, replacing what was there.
    pub fn build(&mut self, source: &str) {
        self.build_units(source);
        self.write_text_to_self();
    }

    /// [`View::build`] without the text (`as_str` stays empty): the filter
    /// searches the units, and writes the text (three bytes for each
    /// syllable) only for a line that needs it ([`View::write_text`]).
    pub(crate) fn build_units(&mut self, source: &str) {
        self.build_units_by(source, source.is_ascii());
    }

    /// [`View::build_units`], the ASCII way ([`View::build_ascii`]) or the
    /// general way: both give an ASCII line the same view.
    fn build_units_by(&mut self, source: &str, ascii_line: bool) {
        self.atoms.clear();
        self.features = Features::default();
        self.raw.clear();
        self.shadow.clear();
        self.units.clear();
        self.text.clear();
        self.folded.clear();
        self.ascii_line = ascii_line;
        if ascii_line {
            self.build_ascii(source.as_bytes());
        } else {
            self.build_general(source);
        }
        self.collapse();
        // Each shadow reading starts with a sentinel (see `begin_shadow`),
        // so no match runs from the text into a reading or between two.
        self.units.append(&mut self.shadow);
        self.wildcard = self.units.iter().any(|unit| unit.ch == WILDCARD);
    }

    /// The atoms and pieces of a line of ASCII only, most of an English
    /// chat: a word of letters (with trailing punctuation) becomes units
    /// straight from its bytes, as [`View::latin`] makes them from atoms;
    /// every other word is folded into atoms and goes the general way.
    fn build_ascii(&mut self, bytes: &[u8]) {
        self.folded
            .extend(bytes.iter().map(|&byte| fold::ascii_folded(byte)));
        self.features.add_ascii_line(bytes);
        let space = |byte: u8| byte.is_ascii_whitespace();
        let mut index = 0;
        while index < bytes.len() {
            if space(bytes[index]) {
                index += 1;
                continue;
            }
            let begin = index;
            while index < bytes.len() && !space(bytes[index]) {
                index += 1;
            }
            self.ascii_token(&bytes[begin..index], begin as u32);
        }
    }

    /// One whitespace-free token of an ASCII line, starting at byte `at`.
    fn ascii_token(&mut self, token: &[u8], at: u32) {
        let letters = token.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let dropped = |rest: &[u8]| {
            rest.iter()
                .all(|b| matches!(b, b',' | b'.' | b':' | b';' | b'"' | b')' | b'?' | b'!'))
        };
        let punctuated = letters > 0 && dropped(&token[letters..]);
        if !punctuated && letters > 0 && matches!(token[letters], b'\'' | b'`') {
            self.apostrophe_token(token, at, &dropped);
            return;
        }
        if punctuated {
            // What `latin` gives such a word from its atoms: each letter
            // folded (as `folded` holds it), one byte a unit.
            let piece = self.raw.len();
            let folded = &self.folded[at as usize..][..letters];
            self.raw.extend(folded.iter().zip(at..).map(byte_unit));
            close_piece(&mut self.raw, piece);
            // Most English words fail the keyboard reading's first test:
            // asked here, they skip the call.
            if letters == token.len()
                && !self.no_shadow
                && (2..=12).contains(&letters)
                && hangul::keys_could_be_syllables(token)
            {
                self.keyboard_shadow(token, KeySpans::Bytes(at));
            }
            return;
        }
        self.general_ascii_token(token, at);
    }

    /// A token of an ASCII line that starts with letters and then an
    /// apostrophe (`don't`, `it's`, `dogs'`, `rock'n'roll`): when it is
    /// letters and apostrophes, then punctuation `dropped` by the general
    /// way, it becomes what `latin` gives it, its letters in one piece (an
    /// apostrophe between letters is dropped, one after them ends the word)
    /// and no keyboard reading (not all letters). Anything else goes the
    /// general way.
    fn apostrophe_token(&mut self, token: &[u8], at: u32, dropped: &impl Fn(&[u8]) -> bool) {
        let word = token
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || matches!(b, b'\'' | b'`'))
            .count();
        if !dropped(&token[word..]) {
            self.general_ascii_token(token, at);
            return;
        }
        let piece = self.raw.len();
        let folded = &self.folded[at as usize..][..word];
        self.raw.extend(
            folded
                .iter()
                .zip(at..)
                .filter(|(byte, _)| byte.is_ascii_alphabetic())
                .map(byte_unit),
        );
        close_piece(&mut self.raw, piece);
    }

    /// A token of an ASCII line the general way: folded into atoms.
    fn general_ascii_token(&mut self, token: &[u8], at: u32) {
        let begin = self.atoms.len();
        for (offset, &byte) in token.iter().enumerate() {
            fold::fold_ascii(char::from(byte), at + offset as u32, &mut self.atoms);
        }
        self.token(begin, self.atoms.len());
    }

    /// The atoms and pieces of a line with characters beyond ASCII.
    fn build_general(&mut self, source: &str) {
        // Offsets are u32: a chat line is a few KiB at most, and the filter
        // refuses nothing longer than u32::MAX anyway (see Filter::check).
        self.atoms.reserve(source.len());
        let bytes = source.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            let start = index as u32;
            if bytes[index].is_ascii() {
                // Most characters: no UTF-8 decoding.
                fold::fold_ascii(char::from(bytes[index]), start, &mut self.atoms);
                self.features.add_ascii(bytes[index]);
                index += 1;
            } else if let Some(c) = hangul::syllable_at(bytes, index) {
                // Most of the rest in a Korean line, without the general
                // UTF-8 decoder.
                fold_char(c, start, start + 3, &mut self.atoms);
                self.features.add_hangul(c);
                index += 3;
            } else if let Some(c) = source[index..].chars().next() {
                let width = c.len_utf8();
                let folded = self.atoms.len();
                fold_char(c, start, start + width as u32, &mut self.atoms);
                for atom in &self.atoms[folded..] {
                    self.features.add(atom);
                }
                index += width;
            } else {
                break; // not reached: `index` stays on a char boundary
            }
        }
        let mut begin = 0;
        while begin < self.atoms.len() {
            if self.atoms[begin].class == Class::Space {
                begin += 1;
                continue;
            }
            let mut end = begin;
            while end < self.atoms.len() && self.atoms[end].class != Class::Space {
                end += 1;
            }
            if end == begin + 1 && self.atoms[begin].class == Class::Jamo {
                end = self.spaced_jamo(begin);
            } else {
                self.token(begin, end);
            }
            begin = end;
        }
    }

    fn write_text_to_self(&mut self) {
        let mut text = std::mem::take(&mut self.text);
        self.write_text(&mut text);
        self.text = text;
    }

    /// The view's text, one char per unit, written to `out`.
    pub(crate) fn write_text(&self, out: &mut String) {
        out.clear();
        out.extend(self.units.iter().map(|unit| unit.ch));
    }

    /// Jamo typed as words of one letter each, from atom `first` on
    /// (`ㅆ ㅣ ㅂ ㅏ ㄹ`): composed across the spaces into one word, as
    /// single Latin letters are read across them (`f u c k`), when a vowel
    /// is among them; otherwise each is a word as before (`ㅇ ㅇ`, `ㄱ ㄱ`).
    /// Returns the atom after the last one taken.
    fn spaced_jamo(&mut self, first: usize) -> usize {
        let single_jamo = |atoms: &[Atom], at: usize| {
            atoms.get(at).is_some_and(|a| a.class == Class::Jamo)
                && atoms.get(at + 1).is_none_or(|a| a.class == Class::Space)
        };
        let mut taken = std::mem::take(&mut self.spaced);
        taken.clear();
        taken.push(first);
        let mut at = first + 1;
        loop {
            let next = (at..self.atoms.len()).find(|&i| self.atoms[i].class != Class::Space);
            match next {
                Some(next) if next > at && single_jamo(&self.atoms, next) => {
                    taken.push(next);
                    at = next + 1;
                }
                _ => break,
            }
        }
        let end = first + 1;
        self.jamo.clear();
        self.jamo.extend(taken.iter().map(|&i| self.atoms[i].ch));
        if taken.len() < 2 || !self.jamo.iter().any(|&j| hangul::is_vowel(j)) {
            // Each a word of its own, all of the run at once (a long run of
            // `ㅋ ㅋ ㅋ` is not scanned again from each of its jamo).
            for &index in &taken {
                self.token(index, index + 1);
            }
            let after = taken.last().map_or(end, |&last| last + 1);
            self.spaced = taken;
            return after;
        }
        self.composed.clear();
        hangul::compose(&self.jamo, &mut self.composed);
        let piece = self.raw.len();
        self.push_composed(|index| taken[index]);
        self.close_piece(piece);
        let after = taken.last().map_or(end, |&last| last + 1);
        self.spaced = taken;
        after
    }

    /// One whitespace-delimited token, atoms `begin..end`.
    fn token(&mut self, begin: usize, end: usize) {
        if self.atoms[begin..end]
            .iter()
            .all(|a| a.class == Class::Hangul)
        {
            // A word of syllables only, most Korean words: what the general
            // path below gives it, without its searches for jamo, digits
            // and masks.
            let piece = self.raw.len();
            for index in begin..end {
                let atom = self.atoms[index];
                self.push_syllable(atom.ch, atom.start, atom.end);
            }
            self.close_piece(piece);
            return;
        }
        let is_hangul = |a: &Atom| matches!(a.class, Class::Hangul | Class::Jamo);
        let first = self.atoms[begin..end].iter().position(is_hangul);
        let Some(first) = first.map(|i| begin + i) else {
            self.latin(begin, end);
            return;
        };
        let last = begin
            + self.atoms[begin..end]
                .iter()
                .rposition(is_hangul)
                .unwrap_or(first - begin);
        // Digits touching the Hangul belong to the word (`18놈`, `ㅅ18`).
        let mut lead = first;
        while lead > begin && self.atoms[lead - 1].class == Class::Digit {
            lead -= 1;
        }
        let mut tail = last + 1;
        while tail < end && self.atoms[tail].class == Class::Digit {
            tail += 1;
        }
        // A trailing run of masking marks hides the rest of the word (`씨X`).
        let mut masked = tail;
        while masked < end && is_hangul_mask(&self.atoms[masked]) {
            masked += 1;
        }
        let mask_tail = masked > tail && masked == end;
        if lead > begin {
            self.latin(begin, lead);
        }
        let piece = self.raw.len();
        for index in lead..first {
            let atom = self.atoms[index];
            self.push_raw(atom.ch, atom.start, atom.end);
        }
        self.hangul_core(first, last);
        for index in last + 1..tail {
            let atom = self.atoms[index];
            self.push_raw(atom.ch, atom.start, atom.end);
        }
        if mask_tail {
            let (start, stop) = (self.atoms[tail].start, self.atoms[end - 1].end);
            self.push_raw(WILDCARD, start, stop);
        }
        self.close_piece(piece);
        let rest = if mask_tail { end } else { tail };
        if rest < end {
            self.latin(rest, end);
        }
    }

    /// The Hangul part of a Korean word, atoms `first..=last`.
    fn hangul_core(&mut self, first: usize, last: usize) {
        let mut index = first;
        while index <= last {
            let atom = self.atoms[index];
            match atom.class {
                Class::Hangul => {
                    self.push_syllable(atom.ch, atom.start, atom.end);
                    index += 1;
                }
                // One laughing or sighing jamo between two syllables is
                // a filler put there to break the word up (시ㅋ발, 씨ㅡ발).
                // A longer run (ㅋㅋ) is laughter between words, and a
                // consonant that could stand for a syllable (개ㅅ끼) stays.
                Class::Jamo
                    if index > first
                        && index < last
                        && is_filler_jamo(atom.ch)
                        && self.atoms[index - 1].class == Class::Hangul
                        && self.atoms[index + 1].class == Class::Hangul =>
                {
                    index += 1;
                }
                Class::Jamo => {
                    let mut stop = index;
                    self.jamo.clear();
                    while stop <= last && self.atoms[stop].class == Class::Jamo {
                        self.jamo.push(self.atoms[stop].ch);
                        stop += 1;
                    }
                    self.compose_jamo(index);
                    index = stop;
                }
                _ if is_hangul_mask(&atom) => {
                    let mut stop = index;
                    while stop <= last && is_hangul_mask(&self.atoms[stop]) {
                        stop += 1;
                    }
                    let end = self.atoms[stop - 1].end;
                    self.push_raw(WILDCARD, atom.start, end);
                    index = stop;
                }
                // Digits, symbols and stray letters inside a Korean word are
                // noise put there to break the word up (시1발, 시@발).
                _ => index += 1,
            }
        }
    }

    /// Composes the jamo in `self.jamo`, which start at atom `first`.
    fn compose_jamo(&mut self, first: usize) {
        if !self.jamo.iter().any(|&j| hangul::is_vowel(j)) {
            for (offset, &jamo) in self.jamo.iter().enumerate() {
                let atom = self.atoms[first + offset];
                push_unit(&mut self.raw, jamo, atom.start, atom.end);
            }
            return;
        }
        self.composed.clear();
        hangul::compose(&self.jamo, &mut self.composed);
        self.push_composed(|index| first + index);
    }

    /// Pushes what `self.composed` holds, syllables and standalone jamo;
    /// `atom` gives the atom of each jamo composed.
    fn push_composed(&mut self, atom: impl Fn(usize) -> usize) {
        for index in 0..self.composed.len() {
            let Composed { ch, first, last } = self.composed[index];
            let (start, end) = (self.atoms[atom(first)].start, self.atoms[atom(last)].end);
            if hangul::is_syllable(ch) {
                self.push_syllable(ch, start, end);
            } else {
                self.push_vowel_or_jamo(ch, start, end);
            }
        }
    }

    /// A syllable, merged into the previous one when it only stretches its
    /// vowel (`씨이이발`: the `이`s repeat the `ㅣ` of `씨`), or, once it was
    /// stretched, closes it (`조오온나`: `온` gives `조` its `ㄴ`). An
    /// unstretched syllable keeps the next one: `이익`, `애액`, `또라이인가`.
    fn push_syllable(&mut self, ch: char, start: u32, end: u32) {
        // Only a syllable that starts with ㅇ (아 to 잏) can: most are
        // pushed without being taken apart.
        if ('아'..='잏').contains(&ch)
            && let (Some(prev), Some((11, vowel, last))) = (self.raw.last_mut(), hangul::split(ch))
            && !prev.has(STARTS | ENDS)
            && let Some((initial, v, 0)) = hangul::split(prev.ch)
            && v == vowel
            && (last == 0 || prev.has(STRETCHED))
        {
            if last != 0 {
                prev.ch = hangul::join(initial, vowel, last);
            }
            prev.flags |= STRETCHED;
            prev.end = end;
            return;
        }
        self.push_raw(ch, start, end);
    }

    /// A standalone jamo; a vowel that repeats the previous syllable's vowel
    /// stretches it (`씨ㅣㅣ발`).
    fn push_vowel_or_jamo(&mut self, ch: char, start: u32, end: u32) {
        if hangul::is_vowel(ch)
            && let Some(prev) = self.raw.last_mut()
            && !prev.has(STARTS | ENDS)
            && hangul::split(prev.ch)
                .is_some_and(|(_, v, last)| last == 0 && v == ch as u32 - 0x314F)
        {
            prev.end = end;
            return;
        }
        self.push_raw(ch, start, end);
    }

    /// A token with no Hangul, atoms `begin..end`.
    fn latin(&mut self, begin: usize, end: usize) {
        let (token, raw) = (&self.atoms[begin..end], &mut self.raw);
        let letters = token.iter().take_while(|a| a.class == Class::Latin).count();
        // Punctuation after the letters that the general path below drops
        // (`hello,`, `ubuntu:`, `so...`, `what?!`): none of it is a mask
        // symbol or part of one (`\/`, `()`), and a `!` there is syntax,
        // not a leet `i`.
        let punctuated = letters > 0
            && token[letters..]
                .iter()
                .all(|a| matches!(a.ch, ',' | '.' | ':' | ';' | '"' | ')' | '?' | '!'));
        if punctuated {
            // A word of letters, most words of a line: read as written (what
            // the general path gives such a word, without its leet, mask
            // and shadow tests).
            let piece = raw.len();
            raw.extend(
                token[..letters]
                    .iter()
                    .map(|atom| Unit::one(atom.ch, atom.start, atom.end)),
            );
            close_piece(raw, piece);
            // Korean typed on an English keyboard: letters only.
            let keys = letters == token.len()
                && (2..=12).contains(&letters)
                && token.iter().all(|a| a.orig.is_ascii_alphabetic());
            if keys && !self.no_shadow {
                self.keyboard_shadow_atoms(begin, end);
            }
            return;
        }
        // A number (`10:30`, `2024.12.07`, `123:45:678`): digits and
        // punctuation only, no letter, leet or mask symbol, apostrophe or
        // dash. What the loop below gives it, without its tests: each digit
        // a unit, each mark a split between pieces.
        if token.iter().all(|a| {
            a.class == Class::Digit
                || (a.class == Class::Sep && !matches!(a.ch, '\'' | '’' | '`' | '-' | '_'))
        }) {
            let mut piece = raw.len();
            let mut split_next = false;
            for atom in token {
                if atom.class == Class::Digit {
                    let flags = if std::mem::take(&mut split_next) {
                        SPLIT
                    } else {
                        0
                    };
                    raw.push(Unit {
                        flags,
                        ..Unit::one(atom.ch, atom.start, atom.end)
                    });
                } else {
                    close_piece(raw, piece);
                    split_next |= raw.len() > piece;
                    piece = raw.len();
                }
            }
            close_piece(raw, piece);
            return;
        }
        // One pass over the token for everything the reading depends on.
        let (mut latin_count, mut words, mut unmapped_words, mut leets, mut digits) =
            (0, 0, 0, 0, 0);
        let (mut first_core, mut last_core) = (None, None);
        for (index, a) in token.iter().enumerate() {
            match a.class {
                Class::Latin if a.orig.is_ascii_alphabetic() => latin_count += 1,
                // A Latin letter from a non-ASCII character: not typable on
                // a keyboard layout, so it spoils the keyboard reading.
                Class::Latin => latin_count += 1 << 16,
                Class::Word => {
                    words += 1;
                    unmapped_words += usize::from(a.latin == '\0');
                }
                Class::Leet => leets += 1,
                Class::Digit => digits += 1,
                _ => {}
            }
            let core = matches!(a.class, Class::Latin | Class::Word | Class::Digit)
                || (a.class == Class::Leet && !matches!(a.ch, '(' | '[' | '{' | '!' | '|' | '<'));
            if core {
                first_core.get_or_insert(index);
                last_core = Some(index);
            }
        }
        let has_latin = latin_count > 0;
        // A word wholly in another script keeps its letters (Russian in
        // Cyrillic); a mixed word reads look-alikes as Latin (`sеx`).
        let foreign = !has_latin && words > 0;
        // A word of look-alikes only (`сука`, `κκκ`) is read both ways: as
        // itself, and as the Latin word it spells, in a shadow reading.
        let look_alike_only = foreign && unmapped_words == 0;
        // Two or more letter-like symbols and no digits spell a word too (`@$$`).
        let leet_word = leets >= 2 && digits == 0;
        let wordy = has_latin || leet_word || words > 0;
        // Korean words typed on an English keyboard are short: a syllable
        // is two to four keys.
        let pure_ascii_letters = latin_count == token.len() && (2..=12).contains(&token.len());
        let syntax = Syntax::of(token);
        let mut piece = raw.len();
        let mut split_next = false;
        let mut index = 0;
        while index < token.len() {
            let atom = token[index];
            let inside =
                first_core.is_some_and(|f| index > f) && last_core.is_some_and(|l| index < l);
            if wordy && let Some((letter, width)) = multi_char_leet(&token[index..]) {
                let stop = token[index + width - 1].end;
                push_unit(raw, letter, atom.start, stop);
                index += width;
                continue;
            }
            if inside && matches!(atom.ch, '\'' | '’' | '`') {
                // `ain't`, `didn’t`: one word, not `ain` + `t`.
                index += 1;
                continue;
            }
            let letter = match atom.class {
                Class::Latin => Some(atom.ch),
                Class::Word if !foreign && atom.latin != '\0' => Some(atom.latin),
                Class::Word => Some(atom.ch),
                Class::Digit
                    if wordy && atom.latin != '\0' && digit_run_reads_as_letters(token, index) =>
                {
                    Some(atom.latin)
                }
                Class::Digit => Some(atom.ch),
                Class::Leet if is_syntax(token, index, &syntax) => None,
                Class::Leet if wordy && leet_counts(&atom, index, first_core, last_core) => {
                    Some(atom.latin)
                }
                Class::Mask if is_placeholder(token, index) => None,
                Class::Mask if is_syntax(token, index, &syntax) => None,
                Class::Mask if inside || masked_tail(token, index, last_core) => Some(WILDCARD),
                Class::Sep if inside && is_dash_mask(token, index) => Some(WILDCARD),
                _ => None,
            };
            match letter {
                Some(ch) => {
                    push_unit(raw, ch, atom.start, atom.end);
                    if std::mem::take(&mut split_next)
                        && let Some(unit) = raw.last_mut()
                    {
                        unit.flags |= SPLIT;
                    }
                }
                None => {
                    close_piece(raw, piece);
                    if raw.len() > piece {
                        split_next = true;
                    }
                    piece = raw.len();
                }
            }
            index += 1;
        }
        close_piece(raw, piece);
        if pure_ascii_letters && !self.no_shadow {
            self.keyboard_shadow_atoms(begin, end);
        }
        if look_alike_only && !self.no_shadow {
            self.look_alike_shadow(begin, end);
        }
        if let (Some(first), Some(last)) = (first_core, last_core)
            && !self.no_shadow
            && wordy
        {
            // Only symbols with a letter after them are inside the word:
            // `c++` and `g++` end in symbols, they do not hide letters.
            let letters = |a: &Atom| matches!(a.class, Class::Latin | Class::Word | Class::Digit);
            let last_letter = (first..=last)
                .rev()
                .find(|&i| letters(&self.atoms[begin + i]))
                .unwrap_or(first);
            let token = &self.atoms[begin..end];
            let symbols_inside = (first..last_letter).any(|i| {
                matches!(token[i].class, Class::Leet | Class::Mask) && !is_syntax(token, i, &syntax)
            });
            if symbols_inside {
                // A symbol inside a word may hide a letter (`fu@k`, `P@rn`)
                // or separate letters (`f!u!c!k`): read it both ways too.
                self.symbol_shadow(begin + first, begin + last + 1, Some(WILDCARD));
                self.symbol_shadow(begin + first, begin + last + 1, None);
            }
        }
    }

    /// Starts a shadow reading with a sentinel no pattern contains, so a
    /// match cannot run across readings whose source ranges overlap. Returns
    /// where the reading's units begin.
    fn begin_shadow(&mut self) -> usize {
        self.shadow.push(Unit {
            ch: SENTINEL,
            start: 0,
            end: 0,
            run: 1,
            flags: STARTS | ENDS,
        });
        self.shadow.len()
    }

    /// Adds a character to the shadow reading that began at `reading`,
    /// collapsing a repeat into a run as the main view does.
    fn push_shadow(&mut self, reading: usize, ch: char, start: u32, end: u32, flags: u8) {
        let in_reading = self.shadow.len() > reading;
        match self.shadow.last_mut() {
            Some(prev) if in_reading && prev.ch == ch => {
                prev.run = prev.run.saturating_add(1);
                prev.end = end;
            }
            _ => self.shadow.push(Unit {
                ch,
                start,
                end,
                run: 1,
                flags,
            }),
        }
    }

    /// A reading of a Latin word whose inner symbols are `mask` (a wildcard)
    /// or, with `None`, dropped.
    fn symbol_shadow(&mut self, begin: usize, end: usize, mask: Option<char>) {
        let reading = self.begin_shadow();
        for index in begin..end {
            let atom = self.atoms[index];
            let ch = match atom.class {
                Class::Latin => atom.ch,
                Class::Word | Class::Digit if atom.latin != '\0' => atom.latin,
                Class::Word | Class::Digit => atom.ch,
                Class::Leet | Class::Mask => match mask {
                    Some(mask) => mask,
                    None => continue,
                },
                _ => continue,
            };
            self.push_shadow(reading, ch, atom.start, atom.end, SHADOW);
        }
        close_piece(&mut self.shadow, reading);
    }

    /// Reads a word written wholly in look-alike letters as Latin.
    fn look_alike_shadow(&mut self, begin: usize, end: usize) {
        let letters = self.atoms[begin..end]
            .iter()
            .filter(|a| a.class == Class::Word)
            .count();
        if letters < 2 {
            return;
        }
        let reading = self.begin_shadow();
        for index in begin..end {
            let atom = self.atoms[index];
            if atom.class == Class::Word {
                self.push_shadow(reading, atom.latin, atom.start, atom.end, SHADOW);
            }
        }
        close_piece(&mut self.shadow, reading);
    }

    /// Reads a Latin word as Korean typed on an English keyboard, and keeps
    /// the reading when it makes whole syllables (`tlqkf` = 시발).
    fn keyboard_shadow_atoms(&mut self, begin: usize, end: usize) {
        // Called for words of 2-12 ASCII letters (`pure_ascii_letters`).
        let mut keys = [0u8; 12];
        let Some(keys) = keys.get_mut(..end - begin) else {
            return;
        };
        for (key, atom) in keys.iter_mut().zip(&self.atoms[begin..end]) {
            *key = atom.orig as u8;
        }
        self.keyboard_shadow(keys, KeySpans::Atoms(begin));
    }

    /// [`View::keyboard_shadow_atoms`] for the word typed with `keys`, whose
    /// sources `spans` tells.
    fn keyboard_shadow(&mut self, typed: &[u8], spans: KeySpans) {
        if !(2..=12).contains(&typed.len()) || !hangul::keys_could_be_syllables(typed) {
            return;
        }
        let mut buffer = [0u8; 12];
        let keys = &mut buffer[..typed.len()];
        keys.copy_from_slice(typed);
        self.keyboard_reading(spans, keys);
        // Shift held for the whole word (caps lock) or for its first letter
        // only (a phone's automatic capital): `QUDTLS` and `Qudtls` meant
        // 병신, not 뼝씬. Such a word is read unshifted too.
        let shifted = |key: &u8| matches!(key, b'Q' | b'W' | b'E' | b'R' | b'T' | b'O' | b'P');
        let upper = keys.iter().filter(|key| key.is_ascii_uppercase()).count();
        let capitalised = upper == keys.len() || (upper == 1 && keys[0].is_ascii_uppercase());
        if capitalised && keys.iter().any(shifted) {
            keys.make_ascii_lowercase();
            self.keyboard_reading(spans, keys);
        }
    }

    /// One keyboard reading of the word typed with `keys`, from `spans`.
    fn keyboard_reading(&mut self, spans: KeySpans, keys: &[u8]) {
        self.jamo.clear();
        for &key in keys {
            match hangul::keyboard_jamo(char::from(key)) {
                Some(jamo) => self.jamo.push(jamo),
                None => return,
            }
        }
        self.composed.clear();
        hangul::compose(&self.jamo, &mut self.composed);
        if self.composed.len() < 2 || !self.composed.iter().all(|c| hangul::is_syllable(c.ch)) {
            return;
        }
        let reading = self.begin_shadow();
        for index in 0..self.composed.len() {
            let composed = self.composed[index];
            let (start, end) = match spans {
                KeySpans::Atoms(begin) => (
                    self.atoms[begin + composed.first].start,
                    self.atoms[begin + composed.last].end,
                ),
                KeySpans::Bytes(at) => (at + composed.first as u32, at + composed.last as u32 + 1),
            };
            self.push_shadow(reading, composed.ch, start, end, SHADOW | KEYBOARD);
        }
        close_piece(&mut self.shadow, reading);
    }

    fn push_raw(&mut self, ch: char, start: u32, end: u32) {
        push_unit(&mut self.raw, ch, start, end);
    }

    fn close_piece(&mut self, piece: usize) {
        close_piece(&mut self.raw, piece);
    }

    /// Collapses repeats into runs. Across a word gap only single-letter
    /// words merge, so `a s s` is `ass` but `as salam` stays two words.
    fn collapse(&mut self) {
        // The last unit is the last raw one with its repeats merged in, so
        // only a raw unit with the character of the one before can merge:
        // the units between two such are copied as they are, at once.
        let mut index = 0;
        while index < self.raw.len() {
            if index == 0 || self.raw[index].ch != self.raw[index - 1].ch {
                let end = self.raw[index..]
                    .windows(2)
                    .position(|pair| pair[0].ch == pair[1].ch)
                    .map_or(self.raw.len(), |before| index + before + 1);
                self.units.extend_from_slice(&self.raw[index..end]);
                index = end;
                continue;
            }
            let unit = self.raw[index];
            index += 1;
            if let Some(prev) = self.units.last_mut()
                && prev.ch == unit.ch
            {
                let same_word = !unit.has(STARTS);
                let single_letters = !prev.has(GAP_INSIDE)
                    && prev.has(STARTS)
                    && prev.has(ENDS)
                    && unit.has(STARTS)
                    && unit.has(ENDS);
                let gap_merged = prev.has(GAP_INSIDE) && unit.has(STARTS) && unit.has(ENDS);
                if same_word || single_letters || gap_merged {
                    prev.run = prev.run.saturating_add(unit.run);
                    prev.end = unit.end;
                    if !same_word {
                        prev.flags |= GAP_INSIDE;
                    }
                    if unit.has(ENDS) {
                        prev.flags |= ENDS;
                    } else {
                        prev.flags &= !ENDS;
                    }
                    continue;
                }
            }
            self.units.push(unit);
        }
    }
}

/// Where the keys of a word typed on a keyboard came from: its atoms from
/// the given one on, or (a word of an ASCII line that has no atoms) its bytes
/// from the given offset on, one key a byte.
#[derive(Debug, Clone, Copy)]
enum KeySpans {
    Atoms(usize),
    Bytes(u32),
}

/// The unit of a folded byte of an ASCII line, at byte `start`.
fn byte_unit((&byte, start): (&u8, u32)) -> Unit {
    Unit::one(char::from(byte), start, start + 1)
}

fn push_unit(raw: &mut Vec<Unit>, ch: char, start: u32, end: u32) {
    raw.push(Unit::one(ch, start, end));
}

/// Marks the units from `piece` on as one word.
fn close_piece(raw: &mut [Unit], piece: usize) {
    if piece < raw.len() {
        raw[piece].flags |= STARTS;
        if let Some(last) = raw.last_mut() {
            last.flags |= ENDS;
        }
    }
}

/// `(`+`)` = o, `[_]` and `|_|` = u, `\/` = v, `|\|` = n.
/// Whether the digit at `index` stands for a letter: its run of digits is
/// short (at most 3: `sh1t`, `a55`, `b1tch`) and touches a letter or a leet
/// symbol (`4ss`), never a number standing apart inside the token (`n=455`,
/// `c=643`, `v2.1`, `3:1`) or a long one (`abc1234`, ids, times).
fn digit_run_reads_as_letters(token: &[Atom], index: usize) -> bool {
    let (start, end) = run_around(token, index, |a| a.class == Class::Digit);
    let letterish = |i: usize| matches!(token[i].class, Class::Latin | Class::Word | Class::Leet);
    let run = end - start + 1;
    // A number with its unit (`600kb`, `10gb`) or a name with a number
    // (`nick420`): digits that start a word two or more at a time, or end
    // it three or more at a time, are digits (`5h1t`, `a55` still read).
    let leads = !(0..start).any(letterish);
    let ends = !(end + 1..token.len()).any(letterish);
    if (leads && run >= 2) || (ends && run >= 3) {
        return false;
    }
    end - start < 3
        && ((start > 0 && letterish(start - 1)) || (end + 1 < token.len() && letterish(end + 1)))
}

/// What [`is_syntax`] asks of a whole token, found once per token (asked
/// at each symbol, a token of thousands of `(` took time growing with its
/// square).
struct Syntax {
    /// The token is a key combination (`Alt+Tab`).
    key_combo: bool,
    /// It has a statement's `;` or an assignment's `=`.
    statement: bool,
    /// The index of its last `>`.
    last_close: Option<usize>,
}

impl Syntax {
    fn of(token: &[Atom]) -> Self {
        let (mut plus, mut statement, mut last_close) = (false, false, None);
        for (index, atom) in token.iter().enumerate() {
            match atom.ch {
                '+' => plus = true,
                ';' | '=' => statement = true,
                '>' => last_close = Some(index),
                _ => {}
            }
        }
        Self {
            key_combo: plus && is_key_combo(token),
            statement,
            last_close,
        }
    }
}

/// Symbols that are syntax, not letters: a key combination's `+`
/// (`Alt+Tab`), a run of `+` (`c++`, `libstdc++6`), and a shell's `$(` and
/// `${` (`$(uname -r)`, `${PATH}`).
fn is_syntax(token: &[Atom], index: usize, syntax: &Syntax) -> bool {
    let at = |i: usize| token.get(i).map_or('\0', |a| a.ch);
    let before = if index > 0 { at(index - 1) } else { '\0' };
    // Code pasted into a chat (an outside review: `for (int i=0;i<n;i++)`,
    // `List<T>`, `vec![0; n]`): a token with a statement's `;`, an
    // assignment's `=` or a closing `>` after the `<` is code, where `<` and
    // brackets are no letters. `fu<k` and `di<k` have none of them.
    let code = || syntax.statement || syntax.last_close.is_some_and(|last| last >= index);
    match at(index) {
        // A macro call: `println!(`, `vec![`, `matches!(`.
        '!' => before.is_ascii_alphabetic() && matches!(at(index + 1), '(' | '[' | '{'),
        '<' => code(),
        '[' => before == '!' || code(),
        '+' if at(index + 1) == '=' => true,
        '+' => {
            let orig = |i: usize| token.get(i).map_or('\0', |a| a.orig);
            // `Function+SomeKey`: two capitalised words.
            let capitalised = orig(index + 1).is_uppercase() && orig(index + 2).is_lowercase();
            syntax.key_combo || capitalised || at(index + 1) == '+' || before == '+'
        }
        '$' => matches!(at(index + 1), '(' | '{'),
        '(' | '{' => before == '$' || before == '!' || is_call(token, index) || code(),
        // An exponent (`a**2`, `x^2`, `y = x**3`): marks right before a
        // number that does not read as letters (`sh*1t` still hides one).
        '*' | '^' => {
            let (_, end) = run_around(token, index, |a| matches!(a.ch, '*' | '^'));
            token.get(end + 1).is_some_and(|a| a.class == Class::Digit)
                && !digit_run_reads_as_letters(token, end + 1)
        }
        // An address (`nick@enterprise`): a letter hidden as `@` sits in a
        // short word (`f@g`, `b@stard`, `n1gg@`).
        '@' => {
            let latin = |a: &Atom| a.class == Class::Latin;
            let before = token[..index].iter().rev().take_while(|a| latin(a)).count();
            let after = token[index + 1..].iter().take_while(|a| latin(a)).count();
            before >= 3 && after >= 3
        }
        // A nick's separator (`PP|Spydon`, `tyraN|a`), where a letter hidden
        // as `|` keeps the word's case (`sh|t`, `SH|T`).
        '|' => {
            let orig = |i: usize| token.get(i).map_or('\0', |a| a.orig);
            let (prev, next) = (
                if index > 0 { orig(index - 1) } else { '\0' },
                orig(index + 1),
            );
            let capitalised = next.is_uppercase() && orig(index + 2).is_lowercase();
            capitalised || (prev.is_uppercase() && next.is_lowercase())
        }
        _ => false,
    }
}

/// A function's argument list (`f(x)`, `f(n)`, `g(x1)`): after a letter,
/// one to three letters or digits and the closing parenthesis.
fn is_call(token: &[Atom], index: usize) -> bool {
    let after_letter = index > 0 && token[index - 1].class == Class::Latin;
    let args = token[index + 1..]
        .iter()
        .take_while(|a| matches!(a.class, Class::Latin | Class::Digit))
        .count();
    after_letter
        && (1..=3).contains(&args)
        && token.get(index + 1 + args).is_some_and(|a| a.ch == ')')
}

/// The first and last index of the run of atoms around `index` that all
/// satisfy `member` (`index` itself when it does not).
fn run_around(token: &[Atom], index: usize, member: impl Fn(&Atom) -> bool) -> (usize, usize) {
    // Looked for at most this far each way: the rules that ask need a run's
    // ends only for runs a word can hold, and a token of thousands of `*`
    // asked at each of them would take time growing with its square.
    const REACH: usize = 64;
    let start = (index.saturating_sub(REACH)..=index)
        .rev()
        .take_while(|&i| member(&token[i]))
        .last()
        .unwrap_or(index);
    let end = (index..token.len().min(index + REACH + 1))
        .take_while(|&i| member(&token[i]))
        .last()
        .unwrap_or(index);
    (start, end)
}

/// A run of marks between separators stands for a number or a name, not
/// for letters of a word (`linux-headers-x.x.x-##-generic`).
fn is_placeholder(token: &[Atom], index: usize) -> bool {
    let (start, end) = run_around(token, index, |a| a.class == Class::Mask);
    let sep = |i: Option<usize>| {
        i.and_then(|i| token.get(i))
            .is_some_and(|a| matches!(a.ch, '-' | '.' | '_'))
    };
    sep(start.checked_sub(1)) && sep(Some(end + 1))
}

/// Modifier keys: `ctrl+c`, `Alt+Tab` name keys, their `+` hides no letter.
const MODIFIER_KEYS: &[&str] = &[
    "ctrl", "control", "alt", "shift", "super", "meta", "cmd", "command", "win", "fn", "option",
];

/// Whether a token with `+` in it is a key combination (`ctrl+alt+t`).
fn is_key_combo(token: &[Atom]) -> bool {
    token
        .split(|a| a.ch == '+')
        .map(|part| {
            part.iter()
                .filter(|a| a.class == Class::Latin)
                .map(|a| a.ch)
                .collect::<String>()
        })
        .any(|part| MODIFIER_KEYS.contains(&part.as_str()))
}

fn multi_char_leet(atoms: &[Atom]) -> Option<(char, usize)> {
    let at = |i: usize| atoms.get(i).map_or('\0', |a| a.ch);
    match (at(0), at(1), at(2)) {
        ('(', ')', _) => Some(('o', 2)),
        ('[', '_', ']') | ('|', '_', '|') => Some(('u', 3)),
        ('|', '\\', '|') => Some(('n', 3)),
        ('\\', '/', _) => Some(('v', 2)),
        _ => None,
    }
}

/// Whether a leet symbol stands for a letter here: inside a word always; at
/// its edges only the symbols that do not double as punctuation (`a$$`,
/// `@ss`, but not `hi!` or `(the`).
fn leet_counts(atom: &Atom, index: usize, first: Option<usize>, last: Option<usize>) -> bool {
    let (Some(first), Some(last)) = (first, last) else {
        return false;
    };
    if index > first && index < last {
        return true;
    }
    if index < first {
        return !matches!(atom.ch, '(' | '[' | '{' | '|' | '!');
    }
    !matches!(atom.ch, '!' | '(' | '[' | '{' | '<' | '|')
}

/// A run of two or more dashes or underscores inside a word hides letters
/// (`f--k`, `f__king`, `sh--t`); a single one is a gap (`f-u-c-k`). After
/// three or more letters the run joins two words (`question--ask`,
/// `ThE__OnE`, `stefan__1`): a dash in prose, an underscore in a name.
fn is_dash_mask(token: &[Atom], index: usize) -> bool {
    let dash = |i: usize| token.get(i).is_some_and(|a| matches!(a.ch, '-' | '_'));
    if !(dash(index) && (dash(index + 1) || (index > 0 && dash(index - 1)))) {
        return false;
    }
    let (run_start, _) = run_around(token, index, |a| matches!(a.ch, '-' | '_'));
    let head = token[..run_start]
        .iter()
        .rev()
        .take_while(|a| a.class == Class::Latin)
        .count();
    head <= 2
}

/// A run of two or more masking marks ending a word hides its tail
/// (`mother******`, `f***`).
fn masked_tail(token: &[Atom], index: usize, last_core: Option<usize>) -> bool {
    let Some(last) = last_core else {
        return false;
    };
    if index <= last || token[last].class != Class::Latin {
        return false;
    }
    let tail = || {
        token[last + 1..]
            .iter()
            // `?` ends a question and `^^` is a smile (`thanks^^`,
            // `EriC^^`), not letters masked out.
            .take_while(|a| a.class == Class::Mask && !matches!(a.ch, '?' | '^'))
    };
    let run = tail().count();
    // One letter and `+`/`^` marks is a name, not a masked word (`c++`,
    // `g++`, `C^^`); a star after one letter still is (`f***`).
    let one_letter = last == 0 || token[last - 1].class != Class::Latin;
    if one_letter && tail().any(|a| a.ch != '*') {
        return false;
    }
    // Stars on both sides are emphasis (`**without**`); two stars after a
    // whole word are a footnote or emphasis too (`Usb**`, `too much**`),
    // where a masked word keeps one or two letters (`f***`, `sh**`).
    let emphasis = token.first().is_some_and(|a| a.ch == '*');
    let letters = token[..=last]
        .iter()
        .rev()
        .take_while(|a| a.class == Class::Latin)
        .count();
    if emphasis || (run == 2 && letters >= 3) {
        return false;
    }
    run >= 2 && index <= last + run
}

/// Marks that hide a syllable in a Korean word (`씨X`, `개**`).
/// Not `?`, `#` or `^`: after a Korean word they are punctuation (`했지?`).
fn is_hangul_mask(atom: &Atom) -> bool {
    matches!(
        atom.ch,
        '*' | 'x'
            | '×'
            | '○'
            | '●'
            | '◯'
            | '♡'
            | '♥'
            | '■'
            | '□'
            | '◎'
            | '◇'
            | '◆'
            | '☆'
            | '★'
    )
}

/// Jamo typed as laughter or a sigh (`ㅋ`, `ㅎ`, `ㅡ`, `ㅜ`, `ㅠ`): inside a
/// word, alone between two syllables, they are filler.
fn is_filler_jamo(ch: char) -> bool {
    matches!(ch, 'ㅋ' | 'ㅎ' | 'ㅡ' | 'ㅜ' | 'ㅠ')
}

#[cfg(test)]
mod tests;
