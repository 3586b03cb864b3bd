//! What the key-value loop needs of a store's client. Each store implements it in
//! `src/provider/<store>.rs`; connecting is lazy (the first `list`, and again after an
//! error), so a store that is down at start is only an outage, never a failed start.

use std::fmt;
use std::future::Future;

/// Keys as the store spells them (etcd `/traefik/backends/b/…`, Redis `traefik/backends/b/…`)
/// with their values.
pub type Pairs = Vec<(String, Vec<u8>)>;

pub trait Store: Send + 'static {
    /// Every key under `prefix` with its value, read consistently where the store can (one
    /// revision for etcd). The loop lists the prefix, then the alias's target if there is one.
    fn list(&mut self, prefix: &str) -> impl Future<Output = Result<Pairs, StoreError>> + Send;

    /// Resolves once something under the prefixes listed since the previous call may have
    /// changed (a false alarm costs one re-read; a missed change is a bug). An error means
    /// the watch is lost: the loop backs off, then lists again, which re-arms the watch.
    fn changed(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes every pair (`trafik storeconfig`), in one transaction where the store has
    /// them. Stores trafik only reads (BoltDB) keep this default.
    fn put(&mut self, pairs: &Pairs) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = pairs;
        std::future::ready(Err(StoreError::new("trafik does not write to this store")))
    }
}

/// Why the store could not be read: the store's own words, with where (`endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}
