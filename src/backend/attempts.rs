//! What the attempts of one request share while it goes through a backend's layers: who
//! the client is (maxConn's `client.ip`, and the `X-Forwarded-*` headers the forwarder
//! adds to each attempt) and a record of the servers tried. The forwarder notes each
//! server it tries (so that a retry goes elsewhere when it can) and which one answered;
//! the handler reads it back for the access log and metrics, whatever the outcome.
//!
//! It lives in a scoped thread-local, set around the call into the stack and around each
//! poll of its future, rather than in the request's extensions: the first insert into a
//! request's extensions allocates a map, and this is on every request's path. Every layer
//! calls the next one, and every retry calls the forwarder, from within that call or
//! poll, so they all see it. (tokio's `task_local!` would do the same, but its scope must
//! wrap a future, so the stack's call and the request moved into it would first have to
//! be wrapped in one: a few large copies more per request.)

use std::cell::Cell;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Poll, ready};

use http::Request;
use tower::Service;
use trafik_middleware::limit::{Extractor, Key, KeyExtractor};

use crate::proxy::headers::Forwarded;

scoped_tls::scoped_thread_local!(static CONTEXT: Context);

struct Context {
    client: Forwarded,
    attempts: Attempts,
}

#[derive(Default)]
pub struct Attempts {
    count: Cell<u32>,
    /// Bit `i` set: server `i` was tried (servers past 64 are not remembered).
    tried: Cell<u64>,
    /// The last server tried.
    last: Cell<Option<usize>>,
}

/// How the attempts of a request went: see [`call`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// Calls after the first: v1's `RetryAttempts`.
    pub retries: u32,
    pub last_server: Option<usize>,
}

/// Calls `service` (a backend's stack, ready) with the request from `client`, with a
/// fresh record for it; the future's output comes with what the record says.
#[inline]
pub fn call<S, R>(service: &mut S, client: Forwarded, request: R) -> Scoped<S::Future>
where
    S: Service<R>,
{
    let context = Context {
        client,
        attempts: Attempts::default(),
    };
    let future = CONTEXT.set(&context, || service.call(request));
    Scoped { context, future }
}

pin_project_lite::pin_project! {
    /// Future of [`call`]: the stack's, polled within its request's scope.
    pub struct Scoped<F> {
        context: Context,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = (F::Output, Record);

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = this.future;
        let output = ready!(CONTEXT.set(this.context, || future.poll(cx)));
        Poll::Ready((output, this.context.attempts.record()))
    }
}

/// Calls `f` with the current request's attempts and client; `None` outside a [`call`]
/// (a backend without layers, which makes one attempt).
pub fn with_scope<R>(f: impl FnOnce(Option<(&Attempts, &Forwarded)>) -> R) -> R {
    if CONTEXT.is_set() {
        CONTEXT.with(|c| f(Some((&c.attempts, &c.client))))
    } else {
        f(None)
    }
}

/// The current request's client address, inside a [`call`].
pub fn client_ip() -> Option<IpAddr> {
    CONTEXT.is_set().then(|| CONTEXT.with(|c| c.client.ip))
}

impl Attempts {
    pub fn begin(&self, server: usize) {
        self.count.set(self.count.get() + 1);
        if server < 64 {
            self.tried.set(self.tried.get() | 1 << server);
        }
        self.last.set(Some(server));
    }

    pub fn tried(&self, server: usize) -> bool {
        server < 64 && self.tried.get() & (1 << server) != 0
    }

    fn record(&self) -> Record {
        Record {
            retries: self.count.get().saturating_sub(1),
            last_server: self.last.get(),
        }
    }
}

/// maxConn's key for trafik: v1's extractors, with `client.ip` read from the scope rather
/// than from the request's extensions.
#[derive(Clone)]
pub struct PeerKey(pub Extractor);

impl<B> KeyExtractor<B> for PeerKey {
    fn key(&self, req: &Request<B>) -> Option<Key> {
        match self.0 {
            Extractor::ClientIp => client_ip().map(Key::Ip),
            ref other => other.key(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_covers_the_call_and_every_poll() {
        let client = Forwarded {
            ip: "10.0.0.1".parse().unwrap(),
            proto: "http",
            host: None,
        };
        let ip = client.ip;
        assert!(with_scope(|s| s.is_none()) && outside());
        let mut service = tower::service_fn(move |()| {
            // The call itself (where maxConn reads the client) is in the scope…
            assert_eq!(client_ip(), Some(ip));
            async move {
                // …and so is every poll of its future, across a yield.
                with_scope(|s| s.unwrap().0.begin(2));
                tokio::task::yield_now().await;
                with_scope(|s| {
                    let (a, client) = s.unwrap();
                    assert_eq!(client.ip, ip);
                    a.begin(70);
                    assert!(a.tried(2) && !a.tried(1) && !a.tried(70));
                });
                Ok::<_, std::convert::Infallible>(())
            }
        });
        let (output, record) = call(&mut service, client.clone(), ()).await;
        assert!(output.is_ok() && outside());
        assert_eq!(
            record,
            Record {
                retries: 1,
                last_server: Some(70)
            }
        );
        let mut idle = tower::service_fn(|()| async { Ok::<_, std::convert::Infallible>(()) });
        let (_, record) = call(&mut idle, client, ()).await;
        assert_eq!(record.last_server, None);
    }

    fn outside() -> bool {
        client_ip().is_none()
    }
}
