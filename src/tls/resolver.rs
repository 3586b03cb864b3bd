//! Per-SNI certificate choice, as v1's `GetBestCertificate`: the server name lowercased,
//! an exact name first, then the `*.parent` wildcard; a static certificate beats a dynamic
//! one of the same name; no match (or no SNI) ⇒ the default certificate, or a refused
//! handshake with `sniStrict`. Dynamic certificates sit behind an `ArcSwap`: a reload is
//! one pointer store, and a handshake takes no lock.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::certs::LoadedCert;

/// Certificates by the names they serve (lowercase; wildcards kept as `*.example.com`).
#[derive(Default, Debug)]
pub struct CertMap {
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl CertMap {
    /// Adds `cert` under each of its names; a name already present keeps its first
    /// certificate (configuration order decides, as in v1).
    pub fn insert(&mut self, cert: &LoadedCert) {
        for name in &cert.names {
            self.by_name
                .entry(name.clone())
                .or_insert_with(|| cert.key.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn exact(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        self.by_name.get(name)
    }

    /// `a.example.com` ⇒ `*.example.com` (one label only, as browsers and Go match).
    pub fn wildcard(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let (_, parent) = name.split_once('.')?;
        if parent.is_empty() {
            return None;
        }
        self.by_name.get(&format!("*.{parent}"))
    }
}

/// Dynamic certificates of every TLS entry point, swapped whole on reload.
pub type DynamicCerts = ArcSwap<HashMap<String, Arc<CertMap>>>;

#[derive(Debug)]
pub struct SniResolver {
    entry_point: String,
    static_certs: CertMap,
    dynamic: Arc<DynamicCerts>,
    default: Arc<CertifiedKey>,
    sni_strict: bool,
    /// `[acme]`'s certificates and challenge answers, on `acme.entryPoint`.
    acme: Option<Arc<crate::acme::Served>>,
}

impl SniResolver {
    pub fn new(
        entry_point: String,
        static_certs: CertMap,
        dynamic: Arc<DynamicCerts>,
        default: Arc<CertifiedKey>,
        sni_strict: bool,
    ) -> Self {
        SniResolver {
            entry_point,
            static_certs,
            dynamic,
            default,
            sni_strict,
            acme: None,
        }
    }

    /// Serves `[acme]`'s certificates too (src/acme/).
    pub fn with_acme(mut self, acme: Option<Arc<crate::acme::Served>>) -> Self {
        self.acme = acme;
        self
    }

    /// The certificate for `server_name`; `None` refuses the handshake.
    pub fn pick(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            // v1 checks the local IP then; with sniStrict that finds nothing.
            return (!self.sni_strict).then(|| self.default.clone());
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let dynamic = self.dynamic.load();
        let dynamic = dynamic.get(&self.entry_point);
        // ACME's certificates: after static and [[tls]] ones of the same name, or before
        // them with overrideCertificates.
        let acme = self
            .acme
            .as_ref()
            .map(|a| (a.certs.load(), a.override_certificates));
        let acme_exact = || acme.as_ref().and_then(|(m, _)| m.exact(&name));
        let acme_wildcard = || acme.as_ref().and_then(|(m, _)| m.wildcard(&name));
        let overriding = acme.as_ref().filter(|(_, o)| *o);
        let found = overriding
            .and_then(|(m, _)| m.exact(&name))
            .or_else(|| self.static_certs.exact(&name))
            .or_else(|| dynamic.and_then(|d| d.exact(&name)))
            .or_else(acme_exact)
            .or_else(|| overriding.and_then(|(m, _)| m.wildcard(&name)))
            .or_else(|| self.static_certs.wildcard(&name))
            .or_else(|| dynamic.and_then(|d| d.wildcard(&name)))
            .or_else(acme_wildcard);
        match found {
            Some(c) => Some(c.clone()),
            None if self.sni_strict => {
                tracing::debug!(entry_point = %self.entry_point, "sniStrict: no certificate for {name:?}, handshake refused");
                None
            }
            None => Some(self.default.clone()),
        }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // TLS-ALPN-01: the CA's validation offers only `acme-tls/1`; no other client does.
        if let Some(acme) = &self.acme
            && acme.tls_challenge
            && let Some(mut alpn) = hello.alpn()
            && alpn.any(|p| p == crate::acme::challenges::ACME_TLS_ALPN)
        {
            return acme.challenge_cert(hello.server_name());
        }
        self.pick(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::certs;

    fn cert(names: &[&str]) -> LoadedCert {
        let provider = crate::tls::provider();
        let mut c = certs::self_signed(&provider).unwrap();
        c.names = names.iter().map(|n| n.to_string()).collect();
        c
    }

    #[test]
    fn exact_then_wildcard_static_first_default_last() {
        let (a, wild, dyn_a, dyn_b, default) = (
            cert(&["a.example.com"]),
            cert(&["*.example.com"]),
            cert(&["a.example.com"]),
            cert(&["b.example.com"]),
            cert(&[]),
        );
        let mut st = CertMap::default();
        st.insert(&a);
        st.insert(&wild);
        let mut dy = CertMap::default();
        dy.insert(&dyn_a);
        dy.insert(&dyn_b);
        let dynamic = Arc::new(ArcSwap::from_pointee(HashMap::from([(
            "https".to_string(),
            Arc::new(dy),
        )])));
        let r = SniResolver::new("https".into(), st, dynamic, default.key.clone(), false);
        let is = |got: Option<Arc<CertifiedKey>>, want: &LoadedCert| {
            Arc::ptr_eq(&got.unwrap(), &want.key)
        };
        assert!(
            is(r.pick(Some("A.Example.COM")), &a),
            "static beats dynamic"
        );
        assert!(
            is(r.pick(Some("b.example.com")), &dyn_b),
            "exact beats wildcard"
        );
        assert!(is(r.pick(Some("c.example.com")), &wild));
        assert!(
            is(r.pick(Some("x.c.example.com")), &default),
            "one label only"
        );
        assert!(is(r.pick(None), &default));
    }
}
