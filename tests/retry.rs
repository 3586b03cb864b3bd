//! `[retry]` with health checks: a server that dies under load costs the clients nothing;
//! its traffic moves to the live server and comes back when it restarts. Retries go to
//! another server, show in the access log, and never replay a body too large to keep.

use crate::common;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

fn config(port: u16, servers: &[String], extra: &str) -> String {
    let servers: Vec<(String, u32)> = servers.iter().map(|u| (u.clone(), 1)).collect();
    catch_all_config(port, &servers, &format!("[retry]\n{extra}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_load_fails_no_request_and_comes_back() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let b_addr = b.addr.to_string();
    let port = free_port();
    let trafik = Trafik::start(&config(
        port,
        &[a.url(), b.url()],
        "[backends.b.healthCheck]\npath = \"/health\"\ninterval = \"100ms\"",
    ));
    let url = format!("http://127.0.0.1:{port}/load");
    trafik.wait_for(&url, 200).await;

    // Four clients in a loop, bounded in time, counting every answer that is not a 200.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, failures, total, url) =
            (stop.clone(), failures.clone(), total.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let c = client();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let ok = matches!(c.get(&url).send().await, Ok(r) if r.status() == 200);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                total.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let wait_for_total = |n: usize| {
        let total = total.clone();
        async move {
            eventually("more requests", || async {
                (total.load(Ordering::Relaxed) >= n).then_some(())
            })
            .await
        }
    };

    wait_for_total(200).await;
    let b_before = b.hits();
    assert!(b_before > 0, "b got nothing before it died");
    b.stop();
    let after_kill = total.load(Ordering::Relaxed);
    wait_for_total(after_kill + 400).await;
    let a_mid = a.hits();

    // Back on the same address: the health check returns it to the rotation.
    let b = Backend::start_on("b", &b_addr).await;
    eventually("the restarted server gets traffic again", || async {
        (b.hits() >= 20).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(a.hits() > a_mid, "a stopped getting traffic");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "client requests failed out of {}; trafik log:\n{}",
        total.load(Ordering::Relaxed),
        trafik.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_go_to_another_server_and_are_logged() {
    let live = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let trafik = Trafik::start_with(
        &config(port, &[dead, live.url()], "").replace(
            "[file]",
            "[accessLog]\nformat = \"json\"\nfilePath = \"access.log\"\n[file]",
        ),
        &[],
    );
    let url = format!("http://127.0.0.1:{port}/x");
    trafik.wait_for(&url, 200).await;
    // Round robin sends every other request to the dead server first; the retry always
    // reaches the live one. The forwarder adds X-Forwarded-* to each attempt, and a
    // replay starts from the request as the client sent it: the client is named once.
    for _ in 0..10 {
        let (status, v) = get_json(&url).await;
        assert_eq!(status, 200, "{}", trafik.logs());
        assert_eq!(v["server"], "live");
        assert_eq!(v["headers"]["x-forwarded-for"], "127.0.0.1", "{v}");
        assert_eq!(v["headers"]["x-real-ip"], "127.0.0.1", "{v}");
    }
    let log = trafik.path("access.log");
    let lines = eventually("access log lines", || async {
        let text = std::fs::read_to_string(&log).ok()?;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (lines.len() >= 11).then_some(lines)
    })
    .await;
    let retried: Vec<_> = lines
        .iter()
        .filter(|l| l["RetryAttempts"] == 1 && l["OriginStatus"] == 200)
        .collect();
    assert!(retried.len() >= 4, "expected retried requests in {lines:?}");
    // The record names the server that answered the retry, not the one that failed.
    assert!(
        retried
            .iter()
            .all(|l| l["BackendURL"] == live.url().as_str()),
        "{retried:?}"
    );
    assert!(lines.iter().all(|l| l["RetryAttempts"].as_u64() <= Some(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_too_large_to_replay_is_not_retried() {
    let live = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let trafik = Trafik::start(&config(port, &[dead, live.url()], ""));
    let url = format!("http://127.0.0.1:{port}/upload");
    trafik.wait_for(&url, 200).await;

    let small = "x".repeat(1000);
    let large = "x".repeat(100 * 1024);
    let post = |body: String| {
        let url = url.clone();
        async move { client().post(&url).body(body).send().await.unwrap() }
    };
    // Two in a row: one of them is sent to the dead server first.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = post(small.clone()).await;
        statuses.push(r.status().as_u16());
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v["body"].as_str().map(str::len),
            Some(1000),
            "replayed body differs"
        );
    }
    assert_eq!(statuses, [200, 200], "small bodies are replayed");
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(post(large.clone()).await.status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 502], "a 100 KiB body must not be retried");
}
