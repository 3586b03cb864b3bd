//! `[acme]`: Let's Encrypt (any RFC 8555 CA), with v1's keys and defaults (traefik-v1.md
//! §1.10). What trafik does with them is `src/acme/`; what it does not do yet is refused at
//! start by `Acme::not_implemented`, never silently ignored.

use serde::{Deserialize, Serialize};

use crate::Duration;

/// Let's Encrypt's production directory, v1's default `caServer`.
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Acme {
    pub email: String,
    /// A file (mode 600) holding the account and the certificates, in v1's JSON.
    pub storage: String,
    /// The TLS entry point whose certificates ACME provides.
    pub entry_point: String,
    pub ca_server: String,
    /// EC256, EC384, RSA2048, RSA4096 (v1's default), RSA8192: the certificates' keys.
    pub key_type: String,
    pub on_host_rule: bool,
    /// Deprecated in v1 (certificates asked for during a handshake).
    pub on_demand: bool,
    pub acme_logging: bool,
    pub override_certificates: bool,
    /// The issuer Common Name of the chain to serve among the CA's alternates (RFC 8555
    /// §7.4.2), compared with the topmost certificate's issuer as lego does; empty or no
    /// match: the CA's default chain.
    pub preferred_chain: String,
    pub domains: Vec<AcmeDomain>,
    pub http_challenge: Option<HttpChallenge>,
    pub tls_challenge: Option<TlsChallenge>,
    pub dns_challenge: Option<DnsChallenge>,
    /// v1's deprecated forms, refused with the key to use instead.
    pub storage_file: Option<String>,
    pub dns_provider: Option<String>,
    pub delay_dont_check_dns: Option<Duration>,
}

impl Default for Acme {
    fn default() -> Self {
        Acme {
            email: String::new(),
            storage: String::new(),
            entry_point: String::new(),
            ca_server: LETS_ENCRYPT_PRODUCTION.to_string(),
            key_type: "RSA4096".to_string(),
            on_host_rule: false,
            on_demand: false,
            acme_logging: false,
            override_certificates: false,
            preferred_chain: String::new(),
            domains: Vec::new(),
            http_challenge: None,
            tls_challenge: None,
            dns_challenge: None,
            storage_file: None,
            dns_provider: None,
            delay_dont_check_dns: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AcmeDomain {
    pub main: String,
    #[serde(rename = "sans")]
    pub sans: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpChallenge {
    pub entry_point: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsChallenge {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DnsChallenge {
    pub provider: String,
    pub delay_before_check: Duration,
    pub resolvers: Vec<String>,
    pub disable_propagation_check: bool,
}

impl Acme {
    /// The first key set that this version of trafik does not act on yet, with why: the
    /// caller refuses to start (a v1 file asking for DNS-01 must not run without it).
    pub fn not_implemented(&self) -> Option<String> {
        let refuse = |key: &str| Some(format!("acme.{key}: not implemented yet"));
        if self.on_demand {
            return refuse("onDemand (deprecated in v1; list the names in [[acme.domains]])");
        }
        if self.storage_file.is_some() {
            return Some("acme.storageFile: deprecated in v1, use acme.storage".into());
        }
        if self.dns_provider.is_some() || self.delay_dont_check_dns.is_some() {
            return Some(
                "acme.dnsProvider / acme.delayDontCheckDNS: deprecated in v1, and DNS-01 is not implemented yet"
                    .into(),
            );
        }
        None
    }

    /// Structural checks that need no I/O: what v1 required, and the key type's name.
    pub fn check(&self) -> Result<(), String> {
        if let Some(why) = self.not_implemented() {
            return Err(why);
        }
        if self.storage.is_empty() {
            return Err("acme.storage is required (e.g. \"acme.json\")".into());
        }
        if self.entry_point.is_empty() {
            return Err("acme.entryPoint is required (the TLS entry point, e.g. \"https\")".into());
        }
        if self.http_challenge.is_none()
            && self.tls_challenge.is_none()
            && self.dns_challenge.is_none()
        {
            return Err(
                "acme: one challenge is required: [acme.httpChallenge] entryPoint = \"http\", [acme.tlsChallenge] or [acme.dnsChallenge]"
                    .into(),
            );
        }
        if let Some(d) = &self.dns_challenge
            && d.provider.trim().is_empty()
        {
            return Err("acme.dnsChallenge.provider is required (exec or httpreq)".into());
        }
        if let Some(h) = &self.http_challenge
            && h.entry_point.is_empty()
        {
            return Err("acme.httpChallenge.entryPoint is required".into());
        }
        key_type(&self.key_type)?;
        for (i, d) in self.domains.iter().enumerate() {
            if d.main.trim().is_empty() {
                return Err(format!("acme.domains[{i}].main is empty"));
            }
            for name in std::iter::once(&d.main).chain(&d.sans) {
                if name.starts_with("*.") && self.dns_challenge.is_none() {
                    return Err(format!(
                        "acme.domains[{i}]: {name:?}: a wildcard certificate needs [acme.dnsChallenge]"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// v1's key type names, case-insensitively; empty is v1's default RSA4096.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Ec256,
    Ec384,
    Rsa2048,
    Rsa4096,
    Rsa8192,
}

pub fn key_type(name: &str) -> Result<KeyType, String> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "EC256" => KeyType::Ec256,
        "EC384" => KeyType::Ec384,
        "RSA2048" => KeyType::Rsa2048,
        "" | "RSA4096" => KeyType::Rsa4096,
        "RSA8192" => KeyType::Rsa8192,
        _ => {
            return Err(format!(
                "acme.keyType {name:?} is unknown (EC256, EC384, RSA2048, RSA4096 or RSA8192)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Acme {
        Acme {
            email: "a@b.c".into(),
            storage: "acme.json".into(),
            entry_point: "https".into(),
            tls_challenge: Some(TlsChallenge {}),
            ..Acme::default()
        }
    }

    #[test]
    fn what_is_not_implemented_is_refused_by_name() {
        assert!(valid().check().is_ok());
        let dns = Acme {
            dns_challenge: Some(DnsChallenge {
                provider: "exec".into(),
                ..DnsChallenge::default()
            }),
            ..valid()
        };
        // The propagation check and resolvers are implemented (src/acme/propagation.rs).
        assert!(dns.check().is_ok());
        let dns = Acme {
            dns_challenge: Some(DnsChallenge {
                provider: "exec".into(),
                disable_propagation_check: true,
                ..DnsChallenge::default()
            }),
            domains: vec![AcmeDomain {
                main: "*.a.com".into(),
                sans: vec![],
            }],
            ..valid()
        };
        assert!(dns.check().is_ok());
        let demand = Acme {
            on_demand: true,
            ..valid()
        };
        assert!(demand.check().unwrap_err().contains("onDemand"));
        // preferredChain is implemented (src/acme/alternate_chains.rs).
        let chain = Acme {
            preferred_chain: "ISRG Root X1".into(),
            ..valid()
        };
        assert!(chain.check().is_ok());
        let wild = Acme {
            domains: vec![AcmeDomain {
                main: "*.a.com".into(),
                sans: vec![],
            }],
            ..valid()
        };
        assert!(wild.check().unwrap_err().contains("dnsChallenge"));
    }

    #[test]
    fn required_keys_and_key_types() {
        let no_challenge = Acme {
            tls_challenge: None,
            ..valid()
        };
        assert!(no_challenge.check().unwrap_err().contains("challenge"));
        assert_eq!(key_type("ec256"), Ok(KeyType::Ec256));
        assert_eq!(key_type(""), Ok(KeyType::Rsa4096));
        assert!(key_type("DSA").is_err());
    }
}
