//! Rate limiting per key, v1's `[frontends.X.rateLimit]` (oxy's `ratelimit`): each rate
//! set is a token bucket (`average` requests per `period`, `burst` at most in a row), a
//! request takes a token from every set of its key, and is refused when any is empty.
//!
//! One [`RateLimiter`] serves every thread: the table is behind a mutex held only for a
//! hash-map step and a few integer operations (never across an await). Keys are stored
//! as a seeded 64-bit hash, so a long header value costs no more than an IP address and
//! the table's memory is bounded by [`MAX_KEYS`] whatever clients send.

mod bucket;
mod table;

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use bucket::{Rate, RateError};
pub use table::Refusal;

use crate::limit::Key;

/// Keys one limiter remembers at most (oxy's ttlmap capacity is the same). About 100
/// bytes each with one rate set, so a few MiB per frontend at worst.
pub const MAX_KEYS: usize = 65_536;

pub struct RateLimiter {
    rates: Vec<Rate>,
    table: Mutex<table::Table>,
    seed: foldhash::quality::RandomState,
    start: Instant,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rates", &self.rates)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `rates`: at least one (a limiter without any lets everything through).
    pub fn new(rates: Vec<Rate>, capacity: usize) -> RateLimiter {
        RateLimiter {
            rates,
            table: Mutex::new(table::Table::new(capacity)),
            seed: Default::default(),
            start: Instant::now(),
        }
    }

    /// Takes a token for `key` now; `Err`: refused, with the time until it may pass.
    pub fn check(&self, key: &Key) -> Result<(), Duration> {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(key, now).map_err(|r| match r {
            Refusal::Limited { wait } | Refusal::TableFull { wait } => Duration::from_nanos(wait),
        })
    }

    /// As [`check`](Self::check) at `now` nanoseconds after the limiter's start.
    pub fn check_at(&self, key: &Key, now: u64) -> Result<(), Refusal> {
        let hash = self.hash(key);
        // A panic cannot leave a half-updated table (no user code runs under the lock).
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.take(hash, &self.rates, now)
    }

    fn hash(&self, key: &Key) -> u64 {
        let mut h = self.seed.build_hasher();
        match key {
            Key::Ip(ip) => {
                0u8.hash(&mut h);
                ip.hash(&mut h);
            }
            // A host from the Host header or from HTTP/2's authority is the same key.
            Key::Value(v) => {
                1u8.hash(&mut h);
                v.as_bytes().hash(&mut h);
            }
            Key::Text(t) => {
                1u8.hash(&mut h);
                t.as_bytes().hash(&mut h);
            }
        }
        h.finish()
    }
}

/// `Retry-After` in whole seconds, rounded up (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn keys_are_separate_and_host_forms_agree() {
        let l = RateLimiter::new(vec![Rate::new(Duration::from_secs(10), 1, 1).unwrap()], 8);
        let a = Key::Value(HeaderValue::from_static("a"));
        assert!(l.check_at(&a, 0).is_ok());
        assert!(l.check_at(&a, 1).is_err());
        assert!(l.check_at(&Key::Text("a".into()), 2).is_err());
        assert!(l.check_at(&Key::Text("b".into()), 3).is_ok());
        assert!(
            l.check_at(&Key::Ip("127.0.0.1".parse().unwrap()), 4)
                .is_ok()
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
    }
}
