//! The HTTP client that talks to the CA. Its HTTPS is verified against the system roots
//! plus the PEM files named in `LEGO_CA_CERTIFICATES`, as v1 (through lego) did: a private
//! CA such as pebble is trusted that way, and nothing else is.
//!
//! instant-acme reads the bodies of the CA's answers but not all their headers: the
//! certificate's `Link: <…>;rel="alternate"` (RFC 8555 §7.4.2, other chains for the same
//! certificate) would be lost. `CaHttp` passes every exchange through and keeps, for an
//! answer that names alternates, those links and its `Replay-Nonce`, for
//! `alternate_chains` to fetch them (`preferredChain`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The environment variable lego reads: PEM files, separated by `,` or `:`.
pub const CA_CERTIFICATES_ENV: &str = "LEGO_CA_CERTIFICATES";

pub fn roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system root rustls cannot parse is skipped, as reqwest does.
        let _ = roots.add(cert);
    }
    if let Ok(files) = std::env::var(CA_CERTIFICATES_ENV) {
        for file in files.split([',', ':']).filter(|f| !f.trim().is_empty()) {
            let file = file.trim();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
                .and_then(|i| i.collect())
                .map_err(|e| format!("{CA_CERTIFICATES_ENV}: {file:?}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "{CA_CERTIFICATES_ENV}: {file:?}: no CERTIFICATE block"
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("{CA_CERTIFICATES_ENV}: {file:?}: {e}"))?;
            }
        }
    }
    Ok(roots)
}

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// What an answer that names alternate chains said besides its body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alternates {
    /// The alternates' URLs, absolute, in the order the CA gave them.
    pub links: Vec<String>,
    /// The answer's `Replay-Nonce`: unused by instant-acme once the certificate is read.
    pub nonce: Option<String>,
}

/// Answers naming alternates kept at most (only certificate answers do, one per order;
/// the bound keeps a CA that names them everywhere from growing the map).
const KEPT: usize = 16;

/// The HTTP client instant-acme is given: hyper over rustls, plus the alternates seen.
#[derive(Clone)]
pub struct CaHttp {
    inner: Inner,
    seen: Arc<Mutex<HashMap<String, Alternates>>>,
}

impl CaHttp {
    /// The alternates named by the last answer to `url` (taken: asked once per chain).
    pub fn take_alternates(&self, url: &str) -> Option<Alternates> {
        self.seen.lock().ok()?.remove(url)
    }

    /// An exchange of trafik's own (the alternates' fetches), not recorded: their answers
    /// link back to the default chain and to each other.
    pub fn send(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        HttpClient::request(&self.inner, req)
    }
}

impl HttpClient for CaHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let url = req.uri().to_string();
        let answer = HttpClient::request(&self.inner, req);
        let seen = self.seen.clone();
        Box::pin(async move {
            let answer = answer.await?;
            let headers = &answer.parts.headers;
            let links = super::alternate_chains::alternate_links(
                headers
                    .get_all(http::header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
                &url,
            );
            if !links.is_empty()
                && let Ok(mut seen) = seen.lock()
            {
                if seen.len() >= KEPT {
                    seen.clear();
                }
                let nonce = headers
                    .get("replay-nonce")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                seen.insert(url, Alternates { links, nonce });
            }
            Ok(answer)
        })
    }
}

pub fn client() -> Result<CaHttp, String> {
    client_trusting(roots()?)
}

/// The client, trusting `roots` only (the tests' own CA doubles).
pub fn client_trusting(roots: RootCertStore) -> Result<CaHttp, String> {
    let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(CaHttp {
        inner: Client::builder(TokioExecutor::new()).build(connector),
        seen: Arc::default(),
    })
}
