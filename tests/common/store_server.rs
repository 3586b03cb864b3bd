//! Store servers (etcd, ZooKeeper, Redis) the tests start themselves, on loopback ports and
//! in temporary directories, that die with the test process.
//!
//! Two lifetimes:
//! - `StoreServer::shared`: one server for the whole test binary (ZooKeeper's JVM takes
//!   seconds to start). It is spawned from a thread that lives as long as the process, so
//!   the parent-death signal (which Linux ties to the spawning *thread*) fires when the
//!   binary exits, not when the first test's thread ends; statics are never dropped.
//! - `StoreServer::own`: a server a single test owns (one it kills and restarts); killed
//!   when dropped, and by the parent-death signal if the test process dies first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::die_with_parent;

pub struct StoreServer {
    child: Mutex<Option<Child>>,
    /// The server's data directory and log (`server.log`); kept across restarts.
    pub dir: tempfile::TempDir,
    /// Rebuilds the command for a restart (same ports, same data directory).
    command: Box<dyn Fn(&Path) -> Command + Send + Sync>,
    shared: bool,
}

impl StoreServer {
    /// Starts a server owned by the calling test: `command(dir)` gives the command line.
    pub fn own(command: impl Fn(&Path) -> Command + Send + Sync + 'static) -> StoreServer {
        Self::start(Box::new(command), false)
    }

    /// Starts a server for the whole test binary (keep it in a `OnceLock`).
    pub fn shared(command: impl Fn(&Path) -> Command + Send + Sync + 'static) -> StoreServer {
        Self::start(Box::new(command), true)
    }

    fn start(command: Box<dyn Fn(&Path) -> Command + Send + Sync>, shared: bool) -> StoreServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = StoreServer {
            child: Mutex::new(None),
            dir,
            command,
            shared,
        };
        server.restart();
        server
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server (SIGKILL: a crash, not a shutdown) and waits until it is gone.
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again (after `kill`), with the same data directory.
    pub fn restart(&self) {
        self.kill();
        let mut command = (self.command)(self.dir.path());
        die_with_parent(&mut command);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("the server's log");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        let what = format!("{command:?}");
        let child = if self.shared {
            spawn_from_immortal_thread(command)
        } else {
            command.spawn()
        };
        let child = child.unwrap_or_else(|e| panic!("start {what}: {e}"));
        *self.child.lock().unwrap() = Some(child);
    }

    /// Polls `ready` (a client's ping, say) until it holds, or panics with the server's log.
    pub async fn wait_ready<F, Fut>(&self, what: &str, mut ready: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready().await {
            assert!(
                Instant::now() < deadline,
                "{what} not ready within 60 s; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for StoreServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns from a thread that never ends, so the parent-death signal waits for the process.
fn spawn_from_immortal_thread(mut command: Command) -> std::io::Result<Child> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(command.spawn());
        loop {
            std::thread::park();
        }
    });
    rx.recv().expect("the spawning thread answers")
}
