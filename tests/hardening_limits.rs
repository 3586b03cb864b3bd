//! Hardening through the binary: what a client can make trafik keep (metric series, the
//! access log's queue, bcrypt work), secrets the API must not show, and the smaller holes:
//! a malformed request body blamed on the backend, requests whose client went away left
//! unreported, and log lines a client could forge.

use crate::common;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// trafik with one catch-all frontend `fe` → backend `be` on `http`, the access log (CLF)
/// in `access.log`, and the API and metrics on `api`.
struct Proxy {
    trafik: Trafik,
    http: u16,
    api: u16,
}

fn proxy_config(http: u16, api: u16, server: &str, extra: &str) -> String {
    format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[accessLog]
filePath = "access.log"
[api]
[rest]
[metrics.prometheus]
[file]
{extra}
[backends.be.servers.s]
url = "{server}"
[frontends.fe]
backend = "be"
[frontends.fe.routes.r]
rule = "PathPrefix:/"
"#
    )
}

async fn proxy(server: &str, extra: &str) -> Proxy {
    let (http, api) = (free_port(), free_port());
    let trafik = Trafik::start(&proxy_config(http, api, server, extra));
    trafik
        .wait_for(&format!("http://127.0.0.1:{api}/api/providers"), 200)
        .await;
    trafik
        .wait_for(&format!("http://127.0.0.1:{http}/ready"), 200)
        .await;
    Proxy { trafik, http, api }
}

impl Proxy {
    async fn metrics(&self) -> String {
        client()
            .get(format!("http://127.0.0.1:{}/metrics", self.api))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.trafik.path("access.log")).unwrap_or_default()
    }

    /// The access log's line whose request line contains `needle`, once written.
    async fn log_line(&self, needle: &str) -> String {
        eventually(&format!("an access log line with {needle:?}"), || async {
            self.access_log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_owned)
        })
        .await
    }

    /// `traefik_entrypoint_open_connections` of the `http` entry point, summed over its
    /// methods and protocols.
    async fn open_connections(&self) -> i64 {
        self.metrics()
            .await
            .lines()
            .filter(|l| {
                l.starts_with("traefik_entrypoint_open_connections{")
                    && l.contains("entrypoint=\"http\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
            .sum()
    }
}

/// Sends `raw` on a fresh connection and reads until the server closes it or `limit`
/// passes; what came back, lossily as text.
async fn raw_exchange(port: u16, raw: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

// ------------------------------------------------------------------ metrics labels

#[tokio::test(flavor = "multi_thread")]
async fn invented_methods_share_one_metric_label() {
    let backend = Backend::start("b").await;
    let p = proxy(&backend.url(), "").await;
    let c = client();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let r = c
            .request(method, format!("http://127.0.0.1:{}/pot", p.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // The backend saw the methods as sent: only the label is folded.
    let (_, v) = get_json(&format!("http://127.0.0.1:{}/x", p.http)).await;
    assert_eq!(v["method"], "GET");
    let metrics = eventually("the 20 requests counted", || async {
        let m = p.metrics().await;
        m.lines()
            .any(|l| {
                l.starts_with("traefik_entrypoint_requests_total{")
                    && l.contains("method=\"EXTENSION_METHOD\"")
                    && l.ends_with(" 20")
            })
            .then_some(m)
    })
    .await;
    assert!(!metrics.contains("BREW"), "{metrics}");
    assert!(metrics.contains("method=\"GET\""), "{metrics}");
}

// ------------------------------------------------------------------ request bodies

/// A chunked body whose second chunk size is not hex: the client's fault.
const BAD_CHUNKED: &[u8] = b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_chunk_size_is_the_clients_fault() {
    let backend = Backend::start("b").await;
    let p = proxy(&backend.url(), "").await;
    let response = raw_exchange(p.http, BAD_CHUNKED, Duration::from_secs(20)).await;
    assert_eq!(
        status_of(&response),
        Some(400),
        "a broken request body is answered 400, not blamed on the server: {response:?}"
    );
    let line = p.log_line("POST /upload").await;
    assert!(line.contains("\" 400 "), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_do_not_trip_the_circuit_breaker() {
    let backend = Backend::start("b").await;
    let p = proxy(
        &backend.url(),
        "[backends.be.circuitBreaker]\nexpression = \"NetworkErrorRatio() > 0.1\"",
    )
    .await;
    for _ in 0..20 {
        let response = raw_exchange(p.http, BAD_CHUNKED, Duration::from_secs(20)).await;
        assert_ne!(status_of(&response), Some(502), "{response:?}");
    }
    // Were they network errors, the ratio (20 of 20) would trip the breaker at its next
    // check (at most 100 ms away) and the backend would be answered 503 for 10 s. The
    // good requests below dilute the ratio by one each: 180 before it falls under 0.1.
    let c = client();
    let since = Instant::now();
    let mut sent = 0;
    while since.elapsed() < Duration::from_millis(500) && sent < 150 {
        let r = c
            .get(format!("http://127.0.0.1:{}/after", p.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {sent} after the malformed bodies");
        sent += 1;
    }
}

// ------------------------------------------------------------------ clients that go away

#[tokio::test(flavor = "multi_thread")]
async fn a_client_gone_before_the_answer_is_logged_499_and_the_gauge_comes_down() {
    let backend = Backend::start("b").await;
    let p = proxy(&backend.url(), "").await;
    backend.set_delay(5_000);
    let hits = backend.hits();
    let mut s = TcpStream::connect(("127.0.0.1", p.http)).await.unwrap();
    s.write_all(b"GET /abandoned HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    // In flight: the backend has it, and the gauge counts it.
    eventually("the request to reach the backend", || async {
        (backend.hits() > hits).then_some(())
    })
    .await;
    assert_eq!(p.open_connections().await, 1);
    drop(s);

    let line = p.log_line("GET /abandoned").await;
    assert!(line.contains("\" 499 "), "{line}");
    eventually("the open-connections gauge back at 0", || async {
        (p.open_connections().await == 0).then_some(())
    })
    .await;
    let metrics = p.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("traefik_entrypoint_requests_total{")
                && l.contains("code=\"499\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
}

/// A server that answers every request with a chunked 200 whose first chunk is `hello`,
/// and then never sends the rest.
async fn stalling_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(n @ 1..) => got.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .await;
            held.push(s);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_gone_mid_body_is_logged_and_the_gauge_comes_down() {
    let (url, server) = stalling_server().await;
    let backend = Backend::start("b").await;
    // Ready checks go to a real backend; the stalling server gets one frontend.
    let p = proxy(
        &backend.url(),
        &format!(
            "[backends.stall.servers.s]\nurl = \"{url}\"\n[frontends.stall]\nbackend = \"stall\"\npriority = 100\n\
             [frontends.stall.routes.r]\nrule = \"PathPrefix:/stall\"\n"
        ),
    )
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", p.http)).await.unwrap();
    s.write_all(b"GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("hello") {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut buf))
            .await
            .expect("the head and first chunk")
            .unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(p.open_connections().await, 1);
    drop(s);

    // The head was sent: its status is what is logged.
    let line = p.log_line("GET /stall").await;
    assert!(line.contains("\" 200 "), "{line}");
    eventually("the open-connections gauge back at 0", || async {
        (p.open_connections().await == 0).then_some(())
    })
    .await;
    server.abort();
}

// ------------------------------------------------------------------ log injection

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_user_agent_cannot_forge_log_fields() {
    let backend = Backend::start("b").await;
    let p = proxy(&backend.url(), "").await;
    // A quote to close the field and fake the rest of a line, a backslash, and bytes
    // outside ASCII (obs-text, which HTTP/1.1 header values may carry).
    let raw = b"GET /forged HTTP/1.1\r\nHost: a\r\nReferer: r\\\"\r\nUser-Agent: x\" 200 0 \"-\" \"evil\xc3\xa9\xff\r\nConnection: close\r\n\r\n";
    let response = raw_exchange(p.http, raw, Duration::from_secs(20)).await;
    assert_eq!(status_of(&response), Some(200), "{response:?}");
    let line = p.log_line("GET /forged").await;
    assert!(
        line.contains(r#" "r\\\"" "x\" 200 0 \"-\" \"evil\xc3\xa9\xff" "#),
        "{line}"
    );
    // The line still has exactly the format's own quotes unescaped (10), and nothing but
    // printable ASCII.
    assert_eq!(bare_quotes(&line), 10, "{line}");
    assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
}

/// Quotes not escaped: not preceded by an odd run of backslashes.
fn bare_quotes(line: &str) -> usize {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i] == b'"' && b[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0
        })
        .count()
}

// ------------------------------------------------------------------ the access log's queue

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_access_log_drops_and_counts_without_holding_requests() {
    // The log is a FIFO that is opened but never read: once its pipe buffer is full, the
    // writer thread blocks for good, as on a dead disk or a stdout nobody reads.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("access.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        // Opening a FIFO waits for the other end: trafik's, at its start.
        std::thread::spawn(move || std::fs::File::open(fifo).unwrap())
    };
    let (http, api) = (free_port(), free_port());
    let trafik = Trafik::start(&format!(
        r#"logLevel = "WARN"
[entryPoints.http]
address = "127.0.0.1:{http}"
# Large heads allowed here (the default is 32 KiB), so that records are large.
maxHeaderBytes = 1048576
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[accessLog]
filePath = "{}"
[api]
[metrics.prometheus]
"#,
        fifo.display()
    ));
    let _reader = reader.join().unwrap();
    trafik
        .wait_for(&format!("http://127.0.0.1:{api}/api/version"), 200)
        .await;

    // 100 KB records (a client chooses its User-Agent's size): the 64 MiB bound is
    // reached after about 650, long before the 64 Ki records one.
    let agent = "a".repeat(100_000);
    let c = client();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (c, agent) = (c.clone(), agent.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                let r = c
                    .get(format!("http://127.0.0.1:{http}/nowhere/{worker}/{i}"))
                    .header("user-agent", &agent)
                    .send()
                    .await
                    .unwrap();
                // Answered, whatever the log does.
                assert_eq!(r.status(), 404);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let dropped = eventually("traefik_accesslog_dropped_total above 0", || async {
        let m = c
            .get(format!("http://127.0.0.1:{api}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("traefik_accesslog_dropped_total "))?
            .parse()
            .ok()?;
        (n > 0).then_some(n)
    })
    .await;
    // 1000 records of 100 KB, room for about 650 in the queue and a few in the pipe.
    assert!((200..1000).contains(&dropped), "{dropped} dropped");
    let warning = eventually("a warning about the dropped records", || async {
        trafik
            .logs()
            .lines()
            .find(|l| l.contains("records dropped since the last warning"))
            .map(str::to_owned)
    })
    .await;
    assert!(warning.contains("WARN"), "{warning}");
}

// ------------------------------------------------------------------ bcrypt floods

/// `bcrypt::hash("right horse", 10)`: about 0.3 s to verify in a debug build, 50 ms in a
/// release one.
const BCRYPT_RIGHT_HORSE: &str = "$2b$10$nqdeGLI8cHjYXaz7aeqd5.HyPvwWfv067/TV25HlzDaPHq2NpjNZW";

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_wrong_passwords_is_bounded_and_the_right_one_still_gets_in() {
    let backend = Backend::start("b").await;
    let http = free_port();
    let trafik = Trafik::start(&format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{http}"
  [entryPoints.http.auth.basic]
  users = ["u:{BCRYPT_RIGHT_HORSE}"]
[ping]
entryPoint = "http"
[file]
[backends.be.servers.s]
url = "{}"
[frontends.fe]
backend = "be"
[frontends.fe.routes.r]
rule = "PathPrefix:/"
"#,
        backend.url()
    ));
    let base = format!("http://127.0.0.1:{http}");
    trafik.wait_for(&format!("{base}/ping"), 200).await;
    let c = client();
    let right = |path: &str| {
        c.get(format!("{base}{path}"))
            .basic_auth("u", Some("right horse"))
            .send()
    };
    eventually("the right password to get in", || async {
        (right("/first").await.ok()?.status() == 200).then_some(())
    })
    .await;

    // Far more wrong passwords at once than there are places (one running per core, 16
    // per core waiting): the rest are refused without hashing.
    let flood: Vec<_> = (0..150)
        .map(|i| {
            let c = c.clone();
            let url = format!("{base}/guess/{i}");
            tokio::spawn(async move {
                c.get(url)
                    .basic_auth("u", Some(format!("guess {i}")))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    // Meanwhile trafik serves: /ping (no auth), and the right password, remembered.
    let ping = c.get(format!("{base}/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(right("/during").await.unwrap().status(), 200);

    let mut busy = 0;
    for t in flood {
        let r = t.await.unwrap();
        match r.status().as_u16() {
            401 => {}
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                busy += 1;
            }
            other => panic!("a wrong password answered {other}"),
        }
    }
    assert!(busy > 0, "no request was refused for lack of a place");
    // Only the right password reached the backend.
    let (_, seen) = get_json_with_auth(&format!("{base}/last"), "u", "right horse").await;
    assert_eq!(seen["path"], "/last");
    assert_eq!(backend.hits(), 3);
}

async fn get_json_with_auth(url: &str, user: &str, password: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

// ------------------------------------------------------------------ secrets in the API

/// `htpasswd -nb test test` (apr1), the Traefik docs' example user.
const APR1_HASH: &str = "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";

#[tokio::test(flavor = "multi_thread")]
async fn the_api_never_shows_private_keys_or_password_hashes() {
    let ca = common::pki::Ca::new("Secrets CA");
    let file_pem = ca.server(&["file.test"], "File");
    let rest_pem = ca.server(&["rest.test"], "Rest");
    // A line from the middle of each key: what a leak would show even if re-wrapped.
    let secret_of = |pem: &str| pem.lines().nth(2).unwrap().to_owned();
    let (file_secret, rest_secret) = (secret_of(&file_pem.key), secret_of(&rest_pem.key));
    let backend = Backend::start("b").await;
    let (http, https, api) = (free_port(), free_port(), free_port());
    let trafik = Trafik::start(&format!(
        r#"defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http}"
  [entryPoints.http.auth.basic]
  users = ["test:{APR1_HASH}"]
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[rest]
[file]
[backends.b.servers.s]
url = "{}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[[tls]]
entryPoints = ["https"]
  [tls.certificate]
  certFile = """{}"""
  keyFile = """{}"""
"#,
        backend.url(),
        file_pem.cert,
        file_pem.key
    ));
    let base = format!("http://127.0.0.1:{api}");
    trafik
        .wait_for(&format!("{base}/api/providers/file"), 200)
        .await;
    let (_, file) = get_json(&format!("{base}/api/providers/file")).await;
    // The item is there, its key is not.
    assert_eq!(file["tls"][0]["certificate"]["keyFile"], "<redacted>");
    assert!(
        file["tls"][0]["certificate"]["certFile"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );

    // The REST provider: what a PUT answers and what GET shows later.
    let rest_config = serde_json::json!({
        "backends": {"rb": {"servers": {"s": {"url": backend.url(), "weight": 1}}}},
        "frontends": {"rf": {"backend": "rb", "routes": {"r": {"rule": "Host:rest.test"}}}},
        "tls": [{"entryPoints": ["https"], "certificate": {"certFile": rest_pem.cert, "keyFile": rest_pem.key}}],
    });
    let put = client()
        .put(format!("{base}/api/providers/rest"))
        .body(rest_config.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let put_answer = put.text().await.unwrap();
    let rest = eventually("the REST configuration to apply", || async {
        let (_, v) = get_json(&format!("{base}/api/providers/rest")).await;
        v.get("tls").is_some().then_some(v)
    })
    .await;
    assert_eq!(rest["tls"][0]["certificate"]["keyFile"], "<redacted>");

    let mut shown = vec![put_answer, rest.to_string(), file.to_string()];
    for path in [
        "/api",
        "/api/providers",
        "/api/providers/file",
        "/api/providers/rest",
        "/api/providers/web",
        "/api/state",
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        shown.push(r.text().await.unwrap());
    }
    for (i, text) in shown.iter().enumerate() {
        for secret in [
            file_secret.as_str(),
            rest_secret.as_str(),
            "PRIVATE KEY",
            APR1_HASH,
        ] {
            assert!(
                !text.contains(secret),
                "answer {i} shows {secret:?}: {text}"
            );
        }
    }
}

// ------------------------------------------------------------------ examples

/// `examples/` as a newcomer runs them: every configuration passes `trafik check`.
#[test]
fn every_example_passes_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let (status, stdout, stderr) =
                run_trafik(&["check", "-c", path.to_str().unwrap()], root);
            assert!(status.success(), "{}: {stdout}{stderr}", path.display());
            assert!(stdout.contains("configuration OK"), "{stdout}");
            checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        checked.iter().any(|n| n == "trafik-dashboard.toml"),
        "{checked:?}"
    );
}

/// The README's dashboard example, on test ports: the dashboard, the API and the proxy.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_example_serves_the_dashboard() {
    let backend = Backend::start("echo").await;
    let (http, api) = (free_port(), free_port());
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trafik-dashboard.toml"),
    )
    .unwrap();
    let toml = example
        .replace("\":8080\"", &format!("\"127.0.0.1:{http}\""))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{api}"))
        .replace("http://127.0.0.1:8091", &backend.url());
    let trafik = Trafik::start(&toml);
    let dashboard = format!("http://127.0.0.1:{api}/dashboard/");
    trafik.wait_for(&dashboard, 200).await;
    let page = client()
        .get(&dashboard)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("app.js"), "{page}");
    let (status, providers) = get_json(&format!("http://127.0.0.1:{api}/api/providers")).await;
    assert_eq!(status, 200);
    assert_eq!(providers["file"]["frontends"]["fe1"]["backend"], "httpecho");
    trafik
        .wait_for(&format!("http://127.0.0.1:{http}/echo"), 200)
        .await;
}
