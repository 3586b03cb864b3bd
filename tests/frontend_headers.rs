//! `[frontends.X.headers]` and `[frontends.X.redirect]` through the real binary: custom
//! request headers as the backend receives them, custom and secure response headers as the
//! client receives them (over http and https), SSLRedirect, allowedHosts, the frontend's
//! own redirect, and a bad header name that skips its frontend only, located by `check`.

use crate::common;
use common::pki::*;
use common::*;
use serde_json::Value;

struct Setup {
    http: u16,
    https: u16,
    api: u16,
    t: Trafik,
    ca: Ca,
    backend: Backend,
    hosts_backend: Backend,
}

/// Line numbers matter: the bad header name is on line `BAD_LINE`.
fn config(http: u16, https: u16, api: u16, backend: &str, hosts_backend: &str) -> String {
    format!(
        r#"defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http}"
  [entryPoints.http.forwardedHeaders]
  trustedIPs = ["192.0.2.1"]
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "h.crt"
    keyFile = "h.key"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[file]
[frontends.bad]
backend = "b"
  [frontends.bad.routes.r]
  rule = "PathPrefix:/bad"
  [frontends.bad.headers.customRequestHeaders]
  "X Bad" = "1"
[backends.b.servers.s]
url = "{backend}"
[backends.hb.servers.s]
url = "{hosts_backend}"
[backends.dead.servers.s]
url = "http://127.0.0.1:9"
[frontends.custom]
backend = "b"
  [frontends.custom.routes.r]
  rule = "PathPrefixStrip:/custom"
  [frontends.custom.headers]
    [frontends.custom.headers.customRequestHeaders]
    X-Added = "yes"
    X-Client-Removed = ""
    [frontends.custom.headers.customResponseHeaders]
    X-Resp = "r"
    Content-Type = ""
[frontends.dead]
backend = "dead"
  [frontends.dead.routes.r]
  rule = "PathPrefix:/dead"
  [frontends.dead.Headers.CustomResponseHeaders]
  X-Resp = "on errors too"
[frontends.secure]
backend = "b"
  [frontends.secure.routes.r]
  rule = "PathPrefix:/secure"
  [frontends.secure.headers]
  STSSeconds = 315360000
  STSIncludeSubdomains = true
  STSPreload = true
  frameDeny = true
  contentTypeNosniff = true
  browserXSSFilter = true
  contentSecurityPolicy = "default-src 'self'"
  referrerPolicy = "no-referrer"
  publicKey = "pin-sha256=\"abc\"; max-age=60"
[frontends.forced]
backend = "b"
  [frontends.forced.routes.r]
  rule = "PathPrefix:/forced"
  [frontends.forced.headers]
  STSSeconds = 60
  forceSTSHeader = true
  customFrameOptionsValue = "SAMEORIGIN"
[frontends.tohttps]
backend = "b"
  [frontends.tohttps.routes.r]
  rule = "PathPrefixStrip:/tohttps"
  [frontends.tohttps.headers]
  SSLRedirect = true
  [frontends.tohttps.headers.SSLProxyHeaders]
  X-Forwarded-Proto = "https"
  X-Proxy-Tls = "on"
[frontends.temporary]
backend = "b"
  [frontends.temporary.routes.r]
  rule = "PathPrefix:/temporary"
  [frontends.temporary.headers]
  SSLRedirect = true
  SSLTemporaryRedirect = true
  SSLHost = "secure.test"
[frontends.hosts]
backend = "hb"
  [frontends.hosts.routes.r]
  rule = "PathPrefix:/hosts"
  [frontends.hosts.headers]
  allowedHosts = ["good.test"]
[frontends.ep]
backend = "b"
  [frontends.ep.routes.r]
  rule = "PathPrefix:/ep"
  [frontends.ep.redirect]
  entryPoint = "https"
[frontends.re]
backend = "b"
  [frontends.re.routes.r]
  rule = "PathPrefix:/re"
  [frontends.re.redirect]
  regex = "^http://([^/]+)/re/(.*)$"
  replacement = "http://$1/new/$2"
  permanent = true
"#
    )
}

const BAD_LINE: usize = 21;

async fn setup() -> Setup {
    let backend = Backend::start("b").await;
    let hosts_backend = Backend::start("hb").await;
    let ca = Ca::new("Headers CA");
    let pem = ca.server(&["h.test"], "h");
    let (http, https, api) = (free_port(), free_port(), free_port());
    let t = Trafik::start_with(
        &config(http, https, api, &backend.url(), &hosts_backend.url()),
        &[("h.crt", &pem.cert), ("h.key", &pem.key)],
    );
    t.wait_for(&format!("http://127.0.0.1:{http}/custom/"), 200)
        .await;
    wait_listening(https).await;
    Setup {
        http,
        https,
        api,
        t,
        ca,
        backend,
        hosts_backend,
    }
}

impl Setup {
    fn https_client(&self) -> reqwest::Client {
        let _ = client();
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.ca.cert_pem.as_bytes()).unwrap(),
            )
            .resolve("h.test", ([127, 0, 0, 1], self.https).into())
            .build()
            .unwrap()
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn https(&self, path: &str) -> String {
        format!("https://h.test:{}{path}", self.https)
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn custom_headers_reach_backend_and_client() {
    let s = setup().await;
    let r = client()
        .get(s.http("/custom/x"))
        .header("X-Client-Removed", "from the client")
        .header("X-Added", "client's own")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-resp").as_deref(), Some("r"));
    // The backend's Content-Type was removed by an empty customResponseHeaders value.
    assert_eq!(header(&r, "content-type"), None);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["path"], "/x", "the rule's modifier still applies");
    assert_eq!(body["headers"]["x-added"], "yes");
    assert!(body["headers"].get("x-client-removed").is_none(), "{body}");

    // A client cannot strip a custom header by naming it in Connection.
    let r = client()
        .get(s.http("/custom/x"))
        .header("Connection", "keep-alive, X-Added")
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["headers"]["x-added"], "yes");

    // trafik's own error responses carry the response headers too.
    let r = client().get(s.http("/dead")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(header(&r, "x-resp").as_deref(), Some("on errors too"));

    // Visible in the API, with v1's names.
    let (status, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", s.api)).await;
    assert_eq!(status, 200);
    let custom = &providers["file"]["frontends"]["custom"]["headers"];
    assert_eq!(
        custom["customRequestHeaders"]["X-Added"], "yes",
        "{providers}"
    );
    let secure = &providers["file"]["frontends"]["secure"]["headers"];
    assert_eq!(secure["stsSeconds"], 315360000, "{secure}");
    assert_eq!(
        providers["file"]["frontends"]["ep"]["redirect"]["entryPoint"],
        "https"
    );
    drop(s.backend);
}

#[tokio::test]
async fn secure_headers_over_http_and_https() {
    let s = setup().await;
    let r = client().get(s.http("/secure")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "strict-transport-security"),
        None,
        "no STS over http"
    );
    assert_eq!(header(&r, "public-key-pins"), None);
    assert_eq!(header(&r, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        header(&r, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        header(&r, "x-xss-protection").as_deref(),
        Some("1; mode=block")
    );
    assert_eq!(
        header(&r, "content-security-policy").as_deref(),
        Some("default-src 'self'")
    );
    assert_eq!(
        header(&r, "referrer-policy").as_deref(),
        Some("no-referrer")
    );

    let https = s.https_client();
    let r = https.get(s.https("/secure")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "strict-transport-security").as_deref(),
        Some("max-age=315360000; includeSubDomains; preload")
    );
    assert_eq!(
        header(&r, "public-key-pins").as_deref(),
        Some("pin-sha256=\"abc\"; max-age=60")
    );
    assert_eq!(header(&r, "x-frame-options").as_deref(), Some("DENY"));

    // forceSTSHeader: over http too.
    let r = client().get(s.http("/forced")).send().await.unwrap();
    assert_eq!(
        header(&r, "strict-transport-security").as_deref(),
        Some("max-age=60")
    );
    assert_eq!(header(&r, "x-frame-options").as_deref(), Some("SAMEORIGIN"));
}

#[tokio::test]
async fn ssl_redirect_to_the_same_host_and_path() {
    let s = setup().await;
    let before = s.backend.hits();
    let r = client()
        .get(s.http("/tohttps/a?b=1"))
        .header("Host", "h.test:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    // The path as the client sent it, before PathPrefixStrip.
    assert_eq!(
        header(&r, "location").as_deref(),
        Some("https://h.test:8080/tohttps/a?b=1")
    );
    let r = client().post(s.http("/temporary/x")).send().await.unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        header(&r, "location").as_deref(),
        Some("https://secure.test/temporary/x")
    );
    assert_eq!(
        s.backend.hits(),
        before,
        "redirects do not reach the backend"
    );

    // Over TLS, or said so by SSLProxyHeaders: served.
    let r = s
        .https_client()
        .get(s.https("/tohttps/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["path"], "/a");
    let r = client()
        .get(s.http("/tohttps/a"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    // The client is not a trusted proxy: its X-Forwarded-Proto was dropped first.
    assert_eq!(r.status(), 301);
    let r = client()
        .get(s.http("/tohttps/a"))
        .header("X-Proxy-Tls", "on")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "SSLProxyHeaders says the request was TLS");
}

#[tokio::test]
async fn allowed_hosts_answer_400_without_a_backend_hit() {
    let s = setup().await;
    let r = client()
        .get(s.http("/hosts"))
        .header("Host", "good.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.hosts_backend.hits(), 1);
    let r = client()
        .get(s.http("/hosts"))
        .header("Host", "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.hosts_backend.hits(),
        1,
        "the bad host never reached the backend"
    );
}

#[tokio::test]
async fn frontend_redirects_by_entry_point_and_regex() {
    let s = setup().await;
    let before = s.backend.hits();
    let r = client().get(s.http("/ep/x?y=1")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        header(&r, "location"),
        Some(format!("https://127.0.0.1:{}/ep/x?y=1", s.https))
    );
    let r = client().post(s.http("/ep/x")).send().await.unwrap();
    assert_eq!(r.status(), 307);

    let r = client()
        .get(s.http("/re/a/b"))
        .header("Host", "r.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(
        header(&r, "location").as_deref(),
        Some("http://r.test/new/a/b")
    );
    let r = client()
        .put(s.http("/re/a"))
        .header("Host", "r.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(s.backend.hits(), before);
    // A regex that does not match: served as usual.
    let r = client().get(s.http("/rex")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_header_name_skips_only_its_frontend() {
    let s = setup().await;
    let r = client().get(s.http("/bad")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the bad frontend is skipped");
    let r = client().get(s.http("/custom/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the others serve");
    let logs = s.t.logs();
    let at = format!("trafik.toml:{BAD_LINE}:");
    assert!(
        logs.contains(&at) && logs.contains("X Bad"),
        "not located at {at}:\n{logs}"
    );

    let (status, _, stderr) = run_trafik(&["check"], &s.t.dir);
    assert!(!status.success());
    assert!(
        stderr.contains(&at) && stderr.contains("\"X Bad\" is not a valid header name"),
        "{stderr}"
    );
}

#[test]
fn check_reports_bad_values_and_unknown_redirect_entry_points() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        r#"[entryPoints.http]
address = "127.0.0.1:9"
[file]
[backends.b.servers.s]
url = "http://127.0.0.1:9"
[frontends.v]
backend = "b"
  [frontends.v.routes.r]
  rule = "Path:/v"
  [frontends.v.headers.customResponseHeaders]
  X-Ok = "bad\u0001value"
[frontends.e]
backend = "b"
  [frontends.e.routes.r]
  rule = "Path:/e"
  [frontends.e.redirect]
  entryPoint = "nope"
[frontends.x]
backend = "b"
  [frontends.x.routes.r]
  rule = "Path:/x"
  [frontends.x.redirect]
  regex = "(unclosed"
  replacement = "/"
"#,
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    for (line, what) in [
        (11, "X-Ok"),
        (17, "\"nope\" does not exist"),
        (23, "(unclosed"),
    ] {
        assert!(
            stderr.contains(&format!("trafik.toml:{line}:")) && stderr.contains(what),
            "line {line} ({what}) not reported:\n{stderr}"
        );
    }
}
