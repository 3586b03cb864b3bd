//! `[[tls]]` certificates in the watched file provider: added, replaced and removed
//! while trafik runs; new handshakes see the change, an open connection keeps working,
//! and a bad certificate is skipped with an error naming it.

use crate::common;
use common::pki::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rules(backend: &str, tls: &str) -> String {
    format!(
        r#"
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
{tls}
"#
    )
}

fn tls_item(cert: &str, key: &str) -> String {
    format!(
        "[[tls]]\nentryPoints = [\"https\"]\n  [tls.certificate]\n  certFile = \"{cert}\"\n  keyFile = \"{key}\"\n"
    )
}

/// The subject line `s_client` printed for `sni`, once it contains `want`.
async fn eventually_served(port: u16, sni: &str, want: &str) {
    eventually(&format!("{sni} served with {want:?}"), || async move {
        let (ok, out) = s_client(port, &["-servername", sni]).await;
        let subject = out.lines().find(|l| l.starts_with("subject="))?.to_string();
        (ok && subject.contains(want)).then_some(())
    })
    .await
}

/// One HTTP/1.1 request on an open TLS stream; returns the status line.
async fn request_on<S: AsyncReadExt + AsyncWriteExt + Unpin>(s: &mut S) -> String {
    s.write_all(b"GET / HTTP/1.1\r\nHost: dyn.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 16384];
    let mut got = Vec::new();
    // Read until the JSON body closes; the backend's answers are small.
    while !got.ends_with(b"}") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn certificates_are_added_replaced_and_removed_live() {
    let backend = Backend::start("b").await;
    let ca = Ca::new("Dyn CA");
    let first = ca.server(&["dyn.test"], "First");
    let second = ca.server(&["dyn.test"], "Second");
    let port = free_port();
    let t = Trafik::start_with(
        &format!(
            r#"
defaultEntryPoints = ["https"]
providersThrottleDuration = "0s"
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.tls]
[file]
filename = "rules.toml"
"#
        ),
        &[
            (
                "rules.toml",
                &rules(&backend.url(), &tls_item("first.crt", "first.key")),
            ),
            ("first.crt", &first.cert),
            ("first.key", &first.key),
            ("second.crt", &second.cert),
            ("second.key", &second.key),
        ],
    );
    wait_listening(port).await;
    eventually_served(port, "dyn.test", "O = First").await;
    let (ok, out) = s_client(port, &["-servername", "nothing.test"]).await;
    assert!(ok);
    assert_eq!(served_cn(&out).as_deref(), Some("TRAEFIK DEFAULT CERT"));

    // A connection opened on the first certificate...
    let connector = tokio_rustls::TlsConnector::from(client_config(&ca.cert_pem, &[b"http/1.1"]));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("dyn.test").unwrap();
    let mut open = connector.connect(name, tcp).await.unwrap();
    assert!(request_on(&mut open).await.contains("200"));

    // ...survives the swap to the second one, and a bad certificate beside it is skipped.
    write_by_rename(
        &t.path("rules.toml"),
        &rules(
            &backend.url(),
            &format!(
                "{}{}",
                tls_item("second.crt", "second.key"),
                tls_item("missing.crt", "second.key")
            ),
        ),
    );
    eventually_served(port, "dyn.test", "O = Second").await;
    eventually("the bad certificate to be reported", || async {
        t.logs().contains("missing.crt").then_some(())
    })
    .await;
    assert!(request_on(&mut open).await.contains("200"));
    let logs = t.logs();
    let line = logs.lines().find(|l| l.contains("missing.crt")).unwrap();
    assert!(line.contains("rules.toml"), "the error says where: {line}");

    // Removed: back to the default certificate.
    write_by_rename(&t.path("rules.toml"), &rules(&backend.url(), ""));
    eventually_served(port, "dyn.test", "TRAEFIK DEFAULT CERT").await;
}
