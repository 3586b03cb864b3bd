//! `[etcd]`, `[zookeeper]`, `[consul]`, `[boltdb]`, `[redis]`: the key-value providers'
//! tables. v1 gave all of them one shape (`provider/kv.Provider`: endpoint, prefix, watch,
//! tls, username, password); each store adds a key or two of its own, kept here so every
//! store reads the same struct. Defaults that differ by store (endpoint, prefix) are
//! `Option`s resolved by `KvStoreKind`.

use serde::{Deserialize, Serialize};

use super::auth::ClientTls;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KvProvider {
    /// `host:port`, or a comma list of them (etcd, ZooKeeper); BoltDB: the file's path.
    /// Default: the store's own (see `KvStoreKind::default_endpoint`).
    pub endpoint: Option<String>,
    /// Where the configuration lives. Default: `/traefik` (etcd, BoltDB) or `traefik`.
    pub prefix: Option<String>,
    /// Follow changes (default); `false` reads once.
    pub watch: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `[<store>.tls]`: towards a store that speaks TLS (ca, cert, key, insecureSkipVerify).
    pub tls: Option<ClientTls>,
    /// etcd: v1's switch between the v2 and v3 APIs. Only v3 exists in current etcd:
    /// `false` is refused, absent means v3.
    #[serde(rename = "useAPIV3")]
    pub use_api_v3: Option<bool>,
    /// Consul: the ACL token (`X-Consul-Token`).
    pub token: Option<String>,
    /// Redis: the database number (default 0).
    pub db: Option<i64>,
    /// BoltDB: the bucket holding the keys (default `traefik`, as v1's libkv store).
    pub bucket: Option<String>,
    /// Redis without keyspace notifications: how often to re-read (default 2 s).
    pub poll_interval: Option<crate::Duration>,
}

impl Default for KvProvider {
    fn default() -> Self {
        KvProvider {
            endpoint: None,
            prefix: None,
            watch: true,
            username: None,
            password: None,
            tls: None,
            use_api_v3: None,
            token: None,
            db: None,
            bucket: None,
            poll_interval: None,
        }
    }
}

/// Which store a `KvProvider` table configures: its name and its v1 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KvStoreKind {
    Etcd,
    Zookeeper,
    Consul,
    Boltdb,
    Redis,
}

impl KvStoreKind {
    pub const ALL: [KvStoreKind; 5] = [
        KvStoreKind::Etcd,
        KvStoreKind::Zookeeper,
        KvStoreKind::Consul,
        KvStoreKind::Boltdb,
        KvStoreKind::Redis,
    ];

    /// The provider's name: its table's key, and its name in the API and metrics.
    pub fn name(self) -> &'static str {
        match self {
            KvStoreKind::Etcd => "etcd",
            KvStoreKind::Zookeeper => "zookeeper",
            KvStoreKind::Consul => "consul",
            KvStoreKind::Boltdb => "boltdb",
            KvStoreKind::Redis => "redis",
        }
    }

    /// v1's defaults (`cmd/configuration.go`); Redis's is the server's port.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            KvStoreKind::Etcd => "127.0.0.1:2379",
            KvStoreKind::Zookeeper => "127.0.0.1:2181",
            KvStoreKind::Consul => "127.0.0.1:8500",
            KvStoreKind::Boltdb => "127.0.0.1:4001",
            KvStoreKind::Redis => "127.0.0.1:6379",
        }
    }

    pub fn default_prefix(self) -> &'static str {
        match self {
            KvStoreKind::Etcd | KvStoreKind::Boltdb => "/traefik",
            KvStoreKind::Zookeeper | KvStoreKind::Consul | KvStoreKind::Redis => "traefik",
        }
    }
}

impl KvProvider {
    pub fn endpoint(&self, kind: KvStoreKind) -> &str {
        self.endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or(kind.default_endpoint())
    }

    /// The endpoint's comma list, blanks trimmed, empties dropped.
    pub fn endpoints(&self, kind: KvStoreKind) -> Vec<String> {
        self.endpoint(kind)
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn prefix(&self, kind: KvStoreKind) -> &str {
        self.prefix
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or(kind.default_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_static;

    #[test]
    fn tables_load_with_v1_defaults() {
        let text = r#"
            [etcd]
            endpoint = "10.0.0.1:2379, 10.0.0.2:2379"
            useAPIV3 = true
              [etcd.tls]
              ca = "ca.pem"
            [redis]
            password = "s3cret"
            db = 2
            [zookeeper]
            watch = false
        "#;
        let cfg = load_static("t.toml", text).unwrap().value;
        let etcd = cfg.etcd.unwrap();
        assert_eq!(
            etcd.endpoints(KvStoreKind::Etcd),
            ["10.0.0.1:2379", "10.0.0.2:2379"]
        );
        assert_eq!(etcd.prefix(KvStoreKind::Etcd), "/traefik");
        assert_eq!(etcd.use_api_v3, Some(true));
        assert_eq!(etcd.tls.unwrap().ca, "ca.pem");
        let redis = cfg.redis.unwrap();
        assert_eq!(redis.endpoint(KvStoreKind::Redis), "127.0.0.1:6379");
        assert_eq!(redis.prefix(KvStoreKind::Redis), "traefik");
        assert_eq!(redis.db, Some(2));
        assert!(redis.watch);
        assert!(!cfg.zookeeper.unwrap().watch);
        assert!(cfg.consul.is_none() && cfg.boltdb.is_none());
    }
}
