//! Per-session rate limiting: a token bucket for chat lines and a strike
//! counter that tells a flood from a burst.

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: f64, burst: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(burst),
            rate,
            burst: f64::from(burst),
            updated: now,
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts rate-limited lines in a sliding window of fixed buckets.
#[derive(Debug, Clone)]
pub(crate) struct Strikes {
    window: Duration,
    started: Instant,
    count: u32,
}

impl Strikes {
    pub(crate) fn new(window: Duration, now: Instant) -> Self {
        Self {
            window,
            started: now,
            count: 0,
        }
    }

    /// Records a strike; returns how many fell in the current window.
    pub(crate) fn hit(&mut self, now: Instant) -> u32 {
        if now.saturating_duration_since(self.started) >= self.window {
            self.started = now;
            self.count = 0;
        }
        self.count += 1;
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5.0, 10, start);
        assert!((0..10).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start));
        assert!(bucket.try_take(start + Duration::from_millis(200)));
        assert!(!bucket.try_take(start + Duration::from_millis(200)));
        // A long pause refills only up to the burst.
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.try_take(later)).count(), 10);
    }

    #[test]
    fn strikes_reset_after_the_window() {
        let start = Instant::now();
        let mut strikes = Strikes::new(Duration::from_secs(10), start);
        assert_eq!(strikes.hit(start), 1);
        assert_eq!(strikes.hit(start + Duration::from_secs(9)), 2);
        assert_eq!(strikes.hit(start + Duration::from_secs(10)), 1);
    }
}
