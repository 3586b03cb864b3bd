//! One client connection, from its transport (TCP, or TLS after the handshake) to its close,
//! under `[respondingTimeouts]`: the first bytes say HTTP/1 or HTTP/2 (`sniff`), hyper
//! serves it (`http`), and a watchdog ends it when a deadline passes (`deadlines`,
//! `watchdog`). The service is the entry point's; it reports each request to the
//! connection's `Tracker` and wraps its response body in `Tracked`. Before all that, on an
//! entry point with `proxyProtocol`, the PROXY header (`proxy_protocol`), whose surplus bytes
//! are replayed (`replay`, under TLS; else with the sniffed bytes).

mod body;
mod deadlines;
mod http;
mod io;
mod proxy_protocol;
mod sniff;
mod watchdog;

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::BytesMut;
use http_body::Body;
use hyper::body::Incoming;
use hyper::service::HttpService;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use body::Tracked;
pub use deadlines::{BodyRead, Expired, RequestGuard, Timeouts, Tracker};
pub use http::Http;
pub use io::ConnIo;
pub use proxy_protocol::ProxyProtocol;
pub use watchdog::Ended;

use sniff::Protocol;
use watchdog::Watchdog;

/// A connection's transport as the entry point hands it over.
pub struct Transport<S> {
    pub stream: S,
    /// When it was ready for HTTP: accepted (plain), or its TLS handshake done. The first
    /// request head's deadline counts from here.
    pub since: Instant,
    /// Bytes already read from `stream` (what followed a PROXY header), read first.
    pub read_ahead: BytesMut,
}

/// Serves `transport` until the client closes it, a deadline passes, or `stop` (then
/// gracefully: requests in flight finish). `make_service` builds the connection's service
/// around its tracker. `permit` (`maxConnections`) is held as long as the transport.
pub async fn serve<S, F, Svc, B>(
    transport: Transport<S>,
    http: &Http,
    timeouts: Timeouts,
    permit: Option<OwnedSemaphorePermit>,
    stop: CancellationToken,
    make_service: F,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(Arc<Tracker>) -> Svc,
    Svc: HttpService<Incoming, ResBody = B> + Unpin,
    Svc::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<Svc::Future, B>,
{
    let Transport {
        mut stream,
        since: started,
        read_ahead,
    } = transport;
    // The first request head's deadline covers the protocol's first bytes: an HTTP/2
    // client's preface and SETTINGS, an HTTP/1 client's first bytes.
    let sniffing = async {
        let sniffed = sniff::sniff(&mut stream, read_ahead);
        match timeouts.head() {
            Some(limit) => tokio::time::timeout_at(started + limit, sniffed)
                .await
                .map_err(|_| Ended::Expired(Expired::Head)),
            None => Ok(sniffed.await),
        }
    };
    let sniffed = tokio::select! {
        biased;
        _ = stop.cancelled() => return Ended::Done(Ok(())),
        sniffed = sniffing => sniffed,
    };
    let (protocol, prefix) = match sniffed {
        Err(expired) => return expired,
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return Ended::Done(Ok(())),
        Ok(Err(e)) => return Ended::Unreadable(e),
    };
    let http2 = protocol == Protocol::Http2;
    let tracker = Arc::new(Tracker::new(timeouts, http2, started, Instant::now()));
    let io = ConnIo::new(stream, prefix, tracker.clone(), permit);
    let conn = http.serve(protocol, io, make_service(tracker.clone()));
    Watchdog::new(conn, tracker, http2, stop.cancelled_owned()).await
}

/// For the tests of what reads a connection's first bytes: a reader that hands out
/// `chunk` bytes at a time, as a network may.
#[cfg(test)]
fn chunked_reader(data: &[u8], chunk: usize) -> impl tokio::io::AsyncRead + Unpin {
    struct Chunked(Vec<u8>, usize);
    impl tokio::io::AsyncRead for Chunked {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = self.1.min(self.0.len()).min(buf.remaining());
            buf.put_slice(&self.0[..n]);
            self.0.drain(..n);
            std::task::Poll::Ready(Ok(()))
        }
    }
    Chunked(data.to_vec(), chunk)
}
