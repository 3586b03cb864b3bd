//! `[docker]` against a real Docker Engine (`.ci/run` starts `dockerd` when none answers),
//! through the real trafik binary on the host. Nothing is pulled: the containers run
//! `trafik echo` from an image built here, `FROM scratch`, holding this test build's own
//! binary and the shared libraries it links. Containers use the host's network and listen
//! on 127.0.0.1 only, so all traffic stays on loopback.
//!
//! The engine is shared by the tests of this binary: each test's routes use host names of
//! its own, so another test's containers (every trafik sees them all) never answer for it.
//! Everything made here carries the label `trafik-test=docker_provider`; a guard removes a
//! test's containers, and the first test removes what an earlier, killed run left behind.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::load::Load;
use common::{Trafik, client, eventually, free_port, get_json, provider_state};

const TEST_LABEL: &str = "trafik-test=docker_provider";
const IMAGE: &str = "trafik-docker-provider-test:latest";

/// The system engine's docker client.
fn docker(args: &[&str]) -> (bool, String) {
    common::own_dockerd::docker_cli(Command::new("docker"), args)
}

/// The test image, built once per test binary (after removing an earlier run's leftovers).
fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let (_, old) = docker(&["ps", "-aq", "--filter", &format!("label={TEST_LABEL}")]);
        for id in old.split_whitespace() {
            docker(&["rm", "-f", id]);
        }
        docker(&[
            "network",
            "prune",
            "-f",
            "--filter",
            &format!("label={TEST_LABEL}"),
        ]);
        let context = tempfile::tempdir().unwrap();
        let root = context.path().join("rootfs");
        let bin = Path::new(common::bin());
        copy_into(&root, bin, Path::new("/trafik"));
        for lib in linked_libraries(bin) {
            copy_into(&root, &lib, &lib);
        }
        std::fs::write(
            context.path().join("Dockerfile"),
            format!(
                "FROM scratch\nCOPY rootfs/ /\nLABEL {TEST_LABEL}\n\
                 HEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD [\"/trafik\", \"version\"]\n\
                 ENTRYPOINT [\"/trafik\"]\n"
            ),
        )
        .unwrap();
        let (ok, out) = docker(&["build", "-q", "-t", IMAGE, &context.path().to_string_lossy()]);
        assert!(ok, "docker build: {out}");
    });
    IMAGE
}

/// The shared libraries `bin` loads (`ldd`), real paths.
fn linked_libraries(bin: &Path) -> Vec<std::path::PathBuf> {
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .map(std::path::PathBuf::from)
        .collect()
}

fn copy_into(root: &Path, from: &Path, to: &Path) {
    let dest = root.join(to.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {from:?}: {e}"));
}

/// A running echo container; removed (with `-f`) when dropped.
struct Echo {
    name: String,
}

impl Echo {
    /// `trafik echo` on 127.0.0.1:`port` in the host's network, answering as `name`, with
    /// `labels` and extra `docker run` options.
    fn run(name: &str, port: u16, labels: &[(&str, &str)], options: &[&str]) -> Echo {
        let image = image();
        let name = format!("trafik-dt-{name}-{}", std::process::id());
        docker(&["rm", "-f", &name]);
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            name.clone(),
            "--network".into(),
            "host".into(),
            "--label".into(),
            TEST_LABEL.into(),
        ];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(options.iter().map(|o| o.to_string()));
        args.extend([
            image.to_string(),
            "echo".into(),
            format!("127.0.0.1:{port}"),
            "--name".into(),
            name.clone(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out) = docker(&refs);
        assert!(ok, "docker run {name}: {out}");
        Echo { name }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.name]);
    }
}

struct Ports {
    http: u16,
    api: u16,
}

fn start(extra: &str) -> (Trafik, Ports) {
    image();
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
[docker]
{extra}
"#,
        http = p.http,
        api = p.api,
    );
    (Trafik::start(&toml), p)
}

/// Who answered `host` (the echo's `Hostname:` line); `None`: not routed.
async fn served_by(port: u16, host: &str) -> Option<String> {
    let r = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", host)
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

async fn status_of(port: u16, host: &str) -> u16 {
    client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", host)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn wait_served(port: u16, host: &str, by: &str) {
    eventually(&format!("{host} served by {by}"), || async {
        (served_by(port, host).await.as_deref() == Some(by)).then_some(())
    })
    .await;
}

async fn wait_status(port: u16, host: &str, status: u16) {
    eventually(&format!("{host} answering {status}"), || async {
        (status_of(port, host).await == status).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_labelled_container_is_routed_and_its_removal_unroutes_it() {
    let (_t, p) = start("");
    let port = free_port();
    let echo = Echo::run(
        "routed",
        port,
        &[
            ("traefik.frontend.rule", "Host:routed.docker.test"),
            ("traefik.port", &port.to_string()),
        ],
        &[],
    );
    wait_served(p.http, "routed.docker.test", &echo.name).await;
    // v1's generated names, in the provider's configuration.
    let (_, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", p.api)).await;
    let backend = &providers["docker"]["backends"][format!("backend-{}", echo.name)];
    let servers = backend["servers"]
        .as_object()
        .expect("the backend's servers");
    assert_eq!(servers.len(), 1, "{backend}");
    let (server, value) = servers.iter().next().unwrap();
    assert!(
        server.starts_with(&format!("server-{}-", echo.name)),
        "{server}"
    );
    assert_eq!(value["url"], format!("http://127.0.0.1:{port}"));
    assert!(
        providers["docker"]["frontends"]
            .get("frontend-Host-routed-docker-test-0")
            .is_some()
            || providers["docker"]["frontends"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("frontend-Host-routed-docker-test-")),
        "{providers}"
    );
    drop(echo);
    wait_status(p.http, "routed.docker.test", 404).await;
}

#[tokio::test]
async fn a_container_restarted_with_changed_labels_moves_its_route() {
    let (_t, p) = start("");
    let port = free_port();
    let first = Echo::run(
        "moving",
        port,
        &[
            ("traefik.frontend.rule", "Host:before.docker.test"),
            ("traefik.port", &port.to_string()),
        ],
        &[],
    );
    let name = first.name.clone();
    wait_served(p.http, "before.docker.test", &name).await;
    drop(first);
    let _second = Echo::run(
        "moving",
        port,
        &[
            ("traefik.frontend.rule", "Host:after.docker.test"),
            ("traefik.port", &port.to_string()),
        ],
        &[],
    );
    wait_served(p.http, "after.docker.test", &name).await;
    wait_status(p.http, "before.docker.test", 404).await;
}

#[tokio::test]
async fn exposed_by_default_false_serves_only_enabled_containers() {
    let (_t, p) = start("exposedByDefault = false\n");
    let (on_port, off_port) = (free_port(), free_port());
    let on = Echo::run(
        "enabled",
        on_port,
        &[
            ("traefik.enable", "true"),
            ("traefik.frontend.rule", "Host:enabled.docker.test"),
            ("traefik.port", &on_port.to_string()),
        ],
        &[],
    );
    let _off = Echo::run(
        "not-enabled",
        off_port,
        &[
            ("traefik.frontend.rule", "Host:not-enabled.docker.test"),
            ("traefik.port", &off_port.to_string()),
        ],
        &[],
    );
    wait_served(p.http, "enabled.docker.test", &on.name).await;
    // Both containers were read in the same listing: the other one is not served.
    assert_eq!(status_of(p.http, "not-enabled.docker.test").await, 404);
    // Served by default (another trafik, exposedByDefault's default).
    let (_t2, p2) = start("");
    wait_served(p2.http, "not-enabled.docker.test", &_off.name).await;
}

#[tokio::test]
async fn an_unhealthy_container_is_left_out() {
    let (_t, p) = start("");
    let (good_port, sick_port) = (free_port(), free_port());
    let good = Echo::run(
        "healthy",
        good_port,
        &[
            ("traefik.frontend.rule", "Host:healthy.docker.test"),
            ("traefik.port", &good_port.to_string()),
        ],
        &[],
    );
    // The image's check, replaced by one that cannot run (no shell in the image).
    let sick = Echo::run(
        "unhealthy",
        sick_port,
        &[
            ("traefik.frontend.rule", "Host:unhealthy.docker.test"),
            ("traefik.port", &sick_port.to_string()),
        ],
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
    );
    wait_served(p.http, "healthy.docker.test", &good.name).await;
    eventually("the engine to call the container unhealthy", || async {
        let (_, out) = docker(&["inspect", "-f", "{{.State.Health.Status}}", &sick.name]);
        (out.trim() == "unhealthy").then_some(())
    })
    .await;
    // Its echo answers directly, but trafik does not send it traffic.
    let direct = client()
        .get(format!("http://127.0.0.1:{sick_port}/"))
        .send()
        .await
        .expect("the unhealthy echo itself answers");
    assert_eq!(direct.status(), 200);
    assert_eq!(status_of(p.http, "unhealthy.docker.test").await, 404);
}

#[tokio::test]
async fn a_bad_label_skips_its_container_named_in_api_state() {
    let (_t, p) = start("");
    let (bad_port, good_port) = (free_port(), free_port());
    let bad = Echo::run(
        "bad-port",
        bad_port,
        &[
            ("traefik.frontend.rule", "Host:bad.docker.test"),
            ("traefik.port", "abc"),
        ],
        &[],
    );
    let good = Echo::run(
        "beside-bad",
        good_port,
        &[
            ("traefik.frontend.rule", "Host:beside-bad.docker.test"),
            ("traefik.port", &good_port.to_string()),
        ],
        &[],
    );
    wait_served(p.http, "beside-bad.docker.test", &good.name).await;
    let error = eventually("the bad label reported in /api/state", || async {
        let state = provider_state(p.api, "docker").await;
        let text = state.to_string();
        (text.contains(&bad.name) && text.contains("traefik.port")).then_some(text)
    })
    .await;
    assert!(error.contains("invalid port"), "{error}");
    assert_eq!(status_of(p.http, "bad.docker.test").await, 404);
}

/// The engine's API on a loopback TCP port, forwarded to its unix socket, which the test
/// can cut and restore: an engine outage seen by trafik, without stopping the engine the
/// other tests use.
struct EngineForwarder {
    port: u16,
    tasks: tokio::task::JoinSet<()>,
}

impl EngineForwarder {
    fn new() -> EngineForwarder {
        EngineForwarder {
            port: free_port(),
            tasks: tokio::task::JoinSet::new(),
        }
    }

    /// Starts forwarding (again) on the same port.
    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let held = conns;
        self.tasks.spawn(async move {
            // Dropped with this task: the connections it carried are cut too.
            let held = held;
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    continue;
                };
                held.lock().unwrap().spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                });
            }
        });
    }

    /// Stops listening and cuts every forwarded connection (the event stream included).
    async fn down(&mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

#[tokio::test]
async fn an_engine_outage_keeps_the_routes_and_is_shown_until_it_is_back() {
    let mut engine = EngineForwarder::new();
    let (_t, p) = start(&format!("endpoint = \"tcp://127.0.0.1:{}\"\n", engine.port));
    // Unreachable at start: shown, nothing served yet.
    let error = eventually("the engine down in /api/state", || async {
        let store = provider_state(p.api, "docker").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains(&engine.port.to_string()), "{error}");

    let port = free_port();
    let echo = Echo::run(
        "outage",
        port,
        &[
            // 127.0.0.1 too: the load below sends no Host header of its own.
            ("traefik.frontend.rule", "Host:outage.docker.test,127.0.0.1"),
            ("traefik.port", &port.to_string()),
        ],
        &[],
    );
    engine.up().await;
    wait_served(p.http, "outage.docker.test", &echo.name).await;
    assert_eq!(provider_state(p.api, "docker").await["store"]["up"], true);

    // Gone later: the route keeps serving while the outage is shown, every request of a
    // bounded load through the outage and the recovery answered.
    let load = Load::start(&format!("http://127.0.0.1:{}/", p.http), 2, 20_000);
    engine.down().await;
    eventually("the outage in /api/state", || async {
        (provider_state(p.api, "docker").await["store"]["up"] == false).then_some(())
    })
    .await;
    for _ in 0..20 {
        assert_eq!(
            served_by(p.http, "outage.docker.test").await.as_deref(),
            Some(echo.name.as_str()),
            "the last configuration keeps serving"
        );
    }
    // A change made while trafik could not see the engine is picked up once it is back.
    let port2 = free_port();
    let second = Echo::run(
        "outage-2",
        port2,
        &[
            ("traefik.frontend.rule", "Host:outage-2.docker.test"),
            ("traefik.port", &port2.to_string()),
        ],
        &[],
    );
    engine.up().await;
    wait_served(p.http, "outage-2.docker.test", &second.name).await;
    assert_eq!(provider_state(p.api, "docker").await["store"]["up"], true);
    let counts = load.stop().await;
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0, "{counts:?}");
    drop(second);
    drop(echo);
    engine.down().await;
}

/// A network made for one test; removed when dropped (after its containers).
struct Network {
    name: String,
}

impl Network {
    fn create(name: &str) -> Network {
        image();
        let name = format!("trafik-dt-{name}-{}", std::process::id());
        docker(&["network", "rm", &name]);
        let (ok, out) = docker(&["network", "create", "--label", TEST_LABEL, &name]);
        assert!(ok, "docker network create: {out}");
        Network { name }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        docker(&["network", "rm", &self.name]);
    }
}

/// The first server URL of `backend` in trafik's `docker` configuration, once there.
async fn server_url(api: u16, backend: &str) -> String {
    eventually(&format!("{backend} in /api/providers"), || async {
        let (_, providers) = get_json(&format!("http://127.0.0.1:{api}/api/providers")).await;
        let servers = providers["docker"]["backends"][backend]["servers"].as_object()?;
        servers.values().next()?["url"].as_str().map(str::to_string)
    })
    .await
}

#[tokio::test]
async fn traefik_docker_network_chooses_the_address_on_that_network() {
    let (_t, p) = start("");
    let (front, back) = (Network::create("front"), Network::create("back"));
    // Not host-networked: its addresses are the engine's; no traffic is sent there.
    let name = format!("trafik-dt-multinet-{}", std::process::id());
    docker(&["rm", "-f", &name]);
    let (ok, out) = docker(&[
        "create",
        "--name",
        &name,
        "--label",
        TEST_LABEL,
        "--network",
        &front.name,
        "--label",
        "traefik.frontend.rule=Host:multinet.docker.test",
        "--label",
        "traefik.port=80",
        "--label",
        &format!("traefik.docker.network={}", back.name),
        image(),
        "echo",
        "0.0.0.0:80",
    ]);
    assert!(ok, "docker create: {out}");
    let _guard = Echo { name: name.clone() };
    let (ok, out) = docker(&["network", "connect", &back.name, &name]);
    assert!(ok, "docker network connect: {out}");
    let (ok, out) = docker(&["start", &name]);
    assert!(ok, "docker start: {out}");
    let ip_on = |net: &str| {
        let format = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
        docker(&["inspect", "-f", &format, &name])
            .1
            .trim()
            .to_string()
    };
    let (front_ip, back_ip) = (ip_on(&front.name), ip_on(&back.name));
    assert!(
        !back_ip.is_empty() && front_ip != back_ip,
        "{front_ip} {back_ip}"
    );
    let url = server_url(p.api, &format!("backend-{name}")).await;
    assert_eq!(url, format!("http://{back_ip}:80"));
}

#[tokio::test]
async fn segments_route_two_ports_of_one_container() {
    let (_t, p) = start("");
    let (web, admin) = (free_port(), free_port());
    // The echo listens on the `web` segment's port; `admin`'s is checked in the API.
    let echo = Echo::run(
        "segments",
        web,
        &[
            ("traefik.web.port", &web.to_string()),
            ("traefik.web.frontend.rule", "Host:web.segments.docker.test"),
            ("traefik.admin.port", &admin.to_string()),
            (
                "traefik.admin.frontend.rule",
                "Host:admin.segments.docker.test",
            ),
        ],
        &[],
    );
    wait_served(p.http, "web.segments.docker.test", &echo.name).await;
    let url = server_url(p.api, &format!("backend-{}-admin", echo.name)).await;
    assert_eq!(url, format!("http://127.0.0.1:{admin}"));
    let (_, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", p.api)).await;
    let frontend = &providers["docker"]["frontends"][format!("frontend-admin-{}-admin", echo.name)];
    assert_eq!(
        frontend["backend"],
        format!("backend-{}-admin", echo.name),
        "{providers}"
    );
}

#[tokio::test]
async fn v1_flags_on_a_compose_style_command_line() {
    image();
    let (http, api) = (free_port(), free_port());
    let args: Vec<String> = [
        "--api".to_string(),
        "--docker".to_string(),
        "--docker.domain=flags.docker.test".to_string(),
        "--docker.watch".to_string(),
        "--defaultentrypoints=http".to_string(),
        format!("--entryPoints=Name:http Address:127.0.0.1:{http}"),
        format!("--entryPoints=Name:traefik Address:127.0.0.1:{api}"),
        "--logLevel=INFO".to_string(),
    ]
    .into();
    let _t = Trafik::start_flags(&args, &[]);
    let port = free_port();
    // No rule: v1's default, Host:<container name>.<domain>.
    let echo = Echo::run("flags", port, &[("traefik.port", &port.to_string())], &[]);
    wait_served(
        http,
        &format!("{}.flags.docker.test", echo.name),
        &echo.name,
    )
    .await;
}

#[tokio::test]
async fn usebindportip_reaches_a_container_through_its_published_port() {
    let (_t, p) = start("usebindportip = true\n");
    let name = format!("trafik-dt-published-{}", std::process::id());
    docker(&["rm", "-f", &name]);
    // On the default bridge, its port 80 published on 127.0.0.1 (a port the engine picks).
    let (ok, out) = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        TEST_LABEL,
        "--label",
        "traefik.frontend.rule=Host:published.docker.test",
        "-p",
        "127.0.0.1::80",
        image(),
        "echo",
        "0.0.0.0:80",
        "--name",
        &name,
    ]);
    assert!(ok, "docker run: {out}");
    let _guard = Echo { name: name.clone() };
    let (_, published) = docker(&["port", &name, "80/tcp"]);
    let published = published.lines().next().unwrap_or("").trim().to_string();
    assert!(published.starts_with("127.0.0.1:"), "{published}");
    let url = server_url(p.api, &format!("backend-{name}")).await;
    assert_eq!(url, format!("http://{published}"));
    wait_served(p.http, "published.docker.test", &name).await;
}

#[tokio::test]
async fn constraints_serve_only_matching_tags() {
    let (_t, p) = start("constraints = [\"tag==dt-*-yes\"]\n");
    let (yes_port, no_port) = (free_port(), free_port());
    let yes = Echo::run(
        "tagged-yes",
        yes_port,
        &[
            ("traefik.frontend.rule", "Host:tagged-yes.docker.test"),
            ("traefik.port", &yes_port.to_string()),
            ("traefik.tags", "web,dt-tag-yes"),
        ],
        &[],
    );
    let no = Echo::run(
        "tagged-no",
        no_port,
        &[
            ("traefik.frontend.rule", "Host:tagged-no.docker.test"),
            ("traefik.port", &no_port.to_string()),
            ("traefik.tags", "web"),
        ],
        &[],
    );
    wait_served(p.http, "tagged-yes.docker.test", &yes.name).await;
    assert_eq!(status_of(p.http, "tagged-no.docker.test").await, 404);
    // Served without the constraint (another trafik).
    let (_t2, p2) = start("");
    wait_served(p2.http, "tagged-no.docker.test", &no.name).await;
}

/// A TLS endpoint in front of the engine's unix socket (the engine itself listens on no
/// TLS port here): its certificate is for `docker.test`, issued by a CA trafik is not given.
/// Counts the TLS handshakes that completed.
async fn tls_engine() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let ca = common::pki::Ca::new("engine test CA");
    let acceptor = tokio_rustls::TlsAcceptor::from(common::pki::server_config(
        &ca.server(&["docker.test"], "x"),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut unix).await;
            });
        }
    });
    (port, handshakes)
}

#[tokio::test]
async fn insecure_skip_verify_reads_an_engine_whose_certificate_is_not_trusted() {
    let (engine_port, handshakes) = tls_engine().await;
    // Verified, against a CA that did not issue the engine's certificate: refused, shown.
    let other = common::pki::Ca::new("another CA");
    let client = other.client("trafik");
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("ca.pem", &other.cert_pem),
        ("cert.pem", &client.cert),
        ("key.pem", &client.key),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let d = dir.path().display();
    let (_verified, pv) = start(&format!(
        "endpoint = \"tcp://127.0.0.1:{engine_port}\"\n\
         [docker.tls]\nca = \"{d}/ca.pem\"\ncert = \"{d}/cert.pem\"\nkey = \"{d}/key.pem\"\n"
    ));
    eventually("the untrusted engine down in /api/state", || async {
        let store = provider_state(pv.api, "docker").await["store"].clone();
        (store["up"] == false && store["error"].is_string()).then_some(())
    })
    .await;

    // insecureSkipVerify: read through TLS, its containers routed.
    let (_t, p) = start(&format!(
        "endpoint = \"tcp://127.0.0.1:{engine_port}\"\n[docker.tls]\ninsecureSkipVerify = true\n"
    ));
    let port = free_port();
    let echo = Echo::run(
        "insecure-tls",
        port,
        &[
            ("traefik.frontend.rule", "Host:insecure-tls.docker.test"),
            ("traefik.port", &port.to_string()),
        ],
        &[],
    );
    wait_served(p.http, "insecure-tls.docker.test", &echo.name).await;
    assert_eq!(provider_state(p.api, "docker").await["store"]["up"], true);
    assert!(handshakes.load(std::sync::atomic::Ordering::Relaxed) > 0);
    // The verifying trafik still refuses it.
    assert_eq!(provider_state(pv.api, "docker").await["store"]["up"], false);
}
