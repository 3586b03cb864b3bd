//! A backend as requests see it: `[circuit breaker →] load balancer → forwarder`, in v1's
//! order. The breaker is a tower layer from trafik-middleware wrapped around a service that
//! balances and forwards; a backend without a breaker skips the layer and the boxing it
//! needs, so the common path stays as short as it was.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use tower::{Layer, Service, ServiceExt};
use trafik_config::breaker::{BreakerExpr, Metrics};
use trafik_middleware::breaker::{Breaker, BreakerLayer, BreakerState, RollingMetrics};

use crate::proxy::{ErrorKind, Forwarder, ProxyError, ResponseBody};
use crate::runtime::BackendHandle;

/// Which server answered, for the access log; set on responses that went through a layer.
#[derive(Debug, Clone, Copy)]
pub struct ServedBy(pub usize);

/// Balances and forwards: the innermost service of every backend.
#[derive(Clone)]
pub struct Forward {
    pub backend: Arc<BackendHandle>,
    pub forwarder: Arc<Forwarder>,
    pub pass_host_header: bool,
}

impl Forward {
    /// Picks a server and forwards; also says which server was picked.
    pub async fn forward(
        &self,
        req: Request<Incoming>,
    ) -> (Result<Response<ResponseBody>, ProxyError>, Option<usize>) {
        let Some(index) = self.backend.pick_index() else {
            return (Err(ProxyError::new(ErrorKind::NoServer)), None);
        };
        let target = &self.backend.servers[index].target;
        let result = self
            .forwarder
            .forward(req, target, self.pass_host_header)
            .await;
        (result.map(|r| r.map(ResponseBody::streamed)), Some(index))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<Incoming>> for Forward {
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = BoxFuture<Result<Response<ResponseBody>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (result, served_by) = this.forward(req).await;
            result.map(|mut r| {
                if let Some(i) = served_by {
                    r.extensions_mut().insert(ServedBy(i));
                }
                r
            })
        })
    }
}

/// Every failure trafik sees on the way to a server counts as a network error, except
/// having no server at all (that is the breaker's own business, not the network's).
fn is_network_error(e: &ProxyError) -> bool {
    e.kind != ErrorKind::NoServer
}

type Classifier = fn(&ProxyError) -> bool;

/// The per-frontend view of a backend: what a request is handed to.
#[derive(Clone)]
pub enum BackendService {
    Plain(Forward),
    Breaker(Breaker<Forward, Classifier>),
}

impl BackendService {
    pub fn new(forward: Forward, breaker: Option<&BreakerLayer<Classifier>>) -> Self {
        match breaker {
            Some(layer) => BackendService::Breaker(layer.layer(forward)),
            None => BackendService::Plain(forward),
        }
    }

    /// Sends the request through the stack; the server index when known.
    pub async fn call(
        &self,
        req: Request<Incoming>,
    ) -> (Result<Response<ResponseBody>, ProxyError>, Option<usize>) {
        match self {
            BackendService::Plain(forward) => forward.forward(req).await,
            BackendService::Breaker(breaker) => {
                let result = breaker.clone().oneshot(req).await;
                let served_by = result
                    .as_ref()
                    .ok()
                    .and_then(|r| r.extensions().get::<ServedBy>())
                    .map(|s| s.0);
                (result, served_by)
            }
        }
    }
}

impl From<&'static str> for ResponseBody {
    fn from(text: &'static str) -> Self {
        ResponseBody::full(text)
    }
}

/// `RollingMetrics` seen through the expression language's `Metrics` trait.
struct View<'a>(&'a RollingMetrics);

impl Metrics for View<'_> {
    fn network_error_ratio(&self) -> f64 {
        self.0.network_error_ratio()
    }
    fn latency_at_quantile_ms(&self, q: f64) -> f64 {
        self.0.latency_at_quantile_ms(q)
    }
    fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64 {
        self.0.response_code_ratio(a, b, c, d)
    }
}

/// Breaker states by (backend, expression): a reload that keeps both keeps the state, so
/// a tripped breaker stays tripped.
#[derive(Default)]
pub struct BreakerRegistry {
    states: HashMap<(String, String), BreakerState>,
}

impl BreakerRegistry {
    pub fn layer(
        &mut self,
        backend: &str,
        expression: &str,
        expr: BreakerExpr,
    ) -> BreakerLayer<Classifier> {
        let state = self
            .states
            .entry((backend.to_string(), expression.to_string()))
            .or_default()
            .clone();
        BreakerLayer::new(state, move |m: &RollingMetrics| expr.eval(&View(m)))
            .network_errors(is_network_error as Classifier)
    }

    pub fn retain(&mut self, live: &HashSet<(String, String)>) {
        self.states.retain(|k, _| live.contains(k));
    }
}

/// A layer without a registry (for `trafik check`, which serves nothing).
pub fn detached_layer(expr: BreakerExpr) -> BreakerLayer<Classifier> {
    BreakerLayer::new(BreakerState::new(), move |m: &RollingMetrics| {
        expr.eval(&View(m))
    })
    .network_errors(is_network_error as Classifier)
}
