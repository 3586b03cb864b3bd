//! A backend as requests see it. Most backends are just a load balancer and the
//! forwarder ([`Forward`]), called directly; a backend with resilience options gets the
//! layered [`Stack`] v1's order asks for (see `stack`).

mod attempts;
mod balancer;
mod breakers;
mod forward;
mod stack;

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::Service;

pub use attempts::PeerKey;
pub use balancer::{Balancer, Method as BalanceMethod, Pick};
pub use breakers::{BreakerRegistry, Classifier, detached_layer};
pub use forward::Forward;
pub use stack::{Buffering, Layers, Stack};

use crate::proxy::headers::Forwarded;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};
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
    Layered(Stack),
}

impl BackendService {
    pub fn new(forward: Forward, layers: &Layers) -> Self {
        if layers.is_empty() {
            BackendService::Plain(forward)
        } else {
            BackendService::Layered(layers.build(forward))
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
                // Called by shared reference: the call's future holds what it needs, and
                // no clone of the stack is made for the request.
                let mut shared: &Stack = stack;
                // Every layer is ready at once (none holds requests back: maxConn and the
                // breaker answer themselves), so readiness is asked without a future.
                let polled = shared.poll_ready(&mut Context::from_waker(Waker::noop()));
                let (result, record) = match polled {
                    Poll::Ready(Ok(())) => attempts::call(&mut shared, client, req).await,
                    Poll::Ready(Err(error)) => (Err(error), attempts::Record::default()),
                    Poll::Pending => Box::pin(ready_then_call(shared, client, req)).await,
                };
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
    client: Forwarded,
    req: Request<RequestBody>,
) -> (Result<Response<ResponseBody>, ProxyError>, attempts::Record) {
    if let Err(error) = poll_fn(|cx| stack.poll_ready(cx)).await {
        return (Err(error), attempts::Record::default());
    }
    attempts::call(&mut stack, client, req).await
}
