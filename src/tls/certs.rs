//! Loading certificates and keys given as v1 does: a file path or the PEM text itself.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use trafik_config::Certificate;

/// A usable certificate and the lowercase names it serves (DNS SANs, else the CN).
#[derive(Clone)]
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    pub names: Vec<String>,
}

impl std::fmt::Debug for LoadedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedCert")
            .field("names", &self.names)
            .finish()
    }
}

/// v1: a value holding a PEM block is the content, anything else a path.
fn is_inline_pem(value: &str) -> bool {
    value.contains("-----BEGIN")
}

/// Reads `value` as PEM text or a file; `what` names it in errors ("certFile").
pub fn pem_bytes(value: &str, what: &str) -> Result<Vec<u8>, String> {
    if value.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if is_inline_pem(value) {
        return Ok(value.as_bytes().to_vec());
    }
    std::fs::read(value).map_err(|e| format!("{what} {value:?}: cannot read: {e}"))
}

/// A short, log-friendly name for a path-or-PEM value.
pub fn describe(value: &str) -> String {
    if is_inline_pem(value) {
        "inline PEM".to_string()
    } else {
        format!("{value:?}")
    }
}

pub fn certificate_chain(value: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = pem_bytes(value, what)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} {}: bad PEM: {e}", describe(value)))?;
    if chain.is_empty() {
        return Err(format!(
            "{what} {}: no CERTIFICATE block found",
            describe(value)
        ));
    }
    Ok(chain)
}

/// Loads a certificate and its key, checking the key belongs to the certificate.
pub fn load(cert: &Certificate, provider: &CryptoProvider) -> Result<LoadedCert, String> {
    let chain = certificate_chain(&cert.cert_file, "certFile")?;
    let key_pem = pem_bytes(&cert.key_file, "keyFile")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "keyFile {}: no usable private key: {e}",
            describe(&cert.key_file)
        )
    })?;
    let names =
        names_of(&chain[0]).map_err(|e| format!("certFile {}: {e}", describe(&cert.cert_file)))?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        format!(
            "certFile {} with keyFile {}: {e}",
            describe(&cert.cert_file),
            describe(&cert.key_file)
        )
    })?;
    Ok(LoadedCert {
        key: Arc::new(certified),
        names,
    })
}

/// The names a certificate serves, lowercase: its DNS SANs, else its subject CN (v1).
pub fn names_of(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    use x509_parser::prelude::*;
    let (_, parsed) =
        X509Certificate::from_der(cert).map_err(|e| format!("cannot parse certificate: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) if b.len() == 4 || b.len() == 16 => {
                    let ip: Option<std::net::IpAddr> = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(Into::into),
                        _ => <[u8; 16]>::try_from(*b).ok().map(Into::into),
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    if names.is_empty()
        && let Some(cn) = parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
    {
        names.push(cn.to_ascii_lowercase());
    }
    Ok(names)
}

/// v1's fallback when an entry point has no certificate: a fresh self-signed one.
pub fn self_signed(provider: &CryptoProvider) -> Result<LoadedCert, String> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| format!("self-signed certificate: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "TRAEFIK DEFAULT CERT");
    let key = rcgen::KeyPair::generate().map_err(|e| format!("self-signed key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("self-signed certificate: {e}"))?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| format!("self-signed key: {e}"))?;
    let certified = CertifiedKey::from_der(vec![cert.der().clone()], key_der, provider)
        .map_err(|e| format!("self-signed certificate: {e}"))?;
    Ok(LoadedCert {
        key: Arc::new(certified),
        // Serves no name: chosen only as the default.
        names: Vec::new(),
    })
}
