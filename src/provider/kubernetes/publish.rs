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
use trafik_config::kubernetes::{CONTROLLER, Cluster, Settings};

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
            if !served(settings, cluster, ingress) || current(ingress) == addresses {
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

/// The annotation v1 read the class from.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Whether trafik serves this Ingress by its class. The same rule as the translation's
/// (`trafik_config::kubernetes`'s `class::is_ours`, private to it; the lead may make that
/// one public and call it here): the annotation (empty `ingressClass`: `traefik`; else that
/// class), else `spec.ingressClassName` naming an IngressClass of trafik's controller (with
/// `ingressClass` set, of that name) or named as the annotation would be, else no class:
/// served with `ingressClass` empty, or when trafik's IngressClass is the default.
pub fn served(settings: &Settings, cluster: &Cluster, ingress: &Ingress) -> bool {
    let wanted = settings.ingress_class.trim();
    let named_ours = |class: &str| {
        if wanted.is_empty() {
            class == "traefik"
        } else {
            class == wanted
        }
    };
    let trafiks = |c: &k8s_openapi::api::networking::v1::IngressClass| {
        c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
    };
    let annotation = ingress
        .annotations()
        .get(CLASS_ANNOTATION)
        .map(|c| c.trim())
        .filter(|c| !c.is_empty());
    if let Some(class) = annotation {
        return named_ours(class);
    }
    let class_name = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    match class_name {
        Some(name) => {
            let controlled = cluster
                .ingress_classes
                .iter()
                .any(|c| c.name_any() == name && trafiks(c));
            (controlled && (wanted.is_empty() || wanted == name)) || named_ours(name)
        }
        None => {
            wanted.is_empty()
                || cluster.ingress_classes.iter().any(|c| {
                    trafiks(c)
                        && c.name_any() == wanted
                        && c.annotations()
                            .get(DEFAULT_CLASS_ANNOTATION)
                            .map(|v| v.trim())
                            == Some("true")
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{IngressClass, IngressClassSpec, IngressSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn ingress(annotation: Option<&str>, class_name: Option<&str>) -> Ingress {
        Ingress {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                annotations: annotation
                    .map(|a| BTreeMap::from([(CLASS_ANNOTATION.to_string(), a.to_string())])),
                ..Default::default()
            },
            spec: Some(IngressSpec {
                ingress_class_name: class_name.map(String::from),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn cluster() -> Cluster {
        let class = |name: &str, controller: &str| IngressClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(IngressClassSpec {
                controller: Some(controller.into()),
                ..Default::default()
            }),
        };
        Cluster {
            ingress_classes: vec![
                class("trafik", CONTROLLER),
                class("nginx", "k8s.io/ingress-nginx"),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn only_trafiks_ingresses_are_published_to() {
        let default = Settings::default();
        let c = cluster();
        assert!(served(&default, &c, &ingress(None, None)));
        assert!(served(&default, &c, &ingress(Some("traefik"), None)));
        assert!(!served(&default, &c, &ingress(Some("nginx"), None)));
        assert!(served(&default, &c, &ingress(None, Some("trafik"))));
        assert!(!served(&default, &c, &ingress(None, Some("nginx"))));
        assert!(!served(&default, &c, &ingress(None, Some("missing"))));
        let internal = Settings {
            ingress_class: "internal".into(),
            ..Default::default()
        };
        assert!(served(&internal, &c, &ingress(Some("internal"), None)));
        assert!(!served(&internal, &c, &ingress(None, None)));
    }

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
