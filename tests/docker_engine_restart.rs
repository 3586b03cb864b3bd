//! The Docker Engine itself stopped and started again under load: trafik keeps routing to
//! the containers that kept running, shows the engine down then up in `/api/state`, and
//! reads it again once it is back. The engine is this test's own `dockerd`
//! (`common::own_dockerd`), started with `--live-restore` so its containers outlive it: the
//! system's engine and the other Docker tests never lose theirs.
//! Its container runs `trafik echo` from an image built on that daemon (`FROM scratch`,
//! this build's binary and the libraries it links), on the host's network at 127.0.0.1.

mod common;

use common::load::Load;
use common::own_dockerd::{OwnDaemon, build_image};
use common::{Trafik, client, eventually, free_port, get_json, provider_state};

const IMAGE: &str = "trafik-engine-restart-test:latest";

/// The backends trafik holds from the engine.
async fn docker_backends(api: u16) -> Vec<String> {
    let (_, providers) = get_json(&format!("http://127.0.0.1:{api}/api/providers")).await;
    providers["docker"]["backends"]
        .as_object()
        .map(|b| b.keys().cloned().collect())
        .unwrap_or_default()
}

async fn answered_by(port: u16) -> Option<String> {
    let r = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let text = r.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Hostname: "))
        .map(str::to_string)
}

// Several threads: the load's workers keep going while the test waits on the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_stopped_and_started_under_load_keeps_every_route() {
    let mut daemon = OwnDaemon::start();
    daemon.wait_ready().await;
    build_image(&daemon, IMAGE);
    let echo_port = free_port();
    let name = format!("engine-restart-{}", std::process::id());
    let (ok, out) = daemon.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "--label",
        "traefik.frontend.rule=PathPrefix:/",
        "--label",
        &format!("traefik.port={echo_port}"),
        IMAGE,
        "echo",
        &format!("127.0.0.1:{echo_port}"),
        "--name",
        &name,
    ]);
    assert!(ok, "docker run: {out}");

    let (http, api) = (free_port(), free_port());
    let _trafik = Trafik::start(&format!(
        r#"defaultEntryPoints = ["http"]
providersThrottleDuration = "0s"
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[docker]
endpoint = "{endpoint}"
"#,
        endpoint = daemon.endpoint()
    ));
    eventually("the container routed", || async {
        (answered_by(http).await.as_deref() == Some(name.as_str())).then_some(())
    })
    .await;
    assert_eq!(provider_state(api, "docker").await["store"]["up"], true);
    let backends = docker_backends(api).await;
    assert_eq!(backends, [format!("backend-{name}")]);

    let load = Load::start(&format!("http://127.0.0.1:{http}/"), 2, 50_000);
    daemon.stop().await;
    let error = eventually("the engine down in /api/state", || async {
        let store = provider_state(api, "docker").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains("docker.sock"), "{error}");
    // Down: the routes are kept and still answered by the container that kept running.
    assert_eq!(docker_backends(api).await, backends);
    assert_eq!(answered_by(http).await.as_deref(), Some(name.as_str()));

    daemon.spawn();
    daemon.wait_ready().await;
    eventually("the engine up again in /api/state", || async {
        (provider_state(api, "docker").await["store"]["up"] == true).then_some(())
    })
    .await;
    // Read again once back: still the same container (live-restore kept it), same routes.
    assert_eq!(docker_backends(api).await, backends);
    assert_eq!(answered_by(http).await.as_deref(), Some(name.as_str()));
    let counts = load.stop().await;
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0, "{counts:?}");
    let (_, ps) = daemon.docker(&["ps", "--format", "{{.Names}}"]);
    assert!(ps.contains(&name), "live-restore kept the container: {ps}");
}
