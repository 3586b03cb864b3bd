//! The HTTP client towards Marathon: `endpoint`'s comma-separated servers tried in turn
//! (the one that answered is tried first next time), `[marathon.basic]` or DC/OS's token
//! (`Authorization: token=<dcosToken>`, which wins, as v1), `[marathon.TLS]` (the Consul
//! client's rustls configuration), and v1's timeouts: `dialerTimeout` (+
//! `TLSHandshakeTimeout`) bounds connecting, `responseHeaderTimeout` a listing and the event
//! stream's answer (not the stream itself, which stays open), `keepAlive` the TCP
//! keep-alive. 0 means no limit, as v1.
//!
//! Building it does no I/O, so a Marathon that is down at start is an outage of the
//! provider, not a failed start.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;

use super::Events;
use crate::provider::kv::StoreError;

const APPS_PATH: &str = "/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness";
const EVENTS_PATH: &str = "/v2/events";

/// The most `/v2/apps` may answer (a large cluster's is a few MB): more is an error, not
/// memory without bound.
const MAX_APPS_BYTES: usize = 64 << 20;
/// The longest line the event stream may send (a deployment's event carries whole groups).
const MAX_EVENT_LINE: usize = 16 << 20;

pub struct MarathonClient {
    http: reqwest::Client,
    /// Base URLs (`http://host:port[/prefix]`), no trailing slash.
    endpoints: Vec<String>,
    /// The endpoint that answered last: tried first.
    current: AtomicUsize,
    authorization: Option<Authorization>,
    response_header_timeout: Option<Duration>,
    trace: bool,
}

enum Authorization {
    Basic(String, String),
    Token(String),
}

impl MarathonClient {
    pub fn new(table: &trafik_config::Marathon, base_dir: &Path) -> Result<Self, String> {
        let endpoints = table
            .endpoint
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(base_url)
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err("endpoint: no Marathon server given".to_string());
        }
        let limit = |d: trafik_config::Duration| Some(d.get()).filter(|d| !d.is_zero());
        // reqwest is built without a crypto provider of its own and panics without a
        // process default: make sure there is one (idempotent).
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            // Marathon is named: never through a system proxy. A standby Marathon proxies
            // to the leader itself; a few redirects are allowed (DC/OS's admin router).
            .no_proxy()
            .redirect(reqwest::redirect::Policy::limited(3));
        // reqwest's connect timeout covers the TLS handshake too.
        let connect = table.dialer_timeout.get() + table.tls_handshake_timeout.get();
        if !table.dialer_timeout.get().is_zero() {
            builder = builder.connect_timeout(connect);
        }
        if let Some(keep_alive) = limit(table.keep_alive) {
            builder = builder.tcp_keepalive(keep_alive);
        }
        if let Some(tls) = &table.tls {
            builder = builder.tls_backend_preconfigured(
                crate::provider::consul::client::tls_config(tls, base_dir)?,
            );
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let authorization = if !table.dcos_token.is_empty() {
            Some(Authorization::Token(table.dcos_token.clone()))
        } else {
            table
                .basic
                .as_ref()
                .filter(|b| !b.http_basic_auth_user.is_empty())
                .map(|b| {
                    Authorization::Basic(
                        b.http_basic_auth_user.clone(),
                        b.http_basic_password.clone(),
                    )
                })
        };
        Ok(MarathonClient {
            http,
            endpoints,
            current: AtomicUsize::new(0),
            authorization,
            response_header_timeout: limit(table.response_header_timeout),
            trace: table.trace,
        })
    }

    pub fn trace(&self) -> bool {
        self.trace
    }

    /// The endpoint that answered last (or is tried first).
    pub fn last_endpoint(&self) -> &str {
        &self.endpoints[self.current.load(Ordering::Relaxed) % self.endpoints.len()]
    }

    /// The endpoints in the order to try them: the last that answered first.
    fn order(&self) -> impl Iterator<Item = (usize, &str)> {
        let first = self.current.load(Ordering::Relaxed);
        let n = self.endpoints.len();
        (0..n).map(move |i| {
            let at = (first + i) % n;
            (at, self.endpoints[at].as_str())
        })
    }

    fn request(&self, url: &str, accept: &'static str) -> reqwest::RequestBuilder {
        let request = self.http.get(url).header(reqwest::header::ACCEPT, accept);
        match &self.authorization {
            None => request,
            Some(Authorization::Basic(user, password)) => request.basic_auth(user, Some(password)),
            Some(Authorization::Token(token)) => {
                request.header(reqwest::header::AUTHORIZATION, format!("token={token}"))
            }
        }
    }

    /// Sends `request`, waiting for the answer's headers at most `responseHeaderTimeout`;
    /// a status other than 200 is an error carrying Marathon's words.
    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        if self.trace {
            tracing::debug!(provider = super::NAME, "GET {url}");
        }
        let sent = request.send();
        let response = match self.response_header_timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| format!("{url}: no answer within {limit:?}"))?,
            None => sent.await,
        }
        .map_err(|e| format!("{url}: {}", error_chain(&e.without_url())))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            let hint = match status.as_u16() {
                401 | 403 => " (check [marathon.basic] or dcosToken)",
                _ => "",
            };
            return Err(format!("{url}: Marathon answered {status}{hint}: {text:?}"));
        }
        Ok(response)
    }

    /// The applications with their tasks, deployments and readiness results, from the
    /// first endpoint that answers.
    pub async fn apps(&self) -> Result<bytes::Bytes, StoreError> {
        let mut errors = Vec::new();
        for (at, base) in self.order() {
            let url = format!("{base}{APPS_PATH}");
            let result = match self
                .send(&url, self.request(&url, "application/json"))
                .await
            {
                // The body in full, within the same limit as its headers.
                Ok(response) => match self.response_header_timeout {
                    Some(limit) => tokio::time::timeout(limit, bounded_body(response, &url))
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!("{url}: the answer did not end within {limit:?}"))
                        }),
                    None => bounded_body(response, &url).await,
                },
                Err(e) => Err(e),
            };
            match result {
                Ok(body) => {
                    self.current.store(at, Ordering::Relaxed);
                    return Ok(body);
                }
                Err(e) => errors.push(e),
            }
        }
        Err(StoreError::new(errors.join("; ")))
    }

    /// Subscribes to `/v2/events` on the first endpoint that answers: the event types as
    /// they arrive.
    pub async fn events(&self) -> Result<Events, StoreError> {
        let mut errors = Vec::new();
        for (at, base) in self.order() {
            let url = format!("{base}{EVENTS_PATH}");
            match self
                .send(&url, self.request(&url, "text/event-stream"))
                .await
            {
                Ok(response) => {
                    self.current.store(at, Ordering::Relaxed);
                    let events = bounded_lines(response).eventsource().map(|item| {
                        item.map(|e| event_type(&e.event, &e.data))
                            .map_err(|e| e.to_string())
                    });
                    return Ok(Box::pin(events));
                }
                Err(e) => errors.push(e),
            }
        }
        Err(StoreError::new(errors.join("; ")))
    }
}

/// The whole body, at most `MAX_APPS_BYTES`.
async fn bounded_body(response: reqwest::Response, url: &str) -> Result<bytes::Bytes, String> {
    let mut chunks = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("{url}: {}", error_chain(&e.without_url())))?;
        if body.len() + chunk.len() > MAX_APPS_BYTES {
            return Err(format!("{url}: the answer exceeds {MAX_APPS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// Why the event stream's bytes stopped.
#[derive(Debug)]
struct StreamError(String);

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StreamError {}

/// The event stream's bytes, ended by an error once a line exceeds `MAX_EVENT_LINE` (the
/// parser would buffer it whole).
fn bounded_lines(
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, StreamError>> {
    let mut line = 0usize;
    response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| StreamError(error_chain(&e.without_url())))?;
        match chunk.iter().rposition(|b| *b == b'\n') {
            Some(at) => line = chunk.len() - at - 1,
            None => line += chunk.len(),
        }
        if line > MAX_EVENT_LINE {
            return Err(StreamError(format!(
                "an event line exceeds {MAX_EVENT_LINE} bytes"
            )));
        }
        Ok(chunk)
    })
}

/// The event's type: the SSE `event:` field Marathon sets, else the `eventType` of its data.
fn event_type(event: &str, data: &str) -> String {
    if !event.is_empty() && event != "message" {
        return event.to_string();
    }
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| {
            v.get("eventType")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// `http://host:port[/prefix]` (DC/OS serves Marathon under a path); a bare `host:port`
/// is `http://`. Credentials belong in `[marathon.basic]`, not in the URL.
pub fn base_url(endpoint: &str) -> Result<String, String> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let url = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "endpoint {endpoint:?}: unknown scheme {:?} (http or https)",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "endpoint {endpoint:?}: put credentials in [marathon.basic], not in the URL"
        ));
    }
    if parsed.query().is_some() || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "endpoint {endpoint:?}: expected http(s)://host:port[/path]"
        ));
    }
    Ok(url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_base_urls() {
        assert_eq!(base_url("127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(
            base_url(" https://master.mesos/marathon/ ").unwrap(),
            "https://master.mesos/marathon"
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://u:p@x:8080").is_err());
        let table = trafik_config::Marathon {
            endpoint: "http://a:1, http://b:2".into(),
            ..Default::default()
        };
        let client = MarathonClient::new(&table, Path::new("/")).unwrap();
        assert_eq!(client.endpoints, ["http://a:1", "http://b:2"]);
        let none = trafik_config::Marathon {
            endpoint: " , ".into(),
            ..Default::default()
        };
        assert!(MarathonClient::new(&none, Path::new("/")).is_err());
    }

    #[test]
    fn event_types_from_the_field_or_the_data() {
        assert_eq!(
            event_type("status_update_event", "{}"),
            "status_update_event"
        );
        assert_eq!(
            event_type("message", r#"{"eventType":"api_post_event"}"#),
            "api_post_event"
        );
        assert_eq!(event_type("", "not json"), "");
    }
}
