//! The dashboard in a real browser, through the real binary: headless Chromium, driven
//! over the W3C WebDriver protocol (Debian's `chromedriver`, spoken to with reqwest), loads
//! `/dashboard/`, shows the file provider's frontend, picks up a frontend added to the
//! watched file without a page reload, and draws the traffic it is sent on the health
//! view. Screenshots of both views are written to `<target dir>/test-artifacts/`.
//!
//! Needs `apt-get install -y chromium chromium-driver` (`.ci/run` installs them).

#[path = "common/browser.rs"]
mod browser;
use crate::common;
use std::time::Instant;

use browser::*;
use common::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------ the test

const RULE1: &str = "Host: app.test ; PathPrefix:/a";
const RULE2: &str = "PathPrefix:/two";

fn rules(backend: &str, second: bool) -> String {
    let mut s = format!(
        "[backends.echo.servers.s1]\nurl = \"{backend}\"\n\
         [frontends.fe1]\nbackend = \"echo\"\n[frontends.fe1.routes.r1]\nrule = \"{RULE1}\"\n"
    );
    if second {
        s += &format!(
            "[frontends.fe2]\nbackend = \"echo\"\n[frontends.fe2.routes.r2]\nrule = \"{RULE2}\"\n\
             [frontends.fe2.whiteList]\nsourceRange = [\"127.0.0.1\"]\n\
             [frontends.fe2.headers]\nframeDeny = true\n\
             [frontends.fe2.auth.forward]\naddress = \"http://127.0.0.1:9/auth\"\n\
             [frontends.fe2.rateLimit]\nextractorFunc = \"client.ip\"\n\
             [frontends.fe2.rateLimit.rateSet.s]\nperiod = \"1s\"\naverage = 50\nburst = 80\n\
             [frontends.fe2.errors.e]\nstatus = [\"500-599\"]\nbackend = \"echo\"\nquery = \"/{{status}}\"\n"
        );
    }
    s
}

fn rule_text(frontend: &str, route: &str) -> String {
    format!(
        "return document.querySelector('article[data-frontend=\"{frontend}\"] \
         li[data-route=\"{route}\"] code[data-field=\"rule\"]')?.textContent ?? null;"
    )
}

/// The chart panel `g.panel-<panel>`: its zero line's y and the y of every drawn point
/// (SVG y grows downwards: above the zero line means a value above 0).
fn chart_points(panel: &str) -> String {
    format!(
        r#"const g = document.querySelector('#health-chart g.panel-{panel}');
const zero = Number(g?.querySelector('line.axis')?.getAttribute('y1'));
if (!g || !Number.isFinite(zero)) return null;
const ys = [...g.querySelectorAll('path.line')]
  .flatMap(p => [...(p.getAttribute('d') || '').matchAll(/[ML][-\d.]+,([-\d.]+)/g)].map(m => Number(m[1])));
"#
    )
}

/// True once the rate panel draws a point above its zero line: traffic is on the chart.
fn rate_drawn() -> String {
    chart_points("rate") + "return ys.some(y => y < zero - 1);"
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_in_headless_chromium() {
    let started = Instant::now();
    let artifacts = artifacts_dir();
    println!("test artifacts: {}", artifacts.display());

    let backend = Backend::start("echo").await;
    // Nothing listens on `store`: the Redis provider is down from the start.
    let (http, api, store) = (free_port(), free_port(), free_port());
    let trafik = Trafik::start_with(
        &format!(
            r#"logLevel = "INFO"
providersThrottleDuration = "0s"
defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[file]
filename = "rules.toml"
watch = true
[redis]
endpoint = "127.0.0.1:{store}"
"#
        ),
        &[("rules.toml", &rules(&backend.url(), false))],
    );
    let dashboard = format!("http://127.0.0.1:{api}/dashboard/");
    trafik.wait_for(&dashboard, 200).await;

    let browser = Browser::start(&artifacts.join("chromedriver.log")).await;
    println!("{:.1?}: browser started", started.elapsed());
    browser.goto(&dashboard).await;
    // Marks this document: it must survive until the end (no reload).
    browser
        .js("window.__sameDocument = true; return null;")
        .await;

    // Providers: the file provider's frontend, rule verbatim.
    browser
        .until(
            "the dashboard to connect",
            "return document.documentElement.dataset.connection === 'ok';",
        )
        .await;
    let rule = browser
        .until("frontend fe1 with its rule", &rule_text("fe1", "r1"))
        .await;
    assert_eq!(rule, json!(RULE1));
    let provider = browser
        .js("return document.querySelector('article[data-frontend=\"fe1\"]').dataset.provider;")
        .await;
    assert_eq!(provider, json!("file"));
    assert_eq!(
        browser
            .js("return document.querySelector('article[data-frontend=\"fe2\"]');")
            .await,
        Value::Null
    );

    // A frontend added to the watched file shows up on its own.
    write_by_rename(&trafik.path("rules.toml"), &rules(&backend.url(), true));
    let rule = browser
        .until("frontend fe2 to appear", &rule_text("fe2", "r2"))
        .await;
    assert_eq!(rule, json!(RULE2));
    // Its middlewares are on its card, each under its v1 name.
    let shown = browser
        .js(
            "return [...document.querySelectorAll('article[data-frontend=\"fe2\"] dd[data-field]')]\
             .map(d => d.dataset.field + '=' + d.textContent.trim());",
        )
        .await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    for (field, text) in [
        ("whiteList", "127.0.0.1"),
        ("headers", "Frame deny"),
        ("ratelimit", "50/1s (burst 80) per client.ip"),
        ("errors", "500-599"),
        ("auth", "forward → http://127.0.0.1:9/auth"),
    ] {
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&format!("{field}=")) && s.contains(text)),
            "fe2's card lacks {field} ({text}): {shown:?}"
        );
    }
    assert_eq!(
        browser.js("return window.__sameDocument === true;").await,
        json!(true),
        "the page was reloaded"
    );
    assert_eq!(
        browser
            .js("return document.querySelector('#view-providers [data-list=\"frontends\"] .count').dataset.count;")
            .await,
        json!("2")
    );
    // A store-backed provider that cannot reach its store says so, with the store's error.
    let unreachable = browser
        .until(
            "the Redis provider marked unreachable",
            "const box = document.querySelector('[data-provider-store=\"redis\"]'); \
             return box && box.textContent.includes('Store unreachable') \
               && box.querySelector('.alert-code') ? box.querySelector('.alert-code').textContent : null;",
        )
        .await;
    assert!(
        unreachable
            .as_str()
            .is_some_and(|e| e.contains(&store.to_string())),
        "the store's error names its address: {unreachable}"
    );
    browser
        .screenshot(&artifacts.join("dashboard-providers.png"))
        .await;
    println!("{:.1?}: providers checked", started.elapsed());

    // Health: through the nav link, as a user would.
    browser
        .js("document.getElementById('nav-health').click(); return null;")
        .await;
    browser
        .until(
            "the health view",
            "return document.documentElement.dataset.route === 'health' \
             && !document.getElementById('view-health').hidden \
             && document.getElementById('view-providers').hidden;",
        )
        .await;
    let before = browser
        .until(
            "a health sample",
            "const p = Number(document.getElementById('health-chart').dataset.points); \
             return document.getElementById('total-count').dataset.value === '0' && p >= 1 ? p : null;",
        )
        .await
        .as_u64()
        .unwrap();
    assert_eq!(
        browser.js(&rate_drawn()).await,
        json!(false),
        "rate drawn before any traffic"
    );

    println!("{:.1?}: health view shown", started.elapsed());
    let c = client();
    for i in 0..20 {
        let r = c
            .get(format!("http://127.0.0.1:{http}/a/{i}"))
            .header("host", "app.test")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "proxied request {i}");
    }
    assert_eq!(backend.hits(), 20);

    let total = browser
        .until(
            "the total count to reach 20",
            "const el = document.getElementById('total-count'); \
             return Number(el.dataset.value) >= 20 ? [el.dataset.value, el.textContent] : null;",
        )
        .await;
    assert_eq!(total, json!(["20", "20"]), "total-count (data-value, text)");
    browser
        .until("traffic on the rate chart", &rate_drawn())
        .await;
    // Response times exist only where requests were: nothing is drawn at 0 s.
    let latency = browser
        .js(&(chart_points("latency") + "return [ys.length, ys.every(y => y < zero)];"))
        .await;
    assert!(
        latency[0].as_u64() >= Some(1) && latency[1] == json!(true),
        "response-time points [count, all above 0]: {latency}"
    );
    let after = browser
        .js("return Number(document.getElementById('health-chart').dataset.points);")
        .await
        .as_u64()
        .unwrap();
    assert!(after > before, "chart data-points {before} -> {after}");
    browser
        .until(
            "the 200 row of the status codes",
            "return document.querySelector('#status-codes tr[data-status-code=\"200\"] [data-field=\"total\"]')?.dataset.value === '20';",
        )
        .await;
    assert_eq!(
        browser.js("return window.__sameDocument === true;").await,
        json!(true),
        "the page was reloaded"
    );
    browser
        .screenshot(&artifacts.join("dashboard-health.png"))
        .await;

    let quit = Instant::now();
    drop(browser);
    println!("browser closed in {:.1?}", quit.elapsed());
    println!("dashboard test took {:.1?}", started.elapsed());
}

/// Opened as `http://user:pass@host/dashboard/` on an entry point with basic auth: the
/// browser lets the page in with those credentials, but refuses `fetch()` of any URL that
/// carries them, as a URL resolved against the page's would; the API calls must still work.
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_opened_with_credentials_in_its_url() {
    let artifacts = artifacts_dir();
    let backend = Backend::start("echo").await;
    let (http, api) = (free_port(), free_port());
    let trafik = Trafik::start_with(
        &format!(
            r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
  [entryPoints.traefik.auth.basic]
  users = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
[api]
[file]
filename = "rules.toml"
"#
        ),
        &[("rules.toml", &rules(&backend.url(), false))],
    );
    // Without credentials: refused, so the page below loads only thanks to them.
    trafik
        .wait_for(&format!("http://127.0.0.1:{api}/dashboard/"), 401)
        .await;

    let browser = Browser::start(&artifacts.join("chromedriver-credentials.log")).await;
    browser
        .goto(&format!("http://test:test@127.0.0.1:{api}/dashboard/"))
        .await;
    browser
        .until(
            "the dashboard to connect",
            "return document.documentElement.dataset.connection === 'ok';",
        )
        .await;
    let rule = browser
        .until("frontend fe1 with its rule", &rule_text("fe1", "r1"))
        .await;
    assert_eq!(rule, json!(RULE1));
    browser
        .screenshot(&artifacts.join("dashboard-credentials.png"))
        .await;
}

#[test]
fn base64_decoder() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode(""), b"");
}
