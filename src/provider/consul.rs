//! The `[consul]` provider: v1's key-value layout read from Consul's KV store over its
//! HTTP API (plain reqwest: no maintained Consul client crate is worth its dependencies).
//! The loop, the decoding and outages are `provider::kv`'s; this is the store:
//! * `list`: `GET /v1/kv/<prefix>/?recurse` (one request, so one consistent view), a 404
//!   being an empty prefix; the answer's `X-Consul-Index` is remembered per prefix.
//! * `changed`: a blocking query per listed prefix on that index (`blocking.rs` has the
//!   rules Consul's docs set), resolving when any index moves or goes backwards.
//! * `put`: `PUT /v1/txn`, 64 keys per transaction (`kv_json.rs`).
//!
//! Tested against a double of Consul's HTTP API (`tests/common/consul.rs`), not a real Consul.

pub(crate) mod blocking;
pub(crate) mod client;
mod kv_json;

use std::path::Path;

use tokio::time::Instant;
use trafik_config::{KvProvider, KvStoreKind};

use super::kv::{Pairs, Store, StoreError};
use blocking::MIN_INTERVAL;
use client::READ_TIMEOUT;
pub use client::{ConsulClient, Settings};

pub struct ConsulStore {
    client: ConsulClient,
    /// The prefixes listed since the last `changed`, each with the index its read answered.
    listed: Vec<(String, u64)>,
    /// When the last blocking query started: re-polls are rate-limited (`MIN_INTERVAL`).
    last_poll: Option<Instant>,
}

/// Builds the store from `[consul]` (no I/O): the endpoint, token, basic auth and TLS are
/// checked here, so a table that cannot work refuses to start with the reason.
pub fn store(table: &KvProvider, base_dir: &Path) -> Result<ConsulStore, String> {
    let endpoints = table.endpoints(KvStoreKind::Consul);
    let endpoint = endpoints
        .first()
        .map(String::as_str)
        .unwrap_or(KvStoreKind::Consul.default_endpoint());
    if endpoints.len() > 1 {
        // v1 (libkv) also talked to the first one only: Consul's agents forward to servers.
        tracing::warn!(
            provider = "consul",
            "endpoint lists {} addresses: only the first, {endpoint}, is used",
            endpoints.len()
        );
    }
    let settings = Settings {
        endpoint,
        token: table.token.as_deref(),
        username: table.username.as_deref(),
        password: table.password.as_deref(),
        tls: table.tls.as_ref(),
    };
    Ok(ConsulStore {
        client: ConsulClient::new(&settings, base_dir)?,
        listed: Vec::new(),
        last_poll: None,
    })
}

/// `/v1/kv/<prefix>/`: the trailing slash keeps `traefik` from matching `traefik2/…`.
fn kv_path(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        "/v1/kv/".to_string()
    } else {
        format!("/v1/kv/{}/", encode_path(prefix))
    }
}

/// Percent-encodes what a URL path cannot carry as is (`?`, `#`, `%`, spaces, non-ASCII…),
/// keeping `/` as the separator Consul's keys use.
pub(crate) fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ConsulStore {
    fn remember(&mut self, prefix: &str, index: u64) {
        self.listed.retain(|(p, _)| p != prefix);
        self.listed.push((prefix.to_string(), index));
    }
}

/// Blocks on `prefix` from `index` until the index moves (or goes backwards).
async fn watch_one(client: &ConsulClient, prefix: &str, index: u64) -> Result<(), StoreError> {
    let query = [("recurse", "true".to_string())];
    // A malformed answer is an error here too, not a reason to re-read quietly.
    let check = |body: &[u8]| kv_json::parse_list(body).map(|_| ());
    client
        .watch(&kv_path(prefix), &query, index, true, check)
        .await
}

impl Store for ConsulStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        let path = kv_path(prefix);
        let query = [("recurse", "true".to_string())];
        let answer = self.client.get(&path, &query, true, READ_TIMEOUT).await?;
        let index = answer.required_index(self.client.base(), &path)?;
        let pairs = if answer.status == 404 {
            Vec::new()
        } else {
            kv_json::parse_list(&answer.body)
                .map_err(|e| StoreError::new(format!("{}{path}: {e}", self.client.base())))?
        };
        self.remember(prefix, index);
        Ok(pairs)
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        if let Some(t) = self.last_poll {
            tokio::time::sleep_until(t + MIN_INTERVAL).await;
        }
        self.last_poll = Some(Instant::now());
        let listed = std::mem::take(&mut self.listed);
        if listed.is_empty() {
            // Nothing to block on (cannot happen after a good read): read again.
            return Ok(());
        }
        let client = &self.client;
        let watches = listed
            .iter()
            .map(|(prefix, index)| Box::pin(watch_one(client, prefix, *index)));
        let (first, _, _) = futures_util::future::select_all(watches).await;
        first
    }

    async fn put(&mut self, pairs: &Pairs) -> Result<(), StoreError> {
        for body in kv_json::txn_bodies(pairs) {
            self.client.put_json("/v1/txn", body).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_folder_paths() {
        assert_eq!(kv_path("traefik"), "/v1/kv/traefik/");
        assert_eq!(kv_path("/traefik/"), "/v1/kv/traefik/");
        assert_eq!(kv_path("team a/traefik"), "/v1/kv/team%20a/traefik/");
        assert_eq!(kv_path("x?y#z%"), "/v1/kv/x%3Fy%23z%25/");
        assert_eq!(kv_path("/"), "/v1/kv/");
    }

    #[test]
    fn tables_that_cannot_work_are_refused() {
        let dir = Path::new("/");
        let mut table = KvProvider::default();
        assert!(store(&table, dir).is_ok());
        table.endpoint = Some("http://127.0.0.1:8500".into());
        table.tls = Some(Default::default());
        let e = store(&table, dir).err().unwrap();
        assert!(e.contains("http://"), "{e}");
        table.endpoint = Some("127.0.0.1:8501".into());
        table.tls = Some(trafik_config::ClientTls {
            ca: "/nonexistent/ca.pem".into(),
            ..Default::default()
        });
        let e = store(&table, dir).err().unwrap();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
