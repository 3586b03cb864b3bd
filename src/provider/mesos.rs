//! The `[mesos]` provider: the master's running tasks and their `traefik.*` labels become
//! backends and frontends (the translation, pure, is `trafik_config::mesos`). The master
//! has no watch, so, as v1, it is polled: `GET /master/state` every `refreshSeconds`, as a
//! `follow::Source` whose `changed()` resolves when the period is up; a poll that reads
//! what the last one did sends nothing.
//!
//! The master is `http://host:port` (a comma-separated list is tried in order), or found
//! through ZooKeeper (`zk://host:port[,host:port]/path`): the leading master is the child
//! `json.info_<sequence>` of `path` with the lowest sequence (Mesos' leader election
//! writes each contender's `MasterInfo` there as JSON). A master that is not the leader
//! answers 307 with the leader in `Location` (Mesos' `/master/redirect` rule): followed.
//!
//! Outages are the other followed sources': a master (or ZooKeeper) unreachable, an
//! answer that is not the master's state, keep the last configuration serving; the status
//! board and metrics say so, and the loop retries with capped backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use trafik_config::mesos::{Settings, parse_state, translate};
use trafik_config::{Diagnostic, StaticConfig};
use zookeeper_client as zk;

use super::follow::{self, Source, Update};
use super::kv::StoreError;
use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// The provider's name in the API, the metrics and the logs (v1's table name).
pub const NAME: &str = "mesos";

/// The master's state, as Mesos serves it (`/state` is the same on a master).
const STATE_PATH: &str = "/master/state";

/// The largest state read (a cluster of thousands of tasks is tens of megabytes).
const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// Redirects followed to reach the leader (one is the rule; a few allow a failover).
const MAX_REDIRECTS: usize = 4;

/// How to reach the master, from `[mesos]` (no I/O).
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    /// Base URLs (`http://host:port`), tried in order.
    Masters(Vec<String>),
    /// ZooKeeper's connect string and the election's znode.
    Zookeeper { servers: String, path: String },
}

#[derive(Debug, Clone)]
pub struct Master {
    endpoint: Endpoint,
    settings: Settings,
    watch: bool,
    refresh: Duration,
    state_timeout: Duration,
    zk_timeout: Duration,
}

/// Builds the provider from `[mesos]`: an endpoint or option this version cannot honour
/// refuses to start, with the reason.
pub fn master(table: &trafik_config::Mesos) -> Result<Master, String> {
    if let Some(what) = table.not_implemented() {
        return Err(what.to_string());
    }
    let endpoint = endpoint(&table.endpoint)?;
    let seconds = |key: &str, v: u64| {
        if v == 0 {
            Err(format!("{key}: must be at least 1 (seconds)"))
        } else {
            Ok(Duration::from_secs(v))
        }
    };
    let constraints = table
        .constraints
        .iter()
        .map(|c| trafik_config::constraints::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Master {
        endpoint,
        settings: Settings {
            exposed_by_default: table.exposed_by_default,
            domain: table.domain.trim().to_string(),
            groups_as_sub_domains: table.groups_as_sub_domains,
            ip_sources: trafik_config::mesos::ip_sources(&table.ip_sources)?,
            constraints,
        },
        watch: table.watch,
        refresh: seconds("refreshSeconds", table.refresh_seconds)?,
        state_timeout: seconds("stateTimeoutSecond", table.state_timeout_second)?,
        zk_timeout: seconds("zkDetectionTimeout", table.zk_detection_timeout)?,
    })
}

fn endpoint(text: &str) -> Result<Endpoint, String> {
    let text = text.trim();
    let bad = |why: &str| Err(format!("endpoint {text:?}: {why}"));
    if let Some(rest) = text.strip_prefix("zk://") {
        let Some((servers, path)) = rest.split_once('/') else {
            return bad("expected zk://host:port[,host:port]/path");
        };
        if servers.contains('@') {
            return bad("ZooKeeper credentials are not implemented yet");
        }
        let servers: Vec<&str> = servers.split(',').map(str::trim).collect();
        for s in &servers {
            match s.rsplit_once(':') {
                Some((host, port))
                    if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
                _ => return bad("each ZooKeeper server is host:port"),
            }
        }
        let path = format!("/{}", path.trim_matches('/'));
        if path == "/" || path.split('/').any(|p| p == "." || p == "..") {
            return bad("the path of the masters' znode is missing or not plain");
        }
        return Ok(Endpoint::Zookeeper {
            servers: servers.join(","),
            path,
        });
    }
    let mut masters = Vec::new();
    for master in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let url = if master.contains("://") {
            master.to_string()
        } else {
            format!("http://{master}")
        };
        let parsed = match reqwest::Url::parse(&url) {
            Ok(u) => u,
            Err(e) => return bad(&e.to_string()),
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return bad("expected http://host:port, https://host:port or zk://host:port/path");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return bad("credentials are not implemented yet");
        }
        if parsed.host_str().is_none() {
            return bad("no host");
        }
        masters.push(url.trim_end_matches('/').to_string());
    }
    if masters.is_empty() {
        return bad("no master");
    }
    Ok(Endpoint::Masters(masters))
}

/// Starts the provider when `[mesos]` is configured; returns whether it is.
pub fn spawn(
    cfg: &StaticConfig,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let Some(table) = &cfg.mesos else {
        return Ok(false);
    };
    let master = master(table).map_err(|e| format!("[{NAME}]: {e}"))?;
    let watch = master.watch;
    let source = Polling::new(master)?;
    tokio::spawn(follow::run(NAME, source, watch, tx.clone(), status.clone()));
    Ok(true)
}

/// What `trafik check` reads: the master's state once (`None` without `[mesos]`).
pub async fn check(cfg: &StaticConfig) -> Option<Result<(Snapshot, Vec<Diagnostic>), String>> {
    let table = cfg.mesos.as_ref()?;
    let read = async {
        let master = master(table)?;
        // ZooKeeper's detection, then the state: both bounded by their own timeouts.
        let limit = master.zk_timeout + master.state_timeout + Duration::from_secs(1);
        follow::read_once(Polling::new(master)?, limit).await
    };
    Some(read.await)
}

/// The master as `provider::follow` reads it: polled.
struct Polling {
    master: Master,
    http: reqwest::Client,
    /// ZooKeeper's session, kept between polls, dropped on any error.
    zk: Option<zk::Client>,
    /// What the last read translated to: a poll that changed nothing sends nothing.
    last_sent: follow::LastSent,
}

impl Polling {
    fn new(master: Master) -> Result<Polling, String> {
        // reqwest is built without a crypto provider or roots of its own: an https master
        // is checked against the system's roots.
        crate::tls::install_crypto_provider();
        let tls = crate::tls::client::auth_server_tls("", None, false)
            .map_err(|(_, e)| format!("TLS towards the master: {e}"))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            // Redirects are followed here, so that each hop is checked and named.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(master.state_timeout.min(Duration::from_secs(10)))
            .timeout(master.state_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Polling {
            master,
            http,
            zk: None,
            last_sent: follow::LastSent::default(),
        })
    }

    /// The masters to ask, the leader first when ZooKeeper names it.
    async fn masters(&mut self) -> Result<Vec<String>, StoreError> {
        match &self.master.endpoint {
            Endpoint::Masters(m) => Ok(m.clone()),
            Endpoint::Zookeeper { servers, path } => {
                let (servers, path) = (servers.clone(), path.clone());
                let limit = self.master.zk_timeout;
                let found = tokio::time::timeout(limit, self.leader(&servers, &path)).await;
                let result = match found {
                    Ok(r) => r,
                    Err(_) => Err(format!("no leading master found within {limit:?}")),
                };
                result.map(|m| vec![m]).map_err(|e| {
                    self.zk = None;
                    StoreError::new(format!("zookeeper {servers}{path}: {e}"))
                })
            }
        }
    }

    /// The leading master's base URL, from the lowest-sequence `json.info_` child.
    async fn leader(&mut self, servers: &str, path: &str) -> Result<String, String> {
        if self.zk.as_ref().is_some_and(|c| {
            !matches!(
                c.state(),
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly
            )
        }) {
            self.zk = None;
        }
        if self.zk.is_none() {
            let client = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(10))
                .with_fail_eagerly()
                .connect(servers)
                .await
                .map_err(|e| e.to_string())?;
            self.zk = Some(client);
        }
        let client = self.zk.as_ref().expect("connected above");
        let children = client
            .list_children(path)
            .await
            .map_err(|e| format!("listing the masters: {e}"))?;
        let Some(node) = leading_node(&children) else {
            return Err("no master is in the election (no json.info_ znode)".to_string());
        };
        let (data, _) = client
            .get_data(&format!("{path}/{node}"))
            .await
            .map_err(|e| format!("reading {node}: {e}"))?;
        master_url(&data).map_err(|e| format!("{node}: {e}"))
    }

    /// The state from the first master that answers, following redirects to the leader.
    async fn state(&self, masters: &[String]) -> Result<Vec<u8>, StoreError> {
        let mut errors = Vec::new();
        for base in masters {
            match self.state_from(base).await {
                Ok(body) => return Ok(body),
                Err(e) => errors.push(e),
            }
        }
        Err(StoreError::new(format!(
            "Mesos master: {}",
            errors.join("; ")
        )))
    }

    async fn state_from(&self, base: &str) -> Result<Vec<u8>, String> {
        let mut url = format!("{base}{STATE_PATH}");
        for _ in 0..=MAX_REDIRECTS {
            let parsed = reqwest::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
            let response = self
                .http
                .get(parsed.clone())
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| format!("{url}: {}", error_chain(&e)))?;
            let status = response.status();
            if status.is_redirection() {
                // `//leader:5050/master/state`: relative to the master that answered.
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| format!("{url}: {status} without a Location"))?;
                url = parsed
                    .join(location)
                    .map_err(|e| format!("{url}: redirect to {location:?}: {e}"))?
                    .to_string();
                continue;
            }
            if !status.is_success() {
                return Err(format!("{url}: {status}"));
            }
            return read_bounded(response, &url).await;
        }
        Err(format!("{url}: more than {MAX_REDIRECTS} redirects"))
    }
}

impl Source for Polling {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        let masters = self.masters().await?;
        let body = self.state(&masters).await?;
        let state =
            parse_state(&body).map_err(|e| StoreError::new(format!("Mesos master: {e}")))?;
        let translated = translate(&self.master.settings, &state);
        Ok(self.last_sent.update(
            NAME,
            translated.configuration,
            translated.problems,
            translated.warnings,
        ))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        tokio::time::sleep(self.master.refresh).await;
        Ok(())
    }
}

/// The body, up to `MAX_STATE_BYTES`: a large cluster's state is tens of megabytes, an
/// endless answer is not a state.
async fn read_bounded(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, String> {
    let too_large = || format!("{url}: the answer is larger than {MAX_STATE_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_STATE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{url}: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_STATE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The election's leader: the `json.info_<sequence>` child with the lowest sequence.
fn leading_node(children: &[String]) -> Option<&String> {
    children
        .iter()
        .filter_map(|c| {
            let seq = c.strip_prefix("json.info_")?;
            seq.parse::<u64>().ok().map(|n| (n, c))
        })
        .min_by_key(|(n, _)| *n)
        .map(|(_, c)| c)
}

/// `http://<address.ip or address.hostname>:<address.port>` from a master's `MasterInfo`
/// JSON (the top-level `hostname` / `port` of older masters as a fallback).
fn master_url(data: &[u8]) -> Result<String, String> {
    let info: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("not a MasterInfo's JSON: {e}"))?;
    let address = &info["address"];
    let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let host = text(&address["ip"])
        .or_else(|| text(&address["hostname"]))
        .or_else(|| text(&info["hostname"]))
        .ok_or("no address.ip or address.hostname")?;
    let port = address["port"]
        .as_u64()
        .or_else(|| info["port"].as_u64())
        .filter(|p| (1..=65535).contains(p))
        .ok_or("no address.port")?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("http://{host}:{port}"))
}

/// reqwest's error with its sources ("error sending request: connection refused").
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml: &str) -> trafik_config::Mesos {
        let text = format!("[mesos]\n{toml}");
        let loaded = trafik_config::load_static("t.toml", &text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        loaded.value.mesos.unwrap()
    }

    fn refused(toml: &str) -> String {
        match master(&table(toml)) {
            Ok(m) => panic!("accepted: {toml}: {m:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_are_v1s() {
        let m = master(&table("")).unwrap();
        assert_eq!(
            m.endpoint,
            Endpoint::Masters(vec!["http://127.0.0.1:5050".to_string()])
        );
        assert!(m.watch && m.settings.exposed_by_default);
        assert_eq!(m.refresh, Duration::from_secs(30));
        assert_eq!(m.state_timeout, Duration::from_secs(30));
        assert_eq!(m.zk_timeout, Duration::from_secs(30));
        let m = master(&table(
            "endpoint = \"m1:5050, https://m2:5050/\"\nrefreshSeconds = 1\n\
             ipSources = \"docker,host\"\ngroupsAsSubDomains = true\ndomain = \"mesos\"\n\
             exposedByDefault = false\nconstraints = [\"tag==api\"]\nwatch = false\n\
             stateTimeoutSecond = 5\nzkDetectionTimeout = 7",
        ))
        .unwrap();
        assert_eq!(
            m.endpoint,
            Endpoint::Masters(vec![
                "http://m1:5050".to_string(),
                "https://m2:5050".to_string()
            ])
        );
        assert_eq!(m.refresh, Duration::from_secs(1));
        assert!(!m.watch && m.settings.groups_as_sub_domains);
        assert_eq!(m.settings.constraints.len(), 1);
        let zk = master(&table("endpoint = \"zk://z1:2181,z2:2182/mesos\"")).unwrap();
        assert_eq!(
            zk.endpoint,
            Endpoint::Zookeeper {
                servers: "z1:2181,z2:2182".to_string(),
                path: "/mesos".to_string()
            }
        );
    }

    #[test]
    fn tables_that_cannot_work_are_refused() {
        assert!(refused("endpoint = \"zk://z1:2181\"").contains("zk://host:port"));
        assert!(refused("endpoint = \"zk://z1/mesos\"").contains("host:port"));
        assert!(refused("endpoint = \"zk://u:p@z1:2181/mesos\"").contains("not implemented yet"));
        assert!(refused("endpoint = \"zk://z1:2181/\"").contains("path"));
        assert!(refused("endpoint = \"ftp://m:5050\"").contains("expected"));
        assert!(refused("endpoint = \"http://u:p@m:5050\"").contains("not implemented yet"));
        assert!(refused("endpoint = \" , \"").contains("no master"));
        assert!(refused("refreshSeconds = 0").contains("refreshSeconds"));
        assert!(refused("ipSources = \"rkt\"").contains("ipSources"));
        assert!(refused("constraints = [\"label==x\"]").contains("label==x"));
        assert!(refused("filename = \"m.tmpl\"").contains("not implemented yet"));
    }

    #[test]
    fn the_leader_is_the_lowest_sequence() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "info_0000000003",
            "json.info_0000000010",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(leading_node(&children).unwrap(), "json.info_0000000010");
        assert!(leading_node(&["info_0000000001".to_string()]).is_none());
    }

    #[test]
    fn master_info_json_gives_the_url() {
        // As a Mesos master writes it (docs/high-availability: JSON MasterInfo).
        let info =
            br#"{"address":{"hostname":"master-1.example.com","ip":"10.0.2.231","port":5050},
            "hostname":"master-1.example.com","id":"20151012-214859-3875667978-5050-450",
            "ip":3875667978,"pid":"master@10.0.2.231:5050","port":5050,"version":"1.11.0"}"#;
        assert_eq!(master_url(info).unwrap(), "http://10.0.2.231:5050");
        let old = br#"{"hostname":"m1","port":5051}"#;
        assert_eq!(master_url(old).unwrap(), "http://m1:5051");
        assert!(master_url(b"\x08\x01").is_err(), "protobuf, not JSON");
        assert!(master_url(br#"{"address":{"ip":"10.0.0.1"}}"#).is_err());
    }
}
