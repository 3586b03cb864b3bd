//! What `/api/state` and `/metrics` say of `[acme]`'s certificates: their names, expiry,
//! serial and the last error of their order. The ACME task replaces the list whole on
//! every change (`StatusBoard::set_acme_certificates`); readers take a copy.

use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcmeCertificate {
    /// The main name first, then the SANs.
    pub domains: Vec<String>,
    /// `None` until a certificate is issued (or when the stored one does not load).
    pub not_after: Option<SystemTime>,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Why the last order for these names failed; cleared by a success.
    pub last_error: Option<String>,
}

/// `/api/state`'s `acme.certificates`.
pub fn json(certs: &[AcmeCertificate]) -> Value {
    let rfc3339 = |t: SystemTime| OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default();
    let list: Vec<Value> = certs
        .iter()
        .map(|c| {
            json!({
                "domains": c.domains,
                "notAfter": c.not_after.map(rfc3339),
                "serial": c.serial,
                "lastError": c.last_error,
            })
        })
        .collect();
    json!({ "certificates": list })
}

/// Seconds since the Unix epoch, for `traefik_tls_certs_not_after`.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
