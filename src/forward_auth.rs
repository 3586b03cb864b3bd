//! Forward auth (`[frontends.X.auth.forward]`, `[entryPoints.X.auth.forward]`, v1's
//! `middlewares/auth/forward.go`): before a request goes on, trafik asks an auth server.
//!
//! * The auth request is a `GET` to `address` (its own path and query, no body) with the
//!   client's headers, less the hop-by-hop ones, `Host` (the address's), `Content-Length`
//!   and `Expect`, and with `X-Forwarded-For` (the client's address), `-Method`,
//!   `-Proto`, `-Host` and `-Uri` (the path and query the frontend routed). With
//!   `trustForwardHeader` the client's own `X-Forwarded-*` (those the entry point's
//!   `forwardedHeaders` let through) are kept as sent and the client's address is appended
//!   to its `X-Forwarded-For`, as v1 did; without it they are replaced, and any other
//!   `X-Forwarded-*` the client sent (v1 passed `X-Forwarded-Port` on) is dropped.
//!   Redirects are not followed.
//! * A 2xx answer lets the request go on, with each header named in
//!   `authResponseHeaders` copied from it; the client's own headers of those names are
//!   removed first, whatever the auth server answers, so a client cannot vouch for itself.
//! * Any other answer goes to the client as the auth server gave it: status, headers
//!   (hop-by-hop ones removed) and body, the body read whole up to [`MAX_BODY`]; a larger
//!   one is 502.
//! * No answer within [`TIMEOUT`] (head and body), or none at all: 500, as v1, logged.
//!
//! One pooled hyper-util client per auth configuration, built when the configuration
//! compiles (HTTP/1.1; `https://` through hyper-rustls with `tls`).

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::proxy::ResponseBody;
use crate::proxy::headers::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, canonical, strip_hop_by_hop,
};

/// How long the auth server has to answer, body included (v1's client waited 30 s to
/// connect, and without limit for the answer).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest body of an auth server's answer passed to the client; past it, 502.
pub const MAX_BODY: usize = 1024 * 1024;

static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// One `auth.forward` table, ready to ask.
pub struct ForwardAuth {
    address: Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    trust_forward_header: bool,
    response_headers: Vec<HeaderName>,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("address", &self.address)
            .field("trust_forward_header", &self.trust_forward_header)
            .field("response_headers", &self.response_headers)
            .finish()
    }
}

/// Why an `auth.forward` table does not build: the key under `forward` and the message.
#[derive(Debug)]
pub struct Invalid {
    pub key: Vec<String>,
    pub message: String,
}

impl ForwardAuth {
    /// Checks `address`, the header names and the TLS files now: a bad table is refused
    /// before it serves.
    pub fn new(config: &trafik_config::Forward) -> Result<Self, Invalid> {
        let invalid = |key: &[&str], message: String| Invalid {
            key: key.iter().map(|s| s.to_string()).collect(),
            message,
        };
        let address = parse_address(&config.address).map_err(|m| invalid(&["address"], m))?;
        let mut response_headers = Vec::new();
        for (i, name) in config.auth_response_headers.iter().enumerate() {
            let parsed = HeaderName::try_from(name.trim()).map_err(|_| {
                invalid(
                    &["authResponseHeaders", &i.to_string()],
                    format!("{name:?} is not an HTTP header name"),
                )
            })?;
            response_headers.push(parsed);
        }
        let tls = match &config.tls {
            None => crate::tls::client::auth_server_tls("", None, false),
            Some(t) => {
                let pair = match (t.cert.is_empty(), t.key.is_empty()) {
                    (true, true) => None,
                    (false, false) => Some((t.cert.as_str(), t.key.as_str())),
                    (false, true) => {
                        return Err(invalid(&["tls", "key"], "cert is set without key".into()));
                    }
                    (true, false) => {
                        return Err(invalid(&["tls", "cert"], "key is set without cert".into()));
                    }
                };
                crate::tls::client::auth_server_tls(&t.ca, pair, t.insecure_skip_verify)
            }
        }
        .map_err(|(key, m)| match key {
            "" => invalid(&["tls"], m),
            key => invalid(&["tls", key], m),
        })?;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(TIMEOUT));
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(ForwardAuth {
            address,
            client,
            trust_forward_header: config.trust_forward_header,
            response_headers,
        })
    }

    /// Asks the auth server about `req` (from `peer`). `Ok`: go on, with the
    /// `authResponseHeaders` copied in; `Err`: the answer for the client. `trusted`: the
    /// entry point trusts the client's `X-Forwarded-*` (`forwardedHeaders`).
    pub async fn check<B>(
        &self,
        req: &mut Request<B>,
        peer: IpAddr,
        trusted: bool,
    ) -> Result<(), Response<ResponseBody>> {
        // Whatever the answer, a client's own copies never reach the backend.
        for name in &self.response_headers {
            req.headers_mut().remove(name);
        }
        let mut ask = Request::new(Empty::<Bytes>::new());
        *ask.method_mut() = Method::GET;
        *ask.uri_mut() = self.address.clone();
        *ask.headers_mut() = auth_request_headers(req, peer, self.trust_forward_header && trusted);
        let asked = tokio::time::timeout(TIMEOUT, async {
            let response = self.client.request(ask).await.map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY).collect().await;
            Ok::<_, String>((parts, body))
        })
        .await;
        let (parts, body) = match asked {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tracing::error!(address = %self.address, "forward auth: no answer: {e}");
                return Err(crate::handler::error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                ));
            }
            Err(_) => {
                tracing::error!(address = %self.address, "forward auth: no answer within {TIMEOUT:?}");
                return Err(crate::handler::error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                ));
            }
        };
        if parts.status.is_success() {
            for name in &self.response_headers {
                for value in parts.headers.get_all(name) {
                    req.headers_mut().append(name.clone(), value.clone());
                }
            }
            // The body of a 2xx is not used (read only so the connection can be reused).
            return Ok(());
        }
        let body = match body {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                tracing::error!(address = %self.address, "forward auth: answer's body unusable (limit {MAX_BODY} bytes): {e}");
                return Err(crate::handler::error_response(StatusCode::BAD_GATEWAY));
            }
        };
        tracing::debug!(address = %self.address, status = %parts.status, "forward auth: denied");
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        // The length is the body's, as trafik sends it.
        headers.remove(header::CONTENT_LENGTH);
        let mut response = Response::new(ResponseBody::full(body));
        *response.status_mut() = parts.status;
        *response.headers_mut() = headers;
        Err(response)
    }
}

/// An absolute `http://` or `https://` URL with a host.
fn parse_address(address: &str) -> Result<Uri, String> {
    let uri: Uri = address
        .trim()
        .parse()
        .map_err(|e| format!("address {address:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(format!(
                "address {address:?}: an http:// or https:// URL is needed"
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("address {address:?} has no host"));
    }
    Ok(uri)
}

/// What the auth server receives: see the module's notes.
fn auth_request_headers<B>(req: &Request<B>, peer: IpAddr, trust: bool) -> HeaderMap {
    let sent = req.headers();
    let mut headers = sent.clone();
    strip_hop_by_hop(&mut headers);
    // The auth request is a GET without a body to another host: what described the
    // client's body or named trafik does not apply to it.
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::EXPECT);
    if !trust {
        let forwarded: Vec<HeaderName> = headers
            .keys()
            .filter(|n| n.as_str().starts_with("x-forwarded-"))
            .cloned()
            .collect();
        for name in forwarded {
            headers.remove(name);
        }
    }
    let kept = |name: &HeaderName| trust && sent.get(name).is_some_and(|v| !v.is_empty());

    let ip = canonical(peer).to_string();
    let prior: Vec<&HeaderValue> = sent
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter(|v| !v.is_empty())
        .collect();
    let xff = match prior {
        prior if trust && !prior.is_empty() => {
            let mut joined = prior
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            joined.push_str(", ");
            joined.push_str(&ip);
            joined
        }
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(&X_FORWARDED_FOR, v);
    }
    if !kept(&X_FORWARDED_METHOD)
        && let Ok(v) = HeaderValue::from_str(req.method().as_str())
    {
        headers.insert(&X_FORWARDED_METHOD, v);
    }
    if !kept(&X_FORWARDED_PROTO) {
        let proto = if crate::tls::is_tls(req) {
            "https"
        } else {
            "http"
        };
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if !kept(&X_FORWARDED_HOST) {
        let host = sent
            .get(header::HOST)
            .cloned()
            .or_else(|| HeaderValue::from_str(req.uri().authority()?.as_str()).ok());
        match host {
            Some(h) => {
                headers.insert(&X_FORWARDED_HOST, h);
            }
            None => {
                headers.remove(&X_FORWARDED_HOST);
            }
        }
    }
    if !kept(&X_FORWARDED_URI) {
        let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
        if let Ok(v) = HeaderValue::from_str(uri) {
            headers.insert(&X_FORWARDED_URI, v);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/a/b?c=d")
            .body(())
            .unwrap();
        for (n, v) in headers {
            req.headers_mut().append(
                HeaderName::try_from(*n).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        req
    }

    fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
        h.get(name).map(|v| v.to_str().unwrap())
    }

    proptest::proptest! {
        /// Whatever headers a client sends, an untrusted one's `X-Forwarded-*` never reach
        /// the auth server as sent, `X-Forwarded-For` ends with the peer either way, and
        /// nothing that described the client's own hop or body goes along.
        #[test]
        fn the_auth_server_learns_the_peer_whatever_the_client_claims(
            claims in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "x-forwarded-for", "x-forwarded-uri", "x-forwarded-host",
                        "x-forwarded-proto", "x-forwarded-method", "x-forwarded-port",
                        "x-forwarded-prefix", "host", "connection", "content-length",
                        "te", "upgrade", "cookie", "authorization",
                    ]),
                    "[ -~]{0,20}",
                ),
                0..8,
            ),
            trust in proptest::bool::ANY,
        ) {
            let mut req = request(&[]);
            for (name, value) in &claims {
                if let Ok(v) = HeaderValue::from_str(value) {
                    req.headers_mut().append(*name, v);
                }
            }
            let h = auth_request_headers(&req, "10.0.0.1".parse().unwrap(), trust);
            let xff = h.get("x-forwarded-for").unwrap().to_str().unwrap().to_owned();
            proptest::prop_assert!(xff == "10.0.0.1" || xff.ends_with(", 10.0.0.1"), "{}", xff);
            for gone in ["host", "connection", "content-length", "upgrade"] {
                proptest::prop_assert!(!h.contains_key(gone), "{}", gone);
            }
            if !trust {
                proptest::prop_assert_eq!(xff.as_str(), "10.0.0.1");
                proptest::prop_assert_eq!(get(&h, "x-forwarded-uri"), Some("/a/b?c=d"));
                proptest::prop_assert_eq!(get(&h, "x-forwarded-method"), Some("POST"));
                proptest::prop_assert_eq!(get(&h, "x-forwarded-proto"), Some("http"));
                proptest::prop_assert!(!h.contains_key("x-forwarded-port"));
                proptest::prop_assert!(!h.contains_key("x-forwarded-prefix"));
                // The client's Host, when it sent one.
                proptest::prop_assert_eq!(h.get("x-forwarded-host"), req.headers().get("host"));
            }
        }
    }

    #[test]
    fn addresses_must_be_http_urls_with_a_host() {
        assert!(parse_address("http://127.0.0.1:9000/auth").is_ok());
        assert!(parse_address("https://auth.example").is_ok());
        for bad in [
            "",
            "auth.example/check",
            "ftp://a/b",
            "/auth",
            "http:///x",
            "http://a b",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn untrusted_forwarded_headers_are_replaced() {
        let req = request(&[
            ("host", "app.example"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-uri", "/public"),
            ("x-forwarded-port", "1"),
            ("connection", "close"),
            ("content-length", "3"),
            ("expect", "100-continue"),
            ("cookie", "s=1"),
        ]);
        let h = auth_request_headers(&req, "10.0.0.1".parse().unwrap(), false);
        assert_eq!(get(&h, "x-forwarded-for"), Some("10.0.0.1"));
        assert_eq!(get(&h, "x-forwarded-uri"), Some("/a/b?c=d"));
        assert_eq!(get(&h, "x-forwarded-method"), Some("POST"));
        assert_eq!(get(&h, "x-forwarded-proto"), Some("http"));
        assert_eq!(get(&h, "x-forwarded-host"), Some("app.example"));
        assert_eq!(get(&h, "x-forwarded-port"), None);
        assert_eq!(
            get(&h, "cookie"),
            Some("s=1"),
            "the client's headers go along"
        );
        for gone in ["host", "connection", "content-length", "expect"] {
            assert_eq!(get(&h, gone), None, "{gone}");
        }
    }

    #[test]
    fn trusted_forwarded_headers_are_kept_and_the_client_appended() {
        let req = request(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
            ("x-forwarded-uri", "/original"),
            ("x-forwarded-proto", "https"),
        ]);
        let h = auth_request_headers(&req, "::ffff:10.0.0.1".parse().unwrap(), true);
        assert_eq!(
            get(&h, "x-forwarded-for"),
            Some("1.1.1.1, 2.2.2.2, 10.0.0.1")
        );
        assert_eq!(get(&h, "x-forwarded-uri"), Some("/original"));
        assert_eq!(get(&h, "x-forwarded-proto"), Some("https"));
        assert_eq!(get(&h, "x-forwarded-method"), Some("POST"));
    }
}
