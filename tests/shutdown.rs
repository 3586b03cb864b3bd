//! Graceful shutdown: a slow request in flight at SIGTERM completes; with
//! `requestAcceptGraceTimeout` new requests are still served for a while; exit status 0.

use crate::common;
use std::time::{Duration, Instant};

use common::*;

fn config(port: u16, backend: &str, lifecycle: &str) -> String {
    format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n{lifecycle}\n[file]\n\
         [backends.b.servers.s]\nurl = \"{backend}\"\n[frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"PathPrefix:/\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_request_in_flight_at_sigterm_completes() {
    let backend = Backend::start("slow").await;
    let port = free_port();
    let mut trafik = Trafik::start(&config(
        port,
        &backend.url(),
        "[lifeCycle]\ngraceTimeOut = \"10s\"",
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/ready"), 200)
        .await;

    let url = format!("http://127.0.0.1:{port}/slow?wait=1500");
    let slow =
        tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) });
    // Wait until the backend has the request, so it is really in flight.
    eventually("slow request reached the backend", || async {
        (backend.hits() >= 2).then_some(())
    })
    .await;
    trafik.signal("TERM");

    assert_eq!(slow.await.unwrap().expect("slow request completes"), 200);
    let status = trafik.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        trafik.logs()
    );
    // After shutdown nothing listens any more.
    assert!(
        client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grace_timeout_bounds_the_wait() {
    let backend = Backend::start("stuck").await;
    let port = free_port();
    let mut trafik = Trafik::start(&config(
        port,
        &backend.url(),
        "[lifeCycle]\ngraceTimeOut = \"1s\"",
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/ready"), 200)
        .await;
    let url = format!("http://127.0.0.1:{port}/stuck?wait=30000");
    let _stuck = tokio::spawn(async move { client().get(url).send().await });
    eventually("stuck request reached the backend", || async {
        (backend.hits() >= 2).then_some(())
    })
    .await;
    let start = Instant::now();
    trafik.signal("TERM");
    let status = trafik.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "waited {:?} despite graceTimeOut = 1s",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_accept_grace_timeout_keeps_serving_after_sigterm() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let mut trafik = Trafik::start(&config(
        port,
        &backend.url(),
        "[lifeCycle]\nrequestAcceptGraceTimeout = \"2s\"\ngraceTimeOut = \"5s\"",
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/ready"), 200)
        .await;
    let signalled = Instant::now();
    trafik.signal("INT");
    // New connections are still accepted and served during the accept grace period.
    let fresh = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = fresh
        .get(format!("http://127.0.0.1:{port}/during-grace"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "test too slow to observe the grace period"
    );
    let status = trafik.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success());
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "exited before requestAcceptGraceTimeout"
    );
}
