//! The dynamic configuration: what every provider produces and what hot-reloads.
//! Field names are v1's (camelCase in JSON; case-insensitive in TOML through `crate::de`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Duration;
use crate::model::SmallMap;

/// One provider's dynamic configuration (Traefik's `types.Configuration`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Configuration {
    pub backends: BTreeMap<String, Backend>,
    pub frontends: BTreeMap<String, Frontend>,
    /// `[[tls]]`: certificates added to TLS entry points while trafik runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsConfiguration>,
}

impl Configuration {
    /// Rebuilds the two maps from their entries in key order. A `BTreeMap` filled by inserts
    /// in another order than its keys' (a file's `f9`, `f10`, …) leaves its nodes about 40 %
    /// empty; one built from sorted entries fills them (at 10,000 frontends and backends,
    /// 6.1 MB of nodes became 3.0). Moves the entries, copies none of their contents.
    pub fn compact(&mut self) {
        self.backends = std::mem::take(&mut self.backends).into_iter().collect();
        self.frontends = std::mem::take(&mut self.frontends).into_iter().collect();
    }
}

/// One `[[tls]]` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsConfiguration {
    /// Empty ⇒ every default entry point that has TLS.
    pub entry_points: Vec<String>,
    pub certificate: Certificate,
}

/// A certificate and its key, each a file path or the PEM text itself (v1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Certificate {
    pub cert_file: String,
    pub key_file: String,
}

/// Every option but `servers` is boxed: most backends set none, and a configuration's
/// `BTreeMap` holds its values inline in nodes of eleven slots, so at 10,000 backends each
/// byte of `Backend` costs about 20 KB (inline the options made it about 360 bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backend {
    pub servers: SmallMap<String, Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<Box<LoadBalancer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<Box<CircuitBreaker>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Box<HealthCheck>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_conn: Option<Box<MaxConn>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Box<Buffering>>,
    /// v1 quirk: the TOML key is `responseForwarding`, the JSON key `forwardingResponse`.
    #[serde(
        rename(serialize = "forwardingResponse"),
        alias = "forwardingResponse",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_forwarding: Option<Box<ResponseForwarding>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    pub url: String,
    /// v1: 0 means 1 unless `AllowMinWeightZero`; negative is rejected by validation.
    pub weight: i64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            url: String::new(),
            weight: 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoadBalancer {
    /// `"wrr"` (default, also for an unknown value) or `"drr"`.
    pub method: String,
    /// Deprecated form of `stickiness`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sticky: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stickiness {
    pub cookie_name: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CircuitBreaker {
    pub expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheck {
    pub scheme: String,
    pub path: String,
    pub port: u16,
    pub interval: Option<Duration>,
    pub hostname: String,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MaxConn {
    pub amount: i64,
    pub extractor_func: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buffering {
    pub max_request_body_bytes: i64,
    pub mem_request_body_bytes: i64,
    pub max_response_body_bytes: i64,
    pub mem_response_body_bytes: i64,
    pub retry_expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResponseForwarding {
    pub flush_interval: Option<Duration>,
}

/// The rare options are boxed (`headers`, `auth`, `redirect`, `rateLimit`, `whiteList`,
/// `passTLSClientCert`), for the reason `Backend`'s are: 896 bytes inline, 352 with the
/// first two boxed, 200 now. 200 at most: a `BTreeMap` leaf holds eleven names and
/// frontends, 2,480 bytes, in mimalloc's 2,560-byte class; 8 bytes more per frontend made
/// it 2,568 bytes in the 3,072-byte class (0.5 MB more at 10,000 frontends,
/// `frontend_nodes_fit_their_size_class`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Frontend {
    /// Empty means the static `defaultEntryPoints`.
    pub entry_points: Vec<String>,
    pub backend: String,
    pub routes: SmallMap<String, Route>,
    /// v1 file provider default: false.
    pub pass_host_header: bool,
    #[serde(rename = "passTLSCert", alias = "passTlsCert")]
    pub pass_tls_cert: bool,
    #[serde(
        rename = "passTLSClientCert",
        alias = "passTlsClientCert",
        skip_serializing_if = "Option::is_none"
    )]
    pub pass_tls_client_cert: Option<Box<PassTlsClientCert>>,
    /// 0 means "sum of the rule lengths" (v1).
    pub priority: i64,
    /// Client addresses served; others get 403. Wins over `whitelistSourceRange`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub white_list: Option<Box<crate::WhiteList>>,
    /// Deprecated form of `whiteList.sourceRange` (v1 ≤ 1.6).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub whitelist_source_range: Box<[String]>,
    /// `[frontends.X.headers]`: custom and secure headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Box<Headers>>,
    /// `[frontends.X.redirect]`: the entry points' redirect, for this frontend only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Box<crate::model::Redirect>>,
    /// `[frontends.X.rateLimit]`: token buckets per key; past any, 429. v1's JSON (REST
    /// provider, API) spells it `ratelimit`.
    #[serde(
        rename(serialize = "ratelimit"),
        alias = "ratelimit",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limit: Option<Box<RateLimit>>,
    /// `[frontends.X.errors.NAME]`: error pages served from another backend.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, ErrorPage>,
    /// Deprecated form of `auth.basic.users`; checked before `auth` when both are set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub basic_auth: Vec<String>,
    /// `[frontends.X.auth]`: basic, digest or forward auth, after the frontend's headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Box<crate::Auth>>,
}

/// `[frontends.X.rateLimit]` (v1, oxy's ratelimit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimit {
    /// `client.ip`, `request.host` or `request.header.<Name>`.
    pub extractor_func: String,
    /// Every set applies: a request takes a token from each. v1's JSON: `rateset`.
    #[serde(rename(serialize = "rateset"), alias = "rateset")]
    pub rate_set: BTreeMap<String, RateSet>,
}

/// `[frontends.X.rateLimit.rateSet.NAME]`: `average` requests per `period`, `burst` in a row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateSet {
    pub period: Option<Duration>,
    pub average: i64,
    pub burst: i64,
}

/// One `[frontends.X.errors.NAME]`: responses whose status is in `status` get their body
/// from `backend` at `query` (`{status}` replaced), and keep their status (v1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorPage {
    /// `"404"` or `"500-599"`, inclusive.
    pub status: Vec<String>,
    pub backend: String,
    pub query: String,
}

impl Frontend {
    /// The whitelist in force: `whiteList`, else the deprecated `whitelistSourceRange`.
    pub fn effective_white_list(&self) -> Option<crate::WhiteList> {
        crate::WhiteList::or_deprecated(self.white_list.as_deref(), &self.whitelist_source_range)
    }

    /// The v1 default priority: every character of every route's rule, spaces included.
    pub fn effective_priority(&self) -> i64 {
        if self.priority > 0 {
            self.priority
        } else {
            self.routes.values().map(|r| r.rule.len() as i64).sum()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Route {
    pub rule: String,
}

/// `[frontends.X.passTLSClientCert]`: what of the client's certificate goes upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PassTlsClientCert {
    /// `X-Forwarded-Ssl-Client-Cert`: the PEM, escaped.
    pub pem: bool,
    /// `X-Forwarded-Ssl-Client-Cert-Infos`.
    pub infos: Option<TlsClientCertInfos>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsClientCertInfos {
    pub not_before: bool,
    pub not_after: bool,
    pub sans: bool,
    pub subject: Option<TlsCertDnInfos>,
    pub issuer: Option<TlsCertDnInfos>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsCertDnInfos {
    pub country: bool,
    pub province: bool,
    pub locality: bool,
    pub organization: bool,
    pub common_name: bool,
    pub serial_number: bool,
    pub domain_component: bool,
}

/// `[frontends.X.headers]` (v1's `types.Headers`): headers set on the request and the
/// response, and the secure-headers checks. JSON names are v1's; TOML keys match in any case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Headers {
    /// Set on the request to the backend; an empty value removes the header.
    pub custom_request_headers: BTreeMap<String, String>,
    /// Set on every response of the frontend; an empty value removes the header.
    pub custom_response_headers: BTreeMap<String, String>,
    /// Hosts served; any other Host is answered 400. Empty: every host.
    pub allowed_hosts: Vec<String>,
    /// Headers that carry the original Host behind a proxy (first non-empty one wins).
    pub hosts_proxy_headers: Vec<String>,
    #[serde(rename = "sslRedirect")]
    pub ssl_redirect: bool,
    #[serde(rename = "sslTemporaryRedirect")]
    pub ssl_temporary_redirect: bool,
    #[serde(rename = "sslHost")]
    pub ssl_host: String,
    #[serde(rename = "sslForceHost")]
    pub ssl_force_host: bool,
    /// Header name → value: a request with one of them counts as TLS (set by a trusted proxy).
    #[serde(rename = "sslProxyHeaders")]
    pub ssl_proxy_headers: BTreeMap<String, String>,
    #[serde(rename = "stsSeconds")]
    pub sts_seconds: i64,
    #[serde(rename = "stsIncludeSubdomains")]
    pub sts_include_subdomains: bool,
    #[serde(rename = "stsPreload")]
    pub sts_preload: bool,
    #[serde(rename = "forceSTSHeader")]
    pub force_sts_header: bool,
    pub frame_deny: bool,
    pub custom_frame_options_value: String,
    pub content_type_nosniff: bool,
    pub browser_xss_filter: bool,
    #[serde(rename = "customBrowserXSSValue")]
    pub custom_browser_xss_value: String,
    pub content_security_policy: String,
    pub public_key: String,
    pub referrer_policy: String,
    /// Turns off allowedHosts, SSLRedirect, STS and publicKey, for local development.
    pub is_development: bool,
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A `BTreeMap` leaf node: its parent pointer, index and length (16 bytes with padding),
    /// then eleven keys and eleven values. mimalloc's classes near it are 2,048, 2,560 and
    /// 3,072 bytes; the file provider fills its leaves (`Configuration::compact`).
    #[test]
    fn frontend_nodes_fit_their_size_class() {
        let leaf = 16 + 11 * (size_of::<String>() + size_of::<Frontend>());
        assert!(leaf <= 2560, "a leaf of frontends is {leaf} bytes");
    }
}
