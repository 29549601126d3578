//! The matcher: who waits, and who is paired with whom.
//!
//! # Rules (PROTOCOL.md)
//! - `lang` is a filter: two sessions may be paired only if their `lang` is
//!   equal or at least one gave none.
//! - Two sessions with a common interest are paired first. A pair with no
//!   common interest becomes eligible once each of them has no interests or
//!   has waited `interest_wait` (then `common_interests` is empty).
//! - Never a session with itself, never two sessions in their rematch
//!   cooldown, never two sessions where either reported the other (per
//!   session, and per client key unless both share the key).
//! - The longest-waiting eligible session is matched first.
//!
//! # How
//! Each waiting session gets a ticket (a global counter: smaller = waiting
//! longer) and is linked into FIFO lists: per interest and per "fallback"
//! (eligible with anyone), each for its language pool and for the global
//! pool that sessions without `lang` search. A newcomer looks at the head
//! of each list it may draw from (at most 2 per interest and 2 for the
//! fallback) and takes the oldest compatible one. Exclusions are rare, so
//! skipping an excluded head costs one step per exclusion the newcomer has,
//! never a scan of the queue. Enqueue, cancel and match are O(1) amortized
//! in the number of waiting sessions (O(interests) per operation).
//!
//! Eligibility only grows at three moments: a session enqueues, a session's
//! `interest_wait` runs out, or an exclusion expires. The matcher searches at
//! each of them, so no eligible pair is ever left waiting.

mod exclusions;
mod lists;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::ids::{ClientKey, SessionId};
use exclusions::{Exclusions, Expired, Party};
use lists::Lists;

/// The matcher's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatcherConfig {
    /// How long a session with interests waits for a common-interest partner.
    pub interest_wait: Duration,
    /// How long two sessions that chatted are kept apart.
    pub rematch_cooldown: Duration,
    /// How long a report keeps two client keys apart.
    pub report_block: Duration,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        Self {
            interest_wait: Duration::from_secs(5),
            rematch_cooldown: Duration::from_secs(300),
            report_block: Duration::from_secs(24 * 3600),
        }
    }
}

/// A session asking for a partner.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The session.
    pub session: SessionId,
    /// Its client key (report blocks apply to it).
    pub client_key: ClientKey,
    /// Its language filter, already lower-cased.
    pub lang: Option<Arc<str>>,
    /// Its interests, already normalised and without duplicates.
    pub interests: Vec<Arc<str>>,
}

/// Two sessions the matcher paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// The one that waited longer.
    pub first: SessionId,
    /// The other one.
    pub second: SessionId,
    /// Interests both gave (in `first`'s order); empty for the fallback.
    pub common_interests: Vec<String>,
    /// How long `first` waited.
    pub first_waited: Duration,
    /// How long `second` waited.
    pub second_waited: Duration,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Pool {
    /// Everyone: searched by sessions without `lang`.
    Any,
    /// Sessions without `lang`.
    NoLang,
    /// Sessions with this `lang`.
    Lang(Arc<str>),
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ListKey {
    pool: Pool,
    /// `None` = the fallback list (eligible with anyone).
    interest: Option<Arc<str>>,
}

struct Entry {
    session: SessionId,
    key: u64,
    ticket: u64,
    since: Instant,
    lang: Option<Arc<str>>,
    interests: Vec<Arc<str>>,
    fallback: bool,
    nodes: Vec<u32>,
}

impl Entry {
    fn party(&self) -> Party {
        Party {
            session: self.session,
            key: self.key,
        }
    }

    /// The pools this entry lives in (its own and the global one).
    fn home_pools(&self) -> [Pool; 2] {
        let own = match &self.lang {
            Some(lang) => Pool::Lang(lang.clone()),
            None => Pool::NoLang,
        };
        [own, Pool::Any]
    }
}

/// The pools a session may draw partners from: its own language and the
/// sessions without one, or (without `lang`) everyone.
fn search_pools(lang: Option<&Arc<str>>) -> impl Iterator<Item = Pool> {
    let (own, no_lang) = match lang {
        Some(lang) => (Pool::Lang(lang.clone()), Some(Pool::NoLang)),
        None => (Pool::Any, None),
    };
    std::iter::once(own).chain(no_lang)
}

/// Pairs waiting sessions by the protocol's rules. Pure and synchronous:
/// time comes in as `now`, and [`Matcher::next_deadline`] says when to call
/// [`Matcher::tick`] next.
pub struct Matcher {
    config: MatcherConfig,
    entries: Vec<Option<Entry>>,
    free_entries: Vec<u32>,
    by_session: FxHashMap<SessionId, u32>,
    lists: Lists<ListKey>,
    next_ticket: u64,
    promotions: VecDeque<(Instant, SessionId, u64)>,
    exclusions: Exclusions,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("waiting", &self.waiting())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// An empty matcher.
    pub fn new(config: MatcherConfig) -> Self {
        Self {
            config,
            entries: Vec::new(),
            free_entries: Vec::new(),
            by_session: FxHashMap::default(),
            lists: Lists::new(),
            next_ticket: 0,
            promotions: VecDeque::new(),
            exclusions: Exclusions::new(config.rematch_cooldown, config.report_block),
        }
    }

    /// Number of waiting sessions.
    pub fn waiting(&self) -> usize {
        self.by_session.len()
    }

    /// Whether `session` is waiting.
    pub fn is_waiting(&self, session: SessionId) -> bool {
        self.by_session.contains_key(&session)
    }

    /// Queues a session, or pairs it at once with the longest-waiting eligible
    /// partner. A session already waiting is re-queued with the new request.
    pub fn enqueue(&mut self, candidate: Candidate, now: Instant) -> Option<Pairing> {
        self.cancel(candidate.session);
        let fallback = candidate.interests.is_empty() || self.config.interest_wait.is_zero();
        let probe = Entry {
            session: candidate.session,
            key: candidate.client_key.fingerprint(),
            ticket: self.next_ticket,
            since: now,
            lang: candidate.lang,
            interests: candidate.interests,
            fallback,
            nodes: Vec::new(),
        };
        self.next_ticket += 1;
        if let Some(partner) = self.find_partner(&probe, now) {
            return Some(self.pair_with_probe(partner, &probe, now));
        }
        let index = self.insert(probe);
        if !fallback {
            let session = candidate.session;
            let ticket = self.entry(index).ticket;
            self.promotions
                .push_back((now + self.config.interest_wait, session, ticket));
        }
        None
    }

    /// Removes a waiting session; `false` when it was not waiting.
    pub fn cancel(&mut self, session: SessionId) -> bool {
        match self.by_session.remove(&session) {
            Some(index) => {
                self.remove_entry(index);
                true
            }
            None => false,
        }
    }

    /// Two sessions stopped chatting: they are not paired again for the
    /// rematch cooldown.
    pub fn add_cooldown(&mut self, a: SessionId, b: SessionId, now: Instant) {
        self.exclusions.add_cooldown(a, b, now);
    }

    /// `reporter` reported `reported`: never pair the two sessions again, nor
    /// (for `report_block`) their client keys, unless the keys are equal.
    pub fn add_report_block(
        &mut self,
        reporter: (SessionId, &ClientKey),
        reported: (SessionId, &ClientKey),
        now: Instant,
    ) {
        self.exclusions.add_report_block(
            Party {
                session: reporter.0,
                key: reporter.1.fingerprint(),
            },
            Party {
                session: reported.0,
                key: reported.1.fingerprint(),
            },
            now,
        );
    }

    /// Drops what the matcher remembers of a session that is gone for good.
    pub fn forget(&mut self, session: SessionId) {
        self.cancel(session);
        self.exclusions.forget(session);
    }

    /// When [`Matcher::tick`] has work next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let promotion = self.promotions.front().map(|entry| entry.0);
        match (promotion, self.exclusions.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies what is due by `now` (interest waits running out, exclusions
    /// expiring) and returns the pairings that became possible.
    pub fn tick(&mut self, now: Instant) -> Vec<Pairing> {
        let mut pairings = Vec::new();
        while let Some(&(due, session, ticket)) = self.promotions.front() {
            if due > now {
                break;
            }
            self.promotions.pop_front();
            let Some(&index) = self.by_session.get(&session) else {
                continue;
            };
            let entry = self.entry(index);
            if entry.ticket != ticket || entry.fallback {
                continue;
            }
            self.promote(index);
            if let Some(pairing) = self.search_for_waiting(index, now) {
                pairings.push(pairing);
            }
        }
        let mut freed = Vec::new();
        self.exclusions.expire(now, &mut freed);
        for expired in freed {
            match expired {
                Expired::Cooldown(a, b) => {
                    for session in [a, b] {
                        if let Some(&index) = self.by_session.get(&session) {
                            pairings.extend(self.search_for_waiting(index, now));
                        }
                    }
                }
                Expired::KeyBlock(a, b) => {
                    // Rare (one per report, a day later): a scan of the
                    // waiting sessions is cheaper than an index kept on
                    // every enqueue.
                    let affected: Vec<u32> = self
                        .by_session
                        .values()
                        .copied()
                        .filter(|&index| {
                            let key = self.entry(index).key;
                            key == a || key == b
                        })
                        .collect();
                    for index in affected {
                        if self.entries[index as usize].is_some() {
                            pairings.extend(self.search_for_waiting(index, now));
                        }
                    }
                }
            }
        }
        pairings
    }

    fn entry(&self, index: u32) -> &Entry {
        self.entries[index as usize]
            .as_ref()
            .expect("matcher index points at a live entry")
    }

    fn insert(&mut self, mut entry: Entry) -> u32 {
        let index = match self.free_entries.pop() {
            Some(index) => index,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        for pool in entry.home_pools() {
            for interest in &entry.interests {
                let key = ListKey {
                    pool: pool.clone(),
                    interest: Some(interest.clone()),
                };
                entry.nodes.push(self.lists.push_back(key, index));
            }
            if entry.fallback {
                let key = ListKey {
                    pool,
                    interest: None,
                };
                entry.nodes.push(self.lists.push_back(key, index));
            }
        }
        self.by_session.insert(entry.session, index);
        self.entries[index as usize] = Some(entry);
        index
    }

    fn promote(&mut self, index: u32) {
        let entry = self.entries[index as usize].as_mut().expect("live entry");
        entry.fallback = true;
        let pools = entry.home_pools();
        let mut nodes = Vec::with_capacity(2);
        for pool in pools {
            nodes.push(self.lists.push_back(
                ListKey {
                    pool,
                    interest: None,
                },
                index,
            ));
        }
        self.entries[index as usize]
            .as_mut()
            .expect("live entry")
            .nodes
            .extend(nodes);
    }

    fn remove_entry(&mut self, index: u32) -> Entry {
        let entry = self.entries[index as usize].take().expect("live entry");
        for &node in &entry.nodes {
            self.lists.unlink(node);
        }
        self.free_entries.push(index);
        entry
    }

    /// The oldest eligible partner for `probe` among the waiting entries.
    fn find_partner(&self, probe: &Entry, now: Instant) -> Option<u32> {
        let mut best: Option<(u64, u32)> = None;
        let me = probe.party();
        let consider = |key: ListKey, best: &mut Option<(u64, u32)>| {
            for index in self.lists.iter(&key) {
                let other = self.entry(index);
                if best.is_some_and(|(ticket, _)| ticket < other.ticket) {
                    // This list's remaining entries are all younger.
                    return;
                }
                if other.session == probe.session || self.exclusions.blocks(me, other.party(), now)
                {
                    continue;
                }
                *best = Some((other.ticket, index));
                return;
            }
        };
        for interest in &probe.interests {
            for pool in search_pools(probe.lang.as_ref()) {
                let key = ListKey {
                    pool,
                    interest: Some(interest.clone()),
                };
                consider(key, &mut best);
            }
        }
        if best.is_some() {
            // A common interest wins over a longer-waiting random partner.
            return best.map(|(_, index)| index);
        }
        if probe.fallback {
            for pool in search_pools(probe.lang.as_ref()) {
                let key = ListKey {
                    pool,
                    interest: None,
                };
                consider(key, &mut best);
            }
        }
        best.map(|(_, index)| index)
    }

    /// Searches again for an entry that is already waiting (its eligibility grew).
    fn search_for_waiting(&mut self, index: u32, now: Instant) -> Option<Pairing> {
        let entry = self.entry(index);
        let partner = self.find_partner(entry, now)?;
        let a = self.remove_entry(index);
        self.by_session.remove(&a.session);
        let b = self.remove_entry(partner);
        self.by_session.remove(&b.session);
        let (first, second) = if a.ticket < b.ticket { (a, b) } else { (b, a) };
        Some(Self::pairing(&first, &second, now))
    }

    fn pair_with_probe(&mut self, partner: u32, probe: &Entry, now: Instant) -> Pairing {
        let first = self.remove_entry(partner);
        self.by_session.remove(&first.session);
        Self::pairing(&first, probe, now)
    }

    fn pairing(first: &Entry, second: &Entry, now: Instant) -> Pairing {
        let common_interests = first
            .interests
            .iter()
            .filter(|interest| second.interests.contains(interest))
            .map(|interest| interest.to_string())
            .collect();
        Pairing {
            first: first.session,
            second: second.session,
            common_interests,
            first_waited: now.saturating_duration_since(first.since),
            second_waited: now.saturating_duration_since(second.since),
        }
    }
}

#[cfg(test)]
mod tests;
