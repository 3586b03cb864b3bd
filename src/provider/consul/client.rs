//! The HTTP client towards a Consul agent, shared by `[consul]` (the KV store) and, later,
//! `[consulCatalog]`: the endpoint's base URL, the ACL token (`X-Consul-Token`), HTTP basic
//! auth (v1's libkv sent `username`/`password` that way), client TLS, and the one rule every
//! answer obeys: a status other than 2xx (or the 404 a caller allows) is an error carrying
//! Consul's own words, and `X-Consul-Index` is read where Consul sets it.
//!
//! Building it does no I/O (reqwest connects on the first request), so a Consul that is
//! down at start is an outage of the provider, not a failed start.

use std::path::Path;
use std::time::Duration;

use trafik_config::ClientTls;

use crate::provider::kv::StoreError;

/// How long a plain (non-blocking) request may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct ConsulClient {
    http: reqwest::Client,
    /// `http://host:port` or `https://host:port`, no trailing slash.
    base: String,
    token: Option<String>,
    basic_auth: Option<(String, Option<String>)>,
}

/// One answer: its status, `X-Consul-Index` if present, and the body.
pub struct Answer {
    pub status: u16,
    pub index: Option<u64>,
    pub body: bytes::Bytes,
}

impl Answer {
    /// `X-Consul-Index`, never below 1 (`blocking::usable`). Consul sets it on every read of
    /// an endpoint that blocks, 404 included; without it the answer is not Consul's, and
    /// there is nothing to block on.
    pub fn required_index(&self, base: &str, path: &str) -> Result<u64, StoreError> {
        self.index.map(super::blocking::usable).ok_or_else(|| {
            StoreError::new(format!("{base}{path}: the answer has no X-Consul-Index"))
        })
    }
}

/// What `ConsulClient::new` needs of a table (KV's `[consul]` or `[consulCatalog]`).
pub struct Settings<'a> {
    pub endpoint: &'a str,
    pub token: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub tls: Option<&'a ClientTls>,
}

impl ConsulClient {
    pub fn new(settings: &Settings<'_>, base_dir: &Path) -> Result<ConsulClient, String> {
        let base = base_url(settings.endpoint, settings.tls.is_some())?;
        // reqwest is built without a crypto provider of its own and panics without a
        // process default: make sure there is one (idempotent).
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            // Consul is the local agent or a named server: never through a system proxy,
            // and an answer that redirects is not Consul's.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            // A plain read; blocking queries set their own, longer, timeout (`get`).
            .timeout(READ_TIMEOUT);
        if let Some(tls) = settings.tls {
            builder = builder.tls_backend_preconfigured(tls_config(tls, base_dir)?);
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let token = settings.token.filter(|t| !t.is_empty()).map(str::to_string);
        let basic_auth = settings
            .username
            .filter(|u| !u.is_empty())
            .map(|u| (u.to_string(), settings.password.map(str::to_string)));
        Ok(ConsulClient {
            http,
            base,
            token,
            basic_auth,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn authorized(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token);
        }
        if let Some((user, password)) = &self.basic_auth {
            request = request.basic_auth(user, password.as_deref());
        }
        request
    }

    /// `GET <base><path>` with `query`; 404 is returned as an answer when `allow_404`
    /// (Consul's "no key under this prefix"), any other non-2xx status is an error.
    /// `timeout`: `READ_TIMEOUT`, or a blocking query's (`blocking::CLIENT_TIMEOUT`).
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        allow_404: bool,
        timeout: Duration,
    ) -> Result<Answer, StoreError> {
        let url = format!("{}{path}", self.base);
        let full = reqwest::Url::parse_with_params(&url, query)
            .map_err(|e| StoreError::new(format!("{url}: {e}")))?;
        let request = self.authorized(self.http.get(full).timeout(timeout));
        self.send(request, &url, allow_404).await
    }

    /// A blocking query on `path` (with `query`) from `index`, until the index moves or goes
    /// backwards (`blocking.rs`); a `wait` that ran out blocks again, rate-limited. Every
    /// answer's body must pass `check` (a malformed answer is an error, not a change).
    pub async fn watch(
        &self,
        path: &str,
        query: &[(&str, String)],
        index: u64,
        allow_404: bool,
        check: impl Fn(&[u8]) -> Result<(), String>,
    ) -> Result<(), StoreError> {
        use super::blocking::{self, Outcome};
        let mut started: Option<tokio::time::Instant> = None;
        loop {
            if let Some(t) = started {
                tokio::time::sleep_until(t + blocking::MIN_INTERVAL).await;
            }
            started = Some(tokio::time::Instant::now());
            let mut full: Vec<(&str, String)> = query.to_vec();
            full.push(("index", index.to_string()));
            full.push(("wait", blocking::wait_param()));
            let answer = self
                .get(path, &full, allow_404, blocking::CLIENT_TIMEOUT)
                .await?;
            let answered = answer.required_index(&self.base, path)?;
            if answer.status == 200 {
                check(&answer.body)
                    .map_err(|e| StoreError::new(format!("{}{path}: {e}", self.base)))?;
            }
            match blocking::outcome(index, answered) {
                Outcome::Same => continue,
                Outcome::Moved(_) | Outcome::Reset => return Ok(()),
            }
        }
    }

    /// `PUT <base><path>` with a JSON body.
    pub async fn put_json(&self, path: &str, body: Vec<u8>) -> Result<Answer, StoreError> {
        let url = format!("{}{path}", self.base);
        let request = self.authorized(
            self.http
                .put(&url)
                .header("content-type", "application/json")
                .body(body),
        );
        self.send(request, &url, false).await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        allow_404: bool,
    ) -> Result<Answer, StoreError> {
        let response = request
            .send()
            .await
            .map_err(|e| StoreError::new(format!("{url}: {}", error_chain(&e))))?;
        let status = response.status().as_u16();
        let index =
            index_header(response.headers()).map_err(|e| StoreError::new(format!("{url}: {e}")))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| StoreError::new(format!("{url}: reading the answer: {e}")))?;
        let ok = (200..300).contains(&status) || (allow_404 && status == 404);
        if !ok {
            return Err(StoreError::new(refusal(url, status, &body)));
        }
        Ok(Answer {
            status,
            index,
            body,
        })
    }
}

/// The base URL: `http://` / `https://` as given, a bare `host:port` as `https://` when
/// `[….tls]` is set, else `http://` (v1: the TLS table chose the scheme). A scheme that
/// contradicts the TLS table is refused rather than guessed.
pub fn base_url(endpoint: &str, tls: bool) -> Result<String, String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => (if tls { "https" } else { "http" }.to_string(), endpoint),
    };
    match scheme.as_str() {
        "http" if tls => {
            return Err(format!(
                "endpoint {endpoint:?} says http:// but a tls table is set: write https:// or drop the table"
            ));
        }
        "http" | "https" => {}
        other => return Err(format!("endpoint {endpoint:?}: unknown scheme {other:?}")),
    }
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(format!(
            "endpoint {endpoint:?}: expected host:port (optionally with http:// or https://)"
        ));
    }
    let url = format!("{scheme}://{rest}");
    reqwest::Url::parse(&url).map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    Ok(url)
}

/// `X-Consul-Index` as a number. Absent is `None` (the caller decides whether it needed
/// one); present but not a number is a malformed answer.
fn index_header(headers: &reqwest::header::HeaderMap) -> Result<Option<u64>, String> {
    let Some(value) = headers.get("x-consul-index") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "X-Consul-Index is not text".to_string())?;
    // Signed first: a buggy index of 0 or below is handled by the blocking rules, not
    // refused (Consul's docs: "sanity check index is greater than zero").
    match text.trim().parse::<i64>() {
        Ok(n) => Ok(Some(n.max(0) as u64)),
        Err(_) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("X-Consul-Index {text:?} is not a number")),
    }
}

/// Consul answers errors as plain text ("Permission denied", "ACL not found"): kept,
/// bounded, with a hint where the status has a usual cause.
fn refusal(url: &str, status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_string();
    let hint = match status {
        401 => " (check username/password)",
        403 => " (check the ACL token: `token`)",
        _ => "",
    };
    format!("{url}: Consul answered {status}{hint}: {text:?}")
}

/// reqwest's error with its sources ("error sending request: connection refused").
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `[….tls]`: `ca` alone when given, else the system's roots; a client certificate when
/// `cert` and `key` are given; relative paths from the configuration's directory.
pub(crate) fn tls_config(tls: &ClientTls, base_dir: &Path) -> Result<rustls::ClientConfig, String> {
    let resolve = |value: &str| -> String {
        if value.is_empty() || value.contains("-----BEGIN") || Path::new(value).is_absolute() {
            value.to_string()
        } else {
            base_dir.join(value).to_string_lossy().into_owned()
        }
    };
    let ca = resolve(&tls.ca);
    let (cert, key) = (resolve(&tls.cert), resolve(&tls.key));
    let client_cert = match (cert.is_empty(), key.is_empty()) {
        (true, true) => None,
        (false, false) => Some((cert.as_str(), key.as_str())),
        _ => return Err("tls: cert and key go together".to_string()),
    };
    crate::tls::client::auth_server_tls(&ca, client_cert, tls.insecure_skip_verify)
        .map_err(|(_, e)| format!("tls: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_base_urls() {
        assert_eq!(
            base_url("127.0.0.1:8500", false).unwrap(),
            "http://127.0.0.1:8500"
        );
        assert_eq!(
            base_url("127.0.0.1:8501", true).unwrap(),
            "https://127.0.0.1:8501"
        );
        assert_eq!(
            base_url("http://consul:8500/", false).unwrap(),
            "http://consul:8500"
        );
        assert_eq!(
            base_url("HTTPS://consul:8501", true).unwrap(),
            "https://consul:8501"
        );
        assert_eq!(
            base_url("https://consul:8501", false).unwrap(),
            "https://consul:8501"
        );
        assert!(
            base_url("http://consul:8500", true)
                .unwrap_err()
                .contains("tls")
        );
        assert!(base_url("ftp://consul", false).is_err());
        assert!(base_url("consul:8500/v1", false).is_err());
        assert!(base_url("", false).is_err());
    }

    #[test]
    fn index_header_is_read_leniently_but_not_blindly() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(index_header(&h), Ok(None));
        h.insert("X-Consul-Index", "42".parse().unwrap());
        assert_eq!(index_header(&h), Ok(Some(42)));
        h.insert("X-Consul-Index", "-3".parse().unwrap());
        assert_eq!(index_header(&h), Ok(Some(0)));
        h.insert("X-Consul-Index", "18446744073709551615".parse().unwrap());
        assert_eq!(index_header(&h), Ok(Some(u64::MAX)));
        h.insert("X-Consul-Index", "abc".parse().unwrap());
        assert!(index_header(&h).is_err());
    }

    #[test]
    fn refusals_keep_consuls_words_and_hint() {
        let m = refusal("http://c/v1/kv/t/", 403, b"Permission denied\n");
        assert!(m.contains("403") && m.contains("token") && m.contains("Permission denied"));
        let long = vec![b'x'; 5000];
        assert!(refusal("u", 500, &long).len() < 300);
    }
}
