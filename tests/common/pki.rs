//! Certificates made by the tests: a private CA issuing server and client certificates.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM text.
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (CN = the first name, `org` as O).
    pub fn server(&self, names: &[&str], org: &str) -> Pem {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate (mTLS) with the given CN.
    pub fn client(&self, cn: &str) -> Pem {
        let mut params = CertificateParams::new(vec![format!("{cn}.clients.test")]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Clients Inc");
        params.distinguished_name.push(DnType::CountryName, "FR");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Pem {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Runs `openssl s_client` against `127.0.0.1:port` with `args` (and no input, so it
/// ends after the handshake); returns (handshake succeeded, stdout + stderr).
pub async fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(std::process::Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run openssl"))
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // s_client exits 0 on some refused handshakes; a received certificate is the proof.
    let ok = out.status.success() && text.contains("Server certificate");
    (ok, text)
}

/// The subject CN of the certificate `s_client` received, from its `subject=` line.
pub fn served_cn(s_client_output: &str) -> Option<String> {
    let line = s_client_output
        .lines()
        .find(|l| l.starts_with("subject="))?;
    let cn = line
        .split("CN = ")
        .nth(1)
        .or_else(|| line.split("CN=").nth(1))?;
    Some(cn.split(',').next().unwrap_or(cn).trim().to_string())
}

/// Runs `curl` with `args`; returns (exit success, stdout, stderr).
pub async fn curl(args: &[String]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--noproxy", "*"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run curl"))
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub async fn wait_listening(port: u16) {
    super::eventually(&format!("127.0.0.1:{port} to accept"), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await
}

/// A rustls client trusting `ca_pem` (and offering `alpn`).
pub fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    std::sync::Arc::new(config)
}

/// A rustls server on `pem`, ALPN h2 + http/1.1.
pub fn server_config(pem: &Pem) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<_> = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    std::sync::Arc::new(config)
}

/// An https backend on `pem` answering like `Backend` (JSON describing the request);
/// `/trailers` answers a body then `grpc-status: 0` and `grpc-message: ok` trailers.
pub async fn https_backend(name: &str, pem: &Pem) -> std::net::SocketAddr {
    https_backend_counted(name, pem).await.0
}

/// As [`https_backend`], also counting the requests that reached it.
pub async fn https_backend_counted(
    name: &str,
    pem: &Pem,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(pem));
    let name = name.to_string();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, name, hits) = (acceptor.clone(), name.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (name, hits) = (name.clone(), hits.clone());
                        async move {
                            if req.uri().path() == "/trailers" {
                                return Ok::<_, std::convert::Infallible>(with_trailers(req).await);
                            }
                            let r = super::describe(req, name, hits, 0).await.unwrap();
                            Ok(r.map(|b| {
                                http_body_util::BodyExt::boxed_unsync(
                                    http_body_util::BodyExt::map_err(
                                        b,
                                        |e: std::convert::Infallible| match e {},
                                    ),
                                )
                            }))
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, hits)
}

type TestBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::convert::Infallible>;

/// A gRPC-like answer: echoes the request body and its `te` header, then trailers.
async fn with_trailers(req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<TestBody> {
    use http_body_util::BodyExt;
    let te = req
        .headers()
        .get("te")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let version = format!("{:?}", req.version());
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    trailers.insert("grpc-message", "ok".parse().unwrap());
    let frames = vec![
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(body)),
        Ok(http_body::Frame::trailers(trailers)),
    ];
    let stream = futures_util::stream::iter(frames);
    let body = http_body_util::StreamBody::new(stream).boxed_unsync();
    hyper::Response::builder()
        .header("content-type", "application/grpc")
        .header("x-seen-te", te)
        .header("x-seen-version", version)
        .body(body)
        .unwrap()
}
