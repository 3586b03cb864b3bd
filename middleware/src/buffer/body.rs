//! A body that is all in memory.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// A whole body read into memory, trailers included: what [`Buffering`](super::Buffering)
/// sends to the inner service and answers with. Yields its data in one frame, then its
/// trailers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BufferedBody {
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl BufferedBody {
    pub fn new(data: impl Into<Bytes>) -> Self {
        BufferedBody {
            data: data.into(),
            trailers: None,
        }
    }

    pub fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(trailers);
        self
    }

    /// The data not yet yielded.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    pub fn into_parts(self) -> (Bytes, Option<HeaderMap>) {
        (self.data, self.trailers)
    }
}

impl Body for BufferedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if !this.data.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut this.data)))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

impl From<Bytes> for BufferedBody {
    fn from(data: Bytes) -> Self {
        BufferedBody::new(data)
    }
}

impl From<&'static str> for BufferedBody {
    fn from(text: &'static str) -> Self {
        BufferedBody::new(Bytes::from_static(text.as_bytes()))
    }
}

impl From<String> for BufferedBody {
    fn from(text: String) -> Self {
        BufferedBody::new(text)
    }
}

impl From<Vec<u8>> for BufferedBody {
    fn from(data: Vec<u8>) -> Self {
        BufferedBody::new(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn data_then_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", HeaderValue::from_static("1"));
        let body = BufferedBody::from("abc").with_trailers(trailers);
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-t"], "1");
        assert_eq!(collected.to_bytes(), "abc");
        assert!(BufferedBody::default().is_end_stream());
    }
}
