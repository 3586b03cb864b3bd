//! The key-value providers (etcd, ZooKeeper, Consul, BoltDB, Redis): one loop for all,
//! over a `Store` each of them implements in `src/provider/<store>.rs`. The loop reads the
//! whole prefix (following `<prefix>/alias`), decodes it with `trafik_config::kv::decode`
//! into a `Snapshot`, sends it to the aggregator, then waits for the store to say something
//! changed and reads again: any change means a full re-read (v1's behaviour), the
//! aggregator's throttle coalescing bursts.
//!
//! A store that cannot be reached, at start or later, takes nothing away: the last
//! configuration keeps serving, `StatusBoard::store_down` records why, and the loop retries
//! with capped exponential backoff (`backoff.rs`), reading everything again once back.

pub(crate) mod backoff;
mod by_kind;
mod read;
mod start;
mod static_config;
mod store;

#[cfg(test)]
mod tests;

pub use by_kind::{OnceError, list_by_kind, put_by_kind};
pub use read::{read_once, snapshot};
pub use start::{check_all, spawn_all};
pub use static_config::{read_static, storeconfig_pairs};
pub use store::{Pairs, Store, StoreError};

use std::sync::Arc;

use tokio::sync::mpsc;

use super::ProviderUpdate;
use crate::status::StatusBoard;
use backoff::Backoff;

/// Follows one store until trafik stops. `watch = false` reads once (retrying until that
/// read succeeds).
pub async fn run<S: Store>(
    name: &'static str,
    mut store: S,
    prefix: String,
    watch: bool,
    tx: mpsc::Sender<ProviderUpdate>,
    status: Arc<StatusBoard>,
) {
    let mut backoff = Backoff::default();
    // What was sent last, so that a watch event that changed nothing reloads nothing.
    let mut last_sent: Option<u64> = None;
    // The previous watch ended in an error (see below).
    let mut watch_lost = false;
    loop {
        let started = std::time::Instant::now();
        match read::read(&mut store, &prefix).await {
            Ok(read) => {
                let read_ms = started.elapsed().as_millis() as u64;
                if !status_was_up(&status, name) {
                    tracing::info!(provider = name, "store reached; configuration read");
                }
                status.store_up(name);
                backoff.reset();
                if last_sent != Some(read.fingerprint) {
                    last_sent = Some(read.fingerprint);
                    let update = read::snapshot(&read);
                    tracing::debug!(
                        provider = name,
                        keys = read.pairs.len(),
                        read_ms,
                        decode_ms = started.elapsed().as_millis() as u64 - read_ms,
                        "store read"
                    );
                    for warning in &update.warnings {
                        tracing::warn!(provider = name, "{warning}");
                    }
                    let provider = name.to_string();
                    if tx
                        .send(ProviderUpdate {
                            provider,
                            update: update.snapshot,
                        })
                        .await
                        .is_err()
                    {
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
        match store.changed().await {
            Ok(()) => watch_lost = false,
            // A lost watch (etcd compacted its revision, a connection reset) is not yet an
            // outage: read again at once, which re-arms it. Only a read that fails, or a
            // watch lost again straight after, is one (so a store whose watch keeps failing
            // is retried with backoff, never in a tight loop).
            Err(e) if !watch_lost => {
                watch_lost = true;
                tracing::warn!(provider = name, "watch lost ({e}); reading the store again");
            }
            Err(e) => outage(name, &status, &e, &mut backoff).await,
        }
    }
}

pub(crate) fn status_was_up(status: &StatusBoard, name: &str) -> bool {
    status
        .providers()
        .get(name)
        .and_then(|p| p.store.as_ref())
        .is_some_and(|s| s.up)
}

/// Records the outage and waits before the next attempt. Logged at each attempt: the
/// backoff keeps that to one line per 30 s once the store has been gone a while.
pub(crate) async fn outage(
    name: &str,
    status: &StatusBoard,
    e: &StoreError,
    backoff: &mut Backoff,
) {
    let delay = backoff.next_delay();
    tracing::error!(
        provider = name,
        "store unreachable ({e}); the last configuration keeps serving; retrying in {delay:?}"
    );
    status.store_down(name, e.to_string());
    tokio::time::sleep(delay).await;
}
