//! TLS entry points through the real binary, with real clients (`openssl s_client`,
//! `curl`) and certificates the tests make: SNI choice, sniStrict, minimum version,
//! HTTP/2 by ALPN, bad input, and errors at start that name what is wrong.

use crate::common;
use common::pki::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `certificates` for a.test and b.test, a default certificate, and a frontend.
fn sni_config(port: u16, backend: &str, extra_tls: &str) -> String {
    format!(
        r#"
defaultEntryPoints = ["https"]
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.tls]
  {extra_tls}
    [[entryPoints.https.tls.certificates]]
    certFile = "a.crt"
    keyFile = "a.key"
    [[entryPoints.https.tls.certificates]]
    certFile = "b.crt"
    keyFile = "b.key"
    [entryPoints.https.tls.defaultCertificate]
    certFile = "default.crt"
    keyFile = "default.key"
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
"#
    )
}

struct Certs {
    ca: Ca,
    files: Vec<(String, String)>,
}

fn sni_certs() -> Certs {
    let ca = Ca::new("Test CA");
    let mut files = vec![("ca.crt".to_string(), ca.cert_pem.clone())];
    for (file, name) in [
        ("a", "a.test"),
        ("b", "*.b.test"),
        ("default", "default.test"),
    ] {
        let pem = ca.server(&[name], "Trafik Tests");
        files.push((format!("{file}.crt"), pem.cert));
        files.push((format!("{file}.key"), pem.key));
    }
    Certs { ca, files }
}

fn start(toml: &str, certs: &Certs) -> Trafik {
    let files: Vec<(&str, &str)> = certs
        .files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    Trafik::start_with(toml, &files)
}

#[tokio::test]
async fn sni_picks_the_certificate_and_falls_back_to_the_default() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let certs = sni_certs();
    let t = start(&sni_config(port, &backend.url(), ""), &certs);
    wait_listening(port).await;

    for (sni, want) in [
        ("a.test", "a.test"),
        ("A.TEST", "a.test"),
        ("x.b.test", "*.b.test"),
        ("unknown.test", "default.test"),
    ] {
        let (ok, out) = s_client(port, &["-servername", sni]).await;
        assert!(ok, "handshake for {sni} failed: {out}\n{}", t.logs());
        assert_eq!(served_cn(&out).as_deref(), Some(want), "for {sni}: {out}");
    }
    let (ok, out) = s_client(port, &["-noservername"]).await;
    assert!(ok, "{out}");
    assert_eq!(served_cn(&out).as_deref(), Some("default.test"));
}

#[tokio::test]
async fn sni_strict_refuses_unknown_names_and_min_version_refuses_tls11() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let certs = sni_certs();
    let t = start(
        &sni_config(
            port,
            &backend.url(),
            "sniStrict = true\n  minVersion = \"VersionTLS12\"",
        ),
        &certs,
    );
    wait_listening(port).await;
    let (ok, out) = s_client(port, &["-servername", "a.test"]).await;
    assert!(ok, "{out}\n{}", t.logs());
    let (ok, out) = s_client(port, &["-servername", "unknown.test"]).await;
    assert!(!ok, "sniStrict must refuse an unknown name: {out}");
    // SECLEVEL=0: OpenSSL 3 would not even offer TLS 1.1 otherwise.
    let (ok, out) = s_client(
        port,
        &[
            "-servername",
            "a.test",
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ],
    )
    .await;
    assert!(!ok, "TLS 1.1 must be refused: {out}");
    let (ok, out) = s_client(port, &["-servername", "a.test", "-tls1_2"]).await;
    assert!(ok, "TLS 1.2 must work: {out}");
}

#[tokio::test]
async fn curl_gets_http2_over_tls_and_the_backend_sees_https() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let certs = sni_certs();
    let t = start(&sni_config(port, &backend.url(), ""), &certs);
    wait_listening(port).await;
    let (ok, out, err) = curl(&[
        "--http2".into(),
        "--cacert".into(),
        t.path("ca.crt").display().to_string(),
        "--resolve".into(),
        format!("a.test:{port}:127.0.0.1"),
        "-w".into(),
        "\n%{http_version}".into(),
        format!("https://a.test:{port}/hello"),
    ])
    .await;
    assert!(ok, "curl failed: {err}\n{}", t.logs());
    let (body, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "2", "{out}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["path"], "/hello");
    assert_eq!(v["headers"]["x-forwarded-proto"], "https");
    assert_eq!(v["headers"]["x-forwarded-port"], port.to_string());
    let (ok, out, err) = curl(&[
        "--http1.1".into(),
        "--cacert".into(),
        t.path("ca.crt").display().to_string(),
        "--resolve".into(),
        format!("a.test:{port}:127.0.0.1"),
        "-w".into(),
        "\n%{http_version}".into(),
        format!("https://a.test:{port}/"),
    ])
    .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n1.1"), "{out}");
}

#[tokio::test]
async fn curl_http2_prior_knowledge_on_a_plain_entry_point() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let t = Trafik::start(&format!(
        r#"
[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.b.servers.s]
url = "{}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
"#,
        backend.url()
    ));
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;
    let (ok, out, err) = curl(&[
        "--http2-prior-knowledge".into(),
        "-o".into(),
        "/dev/null".into(),
        "-w".into(),
        "%{http_version}".into(),
        format!("http://127.0.0.1:{port}/"),
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "2");

    // `Upgrade: h2c` (curl --http2 on http://) is served as HTTP/1.1 and not passed on.
    let (ok, out, err) = curl(&[
        "--http2".into(),
        "-w".into(),
        "\n%{http_version}".into(),
        format!("http://127.0.0.1:{port}/"),
    ])
    .await;
    assert!(ok, "{err}");
    let (body, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "1.1");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(v["headers"].get("upgrade").is_none(), "{v}");
    assert!(v["headers"].get("http2-settings").is_none(), "{v}");
}

#[tokio::test]
async fn garbage_and_plaintext_on_a_tls_port_are_closed_and_harmless() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let certs = sni_certs();
    let t = start(&sni_config(port, &backend.url(), ""), &certs);
    wait_listening(port).await;
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"[..],
        &b"\x16\x03\x01\x00\x05garbage-garbage-garbage"[..],
        &[0u8; 64][..],
    ] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(junk).await.unwrap();
        let mut buf = Vec::new();
        // trafik answers at most a TLS alert, then closes: read_to_end returns.
        let read = tokio::time::timeout(DEADLINE, s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "connection left open after junk");
        assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1"));
    }
    let (ok, out) = s_client(port, &["-servername", "a.test"]).await;
    assert!(ok, "still serving after junk: {out}\n{}", t.logs());
}

#[tokio::test]
async fn bad_certificates_and_cipher_names_stop_the_start_with_a_clear_error() {
    let certs = sni_certs();
    let other = certs.ca.server(&["other.test"], "x");
    let port = free_port();
    let base = sni_config(port, "http://127.0.0.1:1", "");
    let cases = [
        (
            base.replace("certFile = \"a.crt\"", "certFile = \"missing.crt\""),
            vec!["\"https\"", "missing.crt"],
        ),
        (
            base.replace("keyFile = \"a.key\"", "keyFile = \"other.key\""),
            vec!["\"https\"", "a.crt"],
        ),
        (
            base.replace(
                "[entryPoints.https.tls]",
                "[entryPoints.https.tls]\n  cipherSuites = [\"TLS_NOT_A_SUITE\"]",
            ),
            vec!["\"https\"", "TLS_NOT_A_SUITE"],
        ),
    ];
    for (toml, wants) in cases {
        let mut files: Vec<(&str, &str)> = certs
            .files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_str()))
            .collect();
        files.push(("other.key", &other.key));
        let mut t = Trafik::start_with(&toml, &files);
        let status = t.wait_exit(DEADLINE).await;
        assert!(!status.success());
        let logs = t.logs();
        for want in wants {
            assert!(logs.contains(want), "error should name {want}: {logs}");
        }
    }
}

#[tokio::test]
async fn check_reports_tls_and_redirect_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let certs = sni_certs();
    for (n, c) in &certs.files {
        std::fs::write(dir.path().join(n), c).unwrap();
    }
    let toml = sni_config(1, "http://127.0.0.1:1", "cipherSuites = [\"TLS_NOPE\"]")
        + r#"
[[tls]]
entryPoints = ["https"]
  [tls.certificate]
  certFile = "gone.crt"
  keyFile = "a.key"
"#;
    let toml = toml.replace(
        "[file]",
        "[entryPoints.http]\naddress = \"127.0.0.1:2\"\n  [entryPoints.http.redirect]\n  entryPoint = \"nowhere\"\n[file]",
    );
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let (status, _, stderr) = run_trafik(&["check", "-c", "trafik.toml"], dir.path());
    assert!(!status.success());
    for want in ["TLS_NOPE", "gone.crt", "\"nowhere\""] {
        assert!(
            stderr.contains(want),
            "check should report {want}: {stderr}"
        );
    }
}
