//! Which key-value providers the static configuration asks for, each built by its store's
//! module (`src/provider/<store>.rs`: a table that cannot work, such as etcd's
//! `useAPIV3 = false` or a TLS file that does not load, is refused at start) and followed
//! by `kv::run`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use trafik_config::{Diagnostic, KvProvider, KvStoreKind, StaticConfig};

use super::Store;
use crate::provider::{ProviderUpdate, Snapshot, boltdb, consul, etcd, redis, zookeeper};
use crate::status::StatusBoard;

/// Starts every key-value provider of `cfg`; returns whether any was configured. An error
/// names the table at fault.
pub fn spawn_all(
    cfg: &StaticConfig,
    base_dir: &Path,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let mut any = false;
    for (kind, table) in cfg.kv_providers() {
        let name = kind.name();
        let prefix = table.prefix(kind).to_string();
        let (tx, status, watch) = (tx.clone(), status.clone(), table.watch);
        let refused = |e: String| format!("[{name}]: {e}");
        match kind {
            KvStoreKind::Etcd => {
                let store = etcd::store(table, base_dir).map_err(refused)?;
                tokio::spawn(super::run(name, store, prefix, watch, tx, status));
            }
            KvStoreKind::Zookeeper => {
                let store = zookeeper::store(table, base_dir).map_err(refused)?;
                tokio::spawn(super::run(name, store, prefix, watch, tx, status));
            }
            KvStoreKind::Consul => {
                let store = consul::store(table, base_dir).map_err(refused)?;
                tokio::spawn(super::run(name, store, prefix, watch, tx, status));
            }
            KvStoreKind::Boltdb => {
                let store = boltdb::store(table, base_dir).map_err(refused)?;
                tokio::spawn(super::run(name, store, prefix, watch, tx, status));
            }
            KvStoreKind::Redis => {
                let store = redis::store(table, base_dir).map_err(refused)?;
                tokio::spawn(super::run(name, store, prefix, watch, tx, status));
            }
        }
        any = true;
    }
    Ok(any)
}

/// How long `trafik check` waits for a store before calling it unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What `trafik check` reads: each configured store once, by provider name, or why not.
pub async fn check_all(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Vec<(&'static str, Result<(Snapshot, Vec<Diagnostic>), String>)> {
    let mut out = Vec::new();
    for (kind, table) in cfg.kv_providers() {
        let result = match kind {
            KvStoreKind::Etcd => once(etcd::store(table, base_dir), kind, table).await,
            KvStoreKind::Zookeeper => once(zookeeper::store(table, base_dir), kind, table).await,
            KvStoreKind::Consul => once(consul::store(table, base_dir), kind, table).await,
            KvStoreKind::Boltdb => once(boltdb::store(table, base_dir), kind, table).await,
            KvStoreKind::Redis => once(redis::store(table, base_dir), kind, table).await,
        };
        out.push((kind.name(), result));
    }
    out
}

async fn once<S: Store>(
    store: Result<S, String>,
    kind: KvStoreKind,
    table: &KvProvider,
) -> Result<(Snapshot, Vec<Diagnostic>), String> {
    let source = super::KvSource::new(store?, table.prefix(kind).to_string());
    crate::provider::follow::read_once(source, CHECK_TIMEOUT).await
}
