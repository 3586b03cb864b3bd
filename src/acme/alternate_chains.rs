//! `preferredChain`: which of the CA's chains for a new certificate is served.
//!
//! A CA may sign one certificate under several roots (Let's Encrypt did, ISRG Root X1 and
//! DST Root CA X3). RFC 8555 §7.4.2: the certificate's answer names the other chains in
//! `Link: <url>;rel="alternate"` headers; each is fetched with a POST-as-GET signed by the
//! account key. instant-acme neither reads those headers nor fetches alternates, so
//! `http_client::CaHttp` keeps the links (and the answer's `Replay-Nonce`) and this file
//! fetches them with its own signed request.
//!
//! The choice is v1's (lego's `hasPreferredChain`): a chain matches when the Common Name of
//! the *issuer* of its topmost certificate (the last in the PEM, the one closest to the
//! root) equals `preferredChain` exactly (case-sensitive, as lego's `==`). The default
//! chain is tried first, then the alternates in the order the CA listed them (lego walks
//! a Go map, in no defined order; the first match wins in both). None matching: the
//! default chain, logged, as lego does. An alternate that cannot be fetched or does not
//! start with the same certificate is logged and passed over: the certificate is already
//! issued, and a chain the operator did not prefer beats ordering it again.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use instant_acme::BodyWrapper;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::http_client::CaHttp;

/// Alternates fetched at most per certificate (Let's Encrypt offers one or two).
const MAX_ALTERNATES: usize = 8;

const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";

/// `Link` header values → the URLs of the links whose relation types include `alternate`,
/// resolved against `base` (the request's URL), without duplicates, in order. RFC 8288:
/// several links in one value separated by commas, parameters by `;`, a parameter's value
/// a token or a quoted string, `rel` a space-separated list compared case-insensitively
/// (only a link's first `rel` counts). A value that does not parse ends where it breaks:
/// the links before it are kept.
pub fn alternate_links<'a>(values: impl IntoIterator<Item = &'a str>, base: &str) -> Vec<String> {
    let Ok(base) = reqwest::Url::parse(base) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for value in values {
        for (target, rel) in parse_link_value(value) {
            let is_alternate = rel.as_deref().is_some_and(|r| {
                r.split_ascii_whitespace()
                    .any(|t| t.eq_ignore_ascii_case("alternate"))
            });
            if !is_alternate {
                continue;
            }
            let Ok(url) = base.join(&target) else {
                continue;
            };
            if !matches!(url.scheme(), "https" | "http") {
                continue;
            }
            let url = url.to_string();
            if !out.contains(&url) {
                out.push(url);
            }
        }
    }
    out
}

/// One `Link` value → (target, first `rel`) of each link, up to the first malformed one.
fn parse_link_value(value: &str) -> Vec<(String, Option<String>)> {
    let b = value.as_bytes();
    let mut links = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        if i >= b.len() || b[i] != b'<' {
            return links;
        }
        let Some(close) = value[i + 1..].find('>') else {
            return links;
        };
        let target = value[i + 1..i + 1 + close].trim().to_string();
        i += close + 2;
        let mut rel = None;
        loop {
            skip_ws(&mut i);
            if i >= b.len() || b[i] == b',' {
                break;
            }
            if b[i] != b';' {
                return links;
            }
            i += 1;
            skip_ws(&mut i);
            let start = i;
            while i < b.len() && !matches!(b[i], b'=' | b';' | b',' | b' ' | b'\t') {
                i += 1;
            }
            let name = value[start..i].to_ascii_lowercase();
            skip_ws(&mut i);
            let mut param = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                skip_ws(&mut i);
                if i < b.len() && b[i] == b'"' {
                    // A quoted string: `\` escapes the next byte.
                    i += 1;
                    let mut bytes = Vec::new();
                    loop {
                        match b.get(i) {
                            None => return links,
                            Some(b'"') => break,
                            Some(b'\\') => {
                                let Some(&c) = b.get(i + 1) else {
                                    return links;
                                };
                                bytes.push(c);
                                i += 2;
                            }
                            Some(&c) => {
                                bytes.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                    param = String::from_utf8_lossy(&bytes).into_owned();
                } else {
                    let start = i;
                    while i < b.len() && !matches!(b[i], b';' | b',' | b' ' | b'\t') {
                        i += 1;
                    }
                    param = value[start..i].to_string();
                }
            }
            if name == "rel" && rel.is_none() {
                rel = Some(param);
            }
        }
        links.push((target, rel));
    }
}

/// What one candidate chain is to the choice.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Its topmost certificate's issuer is `preferredChain`.
    Preferred,
    /// Another chain of the same certificate.
    Other,
    /// Not a chain of the certificate issued (another leaf, no certificate, not PEM).
    Unusable(String),
}

/// `candidate` judged against the default chain's leaf and `preferred`.
pub fn verdict(preferred: &str, default_chain: &str, candidate: &str) -> Verdict {
    let certs = |pem: &str| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .filter_map(Result::ok)
            .collect()
    };
    let chain = certs(candidate);
    let Some(leaf) = chain.first() else {
        return Verdict::Unusable("no certificate in it".into());
    };
    if certs(default_chain).first() != Some(leaf) {
        return Verdict::Unusable("it does not start with the certificate issued".into());
    }
    // lego: the chain without its leaf must hold a certificate; the last one's issuer.
    if chain.len() < 2 {
        return Verdict::Other;
    }
    match chain.last().and_then(|top| issuer_common_name(top)) {
        Some(cn) if cn == preferred => Verdict::Preferred,
        _ => Verdict::Other,
    }
}

/// The issuer's Common Name; with several, the last (as Go's `pkix.Name` keeps it).
fn issuer_common_name(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert.issuer().iter_common_name().last()?;
    cn.as_str().ok().map(str::to_string)
}

/// What fetching alternates needs: the CA's client (which saw the links), the account.
pub struct Preference<'a> {
    /// `preferredChain`.
    pub name: &'a str,
    pub http: &'a CaHttp,
    /// The account key, PKCS#8 DER (P-256: the only kind trafik's accounts have; a v1
    /// RSA account is replaced by a new P-256 one at start, see `AcmeManager::account`).
    pub account_key: &'a [u8],
    /// The account URL, the JWS `kid`.
    pub kid: &'a str,
    /// `caServer`: its directory names `newNonce`, asked when no nonce is at hand.
    pub directory: &'a str,
}

/// The chain to serve for the certificate at `cert_url`, whose default chain is `default`.
pub async fn choose(p: &Preference<'_>, cert_url: &str, default: String) -> String {
    let name = p.name;
    let offered = p.http.take_alternates(cert_url).unwrap_or_default();
    if verdict(name, &default, &default) == Verdict::Preferred {
        tracing::info!(preferred_chain = %name, "acme: the CA's default chain is the preferred one");
        return default;
    }
    let signer = match Signer::new(p.account_key, p.kid) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(preferred_chain = %name, "acme: cannot fetch the alternate chains: {e}; serving the default chain");
            return default;
        }
    };
    let mut nonce = offered.nonce;
    for url in offered.links.iter().take(MAX_ALTERNATES) {
        let chain = match fetch(p, &signer, url, &mut nonce).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(preferred_chain = %name, "acme: alternate chain {url}: {e}; passed over");
                continue;
            }
        };
        match verdict(name, &default, &chain) {
            Verdict::Preferred => {
                tracing::info!(preferred_chain = %name, %url, "acme: serving the CA's alternate chain under the preferred issuer");
                return chain;
            }
            Verdict::Other => {}
            Verdict::Unusable(why) => {
                tracing::warn!(preferred_chain = %name, "acme: alternate chain {url}: {why}; passed over");
            }
        }
    }
    tracing::info!(
        preferred_chain = %name,
        alternates = offered.links.len(),
        "acme: no chain from the CA has the preferred issuer; serving the default chain"
    );
    default
}

/// Signs POST-as-GET requests (RFC 8555 §6.3) with the account key: a flattened JWS
/// (RFC 7515 §7.2.2), protected header `alg` ES256, `kid`, `nonce`, `url`; empty payload.
struct Signer {
    key: EcdsaKeyPair,
    kid: String,
}

impl Signer {
    fn new(pkcs8: &[u8], kid: &str) -> Result<Signer, String> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| "the account key is not a P-256 key".to_string())?;
        Ok(Signer {
            key,
            kid: kid.to_string(),
        })
    }

    fn post_as_get(&self, url: &str, nonce: &str) -> Result<Vec<u8>, String> {
        let protected = serde_json::json!({
            "alg": "ES256",
            "kid": self.kid,
            "nonce": nonce,
            "url": url,
        });
        let protected = B64URL.encode(protected.to_string());
        // The signing input is `protected.payload`, and the payload is empty.
        let input = format!("{protected}.");
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| "signing failed".to_string())?;
        let jws = serde_json::json!({
            "protected": protected,
            "payload": "",
            "signature": B64URL.encode(signature.as_ref()),
        });
        Ok(jws.to_string().into_bytes())
    }
}

/// One alternate chain, by POST-as-GET. `nonce` is the one to use (or none: `newNonce` is
/// asked) and becomes the answer's. A `badNonce` refusal is retried once with a fresh one.
async fn fetch(
    p: &Preference<'_>,
    signer: &Signer,
    url: &str,
    nonce: &mut Option<String>,
) -> Result<String, String> {
    for attempt in 0..2 {
        let fresh = match nonce.take() {
            Some(n) => n,
            None => new_nonce(p).await?,
        };
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/jose+json")
            .body(BodyWrapper::from(signer.post_as_get(url, &fresh)?))
            .map_err(|e| e.to_string())?;
        let (status, headers, body) = send(p.http, request).await?;
        *nonce = headers
            .get("replay-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status.is_success() {
            return String::from_utf8(body.to_vec())
                .map_err(|_| "the chain is not UTF-8 text".to_string());
        }
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let kind = problem["type"].as_str().unwrap_or_default();
        if kind == BAD_NONCE && attempt == 0 {
            continue;
        }
        let detail = problem["detail"].as_str().unwrap_or_default();
        return Err(format!("{status}: {kind} {detail}").trim_end().to_string());
    }
    Err("refused twice for a bad nonce".into())
}

/// A fresh nonce: the directory's `newNonce`, asked with HEAD (RFC 8555 §7.2).
async fn new_nonce(p: &Preference<'_>) -> Result<String, String> {
    let get = http::Request::get(p.directory)
        .body(BodyWrapper::default())
        .map_err(|e| e.to_string())?;
    let (status, _, body) = send(p.http, get).await?;
    let directory: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| format!("directory {}: {status}, not JSON", p.directory))?;
    let Some(url) = directory["newNonce"].as_str() else {
        return Err(format!("directory {}: no newNonce", p.directory));
    };
    let head = http::Request::head(url)
        .body(BodyWrapper::default())
        .map_err(|e| e.to_string())?;
    let (_, headers, _) = send(p.http, head).await?;
    headers
        .get("replay-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("newNonce {url}: no Replay-Nonce"))
}

async fn send(
    http: &CaHttp,
    request: http::Request<BodyWrapper<Bytes>>,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), String> {
    let mut answer = http
        .send(request)
        .await
        .map_err(|e| super::order::describe(&e))?;
    let body = answer.body.into_bytes().await.map_err(|e| e.to_string())?;
    Ok((answer.parts.status, answer.parts.headers, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "https://ca.test/acme/cert/1a2b";

    #[test]
    fn several_links_in_one_header_only_alternates_kept() {
        let value = r#"<https://ca.test/dir>;rel="index", <https://ca.test/acme/cert/1a2b/1>;rel="alternate", <https://ca.test/acme/cert/1a2b/2>; rel=alternate"#;
        assert_eq!(
            alternate_links([value], CERT),
            vec![
                "https://ca.test/acme/cert/1a2b/1",
                "https://ca.test/acme/cert/1a2b/2"
            ]
        );
    }

    #[test]
    fn links_in_several_headers_deduplicated_in_order() {
        let values = [
            r#"<https://ca.test/acme/cert/1a2b/alternate/1>;rel="alternate""#,
            r#"<https://ca.test/dir>;rel="index""#,
            r#"<https://ca.test/acme/cert/1a2b/alternate/2>;rel="alternate""#,
            r#"<https://ca.test/acme/cert/1a2b/alternate/1>;rel="alternate""#,
        ];
        assert_eq!(
            alternate_links(values, CERT),
            vec![
                "https://ca.test/acme/cert/1a2b/alternate/1",
                "https://ca.test/acme/cert/1a2b/alternate/2"
            ]
        );
    }

    #[test]
    fn quoted_rel_lists_case_and_other_parameters() {
        // rel is a list; case-insensitive; a quoted title with a comma and an escaped
        // quote does not split the link; only the first rel counts.
        let value = r#"<https://ca.test/a>; title="x, \"y\""; REL="index Alternate", <https://ca.test/b>; rel="index"; rel="alternate", <https://ca.test/c>; rel=ALTERNATE"#;
        assert_eq!(
            alternate_links([value], CERT),
            vec!["https://ca.test/a", "https://ca.test/c"]
        );
    }

    #[test]
    fn relative_links_resolve_against_the_request_url() {
        let values = [
            r#"</acme/cert/1a2b/1>;rel="alternate""#,
            r#"<1a2b/2>;rel="alternate""#,
            r#"<../chain/3>;rel="alternate""#,
            r#"<//other.test/4>;rel="alternate""#,
        ];
        assert_eq!(
            alternate_links(values, CERT),
            vec![
                "https://ca.test/acme/cert/1a2b/1",
                "https://ca.test/acme/cert/1a2b/2",
                "https://ca.test/acme/chain/3",
                "https://other.test/4",
            ]
        );
    }

    #[test]
    fn malformed_values_keep_what_came_before_and_never_panic() {
        let value = r#"<https://ca.test/1>;rel="alternate", https://ca.test/2;rel="alternate""#;
        assert_eq!(alternate_links([value], CERT), vec!["https://ca.test/1"]);
        for bad in [
            "<",
            "<x",
            r#"<https://ca.test/1>;rel="alt"#,
            r#"<https://ca.test/1>;rel="a\"#,
            "<https://ca.test/1> junk",
            "<>;rel=alternate",
            "<mailto:a@b.c>;rel=alternate",
            ";;;,,,<<>>",
            "<é>;rel=alternate;é=é",
        ] {
            let links = alternate_links([bad], CERT);
            assert!(links.len() <= 1, "{bad}: {links:?}");
        }
        assert!(alternate_links(["<a>;rel=alternate"], "not a url").is_empty());
    }

    /// A leaf under an intermediate, and that intermediate's subject and key issued under
    /// two roots: the two chains a CA offers for one certificate.
    struct Chains {
        under_a: String,
        under_b: String,
        other_leaf: String,
    }

    fn chains() -> Chains {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p
        };
        let root = |cn: &str| {
            let key = KeyPair::generate().unwrap();
            Issuer::new(ca(cn), key)
        };
        let (root_a, root_b) = (root("Root A"), root("Root B"));
        let int_key = KeyPair::generate().unwrap();
        let int_a = ca("Intermediate").signed_by(&int_key, &root_a).unwrap();
        let int_b = ca("Intermediate").signed_by(&int_key, &root_b).unwrap();
        let int = Issuer::new(ca("Intermediate"), int_key);
        let leaf = |name: &str| {
            let key = KeyPair::generate().unwrap();
            CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &int)
                .unwrap()
                .pem()
        };
        let (leaf, other) = (leaf("a.test"), leaf("b.test"));
        Chains {
            under_a: format!("{leaf}{}", int_a.pem()),
            under_b: format!("{leaf}{}", int_b.pem()),
            other_leaf: format!("{other}{}", int_b.pem()),
        }
    }

    #[test]
    fn the_topmost_certificates_issuer_common_name_is_compared_exactly() {
        let c = chains();
        assert_eq!(
            verdict("Root A", &c.under_a, &c.under_a),
            Verdict::Preferred
        );
        assert_eq!(
            verdict("Root B", &c.under_a, &c.under_b),
            Verdict::Preferred
        );
        assert_eq!(verdict("Root B", &c.under_a, &c.under_a), Verdict::Other);
        // lego compares with ==: case and spaces matter; the intermediate's own name
        // (the topmost certificate's subject) is not the issuer.
        assert_eq!(verdict("root b", &c.under_a, &c.under_b), Verdict::Other);
        assert_eq!(verdict("Root B ", &c.under_a, &c.under_b), Verdict::Other);
        assert_eq!(
            verdict("Intermediate", &c.under_a, &c.under_b),
            Verdict::Other
        );
    }

    #[test]
    fn a_chain_of_another_certificate_or_no_certificate_is_unusable() {
        let c = chains();
        assert!(matches!(
            verdict("Root B", &c.under_a, &c.other_leaf),
            Verdict::Unusable(_)
        ));
        assert!(matches!(
            verdict("Root B", &c.under_a, "not PEM"),
            Verdict::Unusable(_)
        ));
        // A leaf alone: no issuer chain, no match (lego would fail the order).
        let leaf_only: String = c
            .under_a
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap()
            .to_string();
        assert_eq!(verdict("Root A", &leaf_only, &leaf_only), Verdict::Other);
    }

    #[test]
    fn post_as_get_is_a_flattened_jws_the_account_key_verifies() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let signer = Signer::new(pkcs8.as_ref(), "https://ca.test/acct/7").unwrap();
        let body = signer
            .post_as_get("https://ca.test/cert/1/alternate/1", "n0nce")
            .unwrap();
        let jws: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(jws["payload"], "");
        let protected = jws["protected"].as_str().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(protected).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "kid": "https://ca.test/acct/7",
                "nonce": "n0nce", "url": "https://ca.test/cert/1/alternate/1"})
        );
        let signature = B64URL.decode(jws["signature"].as_str().unwrap()).unwrap();
        assert_eq!(signature.len(), 64, "ES256 is r || s, 32 bytes each");
        let public = signer.key.public_key().as_ref().to_vec();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(format!("{protected}.").as_bytes(), &signature)
            .unwrap();
        // Not a P-256 key: an error, not a panic.
        assert!(Signer::new(b"not a key", "k").is_err());
    }

    /// A CA double over HTTPS on 127.0.0.1: `GET /dir` names `/nonce`, `HEAD /nonce`
    /// gives `fresh-1`; `POST /cert/1/alternate/1` checks the JWS (signature by `public`,
    /// `kid`, `url`) and refuses the nonces in `refused` with `badNonce` (the refusal
    /// carrying the next nonce), else answers `CHAIN`. Each request is recorded as
    /// "METHOD /path" or "POST <nonce>".
    struct CaDouble {
        base: String,
        roots: rustls::RootCertStore,
        seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    const CHAIN: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    async fn ca_double(public: Vec<u8>, refused: &'static [&'static str]) -> CaDouble {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(issued.cert.der().clone()).unwrap();
        let key =
            rustls_pki_types::PrivateKeyDer::try_from(issued.signing_key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![issued.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen2, base2) = (seen.clone(), base.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let (seen, base, public) = (seen2.clone(), base2.clone(), public.clone());
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (seen, base, public) = (seen.clone(), base.clone(), public.clone());
                    async move {
                        let (method, path) = (req.method().clone(), req.uri().path().to_string());
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let answer = http::Response::builder();
                        let answer = match (method.as_str(), path.as_str()) {
                            ("GET", "/dir") => {
                                seen.lock().unwrap().push("GET /dir".into());
                                let dir = serde_json::json!({"newNonce": format!("{base}/nonce")});
                                answer.status(200).body(dir.to_string())
                            }
                            ("HEAD", "/nonce") => {
                                seen.lock().unwrap().push("HEAD /nonce".into());
                                answer.header("Replay-Nonce", "fresh-1").body(String::new())
                            }
                            ("POST", "/cert/1/alternate/1") => {
                                let jws: serde_json::Value = serde_json::from_slice(&body).unwrap();
                                let protected = jws["protected"].as_str().unwrap();
                                let signature =
                                    B64URL.decode(jws["signature"].as_str().unwrap()).unwrap();
                                aws_lc_rs::signature::UnparsedPublicKey::new(
                                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                                    &public,
                                )
                                .verify(format!("{protected}.").as_bytes(), &signature)
                                .unwrap();
                                let header: serde_json::Value =
                                    serde_json::from_slice(&B64URL.decode(protected).unwrap())
                                        .unwrap();
                                assert_eq!(header["kid"], format!("{base}/acct/1"));
                                assert_eq!(header["url"], format!("{base}{path}"));
                                let nonce = header["nonce"].as_str().unwrap().to_string();
                                seen.lock().unwrap().push(format!("POST {nonce}"));
                                let next = format!("after-{nonce}");
                                let answer = answer.header("Replay-Nonce", next);
                                if refused.contains(&nonce.as_str()) {
                                    let problem = serde_json::json!({
                                        "type": BAD_NONCE, "detail": "JWS has an invalid anti-replay nonce"});
                                    answer.status(400).body(problem.to_string())
                                } else {
                                    answer.status(200).body(CHAIN.to_string())
                                }
                            }
                            _ => answer.status(404).body(String::new()),
                        };
                        Ok::<_, std::convert::Infallible>(
                            answer.unwrap().map(|b| Full::new(Bytes::from(b))),
                        )
                    }
                });
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        CaDouble { base, roots, seen }
    }

    fn account_key() -> (Vec<u8>, Vec<u8>) {
        use aws_lc_rs::signature::KeyPair;
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        (pkcs8.as_ref().to_vec(), key.public_key().as_ref().to_vec())
    }

    /// An account key and the CA double refusing `refused` nonces, as `fetch` sees them.
    struct Fixture {
        ca: CaDouble,
        http: CaHttp,
        pkcs8: Vec<u8>,
        kid: String,
        directory: String,
    }

    impl Fixture {
        async fn new(refused: &'static [&'static str]) -> Fixture {
            let (pkcs8, public) = account_key();
            let ca = ca_double(public, refused).await;
            let http = super::super::http_client::client_trusting(ca.roots.clone()).unwrap();
            let (kid, directory) = (format!("{}/acct/1", ca.base), format!("{}/dir", ca.base));
            Fixture {
                ca,
                http,
                pkcs8,
                kid,
                directory,
            }
        }

        /// One signed fetch of the double's alternate chain.
        async fn fetch(&self, nonce: &mut Option<String>) -> Result<String, String> {
            let p = Preference {
                name: "Root",
                http: &self.http,
                account_key: &self.pkcs8,
                kid: &self.kid,
                directory: &self.directory,
            };
            let signer = Signer::new(&self.pkcs8, &self.kid).unwrap();
            let url = format!("{}/cert/1/alternate/1", self.ca.base);
            fetch(&p, &signer, &url, nonce).await
        }
    }

    #[tokio::test]
    async fn a_bad_nonce_is_retried_once_with_the_nonce_the_refusal_carried() {
        // No nonce at hand: newNonce from the directory; that one refused, the retry
        // uses the refusal's Replay-Nonce.
        let f = Fixture::new(&["fresh-1"]).await;
        let mut nonce = None;
        let chain = f.fetch(&mut nonce).await.unwrap();
        let ca = &f.ca;
        assert_eq!(chain, CHAIN);
        assert_eq!(nonce.as_deref(), Some("after-after-fresh-1"));
        assert_eq!(
            *ca.seen.lock().unwrap(),
            vec![
                "GET /dir",
                "HEAD /nonce",
                "POST fresh-1",
                "POST after-fresh-1"
            ]
        );
    }

    #[tokio::test]
    async fn a_second_bad_nonce_is_an_error_not_a_loop() {
        let f = Fixture::new(&["kept", "after-kept"]).await;
        // The nonce kept from the certificate's answer is used first (no newNonce).
        let mut nonce = Some("kept".to_string());
        let err = f.fetch(&mut nonce).await.unwrap_err();
        let ca = &f.ca;
        assert!(err.contains("badNonce") && err.contains("400"), "{err}");
        assert_eq!(
            *ca.seen.lock().unwrap(),
            vec!["POST kept", "POST after-kept"]
        );
    }
}
