//! What trafik counts about the requests it proxies: v1's `/health` statistics and the
//! Prometheus metrics, each only when configured. The handler reports a request when it
//! starts and when its response has ended; internal routes are not reported.

pub mod health_stats;
pub mod labels;
pub mod prometheus;

use std::time::{Duration, SystemTime};

pub use health_stats::{HealthStats, RecentError};
pub use prometheus::{Observation, Prometheus};

#[derive(Default)]
pub struct Telemetry {
    pub health: Option<HealthStats>,
    pub prometheus: Option<Prometheus>,
}

/// One proxied request, as the metrics see it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub entry_point: std::sync::Arc<str>,
    pub backend: Option<String>,
    pub method: String,
    pub protocol: &'static str,
    pub host: String,
    pub path: String,
    pub status: u16,
}

impl Telemetry {
    pub fn is_empty(&self) -> bool {
        self.health.is_none() && self.prometheus.is_none()
    }

    pub fn started(&self, entry_point: &str, method: &str, protocol: &'static str) {
        if let Some(p) = &self.prometheus {
            p.started(entry_point, method, protocol);
        }
    }

    pub fn finished(&self, s: &Sample, took: Duration) {
        if let Some(h) = &self.health {
            h.record(s.status, took, || RecentError {
                status: s.status,
                method: s.method.clone(),
                host: s.host.clone(),
                path: s.path.clone(),
                time: SystemTime::now(),
            });
        }
        if let Some(p) = &self.prometheus {
            p.finished(&Observation {
                entry_point: &s.entry_point,
                backend: s.backend.as_deref(),
                method: &s.method,
                protocol: s.protocol,
                status: s.status,
                took,
            });
        }
    }
}
