//! A double of the Kubernetes API server, for the `[kubernetes]` provider's tests: no
//! Kubernetes can run on these machines. It follows the documented API conventions
//! ("API Concepts": efficient detection of changes, resource versions, watch bookmarks) for
//! the kinds trafik reads, and nothing more:
//! * `GET` of a collection (`/api/v1/services`, `/api/v1/namespaces/<ns>/secrets`,
//!   `/apis/networking.k8s.io/v1/ingresses`, …): a `<Kind>List` with
//!   `metadata.resourceVersion` (the store's latest); `labelSelector` with `k=v`, `k!=v`
//!   and `k` terms. `GET` of one object by name (404 `Status` when absent).
//! * `?watch=true` (or `watch=1`) from a `resourceVersion`: newline-delimited JSON events
//!   (`ADDED`, `MODIFIED`, `DELETED`) for every change after that version, then live; with
//!   `allowWatchBookmarks=true`, a `BOOKMARK` carrying the latest version once a second
//!   when other objects changed. A version older than the kept history gets the real
//!   server's answer: `200` and one `ERROR` event holding a `Status` of code 410 `Expired`.
//! * Discovery: `/api`, `/apis`, and `/apis/discovery.k8s.io/v1` (404 once the test turns
//!   EndpointSlices off, as a cluster older than 1.21 answers).
//! * `PATCH …/ingresses/<name>/status` (merge patch): the status replaced, the object's
//!   version bumped, `MODIFIED` sent to watchers.
//! * With a token set, requests without `Authorization: Bearer <token>` get `401` and an
//!   `Unauthorized` `Status`.
//!
//! Objects are put as the real API returns them (apiVersion, kind, metadata, spec, status);
//! the double adds `uid`, `resourceVersion` and `creationTimestamp`. The test controls it:
//! `put` / `delete`, `drop_watches` (every open watch ends cleanly, as the server's
//! timeout ends them), `hold_watches` (one kind's watches fall silent, as a slow watch
//! connection does, and catch up in order when released), `expire_history` (what came
//! before is forgotten: older versions get 410), `stop` / `restart` (the port closed and
//! every connection cut; back with the same data).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

type Body = BoxBody<Bytes, Infallible>;

/// The kinds served: plural, API prefix, apiVersion, kind, namespaced.
const KINDS: [(&str, &str, &str, &str, bool); 7] = [
    (
        "ingresses",
        "/apis/networking.k8s.io/v1",
        "networking.k8s.io/v1",
        "Ingress",
        true,
    ),
    (
        "ingressclasses",
        "/apis/networking.k8s.io/v1",
        "networking.k8s.io/v1",
        "IngressClass",
        false,
    ),
    ("services", "/api/v1", "v1", "Service", true),
    ("endpoints", "/api/v1", "v1", "Endpoints", true),
    ("secrets", "/api/v1", "v1", "Secret", true),
    (
        "endpointslices",
        "/apis/discovery.k8s.io/v1",
        "discovery.k8s.io/v1",
        "EndpointSlice",
        true,
    ),
    ("namespaces", "/api/v1", "v1", "Namespace", false),
];

fn kind_of(plural: &str) -> Option<(&'static str, &'static str, bool)> {
    KINDS
        .iter()
        .find(|k| k.0 == plural)
        .map(|k| (k.2, k.3, k.4))
}

fn plural_of(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|k| k.3 == kind)
        .map(|k| k.0)
        .unwrap_or_else(|| panic!("the double does not serve kind {kind}"))
}

/// (plural, namespace ("" when cluster-scoped), name).
type Key = (String, String, String);

struct Change {
    version: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

struct Data {
    objects: BTreeMap<Key, Value>,
    /// The store's latest resource version.
    version: u64,
    history: Vec<Change>,
    /// Watches from a version below this get 410.
    oldest: u64,
    token: Option<String>,
    endpoint_slices: bool,
    /// Requests by `(plural, "list" | "watch")`.
    requests: BTreeMap<(String, &'static str), usize>,
    gone_sent: usize,
    bookmarks_sent: usize,
    unauthorized: usize,
    /// `(namespace/name, body)` of each status PATCH.
    patches: Vec<(String, Value)>,
    /// Plurals whose watches send nothing (no bookmark either) until released.
    held: std::collections::BTreeSet<String>,
}

struct Shared {
    data: Mutex<Data>,
    /// The latest version, for watches to wake on.
    version_tx: watch::Sender<u64>,
    /// Bumped to end every open watch.
    drop_tx: watch::Sender<u64>,
}

pub struct KubeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl KubeApi {
    pub async fn start() -> KubeApi {
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                objects: BTreeMap::new(),
                version: 1000,
                history: Vec::new(),
                oldest: 0,
                token: None,
                endpoint_slices: true,
                requests: BTreeMap::new(),
                gone_sent: 0,
                bookmarks_sent: 0,
                unauthorized: 0,
                patches: Vec::new(),
                held: Default::default(),
            }),
            version_tx: watch::channel(1000).0,
            drop_tx: watch::channel(0).0,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = KubeApi {
            addr,
            shared,
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        api.serve(listener);
        api
    }

    /// What `[kubernetes] endpoint` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests must carry `Authorization: Bearer <token>` from now on.
    pub fn set_token(&self, token: Option<&str>) {
        self.shared.data.lock().unwrap().token = token.map(str::to_string);
    }

    /// Off: `/apis/discovery.k8s.io/v1` answers 404, as before Kubernetes 1.21.
    pub fn set_endpoint_slices(&self, served: bool) {
        self.shared.data.lock().unwrap().endpoint_slices = served;
    }

    /// Creates or replaces the object (its JSON as the API returns it, without the fields
    /// the server sets); watchers get `ADDED` or `MODIFIED`.
    pub fn put(&self, object: Value) {
        let kind = object["kind"].as_str().expect("kind").to_string();
        let plural = plural_of(&kind);
        let name = object["metadata"]["name"].as_str().expect("metadata.name");
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        self.shared.change(key, Some(object));
    }

    /// Deletes the object; watchers get `DELETED` with its last state.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let key = (
            plural_of(kind).to_string(),
            namespace.to_string(),
            name.into(),
        );
        self.shared.change(key, None);
    }

    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            plural_of(kind).to_string(),
            namespace.to_string(),
            name.into(),
        );
        self.shared.data.lock().unwrap().objects.get(&key).cloned()
    }

    /// Ends every open watch, as the server's `timeoutSeconds` or a load balancer does:
    /// clients resume from the last version they saw.
    pub fn drop_watches(&self) {
        self.shared.drop_tx.send_modify(|g| *g += 1);
    }

    /// While held, the watches of `plural` (`"ingresses"`…) send nothing: a watch stream
    /// that lags behind the others, as each kind's is its own connection. Released, they
    /// send what they held, in order. Lists and the other kinds' watches go on.
    pub fn hold_watches(&self, plural: &str, held: bool) {
        let latest = {
            let mut data = self.shared.data.lock().unwrap();
            if held {
                data.held.insert(plural.to_string());
            } else {
                data.held.remove(plural);
            }
            data.version
        };
        // Wakes the watches, so the released ones catch up now.
        self.shared.version_tx.send_replace(latest);
    }

    /// Forgets the history: a watch from any version before the latest gets 410 Gone (as
    /// etcd's compaction makes the real server answer).
    pub fn expire_history(&self) {
        let mut data = self.shared.data.lock().unwrap();
        data.history.clear();
        data.oldest = data.version;
    }

    /// Lists (`"list"`) or watches (`"watch"`) of `plural` received so far.
    pub fn requests(&self, plural: &str, what: &'static str) -> usize {
        let data = self.shared.data.lock().unwrap();
        data.requests
            .get(&(plural.to_string(), what))
            .copied()
            .unwrap_or(0)
    }

    /// Watches answered with 410 Gone.
    pub fn gone_sent(&self) -> usize {
        self.shared.data.lock().unwrap().gone_sent
    }

    /// `BOOKMARK` events sent.
    pub fn bookmarks_sent(&self) -> usize {
        self.shared.data.lock().unwrap().bookmarks_sent
    }

    /// Requests answered 401.
    pub fn unauthorized(&self) -> usize {
        self.shared.data.lock().unwrap().unauthorized
    }

    /// Status PATCHes received: `(namespace/name, body)`.
    pub fn patches(&self) -> Vec<(String, Value)> {
        self.shared.data.lock().unwrap().patches.clone()
    }

    /// Dies: the port closed, every open request and watch cut.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Back on the same port, with the same objects and history.
    pub async fn restart(&self) {
        self.stop();
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The aborted accept task may not have dropped its listener yet.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (shared, conn_tasks) = (shared.clone(), tasks.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (shared, tasks) = (shared.clone(), conn_tasks.clone());
                        async move { Ok::<_, Infallible>(shared.handle(req, &tasks).await) }
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

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Objects as the server completes them, for tests to write less: `Service`, `Ingress`…
pub mod objects {
    use serde_json::{Value, json};

    /// A ClusterIP Service with one named port.
    pub fn service(namespace: &str, name: &str, port: u16, port_name: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "selector": {"app": name},
                "ports": [{"name": port_name, "protocol": "TCP", "port": port, "targetPort": port}],
                "sessionAffinity": "None"
            },
            "status": {"loadBalancer": {}}
        })
    }

    /// The EndpointSlice the endpointslice controller keeps for `service`: ready endpoints
    /// at 127.0.0.1 on `target_port` each (the backends' ports differ, so one slice per
    /// backend port).
    pub fn endpoint_slice(
        namespace: &str,
        service: &str,
        slice: &str,
        port_name: &str,
        target_port: u16,
        addresses: usize,
    ) -> Value {
        let endpoints: Vec<Value> = (0..addresses)
            .map(|i| {
                json!({
                    "addresses": ["127.0.0.1"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "targetRef": {"kind": "Pod", "namespace": namespace, "name": format!("{service}-{i}")},
                    "nodeName": "node-1"
                })
            })
            .collect();
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice,
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": service,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service, "uid": "00000000-0000-0000-0000-000000000001", "controller": true, "blockOwnerDeletion": true}]
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": port_name, "protocol": "TCP", "port": target_port}]
        })
    }

    /// The IngressClass that names trafik's controller.
    pub fn ingress_class(name: &str) -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": name},
            "spec": {"controller": "traefik.io/ingress-controller"}
        })
    }
}

impl Shared {
    /// One write: the next version, the history, watchers woken.
    fn change(&self, key: Key, object: Option<Value>) {
        let mut data = self.data.lock().unwrap();
        data.version += 1;
        let version = data.version;
        let (api_version, kind, _) = kind_of(&key.0).unwrap();
        let (event, object) = match object {
            Some(mut object) => {
                let previous = data.objects.get(&key);
                let meta = object["metadata"].as_object_mut().expect("metadata");
                let uid = previous
                    .and_then(|p| p["metadata"]["uid"].as_str().map(String::from))
                    .unwrap_or_else(|| format!("6f1c2a4e-0000-4000-8000-{version:012}"));
                let created = previous
                    .and_then(|p| {
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .map(String::from)
                    })
                    .unwrap_or_else(|| "2026-12-06T23:00:00Z".to_string());
                meta.insert("uid".into(), json!(uid));
                meta.insert("creationTimestamp".into(), json!(created));
                meta.insert("resourceVersion".into(), json!(version.to_string()));
                object["apiVersion"] = json!(api_version);
                object["kind"] = json!(kind);
                let event = if previous.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                data.objects.insert(key.clone(), object.clone());
                (event, object)
            }
            None => {
                let Some(mut object) = data.objects.remove(&key) else {
                    return;
                };
                object["metadata"]["resourceVersion"] = json!(version.to_string());
                ("DELETED", object)
            }
        };
        data.history.push(Change {
            version,
            key,
            kind: event,
            object,
        });
        drop(data);
        self.version_tx.send_replace(version);
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        tasks: &Mutex<Vec<AbortHandle>>,
    ) -> Response<Body> {
        {
            let mut data = self.data.lock().unwrap();
            if let Some(token) = &data.token {
                let expected = format!("Bearer {token}");
                let given = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok());
                if given != Some(expected.as_str()) {
                    data.unauthorized += 1;
                    return status(401, "Unauthorized", "Unauthorized");
                }
            }
        }
        let path = req.uri().path().to_string();
        let query = super::query::parse(req.uri().query().unwrap_or(""));
        let method = req.method().clone();
        match (method, path.as_str()) {
            (Method::GET, "/api") => answer(json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
            })),
            (Method::GET, "/apis") => answer(self.groups()),
            (Method::GET, "/apis/discovery.k8s.io/v1") => {
                if !self.data.lock().unwrap().endpoint_slices {
                    return status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    );
                }
                answer(json!({
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "discovery.k8s.io/v1",
                    "resources": [{
                        "name": "endpointslices", "singularName": "endpointslice", "namespaced": true,
                        "kind": "EndpointSlice",
                        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                    }]
                }))
            }
            (Method::PATCH, _) => {
                let body = req.into_body().collect().await.map(|b| b.to_bytes());
                let body: Value = body
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                self.patch_status(&path, body)
            }
            (Method::GET, _) => match route(&path) {
                Some((plural, namespace, None)) => {
                    if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
                        self.watch(plural, namespace, &query, tasks)
                    } else {
                        self.list(plural, namespace, &query)
                    }
                }
                Some((plural, namespace, Some(name))) => {
                    let key = (plural, namespace.unwrap_or_default(), name);
                    match self.data.lock().unwrap().objects.get(&key) {
                        Some(object) => answer(object.clone()),
                        None => status(
                            404,
                            "NotFound",
                            &format!("{} \"{}\" not found", key.0, key.2),
                        ),
                    }
                }
                None => status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            },
            _ => status(405, "MethodNotAllowed", "method not allowed"),
        }
    }

    fn groups(&self) -> Value {
        let slices = self.data.lock().unwrap().endpoint_slices;
        let group = |name: &str| {
            json!({
                "name": name,
                "versions": [{"groupVersion": format!("{name}/v1"), "version": "v1"}],
                "preferredVersion": {"groupVersion": format!("{name}/v1"), "version": "v1"}
            })
        };
        let mut groups = vec![group("networking.k8s.io")];
        if slices {
            groups.push(group("discovery.k8s.io"));
        }
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn list(
        &self,
        plural: String,
        namespace: Option<String>,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        let selector = query.get("labelSelector").cloned().unwrap_or_default();
        let mut data = self.data.lock().unwrap();
        *data.requests.entry((plural.clone(), "list")).or_default() += 1;
        if plural == "endpointslices" && !data.endpoint_slices {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
        let items: Vec<Value> = data
            .objects
            .iter()
            .filter(|(k, o)| in_scope(k, &plural, namespace.as_deref()) && selects(&selector, o))
            .map(|(_, o)| {
                // List items come without apiVersion and kind, as the real server sends them.
                let mut o = o.clone();
                if let Some(map) = o.as_object_mut() {
                    map.remove("apiVersion");
                    map.remove("kind");
                }
                o
            })
            .collect();
        let (api_version, kind, _) = kind_of(&plural).unwrap();
        answer(json!({
            "kind": format!("{kind}List"),
            "apiVersion": api_version,
            "metadata": {"resourceVersion": data.version.to_string()},
            "items": items
        }))
    }

    fn watch(
        self: &Arc<Self>,
        plural: String,
        namespace: Option<String>,
        query: &BTreeMap<String, String>,
        tasks: &Mutex<Vec<AbortHandle>>,
    ) -> Response<Body> {
        let selector = query.get("labelSelector").cloned().unwrap_or_default();
        let bookmarks = query.get("allowWatchBookmarks").map(String::as_str) == Some("true");
        let timeout = query
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(300u64);
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let (api_version, kind, _) = kind_of(&plural).unwrap();
        let mut cursor: u64 = {
            let mut data = self.data.lock().unwrap();
            *data.requests.entry((plural.clone(), "watch")).or_default() += 1;
            let from = query
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(data.version);
            if from < data.oldest {
                data.gone_sent += 1;
                let gone = json!({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("too old resource version: {from} ({})", data.oldest),
                    "reason": "Expired", "code": 410
                }});
                return answer_raw(line(&gone));
            }
            from
        };
        let mut version_rx = self.version_tx.subscribe();
        let mut drop_rx = self.drop_tx.subscribe();
        drop_rx.mark_unchanged();
        let data = self.clone();
        let task = tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(timeout);
            let mut last_sent = cursor;
            loop {
                let (events, latest) = {
                    let data = data.data.lock().unwrap();
                    // A held watch stays where it is: nothing sent, nor a bookmark past it.
                    let latest = if data.held.contains(&plural) {
                        cursor
                    } else {
                        data.version
                    };
                    let events: Vec<Value> = data
                        .history
                        .iter()
                        .filter(|c| {
                            c.version > cursor
                                && c.version <= latest
                                && in_scope(&c.key, &plural, namespace.as_deref())
                                && selects(&selector, &c.object)
                        })
                        .map(|c| json!({"type": c.kind, "object": c.object}))
                        .collect();
                    (events, latest)
                };
                cursor = latest;
                for event in events {
                    last_sent = latest;
                    if tx.send(line(&event)).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    changed = version_rx.changed() => if changed.is_err() { return },
                    _ = drop_rx.changed() => return,
                    () = tokio::time::sleep_until(until) => return,
                    () = tokio::time::sleep(Duration::from_secs(1)), if bookmarks && latest > last_sent => {
                        let bookmark = json!({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": api_version,
                            "metadata": {"resourceVersion": latest.to_string()}
                        }});
                        last_sent = latest;
                        if tx.send(line(&bookmark)).await.is_err() {
                            return;
                        }
                        data.data.lock().unwrap().bookmarks_sent += 1;
                    }
                }
            }
        });
        tasks.lock().unwrap().push(task.abort_handle());
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        let mut r = Response::new(BodyExt::boxed(StreamBody::new(body)));
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    }

    fn patch_status(&self, path: &str, body: Value) -> Response<Body> {
        let Some(rest) = path.strip_prefix("/apis/networking.k8s.io/v1/namespaces/") else {
            return status(404, "NotFound", "not found");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let [namespace, "ingresses", name, "status"] = parts.as_slice() else {
            return status(404, "NotFound", "not found");
        };
        let key = (
            "ingresses".to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let current = self.data.lock().unwrap().objects.get(&key).cloned();
        let Some(mut object) = current else {
            return status(
                404,
                "NotFound",
                &format!("ingresses.networking.k8s.io \"{name}\" not found"),
            );
        };
        self.data
            .lock()
            .unwrap()
            .patches
            .push((format!("{namespace}/{name}"), body.clone()));
        object["status"] = body["status"].clone();
        if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        self.change(key.clone(), Some(object));
        let updated = self
            .data
            .lock()
            .unwrap()
            .objects
            .get(&key)
            .cloned()
            .unwrap();
        answer(updated)
    }
}

/// `(plural, namespace, name)` of a resource path.
fn route(path: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = [
        "/api/v1/",
        "/apis/networking.k8s.io/v1/",
        "/apis/discovery.k8s.io/v1/",
    ]
    .iter()
    .find_map(|p| path.strip_prefix(p))?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let (plural, namespace, name) = match parts.as_slice() {
        ["namespaces", ns, plural] => (*plural, Some(ns.to_string()), None),
        ["namespaces", ns, plural, name] => (*plural, Some(ns.to_string()), Some(name.to_string())),
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, None, Some(name.to_string())),
        _ => return None,
    };
    kind_of(plural)?;
    Some((plural.to_string(), namespace, name))
}

fn in_scope(key: &Key, plural: &str, namespace: Option<&str>) -> bool {
    key.0 == plural && namespace.is_none_or(|ns| key.1 == ns)
}

/// Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated.
fn selects(selector: &str, object: &Value) -> bool {
    let labels = &object["metadata"]["labels"];
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|term| {
            let term = term.trim();
            if let Some((k, v)) = term.split_once("!=") {
                labels[k.trim()].as_str() != Some(v.trim())
            } else if let Some((k, v)) = term.split_once('=') {
                labels[k.trim()].as_str() == Some(v.trim_start_matches('=').trim())
            } else if let Some(k) = term.strip_prefix('!') {
                labels[k.trim()].is_null()
            } else {
                !labels[term].is_null()
            }
        })
}

fn line(value: &Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

fn answer(value: Value) -> Response<Body> {
    let mut r = Response::new(BodyExt::boxed(Full::new(Bytes::from(value.to_string()))));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn answer_raw(body: Bytes) -> Response<Body> {
    let mut r = Response::new(BodyExt::boxed(Full::new(body)));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

/// A `Status` answer, as the API server fails requests.
fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    let mut r = answer(body);
    *r.status_mut() = StatusCode::from_u16(code).unwrap();
    r
}
