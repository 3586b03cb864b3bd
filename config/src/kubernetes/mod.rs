//! `[kubernetes]`'s translation, pure (no I/O): the Ingresses trafik serves, with the
//! Services, endpoints and Secrets they name, into frontends, backends and certificates,
//! named and built as Traefik 1.7's Kubernetes Ingress provider built them
//! (`../shared/reference/traefik-v1.md` §4.3). The provider (`src/provider/kubernetes.rs`)
//! watches the API and hands the objects over as the API returned them.
//!
//! An Ingress whose annotations cannot be used is left out with a problem naming it
//! (`namespace/name`) and the annotation; the others are served.

use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::model::Configuration;

/// The controller name an `IngressClass` names to be trafik's (as Traefik's).
pub const CONTROLLER: &str = "traefik.io/ingress-controller";

/// What the translation needs of `[kubernetes]`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `ingressClass`: empty serves Ingresses without a class or of class `traefik`.
    pub ingress_class: String,
    pub disable_pass_host_headers: bool,
    pub enable_pass_tls_cert: bool,
}

/// Everything the provider watches, as the API returned it (already limited to the
/// watched namespaces and label selector).
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub ingresses: Vec<Ingress>,
    pub ingress_classes: Vec<IngressClass>,
    pub services: Vec<Service>,
    /// `discovery.k8s.io/v1`; when the API has none, `endpoints` is read instead.
    pub endpoint_slices: Vec<EndpointSlice>,
    pub endpoints: Vec<Endpoints>,
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone, Default)]
pub struct Translated {
    /// Frontends, backends, and `spec.tls` certificates as `tls` items.
    pub configuration: Configuration,
    /// Ingresses left out, one line each: `ingress default/web: annotation …: …`.
    pub problems: Vec<String>,
    /// What was not read (an unknown annotation, a Service without endpoints).
    pub warnings: Vec<String>,
}

/// Translates the cluster's Ingresses.
pub fn translate(_settings: &Settings, _cluster: &Cluster) -> Translated {
    Translated::default()
}
