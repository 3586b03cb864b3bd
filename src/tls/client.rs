//! The TLS client configuration towards `https://` servers: system roots plus the static
//! `rootCAs` (paths or PEM), or no verification at all with `insecureSkipVerify` (v1).
//! ALPN is left to hyper-rustls's connector (it offers `h2` then `http/1.1` when asked),
//! so a server that speaks HTTP/2 gets it.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::certs;

/// The client configuration for backends, without ALPN (the connector sets it).
pub fn backend_tls(
    root_cas: &[String],
    insecure_skip_verify: bool,
) -> Result<ClientConfig, String> {
    let provider = super::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("backend TLS: {e}"))?;
    let config = if insecure_skip_verify {
        tracing::warn!("insecureSkipVerify: certificates of https:// servers are not checked");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(root_cas)?)
            .with_no_client_auth()
    };
    Ok(config)
}

/// The system's roots (a failure to read them is a warning: `rootCAs` may suffice) and
/// every `rootCAs` entry (an unreadable one is an error: the operator asked for it).
fn roots(root_cas: &[String]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!("system root certificates: {e}");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!("{added} system root certificates");
    for ca in root_cas {
        for c in certs::certificate_chain(ca, "rootCAs entry")? {
            roots
                .add(c)
                .map_err(|e| format!("rootCAs entry {}: {e}", certs::describe(ca)))?;
        }
    }
    Ok(roots)
}

/// `insecureSkipVerify`: accepts any certificate, but still checks the handshake
/// signatures with the provider (without them the handshake itself fails).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration towards a forward-auth server (`[….auth.forward.tls]`): the
/// `ca` alone when given (v1 trusted only it), else the system's roots; a client
/// certificate when `cert` and `key` are given; no verification with `insecureSkipVerify`.
/// Each value is a file path or the PEM text itself. `Err`: the key at fault (`ca`,
/// `cert`, `key`, or empty) and why.
pub fn auth_server_tls(
    ca: &str,
    client_cert: Option<(&str, &str)>,
    insecure_skip_verify: bool,
) -> Result<ClientConfig, (&'static str, String)> {
    use rustls_pki_types::pem::PemObject;
    let provider = super::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ("", e.to_string()))?;
    let builder = if insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
    } else if ca.is_empty() {
        builder.with_root_certificates(roots(&[]).map_err(|e| ("", e))?)
    } else {
        let mut only = RootCertStore::empty();
        for c in certs::certificate_chain(ca, "ca").map_err(|e| ("ca", e))? {
            only.add(c)
                .map_err(|e| ("ca", format!("ca {}: {e}", certs::describe(ca))))?;
        }
        builder.with_root_certificates(only)
    };
    let Some((cert, key)) = client_cert else {
        return Ok(builder.with_no_client_auth());
    };
    let chain = certs::certificate_chain(cert, "cert").map_err(|e| ("cert", e))?;
    let key_pem = certs::pem_bytes(key, "key").map_err(|e| ("key", e))?;
    let key_der = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let message = format!("key {}: no usable private key: {e}", certs::describe(key));
        ("key", message)
    })?;
    builder
        .with_client_auth_cert(chain, key_der)
        .map_err(|e| ("cert", format!("cert with key: {e}")))
}
