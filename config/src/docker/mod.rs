//! `[docker]`'s translation, pure (no I/O): running containers and their `traefik.*`
//! labels into backends and frontends, named as Traefik 1.7's Docker provider named them:
//! * backend `backend-<traefik.backend or the container's name>` (normalised: runs of
//!   characters other than letters and digits become one `-`); under Compose the service
//!   name is `<service>_<project>`;
//! * frontend `frontend-<rule>-<index>` (normalised; index: the container's place among
//!   those served), route `route-frontend-<frontend>`; the rule is `traefik.frontend.rule`,
//!   else `Host:<name>.<domain>` (`Host:<service>.<project>.<domain>` under Compose), and a
//!   container with neither a rule nor a domain is not served (v1's filter);
//! * server `server-<container>-<md5 of its URL>`, `<protocol>://<address>:<port>`;
//! * segments `traefik.<segment>.port` / `.frontend.rule` / …: one backend
//!   `backend-<name>-<segment>` and frontend `frontend-<segment>-<name>-<segment>` each, the
//!   container's un-segmented labels as their defaults;
//! * every other label read as v1's label vocabulary (`crate::labels`).
//!
//! Only running containers, and only healthy ones when they have a health check. A
//! container whose labels cannot be used is left out with a problem naming it and the
//! label; the others are served.
//!
//! Swarm mode's services and their tasks come in as `Container`s too (`swarm`), named by
//! their service (`Container::service`), so they are translated by the same code.

pub mod payload;
pub mod swarm;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest, Md5};

use crate::labels::written::{self, go_bool};
use crate::model::{Configuration, Route, Server};
pub use payload::{Container, Port, parse_inspect};

/// What the translation needs of `[docker]`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub exposed_by_default: bool,
    pub domain: String,
    /// The default network to reach containers on (`traefik.docker.network` wins).
    pub network: String,
    /// The host's bound address and port instead of the container's own.
    pub use_bind_port_ip: bool,
    /// Only containers whose `traefik.tags` satisfy all of these are served.
    pub constraints: Vec<crate::constraints::Constraint>,
}

#[derive(Debug, Clone, Default)]
pub struct Translated {
    pub configuration: Configuration,
    /// Containers left out, one line each: `container web: label traefik.port: …`.
    pub problems: Vec<String>,
    /// Labels not read, containers without a port, networks not found.
    pub warnings: Vec<String>,
}

/// The labels that are the provider's own (not the shared label vocabulary's).
const OWN: [&str; 9] = [
    "enable",
    "port",
    "protocol",
    "weight",
    "backend",
    "domain",
    "tags",
    "docker.network",
    "backend.loadbalancer.swarm",
];

/// First components that are not a segment's name.
const ROOT_HEADS: [&str; 10] = [
    "enable",
    "port",
    "protocol",
    "weight",
    "backend",
    "domain",
    "tags",
    "docker",
    "frontend",
    "portindex",
];

const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// Containers in another's network namespace (`--network container:<name or id>`) have
/// none of their own: they are reached on that container's addresses, as v1 did (it
/// inspected the other container). One not among `containers` (not running) leaves them
/// without an address.
pub fn share_networks(containers: &mut [Container]) {
    let lookup: Vec<(String, String, String, BTreeMap<String, String>)> = containers
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.name.clone(),
                c.network_mode.clone(),
                c.networks.clone(),
            )
        })
        .collect();
    for c in containers.iter_mut() {
        let Some(other) = c.network_mode.strip_prefix("container:") else {
            continue;
        };
        let other = other.trim_start_matches('/');
        let found = lookup
            .iter()
            .find(|(id, name, _, _)| name == other || (other.len() >= 12 && id.starts_with(other)));
        if let Some((_, _, mode, networks)) = found {
            c.networks = networks.clone();
            if mode == "host" {
                c.network_mode = "host".to_string();
            }
        }
    }
}

pub fn translate(settings: &Settings, containers: &[Container]) -> Translated {
    let mut out = Translated::default();
    // v1: one frontend per service (and segment); scaled Compose services share it.
    let mut services_seen = BTreeSet::new();
    let mut index = 0usize;
    for container in containers {
        if !container.running {
            continue;
        }
        match one(settings, container, index) {
            Ok(None) => {}
            Ok(Some(built)) => {
                index += 1;
                for w in built.warnings {
                    let line = format!("{}: {w}", who(container));
                    if !out.warnings.contains(&line) {
                        out.warnings.push(line);
                    }
                }
                for unit in built.units {
                    let backend = out
                        .configuration
                        .backends
                        .entry(unit.backend_name.clone())
                        .or_insert(unit.backend);
                    backend.servers.insert(unit.server_name, unit.server);
                    if services_seen.insert(unit.service_key) {
                        out.configuration
                            .frontends
                            .insert(unit.frontend_name, unit.frontend);
                    }
                }
            }
            Err(problems) => {
                for p in problems {
                    let (kind, name) = who_parts(container);
                    let line = format!("{kind} {name}: {p}; {kind} left out");
                    // A Swarm service's tasks share its labels: one line for the service.
                    if !out.problems.contains(&line) {
                        out.problems.push(line);
                    }
                }
            }
        }
    }
    out
}

/// One segment's backend, frontend and server.
struct Unit {
    service_key: String,
    backend_name: String,
    backend: crate::model::Backend,
    frontend_name: String,
    frontend: crate::model::Frontend,
    server_name: String,
    server: Server,
}

struct Built {
    units: Vec<Unit>,
    warnings: Vec<String>,
}

/// `Ok(None)`: not served (disabled, unhealthy, no rule, no port).
fn one(settings: &Settings, c: &Container, index: usize) -> Result<Option<Built>, Vec<String>> {
    let traefik: BTreeMap<String, (String, String)> = c
        .labels
        .iter()
        .filter_map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let rest = lower.strip_prefix("traefik.")?;
            Some((rest.to_string(), (k.clone(), v.clone())))
        })
        .collect();
    let enable = match traefik.get("enable") {
        None => settings.exposed_by_default,
        Some((label, value)) => match go_bool(value) {
            Some(b) => b,
            None => return Err(vec![format!("label {label}: invalid boolean {value:?}")]),
        },
    };
    if !enable {
        return Ok(None);
    }
    let tags: Vec<String> = traefik
        .get("tags")
        .map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if crate::constraints::failing(&settings.constraints, &tags).is_some() {
        return Ok(None);
    }
    if c.health.as_deref().is_some_and(|h| h != "healthy") {
        return Ok(None);
    }
    let (root, segments) = written::split_segments(&traefik, &ROOT_HEADS, &SEGMENT_KEYS);
    let service = service_name(c);
    let mut units = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let plan: Vec<(String, Labels)> = if segments.is_empty() {
        vec![(String::new(), root.clone())]
    } else {
        segments
            .into_iter()
            .map(|(name, own)| {
                let mut merged = root.clone();
                merged.extend(own);
                (name, merged)
            })
            .collect()
    };
    for (segment, seg_labels) in &plan {
        match unit(settings, c, &service, segment, seg_labels, &root, index) {
            Ok(Some((u, w))) => {
                units.push(u);
                warnings.extend(w);
            }
            Ok(None) => return Ok(None),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Built { units, warnings }))
}

/// Segment labels (`<segment>.port`, `<segment>.frontend.rule`, …) apart from the rest;
/// keys are lower case with the segment removed, values keep the label as written.
type Labels = written::Written;

/// A segment's own keys (`<segment>.<key>`), besides `frontend.*` and `backend.*`.
const SEGMENT_KEYS: [&str; 5] = ["port", "protocol", "weight", "backend", "domain"];

type UnitOut = Option<(Unit, Vec<String>)>;

fn unit(
    settings: &Settings,
    c: &Container,
    service: &str,
    segment: &str,
    seg: &Labels,
    root: &Labels,
    index: usize,
) -> Result<UnitOut, Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let get = |k: &str| seg.get(k).map(|(l, v)| (l.as_str(), v.trim()));
    let port = match get("port") {
        Some((label, v)) => match v.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                problems.push(format!("label {label}: invalid port {v:?}"));
                None
            }
        },
        None => c.ports.first().map(|p| p.port),
    };
    let protocol = match get("protocol") {
        None => "http".to_string(),
        Some((_, v)) if matches!(v, "http" | "https" | "h2c") => v.to_string(),
        Some((label, v)) => {
            problems.push(format!("label {label}: {v:?} is not http, https or h2c"));
            String::new()
        }
    };
    let weight = match get("weight") {
        None => 1,
        Some((label, v)) => v.parse::<i64>().unwrap_or_else(|_| {
            problems.push(format!("label {label}: invalid integer {v:?}"));
            1
        }),
    };
    // The shared vocabulary: everything but the provider's own labels.
    let decoded = written::decode_shared(seg, &OWN, &mut problems);
    let domain = get("domain")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| settings.domain.clone());
    let rule = match decoded.as_ref().and_then(|d| d.rule.clone()) {
        Some(rule) => rule,
        None => default_rule(c, &domain),
    };
    if !rule.is_empty()
        && let Err(e) = crate::rule::parse::parse(&rule)
    {
        let label = seg
            .get("frontend.rule")
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| "traefik.frontend.rule".to_string());
        problems.push(format!("label {label}: {e}"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(decoded) = decoded else {
        return Ok(None);
    };
    if rule.is_empty() {
        // v1's filter: no rule and no domain to make one.
        return Ok(None);
    }
    let Some(port) = port else {
        // v1's filter: no exposed port and no `traefik.port` (a database, say).
        return Ok(None);
    };
    let network = root
        .get("docker.network")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| settings.network.clone());
    let (host, host_port) = match address(settings, c, port, &network, &mut warnings) {
        Some(a) => a,
        None => {
            return Err(vec![
                "no address to reach it on (no network with an IP address)".to_string(),
            ]);
        }
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let url = format!("{protocol}://{host}:{host_port}");
    let backend_label = get("backend").map(|(_, v)| v.to_string());
    let backend_base = if segment.is_empty() {
        normalize(backend_label.as_deref().unwrap_or(service))
    } else {
        normalize(&format!(
            "{service}-{}",
            backend_label.as_deref().unwrap_or(segment)
        ))
    };
    let frontend_base = if segment.is_empty() {
        normalize(&format!("{rule}-{index}"))
    } else {
        normalize(&format!("{segment}-{backend_base}"))
    };
    let backend_name = format!("backend-{backend_base}");
    let frontend_name = format!("frontend-{frontend_base}");
    let mut frontend = decoded.frontend;
    frontend.backend = backend_name.clone();
    frontend
        .routes
        .insert(format!("route-{frontend_name}"), Route { rule });
    warnings.extend(
        decoded
            .unsupported
            .iter()
            .map(|l| format!("label traefik.{l} not supported, ignored")),
    );
    Ok(Some((
        Unit {
            service_key: format!("{service}\u{0}{segment}"),
            backend_name,
            backend: decoded.backend,
            frontend_name,
            frontend,
            server_name: format!(
                "server-{}",
                normalize(&format!("{}-{}", c.name, md5_hex(&url)))
            ),
            server: Server { url, weight },
        },
        warnings,
    )))
}

/// v1's default rule: `Host:<service>.<project>.<domain>` under Compose, else
/// `Host:<name>.<domain>`; empty without a domain (outside Compose).
fn default_rule(c: &Container, domain: &str) -> String {
    let domain = if domain.is_empty() {
        String::new()
    } else {
        format!(".{domain}")
    };
    if let (Some(service), Some(project)) =
        (c.labels.get(COMPOSE_SERVICE), c.labels.get(COMPOSE_PROJECT))
    {
        return format!(
            "Host:{}{domain}",
            sub_domain(&format!("{service}.{project}"))
        );
    }
    if domain.is_empty() {
        return String::new();
    }
    format!("Host:{}{domain}", sub_domain(&service_name(c)))
}

/// The address and port to reach the container's `port` on: the host's binding with
/// `usebindportip` (unless bound to every address), else the container's IP on the chosen
/// network, `127.0.0.1` in host networking, or its only (first) network.
fn address(
    settings: &Settings,
    c: &Container,
    port: u16,
    network: &str,
    warnings: &mut Vec<String>,
) -> Option<(String, u16)> {
    if settings.use_bind_port_ip {
        let binding = c
            .ports
            .iter()
            .find(|p| p.port == port)
            .and_then(|p| p.bindings.first());
        match binding {
            Some((ip, host_port)) if !ip.is_empty() && ip != "0.0.0.0" && ip != "::" => {
                if let Ok(hp) = host_port.parse::<u16>() {
                    return Some((ip.clone(), hp));
                }
            }
            _ => warnings.push(format!(
                "no binding of port {port} to one host address: its own address is used"
            )),
        }
    }
    if !network.is_empty() {
        match c.networks.get(network).filter(|ip| !ip.is_empty()) {
            Some(ip) => return Some((ip.clone(), port)),
            None => warnings.push(format!(
                "not on network {network:?}: its first network is used"
            )),
        }
    }
    if c.network_mode == "host" {
        return Some(("127.0.0.1".to_string(), port));
    }
    c.networks
        .values()
        .find(|ip| !ip.is_empty())
        .map(|ip| (ip.clone(), port))
}

/// `<service>_<project>` under Compose, else the Swarm service's name, else the
/// container's name.
fn service_name(c: &Container) -> String {
    match (c.labels.get(COMPOSE_SERVICE), c.labels.get(COMPOSE_PROJECT)) {
        (Some(s), Some(p)) => format!("{s}_{p}"),
        _ if !c.service.is_empty() => c.service.clone(),
        _ => c.name.clone(),
    }
}

/// How problems and warnings name it: `container web`, or `service web` in Swarm mode
/// (a label is the service's, not its tasks').
fn who_parts(c: &Container) -> (&'static str, &str) {
    if c.service.is_empty() {
        ("container", &c.name)
    } else {
        ("service", &c.service)
    }
}

fn who(c: &Container) -> String {
    let (kind, name) = who_parts(c);
    format!("{kind} {name}")
}

/// v1's `getSubDomain`: `/` and `_` become `-`.
fn sub_domain(name: &str) -> String {
    name.trim_start_matches('/').replace(['/', '_'], "-")
}

pub use crate::labels::written::normalize;

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
