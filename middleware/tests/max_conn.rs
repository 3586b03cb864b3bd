//! The maxConn layer: exact in-flight counts per key, a slot held until the response body
//! ends (not just until its head arrives), released on drop and on errors.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::channel::{Channel, Sender};
use tokio::sync::oneshot;
use tower::{Layer, Service, ServiceExt, service_fn};
use trafik_middleware::limit::{ClientAddr, MaxConnLayer};

/// A response body: the layer's own text, or a stream the test feeds.
#[derive(Debug)]
enum TestBody {
    Text(Option<String>),
    Stream(Channel<Bytes>),
}

impl From<String> for TestBody {
    fn from(text: String) -> Self {
        TestBody::Text(Some(text))
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            TestBody::Text(text) => Poll::Ready(text.take().map(|t| Ok(Frame::data(t.into())))),
            TestBody::Stream(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, TestBody::Text(None))
    }
}

/// What the backend does with the next request, chosen by its path.
/// `/stream`: answers at once with a streamed body whose sender is handed to the test;
/// `/wait`: answers only when the test says so; `/fail`: errors; else a short text.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<AtomicUsize>,
    senders: Arc<std::sync::Mutex<Vec<Sender<Bytes>>>>,
    waits: Arc<std::sync::Mutex<Vec<oneshot::Sender<()>>>>,
}

impl Backend {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<TestBody>, Error = &'static str> + Clone
    {
        let this = self.clone();
        service_fn(move |req: Request<()>| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            let path = req.uri().path().to_owned();
            let stream = (path == "/stream").then(|| {
                let (tx, body) = Channel::new(4);
                this.senders.lock().unwrap().push(tx);
                body
            });
            let wait = (path == "/wait").then(|| {
                let (tx, rx) = oneshot::channel();
                this.waits.lock().unwrap().push(tx);
                rx
            });
            async move {
                if let Some(rx) = wait {
                    rx.await.ok();
                }
                match (path.as_str(), stream) {
                    ("/fail", _) => Err("refused"),
                    (_, Some(body)) => Ok(Response::new(TestBody::Stream(body))),
                    _ => Ok(Response::new(TestBody::from("ok".to_owned()))),
                }
            }
        })
    }
}

fn req(path: &str, user: &str) -> Request<()> {
    Request::builder()
        .uri(path)
        .header("x-user", user)
        .body(())
        .unwrap()
}

async fn text<B: Body<Data = Bytes>>(body: B) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn the_slot_is_held_until_the_body_ends() {
    let backend = Backend::default();
    let layer = MaxConnLayer::new(2, |r: &Request<()>| {
        r.headers()
            .get("x-user")
            .map(|v| v.to_str().unwrap().to_owned())
    });
    let svc = layer.layer(backend.service());

    let first = svc.clone().oneshot(req("/stream", "ann")).await.unwrap();
    let second = svc.clone().oneshot(req("/stream", "ann")).await.unwrap();
    assert_eq!(layer.in_flight("ann"), 2);

    // Heads have arrived, bodies are open: the third is refused without calling inner.
    let refused = svc.clone().oneshot(req("/stream", "ann")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        text(refused.into_body()).await,
        "max connections reached: 2"
    );
    assert_eq!(backend.calls(), 2);
    assert_eq!(layer.in_flight("ann"), 2);

    // Another key has its own count.
    let other = svc.clone().oneshot(req("/", "bob")).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(layer.in_flight("bob"), 1);
    assert_eq!(text(other.into_body()).await, "ok");
    assert_eq!(layer.in_flight("bob"), 0);

    // Streaming data does not release; the end of the body does.
    let mut first_body = first.into_body();
    let mut tx = backend.senders.lock().unwrap().remove(0);
    tx.send_data(Bytes::from_static(b"part")).await.unwrap();
    let frame = first_body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "part");
    assert_eq!(layer.in_flight("ann"), 2);
    drop(tx);
    assert!(first_body.frame().await.is_none());
    assert_eq!(layer.in_flight("ann"), 1);

    let third = svc.clone().oneshot(req("/", "ann")).await.unwrap();
    assert_eq!(third.status(), StatusCode::OK);
    assert_eq!(layer.in_flight("ann"), 2);

    // Dropping a body unread releases too.
    drop(third);
    drop(second);
    assert_eq!(layer.in_flight("ann"), 0);
    drop(first_body);
    assert_eq!(backend.calls(), 4);
}

#[tokio::test]
async fn requests_waiting_for_their_head_count() {
    let backend = Backend::default();
    let layer = MaxConnLayer::request_header(1, "x-user".parse().unwrap());
    let mut svc = layer.layer(backend.service());

    // `call` takes the slot at once; the response is still to come.
    let pending = svc.ready().await.unwrap().call(req("/wait", "ann"));
    assert_eq!(layer.in_flight("ann"), 1);
    let refused = svc.ready().await.unwrap().call(req("/", "ann")).await;
    assert_eq!(refused.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);

    backend.waits.lock().unwrap().remove(0).send(()).unwrap();
    let response = pending.await.unwrap();
    assert_eq!(layer.in_flight("ann"), 1);
    assert_eq!(text(response.into_body()).await, "ok");
    assert_eq!(layer.in_flight("ann"), 0);

    // A response future dropped before its head releases.
    let pending = svc.ready().await.unwrap().call(req("/wait", "ann"));
    assert_eq!(layer.in_flight("ann"), 1);
    drop(pending);
    assert_eq!(layer.in_flight("ann"), 0);
}

#[tokio::test]
async fn an_inner_error_releases_and_passes_through() {
    let backend = Backend::default();
    let layer = MaxConnLayer::request_host(1);
    let svc = layer.layer(backend.service());
    let err = svc.clone().oneshot(req("/fail", "")).await.unwrap_err();
    assert_eq!(err, "refused");
    assert_eq!(layer.in_flight(""), 0);
    let ok = svc.oneshot(req("/", "")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_ip_needs_the_peer_address() {
    let backend = Backend::default();
    let layer = MaxConnLayer::client_ip(1);
    let svc = layer.layer(backend.service());

    let response = svc.clone().oneshot(req("/", "")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text(response.into_body()).await, "Internal Server Error");
    assert_eq!(backend.calls(), 0);

    let with_peer = |port| {
        let mut r = req("/stream", "");
        r.extensions_mut()
            .insert(ClientAddr(SocketAddr::from(([192, 0, 2, 7], port))));
        r
    };
    let held = svc.clone().oneshot(with_peer(1000)).await.unwrap();
    assert_eq!(layer.in_flight("192.0.2.7"), 1);
    // Another connection from the same IP shares the count.
    let refused = svc.clone().oneshot(with_peer(1001)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(held);
    assert_eq!(layer.in_flight("192.0.2.7"), 0);
}

#[tokio::test]
async fn a_body_that_says_it_ended_releases_with_its_last_frame() {
    let backend = Backend::default();
    let layer = MaxConnLayer::request_host(1);
    let svc = layer.layer(backend.service());
    let mut body = svc.oneshot(req("/", "")).await.unwrap().into_body();
    assert_eq!(layer.in_flight(""), 1);
    body.frame().await.unwrap().unwrap();
    assert!(body.is_end_stream());
    assert_eq!(layer.in_flight(""), 0);
}

#[tokio::test]
async fn an_amount_is_shared_by_every_service_of_a_layer() {
    let backend = Backend::default();
    let layer = MaxConnLayer::request_host(1);
    let a = layer.layer(backend.service());
    let b = layer.layer(backend.service());
    let held = a.oneshot(req("/stream", "")).await.unwrap();
    let refused = b.oneshot(req("/stream", "")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(held);
    assert_eq!(layer.amount(), 1);
}
