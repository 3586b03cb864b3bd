//! A double of Marathon's REST API, for the `[marathon]` provider's tests: Marathon cannot
//! be installed here (nor run: it needs Mesos and ZooKeeper). It keeps the documented
//! semantics the provider relies on, and nothing more:
//! * `GET /v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness`:
//!   `{"apps": [...]}`, each application as Marathon describes it (`id`, `labels`,
//!   `portDefinitions`, `healthChecks`, `ipAddress`, …) with its `tasks` (`id`, `host`,
//!   `state`, `ports`, `ipAddresses`, `healthCheckResults`), `deployments` and
//!   `readinessCheckResults` embedded only when asked for.
//! * `GET /v2/events` with `Accept: text/event-stream`: server-sent events, `event:
//!   <eventType>` and `data: <JSON>`, starting with `event_stream_attached`; the events
//!   Marathon emits for what the test does (`api_post_event`, `deployment_info`,
//!   `status_update_event`, `health_status_changed_event`, `deployment_step_success`,
//!   `deployment_success`, `app_terminated_event`). Without the Accept header: 406.
//! * Authentication: with credentials set, a request without them gets 401 and Marathon's
//!   `{"message": …}` (HTTP basic, or DC/OS's `Authorization: token=…`).
//! * HTTPS (`start_tls`), as Marathon serves with a keystore.
//! * `cut_streams`: every event stream ends (a proxy or a leader change in between);
//!   `mute`: events are not sent (lost), so only a full re-read can see a change;
//!   `stop` / `start`: the listener and every connection closed, as a killed Marathon, and
//!   started again on the same port with the same applications.
//!
//! axum for the routes and its `Sse` response, served connection by connection (as the
//! Consul double) so that stopping aborts the open streams.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tower::ServiceExt;

const VERSION: &str = "2026-12-06T23:00:00.000Z";

/// One task of an application, on 127.0.0.1.
#[derive(Clone)]
struct TaskState {
    id: String,
    port: u16,
    state: String,
    /// `None`: no health check result yet.
    alive: Option<bool>,
}

struct AppState {
    labels: BTreeMap<String, String>,
    health_checks: bool,
    tasks: Vec<TaskState>,
}

#[derive(Clone)]
enum Credentials {
    Basic(String, String),
    Token(String),
}

struct Data {
    apps: BTreeMap<String, AppState>,
    credentials: Option<Credentials>,
    /// Open event streams.
    subscribers: Vec<mpsc::UnboundedSender<Event>>,
    muted: bool,
    /// `GET /v2/apps` answered, and `/v2/events` subscriptions accepted.
    apps_reads: usize,
    subscriptions: usize,
    deployments: usize,
}

type Shared = Arc<Mutex<Data>>;

pub struct MarathonDouble {
    pub addr: SocketAddr,
    shared: Shared,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// Serves HTTPS with this configuration (`start_tls`).
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl MarathonDouble {
    pub async fn start() -> MarathonDouble {
        Self::start_with(None).await
    }

    /// Over HTTPS (as Marathon with `--ssl_keystore_path`).
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> MarathonDouble {
        Self::start_with(Some(config)).await
    }

    async fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> MarathonDouble {
        let shared = Arc::new(Mutex::new(Data {
            apps: BTreeMap::new(),
            credentials: None,
            subscribers: Vec::new(),
            muted: false,
            apps_reads: 0,
            subscriptions: 0,
            deployments: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let double = MarathonDouble {
            addr: listener.local_addr().unwrap(),
            shared,
            tasks: Arc::new(Mutex::new(Vec::new())),
            tls,
        };
        double.serve(listener);
        double
    }

    /// `http://127.0.0.1:<port>` (`https://` over TLS), as `[marathon] endpoint` takes it.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Requests must carry HTTP basic credentials from now on.
    pub fn require_basic(&self, user: &str, password: &str) {
        self.data().credentials = Some(Credentials::Basic(user.into(), password.into()));
    }

    /// Requests must carry `Authorization: token=<token>` (DC/OS) from now on.
    pub fn require_token(&self, token: &str) {
        self.data().credentials = Some(Credentials::Token(token.into()));
    }

    pub fn apps_reads(&self) -> usize {
        self.data().apps_reads
    }

    pub fn subscriptions(&self) -> usize {
        self.data().subscriptions
    }

    /// `POST /v2/apps` and its deployment: the application, then `tasks` (id, port) started
    /// and, with `health_checks`, found healthy.
    pub fn deploy(
        &self,
        id: &str,
        labels: &[(&str, &str)],
        health_checks: bool,
        tasks: &[(&str, u16)],
    ) {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut data = self.data();
        data.apps.insert(
            id.to_string(),
            AppState {
                labels,
                health_checks,
                tasks: Vec::new(),
            },
        );
        let definition = app_json(id, &data.apps[id], false);
        emit(
            &mut data,
            "api_post_event",
            json!({"clientIp": "127.0.0.1", "uri": "/v2/apps", "appDefinition": definition}),
        );
        let plan = deployment(&mut data, id, "StartApplication");
        emit(&mut data, "deployment_info", plan.clone());
        drop(data);
        self.scale(id, tasks);
    }

    /// Scales `id` to exactly `tasks` (id, port): new ones started (`TASK_RUNNING`, then
    /// healthy when the application has health checks), missing ones killed.
    pub fn scale(&self, id: &str, tasks: &[(&str, u16)]) {
        let mut data = self.data();
        let Some(app) = data.apps.get_mut(id) else {
            panic!("no application {id}");
        };
        let health_checks = app.health_checks;
        let killed: Vec<TaskState> = app
            .tasks
            .iter()
            .filter(|t| !tasks.iter().any(|(tid, _)| *tid == t.id))
            .cloned()
            .collect();
        app.tasks
            .retain(|t| tasks.iter().any(|(tid, _)| *tid == t.id));
        let mut started = Vec::new();
        for (tid, port) in tasks {
            if !app.tasks.iter().any(|t| t.id == *tid) {
                let task = TaskState {
                    id: tid.to_string(),
                    port: *port,
                    state: "TASK_RUNNING".into(),
                    alive: health_checks.then_some(true),
                };
                app.tasks.push(task.clone());
                started.push(task);
            }
        }
        let plan = deployment(&mut data, id, "ScaleApplication");
        for t in &started {
            emit(
                &mut data,
                "status_update_event",
                status_update(id, t, "TASK_STAGING"),
            );
            emit(
                &mut data,
                "status_update_event",
                status_update(id, t, "TASK_RUNNING"),
            );
            if health_checks {
                emit(
                    &mut data,
                    "health_status_changed_event",
                    health_changed(id, &t.id, true),
                );
            }
        }
        for t in &killed {
            emit(
                &mut data,
                "status_update_event",
                status_update(id, t, "TASK_KILLING"),
            );
            emit(
                &mut data,
                "status_update_event",
                status_update(id, t, "TASK_KILLED"),
            );
        }
        emit(&mut data, "deployment_step_success", plan.clone());
        emit(&mut data, "deployment_success", plan);
    }

    /// A task's health check result changes (`health_status_changed_event`).
    pub fn set_health(&self, id: &str, task: &str, alive: bool) {
        let mut data = self.data();
        let app = data.apps.get_mut(id).expect("application");
        let t = app.tasks.iter_mut().find(|t| t.id == task).expect("task");
        t.alive = Some(alive);
        emit(
            &mut data,
            "health_status_changed_event",
            health_changed(id, task, alive),
        );
    }

    /// `PUT /v2/apps/<id>` with new labels, and its (restart-free) deployment.
    pub fn set_labels(&self, id: &str, labels: &[(&str, &str)]) {
        let mut data = self.data();
        let app = data.apps.get_mut(id).expect("application");
        app.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let definition = app_json(id, &data.apps[id], false);
        emit(
            &mut data,
            "api_post_event",
            json!({"clientIp": "127.0.0.1", "uri": format!("/v2/apps{id}"), "appDefinition": definition}),
        );
        let plan = deployment(&mut data, id, "RestartApplication");
        emit(&mut data, "deployment_success", plan);
    }

    /// `DELETE /v2/apps/<id>`: its tasks killed, the application gone.
    pub fn destroy(&self, id: &str) {
        let mut data = self.data();
        let app = data.apps.remove(id).expect("application");
        let plan = deployment(&mut data, id, "StopApplication");
        for t in &app.tasks {
            emit(
                &mut data,
                "status_update_event",
                status_update(id, t, "TASK_KILLED"),
            );
        }
        emit(&mut data, "app_terminated_event", json!({"appId": id}));
        emit(&mut data, "deployment_success", plan);
    }

    /// Events are lost (`true`) or sent again (`false`).
    pub fn mute(&self, muted: bool) {
        self.data().muted = muted;
    }

    /// Every open event stream ends.
    pub fn cut_streams(&self) {
        self.data().subscribers.clear();
    }

    /// The listener and every connection closed, as a killed Marathon.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        self.data().subscribers.clear();
    }

    /// Listening again on the same port, with the same applications.
    pub async fn start_again(&self) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The aborted listener may take a moment to be dropped.
                Err(_) => tokio::task::yield_now().await,
            }
        };
        self.serve(listener);
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.shared.lock().unwrap()
    }

    fn serve(&self, listener: TcpListener) {
        let router = Router::new()
            .route("/v2/apps", get(apps))
            .route("/v2/events", get(events))
            .with_state(self.shared.clone());
        let tasks = self.tasks.clone();
        let acceptor = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (router, acceptor) = (router.clone(), acceptor.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let router = router.clone();
                            async move {
                                Ok::<_, Infallible>(
                                    router
                                        .oneshot(req.map(axum::body::Body::new))
                                        .await
                                        .unwrap_or_else(|e| match e {}),
                                )
                            }
                        },
                    );
                    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match acceptor {
                        None => http.serve_connection(TokioIo::new(stream), svc).await,
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            http.serve_connection(TokioIo::new(tls), svc).await
                        }
                    };
                });
                tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

impl Drop for MarathonDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

/// 401 with Marathon's message, unless the request carries the credentials asked for.
fn refusal(data: &Data, headers: &HeaderMap) -> Option<Response> {
    let credentials = data.credentials.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = match credentials {
        Credentials::Basic(user, password) => {
            use base64::Engine;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {encoded}")
        }
        Credentials::Token(token) => format!("token={token}"),
    };
    if given == expected {
        return None;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"message": "Invalid username or password."})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"Mesosphere\""),
    );
    Some(response)
}

async fn apps(State(shared): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let mut data = shared.lock().unwrap();
    if let Some(refused) = refusal(&data, &headers) {
        return refused;
    }
    data.apps_reads += 1;
    // `embed=apps.tasks&embed=apps.deployments&…` (no escaping in these values).
    let query = uri.query().unwrap_or("");
    let embed = |what: &str| query.split('&').any(|pair| pair == format!("embed={what}"));
    let with_tasks = embed("apps.tasks");
    let apps: Vec<Value> = data
        .apps
        .iter()
        .map(|(id, app)| {
            let mut v = app_json(id, app, with_tasks);
            if embed("apps.deployments") {
                v["deployments"] = json!([]);
            }
            if embed("apps.readiness") {
                v["readinessCheckResults"] = json!([]);
            }
            v
        })
        .collect();
    axum::Json(json!({ "apps": apps })).into_response()
}

async fn events(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut data = shared.lock().unwrap();
    if let Some(refused) = refusal(&data, &headers) {
        return refused;
    }
    let accepts = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if !accepts {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    data.subscriptions += 1;
    let (tx, rx) = mpsc::unbounded_channel();
    let attached = json!({"remoteAddress": "127.0.0.1", "eventType": "event_stream_attached", "timestamp": VERSION});
    let _ = tx.send(
        Event::default()
            .event("event_stream_attached")
            .data(attached.to_string()),
    );
    data.subscribers.push(tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream).into_response()
}

/// Sends one event to every open stream (unless muted).
fn emit(data: &mut Data, event_type: &str, mut body: Value) {
    body["eventType"] = json!(event_type);
    body["timestamp"] = json!(VERSION);
    if data.muted {
        return;
    }
    let event = Event::default().event(event_type).data(body.to_string());
    data.subscribers.retain(|tx| tx.send(event.clone()).is_ok());
}

/// A deployment plan as the deployment events carry it.
fn deployment(data: &mut Data, id: &str, action: &str) -> Value {
    data.deployments += 1;
    let step = json!({"actions": [{"action": action, "app": id}]});
    json!({
        "id": format!("5a4f6f6e-0000-4000-8000-{:012}", data.deployments),
        "plan": {
            "id": format!("5a4f6f6e-0000-4000-8000-{:012}", data.deployments),
            "original": {"id": "/", "apps": [], "groups": [], "dependencies": [], "version": VERSION},
            "target": {"id": "/", "apps": [], "groups": [], "dependencies": [], "version": VERSION},
            "steps": [step.clone()],
            "version": VERSION
        },
        "currentStep": step
    })
}

fn status_update(app: &str, task: &TaskState, status: &str) -> Value {
    json!({
        "slaveId": "e4b0a9a6-61ab-4b1e-9a3a-3e1d1c2b3a4f-S0",
        "taskId": task.id,
        "taskStatus": status,
        "message": "",
        "appId": app,
        "host": "127.0.0.1",
        "ipAddresses": [{"ipAddress": "127.0.0.1", "protocol": "IPv4"}],
        "ports": [task.port],
        "version": VERSION
    })
}

fn health_changed(app: &str, task: &str, alive: bool) -> Value {
    json!({"appId": app, "taskId": task, "instanceId": task, "version": VERSION, "alive": alive})
}

/// The application as `GET /v2/apps` describes it (host networking, one port definition).
fn app_json(id: &str, app: &AppState, with_tasks: bool) -> Value {
    let health_checks = if app.health_checks {
        json!([{
            "gracePeriodSeconds": 300, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
            "path": "/", "portIndex": 0, "protocol": "HTTP", "timeoutSeconds": 20,
            "delaySeconds": 15, "ignoreHttp1xx": false
        }])
    } else {
        json!([])
    };
    let running = app
        .tasks
        .iter()
        .filter(|t| t.state == "TASK_RUNNING")
        .count();
    let healthy = app.tasks.iter().filter(|t| t.alive == Some(true)).count();
    let mut v = json!({
        "id": id,
        "cmd": "trafik echo --listen 127.0.0.1:$PORT0",
        "args": null,
        "user": null,
        "env": {},
        "instances": app.tasks.len(),
        "cpus": 0.1,
        "mem": 32.0,
        "disk": 0.0,
        "gpus": 0,
        "executor": "",
        "constraints": [],
        "uris": [],
        "fetch": [],
        "storeUrls": [],
        "backoffSeconds": 1,
        "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 3600,
        "container": null,
        "healthChecks": health_checks,
        "readinessChecks": [],
        "dependencies": [],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": app.labels,
        "ipAddress": null,
        "version": VERSION,
        "residency": null,
        "secrets": {},
        "taskKillGracePeriodSeconds": null,
        "unreachableStrategy": {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600},
        "killSelection": "YOUNGEST_FIRST",
        "versionInfo": {"lastScalingAt": VERSION, "lastConfigChangeAt": VERSION},
        "ports": [10000],
        "portDefinitions": [{"port": 10000, "protocol": "tcp", "name": "http", "labels": {}}],
        "requirePorts": false,
        "tasksStaged": 0,
        "tasksRunning": running,
        "tasksHealthy": healthy,
        "tasksUnhealthy": app.tasks.iter().filter(|t| t.alive == Some(false)).count()
    });
    if with_tasks {
        let tasks: Vec<Value> = app
            .tasks
            .iter()
            .map(|t| {
                let results = match t.alive {
                    None => json!([]),
                    Some(alive) => json!([{
                        "alive": alive,
                        "consecutiveFailures": if alive { 0 } else { 3 },
                        "firstSuccess": VERSION,
                        "lastFailure": if alive { Value::Null } else { json!(VERSION) },
                        "lastSuccess": VERSION,
                        "lastFailureCause": if alive { Value::Null } else { json!("ConnectException: Connection refused") },
                        "taskId": t.id
                    }]),
                };
                json!({
                    "id": t.id,
                    "slaveId": "e4b0a9a6-61ab-4b1e-9a3a-3e1d1c2b3a4f-S0",
                    "host": "127.0.0.1",
                    "state": t.state,
                    "startedAt": VERSION,
                    "stagedAt": VERSION,
                    "ports": [t.port],
                    "version": VERSION,
                    "ipAddresses": [{"ipAddress": "127.0.0.1", "protocol": "IPv4"}],
                    "appId": id,
                    "healthCheckResults": results
                })
            })
            .collect();
        v["tasks"] = json!(tasks);
    }
    v
}
