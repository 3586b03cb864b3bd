//! `[backends.X.circuitBreaker]`: a backend failing past its expression is cut off with
//! 503 for the fallback period, without trafik sending it anything. (The timing of the
//! fallback and recovery ramp is unit-tested on a paused clock in trafik-middleware.)

mod common;
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
