//! A backend's resilience layers around its [`Forward`], in v1's order from the outside
//! in: circuit breaker → buffering → retry → maxConn → load balancer → forwarder. Each
//! layer is a tower layer of trafik-middleware.
//!
//! The stack is one concrete type whatever subset of layers a backend has: each layer is
//! an [`Either`] of itself and what it wraps, and the bodies each layer hands on become
//! variants of [`RequestBody`] and [`ResponseBody`] through plain function pointers. So a
//! request costs no boxed service, no boxed future per layer and no boxed body, and
//! cloning the stack for a request only bumps reference counts. (An earlier version boxed
//! each layer; that cost 15–25 % of the throughput on small responses.) A backend with
//! none of the layers is not built here at all (see `BackendService`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::util::{Either, MapRequest, MapResponse, MapResult};
use tower::{Layer, Service};
use trafik_middleware::breaker::{Breaker, BreakerLayer};
use trafik_middleware::buffer::{BufferedBody, Buffering as BufferingService, BufferingLayer};
use trafik_middleware::limit::{MaxConn, MaxConnBody, MaxConnLayer};
use trafik_middleware::retry::{ReplayBody, Retry, RetryLayer};

use super::attempts::PeerKey;
use super::breakers::Classifier;
use super::forward::Forward;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};

type Req = Request<RequestBody>;
type Res = Response<ResponseBody>;
type Judge = fn(Result<Res, ProxyError>) -> Result<Res, ProxyError>;

/// maxConn, or straight to the forwarder.
type Limited = Either<
    MapResponse<MaxConn<Forward, PeerKey>, fn(Response<MaxConnBody<ResponseBody>>) -> Res>,
    Forward,
>;
/// Retry over the above.
type Retried = Either<
    Retry<MapRequest<Limited, fn(Request<ReplayBody<RequestBody>>) -> Req>, RetryClassifier>,
    Limited,
>;
/// Buffering over the above, judging failures as responses when it has a `retryExpression`.
type BufferingStack = MapResult<
    MapResponse<
        BufferingService<MapRequest<MapResult<Retried, Judge>, fn(Request<BufferedBody>) -> Req>>,
        fn(Response<BufferedBody>) -> Res,
    >,
    Judge,
>;
/// Its future is boxed: it is large (it holds whole bodies), and an `Either`'s future is
/// as large as its larger side, moved around on every request whichever side serves it.
type Buffered = Either<BoxedFuture<BufferingStack>, Retried>;
/// The circuit breaker over the above: the whole stack.
pub type Stack = Either<Breaker<Buffered, Classifier>, Buffered>;

pub type RetryClassifier = fn(&ProxyError) -> bool;

fn retryable(e: &ProxyError) -> bool {
    e.is_retryable()
}

/// The layers one backend has; shared by its frontends (one maxConn count, one breaker).
#[derive(Clone, Default)]
pub struct Layers {
    pub breaker: Option<BreakerLayer<Classifier>>,
    pub buffering: Option<Buffering>,
    pub retry: Option<RetryLayer<RetryClassifier>>,
    pub max_conn: Option<MaxConnLayer<PeerKey>>,
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
    pub fn retry(attempts: u32, servers: usize) -> RetryLayer<RetryClassifier> {
        let attempts = if attempts == 0 {
            servers.max(1) as u32
        } else {
            attempts
        };
        RetryLayer::new(attempts, retryable as RetryClassifier)
    }

    pub fn is_empty(&self) -> bool {
        self.breaker.is_none()
            && self.buffering.is_none()
            && self.retry.is_none()
            && self.max_conn.is_none()
    }

    pub fn build(&self, forward: Forward) -> Stack {
        let limited: Limited = match &self.max_conn {
            Some(max_conn) => Either::Left(MapResponse::new(max_conn.layer(forward), counted as _)),
            None => Either::Right(forward),
        };
        let retried: Retried = match &self.retry {
            Some(retry) => Either::Left(retry.layer(MapRequest::new(limited, replayed as _))),
            None => Either::Right(limited),
        };
        let buffered: Buffered = match &self.buffering {
            Some(buffering) => {
                let (inward, outward): (Judge, Judge) = if buffering.retries {
                    (failure_as_response, response_as_failure)
                } else {
                    (passed, passed)
                };
                let inner = MapRequest::new(MapResult::new(retried, inward), buffered_request as _);
                let layered =
                    MapResponse::new(buffering.layer.layer(inner), buffered_response as _);
                Either::Left(BoxedFuture(MapResult::new(layered, outward)))
            }
            None => Either::Right(retried),
        };
        match &self.breaker {
            Some(breaker) => Either::Left(breaker.layer(buffered)),
            None => Either::Right(buffered),
        }
    }
}

/// maxConn's permit moves into trafik's own body, which holds it as long as the response.
fn counted(response: Response<MaxConnBody<ResponseBody>>) -> Res {
    response.map(|body| {
        let (body, permit) = body.into_parts();
        body.hold_permit(permit)
    })
}

fn replayed(request: Request<ReplayBody<RequestBody>>) -> Req {
    request.map(RequestBody::Replay)
}

fn buffered_request(request: Request<BufferedBody>) -> Req {
    request.map(RequestBody::from)
}

fn buffered_response(response: Response<BufferedBody>) -> Res {
    response.map(ResponseBody::buffered)
}

/// The service it wraps, with its future boxed.
#[derive(Clone)]
pub struct BoxedFuture<S>(S);

type ResFuture = Pin<Box<dyn Future<Output = Result<Res, ProxyError>> + Send>>;

impl<S> Service<Req> for BoxedFuture<S>
where
    S: Service<Req, Response = Res, Error = ProxyError>,
    S::Future: Send + 'static,
{
    type Response = Res;
    type Error = ProxyError;
    type Future = ResFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> ResFuture {
        Box::pin(self.0.call(req))
    }
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
