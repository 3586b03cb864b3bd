//! A backend's resilience layers around its [`Forward`], in v1's order from the outside
//! in: circuit breaker → buffering → retry → maxConn → load balancer → forwarder. Each
//! layer is a tower layer of trafik-middleware.
//!
//! The stack is one concrete type whatever subset of layers a backend has: an enum with
//! one variant per combination, each a plain composition of the layers it has. Retry and
//! maxConn work in place (`in_place`): the replayable copy of a request body is a variant
//! of [`RequestBody`], and the maxConn permit is held by [`ResponseBody`], so no layer
//! changes the request's or the response's type, which would move all of it on every
//! request. A request costs one `match`, no boxed service, no boxed future and no boxed
//! body, and the stack is called by shared reference (every layer is a service by `&` as
//! well), so a request does not even clone it. (Boxing each layer cost 15–25 % of the
//! throughput on small responses. Nesting one `Either` per optional layer, each moving the
//! request and wrapping the future once more, cost 0.2–0.5 % more instructions per
//! request than this through every layer, and about 0.9 % more through one.) Buffering,
//! which holds whole bodies anyway, is the exception: it and the breaker over it are
//! boxed (its future is allocated per request), so that its large future does not make
//! every other stack's future larger. A backend with none of the layers is not built here
//! at all (see `BackendService`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::util::{MapRequest, MapResponse, MapResult};
use tower::{Layer, Service, ServiceExt};
use trafik_middleware::breaker::{Breaker, BreakerLayer};
use trafik_middleware::buffer::{BufferedBody, Buffering as BufferingService, BufferingLayer};
use trafik_middleware::limit::{self, MaxConn, MaxConnLayer};
use trafik_middleware::retry::{self, Retry, RetryLayer};

use super::attempts::PeerKey;
use super::breakers::Classifier;
use super::forward::Forward;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};

type Req = Request<RequestBody>;
type Res = Response<ResponseBody>;
type Judge = fn(Result<Res, ProxyError>) -> Result<Res, ProxyError>;

/// maxConn over the forwarder; the response body holds the permit itself.
type Limited = MaxConn<Forward, PeerKey, limit::InPlace>;
/// Retry over `S`; the request body holds the replayable copy itself.
type Retried<S> = Retry<S, RetryClassifier, retry::InPlace>;
/// The circuit breaker over `S`.
type Broken<S> = Breaker<S, Classifier>;
/// Buffering over `S`, judging failures as responses when it has a `retryExpression`.
type Buffered<S> = MapResult<
    MapResponse<
        BufferingService<MapRequest<MapResult<S, Judge>, fn(Request<BufferedBody>) -> Req>>,
        fn(Response<BufferedBody>) -> Res,
    >,
    Judge,
>;
/// A stack with buffering: buffering over a [`Stack`] without, and the breaker if any
/// over it. Behind an `Arc` (its type holds a `Stack`), with its future boxed: a request
/// clones the service inside without allocating, where tower's `BoxCloneSyncService`
/// would allocate for the clone too.
#[derive(Clone)]
pub struct Boxed(Arc<dyn Fn(Req) -> ResFuture + Send + Sync>);

type ResFuture = Pin<Box<dyn Future<Output = Result<Res, ProxyError>> + Send>>;

impl Boxed {
    fn new<S>(service: S) -> Self
    where
        S: Service<Req, Response = Res, Error = ProxyError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        Boxed(Arc::new(move |req| Box::pin(service.clone().oneshot(req))))
    }
}

/// Ready at once: the service inside is readied in the boxed future. By shared reference,
/// as every variant of [`Stack`] is called.
impl Service<Req> for &Boxed {
    type Response = Res;
    type Error = ProxyError;
    type Future = ResFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> ResFuture {
        (self.0)(req)
    }
}

/// Declares [`Stack`] and its future, with one variant per combination of layers.
macro_rules! stacks {
    ($($(#[$doc:meta])* $variant:ident($service:ty),)*) => {
        /// A backend's layers, built: see [the module](self).
        #[derive(Clone)]
        pub enum Stack {
            $($(#[$doc])* $variant($service),)*
        }

        pin_project_lite::pin_project! {
            /// Future of [`Stack`]: the future of the variant's service (called by
            /// reference; its future borrows nothing, whatever the reference's lifetime).
            #[project = StackFutureProj]
            pub enum StackFuture {
                $($variant { #[pin] future: <&'static $service as Service<Req>>::Future },)*
            }
        }

        /// By shared reference, as every layer is: a request calls the stack as it is,
        /// without a clone (each clone bumps a reference count per layer).
        impl<'a> Service<Req> for &'a Stack {
            type Response = Res;
            type Error = ProxyError;
            type Future = StackFuture;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
                match *self {
                    $(Stack::$variant(service) => {
                        let mut service = service;
                        Service::<Req>::poll_ready(&mut service, cx)
                    })*
                }
            }

            fn call(&mut self, req: Req) -> StackFuture {
                match *self {
                    $(Stack::$variant(service) => {
                        let mut service = service;
                        StackFuture::$variant {
                            future: Service::<Req>::call(&mut service, req),
                        }
                    })*
                }
            }
        }

        /// Owned, for what wraps a stack as tower services do (buffering): the same as
        /// by reference.
        impl Service<Req> for Stack {
            type Response = Res;
            type Error = ProxyError;
            type Future = StackFuture;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
                Service::<Req>::poll_ready(&mut &*self, cx)
            }

            fn call(&mut self, req: Req) -> StackFuture {
                Service::<Req>::call(&mut &*self, req)
            }
        }

        impl Future for StackFuture {
            type Output = Result<Res, ProxyError>;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                match self.project() {
                    $(StackFutureProj::$variant { future } => future.poll(cx),)*
                }
            }
        }
    };
}

stacks! {
    /// No layer: only under buffering.
    Forward(Forward),
    Limited(Limited),
    Retried(Retried<Forward>),
    RetriedLimited(Retried<Limited>),
    Broken(Broken<Forward>),
    BrokenLimited(Broken<Limited>),
    BrokenRetried(Broken<Retried<Forward>>),
    BrokenRetriedLimited(Broken<Retried<Limited>>),
    /// With buffering, boxed.
    Buffered(Boxed),
}

pub type RetryClassifier = fn(&ProxyError) -> bool;

fn retryable(e: &ProxyError) -> bool {
    e.is_retryable()
}

/// The layers one backend has; shared by its frontends (one maxConn count, one breaker).
#[derive(Clone, Default)]
pub struct Layers {
    pub breaker: Option<BreakerLayer<Classifier>>,
    pub buffering: Option<Buffering>,
    pub retry: Option<RetryLayer<RetryClassifier, retry::InPlace>>,
    pub max_conn: Option<MaxConnLayer<PeerKey, limit::InPlace>>,
}

#[derive(Clone)]
pub struct Buffering {
    pub layer: BufferingLayer,
    /// A `retryExpression` is set: it judges failures to forward as the 502/504 answers
    /// they become, as in v1, so they reach the buffering layer as responses.
    pub retries: bool,
}

impl Layers {
    /// `attempts` for `[retry]`: 0 means one per server, as v1.
    pub fn retry(attempts: u32, servers: usize) -> RetryLayer<RetryClassifier, retry::InPlace> {
        let attempts = if attempts == 0 {
            servers.max(1) as u32
        } else {
            attempts
        };
        RetryLayer::new(attempts, retryable as RetryClassifier).in_place()
    }

    pub fn is_empty(&self) -> bool {
        self.breaker.is_none()
            && self.buffering.is_none()
            && self.retry.is_none()
            && self.max_conn.is_none()
    }

    pub fn build(&self, forward: Forward) -> Stack {
        if let Some(buffering) = &self.buffering {
            let below = Layers {
                breaker: None,
                buffering: None,
                ..self.clone()
            };
            let buffered = buffering.over(below.build(forward));
            return Stack::Buffered(match &self.breaker {
                Some(breaker) => Boxed::new(breaker.layer(buffered)),
                None => Boxed::new(buffered),
            });
        }
        let max_conn = |m: &MaxConnLayer<PeerKey, limit::InPlace>| m.layer(forward.clone());
        match (&self.breaker, &self.retry, &self.max_conn) {
            (None, None, None) => Stack::Forward(forward),
            (None, None, Some(m)) => Stack::Limited(max_conn(m)),
            (None, Some(r), None) => Stack::Retried(r.layer(forward)),
            (None, Some(r), Some(m)) => Stack::RetriedLimited(r.layer(max_conn(m))),
            (Some(b), None, None) => Stack::Broken(b.layer(forward)),
            (Some(b), None, Some(m)) => Stack::BrokenLimited(b.layer(max_conn(m))),
            (Some(b), Some(r), None) => Stack::BrokenRetried(b.layer(r.layer(forward))),
            (Some(b), Some(r), Some(m)) => {
                Stack::BrokenRetriedLimited(b.layer(r.layer(max_conn(m))))
            }
        }
    }
}

impl Buffering {
    /// The buffering layer over `inner`, judging failures as responses below it and back
    /// as failures above it when it has a `retryExpression`.
    fn over(&self, inner: Stack) -> Buffered<Stack> {
        let (inward, outward): (Judge, Judge) = if self.retries {
            (failure_as_response, response_as_failure)
        } else {
            (passed, passed)
        };
        let inner = MapRequest::new(MapResult::new(inner, inward), buffered_request as _);
        MapResult::new(
            MapResponse::new(self.layer.layer(inner), buffered_response as _),
            outward,
        )
    }
}

fn buffered_request(request: Request<BufferedBody>) -> Req {
    request.map(RequestBody::from)
}

fn buffered_response(response: Response<BufferedBody>) -> Res {
    response.map(ResponseBody::buffered)
}

fn passed(result: Result<Res, ProxyError>) -> Result<Res, ProxyError> {
    result
}

/// A failure to forward, carried through the buffering layer inside the response it
/// became, and handed back as the error it was above it.
#[derive(Clone)]
struct Failure(Arc<Mutex<Option<ProxyError>>>);

fn failure_as_response(
    result: Result<Response<ResponseBody>, ProxyError>,
) -> Result<Response<ResponseBody>, ProxyError> {
    Ok(match result {
        Ok(response) => response,
        Err(error) => {
            let mut response = Response::new(ResponseBody::empty());
            *response.status_mut() = error.status();
            response
                .extensions_mut()
                .insert(Failure(Arc::new(Mutex::new(Some(error)))));
            response
        }
    })
}

fn response_as_failure(
    result: Result<Response<ResponseBody>, ProxyError>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let mut response = result?;
    match response.extensions_mut().remove::<Failure>() {
        Some(Failure(error)) => {
            let taken = error.lock().unwrap_or_else(|e| e.into_inner()).take();
            match taken {
                Some(error) => Err(error),
                None => Ok(response),
            }
        }
        None => Ok(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request moves the stack's future around a few times, so its size is a cost
    /// on every request: a layer that keeps a large value inline (a whole response, a
    /// request's headers) in its future makes every backend with layers slower. This was
    /// 1184 bytes before the large parts were boxed or made on demand; 184 now, with the
    /// forwarder's own future inline rather than boxed (a boxed one costs an allocation
    /// per request).
    #[test]
    fn the_stack_future_stays_small() {
        let size = std::mem::size_of::<<Stack as Service<Req>>::Future>();
        assert!(size <= 192, "the stack's future takes {size} bytes");
    }
}
