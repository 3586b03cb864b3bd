//! trafik's connections to its `http://` servers (src/proxy/pool.rs), seen from a server
//! that counts the connections it accepts and those that close: keep-alive reuse,
//! `maxIdleConnsPerHost`, and the connections of a server that leaves the configuration
//! closed.

use crate::common;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::counting::{Behaviour, counting};
use common::*;
use tokio::sync::Semaphore;

fn rules(url: &str) -> String {
    format!(
        "[backends.be.servers.s]\nurl = \"{url}\"\n[frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/\"\n"
    )
}

fn main_toml(port: u16, extra: &str) -> String {
    format!(
        "providersThrottleDuration = \"0s\"\n{extra}\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\nfilename = \"rules.toml\"\n"
    )
}

async fn get_ok(client: &reqwest::Client, url: &str) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_backend_connection() {
    let server = counting(Behaviour::default()).await;
    let port = free_port();
    let trafik = Trafik::start_with(&main_toml(port, ""), &[("rules.toml", &rules(&server.url))]);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/"), 200)
        .await;
    let before = server.accepted.load(Ordering::SeqCst);
    let client = client();
    for i in 0..30 {
        get_ok(&client, &format!("http://127.0.0.1:{port}/{i}")).await;
    }
    // The readiness probe's connection may be the one reused: no new one at all.
    assert!(before >= 1);
    assert_eq!(server.accepted.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_max_idle_conns_per_host_are_closed() {
    let gate = Arc::new(Semaphore::new(0));
    let server = counting(Behaviour {
        gate: Some(gate.clone()),
        ..Behaviour::default()
    })
    .await;
    let port = free_port();
    let trafik = Trafik::start_with(
        &main_toml(port, "maxIdleConnsPerHost = 1"),
        &[("rules.toml", &rules(&server.url))],
    );
    gate.add_permits(1);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/"), 200)
        .await;
    // Four requests held by the server at once: four connections.
    let url = format!("http://127.0.0.1:{port}/held");
    let held: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get_ok(&client(), &url).await })
        })
        .collect();
    eventually("four connections open", || async {
        (server.accepted.load(Ordering::SeqCst) >= 4).then_some(())
    })
    .await;
    gate.add_permits(4);
    for h in held {
        h.await.unwrap();
    }
    // One stays idle, the others are closed by trafik.
    let accepted = server.accepted.load(Ordering::SeqCst);
    eventually("all but one closed", || async {
        (server.closed.load(Ordering::SeqCst) == accepted - 1).then_some(())
    })
    .await;
    gate.add_permits(1);
    get_ok(&client(), &url).await;
    assert_eq!(server.accepted.load(Ordering::SeqCst), accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_leaves_the_configuration_has_its_connections_closed() {
    let (old, new) = (
        counting(Behaviour::default()).await,
        counting(Behaviour::default()).await,
    );
    let port = free_port();
    let trafik = Trafik::start_with(&main_toml(port, ""), &[("rules.toml", &rules(&old.url))]);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/"), 200)
        .await;
    get_ok(&client(), &format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(old.closed.load(Ordering::SeqCst), 0, "kept idle");
    write_by_rename(&trafik.path("rules.toml"), &rules(&new.url));
    eventually("the new server serves", || async {
        let r = client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .ok()?;
        (new.accepted.load(Ordering::SeqCst) > 0 && r.status() == 200).then_some(())
    })
    .await;
    eventually("the old server's connections closed", || async {
        let (accepted, closed) = (
            old.accepted.load(Ordering::SeqCst),
            old.closed.load(Ordering::SeqCst),
        );
        (closed == accepted).then_some(())
    })
    .await;
}
