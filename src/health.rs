//! Active health checks (`[backends.X.healthCheck]`): one task per server GETs its health
//! path every interval; a server that answers < 200 or ≥ 400, or not within 5 s, leaves
//! the rotation until it answers well again. Checkers live in a registry keyed by what
//! they check, so a reload that keeps a server keeps its checker and its state, and the
//! entry points that share a backend share its servers' health.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::AbortHandle;

/// v1's fixed health-check request timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A server's current health, read on every request that may go to it.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
}

impl Health {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

/// Everything that makes two checks the same check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub backend: String,
    pub url: String,
    pub interval: Duration,
    pub hostname: Option<String>,
    pub headers: BTreeMap<String, String>,
}

impl CheckSpec {
    /// Builds the spec for one server: v1's scheme/port overrides applied to its URL.
    pub fn new(
        backend: &str,
        server_url: &str,
        check: &trafik_config::HealthCheck,
        default_interval: Duration,
    ) -> Result<CheckSpec, String> {
        if !check.path.starts_with('/') {
            return Err(format!(
                "healthCheck path {:?} must start with \"/\"",
                check.path
            ));
        }
        let uri: http::Uri = server_url
            .parse()
            .map_err(|e| format!("invalid server url {server_url:?}: {e}"))?;
        let scheme = match (check.scheme.as_str(), uri.scheme_str()) {
            ("", Some("h2c")) | ("", None) => "http",
            ("", Some(s)) => s,
            (s, _) => s,
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("invalid server url {server_url:?}: no host"))?;
        let port = match (check.port, uri.port_u16()) {
            (0, Some(p)) => format!(":{p}"),
            (0, None) => String::new(),
            (p, _) => format!(":{p}"),
        };
        let interval = check
            .interval
            .map(|d| d.get())
            .filter(|d| !d.is_zero())
            .unwrap_or(default_interval);
        Ok(CheckSpec {
            backend: backend.to_string(),
            url: format!("{scheme}://{host}{port}{}", check.path),
            interval,
            hostname: Some(check.hostname.clone()).filter(|h| !h.is_empty()),
            headers: check.headers.clone(),
        })
    }
}

struct Checker {
    health: Arc<Health>,
    task: AbortHandle,
}

/// The checkers of the running configuration; owned by the aggregator.
pub struct HealthRegistry {
    client: reqwest::Client,
    checkers: HashMap<CheckSpec, Checker>,
}

impl HealthRegistry {
    /// `tls`: what https checks trust, the forwarder's own (rootCAs, insecureSkipVerify).
    pub fn new(tls: rustls::ClientConfig) -> Self {
        let builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT);
        let client = builder
            .tls_backend_preconfigured(tls)
            .build()
            .expect("a client with a preconfigured TLS backend builds");
        HealthRegistry {
            client,
            checkers: HashMap::new(),
        }
    }

    /// The health of the server `spec` checks, starting a checker if none runs yet.
    pub fn health(&mut self, spec: &CheckSpec) -> Arc<Health> {
        if let Some(c) = self.checkers.get(spec) {
            return c.health.clone();
        }
        // Up until a check says otherwise, as v1: a new server takes traffic at once.
        let health = Arc::new(Health {
            up: AtomicBool::new(true),
        });
        let task = tokio::spawn(check_loop(
            self.client.clone(),
            spec.clone(),
            health.clone(),
        ))
        .abort_handle();
        self.checkers.insert(
            spec.clone(),
            Checker {
                health: health.clone(),
                task,
            },
        );
        health
    }

    /// Stops the checkers the new configuration no longer uses.
    pub fn retain(&mut self, live: &HashSet<CheckSpec>) {
        self.checkers.retain(|spec, c| {
            let keep = live.contains(spec);
            if !keep {
                c.task.abort();
            }
            keep
        });
    }
}

impl Drop for HealthRegistry {
    fn drop(&mut self) {
        for c in self.checkers.values() {
            c.task.abort();
        }
    }
}

async fn check_loop(client: reqwest::Client, spec: CheckSpec, health: Arc<Health>) {
    let mut ticker = tokio::time::interval(spec.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let verdict = check_once(&client, &spec).await;
        let was_up = health.up.swap(verdict.is_ok(), Ordering::Relaxed);
        match (&verdict, was_up) {
            (Err(why), true) => {
                tracing::warn!(backend = %spec.backend, "health check {} failed: {why}; server out of rotation", spec.url)
            }
            (Ok(()), false) => {
                tracing::info!(backend = %spec.backend, "health check {} passes; server back in rotation", spec.url)
            }
            _ => {}
        }
    }
}

async fn check_once(client: &reqwest::Client, spec: &CheckSpec) -> Result<(), String> {
    let mut req = client.get(&spec.url);
    if let Some(host) = &spec.hostname {
        req = req.header(http::header::HOST, host);
    }
    for (k, v) in &spec.headers {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(r) if (200..400).contains(&r.status().as_u16()) => Ok(()),
        Ok(r) => Err(format!("status {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, port: u16, scheme: &str) -> trafik_config::HealthCheck {
        trafik_config::HealthCheck {
            path: path.into(),
            port,
            scheme: scheme.into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_applies_v1_overrides() {
        let d = Duration::from_secs(30);
        let s = CheckSpec::new("b", "http://10.0.0.1:8080/x", &check("/health", 0, ""), d).unwrap();
        assert_eq!(s.url, "http://10.0.0.1:8080/health");
        assert_eq!(s.interval, d);
        let s =
            CheckSpec::new("b", "http://10.0.0.1:8080", &check("/h", 9000, "https"), d).unwrap();
        assert_eq!(s.url, "https://10.0.0.1:9000/h");
        let s = CheckSpec::new("b", "h2c://b:81", &check("/h", 0, ""), d).unwrap();
        assert_eq!(s.url, "http://b:81/h");
        assert!(
            CheckSpec::new("b", "http://a", &check("health", 0, ""), d)
                .unwrap_err()
                .contains("must start with")
        );
    }
}
