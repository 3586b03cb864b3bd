//! Drives a served connection and ends it when a deadline of its `Tracker` passes or the
//! entry point stops. One timer per connection, set to the earliest deadline and moved
//! only when that changes; the deadline is read again after each poll of the connection
//! (HTTP/1 changes it only from within that poll) and on a wake from an HTTP/2 stream
//! that ended on its own task.
//!
//! A passed deadline drops the connection (the socket closes under hyper; requests in
//! flight on it are abandoned) except an idle HTTP/2 connection, which is told to go away
//! (GOAWAY) and given `CLOSE_GRACE` to close by itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::deadlines::{Expired, Tracker};

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    /// hyper finished it (the client closed, an upgrade took it, a graceful shutdown).
    Done(hyper::Result<()>),
    /// A deadline passed and the connection was dropped.
    Expired(Expired),
    /// Reading its first bytes failed.
    Unreadable(std::io::Error),
}

/// What `Watchdog` needs from a connection.
pub trait Connection: Future<Output = hyper::Result<()>> + Unpin {
    fn graceful_shutdown(&mut self);
}

pin_project_lite::pin_project! {
    pub struct Watchdog<C> {
        conn: C,
        tracker: Arc<Tracker>,
        http2: bool,
        #[pin]
        stop: WaitForCancellationFutureOwned,
        #[pin]
        sleep: Sleep,
        // The deadline `sleep` is set to, if it runs.
        armed: Option<Instant>,
        draining: bool,
    }
}

impl<C: Connection> Watchdog<C> {
    pub fn new(
        conn: C,
        tracker: Arc<Tracker>,
        http2: bool,
        stop: WaitForCancellationFutureOwned,
    ) -> Self {
        Watchdog {
            conn,
            tracker,
            http2,
            stop,
            sleep: tokio::time::sleep_until(Instant::now()),
            armed: None,
            draining: false,
        }
    }
}

impl<C: Connection> Future for Watchdog<C> {
    type Output = Ended;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let mut this = self.project();
        loop {
            if !*this.draining && this.stop.as_mut().poll(cx).is_ready() {
                this.conn.graceful_shutdown();
                *this.draining = true;
            }
            if let Poll::Ready(r) = Pin::new(&mut *this.conn).poll(cx) {
                return Poll::Ready(Ended::Done(r));
            }
            let next = this.tracker.next_deadline(cx.waker());
            if next != *this.armed {
                if let Some(at) = next {
                    this.sleep.as_mut().reset(at);
                }
                *this.armed = next;
            }
            let Some(armed) = *this.armed else {
                return Poll::Pending;
            };
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Whatever was due by the time the timer was set for has passed, even if the
            // clock read now is a hair earlier than the timer's.
            match this.tracker.expired(Instant::now().max(armed)) {
                None => {
                    // The deadline moved later since the timer was set: set it again.
                    *this.armed = None;
                }
                Some(Expired::Idle) if *this.http2 && !*this.draining => {
                    this.conn.graceful_shutdown();
                    *this.draining = true;
                    this.tracker.going_away(Instant::now());
                }
                Some(expired) => return Poll::Ready(Ended::Expired(expired)),
            }
        }
    }
}
