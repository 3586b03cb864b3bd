//! A latency histogram with log-linear buckets, in microseconds.
//!
//! Below 16 µs every value has its own bucket; above, each power of two is split into 16 equal
//! buckets, so a bucket is at most 1/16 (6.25 %) of its values wide. That is coarser than
//! oxy's HDR histogram (1 %) but needs no dependency and only 2 KiB a bucket, and the smallest
//! and largest values seen are kept exactly, so quantiles of uniform latencies are exact.

/// log2 of the number of buckets per power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Longer latencies (more than 19 hours) are counted as this.
const MAX_MICROS: u64 = (1 << 36) - 1;
const BUCKETS: usize = index(MAX_MICROS) + 1;

const fn index(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros();
    let shift = exp - SUB_BITS;
    (SUB + shift as u64 * SUB + ((micros >> shift) - SUB)) as usize
}

/// The largest value counted in bucket `i`.
const fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let k = i - SUB;
    let shift = k / SUB;
    let lower = (k % SUB + SUB) << shift;
    lower + (1 << shift) - 1
}

#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u32; BUCKETS]>,
    total: u64,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub(crate) fn record(&mut self, micros: u64) {
        let micros = micros.min(MAX_MICROS);
        let slot = &mut self.counts[index(micros)];
        // A u32 per bucket and per second is plenty; saturate rather than wrap if not.
        *slot = slot.saturating_add(1);
        self.total += 1;
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    pub(crate) fn clear(&mut self) {
        if self.total > 0 {
            self.counts.fill(0);
            self.total = 0;
            self.min = u64::MAX;
            self.max = 0;
        }
    }
}

/// The value below which `q` percent of the values recorded in `hists` fall (HDR's
/// `ValueAtQuantile`): the upper end of the bucket holding that rank, kept within the exact
/// smallest and largest values. `q` is clamped to [0, 100]; 0 without any value.
pub(crate) fn quantile(hists: &[&Histogram], q: f64) -> u64 {
    let total: u64 = hists.iter().map(|h| h.total).sum();
    if total == 0 {
        return 0;
    }
    let min = hists.iter().map(|h| h.min).min().unwrap_or(0);
    let max = hists.iter().map(|h| h.max).max().unwrap_or(0);
    // NaN compares false and so means 100 %, like an out-of-range q.
    let q = if q < 100.0 { q.max(0.0) } else { 100.0 };
    let rank = ((q / 100.0 * total as f64).ceil() as u64).clamp(1, total);
    // The extremes are known exactly.
    if rank == 1 {
        return min;
    }
    if rank == total {
        return max;
    }
    let mut seen = 0;
    for i in 0..BUCKETS {
        seen += hists.iter().map(|h| u64::from(h.counts[i])).sum::<u64>();
        if seen >= rank {
            return upper(i).clamp(min, max);
        }
    }
    // Only reachable if saturated bucket counts under-count the total.
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range() {
        assert_eq!(BUCKETS, 528);
        for i in 0..BUCKETS {
            assert_eq!(index(upper(i)), i);
            if i + 1 < BUCKETS {
                assert_eq!(index(upper(i) + 1), i + 1, "gap after bucket {i}");
            }
            let lower = if i == 0 { 0 } else { upper(i - 1) + 1 };
            // Relative width at most 1/16 (exact below 16 µs).
            assert!(
                (upper(i) - lower) * SUB <= lower.max(1),
                "bucket {i} too wide"
            );
        }
        assert_eq!(upper(BUCKETS - 1), MAX_MICROS);
    }

    #[test]
    fn quantiles() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for ms in 1..=50 {
            a.record(ms * 1000);
        }
        for ms in 51..=100 {
            b.record(ms * 1000);
        }
        let both = [&a, &b];
        let close = |q: f64, want_ms: u64| {
            let got = quantile(&both, q);
            let want = want_ms * 1000;
            assert!(got >= want && got - want <= want / 16, "q{q}: {got} µs");
        };
        close(50.0, 50);
        close(90.0, 90);
        close(99.0, 99);
        assert_eq!(quantile(&both, 100.0), 100_000);
        assert_eq!(quantile(&both, 0.0), 1000);
        assert_eq!(quantile(&both, f64::NAN), 100_000);
        assert_eq!(quantile(&[], 50.0), 0);
    }

    #[test]
    fn uniform_latencies_are_exact() {
        let mut h = Histogram::new();
        for _ in 0..10 {
            h.record(123_456);
        }
        assert_eq!(quantile(&[&h], 50.0), 123_456);
        h.clear();
        assert_eq!(quantile(&[&h], 50.0), 0);
        h.record(u64::MAX);
        assert_eq!(quantile(&[&h], 50.0), MAX_MICROS);
    }
}
