//! Bounds on bcrypt work. bcrypt costs tens of milliseconds of CPU by design, so a client
//! sending wrong passwords as fast as it can would otherwise queue one blocking task per
//! request: unbounded memory, and every core busy hashing. So:
//!
//! * **At most [`BcryptLimit::running`] verifications run at once** (by default one per
//!   core, shared by every auth layer of the process: they share the cores), on tokio's
//!   blocking pool, never on the async workers.
//! * **At most [`BcryptLimit::waiting`] more wait for a turn** (by default 16 per core:
//!   about a second's wait at bcrypt's usual cost of 10). A request beyond that is answered
//!   `503 Service Unavailable` with `Retry-After: 1` at once, without hashing. 503 rather
//!   than 429: the bound is shared by all clients, so reaching it says the server is busy,
//!   not that this client sent too much; a legitimate client may meet it during someone
//!   else's flood, and should retry rather than believe itself at fault.
//! * **A successful verification is remembered** for [`VERIFIED_FOR`], so a legitimate
//!   client (the dashboard polls every 2 s) pays for bcrypt once, not per request, and keeps
//!   getting in during a flood of wrong passwords. The memory is keyed by a SHA-256 of a
//!   random per-process secret, the user and the password: it holds no password, and the
//!   keys are worthless outside this process. Only successes are kept, so only someone who
//!   knows a password can add entries, and there are at most [`MAX_VERIFIED`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Waiting places per core in the default limit.
pub const DEFAULT_WAITING_PER_CORE: usize = 16;
/// How long a verified user and password are let in without bcrypt.
pub const VERIFIED_FOR: Duration = Duration::from_secs(300);
/// Verified pairs remembered at most; past that the oldest are forgotten first.
pub const MAX_VERIFIED: usize = 1024;

/// How many bcrypt verifications may run and wait. Clones share the counts.
#[derive(Clone, Debug)]
pub struct BcryptLimit {
    running: usize,
    waiting: usize,
    /// Places for verifications running or waiting: `running + waiting`.
    admitted: Arc<Semaphore>,
    /// Turns to run: `running`.
    turns: Arc<Semaphore>,
}

/// A verification's place in the limit, held until it has run (or is abandoned before).
pub struct Admitted {
    place: OwnedSemaphorePermit,
    turns: Arc<Semaphore>,
}

impl BcryptLimit {
    /// `running` verifications at once (at least 1), `waiting` more queued.
    pub fn new(running: usize, waiting: usize) -> Self {
        let running = running.max(1);
        BcryptLimit {
            running,
            waiting,
            admitted: Arc::new(Semaphore::new(running + waiting)),
            turns: Arc::new(Semaphore::new(running)),
        }
    }

    /// The process-wide default: one running per core, [`DEFAULT_WAITING_PER_CORE`] per
    /// core waiting; shared by every layer that is not given its own.
    pub fn shared() -> Self {
        static SHARED: OnceLock<BcryptLimit> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                BcryptLimit::new(cores, cores * DEFAULT_WAITING_PER_CORE)
            })
            .clone()
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// A place for one more verification, or `None` when all are taken.
    pub fn try_admit(&self) -> Option<Admitted> {
        let place = self.admitted.clone().try_acquire_owned().ok()?;
        Some(Admitted {
            place,
            turns: self.turns.clone(),
        })
    }
}

impl Admitted {
    /// Waits for a turn, then runs `verify` on the blocking pool. The place and the turn
    /// are held by the blocking task itself, so a request abandoned meanwhile (its client
    /// gone) frees them only once the hashing it started is over.
    pub async fn run<F>(self, verify: F) -> Result<bool, tokio::task::JoinError>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        let Ok(turn) = self.turns.clone().acquire_owned().await else {
            // The semaphore is never closed.
            return Ok(false);
        };
        let place = self.place;
        tokio::task::spawn_blocking(move || {
            let _held = (place, turn);
            verify()
        })
        .await
    }
}

/// User and password pairs verified recently, by keyed digest.
pub(super) struct Verified {
    secret: [u8; 32],
    seen: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Verified {
    /// `None` when the OS gives no randomness: then nothing is remembered.
    pub fn new() -> Option<Self> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).ok()?;
        Some(Verified {
            secret,
            seen: Mutex::new(HashMap::new()),
        })
    }

    pub fn key(&self, user: &str, password: &[u8]) -> [u8; 32] {
        // Lengths first, so no two (user, password) pairs feed the same bytes.
        Sha256::new()
            .chain_update(self.secret)
            .chain_update((user.len() as u64).to_le_bytes())
            .chain_update(user.as_bytes())
            .chain_update((password.len() as u64).to_le_bytes())
            .chain_update(password)
            .finalize()
            .into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Instant>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn contains(&self, key: &[u8; 32]) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|at| at.elapsed() < VERIFIED_FOR)
    }

    pub fn insert(&self, key: [u8; 32]) {
        let mut seen = self.lock();
        if seen.len() >= MAX_VERIFIED && !seen.contains_key(&key) {
            seen.retain(|_, at| at.elapsed() < VERIFIED_FOR);
            if seen.len() >= MAX_VERIFIED
                && let Some(oldest) = seen.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(key, Instant::now());
    }
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("entries", &self.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_user_password_and_the_process_secret() {
        let v = Verified::new().unwrap();
        let k = v.key("alice", b"pw");
        assert_eq!(k, v.key("alice", b"pw"));
        assert_ne!(k, v.key("alice", b"pW"));
        assert_ne!(k, v.key("alicep", b"w"));
        assert_ne!(k, Verified::new().unwrap().key("alice", b"pw"));
    }

    #[test]
    fn remembers_at_most_max_verified() {
        let v = Verified::new().unwrap();
        let first = v.key("u", b"0");
        v.insert(first);
        for i in 1..=MAX_VERIFIED {
            v.insert(v.key("u", i.to_string().as_bytes()));
        }
        assert_eq!(v.lock().len(), MAX_VERIFIED);
        assert!(!v.contains(&first), "the oldest went first");
        assert!(v.contains(&v.key("u", MAX_VERIFIED.to_string().as_bytes())));
    }

    #[tokio::test]
    async fn places_are_bounded_and_freed_after_running() {
        let limit = BcryptLimit::new(1, 1);
        let a = limit.try_admit().unwrap();
        let b = limit.try_admit().unwrap();
        assert!(limit.try_admit().is_none(), "one running + one waiting");
        assert!(a.run(|| true).await.unwrap());
        let c = limit.try_admit().expect("a place is free again");
        drop(b);
        drop(c);
        assert_eq!(limit.admitted.available_permits(), 2);
    }
}
