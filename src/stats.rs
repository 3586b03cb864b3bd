//! Per-backend counters that outlive a configuration: what metrics and the API read
//! (retries, requests in flight). Kept by backend name, so a reload does not reset a
//! counter that Prometheus expects to only grow. Per-server up/down lives with the health
//! checks, breaker states with the breaker registry.
//!
//! A backend's counters are made on its first request, not by the compile
//! (`BackendStatsSlot`): they outlive the configuration that made them, and 10,000 of them
//! made by a compile (a name and a counter pair each) sat among that configuration's
//! blocks, so the allocator could not give back those pages once the configuration was
//! replaced (about 2 MB more resident after a change at 10,000 backends,
//! benches/README.md, `routes.sh`, session 13). A backend that never served a request
//! reads as zeros, as before.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug, Default)]
pub struct BackendStats {
    /// Attempts after the first, over all requests.
    retries: AtomicU64,
    /// Requests sent to the backend whose response has not ended yet.
    open: AtomicI64,
}

impl BackendStats {
    pub fn add_retries(&self, n: u32) {
        if n > 0 {
            self.retries.fetch_add(u64::from(n), Ordering::Relaxed);
        }
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn open_connections(&self) -> i64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Counts a request as open until the guard is dropped (with its response body).
    pub fn open(self: &Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }
}

/// Holds one open connection of a backend.
pub struct OpenGuard(Arc<BackendStats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct StatsRegistry {
    backends: Mutex<HashMap<String, Arc<BackendStats>>>,
}

impl StatsRegistry {
    pub fn backend(&self, name: &str) -> Arc<BackendStats> {
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        backends.entry(name.to_string()).or_default().clone()
    }

    /// The counters of `name` if a request made them, without making them.
    fn existing(&self, name: &str) -> Option<Arc<BackendStats>> {
        let backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        backends.get(name).cloned()
    }

    /// Forgets backends that no configuration has any more.
    pub fn retain(&self, live: &HashSet<&str>) {
        let mut backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        backends.retain(|name, _| live.contains(name.as_str()));
    }

    pub fn snapshot(&self) -> Vec<(String, Arc<BackendStats>)> {
        let backends = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = backends
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// A backend's counters as a runtime holds them: taken from the registry when the backend
/// first counts something (a request opened, a retry), or when read and a previous
/// configuration's requests already made them. Without a registry (`trafik check`, tests),
/// counters of its own.
#[derive(Debug, Default)]
pub struct BackendStatsSlot {
    registry: Option<Arc<StatsRegistry>>,
    stats: OnceLock<Arc<BackendStats>>,
}

impl BackendStatsSlot {
    pub fn in_registry(registry: &Arc<StatsRegistry>) -> Self {
        BackendStatsSlot {
            registry: Some(registry.clone()),
            stats: OnceLock::new(),
        }
    }

    /// The counters of backend `name`, made now if no request made them yet.
    pub fn get(&self, name: &str) -> &Arc<BackendStats> {
        self.stats.get_or_init(|| match &self.registry {
            Some(registry) => registry.backend(name),
            None => Arc::default(),
        })
    }

    pub fn retries(&self, name: &str) -> u64 {
        self.read(name, BackendStats::retries)
    }

    pub fn open_connections(&self, name: &str) -> i64 {
        self.read(name, BackendStats::open_connections)
    }

    /// Reads without making: a backend no request reached has zeros.
    fn read<T: Default>(&self, name: &str, read: impl Fn(&BackendStats) -> T) -> T {
        if let Some(stats) = self.stats.get() {
            return read(stats);
        }
        let existing = self.registry.as_ref().and_then(|r| r.existing(name));
        match existing {
            Some(stats) => read(self.stats.get_or_init(|| stats)),
            None => T::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_follow_guards_and_survive_lookups() {
        let registry = StatsRegistry::default();
        let stats = registry.backend("b");
        let g1 = stats.open();
        let g2 = registry.backend("b").open();
        assert_eq!(stats.open_connections(), 2);
        drop(g1);
        drop(g2);
        assert_eq!(stats.open_connections(), 0);
        stats.add_retries(2);
        assert_eq!(registry.backend("b").retries(), 2);
        registry.retain(&HashSet::new());
        assert_eq!(registry.backend("b").retries(), 0);
    }

    #[test]
    fn a_slot_makes_counters_on_first_count_and_reads_those_of_a_previous_configuration() {
        let registry = Arc::new(StatsRegistry::default());
        let before = BackendStatsSlot::in_registry(&registry);
        // Read before any request: zeros, and nothing made.
        assert_eq!(before.open_connections("b"), 0);
        assert_eq!(before.retries("b"), 0);
        assert!(registry.snapshot().is_empty());
        // A request of the previous configuration still open, a retry counted.
        let open = before.get("b").open();
        before.get("b").add_retries(3);
        assert_eq!(registry.snapshot().len(), 1);
        // The next configuration's slot for the same backend sees them without counting.
        let after = BackendStatsSlot::in_registry(&registry);
        assert_eq!(after.open_connections("b"), 1);
        assert_eq!(after.retries("b"), 3);
        drop(open);
        assert_eq!(after.open_connections("b"), 0);
        assert!(Arc::ptr_eq(after.get("b"), &registry.backend("b")));
        // Without a registry, counters of its own.
        let detached = BackendStatsSlot::default();
        detached.get("b").add_retries(1);
        assert_eq!(detached.retries("b"), 1);
        assert_eq!(registry.backend("b").retries(), 3);
    }
}
