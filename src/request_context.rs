//! What a request carries about itself through a backend's layers: who the client is and
//! a record of the attempts made to answer it.
//!
//! It travels in the request's extensions, so whatever a layer does with the request
//! (moves it into a spawned task, keeps it for a replay) the context goes with it: retry
//! clones the extensions for each replay, and the clones share one record behind an `Arc`.
//! The forwarder reads the client from it to write each attempt's `X-Forwarded-*`, and
//! notes each server it tries there, so that a retry goes elsewhere when it can; maxConn's
//! `client.ip` reads the client's address from it ([`ClientKey`]). Whoever made the
//! context keeps a handle and reads the [`Record`] after the call, whatever the outcome,
//! for the access log and metrics.
//!
//! A backend without layers makes one attempt and is handed the client as an argument
//! instead (`BackendService`): the first insert into a request's extensions allocates
//! its map, which only the layered path needs to pay for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use http::Request;
use trafik_middleware::limit::{Extractor, Key, KeyExtractor};

use crate::proxy::headers::Forwarded;

/// A request's context: cheap to clone (one reference count), and every clone shares the
/// same attempts record.
#[derive(Clone)]
pub struct RequestContext(Arc<Shared>);

struct Shared {
    client: Forwarded,
    attempts: Attempts,
}

/// The servers tried for one request. Atomics, because the attempts of one request may
/// run on any thread (a layer may spawn); each is written by one attempt at a time, and
/// read after the last one is over, so `Relaxed` is enough: the task that awaited them
/// already synchronises with them.
pub struct Attempts {
    count: AtomicU32,
    /// Bit `i` set: server `i` was tried (servers past 64 are not remembered).
    tried: AtomicU64,
    /// The last server tried; [`NONE`] before the first.
    last: AtomicUsize,
}

const NONE: usize = usize::MAX;

/// How the attempts of a request went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// Attempts after the first: v1's `RetryAttempts`.
    pub retries: u32,
    /// The server that answered, or the last one tried.
    pub last_server: Option<usize>,
}

impl RequestContext {
    pub fn new(client: Forwarded) -> Self {
        RequestContext(Arc::new(Shared {
            client,
            attempts: Attempts {
                count: AtomicU32::new(0),
                tried: AtomicU64::new(0),
                last: AtomicUsize::new(NONE),
            },
        }))
    }

    /// The context a request carries, if it carries one.
    pub fn of<B>(request: &Request<B>) -> Option<&RequestContext> {
        request.extensions().get::<RequestContext>()
    }

    /// Puts this context (a handle on it) into the request's extensions.
    pub fn attach<B>(&self, request: &mut Request<B>) {
        request.extensions_mut().insert(self.clone());
    }

    pub fn client(&self) -> &Forwarded {
        &self.0.client
    }

    pub fn attempts(&self) -> &Attempts {
        &self.0.attempts
    }

    /// What the attempts so far say.
    pub fn record(&self) -> Record {
        let attempts = &self.0.attempts;
        let last = attempts.last.load(Ordering::Relaxed);
        Record {
            retries: attempts.count.load(Ordering::Relaxed).saturating_sub(1),
            last_server: (last != NONE).then_some(last),
        }
    }
}

impl Attempts {
    /// An attempt to `server` begins.
    pub fn begin(&self, server: usize) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if server < 64 {
            self.tried.fetch_or(1 << server, Ordering::Relaxed);
        }
        self.last.store(server, Ordering::Relaxed);
    }

    pub fn tried(&self, server: usize) -> bool {
        server < 64 && self.tried.load(Ordering::Relaxed) & (1 << server) != 0
    }
}

/// maxConn's key for trafik: v1's extractors, with `client.ip` read from the request's
/// context (the middleware crate's own `ClientAddr` extension is not set by trafik).
#[derive(Clone)]
pub struct ClientKey(pub Extractor);

impl<B> KeyExtractor<B> for ClientKey {
    fn key(&self, req: &Request<B>) -> Option<Key> {
        match self.0 {
            Extractor::ClientIp => RequestContext::of(req).map(|c| Key::Ip(c.client().ip)),
            ref other => other.key(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Forwarded {
        Forwarded {
            ip: "10.0.0.1".parse().unwrap(),
            proto: "http",
            host: None,
        }
    }

    #[test]
    fn a_fresh_record_names_no_server() {
        assert_eq!(RequestContext::new(client()).record(), Record::default());
    }

    #[test]
    fn the_record_counts_retries_and_remembers_the_servers_tried() {
        let context = RequestContext::new(client());
        let attempts = context.attempts();
        attempts.begin(2);
        attempts.begin(70);
        assert!(attempts.tried(2) && !attempts.tried(1));
        // Past 64 servers, tries are counted but not remembered.
        assert!(!attempts.tried(70));
        assert_eq!(
            context.record(),
            Record {
                retries: 1,
                last_server: Some(70)
            }
        );
    }

    /// What the thread-local this replaced could not do: a layer that moves the request
    /// into a task of its own (another thread, here) still hands the next layer its
    /// client, and the attempt it makes is in the record the caller reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_context_crosses_a_spawn_and_a_replay() {
        let context = RequestContext::new(client());
        let mut request = Request::new(());
        context.attach(&mut request);
        // A replay clones the extensions: both copies share the record.
        let replay = {
            let mut r = Request::new(());
            *r.extensions_mut() = request.extensions().clone();
            r
        };
        let first = tokio::spawn(async move {
            let c = RequestContext::of(&request).expect("the context crossed the spawn");
            c.attempts().begin(0);
            c.client().ip
        });
        assert_eq!(first.await.unwrap(), client().ip);
        let second = tokio::spawn(async move {
            let c = RequestContext::of(&replay).expect("the replay has the context");
            assert!(c.attempts().tried(0));
            c.attempts().begin(1);
        });
        second.await.unwrap();
        assert_eq!(
            context.record(),
            Record {
                retries: 1,
                last_server: Some(1)
            }
        );
    }

    proptest::proptest! {
        /// Whatever servers a request tries, in whatever order, the record counts every
        /// attempt after the first, names the last, and remembers exactly the servers
        /// tried among the first 64.
        #[test]
        fn the_record_matches_the_attempts(servers in proptest::collection::vec(0usize..80, 0..20)) {
            let context = RequestContext::new(client());
            for &server in &servers {
                context.attempts().begin(server);
            }
            let record = context.record();
            proptest::prop_assert_eq!(record.retries as usize, servers.len().saturating_sub(1));
            proptest::prop_assert_eq!(record.last_server, servers.last().copied());
            for i in 0..80 {
                let tried = i < 64 && servers.contains(&i);
                proptest::prop_assert_eq!(context.attempts().tried(i), tried);
            }
        }
    }

    #[test]
    fn client_ip_is_read_from_the_context() {
        let mut request = Request::new(());
        let key = ClientKey(Extractor::ClientIp);
        assert_eq!(key.key(&request), None);
        RequestContext::new(client()).attach(&mut request);
        assert_eq!(key.key(&request), Some(Key::Ip(client().ip)));
    }
}
