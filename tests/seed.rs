//! The seed's trafik.toml, verbatim but for ports, runs end to end: the quick start.

use crate::common;
use common::*;

fn seed(port: u16, backend: &str) -> String {
    format!(
        r#"logLevel = "DEBUG"
defaultEntryPoints = ["http"]
[entryPoints]
[entryPoints.http]
address = ":{port}"
[file]
[backends]
[backends.httpecho]
[backends.httpecho.servers.server1]
url = "{backend}"
weight = 1
[frontends]
[frontends.fe1]
backend = "httpecho"
[frontends.fe1.routes.rule1]
rule = "Path:/echo"
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_config_proxies_a_post_to_the_echo_backend() {
    let backend = Backend::start("echo1").await;
    let port = free_port();
    let trafik = Trafik::start(&seed(port, &backend.url()));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/echo"), 200)
        .await;

    let r = client()
        .post(format!("http://localhost:{port}/echo"))
        .body("xxxxxx")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["server"], "echo1");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo");
    assert_eq!(v["body"], "xxxxxx");
    // passHostHeader defaults to false in the file provider: the backend sees its own address.
    assert_eq!(v["headers"]["host"], backend.addr.to_string());

    let (status, _) = get_json(&format!("http://127.0.0.1:{port}/other")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn bundled_echo_backend_answers_through_trafik() {
    // The README's quick start: `trafik echo` as the backend, curl-like POST through trafik.
    let echo_port = free_port();
    let mut echo = std::process::Command::new(bin())
        .args([
            "echo",
            &format!("127.0.0.1:{echo_port}"),
            "--name",
            "quickstart",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = free_port();
    let trafik = Trafik::start(&seed(port, &format!("http://127.0.0.1:{echo_port}")));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/echo"), 200)
        .await;
    let text = client()
        .post(format!("http://localhost:{port}/echo"))
        .body("xxxxxx")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = echo.kill();
    let _ = echo.wait();
    assert!(text.contains("Hostname: quickstart"), "{text}");
    assert!(text.contains("POST /echo HTTP/1.1"), "{text}");
    assert!(text.contains("X-Forwarded-For: 127.0.0.1"), "{text}");
    assert!(text.ends_with("\nxxxxxx"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_accepts_the_seed_and_version_prints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        seed(8080, "http://10.16.28.17:8091"),
    )
    .unwrap();
    let (status, stdout, stderr) = run_trafik(&["check"], dir.path());
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    let (status, stdout, _) = run_trafik(&["version"], dir.path());
    assert!(status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_entry_points_speak_h2c_with_prior_knowledge() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&seed(port, &backend.url()));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/echo"), 200)
        .await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .post(format!("http://127.0.0.1:{port}/echo"))
        .body("over h2c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let v: serde_json::Value = r.json().await.unwrap();
    // The backend speaks HTTP/1.1; the :authority became X-Forwarded-Host.
    assert_eq!(v["version"], "HTTP/1.1");
    assert_eq!(v["body"], "over h2c");
    assert_eq!(
        v["headers"]["x-forwarded-host"],
        format!("127.0.0.1:{port}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_and_wildcard_entry_points() {
    let backend = Backend::start("b").await;
    let (v6, any) = (free_port(), free_port());
    let trafik = Trafik::start(&format!(
        "defaultEntryPoints = [\"v6\", \"any\"]\n[entryPoints.v6]\naddress = \"[::1]:{v6}\"\n[entryPoints.any]\naddress = \":{any}\"\n\
         [file]\n[backends.b.servers.s]\nurl = \"{}\"\n[frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"PathPrefix:/\"\n",
        backend.url()
    ));
    trafik.wait_for(&format!("http://[::1]:{v6}/"), 200).await;
    // ":port" listens on both families, as Go does.
    trafik
        .wait_for(&format!("http://127.0.0.1:{any}/"), 200)
        .await;
    trafik.wait_for(&format!("http://[::1]:{any}/"), 200).await;
    let (_, v) = get_json(&format!("http://[::1]:{v6}/x")).await;
    assert_eq!(v["headers"]["x-real-ip"], "::1");
}
