//! The masked spellings of the danger entries (`f*ck`, `f**k`, `sh*t`,
//! `mother******`, `씨*`, `개*끼`), found around each wildcard of a line.
//!
//! They are most of the filter's literals (about 34,500 from the built-in
//! lexicons), and a line can match one only where it has a wildcard, which
//! few lines have. Compiled into an automaton they took 58-71 ms and about
//! 15 MB of RSS on the first masked line. Here each is kept as the entry
//! spelling it comes from plus where its wildcard sits, indexed by the
//! characters around that wildcard: building the index takes about 15 ms
//! and 2 MB, and a line is searched only at its wildcards.
//!
//! A search reports what an overlapping automaton search over the same
//! literals reports, in the same order: at each unit, every literal that
//! ends there, longest first, each with its rules in the order the entries
//! gave them (a test compares the two).

use std::collections::HashMap;

use quicktalk_core::ports::moderator::{Category, Severity};

use crate::filter::Rule;
use crate::lexicon::{Entry, Kind};
use crate::normalize::{Unit, WILDCARD, hangul};

/// Where the wildcard of a literal sits in the entry spelling it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The spelling as written: it has a wildcard of its own (an operator's
    /// `f*ck` entry).
    AsWritten,
    /// `removed` units from `at` become one wildcard (`f*ck` from `fuck`;
    /// `removed` 0 puts a wildcard in, `개*새끼`). A `tail` wildcard stands
    /// for the rest of the word and needs two marks (`f***`).
    Star { at: u16, removed: u16, tail: bool },
}

/// One spelling of a lexicon entry (an `l` may be read as `i`), with what
/// its entry requires of a match.
#[derive(Debug)]
struct Spelling {
    kind: Kind,
    starts_word: bool,
    ends_word: bool,
    multiword: bool,
    /// Its units' characters and minimum runs: `chars[start..start + len]`.
    start: u32,
    len: u32,
}

/// One literal: a shape of a spelling.
#[derive(Debug, Clone, Copy)]
struct Literal {
    spelling: u32,
    shape: Shape,
}

/// Where a literal's first wildcard sits, and the characters nearest it:
/// the one before and the two after, or the two before it when it ends the
/// literal, or the two after it when it starts it (none where the literal
/// is shorter). Inner wildcards are most literals: three characters keep
/// each key's list short.
type Key = (Side, Option<char>, Option<char>, Option<char>);

/// See [`Key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    Inside,
    Ends,
    Starts,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct MaskedSet {
    spellings: Vec<Spelling>,
    chars: Vec<char>,
    /// Minimum run of each unit of each spelling (0 for a wildcard of one
    /// mark), beside `chars`.
    runs: Vec<u16>,
    /// One for each distinct text, grouped by the characters around its
    /// first wildcard.
    texts: Vec<Text>,
    /// Each key's texts: `texts[from..to]`.
    index: HashMap<Key, (u32, u32), foldhash::fast::RandomState>,
    /// The literals whose rules each text takes, one after another.
    rule_literals: Vec<Literal>,
}

/// One distinct text of the masked literals.
#[derive(Debug, Clone, Copy)]
struct Text {
    /// Its rules are those of `rule_literals[from..]`, up to the next
    /// text's: of every literal with this text, in the entries' order, each
    /// rule once, and where one is a swear word the other danger categories
    /// left out. The first of them gives the text.
    from: u32,
    /// Its length, and where its first wildcard is (see
    /// [`MaskedSet::geometry`]).
    len: u32,
    star: u32,
}

/// A text that matched, and the units it covers.
#[derive(Debug, Clone, Copy)]
struct Match {
    first: u32,
    last: u32,
    text: u32,
}

/// What [`MaskedSet::find`] reuses from line to line: the texts a line
/// matched, and the rules of one match, kept by the length of the text
/// (every rule of a text is as long as it) and refilled in place: a masked
/// line builds a dozen rules, and allocating each one's runs cost a tenth
/// of en-evasion-rustrict's instructions.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    matches: Vec<Match>,
    rules_by_len: Vec<Vec<Rule>>,
}

impl MaskedSet {
    /// The masked literals of `entries`, each given as its spelled units:
    /// a danger entry's masked variants, and any entry written with a
    /// wildcard of its own.
    pub(crate) fn new<'a>(entries: impl IntoIterator<Item = (&'a Entry, Vec<Vec<Unit>>)>) -> Self {
        let mut set = Self::default();
        let mut literals = Vec::new();
        for (entry, spellings) in entries {
            for units in spellings {
                let shapes = match entry.kind {
                    _ if units.iter().any(|u| u.ch == WILDCARD) => vec![Shape::AsWritten],
                    Kind::Danger(_, severity) => shapes(&units, severity),
                    _ => Vec::new(),
                };
                if shapes.is_empty() {
                    continue;
                }
                let spelling = set.spellings.len() as u32;
                set.spellings.push(Spelling {
                    kind: entry.kind,
                    starts_word: entry.starts_word,
                    ends_word: entry.ends_word,
                    multiword: entry.text.trim().contains(' '),
                    start: set.chars.len() as u32,
                    len: units.len() as u32,
                });
                set.chars.extend(units.iter().map(|u| u.ch));
                set.runs.extend(units.iter().map(|u| min_run(u.ch, u.run)));
                literals.extend(shapes.into_iter().map(|shape| Literal { spelling, shape }));
            }
        }
        // The literals of each text, in the entries' order: sorted by a hash
        // of their text, then by that order (texts of equal hashes are told
        // apart below). Sorting, not a map of texts, keeps the allocations
        // few: what a build allocates and frees stays in the process.
        let mut order: Vec<(u64, u32)> = literals
            .iter()
            .zip(0..)
            .map(|(literal, index)| (set.text_hash(literal), index))
            .collect();
        order.sort_unstable();
        // Each text's literals whose rules count, one after another.
        let mut kept: Vec<Literal> = Vec::with_capacity(literals.len());
        let mut groups: Vec<(Key, u32, u32)> = Vec::new();
        let mut taken: Vec<bool> = Vec::new();
        let mut run = 0;
        while run < order.len() {
            let hash = order[run].0;
            let end = run + order[run..].iter().take_while(|(h, _)| *h == hash).count();
            taken.clear();
            taken.resize(end - run, false);
            for head in run..end {
                if taken[head - run] {
                    continue;
                }
                let text = literals[order[head].1 as usize];
                let start = kept.len();
                for other in head..end {
                    let literal = literals[order[other].1 as usize];
                    if taken[other - run] || !set.same_text(&text, &literal) {
                        continue;
                    }
                    taken[other - run] = true;
                    // Many entries give the same text and rule (`f*k` from
                    // `fuck`, `feck`, `fick`...): one is enough.
                    if !kept[start..].iter().any(|k| set.same_rule(k, &literal)) {
                        kept.push(literal);
                    }
                }
                set.prefer_swearing(&mut kept, start);
                groups.push((set.key(&kept[start]), start as u32, kept.len() as u32));
            }
            run = end;
        }
        drop(order);
        drop(literals);
        groups.sort_unstable_by_key(|&(key, start, _)| (key, start));
        let mut from = 0;
        while from < groups.len() {
            let key = groups[from].0;
            let to = from + groups[from..].iter().take_while(|g| g.0 == key).count();
            set.index.insert(key, (from as u32, to as u32));
            from = to;
        }
        set.texts.reserve_exact(groups.len());
        set.rule_literals.reserve_exact(kept.len());
        for (_, start, end) in groups {
            let (len, star) = set.geometry(&kept[start as usize]);
            set.texts.push(Text {
                from: set.rule_literals.len() as u32,
                len: len as u32,
                star: star as u32,
            });
            set.rule_literals
                .extend_from_slice(&kept[start as usize..end as usize]);
        }
        set.texts.shrink_to_fit();
        set.rule_literals.shrink_to_fit();
        set.chars.shrink_to_fit();
        set.runs.shrink_to_fit();
        set
    }

    /// The literals whose rules text `index` takes; the first gives the text.
    fn rule_literals(&self, index: usize) -> &[Literal] {
        let to = self
            .texts
            .get(index + 1)
            .map_or(self.rule_literals.len(), |next| next.from as usize);
        &self.rule_literals[self.texts[index].from as usize..to]
    }

    /// How many distinct texts the set searches for.
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.spellings.capacity() * size_of::<Spelling>()
            + self.chars.capacity() * size_of::<char>()
            + self.runs.capacity() * size_of::<u16>()
            + self.texts.capacity() * size_of::<Text>()
            + self.rule_literals.capacity() * size_of::<Literal>()
            + self.index.capacity() * (size_of::<Key>() + size_of::<(u32, u32)>() + 1)
    }

    /// The characters of `literal`'s spelling.
    fn spelled(&self, literal: &Literal) -> &[char] {
        let spelling = &self.spellings[literal.spelling as usize];
        &self.chars[spelling.start as usize..][..spelling.len as usize]
    }

    /// The literal's length, and where its first wildcard is.
    fn geometry(&self, literal: &Literal) -> (usize, usize) {
        let spelled = self.spelled(literal);
        match literal.shape {
            Shape::AsWritten => (
                spelled.len(),
                spelled.iter().position(|&c| c == WILDCARD).unwrap_or(0),
            ),
            Shape::Star { at, removed, .. } => {
                (spelled.len() + 1 - usize::from(removed), usize::from(at))
            }
        }
    }

    /// Character `i` of the literal.
    fn char_at(&self, literal: &Literal, i: usize) -> char {
        let spelled = self.spelled(literal);
        match literal.shape {
            Shape::AsWritten => spelled[i],
            Shape::Star { at, removed, .. } => {
                let at = usize::from(at);
                match i.cmp(&at) {
                    std::cmp::Ordering::Less => spelled[i],
                    std::cmp::Ordering::Equal => WILDCARD,
                    std::cmp::Ordering::Greater => spelled[i - 1 + usize::from(removed)],
                }
            }
        }
    }

    fn key(&self, literal: &Literal) -> Key {
        let (len, star) = self.geometry(literal);
        let at = |i: Option<usize>| i.filter(|&i| i < len).map(|i| self.char_at(literal, i));
        if star + 1 == len {
            let (two_before, before) = (at(star.checked_sub(2)), at(star.checked_sub(1)));
            (Side::Ends, two_before, before, None)
        } else if star == 0 {
            (Side::Starts, at(Some(1)), at(Some(2)), None)
        } else {
            (
                Side::Inside,
                at(Some(star - 1)),
                at(Some(star + 1)),
                at(Some(star + 2)),
            )
        }
    }

    /// Minimum run `i` of the literal's rule.
    fn run_at(&self, literal: &Literal, i: usize) -> u16 {
        let spelling = &self.spellings[literal.spelling as usize];
        let runs = &self.runs[spelling.start as usize..][..spelling.len as usize];
        match literal.shape {
            Shape::AsWritten => runs[i],
            Shape::Star { at, removed, tail } => {
                let at = usize::from(at);
                match i.cmp(&at) {
                    std::cmp::Ordering::Less => runs[i],
                    std::cmp::Ordering::Equal => {
                        if tail {
                            2
                        } else {
                            0
                        }
                    }
                    std::cmp::Ordering::Greater => runs[i - 1 + usize::from(removed)],
                }
            }
        }
    }

    /// The rule a literal's match must satisfy.
    fn rule(&self, literal: &Literal) -> Rule {
        let spelling = &self.spellings[literal.spelling as usize];
        let (len, _) = self.geometry(literal);
        Rule::new(
            spelling.kind,
            spelling.starts_word,
            spelling.ends_word,
            spelling.multiword,
            (0..len).map(|i| self.run_at(literal, i)).collect(),
        )
    }

    /// Makes `rule` what [`MaskedSet::rule`] gives for `literal`, in place.
    fn refill(&self, rule: &mut Rule, literal: &Literal) {
        let spelling = &self.spellings[literal.spelling as usize];
        let (len, _) = self.geometry(literal);
        rule.refill(
            spelling.kind,
            spelling.starts_word,
            spelling.ends_word,
            spelling.multiword,
            len,
            (0..len).map(|i| self.run_at(literal, i)),
        );
    }

    fn text_hash(&self, literal: &Literal) -> u64 {
        let (len, _) = self.geometry(literal);
        (0..len).fold(0xcbf2_9ce4_8422_2325, |hash, i| {
            (hash ^ u64::from(self.char_at(literal, i))).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    fn same_text(&self, a: &Literal, b: &Literal) -> bool {
        let (len, _) = self.geometry(a);
        len == self.geometry(b).0 && (0..len).all(|i| self.char_at(a, i) == self.char_at(b, i))
    }

    /// Whether two literals of the same text have the same rule.
    fn same_rule(&self, a: &Literal, b: &Literal) -> bool {
        let (x, y) = (
            &self.spellings[a.spelling as usize],
            &self.spellings[b.spelling as usize],
        );
        let (len, _) = self.geometry(a);
        (x.kind, x.starts_word, x.ends_word, x.multiword)
            == (y.kind, y.starts_word, y.ends_word, y.multiword)
            && (0..len).all(|i| self.run_at(a, i) == self.run_at(b, i))
    }

    /// A masked word (`f**k`, `c*nt`, `a$$hole`, `개XX끼`) fits entries of
    /// several categories at once, and took them all: a self-censored
    /// swear word was blocked as sexual, hate, threat and spam too. People
    /// hide the letters of swear words far more than of anything else, so
    /// where a masked text fits a profanity entry (among `literals[start..]`),
    /// it is read as that alone.
    fn prefer_swearing(&self, literals: &mut Vec<Literal>, start: usize) {
        let kind = |literal: &Literal| self.spellings[literal.spelling as usize].kind;
        let swearing =
            |literal: &Literal| matches!(kind(literal), Kind::Danger(Category::Profanity, _));
        let other = |literal: &Literal| matches!(kind(literal), Kind::Danger(c, _) if c != Category::Profanity);
        let group = &literals[start..];
        if group.iter().any(swearing) && group.iter().any(other) {
            let mut write = start;
            for read in start..literals.len() {
                if !other(&literals[read]) {
                    literals[write] = literals[read];
                    write += 1;
                }
            }
            literals.truncate(write);
        }
    }

    /// Every literal in `units`, as an overlapping search reports them: by
    /// the unit they end at, longest first. For each, `found` gets its first
    /// and last unit and its rules (those of every literal of the same text,
    /// in the entries' order, each once; where one is a swear word, the
    /// other danger categories dropped). `matches` is scratch space.
    pub(crate) fn find(
        &self,
        units: &[Unit],
        scratch: &mut Scratch,
        mut found: impl FnMut(usize, usize, &[Rule]),
    ) {
        let Scratch {
            matches,
            rules_by_len,
        } = scratch;
        matches.clear();
        for (w, unit) in units.iter().enumerate() {
            if unit.ch != WILDCARD {
                continue;
            }
            let ch = |i: Option<usize>| i.and_then(|i| units.get(i)).map(|u| u.ch);
            let (before, after) = (ch(w.checked_sub(1)), ch(Some(w + 1)));
            let (two_before, two_after) = (ch(w.checked_sub(2)), ch(Some(w + 2)));
            // Each key a literal with its first wildcard here can have.
            let keys = [
                (Side::Inside, before, after, two_after),
                (Side::Inside, before, after, None),
                (Side::Ends, two_before, before, None),
                (Side::Ends, None, before, None),
                (Side::Ends, None, None, None),
                (Side::Starts, after, two_after, None),
                (Side::Starts, after, None, None),
            ];
            for (i, key) in keys.iter().enumerate() {
                // A key with a character the text lacks matches nothing; a
                // shorter one the text could also give comes once.
                let repeated = keys[..i].contains(key);
                if repeated || key.0 == Side::Inside && (before.is_none() || after.is_none()) {
                    continue;
                }
                let Some(&(from, to)) = self.index.get(key) else {
                    continue;
                };
                for (text, index) in self.texts[from as usize..to as usize].iter().zip(from..) {
                    let literal = &self.rule_literals[text.from as usize];
                    let (len, star) = (text.len as usize, text.star as usize);
                    let Some(first) = w.checked_sub(star) else {
                        continue;
                    };
                    if first + len > units.len() {
                        continue;
                    }
                    // The text's characters before and after the wildcard.
                    let spelled = self.spelled(literal);
                    let (head, tail) = match literal.shape {
                        Shape::AsWritten => (&spelled[..star], &spelled[star + 1..]),
                        Shape::Star { at, removed, .. } => (
                            &spelled[..usize::from(at)],
                            &spelled[usize::from(at) + usize::from(removed)..],
                        ),
                    };
                    let same = |units: &[Unit], chars: &[char]| {
                        units.iter().zip(chars).all(|(unit, &ch)| unit.ch == ch)
                    };
                    let fits =
                        same(&units[first..w], head) && same(&units[w + 1..first + len], tail);
                    if fits {
                        matches.push(Match {
                            first: first as u32,
                            last: (first + len - 1) as u32,
                            text: index,
                        });
                    }
                }
            }
        }
        // Distinct texts never cover the same units.
        matches.sort_unstable_by_key(|m| (m.last, m.first));
        for m in matches.iter() {
            let len = (m.last - m.first + 1) as usize;
            if rules_by_len.len() <= len {
                rules_by_len.resize_with(len + 1, Vec::new);
            }
            let rules = &mut rules_by_len[len];
            let mut used = 0;
            for literal in self.rule_literals(m.text as usize) {
                match rules.get_mut(used) {
                    Some(rule) => self.refill(rule, literal),
                    None => rules.push(self.rule(literal)),
                }
                used += 1;
            }
            found(m.first as usize, m.last as usize, &rules[..used]);
        }
    }
}

/// The minimum run a unit of an entry asks of the text: its own run (`ass`
/// needs two `s`), but a wildcard of one mark stands for any number.
pub(crate) fn min_run(ch: char, run: u16) -> u16 {
    if ch == WILDCARD && run < 2 { 0 } else { run }
}

/// The ways people hide letters of a word with masking marks: in a Latin word
/// up to three inner letters become one `*` (`f*ck`, `f**k`, `sh*t`), or
/// the end of the word two or more (`f***`, for the clear words); in a
/// Korean word one syllable after the first is replaced or followed by `*`
/// (`씨*`, `개*끼`, `시*발`).
fn shapes(units: &[Unit], severity: Severity) -> Vec<Shape> {
    let n = units.len();
    let mut shapes = Vec::new();
    let latin = units.iter().all(|u| u.ch.is_ascii_lowercase());
    let korean = units.iter().all(|u| hangul::is_syllable(u.ch));
    let Ok(short) = u16::try_from(n) else {
        return shapes;
    };
    if latin && n >= 4 && severity >= Severity::Medium {
        for keep in 1..=short - 2 {
            shapes.push(Shape::Star {
                at: keep,
                removed: short - keep,
                tail: true,
            });
        }
    }
    if latin && (3..=12).contains(&n) {
        for at in 1..short - 1 {
            for removed in 1..=3 {
                if at + removed > short - 1 {
                    break;
                }
                shapes.push(Shape::Star {
                    at,
                    removed,
                    tail: false,
                });
            }
        }
    } else if korean && (2..=4).contains(&n) {
        for at in 1..short {
            shapes.push(Shape::Star {
                at,
                removed: 1,
                tail: false,
            });
            shapes.push(Shape::Star {
                at,
                removed: 0,
                tail: false,
            });
        }
    }
    shapes
}
