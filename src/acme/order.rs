//! One certificate obtained from the CA for one set of names: an order, one challenge
//! per authorisation (TLS-ALPN-01 when `[acme.tlsChallenge]` is set, else HTTP-01, as
//! v1 chose), the CSR, the chain. A refusal carries the CA's problem documents, so the
//! log says why (a challenge that could not reach trafik, a rate limit…).

use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use trafik_config::model::acme::KeyType;

use super::alternate_chains::{self, Preference};
use super::challenges::Challenges;
use super::dns::{self, DnsProvider};
use super::propagation::PropagationCheck;

/// Which challenge answers the CA's authorisations.
pub enum Challenge<'a> {
    Http01,
    TlsAlpn01,
    /// The record presented by `provider`, seen by `check` (unless
    /// disablePropagationCheck), then `delay` (delayBeforeCheck) before the CA is told to
    /// look.
    Dns01 {
        provider: &'a DnsProvider,
        check: Option<PropagationCheck>,
        delay: Duration,
    },
}

impl Challenge<'_> {
    fn acme_type(&self) -> ChallengeType {
        match self {
            Challenge::Http01 => ChallengeType::Http01,
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            Challenge::Dns01 { .. } => ChallengeType::Dns01,
        }
    }
}

/// What was presented, withdrawn whatever the outcome.
enum Presented {
    Http01 { token: String },
    TlsAlpn01 { domain: String },
    Dns01 { fqdn: String, value: String },
}

/// The PEM chain and the PEM key of a new certificate.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

pub async fn obtain(
    account: &Account,
    names: &[String],
    challenge: &Challenge<'_>,
    challenges: &Challenges,
    key_type: KeyType,
    preferred: Option<&Preference<'_>>,
) -> Result<Issued, String> {
    let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| format!("new order: {}", describe(&e)))?;
    let challenge_type = challenge.acme_type();
    let mut presented: Vec<Presented> = Vec::new();
    let result = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {}", describe(&e)))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let mut handle = authz.challenge(challenge_type.clone()).ok_or_else(|| {
                format!("the CA offers no {challenge_type:?} challenge for this name")
            })?;
            let domain = handle.identifier().to_string();
            let key_auth = handle.key_authorization();
            match challenge {
                Challenge::TlsAlpn01 => {
                    challenges.set_tls_alpn01(&domain, key_auth.digest().as_ref())?;
                    presented.push(Presented::TlsAlpn01 { domain });
                }
                Challenge::Http01 => {
                    challenges.set_http01(&handle.token, key_auth.as_str());
                    presented.push(Presented::Http01 {
                        token: handle.token.clone(),
                    });
                }
                Challenge::Dns01 {
                    provider,
                    check,
                    delay,
                } => {
                    let fqdn = dns::record_name(&domain);
                    let value = key_auth.dns_value();
                    provider.present(&fqdn, &value).await?;
                    presented.push(Presented::Dns01 {
                        fqdn: fqdn.clone(),
                        value: value.clone(),
                    });
                    if let Some(check) = check {
                        check.wait(&fqdn, &value).await?;
                    }
                    tokio::time::sleep(*delay).await;
                }
            }
            handle
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {}", describe(&e)))?;
        }
        let retries = RetryPolicy::new().timeout(Duration::from_secs(90));
        let status = order
            .poll_ready(&retries)
            .await
            .map_err(|e| format!("waiting for validation: {}", describe(&e)))?;
        if status != OrderStatus::Ready {
            return Err(refusal(&mut order, status).await);
        }
        Ok(())
    }
    .await;
    for p in &presented {
        match (p, challenge) {
            (Presented::Http01 { token }, _) => challenges.clear_http01(token),
            (Presented::TlsAlpn01 { domain }, _) => challenges.clear_tls_alpn01(domain),
            (Presented::Dns01 { fqdn, value }, Challenge::Dns01 { provider, .. }) => {
                if let Err(e) = provider.cleanup(fqdn, value).await {
                    tracing::warn!("acme: {e}");
                }
            }
            (Presented::Dns01 { .. }, _) => {}
        }
    }
    result?;

    // RSA generation takes seconds (8192 bits: tens): off the async workers.
    let key = tokio::task::spawn_blocking(move || generate_key(key_type))
        .await
        .map_err(|e| format!("certificate key: {e}"))??;
    let csr = rcgen::CertificateParams::new(names.to_vec())
        .and_then(|p| p.serialize_request(&key))
        .map_err(|e| format!("CSR: {}", describe(&e)))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| format!("finalize: {}", describe(&e)))?;
    let chain_pem = order
        .poll_certificate(&RetryPolicy::new().timeout(Duration::from_secs(90)))
        .await
        .map_err(|e| format!("certificate: {}", describe(&e)))?;
    // preferredChain: the CA's default chain, or one of the alternates its answer named.
    let chain_pem = match (preferred, order.state().certificate.clone()) {
        (Some(p), Some(url)) => alternate_chains::choose(p, &url, chain_pem).await,
        _ => chain_pem,
    };
    Ok(Issued {
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}

/// Why the order went invalid: its problem, and each challenge's.
async fn refusal(order: &mut instant_acme::Order, status: OrderStatus) -> String {
    let mut why = vec![format!("order {status:?}")];
    if let Some(p) = &order.state().error {
        why.push(p.to_string());
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let name = authz.identifier().to_string();
        if let Ok(state) = authz.refresh().await {
            for c in &state.challenges {
                if let Some(p) = &c.error {
                    why.push(format!("{name}: {:?}: {p}", c.r#type));
                }
            }
        }
    }
    why.join("; ")
}

fn generate_key(key_type: KeyType) -> Result<rcgen::KeyPair, String> {
    let rsa = |size| rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size);
    match key_type {
        KeyType::Ec256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::Ec384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa2048 => rsa(rcgen::RsaKeySize::_2048),
        KeyType::Rsa4096 => rsa(rcgen::RsaKeySize::_4096),
        KeyType::Rsa8192 => rsa8192(),
    }
    .map_err(|e| format!("certificate key: {}", describe(&e)))
}

/// rcgen generates RSA keys up to 4096 bits; aws-lc-rs (rcgen's and rustls's backend,
/// already in the tree) up to 8192: generated there, handed to rcgen as PKCS#8.
fn rsa8192() -> Result<rcgen::KeyPair, rcgen::Error> {
    use aws_lc_rs::encoding::AsDer;
    let der = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa8192)
        .and_then(|k| k.as_der())
        .map_err(|_| rcgen::Error::KeyGenerationUnavailable)?;
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_ref());
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
}

/// An error with its causes: "client error (Connect): tcp connect error: Connection refused".
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
