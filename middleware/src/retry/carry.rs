//! How [`Retry`](super::Retry) hands the request body to the inner service.
//!
//! By default ([`Wrapped`]) the inner service gets `Request<ReplayBody<B>>`: any body type
//! works. A request is a few hundred bytes, though, and changing its body type moves all
//! of it, on every request, even the ones that are never retried. A body type that can
//! hold a [`ReplayBody`] of itself (an enum with a variant for it) can be wrapped where it
//! lies instead, and a request that will not be retried is passed on untouched:
//! [`InPlace`], chosen with [`RetryLayer::in_place`](super::RetryLayer::in_place).
//!
//! Their functions are always inlined: each hands a whole request over, and a call that
//! is not inlined copies it both ways.

use std::mem;

use http::Request;
use http_body::Body;

use super::body::ReplayBody;

/// The inner service's request body, made from the client's `B`.
pub trait Carry<B> {
    /// What the inner service is sent.
    type Body;

    /// The request of a first attempt that may be retried; `copy` becomes the copy of its
    /// body that further attempts replay (keeping up to `limit` bytes).
    fn keep(req: Request<B>, limit: usize, copy: &mut ReplayBody<B>) -> Request<Self::Body>;

    /// The request of an attempt that will not be retried: nothing is kept of its body.
    fn pass(req: Request<B>, limit: usize) -> Request<Self::Body>;

    /// A further attempt's body.
    fn replay(body: ReplayBody<B>) -> Self::Body;
}

/// The inner service gets `Request<ReplayBody<B>>` (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrapped;

impl<B: Body> Carry<B> for Wrapped {
    type Body = ReplayBody<B>;

    #[inline(always)]
    fn keep(req: Request<B>, limit: usize, copy: &mut ReplayBody<B>) -> Request<ReplayBody<B>> {
        let req = req.map(|body| ReplayBody::new(body, limit, true));
        *copy = req.body().replay();
        req
    }

    #[inline(always)]
    fn pass(req: Request<B>, limit: usize) -> Request<ReplayBody<B>> {
        req.map(|body| ReplayBody::new(body, limit, false))
    }

    #[inline(always)]
    fn replay(body: ReplayBody<B>) -> ReplayBody<B> {
        body
    }
}

/// The inner service gets the client's body type itself, which holds the replayable copy
/// when there is one: `B::from(ReplayBody<B>)`. An empty body (most retryable requests:
/// GET, HEAD) is passed on untouched, and a further attempt gets an empty copy.
/// `B::default()` only stands in for a body for the instant it is being wrapped.
#[derive(Debug, Clone, Copy, Default)]
pub struct InPlace;

impl<B> Carry<B> for InPlace
where
    B: Body + Default + From<ReplayBody<B>>,
{
    type Body = B;

    #[inline(always)]
    fn keep(mut req: Request<B>, limit: usize, copy: &mut ReplayBody<B>) -> Request<B> {
        if req.body().is_end_stream() {
            *copy = ReplayBody::empty();
            return req;
        }
        let body = ReplayBody::new(mem::take(req.body_mut()), limit, true);
        *copy = body.replay();
        *req.body_mut() = B::from(body);
        req
    }

    #[inline(always)]
    fn pass(req: Request<B>, _limit: usize) -> Request<B> {
        req
    }

    #[inline(always)]
    fn replay(body: ReplayBody<B>) -> B {
        B::from(body)
    }
}
