//! A small deterministic generator (xorshift64) for the training shuffle and
//! the tests' generated inputs: a seed gives the same sequence on every
//! platform and Rust version, so a model retrained from the same rows is the
//! same file.

/// Xorshift64 (Marsaglia): three shifts a number.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from `seed`, which must not be 0 (it would stay 0).
    pub(crate) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// The next number below `bound` (not 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}
