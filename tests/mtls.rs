//! Mutual TLS through the real binary with curl: a client without a certificate, or
//! with one from another CA, is refused; a good one reaches the backend with v1's
//! `passTLSClientCert` headers; `optional = true` lets certificate-less clients in, and a
//! client can never forge the headers.

use crate::common;
use common::pki::*;
use common::*;

fn config(port: u16, backend: &str, optional: bool) -> String {
    format!(
        r#"
defaultEntryPoints = ["https"]
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.tls]
    [entryPoints.https.tls.clientCA]
    files = ["clients-ca.crt"]
    optional = {optional}
    [[entryPoints.https.tls.certificates]]
    certFile = "server.crt"
    keyFile = "server.key"
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
  [frontends.f.passTLSClientCert]
  pem = true
    [frontends.f.passTLSClientCert.infos]
    notBefore = true
    sans = true
      [frontends.f.passTLSClientCert.infos.subject]
      country = true
      organization = true
      commonName = true
      [frontends.f.passTLSClientCert.infos.issuer]
      commonName = true
"#
    )
}

struct Setup {
    t: Trafik,
    port: u16,
    _backend: Backend,
    client_pem: Pem,
}

async fn setup(optional: bool) -> Setup {
    let backend = Backend::start("b").await;
    let server_ca = Ca::new("Server CA");
    let clients_ca = Ca::new("MTLS CA");
    let server = server_ca.server(&["mtls.test"], "s");
    let client = clients_ca.client("alice");
    let stranger = Ca::new("Other CA").client("mallory");
    let port = free_port();
    let t = Trafik::start_with(
        &config(port, &backend.url(), optional),
        &[
            ("clients-ca.crt", &clients_ca.cert_pem),
            ("server-ca.crt", &server_ca.cert_pem),
            ("server.crt", &server.cert),
            ("server.key", &server.key),
            ("alice.crt", &client.cert),
            ("alice.key", &client.key),
            ("mallory.crt", &stranger.cert),
            ("mallory.key", &stranger.key),
        ],
    );
    wait_listening(port).await;
    Setup {
        t,
        port,
        _backend: backend,
        client_pem: client,
    }
}

impl Setup {
    async fn get(&self, client: Option<&str>, extra: &[&str]) -> (bool, String, String) {
        let mut args = vec![
            "--cacert".to_string(),
            self.t.path("server-ca.crt").display().to_string(),
            "--resolve".into(),
            format!("mtls.test:{}:127.0.0.1", self.port),
        ];
        if let Some(c) = client {
            args.push("--cert".into());
            args.push(self.t.path(&format!("{c}.crt")).display().to_string());
            args.push("--key".into());
            args.push(self.t.path(&format!("{c}.key")).display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(format!("https://mtls.test:{}/", self.port));
        curl(&args).await
    }
}

/// What v1 sends for a PEM certificate: the base64 body, URL-escaped.
fn escaped_body(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    body.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test]
async fn a_client_certificate_is_required_and_passed_on() {
    let s = setup(false).await;
    let (ok, _, err) = s.get(None, &[]).await;
    assert!(!ok, "no client certificate must be refused");
    let (ok, _, _) = s.get(Some("mallory"), &[]).await;
    assert!(!ok, "a certificate from another CA must be refused");

    let (ok, out, err2) = s.get(Some("alice"), &[]).await;
    assert!(ok, "{err} / {err2}\n{}", s.t.logs());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let h = &v["headers"];
    assert_eq!(
        h["x-forwarded-ssl-client-cert"],
        escaped_body(&s.client_pem.cert)
    );
    let infos = h["x-forwarded-ssl-client-cert-infos"].as_str().unwrap();
    let infos = infos
        .replace("%3D", "=")
        .replace("%22", "\"")
        .replace("%2C", ",")
        .replace('+', " ");
    assert!(
        infos.starts_with("Subject=\"C=FR,O=Clients Inc,CN=alice\",Issuer=\"CN=MTLS CA\",NB="),
        "{infos}"
    );
    assert!(infos.ends_with(",SAN=alice.clients.test"), "{infos}");
}

#[tokio::test]
async fn optional_client_ca_lets_anonymous_clients_in_without_forged_headers() {
    let s = setup(true).await;
    let (ok, out, err) = s
        .get(None, &["-H", "X-Forwarded-Ssl-Client-Cert: forged"])
        .await;
    assert!(ok, "{err}\n{}", s.t.logs());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["headers"].get("x-forwarded-ssl-client-cert").is_none(),
        "{v}"
    );
    let (ok, _, _) = s.get(Some("mallory"), &[]).await;
    assert!(!ok, "optional still refuses a bad certificate");
    let (ok, out, _) = s.get(Some("alice"), &[]).await;
    assert!(ok);
    assert!(out.contains("x-forwarded-ssl-client-cert"));
}
