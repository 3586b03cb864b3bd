//! `[mesos]`: the Mesos master's running tasks and their `traefik.*` labels become
//! backends and frontends (v1's Mesos provider; the translation is `crate::mesos`, the
//! polling client `src/provider/mesos.rs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Mesos {
    /// `http://127.0.0.1:5050` (default), or `zk://host:2181/mesos` to find the leading
    /// master through ZooKeeper.
    pub endpoint: String,
    /// Poll the master (default); `false`: read once.
    pub watch: bool,
    /// The default rule's domain: `Host:<task>.<domain>`.
    pub domain: String,
    /// Serve every task unless labelled `traefik.enable=false` (default).
    pub exposed_by_default: bool,
    /// Task names with groups: `/foo/bar/app` ⇒ `app.bar.foo` rather than `foo-bar-app`.
    pub groups_as_sub_domains: bool,
    /// Seconds between polls of `/state` (v1: 30).
    pub refresh_seconds: u64,
    /// Seconds to wait for `/state` (v1: 30).
    pub state_timeout_second: u64,
    /// Seconds to wait for ZooKeeper's master detection (v1: 30).
    pub zk_detection_timeout: u64,
    /// Which of a task's addresses to use, first found wins (v1's `ipSources`:
    /// `host`, `docker`, `mesos`, `rkt`); empty: the agent's host.
    pub ip_sources: String,
    /// v1's tag constraints (`tag==api`) on the tasks' `traefik.tags`.
    pub constraints: Vec<String>,
}

impl Default for Mesos {
    fn default() -> Self {
        Mesos {
            endpoint: "http://127.0.0.1:5050".to_string(),
            watch: true,
            domain: String::new(),
            exposed_by_default: true,
            groups_as_sub_domains: false,
            refresh_seconds: 30,
            state_timeout_second: 30,
            zk_detection_timeout: 30,
            ip_sources: String::new(),
            constraints: Vec::new(),
        }
    }
}
