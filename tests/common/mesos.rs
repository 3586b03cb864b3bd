//! A double of a Mesos master's HTTP API, for the `[mesos]` provider's tests: no Mesos
//! master can be installed here. It keeps the documented behaviour the provider relies
//! on, and nothing more:
//! * `GET /master/state` (and `/state`, the same endpoint on a master): the state JSON as
//!   `src/common/http.cpp` writes it, `frameworks[].tasks[]` (`id`, `name`,
//!   `framework_id`, `executor_id`, `slave_id`, `state`, `resources`, `statuses[]`,
//!   `labels` as an array of `{key, value}`, `discovery` as `DiscoveryInfo`'s protobuf
//!   JSON), `slaves[]` (`id`, `hostname`, `pid`, …) and `leader`; the test sets the tasks.
//! * A master that is not the leader (`follow`): 307 Temporary Redirect with
//!   `Location: //<leader>/master/state`, as Mesos redirects its endpoints to the leader.
//! * `stop` / `start`: the listener and every open connection closed, as a killed master;
//!   started again on the same port with the same tasks.
//!
//! It is a plain hyper service (as `Backend`), so that stopping aborts its connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// The one agent every task runs on: 127.0.0.1, so that `ipSources = host` reaches the
/// tests' backends.
pub const AGENT_ID: &str = "b7c5a1e2-3d4f-4a6b-9c8d-0e1f2a3b4c5d-S0";
const FRAMEWORK_ID: &str = "b7c5a1e2-3d4f-4a6b-9c8d-0e1f2a3b4c5d-0000";

struct Data {
    tasks: Vec<Value>,
    /// `host:port` of the leader this master redirects to (`None`: it is the leader).
    leader: Option<String>,
    /// Answered instead of the state, with 200 (a broken master or a proxy in front).
    garbage: Option<String>,
}

pub struct MesosDouble {
    pub addr: SocketAddr,
    data: Arc<Mutex<Data>>,
    reads: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl MesosDouble {
    pub async fn start() -> MesosDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let double = MesosDouble {
            addr: listener.local_addr().unwrap(),
            data: Arc::new(Mutex::new(Data {
                tasks: Vec::new(),
                leader: None,
                garbage: None,
            })),
            reads: Arc::new(AtomicUsize::new(0)),
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        double.serve(listener);
        double
    }

    /// `http://127.0.0.1:<port>`, as `[mesos] endpoint` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The running tasks the master reports from now on.
    pub fn set_tasks(&self, tasks: Vec<Value>) {
        self.data.lock().unwrap().tasks = tasks;
    }

    /// Not the leader from now on: its endpoints redirect to `leader` (`host:port`).
    pub fn follow(&self, leader: &str) {
        self.data.lock().unwrap().leader = Some(leader.to_string());
    }

    /// Answers `body` (200) instead of the state from now on; `None`: the state again.
    pub fn answer_garbage(&self, body: Option<&str>) {
        self.data.lock().unwrap().garbage = body.map(str::to_string);
    }

    /// The state reads answered so far (redirects not counted).
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Dies: stops listening and closes every open connection.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Back on the same port, with the same tasks.
    pub async fn restart(&self) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The old listener's socket may take a moment to go.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (data, reads, tasks) = (self.data.clone(), self.reads.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (data, reads) = (data.clone(), reads.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        answer(req, data.clone(), reads.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

impl Drop for MesosDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(
    req: Request<Incoming>,
    data: Arc<Mutex<Data>>,
    reads: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    if path != "/master/state" && path != "/state" {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    }
    let data = data.lock().unwrap();
    if let Some(leader) = &data.leader {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        r.headers_mut()
            .insert("location", format!("//{leader}{path}").parse().unwrap());
        return Ok(r);
    }
    reads.fetch_add(1, Ordering::SeqCst);
    if let Some(body) = &data.garbage {
        return Ok(Response::new(Full::new(Bytes::from(body.clone()))));
    }
    let state = json!({
        "version": "1.11.0",
        "id": "b7c5a1e2-3d4f-4a6b-9c8d-0e1f2a3b4c5d",
        "pid": "master@127.0.0.1:5050",
        "hostname": "localhost",
        "activated_slaves": 1,
        "leader": "master@127.0.0.1:5050",
        "slaves": [{
            "id": AGENT_ID,
            "hostname": "localhost",
            "port": 5051,
            "pid": "slave(1)@127.0.0.1:5051",
            "registered_time": 1733500002.5,
            "resources": {"disk": 35000.0, "mem": 15000.0, "gpus": 0.0, "cpus": 4.0,
                          "ports": "[1-65535]"},
            "attributes": {},
            "active": true,
            "version": "1.11.0"
        }],
        "frameworks": [{
            "id": FRAMEWORK_ID,
            "name": "marathon",
            "hostname": "localhost",
            "active": true,
            "user": "root",
            "role": "*",
            "tasks": data.tasks,
            "unreachable_tasks": [],
            "completed_tasks": [],
            "offers": [],
            "executors": []
        }],
        "completed_frameworks": [],
        "orphan_tasks": [],
        "unregistered_frameworks": []
    });
    let mut r = Response::new(Full::new(Bytes::from(state.to_string())));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(r)
}

/// A task as the master reports it: `id`, its application's discovery `name`, one
/// discovery port `port` (named `http`), `labels`, in `state` (`TASK_RUNNING`, …) with
/// `healthy` in its latest status when it has a health check.
pub fn task(
    id: &str,
    name: &str,
    port: u16,
    labels: &[(&str, &str)],
    state: &str,
    healthy: Option<bool>,
) -> Value {
    let labels: Vec<Value> = labels
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let mut status = json!({
        "state": state,
        "timestamp": 1733500021.22,
        "container_status": {
            "container_id": {"value": format!("c-{id}")},
            "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "127.0.0.1"}]}]
        }
    });
    if let Some(h) = healthy {
        status["healthy"] = json!(h);
    }
    json!({
        "id": id,
        "name": name.trim_start_matches('/').replace('/', "."),
        "framework_id": FRAMEWORK_ID,
        "executor_id": "",
        "slave_id": AGENT_ID,
        "state": state,
        "resources": {"disk": 0.0, "mem": 32.0, "gpus": 0.0, "cpus": 0.1,
                      "ports": format!("[{port}-{port}]")},
        "role": "*",
        "statuses": [status],
        "labels": labels,
        "discovery": {
            "visibility": "FRAMEWORK",
            "name": name,
            "ports": {"ports": [{"number": port, "name": "http", "protocol": "tcp"}]}
        }
    })
}
