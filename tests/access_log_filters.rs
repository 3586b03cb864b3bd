//! `[accessLog.filters]` and `[accessLog.fields]` through the real binary: which requests
//! get a line, which fields and headers it carries, the user entry-point auth let in, and
//! what the backend answered (`OriginStatus`) told apart from what the client got
//! (`DownstreamStatus`).

use crate::common;
use common::*;

/// trafik on `port`: frontend `fe` (`/app`) → backend `be` at `servers`, the access log in
/// `access.log` with `log` (the `[accessLog…]` tables) and `extra` (more tables) after.
fn config(port: u16, servers: &[String], log: &str, extra: &str) -> String {
    let mut toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n{log}\n[file]\n{extra}\n\
         [frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/app\"\n"
    );
    for (i, url) in servers.iter().enumerate() {
        toml.push_str(&format!("[backends.be.servers.s{i}]\nurl = \"{url}\"\n"));
    }
    toml
}

/// trafik on a free port with `config(…)`, once `/app/ready` answers `ready`: the process and
/// its base URL.
async fn start(servers: &[String], log: &str, extra: &str, ready: u16) -> (Trafik, String) {
    let port = free_port();
    let trafik = Trafik::start(&config(port, servers, log, extra));
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), ready).await;
    (trafik, base)
}

fn read_lines(trafik: &Trafik) -> Vec<String> {
    std::fs::read_to_string(trafik.path("access.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every line, once one contains `needle`.
async fn lines_through(trafik: &Trafik, needle: &str) -> Vec<String> {
    eventually(&format!("an access log line with {needle:?}"), || async {
        let lines = read_lines(trafik);
        lines.iter().any(|l| l.contains(needle)).then_some(lines)
    })
    .await
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

async fn get(url: &str) -> u16 {
    client().get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_codes_log_only_the_requests_in_their_ranges() {
    let backend = Backend::start("b").await;
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\n[accessLog.filters]\nstatusCodes = [\"200\", \"300-302\", \"418\"]",
        "",
        200,
    )
    .await;
    for i in 0..3 {
        assert_eq!(get(&format!("{base}/app/ok-{i}")).await, 200);
        assert_eq!(get(&format!("{base}/missing-{i}")).await, 404);
        assert_eq!(get(&format!("{base}/app/teapot-{i}?status=404")).await, 404);
        assert_eq!(get(&format!("{base}/app/moved-{i}?status=301")).await, 301);
        assert_eq!(get(&format!("{base}/app/other-{i}?status=303")).await, 303);
    }
    assert_eq!(get(&format!("{base}/app/marker?status=418")).await, 418);
    let lines = lines_through(&trafik, "/app/marker").await;
    for i in 0..3 {
        for kept in [format!("/app/ok-{i} "), format!("/app/moved-{i}?")] {
            assert_eq!(
                lines.iter().filter(|l| l.contains(&kept)).count(),
                1,
                "{kept} in {lines:#?}"
            );
        }
    }
    for left_out in ["/missing-", "/app/teapot-", "/app/other-"] {
        assert!(
            !lines.iter().any(|l| l.contains(left_out)),
            "{left_out} in {lines:#?}"
        );
    }
    // Everything logged is in the ranges.
    for line in &lines {
        assert!(
            [" 200 ", " 301 ", " 418 "].iter().any(|s| line.contains(s)),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_attempts_logs_the_retried_requests() {
    let live = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    // `/app` balances over a dead server and a live one, so its requests are retried;
    // `/plain` has only the live one, so its requests never are.
    let (trafik, base) = start(
        &[dead, live.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"\n\
         [accessLog.filters]\nretryAttempts = true\nstatusCodes = [\"418\"]",
        &format!(
            "[retry]\n[backends.plain.servers.s]\nurl = \"{}\"\n\
             [frontends.plain]\nbackend = \"plain\"\n[frontends.plain.routes.r]\nrule = \"PathPrefix:/plain\"",
            live.url()
        ),
        200,
    )
    .await;
    for i in 0..6 {
        assert_eq!(get(&format!("{base}/app/r-{i}")).await, 200);
        assert_eq!(get(&format!("{base}/plain/p-{i}")).await, 200);
    }
    assert_eq!(get(&format!("{base}/plain/marker?status=418")).await, 418);
    let lines = lines_through(&trafik, "/plain/marker").await;
    let logged: Vec<serde_json::Value> = lines.iter().map(|l| json(l)).collect();
    let path = |v: &serde_json::Value| v["RequestPath"].as_str().unwrap().to_owned();
    assert!(
        !logged.iter().any(|v| path(v).starts_with("/plain/p-")),
        "requests not retried were logged: {lines:#?}"
    );
    let retried: Vec<&serde_json::Value> = logged
        .iter()
        .filter(|v| path(v).starts_with("/app/r-"))
        .collect();
    assert!(!retried.is_empty(), "no retried request logged: {lines:#?}");
    for v in &retried {
        assert!(v["RetryAttempts"].as_u64().unwrap() >= 1, "{v}");
        assert_eq!(v["OriginStatus"], 200, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn min_duration_logs_the_slow_requests() {
    let backend = Backend::start("b").await;
    // Far apart, so a loaded machine cannot make a quick request look slow.
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\n[accessLog.filters]\nminDuration = \"2s\"\nstatusCodes = [\"418\"]",
        "",
        200,
    )
    .await;
    assert_eq!(get(&format!("{base}/app/quick-1")).await, 200);
    assert_eq!(get(&format!("{base}/app/slow?wait=3000")).await, 200);
    assert_eq!(get(&format!("{base}/app/quick-2")).await, 200);
    assert_eq!(get(&format!("{base}/app/marker?status=418")).await, 418);
    let lines = lines_through(&trafik, "/app/marker").await;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("/app/slow?wait=3000"), "{lines:#?}");
    let ms: u64 = lines[0]
        .rsplit(' ')
        .next()
        .and_then(|d| d.strip_suffix("ms"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 2000, "{}", lines[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_fields_are_dropped_and_kept_by_name() {
    let backend = Backend::start("b").await;
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"\n\
         [accessLog.fields]\ndefaultMode = \"drop\"\n\
         [accessLog.fields.names]\nRequestPath = \"keep\"\ndownstreamstatus = \"KEEP\"\nClientHost = \"drop\"",
        "",
        200,
    )
    .await;
    assert_eq!(get(&format!("{base}/app/fields")).await, 200);
    let lines = lines_through(&trafik, "/app/fields").await;
    let v = json(lines.iter().find(|l| l.contains("/app/fields")).unwrap());
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["DownstreamStatus", "RequestPath", "level", "msg", "time"],
        "{v}"
    );
    assert_eq!(v["DownstreamStatus"], 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_keeps_every_field_but_the_dropped_one() {
    let backend = Backend::start("b").await;
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"\n\
         [accessLog.fields]\n[accessLog.fields.names]\nStartUTC = \"drop\"",
        "",
        200,
    )
    .await;
    assert_eq!(get(&format!("{base}/app/keep")).await, 200);
    let lines = lines_through(&trafik, "/app/keep").await;
    let v = json(lines.iter().find(|l| l.contains("/app/keep")).unwrap());
    assert!(v.get("StartUTC").is_none(), "{v}");
    for kept in [
        "StartLocal",
        "ClientHost",
        "OriginStatus",
        "DownstreamStatus",
        "Duration",
    ] {
        assert!(v.get(kept).is_some(), "{kept} missing: {v}");
    }
    // No [accessLog.fields.headers]: no header fields.
    assert!(
        !v.as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("request_")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_are_redacted_dropped_and_kept() {
    let backend = Backend::start("b").await;
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"\n\
         [accessLog.fields.headers]\ndefaultMode = \"keep\"\n\
         [accessLog.fields.headers.names]\nAuthorization = \"redact\"\ncookie = \"drop\"",
        "",
        200,
    )
    .await;
    let r = client()
        .get(format!("{base}/app/headers"))
        .header("authorization", "Bearer s3cr3t-token")
        .header("cookie", "session=c00kie-value")
        .header("x-trace-id", "trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The backend got the credentials: only the log leaves them out.
    let seen: serde_json::Value = r.json().await.unwrap();
    assert_eq!(seen["headers"]["authorization"], "Bearer s3cr3t-token");
    let lines = lines_through(&trafik, "/app/headers").await;
    let line = lines.iter().find(|l| l.contains("/app/headers")).unwrap();
    assert!(
        !line.contains("s3cr3t") && !line.contains("c00kie"),
        "{line}"
    );
    let v = json(line);
    assert_eq!(v["request_Authorization"], "REDACTED", "{v}");
    assert!(v.get("request_Cookie").is_none(), "{v}");
    assert_eq!(v["request_X-Trace-Id"], "trace-1", "{v}");
    assert_eq!(v["origin_Content-Type"], "application/json", "{v}");
    assert_eq!(v["downstream_Content-Type"], "application/json", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redacted_or_dropped_header_in_the_common_log_format() {
    let backend = Backend::start("b").await;
    let (trafik, base) = start(
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\n\
         [accessLog.fields.headers]\n[accessLog.fields.headers.names]\nUser-Agent = \"redact\"\nReferer = \"drop\"",
        "",
        200,
    )
    .await;
    client()
        .get(format!("{base}/app/clf"))
        .header("user-agent", "secret-agent/1")
        .header("referer", "http://secret.example/")
        .send()
        .await
        .unwrap();
    let lines = lines_through(&trafik, "/app/clf").await;
    let line = lines.iter().find(|l| l.contains("/app/clf")).unwrap();
    assert!(line.contains(" 200 "), "{line}");
    assert!(line.contains(" \"-\" \"REDACTED\" "), "{line}");
    assert!(!line.contains("secret"), "{line}");
}

/// User `test`, password `test` (htpasswd's apr1 form).
const TEST_USER: &str = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";

#[tokio::test(flavor = "multi_thread")]
async fn the_user_of_entry_point_auth_is_logged() {
    let backend = Backend::start("b").await;
    for format in ["common", "json"] {
        let port = free_port();
        let toml = config(
            port,
            &[backend.url()],
            &format!("[accessLog]\nfilePath = \"access.log\"\nformat = \"{format}\""),
            "",
        )
        .replace(
            "[file]",
            &format!("[entryPoints.http.auth.basic]\nusers = [\"{TEST_USER}\"]\n[file]"),
        );
        let trafik = Trafik::start(&toml);
        let base = format!("http://127.0.0.1:{port}");
        trafik.wait_for(&format!("{base}/app/ready"), 401).await;
        // A failed login is logged too (v1's access log comes before the entry point's auth).
        let r = client()
            .get(format!("{base}/app/denied"))
            .basic_auth("test", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{format}");
        let r = client()
            .get(format!("{base}/app/user"))
            .basic_auth("test", Some("test"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let lines = lines_through(&trafik, "/app/user").await;
        let line = lines.iter().find(|l| l.contains("/app/user")).unwrap();
        let denied = lines.iter().find(|l| l.contains("/app/denied")).unwrap();
        match format {
            "common" => {
                assert!(line.starts_with("127.0.0.1 - test ["), "{line}");
                assert!(denied.starts_with("127.0.0.1 - - ["), "{denied}");
                assert!(denied.contains("\" 401 "), "{denied}");
            }
            _ => {
                assert_eq!(json(line)["ClientUsername"], "test", "{line}");
                assert_eq!(json(denied)["DownstreamStatus"], 401, "{denied}");
                assert!(
                    json(denied).get("ClientUsername").is_none_or(|u| u == "-"),
                    "{denied}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_point_whitelist_refusal_is_logged() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = config(
        port,
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"",
        "",
    )
    .replace(
        "[file]",
        "[entryPoints.http.whiteList]\nsourceRange = [\"192.0.2.0/24\"]\n[file]",
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), 403).await;
    assert_eq!(get(&format!("{base}/app/refused")).await, 403);
    let lines = lines_through(&trafik, "/app/refused").await;
    let line = lines.iter().find(|l| l.contains("/app/refused")).unwrap();
    assert!(line.contains("\" 403 "), "{line}");
    assert_eq!(backend.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_server_up_is_a_downstream_502_with_no_origin_status() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    for format in ["json", "common"] {
        let port = free_port();
        let trafik = Trafik::start(&config(
            port,
            std::slice::from_ref(&dead),
            &format!("[accessLog]\nfilePath = \"access.log\"\nformat = \"{format}\""),
            "",
        ));
        let base = format!("http://127.0.0.1:{port}");
        trafik.wait_for(&format!("{base}/app/ready"), 502).await;
        assert_eq!(get(&format!("{base}/app/down")).await, 502);
        let lines = lines_through(&trafik, "/app/down").await;
        let line = lines.iter().find(|l| l.contains("/app/down")).unwrap();
        if format == "json" {
            let v = json(line);
            assert_eq!(v["DownstreamStatus"], 502, "{v}");
            assert_eq!(v["DownstreamStatusLine"], "502 Bad Gateway", "{v}");
            assert!(v.get("OriginStatus").is_none(), "{v}");
            assert!(v.get("OriginContentSize").is_none(), "{v}");
        } else {
            assert!(line.contains("\"GET /app/down HTTP/1.1\" 502 "), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_page_keeps_the_origin_status_and_size_apart_from_what_was_sent() {
    let app = Backend::start("app").await;
    let pages = Backend::start("pages-backend-with-a-longer-name").await;
    let port = free_port();
    let toml = config(
        port,
        &[app.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"",
        &format!(
            "[backends.pages.servers.s]\nurl = \"{}\"\n\
             [frontends.fe.errors.server]\nstatus = [\"500-599\"]\nbackend = \"pages\"\nquery = \"/{{status}}.html\"",
            pages.url()
        ),
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), 200).await;
    let r = client()
        .get(format!("{base}/app/broken?status=503"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body = r.bytes().await.unwrap();
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        page["server"], "pages-backend-with-a-longer-name",
        "the page was sent"
    );
    let page_len = body.len() as u64;
    let lines = lines_through(&trafik, "/app/broken").await;
    let v = json(lines.iter().find(|l| l.contains("/app/broken")).unwrap());
    assert_eq!(v["OriginStatus"], 503, "{v}");
    assert_eq!(v["DownstreamStatus"], 503, "{v}");
    assert_eq!(v["DownstreamContentSize"], page_len, "{v}");
    // The backend's own body (its declared length), not the page's.
    let origin = v["OriginContentSize"].as_u64().unwrap();
    assert!(origin > 0 && origin != page_len, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_filters_and_modes_are_located_errors_at_start_and_in_check() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let toml = config(
        port,
        &["http://127.0.0.1:1".to_string()],
        "[accessLog]\nfilePath = \"access.log\"\n\
         [accessLog.filters]\nstatusCodes = [\"200\", \"5xx\"]\n\
         [accessLog.fields]\ndefaultMode = \"keep\"\n\
         [accessLog.fields.names]\nClientUsername = \"hide\"\n\
         [accessLog.fields.headers]\ndefaultMode = \"secret\"",
        "",
    );
    std::fs::write(dir.path().join("trafik.toml"), &toml).unwrap();
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for args in [&["check"][..], &[][..]] {
        let (status, _, stderr) = run_trafik(args, dir.path());
        assert!(!status.success(), "{args:?}: {stderr}");
        for (needle, says) in [
            ("\"5xx\"", "\"5xx\""),
            ("ClientUsername = ", "\"hide\""),
            ("defaultMode = \"secret\"", "\"secret\""),
        ] {
            let at = format!("trafik.toml:{}:", line_of(needle));
            assert!(
                stderr.lines().any(|l| l.contains(&at) && l.contains(says)),
                "{args:?}: no {at} … {says} in {stderr}"
            );
        }
    }
    // It never started: no access log was opened.
    assert!(!dir.path().join("access.log").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compressed_response_logs_the_backends_size_and_the_bytes_sent() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = config(
        port,
        &[backend.url()],
        "[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"",
        "",
    )
    .replace("[accessLog]", "compress = true\n[accessLog]");
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), 200).await;
    // The backend echoes the path twice: far above the 1,400-byte threshold.
    let long = "a".repeat(3000);
    let r = client()
        .get(format!("{base}/app/big-{long}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let wire = r.bytes().await.unwrap().len() as u64;
    let lines = lines_through(&trafik, "/app/big-").await;
    let v = json(lines.iter().find(|l| l.contains("/app/big-")).unwrap());
    assert_eq!(v["DownstreamContentSize"], wire, "{v}");
    let origin = v["OriginContentSize"].as_u64().unwrap();
    assert!(origin > 6000, "the backend's uncompressed body: {v}");
    let ratio = v["GzipRatio"].as_f64().unwrap();
    assert!((ratio - origin as f64 / wire as f64).abs() < 1e-9, "{v}");
}
