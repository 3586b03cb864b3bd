//! An entry point's accept loop step: at most `maxConnections` connections at once (the
//! permit is taken *before* `accept`, so the connections past the cap wait in the kernel's
//! listen backlog instead of being accepted and starved), and accept errors (`EMFILE`,
//! `ENFILE`, `ENOBUFS`…) logged once per burst, with a short pause between attempts so a
//! listener whose backlog cannot be drained does not spin.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Pause after a failed accept: the condition (descriptors, memory) takes a while to clear.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// A burst starting less than this after the last logged one is not logged again.
const LOG_GAP: Duration = Duration::from_secs(60);

pub struct Acceptor {
    listener: TcpListener,
    entry_point: Arc<str>,
    limit: Option<(Arc<Semaphore>, usize)>,
    failing: Burst,
    full: Burst,
}

impl Acceptor {
    /// `max_connections`: 0 is no cap.
    pub fn new(listener: TcpListener, entry_point: Arc<str>, max_connections: usize) -> Self {
        let limit = (max_connections > 0).then(|| {
            let n = max_connections.min(Semaphore::MAX_PERMITS);
            (Arc::new(Semaphore::new(n)), n)
        });
        Acceptor {
            listener,
            entry_point,
            limit,
            failing: Burst::default(),
            full: Burst::default(),
        }
    }

    /// The next connection, with its permit when the entry point has a cap. Cancel-safe.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr, Option<OwnedSemaphorePermit>) {
        let permit = match &self.limit {
            None => None,
            Some((semaphore, max)) => Some(match semaphore.clone().try_acquire_owned() {
                Ok(p) => {
                    if let Some((waits, took)) = self.full.succeeded(Instant::now()) {
                        tracing::warn!(
                            entry_point = %self.entry_point,
                            "below maxConnections ({max}) again, after {waits} connection(s) waited (over {took:?})"
                        );
                    }
                    p
                }
                Err(_) => {
                    if self.full.failed(Instant::now()) {
                        tracing::warn!(
                            entry_point = %self.entry_point,
                            "maxConnections ({max}) reached: new connections wait in the listen backlog"
                        );
                    }
                    // Never closed: acquiring fails only on a closed semaphore.
                    semaphore
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed")
                }
            }),
        };
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    if let Some((failures, took)) = self.failing.succeeded(Instant::now()) {
                        // At the failure's level, so a log that shows it shows its end.
                        tracing::error!(
                            entry_point = %self.entry_point,
                            "accepting connections again, after {failures} failed attempt(s) over {took:?}"
                        );
                    }
                    return (stream, peer, permit);
                }
                // The client gave up before it was accepted: nothing wrong here.
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    if self.failing.failed(Instant::now()) {
                        tracing::error!(
                            entry_point = %self.entry_point,
                            "cannot accept connections: {e}{}; retrying every {RETRY_PAUSE:?}, logged once until it recovers",
                            hint(&e)
                        );
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

fn hint(e: &io::Error) -> &'static str {
    // EMFILE (24) and ENFILE (23) on Linux and the BSDs.
    match e.raw_os_error() {
        Some(24) => {
            " (the process's open-file limit: raise `ulimit -n` / LimitNOFILE, or set maxConnections)"
        }
        Some(23) => " (the system's open-file limit, fs.file-max)",
        _ => "",
    }
}

/// Failures that come in bursts, logged at the first one and (if that was logged) at the
/// first success after them; never more often than one burst per `LOG_GAP`.
#[derive(Debug, Default)]
struct Burst {
    /// When the current burst began, and its failures so far.
    current: Option<(Instant, u64)>,
    logged: bool,
    last_logged: Option<Instant>,
}

impl Burst {
    /// A failure at `now`: `true` if it should be logged.
    fn failed(&mut self, now: Instant) -> bool {
        let (_, count) = self.current.get_or_insert((now, 0));
        *count += 1;
        if self.logged || self.last_logged.is_some_and(|t| now < t + LOG_GAP) {
            return false;
        }
        self.logged = true;
        self.last_logged = Some(now);
        true
    }

    /// A success at `now`: the burst that ends, if its start was logged (failures, length).
    fn succeeded(&mut self, now: Instant) -> Option<(u64, Duration)> {
        let (since, count) = self.current.take()?;
        std::mem::take(&mut self.logged).then(|| (count, now - since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_once_and_its_end_too() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Burst::default();
        assert_eq!(b.succeeded(t0), None, "no burst yet");
        assert!(b.failed(t0));
        for i in 1..100 {
            assert!(!b.failed(t0 + ms(50 * i)));
        }
        assert_eq!(b.succeeded(t0 + ms(5000)), Some((100, ms(5000))));
        assert_eq!(b.succeeded(t0 + ms(5001)), None);
    }

    #[test]
    fn bursts_close_together_are_not_logged_again() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Burst::default();
        assert!(b.failed(t0));
        assert!(b.succeeded(t0 + s(1)).is_some());
        // Flapping: a new burst within LOG_GAP is silent, and so is its end.
        assert!(!b.failed(t0 + s(2)));
        assert_eq!(b.succeeded(t0 + s(3)), None);
        // A long one is logged once the gap has passed, and its end with it.
        assert!(!b.failed(t0 + s(4)));
        assert!(b.failed(t0 + s(61)));
        assert!(!b.failed(t0 + s(62)));
        assert_eq!(b.succeeded(t0 + s(70)), Some((3, s(66))));
    }
}
