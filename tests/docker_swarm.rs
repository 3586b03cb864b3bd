//! `[docker] swarmMode = true` against a real Swarm: a single-node manager of the test's
//! own (`common::own_dockerd`, never the system engine, which the other Docker tests use),
//! an attachable overlay network made by the test, and services running `trafik echo`
//! from an image built on that daemon from this build's binary.
//!
//! trafik itself runs as a plain container on that overlay, the daemon's socket mounted,
//! its entry point and API published on 127.0.0.1: the test reaches it from the host, it
//! reaches the tasks' addresses inside the overlay. So a `dnsrr` service's replicas are
//! served with traffic. This kernel has no IPVS, so a virtual IP carries nothing here: the
//! VIP mode (`traefik.backend.loadbalancer.swarm=true`) is checked on the server trafik
//! chose (`/api/providers`), against the VIP the engine reports.

mod common;

use std::collections::BTreeSet;

use common::own_dockerd::{OwnDaemon, build_image};
use common::{Trafik, client, free_port, get_json, provider_state};
use serde_json::Value;

const IMAGE: &str = "trafik-swarm-test:latest";

/// `common::eventually` with a longer deadline: a swarm scheduling tasks, and trafik backing
/// off between reads of a manager that was not one yet, are slow on a loaded 2-core machine.
async fn within_90s<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let polling = async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(90), polling)
        .await
        .unwrap_or_else(|_| panic!("timed out (90 s) waiting for: {what}"))
}

/// `GET /` through trafik: (status, the answering task's hostname).
async fn answered_by(port: u16, host: &str) -> (u16, Option<String>) {
    let Ok(r) = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("Host", host)
        .send()
        .await
    else {
        return (0, None);
    };
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let hostname = text
        .lines()
        .find_map(|l| l.strip_prefix("Hostname: "))
        .map(str::to_string);
    (status, hostname)
}

/// The servers' URLs of one backend trafik holds from the swarm (empty when it has none).
async fn server_urls(api: u16, backend: &str) -> BTreeSet<String> {
    let (_, providers) = get_json(&format!("http://127.0.0.1:{api}/api/providers")).await;
    providers["docker"]["backends"][backend]["servers"]
        .as_object()
        .map(|servers| {
            servers
                .values()
                .filter_map(|s| s["url"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Each running task's address on `network`, as the engine reports it.
fn task_addresses(daemon: &OwnDaemon, service: &str, network: &str) -> BTreeSet<String> {
    let ids = daemon.docker_ok(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        service,
    ]);
    let mut out = BTreeSet::new();
    for id in ids.split_whitespace() {
        let json = daemon.docker_ok(&["inspect", id]);
        let task: Value = serde_json::from_str(&json).unwrap();
        for attachment in task[0]["NetworksAttachments"].as_array().unwrap() {
            if attachment["Network"]["Spec"]["Name"] == network {
                let addr = attachment["Addresses"][0].as_str().unwrap();
                out.insert(addr.split('/').next().unwrap().to_string());
            }
        }
    }
    out
}

fn service_create(daemon: &OwnDaemon, name: &str, network: &str, extra: &[&str]) {
    let mut args = vec![
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--network",
        network,
        // Each task answers with its own name (`web.1.<task id>`).
        "--hostname",
        "{{.Task.Name}}",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, "echo", "0.0.0.0:80"]);
    daemon.docker_ok(&args);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_services_are_discovered_balanced_scaled_and_removed() {
    let mut daemon = OwnDaemon::start_with(false);
    daemon.wait_ready().await;
    let network = format!("trsw{}", std::process::id());

    // A second trafik, on the host: it cannot reach the overlay, so it is checked through
    // its API only, on what the engine being down or not a manager does to it.
    let host_api = free_port();
    let _host_trafik = Trafik::start(&format!(
        r#"providersThrottleDuration = "0s"
[entryPoints.http]
address = "127.0.0.1:{}"
[entryPoints.traefik]
address = "127.0.0.1:{host_api}"
[api]
[docker]
endpoint = "{}"
swarmMode = true
swarmModeRefreshSeconds = 1
network = "{network}"
"#,
        free_port(),
        daemon.endpoint()
    ));
    // Not a manager yet: the engine answers 503, an outage (never an empty configuration).
    let error = within_90s("the host trafik's source down: not a manager", || async {
        let store = provider_state(host_api, "docker").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains("not a swarm manager"), "{error}");

    daemon.init_swarm();
    build_image(&daemon, IMAGE);
    daemon.docker_ok(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--attachable",
        &network,
    ]);

    service_create(
        &daemon,
        "web",
        &network,
        &[
            "--endpoint-mode",
            "dnsrr",
            "--replicas",
            "2",
            "--label",
            "traefik.port=80",
            "--label",
            "traefik.frontend.rule=Host:web.test",
        ],
    );
    service_create(
        &daemon,
        "vip",
        &network,
        &[
            "--label",
            "traefik.port=80",
            "--label",
            "traefik.backend.loadbalancer.swarm=true",
            "--label",
            "traefik.frontend.rule=Host:vip.test",
        ],
    );
    service_create(
        &daemon,
        "bad",
        &network,
        &["--endpoint-mode", "dnsrr", "--label", "traefik.port=eighty"],
    );

    // trafik in a container on the overlay, reading the swarm through the mounted socket.
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        config_dir.path().join("trafik.toml"),
        format!(
            r#"defaultEntryPoints = ["http"]
providersThrottleDuration = "0s"
[entryPoints.http]
address = ":80"
[entryPoints.traefik]
address = ":8080"
[api]
[docker]
swarmMode = true
swarmModeRefreshSeconds = 1
network = "{network}"
domain = "swarm.test"
"#
        ),
    )
    .unwrap();
    let (http, api) = (free_port(), free_port());
    daemon.docker_ok(&[
        "run",
        "-d",
        "--name",
        "trafik",
        "--network",
        &network,
        "-v",
        &format!("{}:/var/run/docker.sock", daemon.socket().display()),
        "-v",
        &format!("{}:/etc/trafik", config_dir.path().display()),
        "-p",
        &format!("127.0.0.1:{http}:80"),
        "-p",
        &format!("127.0.0.1:{api}:8080"),
        IMAGE,
        "--configFile",
        "/etc/trafik/trafik.toml",
    ]);
    let logs = || daemon.docker(&["logs", "trafik"]).1;

    // Both replicas discovered, at the addresses the engine gives their tasks, and
    // balanced: each answers in turn with its own task name.
    let web_tasks = within_90s("web's two tasks running on the overlay", || async {
        let tasks = task_addresses(&daemon, "web", &network);
        (tasks.len() == 2).then_some(tasks)
    })
    .await;
    let expected: BTreeSet<String> = web_tasks.iter().map(|a| format!("http://{a}:80")).collect();
    within_90s("trafik serving both web tasks", || async {
        (server_urls(api, "backend-web").await == expected).then_some(())
    })
    .await;
    let seen = std::sync::Mutex::new(BTreeSet::new());
    within_90s("both replicas answering through trafik", || async {
        if let (200, Some(name)) = answered_by(http, "web.test").await {
            seen.lock().unwrap().insert(name);
        }
        (seen.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.iter().any(|n| n.starts_with("web.1."))
            && seen.iter().any(|n| n.starts_with("web.2.")),
        "{seen:?}"
    );

    // The host's trafik came up with the swarm and reads the same addresses.
    within_90s("the host trafik reading the swarm", || async {
        (server_urls(host_api, "backend-web").await == expected).then_some(())
    })
    .await;
    assert_eq!(
        provider_state(host_api, "docker").await["store"]["up"],
        true
    );

    // VIP mode: one server, the service's virtual IP on the overlay.
    let vip: Value =
        serde_json::from_str(&daemon.docker_ok(&["service", "inspect", "vip"])).unwrap();
    let network_id = daemon.docker_ok(&["network", "inspect", "-f", "{{.Id}}", &network]);
    let vip_addr = vip[0]["Endpoint"]["VirtualIPs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["NetworkID"] == network_id.trim())
        .and_then(|v| v["Addr"].as_str())
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let urls = within_90s("vip served at its VIP", || async {
        let urls = server_urls(api, "backend-vip").await;
        (!urls.is_empty()).then_some(urls)
    })
    .await;
    assert_eq!(
        urls,
        BTreeSet::from([format!("http://{vip_addr}:80")]),
        "{}",
        logs()
    );
    let vip_task = task_addresses(&daemon, "vip", &network);
    assert!(!vip_task.is_empty() && !vip_task.contains(&vip_addr));

    // The service with a bad label is left out, named with its label; the rest served.
    let (_, state) = get_json(&format!("http://127.0.0.1:{api}/api/state")).await;
    let error = state["providers"]["docker"]["lastError"].to_string();
    assert!(
        error.contains("service bad: label traefik.port: invalid port"),
        "{state}"
    );
    assert_eq!(state["providers"]["docker"]["store"]["up"], true, "{state}");

    // `trafik check` reads the services once, with the same problem.
    let check_dir = tempfile::tempdir().unwrap();
    let check_config = check_dir.path().join("trafik.toml");
    std::fs::write(
        &check_config,
        format!(
            "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[docker]\nendpoint = \"{}\"\nswarmMode = true\nnetwork = \"{network}\"\n",
            free_port(),
            daemon.endpoint()
        ),
    )
    .unwrap();
    let (_, out, err) = common::run_trafik(
        &["check", "--configFile", &check_config.to_string_lossy()],
        check_dir.path(),
    );
    let text = format!("{out}{err}");
    assert!(text.contains("service bad: label traefik.port"), "{text}");

    // Scaled to zero: no server left, the frontend gone (404, as for a stopped container).
    daemon.docker_ok(&["service", "scale", "-d", "web=0"]);
    within_90s("web's routes gone once scaled to zero", || async {
        let gone = server_urls(api, "backend-web").await.is_empty();
        (gone && answered_by(http, "web.test").await.0 == 404).then_some(())
    })
    .await;
    // Back to one, then removed.
    daemon.docker_ok(&["service", "scale", "-d", "web=1"]);
    within_90s("web served again by one task", || async {
        let (status, name) = answered_by(http, "web.test").await;
        (status == 200 && name.is_some_and(|n| n.starts_with("web.1."))).then_some(())
    })
    .await;
    daemon.docker_ok(&["service", "rm", "web"]);
    within_90s("web's routes gone once removed", || async {
        let gone = server_urls(api, "backend-web").await.is_empty();
        (gone && answered_by(http, "web.test").await.0 == 404).then_some(())
    })
    .await;
    // The VIP service is untouched by all this.
    assert_eq!(server_urls(api, "backend-vip").await, urls);

    // The manager gone: the host's trafik keeps the last configuration, and says so.
    within_90s("the host trafik without web", || async {
        server_urls(host_api, "backend-web")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    assert_eq!(server_urls(host_api, "backend-vip").await, urls);
    daemon.stop().await;
    let error = within_90s("the host trafik's source down", || async {
        let store = provider_state(host_api, "docker").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains("docker.sock"), "{error}");
    assert_eq!(server_urls(host_api, "backend-vip").await, urls);
    // Started again, so that dropping it leaves the swarm and removes its networks.
    daemon.spawn();
    daemon.wait_ready().await;
    drop(daemon);
}
