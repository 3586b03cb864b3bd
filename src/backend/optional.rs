//! A layer a backend may or may not have: tower's `option_layer`, as a service that can
//! be called by shared reference.
//!
//! tower's `Either` (what `option_layer` builds) is called by `&mut`, so a stack of them
//! shared by every request of a backend would have to be cloned for each request (one
//! reference count per layer up and down). Every layer of trafik's stacks is also a
//! service by `&` (see `stack`), and so is this; its future is the chosen side's, inline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{Layer, Service};

/// `With` the layer's service over `S`, or `Without` it: `S` itself.
#[derive(Clone)]
pub enum Optional<L, S> {
    With(L),
    Without(S),
}

impl<L, S> Optional<L, S> {
    /// `inner` under `layer` when there is one.
    pub fn layer<Y: Layer<S, Service = L>>(layer: Option<&Y>, inner: S) -> Self {
        match layer {
            Some(layer) => Optional::With(layer.layer(inner)),
            None => Optional::Without(inner),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Optional`]: the future of the side it has.
    #[project = OptionalFutureProj]
    pub enum OptionalFuture<L, S> {
        With { #[pin] future: L },
        Without { #[pin] future: S },
    }
}

impl<L, S> Future for OptionalFuture<L, S>
where
    L: Future,
    S: Future<Output = L::Output>,
{
    type Output = L::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            OptionalFutureProj::With { future } => future.poll(cx),
            OptionalFutureProj::Without { future } => future.poll(cx),
        }
    }
}

impl<L, S, R> Service<R> for Optional<L, S>
where
    L: Service<R>,
    S: Service<R, Response = L::Response, Error = L::Error>,
{
    type Response = L::Response;
    type Error = L::Error;
    type Future = OptionalFuture<L::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), L::Error>> {
        match self {
            Optional::With(service) => service.poll_ready(cx),
            Optional::Without(service) => service.poll_ready(cx),
        }
    }

    fn call(&mut self, request: R) -> Self::Future {
        match self {
            Optional::With(service) => OptionalFuture::With {
                future: service.call(request),
            },
            Optional::Without(service) => OptionalFuture::Without {
                future: service.call(request),
            },
        }
    }
}

/// By shared reference: a request calls the stack where it lies, without a clone.
/// `inline(always)` here and on the future's `poll`: four nested levels were otherwise
/// left as calls of their own, about 65 instructions per request more (callgrind).
impl<'a, L, S, R> Service<R> for &'a Optional<L, S>
where
    &'a L: Service<R>,
    &'a S: Service<R, Response = <&'a L as Service<R>>::Response, Error = <&'a L as Service<R>>::Error>,
{
    type Response = <&'a L as Service<R>>::Response;
    type Error = <&'a L as Service<R>>::Error;
    type Future = OptionalFuture<<&'a L as Service<R>>::Future, <&'a S as Service<R>>::Future>;

    #[inline(always)]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match *self {
            Optional::With(service) => {
                let mut service = service;
                service.poll_ready(cx)
            }
            Optional::Without(service) => {
                let mut service = service;
                service.poll_ready(cx)
            }
        }
    }

    #[inline(always)]
    fn call(&mut self, request: R) -> Self::Future {
        match *self {
            Optional::With(service) => {
                let mut service = service;
                OptionalFuture::With {
                    future: service.call(request),
                }
            }
            Optional::Without(service) => {
                let mut service = service;
                OptionalFuture::Without {
                    future: service.call(request),
                }
            }
        }
    }
}
