//! Runs the matcher benchmark's workload without criterion, for instruction
//! counting under a profiler:
//!
//! `valgrind --tool=callgrind target/release/matcher-profile interests 100000 200000`
//!
//! Arguments: workload (`no_interests`, `interests`, `interests_1pct_excluded`),
//! pool size, steps. Prints the pool size and the steps run.

use quicktalk_benches::matcher_workload::{Bench, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = match args.next().as_deref() {
        Some("no_interests") => Workload::NoInterests,
        Some("interests_1pct_excluded") => Workload::InterestsExcluded,
        Some("interests") | None => Workload::Interests,
        Some(other) => {
            eprintln!(
                "unknown workload {other:?}: use no_interests, interests or interests_1pct_excluded"
            );
            std::process::exit(2);
        }
    };
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let steps: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut bench = Bench::new(size, workload);
    for _ in 0..steps {
        let step = bench.prepare();
        bench.run(step);
    }
    println!("{} waiting, {steps} steps", bench.matcher.waiting());
}
