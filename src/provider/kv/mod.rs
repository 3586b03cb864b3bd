//! The key-value providers (etcd, ZooKeeper, Consul, BoltDB, Redis): one loop for all,
//! over a `Store` each of them implements in `src/provider/<store>.rs`. The loop reads the
//! whole prefix (following `<prefix>/alias`), decodes it with `trafik_config::kv::decode`
//! into a `Snapshot`, sends it to the aggregator, then waits for the store to say something
//! changed and reads again: any change means a full re-read (v1's behaviour), the
//! aggregator's throttle coalescing bursts.
//!
//! The loop itself, with what an outage does, is `provider::follow`'s (shared with Docker
//! and Consul's catalog); this module is what a store adds: `KvSource`.

pub(crate) mod backoff;
mod by_kind;
mod read;
mod start;
mod static_config;
mod store;

#[cfg(test)]
mod tests;

pub use by_kind::{OnceError, list_by_kind, put_by_kind};
pub use read::snapshot;
pub use start::{check_all, spawn_all};
pub use static_config::{read_static, storeconfig_pairs};
pub use store::{Pairs, Store, StoreError};

use std::sync::Arc;

use tokio::sync::mpsc;

use super::ProviderUpdate;
use super::follow::{self, Source, Update};
use crate::status::StatusBoard;

/// Follows one store until trafik stops (`provider::follow`'s loop). `watch = false`
/// reads once (retrying until that read succeeds).
pub async fn run<S: Store>(
    name: &'static str,
    store: S,
    prefix: String,
    watch: bool,
    tx: mpsc::Sender<ProviderUpdate>,
    status: Arc<StatusBoard>,
) {
    follow::run(name, KvSource::new(store, prefix), watch, tx, status).await
}

/// A store as the loop reads it: the prefix and the alias's target, decoded.
pub struct KvSource<S> {
    pub store: S,
    pub prefix: String,
    /// The fingerprint of the keys last decoded: an event that changed nothing decodes
    /// nothing and reloads nothing.
    last_sent: Option<u64>,
}

impl<S: Store> KvSource<S> {
    pub fn new(store: S, prefix: String) -> Self {
        KvSource {
            store,
            prefix,
            last_sent: None,
        }
    }
}

impl<S: Store> Source for KvSource<S> {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        let started = std::time::Instant::now();
        let read = read::read(&mut self.store, &self.prefix).await?;
        if self.last_sent == Some(read.fingerprint) {
            return Ok(None);
        }
        self.last_sent = Some(read.fingerprint);
        let read_ms = started.elapsed().as_millis() as u64;
        let update = read::snapshot(&read);
        tracing::debug!(
            prefix = %self.prefix,
            keys = read.pairs.len(),
            read_ms,
            decode_ms = started.elapsed().as_millis() as u64 - read_ms,
            "store read"
        );
        Ok(Some(update))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        self.store.changed().await
    }
}
