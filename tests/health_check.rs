//! Health checks: a server failing its check leaves the rotation and comes back when it
//! passes again; a backend with no healthy server answers 503.

use crate::common;
use common::*;

async fn server_of(port: u16) -> Option<String> {
    let (status, v) = get_json(&format!("http://127.0.0.1:{port}/app")).await;
    (status == 200).then(|| v["server"].as_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn unhealthy_servers_leave_and_rejoin_the_rotation() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let b_addr = b.addr;
    let port = free_port();
    let trafik = Trafik::start(&format!(
        r#"logLevel = "INFO"
[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.web.healthCheck]
path = "/health"
interval = "200ms"
[backends.web.servers.a]
url = "{a}"
[backends.web.servers.b]
url = "{b}"
[backends.sick.healthCheck]
path = "/health?status=500"
interval = "200ms"
[backends.sick.servers.s]
url = "{a}"
[frontends.web]
backend = "web"
[frontends.web.routes.r]
rule = "PathPrefix:/app"
[frontends.sick]
backend = "sick"
[frontends.sick.routes.r]
rule = "PathPrefix:/sick"
"#,
        a = a.url(),
        b = b.url()
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/app"), 200)
        .await;
    // Both serve while healthy.
    eventually("both servers in rotation", || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..4 {
            seen.extend(server_of(port).await);
        }
        (seen.len() == 2).then_some(())
    })
    .await;
    // A check answering 500 takes its only server out: 503.
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/sick"), 503)
        .await;

    // b dies: once its check fails, every request goes to a, none fails.
    b.stop();
    eventually("b out of rotation", || async {
        for _ in 0..10 {
            if server_of(port).await.as_deref() != Some("a") {
                return None;
            }
        }
        Some(())
    })
    .await;
    let logs = trafik.logs();
    assert!(logs.contains("server out of rotation"), "{logs}");

    // b comes back on the same address: it rejoins.
    let _b = Backend::start_on("b", &b_addr.to_string()).await;
    eventually("b back in rotation", || async {
        for _ in 0..4 {
            if server_of(port).await.as_deref() == Some("b") {
                return Some(());
            }
        }
        None
    })
    .await;
}

#[test]
fn a_health_check_path_without_slash_skips_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        "[entryPoints.http]\naddress = \":8080\"\n[file]\n[backends.b.healthCheck]\npath = \"health\"\n\
         [backends.b.servers.s]\nurl = \"http://127.0.0.1:9\"\n[frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"Path:/\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("trafik.toml:5:") && stderr.contains("must start with"),
        "{stderr}"
    );
    assert!(stderr.contains("frontend \"f\" skipped"), "{stderr}");
}
