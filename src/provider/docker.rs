//! The `[docker]` provider: running containers and their `traefik.*` labels become
//! backends and frontends (the translation, pure, is `trafik_config::docker`). Through
//! `bollard` (rust-crates.md §9: the maintained Engine API client; API version negotiated,
//! so Debian's 20.10 engine answers): subscribe to the engine's events, list the running
//! containers and inspect each, translate, send the snapshot as provider `docker`; then
//! re-read after each event that can change what is served (start, die, health_status,
//! rename, destroy, pause, unpause, network connect / disconnect). The subscription
//! starts a few seconds before the listing, so a change between the two is never missed.
//!
//! With `swarmMode = true` the services of a Swarm manager are polled instead (`swarm`).
//!
//! Outages are the key-value providers': the engine unreachable at start or later keeps the
//! last configuration serving, the status board and metrics say it is down
//! (`StatusBoard::store_down`), and reconnecting backs off (`provider::kv::backoff`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use trafik_config::docker::{Container, Settings, parse_inspect, translate};
use trafik_config::{Diagnostic, StaticConfig};

mod insecure_tls;
mod raw_get;
mod swarm;

use super::follow::{self, Source, Update};
use super::kv::StoreError;
use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// The provider's name in the API, the metrics and the logs (v1's table name).
pub const NAME: &str = "docker";

/// Seconds bollard waits for one answer (the event stream is not bounded by it).
const REQUEST_TIMEOUT_SECS: u64 = 30;

/// Event actions that can change what is served (`health_status: healthy` and the like
/// start with `health_status`). Health checks' `exec_*` events are not among them.
const RELEVANT: [&str; 10] = [
    "start",
    "die",
    "destroy",
    "rename",
    "health_status",
    "pause",
    "unpause",
    "connect",
    "disconnect",
    "update",
];

/// How to reach the engine, from `[docker]` (no I/O).
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: String,
    /// How a `tcp://` endpoint speaks TLS, if it does.
    tls: Option<Tls>,
    settings: Settings,
    watch: bool,
    /// `swarmMode`: services polled every `swarmModeRefreshSeconds` (`swarm`).
    swarm_refresh: Option<std::time::Duration>,
}

/// `[docker.tls]`, checked.
#[derive(Clone)]
enum Tls {
    /// bollard's TLS: the engine's certificate verified against `ca`; (key, cert, ca) files.
    Verified(PathBuf, PathBuf, PathBuf),
    /// `insecureSkipVerify`: any certificate accepted (`insecure_tls`).
    Insecure(Arc<rustls::ClientConfig>),
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Verified(key, cert, ca) => write!(f, "Verified({key:?}, {cert:?}, {ca:?})"),
            Tls::Insecure(_) => write!(f, "Insecure"),
        }
    }
}

/// Builds the provider from `[docker]`: an endpoint, TLS setting or option this version
/// cannot honour refuses to start, with the reason.
pub fn engine(table: &trafik_config::Docker, base_dir: &Path) -> Result<Engine, String> {
    if let Some(what) = table.not_implemented() {
        return Err(what.to_string());
    }
    let endpoint = table.endpoint().to_string();
    if !(endpoint.starts_with("unix://") || endpoint.starts_with("tcp://")) {
        return Err(format!(
            "endpoint {endpoint:?}: expected unix:///path or tcp://host:port"
        ));
    }
    let tls = match &table.tls {
        None => None,
        Some(tls) => {
            if endpoint.starts_with("unix://") {
                return Err("[docker.tls] needs a tcp:// endpoint".to_string());
            }
            let file = |what: &str, v: &str| {
                if v.trim().is_empty() || v.contains("-----BEGIN") {
                    Err(format!("[docker.tls] {what}: a file path is required"))
                } else {
                    Ok(base_dir.join(v.trim()))
                }
            };
            if tls.insecure_skip_verify {
                tracing::warn!(
                    "[docker.tls] insecureSkipVerify: the engine's certificate is not checked"
                );
                crate::tls::install_crypto_provider();
                // A client certificate is optional here; `ca` is not used.
                let optional = |what: &str, v: &str| {
                    if v.trim().is_empty() {
                        Ok(String::new())
                    } else {
                        file(what, v).map(|p| p.to_string_lossy().into_owned())
                    }
                };
                Some(Tls::Insecure(insecure_tls::client_config(
                    &optional("cert", &tls.cert)?,
                    &optional("key", &tls.key)?,
                )?))
            } else {
                Some(Tls::Verified(
                    file("key", &tls.key)?,
                    file("cert", &tls.cert)?,
                    file("ca", &tls.ca)?,
                ))
            }
        }
    };
    let constraints = table
        .constraints
        .iter()
        .map(|c| trafik_config::constraints::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Engine {
        endpoint,
        tls,
        settings: Settings {
            exposed_by_default: table.exposed_by_default,
            domain: table.domain.clone(),
            network: table.network.clone(),
            use_bind_port_ip: table.use_bind_port_ip,
            constraints,
        },
        watch: table.watch,
        swarm_refresh: swarm_refresh(table)?,
    })
}

/// Swarm mode's polling period, when it is on.
fn swarm_refresh(table: &trafik_config::Docker) -> Result<Option<std::time::Duration>, String> {
    if !table.swarm_mode {
        return Ok(None);
    }
    if table.swarm_mode_refresh_seconds == Some(0) {
        return Err("swarmModeRefreshSeconds must be at least 1".to_string());
    }
    Ok(Some(table.swarm_mode_refresh()))
}

/// Starts the provider when `[docker]` is configured; returns whether it is.
pub fn spawn(
    cfg: &StaticConfig,
    base_dir: &Path,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let Some(table) = &cfg.docker else {
        return Ok(false);
    };
    let engine = engine(table, base_dir).map_err(|e| format!("[{NAME}]: {e}"))?;
    let watch = engine.watch;
    if let Some(refresh) = engine.swarm_refresh {
        let polling = swarm::Polling::new(engine, refresh);
        tokio::spawn(follow::run(
            NAME,
            polling,
            watch,
            tx.clone(),
            status.clone(),
        ));
        return Ok(true);
    }
    tokio::spawn(follow::run(
        NAME,
        Following::new(engine),
        watch,
        tx.clone(),
        status.clone(),
    ));
    Ok(true)
}

impl Engine {
    /// A client with the API version the engine speaks.
    async fn connect(&self) -> Result<Docker, StoreError> {
        let version = bollard::API_DEFAULT_VERSION;
        let client = match &self.tls {
            _ if self.endpoint.starts_with("unix://") => {
                Docker::connect_with_unix(&self.endpoint, REQUEST_TIMEOUT_SECS, version)
            }
            Some(Tls::Insecure(config)) => insecure_tls::connect(
                &self.endpoint,
                config.clone(),
                REQUEST_TIMEOUT_SECS,
                version,
            ),
            Some(Tls::Verified(key, cert, ca)) => {
                crate::tls::install_crypto_provider();
                Docker::connect_with_ssl(
                    &self.endpoint,
                    key,
                    cert,
                    ca,
                    REQUEST_TIMEOUT_SECS,
                    version,
                )
            }
            None => Docker::connect_with_http(&self.endpoint, REQUEST_TIMEOUT_SECS, version),
        }
        .map_err(|e| self.error(e))?;
        client.negotiate_version().await.map_err(|e| self.error(e))
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(format!("Docker engine at {}: {e}", self.endpoint))
    }

    /// The running containers, inspected, by name.
    async fn read(&self, docker: &Docker) -> Result<Vec<Container>, StoreError> {
        let listed = docker
            .list_containers(Some(ListContainersOptions::default()))
            .await
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for summary in listed {
            let Some(id) = summary.id else { continue };
            let inspected = match docker.inspect_container(&id, None).await {
                Ok(i) => i,
                // Gone between the list and the inspect: its `destroy` event follows.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(e) => return Err(self.error(e)),
            };
            // bollard's typed answer back to the Engine's JSON: one reader for recorded
            // payloads and live ones.
            let json = serde_json::to_vec(&inspected).map_err(|e| self.error(e))?;
            out.push(parse_inspect(&json).map_err(|e| self.error(e))?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        trafik_config::docker::share_networks(&mut out);
        Ok(out)
    }
}

/// How long `trafik check` waits for the engine.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What `trafik check` reads: the containers once (`None` without `[docker]`), with the
/// labels not read as warnings, or why the engine could not be read.
pub async fn check(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Option<Result<(Snapshot, Vec<Diagnostic>), String>> {
    let table = cfg.docker.as_ref()?;
    Some(match engine(table, base_dir) {
        Ok(engine) => match engine.swarm_refresh {
            Some(refresh) => {
                follow::read_once(swarm::Polling::new(engine, refresh), CHECK_TIMEOUT).await
            }
            None => follow::read_once(Following::new(engine), CHECK_TIMEOUT).await,
        },
        Err(e) => Err(e),
    })
}

type Events = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<bollard::models::EventMessage, bollard::errors::Error>,
            > + Send,
    >,
>;

/// The engine as `provider::follow` reads it: a client and its event subscription, made
/// on the first read and again after an error.
struct Following {
    engine: Engine,
    connection: Option<(Docker, Events)>,
    /// What the last read translated to: a re-read that changed nothing sends nothing.
    last_sent: follow::LastSent,
}

impl Following {
    fn new(engine: Engine) -> Self {
        Following {
            engine,
            connection: None,
            last_sent: follow::LastSent::default(),
        }
    }

    /// The client, connecting (and subscribing to events before the listing) when there
    /// is none.
    async fn docker(&mut self) -> Result<Docker, StoreError> {
        if let Some((docker, _)) = &self.connection {
            return Ok(docker.clone());
        }
        let docker = self.engine.connect().await?;
        let events: Events = Box::pin(docker.events(Some(events_options())));
        self.connection = Some((docker.clone(), events));
        Ok(docker)
    }
}

impl Source for Following {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        let docker = self.docker().await?;
        let containers = match self.engine.read(&docker).await {
            Ok(containers) => containers,
            Err(e) => {
                self.connection = None;
                return Err(e);
            }
        };
        let translated = translate(&self.engine.settings, &containers);
        Ok(self.last_sent.update(
            NAME,
            translated.configuration,
            translated.problems,
            translated.warnings,
        ))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let Some((_, events)) = &mut self.connection else {
            return Err(StoreError::new("not connected"));
        };
        let result = next_change(events).await.map_err(|e| self.engine.error(e));
        if result.is_err() {
            self.connection = None;
        }
        result
    }
}

/// The events that can change what is served: containers' and networks'. bollard sends
/// the request only when the stream is first polled, after the listing: asking for the
/// events of the last few seconds too means one that happened in between is not missed
/// (one replayed costs a read that changes nothing).
fn events_options() -> EventsOptions {
    let filters = HashMap::from([(
        "type".to_string(),
        vec!["container".to_string(), "network".to_string()],
    )]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    EventsOptions {
        since: Some(now.saturating_sub(EVENTS_REPLAY_SECS).to_string()),
        filters: Some(filters),
        ..Default::default()
    }
}

/// How far back the event subscription starts (the listing follows it within this).
const EVENTS_REPLAY_SECS: u64 = 5;

fn relevant(action: &str) -> bool {
    RELEVANT.iter().any(|r| action.starts_with(r))
}

/// Waits for an event that can change what is served, then takes the others already
/// there (a burst of starts is one re-read, not one each).
async fn next_change<S>(events: &mut S) -> Result<(), String>
where
    S: futures_util::Stream<Item = Result<bollard::models::EventMessage, bollard::errors::Error>>
        + Unpin,
{
    loop {
        match events.next().await {
            None => return Err("the event stream ended".to_string()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(event)) => {
                if relevant(event.action.as_deref().unwrap_or("")) {
                    break;
                }
            }
        }
    }
    while let Some(Some(item)) = futures_util::FutureExt::now_or_never(events.next()) {
        if let Err(e) = item {
            return Err(e.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_that_cannot_work_are_refused() {
        let dir = Path::new("/");
        let table = trafik_config::Docker::default();
        assert!(engine(&table, dir).is_ok());
        let swarm = trafik_config::Docker {
            swarm_mode: true,
            ..Default::default()
        };
        let e = engine(&swarm, dir).unwrap();
        assert_eq!(e.swarm_refresh, Some(std::time::Duration::from_secs(15)));
        let never = trafik_config::Docker {
            swarm_mode_refresh_seconds: Some(0),
            ..swarm
        };
        assert!(engine(&never, dir).err().unwrap().contains("at least 1"));
        let ftp = trafik_config::Docker {
            endpoint: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(engine(&ftp, dir).is_err());
        let tls_unix = trafik_config::Docker {
            tls: Some(Default::default()),
            ..Default::default()
        };
        assert!(engine(&tls_unix, dir).is_err());
        let bad = trafik_config::Docker {
            constraints: vec!["label==x".into()],
            ..Default::default()
        };
        assert!(engine(&bad, dir).err().unwrap().contains("label==x"));
    }

    #[test]
    fn insecure_skip_verify_needs_no_ca_and_a_whole_client_pair() {
        let dir = Path::new("/");
        let tls = |cert: &str, key: &str| trafik_config::Docker {
            endpoint: Some("tcp://127.0.0.1:2376".into()),
            tls: Some(trafik_config::model::ClientTls {
                cert: cert.into(),
                key: key.into(),
                insecure_skip_verify: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = engine(&tls("", ""), dir).unwrap();
        assert!(matches!(e.tls, Some(Tls::Insecure(_))), "{e:?}");
        let e = engine(&tls("/c.pem", ""), dir).err().unwrap();
        assert!(e.contains("cert is set without key"), "{e}");
        // A client certificate that cannot be read is refused at start, named.
        let e = engine(&tls("/nonexistent/c.pem", "/nonexistent/c.key"), dir)
            .err()
            .unwrap();
        assert!(e.contains("cert"), "{e}");
        // Verified TLS still wants its three files.
        let mut verified = tls("", "");
        verified.tls.as_mut().unwrap().insecure_skip_verify = false;
        assert!(engine(&verified, dir).is_err());
    }

    #[test]
    fn health_check_execs_are_not_changes() {
        assert!(relevant("start"));
        assert!(relevant("health_status: unhealthy"));
        assert!(relevant("disconnect"));
        assert!(!relevant("exec_create: /trafik healthcheck"));
        assert!(!relevant("exec_die"));
    }
}
