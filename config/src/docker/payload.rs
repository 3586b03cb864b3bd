//! The Engine's `GET /containers/<id>/json` answer (as the Engine API documents it), read
//! into the little the translation needs. The provider serialises bollard's typed answer
//! back to this JSON, so recorded payloads and live ones go through one reader. Anything
//! that is not a container's JSON is an error, never an empty container.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One container, as the translation sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// Without the Engine's leading `/`.
    pub name: String,
    /// Swarm mode: the service a task (or VIP) belongs to, which names the backend and the
    /// default rule as v1's `ServiceName` did; empty for a plain container.
    pub service: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    /// `State.Health.Status` (`starting`, `healthy`, `unhealthy`) when the container has a
    /// health check.
    pub health: Option<String>,
    /// `HostConfig.NetworkMode` (`bridge`, `host`, `container:<id>`, a network's name).
    pub network_mode: String,
    /// Network name → the container's IPv4 address on it (may be empty).
    pub networks: BTreeMap<String, String>,
    /// Exposed ports (`80/tcp`), with their host bindings.
    pub ports: Vec<Port>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// (host address, host port), as published (`HostIp` may be empty or `0.0.0.0`).
    pub bindings: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    state: Option<State>,
    #[serde(default)]
    config: Option<Config>,
    #[serde(default)]
    host_config: Option<HostConfig>,
    #[serde(default)]
    network_settings: Option<NetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    #[serde(default)]
    running: Option<bool>,
    #[serde(default)]
    health: Option<Health>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Health {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    network_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettings {
    #[serde(default)]
    ports: Option<BTreeMap<String, Option<Vec<Binding>>>>,
    #[serde(default)]
    networks: Option<BTreeMap<String, Option<Endpoint>>>,
}

#[derive(Deserialize)]
struct Binding {
    #[serde(rename = "HostIp", default)]
    host_ip: Option<String>,
    #[serde(rename = "HostPort", default)]
    host_port: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    #[serde(rename = "IPAddress", default)]
    ip_address: Option<String>,
}

/// One `/containers/<id>/json` answer.
pub fn parse_inspect(body: &[u8]) -> Result<Container, String> {
    let raw: Inspect = serde_json::from_slice(body)
        .map_err(|e| format!("malformed /containers/<id>/json answer: {e}"))?;
    let state = raw.state;
    let settings = raw.network_settings;
    let mut ports = Vec::new();
    for (key, bindings) in settings
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
    {
        // `80/tcp`; the protocol defaults to tcp as the Engine's own parser does.
        let (number, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let port = number
            .parse::<u16>()
            .map_err(|_| format!("malformed port {key:?} in container {}", raw.id))?;
        ports.push(Port {
            port,
            protocol: protocol.to_ascii_lowercase(),
            bindings: bindings
                .iter()
                .flatten()
                .map(|b| {
                    (
                        b.host_ip.clone().unwrap_or_default(),
                        b.host_port.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        });
    }
    ports.sort_by_key(|p| (p.port, p.protocol.clone()));
    let networks = settings
        .and_then(|s| s.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, e)| (name, e.and_then(|e| e.ip_address).unwrap_or_default()))
        .collect();
    Ok(Container {
        name: raw
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: String::new(),
        id: raw.id,
        labels: raw.config.and_then(|c| c.labels).unwrap_or_default(),
        running: state.as_ref().and_then(|s| s.running).unwrap_or(false),
        health: state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .filter(|s| !s.is_empty() && s != "none"),
        network_mode: raw
            .host_config
            .and_then(|h| h.network_mode)
            .unwrap_or_default(),
        networks,
        ports,
    })
}
