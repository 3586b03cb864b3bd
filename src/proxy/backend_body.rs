//! A backend's response body, and, for a response from trafik's own pool (`pool.rs`), the
//! keep-alive connection it arrives on, which reading the body drives.
//!
//! hyper's client connection is a future: someone must poll it for the response's bytes
//! to be read off the socket. hyper-util spawns a task per connection for that, so every
//! request crossed tasks: the request handed to the connection's task, the response and
//! the body's chunks handed back, each a wake-up and a task poll. trafik's pool instead
//! lets the request's own task poll the connection, first while it waits for the response
//! head ([`pool`](super::pool)), then here, each time the body is polled, until the body
//! ends and the connection goes back to the pool.
//!
//! The body's channel, which only the connection fills, is read without a waker (one
//! there would only make the task wake itself); when it is empty, the connection is
//! polled with the task's waker (its socket, and the request body it may still be
//! sending, wake the task) and the channel read again.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::pool::Driven;

pub struct BackendBody {
    body: Incoming,
    /// The connection the body arrives on while it is trafik's own (`pool.rs`) and alive.
    conn: Option<Driven>,
    /// The body returned its end.
    ended: bool,
}

impl BackendBody {
    /// A body hyper-util's client reads (its connection has a task of its own).
    pub fn plain(body: Incoming) -> Self {
        BackendBody {
            body,
            conn: None,
            ended: false,
        }
    }

    /// A body arriving on `conn`, which goes back to its pool once the body has ended.
    pub(super) fn driving(body: Incoming, conn: Driven) -> Self {
        let mut body = BackendBody {
            body,
            conn: Some(conn),
            ended: false,
        };
        // No body (204, 304, HEAD, `Content-Length: 0`): the connection is free already.
        if body.body.is_end_stream() {
            body.release();
        }
        body
    }

    /// The exchange is over: the connection back to its pool.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.check_in();
        }
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(conn) = &mut this.conn else {
            let polled = Pin::new(&mut this.body).poll_frame(cx);
            this.ended |= matches!(polled, Poll::Ready(None));
            return polled;
        };
        // What the connection has handed over already, else what driving it brings.
        let mut polled = Pin::new(&mut this.body).poll_frame(&mut noop());
        if polled.is_pending() {
            if conn.drive(cx).is_ready() {
                // The connection ended (closed or broken): the body has what it was
                // given, then its end or the error; the channel wakes the task from here.
                this.conn = None;
                return Pin::new(&mut this.body).poll_frame(cx);
            }
            polled = Pin::new(&mut this.body).poll_frame(&mut noop());
        }
        match &polled {
            Poll::Ready(None) => {
                this.ended = true;
                this.release();
            }
            // A broken body leaves the connection in no state to be used again.
            Poll::Ready(Some(Err(_))) => this.conn = None,
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.release(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A context whose waker does nothing: see the module's doc.
fn noop() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

impl Drop for BackendBody {
    fn drop(&mut self) {
        // hyper's server drops a body once it says it has ended, without asking for the
        // end: the connection is free then. Dropped before that (the client went away),
        // the connection is mid-response and is closed with it.
        if self.is_end_stream() {
            self.release();
        }
    }
}
