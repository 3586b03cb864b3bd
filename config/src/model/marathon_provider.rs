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
    /// Log each request to Marathon and each event received, at debug level.
    pub trace: bool,
    /// v1's custom template: not implemented yet (refused at start when set).
    pub filename: String,
    /// v1's template version: only 2 (v1.7's default) is what trafik does.
    pub template_version: Option<i64>,
    /// v1's template debug log: not implemented yet (refused at start when set).
    pub debug_log_generated_template: bool,
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
            trace: false,
            filename: String::new(),
            template_version: None,
            debug_log_generated_template: false,
        }
    }
}

impl Marathon {
    /// What this version cannot do, asked for: refused at start, never ignored.
    pub fn not_implemented(&self) -> Option<&'static str> {
        if !self.filename.is_empty() {
            return Some("filename (a custom template) is not implemented yet");
        }
        if self.template_version.is_some_and(|v| v != 2) {
            return Some("templateVersion other than 2 is not implemented yet");
        }
        if self.debug_log_generated_template {
            return Some("debugLogGeneratedTemplate is not implemented yet");
        }
        None
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

#[cfg(test)]
mod tests {
    use crate::load_static;

    #[test]
    fn the_table_loads_with_v1_defaults_and_names() {
        let cfg = load_static("t.toml", "[marathon]\n").unwrap().value;
        let m = cfg.marathon.unwrap();
        assert_eq!(m.endpoint, "http://127.0.0.1:8080");
        assert!(m.watch && m.exposed_by_default && !m.trace);
        assert_eq!(m.not_implemented(), None);
        let text = r#"
            [marathon]
            endpoint = "http://a:8080,http://b:8080"
            watch = false
            domain = "marathon.localhost"
            exposedByDefault = false
            groupsAsSubDomains = true
            marathonLBCompatibility = true
            filterMarathonConstraints = true
            respectReadinessChecks = true
            forceTaskHostname = true
            dcosToken = "t0k"
            dialerTimeout = "3s"
            responseHeaderTimeout = "10s"
            TLSHandshakeTimeout = "4s"
            keepAlive = "20s"
            constraints = ["tag==api"]
            trace = true
            templateVersion = 2
            [marathon.basic]
            httpBasicAuthUser = "u"
            httpBasicPassword = "p"
            [marathon.TLS]
            ca = "/ca.pem"
            insecureSkipVerify = true
        "#;
        let loaded = load_static("t.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let m = loaded.value.marathon.unwrap();
        assert!(!m.watch && !m.exposed_by_default && m.groups_as_sub_domains);
        assert!(m.marathon_lb_compatibility && m.filter_marathon_constraints && m.trace);
        assert_eq!(m.basic.as_ref().unwrap().http_basic_password, "p");
        assert!(m.tls.as_ref().unwrap().insecure_skip_verify);
        assert_eq!(m.keep_alive, crate::Duration::from_secs(20));
        assert_eq!(m.not_implemented(), None);
        let custom = load_static("t.toml", "[marathon]\nfilename = \"m.tmpl\"\n").unwrap();
        let m = custom.value.marathon.unwrap();
        assert!(m.not_implemented().unwrap().contains("filename"));
    }
}
