//! `[[tls]]` certificates from providers, applied live: every applied configuration
//! rebuilds the per-entry-point certificate maps and stores them in one `ArcSwap`, so new
//! handshakes see the new certificates while established connections keep theirs.
//! A certificate that does not load is skipped with an error naming it and where it
//! was written; the others are served.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use trafik_config::{Diagnostic, StaticConfig};

use super::certs;
use super::resolver::{CertMap, DynamicCerts};
use crate::provider::Snapshot;

pub struct DynamicTls {
    certs: Arc<DynamicCerts>,
    /// Entry points that speak TLS.
    tls_entry_points: Vec<String>,
    /// Where a `[[tls]]` without `entryPoints` goes: the default entry points with TLS.
    default_entry_points: Vec<String>,
}

impl DynamicTls {
    pub fn new(cfg: &StaticConfig) -> Self {
        let tls_entry_points: Vec<String> = cfg
            .effective_entry_points()
            .into_iter()
            .filter(|(_, ep)| ep.tls.is_some())
            .map(|(name, _)| name)
            .collect();
        let default_entry_points = cfg
            .effective_default_entry_points()
            .into_iter()
            .filter(|n| tls_entry_points.contains(n))
            .collect();
        DynamicTls {
            certs: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            tls_entry_points,
            default_entry_points,
        }
    }

    /// The map every TLS entry point's resolver reads.
    pub fn certs(&self) -> Arc<DynamicCerts> {
        self.certs.clone()
    }

    /// Rebuilds the dynamic certificates from every provider's latest snapshot.
    pub fn apply(&self, snapshots: &BTreeMap<String, Snapshot>) -> Vec<Diagnostic> {
        let provider = super::provider();
        let mut problems = Vec::new();
        let mut maps: HashMap<String, CertMap> = HashMap::new();
        let mut count = 0usize;
        for snapshot in snapshots.values() {
            for (i, item) in snapshot.config.tls.iter().enumerate() {
                let at = ["tls".to_string(), i.to_string(), "certificate".to_string()];
                let loaded = match certs::load(&item.certificate, &provider) {
                    Ok(l) => l,
                    Err(e) => {
                        problems.push(
                            snapshot
                                .sources
                                .diagnostic(&at, format!("[[tls]] certificate skipped: {e}")),
                        );
                        continue;
                    }
                };
                let targets = if item.entry_points.is_empty() {
                    &self.default_entry_points
                } else {
                    &item.entry_points
                };
                for ep in targets {
                    if !self.tls_entry_points.contains(ep) {
                        problems.push(snapshot.sources.diagnostic(
                            &at[..2],
                            format!(
                                "tls certificate {}: entry point {ep:?} does not exist or has no [entryPoints.{ep}.tls]; not added there",
                                certs::describe(&item.certificate.cert_file)
                            ),
                        ));
                        continue;
                    }
                    maps.entry(ep.clone()).or_default().insert(&loaded);
                }
                count += 1;
            }
        }
        let maps: HashMap<String, Arc<CertMap>> =
            maps.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        self.certs.store(Arc::new(maps));
        tracing::debug!(certificates = count, "dynamic TLS certificates applied");
        problems
    }
}
