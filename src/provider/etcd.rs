//! The `[etcd]` provider: etcd's v3 API (gRPC, `etcd-client`) under `provider::kv`'s loop.
//!
//! - `list` is one range read of `<prefix>/` at one revision, remembered per prefix;
//! - `changed` opens one watch stream holding a watch per prefix listed since the previous
//!   call, each from its read's revision + 1 (so nothing written between the read and the
//!   watch is missed), and resolves on the first event; a canceled watch (compaction), a
//!   closed stream or a lost connection is an `Err`, and the loop lists again;
//! - the connection is made lazily, trying the endpoints in order, and dropped after any
//!   error so that the next `list` reconnects (to whichever endpoint answers).
//!
//! TLS is trafik's own rustls configuration (`tls::client::auth_server_tls`: `ca`, `cert`,
//! `key` as path or PEM, `insecureSkipVerify`) in a connector handed to tonic, rather than
//! tonic's TLS, which has no way to skip verification.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions, Txn, TxnOp, WatchOptions};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use trafik_config::{KvProvider, KvStoreKind};

use super::kv::{Pairs, Store, StoreError};

/// How long one read may take before the store counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings on the (otherwise silent) watch stream, so a vanished server is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// etcd's default `--max-txn-ops`: a larger `put` is written in transactions of this size.
const MAX_TXN_OPS: usize = 128;

/// One `endpoint` entry: where, and whether over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

pub struct EtcdStore {
    endpoints: Vec<Endpoint>,
    /// The rustls configuration for TLS endpoints (ALPN `h2`); none when no endpoint is.
    tls: Option<Arc<ClientConfig>>,
    user: Option<(String, String)>,
    client: Option<Client>,
    /// The prefixes read since the last `changed`, each with the revision it was read at.
    listed: Vec<(String, i64)>,
}

/// Builds the store from `[etcd]`: no I/O but reading the TLS files. `Err` refuses to start.
pub fn store(table: &KvProvider, base_dir: &Path) -> Result<EtcdStore, String> {
    match table.use_api_v3 {
        Some(false) => {
            return Err(
                "useAPIV3 = false asks for etcd's v2 keyspace, which current etcd \
                        no longer serves; trafik reads etcd through the v3 API only: write the \
                        keys with the v3 API (ETCDCTL_API=3 etcdctl put …) and remove \
                        useAPIV3 or set it to true"
                    .to_string(),
            );
        }
        Some(true) => {}
        None => tracing::info!("[etcd]: reading the store through etcd's v3 API"),
    }
    let endpoints = table
        .endpoints(KvStoreKind::Etcd)
        .iter()
        .map(|e| parse_endpoint(e, table.tls.is_some()))
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Err("endpoint: no etcd endpoint given".to_string());
    }
    // Built when used or asked for (a bad `[etcd.tls]` file refuses to start either way);
    // no system roots are read for a plain-HTTP etcd.
    let tls = match table.tls.is_some() || endpoints.iter().any(|e| e.tls) {
        true => Some(Arc::new(tls_config(table, base_dir)?)),
        false => None,
    };
    let user = match (table.username.as_deref(), table.password.as_deref()) {
        (None | Some(""), None | Some("")) => None,
        (None | Some(""), Some(_)) => return Err("password is set without username".into()),
        (Some(u), p) => Some((u.to_string(), p.unwrap_or_default().to_string())),
    };
    Ok(EtcdStore {
        endpoints,
        tls,
        user,
        client: None,
        listed: Vec::new(),
    })
}

/// `host:port`, `http://host:port` or `https://host:port`; a bare one is TLS when the table
/// has `[etcd.tls]` (v1).
pub fn parse_endpoint(entry: &str, tls_table: bool) -> Result<Endpoint, String> {
    let (tls, rest) = if let Some(rest) = entry.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = entry.strip_prefix("http://") {
        (false, rest)
    } else if entry.contains("://") {
        return Err(format!(
            "endpoint {entry:?}: only http:// and https:// are understood"
        ));
    } else {
        (tls_table, entry)
    };
    let rest = rest.trim_end_matches('/');
    let bad = || format!("endpoint {entry:?}: expected host:port");
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if host.is_empty() || host.contains('/') || port == 0 {
        return Err(bad());
    }
    Ok(Endpoint {
        host: host.to_string(),
        port,
        tls,
    })
}

/// `[etcd.tls]` loaded (paths relative to the configuration's directory), or the system's
/// roots for an `https://` endpoint without it.
fn tls_config(table: &KvProvider, base_dir: &Path) -> Result<ClientConfig, String> {
    let resolve = |value: &str| -> String {
        if value.is_empty() || value.contains("-----BEGIN") || Path::new(value).is_absolute() {
            value.to_string()
        } else {
            base_dir.join(value).to_string_lossy().into_owned()
        }
    };
    let mut config = match &table.tls {
        None => crate::tls::client::auth_server_tls("", None, false),
        Some(t) => {
            let (ca, cert, key) = (resolve(&t.ca), resolve(&t.cert), resolve(&t.key));
            let pair = match (cert.is_empty(), key.is_empty()) {
                (true, true) => None,
                (false, false) => Some((cert.as_str(), key.as_str())),
                (false, true) => return Err("tls: cert is set without key".into()),
                (true, false) => return Err("tls: key is set without cert".into()),
            };
            if t.insecure_skip_verify {
                tracing::warn!("[etcd.tls] insecureSkipVerify: etcd's certificate is not checked");
            }
            crate::tls::client::auth_server_tls(&ca, pair, t.insecure_skip_verify)
        }
    }
    .map_err(|(key, e)| match key {
        "" => format!("tls: {e}"),
        key => format!("tls.{key}: {e}"),
    })?;
    // gRPC is HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// What a key range under `prefix` is: the prefix as a directory, so `/traefik` does not
/// also read `/traefik2/…`.
fn directory(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
}

impl EtcdStore {
    /// The client, connecting first if there is none (after a start or an error).
    async fn client(&mut self) -> Result<Client, StoreError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            match self.connect(endpoint).await {
                Ok(c) => {
                    self.client = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => failures.push(e),
            }
        }
        Err(StoreError::new(failures.join("; ")))
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Client, String> {
        let scheme = if endpoint.tls { "https" } else { "http" };
        let at = format!("{scheme}://{}", authority(endpoint));
        // tonic is given http://: the TLS is the connector's, which tonic would otherwise
        // refuse for an https:// address without its own TLS.
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", authority(endpoint)))
                .map_err(|e| format!("{at}: {e}"))?
                .connect_timeout(CONNECT_TIMEOUT)
                .http2_keep_alive_interval(KEEP_ALIVE)
                .keep_alive_timeout(KEEP_ALIVE)
                .keep_alive_while_idle(true);
        let connecting = async {
            let channel = if let (true, Some(config)) = (endpoint.tls, &self.tls) {
                let server_name = ServerName::try_from(endpoint.host.clone())
                    .map_err(|e| format!("{at}: {e}"))?;
                let connector = TlsConnector {
                    config: config.clone(),
                    server_name,
                };
                channel.connect_with_connector(connector).await
            } else {
                channel.connect().await
            }
            .map_err(|e| format!("{at}: {}", error_chain(&e)))?;
            let options = self
                .user
                .as_ref()
                .map(|(u, p)| ConnectOptions::new().with_user(u.clone(), p.clone()));
            Client::from_channel(etcd_client::Channel::Tonic(channel), options)
                .await
                .map_err(|e| format!("{at}: {e}"))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, connecting)
            .await
            .map_err(|_| format!("{at}: no answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// Forgets the connection after an error: the next call reconnects.
    fn lost(&mut self, e: impl std::fmt::Display) -> StoreError {
        self.client = None;
        StoreError::new(format!("etcd: {e}"))
    }
}

fn authority(e: &Endpoint) -> String {
    if e.host.contains(':') {
        format!("[{}]:{}", e.host, e.port)
    } else {
        format!("{}:{}", e.host, e.port)
    }
}

/// An error with its sources (tonic's own says only "transport error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl Store for EtcdStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        let mut client = self.client().await?;
        let dir = directory(prefix);
        let read = client.get(dir.as_bytes(), Some(GetOptions::new().with_prefix()));
        let response = match tokio::time::timeout(REQUEST_TIMEOUT, read).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(self.lost(e)),
            Err(_) => return Err(self.lost(format!("no answer within {REQUEST_TIMEOUT:?}"))),
        };
        let Some(revision) = response.header().map(|h| h.revision()) else {
            return Err(self.lost("a range response without its header"));
        };
        let pairs = utf8_pairs(
            response
                .kvs()
                .iter()
                .map(|kv| (kv.key().to_vec(), kv.value().to_vec())),
        );
        self.listed.retain(|(p, _)| *p != dir);
        self.listed.push((dir, revision));
        Ok(pairs)
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let listed = std::mem::take(&mut self.listed);
        let Some(((first, first_rev), rest)) = listed.split_first() else {
            return Err(StoreError::new("etcd: nothing read to watch"));
        };
        let mut client = self.client().await?;
        let from = |rev: i64| {
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev + 1),
            )
        };
        let mut stream = match client.watch(first.as_bytes(), from(*first_rev)).await {
            Ok(s) => s,
            Err(e) => return Err(self.lost(e)),
        };
        for (prefix, rev) in rest {
            if let Err(e) = stream.watch(prefix.as_bytes(), from(*rev)).await {
                return Err(self.lost(e));
            }
        }
        loop {
            let response = match stream.message().await {
                Ok(Some(r)) => r,
                Ok(None) => return Err(self.lost("the watch stream closed")),
                Err(e) => return Err(self.lost(e)),
            };
            let seen = WatchSeen {
                canceled: response.canceled(),
                compact_revision: response.compact_revision(),
                cancel_reason: response.cancel_reason(),
                events: response.events().len(),
            };
            match seen.verdict() {
                Verdict::Wait => continue,
                Verdict::Changed => return Ok(()),
                // The connection itself is fine: keep it, the loop lists again.
                Verdict::Lost(why) => return Err(StoreError::new(format!("etcd: {why}"))),
            }
        }
    }

    async fn put(&mut self, pairs: &Pairs) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let ops = |chunk: &[(String, Vec<u8>)]| {
            Txn::new().and_then(
                chunk
                    .iter()
                    .map(|(k, v)| TxnOp::put(k.as_bytes(), v.clone(), None))
                    .collect::<Vec<_>>(),
            )
        };
        match client.txn(ops(pairs)).await {
            Ok(_) => return Ok(()),
            Err(e)
                if pairs.len() > MAX_TXN_OPS && e.to_string().contains("too many operations") =>
            {
                tracing::warn!(
                    "etcd refuses {} writes in one transaction (its --max-txn-ops): writing them \
                     {MAX_TXN_OPS} at a time, not atomically",
                    pairs.len()
                );
            }
            Err(e) => return Err(self.lost(e)),
        }
        for chunk in pairs.chunks(MAX_TXN_OPS) {
            if let Err(e) = client.txn(ops(chunk)).await {
                return Err(self.lost(e));
            }
        }
        Ok(())
    }
}

/// The keys that are text, with their values; the others are skipped with a warning (the
/// configuration's keys are text, and the decoder names problems by key).
pub fn utf8_pairs(kvs: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> Pairs {
    kvs.filter_map(|(k, v)| match String::from_utf8(k) {
        Ok(k) => Some((k, v)),
        Err(e) => {
            let lossy = String::from_utf8_lossy(e.as_bytes());
            tracing::warn!(provider = "etcd", "key {lossy:?} is not UTF-8: skipped");
            None
        }
    })
    .collect()
}

/// What one watch response says, as far as the loop cares.
#[derive(Debug, Clone, Copy)]
struct WatchSeen<'a> {
    canceled: bool,
    compact_revision: i64,
    cancel_reason: &'a str,
    events: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// An acknowledgement (watch created) or progress: nothing changed yet.
    Wait,
    Changed,
    /// The watch is gone (compacted, canceled): list again.
    Lost(String),
}

impl WatchSeen<'_> {
    fn verdict(&self) -> Verdict {
        if self.compact_revision > 0 {
            return Verdict::Lost(format!(
                "the watched revision was compacted (oldest kept: {}); reading again",
                self.compact_revision
            ));
        }
        if self.canceled {
            let reason = match self.cancel_reason {
                "" => "no reason given",
                r => r,
            };
            return Verdict::Lost(format!("the watch was canceled ({reason})"));
        }
        if self.events > 0 {
            Verdict::Changed
        } else {
            Verdict::Wait
        }
    }
}

/// TCP then TLS to the endpoint, for tonic (which speaks HTTP/2 over whatever this returns).
#[derive(Clone)]
struct TlsConnector {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

type Connecting<T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send>>;

impl tower::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let (config, name) = (self.config.clone(), self.server_name.clone());
        Box::pin(async move {
            let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "no host:port");
            let host = uri.host().ok_or_else(invalid)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().ok_or_else(invalid)?;
            let tcp = TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(TokioIo::new(tls))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_v1_forms() {
        let e = parse_endpoint("127.0.0.1:2379", false).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 2379, false));
        assert!(parse_endpoint("127.0.0.1:2379", true).unwrap().tls);
        assert!(
            parse_endpoint("https://etcd.local:2379", false)
                .unwrap()
                .tls
        );
        assert!(!parse_endpoint("http://etcd.local:2379/", true).unwrap().tls);
        let v6 = parse_endpoint("[::1]:2379", false).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 2379));
        assert_eq!(authority(&v6), "[::1]:2379");
        for bad in [
            "unix:///run/etcd.sock",
            "etcd.local",
            "etcd.local:x",
            ":2379",
            "h:0",
        ] {
            assert!(parse_endpoint(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_v2_is_refused_with_why() {
        let table = KvProvider {
            use_api_v3: Some(false),
            ..KvProvider::default()
        };
        let Err(e) = store(&table, Path::new(".")) else {
            panic!("useAPIV3 = false accepted")
        };
        assert!(e.contains("v2") && e.contains("v3 API"), "{e}");
        let table = KvProvider::default();
        let s = store(&table, Path::new(".")).unwrap();
        assert_eq!(
            s.endpoints,
            [parse_endpoint("127.0.0.1:2379", false).unwrap()]
        );
    }

    #[test]
    fn password_without_user_is_refused() {
        let table = KvProvider {
            password: Some("p".into()),
            ..KvProvider::default()
        };
        assert!(store(&table, Path::new(".")).is_err());
    }

    #[test]
    fn unreadable_tls_files_refuse_to_start() {
        let table = KvProvider {
            tls: Some(trafik_config::ClientTls {
                ca: "no-such-ca.pem".into(),
                ..Default::default()
            }),
            ..KvProvider::default()
        };
        let Err(e) = store(&table, Path::new("/nonexistent")) else {
            panic!("a missing ca accepted")
        };
        assert!(
            e.starts_with("tls.ca") && e.contains("/nonexistent/no-such-ca.pem"),
            "{e}"
        );
        let table = KvProvider {
            tls: Some(trafik_config::ClientTls {
                cert: "c.pem".into(),
                ..Default::default()
            }),
            ..KvProvider::default()
        };
        assert!(store(&table, Path::new(".")).is_err());
    }

    #[test]
    fn prefixes_are_read_as_directories() {
        assert_eq!(directory("/traefik"), "/traefik/");
        assert_eq!(directory("/traefik/"), "/traefik/");
    }

    #[test]
    fn non_utf8_keys_are_skipped() {
        let pairs = utf8_pairs(
            vec![
                (b"/traefik/a".to_vec(), b"1".to_vec()),
                (b"/traefik/\xff".to_vec(), b"2".to_vec()),
                (b"/traefik/b".to_vec(), b"\xff".to_vec()),
            ]
            .into_iter(),
        );
        assert_eq!(
            pairs,
            [
                ("/traefik/a".to_string(), b"1".to_vec()),
                ("/traefik/b".to_string(), b"\xff".to_vec())
            ]
        );
    }

    #[test]
    fn watch_responses_are_judged() {
        let seen = |canceled, compact_revision, cancel_reason, events| WatchSeen {
            canceled,
            compact_revision,
            cancel_reason,
            events,
        };
        // The "created" acknowledgement carries no event.
        assert_eq!(seen(false, 0, "", 0).verdict(), Verdict::Wait);
        assert_eq!(seen(false, 0, "", 3).verdict(), Verdict::Changed);
        let Verdict::Lost(why) = seen(true, 42, "", 0).verdict() else {
            panic!("compaction not a loss")
        };
        assert!(why.contains("compacted") && why.contains("42"), "{why}");
        let Verdict::Lost(why) = seen(true, 0, "permission denied", 0).verdict() else {
            panic!("cancel not a loss")
        };
        assert!(why.contains("permission denied"), "{why}");
    }
}
