//! Requests routed by `Host` (the providers that build `Host:` rules: Consul's KV layout in
//! the tests, Consul Catalog): which `Backend` answered a host, and waiting until one does.

use serde_json::Value;

use super::{client, eventually};

/// Which backend answered `host` on `port` (`None`: not routed, or not a `Backend`).
pub async fn served_by(port: u16, host: &str) -> Option<String> {
    let r = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", host)
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["server"].as_str().map(str::to_string)
}

/// The status `host` gets on `port` (0 when nothing answers).
pub async fn status_of(port: u16, host: &str) -> u16 {
    client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", host)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Waits until `host` on `port` is answered by the backend named `by`.
pub async fn wait_served(port: u16, host: &str, by: &str) {
    let what = format!("{host} on :{port} served by {by}");
    eventually(&what, || async {
        (served_by(port, host).await.as_deref() == Some(by)).then_some(())
    })
    .await;
}
