//! Server nonces for digest authentication.
//!
//! A nonce is 16 bytes from the OS random source (32 hex digits), remembered with the time
//! it was issued and the highest nonce count (`nc`) accepted with it. A response is taken
//! only with a nonce that is remembered, younger than the lifetime, and an `nc` above any
//! seen before with it: a captured request cannot be replayed, and a captured nonce is
//! useless after the lifetime. (An alternative is a stateless nonce, a MAC over a
//! timestamp; it bounds the lifetime but cannot stop replays within it, so this keeps
//! state.)
//!
//! The store is bounded: it forgets nonces past their lifetime, and past `max` entries the
//! oldest. Nonces are issued in time order and all live equally long, so a queue in issue
//! order is also the expiry order and both are O(1). Anyone can make the server issue
//! nonces (each unauthenticated request gets one), so a flood can push out a legitimate
//! client's nonce early; that client's next request then gets `stale=true` and a browser
//! retries with the new nonce without asking the user again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Default lifetime of a nonce.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Default number of nonces remembered at most.
pub const DEFAULT_MAX_NONCES: usize = 10_000;

pub(super) struct NonceStore {
    lifetime: Duration,
    max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    nonces: HashMap<String, Entry>,
    /// The same nonces in issue order.
    order: VecDeque<(Instant, String)>,
}

struct Entry {
    issued: Instant,
    /// Highest `nc` accepted (0: none yet).
    count: u32,
}

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Not issued here, expired or forgotten.
    Unknown,
    /// `nc` not above the last accepted one: a replay, or requests overtaking each other.
    Replayed,
}

impl NonceStore {
    pub fn new(lifetime: Duration, max: usize) -> Self {
        NonceStore {
            lifetime,
            max: max.max(1),
            state: Mutex::default(),
        }
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh nonce; `None` only if the OS has no randomness to give.
    pub fn issue(&self) -> Option<String> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        let nonce = hex(&bytes);
        self.remember(nonce.clone());
        Some(nonce)
    }

    pub(super) fn remember(&self, nonce: String) {
        let now = Instant::now();
        let mut state = self.state();
        state.purge(now, self.lifetime, self.max - 1);
        let entry = Entry {
            issued: now,
            count: 0,
        };
        state.nonces.insert(nonce.clone(), entry);
        state.order.push_back((now, nonce));
    }

    /// Accepts `nc` for `nonce`, remembering it as the highest seen.
    pub fn accept(&self, nonce: &str, nc: u32) -> Result<(), Refused> {
        let now = Instant::now();
        let mut state = self.state();
        let Some(entry) = state
            .nonces
            .get_mut(nonce)
            .filter(|e| now.duration_since(e.issued) < self.lifetime)
        else {
            return Err(Refused::Unknown);
        };
        if nc <= entry.count {
            return Err(Refused::Replayed);
        }
        entry.count = nc;
        Ok(())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state().nonces.len()
    }
}

impl State {
    /// Forgets expired nonces, then the oldest until at most `keep` remain.
    fn purge(&mut self, now: Instant, lifetime: Duration, keep: usize) {
        while let Some((issued, _)) = self.order.front() {
            if now.duration_since(*issued) < lifetime && self.order.len() <= keep {
                break;
            }
            let (_, nonce) = self.order.pop_front().expect("front exists");
            self.nonces.remove(&nonce);
        }
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_random_hex() {
        let store = NonceStore::new(DEFAULT_NONCE_LIFETIME, 10);
        let a = store.issue().unwrap();
        let b = store.issue().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn counts_must_increase() {
        let store = NonceStore::new(DEFAULT_NONCE_LIFETIME, 10);
        let n = store.issue().unwrap();
        assert_eq!(store.accept(&n, 1), Ok(()));
        assert_eq!(store.accept(&n, 1), Err(Refused::Replayed));
        assert_eq!(store.accept(&n, 3), Ok(()));
        assert_eq!(store.accept(&n, 2), Err(Refused::Replayed));
        assert_eq!(store.accept("0123", 1), Err(Refused::Unknown));
    }

    #[tokio::test(start_paused = true)]
    async fn nonces_expire() {
        let store = NonceStore::new(Duration::from_secs(10), 10);
        let n = store.issue().unwrap();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(store.accept(&n, 1), Ok(()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(store.accept(&n, 2), Err(Refused::Unknown));
        // Forgotten at the next issue.
        store.issue().unwrap();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn store_is_bounded() {
        let store = NonceStore::new(DEFAULT_NONCE_LIFETIME, 3);
        let first = store.issue().unwrap();
        let rest: Vec<String> = (0..3).map(|_| store.issue().unwrap()).collect();
        assert_eq!(store.len(), 3);
        assert_eq!(store.accept(&first, 1), Err(Refused::Unknown));
        for n in &rest {
            assert_eq!(store.accept(n, 1), Ok(()));
        }
    }
}
