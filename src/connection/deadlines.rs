//! What a client connection is waiting for, and until when (`[respondingTimeouts]`).
//!
//! A connection is in one phase at a time: reading a request head (HTTP/1; from the
//! connection's start for the first request, from the head's first byte for the next ones),
//! idle between requests, busy with one request or more, or closing (HTTP/2, after the
//! GOAWAY of an idle connection). Each request may also carry a read deadline (until its
//! body has been read whole, as Go's) and a write deadline (until its response has been
//! handed to hyper in full). The watchdog (`watchdog.rs`) sleeps until the earliest of them and closes
//! the connection when one passes; this file only keeps the state and answers "when next"
//! and "what passed".
//!
//! The state sits behind a mutex: an HTTP/2 stream ends on its own task. It is locked a
//! few times per request, never contended but by HTTP/2 streams of one connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use tokio::time::Instant;

/// An idle HTTP/2 connection told to go away (GOAWAY) has this long to close on its own.
pub const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// `[respondingTimeouts]` as the connection applies them; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `readHeaderTimeout`: a request head.
    pub header: Option<Duration>,
    /// `readTimeout`: a whole request, head and body, from its start.
    pub read: Option<Duration>,
    /// `writeTimeout`: from the end of a request head to the end of its response.
    pub write: Option<Duration>,
    /// `idleTimeout`: between requests.
    pub idle: Option<Duration>,
}

impl Timeouts {
    /// A request head must arrive within both the head timeout and the read timeout
    /// (which covers the head too), as in Go.
    pub fn head(&self) -> Option<Duration> {
        earliest(self.header, self.read)
    }
}

/// The deadline that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// No complete request head (HTTP/1) or client preface (HTTP/2) in time.
    Head,
    /// No request for `idleTimeout`.
    Idle,
    /// A request not received whole within `readTimeout`.
    Read,
    /// A response not sent whole within `writeTimeout`.
    Write,
    /// An idle HTTP/2 connection told to go away did not close within `CLOSE_GRACE`.
    Closing,
}

impl std::fmt::Display for Expired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expired::Head => "no complete request head within readHeaderTimeout",
            Expired::Idle => "idle for idleTimeout",
            Expired::Read => "request not received within readTimeout",
            Expired::Write => "response not sent within writeTimeout",
            Expired::Closing => "did not close after GOAWAY",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// HTTP/1: reading a request head whose first byte came (or the connection began) at
    /// `since`.
    Head { since: Instant },
    /// No request open since `since`.
    Idle { since: Instant },
    /// At least one request open.
    Busy,
    /// HTTP/2: GOAWAY sent at `since` because the connection was idle.
    Closing { since: Instant },
}

#[derive(Debug)]
struct Pending {
    id: u64,
    read: Option<Instant>,
    write: Option<Instant>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    open: usize,
    /// Open requests that have a read or write deadline (none unless `readTimeout` or
    /// `writeTimeout` is set).
    pending: Vec<Pending>,
    next_id: u64,
    /// HTTP/2: the watchdog's waker, for a stream that ends on its own task.
    waker: Option<Waker>,
}

/// One connection's phase and deadlines, shared by its watchdog, its transport (which
/// reports the first byte of an HTTP/1 head) and its requests.
#[derive(Debug)]
pub struct Tracker {
    timeouts: Timeouts,
    http2: bool,
    /// HTTP/1 and idle: the next byte read starts a request head. Read without the lock
    /// on every read of the connection.
    head_on_read: AtomicBool,
    state: Mutex<State>,
}

impl Tracker {
    /// A connection whose transport was ready at `started` (after the TLS handshake), and
    /// whose protocol is known at `now`: HTTP/2 has received its preface (so it is idle),
    /// HTTP/1 is reading its first head since `started`.
    pub fn new(timeouts: Timeouts, http2: bool, started: Instant, now: Instant) -> Tracker {
        let phase = if http2 {
            Phase::Idle { since: now }
        } else {
            Phase::Head { since: started }
        };
        Tracker {
            timeouts,
            http2,
            head_on_read: AtomicBool::new(false),
            state: Mutex::new(State {
                phase,
                open: 0,
                pending: Vec::new(),
                next_id: 0,
                waker: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transport read some bytes (cheap unless the connection is idle).
    pub fn bytes_arrived(&self) {
        if !self.head_on_read.load(Ordering::Relaxed) {
            return;
        }
        self.head_on_read.store(false, Ordering::Relaxed);
        let mut s = self.lock();
        if let Phase::Idle { .. } = s.phase {
            s.phase = Phase::Head {
                since: Instant::now(),
            };
        }
    }

    /// A request head was read whole at `now()`; `has_body` unless it said it had none. The
    /// request stays open until the guard is dropped (with its response body). The clock is
    /// read only when needed: an HTTP/1 request's start is its head's first byte, already
    /// known, so without `writeTimeout` it is not read at all.
    pub fn request_started(
        self: &Arc<Self>,
        has_body: bool,
        now: impl FnOnce() -> Instant,
    ) -> RequestGuard {
        let mut s = self.lock();
        let head = match s.phase {
            Phase::Head { since } => Some(since),
            _ => None,
        };
        let now = (head.is_none() || self.timeouts.write.is_some()).then(now);
        // Go's "request start": the head's first byte (HTTP/1), else now (HTTP/2 streams,
        // a pipelined head hyper had read already).
        let Some(start) = head.or(now) else {
            unreachable!("read when there is no head")
        };
        let now = now.unwrap_or(start);
        s.phase = Phase::Busy;
        s.open += 1;
        self.head_on_read.store(false, Ordering::Relaxed);
        let read = self.timeouts.read.filter(|_| has_body).map(|d| start + d);
        let write = self.timeouts.write.map(|d| now + d);
        let id = (read.is_some() || write.is_some()).then(|| {
            let id = s.next_id;
            s.next_id += 1;
            s.pending.push(Pending { id, read, write });
            id
        });
        RequestGuard {
            tracker: self.clone(),
            id,
            reads: read.is_some(),
        }
    }

    fn request_read(&self, id: u64) {
        let mut s = self.lock();
        if let Some(i) = s.pending.iter().position(|p| p.id == id) {
            let p = &mut s.pending[i];
            p.read = None;
            if p.write.is_none() {
                s.pending.swap_remove(i);
            }
        }
    }

    fn request_ended(&self, id: Option<u64>) {
        let mut s = self.lock();
        if let Some(id) = id
            && let Some(i) = s.pending.iter().position(|p| p.id == id)
        {
            s.pending.swap_remove(i);
        }
        s.open = s.open.saturating_sub(1);
        if s.open > 0 {
            return;
        }
        s.phase = Phase::Idle {
            since: Instant::now(),
        };
        if self.http2 {
            // The stream ended on its own task: the watchdog must arm the idle deadline.
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        } else {
            // HTTP/1 ends a request within the watchdog's own poll, which re-reads the
            // deadline after it.
            self.head_on_read.store(true, Ordering::Relaxed);
        }
    }

    /// The idle HTTP/2 connection was sent a GOAWAY at `now`.
    pub fn going_away(&self, now: Instant) {
        let mut s = self.lock();
        if let Phase::Idle { .. } = s.phase {
            s.phase = Phase::Closing { since: now };
        }
    }

    /// The earliest deadline, if any; `waker` is kept to be woken by an HTTP/2 stream
    /// ending on another task.
    pub fn next_deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut s = self.lock();
        if self.http2 && !s.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            s.waker = Some(waker.clone());
        }
        let phase = self.phase_deadline(&s).map(|(d, _)| d);
        let requests = s
            .pending
            .iter()
            .flat_map(|p| [p.read, p.write])
            .flatten()
            .min();
        earliest(phase, requests)
    }

    /// What passed at `now`, if anything; the phase's deadline first.
    pub fn expired(&self, now: Instant) -> Option<Expired> {
        let s = self.lock();
        if let Some((deadline, what)) = self.phase_deadline(&s)
            && deadline <= now
        {
            return Some(what);
        }
        for p in &s.pending {
            if p.read.is_some_and(|d| d <= now) {
                return Some(Expired::Read);
            }
            if p.write.is_some_and(|d| d <= now) {
                return Some(Expired::Write);
            }
        }
        None
    }

    fn phase_deadline(&self, s: &State) -> Option<(Instant, Expired)> {
        match s.phase {
            Phase::Head { since } => self.timeouts.head().map(|d| (since + d, Expired::Head)),
            Phase::Idle { since } => self.timeouts.idle.map(|d| (since + d, Expired::Idle)),
            Phase::Busy => None,
            Phase::Closing { since } => Some((since + CLOSE_GRACE, Expired::Closing)),
        }
    }
}

/// One open request; it ends when the guard is dropped (with the response body, or when
/// the request is abandoned).
#[derive(Debug)]
pub struct RequestGuard {
    tracker: Arc<Tracker>,
    /// Set when the request has deadlines of its own.
    id: Option<u64>,
    /// The request has a read deadline.
    reads: bool,
}

impl RequestGuard {
    /// For a request under a read deadline: the handle whose drop says its body has been
    /// read whole (or abandoned), which ends the deadline. It travels in the request's
    /// extensions to the body sent to the backend (`RequestBody::Watched`), or is dropped
    /// with the request when nothing forwards it.
    pub fn body_read(&self) -> Option<BodyRead> {
        let id = self.id.filter(|_| self.reads)?;
        Some(BodyRead {
            _watch: Arc::new(ReadWatch {
                tracker: self.tracker.clone(),
                id,
            }),
        })
    }
}

/// See `RequestGuard::body_read`. Clone, as request extensions must be; the deadline ends
/// when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct BodyRead {
    _watch: Arc<ReadWatch>,
}

#[derive(Debug)]
struct ReadWatch {
    tracker: Arc<Tracker>,
    id: u64,
}

impl Drop for ReadWatch {
    fn drop(&mut self) {
        self.tracker.request_read(self.id);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.tracker.request_ended(self.id);
    }
}

fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn timeouts() -> Timeouts {
        Timeouts {
            header: Some(60 * S),
            read: None,
            write: None,
            idle: Some(180 * S),
        }
    }

    fn noop() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn http1_first_head_counts_from_the_start() {
        let t0 = Instant::now();
        let t = Tracker::new(timeouts(), false, t0, t0 + S);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 60 * S));
        assert_eq!(t.expired(t0 + 59 * S), None);
        assert_eq!(t.expired(t0 + 60 * S), Some(Expired::Head));
    }

    #[test]
    fn read_timeout_shortens_the_head_deadline() {
        let t0 = Instant::now();
        let mut to = timeouts();
        to.read = Some(5 * S);
        let t = Tracker::new(to, false, t0, t0);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 5 * S));
        to.header = None;
        let t = Tracker::new(to, false, t0, t0);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 5 * S));
        to.read = None;
        let t = Tracker::new(to, false, t0, t0);
        assert_eq!(t.next_deadline(&noop()), None, "no head limit at all");
    }

    #[test]
    fn http1_keep_alive_idles_then_counts_the_head_from_its_first_byte() {
        let t0 = Instant::now();
        let t = Arc::new(Tracker::new(timeouts(), false, t0, t0));
        let guard = t.request_started(false, || t0);
        assert_eq!(t.next_deadline(&noop()), None, "busy, no request deadlines");
        drop(guard);
        let idle = t.next_deadline(&noop()).unwrap();
        assert!(idle >= t0 + 180 * S);
        assert_eq!(t.expired(idle), Some(Expired::Idle));
        t.bytes_arrived();
        let head = t.next_deadline(&noop()).unwrap();
        assert!(head >= t0 + 60 * S && head < idle);
        assert_eq!(t.expired(head), Some(Expired::Head));
        // Later bytes of the same head do not move it.
        t.bytes_arrived();
        assert_eq!(t.next_deadline(&noop()), Some(head));
    }

    #[test]
    fn http2_starts_idle_and_ignores_reads() {
        let t0 = Instant::now();
        let t = Arc::new(Tracker::new(timeouts(), true, t0, t0 + S));
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 181 * S));
        t.bytes_arrived();
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 181 * S));
        let a = t.request_started(true, || t0 + 2 * S);
        let b = t.request_started(true, || t0 + 3 * S);
        assert_eq!(t.next_deadline(&noop()), None);
        drop(a);
        assert_eq!(t.next_deadline(&noop()), None, "a stream is still open");
        drop(b);
        assert!(t.next_deadline(&noop()).is_some());
    }

    #[test]
    fn idle_http2_goes_away_then_has_a_grace_to_close() {
        let t0 = Instant::now();
        let t = Tracker::new(timeouts(), true, t0, t0);
        t.going_away(t0 + 180 * S);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 180 * S + CLOSE_GRACE));
        assert_eq!(
            t.expired(t0 + 180 * S + CLOSE_GRACE),
            Some(Expired::Closing)
        );
    }

    #[test]
    fn http2_stream_end_wakes_the_watchdog() {
        use std::sync::atomic::AtomicUsize;
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let t0 = Instant::now();
        let t = Arc::new(Tracker::new(timeouts(), true, t0, t0));
        let g = t.request_started(false, || t0);
        t.next_deadline(&waker);
        drop(g);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn read_deadline_stands_until_the_body_is_read() {
        let t0 = Instant::now();
        let mut to = timeouts();
        to.read = Some(10 * S);
        let t = Arc::new(Tracker::new(to, false, t0, t0));
        // The head took 2 s: the read deadline counts from its start.
        let g = t.request_started(true, || t0 + 2 * S);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 10 * S));
        assert_eq!(t.expired(t0 + 10 * S), Some(Expired::Read));
        let read = g.body_read().unwrap();
        let copy = read.clone();
        drop(read);
        assert_eq!(
            t.next_deadline(&noop()),
            Some(t0 + 10 * S),
            "a clone still reads"
        );
        drop(copy);
        assert_eq!(t.next_deadline(&noop()), None);
        drop(g);
        // Without a body the request is whole with its head.
        let g = t.request_started(false, || t0 + 20 * S);
        assert!(g.body_read().is_none());
        assert_eq!(t.next_deadline(&noop()), None);
        drop(g);
    }

    #[test]
    fn write_deadline_counts_from_the_head_to_the_end_of_the_response() {
        let t0 = Instant::now();
        let mut to = timeouts();
        to.write = Some(5 * S);
        let t = Arc::new(Tracker::new(to, false, t0, t0));
        let g = t.request_started(false, || t0 + S);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 6 * S));
        assert_eq!(t.expired(t0 + 6 * S), Some(Expired::Write));
        drop(g);
        assert_eq!(t.expired(t0 + 7 * S), None, "ended: nothing pending");
    }

    #[test]
    fn earliest_of_several_streams() {
        let t0 = Instant::now();
        let mut to = timeouts();
        to.write = Some(5 * S);
        let t = Arc::new(Tracker::new(to, true, t0, t0));
        let a = t.request_started(false, || t0 + 3 * S);
        let b = t.request_started(false, || t0 + S);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 6 * S));
        drop(b);
        assert_eq!(t.next_deadline(&noop()), Some(t0 + 8 * S));
        drop(a);
    }
}
