//! A request body that can be sent again: what one attempt read is kept for the next.

use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

type BoxError = Box<dyn Error + Send + Sync>;

/// The body the inner service of [`Retry`](super::Retry) gets.
///
/// Every copy (one per attempt) yields the same frames: first the data frames some copy has
/// already read from the client's body, then whatever is still to come from it, which the
/// copy reads itself and keeps for the others. Copies may even be read at the same time (an
/// abandoned attempt still draining), as each keeps its own position.
///
/// Chunks are kept only up to a byte limit; past it they are dropped, the request stops
/// being replayable, and a copy that would need them fails with [`ReplayError`].
pub struct ReplayBody<B> {
    /// `None` for a body that was empty from the start (most retried requests: GET, HEAD):
    /// every copy is empty, with nothing to share, lock or allocate.
    shared: Option<Arc<Mutex<Shared<B>>>>,
    /// Data frames this copy has yielded.
    pos: usize,
    /// Whether this copy has yielded the trailers (or found there are none).
    trailers_done: bool,
}

struct Shared<B> {
    body: Pin<Box<B>>,
    /// Every data frame read from `body`, while `replayable`.
    chunks: Vec<Bytes>,
    /// Data frames read from `body`: the position of the copy that reads it next.
    read: usize,
    /// Bytes in `chunks`.
    kept: usize,
    limit: usize,
    replayable: bool,
    trailers: Option<HeaderMap>,
    /// `body` has ended (after its trailers, if any).
    ended: bool,
    /// `body` returned an error; it is not polled again.
    failed: bool,
}

/// A copy of a [`ReplayBody`] needed chunks that were not kept, or the client's body had
/// already failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayError;

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body can no longer be replayed")
    }
}

impl Error for ReplayError {}

impl<B> ReplayBody<B> {
    /// Wraps `body`, keeping up to `limit` bytes; `replayable: false` keeps nothing (a body
    /// known to be too large, or a request that will not be retried).
    pub(crate) fn new(body: B, limit: usize, replayable: bool) -> Self
    where
        B: Body,
    {
        if body.is_end_stream() {
            return ReplayBody::empty();
        }
        ReplayBody {
            shared: Some(Arc::new(Mutex::new(Shared {
                body: Box::pin(body),
                chunks: Vec::new(),
                read: 0,
                kept: 0,
                limit,
                replayable,
                trailers: None,
                ended: false,
                failed: false,
            }))),
            pos: 0,
            trailers_done: false,
        }
    }

    /// A body that is empty, as is every copy of it.
    pub(crate) fn empty() -> Self {
        ReplayBody {
            shared: None,
            pos: 0,
            trailers_done: true,
        }
    }

    /// A fresh copy that yields the body from its start.
    pub(crate) fn replay(&self) -> Self {
        ReplayBody {
            shared: self.shared.clone(),
            pos: 0,
            trailers_done: self.shared.is_none(),
        }
    }

    /// Whether a fresh copy would yield the whole body.
    pub(crate) fn is_replayable(&self) -> bool {
        self.shared.as_ref().is_none_or(|s| lock(s).replayable)
    }
}

fn lock<B>(shared: &Mutex<Shared<B>>) -> MutexGuard<'_, Shared<B>> {
    // A panic elsewhere while holding the lock leaves consistent counters behind.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl<B> Body for ReplayBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(shared) = &this.shared else {
            return Poll::Ready(None);
        };
        let mut shared = lock(shared);
        if this.pos < shared.read {
            let Some(chunk) = shared.chunks.get(this.pos) else {
                return Poll::Ready(Some(Err(ReplayError.into())));
            };
            this.pos += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
        }
        if shared.ended {
            if !std::mem::replace(&mut this.trailers_done, true)
                && let Some(trailers) = &shared.trailers
            {
                return Poll::Ready(Some(Ok(Frame::trailers(trailers.clone()))));
            }
            return Poll::Ready(None);
        }
        if shared.failed {
            return Poll::Ready(Some(Err(ReplayError.into())));
        }
        loop {
            let frame = match ready!(shared.body.as_mut().poll_frame(cx)) {
                None => {
                    shared.ended = true;
                    this.trailers_done = true;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    shared.failed = true;
                    shared.replayable = false;
                    shared.chunks = Vec::new();
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Ok(frame)) => frame,
            };
            let frame = match frame.into_data() {
                Ok(mut data) => {
                    let chunk = data.copy_to_bytes(data.remaining());
                    shared.keep(chunk.clone());
                    this.pos += 1;
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                Err(frame) => frame,
            };
            if let Ok(trailers) = frame.into_trailers() {
                shared.trailers = Some(trailers.clone());
                shared.ended = true;
                this.trailers_done = true;
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            // A kind of frame newer than this code: neither data nor trailers, so not
            // something a request body carries; skip it.
        }
    }

    fn is_end_stream(&self) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        let shared = lock(shared);
        if self.pos < shared.read {
            return false;
        }
        if shared.ended {
            return self.trailers_done || shared.trailers.is_none();
        }
        !shared.failed && shared.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let Some(shared) = &self.shared else {
            return SizeHint::with_exact(0);
        };
        let shared = lock(shared);
        let rest = if shared.ended {
            SizeHint::with_exact(0)
        } else {
            shared.body.size_hint()
        };
        if self.pos == shared.read {
            return rest;
        }
        if !shared.replayable {
            return SizeHint::default();
        }
        let kept: u64 = shared.chunks[self.pos..]
            .iter()
            .map(|c| c.len() as u64)
            .sum();
        let mut hint = SizeHint::new();
        hint.set_lower(kept.saturating_add(rest.lower()));
        if let Some(upper) = rest.upper() {
            hint.set_upper(kept.saturating_add(upper));
        }
        hint
    }
}

impl<B> Shared<B> {
    /// Records a chunk just read from `body`.
    fn keep(&mut self, chunk: Bytes) {
        self.read += 1;
        if !self.replayable {
            return;
        }
        if self.kept + chunk.len() > self.limit {
            // Too large to replay: free what was kept rather than hold it for nothing.
            self.replayable = false;
            self.chunks = Vec::new();
            return;
        }
        self.kept += chunk.len();
        self.chunks.push(chunk);
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(shared) = &self.shared else {
            return f.debug_struct("ReplayBody").field("empty", &true).finish();
        };
        let shared = lock(shared);
        f.debug_struct("ReplayBody")
            .field("pos", &self.pos)
            .field("read", &shared.read)
            .field("kept", &shared.kept)
            .field("replayable", &shared.replayable)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use http::HeaderValue;
    use http_body_util::BodyExt;

    /// A body of given frames, reporting no size.
    struct Frames(VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn frames(data: &[&'static str], trailer: bool) -> Frames {
        let mut frames: VecDeque<_> = data
            .iter()
            .map(|d| Frame::data(Bytes::from_static(d.as_bytes())))
            .collect();
        if trailer {
            let mut t = HeaderMap::new();
            t.insert("x-sum", HeaderValue::from_static("42"));
            frames.push_back(Frame::trailers(t));
        }
        Frames(frames)
    }

    async fn read_all<B>(body: B) -> Result<(Bytes, Option<HeaderMap>), BoxError>
    where
        B: Body<Data = Bytes, Error = BoxError>,
    {
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok((collected.to_bytes(), trailers))
    }

    #[tokio::test]
    async fn an_empty_body_needs_nothing_shared() {
        let first = ReplayBody::new(http_body_util::Empty::<Bytes>::new(), 64, true);
        assert!(first.shared.is_none());
        let second = first.replay();
        assert!(first.is_replayable() && first.is_end_stream());
        assert_eq!(second.size_hint().exact(), Some(0));
        assert_eq!(read_all(first).await.unwrap(), (Bytes::new(), None));
        assert_eq!(read_all(second).await.unwrap(), (Bytes::new(), None));
    }

    #[tokio::test]
    async fn every_copy_yields_the_same_frames() {
        let first = ReplayBody::new(frames(&["ab", "cd"], true), 64, true);
        let second = first.replay();
        let (data, trailers) = read_all(first).await.unwrap();
        assert_eq!(data, "abcd");
        assert_eq!(trailers.unwrap()["x-sum"], "42");
        assert!(second.is_replayable());
        assert_eq!(second.size_hint().exact(), Some(4));
        let third = second.replay();
        let (data, trailers) = read_all(second).await.unwrap();
        assert_eq!(data, "abcd");
        assert!(trailers.is_some());
        assert_eq!(read_all(third).await.unwrap().0, "abcd");
    }

    #[tokio::test]
    async fn a_partly_read_body_is_replayed_then_continued() {
        let mut first = ReplayBody::new(frames(&["ab", "cd", "ef"], false), 64, true);
        let chunk = first.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(chunk, "ab");
        let again = first.replay();
        drop(first);
        assert_eq!(read_all(again).await.unwrap().0, "abcdef");
    }

    #[tokio::test]
    async fn past_the_limit_nothing_is_kept() {
        let first = ReplayBody::new(frames(&["abc", "def"], false), 5, true);
        let second = first.replay();
        assert_eq!(read_all(first).await.unwrap().0, "abcdef");
        assert!(!second.is_replayable());
        let err = read_all(second).await.unwrap_err();
        assert!(err.is::<ReplayError>());
    }

    #[tokio::test]
    async fn exactly_the_limit_is_replayable() {
        let first = ReplayBody::new(frames(&["abc", "de"], false), 5, true);
        let second = first.replay();
        read_all(first).await.unwrap();
        assert_eq!(read_all(second).await.unwrap().0, "abcde");
    }

    #[tokio::test]
    async fn not_replayable_passes_through() {
        let first = ReplayBody::new(frames(&["abc"], false), 64, false);
        let second = first.replay();
        assert!(!second.is_replayable());
        assert_eq!(read_all(first).await.unwrap().0, "abc");
        assert!(read_all(second).await.unwrap_err().is::<ReplayError>());
    }
}
