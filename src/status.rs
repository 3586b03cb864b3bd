//! What the API and metrics say about configurations: each provider's latest
//! configuration as it sent it (the API shows it without its secrets: `api/redact.rs`),
//! its last error, and reload counters. Written by the aggregator (and by providers that fail to parse), read by
//! API requests; never on the proxy's hot path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use trafik_config::Configuration;

#[derive(Debug, Clone, Default)]
pub struct ProviderStatus {
    pub config: Arc<Configuration>,
    /// Every problem of the last update, one per line; `None` when it applied cleanly.
    pub last_error: Option<String>,
    pub last_reload: Option<SystemTime>,
    /// A provider that talks to a store (etcd, Redis, …): whether it reaches it.
    pub store: Option<StoreStatus>,
}

/// A store-backed provider's link to its store, apart from what its configuration says:
/// while the store is down the last configuration keeps serving.
#[derive(Debug, Clone, Default)]
pub struct StoreStatus {
    pub up: bool,
    /// Why the last read or watch failed, while `up` is false.
    pub error: Option<String>,
    /// The last complete read of the store.
    pub last_success: Option<SystemTime>,
}

#[derive(Debug, Clone, Default)]
pub struct Reloads {
    pub total: u64,
    pub failures: u64,
    pub last_success: Option<SystemTime>,
    pub last_failure: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub struct StatusBoard {
    inner: Mutex<Inner>,
    /// `[acme]`'s certificates (src/acme/status.rs), replaced whole by the ACME task.
    acme: Mutex<Vec<crate::acme::status::AcmeCertificate>>,
}

#[derive(Debug, Default)]
struct Inner {
    providers: BTreeMap<String, ProviderStatus>,
    reloads: Reloads,
}

impl Inner {
    fn store(&mut self, provider: &str) -> &mut StoreStatus {
        self.providers
            .entry(provider.to_string())
            .or_default()
            .store
            .get_or_insert_with(StoreStatus::default)
    }
}

impl StatusBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A provider's configuration was applied; `problems` are what was skipped in it.
    pub fn applied(&self, provider: &str, config: Arc<Configuration>, problems: &[String]) {
        let now = SystemTime::now();
        let mut inner = self.lock();
        let status = inner.providers.entry(provider.to_string()).or_default();
        status.config = config;
        status.last_reload = Some(now);
        status.last_error = (!problems.is_empty()).then(|| problems.join("\n"));
        inner.reloads.total += 1;
        if problems.is_empty() {
            inner.reloads.last_success = Some(now);
        } else {
            inner.reloads.failures += 1;
            inner.reloads.last_failure = Some(now);
        }
    }

    /// A provider could not produce a configuration; its previous one keeps serving.
    pub fn failed(&self, provider: &str, error: String) {
        let now = SystemTime::now();
        let mut inner = self.lock();
        inner
            .providers
            .entry(provider.to_string())
            .or_default()
            .last_error = Some(error);
        inner.reloads.total += 1;
        inner.reloads.failures += 1;
        inner.reloads.last_failure = Some(now);
    }

    /// A store-backed provider read its store.
    pub fn store_up(&self, provider: &str) {
        let mut inner = self.lock();
        let store = inner.store(provider);
        store.up = true;
        store.error = None;
        store.last_success = Some(SystemTime::now());
    }

    /// A store-backed provider lost its store (or never reached it).
    pub fn store_down(&self, provider: &str, error: String) {
        let mut inner = self.lock();
        let store = inner.store(provider);
        store.up = false;
        store.error = Some(error);
    }

    pub fn providers(&self) -> BTreeMap<String, ProviderStatus> {
        self.lock().providers.clone()
    }

    pub fn reloads(&self) -> Reloads {
        self.lock().reloads.clone()
    }

    pub fn set_acme_certificates(&self, certs: Vec<crate::acme::status::AcmeCertificate>) {
        *self.acme.lock().unwrap_or_else(|e| e.into_inner()) = certs;
    }

    pub fn acme_certificates(&self) -> Vec<crate::acme::status::AcmeCertificate> {
        self.acme.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_the_configuration_and_records_the_error() {
        let board = StatusBoard::default();
        board.applied("file", Default::default(), &[]);
        board.failed("file", "trafik.toml:1:1: bad".into());
        let p = &board.providers()["file"];
        assert_eq!(p.last_error.as_deref(), Some("trafik.toml:1:1: bad"));
        assert!(p.last_reload.is_some());
        let r = board.reloads();
        assert_eq!((r.total, r.failures), (2, 1));
        board.applied("file", Default::default(), &[]);
        assert_eq!(board.providers()["file"].last_error, None);
    }

    #[test]
    fn a_store_outage_keeps_the_last_success() {
        let board = StatusBoard::default();
        board.store_down("etcd", "connection refused".into());
        let s = board.providers()["etcd"].store.clone().unwrap();
        assert!(!s.up && s.last_success.is_none());
        board.store_up("etcd");
        board.store_down("etcd", "connection reset".into());
        let s = board.providers()["etcd"].store.clone().unwrap();
        assert_eq!(s.error.as_deref(), Some("connection reset"));
        assert!(!s.up && s.last_success.is_some());
    }
}
