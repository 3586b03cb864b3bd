//! The `[zookeeper]` provider: v1's key-value layout as a znode tree
//! (`/traefik/backends/b/servers/s/url` is a znode whose data is the URL), read with
//! kezhuw's `zookeeper-client` and followed with ZooKeeper 3.6+'s persistent recursive
//! watches. The loop, the decoding and outages are `provider::kv`'s.
//!
//! One session at a time, opened lazily by `list` (bounded: a store that is down or
//! silent is an error within `CONNECT_TIMEOUT`, never a hang) and dropped on any error,
//! so that the loop's next `list` starts a new one. A lost connection ends the watch
//! (`changed` returns `Err`) rather than waiting for the client to reconnect: events that
//! happen while disconnected are not replayed (ZOOKEEPER-4698), so only a full read after
//! reconnecting is sure to see them.

mod tls;
mod tree;

use std::path::Path;
use std::time::Duration;

use futures_util::FutureExt;
use trafik_config::{KvProvider, KvStoreKind};
use zookeeper_client as zk;

use super::kv::{Pairs, Store, StoreError};

/// How long opening a session may take before the store counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The session timeout asked of the server (which clamps it to its own bounds). The client
/// concludes a silent connection lost after 2/5 of it.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ZookeeperStore {
    /// The connect string: `host:port` endpoints, comma separated.
    endpoints: String,
    /// `user:password` for ZooKeeper's `digest` scheme.
    digest: Option<String>,
    /// `[zookeeper.tls]`: every endpoint is then spoken to over TLS.
    tls: Option<zk::TlsOptions>,
    watch: bool,
    session: Option<Session>,
}

struct Session {
    client: zk::Client,
    state: zk::StateWatcher,
    /// One persistent recursive watch per znode listed, armed before its first read.
    watches: Vec<(String, zk::PersistentWatcher)>,
    /// The znodes listed since the last `changed`: the watches `changed` waits on.
    listed: Vec<String>,
}

/// The store for a `[zookeeper]` table, or why the table cannot work. No I/O.
pub fn store(table: &KvProvider, base_dir: &Path) -> Result<ZookeeperStore, String> {
    let kind = KvStoreKind::Zookeeper;
    let endpoints = table.endpoints(kind);
    for e in &endpoints {
        check_endpoint(e)?;
    }
    tree::znode_path(table.prefix(kind)).map_err(|e| format!("prefix: {e}"))?;
    let tls = match &table.tls {
        Some(t) => Some(tls::options(t, base_dir)?),
        None => None,
    };
    let others = [
        ("useAPIV3", table.use_api_v3.is_some(), "etcd"),
        ("token", table.token.is_some(), "Consul"),
        ("db", table.db.is_some(), "Redis"),
        ("bucket", table.bucket.is_some(), "BoltDB"),
        ("pollInterval", table.poll_interval.is_some(), "Redis"),
    ];
    if let Some((key, _, store)) = others.iter().find(|(_, set, _)| *set) {
        return Err(format!("`{key}` is {store}'s setting; ZooKeeper has none"));
    }
    let digest = match (table.username.as_deref(), table.password.as_deref()) {
        (None, None) => None,
        (Some(user), Some(password)) if !user.is_empty() && !user.contains(':') => {
            Some(format!("{user}:{password}"))
        }
        (Some(_), Some(_)) => {
            return Err("username: must be non-empty and without `:` (digest auth)".to_string());
        }
        _ => return Err("username and password go together (digest auth)".to_string()),
    };
    Ok(ZookeeperStore {
        endpoints: endpoints.join(","),
        digest,
        tls,
        watch: table.watch,
        session: None,
    })
}

/// `host:port`, as ZooKeeper's connect string has them (a chroot suffix is the prefix's
/// business, and TLS is `[zookeeper.tls]`'s, not a scheme in the endpoint).
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("endpoint {endpoint:?}: {why}"));
    if endpoint.contains('/') {
        return bad("expected host:port (set the znode with `prefix`)");
    }
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return bad("expected host:port");
    };
    if host.is_empty() || host == "[]" {
        return bad("no host");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => bad("the port must be a number from 1 to 65535"),
    }
}

impl ZookeeperStore {
    async fn connect(&self) -> Result<Session, StoreError> {
        let mut connector = zk::Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            // One pass over the endpoints, then an error, rather than cycling until the
            // session timeout: the loop's backoff does the retrying.
            .with_fail_eagerly();
        if let Some(digest) = &self.digest {
            connector = connector.with_auth("digest", digest.as_bytes());
        }
        let connect = match &self.tls {
            Some(tls) => {
                // The client builds its rustls configuration on the process's provider.
                crate::tls::install_crypto_provider();
                connector
                    .with_tls(tls.clone())
                    .secure_connect(&self.endpoints)
                    .boxed()
            }
            None => connector.connect(&self.endpoints).boxed(),
        };
        let client = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| self.error(format!("no session within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| self.error(e))?;
        let state = client.state_watcher();
        Ok(Session {
            client,
            state,
            watches: Vec::new(),
            listed: Vec::new(),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(format!("zookeeper {}: {e}", self.endpoints))
    }

    /// The session's connection came and went. Lost: the watch is lost with it. Back
    /// (the client reconnected within the session): events between are not replayed
    /// (ZOOKEEPER-4698), so the tree is read again.
    fn session_changed(&mut self, state: zk::SessionState) -> Result<(), StoreError> {
        if connected(state) {
            Ok(())
        } else {
            Err(self.lost(format!("session {state:?}")))
        }
    }

    /// The error, the session dropped: the next `list` opens a new one.
    fn lost(&mut self, e: impl std::fmt::Display) -> StoreError {
        self.session = None;
        self.error(e)
    }
}

fn connected(state: zk::SessionState) -> bool {
    matches!(
        state,
        zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly
    )
}

impl Store for ZookeeperStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        let root = tree::znode_path(prefix).map_err(|e| self.error(e))?;
        if self
            .session
            .as_ref()
            .is_some_and(|s| !connected(s.client.state()))
        {
            self.session = None;
        }
        if self.session.is_none() {
            self.session = Some(self.connect().await?);
        }
        let session = self.session.as_mut().expect("connected above");
        // The watch first, so that nothing written during the read is missed.
        if self.watch && !session.watches.iter().any(|(p, _)| *p == root) {
            match session
                .client
                .watch(&root, zk::AddWatchMode::PersistentRecursive)
                .await
            {
                Ok(w) => session.watches.push((root.clone(), w)),
                Err(e) => return Err(self.lost(format!("watching {root}: {e}"))),
            }
        }
        match tree::read(&session.client, &root).await {
            Ok(pairs) => {
                session.listed.push(root);
                Ok(pairs)
            }
            Err(e) => Err(self.lost(format!("reading {root}: {e}"))),
        }
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let Some(session) = self.session.as_mut() else {
            return Err(self.error("no session"));
        };
        // A watch on a znode no longer read (an alias switched away from it) goes.
        let listed = std::mem::take(&mut session.listed);
        session.watches.retain(|(p, _)| listed.contains(p));
        if session.watches.is_empty() {
            return Err(self.lost("no watch armed"));
        }
        let state = session.state.peek_state();
        if !connected(state) {
            return Err(self.lost(format!("session {state:?}")));
        }
        let next = futures_util::future::select_all(
            session.watches.iter_mut().map(|(_, w)| w.changed().boxed()),
        );
        // Biased towards the session's state: a watcher must not be polled again once the
        // session has ended.
        let session_state = tokio::select! {
            biased;
            state = session.state.changed() => Some(state),
            (event, _, _) = next => {
                (event.event_type == zk::EventType::Session).then_some(event.session_state)
            }
        };
        if let Some(state) = session_state {
            return self.session_changed(state);
        }
        // A burst of writes is one re-read: take the events already there.
        let mut session_state = None;
        for (_, w) in session.watches.iter_mut() {
            while let Some(e) = w.changed().now_or_never() {
                if e.event_type == zk::EventType::Session {
                    session_state = Some(e.session_state);
                }
            }
        }
        match session_state {
            Some(state) => self.session_changed(state),
            None => Ok(()),
        }
    }

    async fn put(&mut self, pairs: &Pairs) -> Result<(), StoreError> {
        if self.session.is_none() {
            self.session = Some(self.connect().await?);
        }
        let session = self.session.as_ref().expect("connected above");
        for (key, value) in pairs {
            let path = tree::znode_path(key).map_err(|e| self.error(e))?;
            if let Err(e) = tree::write(&session.client, &path, value).await {
                return Err(self.lost(format!("writing {path}: {e}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml: &str) -> KvProvider {
        let text = format!("[zookeeper]\n{toml}");
        trafik_config::load_static("t.toml", &text)
            .unwrap()
            .value
            .zookeeper
            .unwrap()
    }

    fn refused(toml: &str) -> String {
        match store(&table(toml), Path::new(".")) {
            Ok(_) => panic!("accepted: {toml}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_are_v1s() {
        let s = store(&table(""), Path::new(".")).unwrap();
        assert_eq!(s.endpoints, "127.0.0.1:2181");
        assert!(s.watch && s.digest.is_none());
        let s = store(
            &table("endpoint = \"zk1:2181, zk2:2182,[::1]:2183\"\nwatch = false"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(s.endpoints, "zk1:2181,zk2:2182,[::1]:2183");
        assert!(!s.watch);
    }

    #[test]
    fn digest_auth_takes_both_halves() {
        let s = store(
            &table("username = \"trafik\"\npassword = \"s:3\""),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(s.digest.as_deref(), Some("trafik:s:3"));
        assert!(refused("username = \"trafik\"").contains("go together"));
        assert!(refused("password = \"x\"").contains("go together"));
        assert!(refused("username = \"a:b\"\npassword = \"x\"").contains("username"));
    }

    #[test]
    fn tables_that_cannot_work_are_refused() {
        assert!(refused("endpoint = \"zk1\"").contains("host:port"));
        assert!(refused("endpoint = \"zk1:0\"").contains("port"));
        assert!(refused("endpoint = \"zk1:2181/chroot\"").contains("prefix"));
        assert!(refused("endpoint = \":2181\"").contains("no host"));
        assert!(refused("prefix = \"/a/../b\"").starts_with("prefix: "));
        assert!(refused("[zookeeper.tls]\ncert = \"c.pem\"").contains("tls.ca: required"));
        assert!(refused("[zookeeper.tls]\nca = \"nowhere.pem\"").contains("cannot read"));
        assert!(refused("[zookeeper.tls]\ninsecureSkipVerify = true").contains("always verifies"));
        assert!(refused("token = \"t\"").contains("Consul"));
        assert!(refused("db = 1").contains("Redis"));
    }
}
