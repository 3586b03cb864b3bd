//! The servers behind one port of a Service: its EndpointSlices' ready endpoints
//! (`discovery.k8s.io/v1`), else its Endpoints' addresses (core/v1, what v1 read), else
//! for an `ExternalName` Service the external name itself.
//!
//! Servers are named as v1 named them: the endpoint's `targetRef` (the pod), else the URL.

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::index::Index;
use super::namespace;
use crate::model::{Server, SmallMap};

/// The port of `service` an Ingress backend names: by number, or by the port's name.
pub fn service_port<'a>(
    service: &'a Service,
    number: Option<i32>,
    name: Option<&str>,
) -> Option<&'a ServicePort> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    ports.iter().find(|p| {
        number.is_some_and(|n| n == p.port)
            || name.is_some_and(|n| !n.is_empty() && p.name.as_deref() == Some(n))
    })
}

/// v1's protocol for a port: `https` for 443 or a port whose name starts with `https`.
pub fn port_protocol(port: &ServicePort) -> &'static str {
    if port.port == 443 || port.name.as_deref().unwrap_or("").starts_with("https") {
        "https"
    } else {
        "http"
    }
}

/// The servers of `port` of `service` (each of weight `weight`); empty when the Service
/// has no ready endpoint on that port.
pub fn servers(
    cluster: &Index<'_>,
    service: &Service,
    port: &ServicePort,
    protocol: &str,
    weight: i64,
) -> SmallMap<String, Server> {
    let mut out = SmallMap::new();
    let ns = namespace(&service.metadata);
    let name = service.metadata.name.as_deref().unwrap_or("");
    let spec = service.spec.as_ref();
    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        let host = spec.and_then(|s| s.external_name.as_deref()).unwrap_or("");
        if host.is_empty() {
            return out;
        }
        let mut url = format!("{protocol}://{host}");
        if port.port != 80 && port.port != 443 {
            url = format!("{url}:{}", port.port);
        }
        out.insert(url.clone(), Server { url, weight });
        return out;
    }
    let port_name = port.name.as_deref().unwrap_or("");
    let target = match &port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(_)) => None,
        // Kubernetes defaults targetPort to the port.
        None => Some(port.port),
    };
    let slices = cluster.slices(ns, name);
    if !slices.is_empty() {
        for slice in slices {
            let ports = slice.ports.as_deref().unwrap_or(&[]);
            // The slice names its ports as the Service does; an unnamed single port, or
            // a numeric targetPort, also matches by number.
            let number = ports
                .iter()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                .or_else(|| ports.iter().find(|p| target.is_some() && p.port == target))
                .and_then(|p| p.port);
            let Some(number) = number else { continue };
            for endpoint in slice.endpoints.as_deref().unwrap_or(&[]) {
                // The API: an unknown readiness is to be read as ready.
                let ready = endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true);
                // Addresses are fungible: the API lets clients use the first only.
                let (true, Some(address)) = (ready, endpoint.addresses.first()) else {
                    continue;
                };
                let pod = endpoint.target_ref.as_ref().and_then(|r| r.name.as_deref());
                add(&mut out, protocol, address, number, pod, weight);
            }
        }
        return out;
    }
    let Some(endpoints) = cluster.endpoints(ns, name) else {
        return out;
    };
    for subset in endpoints.subsets.as_deref().unwrap_or(&[]) {
        let ports = subset.ports.as_deref().unwrap_or(&[]);
        // v1's `endpointPortNumber`: names must correspond; no ports at all: the port.
        let number = if ports.is_empty() {
            Some(port.port)
        } else {
            ports
                .iter()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name)
                .map(|p| p.port)
        };
        let Some(number) = number else { continue };
        for address in subset.addresses.as_deref().unwrap_or(&[]) {
            let pod = address.target_ref.as_ref().and_then(|r| r.name.as_deref());
            add(&mut out, protocol, &address.ip, number, pod, weight);
        }
    }
    out
}

fn add(
    out: &mut SmallMap<String, Server>,
    protocol: &str,
    address: &str,
    port: i32,
    pod: Option<&str>,
    weight: i64,
) {
    // An address is an IP or a DNS name (FQDN slices); anything else would change the URL.
    if address.is_empty()
        || !address
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:-".contains(c))
    {
        return;
    }
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    let url = format!("{protocol}://{host}:{port}");
    let mut name = pod.filter(|p| !p.is_empty()).unwrap_or(&url).to_string();
    // One pod on two addresses (two slices, dual stack): keep both.
    if out.get(&name).is_some_and(|s| s.url != url) {
        name = url.clone();
    }
    out.insert(name, Server { url, weight });
}
