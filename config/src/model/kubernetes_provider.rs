//! `[kubernetes]`: Ingresses, their Services and endpoints become frontends and backends
//! (v1's Kubernetes Ingress provider; the translation is `crate::kubernetes`, the client and
//! watch `src/provider/kubernetes.rs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kubernetes {
    /// The API server's URL. Empty: in-cluster (`KUBERNETES_SERVICE_HOST` /
    /// `KUBERNETES_SERVICE_PORT` and the service account's token and CA), else the
    /// kubeconfig file (`KUBECONFIG`, `~/.kube/config`).
    pub endpoint: String,
    /// A bearer token for `endpoint` (redacted in the API).
    pub token: String,
    /// The CA that signs the API server's certificate, for `endpoint`.
    pub cert_auth_file_path: String,
    /// Namespaces to watch; empty: all.
    pub namespaces: Vec<String>,
    /// A label selector on the Ingresses (`app=web,tier!=db`).
    pub label_selector: String,
    /// Only Ingresses of this class (annotation `kubernetes.io/ingress.class` or
    /// `spec.ingressClassName`); empty: those without a class or of class `traefik`.
    pub ingress_class: String,
    /// v1's default passes the Host header to the backends; `true` does not.
    pub disable_pass_host_headers: bool,
    /// Pass the client's TLS certificate to the backends (`X-Forwarded-Tls-Client-Cert`).
    #[serde(rename = "enablePassTLSCert")]
    pub enable_pass_tls_cert: bool,
    /// Wait this long after a change for more before applying (v1: `"0s"`).
    pub throttle_duration: crate::Duration,
    /// `[kubernetes.ingressEndpoint]`: the address published in the Ingresses' status.
    pub ingress_endpoint: Option<IngressEndpoint>,
    /// Follow the API's changes (default); `false`: read the cluster once.
    pub watch: bool,
    /// v1's custom template: not implemented (refused at start).
    pub filename: String,
    /// v1's provider constraints: not implemented (refused at start).
    pub constraints: Vec<String>,
}

impl Default for Kubernetes {
    fn default() -> Self {
        Kubernetes {
            endpoint: String::new(),
            token: String::new(),
            cert_auth_file_path: String::new(),
            namespaces: Vec::new(),
            label_selector: String::new(),
            ingress_class: String::new(),
            disable_pass_host_headers: false,
            enable_pass_tls_cert: false,
            throttle_duration: crate::Duration::ZERO,
            ingress_endpoint: None,
            watch: true,
            filename: String::new(),
            constraints: Vec::new(),
        }
    }
}

impl Kubernetes {
    /// What this version cannot do, asked for: refused at start, never ignored.
    pub fn not_implemented(&self) -> Option<&'static str> {
        if !self.filename.trim().is_empty() {
            return Some("filename (a custom template) is not implemented yet");
        }
        if !self.constraints.is_empty() {
            return Some("constraints are not implemented yet; use labelSelector");
        }
        None
    }
}

/// `[kubernetes.ingressEndpoint]`: one of `ip`, `hostname`, or `publishedService`
/// (`namespace/name` of the Service whose load-balancer address is published).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressEndpoint {
    pub ip: String,
    pub hostname: String,
    pub published_service: String,
}

#[cfg(test)]
mod tests {
    use crate::load_static;

    #[test]
    fn v1_keys_and_defaults() {
        let k = load_static("t.toml", "[kubernetes]\n")
            .unwrap()
            .value
            .kubernetes
            .unwrap();
        assert!(k.watch && k.endpoint.is_empty() && k.not_implemented().is_none());
        let text = "[kubernetes]\nendpoint = \"https://k8s:6443\"\nnamespaces = [\"a\", \"b\"]\n\
                    labelSelector = \"app=web\"\nthrottleDuration = \"2s\"\nwatch = false\n\
                    [kubernetes.ingressEndpoint]\npublishedService = \"kube-system/trafik\"\n";
        let k = load_static("t.toml", text)
            .unwrap()
            .value
            .kubernetes
            .unwrap();
        assert_eq!(k.namespaces, ["a", "b"]);
        assert_eq!(k.label_selector, "app=web");
        assert_eq!(k.throttle_duration.get(), std::time::Duration::from_secs(2));
        assert!(!k.watch);
        assert_eq!(
            k.ingress_endpoint.unwrap().published_service,
            "kube-system/trafik"
        );
        let k = load_static("t.toml", "[kubernetes]\nfilename = \"k8s.tmpl\"\n").unwrap();
        let e = k.value.kubernetes.unwrap().not_implemented().unwrap();
        assert!(e.contains("not implemented yet"), "{e}");
    }
}
