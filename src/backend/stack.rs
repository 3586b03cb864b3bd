//! A backend's resilience layers around its [`Forward`], in v1's order from the outside
//! in: circuit breaker → buffering → retry → maxConn → load balancer → forwarder. Each
//! layer is a tower layer of trafik-middleware; the stack between them is boxed, because
//! each layer hands its inner service a body type of its own and a backend has any subset
//! of them. A backend with none of them is not built here at all (see `BackendService`).

use std::sync::{Arc, Mutex};

use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};
use trafik_middleware::breaker::BreakerLayer;
use trafik_middleware::buffer::{BufferedBody, BufferingLayer};
use trafik_middleware::limit::MaxConnLayer;
use trafik_middleware::retry::{ReplayBody, RetryLayer};

use super::breakers::Classifier;
use super::forward::Forward;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};

pub type Stack = BoxCloneSyncService<Request<RequestBody>, Response<ResponseBody>, ProxyError>;

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
    pub max_conn: Option<MaxConnLayer>,
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
        let mut stack = Stack::new(forward);
        if let Some(max_conn) = &self.max_conn {
            let limited = max_conn.layer(stack);
            stack = Stack::new(ServiceExt::<Request<RequestBody>>::map_response(
                limited,
                |r| r.map(ResponseBody::boxed),
            ));
        }
        if let Some(retry) = &self.retry {
            let inner =
                stack.map_request(|r: Request<ReplayBody<RequestBody>>| r.map(RequestBody::boxed));
            stack = Stack::new(retry.layer(inner));
        }
        if let Some(buffering) = &self.buffering {
            let mut inner = stack;
            if buffering.retries {
                inner = Stack::new(inner.map_result(failure_as_response));
            }
            let inner = inner.map_request(|r: Request<BufferedBody>| r.map(RequestBody::boxed));
            let buffered = buffering.layer.layer(inner);
            stack = Stack::new(ServiceExt::<Request<RequestBody>>::map_response(
                buffered,
                |r: Response<BufferedBody>| r.map(ResponseBody::boxed),
            ));
            if buffering.retries {
                stack = Stack::new(stack.map_result(response_as_failure));
            }
        }
        if let Some(breaker) = &self.breaker {
            stack = Stack::new(breaker.layer(stack));
        }
        stack
    }
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
