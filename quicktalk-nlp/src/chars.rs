//! A multi-pattern automaton over characters: what the lexicon is searched
//! with.
//!
//! The `aho-corasick` crate walks bytes, so a Hangul syllable, three bytes in
//! UTF-8, costs three steps, and the two steps inside a syllable mostly fall
//! back along failure links. The view is already a sequence of characters
//! (one per unit), so this automaton takes one step per unit and reports
//! unit positions directly: no byte offsets to map back. It is the classic
//! Aho-Corasick construction (a trie, failure links found breadth first, each
//! state's matches copied from its failure state), with characters mapped to
//! dense classes so the root's transitions are one array lookup.
//!
//! Matches are reported as an overlapping search reports them: at each
//! position, every pattern that ends there, longest first (patterns of equal
//! text in the order given).

use crate::normalize::hangul::{SYLLABLE_BASE, SYLLABLE_LAST};

/// The root state: where a search starts and where a character no pattern
/// continues leads back to.
const ROOT: u32 = 0;

/// Characters below this get their class from a table: ASCII, the Latin,
/// Greek and Cyrillic blocks, and the compatibility jamo (U+3131-318E).
const LOW_END: u32 = 0x3190;
/// Hangul syllables get their class from a table of their own.
const SYLLABLES: u32 = SYLLABLE_LAST - SYLLABLE_BASE + 1;

/// One state: its transitions and failure link, and the patterns that end
/// there.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// This state's transitions: `edges[first..first + count]`, by class.
    first: u32,
    count: u32,
    fail: u32,
    /// Patterns that end here: `matches[match_start..][..match_len]`.
    match_start: u32,
    match_len: u32,
    /// Bit `class % 32` set for each class of its transitions: most
    /// characters a state has no transition for are told by this, without
    /// reading its transitions.
    classes: u32,
}

/// Set on a state's id, wherever a transition leads to it, when patterns
/// end at that state: a search tests the bit instead of loading the state.
const MATCHES: u32 = 1 << 31;

/// MATCHES in a row's 16-bit ids: rows hold ids below this.
const ROW_MATCHES: u32 = 1 << 15;

/// States this close to the root get a row of ASCII transitions: a search
/// spends most of its steps there, and deeper states are many (a row for
/// each would take megabytes).
const ROW_DEPTH: u32 = 3;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct CharAutomaton {
    /// The class of each character below [`LOW_END`]; 0 is "in no pattern".
    low: Vec<u32>,
    /// The class of each Hangul syllable.
    syllables: Vec<u32>,
    /// The classes of every other character in a pattern, by character.
    other: Vec<(char, u32)>,
    /// The root's transitions, one per class (class 0 stays at the root).
    root: Vec<u32>,
    /// Classes `1..=ascii_classes` are the ASCII characters in patterns.
    ascii_classes: u32,
    /// For each state up to [`ROW_DEPTH`], where each ASCII class leads,
    /// failure links already followed: `ascii[state * width + class]`, an
    /// id with [`ROW_MATCHES`] for [`MATCHES`].
    /// States are numbered breadth first, so these are states
    /// `0..row_states`. Most of an English line (and a Korean line's
    /// spaces) is one lookup a character.
    ascii: Vec<u16>,
    width: usize,
    row_states: u32,
    states: Vec<State>,
    /// Every state's transitions, `(class, target)`, sorted by class.
    edges: Vec<(u32, u32)>,
    matches: Vec<u32>,
    /// Each pattern's length in characters.
    lengths: Vec<u32>,
}

impl CharAutomaton {
    /// Builds the automaton of `patterns` (pattern ids are their indices).
    pub(crate) fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        let mut automaton = Self {
            low: vec![0; LOW_END as usize],
            syllables: vec![0; SYLLABLES as usize],
            other: Vec::new(),
            root: vec![ROOT],
            ascii_classes: 0,
            ascii: Vec::new(),
            width: 1,
            row_states: 1,
            states: Vec::new(),
            edges: Vec::new(),
            matches: Vec::new(),
            lengths: Vec::with_capacity(patterns.len()),
        };
        // ASCII characters get the first classes, so each state can keep a
        // row of their transitions (see `ascii`).
        let mut classes = 0;
        let mut in_patterns = [false; 128];
        for pattern in patterns {
            for byte in pattern.as_ref().bytes().filter(u8::is_ascii) {
                in_patterns[usize::from(byte)] = true;
            }
        }
        for (byte, _) in in_patterns.iter().enumerate().filter(|(_, seen)| **seen) {
            classes += 1;
            automaton.low[byte] = classes;
        }
        automaton.ascii_classes = classes;
        let mut trie = Trie::default();
        let mut others: std::collections::HashMap<char, u32> = std::collections::HashMap::new();
        for (id, pattern) in patterns.iter().enumerate() {
            let mut node = ROOT;
            let mut length = 0;
            for ch in pattern.as_ref().chars() {
                let slot = automaton.class_slot(ch, &mut others);
                if *slot == 0 {
                    classes += 1;
                    *slot = classes;
                }
                let class = *slot;
                node = trie.child_or_insert(node, class);
                length += 1;
            }
            automaton.lengths.push(length);
            // An empty pattern matches nothing (the filter never makes one:
            // an entry that normalises to nothing is skipped).
            if length > 0 {
                trie.own[node as usize].push(id as u32);
            }
        }
        automaton.other = others.into_iter().collect();
        automaton.other.sort_unstable();
        automaton.root = vec![ROOT; classes as usize + 1];
        automaton.finish(&trie);
        automaton
    }

    /// Where the class of `ch` is kept (0 until one is given).
    fn class_slot<'a>(
        &'a mut self,
        ch: char,
        others: &'a mut std::collections::HashMap<char, u32>,
    ) -> &'a mut u32 {
        let code = u32::from(ch);
        if code < LOW_END {
            &mut self.low[code as usize]
        } else if (SYLLABLE_BASE..=SYLLABLE_LAST).contains(&code) {
            &mut self.syllables[(code - SYLLABLE_BASE) as usize]
        } else {
            others.entry(ch).or_insert(0)
        }
    }

    /// Failure links (breadth first, so a state's failure state is done
    /// before it), each state's matches, and the flat transition table.
    fn finish(&mut self, trie: &Trie) {
        let nodes = trie.class.len();
        let mut fail = vec![ROOT; nodes];
        let mut matches: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        let mut queue = std::collections::VecDeque::new();
        let mut order = Vec::with_capacity(nodes);
        let mut child = trie.first_child[ROOT as usize];
        while child != ROOT {
            self.root[trie.class[child as usize] as usize] = child;
            matches[child as usize].clone_from(&trie.own[child as usize]);
            queue.push_back(child);
            child = trie.next_sibling[child as usize];
        }
        while let Some(node) = queue.pop_front() {
            order.push(node);
            let mut child = trie.first_child[node as usize];
            while child != ROOT {
                let class = trie.class[child as usize];
                let mut state = fail[node as usize];
                let target = loop {
                    if state == ROOT {
                        break self.root[class as usize];
                    }
                    if let Some(next) = trie.child(state, class) {
                        break next;
                    }
                    state = fail[state as usize];
                };
                fail[child as usize] = target;
                let mut found = trie.own[child as usize].clone();
                found.extend_from_slice(&matches[target as usize]);
                matches[child as usize] = found;
                queue.push_back(child);
                child = trie.next_sibling[child as usize];
            }
        }
        // States are numbered breadth first (the root 0), so the shallow
        // ones, where a search spends most steps, sit together and own the
        // first rows; an id that leads to patterns carries MATCHES.
        let mut id = vec![ROOT; nodes];
        for (index, &node) in order.iter().enumerate() {
            id[node as usize] = index as u32 + 1;
        }
        let target = |node: u32| {
            id[node as usize]
                | if matches[node as usize].is_empty() {
                    0
                } else {
                    MATCHES
                }
        };
        for to in self.root.iter_mut() {
            *to = target(*to);
        }
        // The ASCII rows, in the same order: a state's failure state is
        // shallower, so its row is done first. A row holds 16-bit ids (half
        // the cache a 32-bit one takes), so the rows stop at the depth whose
        // targets (one deeper) all have ids below ROW_MATCHES; a huge
        // custom lexicon gets fewer rows, or none (then the root's
        // transitions come from `root`).
        self.width = self.ascii_classes as usize + 1;
        let width = self.width;
        let mut depth = vec![0u32; nodes];
        for &node in &order {
            depth[node as usize] = depth[trie.parent[node as usize] as usize] + 1;
        }
        // States up to depth `d` are the root and a prefix of `order`.
        let up_to = |d: u32| {
            1 + order
                .iter()
                .take_while(|&&n| depth[n as usize] <= d)
                .count()
        };
        let row_depth = (0..=ROW_DEPTH)
            .rev()
            .find(|&d| up_to(d + 1) <= ROW_MATCHES as usize);
        let row = |to: u32| {
            let id = to & !MATCHES;
            debug_assert!(id < ROW_MATCHES);
            id as u16
                | if to & MATCHES == 0 {
                    0
                } else {
                    ROW_MATCHES as u16
                }
        };
        self.ascii.clear();
        if let Some(row_depth) = row_depth {
            self.ascii
                .extend(self.root[..width].iter().map(|&to| row(to)));
            for &node in &order {
                if depth[node as usize] > row_depth {
                    break;
                }
                let fail_row = id[fail[node as usize] as usize] as usize * width;
                self.ascii.push(0);
                for class in 1..width {
                    let to = match trie.child(node, class as u32) {
                        Some(child) => row(target(child)),
                        None => self.ascii[fail_row + class],
                    };
                    self.ascii.push(to);
                }
            }
        }
        self.row_states = (self.ascii.len() / width) as u32;
        self.states = Vec::with_capacity(nodes);
        let mut edges = Vec::new();
        for node in std::iter::once(ROOT).chain(order.iter().copied()) {
            let node = node as usize;
            edges.clear();
            let mut child = trie.first_child[node];
            while child != ROOT {
                edges.push((trie.class[child as usize], target(child)));
                child = trie.next_sibling[child as usize];
            }
            edges.sort_unstable();
            self.states.push(State {
                first: self.edges.len() as u32,
                count: edges.len() as u32,
                fail: id[fail[node] as usize],
                match_start: self.matches.len() as u32,
                match_len: matches[node].len() as u32,
                classes: edges
                    .iter()
                    .fold(0, |bits, &(class, _)| bits | 1 << (class % 32)),
            });
            self.edges.extend_from_slice(&edges);
            self.matches.extend_from_slice(&matches[node]);
        }
        self.edges.shrink_to_fit();
        self.matches.shrink_to_fit();
    }

    /// The class of `ch`: 0 when no pattern has it.
    #[inline]
    fn class(&self, ch: char) -> u32 {
        let code = u32::from(ch);
        if code < LOW_END {
            self.low[code as usize]
        } else if let Some(&class) = code
            .checked_sub(SYLLABLE_BASE)
            .and_then(|index| self.syllables.get(index as usize))
        {
            class
        } else {
            self.other
                .binary_search_by_key(&ch, |&(c, _)| c)
                .map_or(0, |index| self.other[index].1)
        }
    }

    /// The state after reading `ch` in `state`.
    #[inline]
    pub(crate) fn next(&self, state: u32, ch: char) -> u32 {
        let class = self.class(ch);
        if class == 0 {
            return ROOT;
        }
        let ascii = class <= self.ascii_classes;
        let mut state = state & !MATCHES;
        loop {
            if ascii && state < self.row_states {
                let to = self.ascii[state as usize * self.width + class as usize];
                // ROW_MATCHES, the sign bit, spread to MATCHES.
                return (i32::from(to as i16) as u32) & (MATCHES | (ROW_MATCHES - 1));
            }
            if state == ROOT {
                return self.root[class as usize];
            }
            let s = self.states[state as usize];
            if s.classes & (1 << (class % 32)) == 0 {
                state = s.fail;
                continue;
            }
            let edges = &self.edges[s.first as usize..(s.first + s.count) as usize];
            let found = if edges.len() <= 8 {
                edges.iter().find(|&&(c, _)| c == class).map(|&(_, to)| to)
            } else {
                edges
                    .binary_search_by_key(&class, |&(c, _)| c)
                    .ok()
                    .map(|index| edges[index].1)
            };
            if let Some(to) = found {
                return to;
            }
            state = s.fail;
        }
    }

    /// The start state of a search.
    pub(crate) fn start(&self) -> u32 {
        ROOT
    }

    /// The patterns that end on reaching `state`, longest first.
    #[inline]
    pub(crate) fn matches(&self, state: u32) -> &[u32] {
        if state & MATCHES == 0 {
            return &[];
        }
        let s = self.states[(state & !MATCHES) as usize];
        &self.matches[s.match_start as usize..(s.match_start + s.match_len) as usize]
    }

    /// The length of pattern `id` in characters.
    pub(crate) fn pattern_len(&self, id: u32) -> usize {
        self.lengths[id as usize] as usize
    }

    /// How many patterns it was built from.
    pub(crate) fn patterns_len(&self) -> usize {
        self.lengths.len()
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        use std::mem::size_of;
        self.low.capacity() * size_of::<u32>()
            + self.syllables.capacity() * size_of::<u32>()
            + self.other.capacity() * size_of::<(char, u32)>()
            + self.root.capacity() * size_of::<u32>()
            + self.ascii.capacity() * size_of::<u16>()
            + self.states.capacity() * size_of::<State>()
            + self.edges.capacity() * size_of::<(u32, u32)>()
            + self.matches.capacity() * size_of::<u32>()
            + self.lengths.capacity() * size_of::<u32>()
    }
}

/// The trie while it is built: children as sibling lists (no allocation
/// per node), and for a node with many children (the root, or a custom
/// lexicon's wide node) a map as well, so no lookup scans more than
/// [`WIDE`] siblings.
#[derive(Debug)]
struct Trie {
    class: Vec<u32>,
    parent: Vec<u32>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    children: Vec<u32>,
    own: Vec<Vec<u32>>,
    /// `(node, class) -> child` for the nodes with more than [`WIDE`]
    /// children.
    wide: std::collections::HashMap<(u32, u32), u32>,
}

/// Children a node may have before its lookups go through the map.
const WIDE: u32 = 16;

impl Default for Trie {
    fn default() -> Self {
        Self {
            class: vec![0],
            parent: vec![ROOT],
            // ROOT (0) doubles as "none": the root is nobody's child.
            first_child: vec![ROOT],
            next_sibling: vec![ROOT],
            children: vec![0],
            own: vec![Vec::new()],
            wide: std::collections::HashMap::new(),
        }
    }
}

impl Trie {
    fn child(&self, node: u32, class: u32) -> Option<u32> {
        if self.children[node as usize] > WIDE {
            return self.wide.get(&(node, class)).copied();
        }
        let mut child = self.first_child[node as usize];
        while child != ROOT {
            if self.class[child as usize] == class {
                return Some(child);
            }
            child = self.next_sibling[child as usize];
        }
        None
    }

    fn child_or_insert(&mut self, node: u32, class: u32) -> u32 {
        if let Some(child) = self.child(node, class) {
            return child;
        }
        let child = self.class.len() as u32;
        self.class.push(class);
        self.parent.push(node);
        self.first_child.push(ROOT);
        self.next_sibling.push(self.first_child[node as usize]);
        self.children.push(0);
        self.own.push(Vec::new());
        self.first_child[node as usize] = child;
        let count = &mut self.children[node as usize];
        *count += 1;
        if *count == WIDE + 1 {
            // Now wide: every child so far goes into the map.
            let mut sibling = child;
            while sibling != ROOT {
                self.wide
                    .insert((node, self.class[sibling as usize]), sibling);
                sibling = self.next_sibling[sibling as usize];
            }
        } else if *count > WIDE + 1 {
            self.wide.insert((node, class), child);
        }
        child
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern ending at each character, longest first: what the
    /// automaton must report, found the slow way.
    fn naive(patterns: &[&str], text: &str) -> Vec<(usize, u32)> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        for end in 0..chars.len() {
            let mut here: Vec<(usize, u32)> = Vec::new();
            for (id, pattern) in patterns.iter().enumerate() {
                let p: Vec<char> = pattern.chars().collect();
                if !p.is_empty() && p.len() <= end + 1 && chars[end + 1 - p.len()..=end] == p[..] {
                    here.push((p.len(), id as u32));
                }
            }
            here.sort_by_key(|&(len, id)| (std::cmp::Reverse(len), id));
            out.extend(here.into_iter().map(|(_, id)| (end, id)));
        }
        out
    }

    fn search(automaton: &CharAutomaton, text: &str) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        let mut state = automaton.start();
        for (at, ch) in text.chars().enumerate() {
            state = automaton.next(state, ch);
            out.extend(automaton.matches(state).iter().map(|&id| (at, id)));
        }
        out
    }

    #[test]
    fn reports_every_overlapping_match_longest_first() {
        let patterns = [
            "he", "she", "his", "hers", "시발", "발", "시", "ㅅㅂ", "é", "😀x", "e",
        ];
        let automaton = CharAutomaton::new(&patterns);
        for text in [
            "ushers",
            "shehis",
            "개시발놈 시발",
            "ㅅㅂㅅㅂ",
            "café 😀x",
            "",
            "zzz",
        ] {
            assert_eq!(search(&automaton, text), naive(&patterns, text), "{text}");
        }
    }

    #[test]
    fn agrees_with_the_slow_search_on_generated_text() {
        // Patterns and text from a small alphabet of one-, two-, three- and
        // four-byte characters, so most states have transitions, failures
        // and inherited matches.
        let alphabet = ['a', 'b', 'ㅂ', '시', '발', '😀', 'é'];
        let mut rng = crate::rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = |bound: usize| rng.below(bound);
        for _ in 0..50 {
            let patterns: Vec<String> = (0..1 + next(30))
                .map(|_| {
                    (0..1 + next(4))
                        .map(|_| alphabet[next(alphabet.len())])
                        .collect()
                })
                .collect();
            let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let automaton = CharAutomaton::new(&refs);
            for _ in 0..20 {
                let text: String = (0..next(40))
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect();
                assert_eq!(
                    search(&automaton, &text),
                    naive(&refs, &text),
                    "{refs:?} {text}"
                );
            }
        }
    }

    #[test]
    fn a_node_with_many_children_finds_each() {
        // `a` and `ba` followed by each of 200 characters: the nodes of `a`
        // and `ba`, and the root, are wide (their lookups use the map).
        let tails: Vec<char> = ('가'..).take(200).collect();
        let patterns: Vec<String> = tails
            .iter()
            .flat_map(|&c| [format!("a{c}"), format!("ba{c}")])
            .chain(["ab".to_string(), "b".to_string()])
            .collect();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let automaton = CharAutomaton::new(&refs);
        let text: String = tails
            .iter()
            .step_by(7)
            .flat_map(|&c| ['b', 'a', c, 'a', 'b'])
            .collect();
        assert_eq!(search(&automaton, &text), naive(&refs, &text));
    }

    /// Rows hold 16-bit ids: a lexicon with more states near the root than
    /// that gets rows for fewer depths (40,000 words of four letters), or
    /// none (33,000 characters of their own), and still finds everything.
    #[test]
    fn a_lexicon_too_big_for_short_ids_keeps_fewer_rows() {
        let letters: Vec<char> = ('a'..='z').collect();
        let words: Vec<String> = (0..40_000usize)
            .map(|n| {
                (0..4)
                    .map(|place| letters[n / 26usize.pow(place) % 26])
                    .collect()
            })
            .collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let automaton = CharAutomaton::new(&refs);
        // The root, 26 and 676 states: depths 0 to 2 (depth 3 would lead
        // to ids of depth 4, past 15 bits).
        assert_eq!(automaton.row_states, 1 + 26 + 26 * 26);
        for text in ["abcdzyxwvutsqq aaaa zzzz", "bcbcbcbcb qwertyuiopasdfghjkl"] {
            assert_eq!(search(&automaton, text), naive(&refs, text), "{text}");
        }
        let singles: Vec<String> = ('一'..).take(33_000).map(String::from).collect();
        let refs: Vec<&str> = singles
            .iter()
            .map(String::as_str)
            .chain(["ab", "b", "一a"])
            .collect();
        let automaton = CharAutomaton::new(&refs);
        assert_eq!(automaton.row_states, 0);
        for text in ["ab 一ab 丁 bab", "zzz 一 a 七"] {
            assert_eq!(search(&automaton, text), naive(&refs, text), "{text}");
        }
    }

    #[test]
    fn an_empty_automaton_matches_nothing() {
        let automaton = CharAutomaton::new::<&str>(&[]);
        assert!(search(&automaton, "anything 시발").is_empty());
        assert_eq!(automaton.patterns_len(), 0);
    }
}
