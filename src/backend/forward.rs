//! The innermost service of every backend: pick a server, forward, and tell the balancer
//! how it went.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::header::SET_COOKIE;
use http::{HeaderValue, Request, Response};
use tower::Service;

use crate::proxy::headers::{Forwarded, ForwardedFields, forwarded_fields};
use crate::proxy::{ErrorKind, Forwarder, ProxyError, RequestBody, ResponseBody, Sending};
use crate::request_context::{Attempts, RequestContext};
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

    /// Picks a server and forwards, with the `X-Forwarded-*` headers for `client`; the
    /// future also says which server was picked. For a backend without layers.
    pub fn forward(&self, req: Request<RequestBody>, client: &Forwarded) -> Forwarding {
        self.send(req, None, Some(client))
    }

    /// With the request's context (a backend with layers, maybe retrying), servers already
    /// tried are passed over while others are up. Without one (a stack tested on its own)
    /// there is no client to name in `X-Forwarded-*`.
    fn send(
        &self,
        mut req: Request<RequestBody>,
        attempts: Option<&Attempts>,
        client: Option<&Forwarded>,
    ) -> Forwarding {
        let backend = &self.0.backend;
        let Some(pick) = backend
            .balancer
            .pick(req.headers(), &backend.servers, attempts)
        else {
            return Forwarding {
                sending: None,
                server: 0,
                set_cookie: None,
                learning: None,
            };
        };
        if let Some(a) = attempts {
            a.begin(pick.index);
        }
        // Without a client (a stack tested on its own), none.
        let forwarded = client.map_or_else(ForwardedFields::default, |c| {
            forwarded_fields(req.headers_mut(), c, self.0.forwarder.server_name())
        });
        let target = &backend.servers[pick.index].target;
        let learning = backend
            .balancer
            .learns()
            .then(|| (backend.clone(), Instant::now()));
        Forwarding {
            sending: Some(self.0.forwarder.forward(
                req,
                forwarded,
                target,
                self.0.pass_host_header,
            )),
            server: pick.index,
            set_cookie: pick.set_cookie,
            learning,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Forward::forward`]: the response, or why there is none, and the server
    /// picked (`None`: the backend had none to pick).
    pub struct Forwarding {
        #[pin]
        sending: Option<Sending>,
        server: usize,
        // Stickiness: the cookie naming the server, for the client to send back.
        set_cookie: Option<HeaderValue>,
        // A balancer that learns from outcomes (drr), and when the request left.
        learning: Option<(Arc<BackendHandle>, Instant)>,
    }
}

impl Forwarding {
    /// The response, or why there is none, without the server: the layered path reads
    /// that from the request's context, and a tuple to take apart would copy the response.
    fn poll_result(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response<ResponseBody>, ProxyError>> {
        let this = self.project();
        let Some(sending) = this.sending.as_pin_mut() else {
            return Poll::Ready(Err(ProxyError::new(ErrorKind::NoServer)));
        };
        let result = ready!(sending.poll(cx));
        if let Some((backend, started)) = this.learning.take() {
            let failed = match &result {
                Ok(r) => (500..=504).contains(&r.status().as_u16()),
                // A client's broken body says nothing about the server.
                Err(e) => !e.kind.is_clients(),
            };
            backend
                .balancer
                .record(*this.server, started.elapsed(), failed);
        }
        Poll::Ready(result.map(|mut r| {
            if let Some(cookie) = this.set_cookie.take() {
                r.headers_mut().append(SET_COOKIE, cookie);
            }
            r
        }))
    }
}

impl Future for Forwarding {
    type Output = (Result<Response<ResponseBody>, ProxyError>, Option<usize>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(self.as_mut().poll_result(cx));
        let server = self.sending.is_some().then_some(self.server);
        Poll::Ready((result, server))
    }
}

pin_project_lite::pin_project! {
    /// The [`Forwarding`] of a backend with layers, which only want the result.
    pub struct ForwardFuture {
        #[pin]
        forwarding: Forwarding,
    }
}

impl Future for ForwardFuture {
    type Output = Result<Response<ResponseBody>, ProxyError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().forwarding.poll_result(cx)
    }
}

impl Service<Request<RequestBody>> for Forward {
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = ForwardFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<RequestBody>) -> ForwardFuture {
        (&*self).call(req)
    }
}

/// By shared reference too, as the layers above it are: see `Stack`.
impl Service<Request<RequestBody>> for &Forward {
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = ForwardFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    // Always inlined into the `Optional` above it (see `optional`).
    #[inline(always)]
    fn call(&mut self, req: Request<RequestBody>) -> ForwardFuture {
        // A handle of its own (one reference count): the request is moved on below, and
        // its headers written while the client is read.
        let forwarding = match RequestContext::of(&req).cloned() {
            Some(context) => self.send(req, Some(context.attempts()), Some(context.client())),
            None => self.send(req, None, None),
        };
        ForwardFuture { forwarding }
    }
}
