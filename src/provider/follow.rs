//! The one loop of every provider that follows a remote source (the key-value stores, the
//! Docker engine, Consul's catalog): read everything, send it to the aggregator when it
//! changed, wait for the source to say something may have changed, read again.
//!
//! A source that cannot be reached, at start or later, takes nothing away: the last
//! configuration keeps serving, `StatusBoard::store_down` records why (`/api/state`,
//! `traefik_provider_up`), and the loop retries with capped exponential backoff, reading
//! everything again once back. A lost watch (etcd's revision compacted, an event stream
//! cut) is read again at once; only a read that fails, or a watch lost again straight
//! after, is an outage.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use trafik_config::Diagnostic;

use super::kv::StoreError;
use super::kv::backoff::Backoff;
use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;

/// What one read of a source gives.
pub struct Update {
    /// The configuration, or why this read cannot be used (the current one stays).
    pub snapshot: Result<Snapshot, String>,
    /// What was ignored (unknown keys, labels this version does not read): logged only.
    pub warnings: Vec<Diagnostic>,
}

pub trait Source: Send + 'static {
    /// Reads everything; `Ok(None)` when it is what the previous read gave (nothing to
    /// send). Connects lazily, so a source down at start is an outage, not a failed start.
    fn read(&mut self) -> impl Future<Output = Result<Option<Update>, StoreError>> + Send;

    /// Resolves once something may have changed since the last read (a false alarm costs
    /// a read); `Err` when the watch is lost.
    fn changed(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Follows `source` until trafik stops. `watch = false` reads once (retrying until that
/// read succeeds).
pub async fn run<S: Source>(
    name: &'static str,
    mut source: S,
    watch: bool,
    tx: mpsc::Sender<ProviderUpdate>,
    status: Arc<StatusBoard>,
) {
    let mut backoff = Backoff::default();
    // The previous watch ended in an error.
    let mut watch_lost = false;
    loop {
        match source.read().await {
            Ok(update) => {
                if !status_was_up(&status, name) {
                    tracing::info!(provider = name, "source reached; configuration read");
                }
                status.store_up(name);
                backoff.reset();
                if let Some(update) = update {
                    for warning in &update.warnings {
                        tracing::warn!(provider = name, "{warning}");
                    }
                    let update = ProviderUpdate {
                        provider: name.to_string(),
                        update: update.snapshot,
                    };
                    if tx.send(update).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                outage(name, &status, &e, &mut backoff).await;
                continue;
            }
        }
        if !watch {
            return;
        }
        match source.changed().await {
            Ok(()) => watch_lost = false,
            Err(e) if !watch_lost => {
                watch_lost = true;
                tracing::warn!(provider = name, "watch lost ({e}); reading again");
            }
            Err(e) => outage(name, &status, &e, &mut backoff).await,
        }
    }
}

/// One read for `trafik check`: the snapshot and what was ignored, or why the source
/// could not be read within `limit`.
pub async fn read_once<S: Source>(
    mut source: S,
    limit: Duration,
) -> Result<(Snapshot, Vec<Diagnostic>), String> {
    let read = tokio::time::timeout(limit, source.read())
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| e.to_string())?;
    // A fresh source has read nothing before: its first read is always an update.
    let update = read.ok_or("the source gave nothing to read")?;
    update.snapshot.map(|s| (s, update.warnings))
}

fn status_was_up(status: &StatusBoard, name: &str) -> bool {
    status
        .providers()
        .get(name)
        .and_then(|p| p.store.as_ref())
        .is_some_and(|s| s.up)
}

/// Records the outage and waits before the next attempt. Logged at each attempt: the
/// backoff keeps that to one line per 30 s once the source has been gone a while.
async fn outage(name: &str, status: &StatusBoard, e: &StoreError, backoff: &mut Backoff) {
    let delay = backoff.next_delay();
    tracing::error!(
        provider = name,
        "unreachable ({e}); the last configuration keeps serving; retrying in {delay:?}"
    );
    status.store_down(name, e.to_string());
    tokio::time::sleep(delay).await;
}

/// What a translating source (Docker, Consul Catalog, Marathon, Mesos, Kubernetes) sent
/// last: a read that translates to the same configuration and problems sends nothing, so
/// a spurious event or an unchanged poll reloads nothing.
#[derive(Default)]
pub struct LastSent(
    Option<(
        std::sync::Arc<trafik_config::Configuration>,
        Vec<Diagnostic>,
    )>,
);

impl LastSent {
    /// The update for one translation, or `None` when it is what was sent last. Its
    /// problems and warnings are named by the provider `name`.
    pub fn update(
        &mut self,
        name: &str,
        configuration: trafik_config::Configuration,
        problems: Vec<String>,
        warnings: Vec<String>,
    ) -> Option<Update> {
        let snapshot = Snapshot::translated(name, configuration, problems);
        let sent = (snapshot.config.clone(), snapshot.problems.clone());
        if self.0.as_ref() == Some(&sent) {
            return None;
        }
        self.0 = Some(sent);
        Some(Update {
            snapshot: Ok(snapshot),
            warnings: warnings
                .into_iter()
                .map(|w| Diagnostic::unlocated(name, w))
                .collect(),
        })
    }
}
