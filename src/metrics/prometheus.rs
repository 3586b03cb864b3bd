//! `[metrics.prometheus]`: Traefik 1.x's metric names, kept with prometheus-client and
//! rendered as OpenMetrics text (which Prometheus scrapes natively). Request metrics are
//! recorded as requests end; the rest (backend open connections and retries, server up,
//! configuration reloads) is read from the live state at scrape time, so nothing on the
//! hot path has to keep it.

use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::runtime::Runtime;
use crate::status::StatusBoard;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryPointRequest {
    code: String,
    method: String,
    protocol: String,
    entrypoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryPointOpen {
    method: String,
    protocol: String,
    entrypoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendRequest {
    code: String,
    method: String,
    protocol: String,
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: String,
}

/// Traefik 2's labels for `traefik_tls_certs_not_after`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabel {
    cn: String,
    sans: String,
    serial: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    backend: String,
    url: String,
}

/// Makes each histogram of a family with the configured buckets.
#[derive(Clone)]
struct Buckets(std::sync::Arc<Vec<f64>>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

type HistogramFamily<L> = Family<L, Histogram, Buckets>;

/// What one finished proxied request adds.
pub struct Observation<'a> {
    pub entry_point: &'a str,
    pub backend: Option<&'a str>,
    pub method: &'a str,
    pub protocol: &'static str,
    pub status: u16,
    pub took: Duration,
}

pub struct Prometheus {
    registry: Registry,
    ep_requests: Family<EntryPointRequest, Counter>,
    ep_duration: HistogramFamily<EntryPointRequest>,
    ep_open: Family<EntryPointOpen, Gauge>,
    be_requests: Family<BackendRequest, Counter>,
    be_duration: HistogramFamily<BackendRequest>,
}

fn histograms<L>(buckets: &[f64]) -> HistogramFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(Buckets(std::sync::Arc::new(buckets.to_vec())))
}

impl Prometheus {
    pub fn new(buckets: &[f64]) -> Self {
        let mut registry = Registry::default();
        let ep_requests = Family::<EntryPointRequest, Counter>::default();
        let ep_duration = histograms(buckets);
        let ep_open = Family::<EntryPointOpen, Gauge>::default();
        let be_requests = Family::<BackendRequest, Counter>::default();
        let be_duration = histograms(buckets);
        registry.register(
            "traefik_entrypoint_requests",
            "How many HTTP requests processed on an entrypoint, partitioned by status code, protocol, and method",
            ep_requests.clone(),
        );
        registry.register(
            "traefik_entrypoint_request_duration_seconds",
            "How long it took to process the request on an entrypoint, partitioned by status code, protocol, and method",
            ep_duration.clone(),
        );
        registry.register(
            "traefik_entrypoint_open_connections",
            "How many open connections exist on an entrypoint, partitioned by method and protocol",
            ep_open.clone(),
        );
        registry.register(
            "traefik_backend_requests",
            "How many HTTP requests processed on a backend, partitioned by status code, protocol, and method",
            be_requests.clone(),
        );
        registry.register(
            "traefik_backend_request_duration_seconds",
            "How long it took to process the request on a backend, partitioned by status code, protocol, and method",
            be_duration.clone(),
        );
        Prometheus {
            registry,
            ep_requests,
            ep_duration,
            ep_open,
            be_requests,
            be_duration,
        }
    }

    pub fn started(&self, entry_point: &str, method: &str, protocol: &'static str) {
        self.ep_open
            .get_or_create(&open(entry_point, method, protocol))
            .inc();
    }

    pub fn finished(&self, o: &Observation<'_>) {
        self.ep_open
            .get_or_create(&open(o.entry_point, o.method, o.protocol))
            .dec();
        let labels = EntryPointRequest {
            code: o.status.to_string(),
            method: super::labels::method(o.method).to_string(),
            protocol: o.protocol.to_string(),
            entrypoint: o.entry_point.to_string(),
        };
        self.ep_requests.get_or_create(&labels).inc();
        self.ep_duration
            .get_or_create(&labels)
            .observe(o.took.as_secs_f64());
        if let Some(backend) = o.backend {
            let labels = BackendRequest {
                code: labels.code,
                method: labels.method,
                protocol: labels.protocol,
                backend: backend.to_string(),
            };
            self.be_requests.get_or_create(&labels).inc();
            self.be_duration
                .get_or_create(&labels)
                .observe(o.took.as_secs_f64());
        }
    }

    /// The whole exposition: what was recorded, plus the live state read now.
    pub fn render(&self, runtime: &Runtime, status: &StatusBoard) -> String {
        let mut registry = Registry::default();
        let be_open = Family::<BackendLabel, Gauge>::default();
        let be_retries = Family::<BackendLabel, Counter>::default();
        let server_up = Family::<ServerLabel, Gauge>::default();
        for backend in &runtime.backends {
            let name = &backend.name;
            let label = BackendLabel {
                backend: name.clone(),
            };
            be_open
                .get_or_create(&label)
                .set(backend.open_connections());
            be_retries.get_or_create(&label).inc_by(backend.retries());
            for server in &backend.servers {
                let label = ServerLabel {
                    backend: name.clone(),
                    url: server.url.clone(),
                };
                server_up
                    .get_or_create(&label)
                    .set(i64::from(server.is_up()));
            }
        }
        let reloads = status.reloads();
        let reloads_total = Counter::<u64>::default();
        reloads_total.inc_by(reloads.total);
        let reload_failures = Counter::<u64>::default();
        reload_failures.inc_by(reloads.failures);
        let last_success = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        last_success.set(unix(reloads.last_success));
        let last_failure = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        last_failure.set(unix(reloads.last_failure));
        registry.register(
            "traefik_backend_open_connections",
            "How many open connections exist on a backend, partitioned by method and protocol",
            be_open,
        );
        registry.register(
            "traefik_backend_retries",
            "How many request retries happened on a backend",
            be_retries,
        );
        registry.register(
            "traefik_backend_server_up",
            "Backend server is up, described by gauge value of 0 or 1",
            server_up,
        );
        registry.register("traefik_config_reloads", "Config reloads", reloads_total);
        registry.register(
            "traefik_config_reloads_failure",
            "Config failure reloads",
            reload_failures,
        );
        registry.register(
            "traefik_config_last_reload_success",
            "Last config reload success",
            last_success,
        );
        registry.register(
            "traefik_config_last_reload_failure",
            "Last config reload failure",
            last_failure,
        );
        // Store-backed providers (etcd, Redis, …): reached or not, and since when.
        let provider_up = Family::<ProviderLabel, Gauge>::default();
        let provider_last_success =
            Family::<ProviderLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for (name, p) in status.providers() {
            let Some(store) = p.store else { continue };
            let label = ProviderLabel { provider: name };
            provider_up.get_or_create(&label).set(i64::from(store.up));
            provider_last_success
                .get_or_create(&label)
                .set(unix(store.last_success));
        }
        registry.register(
            "traefik_provider_up",
            "Whether a store-backed provider reaches its store (1) or not (0)",
            provider_up,
        );
        registry.register(
            "traefik_provider_last_success_timestamp_seconds",
            "When a store-backed provider last read its whole store (Unix seconds)",
            provider_last_success,
        );
        // [acme]'s certificates: when each expires (Unix seconds).
        let certs_not_after =
            Family::<CertLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for c in status.acme_certificates() {
            let Some(not_after) = c.not_after else {
                continue;
            };
            let label = CertLabel {
                cn: c.domains.first().cloned().unwrap_or_default(),
                sans: c.domains.join(","),
                serial: c.serial.clone(),
            };
            certs_not_after
                .get_or_create(&label)
                .set(crate::acme::status::unix_seconds(not_after));
        }
        registry.register(
            "traefik_tls_certs_not_after",
            "Certificate expiration timestamp (Unix seconds), per [acme] certificate",
            certs_not_after,
        );
        let log_dropped = Counter::<u64>::default();
        log_dropped.inc_by(crate::access_log::dropped_total());
        registry.register(
            "traefik_accesslog_dropped",
            "Access log records dropped because the log writer fell behind",
            log_dropped,
        );
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry_body(&mut out, &self.registry);
        let _ = encode(&mut out, &registry);
        out
    }
}

/// The recorded families without the `# EOF` that closes an exposition: the live ones
/// follow and bring their own.
fn encode_registry_body(out: &mut String, registry: &Registry) -> std::fmt::Result {
    prometheus_client::encoding::text::encode_registry(out, registry)
}

fn open(entry_point: &str, method: &str, protocol: &str) -> EntryPointOpen {
    EntryPointOpen {
        method: super::labels::method(method).to_string(),
        protocol: protocol.to_string(),
        entrypoint: entry_point.to_string(),
    }
}

fn unix(t: Option<SystemTime>) -> f64 {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}
