//! The static configuration in a store (v1's layout, `trafik_config::kv_static`): read once
//! at start under the flags and over the file, and written, with the file's dynamic part, by
//! `trafik storeconfig`. Generic over `Store`, so an in-memory store tests both.

use trafik_config::flags::Tree;
use trafik_config::model::Configuration;
use trafik_config::{StaticConfig, kv, kv_static};

use super::{Pairs, Store, StoreError};

/// The static keys under `prefix` as a tree for `flags::merge`, and the keys skipped.
pub async fn read_static<S: Store>(
    store: &mut S,
    prefix: &str,
) -> Result<(Tree, Vec<String>), StoreError> {
    let pairs = store.list(prefix).await?;
    Ok(kv_static::read(prefix, &pairs))
}

/// What `trafik storeconfig` writes under `prefix`: the static configuration, then
/// `[backends]`, `[frontends]` and `[[tls]]` in the dynamic layout the KV providers read.
/// The stores' own credentials (password, token, TLS client key) are left out: whoever
/// reads the store already has them, and every other reader of the store would get them.
pub fn storeconfig_pairs(prefix: &str, cfg: &StaticConfig) -> Pairs {
    let mut written = cfg.clone();
    for table in [
        &mut written.etcd,
        &mut written.zookeeper,
        &mut written.consul,
        &mut written.boltdb,
        &mut written.redis,
    ]
    .into_iter()
    .flatten()
    {
        table.password = None;
        table.token = None;
        if let Some(tls) = &mut table.tls {
            tls.key.clear();
        }
    }
    let mut pairs = kv_static::encode(prefix, &written);
    let dynamic = Configuration {
        backends: cfg.backends.clone(),
        frontends: cfg.frontends.clone(),
        tls: cfg.tls.clone(),
    };
    pairs.extend(kv::encode(prefix, &dynamic));
    pairs
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use trafik_config::flags::merge;

    use super::*;

    /// A store in memory: what `put` wrote, `list` gives back.
    #[derive(Default)]
    struct MemoryStore(BTreeMap<String, Vec<u8>>);

    impl Store for MemoryStore {
        async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
            Ok(self
                .0
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }

        async fn changed(&mut self) -> Result<(), StoreError> {
            std::future::pending().await
        }

        async fn put(&mut self, pairs: &Pairs) -> Result<(), StoreError> {
            self.0.extend(pairs.iter().cloned());
            Ok(())
        }
    }

    const FILE: &str = "logLevel = \"INFO\"\ndefaultEntryPoints = [\"http\"]\n\
        [entryPoints.http]\naddress = \":8080\"\ncompress = true\n\
        [etcd]\nendpoint = \"127.0.0.1:2379\"\npassword = \"pw\"\n\
        [etcd.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[api]\ndashboard = false\n\
        [backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n\
        [frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"Host:a.test\"\n";

    #[tokio::test]
    async fn what_storeconfig_writes_reads_back_static_and_dynamic() {
        let file = trafik_config::load_static("t.toml", FILE).unwrap().value;
        let mut store = MemoryStore::default();
        store
            .put(&storeconfig_pairs("/traefik", &file))
            .await
            .unwrap();
        assert_eq!(
            store.0.get("/traefik/entryPoints/http/address"),
            Some(&b":8080".to_vec())
        );
        assert_eq!(
            store.0.get("/traefik/frontends/f/routes/r/rule"),
            Some(&b"Host:a.test".to_vec())
        );
        assert_eq!(
            store.0.get("/traefik/etcd/endpoint"),
            Some(&b"127.0.0.1:2379".to_vec())
        );
        let secrets: Vec<&String> = store
            .0
            .keys()
            .filter(|k| k.ends_with("/password") || k.ends_with("/token") || k.ends_with("/key"))
            .collect();
        assert!(secrets.is_empty(), "{secrets:?}");

        // The static part, started from the store alone (no file).
        let (tree, warnings) = read_static(&mut store, "/traefik").await.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let merged = merge(&StaticConfig::default(), &[tree]).unwrap();
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
        let mut expected = file.clone();
        expected.backends.clear();
        expected.frontends.clear();
        let etcd = expected.etcd.as_mut().unwrap();
        etcd.password = None;
        etcd.tls.as_mut().unwrap().key.clear();
        assert_eq!(merged.config, expected);

        // The dynamic part, as the KV provider reads it.
        let pairs = store.list("/traefik").await.unwrap();
        let decoded = kv::decode("/traefik", &pairs);
        assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
        assert_eq!(decoded.configuration.backends, file.backends);
        assert_eq!(decoded.configuration.frontends, file.frontends);
    }

    #[tokio::test]
    async fn flags_win_over_the_store_which_wins_over_the_file() {
        let mut store = MemoryStore::default();
        store
            .put(&vec![
                ("traefik/loglevel".into(), b"WARN".to_vec()),
                ("traefik/entrypoints/http/address".into(), b":81".to_vec()),
                (
                    "traefik/entrypoints/http/compress".into(),
                    b"false".to_vec(),
                ),
            ])
            .await
            .unwrap();
        let file = trafik_config::load_static("t.toml", FILE).unwrap().value;
        let (store_tree, _) = read_static(&mut store, "traefik").await.unwrap();
        let flags = trafik_config::flags::parse_flags(&["--entryPoints.http.address=:82"]).unwrap();
        let cfg = merge(&file, &[store_tree, flags]).unwrap().config;
        assert_eq!(cfg.log_level.as_deref(), Some("WARN"), "store over file");
        let http = &cfg.entry_points.as_ref().unwrap()["http"];
        assert_eq!(http.address, ":82", "flags over store");
        assert!(!http.compress, "store over file");
        assert!(
            !cfg.api.unwrap().dashboard,
            "the file where nothing else speaks"
        );
        assert_eq!(cfg.backends, file.backends);
    }
}
