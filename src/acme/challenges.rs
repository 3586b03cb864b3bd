//! The answers to the CA's challenges while an order is open, kept in memory: HTTP-01's
//! key authorisations by token (served on the challenge entry point before any redirect
//! or rule) and TLS-ALPN-01's self-signed certificates by name (served only to a
//! handshake that offers `acme-tls/1`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::sign::CertifiedKey;
use rustls_pki_types::PrivateKeyDer;

pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Default)]
pub struct Challenges {
    http01: Mutex<HashMap<String, String>>,
    tls_alpn01: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl Challenges {
    pub fn set_http01(&self, token: &str, key_authorization: &str) {
        let mut map = self.http01.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(token.to_string(), key_authorization.to_string());
    }

    pub fn clear_http01(&self, token: &str) {
        let mut map = self.http01.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(token);
    }

    /// The key authorisation for a request path, when it is a challenge trafik presents.
    pub fn http01(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(HTTP01_PREFIX)?;
        let map = self.http01.lock().unwrap_or_else(|e| e.into_inner());
        map.get(token).cloned()
    }

    /// RFC 8737: a certificate for `domain` carrying the key authorisation's digest.
    pub fn set_tls_alpn01(&self, domain: &str, digest: &[u8]) -> Result<(), String> {
        let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])
            .map_err(|e| format!("TLS-ALPN-01 certificate for {domain}: {e}"))?;
        params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let key_der = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| e.to_string())?;
        // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki,
        // which refuses the critical acmeIdentifier extension RFC 8737 requires.
        let signing_key = crate::tls::provider()
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| format!("TLS-ALPN-01 key for {domain}: {e}"))?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing_key);
        let mut map = self.tls_alpn01.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(domain.to_ascii_lowercase(), Arc::new(certified));
        Ok(())
    }

    pub fn clear_tls_alpn01(&self, domain: &str) {
        let mut map = self.tls_alpn01.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&domain.to_ascii_lowercase());
    }

    pub fn tls_alpn01(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        let map = self.tls_alpn01.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&server_name.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
    }
}

/// The body the CA expects for an HTTP-01 token: the key authorisation, as text.
pub fn http01_response(key_authorization: String) -> http::Response<crate::proxy::ResponseBody> {
    let mut response = http::Response::new(crate::proxy::ResponseBody::from(key_authorization));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http01_answers_only_known_tokens_under_the_prefix() {
        let c = Challenges::default();
        c.set_http01("tok", "tok.thumb");
        assert_eq!(
            c.http01("/.well-known/acme-challenge/tok").as_deref(),
            Some("tok.thumb")
        );
        assert_eq!(c.http01("/.well-known/acme-challenge/other"), None);
        assert_eq!(c.http01("/tok"), None);
        c.clear_http01("tok");
        assert_eq!(c.http01("/.well-known/acme-challenge/tok"), None);
    }

    #[test]
    fn tls_alpn01_certificate_by_name() {
        crate::tls::install_crypto_provider();
        let c = Challenges::default();
        c.set_tls_alpn01("A.example.com", &[7; 32]).unwrap();
        assert!(c.tls_alpn01("a.example.com.").is_some());
        assert!(c.tls_alpn01("b.example.com").is_none());
    }
}
