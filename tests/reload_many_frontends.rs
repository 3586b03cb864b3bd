//! 10,000 frontends (exact hosts, hosts with a path prefix, and 2,500 host templates) route
//! each request to the right one, and reloads of that configuration under continuous load
//! lose no request. The load goes through a host template (`{a:[0-9]+}.0.0.1` matches the
//! client's `127.0.0.1`), so it crosses the template index on every request.

use crate::common;
use std::time::{Duration, Instant};

use common::load::{Counts, Load};
use common::*;

const N: usize = 10_000;

/// A debug build parses and compiles 10,000 frontends in seconds, more on a loaded machine:
/// longer than the kit's deadline.
const SLOW_DEADLINE: Duration = Duration::from_secs(180);

/// Polls `check` until it gives a value, failing past `SLOW_DEADLINE`.
async fn slowly<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < SLOW_DEADLINE,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The dynamic configuration: `fe` (the loaded frontend) on `backend`, and N others on
/// `other`, a quarter of them host templates.
fn rules(a: &str, b: &str, backend: &str, generation: usize) -> String {
    let mut s = format!(
        "# generation {generation}\n[backends.a.servers.s]\nurl = \"{a}\"\n[backends.b.servers.s]\nurl = \"{b}\"\n[backends.other.servers.s]\nurl = \"{b}\"\n[frontends.fe]\nbackend = \"{backend}\"\n[frontends.fe.routes.r]\nrule = \"HostRegexp:{{a:[0-9]+}}.0.0.1\"\n"
    );
    for i in 0..N {
        let rule = match i % 4 {
            0 => format!("HostRegexp:{{sub:[a-z]+}}.r{i}.example.com"),
            2 => format!("Host:h{i}.example.com;PathPrefix:/p{i}"),
            _ => format!("Host:h{i}.example.com"),
        };
        s.push_str(&format!(
            "[frontends.f{i}]\nbackend = \"other\"\n[frontends.f{i}.routes.r]\nrule = \"{rule}\"\n"
        ));
    }
    s
}

/// The frontend that served a request for `host` + `path` (the backends echo the request).
async fn frontend_for(port: u16, host: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("host", host)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (status, body["server"].as_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_frontends_route_and_reload_under_load() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let main_static = format!(
        "providersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\nfilename = \"rules.toml\"\n"
    );
    let trafik = Trafik::start_with(
        &main_static,
        &[("rules.toml", &rules(&a.url(), &b.url(), "a", 0))],
    );
    slowly("the first configuration", || async {
        let (s, _) = get_json(&format!("http://127.0.0.1:{port}/warm")).await;
        (s == 200).then_some(())
    })
    .await;

    // Routing among the 10,000: templates, exact hosts, host + path, and misses.
    assert_eq!(
        frontend_for(port, "abc.r4.example.com", "/").await,
        (200, "b".into())
    );
    assert_eq!(
        frontend_for(port, "h5.example.com", "/x").await,
        (200, "b".into())
    );
    assert_eq!(
        frontend_for(port, "h6.example.com", "/p6/x").await,
        (200, "b".into())
    );
    assert_eq!(frontend_for(port, "h6.example.com", "/x").await.0, 404);
    assert_eq!(frontend_for(port, "123.r4.example.com", "/").await.0, 404);
    assert_eq!(frontend_for(port, "abc.r5.example.com", "/").await.0, 404);
    assert_eq!(frontend_for(port, "nothing.org", "/").await.0, 404);

    // Bounded: at most 20 000 requests per worker, and stopped after the reloads.
    let load = Load::start(&format!("http://127.0.0.1:{port}/load"), 4, 20_000);
    let rules_path = trafik.path("rules.toml");
    for generation in 1..=3 {
        let name = if generation % 2 == 0 { "a" } else { "b" };
        write_by_rename(&rules_path, &rules(&a.url(), &b.url(), name, generation));
        slowly(&format!("reload {generation}"), || async {
            let (s, v) = get_json(&format!("http://127.0.0.1:{port}/probe")).await;
            (s == 200 && v["server"] == name).then_some(())
        })
        .await;
    }
    let Counts { ok, failed } = load.stop().await;
    assert_eq!(failed, 0, "{failed} failed requests out of {}", ok + failed);
    assert!(ok > 100, "the load loop barely ran: {ok} requests");
}
