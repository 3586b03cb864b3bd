//! One token bucket as oxy's `ratelimit` has it: `average` tokens per `period`, at most
//! `burst` kept, a request takes one. Time is passed in (nanoseconds since the limiter's
//! start), so the logic is pure and tested with a fake clock.

use std::fmt;
use std::time::Duration;

/// One `[rateSet.NAME]`, checked: every field positive (oxy refuses the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Nanoseconds between two tokens (`period / average`, at least 1).
    per_token: u64,
    burst: u64,
}

/// Why a rate set is refused, and which of its fields is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateError {
    /// `period`, `average` or `burst`.
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Rate {
    /// Like oxy's `RateSet.Add`: period, average and burst must all be positive. A burst
    /// below the average is allowed (requests are then spread over the period).
    pub fn new(period: Duration, average: i64, burst: i64) -> Result<Rate, RateError> {
        let err = |field, message: &str| RateError {
            field,
            message: message.to_string(),
        };
        if period.is_zero() {
            return Err(err("period", "must be a positive duration"));
        }
        if average <= 0 {
            return Err(err("average", "must be a positive number of requests"));
        }
        if burst <= 0 {
            return Err(err("burst", "must be a positive number of requests"));
        }
        let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        Ok(Rate {
            per_token: (nanos / average as u64).max(1),
            burst: burst as u64,
        })
    }
}

/// A bucket's state. Starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    tokens: u64,
    /// When `tokens` was last brought up to date; the time since is partial progress
    /// towards the next token (kept, unlike oxy, so slow clients are not shortchanged).
    refreshed: u64,
}

impl Bucket {
    pub(crate) fn full(rate: &Rate, now: u64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            refreshed: now,
        }
    }

    /// Adds the tokens earned since the last refresh.
    pub(crate) fn refill(&mut self, rate: &Rate, now: u64) {
        if self.tokens >= rate.burst {
            self.tokens = rate.burst;
            self.refreshed = self.refreshed.max(now);
            return;
        }
        let earned = now.saturating_sub(self.refreshed) / rate.per_token;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(rate.burst);
            self.refreshed += earned * rate.per_token;
        }
        if self.tokens == rate.burst {
            self.refreshed = self.refreshed.max(now);
        }
    }

    /// Nanoseconds until a token is there (0: there is one now). After `refill`.
    pub(crate) fn wait(&self, rate: &Rate, now: u64) -> u64 {
        if self.tokens > 0 {
            0
        } else {
            (self.refreshed + rate.per_token).saturating_sub(now).max(1)
        }
    }

    pub(crate) fn take(&mut self) {
        self.tokens -= 1;
    }

    /// When the bucket is full again if nothing takes from it. After `refill`.
    pub(crate) fn full_at(&self, rate: &Rate) -> u64 {
        self.refreshed + (rate.burst - self.tokens) * rate.per_token
    }
}

/// Takes one token from every bucket, or none: `Err(wait)` with the longest wait among
/// the empty ones (oxy's all-or-nothing over a rate set).
pub(crate) fn take_all(buckets: &mut [Bucket], rates: &[Rate], now: u64) -> Result<(), u64> {
    let mut wait = 0;
    for (b, r) in buckets.iter_mut().zip(rates) {
        b.refill(r, now);
        wait = wait.max(b.wait(r, now));
    }
    if wait > 0 {
        return Err(wait);
    }
    for b in buckets.iter_mut() {
        b.take();
    }
    Ok(())
}

/// When every bucket is full again.
pub(crate) fn full_at(buckets: &[Bucket], rates: &[Rate]) -> u64 {
    buckets
        .iter()
        .zip(rates)
        .map(|(b, r)| b.full_at(r))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn rate(period_ms: u64, average: i64, burst: i64) -> Rate {
        Rate::new(Duration::from_millis(period_ms), average, burst).unwrap()
    }

    #[test]
    fn refuses_non_positive_fields() {
        assert_eq!(Rate::new(Duration::ZERO, 1, 1).unwrap_err().field, "period");
        assert_eq!(
            Rate::new(Duration::from_secs(1), 0, 1).unwrap_err().field,
            "average"
        );
        assert_eq!(
            Rate::new(Duration::from_secs(1), -3, 1).unwrap_err().field,
            "average"
        );
        assert_eq!(
            Rate::new(Duration::from_secs(1), 1, 0).unwrap_err().field,
            "burst"
        );
        assert!(Rate::new(Duration::from_secs(1), 10, 1).is_ok());
    }

    #[test]
    fn burst_then_one_per_period_over_average() {
        let r = [rate(10_000, 1, 2)];
        let mut b = [Bucket::full(&r[0], 0)];
        assert_eq!(take_all(&mut b, &r, 0), Ok(()));
        assert_eq!(take_all(&mut b, &r, 1), Ok(()));
        assert_eq!(take_all(&mut b, &r, 2), Err(10_000 * MS - 2));
        assert_eq!(take_all(&mut b, &r, 9_999 * MS), Err(MS));
        assert_eq!(take_all(&mut b, &r, 10_000 * MS), Ok(()));
        assert!(take_all(&mut b, &r, 10_001 * MS).is_err());
        // Empty at 10 s: full again two periods later, and no fuller after.
        assert_eq!(full_at(&b, &r), 30_000 * MS);
        assert_eq!(take_all(&mut b, &r, 100_000 * MS), Ok(()));
        assert_eq!(take_all(&mut b, &r, 100_000 * MS), Ok(()));
        assert!(take_all(&mut b, &r, 100_000 * MS).is_err());
    }

    #[test]
    fn partial_progress_is_kept() {
        let r = [rate(1_000, 10, 1)]; // a token every 100 ms
        let mut b = [Bucket::full(&r[0], 0)];
        assert!(take_all(&mut b, &r, 0).is_ok());
        assert!(take_all(&mut b, &r, 60 * MS).is_err());
        assert!(take_all(&mut b, &r, 100 * MS).is_ok());
        assert_eq!(take_all(&mut b, &r, 150 * MS), Err(50 * MS));
    }

    #[test]
    fn all_or_nothing_and_the_stricter_decides() {
        // 100 per second (burst 100) and 3 per minute (burst 3).
        let r = [rate(1_000, 100, 100), rate(60_000, 3, 3)];
        let mut b = [Bucket::full(&r[0], 0), Bucket::full(&r[1], 0)];
        for _ in 0..3 {
            assert!(take_all(&mut b, &r, 0).is_ok());
        }
        assert_eq!(take_all(&mut b, &r, 0), Err(20_000 * MS));
        // The refused request took nothing from the loose set.
        assert_eq!(b[0].tokens, 97);
    }
}
