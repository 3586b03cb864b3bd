//! A response body that keeps its request open (`RequestGuard`) until it ends or is dropped,
//! so the connection knows when it is idle and when a write deadline no longer applies.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::deadlines::RequestGuard;

pin_project_lite::pin_project! {
    pub struct Tracked<B> {
        #[pin]
        body: B,
        guard: Option<RequestGuard>,
    }
}

impl<B> Tracked<B> {
    pub fn new(body: B, guard: RequestGuard) -> Self {
        Tracked {
            body,
            guard: Some(guard),
        }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.body.poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // hyper may keep an ended body a while: the request is over now.
            this.guard.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
