//! The body the forwarder sends upstream: the client's body as hyper received it (the
//! common case, no indirection), or whatever a resilience layer made of it (a replayable
//! copy for retries, a buffered one), boxed because each layer has its own type.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub enum RequestBody {
    Streamed(Incoming),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl RequestBody {
    pub fn boxed<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        RequestBody::Boxed(body.map_err(Into::into).boxed_unsync())
    }
}

impl From<Incoming> for RequestBody {
    fn from(body: Incoming) -> Self {
        RequestBody::Streamed(body)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Both variants are Unpin, so the enum is too.
        match self.get_mut() {
            RequestBody::Streamed(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            RequestBody::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Streamed(b) => b.is_end_stream(),
            RequestBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Streamed(b) => b.size_hint(),
            RequestBody::Boxed(b) => b.size_hint(),
        }
    }
}
