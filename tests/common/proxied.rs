//! trafik in front of one provider under test: entry point `http` for traffic, `traefik`
//! for the API and `/metrics`, and the provider's table as the test writes it. The provider
//! tests (etcd, Redis, …) drive it the same way: wait until a path is served by a backend,
//! read `/api/state` and `/metrics`.

use serde_json::Value;

use super::{Trafik, client, eventually, free_port, get_json};

pub struct Proxied {
    pub trafik: Trafik,
    pub http: u16,
    pub api: u16,
}

impl Proxied {
    /// trafik with `[<table>]` holding `lines` (its keys, one per line).
    pub fn start(table: &str, lines: &str) -> Proxied {
        Self::start_with(table, lines, "", &[])
    }

    /// Also `extra` (more TOML, after the table) and `files` written beside trafik.toml.
    pub fn start_with(table: &str, lines: &str, extra: &str, files: &[(&str, &str)]) -> Proxied {
        let (http, api) = (free_port(), free_port());
        let toml = format!(
            r#"defaultEntryPoints = ["http"]
logLevel = "INFO"
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[metrics.prometheus]
[{table}]
{lines}
{extra}"#
        );
        Proxied {
            trafik: Trafik::start_with(&toml, files),
            http,
            api,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    /// The whole of `/api/state`.
    pub async fn state(&self) -> Value {
        get_json(&format!("http://127.0.0.1:{}/api/state", self.api))
            .await
            .1
    }

    /// `/api/state`'s entry for `provider`.
    pub async fn provider_state(&self, provider: &str) -> Value {
        self.state().await["providers"][provider].clone()
    }

    /// `/metrics`, or nothing when it does not answer.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.api);
        match client().get(&url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until `path` is answered by the backend named `server`.
    pub async fn served_by(&self, path: &str, server: &str) {
        let url = self.url(path);
        let what = format!("{path} served by {server}; log:\n{}", self.trafik.logs());
        eventually(&what, || {
            let url = url.clone();
            async move {
                let (status, body) = get_json(&url).await;
                (status == 200 && body["server"] == server).then_some(())
            }
        })
        .await
    }

    /// The status `path` answers now.
    pub async fn status(&self, path: &str) -> u16 {
        get_json(&self.url(path)).await.0
    }

    /// Waits until `path` answers `status`.
    pub async fn answers(&self, path: &str, status: u16) {
        self.trafik.wait_for(&self.url(path), status).await
    }
}
