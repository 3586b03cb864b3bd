//! A backend as requests see it. Most backends are just a load balancer and the
//! forwarder ([`Forward`]), called directly with the client; a backend with resilience
//! options gets the layered [`Stack`] v1's order asks for (see `stack`), and the request
//! carries its [`RequestContext`] through it.

mod balancer;
mod breakers;
mod forward;
mod optional;
mod stack;

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::Service;

pub use balancer::{Balancer, Method as BalanceMethod, Pick};
pub use breakers::{BreakerRegistry, Classifier, detached_layer};
pub use forward::Forward;
pub use optional::{Optional, OptionalFuture};
pub use stack::{Buffering, Layers, Stack};

use crate::proxy::headers::Forwarded;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};
use crate::request_context::RequestContext;
use crate::stats::BackendStats;

/// What became of a request sent to a backend.
pub struct Outcome {
    pub result: Result<Response<ResponseBody>, ProxyError>,
    /// The server that answered, or the last one tried.
    pub served_by: Option<usize>,
    /// Attempts after the first (v1's `RetryAttempts`).
    pub retries: u32,
}

/// The per-frontend view of a backend: what a request is handed to.
#[derive(Clone)]
pub enum BackendService {
    Plain(Forward),
    /// Boxed: a stack of every optional layer is hundreds of bytes, and 10,000 frontends
    /// each hold their own view.
    Layered(Box<Stack>),
}

impl BackendService {
    pub fn new(forward: Forward, layers: &Layers) -> Self {
        if layers.is_empty() {
            BackendService::Plain(forward)
        } else {
            BackendService::Layered(Box::new(layers.build(forward)))
        }
    }

    /// Sends the request from `client` through the stack. The request counts as open on
    /// the backend until its response body is gone.
    pub async fn call(
        &self,
        req: Request<RequestBody>,
        client: Forwarded,
        stats: &Arc<BackendStats>,
    ) -> Outcome {
        let open = stats.open();
        let mut outcome = match self {
            BackendService::Plain(forward) => {
                let forwarding = forward.forward(req, &client);
                drop(client);
                let (result, served_by) = forwarding.await;
                Outcome {
                    result,
                    served_by,
                    retries: 0,
                }
            }
            BackendService::Layered(stack) => {
                // Every attempt (retry's replays clone the extensions) shares this
                // context's record; this handle reads it back once they are over.
                let mut req = req;
                let context = RequestContext::new(client);
                context.attach(&mut req);
                // Called by shared reference: the call's future holds what it needs, and
                // no clone of the stack is made for the request.
                let mut shared: &Stack = stack;
                // Every layer is ready at once (none holds requests back: maxConn and the
                // breaker answer themselves), so readiness is asked without a future.
                let polled = shared.poll_ready(&mut Context::from_waker(Waker::noop()));
                let result = match polled {
                    Poll::Ready(Ok(())) => std::pin::pin!(shared.call(req)).await,
                    Poll::Ready(Err(error)) => Err(error),
                    Poll::Pending => Box::pin(ready_then_call(shared, req)).await,
                };
                let record = context.record();
                stats.add_retries(record.retries);
                Outcome {
                    result,
                    served_by: record.last_server,
                    retries: record.retries,
                }
            }
        };
        outcome.result = outcome.result.map(|r| r.map(|body| body.hold(open)));
        outcome
    }
}

/// A stack that is not ready at once, waited for in a future of its own.
async fn ready_then_call(
    mut stack: &Stack,
    req: Request<RequestBody>,
) -> Result<Response<ResponseBody>, ProxyError> {
    poll_fn(|cx| stack.poll_ready(cx)).await?;
    stack.call(req).await
}
