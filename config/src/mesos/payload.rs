//! The master's `GET /master/state` answer (Mesos' HTTP endpoint reference, and the JSON
//! `src/common/http.cpp` writes), read into the little the translation needs:
//! `frameworks[].tasks[]` (`id`, `name`, `framework_id`, `slave_id`, `state`, `statuses[]`,
//! `labels`, `discovery`), `slaves[]` (`id`, `hostname`, `pid`) and `leader`. Anything that
//! is not the state's JSON (no `frameworks` or `slaves`, a field of the wrong type) is an
//! error, never an empty state: an empty read would take every route away.

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct State {
    /// Required: a `{}` from something that is not a master is an error.
    pub frameworks: Vec<Framework>,
    pub slaves: Vec<Slave>,
    /// The leading master's PID (`master@10.0.0.1:5050`); empty when there is none.
    #[serde(default)]
    pub leader: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Framework {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tasks: Vec<Task>,
}

/// An agent (`slaves[]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Slave {
    pub id: String,
    #[serde(default)]
    pub hostname: String,
    /// `slave(1)@10.0.0.1:5051`: the agent's address as the master reaches it.
    #[serde(default)]
    pub pid: String,
}

impl Slave {
    /// The agent's address: its PID's host (as v1 took it), else its host name.
    pub fn address(&self) -> Option<&str> {
        let from_pid = self
            .pid
            .rsplit_once('@')
            .and_then(|(_, host_port)| host_port.rsplit_once(':'))
            .map(|(host, _)| host)
            .filter(|h| !h.is_empty());
        from_pid.or(Some(self.hostname.as_str()).filter(|h| !h.is_empty()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub framework_id: String,
    #[serde(default)]
    pub slave_id: String,
    /// `TASK_RUNNING`, `TASK_STAGING`, `TASK_KILLED`, …
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// The master writes a task's labels as an array of `{key, value}`; a protobuf-style
    /// `{"labels": [...]}` is read too.
    #[serde(default)]
    pub labels: LabelList,
    #[serde(default)]
    pub discovery: Option<Discovery>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LabelList {
    Plain(Vec<Label>),
    Wrapped {
        #[serde(default)]
        labels: Vec<Label>,
    },
}

impl Default for LabelList {
    fn default() -> Self {
        LabelList::Plain(Vec::new())
    }
}

impl LabelList {
    pub fn list(&self) -> &[Label] {
        match self {
            LabelList::Plain(l) | LabelList::Wrapped { labels: l } => l,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Label {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub timestamp: f64,
    /// Set when the task has a health check.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// The containerizers' labels (`Docker.NetworkSettings.IPAddress`, …).
    #[serde(default)]
    pub labels: LabelList,
    #[serde(default)]
    pub container_status: ContainerStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ContainerStatus {
    #[serde(default)]
    pub network_infos: Vec<NetworkInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NetworkInfo {
    #[serde(default)]
    pub ip_addresses: Vec<IpAddress>,
    /// Mesos 0.25's single address.
    #[serde(default)]
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IpAddress {
    #[serde(default)]
    pub ip_address: Option<String>,
}

/// `DiscoveryInfo`, written as its protobuf's JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Discovery {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ports: Ports,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Ports {
    #[serde(default)]
    pub ports: Vec<DiscoveryPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DiscoveryPort {
    pub number: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: String,
}

/// The state from the master's answer.
pub fn parse_state(body: &[u8]) -> Result<State, String> {
    serde_json::from_slice(body).map_err(|e| format!("not the master's state: {e}"))
}

impl Task {
    /// The latest status (by timestamp; the later in the list on a tie), optionally only
    /// among those in `state`.
    pub fn latest_status(&self, state: Option<&str>) -> Option<&Status> {
        self.statuses
            .iter()
            .filter(|s| state.is_none_or(|want| s.state == want))
            .fold(None, |best: Option<&Status>, s| match best {
                Some(b) if b.timestamp > s.timestamp => Some(b),
                _ => Some(s),
            })
    }

    /// What the latest status that reports health says (`None`: no health check).
    pub fn healthy(&self) -> Option<bool> {
        self.statuses
            .iter()
            .filter(|s| s.healthy.is_some())
            .fold(None, |best: Option<&Status>, s| match best {
                Some(b) if b.timestamp > s.timestamp => Some(b),
                _ => Some(s),
            })
            .and_then(|s| s.healthy)
    }
}
