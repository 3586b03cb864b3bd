//! The Docker Engine itself stopped and started again under load: trafik keeps routing to
//! the containers that kept running, shows the engine down then up in `/api/state`, and
//! reads it again once it is back. The engine is this test's own `dockerd` (its own socket,
//! data and exec roots, its own bridge, no iptables), started with `--live-restore` so its
//! containers outlive it: the system's engine and the other Docker tests never lose theirs.
//! Not `--bridge=none`: a daemon started so deletes the host's `docker0` (it shares the
//! host's network namespace), the system engine's bridge.
//! Its container runs `trafik echo` from an image built on that daemon (`FROM scratch`,
//! this build's binary and the libraries it links), on the host's network at 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::load::Load;
use common::{Trafik, client, die_with_parent, eventually, free_port, get_json};
use serde_json::Value;

const IMAGE: &str = "trafik-engine-restart-test:latest";

/// A `dockerd` of the test's own; its containers are removed and it is stopped when dropped.
struct OwnDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The bridge made for it (deleted when dropped).
    bridge: String,
}

impl OwnDaemon {
    fn start() -> OwnDaemon {
        // Under /tmp: a unix socket's path is limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("trafik-dockerd-")
            .tempdir_in("/tmp")
            .unwrap();
        let pid = std::process::id();
        // At most 15 characters (a Linux interface name), an address range of its own.
        let bridge = format!("trdt{}", pid % 100_000);
        // A bridge left by an earlier, killed run of the same pid: gone first.
        let _ = Command::new("ip")
            .args(["link", "del", &bridge])
            .stderr(Stdio::null())
            .status();
        let made = Command::new("ip")
            .args(["link", "add", &bridge, "type", "bridge"])
            .status()
            .unwrap();
        assert!(made.success(), "ip link add {bridge}");
        let address = format!("10.213.{}.1/24", pid % 250 + 1);
        Command::new("ip")
            .args(["addr", "add", &address, "dev", &bridge])
            .status()
            .unwrap();
        let mut d = OwnDaemon {
            dir,
            child: None,
            bridge,
        };
        d.spawn();
        d
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Starts `dockerd` (again, on the same roots: it finds its running containers).
    fn spawn(&mut self) {
        let root = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("dockerd.log"))
            .unwrap();
        let mut command = Command::new("dockerd");
        command
            .arg("--host")
            .arg(self.endpoint())
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("docker.pid"))
            .arg(format!("--bridge={}", self.bridge))
            .args(["--iptables=false", "--ip6tables=false", "--live-restore"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        die_with_parent(&mut command);
        self.child = Some(command.spawn().expect("start dockerd"));
    }

    /// `docker -H <own socket> args…`: (success, stdout and stderr).
    fn docker(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("docker")
            .arg("-H")
            .arg(self.endpoint())
            .args(args)
            .output()
            .expect("run the docker client");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    async fn wait_ready(&self) {
        let endpoint = self.endpoint();
        eventually("our dockerd answering", || {
            let endpoint = endpoint.clone();
            async move {
                let status = tokio::process::Command::new("docker")
                    .args(["-H", &endpoint, "version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await
                    .ok()?;
                status.success().then_some(())
            }
        })
        .await;
    }

    /// SIGTERM, as `systemctl stop docker` does; with `--live-restore` its containers
    /// keep running. Waits until it has exited (without blocking the load's tasks).
    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        Command::new("kill")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        eventually("our dockerd exited", || {
            let exited = child.try_wait().ok().flatten().is_some();
            async move { exited.then_some(()) }
        })
        .await;
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for OwnDaemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let (_, ids) = self.docker(&["ps", "-aq"]);
            for id in ids.split_whitespace() {
                self.docker(&["rm", "-f", id]);
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
        // dockerd leaves its data root bind-mounted on itself and its network namespace
        // mounted: unmounted (deepest first) so the directory can be removed.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(self.dir.path()))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

/// The echo image, built on `daemon` from this build's binary and the libraries it links.
fn build_image(daemon: &OwnDaemon) {
    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("rootfs");
    let bin = Path::new(common::bin());
    copy_into(&root, bin, Path::new("/trafik"));
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    for lib in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
    {
        copy_into(&root, Path::new(lib), Path::new(lib));
    }
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/trafik\"]\n",
    )
    .unwrap();
    let (ok, out) = daemon.docker(&[
        "build",
        "-q",
        "-t",
        IMAGE,
        &context.path().to_string_lossy(),
    ]);
    assert!(ok, "docker build: {out}\n{}", daemon.log());
}

fn copy_into(root: &Path, from: &Path, to: &Path) {
    let dest = root.join(to.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {from:?}: {e}"));
}

async fn docker_state(api: u16) -> Value {
    let (_, state) = get_json(&format!("http://127.0.0.1:{api}/api/state")).await;
    state["providers"]["docker"].clone()
}

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
    build_image(&daemon);
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
    assert_eq!(docker_state(api).await["store"]["up"], true);
    let backends = docker_backends(api).await;
    assert_eq!(backends, [format!("backend-{name}")]);

    let load = Load::start(&format!("http://127.0.0.1:{http}/"), 2, 50_000);
    daemon.stop().await;
    let error = eventually("the engine down in /api/state", || async {
        let store = docker_state(api).await["store"].clone();
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
        (docker_state(api).await["store"]["up"] == true).then_some(())
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
