//! `[backends.X.loadBalancer]` through the binary: wrr's weights and interleaving, drr
//! moving traffic away from a slow server, and cookie stickiness that holds a client and
//! lets go when its server dies.

use crate::common;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;

async fn server_of(c: &reqwest::Client, url: &str) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["server"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrr_honours_weights_and_interleaves() {
    let heavy = Backend::start("heavy").await;
    let light = Backend::start("light").await;
    let port = free_port();
    let trafik = Trafik::start(&catch_all_config(
        port,
        &[(heavy.url(), 3), (light.url(), 1)],
        "",
    ));
    let url = format!("http://127.0.0.1:{port}/");
    trafik.wait_for(&url, 200).await;

    let c = client();
    let mut order = Vec::new();
    for _ in 0..400 {
        order.push(server_of(&c, &url).await);
    }
    let heavy_share = order.iter().filter(|s| *s == "heavy").count();
    // 3:1 of 400 is 300; a smooth round robin is exact up to where it started.
    assert!(
        (290..=310).contains(&heavy_share),
        "heavy got {heavy_share}/400"
    );
    // Interleaved, not bursty: never more than three heavy in a row, never two light.
    let longest = |name: &str| {
        order
            .chunk_by(|a, b| a == b)
            .filter(|run| run[0] == name)
            .map(<[String]>::len)
            .max()
            .unwrap_or(0)
    };
    assert!(longest("heavy") <= 3, "bursty: {order:?}");
    assert_eq!(longest("light"), 1, "bursty: {order:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drr_moves_traffic_away_from_a_slow_server() {
    let fast = Backend::start("fast").await;
    let slow = Backend::start("slow").await;
    let port = free_port();
    let trafik = Trafik::start(&catch_all_config(
        port,
        &[(fast.url(), 1), (slow.url(), 1)],
        "[backends.b.loadBalancer]\nmethod = \"drr\"",
    ));
    let url = format!("http://127.0.0.1:{port}/");
    trafik.wait_for(&url, 200).await;
    slow.set_delay(40);

    // Four clients for a few seconds (drr judges once a second), bounded in count too.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut seen = Vec::new();
            while started.elapsed() < Duration::from_secs(5) && seen.len() < 5000 {
                seen.push((started.elapsed(), server_of(&c, &url).await));
            }
            seen
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    let share = |from: u64, to: u64| {
        let window: Vec<_> = seen
            .iter()
            .filter(|(t, _)| *t >= Duration::from_secs(from) && *t < Duration::from_secs(to))
            .collect();
        let slow = window.iter().filter(|(_, s)| s == "slow").count();
        (slow as f64 / window.len().max(1) as f64, window.len())
    };
    let (late, n) = share(3, 5);
    // With equal weights wrr gives the slow server half the requests; drr, once it has
    // judged a few times, a small fraction.
    assert!(n > 20, "too few requests measured: {n}");
    assert!(
        late < 0.2,
        "slow server still has {:.0}% of the traffic in the last two seconds",
        late * 100.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stickiness_holds_a_client_and_repicks_when_its_server_dies() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&catch_all_config(
        port,
        &[(a.url(), 1), (b.url(), 1)],
        "[backends.b.loadBalancer.stickiness]\ncookieName = \"pin\"\nhttpOnly = true\n\
         [backends.b.healthCheck]\npath = \"/health\"\ninterval = \"100ms\"",
    ));
    let url = format!("http://127.0.0.1:{port}/");
    trafik.wait_for(&url, 200).await;

    let first = client().get(&url).send().await.unwrap();
    let set_cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.starts_with("pin=http://127.0.0.1:")
            && set_cookie.ends_with("; Path=/; HttpOnly"),
        "{set_cookie}"
    );

    // A client that keeps the cookie it is given, as a browser does.
    let mut jar = Jar::default();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..100 {
        *counts.entry(jar.server(&url).await).or_default() += 1;
    }
    assert_eq!(counts.len(), 1, "client moved between servers: {counts:?}");
    let (stuck, _) = counts.into_iter().next().unwrap();

    // Its server dies: the health check takes it out, the next request goes to the other
    // server with a new cookie, and the client stays there.
    let (dead, other) = if stuck == "a" { (a, "b") } else { (b, "a") };
    dead.stop();
    let deadline = Instant::now() + DEADLINE;
    while jar.server(&url).await != other {
        assert!(
            Instant::now() < deadline,
            "the client never moved to {other}"
        );
    }
    for _ in 0..20 {
        assert_eq!(jar.server(&url).await, other);
    }
}

/// Keeps the last stickiness cookie it was sent and sends it back.
#[derive(Default)]
struct Jar {
    cookie: String,
    client: Option<reqwest::Client>,
}

impl Jar {
    /// The server that answered (502s and the like while a server dies count as "-").
    async fn server(&mut self, url: &str) -> String {
        let c = self.client.get_or_insert_with(client);
        let mut req = c.get(url);
        if !self.cookie.is_empty() {
            req = req.header("cookie", &self.cookie);
        }
        let Ok(r) = req.send().await else {
            return "-".into();
        };
        if let Some(set) = r.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            self.cookie = set.split(';').next().unwrap().to_string();
        }
        if r.status() != 200 {
            return "-".into();
        }
        let v: serde_json::Value = r.json().await.unwrap();
        v["server"].as_str().unwrap().to_string()
    }
}
