//! `[backends.X.circuitBreaker]`: a backend failing past its expression is cut off with
//! 503 for the fallback period, without trafik sending it anything. (The timing of the
//! fallback and recovery ramp is unit-tested on a paused clock in trafik-middleware.)

use crate::common;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn breakers_trip_on_500s_and_on_network_errors() {
    let sick = Backend::start("sick").await;
    let dead_port = free_port();
    let port = free_port();
    let trafik = Trafik::start(&format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.sick.circuitBreaker]
expression = "ResponseCodeRatio(500, 600, 0, 600) > 0.5"
[backends.sick.servers.s]
url = "{sick}"
[backends.dead.circuitBreaker]
expression = "NetworkErrorRatio() > 0.5"
[backends.dead.servers.s]
url = "http://127.0.0.1:{dead_port}"
[frontends.sick]
backend = "sick"
[frontends.sick.routes.r]
rule = "PathPrefix:/sick"
[frontends.dead]
backend = "dead"
[frontends.dead.routes.r]
rule = "PathPrefix:/dead"
"#,
        sick = sick.url()
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/sick/ok"), 200)
        .await;

    // The backend answers 500s: trafik passes them on until the breaker trips, then 503s.
    let body = eventually("breaker on 500s trips", || async {
        let r = client()
            .get(format!("http://127.0.0.1:{port}/sick/x?status=500"))
            .send()
            .await
            .ok()?;
        (r.status() == 503).then_some(())?;
        r.text().await.ok()
    })
    .await;
    assert_eq!(body, "Service Unavailable");
    // While tripped, nothing reaches the backend, not even a request it would answer well.
    let hits = sick.hits();
    for _ in 0..10 {
        let (status, _) = get_json(&format!("http://127.0.0.1:{port}/sick/ok")).await;
        assert_eq!(status, 503);
    }
    assert_eq!(sick.hits(), hits, "requests reached a tripped backend");

    // Connection refused ⇒ 502s ⇒ NetworkErrorRatio trips ⇒ 503s.
    eventually("breaker on network errors trips", || async {
        let (status, _) = get_json(&format!("http://127.0.0.1:{port}/dead")).await;
        (status == 503).then_some(())
    })
    .await;
}

#[test]
fn a_bad_expression_is_located_and_skips_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        "[entryPoints.http]\naddress = \":8080\"\n[file]\n[backends.b.circuitBreaker]\nexpression = \"NetworkErrorRatio() > 1\"\n\
         [backends.b.servers.s]\nurl = \"http://127.0.0.1:9\"\n[frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"Path:/\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    // Column of the `1` inside the string: the quote is at 14, so NetworkErrorRatio() > 1 puts it at 37.
    assert!(
        stderr.contains("trafik.toml:5:37:") && stderr.contains("int"),
        "{stderr}"
    );
    assert!(stderr.contains("frontend \"f\" skipped"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_backend_trips_on_latency_and_recovers_once_it_heals() {
    let b = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.b.circuitBreaker]
expression = "LatencyAtQuantileMS(50.0) > 20"
[backends.b.servers.s]
url = "{url}"
[frontends.f]
backend = "b"
[frontends.f.routes.r]
rule = "PathPrefix:/"
"#,
        url = b.url()
    ));
    let url = format!("http://127.0.0.1:{port}/");
    trafik.wait_for(&url, 200).await;

    b.set_delay(60);
    eventually("breaker on latency trips", || async {
        let (status, _) = get_json(&url).await;
        (status == 503).then_some(())
    })
    .await;
    let tripped_at = std::time::Instant::now();

    // Healed: after the 10 s fallback the ramp lets a growing share through, and after
    // the 10 s ramp everything passes again.
    b.set_delay(0);
    let deadline = tripped_at + std::time::Duration::from_secs(45);
    let mut first_pass = None;
    let mut passes_in_a_row = 0;
    while passes_in_a_row < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "breaker never recovered; log:\n{}",
            trafik.logs()
        );
        let (status, _) = get_json(&url).await;
        if status == 200 {
            first_pass.get_or_insert_with(|| tripped_at.elapsed());
            passes_in_a_row += 1;
        } else {
            assert_eq!(status, 503);
            passes_in_a_row = 0;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let first_pass = first_pass.unwrap();
    assert!(
        first_pass >= std::time::Duration::from_secs(9),
        "a request passed {first_pass:?} after tripping, inside the 10 s fallback"
    );
}
