//! `trafik storeconfig`: writes the static configuration (file and flags) and the file's
//! `[backends]`, `[frontends]` and `[[tls]]` into each store configured, in v1's layout,
//! then exits, so that trafik can later start from the store alone
//! (`trafik --etcd --etcd.endpoint=…`).

use std::path::Path;

use trafik_config::StaticConfig;

use crate::provider::kv::{OnceError, put_by_kind, storeconfig_pairs};

/// One line per store written; an error names the store.
pub async fn run(cfg: &StaticConfig, base_dir: &Path) -> anyhow::Result<Vec<String>> {
    let stores = cfg.kv_providers();
    if stores.is_empty() {
        anyhow::bail!(
            "storeconfig needs a store to write to: --etcd --etcd.endpoint=HOST:PORT (or \
             --consul, --zookeeper, --redis, --boltdb, or their table in the file)"
        );
    }
    let mut written = Vec::new();
    for (kind, table) in stores {
        let name = kind.name();
        let prefix = table.prefix(kind);
        let endpoint = table.endpoint(kind);
        let pairs = storeconfig_pairs(prefix, cfg);
        match put_by_kind(kind, table, base_dir, &pairs).await {
            Ok(()) => written.push(format!(
                "wrote {} keys under {prefix} to {name} at {endpoint}",
                pairs.len()
            )),
            Err(OnceError::Refused(e) | OnceError::Store(e)) => {
                anyhow::bail!("[{name}] at {endpoint}: {e}")
            }
        }
    }
    Ok(written)
}
