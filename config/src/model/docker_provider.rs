//! `[docker]`: running containers and their `traefik.*` labels become backends and
//! frontends (v1's Docker provider; the translation is `crate::docker`).

use serde::{Deserialize, Serialize};

use super::auth::ClientTls;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Docker {
    /// `unix:///var/run/docker.sock` (default) or `tcp://host:port`.
    pub endpoint: Option<String>,
    /// `[docker.tls]`: towards an engine that speaks TLS (`tcp://`).
    pub tls: Option<ClientTls>,
    /// Follow the engine's events (default; Swarm mode polls); `false`: read once.
    pub watch: bool,
    /// Serve every container unless labelled `traefik.enable=false` (default); `false`:
    /// only those labelled `traefik.enable=true`.
    pub exposed_by_default: bool,
    /// The default rule's domain: `Host:<container>.<domain>`.
    pub domain: String,
    /// The network containers are reached on (`traefik.docker.network` wins).
    pub network: String,
    /// The host's bound address and port rather than the container's (v1's
    /// `usebindportip`, matched case-insensitively).
    #[serde(rename = "usebindportip")]
    pub use_bind_port_ip: bool,
    /// Swarm mode: the manager's services and their running tasks, labelled on the
    /// service, instead of containers (`crate::docker::swarm`).
    pub swarm_mode: bool,
    /// How often Swarm mode reads the services again, in seconds (default 15, v1's): it
    /// polls, as v1 did, rather than following events.
    pub swarm_mode_refresh_seconds: Option<u64>,
    /// v1's tag constraints (`tag==api`, `tag!=v*-beta`) on the containers' `traefik.tags`.
    pub constraints: Vec<String>,
}

impl Default for Docker {
    fn default() -> Self {
        Docker {
            endpoint: None,
            tls: None,
            watch: true,
            exposed_by_default: true,
            domain: String::new(),
            network: String::new(),
            use_bind_port_ip: false,
            swarm_mode: false,
            swarm_mode_refresh_seconds: None,
            constraints: Vec::new(),
        }
    }
}

impl Docker {
    pub const DEFAULT_ENDPOINT: &'static str = "unix:///var/run/docker.sock";

    pub fn endpoint(&self) -> &str {
        self.endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .unwrap_or(Self::DEFAULT_ENDPOINT)
    }

    /// v1's default `swarmModeRefreshSeconds`.
    pub const DEFAULT_SWARM_MODE_REFRESH_SECONDS: u64 = 15;

    /// Swarm mode's polling period (`swarmModeRefreshSeconds`, default 15 s).
    pub fn swarm_mode_refresh(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.swarm_mode_refresh_seconds
                .unwrap_or(Self::DEFAULT_SWARM_MODE_REFRESH_SECONDS),
        )
    }

    /// What this version cannot do yet, asked for: refused at start, never ignored.
    pub fn not_implemented(&self) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::load_static;

    #[test]
    fn the_table_loads_with_v1_defaults() {
        let cfg = load_static("t.toml", "[docker]\n").unwrap().value;
        let d = cfg.docker.unwrap();
        assert_eq!(d.endpoint(), "unix:///var/run/docker.sock");
        assert!(d.watch && d.exposed_by_default && !d.use_bind_port_ip);
        assert_eq!(d.not_implemented(), None);

        let text = r#"
            [docker]
            endpoint = "tcp://127.0.0.1:2375"
            watch = false
            exposedByDefault = false
            domain = "docker.localhost"
            network = "web"
            usebindportip = true
            swarmModeRefreshSeconds = 30
            [docker.tls]
            ca = "/ca.pem"
            insecureSkipVerify = true
        "#;
        let warned = load_static("t.toml", text).unwrap();
        assert!(warned.warnings.is_empty(), "{:?}", warned.warnings);
        let d = warned.value.docker.unwrap();
        assert_eq!(d.endpoint(), "tcp://127.0.0.1:2375");
        assert!(!d.watch && !d.exposed_by_default && d.use_bind_port_ip);
        assert_eq!(
            (d.domain.as_str(), d.network.as_str()),
            ("docker.localhost", "web")
        );
        assert_eq!(d.swarm_mode_refresh().as_secs(), 30);
        assert!(d.tls.unwrap().insecure_skip_verify);

        let swarm = load_static("t.toml", "[docker]\nswarmMode = true\n").unwrap();
        let d = swarm.value.docker.unwrap();
        assert!(d.swarm_mode);
        assert_eq!(d.not_implemented(), None);
        assert_eq!(d.swarm_mode_refresh().as_secs(), 15);
        let c = load_static("t.toml", "[docker]\nconstraints = [\"tag==api\"]\n").unwrap();
        let d = c.value.docker.unwrap();
        assert_eq!(d.constraints, vec!["tag==api".to_string()]);
        assert_eq!(d.not_implemented(), None);
    }
}
