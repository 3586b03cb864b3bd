//! trafik's own keep-alive pool for plain `http://` servers, on its own HTTP/1.1 client
//! codec (`h1/`).
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
//! request without a body and with an idempotent method, sent on a reused connection that
//! turned out closed before any of a response came, goes again on another.
//!
//! A pooled connection is a plain struct (`h1::conn::Conn`: the socket, a read buffer
//! that is freed while it idles) owned by whoever uses it: in the pool's idle list, then
//! the request's task, then the response body, which checks it back in at its clean end.
//! Session 12 profiled what hyper's client cost per connection (a task, a dispatch
//! channel whose first block is ~10.8 KB, a `want` signal, a oneshot per request, a body
//! channel) and session 11 showed driving it from the request's task costs more; this
//! has none of it (ARCHITECTURE.md, "Backend connections").
//!
//! Parking (session 12's `park.rs`: keeping an idle connection's socket and freeing
//! hyper's 27–39 KB of state) has no object here: an idle connection is its socket and,
//! for at most two sweeps, an 8 KiB read buffer. The sweeper stays: for the idle timeout,
//! to close connections the server closed, and to free those buffers.
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
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use bytes::BytesMut;
use http::uri::Authority;
use http::{Method, Request, Response};
use http_body::Body;
use tokio::net::TcpStream;

use super::body::ResponseBody;
use super::error::{ErrorKind, ProxyError, is_idempotent};
use super::h1::conn::{Conn, exchange};
use super::h1::write::{self, BodyFraming};
use super::headers::ForwardedFields;
use super::request_body::RequestBody;

/// The answer to one request sent through a pool. Boxed: an `async fn`'s future cannot
/// be named.
pub type PooledResponse =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, ProxyError>> + Send>>;

/// A sweep runs every second (every quarter of the idle timeout if that is shorter): an
/// idle connection's age is counted in sweeps, which keeps clock reads off the request
/// path. The sweeper runs only while the pool holds idle connections.
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// An idle connection's read buffer is freed once this many sweeps have passed over it:
/// it has idled at least one sweep period (1 s), at most two. The connections a steady
/// load uses are taken again long before.
const SHRINK_AFTER_SWEEPS: u64 = 2;

struct Settings {
    max_idle: usize,
    /// Zero: no sweeper (nothing expires; only with `max_idle` 0 in practice).
    sweep_period: Duration,
    /// An idle connection is closed once more than this many sweeps have passed over it:
    /// it idles between the idle timeout and one sweep period more.
    expire_after_sweeps: u64,
    dial_timeout: Option<Duration>,
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
        let sweep_period = SWEEP_PERIOD.min(idle_timeout / 4);
        let expire_after_sweeps = if sweep_period.is_zero() {
            u64::MAX
        } else {
            idle_timeout.as_nanos().div_ceil(sweep_period.as_nanos()) as u64
        };
        Pools {
            settings: Arc::new(Settings {
                max_idle,
                sweep_period,
                expire_after_sweeps,
                dial_timeout,
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
                    sweeping: AtomicBool::new(false),
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

/// One server's idle connections.
pub struct HostPool {
    authority: Authority,
    settings: Arc<Settings>,
    /// Most recently used last: `since` grows along it.
    idle: Mutex<Vec<Idle>>,
    /// Sweeps so far: an idle connection's age, counted without the clock.
    sweeps: AtomicU64,
    /// Whether a sweeper task runs: started by the first connection kept idle, ended by
    /// the sweep that finds none (set and cleared with `idle` locked).
    sweeping: AtomicBool,
}

/// What a sweep found.
struct Swept {
    /// Connections remain idle: the sweeper goes on.
    idle_left: bool,
    /// A connection was checked in since the sweep before.
    used: bool,
    /// Some idle connection's read buffer was freed.
    shrunk: bool,
}

struct Idle {
    conn: Conn,
    /// `sweeps` when it went idle.
    since: u64,
}

impl HostPool {
    /// Sends `req` (origin-form URI, Host set) with `forwarded` written after its fields,
    /// over an idle connection, or a new one.
    pub fn send(
        self: &Arc<Self>,
        req: Request<RequestBody>,
        forwarded: ForwardedFields,
    ) -> PooledResponse {
        Box::pin(send(self.clone(), req, forwarded))
    }

    /// The most recently used idle connection still usable. One the server closed (or
    /// sent bytes on) while it idled is dropped (closed) on the way.
    fn checkout(&self) -> Option<Conn> {
        let sweeps = self.sweeps.load(Ordering::Relaxed);
        let expire = self.settings.expire_after_sweeps;
        let mut idle = lock(&self.idle);
        while let Some(entry) = idle.pop() {
            if sweeps.saturating_sub(entry.since) <= expire && entry.conn.still_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// A connection done with its response (read whole, nothing past it): kept idle if
    /// there is room, else closed.
    pub(super) fn check_in(self: &Arc<Self>, conn: Conn) {
        if self.settings.max_idle == 0 {
            return;
        }
        {
            let mut idle = lock(&self.idle);
            if idle.len() >= self.settings.max_idle {
                return;
            }
            idle.push(Idle {
                conn,
                since: self.sweeps.load(Ordering::Relaxed),
            });
        }
        self.start_sweeper();
    }

    /// Starts the sweeper unless one runs. Called after `idle` gained a connection, so
    /// that a sweeper ending at the same time (having found none, `idle` locked) is
    /// either seen running or replaced: its `false` was stored before it unlocked `idle`,
    /// so the load here, after this call's own lock, sees it. The load first keeps the
    /// swap (a locked instruction) off the path of every request while a sweeper runs.
    fn start_sweeper(self: &Arc<Self>) {
        let period = self.settings.sweep_period;
        if !period.is_zero()
            && !self.sweeping.load(Ordering::Relaxed)
            && !self.sweeping.swap(true, Ordering::AcqRel)
        {
            tokio::spawn(sweep(Arc::downgrade(self), period));
        }
    }

    /// One sweep: closes the connections idle for too long and those the server closed.
    /// Says whether any connection is left idle (else the sweeper ends, `sweeping`
    /// cleared with `idle` locked), and whether one was checked in since the last sweep.
    fn expire(&self) -> Swept {
        let sweeps = self.sweeps.fetch_add(1, Ordering::Relaxed) + 1;
        let expire = self.settings.expire_after_sweeps;
        let mut idle = lock(&self.idle);
        // The most recent is last; checked in since the last sweep, it has `sweeps - 1`.
        let used = idle.last().is_some_and(|e| e.since + 1 >= sweeps);
        let mut shrunk = false;
        idle.retain_mut(|e| {
            let age = sweeps.saturating_sub(e.since);
            if age >= SHRINK_AFTER_SWEEPS {
                shrunk |= e.conn.shrink();
            }
            age <= expire && e.conn.still_open()
        });
        let idle_left = !idle.is_empty();
        if !idle_left {
            self.sweeping.store(false, Ordering::Release);
        }
        Swept {
            idle_left,
            used,
            shrunk,
        }
    }

    async fn connect(&self) -> Result<Conn, ProxyError> {
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
        Ok(Conn::new(stream))
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        lock(&self.idle).len()
    }
}

async fn send(
    pool: Arc<HostPool>,
    req: Request<RequestBody>,
    forwarded: ForwardedFields,
) -> Result<Response<ResponseBody>, ProxyError> {
    let (mut parts, mut body) = req.into_parts();
    let framing = write::body_framing(
        &mut parts.headers,
        body.is_end_stream(),
        body.size_hint().exact(),
    )
    .map_err(|e| ProxyError::with_source(ErrorKind::Reset, e))?;
    let head_request = parts.method == Method::HEAD;
    // Sent again on another connection when a reused one fails before any of a response
    // came (the server closed it as it was taken): only without a body (nothing of the
    // client's was consumed) and for a method that may be repeated.
    let may_resend = framing == BodyFraming::None && is_idempotent(&parts.method);
    loop {
        let (conn, reused) = match pool.checkout() {
            Some(conn) => (conn, true),
            None => (pool.connect().await?, false),
        };
        // Encoded for each attempt (a second is rare): the buffer is the write buffer.
        let mut head = BytesMut::new();
        write::encode_head(&parts, &forwarded, &mut head);
        match exchange(conn, head, &mut body, framing, head_request, &pool).await {
            Ok(response) => return Ok(response),
            Err(failure) if reused && may_resend && failure.nothing_received => {
                tracing::debug!(
                    "reused backend connection failed, sending again: {}",
                    failure.error
                );
            }
            Err(failure) => return Err(failure.error),
        }
    }
}

/// Sweeps `pool` every `period` until it is gone.
async fn sweep(pool: Weak<HostPool>, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    // After a sweep that freed idle connections' buffers while no load ran (after a
    // burst), the next one hands the memory back: mimalloc returns freed pages (once
    // its purge delay has passed, hence a sweep later) only when this thread next
    // allocates or frees, which an idle proxy does not (session 12: after a burst,
    // 41 MB resident where 24 MB remained once anything ran).
    let mut release = false;
    loop {
        interval.tick().await;
        if release {
            crate::freed_memory::release_freed_memory(false);
        }
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let swept = pool.expire();
        release = swept.shrunk && !swept.used;
        if !swept.idle_left {
            if release {
                interval.tick().await;
                crate::freed_memory::release_freed_memory(false);
            }
            return;
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
        /// Closes every connection waiting for a request (`notify_waiters`).
        close_all: Arc<tokio::sync::Notify>,
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
        let close_all = Arc::new(tokio::sync::Notify::new());
        let (a, c, close) = (accepted.clone(), closed.clone(), close_all.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                let answer = answer.clone();
                let close = close.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let mut left = answers;
                    while left > 0 {
                        let read = tokio::select! {
                            read = stream.read(&mut chunk) => read,
                            _ = close.notified() => break,
                        };
                        match read {
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
            close_all,
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
        let response = pool.send(req, ForwardedFields::default()).await?;
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
        // 90 s in sweeps of 1 s.
        assert_eq!(pool.settings.expire_after_sweeps, 90);
        for _ in 0..90 {
            pool.expire();
        }
        assert_eq!(pool.idle(), 1, "not yet past its idle timeout");
        assert_eq!(server.closed.load(Ordering::SeqCst), 0);
        pool.expire();
        assert_eq!(pool.idle(), 0);
        until("closed", || server.closed.load(Ordering::SeqCst) == 1).await;
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_keeps_its_read_buffer_one_sweep_period_at_most() {
        let server = server().await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        let capacity = |pool: &HostPool| lock(&pool.idle)[0].conn.buffer_capacity();
        assert!(capacity(&pool) > 0, "kept for the next request");
        let first = pool.expire();
        assert!(first.used && !first.shrunk);
        assert!(capacity(&pool) > 0, "idle less than a sweep period");
        let second = pool.expire();
        assert_eq!(capacity(&pool), 0, "freed");
        // No load, buffers freed: the sweeper hands the memory back at its next sweep.
        assert!(!second.used && second.shrunk);
        assert!(!pool.expire().shrunk, "freed once");
        // Taken again, it reads as before.
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_short_idle_timeout_is_swept_four_times() {
        let pools = Pools::new(10, Duration::from_millis(400), None);
        assert_eq!(pools.settings.sweep_period, Duration::from_millis(100));
        assert_eq!(pools.settings.expire_after_sweeps, 4);
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
        // The reactor sees the close; the checkout then passes the socket over.
        until("the close is seen", || {
            lock(&pool.idle).iter().all(|e| !e.conn.still_open())
        })
        .await;
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    /// A server that answers the first request on each connection and closes the
    /// connection when the second one arrives, answering nothing: what a server closing
    /// an idle connection just as trafik sends on it looks like.
    async fn server_dropping_second_requests() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let mut answered = false;
                    while let Ok(n) = stream.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if answered {
                                return;
                            }
                            answered = true;
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            stream.write_all(ok).await.unwrap();
                        }
                    }
                });
            }
        });
        Server {
            authority,
            accepted,
            closed: Arc::new(AtomicUsize::new(0)),
            close_all: Arc::new(tokio::sync::Notify::new()),
        }
    }

    fn request(pool: &HostPool, method: &str) -> Request<RequestBody> {
        Request::builder()
            .method(method)
            .uri("/")
            .header("host", pool.authority.as_str())
            .body(RequestBody::Empty)
            .unwrap()
    }

    #[tokio::test]
    async fn an_idempotent_request_without_body_goes_again_when_a_reused_connection_fails() {
        let server = server_dropping_second_requests().await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        // The idle connection is taken, the server closes it unanswered: a new one serves.
        get(&pool).await.unwrap();
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_post_is_not_sent_twice() {
        let server = server_dropping_second_requests().await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        let Err(e) = pool
            .send(request(&pool, "POST"), ForwardedFields::default())
            .await
        else {
            panic!("a POST on the connection the server closed unanswered succeeded");
        };
        assert_eq!(e.kind, ErrorKind::Reset);
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
        // Nor is a request on a fresh connection.
        let e = pool
            .send(request(&pool, "POST"), ForwardedFields::default())
            .await;
        assert_eq!(
            e.unwrap().status(),
            200,
            "first request on a new connection"
        );
        let e = pool
            .send(request(&pool, "DELETE"), ForwardedFields::default())
            .await;
        assert_eq!(e.unwrap().status(), 200, "DELETE goes again on a new one");
        assert_eq!(server.accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_post_never_goes_on_an_idle_connection_the_server_closed() {
        let server = server().await;
        let pool = pools(10).get(&server.authority);
        get(&pool).await.unwrap();
        server.close_all.notify_waiters();
        until("the server closed", || {
            server.closed.load(Ordering::SeqCst) == 1
        })
        .await;
        until("the close is seen", || {
            lock(&pool.idle).iter().all(|e| !e.conn.still_open())
        })
        .await;
        // A POST cannot be sent again: it must not be sent on that socket at all.
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header("host", pool.authority.as_str())
            .header("content-length", "0")
            .body(RequestBody::Empty)
            .unwrap();
        let response = pool.send(req, ForwardedFields::default()).await.unwrap();
        assert_eq!(response.status(), 200);
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
        // ends, so the connection returns to the pool only when the body has been read.
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
        let response = pool.send(req, ForwardedFields::default()).await.unwrap();
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
