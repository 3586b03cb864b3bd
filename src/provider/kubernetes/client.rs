//! How to reach the API server, from `[kubernetes]`: `endpoint` (+ `token`,
//! `certAuthFilePath`) when set; else in-cluster (the service account's token, CA and
//! namespace under `/var/run/secrets/kubernetes.io/serviceaccount/`, and
//! `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`); else the kubeconfig file
//! (`KUBECONFIG`, `~/.kube/config`). kube's `Config` does the reading; this picks the order
//! v1 had (in-cluster first), which is not kube's `Config::infer` (kubeconfig first).

use std::path::Path;

use http::{HeaderName, HeaderValue};
use kube::config::KubeConfigOptions;

/// The client configuration `[kubernetes]` names. A table that cannot work (a bad URL,
/// an unreadable CA, nothing to connect to) is refused at start, with the reason.
pub async fn config(
    table: &trafik_config::Kubernetes,
    base_dir: &Path,
) -> Result<kube::Config, String> {
    if !table.endpoint.trim().is_empty() {
        return from_endpoint(table, base_dir);
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return kube::Config::incluster().map_err(|e| format!("in-cluster configuration: {e}"));
    }
    kube::Config::from_kubeconfig(&KubeConfigOptions::default())
        .await
        .map_err(|e| {
            format!(
                "no endpoint, not in a cluster (KUBERNETES_SERVICE_HOST is not set), \
                 and no usable kubeconfig (KUBECONFIG, ~/.kube/config): {e}"
            )
        })
}

/// `endpoint`, with `token` as the bearer token and `certAuthFilePath`'s PEM as the only
/// roots (without it, the system's roots through kube's default).
fn from_endpoint(
    table: &trafik_config::Kubernetes,
    base_dir: &Path,
) -> Result<kube::Config, String> {
    let endpoint = table.endpoint.trim();
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!(
            "endpoint {endpoint:?}: expected http(s)://host[:port]"
        ));
    }
    let mut config = kube::Config::new(uri);
    let token = table.token.trim();
    if !token.is_empty() {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "token: not a valid header value".to_string())?;
        value.set_sensitive(true);
        config
            .headers
            .push((HeaderName::from_static("authorization"), value));
    }
    let ca = table.cert_auth_file_path.trim();
    if !ca.is_empty() {
        let path = base_dir.join(ca);
        let pem = std::fs::read(&path)
            .map_err(|e| format!("certAuthFilePath {}: {e}", path.display()))?;
        let ders = pem_certificates(&pem)
            .map_err(|e| format!("certAuthFilePath {}: {e}", path.display()))?;
        config.root_cert = Some(ders);
    }
    Ok(config)
}

/// The certificates of a PEM bundle, DER-encoded (what `kube::Config::root_cert` holds).
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let ders = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if ders.is_empty() {
        return Err("no certificate in it".to_string());
    }
    Ok(ders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(endpoint: &str) -> trafik_config::Kubernetes {
        trafik_config::Kubernetes {
            endpoint: endpoint.into(),
            token: "t0ken".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_endpoint_and_token_make_a_bearer_header() {
        let c = from_endpoint(&table("http://127.0.0.1:6443"), Path::new("/")).unwrap();
        assert_eq!(c.cluster_url.to_string(), "http://127.0.0.1:6443/");
        let (name, value) = &c.headers[0];
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer t0ken");
        assert!(value.is_sensitive());
    }

    #[test]
    fn endpoints_and_cas_that_cannot_work_are_refused() {
        for bad in ["ftp://x", "127.0.0.1:6443", "http://"] {
            assert!(from_endpoint(&table(bad), Path::new("/")).is_err(), "{bad}");
        }
        let missing = trafik_config::Kubernetes {
            cert_auth_file_path: "no/such/ca.pem".into(),
            ..table("https://k8s:6443")
        };
        let e = from_endpoint(&missing, Path::new("/nonexistent")).unwrap_err();
        assert!(e.contains("certAuthFilePath"), "{e}");
        assert!(pem_certificates(b"not pem").is_err());
    }
}
