//! The cluster's objects looked up by `namespace/name` (EndpointSlices by the Service
//! they belong to), built once per translation: every path looks up its Service, its
//! endpoints and Secrets, and a scan per look-up made a large cluster quadratic.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Cluster, namespace};

/// The label an EndpointSlice names its Service with.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `namespace/name`.
type Key = String;

pub struct Index<'a> {
    services: HashMap<Key, &'a Service>,
    slices: HashMap<Key, Vec<&'a EndpointSlice>>,
    endpoints: HashMap<Key, &'a Endpoints>,
    secrets: HashMap<Key, &'a Secret>,
}

impl<'a> Index<'a> {
    pub fn new(cluster: &'a Cluster) -> Self {
        let mut slices: HashMap<Key, Vec<&'a EndpointSlice>> = HashMap::new();
        for s in &cluster.endpoint_slices {
            let service = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL));
            if let Some(service) = service {
                slices
                    .entry(format!("{}/{service}", namespace(&s.metadata)))
                    .or_default()
                    .push(s);
            }
        }
        Index {
            services: by_name(&cluster.services, |s| &s.metadata),
            slices,
            endpoints: by_name(&cluster.endpoints, |e| &e.metadata),
            secrets: by_name(&cluster.secrets, |s| &s.metadata),
        }
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<&'a Service> {
        self.services.get(&key(ns, name)).copied()
    }

    /// The EndpointSlices of the Service `ns/name` (labelled `kubernetes.io/service-name`).
    pub fn slices(&self, ns: &str, name: &str) -> &[&'a EndpointSlice] {
        self.slices.get(&key(ns, name)).map_or(&[], Vec::as_slice)
    }

    pub fn endpoints(&self, ns: &str, name: &str) -> Option<&'a Endpoints> {
        self.endpoints.get(&key(ns, name)).copied()
    }

    pub fn secret(&self, ns: &str, name: &str) -> Option<&'a Secret> {
        self.secrets.get(&key(ns, name)).copied()
    }
}

/// The first object of each `namespace/name` (the API has one; a double keeps the first).
fn by_name<T>(items: &[T], meta: impl Fn(&T) -> &ObjectMeta) -> HashMap<Key, &T> {
    let mut out = HashMap::new();
    for item in items {
        let m = meta(item);
        if let Some(name) = m.name.as_deref() {
            out.entry(format!("{}/{name}", namespace(m)))
                .or_insert(item);
        }
    }
    out
}

fn key(ns: &str, name: &str) -> Key {
    format!("{ns}/{name}")
}
