//! Benchmarks, not tests (`#[ignore]`d; `benches/provider_latency.sh` runs them): how long a
//! change in Kubernetes or Marathon takes to be served, measured through the real binary
//! against the protocol doubles, with `providersThrottleDuration = "0s"` so the figure is
//! trafik's own latency (the issue's goal: live within 1 s plus the throttle). Each round
//! makes one change (a new host) and polls every 2 ms until a request for it is served;
//! the rounds' min / median / max are printed.

use crate::common;

use std::time::{Duration, Instant};

use common::by_host::served_by;
use common::kube_api::{KubeApi, objects};
use common::marathon::MarathonDouble;
use common::{Backend, Trafik, free_port};
use serde_json::json;

const ROUNDS: usize = 20;

/// Polls until `host` is served by `by`; the time it took (panics after 30 s).
async fn until_served(port: u16, host: &str, by: &str, since: Instant) -> Duration {
    loop {
        if served_by(port, host).await.as_deref() == Some(by) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{host} never served"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: {} changes, live after min {:.0} ms, median {:.0} ms, max {:.0} ms",
        samples.len(),
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    );
}

fn trafik(http: u16, provider: &str) -> Trafik {
    Trafik::start(&format!(
        r#"defaultEntryPoints = ["http"]
providersThrottleDuration = "0s"
[entryPoints.http]
address = "127.0.0.1:{http}"
{provider}
"#
    ))
}

#[tokio::test]
#[ignore = "a benchmark: benches/provider_latency.sh"]
async fn kubernetes_change_latency() {
    let api = KubeApi::start().await;
    api.put(objects::ingress_class("trafik"));
    let backend = Backend::start("k8s").await;
    api.put(objects::service("default", "web", 80, "http"));
    api.put(objects::endpoint_slice(
        "default",
        "web",
        "web-0",
        "http",
        backend.addr.port(),
        1,
    ));
    let http = free_port();
    let _trafik = trafik(
        http,
        &format!("[kubernetes]\nendpoint = \"{}\"\n", api.url()),
    );
    let mut samples = Vec::new();
    for round in 0..=ROUNDS {
        let host = format!("r{round}.k8s.test");
        let since = Instant::now();
        api.put(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": format!("r{round}"), "namespace": "default", "generation": 1},
            "spec": {"ingressClassName": "trafik", "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}
            }]}}]},
            "status": {"loadBalancer": {}}
        }));
        let took = until_served(http, &host, "k8s", since).await;
        // Round 0 also waits for trafik's start and first listing: not a change.
        if round > 0 {
            samples.push(took);
        }
    }
    report("kubernetes (Ingress added)", samples);
}

#[tokio::test]
#[ignore = "a benchmark: benches/provider_latency.sh"]
async fn marathon_change_latency() {
    let double = MarathonDouble::start().await;
    let backend = Backend::start("marathon").await;
    let http = free_port();
    let _trafik = trafik(
        http,
        &format!(
            "[marathon]\nendpoint = \"{}\"\ndomain = \"m.test\"\n",
            double.endpoint()
        ),
    );
    let mut samples = Vec::new();
    for round in 0..=ROUNDS {
        let id = format!("/app{round}");
        let since = Instant::now();
        double.deploy(&id, &[], false, &[("t1", backend.addr.port())]);
        let took = until_served(http, &format!("app{round}.m.test"), "marathon", since).await;
        if round > 0 {
            samples.push(took);
        }
    }
    report("marathon (app deployed)", samples);
}
