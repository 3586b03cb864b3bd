//! `[kubernetes.ingressEndpoint]`: the address clients reach trafik at, written into the
//! `status.loadBalancer.ingress` of every Ingress trafik serves (what `kubectl get ingress`
//! shows as ADDRESS, and what external-dns reads). Only when the table is set; the status
//! subresource is PATCHed only where it differs, so the MODIFIED event that follows changes
//! nothing and the loop settles.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{
    Ingress, IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus,
};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use trafik_config::kubernetes::{Cluster, Settings, is_ours};

use super::NAME;

/// What is published: a fixed address, or a Service's load-balancer address.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Fixed {
        ip: String,
        hostname: String,
    },
    /// `namespace/name`.
    Service {
        namespace: String,
        name: String,
    },
}

impl Target {
    pub fn new(table: &trafik_config::IngressEndpoint) -> Result<Target, String> {
        let service = table.published_service.trim();
        if !service.is_empty() {
            let Some((namespace, name)) = service.split_once('/') else {
                return Err(format!(
                    "ingressEndpoint.publishedService {service:?}: expected namespace/name"
                ));
            };
            if namespace.is_empty() || name.is_empty() || name.contains('/') {
                return Err(format!(
                    "ingressEndpoint.publishedService {service:?}: expected namespace/name"
                ));
            }
            return Ok(Target::Service {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        let (ip, hostname) = (table.ip.trim(), table.hostname.trim());
        if ip.is_empty() && hostname.is_empty() {
            return Err(
                "[kubernetes.ingressEndpoint]: set ip, hostname or publishedService".to_string(),
            );
        }
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("ingressEndpoint.ip {ip:?}: not an IP address"));
        }
        Ok(Target::Fixed {
            ip: ip.to_string(),
            hostname: hostname.to_string(),
        })
    }

    /// Writes the address into each served Ingress whose status says otherwise. Failures
    /// are logged (they do not change what is served) and retried at the next change.
    pub async fn publish(&self, client: &Client, settings: &Settings, cluster: &Cluster) {
        let addresses = match self.addresses(client).await {
            Ok(Some(a)) => a,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(provider = NAME, "ingressEndpoint: {e}");
                return;
            }
        };
        for ingress in &cluster.ingresses {
            if !is_ours(settings, &cluster.ingress_classes, ingress)
                || current(ingress) == addresses
            {
                continue;
            }
            let namespace = ingress.namespace().unwrap_or_default();
            let name = ingress.name_any();
            let api: Api<Ingress> = Api::namespaced(client.clone(), &namespace);
            let patch = serde_json::json!({
                "status": { "loadBalancer": { "ingress": addresses } }
            });
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => tracing::info!(
                    provider = NAME,
                    "published the address on {namespace}/{name}"
                ),
                Err(e) => tracing::warn!(
                    provider = NAME,
                    "ingressEndpoint: status of {namespace}/{name}: {e}"
                ),
            }
        }
    }

    /// The addresses to publish; `None` while the published Service has none yet.
    async fn addresses(
        &self,
        client: &Client,
    ) -> Result<Option<Vec<IngressLoadBalancerIngress>>, String> {
        match self {
            Target::Fixed { ip, hostname } => Ok(Some(vec![IngressLoadBalancerIngress {
                ip: (!ip.is_empty()).then(|| ip.clone()),
                hostname: (!hostname.is_empty()).then(|| hostname.clone()),
                ..Default::default()
            }])),
            Target::Service { namespace, name } => {
                let api: Api<Service> = Api::namespaced(client.clone(), namespace);
                let service = api
                    .get(name)
                    .await
                    .map_err(|e| format!("publishedService {namespace}/{name}: {e}"))?;
                let found: Vec<IngressLoadBalancerIngress> = service
                    .status
                    .and_then(|s| s.load_balancer)
                    .and_then(|lb| lb.ingress)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| IngressLoadBalancerIngress {
                        ip: i.ip,
                        hostname: i.hostname,
                        ..Default::default()
                    })
                    .collect();
                Ok((!found.is_empty()).then_some(found))
            }
        }
    }
}

/// What an Ingress's status says now.
fn current(ingress: &Ingress) -> Vec<IngressLoadBalancerIngress> {
    ingress
        .status
        .clone()
        .and_then(|s: IngressStatus| s.load_balancer)
        .and_then(|lb: IngressLoadBalancerStatus| lb.ingress)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_that_cannot_work_are_refused() {
        let t = |ip: &str, hostname: &str, svc: &str| {
            Target::new(&trafik_config::IngressEndpoint {
                ip: ip.into(),
                hostname: hostname.into(),
                published_service: svc.into(),
            })
        };
        assert!(t("", "", "").is_err());
        assert!(t("not-an-ip", "", "").is_err());
        assert!(t("", "", "no-slash").is_err());
        assert_eq!(
            t("", "", "kube-system/trafik").unwrap(),
            Target::Service {
                namespace: "kube-system".into(),
                name: "trafik".into()
            }
        );
        assert!(matches!(
            t("10.0.0.1", "lb.example.com", ""),
            Ok(Target::Fixed { .. })
        ));
    }
}
