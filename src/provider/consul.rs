//! The `[consul]` provider: not written yet. (Its client and watch go here; the loop, the
//! decoding and outages are `provider::kv`'s.)

use std::path::Path;

use trafik_config::KvProvider;

use super::kv::{Pairs, Store, StoreError};

pub struct ConsulStore(());

/// Refused until the store's client exists.
pub fn store(_table: &KvProvider, _base_dir: &Path) -> Result<ConsulStore, String> {
    Err("the consul provider is not implemented yet".to_string())
}

impl Store for ConsulStore {
    async fn list(&mut self, _prefix: &str) -> Result<Pairs, StoreError> {
        Err(StoreError::new("not implemented"))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        Err(StoreError::new("not implemented"))
    }
}
