//! `[marathon]`'s translation, pure (no I/O): Marathon's applications, their tasks and
//! their `traefik.*` labels into backends and frontends, named as Traefik 1.7's Marathon
//! provider named them (`names`):
//! * backend `backend-<app id>` (normalised: `/foo/bar/app` ⇒ `backend-foo-bar-app`), or
//!   `backend<traefik.backend>`; frontend `frontend-<app id>`, route
//!   `route-frontend-<app id>`;
//! * the rule is `traefik.frontend.rule`, else marathon-lb's `HAPROXY_0_VHOST` (with
//!   `marathonLBCompatibility`), else `Host:<sub-domain>.<domain>` (`foo-bar-app`, or
//!   `app.bar.foo` with `groupsAsSubDomains`);
//! * one server per running task (`TASK_RUNNING`), healthy when the application has health
//!   checks (every result alive), ready with `respectReadinessChecks`:
//!   `server-<app id>-<task id>`, `<protocol>://<host>:<port>`. The host is the task's
//!   host, or its own IP address when the application has one per task (`ipAddress`, or a
//!   `container` network) unless `forceTaskHostname`; the port is `traefik.port`, else the
//!   task's ports (then the application's definitions) at `traefik.portIndex` or at the
//!   port named `traefik.portName` (first by default);
//! * segments `traefik.<segment>.port` / `.frontend.rule` / …: one backend and frontend
//!   each, suffixed `-service-<segment>`, the application's un-segmented labels as their
//!   defaults;
//! * every other label read as v1's label vocabulary (`crate::labels`).
//!
//! An application whose labels cannot be used is left out with a problem naming it and
//! the label (`app /foo/bar: label traefik.port: …; app left out`), a segment whose own
//! labels cannot be used alone (`…; segment web left out`); the others are served.

pub mod names;
pub mod payload;

#[cfg(test)]
mod tests;

use crate::labels::written::{self, go_bool};
use crate::model::{Backend, Configuration, Frontend, Route, Server, SmallMap};
pub use payload::{App, Apps, Task, parse_apps};

/// What the translation needs of `[marathon]`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub exposed_by_default: bool,
    pub domain: String,
    pub groups_as_sub_domains: bool,
    /// marathon-lb's `HAPROXY_GROUP` as a tag, `HAPROXY_0_VHOST` as the Host rule.
    pub marathon_lb_compatibility: bool,
    /// The placement constraints (`hostname:UNIQUE`) as tags for `constraints`.
    pub filter_marathon_constraints: bool,
    /// Leave out tasks whose readiness check says not ready.
    pub respect_readiness_checks: bool,
    /// The task's host even when it has an address of its own.
    pub force_task_hostname: bool,
    /// Only applications whose tags satisfy all of these are served.
    pub constraints: Vec<crate::constraints::Constraint>,
}

#[derive(Debug, Clone, Default)]
pub struct Translated {
    pub configuration: Configuration,
    /// Applications left out, one line each: `app /web: label traefik.port: …`.
    pub problems: Vec<String>,
    /// Labels not read, tasks without an address or port.
    pub warnings: Vec<String>,
}

/// The labels that are the provider's own (not the shared label vocabulary's).
const OWN: [&str; 10] = [
    "enable",
    "port",
    "portindex",
    "portname",
    "protocol",
    "weight",
    "backend",
    "domain",
    "tags",
    "ipaddressidx",
];

/// First components that are not a segment's name.
const ROOT_HEADS: [&str; 11] = [
    "enable",
    "port",
    "portindex",
    "portname",
    "protocol",
    "weight",
    "backend",
    "domain",
    "tags",
    "ipaddressidx",
    "frontend",
];

/// A segment's own keys (`<segment>.<key>`), besides `frontend.*` and `backend.*`.
const SEGMENT_KEYS: [&str; 7] = [
    "port",
    "portindex",
    "portname",
    "protocol",
    "weight",
    "backend",
    "domain",
];

const LB_GROUP: &str = "HAPROXY_GROUP";
const LB_VHOST: &str = "HAPROXY_0_VHOST";
const RUNNING: &str = "TASK_RUNNING";

pub fn translate(settings: &Settings, apps: &Apps) -> Translated {
    let mut out = Translated::default();
    for (id, why) in &apps.unreadable {
        out.problems.push(format!(
            "app {id}: not an application Marathon describes: {why}; app left out"
        ));
    }
    let mut sorted: Vec<&App> = apps.apps.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for app in sorted {
        match one(settings, app) {
            Ok((units, left_out)) => {
                for p in left_out {
                    out.problems.push(format!("app {}: {p}", app.id));
                }
                for unit in units {
                    for w in unit.warnings {
                        out.warnings.push(format!("app {}: {w}", app.id));
                    }
                    // v1: applications naming one backend share it, servers merged.
                    let backend = out
                        .configuration
                        .backends
                        .entry(unit.backend_name)
                        .or_insert(unit.backend);
                    backend.servers.extend(unit.servers);
                    out.configuration
                        .frontends
                        .entry(unit.frontend_name)
                        .or_insert(unit.frontend);
                }
            }
            Err(problems) => {
                for p in problems {
                    out.problems
                        .push(format!("app {}: {p}; app left out", app.id));
                }
            }
        }
    }
    out
}

/// Labels keyed by their lower-case name without `traefik.` (and without the segment),
/// values keeping the label as written.
type Labels = written::Written;

/// One segment's backend, frontend and servers.
struct Unit {
    backend_name: String,
    backend: Backend,
    frontend_name: String,
    frontend: Frontend,
    servers: SmallMap<String, Server>,
    warnings: Vec<String>,
}

/// The application's units, with the problems of the segments left out; `Ok(empty)`: not
/// served (disabled, filtered by constraints); `Err`: every unit had a problem.
fn one(settings: &Settings, app: &App) -> Result<(Vec<Unit>, Vec<String>), Vec<String>> {
    let traefik: Labels = app
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
    if !enable || !constraints_hold(settings, app, &traefik) {
        return Ok((Vec::new(), Vec::new()));
    }
    let tasks: Vec<&Task> = app
        .tasks
        .iter()
        .filter(|t| serves(settings, app, t))
        .collect();
    let (root, segments) = written::split_segments(&traefik, &ROOT_HEADS, &SEGMENT_KEYS);
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
    let mut units = Vec::new();
    let mut failed: Vec<(&str, Vec<String>)> = Vec::new();
    for (segment, labels) in &plan {
        match unit(settings, app, &tasks, segment, labels, &root) {
            Ok(u) => units.push(u),
            Err(p) => failed.push((segment, p)),
        }
    }
    if units.is_empty() && !failed.is_empty() {
        // Nothing left of the application (a label every segment shares, say).
        let mut problems: Vec<String> = failed.into_iter().flat_map(|(_, p)| p).collect();
        problems.sort();
        problems.dedup();
        return Err(problems);
    }
    // A segment whose own labels make no sense is left out; the others are served.
    let left_out = failed
        .into_iter()
        .flat_map(|(segment, problems)| {
            problems
                .into_iter()
                .map(move |p| format!("{p}; segment {segment} left out"))
        })
        .collect();
    Ok((units, left_out))
}

/// v1's filter: `traefik.tags`, marathon-lb's group and the placement constraints (each
/// `field:OPERATOR:value`) as tags, against `constraints`.
fn constraints_hold(settings: &Settings, app: &App, traefik: &Labels) -> bool {
    if settings.constraints.is_empty() {
        return true;
    }
    let mut tags: Vec<String> = traefik
        .get("tags")
        .map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if settings.marathon_lb_compatibility
        && let Some(group) = app.labels.get(LB_GROUP).filter(|g| !g.is_empty())
    {
        tags.push(group.clone());
    }
    if settings.filter_marathon_constraints {
        tags.extend(app.constraints.iter().map(|parts| parts.join(":")));
    }
    crate::constraints::failing(&settings.constraints, &tags).is_none()
}

/// Running; healthy when the application has health checks (a task without results yet
/// is not); ready when asked to respect readiness checks.
fn serves(settings: &Settings, app: &App, task: &Task) -> bool {
    if task.state != RUNNING {
        return false;
    }
    if !app.health_checks.is_empty()
        && (task.health_check_results.is_empty()
            || task.health_check_results.iter().any(|r| !r.alive))
    {
        return false;
    }
    if settings.respect_readiness_checks
        && app
            .readiness_check_results
            .iter()
            .any(|r| r.task_id == task.id && !r.ready)
    {
        return false;
    }
    true
}

/// How a segment chooses its port.
enum PortChoice {
    /// `traefik.port`: this port on every task.
    Fixed(u16),
    /// The task's ports (or the application's) at this index.
    Index(usize),
}

fn unit(
    settings: &Settings,
    app: &App,
    tasks: &[&Task],
    segment: &str,
    seg: &Labels,
    root: &Labels,
) -> Result<Unit, Vec<String>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let get = |k: &str| seg.get(k).map(|(l, v)| (l.as_str(), v.trim()));
    let port = port_choice(app, &get, &mut problems, &mut warnings);
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
    let ip_index = match root.get("ipaddressidx") {
        None => None,
        Some((label, v)) => match v.trim().parse::<usize>() {
            Ok(i) => Some(i),
            Err(_) => {
                problems.push(format!("label {label}: invalid index {v:?}"));
                None
            }
        },
    };
    // The shared vocabulary: everything but the provider's own labels.
    let decoded = written::decode_shared(seg, &OWN, &mut problems);
    let domain = get("domain")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| settings.domain.clone());
    let rule = decoded
        .as_ref()
        .and_then(|d| d.rule.clone())
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            settings
                .marathon_lb_compatibility
                .then(|| app.labels.get(LB_VHOST))
                .flatten()
                .filter(|v| !v.is_empty())
                .map(|v| format!("Host:{v}"))
        })
        .unwrap_or_else(|| {
            names::default_rule(&app.id, segment, &domain, settings.groups_as_sub_domains)
        });
    if let Err(e) = crate::rule::parse::parse(&rule) {
        let label = match seg.get("frontend.rule") {
            Some((l, _)) => l.clone(),
            None if settings.marathon_lb_compatibility && app.labels.contains_key(LB_VHOST) => {
                LB_VHOST.to_string()
            }
            None => "the default rule (the app id and domain)".to_string(),
        };
        problems.push(format!("label {label}: {e}"));
    }
    let (Some(decoded), Some(port), true) = (decoded, port, problems.is_empty()) else {
        return Err(problems);
    };
    let mut servers = SmallMap::new();
    for task in tasks {
        let host = match host(settings, app, task, ip_index) {
            Ok(h) => h,
            Err(w) => {
                warnings.push(format!("task {}: {w}; task left out", task.id));
                continue;
            }
        };
        let task_port = match &port {
            PortChoice::Fixed(p) => *p,
            PortChoice::Index(i) => match available_ports(app, task).get(*i) {
                Some(p) => *p,
                None => {
                    warnings.push(format!(
                        "task {}: no port at index {i}; task left out",
                        task.id
                    ));
                    continue;
                }
            },
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        servers.insert(
            names::server(&app.id, &task.id, segment),
            Server {
                url: format!("{protocol}://{host}:{task_port}"),
                weight,
            },
        );
    }
    let backend_name = names::backend(&app.id, segment, get("backend").map(|(_, v)| v));
    let frontend_name = names::frontend(&app.id, segment);
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
    Ok(Unit {
        backend_name,
        backend: decoded.backend,
        frontend_name,
        frontend,
        servers,
        warnings,
    })
}

/// `traefik.port` (wins, as v1), else `traefik.portIndex`, else `traefik.portName`, else
/// the first port. An index beyond the application's ports, or a name none has, is a
/// problem (it can never work); a task without that port is only left out.
fn port_choice<'a>(
    app: &App,
    get: &impl Fn(&str) -> Option<(&'a str, &'a str)>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<PortChoice> {
    if let Some((label, v)) = get("port") {
        if get("portindex").is_some() || get("portname").is_some() {
            warnings.push(format!(
                "{label} is set: traefik.portIndex / portName ignored"
            ));
        }
        return match v.parse::<u16>() {
            Ok(p) if p > 0 => Some(PortChoice::Fixed(p)),
            _ => {
                problems.push(format!("label {label}: invalid port {v:?}"));
                None
            }
        };
    }
    let declared = declared_ports(app);
    if let Some((label, v)) = get("portindex") {
        return match v.parse::<usize>() {
            Ok(i) if declared.is_empty() || i < declared.len() => Some(PortChoice::Index(i)),
            Ok(i) => {
                problems.push(format!(
                    "label {label}: index {i} is beyond the application's {} ports",
                    declared.len()
                ));
                None
            }
            Err(_) => {
                problems.push(format!("label {label}: invalid index {v:?}"));
                None
            }
        };
    }
    if let Some((label, v)) = get("portname") {
        return match declared
            .iter()
            .position(|(_, name)| name.as_deref() == Some(v))
        {
            Some(i) => Some(PortChoice::Index(i)),
            None => {
                problems.push(format!("label {label}: no port is named {v:?}"));
                None
            }
        };
    }
    Some(PortChoice::Index(0))
}

/// The application's declared ports with their names: `portDefinitions` (or the older
/// `ports`), else IP-per-task's discovery ports, else the container's port mappings.
fn declared_ports(app: &App) -> Vec<(u32, Option<String>)> {
    if !app.port_definitions.is_empty() {
        return app
            .port_definitions
            .iter()
            .map(|d| (d.port.unwrap_or(0), d.name.clone()))
            .collect();
    }
    if !app.ports.is_empty() {
        return app.ports.iter().map(|p| (*p, None)).collect();
    }
    if let Some(discovery) = app.ip_address.as_ref().and_then(|i| i.discovery.as_ref())
        && !discovery.ports.is_empty()
    {
        return discovery
            .ports
            .iter()
            .map(|p| (p.number, p.name.clone()))
            .collect();
    }
    mappings(app)
        .iter()
        .map(|m| (m.container_port.unwrap_or(0), m.name.clone()))
        .collect()
}

fn mappings(app: &App) -> &[payload::PortMapping] {
    match &app.container {
        Some(c) if !c.port_mappings.is_empty() => &c.port_mappings,
        Some(c) => c.docker.as_ref().map_or(&[], |d| &d.port_mappings),
        None => &[],
    }
}

/// v1's order: the task's own (host) ports; on its own address, the ports it listens on
/// there (discovery, container port mappings); else the application's definitions.
fn available_ports(app: &App, task: &Task) -> Vec<u16> {
    let valid = |ports: Vec<u32>| -> Vec<u16> {
        ports
            .into_iter()
            .filter_map(|p| u16::try_from(p).ok().filter(|p| *p > 0))
            .collect()
    };
    if !task.ports.is_empty() {
        return valid(task.ports.clone());
    }
    valid(declared_ports(app).into_iter().map(|(p, _)| p).collect())
}

/// Whether the application's tasks have addresses of their own.
fn ip_per_task(app: &App) -> bool {
    app.ip_address.is_some() || app.networks.iter().any(|n| n.mode == "container")
}

/// The task's host, or its own address (one, or the one at `traefik.ipAddressIdx`).
fn host(
    settings: &Settings,
    app: &App,
    task: &Task,
    ip_index: Option<usize>,
) -> Result<String, String> {
    if !ip_per_task(app) || settings.force_task_hostname {
        if task.host.is_empty() {
            return Err("no host".to_string());
        }
        return Ok(task.host.clone());
    }
    match (task.ip_addresses.as_slice(), ip_index) {
        ([], _) => Err("no IP address".to_string()),
        ([one], _) => Ok(one.ip_address.clone()),
        (many, Some(i)) => many.get(i).map(|a| a.ip_address.clone()).ok_or_else(|| {
            format!(
                "traefik.ipAddressIdx {i} is beyond its {} IP addresses",
                many.len()
            )
        }),
        (many, None) => Err(format!(
            "{} IP addresses and no traefik.ipAddressIdx to choose one",
            many.len()
        )),
    }
}
