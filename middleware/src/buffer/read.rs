//! Reading a whole body into memory, up to a limit.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;

use super::body::BufferedBody;

/// Why a body could not be read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// More data than the limit.
    TooLarge,
    /// The body itself failed.
    Body,
}

pin_project_lite::pin_project! {
    /// Reads `body` to its end, failing as soon as it has more than `limit` bytes.
    pub(crate) struct ReadAll<B> {
        #[pin]
        body: B,
        limit: u64,
        len: u64,
        chunks: Vec<Bytes>,
        trailers: Option<HeaderMap>,
    }
}

impl<B> ReadAll<B> {
    /// `limit` 0 means none.
    pub(crate) fn new(body: B, limit: u64) -> Self {
        ReadAll {
            body,
            limit: if limit == 0 { u64::MAX } else { limit },
            len: 0,
            chunks: Vec::new(),
            trailers: None,
        }
    }
}

impl<B: Body> ReadAll<B> {
    pub(crate) fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<BufferedBody, ReadError>> {
        let mut this = self.project();
        loop {
            let frame = match ready!(this.body.as_mut().poll_frame(cx)) {
                None => break,
                Some(Err(_)) => return Poll::Ready(Err(ReadError::Body)),
                Some(Ok(frame)) => frame,
            };
            match frame.into_data() {
                Ok(mut data) => {
                    *this.len += data.remaining() as u64;
                    if *this.len > *this.limit {
                        return Poll::Ready(Err(ReadError::TooLarge));
                    }
                    this.chunks.push(data.copy_to_bytes(data.remaining()));
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        this.trailers
                            .get_or_insert_with(HeaderMap::new)
                            .extend(trailers);
                    }
                }
            }
        }
        let data = match this.chunks.len() {
            0 => Bytes::new(),
            1 => this.chunks.pop().unwrap_or_default(),
            _ => {
                let mut all = BytesMut::with_capacity(*this.len as usize);
                for chunk in this.chunks.drain(..) {
                    all.extend_from_slice(&chunk);
                }
                all.freeze()
            }
        };
        let body = BufferedBody::new(data);
        Poll::Ready(Ok(match this.trailers.take() {
            Some(trailers) => body.with_trailers(trailers),
            None => body,
        }))
    }
}
