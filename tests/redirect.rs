//! `[entryPoints.X.redirect]` through the real binary: to another entry point (its scheme
//! and port in Location, path and query kept), 302/307 or 301/308 when permanent, and
//! by regex + replacement; `curl -L` then lands on the TLS entry point.

use crate::common;
use common::pki::*;
use common::*;

fn config(http: u16, https: u16, backend: &str, redirect: &str) -> String {
    format!(
        r#"
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http}"
  [entryPoints.http.redirect]
  {redirect}
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "r.crt"
    keyFile = "r.key"
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefixStrip:/api"
"#
    )
}

/// (status, Location) of one request, redirects not followed.
async fn answer(method: &str, url: &str) -> (u16, String) {
    let r = client()
        .request(method.parse().unwrap(), url)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

#[tokio::test]
async fn redirect_to_the_tls_entry_point() {
    let backend = Backend::start("b").await;
    let ca = Ca::new("R CA");
    let pem = ca.server(&["r.test"], "r");
    let (http, https) = (free_port(), free_port());
    let t = Trafik::start_with(
        &config(http, https, &backend.url(), "entryPoint = \"https\""),
        &[
            ("r.crt", &pem.cert),
            ("r.key", &pem.key),
            ("ca.crt", &ca.cert_pem),
        ],
    );
    wait_listening(https).await;
    let url = format!("http://127.0.0.1:{http}/api/x?y=1");
    t.wait_for(&url, 302).await;
    let want = format!("https://127.0.0.1:{https}/api/x?y=1");
    assert_eq!(answer("GET", &url).await, (302, want.clone()));
    assert_eq!(answer("POST", &url).await, (307, want));

    // Followed, the original path reaches the frontend (which strips /api).
    let (ok, out, err) = curl(&[
        "-L".into(),
        "--cacert".into(),
        t.path("ca.crt").display().to_string(),
        "--resolve".into(),
        format!("r.test:{http}:127.0.0.1"),
        "--resolve".into(),
        format!("r.test:{https}:127.0.0.1"),
        format!("http://r.test:{http}/api/x"),
    ])
    .await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["path"], "/x");
    assert_eq!(v["headers"]["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn permanent_and_regex_redirects() {
    let backend = Backend::start("b").await;
    let ca = Ca::new("R CA");
    let pem = ca.server(&["r.test"], "r");
    let (http, https) = (free_port(), free_port());
    let t = Trafik::start_with(
        &config(
            http,
            https,
            &backend.url(),
            "regex = \"^http://([^/:]+)(:[0-9]+)?/old/(.*)\"\n  replacement = \"https://$1/new/$3\"\n  permanent = true",
        ),
        &[("r.crt", &pem.cert), ("r.key", &pem.key)],
    );
    let url = format!("http://127.0.0.1:{http}/old/a?b=c");
    t.wait_for(&url, 301).await;
    assert_eq!(
        answer("GET", &url).await,
        (301, "https://127.0.0.1/new/a?b=c".to_string())
    );
    assert_eq!(answer("PUT", &url).await.0, 308);
    // Not matched by the regex: served normally.
    let (status, v) = get_json(&format!("http://127.0.0.1:{http}/api/z")).await;
    assert_eq!(status, 200);
    assert_eq!(v["path"], "/z");
}

/// As v1: the redirect is inside the access log (redirected requests have their line) and
/// after the internal routes (`/ping` and the API are served on the redirecting entry
/// point, as ACME's HTTP-01 challenge will need).
#[tokio::test]
async fn redirects_are_logged_and_spare_the_internal_routes() {
    let backend = Backend::start("b").await;
    let ca = Ca::new("R CA");
    let pem = ca.server(&["r.test"], "r");
    let (http, https) = (free_port(), free_port());
    let toml = config(http, https, &backend.url(), "entryPoint = \"https\"").replace(
        "[file]",
        "[accessLog]\nfilePath = \"access.log\"\n[api]\nentryPoint = \"http\"\n[ping]\nentryPoint = \"http\"\n[file]",
    );
    let t = Trafik::start_with(&toml, &[("r.crt", &pem.cert), ("r.key", &pem.key)]);
    t.wait_for(&format!("http://127.0.0.1:{http}/ping"), 200)
        .await;
    let (status, _) = get_json(&format!("http://127.0.0.1:{http}/api/version")).await;
    assert_eq!(status, 200);
    let (status, location) = answer("GET", &format!("http://127.0.0.1:{http}/web/logged")).await;
    assert_eq!(status, 302);
    assert_eq!(location, format!("https://127.0.0.1:{https}/web/logged"));
    let line = eventually("the redirect's access-log line", || async {
        std::fs::read_to_string(t.path("access.log"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("/web/logged"))
            .map(str::to_owned)
    })
    .await;
    assert!(line.contains("\" 302 "), "{line}");
    assert_eq!(backend.hits(), 0);
}
