//! The provider's loop: find out which endpoint kind the API serves, start the watches,
//! and after every change (once every kind has been listed) translate the stores and send
//! the snapshot when it differs from the last one sent. Outages are recorded per watcher:
//! the provider is down while any watcher's last request failed, and up again once each
//! has answered.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use trafik_config::Diagnostic;
use trafik_config::kubernetes::translate;

use super::watch::{self, Said, Watches};
use super::{NAME, Provider, publish};
use crate::provider::follow;
use crate::provider::kv::backoff::Backoff;
use crate::provider::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// Follows the cluster until trafik stops.
pub async fn run(provider: Provider, tx: mpsc::Sender<ProviderUpdate>, status: Arc<StatusBoard>) {
    let mut scope = provider.scope.clone();
    scope.endpoint_slices = discover(&provider, &status).await;
    let mut watches = Watches::start(&provider.client, &scope);
    let mut health = Health::new(watches.labels.len());
    let mut last_sent = follow::LastSent::default();
    let mut published = publish::Published::default();
    loop {
        let mut dirty = tokio::select! {
            event = watches.events.next() => {
                let Some((index, said)) = event else { return };
                health.note(index, said, &watches.labels, &status)
            }
            // A watcher that failed to resume its watch says nothing once it is back until
            // an object changes: while down, ask the API directly whether it answers.
            () = tokio::time::sleep(PROBE_EVERY), if health.down() => {
                if watch::has_endpoint_slices(&provider.client).await.is_ok() {
                    health.recovered(&status);
                }
                false
            }
        };
        if !dirty || !health.all_listed() {
            continue;
        }
        // Take what else is already there, and for `throttleDuration` what comes, so a
        // burst (a rollout's endpoint changes) is one translation.
        let until = Instant::now() + provider.throttle;
        loop {
            match tokio::time::timeout_at(until, watches.events.next()).await {
                Ok(Some((index, said))) => {
                    dirty |= health.note(index, said, &watches.labels, &status);
                }
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let cluster = watches.cluster();
        let translated = translate(&provider.settings, &cluster);
        if let Some(target) = &provider.publish {
            target
                .publish(
                    &provider.client,
                    &provider.settings,
                    &cluster,
                    &mut published,
                )
                .await;
        }
        let Some(update) = last_sent.update(
            NAME,
            translated.configuration,
            translated.problems,
            translated.warnings,
        ) else {
            continue;
        };
        for warning in &update.warnings {
            tracing::warn!(provider = NAME, "{warning}");
        }
        let update = ProviderUpdate {
            provider: NAME.to_string(),
            update: update.snapshot,
        };
        if tx.send(update).await.is_err() || !provider.watch {
            return;
        }
    }
}

/// Reads every kind once, for `trafik check`: the snapshot, or the first failure.
pub async fn read_once(provider: Provider) -> Result<(Snapshot, Vec<Diagnostic>), String> {
    let mut scope = provider.scope.clone();
    scope.endpoint_slices = watch::has_endpoint_slices(&provider.client)
        .await
        .map_err(|e| format!("API discovery: {e}"))?;
    let mut watches = Watches::start(&provider.client, &scope);
    let mut listed = vec![false; watches.labels.len()];
    while !listed.iter().all(|l| *l) {
        match watches.events.next().await {
            None => return Err("the watches ended".to_string()),
            Some((index, Said::Listed)) => listed[index] = true,
            Some((index, Said::Failed { why: e, .. })) => {
                return Err(format!("{}: {e}", watches.labels[index]));
            }
            Some(_) => {}
        }
    }
    let translated = translate(&provider.settings, &watches.cluster());
    let warnings = translated
        .warnings
        .into_iter()
        .map(|w| Diagnostic::unlocated(NAME, w))
        .collect();
    Ok((
        Snapshot::translated(NAME, translated.configuration, translated.problems),
        warnings,
    ))
}

/// Asks the API whether it serves EndpointSlices, until it answers (an outage meanwhile is
/// recorded as one).
async fn discover(provider: &Provider, status: &StatusBoard) -> bool {
    let mut backoff = Backoff::default();
    loop {
        match watch::has_endpoint_slices(&provider.client).await {
            Ok(slices) => {
                if !slices {
                    tracing::info!(
                        provider = NAME,
                        "the API has no discovery.k8s.io/v1: watching Endpoints"
                    );
                }
                return slices;
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::error!(
                    provider = NAME,
                    "API server unreachable ({e}); retrying in {delay:?}"
                );
                status.store_down(NAME, format!("API discovery: {e}"));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// How often the API is asked whether it answers again while a watcher is failing.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Which watchers have listed, and which failed last.
struct Health {
    listed: Vec<bool>,
    /// Why each watcher's last request failed, and whether the API refused it (401,
    /// 403…) rather than not answering.
    failed: Vec<Option<(String, bool)>>,
    /// The provider was recorded up (`store_up`) and not down since.
    up: bool,
}

impl Health {
    fn new(watchers: usize) -> Self {
        Health {
            listed: vec![false; watchers],
            failed: vec![None; watchers],
            up: false,
        }
    }

    fn down(&self) -> bool {
        self.failed.iter().any(Option::is_some)
    }

    /// The API answers again: the watchers that could not reach it are past that (one that
    /// fails again records itself again). Those the API refused stay failed until they
    /// succeed, so a kind the ServiceAccount may not read does not flap up and down.
    fn recovered(&mut self, status: &StatusBoard) {
        for f in &mut self.failed {
            if f.as_ref().is_some_and(|(_, refused)| !refused) {
                *f = None;
            }
        }
        self.mark_up(status);
    }

    fn mark_up(&mut self, status: &StatusBoard) {
        if !self.up && self.all_listed() && !self.down() {
            tracing::info!(provider = NAME, "API server reached; every kind listed");
            status.store_up(NAME);
            self.up = true;
        }
    }

    fn all_listed(&self) -> bool {
        self.listed.iter().all(|l| *l)
    }

    /// Records what watcher `index` said; returns whether the stores may have changed.
    fn note(&mut self, index: usize, said: Said, labels: &[String], status: &StatusBoard) -> bool {
        let label = &labels[index];
        let changed = match said {
            Said::Failed { why: e, refused } => {
                let why = format!("{label}: {e}");
                tracing::error!(
                    provider = NAME,
                    "{why}; the last configuration keeps serving; kube retries with backoff"
                );
                status.store_down(NAME, why.clone());
                self.failed[index] = Some((why, refused));
                self.up = false;
                return false;
            }
            Said::Expired => {
                tracing::info!(
                    provider = NAME,
                    "{label}: watch history expired; listing again"
                );
                false
            }
            Said::Listing => false,
            Said::Listed => {
                self.listed[index] = true;
                true
            }
            Said::Changed => true,
        };
        self.failed[index] = None;
        self.mark_up(status);
        changed
    }
}
