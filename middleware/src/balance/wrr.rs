//! Smooth weighted round robin (the nginx algorithm): with weights 3:1 the order is
//! a a b a, a a b a… — interleaved, never a burst of one server's whole share.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Picks the next index among weighted candidates. Cheap to share (`&self`).
#[derive(Debug)]
pub struct Wrr {
    weights: Vec<u32>,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// Every weight equal: a lock-free counter gives the same order.
    Uniform(AtomicUsize),
    /// Smooth WRR keeps one running score per candidate.
    Smooth(Mutex<Vec<i64>>),
}

impl Wrr {
    /// Weight 0 means "never picked" (v1's `AllowMinWeightZero`; callers map 0 to 1 otherwise).
    pub fn new(weights: Vec<u32>) -> Self {
        let positive: Vec<u32> = weights.iter().copied().filter(|w| *w > 0).collect();
        let uniform = positive.len() == weights.len() && positive.windows(2).all(|w| w[0] == w[1]);
        let mode = if uniform {
            Mode::Uniform(AtomicUsize::new(0))
        } else {
            Mode::Smooth(Mutex::new(vec![0; weights.len()]))
        };
        Wrr { weights, mode }
    }

    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The next candidate, or `None` when every weight is zero or there are none.
    pub fn next(&self) -> Option<usize> {
        self.next_where(|_| true)
    }

    /// The next candidate among those `available` accepts (e.g. healthy servers).
    pub fn next_where(&self, available: impl Fn(usize) -> bool) -> Option<usize> {
        match &self.mode {
            Mode::Uniform(counter) => {
                let n = self.weights.len();
                if n == 0 {
                    return None;
                }
                let start = counter.fetch_add(1, Ordering::Relaxed);
                (0..n).map(|k| (start + k) % n).find(|&i| available(i))
            }
            Mode::Smooth(scores) => {
                let mut scores = scores.lock().unwrap_or_else(|p| p.into_inner());
                let mut total = 0i64;
                let mut best: Option<usize> = None;
                for (i, &w) in self.weights.iter().enumerate() {
                    if w == 0 || !available(i) {
                        continue;
                    }
                    scores[i] += i64::from(w);
                    total += i64::from(w);
                    if best.is_none_or(|b| scores[i] > scores[b]) {
                        best = Some(i);
                    }
                }
                let best = best?;
                scores[best] -= total;
                Some(best)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_three_to_one_interleave() {
        let wrr = Wrr::new(vec![3, 1]);
        let picks: Vec<usize> = (0..8).map(|_| wrr.next().unwrap()).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 0, 0, 1, 0]);
        let counts = (0..400).fold([0; 2], |mut c, _| {
            c[wrr.next().unwrap()] += 1;
            c
        });
        assert_eq!(counts, [300, 100]);
    }

    #[test]
    fn equal_weights_rotate() {
        let wrr = Wrr::new(vec![1, 1, 1]);
        let picks: Vec<usize> = (0..6).map(|_| wrr.next().unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn zero_weight_is_never_picked_and_all_zero_is_none() {
        let wrr = Wrr::new(vec![0, 2]);
        assert!((0..10).all(|_| wrr.next() == Some(1)));
        assert_eq!(Wrr::new(vec![0, 0]).next(), None);
        assert_eq!(Wrr::new(vec![]).next(), None);
    }

    #[test]
    fn unavailable_candidates_are_skipped() {
        let wrr = Wrr::new(vec![1, 1, 1]);
        assert!((0..9).all(|_| wrr.next_where(|i| i != 1) != Some(1)));
        let smooth = Wrr::new(vec![5, 1]);
        assert!((0..9).all(|_| smooth.next_where(|i| i == 1) == Some(1)));
        assert_eq!(smooth.next_where(|_| false), None);
    }
}
