//! Per-backend counters that outlive a configuration: what metrics and the API read
//! (retries, requests in flight). Kept by backend name, so a reload does not reset a
//! counter that Prometheus expects to only grow. Per-server up/down lives with the health
//! checks, breaker states with the breaker registry.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
}
