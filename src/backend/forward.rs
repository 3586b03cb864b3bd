//! The innermost service of every backend: pick a server, forward, and tell the balancer
//! how it went.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::SET_COOKIE;
use http::{Request, Response};
use tower::Service;

use super::attempts;
use crate::proxy::{ErrorKind, Forwarder, ProxyError, RequestBody, ResponseBody};
use crate::runtime::BackendHandle;

/// Cheap to clone (one reference count): a request through a backend with layers clones
/// it a few times.
#[derive(Clone)]
pub struct Forward(Arc<Inner>);

struct Inner {
    backend: Arc<BackendHandle>,
    forwarder: Arc<Forwarder>,
    pass_host_header: bool,
}

impl Forward {
    pub fn new(
        backend: Arc<BackendHandle>,
        forwarder: Arc<Forwarder>,
        pass_host_header: bool,
    ) -> Self {
        Forward(Arc::new(Inner {
            backend,
            forwarder,
            pass_host_header,
        }))
    }

    /// Picks a server and forwards; also says which server was picked. Within an
    /// attempts scope (a backend with layers, maybe retrying), servers already tried are
    /// passed over while others are up.
    pub async fn forward(
        &self,
        req: Request<RequestBody>,
    ) -> (Result<Response<ResponseBody>, ProxyError>, Option<usize>) {
        let backend = &self.0.backend;
        let pick = attempts::with_attempts(|attempts| {
            let pick = backend
                .balancer
                .pick(req.headers(), &backend.servers, attempts)?;
            if let Some(a) = attempts {
                a.begin(pick.index);
            }
            Some(pick)
        });
        let Some(pick) = pick else {
            return (Err(ProxyError::new(ErrorKind::NoServer)), None);
        };
        let started = backend.balancer.learns().then(Instant::now);
        let target = &backend.servers[pick.index].target;
        let result = self
            .0
            .forwarder
            .forward(req, target, self.0.pass_host_header)
            .await;
        if let Some(started) = started {
            let failed = match &result {
                Ok(r) => (500..=504).contains(&r.status().as_u16()),
                Err(_) => true,
            };
            backend
                .balancer
                .record(pick.index, started.elapsed(), failed);
        }
        let result = result.map(|r| {
            let mut r = r.map(ResponseBody::streamed);
            if let Some(cookie) = pick.set_cookie {
                r.headers_mut().append(SET_COOKIE, cookie);
            }
            r
        });
        (result, Some(pick.index))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<RequestBody>> for Forward {
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = BoxFuture<Result<Response<ResponseBody>, ProxyError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.forward(req).await.0 })
    }
}
