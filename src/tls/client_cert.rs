//! `passTLSClientCert` (and the deprecated `passTLSCert`): the client's certificate, from
//! an mTLS handshake, passed upstream as v1 does. `X-Forwarded-Ssl-Client-Cert` holds each
//! certificate of the chain as PEM without its armour and newlines, joined by `,`, then
//! URL-escaped; `X-Forwarded-Ssl-Client-Cert-Infos` holds, per certificate,
//! `Subject="C=…,ST=…,L=…,O=…,CN=…,SN=…,DC=…",Issuer="…",NB=<unix>,NA=<unix>,SAN=a,b`,
//! certificates joined by `;`, URL-escaped. Values a client sent itself under these names
//! are always removed first: only trafik may vouch for a certificate.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use trafik_config::{Frontend, TlsCertDnInfos, TlsClientCertInfos};
use x509_parser::oid_registry;
use x509_parser::prelude::*;

use super::TlsConnection;

pub static CLIENT_CERT: HeaderName = HeaderName::from_static("x-forwarded-ssl-client-cert");
pub static CLIENT_CERT_INFOS: HeaderName =
    HeaderName::from_static("x-forwarded-ssl-client-cert-infos");

#[derive(Debug, Clone)]
pub struct ClientCertHeaders {
    pem: bool,
    infos: Option<TlsClientCertInfos>,
}

impl ClientCertHeaders {
    /// What a frontend asks for; `None` when it asks for nothing.
    pub fn from_frontend(frontend: &Frontend) -> Option<Self> {
        let pass = frontend.pass_tls_client_cert.as_ref();
        let pem = frontend.pass_tls_cert || pass.is_some_and(|p| p.pem);
        let infos = pass.and_then(|p| p.infos.clone());
        (pem || infos.is_some()).then_some(ClientCertHeaders { pem, infos })
    }

    pub fn apply(&self, headers: &mut HeaderMap, tls: Option<&TlsConnection>) {
        headers.remove(&CLIENT_CERT);
        headers.remove(&CLIENT_CERT_INFOS);
        let Some(chain) = tls.and_then(|t| t.peer_certificates.as_deref()) else {
            tracing::debug!("passTLSClientCert: the request has no client certificate");
            return;
        };
        if chain.is_empty() {
            return;
        }
        if self.pem {
            let value: Vec<String> = chain.iter().map(|c| query_escape(&bare_pem(c))).collect();
            if let Ok(v) = HeaderValue::from_str(&value.join(",")) {
                headers.insert(&CLIENT_CERT, v);
            }
        }
        if let Some(infos) = &self.infos {
            let value: Vec<String> = chain.iter().map(|c| describe(c, infos)).collect();
            if let Ok(v) = HeaderValue::from_str(&query_escape(&value.join(";"))) {
                headers.insert(&CLIENT_CERT_INFOS, v);
            }
        }
    }
}

/// The PEM body without header, footer and newlines: the DER in base64.
fn bare_pem(der: &[u8]) -> String {
    base64(der)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes as is, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn describe(der: &[u8], infos: &TlsClientCertInfos) -> String {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return String::new();
    };
    let mut values = Vec::new();
    if let Some(s) = infos.subject.as_ref().and_then(|o| dn(cert.subject(), o)) {
        values.push(format!("Subject=\"{s}\""));
    }
    if let Some(s) = infos.issuer.as_ref().and_then(|o| dn(cert.issuer(), o)) {
        values.push(format!("Issuer=\"{s}\""));
    }
    if infos.not_before {
        values.push(format!("NB={}", cert.validity().not_before.timestamp()));
    }
    if infos.not_after {
        values.push(format!("NA={}", cert.validity().not_after.timestamp()));
    }
    if infos.sans {
        values.push(format!("SAN={}", sans(&cert).join(",")));
    }
    values.join(",")
}

/// The asked-for parts of a distinguished name, first value of each (DC: all), v1's order.
fn dn(name: &X509Name<'_>, o: &TlsCertDnInfos) -> Option<String> {
    let first = |it: &mut dyn Iterator<Item = &AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    let mut parts = Vec::new();
    let mut add = |wanted: bool, key: &str, value: Option<String>| {
        if let (true, Some(v)) = (wanted, value) {
            parts.push(format!("{key}={v}"));
        }
    };
    add(o.country, "C", first(&mut name.iter_country()));
    add(o.province, "ST", first(&mut name.iter_state_or_province()));
    add(o.locality, "L", first(&mut name.iter_locality()));
    add(o.organization, "O", first(&mut name.iter_organization()));
    add(o.common_name, "CN", first(&mut name.iter_common_name()));
    add(
        o.serial_number,
        "SN",
        first(&mut name.iter_by_oid(&oid_registry::OID_X509_SERIALNUMBER)),
    );
    if o.domain_component {
        for dc in name.iter_by_oid(&oid_registry::OID_DOMAIN_COMPONENT) {
            if let Ok(v) = dc.as_str() {
                parts.push(format!("DC={v}"));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// DNS names, e-mail addresses, IP addresses, URIs: Go's order.
fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &san.value.general_names;
    let mut out: Vec<String> = Vec::new();
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::DNSName(d) => Some(d.to_string()),
        _ => None,
    }));
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::RFC822Name(e) => Some(e.to_string()),
        _ => None,
    }));
    out.extend(names.iter().filter_map(|n| {
        match n {
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        }
    }));
    out.extend(names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            query_escape("Subject=\"CN=a b\",NB=1"),
            "Subject%3D%22CN%3Da+b%22%2CNB%3D1"
        );
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hell"), "aGVsbA==");
        assert_eq!(base64(b"hel"), "aGVs");
    }
}
