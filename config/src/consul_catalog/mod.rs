//! `[consulCatalog]`'s translation, pure (no I/O): services registered in Consul, with
//! their instances and checks, into backends and frontends, as v1's Consul Catalog
//! provider did. For each service with at least one healthy instance:
//! * backend `backend-<name>` (lower case), one server per instance whose checks all pass:
//!   `<protocol>://<ServiceAddress or node Address>:<ServicePort>`, weight and protocol from
//!   that instance's `<prefix>.weight` / `<prefix>.protocol` tags;
//! * frontend `frontend-<name>`, route `route-host-<name>`, its rule from the service's
//!   `<prefix>.frontend.rule` tag or `frontEndRule` (templates: `rule_template.rs`);
//! * every other `<prefix>.…` tag read as v1's labels (`crate::labels`).
//!
//! A service whose tags cannot be used is left out, with a problem naming the service and
//! the tag; the others are served.

pub mod payload;
pub mod rule_template;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::labels;
use crate::model::{Configuration, Route, Server};
pub use payload::{Instance, parse_health, parse_services};
pub use rule_template::{Context, RuleTemplate};

/// What the translation needs of `[consulCatalog]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The tags' prefix, without the dot (`traefik`).
    pub prefix: String,
    pub exposed_by_default: bool,
    pub domain: String,
    pub front_end_rule: RuleTemplate,
    pub strict_checks: bool,
}

/// One service as read from Consul: the catalog's tags, and its instances.
#[derive(Debug, Clone, Default)]
pub struct ServiceState {
    pub tags: Vec<String>,
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone, Default)]
pub struct Translated {
    pub configuration: Configuration,
    /// Services left out, one line each: `service web: tag traefik.frontend.priority: …`.
    pub problems: Vec<String>,
    /// Tags not read (v1 had them), one line per service.
    pub warnings: Vec<String>,
}

/// The tags that are the server's, read per instance.
const SERVER_TAGS: [&str; 3] = ["weight", "protocol", "backend.weight"];

pub fn translate(settings: &Settings, services: &BTreeMap<String, ServiceState>) -> Translated {
    let mut out = Translated::default();
    for (name, service) in services {
        match one(settings, name, service) {
            Ok(Some((backend, frontend, unsupported))) => {
                if !unsupported.is_empty() {
                    out.warnings.push(format!(
                        "service {name}: tags not supported, ignored: {}",
                        unsupported.join(", ")
                    ));
                }
                out.configuration
                    .backends
                    .insert(backend_name(name), backend);
                out.configuration
                    .frontends
                    .insert(format!("frontend-{name}"), frontend);
            }
            Ok(None) => {}
            Err(problems) => {
                for p in problems {
                    out.problems
                        .push(format!("service {name}: {p}; service left out"));
                }
            }
        }
    }
    out
}

pub fn backend_name(service: &str) -> String {
    format!("backend-{}", service.to_ascii_lowercase())
}

type Built = (crate::model::Backend, crate::model::Frontend, Vec<String>);

/// The service's backend and frontend; `Ok(None)`: not exposed, or no healthy instance.
fn one(
    settings: &Settings,
    name: &str,
    service: &ServiceState,
) -> Result<Option<Built>, Vec<String>> {
    let prefixed = |label: &str| format!("{}.{label}", settings.prefix);
    let tags = prefixed_labels(&settings.prefix, &service.tags);
    let service_labels: BTreeMap<String, String> = tags
        .into_iter()
        .filter(|(k, _)| !SERVER_TAGS.contains(&k.to_ascii_lowercase().as_str()))
        .collect();
    let decoded = labels::decode(&service_labels).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| format!("tag {}: {}", prefixed(&p.label), p.message))
            .collect::<Vec<_>>()
    })?;
    if !decoded.enable.unwrap_or(settings.exposed_by_default) {
        return Ok(None);
    }
    let rule = match &decoded.rule {
        Some(text) => RuleTemplate::parse(text)
            .map_err(|e| vec![format!("tag {}: {e}", prefixed("frontend.rule"))])?,
        None => settings.front_end_rule.clone(),
    };
    let mut servers = BTreeMap::new();
    let mut problems = Vec::new();
    for instance in service
        .instances
        .iter()
        .filter(|i| i.healthy(settings.strict_checks))
    {
        match server(settings, instance) {
            Ok(s) => {
                servers.insert(format!("{}-{}", instance.node, instance.id), s);
            }
            Err(e) => problems.push(format!(
                "instance {} on {}: {e}",
                instance.id, instance.node
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if servers.is_empty() {
        return Ok(None);
    }
    let mut backend = decoded.backend;
    backend.servers = servers.into_iter().collect();
    let mut frontend = decoded.frontend;
    frontend.backend = backend_name(name);
    let rule = rule.expand(&Context {
        service_name: name,
        domain: &settings.domain,
        tags: &service.tags,
        prefix: &settings.prefix,
    });
    frontend
        .routes
        .insert(format!("route-host-{name}"), Route { rule });
    let unsupported = decoded.unsupported.iter().map(|l| prefixed(l)).collect();
    Ok(Some((backend, frontend, unsupported)))
}

/// The instance's server: its address and port, `<prefix>.protocol` (http, https, h2c;
/// default http) and `<prefix>.weight` (default 1; `<prefix>.backend.weight` is v1's
/// deprecated form).
fn server(settings: &Settings, instance: &Instance) -> Result<Server, String> {
    let tags = prefixed_labels(&settings.prefix, &instance.tags);
    let get = |name: &str| {
        tags.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let protocol = get("protocol").unwrap_or_else(|| "http".to_string());
    if !matches!(protocol.as_str(), "http" | "https" | "h2c") {
        return Err(format!(
            "tag {}.protocol: {protocol:?} is not http, https or h2c",
            settings.prefix
        ));
    }
    let weight = match get("weight").or_else(|| get("backend.weight")) {
        None => 1,
        Some(w) => w
            .parse::<i64>()
            .map_err(|_| format!("tag {}.weight: invalid integer {w:?}", settings.prefix))?,
    };
    let host = instance.host();
    if host.is_empty() || instance.port == 0 {
        return Err("no address or port registered".to_string());
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(Server {
        url: format!("{protocol}://{host}:{}", instance.port),
        weight,
    })
}

/// `<prefix>.name=value` tags as (name, value); bare `<prefix>.name` markers are not
/// labels (v1 read them as the tag itself, which no label accepts) and are left out.
fn prefixed_labels(prefix: &str, tags: &[String]) -> Vec<(String, String)> {
    let head = format!("{}.", prefix.to_ascii_lowercase());
    tags.iter()
        .filter(|t| t.to_ascii_lowercase().starts_with(&head))
        .filter_map(|t| {
            let (name, value) = t[head.len()..].split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}
