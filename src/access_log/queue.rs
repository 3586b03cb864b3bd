//! The access log's queue between the requests and the writer thread, bounded: when the
//! writer falls behind (a slow disk, a stdout pipe nobody reads, more requests than one
//! thread can format), records past the bound are dropped and counted instead of piling
//! up in memory. A request never waits for the writer: sending is a few atomic
//! operations, whether the record is kept or not.
//!
//! The bound is both a number of records and a number of bytes, because a record's size
//! is the client's choice (its path, User-Agent, Referer, Host): 64 Ki small records or a
//! few thousand with 16 KiB headers reach it alike. The channel itself is std's unbounded
//! one, whose memory grows with what is queued; a bounded `sync_channel` would allocate
//! all its slots up front, megabytes for a log that is usually nearly empty.
//!
//! Drops are reported three ways: a warning in trafik's log at most once per
//! [`WARN_EVERY`] with the number dropped since the previous one (from whichever request
//! or writer wake-up comes first once it is due), the running total in
//! [`dropped_total`], which `/metrics` shows as `traefik_accesslog_dropped_total`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::Record;

/// Records waiting for the writer, at most.
pub const MAX_RECORDS: usize = 64 * 1024;
/// Bytes of records waiting for the writer, at most (what [`Record::weight`] counts).
pub const MAX_BYTES: usize = 64 << 20;
/// At most one warning about dropped records per this period.
pub const WARN_EVERY: Duration = Duration::from_secs(5);

/// The sending half, one per entry point (cheap to clone).
#[derive(Clone)]
pub(super) struct Sender {
    tx: mpsc::Sender<Record>,
    budget: Arc<Budget>,
}

pub(super) struct Receiver {
    rx: mpsc::Receiver<Record>,
    budget: Arc<Budget>,
}

/// What is queued now; a record is counted from its send to its receipt.
struct Budget {
    records: AtomicUsize,
    bytes: AtomicUsize,
    max_records: usize,
    max_bytes: usize,
}

pub(super) fn bounded(max_records: usize, max_bytes: usize) -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel();
    let budget = Arc::new(Budget {
        records: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        max_records,
        max_bytes,
    });
    (
        Sender {
            tx,
            budget: budget.clone(),
        },
        Receiver { rx, budget },
    )
}

impl Budget {
    /// Reserves room for one record of `weight` bytes; false (and nothing reserved) when
    /// either bound would be passed.
    fn take(&self, weight: usize) -> bool {
        if self.records.fetch_add(1, Ordering::Relaxed) >= self.max_records {
            self.records.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        if self.bytes.fetch_add(weight, Ordering::Relaxed) + weight > self.max_bytes {
            self.bytes.fetch_sub(weight, Ordering::Relaxed);
            self.records.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give(&self, weight: usize) {
        self.records.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(weight, Ordering::Relaxed);
    }
}

impl Sender {
    /// Queues `record`, or drops and counts it when the queue is full. Never blocks.
    pub fn send(&self, record: Record) {
        let weight = record.weight();
        if !self.budget.take(weight) {
            DROPS.dropped(now_ms());
            return;
        }
        if self.tx.send(record).is_err() {
            // The writer is gone (its thread panicked): nothing will read this.
            self.budget.give(weight);
        }
    }
}

impl Receiver {
    /// The next record, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Record, mpsc::RecvTimeoutError> {
        let record = self.rx.recv_timeout(timeout)?;
        self.budget.give(record.weight());
        Ok(record)
    }

    /// The next record if one is queued.
    pub fn try_recv(&self) -> Option<Record> {
        let record = self.rx.try_recv().ok()?;
        self.budget.give(record.weight());
        Some(record)
    }
}

/// Records dropped since start, by every access log of the process (there is one).
pub fn dropped_total() -> u64 {
    DROPS.total.load(Ordering::Relaxed)
}

/// Warns about records dropped since the last warning, if there are some and the last
/// warning is at least [`WARN_EVERY`] old. The writer calls it when it wakes up, so the
/// last drops of a burst are reported even when no request comes after them.
pub(super) fn warn_if_due() {
    DROPS.warn_if_due(now_ms());
}

static DROPS: Drops = Drops::new();

struct Drops {
    total: AtomicU64,
    /// `total` as of the last warning.
    reported: AtomicU64,
    /// When the next warning may be written, in ms since the Unix epoch.
    next_warning_ms: AtomicU64,
}

impl Drops {
    const fn new() -> Self {
        Drops {
            total: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            next_warning_ms: AtomicU64::new(0),
        }
    }

    fn dropped(&self, now_ms: u64) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.warn_if_due(now_ms);
    }

    fn warn_if_due(&self, now_ms: u64) {
        if let Some(n) = self.due(now_ms) {
            tracing::warn!(
                "access log: {n} records dropped since the last warning: the writer cannot \
                 keep up (at most {MAX_RECORDS} records or {} MiB are queued)",
                MAX_BYTES >> 20
            );
        }
    }

    /// The number of records dropped since the last warning when a warning is due at
    /// `now_ms`; one caller wins it, the others see `None`.
    fn due(&self, now_ms: u64) -> Option<u64> {
        let total = self.total.load(Ordering::Relaxed);
        if total == self.reported.load(Ordering::Relaxed) {
            return None;
        }
        let next = self.next_warning_ms.load(Ordering::Relaxed);
        if now_ms < next {
            return None;
        }
        let until = now_ms + WARN_EVERY.as_millis() as u64;
        self.next_warning_ms
            .compare_exchange(next, until, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        let before = self.reported.swap(total, Ordering::Relaxed);
        Some(total.saturating_sub(before)).filter(|&n| n > 0)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_spaced_and_count_what_was_dropped_since_the_last() {
        let drops = Drops::new();
        assert_eq!(drops.due(1_000), None, "nothing dropped, nothing to say");
        drops.total.fetch_add(3, Ordering::Relaxed);
        assert_eq!(drops.due(1_000), Some(3));
        drops.total.fetch_add(2, Ordering::Relaxed);
        assert_eq!(drops.due(1_001), None, "too soon after the last warning");
        assert_eq!(drops.due(5_999), None);
        drops.total.fetch_add(1, Ordering::Relaxed);
        assert_eq!(drops.due(6_000), Some(3), "the 2 + 1 dropped since");
        assert_eq!(drops.due(20_000), None, "nothing new");
    }

    #[test]
    fn the_budget_bounds_records_and_bytes() {
        let (tx, rx) = bounded(2, 1 << 20);
        let before = dropped_total();
        for _ in 0..5 {
            tx.send(super::super::tests::record());
        }
        assert!(dropped_total() >= before + 3);
        assert!(rx.try_recv().is_some());
        assert!(rx.try_recv().is_some());
        assert!(rx.try_recv().is_none());
        // Room again once the writer has taken them.
        tx.send(super::super::tests::record());
        assert!(rx.try_recv().is_some());

        let mut big = super::super::tests::record();
        big.user_agent = Some(http::HeaderValue::from_str(&"x".repeat(10_000)).unwrap());
        let (tx, rx) = bounded(100, 25_000);
        for _ in 0..5 {
            tx.send(big.clone());
        }
        let mut kept = 0;
        while rx.try_recv().is_some() {
            kept += 1;
        }
        assert_eq!(kept, 2, "two 10 KB records fit in 25 KB, not three");
        let budget = &rx.budget;
        assert_eq!(budget.records.load(Ordering::Relaxed), 0);
        assert_eq!(budget.bytes.load(Ordering::Relaxed), 0);
    }
}
