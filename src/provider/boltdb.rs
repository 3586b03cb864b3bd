//! The `[boltdb]` provider: a Bolt file as Traefik 1.x's boltdb provider read it, through
//! docker/libkv's boltdb store. libkv keeps every key in one bucket (`traefik`, v1's
//! `store.Config.Bucket`), spells keys exactly as they were put (`/traefik/backends/…` with
//! v1's default prefix), and stores each value behind an 8-byte little-endian write index.
//!
//! trafik only reads the file: the whole of it, under a shared `flock` as bolt's own readers
//! take (`file.rs` here), decoded by `trafik_config::bolt`. libkv opens and closes the file
//! around each operation, so a writer holds the exclusive lock only briefly; one that holds
//! it longer than `LOCK_TIMEOUT` makes the read fail, which the loop treats as an outage.
//! Changes are seen by watching the file's directory (`watch.rs`), since writers may replace
//! the file rather than write into it. A missing, locked or corrupt file keeps the last
//! configuration serving (`provider::kv`'s outage), with the file and the problem named.

mod file;
mod watch;

use std::path::{Path, PathBuf};

use trafik_config::{KvProvider, KvStoreKind};

use super::kv::{Pairs, Store, StoreError};
use watch::FileWatch;

/// v1's bucket (`provider/kv.CreateStore`).
const DEFAULT_BUCKET: &str = "traefik";
/// The index libkv writes before each value (`libkvmetadatalen`).
const LIBKV_INDEX: usize = 8;

pub struct BoltdbStore {
    /// The file, made absolute against the configuration file's directory.
    path: PathBuf,
    bucket: String,
    /// Whether `changed()` will be asked: the directory is watched from the first read on,
    /// so that a change made while reading is not missed.
    watch: bool,
    watcher: Option<FileWatch>,
}

/// The store for a `[boltdb]` table: the file's path (`endpoint`, relative to the
/// configuration file's directory) and the bucket. Nothing is opened here.
pub fn store(table: &KvProvider, base_dir: &Path) -> Result<BoltdbStore, String> {
    let Some(endpoint) = table
        .endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Err("endpoint: the Bolt file's path is required".to_string());
    };
    if table.endpoints(KvStoreKind::Boltdb).len() > 1 {
        // libkv's boltdb store refused several endpoints too.
        return Err(format!("endpoint {endpoint:?}: one Bolt file, not a list"));
    }
    let bucket = table.bucket.as_deref().unwrap_or(DEFAULT_BUCKET);
    if bucket.is_empty() {
        return Err("bucket: must not be empty".to_string());
    }
    let ignored = [
        ("username", table.username.is_some()),
        ("password", table.password.is_some()),
        ("tls", table.tls.is_some()),
        ("token", table.token.is_some()),
        ("useAPIV3", table.use_api_v3.is_some()),
        ("db", table.db.is_some()),
        ("pollInterval", table.poll_interval.is_some()),
    ];
    for (key, _) in ignored.iter().filter(|(_, set)| *set) {
        tracing::warn!(
            provider = "boltdb",
            "[boltdb] {key} has no meaning for a Bolt file; ignored"
        );
    }
    let path = std::path::absolute(base_dir.join(endpoint))
        .map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    Ok(BoltdbStore {
        path,
        bucket: bucket.to_string(),
        watch: table.watch,
        watcher: None,
    })
}

impl BoltdbStore {
    /// The pairs under `prefix`, or what is wrong with the file.
    async fn read(&self, prefix: &str) -> Result<Pairs, String> {
        let path = self.path.clone();
        let bytes = tokio::task::spawn_blocking(move || file::read_shared(&path))
            .await
            .map_err(|e| format!("read task failed: {e}"))??;
        let pairs = trafik_config::bolt::read_bucket(&bytes, self.bucket.as_bytes())
            .map_err(|e| format!("not a readable Bolt file: {e}"))?;
        let shown = self.path.display().to_string();
        let Some(pairs) = pairs else {
            tracing::debug!(
                provider = "boltdb",
                "{shown}: no bucket {:?} yet",
                self.bucket
            );
            return Ok(Vec::new());
        };
        Ok(under_prefix(&shown, prefix, pairs))
    }
}

impl Store for BoltdbStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        // Armed before reading, so a change made while we read is not missed. Events are
        // not cleared here: with an alias the loop lists twice, and a change between the
        // two must still wake `changed()` (at worst one read too many).
        let mut unwatched = None;
        if self.watch && self.watcher.is_none() {
            match FileWatch::start(&self.path) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => unwatched = Some(e),
            }
        }
        let shown = self.path.display().to_string();
        let read = self.read(prefix).await;
        if read.is_err() || unwatched.is_some() {
            // An outage follows, then a fresh read that watches afresh (the directory may
            // have gone with the file), and nothing piles up meanwhile.
            self.watcher = None;
        }
        match (read, unwatched) {
            (Ok(pairs), None) => Ok(pairs),
            // The file's own trouble says more than its directory's (often the same).
            (Err(e), _) => Err(StoreError(format!("{shown}: {e}"))),
            (Ok(_), Some(e)) => Err(StoreError(format!("{shown}: {e}"))),
        }
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let shown = self.path.display().to_string();
        if self.watcher.is_none() {
            let w =
                FileWatch::start(&self.path).map_err(|e| StoreError(format!("{shown}: {e}")))?;
            self.watcher = Some(w);
        }
        let watcher = self.watcher.as_mut().expect("just set");
        watcher
            .changed()
            .await
            .map_err(|e| StoreError(format!("{shown}: {e}")))
    }
}

/// The pairs whose keys lie under `prefix` (leading and trailing slashes aside, as the
/// decoder matches them), with libkv's index taken off each value. A key that is not UTF-8
/// or a value shorter than the index (not libkv's writing) is skipped, named in the log.
fn under_prefix(file: &str, prefix: &str, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Pairs {
    let prefix = prefix.trim_matches('/');
    let under = |key: &str| {
        prefix.is_empty()
            || key
                .trim_start_matches('/')
                .strip_prefix(prefix)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    };
    let mut out = Vec::new();
    for (key, mut value) in pairs {
        let key = match String::from_utf8(key) {
            Ok(key) => key,
            Err(e) => {
                let key = String::from_utf8_lossy(e.as_bytes()).into_owned();
                if under(&key) {
                    tracing::warn!(
                        provider = "boltdb",
                        "{file}: {key:?}: key is not UTF-8; ignored"
                    );
                }
                continue;
            }
        };
        if !under(&key) {
            continue;
        }
        if value.len() < LIBKV_INDEX {
            tracing::warn!(
                provider = "boltdb",
                "{file}: {key}: value of {} bytes lacks libkv's 8-byte index; key ignored",
                value.len()
            );
            continue;
        }
        value.drain(..LIBKV_INDEX);
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(k: &str, v: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut value = 7u64.to_le_bytes().to_vec();
        value.extend_from_slice(v);
        (k.as_bytes().to_vec(), value)
    }

    #[test]
    fn keeps_keys_under_the_prefix_with_the_index_removed() {
        let pairs = vec![
            pair("/traefik/backends/b/servers/s/url", b"http://a"),
            pair("traefik/frontends/f/backend", b"b"),
            pair("/traefik", b"root"),
            pair("/traefikx/backends/b/servers/s/url", b"no"),
            pair("/other/key", b"no"),
            (b"/traefik/short".to_vec(), b"1234".to_vec()),
            (b"/traefik/\xff".to_vec(), 0u64.to_le_bytes().to_vec()),
        ];
        let got = under_prefix("f.db", "/traefik/", pairs);
        assert_eq!(
            got,
            [
                (
                    "/traefik/backends/b/servers/s/url".to_string(),
                    b"http://a".to_vec()
                ),
                ("traefik/frontends/f/backend".to_string(), b"b".to_vec()),
                ("/traefik".to_string(), b"root".to_vec()),
            ]
        );
    }

    #[test]
    fn a_table_without_a_file_or_with_several_is_refused() {
        let base = Path::new("/etc/trafik");
        let table = KvProvider::default();
        assert!(
            store(&table, base)
                .err()
                .unwrap()
                .contains("path is required")
        );
        let table = KvProvider {
            endpoint: Some("a.db,b.db".into()),
            ..KvProvider::default()
        };
        assert!(store(&table, base).err().unwrap().contains("not a list"));
        let table = KvProvider {
            endpoint: Some("a.db".into()),
            bucket: Some(String::new()),
            ..KvProvider::default()
        };
        assert!(store(&table, base).err().unwrap().contains("bucket"));
    }

    #[test]
    fn the_path_is_relative_to_the_configuration_and_the_bucket_v1s() {
        let table = KvProvider {
            endpoint: Some("data/traefik.db".into()),
            ..KvProvider::default()
        };
        let s = store(&table, Path::new("/etc/trafik")).unwrap();
        assert_eq!(s.path, Path::new("/etc/trafik/data/traefik.db"));
        assert_eq!(s.bucket, "traefik");
        let table = KvProvider {
            endpoint: Some("/var/lib/t.db".into()),
            bucket: Some("mine".into()),
            ..KvProvider::default()
        };
        let s = store(&table, Path::new("/etc/trafik")).unwrap();
        assert_eq!(s.path, Path::new("/var/lib/t.db"));
        assert_eq!(s.bucket, "mine");
    }
}
