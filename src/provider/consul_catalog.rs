//! The `[consulCatalog]` provider: services registered in Consul become backends and
//! frontends (the translation, pure, is `trafik_config::consul_catalog`). It reads
//! `/v1/catalog/services`, then `/v1/health/service/<name>` for each service, translates,
//! sends the snapshot as provider `consulCatalog`, then waits with blocking queries on all
//! of those (the services list and every service's health) until one index moves, and reads
//! everything again (v1 always watched).
//!
//! Outages are the key-value providers': the last configuration keeps serving, the status
//! board and metrics say the store is down, retries back off (`provider::kv::backoff`).
//! Tested against a double of Consul's HTTP API (`tests/common/consul.rs`), not a real Consul.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use trafik_config::consul_catalog::{
    RuleTemplate, ServiceState, Settings, parse_health, parse_services, translate,
};
use trafik_config::{ConsulCatalog, Diagnostic, StaticConfig};

use super::consul::blocking::MIN_INTERVAL;
use super::consul::client::READ_TIMEOUT;
use super::consul::{ConsulClient, Settings as ClientSettings, encode_path};
use super::follow::{self, Source, Update};
use super::kv::StoreError;
use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// The provider's name in the API, the metrics and the logs (v1's table name).
pub const NAME: &str = "consulCatalog";

const SERVICES: &str = "/v1/catalog/services";

pub struct Catalog {
    client: ConsulClient,
    settings: Settings,
    stale: bool,
    /// The index of the last services read, and of each service's health read.
    services_index: u64,
    health_index: BTreeMap<String, u64>,
    /// When the last round of blocking queries started (re-polls are rate-limited).
    last_poll: Option<Instant>,
    /// What the last read translated to: a wake-up that changed nothing sends nothing.
    last_sent: follow::LastSent,
}

/// Builds the provider from `[consulCatalog]` (no I/O): an endpoint, TLS file or
/// `frontEndRule` that cannot work refuses to start, with the reason.
pub fn catalog(table: &ConsulCatalog, base_dir: &Path) -> Result<Catalog, String> {
    let front_end_rule =
        RuleTemplate::parse(table.front_end_rule()).map_err(|e| format!("frontEndRule: {e}"))?;
    let client = ConsulClient::new(
        &ClientSettings {
            endpoint: table.endpoint(),
            token: table.token.as_deref(),
            username: None,
            password: None,
            tls: table.tls.as_ref(),
        },
        base_dir,
    )?;
    Ok(Catalog {
        client,
        settings: Settings {
            prefix: table.prefix().to_string(),
            exposed_by_default: table.exposed_by_default,
            domain: table.domain.clone(),
            front_end_rule,
            strict_checks: table.strict_checks,
        },
        stale: table.stale,
        services_index: 0,
        health_index: BTreeMap::new(),
        last_poll: None,
        last_sent: follow::LastSent::default(),
    })
}

/// Starts the provider when `[consulCatalog]` is configured; returns whether it is.
pub fn spawn(
    cfg: &StaticConfig,
    base_dir: &Path,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let Some(table) = &cfg.consul_catalog else {
        return Ok(false);
    };
    let catalog = catalog(table, base_dir).map_err(|e| format!("[{NAME}]: {e}"))?;
    tokio::spawn(follow::run(NAME, catalog, true, tx.clone(), status.clone()));
    Ok(true)
}

fn health_path(service: &str) -> String {
    format!("/v1/health/service/{}", encode_path(service))
}

impl Catalog {
    fn base_query(&self) -> Vec<(&'static str, String)> {
        if self.stale {
            vec![("stale", String::new())]
        } else {
            Vec::new()
        }
    }

    /// Every service with its instances, remembering each answer's index.
    async fn services(&mut self) -> Result<BTreeMap<String, ServiceState>, StoreError> {
        let base = self.client.base().to_string();
        let query = self.base_query();
        let answer = self
            .client
            .get(SERVICES, &query, false, READ_TIMEOUT)
            .await?;
        let services_index = answer.required_index(&base, SERVICES)?;
        let services = parse_services(&answer.body)
            .map_err(|e| StoreError::new(format!("{base}{SERVICES}: {e}")))?;
        let mut health_index = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (name, tags) in services {
            let path = health_path(&name);
            let answer = self.client.get(&path, &query, false, READ_TIMEOUT).await?;
            health_index.insert(name.clone(), answer.required_index(&base, &path)?);
            let instances = parse_health(&answer.body)
                .map_err(|e| StoreError::new(format!("{base}{path}: {e}")))?;
            out.insert(name, ServiceState { tags, instances });
        }
        self.services_index = services_index;
        self.health_index = health_index;
        Ok(out)
    }

    /// Resolves once the services list or any service's health may have changed.
    async fn health_changed(&mut self) -> Result<(), StoreError> {
        if let Some(t) = self.last_poll {
            tokio::time::sleep_until(t + MIN_INTERVAL).await;
        }
        self.last_poll = Some(Instant::now());
        let query = self.base_query();
        let paths: Vec<(String, u64)> = self
            .health_index
            .iter()
            .map(|(name, index)| (health_path(name), *index))
            .collect();
        let client = &self.client;
        let services_check = |body: &[u8]| parse_services(body).map(|_| ());
        let health_check = |body: &[u8]| parse_health(body).map(|_| ());
        let mut watches: Vec<std::pin::Pin<Box<dyn Future<Output = _> + Send + '_>>> =
            vec![Box::pin(client.watch(
                SERVICES,
                &query,
                self.services_index,
                false,
                services_check,
            ))];
        for (path, index) in &paths {
            watches.push(Box::pin(client.watch(
                path,
                &query,
                *index,
                false,
                health_check,
            )));
        }
        let (first, _, _) = futures_util::future::select_all(watches).await;
        first
    }
}

impl Source for Catalog {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        let services = self.services().await?;
        let translated = translate(&self.settings, &services);
        Ok(self.last_sent.update(
            NAME,
            translated.configuration,
            translated.problems,
            translated.warnings,
        ))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        self.health_changed().await
    }
}

/// How long `trafik check` waits for Consul.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What `trafik check` reads: the catalog once (`None` without `[consulCatalog]`), with the
/// tags not read as warnings, or why it could not be read.
pub async fn check(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Option<Result<(Snapshot, Vec<Diagnostic>), String>> {
    let table = cfg.consul_catalog.as_ref()?;
    Some(match catalog(table, base_dir) {
        Ok(catalog) => follow::read_once(catalog, CHECK_TIMEOUT).await,
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_that_cannot_work_are_refused() {
        let dir = Path::new("/");
        let table = ConsulCatalog::default();
        assert!(catalog(&table, dir).is_ok());
        let table = ConsulCatalog {
            front_end_rule: Some("Host:{{.Name}}".into()),
            ..Default::default()
        };
        let e = catalog(&table, dir).err().unwrap();
        assert!(e.contains("frontEndRule") && e.contains(".Name"), "{e}");
        let table = ConsulCatalog {
            endpoint: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(catalog(&table, dir).is_err());
    }
}
