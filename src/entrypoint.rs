//! Entry points: a listening socket each, an accept loop, and HTTP/1.1 + HTTP/2
//! (prior-knowledge h2c) connections served by hyper; on a TLS entry point the
//! handshake comes first (ALPN picks h2 or http/1.1), and before it, with `proxyProtocol`,
//! the PROXY header that names the client. Connections are tracked so a
//! shutdown lets in-flight requests finish. What a connection may take (deadlines, head
//! size) is `connection/`'s; how many at once, `accept.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accept::Acceptor;
use crate::connection::{
    self, ConnIo, Ended, Http, ProxyProtocol, Timeouts, Tracked, Tracker, Transport,
};
use crate::handler::{self, EntryPointContext};
use crate::tls::TlsConnection;

/// A client has this long to finish its TLS handshake: a silent peer must not hold a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Client-side timeouts (`[respondingTimeouts]`), the same for every entry point.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub timeouts: Timeouts,
}

/// What an entry point does before HTTP: terminate TLS, read a PROXY header; and
/// its connection limits.
#[derive(Clone, Default)]
pub struct EntryPointOptions {
    pub tls: Option<TlsAcceptor>,
    /// `maxConnections`: 0 is no cap.
    pub max_connections: usize,
    /// `maxHeaderBytes`: 0 is the default (32 KiB).
    pub max_header_bytes: usize,
    /// `[proxyProtocol]`: a PROXY header is read first on each connection.
    pub proxy_protocol: Option<Arc<ProxyProtocol>>,
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

/// Accepts until `stop` is cancelled; returns the entry point's open connections so the
/// caller can shut them down gracefully and wait for them (bounded by the grace period).
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<EntryPointContext>,
    settings: ServeSettings,
    options: EntryPointOptions,
    stop: CancellationToken,
) -> Connections {
    let connections = Connections::default();
    let http = Arc::new(Http::new(options.max_header_bytes));
    let mut acceptor = Acceptor::new(listener, ctx.name.clone(), options.max_connections);
    loop {
        let (stream, peer, permit) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = acceptor.accept() => accepted,
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            ctx: ctx.clone(),
            http: http.clone(),
            timeouts: settings.timeouts,
            proxy_protocol: options.proxy_protocol.clone(),
            peer,
            stop: connections.stop.clone(),
        };
        let tls = options.tls.clone();
        // The handshake runs in the connection's task, never in the accept loop.
        connections.tasks.spawn(conn.run(stream, tls, permit));
    }
    drop(acceptor);
    connections
}

/// An entry point's connections, after it stopped accepting.
#[derive(Default)]
pub struct Connections {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Connections {
    /// Asks every connection to finish what it is doing and close; done when all are.
    pub fn shutdown(self) -> impl std::future::Future<Output = ()> {
        self.stop.cancel();
        self.tasks.close();
        async move { self.tasks.wait().await }
    }
}

/// One accepted connection, ready to be served once its transport (TCP or TLS) is.
struct Connection {
    ctx: Arc<EntryPointContext>,
    http: Arc<Http>,
    timeouts: Timeouts,
    proxy_protocol: Option<Arc<ProxyProtocol>>,
    /// The client: the TCP peer, or the one its PROXY header names.
    peer: SocketAddr,
    stop: CancellationToken,
}

impl Connection {
    async fn run(
        mut self,
        mut stream: TcpStream,
        tls: Option<TlsAcceptor>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let accepted = tokio::time::Instant::now();
        let mut read_ahead = BytesMut::new();
        if let Some(proxy_protocol) = &self.proxy_protocol {
            // Under the head deadline, which on a plain entry point goes on to cover the
            // first request head too.
            let deadline = self.timeouts.head().map(|limit| accepted + limit);
            let (ctx, stop) = (&self.ctx, &self.stop);
            match proxy_protocol
                .accept(&mut stream, self.peer, deadline, stop, &ctx.name)
                .await
            {
                Some((client, rest)) => (self.peer, read_ahead) = (client, rest),
                None => return,
            }
        }
        let Some(acceptor) = tls else {
            let transport = Transport {
                stream,
                since: accepted,
                read_ahead,
            };
            return self.serve(transport, None, permit).await;
        };
        let peer = self.peer;
        let stream = ConnIo::replay(stream, read_ahead);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                let info = TlsConnection {
                    peer_certificates: session.peer_certificates().map(|c| Arc::new(c.to_vec())),
                };
                let transport = Transport {
                    stream: tls,
                    since: tokio::time::Instant::now(),
                    read_ahead: BytesMut::new(),
                };
                self.serve(transport, Some(info), permit).await;
            }
            // Garbage, plaintext HTTP, a refused SNI, an old TLS version: the
            // client's problem, not the operator's.
            Ok(Err(e)) => tracing::debug!(
                entry_point = %self.ctx.name,
                "TLS handshake with {peer} failed: {e}"
            ),
            Err(_) => tracing::debug!(
                entry_point = %self.ctx.name,
                "TLS handshake with {peer}: no handshake within {HANDSHAKE_TIMEOUT:?}"
            ),
        }
    }

    async fn serve<S>(
        self,
        transport: Transport<S>,
        tls: Option<TlsConnection>,
        permit: Option<OwnedSemaphorePermit>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            ctx,
            http,
            timeouts,
            peer,
            stop,
            proxy_protocol: _,
        } = self;
        let name = ctx.name.clone();
        let tls = tls.map(Arc::new);
        let service = move |tracker: Arc<Tracker>| {
            hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                let request =
                    tracker.request_started(!req.body().is_end_stream(), tokio::time::Instant::now);
                if let Some(read) = request.body_read() {
                    // To the body the backend is sent (RequestBody::from_client).
                    req.extensions_mut().insert(read);
                }
                let ctx = ctx.clone();
                if let Some(info) = &tls {
                    req.extensions_mut().insert(info.clone());
                }
                async move {
                    // Pinned where it is made (see handler::handle): not copied again.
                    let response = match std::pin::pin!(handler::handle(ctx, peer, req)).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    Ok::<_, Infallible>(response.map(|body| Tracked::new(body, request)))
                }
            })
        };
        match connection::serve(transport, &http, timeouts, permit, stop, service).await {
            Ended::Done(Ok(())) => {}
            Ended::Done(Err(e)) => tracing::trace!("connection from {peer}: {e}"),
            Ended::Expired(why) => {
                tracing::debug!(entry_point = %name, "closed the connection from {peer}: {why}")
            }
            Ended::Unreadable(e) => tracing::trace!("connection from {peer}: {e}"),
        }
    }
}
