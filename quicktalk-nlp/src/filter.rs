//! The filter: lexicon matching over the normalised view, contact and spam
//! detection over the plain text, and the policy that turns findings into an
//! action.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use quicktalk_core::ports::moderator::{Action, Category, Moderator, Severity, Verdict};

use crate::Error;
use crate::art::ArtDetector;
use crate::chars::CharAutomaton;
use crate::contact::{ContactDetector, Found};
use crate::lexicon::{self, Entry, Kind};
use crate::masked::{MaskedSet, min_run};
use crate::model::Model;
use crate::morphology::short_korean_match_is_a_word;
use crate::normalize::{ENDS, Features, GAP_INSIDE, KEYBOARD, SPLIT, STARTS, Unit, View, WILDCARD};
use crate::policy::Policy;
use crate::spam::SpamDetector;

/// The lexicons that ship with the crate: `(file name, contents)`.
pub const BUILTIN_LEXICONS: [(&str, &str); 3] = [
    ("korean.txt", include_str!("../lexicon/korean.txt")),
    ("english.txt", include_str!("../lexicon/english.txt")),
    ("other.txt", include_str!("../lexicon/other.txt")),
];

/// The spam signals that ship with the crate.
pub const BUILTIN_SPAM_SIGNALS: (&str, &str) = (
    "spam_signals.txt",
    include_str!("../lexicon/spam_signals.txt"),
);

/// Longest piece of text checked in one go; longer input is checked piece by
/// piece (cut at whitespace), so offsets always fit the view's `u32`s.
const CHUNK: usize = 64 * 1024;

/// How far each piece reaches into the next: a phrase across a cut
/// (`kakao id minji99`, `f u c k`) is read whole by the piece before it; what
/// both pieces find is merged.
const OVERLAP: usize = 512;

/// One thing the filter found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of danger.
    pub category: Category,
    /// How bad.
    pub severity: Severity,
    /// Byte range of the checked text, on `char` boundaries.
    pub span: Range<usize>,
}

/// The result of [`Filter::check`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Check {
    /// What the policy says to do with the line.
    pub action: Action,
    /// The category that decided the action.
    pub category: Option<Category>,
    /// The highest severity found.
    pub severity: Severity,
    /// Everything found, in text order.
    pub findings: Vec<Finding>,
    /// The spans to mask when the action is [`Action::Mask`].
    pub mask_spans: Vec<Range<usize>>,
}

impl Check {
    /// Whether anything was found that the policy does not simply allow.
    pub fn flagged(&self) -> bool {
        self.action != Action::Allow
    }

    /// The distinct categories found, in [`Category::ALL`] order.
    pub fn categories(&self) -> Vec<Category> {
        let mut categories: Vec<Category> = self.findings.iter().map(|f| f.category).collect();
        categories.sort();
        categories.dedup();
        categories
    }

    /// `text` with every character of every finding replaced by `*`.
    pub fn masked(&self, text: &str) -> String {
        let verdict = Verdict {
            spans: self.findings.iter().map(|f| f.span.clone()).collect(),
            ..Verdict::allow()
        };
        verdict.mask(text)
    }

    /// The engine's view of this check.
    pub fn into_verdict(self) -> Verdict {
        Verdict {
            action: self.action,
            category: self.category,
            severity: self.severity,
            spans: self.mask_spans,
        }
    }
}

/// What a lexicon pattern requires of a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) kind: Kind,
    starts_word: bool,
    ends_word: bool,
    /// The entry was written as several words.
    multiword: bool,
    /// Minimum run per unit (0 for a wildcard): `ass` needs two `s`.
    runs: Box<[u16]>,
    /// Every minimum is 1, as for most patterns: [`accepts`] then needs
    /// only the units, not `runs`.
    single_runs: bool,
}

impl Rule {
    pub(crate) fn new(
        kind: Kind,
        starts_word: bool,
        ends_word: bool,
        multiword: bool,
        runs: Box<[u16]>,
    ) -> Self {
        Self {
            kind,
            starts_word,
            ends_word,
            multiword,
            single_runs: runs.iter().all(|&min| min == 1),
            runs,
        }
    }

    /// Makes this rule what [`Rule::new`] gives for these fields and the
    /// `len` runs, keeping the allocation of its runs when the length is
    /// the same.
    pub(crate) fn refill(
        &mut self,
        kind: Kind,
        starts_word: bool,
        ends_word: bool,
        multiword: bool,
        len: usize,
        runs: impl Iterator<Item = u16>,
    ) {
        if self.runs.len() == len {
            for (slot, run) in self.runs.iter_mut().zip(runs) {
                *slot = run;
            }
        } else {
            self.runs = runs.collect();
        }
        self.kind = kind;
        self.starts_word = starts_word;
        self.ends_word = ends_word;
        self.multiword = multiword;
        self.single_runs = self.runs.iter().all(|&min| min == 1);
    }
}

/// The context words a line has (see [`Kind::Context`] and [`Kind::Game`]).
#[derive(Debug, Default, Clone, Copy)]
struct Contexts {
    /// News, medicine, a report: the line is about harm.
    about: bool,
    /// A game: threats are trash talk.
    game: bool,
}

/// Per-thread scratch space, so a check allocates nothing in the steady state.
#[derive(Default)]
struct Scratch {
    view: View,
    plain: String,
    hits: Vec<(usize, usize, Kind)>,
    /// The allowed words among `hits`, as unit ranges.
    allows: Vec<(usize, usize)>,
    found: Vec<Found>,
    art: Vec<(Category, Range<usize>)>,
    spam: Vec<Range<usize>>,
    /// For [`MaskedSet::find`].
    masked: crate::masked::Scratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A compiled danger-word filter. Build once, check many: it is `Send +
/// Sync`, checks are synchronous and take microseconds.
#[derive(Debug)]
pub struct Filter {
    /// The entries as written.
    words: WordSet,
    /// Their masked variants (most of the literals), indexed on the first
    /// line that has a masking mark: most processes check few masked lines.
    masked_words: std::sync::OnceLock<MaskedSet>,
    /// The parsed entries, for the masked variants.
    entries: Vec<Entry>,
    /// Compiled on the first line that needs it (its regexes are a sixth
    /// of the start-up work).
    contact: std::sync::OnceLock<ContactDetector>,
    art: ArtDetector,
    spam: SpamDetector,
    policy: Policy,
    /// The learned second pass, when on.
    learned: Option<&'static Model>,
}

/// Builds a [`Filter`] from lexicon files and a policy.
#[derive(Debug, Clone)]
pub struct FilterBuilder {
    lexicons: Vec<(String, String)>,
    spam_signals: (String, String),
    policy: Policy,
    learned: bool,
}

impl Default for FilterBuilder {
    fn default() -> Self {
        Self {
            lexicons: BUILTIN_LEXICONS
                .iter()
                .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
                .collect(),
            spam_signals: (
                BUILTIN_SPAM_SIGNALS.0.to_owned(),
                BUILTIN_SPAM_SIGNALS.1.to_owned(),
            ),
            policy: Policy::default(),
            learned: true,
        }
    }
}

impl FilterBuilder {
    /// A builder with the built-in lexicons and the default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops the built-in lexicons (keeping contact and spam detection), to
    /// start from your own.
    pub fn without_builtin_lexicons(mut self) -> Self {
        self.lexicons.clear();
        self
    }

    /// Adds a lexicon file's contents (see the [`crate::lexicon`] format).
    pub fn lexicon(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.lexicons.push((name.into(), text.into()));
        self
    }

    /// Replaces the spam signals file.
    pub fn spam_signals(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.spam_signals = (name.into(), text.into());
        self
    }

    /// Sets the policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks the lexicons and spam signals without compiling anything: the
    /// cheap way to validate configuration before [`FilterBuilder::build`].
    ///
    /// # Errors
    ///
    /// As [`FilterBuilder::build`].
    pub fn check(&self) -> Result<(), Error> {
        self.parse().map(|_| ())
    }

    fn parse(&self) -> Result<(Vec<Entry>, SpamDetector), Error> {
        let mut entries = Vec::new();
        for (name, text) in &self.lexicons {
            lexicon::parse(name, text, &mut entries)?;
        }
        let spam = SpamDetector::new(&self.spam_signals.0, &self.spam_signals.1, &mut entries)?;
        Ok((entries, spam))
    }

    /// Compiles the filter.
    ///
    /// # Errors
    ///
    /// [`Error::Lexicon`] for a malformed lexicon or spam-signal line, with
    /// its file and line number.
    pub fn build(self) -> Result<Filter, Error> {
        let (entries, spam) = self.parse()?;
        Ok(Filter {
            words: WordSet::new(compile(&entries), crate::contact::keywords()),
            masked_words: std::sync::OnceLock::new(),
            entries,
            contact: std::sync::OnceLock::new(),
            art: ArtDetector::new(),
            spam,
            policy: self.policy,
            learned: self.learned.then(Model::builtin),
        })
    }

    /// Whether the learned second pass may raise a line the lexicon allowed
    /// to a flag for moderators (default: on). It never masks or blocks.
    pub fn learned(mut self, on: bool) -> Self {
        self.learned = on;
        self
    }
}

/// Literals and the rules behind each, before compiling.
#[derive(Default)]
struct Literals {
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    texts: Vec<String>,
    rules: Vec<Vec<Rule>>,
}

impl Literals {
    fn add(&mut self, literal: String, rule: Rule) {
        let slot = *self.index.entry(literal.clone()).or_insert_with(|| {
            self.texts.push(literal);
            self.rules.push(Vec::new());
            self.rules.len() - 1
        });
        // Several entries can give the same literal and rule (`sh1t` and
        // `shit` both read `shit`): one is enough, and each copy would be
        // one more hit to weigh.
        if !self.rules[slot].contains(&rule) {
            self.rules[slot].push(rule);
        }
    }
}

/// One automaton and, for each of its patterns, the rules behind it (one
/// text can come from several entries).
#[derive(Debug)]
struct WordSet {
    /// The automaton itself, walked one unit of the view at a time (see
    /// [`WordSet::find`]).
    automaton: CharAutomaton,
    /// Every pattern's rules, one after another: pattern `p`'s are
    /// `rules[first_rule[p]..first_rule[p + 1]]` (one array, not one per
    /// pattern: a match reads fewer places in memory).
    rules: Vec<Rule>,
    first_rule: Vec<u32>,
    /// Patterns from this one on are the contact keywords (`naver dot
    /// com`, `zero one zero`, `kik id jenny`; see `contact::keywords`):
    /// they have no rules, a match only tells [`WordSet::find`]'s caller
    /// that one is there.
    keywords_from: u32,
    /// The keyword [`crate::contact::ID_WORD`], which counts only where a
    /// word starts.
    id_word: u32,
}

impl WordSet {
    fn new<'a>(literals: Literals, keywords: impl IntoIterator<Item = &'a str>) -> Self {
        let mut first_rule = Vec::with_capacity(literals.rules.len() + 1);
        first_rule.push(0);
        let mut rules = Vec::new();
        for pattern_rules in literals.rules {
            rules.extend(pattern_rules);
            first_rule.push(rules.len() as u32);
        }
        let keywords_from = literals.texts.len() as u32;
        let mut texts = literals.texts;
        texts.extend(keywords.into_iter().map(str::to_owned));
        let id_word = texts[keywords_from as usize..]
            .iter()
            .position(|text| text == crate::contact::ID_WORD)
            .map_or(u32::MAX, |at| keywords_from + at as u32);
        Self {
            automaton: CharAutomaton::new(&texts),
            rules,
            first_rule,
            keywords_from,
            id_word,
        }
    }

    /// Every accepted match in `view`, pushed to `hits`: each pattern that
    /// ends at each unit, longest first, as an overlapping search reports
    /// them. One step per unit: a Hangul syllable is one character, not
    /// three bytes (see [`CharAutomaton`]). Returns whether a contact
    /// keyword is in the view's text (the units' characters), as a search
    /// of that text would tell, the id word only where a word starts.
    fn find(&self, view: &View, hits: &mut Vec<(usize, usize, Kind)>) -> bool {
        let automaton = &self.automaton;
        let mut state = automaton.start();
        let mut keyword = false;
        for (last, unit) in view.units.iter().enumerate() {
            state = automaton.next(state, unit.ch);
            for &pattern in automaton.matches(state) {
                let first = last + 1 - automaton.pattern_len(pattern);
                if pattern >= self.keywords_from {
                    keyword |= pattern != self.id_word || view.units[first].has(STARTS);
                    continue;
                }
                self.accept(view, first, last, pattern as usize, hits);
            }
        }
        keyword
    }

    /// Pushes the rules of `pattern`, found at units `first..=last`, that
    /// accept the units there.
    fn accept(
        &self,
        view: &View,
        first: usize,
        last: usize,
        pattern: usize,
        hits: &mut Vec<(usize, usize, Kind)>,
    ) {
        let (from, to) = (self.first_rule[pattern], self.first_rule[pattern + 1]);
        accept_rules(
            &self.rules[from as usize..to as usize],
            view,
            first,
            last,
            hits,
        );
    }
}

/// Pushes the `rules` of a pattern found at units `first..=last` that accept
/// the units there.
fn accept_rules(
    rules: &[Rule],
    view: &View,
    first: usize,
    last: usize,
    hits: &mut Vec<(usize, usize, Kind)>,
) {
    let pushed = hits.len();
    for rule in rules {
        // Rules that differ only in what they require give the same
        // hit once.
        if !hits[pushed..].iter().any(|&(_, _, kind)| kind == rule.kind)
            && accepts(rule, &view.units[first..=last])
            && (!matches!(rule.kind, Kind::Danger(Category::Hate, _))
                || rule.multiword
                || short_korean_match_is_a_word(&view.units, first, last))
        {
            hits.push((first, last, rule.kind));
        }
    }
}

/// Turns the entries into automaton literals and their rules: the entries
/// as written, but those with a masking wildcard of their own (`f*ck`),
/// which go with the masked variants ([`MaskedSet`]).
fn compile(entries: &[Entry]) -> Literals {
    let mut literals = Literals::default();
    for (entry, spellings) in spelled(entries) {
        for units in spellings {
            if units.iter().any(|u| u.ch == WILDCARD) {
                continue;
            }
            let runs = units.iter().map(|u| min_run(u.ch, u.run)).collect();
            let rule = Rule::new(
                entry.kind,
                entry.starts_word,
                entry.ends_word,
                entry.text.trim().contains(' '),
                runs,
            );
            literals.add(units.iter().map(|u| u.ch).collect(), rule);
        }
    }
    literals
}

/// Each entry with its spellings as units, in the entries' order (an entry
/// that normalises to nothing left out).
fn spelled(entries: &[Entry]) -> impl Iterator<Item = (&Entry, Vec<Vec<Unit>>)> {
    let mut view = View::new();
    entries.iter().filter_map(move |entry| {
        view.build_pattern(&entry.text);
        if view.units.is_empty() {
            return None;
        }
        // Allow entries stay as written: an `l` read as `i` would let
        // `title` (as `titie`) cover `titties`.
        let spellings = match entry.kind {
            Kind::Danger(..) => l_variants(&view.units),
            Kind::Allow | Kind::Signal(_) | Kind::Context | Kind::Game => {
                vec![view.units.clone()]
            }
        };
        Some((entry, spellings))
    })
}

/// An `l` is often written `1`, `|` or a capital `I`, all of which read as
/// `i`: an entry with an `l` also matches with any of its (up to three)
/// `l`s read as `i` (`ki11`, `heII`, `bo11ocks`). The text's own `l` stays an
/// `l`, so `public` is not `pubic` and `heli` is not `heil`.
fn l_variants(units: &[Unit]) -> Vec<Vec<Unit>> {
    let positions: Vec<usize> = (0..units.len())
        .filter(|&i| units[i].ch == 'l')
        .take(3)
        .collect();
    (0..1usize << positions.len())
        .map(|mask| {
            let mut variant = units.to_vec();
            for (bit, &at) in positions.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    variant[at].ch = 'i';
                }
            }
            variant
        })
        .collect()
}

impl Filter {
    /// The filter with the built-in lexicons and the default policy.
    pub fn new() -> Self {
        FilterBuilder::new()
            .build()
            .expect("the built-in lexicons compile (tested)")
    }

    /// A builder, to change lexicons or the policy.
    pub fn builder() -> FilterBuilder {
        FilterBuilder::new()
    }

    /// Heap bytes held by the lexicon's automaton and the masked variants'
    /// index, and the number of distinct texts they search for.
    pub fn automaton_size(&self) -> (usize, usize) {
        let masked = self.masked_words();
        (
            self.words.automaton.memory_usage() + masked.memory_usage(),
            self.words.automaton.patterns_len() + masked.len(),
        )
    }

    /// Builds what is otherwise built on the first line that needs it: the
    /// index of the masked variants (`f*ck`, `씨*`: most of the literals;
    /// about 15 ms and 2 MB) and the contact patterns (a few ms).
    /// [`Filter::new`] stays fast (10-20 ms) and leaves them out, so a
    /// process that never sees a masked line never holds them, and the first
    /// masked line waits for them. A host that would rather spend the memory
    /// at start-up than stall the thread of that first line calls this on a
    /// thread of its own. Calling it again does nothing.
    pub fn prepare(&self) {
        self.masked_words();
        self.contact();
    }

    /// The masked-variant set, indexed on first use.
    fn masked_words(&self) -> &MaskedSet {
        self.masked_words
            .get_or_init(|| MaskedSet::new(spelled(&self.entries)))
    }

    fn contact(&self) -> &ContactDetector {
        self.contact.get_or_init(ContactDetector::new)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks one line.
    pub fn check(&self, text: &str) -> Check {
        let mut findings = Vec::new();
        let mut offset = 0;
        let mut context = Contexts::default();
        while offset < text.len() {
            let end = chunk_end(text, offset, CHUNK);
            let reach = chunk_end(text, offset, CHUNK + OVERLAP);
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let found = self.find(&text[offset..reach], offset, &mut scratch, &mut findings);
                context.about |= found.about;
                context.game |= found.game;
            });
            offset = end;
        }
        findings.sort_by_key(|f| (f.span.start, f.span.end));
        // One finding per span and category, the most severe: an entry and
        // another spelling of it can both match one word (`시1발`). Findings
        // of one span are adjacent, so each looks back over its own span
        // only (a line of thousands of findings stays linear); kept in place.
        let mut kept = 0;
        for read in 0..findings.len() {
            let (before, rest) = findings.split_at_mut(read);
            let finding = &rest[0];
            let same = before[..kept]
                .iter_mut()
                .rev()
                .take_while(|k| k.span == finding.span)
                .find(|k| k.category == finding.category);
            match same {
                Some(k) => k.severity = k.severity.max(finding.severity),
                None => {
                    findings.swap(kept, read);
                    kept += 1;
                }
            }
        }
        findings.truncate(kept);
        let mut check = self.decide(findings);
        // A line about harm (news, a medical visit, an incident reported)
        // is shown to moderators, not stopped: a block of sexual, hate or
        // threat words becomes a flag, unless the harm is aimed at the
        // reader (`i'll rape you, call the police` is a threat with a
        // context word added, not a report). A game lowers a threat even
        // when aimed (trash talk is), and nothing else. Contact details
        // and spam stay blocked: every blocking finding must be lowered.
        let about = |finding: &Finding| {
            context.about && !crate::address::aimed_at_reader(text, &finding.span)
        };
        let lowered = |finding: &Finding| match finding.category {
            Category::Threat => context.game || about(finding),
            Category::Sexual | Category::Hate => about(finding),
            _ => false,
        };
        if check.action == Action::Block
            && check
                .findings
                .iter()
                .filter(|f| self.policy.action(f.category, f.severity) == Action::Block)
                .all(lowered)
        {
            check.action = Action::Flag;
            check.mask_spans.clear();
        }
        if check.action == Action::Allow && self.learned.is_some_and(|model| model.flags(text)) {
            // For moderators only: no category (the model names none), and
            // nothing the user sees changes.
            check.action = Action::Flag;
            check.severity = check.severity.max(Severity::Low);
        }
        check
    }

    /// The normalised form of `text`, as the lexicon sees it (for debugging
    /// a missed or wrong hit).
    pub fn normalized(text: &str) -> String {
        let mut view = View::new();
        view.build(text);
        view.as_str().to_owned()
    }

    /// Pushes what the piece holds to `out`; returns its context words.
    fn find(
        &self,
        text: &str,
        offset: usize,
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) -> Contexts {
        let Scratch {
            view,
            plain,
            hits,
            allows,
            found,
            art,
            spam,
            masked,
        } = scratch;
        view.build_units(text);
        hits.clear();
        let keyword = self.words.find(view, hits);
        if view.has_wildcard() {
            self.masked_words()
                .find(&view.units, masked, |first, last, rules| {
                    accept_rules(rules, view, first, last, hits);
                });
        }
        // Allowed: inside an allowed word, or ending inside one that starts
        // within the match and runs on past it (`my ass` in `my
        // assumptions`: the last word is `assumptions`). The allowed words
        // are few; a line can have thousands of hits (`ㅅㅂㅅㅂ...`).
        // One pass over the hits for what the rest asks of them.
        allows.clear();
        let (mut about, mut game, mut signals) = (false, false, false);
        for &(first, last, kind) in hits.iter() {
            match kind {
                Kind::Allow => allows.push((first, last)),
                Kind::Context => about = true,
                Kind::Game => game = true,
                Kind::Signal(_) => signals = true,
                Kind::Danger(..) => {}
            }
        }
        let allowed = |first: usize, last: usize| {
            allows
                .iter()
                .any(|&(a, b)| (a <= first && last <= b) || (first < a && a <= last && last < b))
        };
        for &(first, last, kind) in hits.iter() {
            if let Kind::Danger(category, severity) = kind
                && !allowed(first, last)
            {
                let span = span_of(&view.units[first..=last]);
                out.push(Finding {
                    category,
                    severity,
                    span: span.start + offset..span.end + offset,
                });
            }
        }
        let context = Contexts { about, game };
        // The plain text only for lines the contact, art or number patterns
        // could match (most chat lines skip all three).
        let features = view.features();
        let contact_worth = contact_worth(features, keyword, view);
        let numbers_worth =
            features.has(Features::DIGITS) && (signals || features.has(Features::CURRENCY));
        found.clear();
        art.clear();
        spam.clear();
        if contact_worth || features.has(Features::ART) || numbers_worth {
            view.plain(plain);
        } else {
            plain.clear();
        }
        if contact_worth {
            self.contact().find(plain, found);
        }
        let source = |range: &Range<usize>| {
            let start = view.plain_source(range.start).0 as usize;
            let end = view.plain_source(range.end - 1).1 as usize;
            start + offset..end + offset
        };
        for f in found.iter() {
            out.push(Finding {
                category: f.category,
                severity: Severity::Medium,
                span: source(&f.span),
            });
        }
        if features.has(Features::ART) {
            self.art.find(plain, art);
        }
        for (category, range) in art.iter() {
            out.push(Finding {
                category: *category,
                severity: Severity::Medium,
                span: source(range),
            });
        }
        // Spam: the signals found with the words, the number patterns, and
        // a contact or link found above.
        let mut score = if found.is_empty() { 0 } else { 2 };
        let mut seen: [u16; 16] = [u16::MAX; 16];
        let mut distinct = 0;
        let signal_hits = if signals { &hits[..] } else { &[] };
        for &(_, _, kind) in signal_hits {
            if let Kind::Signal(index) = kind
                && !seen[..distinct].contains(&index)
            {
                score += self.spam.weight(index);
                if distinct < seen.len() {
                    seen[distinct] = index;
                    distinct += 1;
                }
            }
        }
        if numbers_worth || !found.is_empty() {
            score += self.spam.number_patterns(plain, score, spam);
        }
        if score >= crate::spam::THRESHOLD {
            // Signals alone, with nothing to act on (no link, contact or
            // number pattern), are people talking about a prize or a sale
            // (`i won a prize at the claw machine`, `1+1 이벤트 당첨`):
            // flagged for moderators, not blocked.
            let severity = if found.is_empty() && spam.is_empty() {
                Severity::Low
            } else {
                Severity::Medium
            };
            for &(first, last, kind) in hits.iter() {
                if let Kind::Signal(_) = kind {
                    let span = span_of(&view.units[first..=last]);
                    out.push(Finding {
                        category: Category::Spam,
                        severity,
                        span: span.start + offset..span.end + offset,
                    });
                }
            }
            for range in spam.iter() {
                out.push(Finding {
                    category: Category::Spam,
                    severity: Severity::Medium,
                    span: source(range),
                });
            }
        }
        context
    }

    fn decide(&self, findings: Vec<Finding>) -> Check {
        let mut check = Check::default();
        let mut best = (Action::Allow, Severity::None);
        for finding in &findings {
            let action = self.policy.action(finding.category, finding.severity);
            check.severity = check.severity.max(finding.severity);
            if (action, finding.severity) > best {
                best = (action, finding.severity);
                check.category = Some(finding.category);
            }
        }
        check.action = best.0;
        if check.action == Action::Mask {
            check.mask_spans = findings
                .iter()
                .filter(|f| self.policy.action(f.category, f.severity) == Action::Mask)
                .map(|f| f.span.clone())
                .collect();
        }
        check.findings = findings;
        check
    }
}

impl Default for Filter {
    fn default() -> Self {
        Self::new()
    }
}

impl Moderator for Filter {
    fn check(&self, text: &str) -> Verdict {
        Filter::check(self, text).into_verdict()
    }

    fn prepare(&self) {
        Filter::prepare(self);
    }
}

/// Whether a contact pattern could match a line with these `features`
/// whose walk found a contact `keyword` or not (most chat lines run none;
/// the plain text is then not even written). Every contact pattern needs
/// an ASCII letter or digit (only Latin and digit atoms fold to one), but
/// for a number in Korean words (`공일공...`) and `...닷컴`: a line whose
/// only trigger is a mark (`그래...`, `:)`) runs none.
fn contact_worth(features: Features, keyword: bool, view: &View) -> bool {
    features.has(Features::DIGITS)
        // With no ASCII digit (above) or letter (below), `닷` can make a
        // link spelled in Korean (`네이버닷컴`, with or without a mark), and
        // a number word only a phone number spelled in Korean.
        || features.has(Features::DAT)
        || (features.has(Features::ZERO_WORD)
            && crate::contact::may_hold_a_spelled_phone(view.plain_chars()))
        || (features.has(Features::LATIN)
            && (features.has(Features::HANGUL)
                || features.has(Features::MARKS)
                // Spelled out (`naver dot com`, `name at gmail`) or an id
                // introduced by its word (`kik id jenny`).
                || keyword))
}

/// The source bytes a match covers: from the smallest start to the largest
/// end of its units (a shadow reading's units need not be in source order).
fn span_of(units: &[Unit]) -> Range<usize> {
    let start = units.iter().map(|u| u.start).min().unwrap_or(0) as usize;
    let end = units.iter().map(|u| u.end).max().unwrap_or(0) as usize;
    start..end
}

/// Whether a match over `units` satisfies `rule`.
fn accepts(rule: &Rule, units: &[Unit]) -> bool {
    let (Some(first), Some(last)) = (units.first(), units.last()) else {
        return false;
    };
    if rule.runs.len() != units.len() {
        return false;
    }
    if rule.starts_word && !first.has(STARTS) {
        return false;
    }
    if rule.ends_word && !last.has(ENDS) {
        return false;
    }
    if first.has(KEYBOARD) && units.len() < 2 {
        return false;
    }
    // Stretching only adds repeats: a danger word needs at least its own
    // (`ass`, not `as`). An allow entry is taken literally, so `niger`
    // does not cover `nigger`.
    let exact = rule.kind == Kind::Allow;
    let too_few = if rule.single_runs {
        units.iter().any(|u| u.run < 1 || (exact && u.run != 1))
    } else {
        units
            .iter()
            .zip(rule.runs.iter())
            .any(|(u, &min)| u.run < min || (exact && min > 0 && u.run != min))
    };
    if too_few {
        return false;
    }
    // A match that runs across a word gap must cover whole words, so `fu ck`
    // counts but `this hit` is not `shit`.
    let spans_gap =
        units.iter().any(|u| u.has(GAP_INSIDE)) || units[1..].iter().any(|u| u.has(STARTS));
    if spans_gap {
        if !first.has(STARTS) {
            return false;
        }
        if !rule.multiword {
            match pieces(units) {
                Pieces::Long => return false,
                // `w ankers`, `c.unty`: a letter split off the front of a
                // longer word, which may go on after the match.
                Pieces::SplitLetter if !rule.ends_word => {}
                _ if !last.has(ENDS) => return false,
                _ => {}
            }
        }
    }
    true
}

/// What the words inside a match across word gaps look like.
#[derive(Debug, PartialEq, Eq)]
enum Pieces {
    /// All of at most two letters (`f u c k`, `fu ck`, `시 발`).
    Short,
    /// One letter split off a word (`f uck`, `t wat`, `a.rse`).
    SplitLetter,
    /// Real words that happen to spell something together (`Penn is` is not
    /// `penis`): no match.
    Long,
}

/// Classifies the word pieces of a match across gaps. Entries written as
/// several words are exempt.
fn pieces(units: &[Unit]) -> Pieces {
    // The first and the last piece, each as its length and first character,
    // and how many there are: all that is asked of them (no list to build).
    let mut first = (0, ' ');
    let mut last = (0, ' ');
    let mut count = 0;
    let mut short = true;
    let mut punctuated = false;
    for unit in units {
        if unit.has(STARTS) || count == 0 {
            short &= last.0 <= 2;
            count += 1;
            last = (0, unit.ch);
            punctuated |= unit.has(SPLIT);
        }
        last.0 += 1;
        if count == 1 {
            first = last;
        }
    }
    if short && last.0 <= 2 {
        return Pieces::Short;
    }
    // After a space a lone vowel is usually a word of its own (`put a box`
    // is not `puta`); split off by punctuation it is not (`a-hole`).
    let lone = |(length, first): (usize, char)| {
        length == 1 && (punctuated || !matches!(first, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
    };
    match count {
        2 if lone(first) => Pieces::SplitLetter,
        // `twa t`: split off the end, so the match must end with the word.
        2 if lone(last) => Pieces::Short,
        _ => Pieces::Long,
    }
}

/// Where the chunk starting at `offset` ends: at most `size` bytes, cut
/// after whitespace when there is some, always on a char boundary.
fn chunk_end(text: &str, offset: usize, size: usize) -> usize {
    if text.len() - offset <= size {
        return text.len();
    }
    let mut end = offset + size;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[offset..end]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
    {
        Some((space, c)) if space > 0 => offset + space + c.len_utf8(),
        _ => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::hangul;
    use crate::rng::XorShift;

    /// The masked variants written out one by one, as they were compiled
    /// into an automaton before [`MaskedSet`]: the reference its search must
    /// agree with.
    fn masked_reference(entries: &[Entry]) -> WordSet {
        let mut literals = Literals::default();
        for (entry, spellings) in spelled(entries) {
            let rule = |units: &[Unit]| {
                let runs = units.iter().map(|u| min_run(u.ch, u.run)).collect();
                let multiword = entry.text.trim().contains(' ');
                Rule::new(
                    entry.kind,
                    entry.starts_word,
                    entry.ends_word,
                    multiword,
                    runs,
                )
            };
            for units in spellings {
                if units.iter().any(|u| u.ch == WILDCARD) {
                    literals.add(units.iter().map(|u| u.ch).collect(), rule(&units));
                    continue;
                }
                let Kind::Danger(_, severity) = entry.kind else {
                    continue;
                };
                let star = Unit {
                    ch: WILDCARD,
                    start: 0,
                    end: 0,
                    run: 1,
                    flags: 0,
                };
                let tail = Unit { run: 2, ..star };
                let n = units.len();
                let joined = |parts: &[&[Unit]]| parts.concat();
                let mut variants = Vec::new();
                let latin = units.iter().all(|u| u.ch.is_ascii_lowercase());
                let korean = units.iter().all(|u| hangul::is_syllable(u.ch));
                if latin && n >= 4 && severity >= Severity::Medium {
                    for keep in 1..=n - 2 {
                        variants.push(joined(&[&units[..keep], &[tail]]));
                    }
                }
                if latin && (3..=12).contains(&n) {
                    for start in 1..n - 1 {
                        for len in (1..=3).take_while(|len| start + len < n) {
                            variants.push(joined(&[
                                &units[..start],
                                &[star],
                                &units[start + len..],
                            ]));
                        }
                    }
                } else if korean && (2..=4).contains(&n) {
                    for at in 1..n {
                        variants.push(joined(&[&units[..at], &[star], &units[at + 1..]]));
                        variants.push(joined(&[&units[..at], &[star], &units[at..]]));
                    }
                }
                for variant in variants {
                    literals.add(variant.iter().map(|u| u.ch).collect(), rule(&variant));
                }
            }
        }
        for rules in &mut literals.rules {
            let kind = |rule: &Rule| rule.kind;
            let swearing = |rule: &Rule| matches!(kind(rule), Kind::Danger(Category::Profanity, _));
            let other =
                |rule: &Rule| matches!(kind(rule), Kind::Danger(c, _) if c != Category::Profanity);
            if rules.iter().any(swearing) && rules.iter().any(other) {
                rules.retain(|rule| !other(rule));
            }
        }
        WordSet::new(literals, [])
    }

    /// Lines of masked entries (`f*ck`, `sh!t`, `f***`, `개*끼`, `씨X`),
    /// whole and in pieces, with other words around them.
    fn masked_lines(entries: &[Entry], count: usize, seed: u64) -> Vec<String> {
        const MARKS: [&str; 14] = [
            "*", "**", "***", "#", "@", "$", "!", "x", "XX", "ㅇ", "O", "*_*", "-", "%",
        ];
        const WORDS: [&str; 8] = ["you", "a", "so", "lol", "야", "진짜", "ㅋㅋ", "u"];
        let mut rng = XorShift::new(seed);
        let masked = |rng: &mut XorShift, text: &str| {
            let chars: Vec<char> = text.chars().collect();
            let mark = MARKS[rng.below(MARKS.len())].repeat(1 + rng.below(2));
            let at = rng.below(chars.len());
            let cut = (at + rng.below(4)).min(chars.len());
            let (head, tail): (String, String) =
                (chars[..at].iter().collect(), chars[cut..].iter().collect());
            match rng.below(4) {
                0 => format!("{head}{mark}"),
                1 => format!("{head}{mark}{tail}{}", MARKS[rng.below(MARKS.len())]),
                _ => format!("{head}{mark}{tail}"),
            }
        };
        (0..count)
            .map(|_| {
                let pieces = 1 + rng.below(3);
                let mut line = String::new();
                for _ in 0..pieces {
                    let entry = &entries[rng.below(entries.len())];
                    let piece = match rng.below(5) {
                        0 => WORDS[rng.below(WORDS.len())].to_owned(),
                        1 => entry.text.clone(),
                        _ => masked(&mut rng, &entry.text),
                    };
                    line.push_str(&piece);
                    line.push_str([" ", "", ".", "  "][rng.below(4)]);
                }
                line
            })
            .collect()
    }

    /// [`pieces`] gives what listing the pieces gives: every run of units of
    /// up to six, with word starts and punctuated splits anywhere.
    #[test]
    fn pieces_agree_with_a_list_of_the_pieces() {
        let listed = |units: &[Unit]| {
            let mut pieces: Vec<(usize, char)> = Vec::new();
            let mut punctuated = false;
            for unit in units {
                if unit.has(STARTS) || pieces.is_empty() {
                    pieces.push((0, unit.ch));
                    punctuated |= unit.has(SPLIT);
                }
                if let Some((length, _)) = pieces.last_mut() {
                    *length += 1;
                }
            }
            let lone = |&(length, first): &(usize, char)| {
                length == 1 && (punctuated || !"aeiouy".contains(first))
            };
            if pieces.iter().all(|&(length, _)| length <= 2) {
                Pieces::Short
            } else if pieces.len() == 2 && lone(&pieces[0]) {
                Pieces::SplitLetter
            } else if pieces.len() == 2 && lone(&pieces[1]) {
                Pieces::Short
            } else {
                Pieces::Long
            }
        };
        let mut rng = XorShift::new(0x5eed_0005);
        for _ in 0..100_000 {
            let units: Vec<Unit> = (0..1 + rng.below(6) as u32)
                .map(|i| {
                    let mut unit = Unit::one(['a', 'e', 'y', 't', 'w'][rng.below(5)], i, i + 1);
                    unit.flags = [0, STARTS, STARTS | SPLIT, SPLIT][rng.below(4)];
                    unit
                })
                .collect();
            assert_eq!(pieces(&units), listed(&units), "{units:?}");
        }
    }

    /// The lexicon walk tells a contact keyword exactly when the view's text
    /// has one (the id word where a word starts): lines of keywords, pieces
    /// of them, entries, stretched letters and marks.
    #[test]
    fn the_walk_finds_a_contact_keyword_where_the_text_has_one() {
        let filter = Filter::new();
        let keywords: Vec<&str> = crate::contact::keywords().collect();
        let pieces = [
            "do", "t", "ze", "ro", "oh", "one", "0", "@", " ", ".", "yahoo", "yaho", "g", "mail",
            "네이", "버", "다", "음", "d0t", "dooot", "z3ro", "fuck", "시발", "na ver", "i", "d",
            " id", "kids", "1d", "iid", "ID",
        ];
        let mut rng = XorShift::new(0x5eed_5e11);
        let (mut with, mut without, mut id_words) = (0, 0, 0);
        let mut view = View::new();
        let mut hits = Vec::new();
        for _ in 0..50_000 {
            let mut line = String::new();
            for _ in 0..1 + rng.below(6) {
                let piece = match rng.below(3) {
                    0 => keywords[rng.below(keywords.len())],
                    _ => pieces[rng.below(pieces.len())],
                };
                line.push_str(piece);
            }
            view.build(&line);
            hits.clear();
            let found = filter.words.find(&view, &mut hits);
            let id_word = view
                .units
                .windows(2)
                .any(|pair| pair[0].ch == 'i' && pair[1].ch == 'd' && pair[0].has(STARTS));
            let searched = id_word
                || keywords
                    .iter()
                    .filter(|&&k| k != crate::contact::ID_WORD)
                    .any(|k| view.as_str().contains(k));
            assert_eq!(found, searched, "{line:?} reads {:?}", view.as_str());
            if found {
                with += 1;
            } else {
                without += 1;
            }
            id_words += usize::from(id_word);
        }
        assert!(
            with > 1000 && without > 1000 && id_words > 1000,
            "{with} with, {without} without, {id_words} with the id word"
        );
    }

    /// The contact step runs for every line a contact pattern matches: lines
    /// of messenger names, words that introduce an id, ids, marks, digits,
    /// spelled keywords, Korean words and letters typed one per word, in
    /// any order. (The gate was once shut for `line id dexter`: a Latin
    /// line with no digit or mark and no spelled keyword.)
    #[test]
    fn the_contact_gate_never_hides_a_contact() {
        let filter = Filter::new();
        let pieces = [
            "kik",
            "snap",
            "line",
            "insta",
            "카톡",
            "kakao",
            "telegram",
            "tg",
            "ig",
            "discord",
            "me",
            "add",
            "my",
            "is",
            "on",
            "id",
            "ID",
            "Id",
            "아이디",
            "name",
            "jenny",
            "dexter",
            "minji99",
            "cool_kid",
            "sora.77",
            "abc",
            "j3nny",
            "kids",
            "idea",
            ":",
            "@",
            ".",
            "=",
            "_",
            "-",
            ",",
            "!",
            "~",
            "'",
            "#1234",
            "dot",
            "at",
            "gmail",
            "zero",
            "one",
            "oh",
            "naver",
            "com",
            "공일공",
            "닷컴",
            "점",
            "010",
            "1234",
            "7",
            "은",
            "는",
            "친추",
            "해",
            "k i k",
            "i d",
            "j e n n y",
            "ｉｄ",
            "ｋｉｋ",
        ];
        let gaps = [" ", " ", " ", "  ", "", "\t"];
        let mut rng = XorShift::new(0x9a7e_0c0d);
        let (mut contacts, mut skipped) = (0, 0);
        let mut view = View::new();
        let (mut hits, mut plain, mut found) = (Vec::new(), String::new(), Vec::new());
        for _ in 0..200_000 {
            let mut line = String::new();
            for at in 0..1 + rng.below(6) {
                if at > 0 {
                    line.push_str(gaps[rng.below(gaps.len())]);
                }
                line.push_str(pieces[rng.below(pieces.len())]);
            }
            view.build_units(&line);
            hits.clear();
            let keyword = filter.words.find(&view, &mut hits);
            let worth = contact_worth(view.features(), keyword, &view);
            view.plain(&mut plain);
            found.clear();
            filter.contact().find(&plain, &mut found);
            if !found.is_empty() {
                contacts += 1;
                assert!(
                    worth,
                    "{line:?}: {found:?} in {plain:?}, but the gate is shut"
                );
            }
            skipped += usize::from(!worth);
        }
        assert!(
            contacts > 10_000 && skipped > 10_000,
            "{contacts} contacts, {skipped} lines skipped"
        );
    }

    /// The indexed search gives the hits the automaton over every masked
    /// variant gave, in the same order, with the built-in lexicons and with
    /// entries written with wildcards of their own.
    #[test]
    fn masked_search_agrees_with_the_automaton_of_every_variant() {
        let custom = "[profanity high]\n*uck\nsh*t*\nf**k\nfu*\n*\n[sexual high]\nfuck\n|shit|\n\
                      [hate high]\nfuck\n[allow]\nf*cking good\n[threat medium]\n개*끼\n씨발\n";
        let builders = [
            FilterBuilder::new(),
            FilterBuilder::new()
                .without_builtin_lexicons()
                .lexicon("custom.txt", custom),
        ];
        for (seed, builder) in (1..).zip(builders) {
            let (entries, _) = builder.parse().unwrap();
            let reference = masked_reference(&entries);
            let set = MaskedSet::new(spelled(&entries));
            let mut view = View::new();
            let mut scratch = crate::masked::Scratch::default();
            let mut lines = masked_lines(&entries, 4000, seed);
            lines.extend(
                [
                    "f*ck", "f**k", "f***", "*", "**", "sh*t*", "개*끼", "씨*", "*fuck*",
                ]
                .map(String::from),
            );
            let mut found = 0;
            for line in &lines {
                view.build_units(line);
                let mut expected = Vec::new();
                reference.find(&view, &mut expected);
                let mut got = Vec::new();
                set.find(&view.units, &mut scratch, |first, last, rules| {
                    accept_rules(rules, &view, first, last, &mut got);
                });
                assert_eq!(got, expected, "{line:?}");
                found += got.len();
            }
            // The lines do hold masked words.
            eprintln!("{found} hits in {} lines", lines.len());
            assert!(
                found > lines.len() / 10,
                "{found} hits in {} lines",
                lines.len()
            );
        }
    }

    /// `prepare` builds the parts a line would otherwise build on first use
    /// (and a check then needs nothing more built); `new` leaves them out.
    #[test]
    fn prepare_builds_what_first_use_would() {
        let filter = Filter::new();
        assert!(filter.masked_words.get().is_none());
        assert!(filter.contact.get().is_none());
        Moderator::prepare(&filter);
        assert!(filter.masked_words.get().is_some());
        assert!(filter.contact.get().is_some());
        let check = filter.check("f*ck, call 010-1234-5678");
        assert_eq!(check.action, Action::Block, "{check:?}");
    }
}
