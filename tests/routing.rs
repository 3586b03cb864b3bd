//! Every v1 matcher and modifier, priority order and the trailing-slash redirect,
//! through the real binary: each frontend has its own backend, so the answer says
//! which frontend matched and what path and headers reached the backend.

use crate::common;
use common::*;
use serde_json::Value;

struct Setup {
    trafik: Trafik,
    port: u16,
    _backends: Vec<Backend>,
}

/// Starts trafik with one frontend (and one backend of the same name) per `(name, rules, extra)`.
async fn setup(frontends: &[(&str, &[&str], &str)], global: &str) -> Setup {
    let port = free_port();
    let mut toml = format!(
        "{global}\ndefaultEntryPoints = [\"http\"]\nprovidersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n"
    );
    let mut backends = Vec::new();
    for (name, rules, extra) in frontends {
        let b = Backend::start(name).await;
        toml.push_str(&format!(
            "[backends.{name}.servers.s]\nurl = \"{}\"\n",
            b.url()
        ));
        toml.push_str(&format!(
            "[frontends.{name}]\nbackend = \"{name}\"\n{extra}\n"
        ));
        for (i, rule) in rules.iter().enumerate() {
            toml.push_str(&format!(
                "[frontends.{name}.routes.r{i}]\nrule = '{rule}'\n"
            ));
        }
        backends.push(b);
    }
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/__nothing__"), 404)
        .await;
    Setup {
        trafik,
        port,
        _backends: backends,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let v = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
        (status, v, headers)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.send(client().get(self.url(path))).await;
        (s, v)
    }

    async fn get_host(&self, host: &str, path: &str) -> (u16, Value) {
        let (s, v, _) = self
            .send(client().get(self.url(path)).header("host", host))
            .await;
        (s, v)
    }

    /// Asserts `path` is served by frontend `server` and reaches it as `backend_path`.
    async fn expect(&self, path: &str, server: &str, backend_path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {v}\n{}", self.trafik.logs());
        assert_eq!(v["server"], server, "GET {path}");
        assert_eq!(v["path"], backend_path, "GET {path}");
        v
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn matchers() {
    let s = setup(
        &[
            ("host", &["Host:a.example.com,B.example.com"], ""),
            ("hostre", &["HostRegexp:{sub:[a-z]+}.regexp.com"], ""),
            ("path", &["Path:/exact/{id:[0-9]+},/exact/plain"], ""),
            ("prefix", &["PathPrefix:/prefix"], ""),
            ("method", &["Method:PUT,DELETE;PathPrefix:/method"], ""),
            (
                "headers",
                &["Headers:X-Api-Key,secret;PathPrefix:/headers"],
                "",
            ),
            (
                "headersre",
                &["HeadersRegexp:Content-Type,application/(text|json);PathPrefix:/hre"],
                "",
            ),
            (
                "query",
                &["Query:foo=bar,id={id:[0-9]+};PathPrefix:/query"],
                "",
            ),
            ("and", &["Host:and.com", "Path:/and"], ""),
            ("spaced", &["Host: spaced.com; PathPrefix: /sp"], ""),
        ],
        "",
    )
    .await;

    // Host: exact, case-insensitive, port ignored; OR between the listed hosts.
    assert_eq!(s.get_host("a.example.com", "/x").await.1["server"], "host");
    assert_eq!(
        s.get_host("A.EXAMPLE.com:1234", "/x").await.1["server"],
        "host"
    );
    assert_eq!(s.get_host("b.example.com", "/x").await.1["server"], "host");
    assert_eq!(s.get_host("c.example.com", "/x").await.0, 404);

    // HostRegexp with a variable.
    assert_eq!(
        s.get_host("abc.regexp.com", "/").await.1["server"],
        "hostre"
    );
    assert_eq!(s.get_host("ab1.regexp.com", "/").await.0, 404);

    // Path: exact template, regex variables, case-sensitive.
    s.expect("/exact/42", "path", "/exact/42").await;
    s.expect("/exact/plain", "path", "/exact/plain").await;
    assert_eq!(s.get("/exact/abc").await.0, 404);
    assert_eq!(s.get("/Exact/42").await.0, 404);
    assert_eq!(s.get("/exact/42/more").await.0, 404);

    // PathPrefix without braces is a plain string prefix: /prefix matches /prefixed too.
    s.expect("/prefix", "prefix", "/prefix").await;
    s.expect("/prefix/a/b?q=1", "prefix", "/prefix/a/b").await;
    s.expect("/prefixed", "prefix", "/prefixed").await;

    // Method.
    let (st, v, _) = s.send(client().put(s.url("/method"))).await;
    assert_eq!((st, v["server"].as_str()), (200, Some("method")));
    let (st, _, _) = s.send(client().post(s.url("/method"))).await;
    assert_eq!(st, 404);

    // Headers (literal) and HeadersRegexp.
    let (st, v, _) = s
        .send(
            client()
                .get(s.url("/headers"))
                .header("X-Api-Key", "secret"),
        )
        .await;
    assert_eq!((st, v["server"].as_str()), (200, Some("headers")));
    assert_eq!(
        s.send(client().get(s.url("/headers")).header("X-Api-Key", "nope"))
            .await
            .0,
        404
    );
    assert_eq!(s.get("/headers").await.0, 404);
    let (st, v, _) = s
        .send(
            client()
                .get(s.url("/hre"))
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!((st, v["server"].as_str()), (200, Some("headersre")));
    assert_eq!(
        s.send(
            client()
                .get(s.url("/hre"))
                .header("content-type", "image/png")
        )
        .await
        .0,
        404
    );

    // Query: every pair must match, values may be regex variables.
    s.expect("/query?foo=bar&id=12", "query", "/query").await;
    assert_eq!(s.get("/query?foo=bar&id=x").await.0, 404);
    assert_eq!(s.get("/query?id=12").await.0, 404);

    // Routes of one frontend are AND-ed.
    assert_eq!(s.get_host("and.com", "/and").await.1["server"], "and");
    assert_eq!(s.get_host("and.com", "/other").await.0, 404);
    assert_eq!(s.get_host("other.com", "/and").await.0, 404);

    // Spaces around names and arguments are allowed.
    assert_eq!(
        s.get_host("spaced.com", "/sp/x").await.1["server"],
        "spaced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn modifiers() {
    let s = setup(
        &[
            ("pathstrip", &["PathStrip:/pstrip"], ""),
            ("pathstripre", &["PathStripRegex:/psr/{id:[0-9]+}"], ""),
            ("prefixstrip", &["PathPrefixStrip:/api,/api/v2"], ""),
            (
                "prefixstripre",
                &["PathPrefixStripRegex:/ppsr/{v:v[0-9]+}"],
                "",
            ),
            ("addprefix", &["PathPrefix:/add;AddPrefix:/products"], ""),
            ("replace", &["Path:/rp;ReplacePath:/serverless-path"], ""),
            (
                "replacere",
                &["PathPrefix:/rpr;ReplacePathRegex: ^/rpr/(.*) /new/$1"],
                "",
            ),
            ("stripadd", &["PathPrefixStrip:/sa;AddPrefix:/base"], ""),
        ],
        "",
    )
    .await;

    let v = s.expect("/pstrip", "pathstrip", "/").await;
    assert_eq!(v["headers"]["x-forwarded-prefix"], "/pstrip");
    s.expect("/psr/12", "pathstripre", "/").await;

    // Longest listed prefix first; the stripped prefix goes in X-Forwarded-Prefix.
    let v = s.expect("/api/v2/users?x=1", "prefixstrip", "/users").await;
    assert_eq!(v["headers"]["x-forwarded-prefix"], "/api/v2");
    assert_eq!(v["uri"], "/users?x=1");
    s.expect("/api", "prefixstrip", "/").await;
    s.expect("/api/bacon", "prefixstrip", "/bacon").await;
    // v1's plain-prefix quirk: /apix is stripped to /x.
    s.expect("/apix", "prefixstrip", "/x").await;

    s.expect("/ppsr/v3/thing", "prefixstripre", "/thing").await;
    s.expect("/add/x", "addprefix", "/products/add/x").await;

    let v = s.expect("/rp", "replace", "/serverless-path").await;
    assert_eq!(v["headers"]["x-replaced-path"], "/rp");
    let v = s.expect("/rpr/a/b", "replacere", "/new/a/b").await;
    assert_eq!(v["headers"]["x-replaced-path"], "/rpr/a/b");

    // Modifiers apply in v1's order whatever their place in the rule: strip, then add.
    s.expect("/sa/x", "stripadd", "/base/x").await;

    // Percent-encoded characters survive a strip.
    s.expect("/api/a%20b", "prefixstrip", "/a%20b").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn priority_order() {
    let s = setup(
        &[
            ("short", &["PathPrefix:/prio"], ""),
            ("long", &["PathPrefix:/prio/long"], ""),
            ("forced", &["PathPrefix:/pp"], "priority = 1000"),
            ("natural", &["PathPrefix:/pp/more"], ""),
            // v1 docs: 'PathPrefix:/foo;Host:foo.com' (28) > 'PathPrefixStrip:/foobar' (23) > 'PathPrefix:/foo,/bar' (20).
            ("a28", &["PathPrefix:/foo;Host:foo.com"], ""),
            ("b23", &["PathPrefixStrip:/foobar"], ""),
            ("c20", &["PathPrefix:/foo,/bar"], ""),
        ],
        "",
    )
    .await;
    s.expect("/prio/x", "short", "/prio/x").await;
    s.expect("/prio/long/x", "long", "/prio/long/x").await;
    // An explicit priority beats the longer rule.
    s.expect("/pp/more", "forced", "/pp/more").await;
    assert_eq!(s.get_host("foo.com", "/foobar").await.1["server"], "a28");
    s.expect("/foobar/x", "b23", "/x").await;
    s.expect("/foo", "c20", "/foo").await;
    s.expect("/bar", "c20", "/bar").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trailing_slash_redirects_unless_kept() {
    let s = setup(
        &[
            ("slash", &["Path:/test/foo"], ""),
            ("dir", &["Path:/dir/"], ""),
        ],
        "",
    )
    .await;
    let (st, _, h) = s.send(client().get(s.url("/test/foo/?a=1"))).await;
    assert_eq!(st, 301);
    assert_eq!(h["location"], "/test/foo?a=1");
    let (st, _, h) = s.send(client().get(s.url("/dir"))).await;
    assert_eq!(st, 301);
    assert_eq!(h["location"], "/dir/");
    s.expect("/test/foo", "slash", "/test/foo").await;

    let kept = setup(
        &[("slash", &["Path:/test/foo"], "")],
        "keepTrailingSlash = true",
    )
    .await;
    assert_eq!(kept.get("/test/foo/").await.0, 404);
    kept.expect("/test/foo", "slash", "/test/foo").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_frontends_route_correctly() {
    let b = Backend::start("many").await;
    let port = free_port();
    let mut toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n[backends.b.servers.s]\nurl = \"{}\"\n",
        b.url()
    );
    for i in 0..3000 {
        toml.push_str(&format!(
            "[frontends.h{i}]\nbackend = \"b\"\n[frontends.h{i}.routes.r]\nrule = \"Host:host{i}.example.com\"\n"
        ));
        toml.push_str(&format!(
            "[frontends.p{i}]\nbackend = \"b\"\n[frontends.p{i}.routes.r]\nrule = \"PathPrefixStrip:/svc{i}/\"\n"
        ));
    }
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/svc2999/ok"), 200)
        .await;
    for i in [0, 1234, 2999] {
        let (st, v) = get_json(&format!("http://127.0.0.1:{port}/svc{i}/x")).await;
        assert_eq!((st, v["path"].as_str()), (200, Some("/x")), "svc{i}");
        let r = client()
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", format!("host{i}.example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{port}/svc3000/x"))
            .await
            .0,
        404
    );
}
