//! `[consulCatalog]`: services registered in Consul become backends and frontends, through
//! the real trafik binary, against the double of Consul's HTTP API in
//! `tests/common/consul.rs` (catalog, health, blocking queries): no Consul server can be
//! installed here. One double per test (in-process, cheap).

use crate::common;
use common::by_host::{served_by, status_of, wait_served};

use std::time::Duration;

use common::consul::ConsulDouble;
use common::{Backend, Trafik, eventually, free_port, provider_state};

struct Ports {
    http: u16,
    api: u16,
}

fn start(double: &ConsulDouble, extra: &str) -> (Trafik, Ports) {
    let p = Ports {
        http: free_port(),
        api: free_port(),
    };
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[metrics.prometheus]
[consulCatalog]
endpoint = "{endpoint}"
domain = "consul.test"
{extra}
"#,
        http = p.http,
        api = p.api,
        endpoint = double.endpoint(),
    );
    (Trafik::start(&toml), p)
}

fn port(b: &Backend) -> u16 {
    b.addr.port()
}

/// Ten answers in a row from `by` alone.
async fn wait_only(port: u16, host: &str, by: &str) {
    let what = format!("{host} served by {by} alone");
    eventually(&what, || async {
        for _ in 0..10 {
            if served_by(port, host).await.as_deref() != Some(by) {
                return None;
            }
        }
        Some(())
    })
    .await;
}

#[tokio::test]
async fn passing_instances_serve_at_the_default_rule_and_follow_checks() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.register("web-1", "web", port(&one), &[]);
    let (_trafik, p) = start(&double, "");
    // `Host:{{.ServiceName}}.{{.Domain}}`.
    wait_served(p.http, "web.consul.test", "one").await;

    // A new instance joins the rotation.
    double.register("web-2", "web", port(&two), &[]);
    wait_served(p.http, "web.consul.test", "two").await;

    // A failing check takes its instance out.
    double.set_check("web-1", "critical");
    wait_only(p.http, "web.consul.test", "two").await;

    // Back to passing: back in.
    double.set_check("web-1", "passing");
    wait_served(p.http, "web.consul.test", "one").await;

    // No healthy instance left: the service is gone.
    double.deregister("web-1");
    double.set_check("web-2", "critical");
    eventually("web no longer routed", || async {
        (status_of(p.http, "web.consul.test").await == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn enable_tags_against_exposed_by_default() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    double.register("shown-1", "shown", port(&one), &[]);
    double.register("hidden-1", "hidden", port(&one), &["traefik.enable=false"]);
    double.register("optin-1", "optin", port(&one), &["traefik.enable=true"]);

    // exposedByDefault = true (default): all but `traefik.enable=false`.
    let (_a, a) = start(&double, "");
    wait_served(a.http, "shown.consul.test", "one").await;
    assert_eq!(
        served_by(a.http, "optin.consul.test").await.as_deref(),
        Some("one")
    );
    assert_eq!(status_of(a.http, "hidden.consul.test").await, 404);

    // exposedByDefault = false: only `traefik.enable=true`.
    let (_b, b) = start(&double, "exposedByDefault = false");
    wait_served(b.http, "optin.consul.test", "one").await;
    assert_eq!(status_of(b.http, "shown.consul.test").await, 404);
    assert_eq!(status_of(b.http, "hidden.consul.test").await, 404);
}

#[tokio::test]
async fn tags_configure_the_frontend_and_a_bad_one_names_service_and_tag() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    double.register(
        "api-1",
        "api",
        port(&one),
        &[
            "traefik.frontend.rule=Host:{{getTag \"team\" .Attributes \"x\"}}.example",
            "team=blue",
        ],
    );
    double.register(
        "broken-1",
        "broken",
        port(&one),
        &["traefik.frontend.priority=high"],
    );
    let (trafik, p) = start(&double, "prefix = \"traefik\"");
    wait_served(p.http, "blue.example", "one").await;

    let error = eventually("the bad tag reported in /api/state", || async {
        provider_state(p.api, "consulCatalog").await["lastError"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("service broken") && error.contains("traefik.frontend.priority"),
        "{error}"
    );
    assert!(
        trafik.logs().contains("traefik.frontend.priority"),
        "{}",
        trafik.logs()
    );
    assert_eq!(status_of(p.http, "broken.consul.test").await, 404);
}

#[tokio::test]
async fn consul_down_keeps_the_services_and_they_are_read_again_once_back() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.register("web-1", "web", port(&one), &[]);
    let (_trafik, p) = start(&double, "");
    wait_served(p.http, "web.consul.test", "one").await;

    double.stop();
    eventually("consulCatalog reported down", || async {
        (provider_state(p.api, "consulCatalog").await["store"]["up"] == false).then_some(())
    })
    .await;
    assert_eq!(
        served_by(p.http, "web.consul.test").await.as_deref(),
        Some("one")
    );

    double.deregister("web-1");
    double.register("web-2", "web", port(&two), &[]);
    double.restart().await;
    // The backoff may be several seconds by now.
    let start = std::time::Instant::now();
    while served_by(p.http, "web.consul.test").await.as_deref() != Some("two") {
        assert!(start.elapsed() < Duration::from_secs(60), "not read again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        provider_state(p.api, "consulCatalog").await["store"]["up"],
        true
    );
}

#[tokio::test]
async fn a_front_end_rule_that_cannot_be_expanded_refuses_to_start() {
    let double = ConsulDouble::start().await;
    let (mut trafik, _p) = start(&double, "frontEndRule = \"Host:{{.Name}}\"");
    let status = trafik.wait_exit(common::DEADLINE).await;
    assert!(!status.success());
    let logs = trafik.logs();
    assert!(
        logs.contains("frontEndRule") && logs.contains(".Name"),
        "{logs}"
    );
}

#[tokio::test]
async fn trafik_check_reads_the_catalog_once_and_names_a_bad_tag() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    double.register("web-1", "web", port(&one), &[]);
    double.register("broken-1", "broken", port(&one), &["traefik.weight=heavy"]);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[consulCatalog]\nendpoint = \"{}\"\n",
        free_port(),
        double.endpoint()
    );
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    // `check` runs to completion while this runtime keeps the double answering.
    let (status, stdout, stderr) =
        tokio::task::spawn_blocking(move || common::run_trafik(&["check"], &path))
            .await
            .unwrap();
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("service broken") && stderr.contains("traefik.weight"),
        "{stdout}{stderr}"
    );
}

#[tokio::test]
async fn stale_reads_ask_for_stale_and_the_token_is_sent() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    double.set_token(Some("catalog-token"));
    double.register("web-1", "web", port(&one), &[]);
    let (_trafik, p) = start(&double, "stale = true\ntoken = \"catalog-token\"");
    wait_served(p.http, "web.consul.test", "one").await;
    assert!(
        double.stale_reads() >= 2,
        "services and health read with ?stale"
    );

    // Without the token: Consul's refusal, named.
    let (_bad, b) = start(&double, "");
    let error = eventually("the refusal reported", || async {
        provider_state(b.api, "consulCatalog").await["store"]["error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("403") && error.contains("ACL not found"),
        "{error}"
    );
}
