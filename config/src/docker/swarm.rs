//! `[docker] swarmMode`'s half of the translation, pure (no I/O): the Engine's `/services`,
//! `/tasks` and `/networks` answers (as the Engine API documents them) read into
//! `Container`s, so the one container translation (`super::translate`) names, labels and
//! filters them, as Traefik 1.7 built its `dockerData` from a service:
//! * the labels are the service's (`Spec.Labels`), never its containers';
//! * `traefik.backend.loadbalancer.swarm=true` on a VIP-mode service: one server, the
//!   service's virtual IP on each of its networks, named after the service;
//! * otherwise (and for a `dnsrr` service, which has no VIP): one server per running task,
//!   at the task's address on each network it is attached to (`NetworksAttachments`),
//!   named `<service>.<slot>` (`<service>.<task id>` for a global service);
//! * only networks whose scope is `swarm` (v1 listed those); the routing mesh's `ingress`
//!   network only when a task or VIP has no other (trafik cannot join it, so an address
//!   there is a last resort, where v1 took one of the networks at random).
//!
//! The backend and default rule use the service's name (`Container::service`). A service
//! whose `traefik.backend.loadbalancer.swarm` is not a boolean is left out with a problem
//! naming it and the label.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::payload::Container;
use crate::labels::written::go_bool;

/// One service, as the mapping sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `Spec.Mode.Global`: its tasks have no slot, they are named by their id.
    pub global: bool,
    /// `Spec.EndpointSpec.Mode`: `vip` (the Engine's default) or `dnsrr`.
    pub endpoint_mode: String,
    /// `Endpoint.VirtualIPs`: (network id, address without its prefix length).
    pub virtual_ips: Vec<(String, String)>,
}

/// One task (a service's replica), as the mapping sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub service_id: String,
    pub slot: Option<u64>,
    /// `Status.State == "running"` and `DesiredState == "running"`.
    pub running: bool,
    /// `NetworksAttachments`: (network id, addresses without their prefix length).
    pub attachments: Vec<(String, Vec<String>)>,
}

/// One network, as the mapping sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// `Scope == "swarm"`.
    pub swarm: bool,
    /// The routing mesh's network.
    pub ingress: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawService {
    #[serde(rename = "ID")]
    id: String,
    spec: RawServiceSpec,
    #[serde(default)]
    endpoint: Option<RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawServiceSpec {
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    mode: Option<RawMode>,
    #[serde(default)]
    endpoint_spec: Option<RawEndpointSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMode {
    #[serde(default)]
    global: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEndpointSpec {
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEndpoint {
    #[serde(default)]
    spec: Option<RawEndpointSpec>,
    #[serde(rename = "VirtualIPs", default)]
    virtual_ips: Option<Vec<RawVirtualIp>>,
}

#[derive(Deserialize)]
struct RawVirtualIp {
    #[serde(rename = "NetworkID", default)]
    network_id: Option<String>,
    #[serde(rename = "Addr", default)]
    addr: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTask {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "ServiceID", default)]
    service_id: Option<String>,
    #[serde(default)]
    slot: Option<u64>,
    #[serde(default)]
    status: Option<RawTaskStatus>,
    #[serde(default)]
    desired_state: Option<String>,
    #[serde(default)]
    networks_attachments: Option<Vec<RawAttachment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTaskStatus {
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAttachment {
    #[serde(default)]
    network: Option<RawAttachedNetwork>,
    #[serde(default)]
    addresses: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawAttachedNetwork {
    #[serde(rename = "ID", default)]
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawNetwork {
    #[serde(rename = "Id")]
    id: String,
    name: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    ingress: Option<bool>,
}

/// `10.0.1.5/24` → `10.0.1.5` (the Engine writes addresses with their prefix length).
fn strip_prefix_length(addr: &str) -> String {
    addr.split('/').next().unwrap_or("").trim().to_string()
}

/// One `GET /services` answer.
pub fn parse_services(body: &[u8]) -> Result<Vec<Service>, String> {
    let raw: Vec<RawService> =
        serde_json::from_slice(body).map_err(|e| format!("malformed /services answer: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|s| {
            let endpoint_mode = s
                .spec
                .endpoint_spec
                .and_then(|e| e.mode)
                .or_else(|| {
                    s.endpoint
                        .as_ref()
                        .and_then(|e| e.spec.as_ref())
                        .and_then(|e| e.mode.clone())
                })
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "vip".to_string());
            let virtual_ips = s
                .endpoint
                .and_then(|e| e.virtual_ips)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| Some((v.network_id?, strip_prefix_length(&v.addr?))))
                .filter(|(_, addr)| !addr.is_empty())
                .collect();
            Service {
                id: s.id,
                name: s.spec.name,
                labels: s.spec.labels.unwrap_or_default(),
                global: s.spec.mode.is_some_and(|m| m.global.is_some()),
                endpoint_mode,
                virtual_ips,
            }
        })
        .collect())
}

/// One `GET /tasks` answer.
pub fn parse_tasks(body: &[u8]) -> Result<Vec<Task>, String> {
    let raw: Vec<RawTask> =
        serde_json::from_slice(body).map_err(|e| format!("malformed /tasks answer: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|t| Task {
            running: t.status.and_then(|s| s.state).as_deref() == Some("running")
                && t.desired_state.as_deref() == Some("running"),
            id: t.id,
            service_id: t.service_id.unwrap_or_default(),
            slot: t.slot,
            attachments: t
                .networks_attachments
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| {
                    let id = a.network?.id?;
                    let addresses = a
                        .addresses
                        .unwrap_or_default()
                        .iter()
                        .map(|a| strip_prefix_length(a))
                        .filter(|a| !a.is_empty())
                        .collect();
                    Some((id, addresses))
                })
                .collect(),
        })
        .collect())
}

/// One `GET /networks` answer.
pub fn parse_networks(body: &[u8]) -> Result<Vec<Network>, String> {
    let raw: Vec<RawNetwork> =
        serde_json::from_slice(body).map_err(|e| format!("malformed /networks answer: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|n| Network {
            swarm: n.scope.as_deref() == Some("swarm"),
            ingress: n.ingress.unwrap_or(false),
            id: n.id,
            name: n.name,
        })
        .collect())
}

/// What the services and their tasks become: the containers the translation takes, and
/// the services left out (one line each, naming the service and the label).
#[derive(Debug, Default)]
pub struct Mapped {
    pub containers: Vec<Container>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// v1's `traefik.backend.loadbalancer.swarm`, matched case-insensitively as the other
/// labels are.
const LB_SWARM: &str = "traefik.backend.loadbalancer.swarm";

/// The services, their tasks and the networks as `Container`s (sorted by name).
pub fn containers(services: &[Service], tasks: &[Task], networks: &[Network]) -> Mapped {
    let swarm_networks: BTreeMap<&str, &Network> = networks
        .iter()
        .filter(|n| n.swarm)
        .map(|n| (n.id.as_str(), n))
        .collect();
    let mut out = Mapped::default();
    for service in services {
        let lb_swarm = match service
            .labels
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(LB_SWARM))
        {
            None => false,
            Some((label, value)) => match go_bool(value.trim()) {
                Some(b) => b,
                None => {
                    out.problems.push(format!(
                        "service {}: label {label}: invalid boolean {value:?}; service left out",
                        service.name
                    ));
                    continue;
                }
            },
        };
        let base = Container {
            id: service.id.clone(),
            name: service.name.clone(),
            service: service.name.clone(),
            labels: service.labels.clone(),
            running: true,
            ..Container::default()
        };
        if lb_swarm {
            if service.endpoint_mode == "vip" {
                let addrs = service
                    .virtual_ips
                    .iter()
                    .map(|(net, addr)| (net.clone(), vec![addr.clone()]));
                let networks = named(addrs, &swarm_networks);
                if !networks.is_empty() {
                    out.containers.push(Container { networks, ..base });
                    continue;
                }
                // v1: a VIP service with no virtual IP on a swarm network (none attached)
                // falls back to its tasks.
                out.warnings.push(format!(
                    "service {}: {LB_SWARM}: no virtual IP on a swarm network; its tasks are used",
                    service.name
                ));
            } else {
                out.warnings.push(format!(
                    "service {}: {LB_SWARM}: endpoint mode {:?} has no virtual IP; its tasks are used",
                    service.name, service.endpoint_mode
                ));
            }
        }
        let mut own: Vec<&Task> = tasks
            .iter()
            .filter(|t| t.service_id == service.id && t.running)
            .collect();
        own.sort_by(|a, b| a.slot.cmp(&b.slot).then(a.id.cmp(&b.id)));
        for task in own {
            let name = match (service.global, task.slot) {
                (false, Some(slot)) => format!("{}.{slot}", service.name),
                _ => format!("{}.{}", service.name, task.id),
            };
            let networks = named(task.attachments.iter().cloned(), &swarm_networks);
            out.containers.push(Container {
                id: task.id.clone(),
                name,
                networks,
                ..base.clone()
            });
        }
    }
    out.containers
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    out
}

/// (network id, addresses) → network name → address, on swarm networks only; the ingress
/// network only when there is no other.
fn named(
    attachments: impl Iterator<Item = (String, Vec<String>)>,
    swarm_networks: &BTreeMap<&str, &Network>,
) -> BTreeMap<String, String> {
    let mut regular = BTreeMap::new();
    let mut ingress = BTreeMap::new();
    for (id, addresses) in attachments {
        let Some(network) = swarm_networks.get(id.as_str()) else {
            continue;
        };
        // v1 kept the last of several addresses on one network.
        let Some(addr) = addresses.into_iter().last() else {
            continue;
        };
        if network.ingress {
            ingress.insert(network.name.clone(), addr);
        } else {
            regular.insert(network.name.clone(), addr);
        }
    }
    if regular.is_empty() { ingress } else { regular }
}

#[cfg(test)]
mod tests {
    use super::super::{Settings, translate};
    use super::*;

    // Captured from a single-node swarm (Engine 20.10, API 1.41): `echo` (dnsrr, two
    // replicas), `vipweb` (VIP, `traefik.backend.loadbalancer.swarm=true`), `badweb`
    // (`traefik.port=eighty`, scaled to zero: its task still running, desired `remove`),
    // `globalweb` (global, dnsrr); all on the attachable overlay `swxnet`.
    const SERVICES: &str = include_str!("testdata/swarm_services.json");
    const TASKS: &str = include_str!("testdata/swarm_tasks.json");
    const NETWORKS: &str = include_str!("testdata/swarm_networks.json");

    fn recorded() -> (Vec<Service>, Vec<Task>, Vec<Network>) {
        (
            parse_services(SERVICES.as_bytes()).unwrap(),
            parse_tasks(TASKS.as_bytes()).unwrap(),
            parse_networks(NETWORKS.as_bytes()).unwrap(),
        )
    }

    fn settings() -> Settings {
        Settings {
            exposed_by_default: true,
            ..Settings::default()
        }
    }

    fn by_name<'a>(mapped: &'a Mapped, name: &str) -> &'a Container {
        mapped
            .containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} not in {:?}", mapped.containers))
    }

    #[test]
    fn recorded_answers_are_read() {
        let (services, tasks, networks) = recorded();
        let echo = services.iter().find(|s| s.name == "echo").unwrap();
        assert_eq!(echo.endpoint_mode, "dnsrr");
        assert!(!echo.global && echo.virtual_ips.is_empty());
        assert_eq!(echo.labels["traefik.port"], "80");
        let vip = services.iter().find(|s| s.name == "vipweb").unwrap();
        assert_eq!(vip.endpoint_mode, "vip");
        assert_eq!(
            vip.virtual_ips,
            vec![(
                "tjwjhft3b85bg1j3ecg667c57".to_string(),
                "10.0.1.6".to_string()
            )]
        );
        assert!(
            services
                .iter()
                .find(|s| s.name == "globalweb")
                .unwrap()
                .global
        );
        assert_eq!(tasks.len(), 5);
        // badweb's task: still running, but on its way out (desired `remove`).
        let leaving = tasks
            .iter()
            .find(|t| t.id == "lwvj6ri08m87xvoa1oze97uyj")
            .unwrap();
        assert!(!leaving.running);
        assert_eq!(tasks.iter().filter(|t| t.running).count(), 4);
        let swxnet = networks.iter().find(|n| n.name == "swxnet").unwrap();
        assert!(swxnet.swarm && !swxnet.ingress);
        assert!(
            networks
                .iter()
                .find(|n| n.name == "ingress")
                .unwrap()
                .ingress
        );
        assert!(!networks.iter().find(|n| n.name == "bridge").unwrap().swarm);
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(parse_services(b"{}").is_err());
        assert!(parse_services(b"[{\"ID\": \"x\"}]").is_err(), "no Spec");
        assert!(parse_tasks(b"[{\"ID\": 3}]").is_err());
        assert!(parse_networks(b"[{\"Name\": \"x\"}]").is_err(), "no Id");
        assert!(parse_tasks(b"[]").unwrap().is_empty());
    }

    #[test]
    fn tasks_become_servers_and_the_vip_one_server() {
        let (services, tasks, networks) = recorded();
        let mapped = containers(&services, &tasks, &networks);
        assert!(mapped.problems.is_empty(), "{:?}", mapped.problems);
        let names: Vec<&str> = mapped.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "echo.1",
                "echo.2",
                "globalweb.m6d2tjfodok7u9gyjlsqv1te9",
                "vipweb"
            ]
        );
        let one = by_name(&mapped, "echo.1");
        assert_eq!(one.service, "echo");
        assert_eq!(one.networks["swxnet"], "10.0.1.2");
        assert_eq!(by_name(&mapped, "echo.2").networks["swxnet"], "10.0.1.3");
        assert_eq!(by_name(&mapped, "vipweb").networks["swxnet"], "10.0.1.6");

        let mut s = settings();
        s.domain = "example.com".to_string();
        let out = translate(&s, &mapped.containers);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let echo = &out.configuration.backends["backend-echo"];
        let urls: Vec<&str> = echo.servers.values().map(|s| s.url.as_str()).collect();
        assert_eq!(urls.len(), 2);
        assert!(urls.contains(&"http://10.0.1.2:80") && urls.contains(&"http://10.0.1.3:80"));
        let url = "http://10.0.1.2:80";
        let server = format!("server-echo-1-{}", super::super::md5_hex(url));
        assert_eq!(echo.servers[&server].url, url);
        // One frontend for the service, not one per task.
        let echo_frontends: Vec<_> = out
            .configuration
            .frontends
            .values()
            .filter(|f| f.backend == "backend-echo")
            .collect();
        assert_eq!(echo_frontends.len(), 1);
        let vip = &out.configuration.backends["backend-vipweb"];
        let urls: Vec<&str> = vip.servers.values().map(|s| s.url.as_str()).collect();
        assert_eq!(urls, ["http://10.0.1.6:80"]);
        // The default rule is the service's name, not the task's.
        let global = out
            .configuration
            .frontends
            .values()
            .find(|f| f.backend == "backend-globalweb")
            .unwrap();
        let rule = &global.routes.values().next().unwrap().rule;
        assert_eq!(rule, "Host:globalweb.example.com");
    }

    #[test]
    fn without_the_swarm_label_a_vip_service_is_its_tasks() {
        let (mut services, tasks, networks) = recorded();
        let vip = services.iter_mut().find(|s| s.name == "vipweb").unwrap();
        vip.labels.remove(LB_SWARM);
        let mapped = containers(&services, &tasks, &networks);
        assert_eq!(by_name(&mapped, "vipweb.1").networks["swxnet"], "10.0.1.7");
        assert!(!mapped.containers.iter().any(|c| c.name == "vipweb"));
    }

    #[test]
    fn the_swarm_label_on_a_dnsrr_service_uses_its_tasks_with_a_warning() {
        let (mut services, tasks, networks) = recorded();
        let echo = services.iter_mut().find(|s| s.name == "echo").unwrap();
        echo.labels.insert(LB_SWARM.to_string(), "true".to_string());
        let mapped = containers(&services, &tasks, &networks);
        assert!(mapped.containers.iter().any(|c| c.name == "echo.2"));
        assert!(
            mapped.warnings[0].contains("dnsrr"),
            "{:?}",
            mapped.warnings
        );
    }

    #[test]
    fn bad_labels_leave_the_service_out_named_once() {
        let (mut services, mut tasks, networks) = recorded();
        // badweb's task as if it were staying.
        for t in tasks.iter_mut() {
            t.running = true;
        }
        let vip = services.iter_mut().find(|s| s.name == "vipweb").unwrap();
        vip.labels.insert(LB_SWARM.to_string(), "maybe".to_string());
        let echo = services.iter_mut().find(|s| s.name == "echo").unwrap();
        echo.labels
            .insert("traefik.weight".to_string(), "heavy".to_string());
        let mapped = containers(&services, &tasks, &networks);
        assert_eq!(
            mapped.problems,
            [
                "service vipweb: label traefik.backend.loadbalancer.swarm: invalid boolean \
                 \"maybe\"; service left out"
            ]
        );
        let out = translate(&settings(), &mapped.containers);
        assert!(
            out.problems.contains(
                &"service badweb: label traefik.port: invalid port \"eighty\"; service left out"
                    .to_string()
            ),
            "{:?}",
            out.problems
        );
        // Two tasks of echo, one line.
        let echo: Vec<_> = out
            .problems
            .iter()
            .filter(|p| p.starts_with("service echo:"))
            .collect();
        assert_eq!(echo.len(), 1, "{:?}", out.problems);
        assert!(!out.configuration.backends.contains_key("backend-echo"));
    }

    #[test]
    fn ingress_is_a_last_resort_and_local_networks_are_not_swarm() {
        let (_, _, networks) = recorded();
        let ingress = "qpk89j30vvtz".to_string();
        let ingress_id = networks
            .iter()
            .find(|n| n.id.starts_with(&ingress))
            .unwrap()
            .id
            .clone();
        let bridge_id = networks
            .iter()
            .find(|n| n.name == "bridge")
            .unwrap()
            .id
            .clone();
        let task = |attachments: Vec<(String, Vec<String>)>| Task {
            id: "t".into(),
            service_id: "s".into(),
            slot: Some(1),
            running: true,
            attachments,
        };
        let service = Service {
            id: "s".into(),
            name: "web".into(),
            endpoint_mode: "dnsrr".into(),
            ..Service::default()
        };
        let both = task(vec![
            (ingress_id.clone(), vec!["10.255.0.5".into()]),
            ("tjwjhft3b85bg1j3ecg667c57".into(), vec!["10.0.1.9".into()]),
        ]);
        let mapped = containers(std::slice::from_ref(&service), &[both], &networks);
        let networks_of = &mapped.containers[0].networks;
        assert_eq!(networks_of.len(), 1);
        assert_eq!(networks_of["swxnet"], "10.0.1.9");
        let only_ingress = task(vec![
            (ingress_id, vec!["10.255.0.5".into()]),
            (bridge_id, vec!["172.17.0.9".into()]),
        ]);
        let mapped = containers(&[service], &[only_ingress], &networks);
        let networks_of = &mapped.containers[0].networks;
        assert_eq!(networks_of.len(), 1);
        assert_eq!(networks_of["ingress"], "10.255.0.5");
    }
}
