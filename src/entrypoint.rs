//! Entry points: a listening socket each, an accept loop, and HTTP/1.1 + HTTP/2
//! (prior-knowledge h2c) connections served by hyper-util; on a TLS entry point the
//! handshake comes first (ALPN picks h2 or http/1.1). Connections are tracked so a
//! shutdown lets in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::handler::{self, EntryPointContext};
use crate::redirect::EntryPointRedirect;
use crate::tls::TlsConnection;

/// A client has this long to finish its TLS handshake: a silent peer must not hold a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Client-side timeouts (`[respondingTimeouts]`).
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Time allowed for a request's headers, and for an idle keep-alive connection to
    /// start its next request (hyper runs one timer for both).
    pub header_timeout: Duration,
}

/// What an entry point does before HTTP: terminate TLS, and/or redirect everything.
#[derive(Clone, Default)]
pub struct EntryPointOptions {
    pub tls: Option<TlsAcceptor>,
    pub redirect: Option<Arc<EntryPointRedirect>>,
}

/// Binds `address` (`":8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"`, `"localhost:80"`).
/// An empty host listens on every interface, IPv6 and IPv4 alike, as Go does.
pub async fn bind(name: &str, address: &str) -> Result<TcpListener, String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!("entry point {name:?}: cannot listen on {address:?}: {e}")
    };
    let (host, port) = trafik_config::parse_address(address).map_err(|e| fail(&e))?;
    let candidates: Vec<SocketAddr> = match host.as_deref() {
        None | Some("") => vec![
            SocketAddr::from(([0u16; 8], port)),
            SocketAddr::from(([0u8; 4], port)),
        ],
        Some(h) => {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            tokio::net::lookup_host((h, port))
                .await
                .map_err(|e| fail(&e))?
                .collect()
        }
    };
    let mut last_err = None;
    for addr in candidates {
        match listen(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(e),
        }
    }
    Err(fail(
        &last_err
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no address to listen on".into()),
    ))
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // Dual-stack: one socket for both families, like Go's ":port".
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    TcpListener::from_std(socket.into())
}

/// Accepts until `stop` is cancelled; returns the tracker of the open connections so the
/// caller can wait for them (bounded by the grace period).
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<EntryPointContext>,
    settings: ServeSettings,
    options: EntryPointOptions,
    stop: CancellationToken,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper panics on every connection when a timeout is set without a timer.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        // One contiguous write per response head + small body: cheaper than writev here.
        .writev(false);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(250);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(entry_point = %ctx.name, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            ctx: ctx.clone(),
            builder: builder.clone(),
            redirect: options.redirect.clone(),
            peer,
            watcher: graceful.watcher(),
        };
        match &options.tls {
            None => conn.serve(stream, None),
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                // The handshake runs in the connection's task, never in the accept loop.
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let (_, session) = tls.get_ref();
                            let info = TlsConnection {
                                peer_certificates: session
                                    .peer_certificates()
                                    .map(|c| Arc::new(c.to_vec())),
                            };
                            conn.serve(tls, Some(info));
                        }
                        // Garbage, plaintext HTTP, a refused SNI, an old TLS version: the
                        // client's problem, not the operator's.
                        Ok(Err(e)) => tracing::debug!(
                            entry_point = %conn.ctx.name,
                            "TLS handshake with {peer} failed: {e}"
                        ),
                        Err(_) => tracing::debug!(
                            entry_point = %conn.ctx.name,
                            "TLS handshake with {peer}: no handshake within {HANDSHAKE_TIMEOUT:?}"
                        ),
                    }
                });
            }
        }
    }
    drop(listener);
    graceful
}

/// One accepted connection, ready to be served once its transport (TCP or TLS) is.
struct Connection {
    ctx: Arc<EntryPointContext>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    redirect: Option<Arc<EntryPointRedirect>>,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    fn serve<S>(self, stream: S, tls: Option<TlsConnection>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            ctx,
            builder,
            redirect,
            peer,
            watcher,
        } = self;
        let tls = tls.map(Arc::new);
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let ctx = ctx.clone();
            let redirect = redirect.clone();
            if let Some(info) = &tls {
                req.extensions_mut().insert(info.clone());
            }
            async move {
                if let Some(r) = redirect
                    && let Some(response) = r.respond(&req, tls_of(&req))
                {
                    return Ok(response);
                }
                handler::handle(ctx, peer, req).await
            }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = watcher.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!("connection from {peer}: {e}");
            }
        });
    }
}

fn tls_of(req: &hyper::Request<Incoming>) -> bool {
    req.extensions().get::<Arc<TlsConnection>>().is_some()
}
