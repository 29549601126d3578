//! Matcher enqueue+match at 1k, 10k and 100k waiting sessions.
//!
//! Run with: `cargo bench -p quicktalk-benches --bench matcher`
//!
//! The pool holds N sessions that cannot pair with each other, as a real
//! queue at steady state: with interests, each waits on its own tag (and has
//! not reached `interest_wait`); without interests, each is alone in its
//! language. One iteration enqueues a newcomer that asks for a tag (or a
//! language) by Zipf popularity and is paired with the pool member holding
//! it, then enqueues a replacement into that slot, so the pool stays at N.
//! `matcher/enqueue_match` times the matching enqueue alone;
//! `matcher/pairing_cycle` times both enqueues (the full cost of one pair). Newcomers with interests
//! also carry two tags nobody holds, so each search probes several lists.
//! The `1pct_excluded` variant puts 1% of newcomers in a cooldown with the
//! partner they would get (they wait and are cancelled instead) and keeps
//! 1% of N unrelated cooldown pairs in the exclusion table.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quicktalk_benches::matcher_workload::{Bench, Step, Workload};

/// Runs `iters` steps, prepared untimed in chunks; `matching_only` times
/// just the enqueue that matches, otherwise the whole cycle.
fn measure(bench: &mut Bench, iters: u64, matching_only: bool) -> std::time::Duration {
    let mut total = std::time::Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(1024);
        let steps: Vec<Step> = (0..chunk).map(|_| bench.prepare()).collect();
        if matching_only {
            for step in steps {
                total += bench.run(step);
            }
        } else {
            let start = std::time::Instant::now();
            for step in steps {
                bench.run(step);
            }
            total += start.elapsed();
        }
        left -= chunk;
    }
    total
}

fn run_group(c: &mut Criterion, name: &str, matching_only: bool) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    for workload in [
        Workload::NoInterests,
        Workload::Interests,
        Workload::InterestsExcluded,
    ] {
        for size in [1_000usize, 10_000, 100_000] {
            let mut bench = Bench::new(size, workload);
            group.bench_with_input(BenchmarkId::new(workload.name(), size), &size, |b, _| {
                b.iter_custom(|iters| measure(&mut bench, iters, matching_only));
            });
            assert_eq!(bench.matcher.waiting(), size, "the pool stays at N");
        }
    }
    group.finish();
}

/// The enqueue that finds a partner, timed alone (two clock reads per
/// iteration are included, so it slightly overstates).
fn enqueue_match(c: &mut Criterion) {
    run_group(c, "matcher/enqueue_match", true);
}

/// One whole pairing: the matching enqueue plus the enqueue that waits.
fn pairing_cycle(c: &mut Criterion) {
    run_group(c, "matcher/pairing_cycle", false);
}

criterion_group!(benches, enqueue_match, pairing_cycle);
criterion_main!(benches);
