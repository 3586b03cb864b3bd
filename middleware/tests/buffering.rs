//! The buffering layer: whole requests before the backend is called, whole responses before
//! the client is answered, limits, and retries of the buffered request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt};
use trafik_middleware::buffer::{BufferedBody, BufferingLayer, MAX_RETRY_ATTEMPTS};

/// What the backend received, per call.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    body: Bytes,
    content_length: Option<HeaderValue>,
    chunked: bool,
    trailers: Option<HeaderMap>,
}

/// A backend answering with the statuses in `script` (the last one repeats) and a body
/// echoing the request's. Counts readiness checks and calls.
#[derive(Clone, Default)]
struct Backend {
    script: Arc<Vec<u16>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    ready: Arc<AtomicUsize>,
}

impl Backend {
    fn answering(script: &[u16]) -> Self {
        Backend {
            script: Arc::new(script.to_vec()),
            ..Backend::default()
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Service<Request<BufferedBody>> for Backend {
    type Response = Response<Full<Bytes>>;
    type Error = &'static str;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, &'static str>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        self.ready.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<BufferedBody>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let content_length = req.headers().get(CONTENT_LENGTH).cloned();
            let chunked = req.headers().contains_key(TRANSFER_ENCODING);
            let fail = req.uri().path() == "/error";
            let collected = req.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned();
            let body = collected.to_bytes();
            let n = {
                let mut seen = this.seen.lock().unwrap();
                seen.push(Seen {
                    body: body.clone(),
                    content_length,
                    chunked,
                    trailers,
                });
                seen.len()
            };
            if fail {
                return Err("backend unreachable");
            }
            let status = this
                .script
                .get(n - 1)
                .or(this.script.last())
                .copied()
                .unwrap_or(200);
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            response
                .headers_mut()
                .insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
            Ok(response)
        })
    }
}

fn post<B>(body: B) -> Request<B> {
    Request::post("/upload").body(body).unwrap()
}

/// A body of `chunks` that does not know its size.
fn chunked(chunks: &[&'static str]) -> Channel<Bytes> {
    let (mut tx, body) = Channel::new(chunks.len() + 1);
    for c in chunks {
        tx.try_send(Frame::data(Bytes::from_static(c.as_bytes())))
            .unwrap();
    }
    body
}

async fn text(body: BufferedBody) -> String {
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn a_declared_oversized_request_is_refused_unread() {
    let backend = Backend::default();
    let svc = BufferingLayer::new()
        .max_request_body_bytes(4)
        .layer(backend.clone());
    let mut req = post(chunked(&["12345"]));
    req.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(text(response.into_body()).await, "Request Entity Too Large");
    assert!(backend.seen().is_empty());
    assert_eq!(backend.ready.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_oversized_chunked_request_is_refused_while_read() {
    let backend = Backend::default();
    let svc = BufferingLayer::new()
        .max_request_body_bytes(4)
        .layer(backend.clone());
    let response = svc.oneshot(post(chunked(&["12", "345"]))).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(backend.seen().is_empty());
}

#[tokio::test]
async fn a_request_at_the_limit_goes_through_whole_with_its_length() {
    let backend = Backend::default();
    let svc = BufferingLayer::new()
        .max_request_body_bytes(5)
        .layer(backend.clone());
    let mut req = post(chunked(&["12", "345"]));
    req.headers_mut()
        .insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The response is buffered too: chunked no more, with its length.
    assert_eq!(response.headers()[CONTENT_LENGTH], "5");
    assert!(!response.headers().contains_key(TRANSFER_ENCODING));
    assert_eq!(text(response.into_body()).await, "12345");
    let seen = backend.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, "12345");
    assert_eq!(seen[0].content_length.as_ref().unwrap(), "5");
    assert!(!seen[0].chunked);
}

#[tokio::test]
async fn a_request_body_that_breaks_is_the_clients_fault() {
    let backend = Backend::default();
    let svc = BufferingLayer::new().layer(backend.clone());
    let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(4);
    tx.send_data(Bytes::from_static(b"part")).await.unwrap();
    tx.abort(std::io::Error::other("invalid chunk size"));
    let response = svc.oneshot(post(body)).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(backend.seen().is_empty());
    assert_eq!(backend.ready.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_backend_is_not_touched_before_the_whole_request_is_in() {
    let backend = Backend::default();
    let mut svc = BufferingLayer::new().layer(backend.clone());
    let (mut tx, body) = Channel::<Bytes>::new(4);
    tx.send_data(Bytes::from_static(b"first ")).await.unwrap();
    let ready = ServiceExt::<Request<Channel<Bytes>>>::ready(&mut svc)
        .await
        .unwrap();
    let mut pending = Box::pin(ready.call(post(body)));

    // Poll while the client is still sending: nothing reaches the backend.
    for _ in 0..3 {
        let polled = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
    }
    assert!(backend.seen().is_empty());
    assert_eq!(backend.ready.load(Ordering::SeqCst), 0);

    tx.send_data(Bytes::from_static(b"second")).await.unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc"));
    tx.send_trailers(trailers).await.unwrap();
    drop(tx);
    let response = pending.await.unwrap();
    assert_eq!(text(response.into_body()).await, "first second");
    let seen = backend.seen();
    assert_eq!(seen[0].body, "first second");
    assert_eq!(seen[0].trailers.as_ref().unwrap()["x-checksum"], "abc");
    assert_eq!(backend.ready.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_oversized_response_becomes_a_500() {
    let backend = Backend::default();
    let svc = BufferingLayer::new()
        .max_response_body_bytes(4)
        .layer(backend.clone());
    let response = svc
        .clone()
        .oneshot(post(Full::new(Bytes::from_static(b"12345"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text(response.into_body()).await, "Internal Server Error");

    let response = svc
        .oneshot(post(Full::new(Bytes::from_static(b"1234"))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response.into_body()).await, "1234");
}

/// A response body that breaks off after some data.
struct Broken(bool);

impl Body for Broken {
    type Data = Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(Some(Err("connection reset")))
        } else {
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial")))))
        }
    }
}

#[tokio::test]
async fn a_response_that_breaks_off_becomes_a_502() {
    let inner = tower::service_fn(|_: Request<BufferedBody>| async {
        Ok::<_, Infallible>(Response::new(Broken(false)))
    });
    let response = BufferingLayer::new()
        .layer(inner)
        .oneshot(post(BufferedBody::default()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn inner_errors_pass_through() {
    let backend = Backend::default();
    let req = Request::post("/error")
        .body(BufferedBody::from("x"))
        .unwrap();
    let err = BufferingLayer::new()
        .retry_if(|_, _| true)
        .layer(backend.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(err, "backend unreachable");
    assert_eq!(backend.seen().len(), 1);
}

#[tokio::test]
async fn retry_expression_resends_the_same_request() {
    // `IsNetworkError() && Attempts() <= 2`.
    let layer = BufferingLayer::new()
        .retry_if(|attempt, status| (status == 502 || status == 504) && attempt <= 2);

    let backend = Backend::answering(&[502, 504, 200]);
    let response = layer
        .layer(backend.clone())
        .oneshot(post(chunked(&["pay", "load"])))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = backend.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s == &seen[0]));
    assert_eq!(seen[0].body, "payload");
    assert_eq!(backend.ready.load(Ordering::SeqCst), 3);

    // Attempts run out: the third 502 is the answer.
    let backend = Backend::answering(&[502]);
    let response = layer
        .layer(backend.clone())
        .oneshot(post(BufferedBody::default()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(backend.seen().len(), 3);

    // Whatever the predicate, at most MAX_RETRY_ATTEMPTS retries.
    let backend = Backend::answering(&[500]);
    let response = BufferingLayer::new()
        .retry_if(|_, _| true)
        .layer(backend.clone())
        .oneshot(post(BufferedBody::default()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(backend.seen().len() as u32, MAX_RETRY_ATTEMPTS + 1);
}

#[tokio::test]
async fn an_empty_response_keeps_its_declared_length() {
    let inner = tower::service_fn(|_: Request<BufferedBody>| async {
        let mut response = Response::new(BufferedBody::default());
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("1234"));
        Ok::<_, Infallible>(response)
    });
    let req = Request::head("/").body(BufferedBody::default()).unwrap();
    let response = BufferingLayer::new()
        .layer(inner)
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(response.headers()[CONTENT_LENGTH], "1234");
}
