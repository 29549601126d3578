//! Shared pieces of QuickTalk's benchmarks: workload generators.
//!
//! The criterion benchmarks live in `benches/` (`cargo bench -p quicktalk-benches`).

pub mod matcher_workload;

use rand::Rng;

/// Samples ranks `0..n` with Zipf-like popularity (rank r has weight
/// `1 / (r + 1)^s`), as interest tags and languages are in real chat.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A sampler over `n` ranks with exponent `s` (about 1.0 for tags).
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one rank");
        let target = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c < target)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zipf_prefers_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(1000, 1.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let samples: Vec<usize> = (0..10_000).map(|_| zipf.sample(&mut rng)).collect();
        assert!(samples.iter().all(|&s| s < 1000));
        let top = samples.iter().filter(|&&s| s < 10).count();
        let tail = samples.iter().filter(|&&s| (500..510).contains(&s)).count();
        assert!(top > 10 * tail.max(1), "top {top} tail {tail}");
    }
}
