//! The client's request body as the forwarder reads it: errors marked as the client's
//! (see [`ClientBodyError`]), and a stall limit (`respondingTimeouts.bodyIdleTimeout`):
//! while trafik waits on the client for the next bytes of a body it promised, a timer
//! runs; when it passes, the body fails as stalled and the client is answered 408.
//!
//! Without it a request that announces a body and never sends it (`GET` with
//! `Content-Length: 10`, Traefik's CVE-2024-28869) or trickles one holds a client
//! connection and a backend connection for as long as `readTimeout` allows, which is
//! forever by default, as in v1. The limit is on each wait, not on the whole body
//! (nginx's `client_body_timeout`), so a long upload that keeps moving is never cut.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::error::ClientBodyError;
use super::request_body::BoxError;

pub struct ClientBody {
    body: Incoming,
    /// `bodyIdleTimeout`; `None`: wait as long as the client likes.
    limit: Option<Duration>,
    /// Made the first time the client keeps trafik waiting (most bodies arrive with their
    /// head and never do); boxed, as a timer is large.
    stall: Option<Pin<Box<Sleep>>>,
    /// The timer counts the current wait (set at its first `Pending`, cleared by data).
    waiting: bool,
}

impl ClientBody {
    pub fn new(body: Incoming, limit: Option<Duration>) -> Self {
        ClientBody {
            body,
            limit,
            stall: None,
            waiting: false,
        }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(|e| ClientBodyError::Read(e).into())))
            }
            Poll::Pending => {
                let Some(limit) = this.limit else {
                    return Poll::Pending;
                };
                let deadline = Instant::now() + limit;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.waiting {
                    stall.as_mut().reset(deadline);
                    this.waiting = true;
                }
                match stall.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(ClientBodyError::Stalled(limit).into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
