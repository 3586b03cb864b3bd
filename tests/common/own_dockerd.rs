//! A `dockerd` of the test's own (its own socket, data and exec roots, its own bridge, no
//! iptables), for tests that stop the engine or make it a Swarm manager: the system's
//! engine, which the other Docker tests use, is never touched. It dies with the test
//! (parent-death signal; killed when dropped) and leaves nothing behind: when dropped it
//! leaves its swarm, removes its containers and networks (Swarm's `docker_gwbridge` too,
//! made by `init_swarm` on a bridge of its own name), stops, and its mounts and bridges go.
//! Not `--bridge=none`: a daemon started so deletes the host's `docker0` (it shares the
//! host's network namespace), the system engine's bridge.
//!
//! `build_image` makes an image on it from this build's binary and the libraries it links
//! (`FROM scratch`): no image can be pulled on these machines.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{die_with_parent, eventually};

pub struct OwnDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The bridge made for it (deleted when dropped).
    bridge: String,
    /// `--live-restore`: its containers outlive it (Swarm refuses it).
    live_restore: bool,
    /// The Linux bridge behind its `docker_gwbridge`, once `init_swarm` made one.
    gwbridge: Option<String>,
}

impl OwnDaemon {
    /// A daemon whose containers outlive it (`--live-restore`).
    pub fn start() -> OwnDaemon {
        Self::start_with(true)
    }

    /// `live_restore = false` for a daemon that will be a Swarm manager.
    pub fn start_with(live_restore: bool) -> OwnDaemon {
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
            live_restore,
            gwbridge: None,
        };
        d.spawn();
        d
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Starts `dockerd` (again, on the same roots: it finds its running containers).
    pub fn spawn(&mut self) {
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
            .args(["--iptables=false", "--ip6tables=false"]);
        if self.live_restore {
            command.arg("--live-restore");
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        die_with_parent(&mut command);
        self.child = Some(command.spawn().expect("start dockerd"));
    }

    /// `docker -H <own socket> args…`: (success, stdout and stderr).
    pub fn docker(&self, args: &[&str]) -> (bool, String) {
        let mut command = Command::new("docker");
        command.arg("-H").arg(self.endpoint());
        docker_cli(command, args)
    }

    /// `docker args…` that must succeed: its stdout and stderr.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.docker(args);
        assert!(ok, "docker {args:?}: {out}\n{}", self.log());
        out
    }

    pub async fn wait_ready(&self) {
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

    /// Makes it a single-node Swarm manager on 127.0.0.1. Its `docker_gwbridge` (the
    /// bridge Swarm's containers reach the host through) is made first, on a Linux bridge
    /// named after this daemon and an address range of its own, so that it is never the
    /// host's `docker_gwbridge` and is removed with the daemon.
    pub fn init_swarm(&mut self) {
        let pid = std::process::id();
        let gwbridge = format!("trgw{}", pid % 100_000);
        let _ = Command::new("ip")
            .args(["link", "del", &gwbridge])
            .stderr(Stdio::null())
            .status();
        let subnet = format!("10.214.{}.0/24", pid % 250 + 1);
        self.docker_ok(&[
            "network",
            "create",
            "--subnet",
            &subnet,
            "-o",
            &format!("com.docker.network.bridge.name={gwbridge}"),
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            "com.docker.network.bridge.enable_ip_masquerade=false",
            "docker_gwbridge",
        ]);
        self.gwbridge = Some(gwbridge);
        self.docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    }

    /// SIGTERM, as `systemctl stop docker` does; with `--live-restore` its containers
    /// keep running. Waits until it has exited (without blocking the load's tasks).
    pub async fn stop(&mut self) {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for OwnDaemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            if self.gwbridge.is_some() {
                // Its services and overlay networks go with the swarm.
                self.docker(&["swarm", "leave", "--force"]);
            }
            let (_, ids) = self.docker(&["ps", "-aq"]);
            for id in ids.split_whitespace() {
                self.docker(&["rm", "-f", id]);
            }
            let (_, networks) = self.docker(&["network", "ls", "-q", "--filter", "type=custom"]);
            for id in networks.split_whitespace() {
                self.docker(&["network", "rm", id]);
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
        // dockerd leaves its data root bind-mounted on itself and its network namespaces
        // (Swarm's overlay and ingress sandboxes too) mounted: unmounted (deepest first) so
        // the directory can be removed and the namespaces freed.
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
        for bridge in std::iter::once(&self.bridge).chain(self.gwbridge.as_ref()) {
            let _ = Command::new("ip")
                .args(["link", "del", bridge])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// An image named `tag`, built on `daemon` from this build's binary and the libraries it
/// links; its entry point is `/trafik`.
pub fn build_image(daemon: &OwnDaemon, tag: &str) {
    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("rootfs");
    let bin = Path::new(super::bin());
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
    let (ok, out) = daemon.docker(&["build", "-q", "-t", tag, &context.path().to_string_lossy()]);
    assert!(ok, "docker build: {out}\n{}", daemon.log());
}

fn copy_into(root: &Path, from: &Path, to: &Path) {
    let dest = root.join(to.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {from:?}: {e}"));
}

/// Runs the docker client (`command`: `docker`, with any daemon choice) with `args`:
/// (success, stdout and stderr).
pub fn docker_cli(mut command: Command, args: &[&str]) -> (bool, String) {
    let out = command.args(args).output().expect("run the docker client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
