//! The one response body type every entry point answers with: a backend's streamed
//! body, or a small body trafik makes itself (404, 502, redirects…). An optional
//! observer sees every data frame and the end, so the access log can count bytes
//! without buffering.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

use trafik_middleware::buffer::BufferedBody;
use trafik_middleware::limit::{HoldsPermit, Permit};

use super::h1::body::H1Body;
use super::request_body::BoxError;
use crate::stats::OpenGuard;

/// Told about each data frame's size and, once, about the end of the body
/// (`complete = false` when the client went away or the backend broke mid-body).
pub trait BodyObserver: Send + Sync + 'static {
    fn on_data(&mut self, len: usize);
    fn on_end(&mut self, complete: bool);
}

pin_project_lite::pin_project! {
    pub struct ResponseBody {
        #[pin]
        kind: Kind,
        observer: Option<Box<dyn BodyObserver>>,
        // Counts the request as open on its backend until the body is gone.
        guard: Option<OpenGuard>,
        // The backend's maxConn slot, held as long as the body.
        permit: Option<Permit>,
    }

    impl PinnedDrop for ResponseBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A body hyper never polled because it was already empty counts as complete.
            let complete = match &*this.kind {
                Kind::Streamed { body } => body.is_end_stream(),
                Kind::H1 { body } => body.is_end_stream(),
                Kind::Full { data } => data.is_none(),
                Kind::Buffered { body } => body.is_end_stream(),
                Kind::Boxed { body } => body.is_end_stream(),
            };
            if let Some(mut o) = this.observer.take() {
                o.on_end(complete);
            }
        }
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind {
        Streamed { #[pin] body: Incoming },
        // From a plain `http://` server through trafik's own client (`h1/`), when the body
        // did not come whole with the head. Boxed: it holds the connection (136 bytes),
        // and this enum is moved through every layer; hyper's `Incoming` is 40.
        H1 { body: Box<H1Body> },
        Full { data: Option<Bytes> },
        // A response the buffering layer read whole; boxed, as it is large and rare.
        Buffered { body: Box<BufferedBody> },
        // Anything else (the API's axum bodies).
        Boxed { #[pin] body: UnsyncBoxBody<Bytes, BoxError> },
    }
}

impl ResponseBody {
    /// A body of `kind` with nothing attached yet.
    fn of(kind: Kind) -> Self {
        ResponseBody {
            kind,
            observer: None,
            guard: None,
            permit: None,
        }
    }

    pub fn streamed(body: Incoming) -> Self {
        ResponseBody::of(Kind::Streamed { body })
    }

    pub fn h1(body: H1Body) -> Self {
        ResponseBody::of(Kind::H1 {
            body: Box::new(body),
        })
    }

    pub fn full(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        let data = if data.is_empty() { None } else { Some(data) };
        ResponseBody::of(Kind::Full { data })
    }

    pub fn boxed<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        ResponseBody::of(Kind::Boxed {
            body: body.map_err(Into::into).boxed_unsync(),
        })
    }

    pub fn buffered(body: BufferedBody) -> Self {
        ResponseBody::of(Kind::Buffered {
            body: Box::new(body),
        })
    }

    pub fn empty() -> Self {
        ResponseBody::of(Kind::Full { data: None })
    }

    pub fn hold(mut self, guard: OpenGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    pub fn observe(mut self, observer: Box<dyn BodyObserver>) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// maxConn's slot, held as long as the body (`MaxConnLayer::in_place`).
impl HoldsPermit for ResponseBody {
    fn hold_permit(&mut self, permit: Permit) {
        self.permit = Some(permit);
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = match this.kind.project() {
            KindProj::Streamed { body } => body.poll_frame(cx).map_err(Into::into),
            KindProj::H1 { body } => Pin::new(&mut **body).poll_frame(cx),
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Buffered { body } => {
                Pin::new(&mut **body).poll_frame(cx).map_err(|e| match e {})
            }
            KindProj::Boxed { body } => body.poll_frame(cx),
        };
        if let Some(observer) = this.observer.as_mut() {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(d) = frame.data_ref() {
                        observer.on_data(d.len());
                    }
                }
                Poll::Ready(None) => {
                    if let Some(mut o) = this.observer.take() {
                        o.on_end(true);
                    }
                }
                Poll::Ready(Some(Err(_))) => {
                    if let Some(mut o) = this.observer.take() {
                        o.on_end(false);
                    }
                }
                Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Streamed { body } => body.is_end_stream(),
            Kind::H1 { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
            Kind::Buffered { body } => body.is_end_stream(),
            Kind::Boxed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Streamed { body } => body.size_hint(),
            Kind::H1 { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Buffered { body } => body.size_hint(),
            Kind::Boxed { body } => body.size_hint(),
        }
    }
}

impl From<&'static str> for ResponseBody {
    fn from(text: &'static str) -> Self {
        ResponseBody::full(text)
    }
}

impl From<String> for ResponseBody {
    fn from(text: String) -> Self {
        ResponseBody::full(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ResponseBody` is moved through every layer: trafik's own client's body must not
    /// make it larger than hyper's `Incoming` did (it is boxed for that).
    #[test]
    fn the_response_body_stays_small() {
        let sizes = (
            std::mem::size_of::<Incoming>(),
            std::mem::size_of::<H1Body>(),
            std::mem::size_of::<ResponseBody>(),
        );
        println!("Incoming, H1Body, ResponseBody: {sizes:?}");
        assert!(std::mem::size_of::<Kind>() <= std::mem::size_of::<Incoming>());
    }
}
