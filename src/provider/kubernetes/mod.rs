//! The `[kubernetes]` provider: trafik as an Ingress controller. The API server's
//! Ingresses, IngressClasses, Services, EndpointSlices (or Endpoints) and Secrets are
//! watched (`watch.rs`); every change rebuilds the `Cluster` from the watch stores and
//! translates it (`trafik_config::kubernetes`, pure), and the snapshot goes to the
//! aggregator as provider `kubernetes` when it differs from the last one sent.
//!
//! kube's watcher keeps its own state machine (list, watch, resume, re-list on 410, backoff),
//! which does not fit `follow::Source`'s read-then-wait: its stores must be polled all the
//! time to stay current. So this provider has its own loop (`run.rs`) that keeps the follow
//! loop's rules: an API server unreachable (or refusing the token) keeps the last
//! configuration serving and is recorded with `StatusBoard::store_down` (`/api/state`,
//! `traefik_provider_up`); the first answer after it records `store_up`.

mod client;
mod publish;
mod run;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use trafik_config::{Diagnostic, StaticConfig};

use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// The provider's name in the API, the metrics and the logs (v1's table name).
pub const NAME: &str = "kubernetes";

/// How long `trafik check` waits for every kind to be listed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the provider needs, from `[kubernetes]` (read at start).
pub struct Provider {
    client: kube::Client,
    scope: watch::Scope,
    settings: trafik_config::kubernetes::Settings,
    throttle: Duration,
    /// `watch = false`: the cluster is read once.
    watch: bool,
    publish: Option<publish::Target>,
}

/// Builds the provider from `[kubernetes]`: a table that cannot work (a bad endpoint, an
/// unreadable CA, nowhere to connect) refuses to start, with the reason.
async fn provider(table: &trafik_config::Kubernetes, base_dir: &Path) -> Result<Provider, String> {
    if let Some(what) = table.not_implemented() {
        return Err(what.to_string());
    }
    let publish = match &table.ingress_endpoint {
        Some(e) => Some(publish::Target::new(e)?),
        None => None,
    };
    let config = client::config(table, base_dir).await?;
    // kube's rustls client takes the process default provider: trafik's aws-lc-rs.
    crate::tls::install_crypto_provider();
    let client = kube::Client::try_from(config).map_err(|e| format!("client: {e}"))?;
    Ok(Provider {
        client,
        scope: watch::Scope {
            namespaces: table.namespaces.clone(),
            label_selector: table.label_selector.clone(),
            endpoint_slices: true,
        },
        settings: trafik_config::kubernetes::Settings {
            ingress_class: table.ingress_class.clone(),
            disable_pass_host_headers: table.disable_pass_host_headers,
            enable_pass_tls_cert: table.enable_pass_tls_cert,
        },
        throttle: table.throttle_duration.get(),
        watch: table.watch,
        publish,
    })
}

/// Starts the provider when `[kubernetes]` is configured; returns whether it is.
pub async fn spawn(
    cfg: &StaticConfig,
    base_dir: &Path,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let Some(table) = &cfg.kubernetes else {
        return Ok(false);
    };
    let provider = provider(table, base_dir)
        .await
        .map_err(|e| format!("[{NAME}]: {e}"))?;
    tokio::spawn(run::run(provider, tx.clone(), status.clone()));
    Ok(true)
}

/// What `trafik check` reads: the cluster once (`None` without `[kubernetes]`), with what
/// the translation did not read as warnings, or why the API could not be read.
pub async fn check(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Option<Result<(Snapshot, Vec<Diagnostic>), String>> {
    let table = cfg.kubernetes.as_ref()?;
    Some(match provider(table, base_dir).await {
        Ok(provider) => tokio::time::timeout(CHECK_TIMEOUT, run::read_once(provider))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}"))),
        Err(e) => Err(e),
    })
}
