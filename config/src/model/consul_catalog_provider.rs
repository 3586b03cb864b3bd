//! `[consulCatalog]`: services registered in Consul become backends and frontends (v1's
//! Consul Catalog provider; the translation is `crate::consul_catalog`).

use serde::{Deserialize, Serialize};

use super::auth::ClientTls;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsulCatalog {
    /// `host:port`, or with `http://` / `https://`. Default `127.0.0.1:8500`.
    pub endpoint: Option<String>,
    /// The tags' prefix: `<prefix>.frontend.rule=…`. Default `traefik`.
    pub prefix: Option<String>,
    /// Serve every service unless tagged `<prefix>.enable=false` (default); `false`: only
    /// those tagged `<prefix>.enable=true`.
    pub exposed_by_default: bool,
    /// `{{.Domain}}` in `frontEndRule`.
    pub domain: String,
    /// The rule of a service without a `<prefix>.frontend.rule` tag. Default
    /// `Host:{{.ServiceName}}.{{.Domain}}`.
    pub front_end_rule: Option<String>,
    /// Read from any Consul server, not only the leader (`?stale`).
    pub stale: bool,
    /// Only instances whose checks all pass (default); `false` also keeps `warning` ones.
    pub strict_checks: bool,
    /// The ACL token (`X-Consul-Token`).
    pub token: Option<String>,
    /// `[consulCatalog.tls]`: towards a Consul that speaks TLS.
    pub tls: Option<ClientTls>,
}

impl Default for ConsulCatalog {
    fn default() -> Self {
        ConsulCatalog {
            endpoint: None,
            prefix: None,
            exposed_by_default: true,
            domain: String::new(),
            front_end_rule: None,
            stale: false,
            strict_checks: true,
            token: None,
            tls: None,
        }
    }
}

impl ConsulCatalog {
    pub const DEFAULT_ENDPOINT: &'static str = "127.0.0.1:8500";
    pub const DEFAULT_PREFIX: &'static str = "traefik";
    pub const DEFAULT_FRONT_END_RULE: &'static str = "Host:{{.ServiceName}}.{{.Domain}}";

    pub fn endpoint(&self) -> &str {
        self.endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .unwrap_or(Self::DEFAULT_ENDPOINT)
    }

    /// Without a trailing dot (`traefik.` and `traefik` are the same prefix).
    pub fn prefix(&self) -> &str {
        self.prefix
            .as_deref()
            .map(|p| p.trim().trim_end_matches('.'))
            .filter(|p| !p.is_empty())
            .unwrap_or(Self::DEFAULT_PREFIX)
    }

    pub fn front_end_rule(&self) -> &str {
        self.front_end_rule
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or(Self::DEFAULT_FRONT_END_RULE)
    }
}

#[cfg(test)]
mod tests {
    use crate::load_static;

    #[test]
    fn the_table_loads_with_v1_defaults() {
        let cfg = load_static("t.toml", "[consulCatalog]\n").unwrap().value;
        let c = cfg.consul_catalog.unwrap();
        assert_eq!(c.endpoint(), "127.0.0.1:8500");
        assert_eq!(c.prefix(), "traefik");
        assert!(c.exposed_by_default && c.strict_checks && !c.stale);
        assert_eq!(c.front_end_rule(), "Host:{{.ServiceName}}.{{.Domain}}");

        let text = r#"
            [consulCatalog]
            endpoint = "http://127.0.0.1:8600"
            prefix = "edge."
            exposedByDefault = false
            domain = "example.com"
            frontEndRule = "Host:{{.ServiceName}}.internal"
            stale = true
            token = "t"
        "#;
        let warned = load_static("t.toml", text).unwrap();
        assert!(warned.warnings.is_empty(), "{:?}", warned.warnings);
        let c = warned.value.consul_catalog.unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:8600");
        assert_eq!(c.prefix(), "edge");
        assert!(!c.exposed_by_default && c.stale);
        assert_eq!(c.domain, "example.com");
        assert_eq!(c.front_end_rule(), "Host:{{.ServiceName}}.internal");
    }
}
