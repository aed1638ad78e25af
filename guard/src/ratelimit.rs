//! Token buckets: a burst of `count` calls, refilled continuously at `count` per period.

use std::time::Instant;

use mcpin_verifier::policy::RateLimit;

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    limit: RateLimit,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            limit,
            tokens: f64::from(limit.count),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        let rate = f64::from(self.limit.count) / self.limit.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(self.limit.count));
        self.updated = now;
    }

    /// Whether a token is there (without taking it).
    pub(crate) fn ready(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    pub(crate) fn take(&mut self) {
        self.tokens -= 1.0;
    }

    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn three_per_minute_refuses_the_fourth_and_refills() {
        let start = Instant::now();
        let mut bucket = Bucket::new("3/min".parse().unwrap(), start);
        for _ in 0..3 {
            assert!(bucket.ready(start));
            bucket.take();
        }
        assert!(!bucket.ready(start));
        // One token comes back every 20 seconds.
        assert!(!bucket.ready(start + Duration::from_secs(19)));
        assert!(bucket.ready(start + Duration::from_secs(20)));
        bucket.take();
        // Never more than the burst.
        assert!(bucket.ready(start + Duration::from_secs(3600)));
        for _ in 0..3 {
            bucket.take();
        }
        assert!(!bucket.ready(start + Duration::from_secs(3600)));
    }
}
