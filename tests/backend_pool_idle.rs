//! Idle backend connections, through the real binary: a connection idle for seconds
//! (past several sweeps of the pool) carries requests as before, and one its server
//! closed while idle is never used. (An idle connection is its socket alone once the
//! sweeper has freed its read buffer: src/proxy/pool.rs.)
//!
//! The idle time is the behaviour under test, so these tests wait it out (a few seconds);
//! what they assert holds whatever the sweeper did by then (a loaded machine may run it
//! late): reuse without a new connection, and no failed request.

use crate::common;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::counting::{Behaviour, Counting, counting};
use common::*;

async fn start(server: &Counting) -> (Trafik, String) {
    let port = free_port();
    let main = format!(
        "providersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\nfilename = \"rules.toml\"\n"
    );
    let rules = format!(
        "[backends.be.servers.s]\nurl = \"{}\"\n[frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/\"\n",
        server.url
    );
    let trafik = Trafik::start_with(&main, &[("rules.toml", &rules)]);
    let url = format!("http://127.0.0.1:{port}/");
    trafik.wait_for(&url, 200).await;
    (trafik, url)
}

async fn get_ok(client: &reqwest::Client, url: &str) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_idle_for_seconds_carries_the_next_requests() {
    let server = counting(Behaviour {
        keep_alive: Some(Duration::from_secs(600)),
        ..Behaviour::default()
    })
    .await;
    let (_trafik, url) = start(&server).await;
    let client = client();
    get_ok(&client, &url).await;
    let before = server.accepted.load(Ordering::SeqCst);
    // Idle past a few sweeps (one a second): the socket is kept.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for _ in 0..5 {
        get_ok(&client, &url).await;
    }
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        before,
        "no new connection"
    );
    assert_eq!(server.closed.load(Ordering::SeqCst), 0, "none closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_their_server_closed_while_idle_fail_no_request() {
    // The server closes after 2.5 s idle, after a sweep or two passed over the
    // connection, or, on a slow run, before; either way no request may fail.
    let server = counting(Behaviour {
        keep_alive: Some(Duration::from_millis(2500)),
        ..Behaviour::default()
    })
    .await;
    let (_trafik, url) = start(&server).await;
    let client = client();
    for round in 0..2 {
        // Several connections at once, so that several are idle.
        let all: Vec<_> = (0..4).map(|_| get_ok(&client, &url)).collect();
        futures_util::future::join_all(all).await;
        let accepted = server.accepted.load(Ordering::SeqCst);
        eventually(
            &format!("round {round}: the server closed every idle one"),
            || {
                let closed = server.closed.load(Ordering::SeqCst);
                async move { (closed == accepted).then_some(()) }
            },
        )
        .await;
        for _ in 0..5 {
            get_ok(&client, &url).await;
        }
        let all: Vec<_> = (0..4).map(|_| get_ok(&client, &url)).collect();
        futures_util::future::join_all(all).await;
    }
}
