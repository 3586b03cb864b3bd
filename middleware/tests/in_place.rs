//! Retry and maxConn with a body type of the caller's own that holds what they attach
//! (`RetryLayer::in_place`, `MaxConnLayer::in_place`), as trafik's bodies do: the same
//! behaviour as with the wrapping bodies, without changing the request's or response's type.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use trafik_middleware::limit::{HoldsPermit, MaxConnLayer, Permit};
use trafik_middleware::retry::{ReplayBody, RetryAttempts, RetryLayer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body with a variant for the retry layer's replayable copy.
#[derive(Default)]
enum ReqBody {
    Full(Full<Bytes>),
    Replay(ReplayBody<ReqBody>),
    #[default]
    Empty,
}

impl From<ReplayBody<ReqBody>> for ReqBody {
    fn from(body: ReplayBody<ReqBody>) -> Self {
        ReqBody::Replay(body)
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ReqBody::Full(b) => Pin::new(b).poll_frame(cx).map_err(|e| match e {}),
            ReqBody::Replay(b) => Pin::new(b).poll_frame(cx),
            ReqBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Full(b) => b.is_end_stream(),
            ReqBody::Replay(b) => b.is_end_stream(),
            ReqBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Full(b) => b.size_hint(),
            ReqBody::Replay(b) => b.size_hint(),
            ReqBody::Empty => SizeHint::with_exact(0),
        }
    }
}

fn variant(body: &ReqBody) -> &'static str {
    match body {
        ReqBody::Full(_) => "full",
        ReqBody::Replay(_) => "replay",
        ReqBody::Empty => "empty",
    }
}

/// Refuses the first call, then answers with the body it read; records what each call got.
fn refuses_once(
    seen: Arc<Mutex<Vec<(&'static str, Bytes)>>>,
) -> impl tower::Service<
    Request<ReqBody>,
    Response = Response<String>,
    Error = &'static str,
    Future = impl Send,
> + Clone {
    service_fn(move |req: Request<ReqBody>| {
        let seen = seen.clone();
        async move {
            let kind = variant(req.body());
            let read = req.into_body().collect().await.unwrap().to_bytes();
            let mut seen = seen.lock().unwrap();
            seen.push((kind, read.clone()));
            if seen.len() == 1 {
                return Err("refused");
            }
            Ok(Response::new(String::from_utf8_lossy(&read).into_owned()))
        }
    })
}

#[tokio::test]
async fn a_body_is_kept_in_place_and_replayed() {
    let seen = Arc::default();
    let svc = RetryLayer::new(2, |_: &&str| true)
        .in_place()
        .layer(refuses_once(Arc::clone(&seen)));
    let req = Request::new(ReqBody::Full(Full::new(Bytes::from_static(b"payload"))));
    let response = svc.oneshot(req).await.expect("the second attempt answers");
    assert_eq!(response.body(), "payload");
    assert_eq!(
        response.extensions().get::<RetryAttempts>(),
        Some(&RetryAttempts(2))
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("replay", Bytes::from_static(b"payload")),
            ("replay", Bytes::from_static(b"payload"))
        ]
    );
}

#[tokio::test]
async fn an_empty_body_passes_untouched_and_is_retried_empty() {
    let seen = Arc::default();
    let svc = RetryLayer::new(2, |_: &&str| true)
        .in_place()
        .layer(refuses_once(Arc::clone(&seen)));
    let req = Request::new(ReqBody::Full(Full::new(Bytes::new())));
    assert!(svc.oneshot(req).await.is_ok());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![("full", Bytes::new()), ("replay", Bytes::new())]);
}

#[tokio::test]
async fn a_request_that_cannot_be_retried_passes_untouched() {
    let seen = Arc::default();
    // One attempt only: nothing is kept, the body is not wrapped, the error comes back.
    let svc = RetryLayer::new(1, |_: &&str| true)
        .in_place()
        .layer(refuses_once(Arc::clone(&seen)));
    let req = Request::new(ReqBody::Full(Full::new(Bytes::from_static(b"x"))));
    assert_eq!(svc.oneshot(req).await.unwrap_err(), "refused");
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![("full", Bytes::from_static(b"x"))]
    );
}

/// A response body that holds maxConn's permit itself.
struct ResBody {
    text: Option<String>,
    permit: Option<Permit>,
}

impl From<String> for ResBody {
    fn from(text: String) -> Self {
        ResBody {
            text: Some(text),
            permit: None,
        }
    }
}

impl From<&'static str> for ResBody {
    fn from(text: &'static str) -> Self {
        ResBody::from(text.to_owned())
    }
}

impl HoldsPermit for ResBody {
    fn hold_permit(&mut self, permit: Permit) {
        self.permit = Some(permit);
    }
}

#[tokio::test]
async fn the_response_body_holds_the_permit_until_dropped() {
    let layer = MaxConnLayer::request_host(1).in_place();
    let backend = service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(ResBody::from("hello".to_owned())))
    });
    let svc = layer.clone().layer(backend);
    let req = || {
        Request::builder()
            .uri("http://a.example/")
            .body(())
            .unwrap()
    };

    let first = svc.clone().oneshot(req()).await.unwrap();
    assert!(first.body().permit.is_some(), "the body holds the permit");
    assert_eq!(first.body().text.as_deref(), Some("hello"));
    assert_eq!(layer.in_flight("a.example"), 1);

    let refused = svc.clone().oneshot(req()).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(
        refused.body().permit.is_none(),
        "the layer's own answer is not counted"
    );

    drop(first);
    assert_eq!(layer.in_flight("a.example"), 0);
    let again = svc.oneshot(req()).await.unwrap();
    assert_eq!(again.status(), 200);
}

/// A backend callable by shared reference: refuses its first call, then echoes the body.
#[derive(Clone, Default)]
struct Shared {
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl tower::Service<Request<ReqBody>> for &Shared {
    type Response = Response<ResBody>;
    type Error = &'static str;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Response<ResBody>, &'static str>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let calls = self.calls.clone();
        Box::pin(async move {
            let kind = variant(req.body());
            let first = {
                let mut calls = calls.lock().unwrap();
                calls.push(kind);
                calls.len() == 1
            };
            if first {
                return Err("refused");
            }
            let read = req.into_body().collect().await.unwrap().to_bytes();
            Ok(Response::new(ResBody::from(
                String::from_utf8_lossy(&read).into_owned(),
            )))
        })
    }
}

/// The owned service goes through its shared reference, as a retry's clone does.
impl tower::Service<Request<ReqBody>> for Shared {
    type Response = Response<ResBody>;
    type Error = &'static str;
    type Future = <&'static Shared as tower::Service<Request<ReqBody>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        (&*self).poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        (&*self).call(req)
    }
}

#[tokio::test]
async fn a_stack_of_layers_is_called_by_shared_reference() {
    use tower::Service;
    use trafik_middleware::breaker::{BreakerLayer, BreakerState};

    let backend = Shared::default();
    let max_conn = MaxConnLayer::request_host(10).in_place();
    let stack = BreakerLayer::new(BreakerState::new(), |_| false).layer(
        RetryLayer::new(2, |_: &&str| true)
            .in_place()
            .layer(max_conn.clone().layer(backend.clone())),
    );
    let req = Request::builder()
        .uri("http://a.example/")
        .body(ReqBody::Full(Full::new(Bytes::from_static(b"again"))))
        .unwrap();
    let mut by_ref = &stack;
    std::future::poll_fn(|cx| by_ref.poll_ready(cx))
        .await
        .unwrap();
    let response = by_ref.call(req).await.expect("the retry answers");
    assert_eq!(response.body().text.as_deref(), Some("again"));
    assert_eq!(
        response.extensions().get::<RetryAttempts>(),
        Some(&RetryAttempts(2))
    );
    assert_eq!(*backend.calls.lock().unwrap(), vec!["replay", "replay"]);
    // The answer's body holds its permit; the refused attempt's went with it.
    assert_eq!(max_conn.in_flight("a.example"), 1);
    drop(response);
    assert_eq!(max_conn.in_flight("a.example"), 0);
}
