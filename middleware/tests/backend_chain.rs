//! v1's per-backend chain, outer to inner: circuit breaker → buffering → retry → maxConn →
//! balancer. The layers compose over one another's body types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use trafik_middleware::breaker::{BreakerLayer, BreakerState};
use trafik_middleware::buffer::{BufferedBody, BufferingLayer};
use trafik_middleware::limit::MaxConnLayer;
use trafik_middleware::retry::{ReplayBody, RetryAttempts, RetryLayer};

#[derive(Debug, PartialEq)]
struct Refused;

type Inner = Request<ReplayBody<BufferedBody>>;

#[tokio::test]
async fn the_whole_chain() {
    let calls = Arc::new(AtomicUsize::new(0));
    let max_conn = MaxConnLayer::request_host(1);
    let svc = ServiceBuilder::new()
        .layer(BreakerLayer::new(BreakerState::new(), |m| {
            m.network_error_ratio() > 0.9
        }))
        .layer(BufferingLayer::new().max_request_body_bytes(1024))
        .layer(RetryLayer::new(2, |_: &Refused| true))
        .layer(max_conn.clone())
        .service({
            // Refuses the first call, then echoes the body.
            let calls = calls.clone();
            service_fn(move |req: Inner| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    if n == 0 {
                        return Err(Refused);
                    }
                    Ok(Response::new(Full::new(body)))
                }
            })
        });

    let req = Request::post("http://example.com/")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Buffering keeps the response's extensions, the attempts made below included.
    assert_eq!(
        response.extensions().get::<RetryAttempts>(),
        Some(&RetryAttempts(2))
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "payload");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Buffering read the whole response, so maxConn's slot is free.
    assert_eq!(max_conn.in_flight("example.com"), 0);
}

#[tokio::test]
async fn without_buffering_the_slot_follows_the_streamed_body() {
    let max_conn = MaxConnLayer::request_host(1);
    let svc = ServiceBuilder::new()
        .layer(BreakerLayer::new(BreakerState::new(), |m| {
            m.network_error_ratio() > 0.9
        }))
        .layer(RetryLayer::new(2, |_: &Refused| true))
        .layer(max_conn.clone())
        .service(service_fn(
            |req: Request<ReplayBody<Full<Bytes>>>| async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, Refused>(Response::new(Full::new(body)))
            },
        ));
    let req = Request::post("http://example.com/")
        .body(Full::new(Bytes::from_static(b"streamed")))
        .unwrap();
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(max_conn.in_flight("example.com"), 1);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "streamed");
    assert_eq!(max_conn.in_flight("example.com"), 0);
}
