//! The matcher workload shared by the criterion bench and the profiling
//! binary: a pool of N sessions that cannot pair with each other, and
//! newcomers that pick a pool member by Zipf popularity.

use std::sync::Arc;
use std::time::Duration;

use quicktalk_core::matcher::{Candidate, Matcher, MatcherConfig};
use quicktalk_core::{ClientKey, SessionId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::Zipf;

#[derive(Clone, Copy, PartialEq, Eq)]
/// Which kind of pool and newcomers.
pub enum Workload {
    /// Pool members wait alone in their language; newcomers ask for one.
    NoInterests,
    /// Pool members wait on their own tag; newcomers ask for one (plus two
    /// tags nobody holds).
    Interests,
    /// As `Interests`, with 1% of newcomers in a cooldown with their partner.
    InterestsExcluded,
}

impl Workload {
    /// The benchmark id.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoInterests => "no_interests",
            Self::Interests => "interests",
            Self::InterestsExcluded => "interests_1pct_excluded",
        }
    }
}

/// A pool of N waiting sessions and the means to run steps against it.
pub struct Bench {
    /// The matcher under test.
    pub matcher: Matcher,
    workload: Workload,
    /// The tag (or language) of each pool slot, by popularity rank.
    slots: Vec<Arc<str>>,
    /// The session waiting in each slot.
    holders: Vec<SessionId>,
    zipf: Zipf,
    rng: StdRng,
    next_id: u64,
    now: Instant,
    keys: Vec<ClientKey>,
}

impl Bench {
    /// A pool of `size` sessions.
    pub fn new(size: usize, workload: Workload) -> Self {
        let matcher = Matcher::new(MatcherConfig {
            interest_wait: Duration::from_secs(3600),
            rematch_cooldown: Duration::from_secs(3600),
            report_block: Duration::from_secs(3600),
        });
        let mut bench = Self {
            matcher,
            workload,
            slots: Vec::with_capacity(size),
            holders: Vec::with_capacity(size),
            zipf: Zipf::new(size, 1.0),
            rng: StdRng::seed_from_u64(42),
            next_id: 1,
            now: Instant::now(),
            keys: (0..1024)
                .map(|k| ClientKey::new(format!("ip-hash-{k}")))
                .collect(),
        };
        for _ in 0..size {
            let slot: Arc<str> = bench.fresh_label();
            bench.slots.push(slot.clone());
            let candidate = bench.member(slot);
            bench.holders.push(candidate.session);
            assert!(
                bench.matcher.enqueue(candidate, bench.now).is_none(),
                "pool members must not pair"
            );
        }
        if workload == Workload::InterestsExcluded {
            for _ in 0..size / 100 {
                let a = SessionId::from_raw(bench.rng.random_range(1..bench.next_id));
                let b = SessionId::from_raw(bench.rng.random_range(1..bench.next_id));
                bench.matcher.add_cooldown(a, b, bench.now);
            }
        }
        bench
    }

    fn fresh_label(&mut self) -> Arc<str> {
        Arc::from(format!("t{}", self.next_id))
    }

    fn id(&mut self) -> SessionId {
        let id = SessionId::from_raw(self.next_id);
        self.next_id += 1;
        id
    }

    fn key(&mut self) -> ClientKey {
        let index = self.rng.random_range(0..self.keys.len());
        self.keys[index].clone()
    }

    /// A pool member holding `slot`.
    fn member(&mut self, slot: Arc<str>) -> Candidate {
        let session = self.id();
        let client_key = self.key();
        match self.workload {
            Workload::NoInterests => Candidate {
                session,
                client_key,
                lang: Some(slot),
                interests: Vec::new(),
                bot: false,
            },
            _ => Candidate {
                session,
                client_key,
                lang: Some(Arc::from("ko")),
                interests: vec![slot],
                bot: false,
            },
        }
    }

    /// The inputs of one iteration, built outside the timed loop (labels
    /// and keys are allocated by the transport in real life, not the matcher).
    pub fn prepare(&mut self) -> Step {
        let rank = self.zipf.sample(&mut self.rng);
        // Filled in from `slots[rank]` when the step runs (an earlier step of
        // the chunk may have refilled the slot).
        let slot: Arc<str> = Arc::from("");
        let session = self.id();
        let client_key = self.key();
        let newcomer = match self.workload {
            Workload::NoInterests => Candidate {
                session,
                client_key,
                lang: Some(slot),
                interests: Vec::new(),
                bot: false,
            },
            _ => {
                let misses = [
                    self.fresh_label(),
                    Arc::from(format!("cold{}", self.rng.random::<u32>())),
                ];
                Candidate {
                    session,
                    client_key,
                    lang: Some(Arc::from("ko")),
                    interests: vec![misses[0].clone(), slot, misses[1].clone()],
                    bot: false,
                }
            }
        };
        let excluded =
            self.workload == Workload::InterestsExcluded && self.rng.random_ratio(1, 100);
        let replacement_slot = self.fresh_label();
        let replacement = self.member(replacement_slot.clone());
        Step {
            rank,
            newcomer,
            excluded,
            replacement,
            replacement_slot,
        }
    }

    /// One enqueue+match, then the replacement enqueue; returns the time of
    /// the matching enqueue alone.
    pub fn run(&mut self, step: Step) -> std::time::Duration {
        let Step {
            rank,
            mut newcomer,
            excluded,
            replacement,
            replacement_slot,
        } = step;
        let slot = self.slots[rank].clone();
        match self.workload {
            Workload::NoInterests => newcomer.lang = Some(slot),
            _ => newcomer.interests[1] = slot,
        }
        let session = newcomer.session;
        if excluded {
            // The newcomer is in a cooldown with the slot's holder: it finds
            // no partner, waits, and is cancelled.
            self.matcher
                .add_cooldown(session, self.holders[rank], self.now);
            let start = std::time::Instant::now();
            assert!(self.matcher.enqueue_new(newcomer, self.now).is_none());
            let took = start.elapsed();
            self.matcher.cancel(session);
            return took;
        }
        let start = std::time::Instant::now();
        let pairing = self.matcher.enqueue_new(newcomer, self.now);
        let took = start.elapsed();
        let pairing = pairing.expect("the slot holder is eligible");
        debug_assert_eq!(pairing.first, self.holders[rank]);
        self.slots[rank] = replacement_slot;
        self.holders[rank] = replacement.session;
        assert!(self.matcher.enqueue_new(replacement, self.now).is_none());
        took
    }
}

/// The inputs of one step.
pub struct Step {
    rank: usize,
    newcomer: Candidate,
    excluded: bool,
    replacement: Candidate,
    replacement_slot: Arc<str>,
}
