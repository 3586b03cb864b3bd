//! The one place configurations become live: keeps each provider's latest snapshot,
//! throttles bursts per provider (`providersThrottleDuration`: the first change applies
//! at once, then at most one per window, the last one winning), compiles, and swaps
//! the runtime atomically. In-flight requests finish on the runtime they started with.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::compile::{CompileSettings, Registries, compile};
use crate::provider::{ProviderUpdate, Snapshot};
use crate::proxy::Forwarder;
use crate::runtime::Runtime;
use crate::status::StatusBoard;
use crate::tls::dynamic::DynamicTls;

pub struct Aggregator {
    settings: CompileSettings,
    runtime: Arc<ArcSwap<Runtime>>,
    throttle: Duration,
    snapshots: BTreeMap<String, Snapshot>,
    generation: u64,
    registries: Registries,
    forwarder: Arc<Forwarder>,
    /// `[[tls]]` certificates, applied with every configuration.
    tls: Option<Arc<DynamicTls>>,
    status: Arc<StatusBoard>,
}

impl Aggregator {
    pub fn new(
        settings: CompileSettings,
        runtime: Arc<ArcSwap<Runtime>>,
        throttle: Duration,
        forwarder: Arc<Forwarder>,
        status: Arc<StatusBoard>,
    ) -> Self {
        Aggregator {
            settings,
            runtime,
            throttle,
            snapshots: BTreeMap::new(),
            generation: 0,
            registries: Registries::new(&forwarder),
            forwarder,
            tls: None,
            status,
        }
    }

    /// Also applies providers' `[[tls]]` certificates to the TLS entry points.
    pub fn with_tls(mut self, tls: Arc<DynamicTls>) -> Self {
        self.tls = Some(tls);
        self
    }

    pub async fn run(mut self, mut updates: mpsc::Receiver<ProviderUpdate>) {
        let mut pending: HashMap<String, Snapshot> = HashMap::new();
        let mut last_applied: HashMap<String, Instant> = HashMap::new();
        loop {
            let deadline = pending
                .keys()
                .filter_map(|p| last_applied.get(p))
                .min()
                .map(|t| *t + self.throttle);
            tokio::select! {
                update = updates.recv() => {
                    let Some(ProviderUpdate { provider, update }) = update else { break };
                    let snapshot = match update {
                        Ok(snapshot) => snapshot,
                        Err(error) => {
                            self.status.failed(&provider, error);
                            continue;
                        }
                    };
                    let now = Instant::now();
                    match last_applied.get(&provider) {
                        Some(t) if now < *t + self.throttle => {
                            pending.insert(provider, snapshot);
                        }
                        _ => {
                            self = self.apply_off_runtime(provider.clone(), snapshot).await;
                            last_applied.insert(provider, now);
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    let now = Instant::now();
                    let due: Vec<String> = pending
                        .keys()
                        .filter(|p| last_applied.get(*p).is_none_or(|t| *t + self.throttle <= now))
                        .cloned()
                        .collect();
                    for provider in due {
                        if let Some(snapshot) = pending.remove(&provider) {
                            self = self.apply_off_runtime(provider.clone(), snapshot).await;
                            last_applied.insert(provider, now);
                        }
                    }
                }
            }
        }
    }

    /// Compiling 10,000 frontends takes long enough (tens to hundreds of milliseconds) to hold
    /// up every request of a runtime thread, all of them with `--workers 1`: it runs on a
    /// configuration thread instead, a new one whose heap holds only what this compile
    /// allocates, so that the pages of the configuration it replaces empty entirely and the
    /// collect after the compile returns them (`config_thread.rs`). Requests meanwhile are
    /// served by the previous runtime.
    async fn apply_off_runtime(self, provider: String, snapshot: Snapshot) -> Self {
        crate::config_thread::run(move || {
            let mut this = self;
            this.apply(provider, snapshot);
            this
        })
        .await
    }

    fn apply(&mut self, provider: String, snapshot: Snapshot) {
        let started = std::time::Instant::now();
        let config = snapshot.config.clone();
        // Dropped once the new runtime is live: freeing 10,000 frontends is not the
        // change's latency.
        let _previous = self.snapshots.insert(provider.clone(), snapshot);
        self.generation += 1;
        let (mut runtime, problems) = compile(
            &self.snapshots,
            &self.settings,
            self.generation,
            &self.forwarder,
            Some(&mut self.registries),
        );
        for p in &problems {
            tracing::error!(provider = %provider, "{p}");
        }
        if let Some(tls) = &self.tls {
            for p in tls.apply(&self.snapshots) {
                tracing::error!(provider = %provider, "{p}");
            }
        }
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        self.status.applied(&provider, config, &lines);
        let frontends: usize = runtime.entry_points.values().map(|e| e.index.len()).sum();
        // Each server reaches its connection pool without a lookup, and the pools of
        // servers that left close once the previous configuration is gone (proxy/pool.rs).
        let servers = runtime.backends.iter().flat_map(|b| b.servers.iter());
        self.forwarder.retain_pools(servers.map(|s| &s.target));
        runtime.free_on_config_thread = true;
        self.runtime.store(Arc::new(runtime));
        drop(_previous);
        // What the compile freed (the previous snapshot and runtime: tens of megabytes at
        // 10,000 frontends) goes back now, not when this thread next works: a burst of
        // changes held the RSS of every configuration it went through (188 MB against
        // 87 MB settled, `benches/kv.sh`).
        crate::freed_memory::release_freed_memory(true);
        tracing::info!(
            provider = %provider,
            generation = self.generation,
            routes = frontends,
            skipped = problems.len(),
            compile_ms = started.elapsed().as_millis() as u64,
            "configuration applied"
        );
    }
}
