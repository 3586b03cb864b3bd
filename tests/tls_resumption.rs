//! TLS session resumption through the real binary, with rustls clients that keep their
//! sessions: a returning client resumes over TLS 1.3 (tickets) and TLS 1.2 (tickets, and
//! session IDs from the server's cache), and still does after many other clients came
//! and went, which a per-client cache alone (rustls' default, 256 entries) would not
//! allow.

use crate::common;
use std::sync::Arc;

use common::pki::*;
use common::*;
use rustls::HandshakeKind;
use rustls::client::{Resumption, Tls12Resumption};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(port: u16, backend: &str) -> String {
    format!(
        r#"
defaultEntryPoints = ["https"]
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "a.crt"
    keyFile = "a.key"
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

/// A client trusting `ca_pem`, speaking only `version`, with its own session store.
fn client(
    ca_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
    tls12: Tls12Resumption,
) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots(ca_pem))
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = Resumption::in_memory_sessions(16).tls12_resumption(tls12);
    Arc::new(config)
}

fn roots(ca_pem: &str) -> rustls::RootCertStore {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

/// One request on a new connection; how its handshake went. Reading the response to
/// its end also takes in the session tickets TLS 1.3 sends after the handshake.
async fn get(client: &Arc<rustls::ClientConfig>, port: u16) -> HandshakeKind {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("a.test").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, tcp)
        .await
        .expect("the handshake completes");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    tls.get_ref().1.handshake_kind().unwrap()
}

async fn start() -> (Ca, Trafik, Backend, u16) {
    let backend = Backend::start("b").await;
    let port = free_port();
    let ca = Ca::new("Test CA");
    let pem = ca.server(&["a.test"], "Trafik Tests");
    let t = Trafik::start_with(
        &config(port, &backend.url()),
        &[("a.crt", &pem.cert), ("a.key", &pem.key)],
    );
    wait_listening(port).await;
    (ca, t, backend, port)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls13_resumes_even_after_hundreds_of_other_clients() {
    let (ca, _t, _backend, port) = start().await;
    let returning = client(
        &ca.cert_pem,
        &rustls::version::TLS13,
        Tls12Resumption::Disabled,
    );
    assert_eq!(get(&returning, port).await, HandshakeKind::Full);
    assert_eq!(get(&returning, port).await, HandshakeKind::Resumed);

    // 300 clients that each take two tickets: more than the 256 sessions a server-side
    // store would keep, so only a session sealed in the ticket itself survives them.
    let mut others = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let ca_pem = ca.cert_pem.clone();
        others.spawn(async move {
            for _ in 0..300 / 8 + 1 {
                let one = client(&ca_pem, &rustls::version::TLS13, Tls12Resumption::Disabled);
                assert_eq!(get(&one, port).await, HandshakeKind::Full);
            }
        });
    }
    while let Some(r) = others.join_next().await {
        r.unwrap();
    }
    assert_eq!(get(&returning, port).await, HandshakeKind::Resumed);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_resumes_by_ticket_and_by_session_id() {
    let (ca, _t, _backend, port) = start().await;
    for how in [
        Tls12Resumption::SessionIdOrTickets,
        Tls12Resumption::SessionIdOnly,
    ] {
        let c = client(&ca.cert_pem, &rustls::version::TLS12, how);
        assert_eq!(get(&c, port).await, HandshakeKind::Full, "{how:?}");
        assert_eq!(get(&c, port).await, HandshakeKind::Resumed, "{how:?}");
    }
}
