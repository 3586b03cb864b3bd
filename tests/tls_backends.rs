//! `https://` servers behind trafik: verified against `rootCAs` (a file or inline PEM),
//! refused (502) when their certificate does not verify unless `insecureSkipVerify`,
//! HTTP/2 negotiated by ALPN, and gRPC-style trailers passed through intact.

use crate::common;
use bytes::Bytes;
use common::pki::*;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

fn config(port: u16, backend: std::net::SocketAddr, statics: &str) -> String {
    format!(
        r#"
{statics}
[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.b.servers.s]
url = "https://{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
"#
    )
}

#[tokio::test]
async fn https_backend_with_a_private_ca_file_speaks_http2() {
    let ca = Ca::new("Backend CA");
    let backend = https_backend("secure", &ca.server(&["127.0.0.1"], "b")).await;
    let port = free_port();
    let t = Trafik::start_with(
        &config(port, backend, r#"rootCAs = ["backend-ca.crt"]"#),
        &[("backend-ca.crt", &ca.cert_pem)],
    );
    t.wait_for(&format!("http://127.0.0.1:{port}/x"), 200).await;
    let (status, v) = get_json(&format!("http://127.0.0.1:{port}/x")).await;
    assert_eq!(status, 200);
    assert_eq!(v["server"], "secure");
    assert_eq!(v["version"], "HTTP/2.0", "ALPN should pick h2: {v}");
}

#[tokio::test]
async fn root_cas_as_inline_pem() {
    let ca = Ca::new("Backend CA");
    let backend = https_backend("secure", &ca.server(&["127.0.0.1"], "b")).await;
    let port = free_port();
    let t = Trafik::start(&config(
        port,
        backend,
        &format!("rootCAs = [\"\"\"\n{}\"\"\"]", ca.cert_pem),
    ));
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;
}

#[tokio::test]
async fn an_unverifiable_backend_is_a_502_unless_insecure_skip_verify() {
    let ca = Ca::new("Unknown CA");
    let backend = https_backend("secure", &ca.server(&["127.0.0.1"], "b")).await;
    let port = free_port();
    let t = Trafik::start(&config(port, backend, ""));
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 502).await;
    drop(t);

    // A certificate from a trusted CA but for another name is no better.
    let other = https_backend("other", &ca.server(&["other.test"], "b")).await;
    let port = free_port();
    let t = Trafik::start_with(
        &config(port, other, r#"rootCAs = ["ca.crt"]"#),
        &[("ca.crt", &ca.cert_pem)],
    );
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 502).await;
    drop(t);

    let port = free_port();
    let t = Trafik::start(&config(port, backend, "insecureSkipVerify = true"));
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;
}

#[tokio::test]
async fn http2_trailers_pass_through_both_hops() {
    let ca = Ca::new("Backend CA");
    let backend = https_backend("grpc", &ca.server(&["127.0.0.1"], "b")).await;
    let port = free_port();
    let t = Trafik::start_with(
        &config(port, backend, r#"rootCAs = ["ca.crt"]"#),
        &[("ca.crt", &ca.cert_pem)],
    );
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;

    // An HTTP/2 client with prior knowledge, as a gRPC client on a plain port.
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post(format!("http://127.0.0.1:{port}/trailers"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x05hello")))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-seen-version"], "HTTP/2.0");
    assert_eq!(
        resp.headers()["x-seen-te"],
        "trailers",
        "gRPC needs te: trailers"
    );
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers lost");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");
    assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x05hello");
}

#[tokio::test]
async fn health_checks_over_https_trust_root_cas() {
    let ca = Ca::new("Backend CA");
    let (backend, hits) = https_backend_counted("checked", &ca.server(&["127.0.0.1"], "b")).await;
    let health = "[backends.b.healthCheck]\npath = \"/health\"\ninterval = \"1s\"\n";
    let port = free_port();
    let t = Trafik::start_with(
        &format!(
            "{}{health}",
            config(port, backend, r#"rootCAs = ["ca.crt"]"#)
        ),
        &[("ca.crt", &ca.cert_pem)],
    );
    // Only a verified handshake reaches the backend's handler.
    eventually("a health check over TLS", || async {
        (hits.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;
    drop(t);

    // Not trusted: the check fails and the server leaves the rotation (503, not 502).
    let port = free_port();
    let t = Trafik::start(&format!("{}{health}", config(port, backend, "")));
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 503).await;
}
