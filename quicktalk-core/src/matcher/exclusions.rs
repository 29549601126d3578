//! Pairs that must not be matched: rematch cooldowns (per session) and report
//! blocks (per session, and per client key while `report_block` lasts).
//!
//! Lookups are O(1) hash probes; expiries are FIFO queues because every
//! cooldown (and every key block) lasts the same configured time.

use std::collections::VecDeque;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::time::Instant;

use crate::ids::SessionId;

/// A session as the exclusion tables see it: its id and client-key fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Party {
    pub(super) session: SessionId,
    pub(super) key: u64,
}

fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// What an expiry freed: the two sessions (for cooldowns) or keys (for key blocks).
pub(super) enum Expired {
    Cooldown(SessionId, SessionId),
    KeyBlock(u64, u64),
}

pub(super) struct Exclusions {
    cooldown: Duration,
    key_block: Duration,
    cooldowns: FxHashMap<(SessionId, SessionId), Instant>,
    cooldown_queue: VecDeque<(Instant, SessionId, SessionId)>,
    session_blocks: FxHashSet<(SessionId, SessionId)>,
    session_block_index: FxHashMap<SessionId, Vec<SessionId>>,
    key_blocks: FxHashMap<(u64, u64), Instant>,
    key_queue: VecDeque<(Instant, u64, u64)>,
}

impl Exclusions {
    pub(super) fn new(cooldown: Duration, key_block: Duration) -> Self {
        Self {
            cooldown,
            key_block,
            cooldowns: FxHashMap::default(),
            cooldown_queue: VecDeque::new(),
            session_blocks: FxHashSet::default(),
            session_block_index: FxHashMap::default(),
            key_blocks: FxHashMap::default(),
            key_queue: VecDeque::new(),
        }
    }

    /// Whether `a` and `b` must not be matched at `now`.
    pub(super) fn blocks(&self, a: Party, b: Party, now: Instant) -> bool {
        if !self.cooldowns.is_empty() {
            if let Some(&until) = self.cooldowns.get(&ordered(a.session, b.session)) {
                if until > now {
                    return true;
                }
            }
        }
        if !self.session_blocks.is_empty()
            && self.session_blocks.contains(&ordered(a.session, b.session))
        {
            return true;
        }
        // Key-level blocks do not apply between sessions that share a key
        // (people behind one NAT).
        if a.key != b.key && !self.key_blocks.is_empty() {
            if let Some(&until) = self.key_blocks.get(&ordered(a.key, b.key)) {
                if until > now {
                    return true;
                }
            }
        }
        false
    }

    /// `a` and `b` just stopped chatting: keep them apart for the cooldown.
    pub(super) fn add_cooldown(&mut self, a: SessionId, b: SessionId, now: Instant) {
        if self.cooldown.is_zero() {
            return;
        }
        let until = now + self.cooldown;
        let pair = ordered(a, b);
        self.cooldowns.insert(pair, until);
        self.cooldown_queue.push_back((until, pair.0, pair.1));
    }

    /// `reporter` reported `reported`: block the sessions for good and the keys
    /// for `report_block`.
    pub(super) fn add_report_block(&mut self, reporter: Party, reported: Party, now: Instant) {
        let pair = ordered(reporter.session, reported.session);
        if self.session_blocks.insert(pair) {
            self.session_block_index
                .entry(pair.0)
                .or_default()
                .push(pair.1);
            self.session_block_index
                .entry(pair.1)
                .or_default()
                .push(pair.0);
        }
        if reporter.key != reported.key && !self.key_block.is_zero() {
            let until = now + self.key_block;
            let keys = ordered(reporter.key, reported.key);
            self.key_blocks.insert(keys, until);
            self.key_queue.push_back((until, keys.0, keys.1));
        }
    }

    /// Drops the session-level blocks of a session that is gone for good.
    pub(super) fn forget(&mut self, session: SessionId) {
        if let Some(others) = self.session_block_index.remove(&session) {
            for other in others {
                self.session_blocks.remove(&ordered(session, other));
                if let Some(list) = self.session_block_index.get_mut(&other) {
                    list.retain(|&s| s != session);
                    if list.is_empty() {
                        self.session_block_index.remove(&other);
                    }
                }
            }
        }
    }

    /// The earliest pending expiry.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let cooldown = self.cooldown_queue.front().map(|entry| entry.0);
        let key = self.key_queue.front().map(|entry| entry.0);
        match (cooldown, key) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes what expired by `now`, reporting each freed pair once.
    pub(super) fn expire(&mut self, now: Instant, freed: &mut Vec<Expired>) {
        while let Some(&(until, a, b)) = self.cooldown_queue.front() {
            if until > now {
                break;
            }
            self.cooldown_queue.pop_front();
            // A newer cooldown for the same pair replaced this one: keep it.
            if self.cooldowns.get(&(a, b)) == Some(&until) {
                self.cooldowns.remove(&(a, b));
                freed.push(Expired::Cooldown(a, b));
            }
        }
        while let Some(&(until, a, b)) = self.key_queue.front() {
            if until > now {
                break;
            }
            self.key_queue.pop_front();
            if self.key_blocks.get(&(a, b)) == Some(&until) {
                self.key_blocks.remove(&(a, b));
                freed.push(Expired::KeyBlock(a, b));
            }
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.cooldowns.len() + self.session_blocks.len() + self.key_blocks.len()
    }
}
