//! The body the forwarder sends upstream: the client's body as hyper received it (the
//! common case, no indirection), or what a resilience layer made of it (a replayable copy
//! for retries, a buffered one). Each layer's body is a variant here rather than a boxed
//! trait object, so the backend stack hands one concrete type from layer to layer without
//! an allocation per request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use trafik_middleware::buffer::BufferedBody;
use trafik_middleware::retry::ReplayBody;

use super::client_body::ClientBody;
use crate::connection::BodyRead;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Default)]
pub enum RequestBody {
    Streamed(ClientBody),
    /// The client's body under `readTimeout`: the deadline ends when the body has been
    /// read whole or dropped (`BodyRead`, taken from the request's extensions).
    Watched(ClientBody, Option<BodyRead>),
    /// A retried request's copy: yields what an earlier attempt read, then reads on.
    Replay(ReplayBody<RequestBody>),
    /// Boxed: it is large, and rare enough that the allocation is not felt.
    Buffered(Box<BufferedBody>),
    /// No body. Also what stands in for a body for the instant the retry layer wraps it
    /// where it lies (`RetryLayer::in_place`).
    #[default]
    Empty,
}

impl From<Incoming> for RequestBody {
    fn from(body: Incoming) -> Self {
        RequestBody::Streamed(ClientBody::new(body, None))
    }
}

impl RequestBody {
    /// The client's request as the backend is sent it: its body watched if the
    /// connection put a read deadline on it, and failed if it stalls for `stall_limit`
    /// (`bodyIdleTimeout`).
    pub fn from_client(
        mut req: http::Request<Incoming>,
        stall_limit: Option<std::time::Duration>,
    ) -> http::Request<RequestBody> {
        match req.extensions_mut().remove::<BodyRead>() {
            None => req.map(|body| RequestBody::Streamed(ClientBody::new(body, stall_limit))),
            Some(read) => {
                req.map(|body| RequestBody::Watched(ClientBody::new(body, stall_limit), Some(read)))
            }
        }
    }
}

impl From<ReplayBody<RequestBody>> for RequestBody {
    fn from(body: ReplayBody<RequestBody>) -> Self {
        RequestBody::Replay(body)
    }
}

impl From<BufferedBody> for RequestBody {
    fn from(body: BufferedBody) -> Self {
        RequestBody::Buffered(Box::new(body))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Every variant is Unpin, so the enum is too.
        match self.get_mut() {
            // Errors marked as the client's, so they are not blamed on the backend.
            RequestBody::Streamed(b) => Pin::new(b).poll_frame(cx),
            RequestBody::Watched(b, read) => {
                let frame = Pin::new(&mut *b).poll_frame(cx);
                if matches!(frame, Poll::Ready(None)) || b.is_end_stream() {
                    read.take();
                }
                frame
            }
            RequestBody::Replay(b) => Pin::new(b).poll_frame(cx),
            RequestBody::Buffered(b) => Pin::new(&mut **b).poll_frame(cx).map_err(|e| match e {}),
            RequestBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Streamed(b) | RequestBody::Watched(b, _) => b.is_end_stream(),
            RequestBody::Replay(b) => b.is_end_stream(),
            RequestBody::Buffered(b) => b.is_end_stream(),
            RequestBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Streamed(b) | RequestBody::Watched(b, _) => b.size_hint(),
            RequestBody::Replay(b) => b.size_hint(),
            RequestBody::Buffered(b) => b.size_hint(),
            RequestBody::Empty => SizeHint::with_exact(0),
        }
    }
}
