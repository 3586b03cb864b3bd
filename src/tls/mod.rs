//! TLS, both ways: entry points that terminate it (per-SNI certificates, hot-swapped
//! dynamic ones, mTLS) and the client configuration trafik uses towards `https://`
//! servers. One crypto provider (aws-lc-rs) for the whole binary: every config is built
//! with [`provider`], and [`install_crypto_provider`] runs first thing in `main` so any
//! library that asks for the process default gets the same one.

pub mod certs;
pub mod client;
pub mod client_cert;
pub mod config;
pub mod dynamic;
pub mod resolver;
pub mod resumption;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The one crypto provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Makes aws-lc-rs the process default. Idempotent: a second call (tests) is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// What an entry point knows about a TLS connection, attached to each of its requests.
#[derive(Debug, Clone)]
pub struct TlsConnection {
    /// The client's certificate chain, leaf first, when it sent one (mTLS).
    pub peer_certificates: Option<Arc<Vec<rustls_pki_types::CertificateDer<'static>>>>,
}

/// Whether `req` came in over TLS (its entry point attached a [`TlsConnection`]).
pub fn is_tls<B>(req: &http::Request<B>) -> bool {
    req.extensions().get::<Arc<TlsConnection>>().is_some()
}
