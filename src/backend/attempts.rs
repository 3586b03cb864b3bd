//! What the attempts of one request share while it goes through a backend's layers: the
//! client's address (maxConn's `client.ip`) and a record of the servers tried. The
//! forwarder notes each server it tries (so that a retry goes elsewhere when it can) and
//! which one answered; the handler reads it back for the access log and metrics, whatever
//! the outcome.
//!
//! It lives in a task-local scoped around the call into the stack rather than in the
//! request's extensions: the first insert into a request's extensions allocates a map, and
//! this is on every request's path. Every layer calls the next one, and every retry calls
//! the forwarder, from within that call's poll, so they all see the scope.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;

use http::Request;
use trafik_middleware::limit::{Extractor, Key, KeyExtractor};

tokio::task_local! {
    static CONTEXT: Context;
}

struct Context {
    peer: SocketAddr,
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

/// How the attempts of a request went: see [`scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Calls after the first: v1's `RetryAttempts`.
    pub retries: u32,
    pub last_server: Option<usize>,
}

/// Runs `future` (a call into a backend's stack) with a fresh record for the request
/// from `peer`, and returns its output with what the record says.
pub async fn scope<F: Future>(peer: SocketAddr, future: F) -> (F::Output, Record) {
    let context = Context {
        peer,
        attempts: Attempts::default(),
    };
    CONTEXT
        .scope(context, async {
            let output = future.await;
            let record = CONTEXT.with(|c| c.attempts.record());
            (output, record)
        })
        .await
}

/// Calls `f` with the current request's attempts; `None` outside a [`scope`] (a backend
/// without layers, which makes one attempt).
pub fn with_attempts<R>(f: impl FnOnce(Option<&Attempts>) -> R) -> R {
    let mut f = Some(f);
    match CONTEXT.try_with(|c| (f.take().expect("called once"))(Some(&c.attempts))) {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called yet"))(None),
    }
}

/// The current request's client address, inside a [`scope`].
pub fn peer() -> Option<SocketAddr> {
    CONTEXT.try_with(|c| c.peer).ok()
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
            Extractor::ClientIp => peer().map(|p| Key::Ip(p.ip())),
            ref other => other.key(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sees_every_attempt() {
        let peer: SocketAddr = "10.0.0.1:4242".parse().unwrap();
        assert!(with_attempts(|a| a.is_none()) && peer_outside());
        let ((), record) = scope(peer, async {
            assert_eq!(super::peer(), Some(peer));
            with_attempts(|a| a.unwrap().begin(2));
            tokio::task::yield_now().await;
            with_attempts(|a| {
                let a = a.unwrap();
                a.begin(70);
                assert!(a.tried(2) && !a.tried(1) && !a.tried(70));
            });
        })
        .await;
        assert_eq!(
            record,
            Record {
                retries: 1,
                last_server: Some(70)
            }
        );
        let ((), record) = scope(peer, async {}).await;
        assert_eq!(record.last_server, None);
    }

    fn peer_outside() -> bool {
        peer().is_none()
    }
}
