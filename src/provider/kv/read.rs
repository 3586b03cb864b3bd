//! One read of a store: the prefix, then (when `<prefix>/alias` names another) the alias's
//! target, decoded into the snapshot the aggregator compiles.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use trafik_config::kv::{self, alias_key, alias_target};

use super::store::{Pairs, Store, StoreError};
use crate::provider::follow::Update;
use crate::provider::{Snapshot, SourceMap};

/// The keys the configuration was decoded from.
pub struct Read {
    /// Where the configuration was read: the prefix, or the alias's target.
    pub prefix: String,
    pub pairs: Pairs,
    /// `Err` when the alias cannot be used (reported at its key; nothing changes).
    pub alias: Result<(), String>,
    /// A hash of `prefix` and `pairs`: equal fingerprints decode to equal configurations.
    pub fingerprint: u64,
}

pub async fn read<S: Store>(store: &mut S, prefix: &str) -> Result<Read, StoreError> {
    let mut pairs = store.list(prefix).await?;
    let wanted = alias_key(prefix);
    let alias = pairs
        .iter()
        .find(|(k, _)| same_key(k, &wanted))
        .map(|(_, v)| v.as_slice());
    let (target, alias) = match alias_target(prefix, alias) {
        Ok(target) => (target, Ok(())),
        Err(e) => (prefix.to_string(), Err(format!("{wanted}: {e}"))),
    };
    if alias.is_ok() && !same_key(&target, prefix) {
        pairs = store.list(&target).await?;
    }
    pairs.sort();
    let mut h = DefaultHasher::new();
    (&target, &pairs, &alias).hash(&mut h);
    Ok(Read {
        prefix: target,
        pairs,
        alias,
        fingerprint: h.finish(),
    })
}

/// Keys compare as the decoder matches prefixes: leading and trailing slashes aside
/// (ZooKeeper's `/traefik/alias` is Redis's `traefik/alias`).
fn same_key(a: &str, b: &str) -> bool {
    a.trim_matches('/') == b.trim_matches('/')
}

/// The snapshot a read decodes to. Bad keys leave out their item and ride along as the
/// snapshot's problems, named by key; an unusable alias keeps the current configuration.
pub fn snapshot(read: &Read) -> Update {
    if let Err(e) = &read.alias {
        return Update {
            snapshot: Err(e.clone()),
            warnings: Vec::new(),
        };
    }
    let decoded = kv::decode(&read.prefix, &read.pairs);
    let warnings = decoded.warnings();
    let problems = decoded.errors();
    Update {
        snapshot: Ok(Snapshot {
            config: std::sync::Arc::new(decoded.configuration),
            sources: SourceMap::store(&read.prefix, decoded.locations),
            problems,
        }),
        warnings,
    }
}
