//! The static configuration: read once at start; a change needs a restart (as in v1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::dynamic::{Backend, Certificate, Frontend, TlsConfiguration};
use crate::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StaticConfig {
    /// DEBUG, INFO, WARN, ERROR, FATAL, PANIC (v1 names); default ERROR.
    pub log_level: Option<String>,
    pub debug: bool,
    /// Default `["http"]`.
    pub default_entry_points: Option<Vec<String>>,
    /// `None` (no `[entryPoints]` table) means `http` on `:80`.
    pub entry_points: Option<BTreeMap<String, EntryPoint>>,
    pub life_cycle: LifeCycle,
    /// Deprecated top-level form; overrides `lifeCycle.graceTimeOut` when non-zero.
    #[serde(rename = "graceTimeOut")]
    pub grace_time_out: Option<Duration>,
    pub responding_timeouts: RespondingTimeouts,
    pub forwarding_timeouts: ForwardingTimeouts,
    pub providers_throttle_duration: Duration,
    pub max_idle_conns_per_host: usize,
    pub keep_trailing_slash: bool,
    #[serde(rename = "AllowMinWeightZero")]
    pub allow_min_weight_zero: bool,
    pub insecure_skip_verify: bool,
    #[serde(rename = "rootCAs")]
    pub root_cas: Vec<String>,
    pub file: Option<FileProvider>,
    /// The key-value providers (model/kv_provider.rs).
    pub etcd: Option<super::KvProvider>,
    pub zookeeper: Option<super::KvProvider>,
    pub consul: Option<super::KvProvider>,
    pub boltdb: Option<super::KvProvider>,
    pub redis: Option<super::KvProvider>,
    /// `[consulCatalog]` (model/consul_catalog_provider.rs).
    pub consul_catalog: Option<super::ConsulCatalog>,
    /// `[docker]` (model/docker_provider.rs).
    pub docker: Option<super::Docker>,
    /// `[kubernetes]` (model/kubernetes_provider.rs).
    pub kubernetes: Option<super::Kubernetes>,
    /// `[marathon]` (model/marathon_provider.rs).
    pub marathon: Option<super::Marathon>,
    /// `[mesos]` (model/mesos_provider.rs).
    pub mesos: Option<super::Mesos>,
    pub access_log: Option<AccessLog>,
    pub traefik_log: Option<TraefikLog>,
    /// Deprecated (pre-1.4) form of `[accessLog] filePath`.
    pub access_logs_file: Option<String>,
    /// Deprecated (pre-1.4) form of `[traefikLog] filePath`.
    pub traefik_logs_file: Option<String>,
    pub retry: Option<Retry>,
    pub healthcheck: Option<HealthCheckDefaults>,
    /// `[file]` mode (a): the dynamic part may live in the main file itself.
    pub backends: BTreeMap<String, Backend>,
    pub frontends: BTreeMap<String, Frontend>,
    /// `[[tls]]`: certificates of the dynamic part, when it lives in this file.
    pub tls: Vec<TlsConfiguration>,
    // trafik never calls home: both are accepted and do nothing (what `false` asks for).
    // v1 keys trafik does not implement are warned about by name (`v1_keys.rs`).
    pub check_new_version: Option<bool>,
    pub send_anonymous_usage: Option<bool>,
    pub api: Option<Api>,
    pub rest: Option<Rest>,
    pub ping: Option<Ping>,
    pub metrics: Option<Metrics>,
    pub idle_timeout: Option<Duration>,
    /// `[acme]` (model/acme.rs).
    pub acme: Option<super::Acme>,
}

impl Default for StaticConfig {
    fn default() -> Self {
        StaticConfig {
            log_level: None,
            debug: false,
            default_entry_points: None,
            entry_points: None,
            life_cycle: LifeCycle::default(),
            grace_time_out: None,
            responding_timeouts: RespondingTimeouts::default(),
            forwarding_timeouts: ForwardingTimeouts::default(),
            providers_throttle_duration: Duration::from_secs(2),
            max_idle_conns_per_host: 200,
            keep_trailing_slash: false,
            allow_min_weight_zero: false,
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            file: None,
            etcd: None,
            zookeeper: None,
            consul: None,
            boltdb: None,
            redis: None,
            consul_catalog: None,
            docker: None,
            kubernetes: None,
            marathon: None,
            mesos: None,
            access_log: None,
            traefik_log: None,
            access_logs_file: None,
            traefik_logs_file: None,
            retry: None,
            healthcheck: None,
            backends: BTreeMap::new(),
            frontends: BTreeMap::new(),
            tls: Vec::new(),
            check_new_version: None,
            send_anonymous_usage: None,
            api: None,
            rest: None,
            ping: None,
            metrics: None,
            idle_timeout: None,
            acme: None,
        }
    }
}

impl StaticConfig {
    /// Entry points after v1's defaulting: none declared ⇒ `http` on `:80`.
    pub fn effective_entry_points(&self) -> BTreeMap<String, EntryPoint> {
        match &self.entry_points {
            Some(eps) => eps.clone(),
            None => BTreeMap::from([(
                "http".to_string(),
                EntryPoint {
                    address: ":80".into(),
                    ..EntryPoint::default()
                },
            )]),
        }
    }

    /// The key-value providers configured, each with its kind.
    pub fn kv_providers(&self) -> Vec<(super::KvStoreKind, &super::KvProvider)> {
        use super::KvStoreKind as K;
        [
            (K::Etcd, &self.etcd),
            (K::Zookeeper, &self.zookeeper),
            (K::Consul, &self.consul),
            (K::Boltdb, &self.boltdb),
            (K::Redis, &self.redis),
        ]
        .into_iter()
        .filter_map(|(kind, table)| table.as_ref().map(|t| (kind, t)))
        .collect()
    }

    pub fn effective_default_entry_points(&self) -> Vec<String> {
        self.default_entry_points
            .clone()
            .unwrap_or_else(|| vec!["http".to_string()])
    }

    /// The deprecated top-level `graceTimeOut` wins when non-zero (v1).
    pub fn effective_grace_timeout(&self) -> Duration {
        match self.grace_time_out {
            Some(d) if !d.is_zero() => d,
            _ => self.life_cycle.grace_time_out,
        }
    }

    pub fn effective_idle_timeout(&self) -> Duration {
        match self.idle_timeout {
            Some(d) if !d.is_zero() => d,
            _ => self.responding_timeouts.idle_timeout,
        }
    }
}

/// `maxHeaderBytes` when unset: nginx's `large_client_header_buffers` (4 × 8 KiB), where Go
/// allows 1 MiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntryPoint {
    /// `":8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"`.
    pub address: String,
    /// Absent ⇒ trust incoming `X-Forwarded-*` from anyone (v1's `insecure = true`).
    pub forwarded_headers: Option<ForwardedHeaders>,
    pub compress: bool,
    /// Present (even empty) ⇒ the entry point speaks TLS.
    pub tls: Option<EntryPointTls>,
    pub redirect: Option<Redirect>,
    pub auth: Option<crate::Auth>,
    /// `[entryPoints.X.encodedCharacters]`: encoded path characters let through (default none).
    pub encoded_characters: EncodedCharacters,
    /// trafik's own: connections served at once; more wait in the listen backlog. 0 = no cap.
    pub max_connections: usize,
    /// Go's `MaxHeaderBytes`: the largest request head (HTTP/1 request line and headers;
    /// HTTP/2 header list), answered 431 past it. 0 = `DEFAULT_MAX_HEADER_BYTES`.
    pub max_header_bytes: usize,
    /// `[entryPoints.X.whiteList]`: client addresses served, internal routes included
    /// (`/ping` excepted); others get 403.
    pub white_list: Option<crate::WhiteList>,
    /// Deprecated form of `whiteList.sourceRange` (v1 ≤ 1.6); `whiteList` wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub whitelist_source_range: Vec<String>,
    /// `[entryPoints.X.proxyProtocol]`: a PROXY protocol header (v1 or v2) from a trusted
    /// peer names the client. Absent ⇒ no header is read.
    pub proxy_protocol: Option<ProxyProtocol>,
}

/// `[entryPoints.X.encodedCharacters]`: which percent-encoded characters a request path may
/// hold; the others are refused with 400 before routing. Traefik 3's names, plus `allowEncodedDot`
/// (`%2E` in a `.`/`..` segment), which trafik adds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EncodedCharacters {
    pub allow_encoded_slash: bool,
    pub allow_encoded_back_slash: bool,
    pub allow_encoded_null_character: bool,
    pub allow_encoded_semicolon: bool,
    pub allow_encoded_percent: bool,
    pub allow_encoded_question_mark: bool,
    pub allow_encoded_hash: bool,
    pub allow_encoded_dot: bool,
}

impl EntryPoint {
    /// The whitelist in force: `whiteList`, else the deprecated `whitelistSourceRange`.
    pub fn effective_white_list(&self) -> Option<crate::WhiteList> {
        crate::WhiteList::or_deprecated(self.white_list.as_ref(), &self.whitelist_source_range)
    }

    pub fn effective_max_header_bytes(&self) -> usize {
        match self.max_header_bytes {
            0 => DEFAULT_MAX_HEADER_BYTES,
            n => n,
        }
    }
}

/// `[entryPoints.X.tls]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntryPointTls {
    /// `VersionTLS10` … `VersionTLS13`; empty ⇒ TLS 1.2 (rustls has nothing older).
    pub min_version: String,
    /// Go `crypto/tls` names; empty ⇒ the crypto provider's defaults.
    pub cipher_suites: Vec<String>,
    /// Refuse handshakes whose server name matches no certificate.
    pub sni_strict: bool,
    pub certificates: Vec<Certificate>,
    pub default_certificate: Option<Certificate>,
    #[serde(rename = "clientCA")]
    pub client_ca: Option<ClientCa>,
    /// Deprecated form of `clientCA.files`.
    #[serde(rename = "ClientCAFiles")]
    pub client_ca_files: Vec<String>,
}

/// `[entryPoints.X.tls.clientCA]`: mutual TLS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientCa {
    /// CA certificates (paths or inline PEM) client certificates must chain to.
    pub files: Vec<String>,
    /// `true`: a client without a certificate is let in; one with a bad certificate is not.
    pub optional: bool,
}

/// `[entryPoints.X.redirect]`: every request of the entry point is redirected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Redirect {
    /// Redirect to this entry point (scheme and port from it); wins over `regex`.
    pub entry_point: String,
    pub regex: String,
    pub replacement: String,
    /// 301/308 instead of 302/307.
    pub permanent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardedHeaders {
    #[serde(rename = "trustedIPs")]
    pub trusted_ips: Vec<String>,
    pub insecure: bool,
}

/// `[entryPoints.X.proxyProtocol]`: whose PROXY header is believed. Neither `trustedIPs` nor
/// `insecure` is refused at start, as v1 refuses it (it would trust nobody).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyProtocol {
    /// Addresses or CIDR networks of the proxies allowed to send a header.
    #[serde(rename = "trustedIPs")]
    pub trusted_ips: Vec<String>,
    /// Every peer may send a header (only behind a proxy that always sends one).
    pub insecure: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LifeCycle {
    pub request_accept_grace_timeout: Duration,
    #[serde(rename = "graceTimeOut")]
    pub grace_time_out: Duration,
}

impl Default for LifeCycle {
    fn default() -> Self {
        LifeCycle {
            request_accept_grace_timeout: Duration::ZERO,
            grace_time_out: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RespondingTimeouts {
    /// Go's `ReadTimeout`: a whole request, head and body.
    pub read_timeout: Duration,
    /// Go's `WriteTimeout`: from the end of a request's head to the end of its response.
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    /// trafik's own, after Go's `ReadHeaderTimeout`: a request head, from the connection's
    /// start (first request) or the head's first byte (later ones). 0 = none.
    pub read_header_timeout: Duration,
    /// trafik's own, after nginx's `client_body_timeout`: the longest wait for the next
    /// bytes of a request body the client announced. 0 = none.
    pub body_idle_timeout: Duration,
}

impl Default for RespondingTimeouts {
    fn default() -> Self {
        RespondingTimeouts {
            read_timeout: Duration::ZERO,
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(180),
            read_header_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardingTimeouts {
    pub dial_timeout: Duration,
    pub response_header_timeout: Duration,
}

impl Default for ForwardingTimeouts {
    fn default() -> Self {
        ForwardingTimeouts {
            dial_timeout: Duration::from_secs(30),
            response_header_timeout: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileProvider {
    pub filename: Option<String>,
    pub directory: Option<String>,
    pub watch: bool,
}

impl Default for FileProvider {
    fn default() -> Self {
        FileProvider {
            filename: None,
            directory: None,
            watch: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLog {
    /// Empty ⇒ standard output.
    pub file_path: String,
    /// `"common"` (default) or `"json"`.
    pub format: String,
    /// v1's channel size; accepted, no effect: the writer's queue is always bounded.
    pub buffering_size: i64,
    /// `[accessLog.filters]`: which requests get a line (model/access_log.rs).
    pub filters: Option<super::AccessLogFilters>,
    /// `[accessLog.fields]`: which fields and headers a line carries.
    pub fields: Option<super::AccessLogFields>,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            file_path: String::new(),
            format: "common".into(),
            buffering_size: 0,
            filters: None,
            fields: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TraefikLog {
    pub file_path: String,
    pub format: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Retry {
    /// 0 ⇒ the number of servers of the backend (v1 code).
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheckDefaults {
    pub interval: Duration,
}

impl Default for HealthCheckDefaults {
    fn default() -> Self {
        HealthCheckDefaults {
            interval: Duration::from_secs(30),
        }
    }
}

/// The entry point v1 creates for the API, ping, REST and metrics when none is named.
pub const DEFAULT_INTERNAL_ENTRY_POINT: &str = "traefik";

fn default_internal_entry_point() -> String {
    DEFAULT_INTERNAL_ENTRY_POINT.to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Api {
    pub entry_point: String,
    pub dashboard: bool,
    pub debug: bool,
    pub statistics: Option<Statistics>,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            entry_point: default_internal_entry_point(),
            dashboard: true,
            debug: false,
            statistics: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Statistics {
    pub recent_errors: usize,
}

impl Default for Statistics {
    fn default() -> Self {
        Statistics { recent_errors: 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rest {
    pub entry_point: String,
    /// trafik's own: where what was PUT is kept across restarts, relative to the
    /// configuration file's directory.
    pub store_file: String,
}

impl Default for Rest {
    fn default() -> Self {
        Rest {
            entry_point: default_internal_entry_point(),
            store_file: "trafik-rest.redb".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ping {
    pub entry_point: String,
}

impl Default for Ping {
    fn default() -> Self {
        Ping {
            entry_point: default_internal_entry_point(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metrics {
    pub prometheus: Option<Prometheus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Prometheus {
    pub entry_point: String,
    pub buckets: Vec<f64>,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            entry_point: default_internal_entry_point(),
            buckets: vec![0.1, 0.3, 1.2, 5.0],
        }
    }
}
