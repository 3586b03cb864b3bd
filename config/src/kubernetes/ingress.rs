//! One Ingress into frontends and backends (v1's `loadIngresses` loop body).
//!
//! The Ingress is built apart first and merged only when whole, so a problem found
//! halfway never leaves half an Ingress served. Merging follows v1: an Ingress that builds
//! a frontend name already built keeps the first one's options and adds its routes and
//! servers.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};

use super::annotations::{self, Annotations, IngressOptions};
use super::endpoints::{port_protocol, servers, service_port};
use super::rules::{base_name, check_host, check_path, host_rule, path_rule};
use super::tls::Certificates;
use super::{Cluster, Settings, Translated, find, id, namespace};
use crate::model::{Backend, Configuration, Frontend, LoadBalancer, Route};

/// v1's names for `spec.defaultBackend`.
pub const DEFAULT_BACKEND: &str = "global-default-backend";
pub const DEFAULT_FRONTEND: &str = "global-default-frontend";
/// The default backend's rule, and its priority: below every other frontend's (a
/// frontend's default priority is its rules' length, at least 1 character).
const CATCH_ALL: &str = "PathPrefix:/";
const LOWEST_PRIORITY: i64 = 1;

pub fn add(
    settings: &Settings,
    cluster: &Cluster,
    ingress: &Ingress,
    tls: &mut Certificates,
    out: &mut Translated,
) {
    let me = id(&ingress.metadata);
    let a = Annotations::of(&ingress.metadata);
    for key in a.unknown(&annotations::INGRESS_KNOWN) {
        out.warnings.push(format!(
            "ingress {me}: annotation {key} is not supported, ignored"
        ));
    }
    let o = match annotations::ingress_options(settings, &me, &a) {
        Ok(o) => o,
        Err(problems) => {
            out.problems.extend(problems);
            return;
        }
    };
    let Some(spec) = ingress.spec.as_ref() else {
        return;
    };
    out.problems
        .extend(tls.add(cluster, ingress, &o.frontend.entry_points));
    let ns = namespace(&ingress.metadata);
    let mut part = Configuration::default();
    if let Some(default) = spec.default_backend.as_ref() {
        match default.service.as_ref() {
            _ if out.configuration.frontends.contains_key(DEFAULT_FRONTEND) => {
                out.problems.push(format!(
                    "ingress {me}: spec.defaultBackend: {DEFAULT_FRONTEND} is already \
                     another Ingress's; this one's is left out"
                ));
            }
            None => out.warnings.push(format!(
                "ingress {me}: spec.defaultBackend names no Service (a resource backend is \
                 not supported); left out"
            )),
            Some(svc) => {
                if let Some((backend, protocol)) = target(cluster, &me, ns, svc, &o, out) {
                    let mut frontend = o.frontend.clone();
                    frontend.backend = DEFAULT_BACKEND.to_string();
                    if frontend.priority == 0 {
                        frontend.priority = LOWEST_PRIORITY;
                    }
                    frontend.routes.insert(
                        "/".to_string(),
                        Route {
                            rule: CATCH_ALL.to_string(),
                        },
                    );
                    let backend = build_backend(cluster, backend, &protocol);
                    part.frontends
                        .insert(DEFAULT_FRONTEND.to_string(), frontend);
                    part.backends.insert(DEFAULT_BACKEND.to_string(), backend);
                }
            }
        }
    }
    for rule in spec.rules.as_deref().unwrap_or(&[]) {
        let host = rule.host.as_deref().unwrap_or("");
        if !host.is_empty()
            && let Err(why) = check_host(host)
        {
            out.problems
                .push(format!("ingress {me}: {why}; its paths are left out"));
            continue;
        }
        let Some(http) = rule.http.as_ref() else {
            continue;
        };
        for p in &http.paths {
            let path = p.path.as_deref().unwrap_or("");
            if let Err(why) = check_path(path) {
                out.problems
                    .push(format!("ingress {me}: {why}; that path is left out"));
                continue;
            }
            let Some(svc) = p.backend.service.as_ref() else {
                out.warnings.push(format!(
                    "ingress {me}: path {host}{path} names no Service (a resource backend is \
                     not supported); left out"
                ));
                continue;
            };
            let Some((service, protocol)) = target(cluster, &me, ns, svc, &o, out) else {
                continue;
            };
            let name = base_name(host, path, &svc.name, &o);
            let frontend = part.frontends.entry(name.clone()).or_insert_with(|| {
                let mut f = o.frontend.clone();
                f.backend = name.clone();
                f
            });
            let rule = path_rule(path, &p.path_type, &o);
            if !rule.is_empty() {
                frontend.routes.insert(path.to_string(), Route { rule });
            }
            if !host.is_empty() {
                frontend
                    .routes
                    .entry(host.to_string())
                    .or_insert_with(|| Route {
                        rule: host_rule(host),
                    });
            }
            if frontend.routes.is_empty() {
                frontend.routes.insert(
                    "/".to_string(),
                    Route {
                        rule: CATCH_ALL.to_string(),
                    },
                );
            }
            let built = build_backend(cluster, service, &protocol);
            match part.backends.get_mut(&name) {
                Some(b) => b.servers.extend(built.servers),
                None => {
                    part.backends.insert(name, built);
                }
            }
        }
    }
    merge(part, &mut out.configuration);
}

/// The Service and port a backend names, and the servers' protocol; `None` (with a
/// warning naming the Ingress and the Service) when either does not exist.
fn target<'a>(
    cluster: &'a Cluster,
    me: &str,
    ns: &str,
    svc: &IngressServiceBackend,
    o: &IngressOptions,
    out: &mut Translated,
) -> Option<(Target<'a>, String)> {
    let Some(service) = find(&cluster.services, |s| &s.metadata, ns, &svc.name) else {
        out.warnings.push(format!(
            "ingress {me}: service {ns}/{} does not exist; its paths are left out",
            svc.name
        ));
        return None;
    };
    let number = svc.port.as_ref().and_then(|p| p.number);
    let port_name = svc.port.as_ref().and_then(|p| p.name.as_deref());
    let Some(port) = service_port(service, number, port_name) else {
        let asked = port_name
            .map(str::to_string)
            .or(number.map(|n| n.to_string()))
            .unwrap_or_else(|| "(none)".to_string());
        out.warnings.push(format!(
            "ingress {me}: service {ns}/{} has no port {asked}; its paths are left out",
            svc.name
        ));
        return None;
    };
    let protocol = o
        .protocol
        .clone()
        .unwrap_or_else(|| port_protocol(port).to_string());
    let found = servers(cluster, service, port, &protocol, 1);
    if found.is_empty() {
        out.warnings.push(format!(
            "ingress {me}: service {ns}/{} has no ready endpoint on port {}; served 503 \
             until it has",
            svc.name, port.port
        ));
    }
    Some((
        Target {
            service,
            servers: found,
        },
        protocol,
    ))
}

/// A Service port and its servers.
struct Target<'a> {
    #[allow(dead_code)]
    service: &'a Service,
    servers: std::collections::BTreeMap<String, crate::model::Server>,
}

fn build_backend(_cluster: &Cluster, target: Target<'_>, _protocol: &str) -> Backend {
    Backend {
        servers: target.servers,
        load_balancer: Some(LoadBalancer {
            method: "wrr".to_string(),
            ..LoadBalancer::default()
        }),
        ..Backend::default()
    }
}

/// v1's merge of Ingresses building the same names: the first frontend's options, every
/// route and server.
fn merge(part: Configuration, into: &mut Configuration) {
    for (name, frontend) in part.frontends {
        match into.frontends.get_mut(&name) {
            Some(existing) => add_routes(existing, frontend),
            None => {
                into.frontends.insert(name, frontend);
            }
        }
    }
    for (name, backend) in part.backends {
        match into.backends.get_mut(&name) {
            Some(existing) => {
                for (server, s) in backend.servers {
                    existing.servers.entry(server).or_insert(s);
                }
            }
            None => {
                into.backends.insert(name, backend);
            }
        }
    }
}

fn add_routes(existing: &mut Frontend, other: Frontend) {
    for (key, route) in other.routes {
        existing.routes.entry(key).or_insert(route);
    }
}
