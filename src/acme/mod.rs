//! `[acme]`: certificates obtained from an ACME CA (Let's Encrypt, or pebble in the tests),
//! stored in v1's `acme.json`, served by SNI on `acme.entryPoint` as soon as they are
//! issued. One task owns the account and the stored data; the TLS resolver and the HTTP-01
//! handler only read what it publishes (`Served`).
//!
//! The task: load what is stored and serve it at once; then, for each `[[acme.domains]]`
//! whose stored certificate is missing or has 30 days or less left, order one; and, as
//! v1, renew every other stored certificate with 30 days or less left too (`renewal.rs`). A failure
//! (CA down, challenge refused, rate limit) is logged with the domain and the CA's problem
//! and retried with capped exponential backoff; it never touches the certificates already
//! served. The check is repeated every 24 hours (renewal).

mod alternate_chains;
pub mod challenges;
pub mod dns;
mod dns_query;
mod host_rule;
pub mod http_client;
mod order;
mod propagation;
mod renewal;
pub mod status;
pub mod storage;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use instant_acme::{Account, NewAccount};
use rustls::sign::CertifiedKey;
use rustls_pki_types::PrivatePkcs8KeyDer;
use trafik_config::StaticConfig;
use trafik_config::model::acme::{Acme, KeyType};

use crate::tls::certs::{self, LoadedCert};
use crate::tls::resolver::CertMap;
use challenges::Challenges;
use storage::{FileStorage, Storage, StoredAccount, StoredCertificate, StoredData, StoredDomain};

/// Renewal: a certificate with this much left or less is ordered again (v1: 30 days).
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the stored certificates are checked (v1: 24 h).
const CHECK_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Backoff after a failed order: doubling from 2 s, capped at 10 minutes (never a tight
/// loop against the CA: Let's Encrypt's rate limits count failures too).
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_CAP: Duration = Duration::from_secs(600);

/// What the TLS resolver and the HTTP-01 handler read.
pub struct Served {
    /// ACME's certificates, by name.
    pub certs: ArcSwap<CertMap>,
    /// `overrideCertificates`: ACME's certificate wins over a static or `[[tls]]` one.
    pub override_certificates: bool,
    /// `[acme.tlsChallenge]`: the entry point offers `acme-tls/1`.
    pub tls_challenge: bool,
    pub challenges: Arc<Challenges>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("override_certificates", &self.override_certificates)
            .field("tls_challenge", &self.tls_challenge)
            .finish()
    }
}

impl Served {
    /// The certificate for a TLS-ALPN-01 handshake (`acme-tls/1` offered), if one is open.
    pub fn challenge_cert(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        self.challenges.tls_alpn01(server_name?)
    }
}

pub struct AcmeManager {
    cfg: Acme,
    key_type: KeyType,
    storage: Box<dyn Storage>,
    data: StoredData,
    served: Arc<Served>,
    /// `/api/state` and `/metrics` read the certificates' state there.
    status: Arc<crate::status::StatusBoard>,
    /// The last error of each domain set's order, until it succeeds.
    errors: HashMap<Vec<String>, String>,
    /// `onHostRule`: the default entry points (a frontend without `entryPoints` is on
    /// them), the names its Host rules ask for, and what was skipped (logged once; also
    /// the stored certificates that cannot be renewed).
    default_entry_points: Vec<String>,
    host_rule_sets: Vec<Vec<String>>,
    skipped_logged: std::collections::BTreeSet<String>,
    /// `[acme.dnsChallenge]`'s provider, when DNS-01 is the challenge.
    dns: Option<dns::DnsProvider>,
    /// The account's HTTP client, which keeps the alternate chains' links (preferredChain).
    ca_http: Option<http_client::CaHttp>,
}

/// Checks `[acme]` against the entry points and loads the storage: every refusal here
/// stops trafik at start (a storage file others can read, an entry point without TLS…).
pub fn prepare(
    cfg: &StaticConfig,
    base_dir: &Path,
    status: Arc<crate::status::StatusBoard>,
) -> Result<Option<AcmeManager>, String> {
    let Some(acme) = &cfg.acme else {
        return Ok(None);
    };
    acme.check()?;
    let key_type = trafik_config::model::acme::key_type(&acme.key_type)?;
    let entry_points = cfg.effective_entry_points();
    match entry_points.get(&acme.entry_point) {
        None => {
            return Err(format!(
                "acme.entryPoint {:?}: no such entry point",
                acme.entry_point
            ));
        }
        Some(ep) if ep.tls.is_none() => {
            return Err(format!(
                "acme.entryPoint {:?}: the entry point has no [entryPoints.{}.tls]",
                acme.entry_point, acme.entry_point
            ));
        }
        Some(_) => {}
    }
    if let Some(h) = &acme.http_challenge
        && !entry_points.contains_key(&h.entry_point)
    {
        return Err(format!(
            "acme.httpChallenge.entryPoint {:?}: no such entry point",
            h.entry_point
        ));
    }
    let dns = match &acme.dns_challenge {
        Some(d) => Some(dns::DnsProvider::from_env(&d.provider)?),
        None => None,
    };
    let path = base_dir.join(&acme.storage);
    let storage: Box<dyn Storage> = Box::new(FileStorage::new(path));
    let data = storage.load()?;
    // Checked now, so a bad LEGO_CA_CERTIFICATES stops trafik at start.
    http_client::roots()?;
    let served = Arc::new(Served {
        certs: ArcSwap::from_pointee(CertMap::default()),
        override_certificates: acme.override_certificates,
        tls_challenge: acme.tls_challenge.is_some(),
        challenges: Arc::new(Challenges::default()),
    });
    let manager = AcmeManager {
        cfg: acme.clone(),
        key_type,
        storage,
        data,
        served,
        status,
        errors: HashMap::new(),
        default_entry_points: cfg.effective_default_entry_points(),
        host_rule_sets: Vec::new(),
        skipped_logged: std::collections::BTreeSet::new(),
        dns,
        ca_http: None,
    };
    manager.publish();
    Ok(Some(manager))
}

/// A stored certificate as served, with its expiry; `None` (logged) when it does not load.
fn load_stored(c: &StoredCertificate) -> Option<(LoadedCert, std::time::SystemTime)> {
    let decode = |b64: &str| {
        B64.decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let (Some(cert_file), Some(key_file)) = (decode(&c.certificate), decode(&c.key)) else {
        tracing::error!(domain = %c.domain.main, "acme.json: a certificate or key is not base64 PEM; skipped");
        return None;
    };
    let loaded = match certs::load(
        &trafik_config::Certificate {
            cert_file,
            key_file,
        },
        &crate::tls::provider(),
    ) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(domain = %c.domain.main, "acme.json: certificate skipped: {e}");
            return None;
        }
    };
    let not_after = not_after(&loaded)?;
    Some((loaded, not_after))
}

fn not_after(cert: &LoadedCert) -> Option<std::time::SystemTime> {
    use x509_parser::prelude::*;
    let leaf = cert.key.cert.first()?;
    let (_, parsed) = X509Certificate::from_der(leaf).ok()?;
    let secs = parsed.validity().not_after.timestamp();
    Some(std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// The leaf's serial number in hex.
fn serial(cert: &LoadedCert) -> String {
    use x509_parser::prelude::*;
    let Some(leaf) = cert.key.cert.first() else {
        return String::new();
    };
    match X509Certificate::from_der(leaf) {
        Ok((_, parsed)) => parsed.raw_serial_as_string().replace(':', ""),
        Err(_) => String::new(),
    }
}

fn names(d: &trafik_config::AcmeDomain) -> Vec<String> {
    let mut names = vec![d.main.trim().to_ascii_lowercase()];
    for s in &d.sans {
        let s = s.trim().to_ascii_lowercase();
        if !s.is_empty() && !names.contains(&s) {
            names.push(s);
        }
    }
    names
}

impl AcmeManager {
    pub fn served(&self) -> Arc<Served> {
        self.served.clone()
    }

    /// Rebuilds the served map from the stored certificates (one pointer swap).
    fn publish(&self) {
        let mut map = CertMap::default();
        for c in &self.data.certificates {
            if let Some((loaded, _)) = load_stored(c) {
                map.insert(&loaded);
            }
        }
        self.served.certs.store(Arc::new(map));
        self.report();
    }

    /// The certificates' state for the API and metrics: each stored one, and each
    /// configured domain set that has none yet.
    fn report(&self) {
        let mut list = Vec::new();
        for c in &self.data.certificates {
            let domains = stored_names(c);
            let loaded = load_stored(c);
            list.push(status::AcmeCertificate {
                last_error: self.errors.get(&domains).cloned(),
                not_after: loaded.as_ref().map(|(_, t)| *t),
                serial: loaded.as_ref().map(|(l, _)| serial(l)).unwrap_or_default(),
                domains,
            });
        }
        for wanted in self.wanted() {
            if !list.iter().any(|c| c.domains == wanted) {
                list.push(status::AcmeCertificate {
                    last_error: self.errors.get(&wanted).cloned(),
                    domains: wanted,
                    ..Default::default()
                });
            }
        }
        self.status.set_acme_certificates(list);
    }

    /// Every domain set wanted: `[[acme.domains]]`, then (onHostRule) the Host rules'.
    fn wanted(&self) -> Vec<Vec<String>> {
        let mut sets: Vec<Vec<String>> = self.cfg.domains.iter().map(names).collect();
        for set in &self.host_rule_sets {
            if !sets.contains(set) {
                sets.push(set.clone());
            }
        }
        sets
    }

    /// onHostRule: the Host rules of the configurations applied now.
    fn refresh_host_rules(&mut self) {
        if !self.cfg.on_host_rule {
            return;
        }
        let providers = self.status.providers();
        let (sets, skipped) = host_rule::domain_sets(
            providers.values().map(|p| p.config.as_ref()),
            &self.cfg.entry_point,
            &self.default_entry_points,
        );
        for s in skipped {
            if self.skipped_logged.insert(s.clone()) {
                tracing::warn!("acme onHostRule: no certificate for {s}");
            }
        }
        self.host_rule_sets = sets;
    }

    /// Sleeps `period`, or less when onHostRule is on and a configuration is applied.
    async fn wait_for_change(&self, period: Duration) {
        let until = tokio::time::Instant::now() + period;
        let seen = self.status.reloads().total;
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep((until - now).min(Duration::from_secs(1))).await;
            if self.cfg.on_host_rule && self.status.reloads().total != seen {
                return;
            }
        }
    }

    /// The domain sets to order now: each wanted set whose certificate is missing or
    /// due, and (as v1's `renewCertificates`) each other stored certificate that is due.
    fn due(&mut self) -> Vec<Vec<String>> {
        let stored: Vec<renewal::Stored> = self
            .data
            .certificates
            .iter()
            .map(|c| renewal::Stored {
                names: stored_names(c),
                not_after: load_stored(c).map(|(_, t)| t),
            })
            .collect();
        let (due, unorderable) = renewal::due(
            &self.wanted(),
            &stored,
            std::time::SystemTime::now(),
            RENEW_BEFORE,
        );
        for names in unorderable {
            if self.skipped_logged.insert(format!("stored {names:?}")) {
                tracing::error!(domains = ?names, "acme.json: a stored certificate with an empty name cannot be renewed; served as long as it loads");
            }
        }
        due
    }

    pub fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(mut self) {
        let check_every = check_interval();
        let mut account: Option<Account> = None;
        let mut retry = RETRY_FIRST;
        loop {
            self.refresh_host_rules();
            let due = self.due();
            if due.is_empty() {
                tracing::info!("acme: every certificate is stored and valid, nothing to order");
            }
            let mut failed = false;
            for wanted in due {
                match self.obtain(&mut account, &wanted).await {
                    Ok(()) => {
                        self.errors.remove(&wanted);
                        self.report();
                        tracing::info!(domains = ?wanted, "acme: certificate obtained and served")
                    }
                    Err(e) => {
                        failed = true;
                        // The CA forgot the stored account (a test CA restarted, an
                        // account deactivated): the next attempt registers a new one.
                        if e.contains("urn:ietf:params:acme:error:accountDoesNotExist") {
                            tracing::warn!(
                                "acme: the CA no longer knows the stored account: registering a new one with the same email"
                            );
                            account = None;
                            self.data.account = None;
                        }
                        self.errors.insert(wanted.clone(), e.clone());
                        self.report();
                        tracing::error!(domains = ?wanted, "acme: cannot obtain a certificate: {e}; retrying in {retry:?}");
                    }
                }
            }
            if failed {
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_CAP);
            } else {
                retry = RETRY_FIRST;
                self.wait_for_change(check_every).await;
            }
        }
    }

    async fn obtain(
        &mut self,
        account: &mut Option<Account>,
        wanted: &[String],
    ) -> Result<(), String> {
        if account.is_none() {
            *account = Some(self.account().await?);
        }
        let Some(acct) = account.as_ref() else {
            return Err("no account".into());
        };
        // v1's order of preference: DNS-01, then HTTP-01, then TLS-ALPN-01.
        let challenge = match (&self.dns, &self.cfg.http_challenge) {
            (Some(provider), _) => {
                let dns_cfg = self.cfg.dns_challenge.as_ref();
                order::Challenge::Dns01 {
                    provider,
                    // disablePropagationCheck = true: only delayBeforeCheck, as v1.
                    check: dns_cfg
                        .filter(|d| !d.disable_propagation_check)
                        .map(|d| propagation::PropagationCheck::new(&d.resolvers, provider)),
                    delay: dns_cfg.map_or(Duration::ZERO, |d| d.delay_before_check.get()),
                }
            }
            (None, Some(_)) => order::Challenge::Http01,
            (None, None) => order::Challenge::TlsAlpn01,
        };
        // preferredChain: the account's key and client, to fetch the alternate chains.
        let account_key = match &self.data.account {
            Some(a) => B64.decode(a.private_key.trim()).unwrap_or_default(),
            None => Vec::new(),
        };
        let preferred = match &self.ca_http {
            Some(http) if !self.cfg.preferred_chain.is_empty() => {
                Some(alternate_chains::Preference {
                    name: &self.cfg.preferred_chain,
                    http,
                    account_key: &account_key,
                    kid: acct.id(),
                    directory: &self.cfg.ca_server,
                })
            }
            _ => None,
        };
        let issued = order::obtain(
            acct,
            wanted,
            &challenge,
            &self.served.challenges,
            self.key_type,
            preferred.as_ref(),
        )
        .await?;
        let stored = StoredCertificate {
            domain: StoredDomain {
                main: wanted[0].clone(),
                sans: (wanted.len() > 1).then(|| wanted[1..].to_vec()),
            },
            certificate: B64.encode(issued.chain_pem.as_bytes()),
            key: B64.encode(issued.key_pem.as_bytes()),
        };
        if load_stored(&stored).is_none() {
            return Err("the CA's certificate does not load".into());
        }
        self.data.certificates.retain(|c| stored_names(c) != wanted);
        self.data.certificates.push(stored);
        // Served first: a storage that cannot be written must not withhold a good
        // certificate; it is ordered again at the next start, and the error says so.
        self.publish();
        self.storage.save(&self.data)?;
        Ok(())
    }

    /// The stored account when its key is one trafik can sign with (P-256); otherwise
    /// (none, or v1's RSA key) a new account with the same email, stored at once.
    async fn account(&mut self) -> Result<Account, String> {
        let ca = self.cfg.ca_server.clone();
        if let Some(stored) = &self.data.account
            && let Some(reg) = &stored.registration
            && !reg.uri.is_empty()
        {
            let key = B64.decode(stored.private_key.trim()).unwrap_or_default();
            let http = http_client::client()?;
            self.ca_http = Some(http.clone());
            match Account::builder_with_http(Box::new(http))
                .from_parts(reg.uri.clone(), PrivatePkcs8KeyDer::from(key), ca.clone())
                .await
            {
                Ok(a) => return Ok(a),
                Err(instant_acme::Error::KeyRejected) | Err(instant_acme::Error::Crypto) => {
                    tracing::warn!(
                        "acme: the stored account's key (KeyType {:?}) cannot sign here (only P-256 can): registering a new account with the same email",
                        stored.key_type
                    );
                }
                Err(e) => return Err(format!("CA {ca}: {}", order::describe(&e))),
            }
        }
        let contact = (!self.cfg.email.is_empty()).then(|| format!("mailto:{}", self.cfg.email));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let http = http_client::client()?;
        self.ca_http = Some(http.clone());
        let (account, credentials) = Account::builder_with_http(Box::new(http))
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                ca.clone(),
                None,
            )
            .await
            .map_err(|e| format!("CA {ca}: account registration: {}", order::describe(&e)))?;
        self.data.account = Some(StoredAccount {
            email: self.cfg.email.clone(),
            registration: Some(storage::Registration {
                body: serde_json::json!({"status": "valid", "contact": contacts}),
                uri: account.id().to_string(),
            }),
            private_key: B64.encode(credentials.private_key().secret_pkcs8_der()),
            key_type: "P256".into(),
        });
        self.storage.save(&self.data)?;
        tracing::info!(account = %account.id(), "acme: account registered");
        Ok(account)
    }
}

fn stored_names(c: &StoredCertificate) -> Vec<String> {
    names(&trafik_config::AcmeDomain {
        main: c.domain.main.clone(),
        sans: c.domain.sans.clone().unwrap_or_default(),
    })
}

/// `TRAFIK_ACME_CHECK_INTERVAL` (seconds): for tests only, shortens the 24 h renewal check.
fn check_interval() -> Duration {
    std::env::var("TRAFIK_ACME_CHECK_INTERVAL")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(CHECK_EVERY, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::tls::resolver::SniResolver;

    fn cert(names: &[&str]) -> LoadedCert {
        let mut c = certs::self_signed(&crate::tls::provider()).unwrap();
        c.names = names.iter().map(|n| n.to_string()).collect();
        c
    }

    fn resolver(
        static_cert: &LoadedCert,
        acme: &LoadedCert,
        override_certificates: bool,
    ) -> SniResolver {
        let mut st = CertMap::default();
        st.insert(static_cert);
        let mut served = CertMap::default();
        served.insert(acme);
        let served = Arc::new(Served {
            certs: ArcSwap::from_pointee(served),
            override_certificates,
            tls_challenge: false,
            challenges: Arc::new(Challenges::default()),
        });
        let dynamic = Arc::new(ArcSwap::from_pointee(HashMap::new()));
        SniResolver::new("https".into(), st, dynamic, cert(&[]).key, false).with_acme(Some(served))
    }

    #[test]
    fn static_certificates_win_unless_override_certificates() {
        let (st, acme) = (
            cert(&["a.example.com"]),
            cert(&["a.example.com", "b.example.com"]),
        );
        let is = |got: Option<Arc<CertifiedKey>>, want: &LoadedCert| {
            Arc::ptr_eq(&got.unwrap(), &want.key)
        };
        let r = resolver(&st, &acme, false);
        assert!(is(r.pick(Some("a.example.com")), &st));
        assert!(is(r.pick(Some("B.example.com")), &acme));
        let r = resolver(&st, &acme, true);
        assert!(is(r.pick(Some("a.example.com")), &acme));
        // An ACME wildcard (DNS-01) serves the names under it.
        let wild = cert(&["*.w.example.com"]);
        let r = resolver(&st, &wild, false);
        assert!(is(r.pick(Some("x.w.example.com")), &wild));
    }

    #[test]
    fn domain_names_are_lowercased_and_deduplicated() {
        let d = trafik_config::AcmeDomain {
            main: " A.example.com".into(),
            sans: vec![
                "www.a.example.com".into(),
                "a.example.com".into(),
                "".into(),
            ],
        };
        assert_eq!(names(&d), vec!["a.example.com", "www.a.example.com"]);
    }
}
