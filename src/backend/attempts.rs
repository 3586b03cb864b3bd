//! What the attempts of one request share: the retry layer clones the request's
//! extensions for each attempt, so an `Attempts` put there before the first one is seen by
//! all of them. The forwarder notes each server it tries (so a retry goes elsewhere when
//! it can) and which one answered; the handler reads it back for the access log and
//! metrics, whatever the outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[derive(Clone, Default)]
pub struct Attempts(Arc<Inner>);

#[derive(Default)]
struct Inner {
    count: AtomicU32,
    /// Bit `i` set: server `i` was tried (servers past 64 are not remembered).
    tried: AtomicU64,
    /// The last server tried, plus one (0: none).
    last: AtomicUsize,
}

impl Attempts {
    pub fn begin(&self, server: usize) {
        self.0.count.fetch_add(1, Ordering::Relaxed);
        if server < 64 {
            self.0.tried.fetch_or(1 << server, Ordering::Relaxed);
        }
        self.0.last.store(server + 1, Ordering::Relaxed);
    }

    pub fn tried(&self, server: usize) -> bool {
        server < 64 && self.0.tried.load(Ordering::Relaxed) & (1 << server) != 0
    }

    /// How many times a server was called for this request.
    pub fn count(&self) -> u32 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// Calls after the first: v1's `RetryAttempts`.
    pub fn retries(&self) -> u32 {
        self.count().saturating_sub(1)
    }

    pub fn last_server(&self) -> Option<usize> {
        self.0.last.load(Ordering::Relaxed).checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_what_was_tried() {
        let a = Attempts::default();
        let b = a.clone();
        assert_eq!((a.count(), a.last_server()), (0, None));
        b.begin(2);
        b.begin(70);
        assert!(a.tried(2) && !a.tried(1) && !a.tried(70));
        assert_eq!((a.count(), a.retries(), a.last_server()), (2, 1, Some(70)));
    }
}
