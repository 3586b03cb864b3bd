//! The retry layer over a fake load balancer: each call goes to the next server, and each
//! server answers, refuses or fails as told. Servers record the request body they read.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt, service_fn};
use trafik_middleware::retry::{Only, ReplayBody, RetryAttempts, RetryLayer};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fail {
    /// Nothing reached the server: retryable.
    Refused,
    /// The server was reached, then the connection broke: not retryable.
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Server {
    Ok,
    Status(u16),
    Fails(Fail),
    /// Reads the whole body, then refuses (a failure the classifier lets through anyway).
    ReadsThenRefuses,
    /// Reads one chunk, then refuses.
    ReadsOneThenRefuses,
}

#[derive(Debug, Default)]
struct Log {
    /// (server index, body it read, `x-test` header, extension seen)
    calls: Vec<(usize, Bytes, Option<HeaderValue>, Option<Tag>)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Tag(u8);

/// A balancer over `servers`: every call (on any clone) goes to the next one.
#[derive(Clone)]
struct Balancer {
    servers: Arc<Vec<Server>>,
    next: Arc<Mutex<usize>>,
    log: Arc<Mutex<Log>>,
}

impl Balancer {
    fn new(servers: Vec<Server>) -> Self {
        Balancer {
            servers: Arc::new(servers),
            next: Arc::default(),
            log: Arc::default(),
        }
    }

    fn calls(&self) -> Vec<(usize, Bytes, Option<HeaderValue>, Option<Tag>)> {
        self.log.lock().unwrap().calls.clone()
    }

    fn servers_called(&self) -> Vec<usize> {
        self.calls().into_iter().map(|c| c.0).collect()
    }
}

type Req<B> = Request<ReplayBody<B>>;

impl<B> Service<Req<B>> for Balancer
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<String>;
    type Error = Fail;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<String>, Fail>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Fail>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req<B>) -> Self::Future {
        let index = {
            let mut next = self.next.lock().unwrap();
            let i = *next % self.servers.len();
            *next += 1;
            i
        };
        let server = self.servers[index];
        let log = self.log.clone();
        Box::pin(async move {
            let header = req.headers().get("x-test").cloned();
            let tag = req.extensions().get::<Tag>().copied();
            let mut body = req.into_body();
            let read = match server {
                Server::Fails(_) | Server::Status(_) => Bytes::new(),
                Server::ReadsOneThenRefuses => match body.frame().await {
                    Some(Ok(frame)) => frame.into_data().unwrap_or_default(),
                    _ => Bytes::new(),
                },
                Server::Ok | Server::ReadsThenRefuses => match body.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(_) => Bytes::from_static(b"<body error>"),
                },
            };
            log.lock()
                .unwrap()
                .calls
                .push((index, read.clone(), header, tag));
            match server {
                Server::Ok => Ok(Response::new(String::from_utf8_lossy(&read).into())),
                Server::Status(code) => {
                    let mut response = Response::new(String::new());
                    *response.status_mut() = StatusCode::from_u16(code).unwrap();
                    Ok(response)
                }
                Server::Fails(fail) => Err(fail),
                Server::ReadsThenRefuses | Server::ReadsOneThenRefuses => Err(Fail::Refused),
            }
        })
    }
}

fn layer(attempts: u32) -> RetryLayer<impl Fn(&Fail) -> bool + Clone> {
    RetryLayer::new(attempts, |e: &Fail| *e == Fail::Refused)
}

fn request<B>(body: B) -> Request<B> {
    Request::builder().uri("/x").body(body).unwrap()
}

/// A body of `chunks` that does not know its size (as a chunked upload).
fn chunked(chunks: &[&'static str]) -> Channel<Bytes> {
    let (mut tx, body) = Channel::new(chunks.len().max(1));
    for c in chunks {
        tx.try_send(Frame::data(Bytes::from_static(c.as_bytes())))
            .unwrap();
    }
    body
}

#[tokio::test]
async fn two_refusals_then_success_takes_three_attempts_on_three_servers() {
    let lb = Balancer::new(vec![
        Server::Fails(Fail::Refused),
        Server::Fails(Fail::Refused),
        Server::Ok,
    ]);
    let svc = layer(3).layer(lb.clone());
    let response = svc.oneshot(request(Full::new(Bytes::new()))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&RetryAttempts(3)));
    assert_eq!(RetryAttempts(3).retries(), 2);
    assert_eq!(lb.servers_called(), vec![0, 1, 2]);
}

#[tokio::test]
async fn first_success_reports_one_attempt() {
    let lb = Balancer::new(vec![Server::Ok]);
    let response = layer(3)
        .layer(lb.clone())
        .oneshot(request(Full::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(response.extensions().get::<RetryAttempts>(), None);
    assert_eq!(lb.servers_called(), vec![0]);
}

#[tokio::test]
async fn a_non_retryable_error_is_returned_at_once() {
    let lb = Balancer::new(vec![Server::Fails(Fail::Reset), Server::Ok]);
    let err = layer(3)
        .layer(lb.clone())
        .oneshot(request(Full::new(Bytes::new())))
        .await
        .unwrap_err();
    assert_eq!(err, Fail::Reset);
    assert_eq!(lb.servers_called(), vec![0]);
}

#[tokio::test]
async fn an_error_response_is_not_retried() {
    let lb = Balancer::new(vec![Server::Status(503), Server::Ok]);
    let response = layer(3)
        .layer(lb.clone())
        .oneshot(request(Full::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.extensions().get::<RetryAttempts>(), None);
    assert_eq!(lb.servers_called(), vec![0]);
}

#[tokio::test]
async fn attempts_run_out_with_the_last_error() {
    let lb = Balancer::new(vec![Server::Fails(Fail::Refused)]);
    let err = layer(4)
        .layer(lb.clone())
        .oneshot(request(Full::new(Bytes::new())))
        .await
        .unwrap_err();
    assert_eq!(err, Fail::Refused);
    assert_eq!(lb.servers_called(), vec![0, 0, 0, 0]);

    // One attempt (or zero) means no retry at all.
    for attempts in [0, 1] {
        let lb = Balancer::new(vec![Server::Fails(Fail::Refused), Server::Ok]);
        let svc = layer(attempts).layer(lb.clone());
        assert!(svc.oneshot(request(Full::new(Bytes::new()))).await.is_err());
        assert_eq!(lb.servers_called(), vec![0]);
    }
}

#[tokio::test]
async fn the_body_head_and_extensions_are_sent_again_identically() {
    let lb = Balancer::new(vec![
        Server::ReadsThenRefuses,
        Server::ReadsOneThenRefuses,
        Server::Ok,
    ]);
    let mut req = request(chunked(&["hello ", "retried ", "world"]));
    req.headers_mut()
        .insert("x-test", HeaderValue::from_static("kept"));
    req.extensions_mut().insert(Tag(7));
    let response = layer(3).layer(lb.clone()).oneshot(req).await.unwrap();
    assert_eq!(response.body(), "hello retried world");
    assert_eq!(response.extensions().get(), Some(&RetryAttempts(3)));
    let calls = lb.calls();
    let bodies: Vec<&[u8]> = calls.iter().map(|c| &c.1[..]).collect();
    assert_eq!(
        bodies,
        vec![
            &b"hello retried world"[..],
            b"hello ",
            b"hello retried world"
        ]
    );
    for call in &calls {
        assert_eq!(call.2.as_ref().unwrap(), "kept");
        assert_eq!(call.3, Some(Tag(7)));
    }
}

/// With `keep_extensions`, a replay gets what the policy kept, and the first attempt
/// still gets the request's own extensions, all of them.
#[tokio::test]
async fn a_replay_gets_only_the_extensions_kept() {
    #[derive(Clone)]
    struct Other;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let seen = seen.clone();
        service_fn(move |req: Req<Full<Bytes>>| {
            let seen = seen.clone();
            async move {
                let extensions = req.extensions();
                let mut seen = seen.lock().unwrap();
                seen.push((
                    extensions.get::<Tag>().copied(),
                    extensions.get::<Other>().is_some(),
                ));
                if seen.len() < 3 {
                    Err(Fail::Refused)
                } else {
                    Ok(Response::new(String::new()))
                }
            }
        })
    };
    let mut req = request(Full::new(Bytes::from_static(b"x")));
    req.extensions_mut().insert(Tag(3));
    req.extensions_mut().insert(Other);
    let retry = layer(3).keep_extensions::<Only<Tag>>().layer(inner.clone());
    let response = retry.oneshot(req).await.unwrap();
    assert_eq!(response.extensions().get(), Some(&RetryAttempts(3)));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (Some(Tag(3)), true),
            (Some(Tag(3)), false),
            (Some(Tag(3)), false)
        ]
    );

    // A request without the extension kept: the replay has none.
    seen.lock().unwrap().clear();
    let retry = layer(2).keep_extensions::<Only<Tag>>().layer(inner);
    let error = retry.oneshot(request(Full::new(Bytes::new()))).await;
    assert_eq!(error.unwrap_err(), Fail::Refused);
    assert_eq!(*seen.lock().unwrap(), vec![(None, false), (None, false)]);
}

#[tokio::test]
async fn trailers_are_replayed() {
    let (mut tx, body) = Channel::<Bytes>::new(4);
    tx.try_send(Frame::data(Bytes::from_static(b"data")))
        .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    tx.try_send(Frame::trailers(trailers)).unwrap();
    drop(tx);

    // Reads everything, then refuses the first time and answers the second.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let seen = seen.clone();
        service_fn(move |req: Req<Channel<Bytes>>| {
            let seen = seen.clone();
            async move {
                let collected = req.into_body().collect().await.unwrap();
                let trailer = collected.trailers().map(|t| t["grpc-status"].clone());
                let mut seen = seen.lock().unwrap();
                seen.push((collected.to_bytes(), trailer));
                if seen.len() == 1 {
                    Err(Fail::Refused)
                } else {
                    Ok(Response::new(String::new()))
                }
            }
        })
    };
    let response = layer(2).layer(inner).oneshot(request(body)).await.unwrap();
    assert_eq!(response.extensions().get(), Some(&RetryAttempts(2)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1].0, "data");
    assert_eq!(seen[1].1.as_ref().unwrap(), "0");
}

#[tokio::test]
async fn a_body_declared_too_large_is_not_retried() {
    let lb = Balancer::new(vec![Server::Fails(Fail::Refused), Server::Ok]);
    let mut req = request(chunked(&["0123456789"]));
    req.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("10"));
    let err = layer(3)
        .max_replay_bytes(9)
        .layer(lb.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(err, Fail::Refused);
    assert_eq!(lb.servers_called(), vec![0]);

    // Same through the body's own size hint (as hyper's for a Content-Length).
    let lb = Balancer::new(vec![Server::Fails(Fail::Refused), Server::Ok]);
    let req = request(Full::new(Bytes::from_static(b"0123456789")));
    let svc = layer(3).max_replay_bytes(9).layer(lb.clone());
    assert!(svc.oneshot(req).await.is_err());
    assert_eq!(lb.servers_called(), vec![0]);
}

#[tokio::test]
async fn a_body_found_too_large_while_read_is_not_retried() {
    let lb = Balancer::new(vec![Server::ReadsThenRefuses, Server::Ok]);
    let req = request(chunked(&["01234", "56789"]));
    let err = layer(3)
        .max_replay_bytes(9)
        .layer(lb.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(err, Fail::Refused);
    assert_eq!(lb.servers_called(), vec![0]);

    // At the bound exactly it still is.
    let lb = Balancer::new(vec![Server::ReadsThenRefuses, Server::Ok]);
    let req = request(chunked(&["01234", "5678"]));
    let svc = layer(3).max_replay_bytes(9).layer(lb.clone());
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.body(), "012345678");
    assert_eq!(lb.servers_called(), vec![0, 1]);
}

#[tokio::test]
async fn each_attempt_gets_a_freshly_readied_clone() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    /// Counts `poll_ready` calls and clones; refuses every call.
    struct Counting {
        ready: Arc<AtomicUsize>,
        clones: Arc<AtomicUsize>,
    }
    impl Clone for Counting {
        fn clone(&self) -> Self {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Counting {
                ready: self.ready.clone(),
                clones: self.clones.clone(),
            }
        }
    }
    impl Service<Req<Full<Bytes>>> for Counting {
        type Response = Response<String>;
        type Error = Fail;
        type Future = std::future::Ready<Result<Response<String>, Fail>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Fail>> {
            self.ready.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Req<Full<Bytes>>) -> Self::Future {
            std::future::ready(Err(Fail::Refused))
        }
    }
    let (ready, clones) = (Arc::default(), Arc::default());
    let inner = Counting {
        ready: Arc::clone(&ready),
        clones: Arc::clone(&clones),
    };
    let svc = layer(3).layer(inner);
    assert!(svc.oneshot(request(Full::new(Bytes::new()))).await.is_err());
    // One readiness per attempt; one clone kept as a template, one per retry.
    assert_eq!(ready.load(Ordering::SeqCst), 3);
    assert_eq!(clones.load(Ordering::SeqCst), 3);
}
