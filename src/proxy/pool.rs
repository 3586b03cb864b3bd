//! trafik's own keep-alive pool for plain `http://` servers, on hyper's `client::conn::http1`.
//!
//! hyper-util's legacy client, which served every backend before, does on every request
//! what a proxy with a fixed set of servers does not need: it clones the whole client (a
//! handful of reference counts), hashes the pool key (scheme and authority) twice, on
//! checkout and on return, races the checkout against a lazily built connect future, and
//! boxes all of that. Here each server's pool is found once per configuration (the
//! server's [`Target`](super::Target) holds it, see [`PoolSlot`]), a checkout is a lock and
//! a pop from a stack, and a return a lock and a push. What hyper-util did that matters is
//! kept: connections are tried most recently used first; at most `maxIdleConnsPerHost`
//! are kept idle per server; an idle connection is closed after the idle timeout; a
//! request sent on a reused connection that turned out closed before the request was
//! written goes again on another (hyper's `try_send_request` gives it back); a connection
//! whose response body is still streaming returns when hyper says it is ready again.
//!
//! Each connection is driven by a task of its own, as hyper-util does: an HTTP/1
//! connection then notices a server's close while idle, and a request's task never has to
//! poll a connection it no longer uses. Driving it from the request's own task instead
//! (no hand-over between tasks) was built and measured in session 11 (commit 182a65e): it
//! cost more instructions, and no less CPU at 50 connections, than the two task crossings
//! it saved; ARCHITECTURE.md, "Backend connections: one task each".
//!
//! The pools are kept by the forwarder, by authority, across reloads; the aggregator tells
//! it after each configuration which servers remain ([`Pools::retain`]), and a pool whose
//! server left is dropped with the last configuration that used it, closing its idle
//! connections.
//!
//! Upgrades (WebSocket), `h2c://` and `https://` servers still go through hyper-util's
//! client (`forward.rs`): ALPN and HTTP/2's multiplexing are what it is good at.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock, Weak};
use std::time::Duration;

use http::uri::Authority;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::error::{ErrorKind, ProxyError};
use super::request_body::RequestBody;

type Sender = http1::SendRequest<RequestBody>;

/// The answer to one request sent through a pool. Boxed, as hyper-util's was: hyper's
/// `try_send_request` future cannot be named.
pub type PooledResponse =
    Pin<Box<dyn Future<Output = Result<Response<Incoming>, ProxyError>> + Send>>;

/// An idle connection is closed once this many sweeps have passed over it; a sweep runs
/// every idle timeout / `SWEEPS`, so a connection idles between 1 and 1.25 idle timeouts.
/// Counting sweeps rather than reading the clock keeps clock reads off the request path.
const SWEEPS: u64 = 4;

struct Settings {
    max_idle: usize,
    idle_timeout: Duration,
    dial_timeout: Option<Duration>,
    builder: http1::Builder,
}

/// Every `http://` server's pool, by authority.
pub struct Pools {
    settings: Arc<Settings>,
    by_authority: Mutex<HashMap<Authority, Arc<HostPool>>>,
}

impl Pools {
    /// `max_idle`: idle connections kept per server (`maxIdleConnsPerHost`; 0 keeps
    /// none); `idle_timeout`: how long one may idle; `dial_timeout`: `dialTimeout`.
    pub fn new(max_idle: usize, idle_timeout: Duration, dial_timeout: Option<Duration>) -> Pools {
        let mut builder = http1::Builder::new();
        // One contiguous write per request: cheaper than writev for small messages.
        builder.writev(false);
        Pools {
            settings: Arc::new(Settings {
                max_idle,
                idle_timeout,
                dial_timeout,
                builder,
            }),
            by_authority: Mutex::new(HashMap::new()),
        }
    }

    /// The pool of the server at `authority`, made on first use.
    pub fn get(&self, authority: &Authority) -> Arc<HostPool> {
        lock(&self.by_authority)
            .entry(authority.clone())
            .or_insert_with(|| {
                Arc::new(HostPool {
                    authority: authority.clone(),
                    settings: self.settings.clone(),
                    idle: Mutex::new(Vec::new()),
                    sweeps: AtomicU64::new(0),
                    sweeper: Once::new(),
                })
            })
            .clone()
    }

    /// The pool of `slot`'s server, bound to the slot on first use.
    pub fn of<'s>(&self, slot: &'s PoolSlot, authority: &Authority) -> &'s Arc<HostPool> {
        slot.0.get_or_init(|| self.get(authority))
    }

    /// After a configuration is applied: binds each of its servers (`authority`, slot) to
    /// its pool, and forgets the pools of servers no longer in it. A forgotten pool closes
    /// its idle connections once the last configuration that used it is gone.
    pub fn retain<'t>(&self, servers: impl IntoIterator<Item = (&'t Authority, &'t PoolSlot)>) {
        let mut kept = HashSet::new();
        for (authority, slot) in servers {
            self.of(slot, authority);
            kept.insert(authority.clone());
        }
        lock(&self.by_authority).retain(|authority, _| kept.contains(authority));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.by_authority).len()
    }
}

/// Where a server's [`Target`](super::Target) keeps its pool once bound: shared by the
/// target's clones, so a request reaches the pool without a lookup.
#[derive(Clone, Default)]
pub struct PoolSlot(Arc<OnceLock<Arc<HostPool>>>);

impl fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "PoolSlot(bound)"
        } else {
            "PoolSlot(unbound)"
        })
    }
}

/// One server's idle connections, most recently used last.
pub struct HostPool {
    authority: Authority,
    settings: Arc<Settings>,
    idle: Mutex<Vec<Idle>>,
    /// Sweeps so far: an idle connection's age, counted without the clock.
    sweeps: AtomicU64,
    /// The sweeper task starts with the first connection kept idle.
    sweeper: Once,
}

struct Idle {
    sender: Sender,
    /// `sweeps` when it went idle.
    since: u64,
}

impl HostPool {
    /// Sends `req` (origin-form URI, Host set) over an idle connection, or a new one.
    pub fn send(self: &Arc<Self>, req: Request<RequestBody>) -> PooledResponse {
        Box::pin(send(self.clone(), req))
    }

    /// The most recently used idle connection still usable.
    fn checkout(&self) -> Option<Sender> {
        let sweeps = self.sweeps.load(Ordering::Relaxed);
        let mut idle = lock(&self.idle);
        while let Some(entry) = idle.pop() {
            // Closed by the server, or ready no more for any reason: dropped (closed).
            if entry.sender.is_ready() && sweeps.saturating_sub(entry.since) <= SWEEPS {
                return Some(entry.sender);
            }
        }
        None
    }

    /// A connection done with its request: kept idle if there is room, else closed.
    fn check_in(self: &Arc<Self>, sender: Sender) {
        if sender.is_closed() || self.settings.max_idle == 0 {
            return;
        }
        {
            let mut idle = lock(&self.idle);
            if idle.len() >= self.settings.max_idle {
                return;
            }
            idle.push(Idle {
                sender,
                since: self.sweeps.load(Ordering::Relaxed),
            });
        }
        self.sweeper.call_once(|| {
            let period = self.settings.idle_timeout / SWEEPS as u32;
            if !period.is_zero() {
                tokio::spawn(sweep(Arc::downgrade(self), period));
            }
        });
    }

    /// Once its response has come: back to the pool now if hyper wants another request
    /// (the whole response was read), else when it does (its body is still streaming).
    fn after_response(self: Arc<Self>, mut sender: Sender) {
        if self.settings.max_idle == 0 {
            return;
        }
        if sender.is_ready() {
            self.check_in(sender);
        } else if !sender.is_closed() {
            tokio::spawn(async move {
                if poll_fn(|cx| sender.poll_ready(cx)).await.is_ok() {
                    self.check_in(sender);
                }
            });
        }
    }

    /// Closes the connections idle for too long, and those the server closed.
    fn expire(&self) {
        let sweeps = self.sweeps.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.idle)
            .retain(|e| sweeps.saturating_sub(e.since) <= SWEEPS && !e.sender.is_closed());
    }

    async fn connect(&self) -> Result<Sender, ProxyError> {
        let connecting = connect_tcp(&self.authority);
        let stream = match self.settings.dial_timeout {
            Some(limit) => match tokio::time::timeout(limit, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "dial timeout")),
            },
            None => connecting.await,
        }
        .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (sender, connection) = self
            .settings
            .builder
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ProxyError::with_source(ErrorKind::Connect, e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("backend connection ended: {e}");
            }
        });
        Ok(sender)
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        lock(&self.idle).len()
    }
}

async fn send(
    pool: Arc<HostPool>,
    mut req: Request<RequestBody>,
) -> Result<Response<Incoming>, ProxyError> {
    loop {
        let (mut sender, reused) = match pool.checkout() {
            Some(sender) => (sender, true),
            None => (pool.connect().await?, false),
        };
        match sender.try_send_request(req).await {
            Ok(response) => {
                pool.after_response(sender);
                return Ok(response);
            }
            Err(mut e) => match e.take_message() {
                // The connection closed before the request was written (the server closed
                // an idle connection as it was taken): nothing was sent, so another goes.
                Some(back) if reused => req = back,
                _ => return Err(ProxyError::from_send(e.into_error())),
            },
        }
    }
}

/// Sweeps `pool` every `period` until it is gone.
async fn sweep(pool: Weak<HostPool>, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.expire(),
            None => return,
        }
    }
}

/// A TCP connection to `authority`: an IP address directly, a name through the
/// system's resolver, its addresses tried in turn.
async fn connect_tcp(authority: &Authority) -> io::Result<TcpStream> {
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return TcpStream::connect((ip, port)).await;
    }
    let mut last = None;
    for address in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"))))
}

fn connect_error(e: io::Error) -> ProxyError {
    let kind = match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
        io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
        _ => ErrorKind::Connect,
    };
    ProxyError::with_source(kind, e)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// An HTTP/1.1 server on 127.0.0.1 that answers every request on a connection with
    /// "ok", keep-alive, and counts the connections it accepted and those that closed.
    struct Server {
        authority: Authority,
        accepted: Arc<AtomicUsize>,
        closed: Arc<AtomicUsize>,
    }

    async fn server() -> Server {
        server_closing_after(usize::MAX).await
    }

    /// A server that closes each connection after `answers` responses.
    async fn server_closing_after(answers: usize) -> Server {
        server_answering(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
            answers,
        )
        .await
    }

    /// A server that answers each request with `answer`, and closes each connection after
    /// `answers` responses.
    async fn server_answering(answer: Vec<u8>, answers: usize) -> Server {
        let answer = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (a, c) = (accepted.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let mut left = answers;
                    while left > 0 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if stream.write_all(&answer).await.is_err() {
                                left = 0;
                            }
                            left = left.saturating_sub(1);
                            if left == 0 {
                                break;
                            }
                        }
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Server {
            authority,
            accepted,
            closed,
        }
    }

    async fn get(pool: &Arc<HostPool>) -> Result<(), ProxyError> {
        let body = get_body(pool).await?;
        assert_eq!(&body[..], b"ok");
        Ok(())
    }

    async fn get_body(pool: &Arc<HostPool>) -> Result<bytes::Bytes, ProxyError> {
        let req = Request::builder()
            .uri("/")
            .header("host", pool.authority.as_str())
            .body(RequestBody::Empty)
            .unwrap();
        let response = pool.send(req).await?;
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        Ok(body)
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        for _ in 0..2000 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}");
    }

    fn pools(max_idle: usize) -> Pools {
        Pools::new(max_idle, Duration::from_secs(90), None)
    }

    #[tokio::test]
    async fn sequential_requests_reuse_one_connection() {
        let server = server().await;
        let pool = pools(10).get(&server.authority);
        for _ in 0..20 {
            get(&pool).await.unwrap();
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle(), 1);
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_are_kept() {
        let server = server().await;
        let pool = pools(2).get(&server.authority);
        // Five at once: five connections, of which two stay idle and three are closed.
        let all: Vec<_> = (0..5).map(|_| get(&pool)).collect();
        for r in futures_util::future::join_all(all).await {
            r.unwrap();
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 5);
        until("three connections closed", || {
            server.closed.load(Ordering::SeqCst) == 3
        })
        .await;
        assert_eq!(pool.idle(), 2);
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn no_idle_connection_is_kept_with_max_idle_zero() {
        let server = server().await;
        let pool = pools(0).get(&server.authority);
        get(&pool).await.unwrap();
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
        until("both closed", || server.closed.load(Ordering::SeqCst) == 2).await;
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_sweeps_of_its_idle_timeout() {
        let server = server().await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        for _ in 0..SWEEPS {
            pool.expire();
        }
        assert_eq!(pool.idle(), 1, "not yet past its idle timeout");
        pool.expire();
        assert_eq!(pool.idle(), 0);
        until("closed", || server.closed.load(Ordering::SeqCst) == 1).await;
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    /// A pool holding one idle connection that its server has since closed.
    async fn idle_connection_the_server_closed() -> (Server, Arc<HostPool>) {
        let server = server_closing_after(1).await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        until("the server closed", || {
            server.closed.load(Ordering::SeqCst) == 1
        })
        .await;
        (server, pool)
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_used_again() {
        let (server, pool) = idle_connection_the_server_closed().await;
        // The connection's task sees the close; the pool then passes it over.
        until("the pool saw it", || {
            lock(&pool.idle).iter().all(|e| e.sender.is_closed())
        })
        .await;
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_sweep_closes_an_idle_connection_the_server_closed() {
        let (_server, pool) = idle_connection_the_server_closed().await;
        // Not yet past its idle timeout, but closed: the sweep drops it.
        until("the sweep saw it", || {
            pool.expire();
            pool.idle() == 0
        })
        .await;
    }

    #[tokio::test]
    async fn a_connection_whose_body_streams_returns_when_the_body_ends() {
        // 1 MiB in chunks of 16 KiB: the response is handed over long before its body
        // ends, so the connection returns to the pool only when hyper says it is ready.
        let chunk = vec![b'x'; 16 * 1024];
        let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..64 {
            answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            answer.extend_from_slice(&chunk);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        let server = server_answering(answer, usize::MAX).await;
        let pool = pools(10).get(&server.authority);
        for _ in 0..3 {
            let body = get_body(&pool).await.unwrap();
            assert_eq!(body.len(), 64 * 16 * 1024);
            assert!(body.iter().all(|b| *b == b'x'));
            until("back in the pool", || pool.idle() == 1).await;
        }
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_unread_closes_its_connection() {
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n".to_vec();
        answer.resize(answer.len() + 1024 * 1024, b'x');
        let server = server_answering(answer, usize::MAX).await;
        let pool = pools(10).get(&server.authority);
        let req = Request::builder()
            .uri("/")
            .header("host", pool.authority.as_str())
            .body(RequestBody::Empty)
            .unwrap();
        let response = pool.send(req).await.unwrap();
        drop(response);
        assert_eq!(pool.idle(), 0);
        until("closed", || server.closed.load(Ordering::SeqCst) == 1).await;
    }

    #[tokio::test]
    async fn a_pool_whose_server_left_the_configuration_closes_its_connections() {
        let server = server().await;
        let pools = pools(10);
        let slot = PoolSlot::default();
        pools.retain([(&server.authority, &slot)]);
        let pool = slot.0.get().unwrap().clone();
        get(&pool).await.unwrap();
        drop(pool);
        // The next configuration has no such server; the last one goes away with its slot.
        pools.retain([]);
        assert_eq!(pools.len(), 0);
        assert_eq!(server.closed.load(Ordering::SeqCst), 0);
        drop(slot);
        until("the idle connection closed", || {
            server.closed.load(Ordering::SeqCst) == 1
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_retryable_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pool = pools(10).get(&format!("127.0.0.1:{port}").parse().unwrap());
        let e = get(&pool).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ConnectRefused);
        assert!(e.is_retryable());
    }
}
