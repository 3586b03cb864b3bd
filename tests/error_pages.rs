//! `[frontends.X.errors.NAME]` and `[backends.X.responseForwarding]`, through the real
//! binary: trafik's own 502 and a backend's 404 replaced by the error backend's page
//! (`{status}` substituted, the original status kept), other statuses untouched, the
//! original response when the error backend is down, the whitelist's 403 through the
//! pages, bad pages reported where they are written, and server-sent events reaching the
//! client one by one.

use crate::common;

use std::time::Duration;

use common::{Backend, Trafik, client, free_port, run_trafik};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Status, content type and body.
async fn get(url: &str) -> (u16, String, String) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, r.text().await.unwrap())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn matching_statuses_get_the_error_backends_page_under_their_own_status() {
    let app = Backend::start("app").await;
    let pages = Backend::start("pages").await;
    let port = free_port();
    let dead = free_port();
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.app.servers.s]
url = "{app}"
[backends.pages.servers.s]
url = "{pages}"
[backends.gone.servers.s]
url = "http://127.0.0.1:{dead}"

[frontends.app]
backend = "app"
[frontends.app.routes.r]
rule = "PathPrefix:/app"
[frontends.app.errors.server]
status = ["500-599"]
backend = "pages"
query = "/{{status}}.html"
[frontends.app.errors.missing]
status = ["404"]
backend = "pages"
query = "/missing/{{status}}?from=trafik"

[frontends.down]
backend = "gone"
[frontends.down.routes.r]
rule = "PathPrefix:/down"
[frontends.down.errors.all]
status = ["400-499", "500-599"]
backend = "pages"
query = "/{{status}}.html"

[frontends.guarded]
backend = "app"
[frontends.guarded.routes.r]
rule = "PathPrefix:/guarded"
[frontends.guarded.whiteList]
sourceRange = ["10.0.0.0/8"]
[frontends.guarded.errors.forbidden]
status = ["403"]
backend = "pages"
query = "/{{status}}.html"

[frontends.pagesdown]
backend = "app"
[frontends.pagesdown.routes.r]
rule = "PathPrefix:/pagesdown"
[frontends.pagesdown.errors.all]
status = ["404"]
backend = "gone"
query = "/{{status}}.html"
"#,
        app = app.url(),
        pages = pages.url(),
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ok"), 200).await;

    // The backend's 404: the page's body and content type, the 404 kept.
    let (status, content_type, body) = get(&format!("{base}/app/x?status=404")).await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/json");
    let page = json(&body);
    assert_eq!(page["server"], "pages", "{body}");
    assert_eq!(page["method"], "GET");
    assert_eq!(page["uri"], "/missing/404?from=trafik");
    assert_eq!(pages.hits(), 1);

    // The page request carries none of the client's headers (v1.7): its cookies and
    // credentials are not the error backend's business. Host is the page server's.
    let r = client()
        .get(format!("{base}/app/x?status=404"))
        .header("Cookie", "session=secret")
        .header("Authorization", "Bearer secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let page = json(&r.text().await.unwrap());
    assert_eq!(page["headers"].get("cookie"), None, "{page}");
    assert_eq!(page["headers"].get("authorization"), None, "{page}");
    assert_eq!(page["headers"]["x-forwarded-for"], "127.0.0.1", "{page}");
    assert_eq!(page["headers"]["host"], pages.addr.to_string(), "{page}");

    // The backend's 503, through the other page of the same frontend.
    let (status, _, body) = get(&format!("{base}/app/x?status=503")).await;
    assert_eq!(status, 503);
    assert_eq!(json(&body)["path"], "/503.html", "{body}");

    // Outside every range: the backend's own answer, and the pages are not asked.
    let (status, _, body) = get(&format!("{base}/app/x?status=418")).await;
    assert_eq!(status, 418);
    assert_eq!(json(&body)["server"], "app", "{body}");
    assert_eq!(pages.hits(), 3);

    // trafik's own 502 (nothing listens behind "gone"), replaced, status kept.
    let (status, _, body) = get(&format!("{base}/down/x")).await;
    assert_eq!(status, 502);
    assert_eq!(json(&body)["path"], "/502.html", "{body}");

    // The whitelist's 403 goes through the pages too (they come first in v1's order),
    // and the refused request never reaches the frontend's backend.
    let app_hits = app.hits();
    let (status, _, body) = get(&format!("{base}/guarded/x")).await;
    assert_eq!(status, 403);
    assert_eq!(json(&body)["path"], "/403.html", "{body}");
    assert_eq!(app.hits(), app_hits);

    // The error backend down: the original response, body and all.
    let (status, _, body) = get(&format!("{base}/pagesdown/x?status=404")).await;
    assert_eq!(status, 404);
    let original = json(&body);
    assert_eq!(original["server"], "app", "{body}");
    assert_eq!(original["path"], "/pagesdown/x");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_error_pages_skip_only_their_frontend_and_are_reported_where_written() {
    let app = Backend::start("app").await;
    let port = free_port();
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.app.servers.s]
url = "{app}"

[frontends.good]
backend = "app"
[frontends.good.routes.r]
rule = "Path:/good"
[frontends.good.errors.e]
status = ["500-599"]
backend = "app"
query = "/{{status}}"

[frontends.reversed]
backend = "app"
[frontends.reversed.routes.r]
rule = "Path:/reversed"
[frontends.reversed.errors.e]
status = ["404", "600-100"]
backend = "app"

[frontends.word]
backend = "app"
[frontends.word.routes.r]
rule = "Path:/word"
[frontends.word.errors.e]
status = ["abc"]
backend = "app"

[frontends.unknown]
backend = "app"
[frontends.unknown.routes.r]
rule = "Path:/unknown"
[frontends.unknown.errors.e]
status = ["500"]
backend = "nowhere"

[frontends.relative]
backend = "app"
[frontends.relative.routes.r]
rule = "Path:/relative"
[frontends.relative.errors.e]
status = ["500"]
backend = "app"
query = "{{status}}.html"
"#,
        app = app.url(),
    );
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let expected = [
        (
            line_of("\"600-100\""),
            "frontend \"reversed\" skipped: error page \"e\": invalid status range \"600-100\"",
        ),
        (
            line_of("\"abc\""),
            "frontend \"word\" skipped: error page \"e\": invalid status \"abc\"",
        ),
        (
            line_of("\"nowhere\""),
            "frontend \"unknown\" skipped: error page \"e\": backend \"nowhere\" is not defined",
        ),
        (
            line_of("query = \"{status}.html\""),
            "frontend \"relative\" skipped: error page \"e\": query \"{status}.html\" must start with \"/\"",
        ),
    ];

    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/good"), 200).await;
    for skipped in ["reversed", "word", "unknown", "relative"] {
        // Skipped, not served without its pages: nothing else matches the path.
        assert_eq!(get(&format!("{base}/{skipped}")).await.0, 404, "{skipped}");
    }
    let logs = trafik.logs();
    for (line, message) in &expected {
        assert!(
            logs.lines()
                .any(|l| l.contains(&format!("trafik.toml:{line}:")) && l.contains(message)),
            "{line}: {message}\n{logs}"
        );
    }

    let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success());
    for (line, message) in &expected {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("trafik.toml:{line}:")) && l.contains(message)),
            "{line}: {message}\n{stderr}"
        );
    }
}

/// A backend answering one request with server-sent events: the first event at once,
/// the second only when `next` fires.
async fn event_stream_backend(next: tokio::sync::oneshot::Receiver<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request head never ended");
            head.extend_from_slice(&buf[..n]);
        }
        let first = "data: one\n\n";
        let start = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
             transfer-encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n",
            first.len()
        );
        stream.write_all(start.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        // Held until the client has seen the first event: a proxy that buffered would
        // never show it, and the test would time out.
        let _ = next.await;
        let second = "data: two\n\n";
        let rest = format!("{:x}\r\n{second}\r\n0\r\n\r\n", second.len());
        let _ = stream.write_all(rest.as_bytes()).await;
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn server_sent_events_reach_the_client_one_by_one_whatever_the_flush_interval() {
    let (next, wait) = tokio::sync::oneshot::channel();
    let events = event_stream_backend(wait).await;
    let app = Backend::start("app").await;
    let port = free_port();
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.app.servers.s]
url = "{app}"
[backends.events.servers.s]
url = "{events}"
[backends.events.responseForwarding]
flushInterval = "10s"

[frontends.app]
backend = "app"
[frontends.app.routes.r]
rule = "Path:/ready"
[frontends.events]
backend = "events"
[frontends.events.routes.r]
rule = "Path:/events"
"#,
        app = app.url(),
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/ready"), 200).await;

    let limit = Duration::from_secs(30);
    let mut response = tokio::time::timeout(limit, client().get(format!("{base}/events")).send())
        .await
        .expect("no response head")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !seen.contains("data: one\n\n") {
        let chunk = tokio::time::timeout(limit, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("the first event was held back; seen {seen:?}"))
            .unwrap()
            .expect("the stream ended before the first event");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(!seen.contains("two"), "{seen:?}");
    next.send(()).unwrap();
    while let Some(chunk) = tokio::time::timeout(limit, response.chunk())
        .await
        .expect("the second event never came")
        .unwrap()
    {
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(seen, "data: one\n\ndata: two\n\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_flush_interval_is_reported_where_written() {
    let port = free_port();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n\
         [backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n\
         [backends.b.responseForwarding]\nflushInterval = \"soon\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trafik.toml"), &toml).unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(stderr.contains("trafik.toml:7:"), "{stderr}");
    assert!(stderr.contains("soon"), "{stderr}");
}
