//! Marathon's `GET /v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness`
//! answer (as Marathon's REST API reference documents it), read into the little the
//! translation needs. Marathon writes `null` for many absent fields (`"ipAddress": null`,
//! `"container": null`), so every field here takes `null` as absent.
//!
//! An answer without an `apps` list is an error (not Marathon's, or not an answer at all:
//! never an empty configuration). One application that does not read is left out with a
//! problem naming it; the others are served.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// One application with its tasks, as the translation sees it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    /// `/foo/bar/app`.
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// The service ports (Marathon's older form of `portDefinitions`).
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub port_definitions: Vec<PortDefinition>,
    #[serde(default, deserialize_with = "nullable")]
    pub container: Option<Container>,
    /// Only counted: an application with health checks serves only healthy tasks.
    #[serde(default, deserialize_with = "nullable")]
    pub health_checks: Vec<serde_json::Value>,
    /// IP-per-task (Marathon before 1.5): tasks are reached on their own addresses.
    #[serde(default, deserialize_with = "nullable")]
    pub ip_address: Option<IpAddress>,
    /// Marathon 1.5+'s form of IP-per-task: a `container` mode network.
    #[serde(default, deserialize_with = "nullable")]
    pub networks: Vec<Network>,
    /// Placement constraints (`[["hostname", "UNIQUE"]]`), for `filterMarathonConstraints`.
    #[serde(default, deserialize_with = "nullable")]
    pub constraints: Vec<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub tasks: Vec<Task>,
    /// `embed=apps.readiness`: the latest readiness check result of each task being deployed.
    #[serde(default, deserialize_with = "nullable")]
    pub readiness_check_results: Vec<ReadinessCheckResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortDefinition {
    #[serde(default)]
    pub port: Option<u32>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Marathon 1.5+: at the container's level.
    #[serde(default, deserialize_with = "nullable")]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default, deserialize_with = "nullable")]
    pub docker: Option<DockerContainer>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerContainer {
    /// Before Marathon 1.5: under `container.docker`.
    #[serde(default, deserialize_with = "nullable")]
    pub port_mappings: Vec<PortMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    #[serde(default)]
    pub container_port: Option<u32>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    #[serde(default, deserialize_with = "nullable")]
    pub discovery: Option<Discovery>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<DiscoveryPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryPort {
    pub number: u32,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// `container`, `container/bridge` or `host`.
    #[serde(default)]
    pub mode: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub host: String,
    /// `TASK_RUNNING`, `TASK_STAGING`, `TASK_KILLING`, …
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    /// The host ports the task was given.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub ip_addresses: Vec<TaskIpAddress>,
    #[serde(default, deserialize_with = "nullable")]
    pub health_check_results: Vec<HealthCheckResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskIpAddress {
    pub ip_address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckResult {
    pub alive: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheckResult {
    pub task_id: String,
    pub ready: bool,
}

/// The applications of one answer; the ones that do not read, as (id or place, why).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Apps {
    pub apps: Vec<App>,
    pub unreadable: Vec<(String, String)>,
}

/// Reads `/v2/apps`' answer. `Err`: not an object with an `apps` list.
pub fn parse_apps(body: &[u8]) -> Result<Apps, String> {
    #[derive(Deserialize)]
    struct Answer {
        apps: Vec<serde_json::Value>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("not Marathon's list of applications: {e}"))?;
    let mut out = Apps::default();
    for (place, value) in answer.apps.into_iter().enumerate() {
        let id = value
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{place}"));
        match serde_json::from_value::<App>(value) {
            Ok(app) => out.apps.push(app),
            Err(e) => out.unreadable.push((id, e.to_string())),
        }
    }
    Ok(out)
}

/// `null` (or absent, with `#[serde(default)]`) as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
