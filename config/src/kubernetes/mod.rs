//! `[kubernetes]`'s translation, pure (no I/O): the Ingresses trafik serves, with the
//! Services, endpoints and Secrets they name, into frontends, backends and certificates,
//! named and built as Traefik 1.7's Kubernetes Ingress provider built them
//! (`../shared/reference/traefik-v1.md` §4.3). The provider (`src/provider/kubernetes.rs`)
//! watches the API and hands the objects over as the API returned them.
//!
//! * which Ingresses are trafik's: `class.rs`;
//! * one frontend and one backend per rule × path, both named `host+path` (v1's
//!   `baseName`, prefixed by the entry points and the priority when set), routes
//!   `Host:<host>` and the path's matcher: `rules.rs`;
//! * the servers of a Service port, from its EndpointSlices (else its Endpoints): `endpoints.rs`;
//! * `spec.tls` Secrets as `tls` items: `tls.rs`;
//! * the annotations: `annotations.rs` (read through the key-value layout's decoder,
//!   `decode.rs`, as `crate::labels` reads labels), auth and its Secrets `auth.rs`.
//!
//! An Ingress whose annotations cannot be used is left out with a problem naming it
//! (`namespace/name`) and the annotation; the others are served.

mod annotations;
mod auth;
mod class;
mod decode;
mod endpoints;
mod index;
mod ingress;
mod rules;
mod tls;

#[cfg(test)]
mod tests;

use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::model::Configuration;
/// Which Ingresses are trafik's: also what `[kubernetes.ingressEndpoint]` publishes to.
pub use class::is_ours;

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

/// Translates the cluster's Ingresses, in `namespace/name` order (v1 merged Ingresses
/// that build the same frontend name: the first one's options win, so the order is fixed).
pub fn translate(settings: &Settings, cluster: &Cluster) -> Translated {
    let mut out = Translated::default();
    let mut ours: Vec<&Ingress> = cluster
        .ingresses
        .iter()
        .filter(|i| class::is_ours(settings, &cluster.ingress_classes, i))
        .collect();
    ours.sort_by_key(|i| id(&i.metadata));
    let index = index::Index::new(cluster);
    let mut tls = tls::Certificates::default();
    for i in ours {
        ingress::add(settings, &index, i, &mut tls, &mut out);
    }
    out.configuration.tls = tls.into_items();
    // A Service's problem is found again by every path naming it: say it once.
    dedup(&mut out.problems);
    dedup(&mut out.warnings);
    out
}

/// Drops repeated lines, keeping the first of each in place.
fn dedup(lines: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    lines.retain(|l| seen.insert(l.clone()));
}

/// `namespace/name`, as problems name an object.
fn id(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}
