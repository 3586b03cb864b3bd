//! Capped exponential backoff between attempts to reach a store: quick to notice a store
//! that blinked, never hammering one that is gone (at most one attempt per `MAX`).

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(250);
pub const MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next attempt: 250 ms, 500 ms, 1 s, … up to 30 s.
    pub fn next_delay(&mut self) -> Duration {
        let delay = FIRST
            .checked_mul(1u32 << self.failures.min(16))
            .unwrap_or(MAX)
            .min(MAX);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// The store answered: the next outage starts from the shortest wait again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_thirty_seconds_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..10).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        for _ in 0..100 {
            assert_eq!(b.next_delay(), MAX);
        }
        b.reset();
        assert_eq!(b.next_delay(), FIRST);
    }
}
