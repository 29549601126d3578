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
//! - Two bots (sessions that declared `bot: true`) are never paired: a bot
//!   is company for people, not for other programs.
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
//! Interests and languages are interned labels whose records hold the heads
//! of their lists, and the fields a search reads (ticket, session, key) sit
//! in a dense array apart from the rest, so a search touches few cache lines
//! even with 100k sessions waiting (see `docs/performance.md`).
//!
//! Eligibility only grows at three moments: a session enqueues, a session's
//! `interest_wait` runs out, or an exclusion expires. The matcher searches at
//! each of them, so no eligible pair is ever left waiting.

mod exclusions;
mod labels;
mod lists;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use tokio::time::Instant;

use crate::ids::{ClientKey, SessionId};
use exclusions::{Exclusions, Expired, Party};
use labels::{Label, Labels};
use lists::{GLOBAL, Head, Nodes, Owner};

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

impl From<&crate::config::EngineConfig> for MatcherConfig {
    fn from(config: &crate::config::EngineConfig) -> Self {
        Self {
            interest_wait: config.interest_wait,
            rematch_cooldown: config.rematch_cooldown,
            report_block: config.report_block,
        }
    }
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
    /// It is a program; it is never paired with another bot.
    pub bot: bool,
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

/// A pool: who is searched. Sessions without `lang` search everyone; a
/// session with `lang` searches its language and the sessions without one.
type Pool = u32;
const POOL_ANY: Pool = 0;
const POOL_NO_LANG: Pool = 1;

fn lang_pool(lang: Label) -> Pool {
    lang + 2
}

/// Which fallback list: sessions without interests join theirs at enqueue,
/// sessions with interests join theirs when `interest_wait` runs out. Each
/// list is then in ticket order (promotions happen in enqueue order), which
/// the search relies on; one list for both would not be.
#[derive(Clone, Copy)]
enum Fallback {
    AtOnce = 0,
    Promoted = 1,
}

const FALLBACKS: [Fallback; 2] = [Fallback::AtOnce, Fallback::Promoted];

/// The list of sessions in `pool` that are eligible with anyone.
fn fallback_list(pool: Pool, kind: Fallback) -> Owner {
    match pool {
        POOL_ANY | POOL_NO_LANG => Owner {
            label: GLOBAL,
            key: pool * 2 + kind as u32,
        },
        // A language label's own fallback lists use keys no pool can have.
        lang => Owner {
            label: lang - 2,
            key: u32::MAX - kind as u32,
        },
    }
}

/// The list of sessions in `pool` with interest `interest`.
fn interest_list(pool: Pool, interest: Label) -> Owner {
    Owner {
        label: interest,
        key: pool,
    }
}

/// What a search reads of a waiting session, packed densely.
#[derive(Clone, Copy)]
struct Hot {
    ticket: u64,
    session: SessionId,
    key: u64,
    bot: bool,
}

impl Hot {
    const FREE: Self = Self {
        ticket: u64::MAX,
        session: SessionId::from_raw(0),
        key: 0,
        bot: false,
    };

    fn party(&self) -> Party {
        Party {
            session: self.session,
            key: self.key,
        }
    }
}

/// The rest of a waiting session.
struct Cold {
    since: Instant,
    lang: Option<Label>,
    interests: SmallVec<[Label; 4]>,
    fallback: bool,
    nodes: SmallVec<[u32; 8]>,
}

impl Cold {
    /// The pools this session lives in (its own and the global one).
    fn home_pools(&self) -> [Pool; 2] {
        [self.lang.map_or(POOL_NO_LANG, lang_pool), POOL_ANY]
    }
}

/// Who is looking for a partner: a newcomer (not in the lists) or a waiting
/// session whose eligibility grew.
struct Probe<'a> {
    party: Party,
    /// The pools to search.
    pools: &'a [Pool],
    /// Interests some waiting session has (others cannot match).
    interests: &'a [Label],
    fallback: bool,
    bot: bool,
}

/// The pools a session may draw partners from. `lang` is `Some(None)` for a
/// language nobody waits with (only the no-language pool can match it).
fn search_pools(lang: Option<Option<Label>>) -> ([Pool; 2], usize) {
    match lang {
        Some(Some(lang)) => ([lang_pool(lang), POOL_NO_LANG], 2),
        Some(None) => ([POOL_NO_LANG, 0], 1),
        None => ([POOL_ANY, 0], 1),
    }
}

/// Pairs waiting sessions by the protocol's rules. Pure and synchronous:
/// time comes in as `now`, and [`Matcher::next_deadline`] says when to call
/// [`Matcher::tick`] next.
pub struct Matcher {
    config: MatcherConfig,
    hot: Vec<Hot>,
    cold: Vec<Option<Cold>>,
    free_entries: Vec<u32>,
    by_session: FxHashMap<SessionId, u32>,
    nodes: Nodes,
    globals: [Head; 4],
    labels: Labels,
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
            hot: Vec::new(),
            cold: Vec::new(),
            free_entries: Vec::new(),
            by_session: FxHashMap::default(),
            nodes: Nodes::new(),
            globals: [Head::EMPTY; 4],
            labels: Labels::new(),
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
        self.enqueue_new(candidate, now)
    }

    /// [`Matcher::enqueue`] for a session the caller knows is not waiting
    /// (the engine knows each session's state): skips the look-up that
    /// re-queueing needs, one cache miss at 100k waiting. Debug builds check
    /// the promise.
    pub fn enqueue_new(&mut self, candidate: Candidate, now: Instant) -> Option<Pairing> {
        debug_assert!(
            !self.by_session.contains_key(&candidate.session),
            "enqueue_new with a session that is already waiting"
        );
        let fallback = candidate.interests.is_empty() || self.config.interest_wait.is_zero();
        let party = Party {
            session: candidate.session,
            key: candidate.client_key.fingerprint(),
        };
        // Each name is hashed once, for the lookup and (if the session
        // waits) for interning.
        let hashes: SmallVec<[u64; 4]> = candidate
            .interests
            .iter()
            .map(|interest| self.labels.hash(interest))
            .collect();
        let known: SmallVec<[Label; 4]> = candidate
            .interests
            .iter()
            .zip(&hashes)
            .filter_map(|(interest, &hash)| self.labels.get(hash, interest))
            .collect();
        let lang_hash = candidate.lang.as_ref().map(|lang| self.labels.hash(lang));
        let lang = candidate
            .lang
            .as_ref()
            .zip(lang_hash)
            .map(|(lang, hash)| self.labels.get(hash, lang));
        let (pools, count) = search_pools(lang);
        let probe = Probe {
            party,
            pools: &pools[..count],
            interests: &known,
            fallback,
            bot: candidate.bot,
        };
        if let Some(partner) = self.find_partner(&probe, now) {
            let (first, cold) = self.take_entry(partner);
            let common_interests = self.common_interests(&cold.interests, &known);
            self.release_labels(&cold);
            return Some(Pairing {
                first: first.session,
                second: candidate.session,
                common_interests,
                first_waited: now.saturating_duration_since(cold.since),
                second_waited: Duration::ZERO,
            });
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let cold = Cold {
            since: now,
            lang: candidate
                .lang
                .as_ref()
                .zip(lang_hash)
                .map(|(lang, hash)| self.labels.acquire(hash, lang)),
            interests: candidate
                .interests
                .iter()
                .zip(&hashes)
                .map(|(interest, &hash)| self.labels.acquire(hash, interest))
                .collect(),
            fallback,
            nodes: SmallVec::new(),
        };
        let hot = Hot {
            ticket,
            session: candidate.session,
            key: party.key,
            bot: candidate.bot,
        };
        self.insert(hot, cold);
        if !fallback {
            self.promotions
                .push_back((now + self.config.interest_wait, candidate.session, ticket));
            self.compact_promotions();
        }
        None
    }

    /// Promotions of sessions that were matched or cancelled stay queued
    /// until due (lazy deletion). With a long `interest_wait` they could pile
    /// up, so once they outnumber the live ones the queue is rebuilt:
    /// amortized O(1) per enqueue.
    fn compact_promotions(&mut self) {
        if self.promotions.len() <= 2 * self.by_session.len() + 1024 {
            return;
        }
        let (by_session, hot) = (&self.by_session, &self.hot);
        self.promotions.retain(|&(_, session, ticket)| {
            by_session
                .get(&session)
                .is_some_and(|&index| hot[index as usize].ticket == ticket)
        });
    }

    /// Removes a waiting session; `false` when it was not waiting.
    pub fn cancel(&mut self, session: SessionId) -> bool {
        match self.by_session.get(&session) {
            Some(&index) => {
                let (_, cold) = self.take_entry(index);
                self.release_labels(&cold);
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
            let stale = self.hot[index as usize].ticket != ticket || self.cold(index).fallback;
            if stale {
                continue;
            }
            self.promote(index);
            pairings.extend(self.search_for_waiting(index, now));
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
                    let affected: Vec<SessionId> = self
                        .by_session
                        .iter()
                        .filter(|&(_, &index)| {
                            let key = self.hot[index as usize].key;
                            key == a || key == b
                        })
                        .map(|(&session, _)| session)
                        .collect();
                    for session in affected {
                        if let Some(&index) = self.by_session.get(&session) {
                            pairings.extend(self.search_for_waiting(index, now));
                        }
                    }
                }
            }
        }
        pairings
    }

    fn cold(&self, index: u32) -> &Cold {
        self.cold[index as usize]
            .as_ref()
            .expect("matcher index points at a live entry")
    }

    fn head(&self, list: Owner) -> Head {
        if list.label == GLOBAL {
            self.globals[list.key as usize]
        } else {
            self.labels.head(list.label, list.key)
        }
    }

    fn push(&mut self, list: Owner, index: u32) -> u32 {
        let head = if list.label == GLOBAL {
            &mut self.globals[list.key as usize]
        } else {
            self.labels.head_mut(list.label, list.key)
        };
        self.nodes.push_back(head, list, index)
    }

    fn unlink(&mut self, node: u32) {
        let list = self.nodes.owner(node);
        if list.label == GLOBAL {
            self.nodes
                .unlink(&mut self.globals[list.key as usize], node);
        } else {
            self.nodes
                .unlink(self.labels.head_mut(list.label, list.key), node);
            self.labels.drop_if_empty(list.label, list.key);
        }
    }

    fn insert(&mut self, hot: Hot, mut cold: Cold) {
        let index = match self.free_entries.pop() {
            Some(index) => index,
            None => {
                self.hot.push(Hot::FREE);
                self.cold.push(None);
                (self.hot.len() - 1) as u32
            }
        };
        for pool in cold.home_pools() {
            for &interest in &cold.interests {
                cold.nodes
                    .push(self.push(interest_list(pool, interest), index));
            }
            if cold.fallback {
                cold.nodes
                    .push(self.push(fallback_list(pool, Fallback::AtOnce), index));
            }
        }
        self.by_session.insert(hot.session, index);
        self.hot[index as usize] = hot;
        self.cold[index as usize] = Some(cold);
    }

    fn promote(&mut self, index: u32) {
        let pools = self.cold(index).home_pools();
        let nodes = pools.map(|pool| self.push(fallback_list(pool, Fallback::Promoted), index));
        let cold = self.cold[index as usize].as_mut().expect("live entry");
        cold.fallback = true;
        cold.nodes.extend(nodes);
    }

    /// Unlinks an entry and forgets its session (its labels are still held:
    /// see [`Matcher::release_labels`]).
    fn take_entry(&mut self, index: u32) -> (Hot, Cold) {
        let hot = std::mem::replace(&mut self.hot[index as usize], Hot::FREE);
        let cold = self.cold[index as usize].take().expect("live entry");
        for &node in &cold.nodes {
            self.unlink(node);
        }
        self.by_session.remove(&hot.session);
        self.free_entries.push(index);
        (hot, cold)
    }

    fn release_labels(&mut self, cold: &Cold) {
        if let Some(lang) = cold.lang {
            self.labels.release(lang);
        }
        for &interest in &cold.interests {
            self.labels.release(interest);
        }
    }

    fn common_interests(&self, first: &[Label], second: &[Label]) -> Vec<String> {
        first
            .iter()
            .filter(|interest| second.contains(interest))
            .map(|&interest| self.labels.name(interest).to_string())
            .collect()
    }

    /// The oldest eligible partner for `probe` among the waiting sessions.
    fn find_partner(&self, probe: &Probe<'_>, now: Instant) -> Option<u32> {
        let mut best: Option<(u64, u32)> = None;
        let consider = |list: Owner, best: &mut Option<(u64, u32)>| {
            for index in self.nodes.iter(self.head(list)) {
                let other = self.hot[index as usize];
                if best.is_some_and(|(ticket, _)| ticket < other.ticket) {
                    // This list's remaining entries are all younger.
                    return;
                }
                // Bots waiting ahead of a bot are skipped one by one: bots
                // are few (an operator runs a handful), so this stays short.
                if other.session == probe.party.session
                    || (probe.bot && other.bot)
                    || self.exclusions.blocks(probe.party, other.party(), now)
                {
                    continue;
                }
                *best = Some((other.ticket, index));
                return;
            }
        };
        for &interest in probe.interests {
            for &pool in probe.pools {
                consider(interest_list(pool, interest), &mut best);
            }
        }
        if best.is_some() {
            // A common interest wins over a longer-waiting random partner.
            return best.map(|(_, index)| index);
        }
        if probe.fallback {
            for &pool in probe.pools {
                for kind in FALLBACKS {
                    consider(fallback_list(pool, kind), &mut best);
                }
            }
        }
        best.map(|(_, index)| index)
    }

    /// Searches again for a session that is already waiting (its eligibility grew).
    fn search_for_waiting(&mut self, index: u32, now: Instant) -> Option<Pairing> {
        let cold = self.cold(index);
        let (pools, count) = search_pools(cold.lang.map(Some));
        let probe = Probe {
            party: self.hot[index as usize].party(),
            pools: &pools[..count],
            interests: &cold.interests,
            fallback: cold.fallback,
            bot: self.hot[index as usize].bot,
        };
        let partner = self.find_partner(&probe, now)?;
        let a = self.take_entry(index);
        let b = self.take_entry(partner);
        let ((first, first_cold), (second, second_cold)) = if a.0.ticket < b.0.ticket {
            (a, b)
        } else {
            (b, a)
        };
        let pairing = Pairing {
            first: first.session,
            second: second.session,
            common_interests: self.common_interests(&first_cold.interests, &second_cold.interests),
            first_waited: now.saturating_duration_since(first_cold.since),
            second_waited: now.saturating_duration_since(second_cold.since),
        };
        self.release_labels(&first_cold);
        self.release_labels(&second_cold);
        Some(pairing)
    }
}

#[cfg(test)]
mod tests;
