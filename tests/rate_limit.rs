//! `[frontends.X.rateLimit]` through the real binary: token buckets per key, 429 with
//! `Retry-After` past any rate set and nothing sent to the backend, separate keys per
//! header value, buckets kept across a reload that keeps the frontend, and bad rate sets
//! reported where they are written (skipping only their frontend).

use crate::common;

use common::{Backend, Trafik, client, eventually, free_port, run_trafik, write_by_rename};

/// Status and `Retry-After` (seconds) of a GET with optional `X-Tenant`.
async fn get(url: &str, tenant: Option<&str>) -> (u16, Option<u64>) {
    let mut req = client().get(url);
    if let Some(t) = tenant {
        req = req.header("X-Tenant", t);
    }
    let r = req.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status().as_u16(), retry)
}

/// A frontend `name` for `rule` on backend `b`, with `extra` lines (its rateLimit tables).
fn frontend(name: &str, rule: &str, extra: &str) -> String {
    format!(
        "[frontends.{name}]\nbackend = \"b\"\n[frontends.{name}.routes.r]\nrule = \"{rule}\"\n{extra}\n"
    )
}

fn rate_limit(name: &str, extractor: &str, sets: &[(&str, &str, i64, i64)]) -> String {
    let mut s = format!("[frontends.{name}.rateLimit]\nextractorFunc = \"{extractor}\"\n");
    for (set, period, average, burst) in sets {
        s.push_str(&format!(
            "[frontends.{name}.rateLimit.rateSet.{set}]\nperiod = \"{period}\"\naverage = {average}\nburst = {burst}\n"
        ));
    }
    s
}

/// trafik with backend `b` and an unlimited `/ready` frontend (to wait on without
/// spending tokens), plus `frontends`.
async fn start(backend: &Backend, frontends: &str) -> (Trafik, String) {
    let port = free_port();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n\
         [backends.b.servers.s]\nurl = \"{}\"\n{}{frontends}",
        backend.url(),
        frontend("ready", "Path:/ready", "")
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/ready"), 200).await;
    (trafik, base)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_passes_then_429_with_retry_after_and_the_backend_is_not_called() {
    let backend = Backend::start("b").await;
    let limited = frontend(
        "slow",
        "Path:/slow",
        &rate_limit("slow", "client.ip", &[("s", "10s", 1, 2)]),
    );
    let (_t, base) = start(&backend, &limited).await;
    let before = backend.hits();
    let url = format!("{base}/slow");
    assert_eq!(get(&url, None).await, (200, None));
    assert_eq!(get(&url, None).await, (200, None));
    let (status, retry) = get(&url, None).await;
    assert_eq!(status, 429);
    // One token every 10 s: the wait is at most that, rounded up, and at least a second.
    let retry = retry.expect("Retry-After on a 429");
    assert!((1..=10).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        backend.hits() - before,
        2,
        "the refused request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_period_refills() {
    let backend = Backend::start("b").await;
    let limited = frontend(
        "fast",
        "Path:/fast",
        &rate_limit("fast", "client.ip", &[("s", "500ms", 1, 1)]),
    );
    let (_t, base) = start(&backend, &limited).await;
    let url = format!("{base}/fast");
    assert_eq!(get(&url, None).await.0, 200);
    let (status, retry) = get(&url, None).await;
    assert_eq!((status, retry), (429, Some(1)));
    // Polled, not slept: the token comes back after its period.
    eventually("a token back after 500 ms", || async {
        (get(&url, None).await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stricter_rate_set_decides() {
    let backend = Backend::start("b").await;
    // `loose` lets 100 through in a row; `strict` two a minute.
    let limited = frontend(
        "two",
        "Path:/two",
        &rate_limit(
            "two",
            "client.ip",
            &[("loose", "1s", 100, 100), ("strict", "60s", 2, 2)],
        ),
    );
    let (_t, base) = start(&backend, &limited).await;
    let url = format!("{base}/two");
    assert_eq!(get(&url, None).await.0, 200);
    assert_eq!(get(&url, None).await.0, 200);
    let (status, retry) = get(&url, None).await;
    assert_eq!(status, 429);
    // The wait is strict's (a token every 30 s), not loose's (10 ms).
    let retry = retry.unwrap();
    assert!((20..=30).contains(&retry), "Retry-After: {retry}");
}

#[tokio::test(flavor = "multi_thread")]
async fn header_keys_are_limited_separately() {
    let backend = Backend::start("b").await;
    let limited = frontend(
        "tenants",
        "Path:/t",
        // As v1's documentation writes it: `ratelimit`, `extractorfunc`, `rateset`.
        &rate_limit("tenants", "request.header.X-Tenant", &[("s", "60s", 1, 1)]).to_lowercase(),
    );
    let (_t, base) = start(&backend, &limited).await;
    let url = format!("{base}/t");
    assert_eq!(get(&url, Some("a")).await.0, 200);
    assert_eq!(get(&url, Some("a")).await.0, 429);
    assert_eq!(get(&url, Some("b")).await.0, 200);
    assert_eq!(get(&url, Some("b")).await.0, 429);
    // No header: one shared key of its own (v1's empty value).
    assert_eq!(get(&url, None).await.0, 200);
    assert_eq!(get(&url, None).await.0, 429);
    assert_eq!(get(&url, Some("c")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_keeps_the_frontend_keeps_its_buckets() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "providersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [file]\nfilename = \"rules.toml\"\n"
    );
    let limited = frontend(
        "kept",
        "Path:/kept",
        &rate_limit("kept", "client.ip", &[("s", "60s", 1, 1)]),
    );
    let rules = |other: &str| {
        format!(
            "[backends.b.servers.s]\nurl = \"{}\"\n{limited}{}",
            backend.url(),
            frontend("other", &format!("Path:/{other}"), "")
        )
    };
    let trafik = Trafik::start_with(&toml, &[("rules.toml", &rules("one"))]);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/one"), 200).await;
    let url = format!("{base}/kept");
    assert_eq!(get(&url, None).await.0, 200);
    assert_eq!(get(&url, None).await.0, 429);

    // Another frontend changes; `kept` and its rateLimit do not.
    write_by_rename(&trafik.path("rules.toml"), &rules("two"));
    trafik.wait_for(&format!("{base}/two"), 200).await;
    let hits = backend.hits();
    assert_eq!(
        get(&url, None).await.0,
        429,
        "the reload refilled the bucket"
    );
    assert_eq!(backend.hits(), hits);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rate_sets_skip_only_their_frontend_and_are_located() {
    let backend = Backend::start("b").await;
    let frontends = [
        frontend(
            "good",
            "Path:/good",
            &rate_limit("good", "client.ip", &[("s", "10s", 100, 100)]),
        ),
        frontend(
            "zero",
            "Path:/zero",
            &rate_limit(
                "zero",
                "client.ip",
                &[("ok", "10s", 1, 1), ("bad", "0s", 1, 1)],
            ),
        ),
        frontend(
            "none",
            "Path:/none",
            &rate_limit("none", "client.ip", &[("s", "10s", 0, 1)]),
        ),
        frontend(
            "who",
            "Path:/who",
            &rate_limit("who", "client.port", &[("s", "10s", 1, 1)]),
        ),
    ]
    .concat();
    let (trafik, base) = start(&backend, &frontends).await;
    let toml = std::fs::read_to_string(&trafik.config).unwrap();
    // Each error points at the value at fault.
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let period_line = line_of("period = \"0s\"");
    let average_line = line_of("average = 0");
    let extractor_line = line_of("client.port");

    assert_eq!(get(&format!("{base}/good"), None).await.0, 200);
    // Skipped, not served unlimited: nothing else matches these paths.
    for path in ["zero", "none", "who"] {
        assert_eq!(get(&format!("{base}/{path}"), None).await.0, 404, "/{path}");
    }
    let expected = [
        format!(
            "trafik.toml:{period_line}:10: frontend \"zero\" skipped: rateLimit: rateSet \"bad\": period"
        ),
        format!(
            "trafik.toml:{average_line}:11: frontend \"none\" skipped: rateLimit: rateSet \"s\": average"
        ),
        format!(
            "trafik.toml:{extractor_line}:17: frontend \"who\" skipped: rateLimit: unknown extractor \"client.port\""
        ),
    ];
    let logs = trafik.logs();
    for e in &expected {
        assert!(logs.contains(e.as_str()), "{e}\n{logs}");
    }
    let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success());
    for e in &expected {
        assert!(stderr.contains(e.as_str()), "{e}\n{stderr}");
    }
}

/// The REST provider and the API speak v1's JSON, where the keys are `ratelimit` and
/// `rateset`; what the API shows reads back the same.
#[test]
fn v1_json_names() {
    let v1 = r#"{"backend": "b", "ratelimit": {"extractorFunc": "client.ip",
        "rateset": {"s": {"period": "10s", "average": 100, "burst": 200}}}}"#;
    let f: trafik_config::Frontend = serde_json::from_str(v1).unwrap();
    let r = f.rate_limit.as_ref().expect("ratelimit read");
    assert_eq!(r.extractor_func, "client.ip");
    assert_eq!((r.rate_set["s"].average, r.rate_set["s"].burst), (100, 200));
    let shown = serde_json::to_value(&f).unwrap();
    assert_eq!(shown["ratelimit"]["rateset"]["s"]["burst"], 200);
    let again: trafik_config::Frontend = serde_json::from_value(shown).unwrap();
    assert_eq!(again, f);
}
