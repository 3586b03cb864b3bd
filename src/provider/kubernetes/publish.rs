//! `[kubernetes.ingressEndpoint]`: the address clients reach trafik at, written into the
//! `status.loadBalancer.ingress` of every Ingress trafik serves (what `kubectl get ingress`
//! shows as ADDRESS, and what external-dns reads). Only when the table is set; the status
//! subresource is PATCHed only where it differs, so the MODIFIED event that follows changes
//! nothing and the loop settles.

use std::collections::HashMap;

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

    /// Writes the address into each served Ingress whose status says otherwise, unless
    /// trafik already wrote it over the version the cluster still shows. Failures are
    /// logged (they do not change what is served) and retried at the next change.
    pub async fn publish(
        &self,
        client: &Client,
        settings: &Settings,
        cluster: &Cluster,
        published: &mut Published,
    ) {
        let addresses = match self.addresses(client).await {
            Ok(Some(a)) => a,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(provider = NAME, "ingressEndpoint: {e}");
                return;
            }
        };
        published.forget_all_but(cluster);
        for ingress in &cluster.ingresses {
            if !is_ours(settings, &cluster.ingress_classes, ingress)
                || current(ingress) == addresses
                || published.already(ingress, &addresses)
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
                Ok(_) => {
                    published.wrote(ingress, &addresses);
                    tracing::info!(
                        provider = NAME,
                        "published the address on {namespace}/{name}"
                    )
                }
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

/// What trafik last wrote into each Ingress's status (by `namespace/name`), with the
/// `resourceVersion` of the Ingress it wrote over. Until the watch brings the version the
/// write made, the cluster still shows the old status: a translation in between (an
/// EndpointSlice's change, say) would otherwise PATCH the same address again.
#[derive(Default)]
pub struct Published(HashMap<String, (String, Vec<IngressLoadBalancerIngress>)>);

impl Published {
    /// Whether `addresses` were already written over the version of `ingress` seen now.
    fn already(&self, ingress: &Ingress, addresses: &[IngressLoadBalancerIngress]) -> bool {
        let Some(version) = ingress.resource_version() else {
            return false;
        };
        self.0
            .get(&key(ingress))
            .is_some_and(|(over, wrote)| *over == version && wrote == addresses)
    }

    fn wrote(&mut self, ingress: &Ingress, addresses: &[IngressLoadBalancerIngress]) {
        if let Some(version) = ingress.resource_version() {
            self.0.insert(key(ingress), (version, addresses.to_vec()));
        }
    }

    /// Drops what was written into Ingresses that are gone, so the memory stays bounded.
    fn forget_all_but(&mut self, cluster: &Cluster) {
        if self.0.is_empty() {
            return;
        }
        let present: std::collections::HashSet<String> =
            cluster.ingresses.iter().map(key).collect();
        self.0.retain(|k, _| present.contains(k));
    }
}

fn key(ingress: &Ingress) -> String {
    format!(
        "{}/{}",
        ingress.namespace().unwrap_or_default(),
        ingress.name_any()
    )
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

    fn ingress(name: &str, version: &str) -> Ingress {
        let mut i = Ingress::default();
        i.metadata.namespace = Some("default".into());
        i.metadata.name = Some(name.into());
        i.metadata.resource_version = Some(version.into());
        i
    }

    fn address(ip: &str) -> Vec<IngressLoadBalancerIngress> {
        vec![IngressLoadBalancerIngress {
            ip: Some(ip.into()),
            ..Default::default()
        }]
    }

    #[test]
    fn a_write_is_not_repeated_until_the_ingress_changes_or_the_address_does() {
        let mut published = Published::default();
        let seen = ingress("web", "7");
        assert!(!published.already(&seen, &address("192.0.2.10")));
        published.wrote(&seen, &address("192.0.2.10"));
        // The watch has not brought the write's version yet: no second PATCH.
        assert!(published.already(&seen, &address("192.0.2.10")));
        // Another address, or a newer version (someone else wrote the status): write.
        assert!(!published.already(&seen, &address("192.0.2.11")));
        assert!(!published.already(&ingress("web", "9"), &address("192.0.2.10")));
        // Another Ingress of another name is not covered.
        assert!(!published.already(&ingress("api", "7"), &address("192.0.2.10")));
        // Without a version there is nothing to compare: always write.
        let mut unversioned = ingress("web", "7");
        unversioned.metadata.resource_version = None;
        assert!(!published.already(&unversioned, &address("192.0.2.10")));
    }

    #[test]
    fn what_was_written_into_a_deleted_ingress_is_forgotten() {
        let mut published = Published::default();
        published.wrote(&ingress("web", "7"), &address("192.0.2.10"));
        published.wrote(&ingress("api", "3"), &address("192.0.2.10"));
        let cluster = Cluster {
            ingresses: vec![ingress("api", "4")],
            ..Default::default()
        };
        published.forget_all_but(&cluster);
        assert_eq!(published.0.len(), 1);
        assert!(published.0.contains_key("default/api"));
    }
}
