//! One Ingress into frontends and backends (v1's `loadIngresses` loop body).
//!
//! The Ingress is built apart first and merged only when whole, so a problem found
//! halfway never leaves half an Ingress served. Merging follows v1: an Ingress that builds
//! a frontend name already built keeps the first one's options and adds its routes and
//! servers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};

use super::annotations::{self, Annotations, IngressOptions, SERVICE_KNOWN};
use super::endpoints::{port_protocol, servers, service_port};
use super::index::Index;
use super::rules::{base_name, check_host, check_path, host_rule, path_rule};
use super::tls::Certificates;
use super::{Settings, Translated, id, namespace};
use crate::model::{Backend, Configuration, Frontend, Redirect, Route, Server};

/// v1's names for `spec.defaultBackend`.
pub const DEFAULT_BACKEND: &str = "global-default-backend";
pub const DEFAULT_FRONTEND: &str = "global-default-frontend";
/// The default backend's rule, and its priority: below every other frontend's (a
/// frontend's default priority is its rules' length, at least 1 character).
const CATCH_ALL: &str = "PathPrefix:/";
const LOWEST_PRIORITY: i64 = 1;
/// v1's unit of `service-weights`: 100% = 100000.
const WHOLE: i64 = 100_000;

/// One path of the Ingress, resolved to its Service's servers.
struct PathTarget<'a> {
    host: &'a str,
    path: &'a str,
    path_type: &'a str,
    service: &'a str,
    backend: Backend,
}

pub fn add(
    settings: &Settings,
    cluster: &Index<'_>,
    ingress: &Ingress,
    tls: &mut Certificates,
    out: &mut Translated,
) {
    let me = id(&ingress.metadata);
    let ns = namespace(&ingress.metadata);
    let a = Annotations::of(&ingress.metadata);
    for key in a.unknown(&annotations::ingress_known()) {
        let on_service = SERVICE_KNOWN
            .iter()
            .any(|s| key.ends_with(&format!("/{s}")));
        let why = if on_service {
            "is read on Services, not Ingresses; ignored"
        } else {
            "is not supported; ignored"
        };
        out.warnings
            .push(format!("ingress {me}: annotation {key} {why}"));
    }
    let o = match annotations::ingress_options(settings, cluster, ns, &me, &a, &mut out.warnings) {
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
                if let Some(backend) = target(cluster, &me, ns, svc, &o, out) {
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
                    if let Some(root) = &o.app_root {
                        frontend.redirect = Some(Box::new(app_root_redirect(&o, "", root)));
                    }
                    part.frontends
                        .insert(DEFAULT_FRONTEND.to_string(), frontend);
                    part.backends.insert(DEFAULT_BACKEND.to_string(), backend);
                }
            }
        }
    }
    let mut targets = Vec::new();
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
            if let Some(backend) = target(cluster, &me, ns, svc, &o, out) {
                targets.push(PathTarget {
                    host,
                    path,
                    path_type: &p.path_type,
                    service: &svc.name,
                    backend,
                });
            }
        }
    }
    if let Some(weights) = &o.service_weights {
        match apply_weights(weights, &mut targets) {
            Ok(()) => {}
            Err(why) => {
                out.problems.push(format!(
                    "ingress {me}: annotation ingress.kubernetes.io/service-weights: {why}"
                ));
                return;
            }
        }
    }
    for t in targets {
        let name = base_name(t.host, t.path, t.service, &o);
        let frontend = part.frontends.entry(name.clone()).or_insert_with(|| {
            let mut f = o.frontend.clone();
            f.backend = name.clone();
            if let Some(root) = &o.app_root
                && (t.path == "/" || t.path.is_empty())
            {
                f.redirect = Some(Box::new(app_root_redirect(&o, t.host, root)));
            }
            f
        });
        let rule = path_rule(t.path, t.path_type, &o);
        if !rule.is_empty() {
            frontend.routes.insert(t.path.to_string(), Route { rule });
        }
        if !t.host.is_empty() {
            frontend
                .routes
                .get_or_insert_with(t.host.to_string(), || Route {
                    rule: host_rule(t.host),
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
        match part.backends.get_mut(&name) {
            Some(b) => b.servers.extend(t.backend.servers),
            None => {
                part.backends.insert(name, t.backend);
            }
        }
    }
    merge(part, &mut out.configuration);
}

/// The backend (options and servers) of the Service port a path names; `None`, with a
/// warning naming the Ingress and the Service, when either does not exist, or with a
/// problem when the Service's annotations cannot be used.
fn target(
    cluster: &Index<'_>,
    me: &str,
    ns: &str,
    svc: &IngressServiceBackend,
    o: &IngressOptions,
    out: &mut Translated,
) -> Option<Backend> {
    let Some(service) = cluster.service(ns, &svc.name) else {
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
    let mut backend = service_backend(me, service, out)?;
    let protocol = o
        .protocol
        .clone()
        .unwrap_or_else(|| port_protocol(port).to_string());
    backend.servers = servers(cluster, service, port, &protocol, 1);
    if backend.servers.is_empty() {
        out.warnings.push(format!(
            "ingress {me}: service {ns}/{} has no ready endpoint on port {}; served 503 \
             until it has",
            svc.name, port.port
        ));
    }
    Some(backend)
}

/// A Service's annotations as backend options; `None` with a problem when they cannot be
/// used (the paths naming it are left out).
fn service_backend(me: &str, service: &Service, out: &mut Translated) -> Option<Backend> {
    let svc = id(&service.metadata);
    let a = Annotations::of(&service.metadata);
    let mut warnings = Vec::new();
    for key in a.unknown(&SERVICE_KNOWN) {
        warnings.push(format!(
            "annotation {key} is not read on Services (v1 read it nowhere or on Ingresses); \
             ignored"
        ));
    }
    let result = annotations::service_options(&a, &mut warnings);
    for w in warnings {
        out.warnings
            .push(format!("ingress {me}: service {svc}: {w}"));
    }
    match result {
        Ok(backend) => Some(backend),
        Err(problems) => {
            for (key, why) in problems {
                out.problems.push(format!(
                    "ingress {me}: service {svc}: annotation {key}: {why}; its paths are left out"
                ));
            }
            None
        }
    }
}

/// v1's `app-root`: a redirect of the host's root to `/<app-root>`. v1 built the regex
/// from the frontend's name, which a priority or entry-point prefix broke and which never
/// matched for the default backend; trafik matches the request URL's root on the host
/// (any host for the default backend) and keeps the scheme, host and port.
fn app_root_redirect(o: &IngressOptions, host: &str, root: &str) -> Redirect {
    let host = if host.is_empty() {
        "[^/]+".to_string()
    } else {
        format!("{}(?::[0-9]+)?", regex::escape(host))
    };
    Redirect {
        regex: format!("^(https?://{host})/$"),
        replacement: format!("$1/{}", root.trim_start_matches('/')),
        permanent: o.redirect_permanent,
        ..Redirect::default()
    }
}

/// v1's `service-weights`: per host and path, the Services named get their share, the
/// others split what is left; a Service's share is split among its servers.
fn apply_weights(
    weights: &BTreeMap<String, i64>,
    targets: &mut [PathTarget<'_>],
) -> Result<(), String> {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        groups
            .entry((t.host.to_string(), t.path.to_string()))
            .or_default()
            .push(i);
    }
    for ((host, path), members) in groups {
        let named: i64 = members
            .iter()
            .filter_map(|&i| weights.get(targets[i].service))
            .sum();
        if named > WHOLE {
            return Err(format!(
                "the shares of {host}{path} add up to more than 100%"
            ));
        }
        let rest: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| !weights.contains_key(targets[i].service))
            .collect();
        let rest_servers: i64 = rest
            .iter()
            .map(|&i| targets[i].backend.servers.len() as i64)
            .sum();
        for &i in &members {
            let t = &mut targets[i];
            let (share, count) = match weights.get(t.service) {
                Some(&w) => (w, t.backend.servers.len() as i64),
                None => (WHOLE - named, rest_servers),
            };
            let each = if count == 0 { 0 } else { share / count };
            for s in t.backend.servers.values_mut() {
                *s = Server {
                    url: std::mem::take(&mut s.url),
                    weight: each,
                };
            }
        }
    }
    Ok(())
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
                    existing.servers.get_or_insert_with(server, || s);
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
        existing.routes.get_or_insert_with(key, || route);
    }
}
