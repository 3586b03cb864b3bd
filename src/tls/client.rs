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
