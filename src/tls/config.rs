//! Builds an entry point's `rustls::ServerConfig` from `[entryPoints.X.tls]`: certificates,
//! default certificate, minimum version, v1 (Go) cipher suite names, sniStrict, client CAs,
//! and ALPN `h2` + `http/1.1`. Every error names the entry point and what is wrong.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use trafik_config::EntryPointTls;

use super::certs::{self, LoadedCert};
use super::resolver::{CertMap, DynamicCerts, SniResolver};

/// The protocol versions for v1's `minVersion`. rustls speaks TLS 1.2 and 1.3 only, so
/// the older names mean "1.2 minimum" (a warning says so).
fn versions(
    entry_point: &str,
    min_version: &str,
) -> Result<&'static [&'static SupportedProtocolVersion], String> {
    static TLS12_UP: &[&SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match min_version.to_ascii_lowercase().as_str() {
        "" | "versiontls12" => Ok(TLS12_UP),
        "versiontls13" => Ok(TLS13),
        "versiontls10" | "versiontls11" => {
            tracing::warn!(
                entry_point,
                "tls.minVersion {min_version:?}: TLS 1.0 and 1.1 are not supported, TLS 1.2 is the minimum"
            );
            Ok(TLS12_UP)
        }
        _ => Err(format!(
            "entry point {entry_point:?}: tls.minVersion {min_version:?} is unknown \
             (VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13)"
        )),
    }
}

/// Go's `crypto/tls` cipher suite names. `Some(suite)` for those rustls implements;
/// `None` for real Go names rustls refuses to speak (CBC, RC4, 3DES, static RSA).
fn go_cipher_suite(name: &str) -> Result<Option<SupportedCipherSuite>, ()> {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    Ok(Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_AES_128_GCM_SHA256" => cs::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384" => cs::TLS13_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256" => cs::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_RSA_WITH_RC4_128_SHA"
        | "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA256"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" => return Ok(None),
        _ => return Err(()),
    }))
}

/// The provider restricted to v1's `cipherSuites`. As in Go, the list governs TLS 1.2;
/// TLS 1.3 suites stay on unless some are listed explicitly.
fn provider_with_suites(
    entry_point: &str,
    names: &[String],
    base: CryptoProvider,
) -> Result<CryptoProvider, String> {
    if names.is_empty() {
        return Ok(base);
    }
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for name in names {
        match go_cipher_suite(name.trim()) {
            Ok(Some(s)) => {
                if !chosen.iter().any(|c| c.suite() == s.suite()) {
                    chosen.push(s);
                }
            }
            Ok(None) => tracing::warn!(
                entry_point,
                "tls.cipherSuites: {name} is not offered (rustls does not implement it), ignored"
            ),
            Err(()) => {
                return Err(format!(
                    "entry point {entry_point:?}: tls.cipherSuites: unknown cipher suite {name:?} \
                     (use Go crypto/tls names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
                ));
            }
        }
    }
    if !chosen
        .iter()
        .any(|s| s.version() == &rustls::version::TLS13)
    {
        chosen.extend(
            base.cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .copied(),
        );
    }
    Ok(CryptoProvider {
        cipher_suites: chosen,
        ..base
    })
}

/// Client CA certificates (`clientCA.files` and the deprecated `ClientCAFiles`).
fn client_roots(entry_point: &str, files: &[String]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for f in files {
        let chain = certs::certificate_chain(f, "clientCA file")
            .map_err(|e| format!("entry point {entry_point:?}: tls.{e}"))?;
        for c in chain {
            roots.add(c).map_err(|e| {
                format!(
                    "entry point {entry_point:?}: tls.clientCA file {}: {e}",
                    certs::describe(f)
                )
            })?;
        }
    }
    Ok(roots)
}

/// The `ServerConfig` of one TLS entry point. `dynamic` holds the `[[tls]]` certificates
/// that reloads swap in.
pub fn server_config(
    entry_point: &str,
    tls: &EntryPointTls,
    dynamic: Arc<DynamicCerts>,
) -> Result<Arc<ServerConfig>, String> {
    server_config_acme(entry_point, tls, dynamic, None)
}

/// As [`server_config`], also serving `[acme]`'s certificates (and `acme-tls/1` with
/// `[acme.tlsChallenge]`) when this is `acme.entryPoint`.
pub fn server_config_acme(
    entry_point: &str,
    tls: &EntryPointTls,
    dynamic: Arc<DynamicCerts>,
    acme: Option<Arc<crate::acme::Served>>,
) -> Result<Arc<ServerConfig>, String> {
    let alpn_acme = acme.as_ref().is_some_and(|a| a.tls_challenge);
    let versions = versions(entry_point, &tls.min_version)?;
    let provider = Arc::new(provider_with_suites(
        entry_point,
        &tls.cipher_suites,
        rustls::crypto::aws_lc_rs::default_provider(),
    )?);
    let load = |c: &trafik_config::Certificate, what: &str| -> Result<LoadedCert, String> {
        certs::load(c, &provider)
            .map_err(|e| format!("entry point {entry_point:?}: tls.{what}: {e}"))
    };
    let mut static_certs = CertMap::default();
    let mut first = None;
    for (i, c) in tls.certificates.iter().enumerate() {
        let loaded = load(c, &format!("certificates[{i}]"))?;
        static_certs.insert(&loaded);
        first.get_or_insert(loaded);
    }
    let default = match &tls.default_certificate {
        Some(c) => load(c, "defaultCertificate")?,
        None => match first {
            Some(c) => c,
            None => certs::self_signed(&provider)
                .map_err(|e| format!("entry point {entry_point:?}: {e}"))?,
        },
    };
    let resolver = SniResolver::new(
        entry_point.to_string(),
        static_certs,
        dynamic,
        default.key,
        tls.sni_strict,
    )
    .with_acme(acme);

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("entry point {entry_point:?}: tls: {e}"))?;
    let mut ca_files: Vec<String> = tls.client_ca_files.clone();
    let mut optional = false;
    if let Some(ca) = &tls.client_ca {
        ca_files.extend(ca.files.iter().cloned());
        optional = ca.optional;
    }
    let builder = if ca_files.is_empty() {
        builder.with_no_client_auth()
    } else {
        let roots = Arc::new(client_roots(entry_point, &ca_files)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let verifier = if optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("entry point {entry_point:?}: tls.clientCA: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    super::resumption::enable(entry_point, &mut config)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if alpn_acme {
        config
            .alpn_protocols
            .push(crate::acme::challenges::ACME_TLS_ALPN.to_vec());
    }
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cipher_and_version_name_the_entry_point() {
        let base = rustls::crypto::aws_lc_rs::default_provider();
        let e = provider_with_suites("https", &["TLS_FOO".into()], base).unwrap_err();
        assert!(e.contains("\"https\"") && e.contains("TLS_FOO"), "{e}");
        assert!(versions("https", "VersionTLS14").is_err());
        assert_eq!(versions("https", "VersionTLS11").unwrap().len(), 2);
    }

    #[test]
    fn listed_suites_keep_tls13() {
        let base = rustls::crypto::aws_lc_rs::default_provider();
        let p = provider_with_suites(
            "https",
            &[
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
                "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            ],
            base,
        )
        .unwrap();
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .collect();
        assert_eq!(tls12.len(), 1);
        assert!(p.cipher_suites.len() > 1);
    }
}
