//! `[backends.X.maxConn]` and `[backends.X.buffering]` through the binary, and the errors
//! a bad resilience option gets: located, the backend skipped, the rest serving.

use crate::common;
use std::time::Duration;

use common::*;

fn config(port: u16, servers: &[String], backend_extra: &str) -> String {
    let servers: Vec<(String, u32)> = servers.iter().map(|u| (u.clone(), 1)).collect();
    catch_all_config(port, &servers, backend_extra)
}

/// trafik serving one backend `b` with `backend_extra`, ready; and the base URL.
async fn serving_b(backend_extra: &str) -> (Backend, Trafik, String) {
    let b = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&config(port, &[b.url()], backend_extra));
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/"), 200).await;
    (b, trafik, base)
}

#[tokio::test(flavor = "multi_thread")]
async fn max_conn_answers_429_past_the_limit() {
    let (b, _trafik, base) =
        serving_b("[backends.b.maxConn]\namount = 2\nextractorFunc = \"request.header.X-Tenant\"")
            .await;

    // Two slow requests of tenant t1 hold both of its slots…
    let slow = |tenant: &'static str| {
        let url = format!("{base}/slow?wait=3000");
        tokio::spawn(async move {
            client()
                .get(url)
                .header("x-tenant", tenant)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let before = b.hits();
    let held = [slow("t1"), slow("t1")];
    eventually("both slow requests to reach the backend", || async {
        (b.hits() >= before + 2).then_some(())
    })
    .await;
    // …so a third is refused at once, while another tenant still gets through.
    let r = client()
        .get(format!("{base}/"))
        .header("x-tenant", "t1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.text().await.unwrap(), "max connections reached: 2");
    let r = client()
        .get(format!("{base}/"))
        .header("x-tenant", "t2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }
    // The slots are free again once the slow responses ended.
    let r = client()
        .get(format!("{base}/"))
        .header("x-tenant", "t1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `client.ip` counts by the connection's peer address, which reaches the layer in the
/// request's context (its extensions): without it every request would be answered 500
/// (no key), as v1 answers a failed extraction.
#[tokio::test(flavor = "multi_thread")]
async fn max_conn_counts_per_client_ip() {
    let (b, _trafik, base) =
        serving_b("[backends.b.maxConn]\namount = 1\nextractorFunc = \"client.ip\"").await;

    let before = b.hits();
    let url = format!("{base}/slow?wait=3000");
    let held = tokio::spawn(async move { client().get(url).send().await.unwrap().status() });
    eventually("the slow request to reach the backend", || async {
        (b.hits() > before).then_some(())
    })
    .await;
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.text().await.unwrap(), "max connections reached: 1");
    assert_eq!(held.await.unwrap(), 200);
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn buffering_limits_bodies_and_retries_by_expression() {
    let live = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let trafik = Trafik::start(&config(
        port,
        &[dead, live.url()],
        "[backends.b.buffering]\nmaxRequestBodyBytes = 1000\nmaxResponseBodyBytes = 100000\n\
         retryExpression = \"IsNetworkError() && Attempts() <= 2\"",
    ));
    let url = format!("http://127.0.0.1:{port}/up");
    trafik.wait_for(&url, 200).await;

    // Over the limit: 413 without reaching a server.
    let hits = live.hits();
    let r = client()
        .post(&url)
        .body("x".repeat(1001))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.text().await.unwrap(), "Request Entity Too Large");
    // Chunked (no Content-Length): counted while read.
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 100]))),
    );
    let r = client()
        .post(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(live.hits(), hits, "an oversized body reached the backend");

    // Under it: every request succeeds although every other one first meets the dead
    // server, because the expression retries network errors (no [retry] section here).
    for _ in 0..6 {
        let r = client()
            .post(&url)
            .body("z".repeat(999))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", trafik.logs());
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["body"].as_str().unwrap().len(), 999);
    }
}

#[test]
fn bad_options_are_located_and_skip_only_their_backend() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"[entryPoints.http]
address = ":8080"
[file]
[backends.b1.maxConn]
amount = 10
extractorFunc = "client.port"
[backends.b1.servers.s]
url = "http://127.0.0.1:9"
[backends.b2.buffering]
retryExpression = "Attempts() < 2 && IsNetworkError(1)"
[backends.b2.servers.s]
url = "http://127.0.0.1:9"
[backends.b3.healthCheck]
path = "health"
[backends.b3.servers.s]
url = "http://127.0.0.1:9"
[backends.b4.loadBalancer.stickiness]
sameSite = "sometimes"
[backends.b4.servers.s]
url = "http://127.0.0.1:9"
[backends.good.servers.s]
url = "http://127.0.0.1:9"
[frontends.f1]
backend = "b1"
[frontends.f1.routes.r]
rule = "Host:one"
[frontends.good]
backend = "good"
[frontends.good.routes.r]
rule = "Host:good"
"#;
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    let has = |needle: &str| assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    has("trafik.toml:6:");
    has("backend \"b1\" skipped");
    has("client.port");
    // The column of `(1)`'s argument inside the string: the quote is at 19.
    has("trafik.toml:10:53:");
    has("backend \"b2\" skipped: retryExpression");
    has("trafik.toml:14:");
    has("backend \"b3\" skipped");
    has("must start with \"/\"");
    has("trafik.toml:18:");
    has("backend \"b4\" skipped");
    has("sometimes");
    has("frontend \"f1\" skipped");
    assert!(!stderr.contains("\"good\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_backend_does_not_stop_the_others() {
    let b = Backend::start("b").await;
    let port = free_port();
    let toml = config(port, &[b.url()], "")
        + "[backends.bad.maxConn]\namount = 1\nextractorFunc = \"nope\"\n\
           [backends.bad.servers.s]\nurl = \"http://127.0.0.1:9\"\n\
           [frontends.bad]\nbackend = \"bad\"\n[frontends.bad.routes.r]\nrule = \"Host:bad\"\n";
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/"), 200)
        .await;
    let r = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", "bad")
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    // Its frontend is gone, so the request falls to the catch-all frontend.
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["server"], "b");
    assert!(
        trafik.logs().contains("backend \"bad\" skipped"),
        "{}",
        trafik.logs()
    );
}

/// Every layer at once, buffering among them: the breaker stands outside buffering (v1's
/// order), so it still trips on what comes through it, and buffering still refuses a body
/// over its limit before anything reaches the backend.
#[tokio::test(flavor = "multi_thread")]
async fn a_breaker_over_buffering_trips_and_buffering_still_limits() {
    let (b, _trafik, base) = serving_b(
        "[backends.b.buffering]\nmaxRequestBodyBytes = 1000\n\
         [backends.b.circuitBreaker]\nexpression = \"ResponseCodeRatio(500, 600, 0, 600) > 0.5\"\n\
         [backends.b.maxConn]\namount = 100\nextractorFunc = \"client.ip\"",
    )
    .await;

    let before = b.hits();
    let r = client()
        .post(format!("{base}/"))
        .body(vec![b'x'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(b.hits(), before, "an oversized body reached the backend");

    eventually("the breaker over buffering trips on 500s", || async {
        let r = client()
            .get(format!("{base}/x?status=500"))
            .send()
            .await
            .ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    let hits = b.hits();
    let r = client().get(format!("{base}/ok")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(b.hits(), hits, "a request reached a tripped backend");
}
