//! The HTTP client that talks to the CA. Its HTTPS is verified against the system roots
//! plus the PEM files named in `LEGO_CA_CERTIFICATES`, as v1 (through lego) did: a private
//! CA such as pebble is trusted that way, and nothing else is.

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The environment variable lego reads: PEM files, separated by `,` or `:`.
pub const CA_CERTIFICATES_ENV: &str = "LEGO_CA_CERTIFICATES";

pub fn roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system root rustls cannot parse is skipped, as reqwest does.
        let _ = roots.add(cert);
    }
    if let Ok(files) = std::env::var(CA_CERTIFICATES_ENV) {
        for file in files.split([',', ':']).filter(|f| !f.trim().is_empty()) {
            let file = file.trim();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
                .and_then(|i| i.collect())
                .map_err(|e| format!("{CA_CERTIFICATES_ENV}: {file:?}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "{CA_CERTIFICATES_ENV}: {file:?}: no CERTIFICATE block"
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("{CA_CERTIFICATES_ENV}: {file:?}: {e}"))?;
            }
        }
    }
    Ok(roots)
}

pub fn client() -> Result<Box<dyn HttpClient>, String> {
    let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots()?)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client: Client<_, BodyWrapper<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}
