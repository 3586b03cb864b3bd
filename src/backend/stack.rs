//! A backend's resilience layers around its [`Forward`], in v1's order from the outside
//! in: circuit breaker → buffering → retry → maxConn → load balancer → forwarder. Each
//! layer is a tower layer of trafik-middleware.
//!
//! The stack is a plain composition: each layer is [`Optional`] (tower's `option_layer`,
//! callable by `&`), so a stack is one concrete type whatever subset of layers a backend
//! has. Retry and maxConn work in place (`in_place`): the replayable copy of a request
//! body is a variant of [`RequestBody`], and the maxConn permit is held by
//! [`ResponseBody`], so no layer changes the request's or the response's type, which
//! would move all of it on every request. A request costs one `match` per layer, no boxed
//! service, no boxed future and no boxed body, and the stack is called by shared
//! reference (every layer is a service by `&` as well), so a request does not even clone
//! it. (Boxing each layer cost 15–25 % of the throughput on small responses; see
//! benches/README.md for what else was measured.) Buffering, which holds whole bodies
//! anyway, is the exception: it is boxed (its future is allocated per request), so that
//! its large future does not make every other stack's future larger. A backend with none
//! of the layers is not built here at all (see `BackendService`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Extensions, Request, Response};
use hyper::upgrade::OnUpgrade;
use tower::util::{MapRequest, MapResponse, MapResult};
use tower::{Layer, Service, ServiceExt};
use trafik_middleware::breaker::{Breaker, BreakerLayer};
use trafik_middleware::buffer::{BufferedBody, Buffering as BufferingService, BufferingLayer};
use trafik_middleware::limit::{self, MaxConn, MaxConnLayer};
use trafik_middleware::retry::{self, InPlace, Retry};

use super::breakers::Classifier;
use super::forward::Forward;
use super::optional::Optional;
use crate::proxy::{ProxyError, RequestBody, ResponseBody};
use crate::request_context::{ClientKey, RequestContext};

type Req = Request<RequestBody>;
type Res = Response<ResponseBody>;
type Judge = fn(Result<Res, ProxyError>) -> Result<Res, ProxyError>;

/// maxConn over the forwarder, if any; the response body holds the permit itself.
type MaybeLimited = Optional<MaxConn<Forward, ClientKey, limit::InPlace>, Forward>;
/// Retry over that, if any; the request body holds the replayable copy itself.
type MaybeRetried = Optional<Retry<MaybeLimited, RetryClassifier, InPlace, Kept>, MaybeLimited>;
/// A retry as trafik builds it: see [`Layers::retry`].
pub type RetryLayer = retry::RetryLayer<RetryClassifier, InPlace, Kept>;
/// What retry keeps of a request's extensions for a replay (see [`Layers::retry`]).
type Kept = ReplayExtensions;
/// Buffering over that, if any, boxed.
type MaybeBuffered = Optional<Boxed, MaybeRetried>;
/// A backend's layers, built: see [the module](self).
pub type Stack = Optional<Breaker<MaybeBuffered, Classifier>, MaybeBuffered>;
/// Buffering over `S`, judging failures as responses when it has a `retryExpression`.
type Buffered<S> = MapResult<
    MapResponse<
        BufferingService<MapRequest<MapResult<S, Judge>, fn(Request<BufferedBody>) -> Req>>,
        fn(Response<BufferedBody>) -> Res,
    >,
    Judge,
>;
/// Buffering over the layers below it. Behind an `Arc`, with its future boxed: a request
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
/// as every layer of a [`Stack`] is called.
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

pub type RetryClassifier = fn(&ProxyError) -> bool;

/// What of a request's extensions retry keeps for a replay: those the layers below it
/// read, which are the request's [`RequestContext`] (maxConn's `client.ip`, the
/// forwarder's client and attempts record) and, for an upgrade, the client's side of the
/// tunnel, which the forwarder takes out of the request (hyper's `OnUpgrade`). Keeping
/// these two handles, rather than a clone of the extensions map, spares every request
/// that may be retried a map, its table and a boxed value (about 430 instructions,
/// benches/README.md), retried or not; a map is made only for an actual replay. A layer
/// added below retry that reads another extension adds it here.
pub struct ReplayExtensions;

impl retry::KeepExtensions for ReplayExtensions {
    type Kept = (Option<RequestContext>, Option<OnUpgrade>);

    fn keep(extensions: &Extensions) -> Self::Kept {
        (
            extensions.get::<RequestContext>().cloned(),
            extensions.get::<OnUpgrade>().cloned(),
        )
    }

    fn restore((context, upgrade): &Self::Kept) -> Extensions {
        let mut extensions = Extensions::new();
        if let Some(context) = context {
            extensions.insert(context.clone());
        }
        if let Some(upgrade) = upgrade {
            extensions.insert(upgrade.clone());
        }
        extensions
    }
}

fn retryable(e: &ProxyError) -> bool {
    e.is_retryable()
}

/// The layers one backend has; shared by its frontends (one maxConn count, one breaker).
#[derive(Clone, Default)]
pub struct Layers {
    pub breaker: Option<BreakerLayer<Classifier>>,
    pub buffering: Option<Buffering>,
    pub retry: Option<RetryLayer>,
    pub max_conn: Option<MaxConnLayer<ClientKey, limit::InPlace>>,
}

#[derive(Clone)]
pub struct Buffering {
    pub layer: BufferingLayer,
    /// A `retryExpression` is set: it judges failures to forward as the 502/504 answers
    /// they become, as in v1, so they reach the buffering layer as responses.
    pub retries: bool,
}

impl Layers {
    /// `attempts` for `[retry]`: 0 means one per server, as v1. A replay gets only the
    /// extensions the layers below retry read: see [`ReplayExtensions`].
    pub fn retry(attempts: u32, servers: usize) -> RetryLayer {
        let attempts = if attempts == 0 {
            servers.max(1) as u32
        } else {
            attempts
        };
        retry::RetryLayer::new(attempts, retryable as RetryClassifier)
            .in_place()
            .keep_extensions::<ReplayExtensions>()
    }

    pub fn is_empty(&self) -> bool {
        self.breaker.is_none()
            && self.buffering.is_none()
            && self.retry.is_none()
            && self.max_conn.is_none()
    }

    pub fn build(&self, forward: Forward) -> Stack {
        let limited = Optional::layer(self.max_conn.as_ref(), forward);
        let retried = Optional::layer(self.retry.as_ref(), limited);
        let buffered = match &self.buffering {
            Some(buffering) => Optional::With(Boxed::new(buffering.over(retried))),
            None => Optional::Without(retried),
        };
        Optional::layer(self.breaker.as_ref(), buffered)
    }
}

impl Buffering {
    /// The buffering layer over `inner`, judging failures as responses below it and back
    /// as failures above it when it has a `retryExpression`.
    fn over(&self, inner: MaybeRetried) -> Buffered<MaybeRetried> {
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
    /// 1184 bytes before the large parts were boxed or made on demand; 184 with session
    /// 5's enum of combinations, 176 with the nested `Optional`s, the forwarder's own
    /// future inline rather than boxed (a boxed one costs an allocation per request).
    #[test]
    fn the_stack_future_stays_small() {
        let size = std::mem::size_of::<<&'static Stack as Service<Req>>::Future>();
        assert!(size <= 192, "the stack's future takes {size} bytes");
    }

    /// A layer between the stack's top and the forwarder that moves the request into a
    /// task of its own: the forwarder there still names the client in `X-Forwarded-For`,
    /// and its attempts land in the record the caller reads. The retried request's second
    /// attempt goes to the other server, and the record says one retry and names it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_spawning_layer_keeps_the_context_and_a_retry_goes_elsewhere() {
        use std::net::SocketAddr;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        use crate::proxy::forward::Target;
        use crate::proxy::headers::Forwarded;
        use crate::proxy::{Forwarder, ForwarderSettings};
        use crate::request_context::{Record, RequestContext};
        use crate::runtime::{BackendHandle, ServerHandle};

        // A server that refuses connections: a port bound, then let go.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_addr: SocketAddr = dead.local_addr().unwrap();
        drop(dead);
        // A live one, which hands each request head it reads to the test.
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap();
        let (heads, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = live.accept().await {
                let heads = heads.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });

        let server = |name: &str, addr: SocketAddr| {
            let url = format!("http://{addr}");
            ServerHandle {
                name: name.into(),
                target: Target::parse(&url).unwrap(),
                url,
                weight: 1,
                health: None,
            }
        };
        let backend = Arc::new(BackendHandle {
            name: "b".into(),
            servers: vec![server("dead", dead_addr), server("live", live_addr)].into(),
            balancer: super::super::Balancer::wrr(vec![1, 1]),
            breaker: None,
            stats: Default::default(),
        });
        let forwarder = Forwarder::new(&ForwarderSettings {
            dial_timeout: Some(std::time::Duration::from_secs(30)),
            response_header_timeout: None,
            max_idle_per_host: 0,
            idle_timeout: std::time::Duration::from_secs(1),
            root_cas: Vec::new(),
            insecure_skip_verify: false,
            server_name: http::HeaderValue::from_static("trafik"),
        })
        .unwrap();
        let forward = Forward::new(backend, Arc::new(forwarder), false);
        let spawning = tower::service_fn(move |req: Req| {
            let forward = forward.clone();
            async move {
                let attempt = tokio::spawn(async move { (&forward).call(req).await });
                attempt.await.expect("the attempt's task ran")
            }
        });
        let mut stack = Layers::retry(2, 2).layer(spawning);

        // Round robin over two servers: of two requests, at least one tries the dead
        // server first.
        let client: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let mut retried = 0;
        for _ in 0..2 {
            let context = RequestContext::new(Forwarded {
                ip: client,
                proto: "http",
                host: None,
            });
            let mut req = Request::new(RequestBody::Empty);
            context.attach(&mut req);
            let response = stack.call(req).await.expect("the live server answers");
            assert_eq!(response.status(), 200);
            let record = context.record();
            assert_eq!(record.last_server, Some(1), "{record:?}");
            if record.retries == 1 {
                retried += 1;
                assert!(context.attempts().tried(0) && context.attempts().tried(1));
            } else {
                assert_eq!(
                    record,
                    Record {
                        retries: 0,
                        last_server: Some(1)
                    }
                );
            }
            let head = received.recv().await.unwrap().to_ascii_lowercase();
            assert!(head.contains("x-forwarded-for: 192.0.2.7\r\n"), "{head}");
        }
        assert!(retried >= 1, "no request tried the dead server first");
    }
}
