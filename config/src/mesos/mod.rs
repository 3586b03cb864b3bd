//! `[mesos]`'s translation, pure (no I/O): the master's running tasks and their `traefik.*`
//! labels into backends and frontends, named as Traefik 1.7's Mesos provider named them:
//! * an application is the tasks of one discovery name (`discovery.name`, else the task's
//!   name); with segments, one application per segment;
//! * backend `backend-<traefik.backend or the application>`, where the application is the
//!   discovery name normalised (`/foo/bar/app` ⇒ `foo-bar-app`; runs of characters other
//!   than letters and digits become one `-`), with `-service-<segment>` for a segment;
//! * frontend `frontend-<application>` (v1 took the first task's ID, which changes each
//!   time a task is replaced: the name here stays), route `route-host-<application>`;
//! * rule `traefik.frontend.rule`, else `Host:<sub-domain>.<domain>`: the discovery name
//!   with `/` and `_` as `-` (`foo-bar-app`), or reversed into labels with
//!   `groupsAsSubDomains` (`app.bar.foo`), lower case, `<segment>.` before it for a segment;
//! * server `server-<task ID>` (normalised, `-service-<segment>` for a segment),
//!   `<protocol>://<address>:<port>`: the address by `ipSources`, the port by
//!   `traefik.port` (one of the task's discovery ports), `traefik.portIndex` (into them),
//!   `traefik.portName` (the segment's name by default), else the first;
//! * segments `traefik.<segment>.<property>` (any name but `frontend` and `backend`), the
//!   task's other labels as their defaults (v1's `label.ExtractTraefikLabels`);
//! * every other label read as v1's label vocabulary (`crate::labels`).
//!
//! Only `TASK_RUNNING` tasks with discovery ports, and only healthy ones when their latest
//! status that reports health says so (v1 read the first status). A task whose labels
//! cannot be used leaves its whole application out, with a problem naming the task and
//! the label; the other applications are served.

pub mod payload;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::constraints::Constraint;
use crate::labels::written::{self, go_bool, segment_suffix};
use crate::model::{Backend, Configuration, Frontend, Route, Server};
pub use payload::{State, Task, parse_state};

/// Where a task's address comes from (`ipSources`, first found wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpSource {
    /// The agent the task runs on.
    Host,
    /// The Docker containerizer's address: its status label, else the status' networks.
    Docker,
    /// The Mesos containerizer's address: its status label, else the status' networks.
    Mesos,
    /// The latest running status' `container_status.network_infos`.
    Netinfo,
}

/// `ipSources` as written (`"docker,host"`); empty means the agent's host.
pub fn ip_sources(text: &str) -> Result<Vec<IpSource>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(match part.to_ascii_lowercase().as_str() {
            "host" => IpSource::Host,
            "docker" => IpSource::Docker,
            "mesos" => IpSource::Mesos,
            "netinfo" => IpSource::Netinfo,
            _ => {
                return Err(format!(
                    "ipSources: unknown source {part:?} (host, docker, mesos or netinfo)"
                ));
            }
        });
    }
    if out.is_empty() {
        out.push(IpSource::Host);
    }
    Ok(out)
}

/// What the translation needs of `[mesos]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub exposed_by_default: bool,
    pub domain: String,
    pub groups_as_sub_domains: bool,
    pub ip_sources: Vec<IpSource>,
    /// Only tasks whose `traefik.tags` satisfy all of these are served.
    pub constraints: Vec<Constraint>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            exposed_by_default: true,
            domain: String::new(),
            groups_as_sub_domains: false,
            ip_sources: vec![IpSource::Host],
            constraints: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Translated {
    pub configuration: Configuration,
    /// Applications left out, one line per problem:
    /// `task web.1: label traefik.port: …; application web left out`.
    pub problems: Vec<String>,
    /// Labels not read.
    pub warnings: Vec<String>,
}

/// The labels that are the provider's own (not the shared label vocabulary's), lower case.
const OWN: [&str; 9] = [
    "enable",
    "port",
    "portindex",
    "portname",
    "protocol",
    "weight",
    "backend",
    "domain",
    "tags",
];

const RUNNING: &str = "TASK_RUNNING";
const DOCKER_IP_LABEL: &str = "Docker.NetworkSettings.IPAddress";
const MESOS_IP_LABEL: &str = "MesosContainerizer.NetworkSettings.IPAddress";

pub fn translate(settings: &Settings, state: &State) -> Translated {
    let mut out = Translated::default();
    let agents: HashMap<&str, &payload::Slave> =
        state.slaves.iter().map(|s| (s.id.as_str(), s)).collect();
    // Application (with its segment) → its tasks' units, in the master's order.
    let mut apps: BTreeMap<String, Vec<Unit>> = BTreeMap::new();
    // Discovery names with a task whose labels cannot be used.
    let mut left_out: BTreeSet<String> = BTreeSet::new();
    let mut warnings = BTreeSet::new();
    for task in state.frameworks.iter().flat_map(|f| f.tasks.iter()) {
        if task.state != RUNNING {
            continue;
        }
        let agent = agents.get(task.slave_id.as_str()).copied();
        match units(settings, task, agent) {
            Ok((units, w)) => {
                warnings.extend(w.into_iter().map(|w| format!("task {}: {w}", task.id)));
                for unit in units {
                    apps.entry(unit.app.clone()).or_default().push(unit);
                }
            }
            Err(problems) => {
                let name = discovery_name(task);
                for p in problems {
                    out.problems.push(format!(
                        "task {}: {p}; application {name} left out",
                        task.id
                    ));
                }
                left_out.insert(name.to_string());
            }
        }
    }
    out.warnings = warnings.into_iter().collect();
    for (app, units) in apps {
        if units.iter().any(|u| left_out.contains(&u.discovery_name)) {
            continue;
        }
        // v1 took the options of the application's first task.
        let first = &units[0];
        let backend = out
            .configuration
            .backends
            .entry(first.backend_name.clone())
            .or_insert_with(|| first.backend.clone());
        for u in &units {
            backend
                .servers
                .insert(u.server_name.clone(), u.server.clone());
        }
        let frontend_name = format!("frontend-{app}");
        let mut frontend = first.frontend.clone();
        frontend.backend = first.backend_name.clone();
        frontend.routes.insert(
            format!("route-host-{app}"),
            Route {
                rule: first.rule.clone(),
            },
        );
        out.configuration.frontends.insert(frontend_name, frontend);
    }
    out
}

/// One task's part in one application (segment).
struct Unit {
    /// The application's name: the discovery name (and segment), normalised.
    app: String,
    discovery_name: String,
    backend_name: String,
    backend: Backend,
    frontend: Frontend,
    rule: String,
    server_name: String,
    server: Server,
}

/// Labels by their lower-case name without `traefik.` (or the segment), with the label as
/// written and its value.
type Labels = written::Written;

/// The task's units (none: not served) and warnings, or every problem its labels have.
fn units(
    settings: &Settings,
    task: &Task,
    agent: Option<&payload::Slave>,
) -> Result<(Vec<Unit>, Vec<String>), Vec<String>> {
    let ports: Vec<&payload::DiscoveryPort> = task
        .discovery
        .iter()
        .flat_map(|d| d.ports.ports.iter())
        .filter(|p| (1..=65535).contains(&p.number))
        .collect();
    if ports.is_empty() {
        // v1's filter: nothing to reach the task on.
        return Ok((Vec::new(), Vec::new()));
    }
    if task.healthy() == Some(false) {
        return Ok((Vec::new(), Vec::new()));
    }
    let traefik: Labels = task
        .labels
        .list()
        .iter()
        .filter_map(|l| {
            let lower = l.key.to_ascii_lowercase();
            let rest = lower.strip_prefix("traefik.")?;
            Some((rest.to_string(), (l.key.clone(), l.value.clone())))
        })
        .collect();
    let plan = segments(&traefik);
    let mut units = Vec::new();
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    for (segment, labels) in &plan {
        match unit(settings, task, agent, &ports, segment, labels) {
            Ok(Some((u, w))) => {
                units.push(u);
                warnings.extend(w);
            }
            Ok(None) => {}
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((units, warnings))
}

/// v1's segments: `traefik.<segment>.<property>` for any segment name but `frontend` and
/// `backend`; the other labels are every segment's defaults, and the only "segment" (named
/// "") when there is none.
fn segments(traefik: &Labels) -> Vec<(String, Labels)> {
    let mut root = Labels::new();
    let mut named: BTreeMap<String, Labels> = BTreeMap::new();
    for (key, value) in traefik {
        match key.split_once('.') {
            Some((head, rest)) if head != "frontend" && head != "backend" && !rest.is_empty() => {
                named
                    .entry(head.to_string())
                    .or_default()
                    .insert(rest.to_string(), value.clone());
            }
            _ => {
                root.insert(key.clone(), value.clone());
            }
        }
    }
    if named.is_empty() {
        return vec![(String::new(), root)];
    }
    named
        .into_iter()
        .map(|(name, own)| {
            let mut merged = root.clone();
            merged.extend(own);
            (name, merged)
        })
        .collect()
}

type UnitOut = Option<(Unit, Vec<String>)>;

fn unit(
    settings: &Settings,
    task: &Task,
    agent: Option<&payload::Slave>,
    ports: &[&payload::DiscoveryPort],
    segment: &str,
    labels: &Labels,
) -> Result<UnitOut, Vec<String>> {
    let get = |k: &str| labels.get(k).map(|(l, v)| (l.as_str(), v.trim()));
    let enable = match get("enable") {
        None => settings.exposed_by_default,
        Some((label, value)) => match go_bool(value) {
            Some(b) => b,
            None => return Err(vec![format!("label {label}: invalid boolean {value:?}")]),
        },
    };
    if !enable {
        return Ok(None);
    }
    let tags: Vec<String> = get("tags")
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
    let mut problems = Vec::new();
    let port = match port(ports, segment, &get) {
        Ok(p) => p,
        Err(p) => {
            problems.push(p);
            0
        }
    };
    let protocol = match get("protocol") {
        None => "http",
        Some((_, v)) if matches!(v, "http" | "https" | "h2c") => v,
        Some((label, v)) => {
            problems.push(format!("label {label}: {v:?} is not http, https or h2c"));
            "http"
        }
    };
    let weight = match get("weight") {
        None => 1,
        Some((label, v)) => match v.parse::<i32>() {
            Ok(w) if w >= 0 => i64::from(w),
            _ => {
                problems.push(format!("label {label}: invalid weight {v:?}"));
                1
            }
        },
    };
    // The shared vocabulary: everything but the provider's own labels.
    let decoded = written::decode_shared(labels, &OWN, &mut problems);
    let name = discovery_name(task);
    let rule = match decoded.as_ref().and_then(|d| d.rule.clone()) {
        Some(rule) => rule,
        None => {
            let domain = get("domain").map_or(settings.domain.as_str(), |(_, v)| v);
            default_rule(settings, name, segment, domain)
        }
    };
    if let Err(e) = crate::rule::parse::parse(&rule) {
        let label = labels
            .get("frontend.rule")
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| "traefik.frontend.rule".to_string());
        problems.push(format!("label {label}: {e}"));
    }
    let host = address(settings, task, agent);
    if host.is_none() {
        problems.push(format!(
            "no address from ipSources {:?}",
            settings.ip_sources
        ));
    }
    let (Some(decoded), Some(host), true) = (decoded, host, problems.is_empty()) else {
        return Err(problems);
    };
    let suffix = segment_suffix(segment);
    let app = normalize(&format!("{name}{suffix}"));
    let backend_name = match get("backend") {
        Some((_, b)) if !b.is_empty() => format!("backend-{b}"),
        _ => format!("backend-{app}"),
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let warnings = decoded
        .unsupported
        .iter()
        .map(|l| format!("label traefik.{l} not supported, ignored"))
        .collect();
    Ok(Some((
        Unit {
            app,
            discovery_name: name.to_string(),
            backend_name,
            backend: decoded.backend,
            frontend: decoded.frontend,
            rule,
            server_name: format!("server-{}", normalize(&format!("{}{suffix}", task.id))),
            server: Server {
                url: format!("{protocol}://{host}:{port}"),
                weight,
            },
        },
        warnings,
    )))
}

/// The port to reach the task on: `traefik.port` (one of its discovery ports),
/// `traefik.portIndex` (into them), `traefik.portName` (default: the segment's name) when
/// a port has that name, else the first.
fn port<'a>(
    ports: &[&payload::DiscoveryPort],
    segment: &str,
    get: &impl Fn(&str) -> Option<(&'a str, &'a str)>,
) -> Result<u32, String> {
    let numbers: Vec<u32> = ports.iter().map(|p| p.number).collect();
    match (get("port"), get("portindex")) {
        (Some(_), Some((label, _))) => Err(format!(
            "label {label}: set together with traefik.port (one or the other)"
        )),
        (Some((label, v)), None) => match v.parse::<u32>() {
            Ok(p) if numbers.contains(&p) => Ok(p),
            Ok(p) if (1..=65535).contains(&p) => Err(format!(
                "label {label}: {p} is not one of the task's discovery ports {numbers:?}"
            )),
            _ => Err(format!("label {label}: invalid port {v:?}")),
        },
        (None, Some((label, v))) => match v.parse::<usize>() {
            Ok(i) if i < numbers.len() => Ok(numbers[i]),
            _ => Err(format!(
                "label {label}: {v:?} is not an index into the task's {} discovery ports",
                numbers.len()
            )),
        },
        (None, None) => {
            let wanted = get("portname").map(|(l, v)| (Some(l), v));
            let wanted = wanted.or((!segment.is_empty()).then_some((None, segment)));
            match wanted {
                Some((label, name)) => match ports.iter().find(|p| p.name == name) {
                    Some(p) => Ok(p.number),
                    None => match label {
                        Some(label) => Err(format!(
                            "label {label}: the task has no discovery port named {name:?}"
                        )),
                        // A segment's name that is no port's: the first, as v1.
                        None => Ok(numbers[0]),
                    },
                },
                None => Ok(numbers[0]),
            }
        }
    }
}

/// The task's address by the first of `ipSources` that gives one.
fn address(settings: &Settings, task: &Task, agent: Option<&payload::Slave>) -> Option<String> {
    let running = task.latest_status(Some(RUNNING));
    let networks = || -> Option<String> {
        running?
            .container_status
            .network_infos
            .iter()
            .flat_map(|n| {
                n.ip_addresses
                    .iter()
                    .filter_map(|a| a.ip_address.clone())
                    .chain(n.ip_address.clone())
            })
            .find(|ip| !ip.is_empty())
    };
    let label = |key: &str| -> Option<String> {
        running?
            .labels
            .list()
            .iter()
            .find(|l| l.key == key && !l.value.is_empty())
            .map(|l| l.value.clone())
    };
    settings.ip_sources.iter().find_map(|source| match source {
        IpSource::Host => agent.and_then(|a| a.address()).map(str::to_string),
        IpSource::Docker => label(DOCKER_IP_LABEL).or_else(networks),
        IpSource::Mesos => label(MESOS_IP_LABEL).or_else(networks),
        IpSource::Netinfo => networks(),
    })
}

/// The application's name as the master has it: the discovery name, else the task's.
fn discovery_name(task: &Task) -> &str {
    task.discovery
        .as_ref()
        .map(|d| d.name.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(&task.name)
}

/// v1's default rule: `Host:<segment>.<sub-domain>.<domain>`, without the `.<domain>` when
/// there is none.
fn default_rule(settings: &Settings, name: &str, segment: &str, domain: &str) -> String {
    let mut host = sub_domain(name, settings.groups_as_sub_domains).to_lowercase();
    if !segment.is_empty() {
        host = format!("{}.{host}", normalize(segment).to_lowercase());
    }
    if domain.is_empty() {
        format!("Host:{host}")
    } else {
        format!("Host:{host}.{domain}")
    }
}

/// `/foo/bar/app` ⇒ `foo-bar-app` (`_` as `-` too), or `app.bar.foo` as sub-domains.
pub fn sub_domain(name: &str, groups_as_sub_domains: bool) -> String {
    let name = name.trim_start_matches('/');
    if groups_as_sub_domains {
        let mut parts: Vec<&str> = name.split('/').collect();
        parts.reverse();
        parts.join(".")
    } else {
        name.replace(['/', '_'], "-")
    }
}

pub use crate::labels::written::normalize;
