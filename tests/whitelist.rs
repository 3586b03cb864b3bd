//! `whiteList` on frontends and entry points, through the real binary: who gets 403, that
//! a refused request never reaches a backend, how `useXForwardedFor` picks the client
//! (from the right, past the entry point's trusted proxies), the internal routes behind
//! an entry point's list, and bad entries reported where they are written.

use crate::common;

use common::{Backend, DEADLINE, Trafik, client, free_port, run_trafik};
use serde_json::Value;

/// Status, body and (for 2xx) the backend's JSON description of what it received.
async fn get(url: &str, forwarded_for: &[&str]) -> (u16, String) {
    let mut req = client().get(url);
    for v in forwarded_for {
        req = req.header("X-Forwarded-For", *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn backend_server(toml: &mut String, name: &str, backend: &Backend) {
    toml.push_str(&format!(
        "[backends.{name}.servers.s]\nurl = \"{}\"\n",
        backend.url()
    ));
}

/// A frontend `name` on `entry_points` for `rule`, then `extra` lines in its table.
fn frontend(toml: &mut String, name: &str, backend: &str, eps: &str, rule: &str, extra: &str) {
    toml.push_str(&format!(
        "[frontends.{name}]\nbackend = \"{backend}\"\nentryPoints = [{eps}]\n{extra}\n\
         [frontends.{name}.routes.r]\nrule = \"{rule}\"\n"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn frontend_lists_let_in_whom_they_list_and_refuse_the_rest_before_the_backend() {
    let inside = Backend::start("inside").await;
    let outside = Backend::start("outside").await;
    let port = free_port();
    let mut toml = format!("[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n");
    backend_server(&mut toml, "inside", &inside);
    backend_server(&mut toml, "outside", &outside);
    let http = "\"http\"";
    frontend(
        &mut toml,
        "open",
        "inside",
        http,
        "Path:/in",
        "[frontends.open.whiteList]\nsourceRange = [\"10.0.0.0/8\", \"127.0.0.0/8\"]",
    );
    frontend(
        &mut toml,
        "bare",
        "inside",
        http,
        "Path:/bare",
        "whitelistSourceRange = [\"127.0.0.1\"]",
    );
    frontend(
        &mut toml,
        "closed",
        "outside",
        http,
        "Path:/out",
        "[frontends.closed.whiteList]\nsourceRange = [\"10.0.0.0/8\", \"127.0.0.2\", \"::1\"]",
    );
    // The deprecated form alone, excluding us.
    frontend(
        &mut toml,
        "old",
        "outside",
        http,
        "Path:/old",
        "whitelistSourceRange = [\"192.0.2.0/24\"]",
    );
    // Both forms: whiteList wins, and it excludes us.
    frontend(
        &mut toml,
        "both",
        "outside",
        http,
        "Path:/both",
        "whitelistSourceRange = [\"127.0.0.1\"]\n[frontends.both.whiteList]\nsourceRange = [\"10.0.0.0/8\"]",
    );
    // Empty: no restriction, as in v1.
    frontend(
        &mut toml,
        "empty",
        "inside",
        http,
        "Path:/empty",
        "[frontends.empty.whiteList]\nsourceRange = []",
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/in"), 200).await;

    for path in ["/in", "/bare", "/empty"] {
        let (status, body) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["path"], path);
    }
    assert_eq!(inside.hits(), 4, "wait_for's request and the three above");
    for path in ["/out", "/old", "/both"] {
        let (status, body) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body, "Forbidden");
    }
    // X-Forwarded-For means nothing without useXForwardedFor.
    let (status, _) = get(&format!("{base}/out"), &["10.1.2.3"]).await;
    assert_eq!(status, 403);
    assert_eq!(outside.hits(), 0, "a refused request reached the backend");
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_clients_match_ipv6_ranges() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        println!("skipped: this machine has no IPv6 loopback ({e})");
        return;
    }
    let backend = Backend::start("b").await;
    // free_port checks 127.0.0.1; the IPv6 loopback port must be free too.
    let port = loop {
        let p = free_port();
        if std::net::TcpListener::bind(("::1", p)).is_ok() {
            break p;
        }
    };
    let mut toml = format!("[entryPoints.v6]\naddress = \"[::1]:{port}\"\n[file]\n");
    backend_server(&mut toml, "b", &backend);
    let v6 = "\"v6\"";
    frontend(
        &mut toml,
        "host",
        "b",
        v6,
        "Path:/host",
        "[frontends.host.whiteList]\nsourceRange = [\"::1\"]",
    );
    frontend(
        &mut toml,
        "net",
        "b",
        v6,
        "Path:/net",
        "[frontends.net.whiteList]\nsourceRange = [\"10.0.0.0/8\", \"::/64\"]",
    );
    frontend(
        &mut toml,
        "ula",
        "b",
        v6,
        "Path:/ula",
        "[frontends.ula.whiteList]\nsourceRange = [\"fd00::/8\"]",
    );
    // An IPv6 client is not 127.0.0.1.
    frontend(
        &mut toml,
        "v4",
        "b",
        v6,
        "Path:/v4",
        "[frontends.v4.whiteList]\nsourceRange = [\"127.0.0.0/8\"]",
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://[::1]:{port}");
    trafik.wait_for(&format!("{base}/host"), 200).await;
    assert_eq!(get(&format!("{base}/net"), &[]).await.0, 200);
    let before = backend.hits();
    assert_eq!(get(&format!("{base}/ula"), &[]).await.0, 403);
    assert_eq!(get(&format!("{base}/v4"), &[]).await.0, 403);
    assert_eq!(backend.hits(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_is_read_from_the_right_past_trusted_proxies() {
    let backend = Backend::start("b").await;
    let (proxied, direct, open) = (free_port(), free_port(), free_port());
    let mut toml = format!(
        "[entryPoints.proxied]\naddress = \"127.0.0.1:{proxied}\"\n\
         [entryPoints.proxied.forwardedHeaders]\ntrustedIPs = [\"127.0.0.1\"]\n\
         [entryPoints.proxied.whiteList]\nsourceRange = [\"203.0.113.0/24\"]\nuseXForwardedFor = true\n\
         [entryPoints.direct]\naddress = \"127.0.0.1:{direct}\"\n\
         [entryPoints.direct.forwardedHeaders]\ntrustedIPs = [\"10.9.9.9\"]\n\
         [entryPoints.open]\naddress = \"127.0.0.1:{open}\"\n[file]\n"
    );
    backend_server(&mut toml, "b", &backend);
    frontend(&mut toml, "all", "b", "\"proxied\"", "PathPrefix:/", "");
    frontend(
        &mut toml,
        "fxff",
        "b",
        "\"direct\", \"open\"",
        "Path:/f",
        "[frontends.fxff.whiteList]\nsourceRange = [\"203.0.113.0/24\"]\nuseXForwardedFor = true",
    );
    frontend(
        &mut toml,
        "fpeer",
        "b",
        "\"direct\"",
        "Path:/p",
        "[frontends.fpeer.whiteList]\nsourceRange = [\"127.0.0.1\"]\nuseXForwardedFor = true",
    );
    let trafik = Trafik::start(&toml);
    let p = format!("http://127.0.0.1:{proxied}/x");
    // Ready when the file's configuration is in: the direct entry point routes /p.
    trafik
        .wait_for(&format!("http://127.0.0.1:{direct}/p"), 200)
        .await;

    // Entry point trusting 127.0.0.1 as a proxy: the right-most entry it did not write.
    let hits = backend.hits();
    let (status, body) = get(&p, &["203.0.113.5"]).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.5, 127.0.0.1");
    // A listed address forged on the left, the real client on the right: refused
    // (v1 let this in).
    assert_eq!(get(&p, &["203.0.113.5, 198.51.100.7"]).await.0, 403);
    assert_eq!(get(&p, &["203.0.113.5", "198.51.100.7"]).await.0, 403);
    // Trusted proxies on the right are skipped; what is left of the client is not read.
    assert_eq!(get(&p, &["garbage, 203.0.113.5, 127.0.0.1"]).await.0, 200);
    assert_eq!(
        get(&p, &["198.51.100.7", "203.0.113.5:4711, 127.0.0.1"])
            .await
            .0,
        200
    );
    // No header: the peer itself, 127.0.0.1, is not listed.
    assert_eq!(get(&p, &[]).await.0, 403);
    // A malformed entry where the client must be read is refused, not skipped.
    assert_eq!(get(&p, &["203.0.113.5, unknown"]).await.0, 403);
    assert_eq!(get(&p, &["203.0.113.5, 127.0.0.1,"]).await.0, 403);
    assert_eq!(
        backend.hits(),
        hits + 3,
        "only the three allowed requests got through"
    );

    // Entry point trusting someone else: 127.0.0.1's X-Forwarded-For is ignored, the peer is
    // the client.
    let d = format!("http://127.0.0.1:{direct}");
    assert_eq!(get(&format!("{d}/f"), &["203.0.113.5"]).await.0, 403);
    let (status, body) = get(&format!("{d}/p"), &["203.0.113.5"]).await;
    assert_eq!(status, 200);
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");

    // Entry point trusting everyone (no forwardedHeaders): only the right-most entry.
    let o = format!("http://127.0.0.1:{open}/f");
    assert_eq!(get(&o, &["198.51.100.7, 203.0.113.5"]).await.0, 200);
    assert_eq!(get(&o, &["203.0.113.5, 198.51.100.7"]).await.0, 403);
    assert_eq!(get(&o, &[]).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_point_list_guards_its_internal_routes_but_not_ping() {
    let backend = Backend::start("b").await;
    let port = free_port();
    // Trusting everyone, so X-Forwarded-For stands in for a listed client.
    let mut toml = format!(
        "[entryPoints.traefik]\naddress = \"127.0.0.1:{port}\"\n\
         [entryPoints.traefik.whiteList]\nsourceRange = [\"10.0.0.0/8\"]\nuseXForwardedFor = true\n\
         [api]\n[ping]\n[metrics.prometheus]\n[file]\n"
    );
    backend_server(&mut toml, "b", &backend);
    frontend(
        &mut toml,
        "app",
        "b",
        "\"traefik\"",
        "Path:/app",
        "[frontends.app.whiteList]\nsourceRange = [\"10.1.0.0/16\"]\nuseXForwardedFor = true",
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/ping"), 200).await;
    // Loaded when a listed client sees the frontend.
    common::eventually("the frontend to load", || async {
        (get(&format!("{base}/app"), &["10.1.2.3"]).await.0 == 200).then_some(())
    })
    .await;

    for path in [
        "/api",
        "/api/providers",
        "/health",
        "/dashboard/",
        "/metrics",
        "/app",
    ] {
        let (status, body) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body, "Forbidden");
    }
    let hits = backend.hits();
    // Past the entry point's list, the frontend's own.
    assert_eq!(get(&format!("{base}/app"), &["10.2.0.1"]).await.0, 403);
    assert_eq!(backend.hits(), hits);
    // v1 served /ping outside the entry point's whitelist and auth.
    assert_eq!(get(&format!("{base}/ping"), &[]).await, (200, "OK".into()));

    // A listed client reaches the API, which shows both lists under v1's names.
    let (status, body) = get(&format!("{base}/api/providers"), &["10.1.2.3"]).await;
    assert_eq!(status, 200, "{body}");
    let providers: Value = serde_json::from_str(&body).unwrap();
    let app = &providers["file"]["frontends"]["app"];
    assert_eq!(app["whiteList"]["sourceRange"][0], "10.1.0.0/16");
    assert_eq!(app["whiteList"]["useXForwardedFor"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_entry_skips_only_its_frontend_with_its_location() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let mut toml = format!("[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n");
    backend_server(&mut toml, "b", &backend);
    let http = "\"http\"";
    frontend(
        &mut toml,
        "good",
        "b",
        http,
        "Path:/good",
        "[frontends.good.whiteList]\nsourceRange = [\"127.0.0.1\"]",
    );
    frontend(
        &mut toml,
        "bad",
        "b",
        http,
        "Path:/bad",
        "[frontends.bad.whiteList]\nsourceRange = [\"10.0.0.0/8\",\n  \"10.0.0.0/33\"]",
    );
    frontend(
        &mut toml,
        "old",
        "b",
        http,
        "Path:/old",
        "whitelistSourceRange = [\"nonsense\"]",
    );
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (bad_line, old_line) = (line_of("10.0.0.0/33"), line_of("nonsense"));

    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/good"), 200).await;
    // Skipped, not served open: nothing else matches these paths.
    assert_eq!(get(&format!("{base}/bad"), &[]).await.0, 404);
    assert_eq!(get(&format!("{base}/old"), &[]).await.0, 404);
    let logs = trafik.logs();
    assert!(
        logs.contains(&format!("trafik.toml:{bad_line}:3: frontend \"bad\" skipped: whiteList: sourceRange[1] \"10.0.0.0/33\"")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("trafik.toml:{old_line}:")) && logs.contains("\"nonsense\""),
        "{logs}"
    );

    // `trafik check` says the same, and fails.
    let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "trafik.toml:{bad_line}:3: frontend \"bad\" skipped"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("trafik.toml:{old_line}:")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_entry_in_an_entry_point_list_stops_the_start() {
    let port = free_port();
    let toml = format!(
        "[entryPoints.web]\naddress = \"127.0.0.1:{port}\"\n\
         [entryPoints.web.whiteList]\nsourceRange = [\"10.0.0.0/8\", \"300.1.1.1\"]\n"
    );
    let mut trafik = Trafik::start(&toml);
    let status = trafik.wait_exit(DEADLINE).await;
    assert!(!status.success());
    let logs = trafik.logs();
    assert!(
        logs.contains("entry point \"web\": whiteList: sourceRange[1] \"300.1.1.1\""),
        "{logs}"
    );
    let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success());
    assert!(
        stderr.contains("entry point \"web\": whiteList"),
        "{stderr}"
    );
}

/// v1's deprecated `[entryPoints.X] whitelistSourceRange` guards the entry point as
/// `whiteList.sourceRange` does, rather than being dropped (and the entry point served open).
#[tokio::test(flavor = "multi_thread")]
async fn the_deprecated_entry_point_form_guards_too() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let mut toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         whitelistSourceRange = [\"10.0.0.0/8\"]\n[ping]\nentryPoint = \"http\"\n[file]\n"
    );
    backend_server(&mut toml, "b", &backend);
    frontend(&mut toml, "app", "b", "\"http\"", "Path:/app", "");
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/ping"), 200).await;
    let (status, body) = get(&format!("{base}/app"), &[]).await;
    assert_eq!((status, body.as_str()), (403, "Forbidden"));
    assert_eq!(backend.hits(), 0);
    assert!(
        !trafik.logs().contains("whitelistSourceRange"),
        "{}",
        trafik.logs()
    );
}
