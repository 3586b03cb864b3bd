//! `spec.tls`: each named Secret's `tls.crt` / `tls.key` as a `tls` item, the PEM text
//! inline (the model's `certFile` / `keyFile` carry either a path or the PEM itself, v1's
//! `FileOrContent`). One item per Secret however many Ingresses name it; its entry points
//! are the union of theirs (`frontend-entry-points`), as v1.
//!
//! A value without a PEM block is refused: it would otherwise be read as a file path, and
//! a Secret must never make trafik open a file of its own choosing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;

use super::index::Index;
use super::{id, namespace};
use crate::model::{Certificate, TlsConfiguration};

#[derive(Debug, Default)]
pub struct Certificates {
    /// `namespace/secret` → its item.
    by_secret: BTreeMap<String, TlsConfiguration>,
}

impl Certificates {
    /// Adds the certificates of `ingress`'s `spec.tls`; one problem per Secret that
    /// cannot be used (the Ingress is still served, over plain HTTP for those hosts).
    pub fn add(
        &mut self,
        cluster: &Index<'_>,
        ingress: &Ingress,
        entry_points: &[String],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let ns = namespace(&ingress.metadata);
        let tls = ingress
            .spec
            .as_ref()
            .and_then(|s| s.tls.as_deref())
            .unwrap_or(&[]);
        for t in tls {
            let Some(name) = t.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                // v1: no Secret named, nothing to load (TLS from the default certificate).
                continue;
            };
            let key = format!("{ns}/{name}");
            if let Some(item) = self.by_secret.get_mut(&key) {
                for ep in entry_points {
                    if !item.entry_points.contains(ep) {
                        item.entry_points.push(ep.clone());
                    }
                }
                item.entry_points.sort();
                continue;
            }
            let certificate = cluster
                .secret(ns, name)
                .ok_or_else(|| "does not exist".to_string())
                .and_then(pem_pair);
            match certificate {
                Ok(certificate) => {
                    let mut entry_points = entry_points.to_vec();
                    entry_points.sort();
                    self.by_secret.insert(
                        key,
                        TlsConfiguration {
                            entry_points,
                            certificate,
                        },
                    );
                }
                Err(why) => problems.push(format!(
                    "ingress {}: secret {key}: {why}; its hosts are not served over TLS",
                    id(&ingress.metadata)
                )),
            }
        }
        problems
    }

    /// The items, in `namespace/secret` order.
    pub fn into_items(self) -> Vec<TlsConfiguration> {
        self.by_secret.into_values().collect()
    }
}

/// `tls.crt` and `tls.key` of a Secret, as PEM text.
pub fn pem_pair(secret: &Secret) -> Result<Certificate, String> {
    let cert = pem_entry(secret, "tls.crt")?;
    let key = pem_entry(secret, "tls.key")?;
    Ok(Certificate {
        cert_file: cert,
        key_file: key,
    })
}

/// One entry of a Secret's `data` (base64 in the API, bytes here) as PEM text.
pub fn pem_entry(secret: &Secret, entry: &str) -> Result<String, String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(entry))
        .ok_or_else(|| format!("has no {entry}"))?;
    let text = std::str::from_utf8(&bytes.0).map_err(|_| format!("{entry} is not PEM text"))?;
    if text.trim().is_empty() {
        return Err(format!("{entry} is empty"));
    }
    if !text.contains("-----BEGIN ") {
        return Err(format!("{entry} is not PEM (no BEGIN line)"));
    }
    Ok(text.to_string())
}
