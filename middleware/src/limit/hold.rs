//! How [`MaxConn`](super::MaxConn) keeps a request's [`Permit`] for as long as its
//! response body.
//!
//! By default ([`Wrapped`]) the response body is wrapped in a [`MaxConnBody`]: any body
//! type works. Changing the body type moves the whole response, on every request, so a
//! body type that can hold the permit itself ([`HoldsPermit`]) takes it where it lies
//! instead: [`InPlace`], chosen with [`MaxConnLayer::in_place`](super::MaxConnLayer::in_place).
//!
//! Their functions are always inlined: each hands a whole response over, and a call that
//! is not inlined copies it both ways.

use std::task::Poll;

use http::Response;

use super::max_conn::{MaxConnBody, Permit};

/// The response body the service answers with, made from the inner service's `B`.
pub trait Hold<B> {
    type Body;

    /// The response with `permit` (none for the layer's own answers) held by its body.
    fn hold(response: Response<B>, permit: Option<Permit>) -> Response<Self::Body>;

    /// The inner service's output, a response holding `permit` when there is one. An
    /// error leaves `permit` where it is.
    #[inline(always)]
    fn hold_output<E>(
        output: Poll<Result<Response<B>, E>>,
        permit: &mut Option<Permit>,
    ) -> Poll<Result<Response<Self::Body>, E>> {
        output.map(|result| result.map(|response| Self::hold(response, permit.take())))
    }
}

/// A body type that can keep a permit until it ends or is dropped. It must not hold it
/// longer, or the request counts as in flight after it is done.
pub trait HoldsPermit {
    fn hold_permit(&mut self, permit: Permit);
}

/// Responses come as `Response<MaxConnBody<B>>` (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrapped;

impl<B> Hold<B> for Wrapped {
    type Body = MaxConnBody<B>;

    #[inline(always)]
    fn hold(response: Response<B>, permit: Option<Permit>) -> Response<MaxConnBody<B>> {
        response.map(|inner| MaxConnBody::new(inner, permit))
    }
}

/// Responses keep the inner service's body type, which holds the permit.
#[derive(Debug, Clone, Copy, Default)]
pub struct InPlace;

impl<B: HoldsPermit> Hold<B> for InPlace {
    type Body = B;

    #[inline(always)]
    fn hold(mut response: Response<B>, permit: Option<Permit>) -> Response<B> {
        if let Some(permit) = permit {
            response.body_mut().hold_permit(permit);
        }
        response
    }

    /// Where the output lies: moving a response out and back costs a copy of it.
    #[inline(always)]
    fn hold_output<E>(
        mut output: Poll<Result<Response<B>, E>>,
        permit: &mut Option<Permit>,
    ) -> Poll<Result<Response<B>, E>> {
        if let Poll::Ready(Ok(response)) = &mut output
            && let Some(permit) = permit.take()
        {
            response.body_mut().hold_permit(permit);
        }
        output
    }
}
