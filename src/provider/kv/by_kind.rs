//! One read or one write against the store a `[<store>]` table names, for the commands that
//! touch a store once rather than follow it: the static configuration read at start and
//! `trafik storeconfig`. The dispatch by kind mirrors `start.rs`: the `Store` trait is generic
//! (its futures are `impl Future`), so each kind is its own arm.

use std::path::Path;

use trafik_config::{KvProvider, KvStoreKind};

use super::{Pairs, Store};
use crate::provider::{boltdb, consul, etcd, redis, zookeeper};

/// Why a store could not be used: `Refused` when its table cannot work (trafik refuses to
/// start, as `spawn_all` would), `Store` when the store itself failed (unreachable…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnceError {
    Refused(String),
    Store(String),
}

/// Every key under `prefix` in the store `table` names.
pub async fn list_by_kind(
    kind: KvStoreKind,
    table: &KvProvider,
    base_dir: &Path,
    prefix: &str,
) -> Result<Pairs, OnceError> {
    match kind {
        KvStoreKind::Etcd => list(etcd::store(table, base_dir), prefix).await,
        KvStoreKind::Zookeeper => list(zookeeper::store(table, base_dir), prefix).await,
        KvStoreKind::Consul => list(consul::store(table, base_dir), prefix).await,
        KvStoreKind::Boltdb => list(boltdb::store(table, base_dir), prefix).await,
        KvStoreKind::Redis => list(redis::store(table, base_dir), prefix).await,
    }
}

/// Writes `pairs` to the store `table` names.
pub async fn put_by_kind(
    kind: KvStoreKind,
    table: &KvProvider,
    base_dir: &Path,
    pairs: &Pairs,
) -> Result<(), OnceError> {
    match kind {
        KvStoreKind::Etcd => put(etcd::store(table, base_dir), pairs).await,
        KvStoreKind::Zookeeper => put(zookeeper::store(table, base_dir), pairs).await,
        KvStoreKind::Consul => put(consul::store(table, base_dir), pairs).await,
        KvStoreKind::Boltdb => put(boltdb::store(table, base_dir), pairs).await,
        KvStoreKind::Redis => put(redis::store(table, base_dir), pairs).await,
    }
}

async fn list<S: Store>(store: Result<S, String>, prefix: &str) -> Result<Pairs, OnceError> {
    let mut store = store.map_err(OnceError::Refused)?;
    store
        .list(prefix)
        .await
        .map_err(|e| OnceError::Store(e.to_string()))
}

async fn put<S: Store>(store: Result<S, String>, pairs: &Pairs) -> Result<(), OnceError> {
    let mut store = store.map_err(OnceError::Refused)?;
    store
        .put(pairs)
        .await
        .map_err(|e| OnceError::Store(e.to_string()))
}
