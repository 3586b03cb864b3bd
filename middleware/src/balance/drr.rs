//! Dynamic weighted round robin: v1's `drr` (oxy `Rebalancer`). Servers are picked by
//! smooth WRR ([`Wrr`]) over weights that move with how the servers fare.
//!
//! **Measuring.** The caller reports every request's outcome with [`Drr::record`]: its
//! latency and whether it failed (what counts as failure is the caller's: oxy counts
//! statuses 500–504). Each server keeps the last [`WINDOW_BUCKETS`] seconds of them.
//!
//! **Judging.** At most once per [`ADJUST_INTERVAL`] (checked when a request is recorded, so
//! only traffic moves weights), a server with requests in the window is *bad* when, against
//! the median of the other servers that have requests:
//! - its error ratio is higher by more than [`ERROR_MARGIN`], or
//! - its mean latency is more than [`LATENCY_FACTOR`] times theirs and longer by more than
//!   [`MIN_LATENCY_GAP`] (so sub-millisecond noise moves nothing).
//!
//! **Shifting.** Each judgement raises a bad server's penalty by one (at most
//! [`MAX_PENALTY`]) and lowers every other server's by one; a server's weight is its
//! configured weight times [`GROW_FACTOR`]`^(highest penalty − its penalty)`, so with 1:1
//! weights a slow server gets ¼, then 1/16… of a healthy one's traffic, and back step by
//! step once it is not bad any more (its bad requests age out of the window, or it has
//! none). Like oxy, weight moves toward the good servers by growing theirs.
//!
//! oxy marks a server bad on its 5xx ratio only, with a median-absolute-deviation rule that
//! in practice flags any error ratio above the others'; this adds latency, as the
//! reference asks ("better latency/error stats"), and uses margins instead. oxy also resets
//! its weights when the server list changes: here a new list is a new [`Drr`].
//!
//! All times are `tokio::time::Instant`, so tests can pause and advance the clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::Wrr;

/// Seconds of history per server.
pub const WINDOW_BUCKETS: usize = 10;
/// The least time between two judgements.
pub const ADJUST_INTERVAL: Duration = Duration::from_secs(1);
/// How much a healthy server's weight grows against a bad one's per step (oxy's factor).
pub const GROW_FACTOR: u32 = 4;
/// Steps of penalty at most: a share of 1/4⁵ = 1/1024 of a healthy server's.
pub const MAX_PENALTY: u32 = 5;
/// How much worse than the others' median an error ratio must be to count as bad.
pub const ERROR_MARGIN: f64 = 0.1;
/// How many times the others' median a mean latency must be to count as bad…
pub const LATENCY_FACTOR: f64 = 2.0;
/// …and by how much longer.
pub const MIN_LATENCY_GAP: Duration = Duration::from_millis(5);

/// Picks the next index like [`Wrr`], with weights adjusted from recorded outcomes.
/// Cheap to share (`&self`).
#[derive(Debug)]
pub struct Drr {
    /// Replaced whole when the weights change.
    picker: Mutex<Arc<Wrr>>,
    stats: Mutex<Stats>,
}

#[derive(Debug)]
struct Stats {
    configured: Vec<u32>,
    current: Vec<u32>,
    penalties: Vec<u32>,
    windows: Vec<[Bucket; WINDOW_BUCKETS]>,
    start: Instant,
    next_adjust: Instant,
}

/// One second of one server's requests.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Seconds since `start` this bucket counts; a bucket of an older second is stale.
    second: u64,
    requests: u32,
    errors: u32,
    latency: Duration,
}

/// A server's requests over the window.
#[derive(Debug, Clone, Copy)]
struct Rating {
    error_ratio: f64,
    latency: f64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drr {
    /// Starts from the configured `weights`; weight 0 means never picked, as in [`Wrr`].
    pub fn new(weights: Vec<u32>) -> Self {
        let now = Instant::now();
        let n = weights.len();
        Drr {
            picker: Mutex::new(Arc::new(Wrr::new(weights.clone()))),
            stats: Mutex::new(Stats {
                current: weights.clone(),
                configured: weights,
                penalties: vec![0; n],
                windows: vec![[Bucket::default(); WINDOW_BUCKETS]; n],
                start: now,
                next_adjust: now + ADJUST_INTERVAL,
            }),
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.stats).configured.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next candidate, or `None` when every weight is zero or there are none.
    pub fn next(&self) -> Option<usize> {
        self.next_where(|_| true)
    }

    /// The next candidate among those `available` accepts (e.g. healthy servers).
    pub fn next_where(&self, available: impl Fn(usize) -> bool) -> Option<usize> {
        // Not under the lock: picks do not wait for a judgement.
        let picker = lock(&self.picker).clone();
        picker.next_where(available)
    }

    /// The current weights.
    pub fn weights(&self) -> Vec<u32> {
        lock(&self.stats).current.clone()
    }

    /// Records a request to server `index` (ignored when out of range), and judges the
    /// servers when it is time.
    pub fn record(&self, index: usize, latency: Duration, is_error: bool) {
        let now = Instant::now();
        let mut stats = lock(&self.stats);
        let second = now.saturating_duration_since(stats.start).as_secs();
        let Some(window) = stats.windows.get_mut(index) else {
            return;
        };
        let bucket = &mut window[second as usize % WINDOW_BUCKETS];
        if bucket.second != second {
            *bucket = Bucket {
                second,
                ..Bucket::default()
            };
        }
        bucket.requests += 1;
        bucket.errors += u32::from(is_error);
        bucket.latency += latency;

        if now < stats.next_adjust {
            return;
        }
        stats.next_adjust = now + ADJUST_INTERVAL;
        if stats.adjust(second) {
            *lock(&self.picker) = Arc::new(Wrr::new(stats.current.clone()));
        }
    }
}

impl Stats {
    /// Judges the servers and updates the weights; `true` when they changed.
    fn adjust(&mut self, second: u64) -> bool {
        let ratings: Vec<Option<Rating>> = self.windows.iter().map(|w| rating(w, second)).collect();
        for (i, rating) in ratings.iter().enumerate() {
            let bad = rating.is_some_and(|r| {
                let others: Vec<Rating> = ratings
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .filter_map(|(_, r)| *r)
                    .collect();
                is_bad(r, &others)
            });
            let p = &mut self.penalties[i];
            *p = if bad {
                (*p + 1).min(MAX_PENALTY)
            } else {
                p.saturating_sub(1)
            };
        }
        let worst = self.penalties.iter().copied().max().unwrap_or(0);
        let weights: Vec<u32> = self
            .configured
            .iter()
            .zip(&self.penalties)
            .map(|(&w, &p)| w.saturating_mul(GROW_FACTOR.pow(worst - p)))
            .collect();
        if weights == self.current {
            return false;
        }
        self.current = weights;
        true
    }
}

/// The server's error ratio and mean latency over the window ending at `second`, if it had
/// requests.
fn rating(window: &[Bucket; WINDOW_BUCKETS], second: u64) -> Option<Rating> {
    let (mut requests, mut errors, mut latency) = (0u64, 0u64, Duration::ZERO);
    for b in window {
        if b.second <= second && b.second + WINDOW_BUCKETS as u64 > second {
            requests += u64::from(b.requests);
            errors += u64::from(b.errors);
            latency += b.latency;
        }
    }
    (requests > 0).then(|| Rating {
        error_ratio: errors as f64 / requests as f64,
        latency: latency.as_secs_f64() / requests as f64,
    })
}

fn is_bad(r: Rating, others: &[Rating]) -> bool {
    let (Some(errors), Some(latency)) = (
        median(others.iter().map(|o| o.error_ratio)),
        median(others.iter().map(|o| o.latency)),
    ) else {
        return false;
    };
    r.error_ratio > errors + ERROR_MARGIN
        || (r.latency > latency * LATENCY_FACTOR
            && r.latency - latency > MIN_LATENCY_GAP.as_secs_f64())
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn r(error_ratio: f64, latency_ms: f64) -> Rating {
        Rating {
            error_ratio,
            latency: latency_ms / 1000.0,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median([].into_iter()), None);
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0].into_iter()), Some(2.5));
    }

    #[test]
    fn badness_is_relative_with_margins() {
        assert!(is_bad(r(0.0, 100.0), &[r(0.0, 10.0)]));
        assert!(!is_bad(r(0.0, 10.0), &[r(0.0, 100.0)]));
        // Twice as slow, but by less than the gap.
        assert!(!is_bad(r(0.0, 0.8), &[r(0.0, 0.2)]));
        assert!(is_bad(r(0.3, 10.0), &[r(0.1, 10.0), r(0.0, 10.0)]));
        assert!(!is_bad(r(0.15, 10.0), &[r(0.1, 10.0)]));
        // Nobody to compare with.
        assert!(!is_bad(r(1.0, 1000.0), &[]));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_forgets_after_ten_seconds() {
        let drr = Drr::new(vec![1, 1]);
        drr.record(0, 10 * MS, true);
        let stats = lock(&drr.stats);
        assert!(rating(&stats.windows[0], 0).is_some());
        assert!(rating(&stats.windows[0], 9).is_some());
        assert!(rating(&stats.windows[0], 10).is_none());
        assert!(rating(&stats.windows[1], 0).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn weights_move_once_per_interval_and_only_with_traffic() {
        let drr = Drr::new(vec![1, 1]);
        for _ in 0..10 {
            drr.record(0, 10 * MS, false);
            drr.record(1, 10 * MS, true);
        }
        assert_eq!(drr.weights(), vec![1, 1]);
        tokio::time::advance(ADJUST_INTERVAL).await;
        drr.record(0, 10 * MS, false);
        assert_eq!(drr.weights(), vec![4, 1]);
        drr.record(0, 10 * MS, false);
        assert_eq!(drr.weights(), vec![4, 1]);
        drr.record(7, MS, false);
        assert_eq!(drr.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_weights_stay_zero() {
        let drr = Drr::new(vec![0, 1, 1]);
        for _ in 0..3 {
            tokio::time::advance(ADJUST_INTERVAL).await;
            drr.record(1, 10 * MS, false);
            drr.record(2, 10 * MS, true);
        }
        let w = drr.weights();
        assert_eq!(w[0], 0);
        assert!(w[1] > w[2]);
        assert!((0..50).all(|_| drr.next() != Some(0)));
    }
}
