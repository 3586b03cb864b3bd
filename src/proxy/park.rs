//! Parking an idle backend connection: keeping its socket, dropping hyper's state.
//!
//! An idle pooled HTTP/1 connection, as hyper keeps it, is a task driving a dispatcher
//! that holds an 8 KiB read buffer (more once a larger response grew it), an 8 KiB write
//! buffer, and the first block of the channel requests arrive by (about 10 KiB): some
//! 27–39 KB per connection, for as long as it idles (90 s by default). After a burst
//! (h2 clients with 500 streams in flight) hundreds of them idle at once. nginx frees an
//! idle keep-alive connection's buffers; hyper cannot drop them while the connection
//! lives, but it can end the connection without closing the socket
//! (`Connection::without_shutdown` gives the socket back). A parked connection is that
//! socket alone; taken again, it gets a fresh hyper connection (a handshake on the same
//! socket: no system call, a few allocations), which is what a connection that idled a
//! second or more pays instead of its memory.
//!
//! Parking is ordered by the pool ([`super::pool`]): it marks the connection
//! ([`ParkOrder::park`]) and drops its sender; the connection's task then sees hyper
//! finish and hands the socket back. Nothing else ends a connection with the mark set,
//! so a socket comes back only from a connection that was idle and clean: every response
//! read whole (hyper asked for the next request), nothing read past it.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::pool::HostPool;
use super::request_body::RequestBody;

const NOT_PARKED: u64 = u64::MAX;

/// Shared by a connection's pool entry and its task: whether the pool parked it, and
/// since which sweep it has been idle (the idle timeout still counts from then).
#[derive(Clone)]
pub struct ParkOrder(Arc<AtomicU64>);

impl ParkOrder {
    pub fn new() -> ParkOrder {
        ParkOrder(Arc::new(AtomicU64::new(NOT_PARKED)))
    }

    /// Marks the connection parked, idle since sweep `since`; its sender is dropped next.
    pub fn park(&self, since: u64) {
        self.0.store(since, Ordering::Release);
    }

    fn parked_since(&self) -> Option<u64> {
        match self.0.load(Ordering::Acquire) {
            NOT_PARKED => None,
            since => Some(since),
        }
    }
}

/// Drives one backend connection (the task hyper's client needs), and when the pool
/// parked it, gives its socket back to the pool.
pub async fn drive(
    connection: http1::Connection<TokioIo<TcpStream>, RequestBody>,
    order: ParkOrder,
    pool: Weak<HostPool>,
) {
    match connection.without_shutdown().await {
        Ok(parts) => {
            // Bytes read past the last response: not a clean connection (a server
            // that talks unasked); it closes.
            if let (Some(since), true) = (order.parked_since(), parts.read_buf.is_empty())
                && let Some(pool) = pool.upgrade()
            {
                pool.parked(parts.io.into_inner(), since);
            }
            // Otherwise dropped here: closed (as hyper would have, less its shutdown(2)).
        }
        Err(e) => tracing::debug!("backend connection ended: {e}"),
    }
}

/// Whether a parked socket can carry a request: nothing arrived while it was parked.
/// A server's close (EOF), a reset, or bytes nobody asked for all mean it cannot. The
/// reactor has kept the socket's readiness meanwhile, so for a socket where nothing
/// happened this makes no system call.
pub fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
