//! `[marathon]`: Marathon's applications, their running and healthy tasks and their
//! `traefik.*` labels become backends and frontends (v1's Marathon provider; the
//! translation is `crate::marathon`, the client and event stream `src/provider/marathon.rs`).

use serde::{Deserialize, Serialize};

use super::auth::ClientTls;
use crate::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Marathon {
    /// `http://127.0.0.1:8080` (default); a comma-separated list of Marathon servers.
    pub endpoint: String,
    /// Follow `/v2/events` (default); `false`: read the applications once.
    pub watch: bool,
    /// The default rule's domain: `Host:<app>.<domain>`.
    pub domain: String,
    /// Serve every application unless labelled `traefik.enable=false` (default).
    pub exposed_by_default: bool,
    /// `/foo/bar/app` ⇒ `app.bar.foo` rather than `foo-bar-app`.
    pub groups_as_sub_domains: bool,
    /// Read marathon-lb's `HAPROXY_{n}_VHOST` labels as the frontend's Host rule.
    #[serde(rename = "marathonLBCompatibility")]
    pub marathon_lb_compatibility: bool,
    /// Apply v1's `constraints` to Marathon's placement constraints as well.
    pub filter_marathon_constraints: bool,
    /// Wait for readiness checks, as v1's `respectReadinessChecks`.
    pub respect_readiness_checks: bool,
    /// The task's host name rather than its IP address.
    pub force_task_hostname: bool,
    /// `[marathon.basic]`: HTTP basic authentication towards Marathon.
    pub basic: Option<MarathonBasic>,
    /// `[marathon.TLS]`: towards an https Marathon.
    #[serde(rename = "TLS", alias = "tls")]
    pub tls: Option<ClientTls>,
    /// DC/OS's token (`Authorization: token=<dcosToken>`); redacted in the API.
    pub dcos_token: String,
    pub dialer_timeout: Duration,
    pub response_header_timeout: Duration,
    #[serde(rename = "TLSHandshakeTimeout", alias = "tlsHandshakeTimeout")]
    pub tls_handshake_timeout: Duration,
    pub keep_alive: Duration,
    /// v1's tag constraints (`tag==api`) on the applications' `traefik.tags`.
    pub constraints: Vec<String>,
}

impl Default for Marathon {
    fn default() -> Self {
        Marathon {
            endpoint: "http://127.0.0.1:8080".to_string(),
            watch: true,
            domain: String::new(),
            exposed_by_default: true,
            groups_as_sub_domains: false,
            marathon_lb_compatibility: false,
            filter_marathon_constraints: false,
            respect_readiness_checks: false,
            force_task_hostname: false,
            basic: None,
            tls: None,
            dcos_token: String::new(),
            dialer_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(10),
            constraints: Vec::new(),
        }
    }
}

/// `[marathon.basic]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarathonBasic {
    pub http_basic_auth_user: String,
    /// Redacted in the API.
    pub http_basic_password: String,
}
