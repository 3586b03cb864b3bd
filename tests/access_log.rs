//! `[accessLog]`: one line per request, in v1's Common Log Format or as JSON with v1's
//! field names, written to `filePath`.

use crate::common;
use common::*;

fn config(port: u16, backend: &str, format: &str) -> String {
    format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[accessLog]\nfilePath = \"access.log\"\nformat = \"{format}\"\n[file]\n\
         [backends.be.servers.s]\nurl = \"{backend}\"\n[frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/app\"\n"
    )
}

async fn lines(trafik: &Trafik, at_least: usize) -> Vec<String> {
    let path = trafik.path("access.log");
    eventually(&format!("{at_least} access log lines"), || async {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        (lines.len() >= at_least).then_some(lines)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn common_log_format_lines() {
    let backend = Backend::start("b").await;
    let port = free_port();
    // A relative filePath is relative to the working directory, which is trafik's dir here.
    let trafik = Trafik::start(&config(port, &backend.url(), "common"));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/app/ready"), 200)
        .await;
    let r = client()
        .get(format!("http://127.0.0.1:{port}/app/page?x=1"))
        .header("user-agent", "test-agent/1.0")
        .header("referer", "http://ref.example/")
        .send()
        .await
        .unwrap();
    let body_len = r.bytes().await.unwrap().len();
    client()
        .get(format!("http://127.0.0.1:{port}/missing"))
        .send()
        .await
        .unwrap();

    let lines = lines(&trafik, 3).await;
    let page = lines
        .iter()
        .find(|l| l.contains("/app/page"))
        .expect("line for /app/page");
    // <ClientHost> - <User> [<time>] "<Method> <Path> <Proto>" <Status> <Size> "<Referer>" "<UA>" <N> "<Frontend>" "<BackendURL>" <D>ms
    let re = regex::Regex::new(
        r#"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /app/page\?x=1 HTTP/1\.1" 200 (\d+) "http://ref\.example/" "test-agent/1\.0" \d+ "fe" "http://127\.0\.0\.1:\d+" \d+ms$"#,
    )
    .unwrap();
    let caps = re
        .captures(page)
        .unwrap_or_else(|| panic!("not v1 CLF: {page}"));
    assert_eq!(caps[1].parse::<usize>().unwrap(), body_len);
    let missing = lines
        .iter()
        .find(|l| l.contains("/missing"))
        .expect("line for the 404");
    assert!(
        missing.contains("\" 404 ") && missing.contains("\"-\" \"-\" "),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_use_v1_field_names() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&config(port, &backend.url(), "json"));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/app/ready"), 200)
        .await;
    client()
        .post(format!("http://127.0.0.1:{port}/app/post"))
        .body("12345")
        .send()
        .await
        .unwrap();
    let lines = lines(&trafik, 2).await;
    let line = lines.iter().find(|l| l.contains("/app/post")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["RequestMethod"], "POST");
    assert_eq!(v["RequestPath"], "/app/post");
    assert_eq!(v["OriginStatus"], 200);
    assert_eq!(v["DownstreamStatus"], 200);
    assert_eq!(v["FrontendName"], "fe");
    assert_eq!(v["BackendName"], "be");
    assert_eq!(v["BackendURL"], backend.url());
    assert_eq!(v["ClientHost"], "127.0.0.1");
    assert_eq!(v["RequestContentSize"], 5);
    assert_eq!(v["RetryAttempts"], 0);
    assert!(v["Duration"].as_u64().unwrap() > 0);
    assert!(v["OriginContentSize"].as_u64().unwrap() > 0);
}
