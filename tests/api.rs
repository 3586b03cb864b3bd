//! The API through the binary: every endpoint with its JSON shape (checked against the
//! OpenAPI document trafik serves, which keeps that document true), the REST provider
//! (PUT, persistence across a restart, refusals that change nothing), auth on the API
//! entry point with `/ping` left open, Prometheus metrics, and the dashboard's files.

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

struct Setup {
    trafik: Trafik,
    http: u16,
    api: u16,
    _backend: Backend,
}

fn config(http: u16, api: u16, backend: &str, extra: &str) -> String {
    format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
{extra}
[api]
  [api.statistics]
  recentErrors = 3
[ping]
[rest]
[metrics.prometheus]
buckets = [0.05, 0.5]
[file]
[backends.echo]
  [backends.echo.circuitBreaker]
  expression = "NetworkErrorRatio() > 0.5"
  [backends.echo.servers.s1]
  url = "{backend}"
  weight = 3
[frontends.fe1]
backend = "echo"
  [frontends.fe1.routes.r1]
  rule = "Host: Example.com ; PathPrefix:/echo"
# Every frontend middleware, so that the API shows each and the document describes each.
[frontends.guarded]
backend = "echo"
whitelistSourceRange = ["10.0.0.0/8"]
  [frontends.guarded.routes.r1]
  rule = "PathPrefix:/guarded"
  [frontends.guarded.whiteList]
  sourceRange = ["127.0.0.1", "::1"]
  [frontends.guarded.headers]
  frameDeny = true
  STSSeconds = 60
  allowedHosts = ["example.com"]
    [frontends.guarded.headers.customResponseHeaders]
    X-Guarded = "yes"
  [frontends.guarded.redirect]
  regex = "^http://old/(.*)"
  replacement = "http://new/$1"
  [frontends.guarded.rateLimit]
  extractorFunc = "client.ip"
    [frontends.guarded.rateLimit.rateSet.s]
    period = "1s"
    average = 100
    burst = 100
  [frontends.guarded.errors.e]
  status = ["500-599"]
  backend = "echo"
  query = "/{{status}}.html"
  [frontends.guarded.passTLSClientCert]
  pem = true
  [frontends.guarded.auth]
  headerField = "X-User"
    [frontends.guarded.auth.forward]
    address = "http://127.0.0.1:9/auth"
    authResponseHeaders = ["X-User"]
      [frontends.guarded.auth.forward.tls]
      insecureSkipVerify = true
[frontends.old-style]
backend = "echo"
basicAuth = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
  [frontends.old-style.routes.r1]
  rule = "PathPrefix:/old-style"
"#
    )
}

async fn setup(extra: &str) -> Setup {
    let backend = Backend::start("echo").await;
    let (http, api) = (free_port(), free_port());
    let trafik = Trafik::start(&config(http, api, &backend.url(), extra));
    trafik
        .wait_for(&format!("http://127.0.0.1:{api}/ping"), 200)
        .await;
    Setup {
        trafik,
        http,
        api,
        _backend: backend,
    }
}

impl Setup {
    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api)
    }
    fn proxy(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn put(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let r = client().put(url).body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_answer_with_v1_shapes_and_match_the_openapi_document() {
    let s = setup("").await;
    // Traffic for /health and /metrics: one 200 and one 404 through the proxy.
    let r = client()
        .get(s.proxy("/echo"))
        .header("host", "example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = get(&s.proxy("/missing")).await;
    assert_eq!(status, 404);

    let (status, body) = get(&s.api("/api/providers")).await;
    assert_eq!(status, 200);
    let providers: Value = serde_json::from_str(&body).unwrap();
    let file = &providers["file"];
    // The rule exactly as written, spaces and case included.
    assert_eq!(
        file["frontends"]["fe1"]["routes"]["r1"]["rule"],
        "Host: Example.com ; PathPrefix:/echo"
    );
    assert_eq!(file["backends"]["echo"]["servers"]["s1"]["weight"], 3);
    assert_eq!(
        file["backends"]["echo"]["circuitBreaker"]["expression"],
        "NetworkErrorRatio() > 0.5"
    );
    for key in [
        "entryPoints",
        "backend",
        "routes",
        "passHostHeader",
        "priority",
    ] {
        assert!(
            file["frontends"]["fe1"].get(key).is_some(),
            "frontend lacks {key}"
        );
    }
    let guarded = &file["frontends"]["guarded"];
    for key in [
        "whiteList",
        "whitelistSourceRange",
        "headers",
        "redirect",
        "ratelimit",
        "errors",
        "passTLSClientCert",
        "auth",
    ] {
        assert!(
            guarded.get(key).is_some(),
            "the API does not show {key}: {guarded:#}"
        );
    }
    assert_eq!(guarded["ratelimit"]["rateset"]["s"]["average"], 100);
    assert_eq!(
        guarded["headers"]["customResponseHeaders"]["X-Guarded"],
        "yes"
    );
    assert_eq!(
        guarded["auth"]["forward"]["authResponseHeaders"][0],
        "X-User"
    );
    assert!(file["frontends"]["old-style"]["basicAuth"].is_array());
    let (_, api_root) = get(&s.api("/api")).await;
    assert_eq!(serde_json::from_str::<Value>(&api_root).unwrap(), providers);

    let (status, body) = get(&s.api("/api/providers/file/backends/echo/servers/s1")).await;
    assert_eq!(status, 200, "{body}");
    let server: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(server["weight"], 3);
    for missing in [
        "/api/providers/nope",
        "/api/providers/file/backends/nope",
        "/api/providers/file/frontends/fe1/routes/nope",
        "/api/providers/file/elsewhere",
        "/api/nothing",
    ] {
        assert_eq!(get(&s.api(missing)).await.0, 404, "{missing}");
    }

    let (_, health) = get(&s.api("/health")).await;
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["total_count"], 2);
    assert_eq!(
        health["total_status_code_count"],
        json!({"200": 1, "404": 1})
    );
    assert_eq!(health["recent_errors"][0]["status_code"], 404);
    assert_eq!(health["recent_errors"][0]["path"], "/missing");

    let (_, state) = get(&s.api("/api/state")).await;
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["providers"]["file"]["lastError"], Value::Null);
    assert_eq!(state["backends"]["echo"]["breaker"], "standby");
    let servers = state["backends"]["echo"]["servers"].as_object().unwrap();
    assert_eq!(servers.values().next().unwrap()["up"], true);

    let (status, ping) = get(&s.api("/ping")).await;
    assert_eq!((status, ping.as_str()), (200, "OK"));
    let r = client().get(s.api("/")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/dashboard/");

    // The OpenAPI document: every GET path it lists answers 200 with a body of its schema.
    let (status, doc) = get(&s.api("/api/openapi.json")).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let params = [
        ("{provider}", "file"),
        ("{backend}", "echo"),
        ("{server}", "s1"),
        ("{frontend}", "fe1"),
        ("{route}", "r1"),
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let mut concrete = path.clone();
        for (p, v) in params {
            concrete = concrete.replace(p, v);
        }
        let r = client().get(s.api(&concrete)).send().await.unwrap();
        let status = r.status().as_u16().to_string();
        let documented = &op["responses"][&status];
        assert!(
            !documented.is_null(),
            "GET {concrete}: {status} is not documented"
        );
        if let Some(schema) = documented.pointer("/content/application~1json/schema") {
            let body: Value = r.json().await.unwrap();
            if let Err(e) = conforms(&doc, schema, &body, "") {
                panic!("GET {concrete}: body does not match the OpenAPI schema: {e}\n{body:#}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} JSON endpoints checked");
}

/// A small JSON-schema check: `$ref`, `type`, `required`, `properties`,
/// `additionalProperties`, `items`, `nullable`: what the document uses.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .ok_or(format!("bad $ref {r}"))?;
        return conforms(doc, target, value, at);
    }
    if value.is_null() && schema["nullable"] == true {
        return Ok(());
    }
    let ok = match schema["type"].as_str() {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => return Err(format!("unknown type {other}")),
    };
    if !ok {
        return Err(format!("{at}: {value} is not a {}", schema["type"]));
    }
    if let Some(required) = schema["required"].as_array() {
        for key in required {
            let key = key.as_str().unwrap();
            if value.get(key).is_none() {
                return Err(format!("{at}: missing {key}"));
            }
        }
    }
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            let sub = match schema["properties"].get(k) {
                Some(p) => p,
                None => match schema.get("additionalProperties") {
                    Some(a) if a.is_object() => a,
                    // A key the document does not describe: the document is behind.
                    _ if schema.get("properties").is_some() => {
                        return Err(format!("{at}.{k}: not in the document"));
                    }
                    _ => continue,
                },
            };
            conforms(doc, sub, v, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The REST provider takes the frontend middlewares in v1's JSON (`ratelimit`/`rateset`
/// as v1 spelled them), applies them, and refuses a bad one with its location in the JSON.
#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_put_carries_the_frontend_middlewares() {
    let s = setup("").await;
    let backend_url = s._backend.url();
    let with_middlewares = json!({
        "backends": {"b3": {"servers": {"s": {"url": backend_url, "weight": 1}}}},
        "frontends": {
            "open": {
                "backend": "b3",
                "routes": {"r": {"rule": "Path:/rest-open"}},
                "headers": {"customResponseHeaders": {"X-From-Rest": "yes"}},
                "ratelimit": {"extractorFunc": "client.ip",
                              "rateset": {"s": {"period": "1h", "average": 1, "burst": 1}}}
            },
            "closed": {
                "backend": "b3",
                "routes": {"r": {"rule": "Path:/rest-closed"}},
                "whiteList": {"sourceRange": ["192.0.2.0/24"]},
                "auth": {"basic": {"users": ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]}}
            }
        }
    });
    let (status, body) = put(&s.api("/api/providers/rest"), with_middlewares.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let open = s.proxy("/rest-open");
    let first = eventually("the PUT frontend to serve", || async {
        let r = client().get(&open).send().await.ok()?;
        (r.status() == 200).then_some(r)
    })
    .await;
    assert_eq!(first.headers()["x-from-rest"], "yes");
    assert_eq!(get(&open).await.0, 429, "the rate set of burst 1 is spent");
    assert_eq!(get(&s.proxy("/rest-closed")).await.0, 403);

    let bad = json!({
        "backends": {"b3": {"servers": {"s": {"url": backend_url}}}},
        "frontends": {"f": {"backend": "b3", "routes": {"r": {"rule": "Path:/x"}},
                            "whiteList": {"sourceRange": ["10.0.0.0/33"]}}}
    });
    let (status, body) = put(&s.api("/api/providers/rest"), bad.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10.0.0.0/33"), "{body}");
    // Refused: what was applied keeps serving.
    assert_eq!(get(&s.proxy("/rest-closed")).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_put_is_applied_kept_across_a_restart_and_bad_ones_change_nothing() {
    let s = setup("").await;
    let backend_url = s._backend.url();
    let good = json!({
        "backends": {"b2": {"servers": {"s": {"url": backend_url, "weight": 1}}}},
        "frontends": {"f2": {"backend": "b2", "routes": {"r": {"rule": "Path:/from-rest"}}}}
    });
    let (status, body) = put(&s.api("/api/providers/rest"), good.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let route = s.proxy("/from-rest");
    eventually("the PUT route to serve", || async {
        (get_json(&route).await.0 == 200).then_some(())
    })
    .await;
    let (_, providers) = get(&s.api("/api/providers")).await;
    let providers: Value = serde_json::from_str(&providers).unwrap();
    assert_eq!(
        providers["rest"]["frontends"]["f2"]["routes"]["r"]["rule"],
        "Path:/from-rest"
    );
    // v1's name for the REST provider reads the same configuration.
    let (status, web) = get(&s.api("/api/providers/web")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&web).unwrap(),
        providers["rest"]
    );

    // Refused, each with a message naming the problem, and nothing changes.
    let refusals: Vec<(String, reqwest::Body, u16, &str)> = vec![
        (
            "rest".into(),
            "{not json".into(),
            400,
            "invalid configuration JSON",
        ),
        (
            "rest".into(),
            json!({"backends": {"b": {"servers": {"s": {"url": backend_url}}}},
                   "frontends": {"f": {"backend": "b", "routes": {"r": {"rule": "Pathh:/x"}}}}})
            .to_string()
            .into(),
            400,
            "Pathh",
        ),
        ("file".into(), "{}".into(), 400, "Only 'rest' provider"),
        ("rest".into(), vec![b' '; 2 << 20].into(), 413, ""),
    ];
    for (provider, body, code, message) in refusals {
        let (status, text) = put(&s.api(&format!("/api/providers/{provider}")), body).await;
        assert_eq!(status, code, "{text}");
        assert!(text.contains(message), "{text:?} lacks {message:?}");
    }
    assert_eq!(get_json(&route).await.0, 200);
    let (_, after) = get(&s.api("/api/providers")).await;
    assert_eq!(serde_json::from_str::<Value>(&after).unwrap(), providers);

    // Restart on the same store: the REST configuration is back without a PUT.
    let mut s = s;
    assert!(s.trafik.dir.join("trafik-rest.redb").exists());
    s.trafik.restart().await;
    s.trafik.wait_for(&route, 200).await;
    let api = s.api;
    let (_, providers) = get(&format!("http://127.0.0.1:{api}/api/providers")).await;
    let providers: Value = serde_json::from_str(&providers).unwrap();
    assert!(providers.get("rest").is_some(), "{providers}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_guards_the_api_but_not_ping_and_metrics_count_requests() {
    // user "test", password "test" (apr1, as in Traefik's docs).
    let s = setup(
        "[entryPoints.traefik.auth.basic]\nusers = [\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]",
    )
    .await;
    let r = client().get(s.api("/api/providers")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let r = client()
        .get(s.api("/api/providers"))
        .basic_auth("test", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(s.api("/api/providers"))
        .basic_auth("test", Some("test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&s.api("/ping")).await, (200, "OK".to_string()));
    let r = client()
        .put(s.api("/api/providers/rest"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "an unauthenticated PUT must not reach the REST provider"
    );

    // A proxied request shows in the Prometheus text.
    let r = client()
        .get(s.proxy("/echo"))
        .header("host", "example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = eventually("the request to be counted", || async {
        let r = client()
            .get(s.api("/metrics"))
            .basic_auth("test", Some("test"))
            .send()
            .await
            .ok()?;
        let text = r.text().await.ok()?;
        text.contains(r#"traefik_entrypoint_requests_total{code="200",method="GET",protocol="http",entrypoint="http"} 1"#)
            .then_some(text)
    })
    .await;
    check_exposition(&text);
    for needle in [
        r#"traefik_backend_requests_total{code="200",method="GET",protocol="http",backend="echo"} 1"#,
        r#"traefik_entrypoint_request_duration_seconds_bucket{le="0.05","#,
        r#"traefik_backend_server_up{backend="echo",url=""#,
        "traefik_config_reloads_total 1",
        "traefik_backend_retries_total{backend=\"echo\"} 0",
        "traefik_backend_open_connections{backend=\"echo\"} 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

/// Every line is a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF` last) or a sample of a
/// declared family: `name{label="value",…} number`.
fn check_exposition(text: &str) {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$"#,
    )
    .unwrap();
    let mut families = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "exposition not closed");
    for line in &lines {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.push(rest.split(' ').next().unwrap().to_string());
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") || *line == "# EOF" {
        } else {
            let caps = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a sample line: {line}"));
            let name = &caps[1];
            assert!(
                families.iter().any(|f| name.starts_with(f.as_str())),
                "sample of an undeclared family: {line}"
            );
        }
    }
    assert_eq!(
        lines.iter().filter(|l| **l == "# EOF").count(),
        1,
        "one # EOF only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_is_embedded_and_nothing_else_can_be_read() {
    let s = setup("").await;
    let r = client().get(s.api("/dashboard/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<html"));
    let r = client()
        .get(s.api("/dashboard/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // Neither traversal nor the development fixtures are reachable.
    for path in [
        "/dashboard/../Cargo.toml",
        "/dashboard/%2e%2e/Cargo.toml",
        "/dashboard/..%2fCargo.toml",
        "/dashboard/dev/serve.py",
        "/dashboard//etc/passwd",
        "/dashboard/nope.js",
    ] {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.api))
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"),
            "{path}: {answer}"
        );
        assert!(!answer.contains("[package]"), "{path} leaked a file");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_answers_503_once_shutdown_has_started() {
    let s = setup("[lifeCycle]\nrequestAcceptGraceTimeout = \"20s\"").await;
    assert_eq!(get(&s.api("/ping")).await.0, 200);
    s.trafik.signal("TERM");
    // Still accepting during the grace period, but telling load balancers to go away.
    eventually("/ping to answer 503", || async {
        let r = client().get(s.api("/ping")).send().await.ok()?;
        (r.status() == 503).then_some(())
    })
    .await;
    let r = client()
        .get(s.proxy("/echo"))
        .header("host", "example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "requests must still be served during the grace period"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_on_a_proxy_entry_point_names_the_user_to_the_backend() {
    let s = setup(
        "[entryPoints.http.auth]\nheaderField = \"X-WebAuth-User\"\n\
         [entryPoints.http.auth.basic]\nremoveHeader = true\n\
         users = [\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]",
    )
    .await;
    let send = |user: Option<(&'static str, &'static str)>| {
        let mut req = client()
            .get(s.proxy("/echo"))
            .header("host", "example.com")
            .header("x-webauth-user", "forged");
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    assert_eq!(send(None).await.unwrap().status(), 401);
    assert_eq!(send(Some(("test", "nope"))).await.unwrap().status(), 401);
    let r = send(Some(("test", "test"))).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["headers"]["x-webauth-user"], "test", "{v}");
    assert!(
        v["headers"].get("authorization").is_none(),
        "removeHeader: {v}"
    );
    // The API entry point has no auth here: it stays open.
    assert_eq!(get(&s.api("/api/version")).await.0, 200);
}
