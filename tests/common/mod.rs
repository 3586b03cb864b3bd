//! Test kit: the real `trafik` binary on loopback ephemeral ports, real backends
//! (in-process hyper servers that answer with what they received), a real HTTP client,
//! and waiting by polling until a deadline instead of sleeping.

#![allow(dead_code)]

pub mod by_host;
pub mod consul;
pub mod counting;
pub mod kube_api;
pub mod load;
pub mod marathon;
pub mod mesos;
pub mod own_dockerd;
pub mod pki;
pub mod proxied;
pub mod query;
pub mod store_server;
pub mod storeconfig;
pub mod zookeeper;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Generous: CI is a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A port nobody listens on right now (bound then released).
/// A port nothing listens on, for trafik to bind later. Taken below Linux's ephemeral
/// range (32768–60999), so a port-0 bind elsewhere (a test backend, a client socket) cannot
/// be handed the same port between this check and trafik's bind; a per-process counter
/// keeps the tests of one binary apart, the pid keeps concurrent binaries apart.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20000;
    const SPAN: u32 = 12000;
    let seed = std::process::id().wrapping_mul(2654435761) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (seed + n * 7) % SPAN) as u16;
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN);
}

/// trafik on `127.0.0.1:port` with one catch-all frontend `f` in front of backend `b`,
/// whose servers are `(url, weight)`; `extra` (whole tables: `[retry]`, `[backends.b.…]`)
/// is added after `[file]`.
pub fn catch_all_config(port: u16, servers: &[(String, u32)], extra: &str) -> String {
    let mut toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n{extra}\n\
         [frontends.f]\nbackend = \"b\"\n[frontends.f.routes.r]\nrule = \"PathPrefix:/\"\n"
    );
    for (i, (url, weight)) in servers.iter().enumerate() {
        toml.push_str(&format!(
            "[backends.b.servers.s{i}]\nurl = \"{url}\"\nweight = {weight}\n"
        ));
    }
    toml
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own: trafik's (aws-lc-rs) it is.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A running trafik process, killed on drop.
pub struct Trafik {
    child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Trafik {
    /// Writes `toml` as `trafik.toml` in a fresh directory and starts trafik on it.
    pub fn start(toml: &str) -> Trafik {
        Self::start_with(toml, &[])
    }

    /// Also writes `files` (relative path → content) beside it first.
    pub fn start_with(toml: &str, files: &[(&str, &str)]) -> Trafik {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        for (name, content) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let config = dir.join("trafik.toml");
        std::fs::write(&config, toml).unwrap();
        let log = dir.join("trafik.stderr.log");
        let child = spawn(&config, &dir, &log);
        Trafik {
            child: Some(child),
            dir,
            config,
            log,
            _tmp: tmp,
        }
    }

    /// Starts trafik with command-line `args` only (v1's flags; no `-c`), in a fresh
    /// directory holding `files` that is also its `HOME`, so no configuration file of the
    /// machine's is found (`config` names a file that does not exist).
    pub fn start_flags(args: &[String], files: &[(&str, &str)]) -> Trafik {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let log = dir.join("trafik.stderr.log");
        let mut command = Command::new(bin());
        die_with_parent(&mut command);
        let child = command
            .args(args)
            .arg("--workers")
            .arg("2")
            .current_dir(&dir)
            .env("HOME", &dir)
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(
                std::fs::File::create(dir.join("trafik.stdout.log")).unwrap(),
            ))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start trafik");
        Trafik {
            child: Some(child),
            config: dir.join("trafik.toml"),
            dir,
            log,
            _tmp: tmp,
        }
    }

    /// Stops trafik (SIGTERM, then waits) and starts it again on the same directory,
    /// files and configuration; its log starts afresh.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.signal("TERM");
            self.wait_exit(DEADLINE).await;
        }
        self.child = Some(spawn(&self.config, &self.dir, &self.log));
    }

    /// The process id, to read its `/proc/<pid>/status` (memory) in the hardening tests.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join("trafik.stdout.log")).unwrap_or_default()
    }

    /// Waits until `url` answers `status` (the configuration is loaded).
    pub async fn wait_for(&self, url: &str, status: u16) {
        let c = client();
        let what = format!("{url} to answer {status}");
        let log = self.log.clone();
        let start = Instant::now();
        loop {
            if let Ok(r) = c.get(url).send().await
                && r.status().as_u16() == status
            {
                return;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "timed out waiting for {what}; trafik log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit on its own.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                panic!(
                    "trafik did not exit within {limit:?}; log:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Trafik {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(config: &Path, dir: &Path, log: &Path) -> Child {
    let mut command = Command::new(bin());
    die_with_parent(&mut command);
    command
        .arg("--configFile")
        .arg(config)
        .arg("--workers")
        .arg("2")
        .current_dir(dir)
        .stdout(Stdio::from(
            std::fs::File::create(dir.join("trafik.stdout.log")).unwrap(),
        ))
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .env_remove("RUST_LOG")
        .spawn()
        .expect("start trafik")
}

/// A server a test starts dies with the test process, even one killed before its guards
/// run: Linux's parent-death signal, set in the child before it execs.
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches nothing of the parent's.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_trafik")
}

/// Runs `trafik` with `args` to completion: (exit status, stdout, stderr).
pub fn run_trafik(args: &[&str], cwd: &Path) -> (ExitStatus, String, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An in-process backend that answers JSON describing the request it got:
/// `{"server", "method", "uri", "path", "headers": {name: value}, "body"}`.
/// `?wait=MS` delays the answer, `?status=N` sets the status.
pub struct Backend {
    pub addr: SocketAddr,
    pub name: String,
    pub hits: Arc<AtomicUsize>,
    /// Milliseconds every answer is delayed by (see `set_delay`).
    delay: Arc<AtomicUsize>,
    task: JoinHandle<()>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        Self::start_on(name, "127.0.0.1:0").await
    }

    pub async fn start_on(name: &str, addr: &str) -> Backend {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let delay = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (n, h, conns) = (name.to_string(), hits.clone(), connections.clone());
        let d = delay.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (n, h, d) = (n.clone(), h.clone(), d.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        describe(req, n.clone(), h.clone(), d.load(Ordering::Relaxed))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                conns.lock().unwrap().push(conn.abort_handle());
            }
        });
        Backend {
            addr,
            name: name.to_string(),
            hits,
            delay,
            task,
            connections,
        }
    }

    /// Makes every later answer wait `ms` milliseconds (a slow server).
    pub fn set_delay(&self, ms: usize) {
        self.delay.store(ms, Ordering::Relaxed);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Dies: stops listening and closes every open connection, as a killed process would.
    pub fn stop(self) {}
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_owned))
}

async fn describe(
    req: hyper::Request<Incoming>,
    name: String,
    hits: Arc<AtomicUsize>,
    delay_ms: usize,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    hits.fetch_add(1, Ordering::SeqCst);
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms as u64)).await;
    }
    let query = req.uri().query().map(str::to_owned);
    if let Some(ms) = query_param(query.as_deref(), "wait").and_then(|w| w.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let status = query_param(query.as_deref(), "status")
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(200);
    let mut headers = BTreeMap::new();
    for (k, v) in req.headers() {
        headers.insert(
            k.as_str().to_string(),
            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_string();
    let version = format!("{:?}", req.version());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let out = json!({
        "server": name, "method": method, "uri": uri, "path": path, "version": version,
        "headers": headers, "body": String::from_utf8_lossy(&body),
    });
    let mut resp = hyper::Response::new(Full::new(Bytes::from(out.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(resp)
}

/// GETs `url` and returns (status, JSON body or Null); status 0 when no connection was made.
pub async fn get_json(url: &str) -> (u16, Value) {
    let Ok(r) = client().get(url).send().await else {
        return (0, Value::Null);
    };
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `/api/state`'s entry for one provider (`docker`, `consul`, `kubernetes`…) on the API port.
pub async fn provider_state(api: u16, provider: &str) -> Value {
    let (_, state) = get_json(&format!("http://127.0.0.1:{api}/api/state")).await;
    state["providers"][provider].clone()
}

/// Writes `content` to `path` atomically (temp file + rename), as editors do.
pub fn write_by_rename(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp-save");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
