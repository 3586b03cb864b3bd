//! `[mesos]` through the real trafik binary, against a double of the Mesos master's HTTP
//! API (`common::mesos`: no Mesos master can be installed here) and, for `zk://`
//! discovery, Debian's real ZooKeeper holding the leader election's `json.info_` znodes.
//! Tasks run on the agent 127.0.0.1; their discovery ports are in-process `Backend`s'.

use crate::common;

use std::sync::OnceLock;

use common::by_host::{served_by, status_of, wait_served};
use common::load::Load;
use common::mesos::{MesosDouble, task};
use common::store_server::StoreServer;
use common::zookeeper::try_connect;
use common::{Backend, Trafik, eventually, free_port, provider_state};
use zookeeper_client as zk;

const RUNNING: &str = "TASK_RUNNING";

struct Ports {
    http: u16,
    api: u16,
}

/// trafik polling `endpoint` every second, Host rules under `mesos.test`.
fn start(endpoint: &str, extra: &str) -> (Trafik, Ports) {
    let p = Ports {
        http: free_port(),
        api: free_port(),
    };
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
providersThrottleDuration = "0s"
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[mesos]
endpoint = "{endpoint}"
refreshSeconds = 1
domain = "mesos.test"
{extra}
"#,
        http = p.http,
        api = p.api,
    );
    (Trafik::start(&toml), p)
}

fn port(b: &Backend) -> u16 {
    b.addr.port()
}

#[tokio::test]
async fn tasks_are_polled_scaled_and_killed() {
    let master = MesosDouble::start().await;
    let (one, two, api) = (
        Backend::start("one").await,
        Backend::start("two").await,
        Backend::start("api").await,
    );
    master.set_tasks(vec![task(
        "shop_web.1",
        "/shop/web",
        port(&one),
        &[],
        RUNNING,
        None,
    )]);
    let (_t, p) = start(&master.url(), "");
    // v1's default rule: the groups as dashes, under the domain.
    wait_served(p.http, "shop-web.mesos.test", "one").await;

    // Scaled up, and a second application with its own rule: picked up by a later poll.
    master.set_tasks(vec![
        task("shop_web.1", "/shop/web", port(&one), &[], RUNNING, None),
        task("shop_web.2", "/shop/web", port(&two), &[], RUNNING, None),
        task(
            "api.1",
            "/api",
            port(&api),
            &[("traefik.frontend.rule", "Host:api.example.test")],
            RUNNING,
            None,
        ),
    ]);
    wait_served(p.http, "api.example.test", "api").await;
    eventually("both tasks of shop/web serving", || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..6 {
            seen.extend(served_by(p.http, "shop-web.mesos.test").await);
        }
        (seen.len() == 2).then_some(())
    })
    .await;

    // One task killed: its server goes; the application's last one killed: its route.
    master.set_tasks(vec![
        task("shop_web.2", "/shop/web", port(&two), &[], RUNNING, None),
        task(
            "api.1",
            "/api",
            port(&api),
            &[("traefik.frontend.rule", "Host:api.example.test")],
            "TASK_KILLED",
            None,
        ),
    ]);
    eventually("api unrouted", || async {
        (status_of(p.http, "api.example.test").await == 404).then_some(())
    })
    .await;
    eventually("only the second task serving", || async {
        for _ in 0..6 {
            if served_by(p.http, "shop-web.mesos.test").await.as_deref() != Some("two") {
                return None;
            }
        }
        Some(())
    })
    .await;
    let hits = one.hits();
    for _ in 0..4 {
        assert_eq!(
            served_by(p.http, "shop-web.mesos.test").await.as_deref(),
            Some("two")
        );
    }
    assert_eq!(one.hits(), hits, "the killed task gets nothing");
    assert_eq!(provider_state(p.api, "mesos").await["store"]["up"], true);
}

#[tokio::test]
async fn only_running_healthy_tasks_and_a_bad_label_is_named() {
    let master = MesosDouble::start().await;
    let good = Backend::start("good").await;
    let other = Backend::start("other").await;
    master.set_tasks(vec![
        task("good.1", "good", port(&good), &[], RUNNING, Some(true)),
        task(
            "staging.1",
            "staging",
            port(&other),
            &[],
            "TASK_STAGING",
            None,
        ),
        task("sick.1", "sick", port(&other), &[], RUNNING, Some(false)),
        task(
            "hidden.1",
            "hidden",
            port(&other),
            &[("traefik.enable", "false")],
            RUNNING,
            None,
        ),
        task(
            "broken.7",
            "broken",
            port(&other),
            &[("traefik.port", "web")],
            RUNNING,
            None,
        ),
    ]);
    let (_t, p) = start(&master.url(), "");
    wait_served(p.http, "good.mesos.test", "good").await;
    let problem = eventually("the bad label reported in /api/state", || async {
        let text = provider_state(p.api, "mesos").await.to_string();
        text.contains("broken.7").then_some(text)
    })
    .await;
    assert!(
        problem.contains("task broken.7: label traefik.port: invalid port"),
        "{problem}"
    );
    for host in ["staging", "sick", "hidden", "broken"] {
        assert_eq!(
            status_of(p.http, &format!("{host}.mesos.test")).await,
            404,
            "{host}"
        );
    }
    assert_eq!(other.hits(), 0);

    // Healthy again and mended: served by the next poll, the problem gone.
    master.set_tasks(vec![
        task("good.1", "good", port(&good), &[], RUNNING, Some(true)),
        task("sick.1", "sick", port(&other), &[], RUNNING, Some(true)),
        task(
            "broken.7",
            "broken",
            port(&other),
            &[("traefik.port", &port(&other).to_string())],
            RUNNING,
            None,
        ),
    ]);
    wait_served(p.http, "sick.mesos.test", "other").await;
    wait_served(p.http, "broken.mesos.test", "other").await;
    eventually("the problem gone from /api/state", || async {
        (!provider_state(p.api, "mesos")
            .await
            .to_string()
            .contains("broken.7"))
        .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_master_outage_keeps_the_routes_and_is_shown_until_it_is_back() {
    let master = MesosDouble::start().await;
    let one = Backend::start("one").await;
    let late = Backend::start("late").await;
    // 127.0.0.1 too: the load below sends no Host header of its own.
    let rule = [("traefik.frontend.rule", "Host:outage.mesos.test,127.0.0.1")];
    master.set_tasks(vec![task(
        "outage.1",
        "outage",
        port(&one),
        &rule,
        RUNNING,
        None,
    )]);
    let (_t, p) = start(&master.url(), "");
    wait_served(p.http, "outage.mesos.test", "one").await;

    let load = Load::start(&format!("http://127.0.0.1:{}/", p.http), 2, 20_000);
    master.stop();
    let error = eventually("the outage in /api/state", || async {
        let store = provider_state(p.api, "mesos").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains(&master.addr.port().to_string()), "{error}");
    for _ in 0..10 {
        assert_eq!(
            served_by(p.http, "outage.mesos.test").await.as_deref(),
            Some("one"),
            "the last configuration keeps serving"
        );
    }
    // A task started while trafik could not see the master is picked up once it is back.
    master.set_tasks(vec![
        task("outage.1", "outage", port(&one), &rule, RUNNING, None),
        task("late.1", "late", port(&late), &[], RUNNING, None),
    ]);
    master.restart().await;
    wait_served(p.http, "late.mesos.test", "late").await;
    eventually("the master back in /api/state", || async {
        (provider_state(p.api, "mesos").await["store"]["up"] == true).then_some(())
    })
    .await;
    let counts = load.stop().await;
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0, "{counts:?}");
}

#[tokio::test]
async fn a_malformed_state_is_an_outage_not_an_empty_configuration() {
    let master = MesosDouble::start().await;
    let one = Backend::start("one").await;
    master.set_tasks(vec![task("web.1", "web", port(&one), &[], RUNNING, None)]);
    let (_t, p) = start(&master.url(), "");
    wait_served(p.http, "web.mesos.test", "one").await;
    for garbage in [
        "<html>502 Bad Gateway</html>",
        "{}",
        r#"{"frameworks": 3, "slaves": []}"#,
    ] {
        master.answer_garbage(Some(garbage));
        let error = eventually("the malformed state in /api/state", || async {
            let store = provider_state(p.api, "mesos").await["store"].clone();
            (store["up"] == false).then(|| store["error"].to_string())
        })
        .await;
        assert!(
            error.contains("not the master's state"),
            "{garbage}: {error}"
        );
        assert_eq!(
            served_by(p.http, "web.mesos.test").await.as_deref(),
            Some("one"),
            "{garbage}: the last configuration keeps serving"
        );
        master.answer_garbage(None);
        eventually("the master back in /api/state", || async {
            (provider_state(p.api, "mesos").await["store"]["up"] == true).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_standby_master_redirects_to_the_leader() {
    let leader = MesosDouble::start().await;
    let standby = MesosDouble::start().await;
    standby.follow(&leader.addr.to_string());
    let one = Backend::start("one").await;
    leader.set_tasks(vec![task("web.1", "web", port(&one), &[], RUNNING, None)]);
    let (_t, p) = start(&standby.url(), "");
    wait_served(p.http, "web.mesos.test", "one").await;
    assert!(leader.reads() > 0);
    assert_eq!(standby.reads(), 0, "the standby only redirects");
}

#[tokio::test]
async fn trafik_check_reads_the_master_once_and_names_a_bad_label() {
    let master = MesosDouble::start().await;
    let one = Backend::start("one").await;
    master.set_tasks(vec![
        task("web.1", "web", port(&one), &[], RUNNING, None),
        task(
            "bad.3",
            "bad",
            port(&one),
            &[("traefik.weight", "heavy")],
            RUNNING,
            None,
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[mesos]\nendpoint = \"{}\"\n",
        free_port(),
        master.url()
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
        stderr.contains("task bad.3") && stderr.contains("traefik.weight"),
        "{stdout}{stderr}"
    );
    assert_eq!(master.reads(), 1);
}

// ZooKeeper master discovery.

/// The binary's ZooKeeper (started by the first test that asks) and a client of it.
async fn zookeeper_client() -> (u16, zk::Client) {
    static SERVER: OnceLock<(StoreServer, u16)> = OnceLock::new();
    let (server, port) = SERVER.get_or_init(|| {
        let port = free_port();
        (StoreServer::shared(common::zookeeper::server(port)), port)
    });
    server
        .wait_ready("zookeeper", || async { try_connect(*port).await.is_some() })
        .await;
    let client = eventually("a ZooKeeper session", || try_connect(*port)).await;
    (*port, client)
}

/// A master's entry in the election, as Mesos writes it: `<path>/json.info_<seq>` holding
/// its `MasterInfo` as JSON.
async fn contend(c: &zk::Client, path: &str, seq: u32, addr: std::net::SocketAddr) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    c.mkdir(path, &options).await.unwrap();
    let info = serde_json::json!({
        "address": {"hostname": "localhost", "ip": addr.ip().to_string(), "port": addr.port()},
        "hostname": "localhost",
        "id": format!("master-{seq}"),
        "ip": 16777343u32,
        "pid": format!("master@{addr}"),
        "port": addr.port(),
        "version": "1.11.0"
    });
    c.create(
        &format!("{path}/json.info_{seq:010}"),
        info.to_string().as_bytes(),
        &options,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn zk_discovery_finds_the_leading_master() {
    let (zk_port, client) = zookeeper_client().await;
    let path = format!("/mesos-{}", std::process::id());
    let leader = MesosDouble::start().await;
    let one = Backend::start("one").await;
    leader.set_tasks(vec![task("web.1", "web", port(&one), &[], RUNNING, None)]);
    // The lowest sequence leads; the other contender is a port where nothing answers.
    let nobody: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    contend(&client, &path, 2, nobody).await;
    contend(&client, &path, 1, leader.addr).await;
    let (_t, p) = start(&format!("zk://127.0.0.1:{zk_port}{path}"), "");
    wait_served(p.http, "web.mesos.test", "one").await;
    assert!(leader.reads() > 0);

    // The leader gone from the election: the next one is asked (and is down: an outage,
    // the routes kept).
    client
        .delete(&format!("{path}/json.info_{:010}", 1), None)
        .await
        .unwrap();
    let error = eventually("the dead leader shown in /api/state", || async {
        let store = provider_state(p.api, "mesos").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains(&nobody.port().to_string()), "{error}");
    assert_eq!(
        served_by(p.http, "web.mesos.test").await.as_deref(),
        Some("one")
    );
}
