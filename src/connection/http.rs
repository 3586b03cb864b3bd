//! hyper's own HTTP/1 and HTTP/2 servers, one builder each per entry point, and the
//! connection either makes: one future with a graceful shutdown.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::Body;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::HttpService;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::sniff::Protocol;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How an entry point speaks HTTP.
pub struct Http {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
}

impl Http {
    /// `max_header_bytes`: the largest request head (HTTP/1: request line and headers,
    /// answered 431 past it; HTTP/2: the header list as HTTP/2 counts it, advertised in
    /// SETTINGS and answered 431 past it); 0 is the default, as in the configuration.
    pub fn new(max_header_bytes: usize) -> Http {
        let max_header_bytes = match max_header_bytes {
            0 => trafik_config::DEFAULT_MAX_HEADER_BYTES,
            n => n,
        };
        let mut h1 = http1::Builder::new();
        // hyper panics on every connection when a timeout is set without a timer.
        h1.timer(TokioTimer::new())
            // The connection's own deadlines apply (deadlines.rs): hyper's single timer
            // would run from the end of one response, idle time and head alike.
            .header_read_timeout(None)
            .max_header_size(max_header_bytes)
            .keep_alive(true)
            // One contiguous write per response head + small body: cheaper than writev here.
            .writev(false);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(250)
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
        Http { h1, h2 }
    }

    pub fn serve<I, S, B>(&self, protocol: Protocol, io: I, service: S) -> Serving<I, S>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
        TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
    {
        let io = TokioIo::new(io);
        match protocol {
            Protocol::Http1 => Serving::H1(self.h1.serve_connection(io, service).with_upgrades()),
            Protocol::Http2 => Serving::H2(self.h2.serve_connection(io, service)),
        }
    }
}

/// A connection being served, HTTP/1 (upgrades allowed) or HTTP/2.
// Unequal sizes, and no box: the value is moved twice when the connection starts, then
// stays in its task.
#[allow(clippy::large_enum_variant)]
pub enum Serving<I, S>
where
    S: HttpService<Incoming>,
{
    H1(http1::UpgradeableConnection<TokioIo<I>, S>),
    H2(http2::Connection<TokioIo<I>, S, TokioExecutor>),
}

impl<I, S, B> super::watchdog::Connection for Serving<I, S>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Unpin,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    /// HTTP/1: finish the request in flight, then close; HTTP/2: GOAWAY, let the open
    /// streams finish, then close.
    fn graceful_shutdown(&mut self) {
        match self {
            Serving::H1(c) => Pin::new(c).graceful_shutdown(),
            Serving::H2(c) => Pin::new(c).graceful_shutdown(),
        }
    }
}

impl<I, S, B> Future for Serving<I, S>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Unpin,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    type Output = hyper::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Serving::H1(c) => Pin::new(c).poll(cx),
            Serving::H2(c) => Pin::new(c).poll(cx),
        }
    }
}
