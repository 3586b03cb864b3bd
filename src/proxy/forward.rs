//! Sends one request to one backend server over pooled keep-alive connections and
//! streams the answer back. hyper-util's client, not reqwest: on this path every
//! microsecond counts (see README's benchmark), and nothing here needs a URL parser.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri, Version};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::connector::Connector;
use super::pool::{PoolSlot, PooledResponse, Pools};
use tokio::time::Sleep;

use super::body::ResponseBody;
use super::error::{ErrorKind, ProxyError, is_idempotent};
use super::headers::{ForwardedFields, strip_hop_by_hop};
use super::request_body::RequestBody;

/// How to reach one server, parsed once per configuration from its `url`.
#[derive(Debug, Clone)]
pub struct Target {
    pub transport: Transport,
    pub authority: Authority,
    /// The Host header sent when the frontend does not pass the client's Host.
    pub host_header: HeaderValue,
    /// `http://`: the server's connection pool, bound on first use (`pool.rs`).
    pub pool: PoolSlot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    /// HTTP/2 over cleartext, prior knowledge (`h2c://`).
    H2c,
    /// `https://`: TLS, HTTP/2 when the server offers it through ALPN.
    Https,
}

impl Target {
    /// Parses `http://host:port/ignored-path` (v1 ignores the path part).
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid url {url:?}: {e}"))?;
        let transport = match uri.scheme_str() {
            Some("http") => Transport::Http,
            Some("h2c") => Transport::H2c,
            Some("https") => Transport::Https,
            Some(other) => {
                return Err(format!("invalid url {url:?}: unsupported scheme {other:?}"));
            }
            None => {
                return Err(format!(
                    "invalid url {url:?}: missing scheme (http://, https:// or h2c://)"
                ));
            }
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("invalid url {url:?}: missing host"))?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|e| format!("invalid url {url:?}: {e}"))?;
        Ok(Target {
            transport,
            authority,
            host_header,
            pool: PoolSlot::default(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ForwarderSettings {
    pub dial_timeout: Option<Duration>,
    pub response_header_timeout: Option<Duration>,
    pub max_idle_per_host: usize,
    pub idle_timeout: Duration,
    /// Extra CAs for `https://` servers (paths or PEM), besides the system's.
    pub root_cas: Vec<String>,
    /// Do not check `https://` servers' certificates.
    pub insecure_skip_verify: bool,
    /// This proxy's name, sent as `X-Forwarded-Server`.
    pub server_name: HeaderValue,
}

/// Shared by every backend of a configuration and kept across reloads, so pools survive.
pub struct Forwarder {
    /// `http://` servers' connections, except upgrades (`pool.rs`).
    pools: Pools,
    /// `http://` upgrades (WebSocket).
    http1: Client<Connector, RequestBody>,
    h2c: Client<Connector, RequestBody>,
    /// `https://`, h2 or http/1.1 as ALPN decides.
    https: Client<HttpsConnector<Connector>, RequestBody>,
    /// `https://` for upgrades (WebSocket), which need HTTP/1.1.
    https_http1: Client<HttpsConnector<Connector>, RequestBody>,
    response_header_timeout: Option<Duration>,
    /// Open upgraded connections, for graceful shutdown.
    pub tunnels: super::tunnels::Tunnels,
    /// What `https://` servers are trusted with (rootCAs, insecureSkipVerify); health
    /// checks over https use the same.
    backend_tls: rustls::ClientConfig,
    /// `X-Forwarded-Server`.
    server_name: HeaderValue,
}

impl Forwarder {
    /// Fails only when a `rootCAs` entry cannot be read.
    pub fn new(settings: &ForwarderSettings) -> anyhow::Result<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(settings.dial_timeout);
        connector.enforce_http(false);
        let connector = super::connector::connector(connector);
        let mut builder = Client::builder(TokioExecutor::new());
        // Without a timer the idle-pool timeout silently does nothing.
        builder
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(settings.idle_timeout)
            .pool_max_idle_per_host(settings.max_idle_per_host)
            // One contiguous write per request: cheaper than writev for small messages.
            .http1_writev(false);
        let http1 = builder.build(connector.clone());
        let h2c = builder.clone().http2_only(true).build(connector.clone());
        let tls =
            crate::tls::client::backend_tls(&settings.root_cas, settings.insecure_skip_verify)
                .map_err(anyhow::Error::msg)?;
        // ALPN `h2` + `http/1.1`: hyper speaks whichever the server picks.
        let https = builder.build(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_all_versions()
                .wrap_connector(connector.clone()),
        );
        // Upgrades need HTTP/1.1: offer only that.
        let https_http1 = builder.build(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(connector.clone()),
        );
        Ok(Forwarder {
            pools: Pools::new(
                settings.max_idle_per_host,
                settings.idle_timeout,
                settings.dial_timeout,
            ),
            http1,
            h2c,
            https,
            https_http1,
            response_header_timeout: settings.response_header_timeout,
            tunnels: Default::default(),
            backend_tls: tls,
            server_name: settings.server_name.clone(),
        })
    }

    /// This proxy's name, for `X-Forwarded-Server`.
    pub fn server_name(&self) -> &HeaderValue {
        &self.server_name
    }

    pub fn backend_tls(&self) -> &rustls::ClientConfig {
        &self.backend_tls
    }

    /// After a configuration is applied: its `http://` servers keep their pools (bound to
    /// their targets now, so no request looks one up), the others' pools are let go.
    pub fn retain_pools<'t>(&self, targets: impl IntoIterator<Item = &'t Target>) {
        self.pools.retain(
            targets
                .into_iter()
                .filter(|t| t.transport == Transport::Http)
                .map(|t| (&t.authority, &t.pool)),
        );
    }

    /// Forwards `req` (already rewritten by the frontend) with `forwarded` (its
    /// `X-Forwarded-*` fields, see `headers::forwarded_fields`) to `target`. The client's
    /// Host is kept when `pass_host_header`, else the server's authority is sent, as v1
    /// does.
    ///
    /// A plain future rather than an `async fn`: its type can be named, so the backend
    /// layers above it hold it inline instead of boxing it for every request.
    pub fn forward(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
        forwarded: ForwardedFields,
        target: &Target,
        pass_host_header: bool,
    ) -> Sending {
        // An upgrade (WebSocket) keeps its Upgrade/Connection pair, and needs HTTP/1.1.
        let upgrade =
            upgrade_protocol(req.headers()).filter(|_| target.transport != Transport::H2c);
        *req.version_mut() = match target.transport {
            Transport::H2c => Version::HTTP_2,
            // For https, hyper sends it as HTTP/2 when ALPN chose h2.
            Transport::Http | Transport::Https => Version::HTTP_11,
        };

        let path_and_query = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let client_authority = req.uri().authority().cloned();
        // trafik's own pool (plain http, no upgrade) sends the URI as it is: origin-form.
        let pooled = target.transport == Transport::Http && upgrade.is_none();
        // trafik's own client writes the forwarded fields itself; hyper's take them in the map.
        let forwarded = if pooled {
            forwarded
        } else {
            forwarded.insert_into(req.headers_mut());
            ForwardedFields::default()
        };
        let mut parts = http::uri::Parts::default();
        if !pooled {
            parts.scheme = Some(if target.transport == Transport::Https {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            });
            parts.authority = Some(target.authority.clone());
        }
        parts.path_and_query = Some(path_and_query);
        *req.uri_mut() =
            Uri::from_parts(parts).expect("scheme, authority and path make a valid URI");

        // The client side of an upgrade's tunnel is claimed before the request moves on.
        let tunnel = upgrade
            .as_ref()
            .map(|_| (hyper::upgrade::on(&mut req), self.clone()));
        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        if let Some(protocol) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        if !pass_host_header {
            headers.insert(header::HOST, target.host_header.clone());
        } else if !headers.contains_key(header::HOST) {
            // HTTP/2 clients send :authority instead of Host; HTTP/1.1 backends need Host.
            if let Some(v) = client_authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
                headers.insert(header::HOST, v);
            }
        }
        if target.transport == Transport::H2c {
            // HTTP/2 carries the host as :authority; a Host header there is redundant.
            headers.remove(header::HOST);
        } else if pooled && !headers.contains_key(header::HOST) {
            // As hyper-util's client did: HTTP/1.1 needs one.
            headers.insert(header::HOST, target.host_header.clone());
        }

        let idempotent = is_idempotent(req.method());
        let response = match target.transport {
            Transport::Http if pooled => Response::Pooled(
                self.pools
                    .of(&target.pool, &target.authority)
                    .send(req, forwarded),
            ),
            Transport::Http => Response::Legacy(self.http1.request(req)),
            Transport::H2c => Response::Legacy(self.h2c.request(req)),
            Transport::Https if tunnel.is_some() => Response::Legacy(self.https_http1.request(req)),
            Transport::Https => Response::Legacy(self.https.request(req)),
        };
        Sending {
            response,
            // Boxed: a timer is large, and most configurations have none.
            deadline: self
                .response_header_timeout
                .map(|limit| Box::pin(tokio::time::sleep(limit))),
            idempotent,
            tunnel,
        }
    }
}

/// The answer of one server to one request: see [`Forwarder::forward`].
pub struct Sending {
    response: Response,
    /// `responseHeaderTimeout`.
    deadline: Option<Pin<Box<Sleep>>>,
    idempotent: bool,
    /// The client's side of an upgrade, and where its tunnel will be tracked.
    tunnel: Option<(hyper::upgrade::OnUpgrade, Arc<Forwarder>)>,
}

/// Which client sends it: trafik's own pool, or hyper-util's.
enum Response {
    Pooled(PooledResponse),
    Legacy(ResponseFuture),
}

impl Future for Sending {
    type Output = Result<http::Response<ResponseBody>, ProxyError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let polled = match &mut this.response {
            Response::Pooled(response) => response.as_mut().poll(cx),
            Response::Legacy(response) => Pin::new(response)
                .poll(cx)
                .map_ok(|r| r.map(ResponseBody::streamed))
                .map_err(ProxyError::from_client),
        };
        let result = match polled {
            Poll::Ready(result) => result,
            Poll::Pending => {
                if let Some(deadline) = &mut this.deadline {
                    ready!(deadline.as_mut().poll(cx));
                    return Poll::Ready(Err(ProxyError::new(ErrorKind::ResponseTimeout)));
                }
                return Poll::Pending;
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => return Poll::Ready(Err(e.for_idempotent(this.idempotent))),
        };
        match this.tunnel.take() {
            Some((client_side, forwarder))
                if response.status() == http::StatusCode::SWITCHING_PROTOCOLS =>
            {
                let backend_side = hyper::upgrade::on(&mut response);
                forwarder.tunnels.spawn(tunnel(client_side, backend_side));
            }
            // Any other answer to an upgrade request (401, 404…) passes through as is.
            _ => strip_hop_by_hop(response.headers_mut()),
        }
        Poll::Ready(Ok(response))
    }
}

/// The protocol asked for when the request wants an upgrade (`Connection: upgrade`).
pub fn upgrade_protocol(headers: &http::HeaderMap) -> Option<HeaderValue> {
    let wants = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    if !wants {
        return None;
    }
    // `Upgrade: h2c` asks trafik itself for HTTP/2, which it does not do that way (hyper
    // has no h2c upgrade); the request is served as HTTP/1.1, as the RFC allows, and the
    // upgrade is not passed on to a server that might accept it behind trafik's back.
    headers
        .get(header::UPGRADE)
        .filter(|p| !p.as_bytes().eq_ignore_ascii_case(b"h2c"))
        .cloned()
}

/// Splices the two upgraded connections until either side closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, backend: hyper::upgrade::OnUpgrade) {
    match tokio::try_join!(client, backend) {
        Ok((client, backend)) => {
            let mut client = hyper_util::rt::TokioIo::new(client);
            let mut backend = hyper_util::rt::TokioIo::new(backend);
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
                tracing::debug!("upgraded connection ended: {e}");
            }
        }
        Err(e) => tracing::debug!("upgrade failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_urls() {
        let t = Target::parse("http://10.16.28.17:8091").unwrap();
        assert_eq!(t.transport, Transport::Http);
        assert_eq!(t.authority.as_str(), "10.16.28.17:8091");
        assert_eq!(t.host_header, "10.16.28.17:8091");
        assert_eq!(
            Target::parse("h2c://b:9000/ignored").unwrap().transport,
            Transport::H2c
        );
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("localhost:80").is_err());
    }
}
