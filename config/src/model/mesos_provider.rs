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
    /// `host`, `docker`, `mesos`, `netinfo`); empty: the agent's host.
    pub ip_sources: String,
    /// v1's tag constraints (`tag==api`) on the tasks' `traefik.tags`.
    pub constraints: Vec<String>,
    /// v1's custom Go template: not implemented yet; set, it is refused at start.
    pub filename: String,
    /// v1's template version: 2 (v1.7's, what the translation follows) is accepted, 1 is
    /// refused at start.
    pub template_version: Option<u32>,
    /// v1 logged its generated template: there is none; `true` is refused at start.
    pub debug_log_generated_template: bool,
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
            filename: String::new(),
            template_version: None,
            debug_log_generated_template: false,
        }
    }
}

impl Mesos {
    /// What this version cannot do yet, asked for: refused at start, never ignored.
    pub fn not_implemented(&self) -> Option<&'static str> {
        if !self.filename.trim().is_empty() {
            return Some("filename (a custom template) is not implemented yet");
        }
        if self.template_version.is_some_and(|v| v != 2) {
            return Some("templateVersion: only 2 (Traefik 1.7's) is implemented");
        }
        if self.debug_log_generated_template {
            return Some(
                "debugLogGeneratedTemplate is not implemented yet (no template is generated)",
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::load_static;

    #[test]
    fn the_table_loads_with_v1_defaults_and_refuses_templates() {
        let m = load_static("t.toml", "[mesos]\n")
            .unwrap()
            .value
            .mesos
            .unwrap();
        assert_eq!(m.endpoint, "http://127.0.0.1:5050");
        assert!(m.watch && m.exposed_by_default && !m.groups_as_sub_domains);
        assert_eq!(
            (
                m.refresh_seconds,
                m.state_timeout_second,
                m.zk_detection_timeout
            ),
            (30, 30, 30)
        );
        assert_eq!(m.not_implemented(), None);
        let text = "[mesos]\nendpoint = \"zk://127.0.0.1:2181/mesos\"\nwatch = false\n\
                    domain = \"mesos.localhost\"\nexposedByDefault = false\n\
                    groupsAsSubDomains = true\nrefreshSeconds = 5\nstateTimeoutSecond = 6\n\
                    zkDetectionTimeout = 7\nipSources = \"docker,host\"\n\
                    constraints = [\"tag==api\"]\ntemplateVersion = 2\n";
        let loaded = load_static("t.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let m = loaded.value.mesos.unwrap();
        assert_eq!(
            (
                m.refresh_seconds,
                m.state_timeout_second,
                m.zk_detection_timeout
            ),
            (5, 6, 7)
        );
        assert_eq!(m.ip_sources, "docker,host");
        assert_eq!(m.not_implemented(), None);
        for refused in [
            "filename = \"mesos.tmpl\"",
            "templateVersion = 1",
            "debugLogGeneratedTemplate = true",
        ] {
            let m = load_static("t.toml", &format!("[mesos]\n{refused}\n"))
                .unwrap()
                .value
                .mesos
                .unwrap();
            assert!(m.not_implemented().is_some(), "{refused}");
        }
    }
}
