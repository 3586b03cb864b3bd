//! A double of Consul's HTTP API, for the `[consul]` provider's tests: no Consul server can
//! be installed here (it is not in Debian). It keeps the documented semantics the provider
//! relies on, and nothing more:
//! * KV: `GET /v1/kv/<key>` (`?recurse`: every key with that prefix) answering a JSON array
//!   of `{Key, Value (base64 or null), CreateIndex, ModifyIndex, Flags, LockIndex}`, or 404
//!   when nothing matches; `X-Consul-Index` on both. `PUT /v1/kv/<key>` (body = value),
//!   `DELETE /v1/kv/<key>` (`?recurse`), `PUT /v1/txn` (`set` operations, at most 64).
//! * Blocking queries: `?index=N&wait=D` holds the request until the index passes N or the
//!   wait runs out (capped at `max_wait`, as Consul caps it at 10 minutes), then answers.
//!   The index is the store's last write (Consul's docs allow an answer without a change).
//! * ACLs: with a token set, requests without that `X-Consul-Token` (or `?token=`) get 403
//!   "ACL not found", as Consul answers an unknown token.
//! * Catalog: `GET /v1/catalog/services` (`{name: [tags]}`) and `GET /v1/health/service/<name>`
//!   (`[{Node, Service, Checks}]`, `[]` for an unknown service), blocking as above; the test
//!   registers and deregisters instances and flips their check (`register`, `set_check`).
//! * `stop` / `start`: the listener and every open connection closed, as a killed agent;
//!   started again on the same port with the same data.
//!
//! It is a plain hyper service (as `Backend`), so that stopping aborts its connections.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::AbortHandle;

struct Entry {
    value: Vec<u8>,
    create_index: u64,
    modify_index: u64,
}

/// One registered service instance, with one check of its own.
struct Instance {
    service: String,
    port: u16,
    tags: Vec<String>,
    check: String,
}

struct Data {
    kv: BTreeMap<String, Entry>,
    /// Instances by service ID, all on node `node1` at 127.0.0.1.
    instances: BTreeMap<String, Instance>,
    index: u64,
    token: Option<String>,
    max_wait: Duration,
    /// Blocking queries received so far (each `?index=` read), by the token they carried
    /// ("" for none): tells apart two trafiks on one double.
    blocking_queries: BTreeMap<String, usize>,
    /// The last `Authorization` header received (basic auth through a proxy in front).
    last_authorization: Option<String>,
    /// Reads that asked for `?stale`.
    stale_reads: usize,
}

struct Shared {
    data: Mutex<Data>,
    /// The index after each write, for blocking queries to wake on.
    index_tx: watch::Sender<u64>,
}

pub struct ConsulDouble {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// Serves HTTPS with this configuration (`start_tls`).
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl ConsulDouble {
    pub async fn start() -> ConsulDouble {
        Self::start_with(None).await
    }

    /// Over HTTPS (as a Consul agent with `https` port and certificates).
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> ConsulDouble {
        Self::start_with(Some(config)).await
    }

    async fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> ConsulDouble {
        let index = 10;
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                kv: BTreeMap::new(),
                instances: BTreeMap::new(),
                index,
                token: None,
                max_wait: Duration::from_secs(2),
                blocking_queries: BTreeMap::new(),
                last_authorization: None,
                stale_reads: 0,
            }),
            index_tx: watch::channel(index).0,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let double = ConsulDouble {
            addr,
            shared,
            tasks: Arc::new(Mutex::new(Vec::new())),
            tls,
        };
        double.serve(listener);
        double
    }

    /// `host:port`, as `[consul] endpoint` takes it.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Requests must carry this token from now on (`None`: no ACLs).
    pub fn set_token(&self, token: Option<&str>) {
        self.shared.data.lock().unwrap().token = token.map(str::to_string);
    }

    /// The longest a blocking query is held (default 2 s, so tests see waits run out).
    pub fn set_max_wait(&self, wait: Duration) {
        self.shared.data.lock().unwrap().max_wait = wait;
    }

    pub fn blocking_queries(&self) -> usize {
        self.shared
            .data
            .lock()
            .unwrap()
            .blocking_queries
            .values()
            .sum()
    }

    /// Blocking queries made with `token`.
    pub fn blocking_queries_by(&self, token: &str) -> usize {
        let data = self.shared.data.lock().unwrap();
        data.blocking_queries.get(token).copied().unwrap_or(0)
    }

    pub fn last_authorization(&self) -> Option<String> {
        self.shared.data.lock().unwrap().last_authorization.clone()
    }

    pub fn stale_reads(&self) -> usize {
        self.shared.data.lock().unwrap().stale_reads
    }

    pub fn index(&self) -> u64 {
        self.shared.data.lock().unwrap().index
    }

    /// Writes as `consul kv put` would (no leading slash in Consul's keys).
    pub fn put(&self, key: &str, value: &str) {
        self.put_many(&[(key, value)]);
    }

    /// Writes all pairs at one index, as one transaction.
    pub fn put_many(&self, pairs: &[(&str, &str)]) {
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        self.shared.set(&pairs);
    }

    /// Deletes `key`, or every key under it with `recurse`.
    pub fn delete(&self, key: &str, recurse: bool) {
        self.shared.delete(key, recurse);
    }

    /// Registers instance `id` of `service` on 127.0.0.1:`port` with a passing check.
    pub fn register(&self, id: &str, service: &str, port: u16, tags: &[&str]) {
        self.shared.change(|data| {
            data.instances.insert(
                id.to_string(),
                Instance {
                    service: service.to_string(),
                    port,
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                    check: "passing".to_string(),
                },
            );
        });
    }

    pub fn deregister(&self, id: &str) {
        self.shared.change(|data| {
            data.instances.remove(id);
        });
    }

    /// Sets instance `id`'s check: `passing`, `warning` or `critical`.
    pub fn set_check(&self, id: &str, status: &str) {
        self.shared.change(|data| {
            if let Some(i) = data.instances.get_mut(id) {
                i.check = status.to_string();
            }
        });
    }

    /// A restore from an older snapshot (or another server's state): the index goes back
    /// to `index` and `key` is set, as Consul's docs warn a watcher may see.
    pub fn restore(&self, index: u64, key: &str, value: &str) {
        let mut data = self.shared.data.lock().unwrap();
        data.index = index;
        data.kv.insert(
            key.to_string(),
            Entry {
                value: value.as_bytes().to_vec(),
                create_index: index,
                modify_index: index,
            },
        );
        self.shared.index_tx.send_replace(index);
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Option<String> {
        let data = self.shared.data.lock().unwrap();
        data.kv
            .get(key)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
    }

    /// Dies as a killed agent: the port closed, every open request cut.
    pub fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Back on the same port, with the same data and index.
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
        let acceptor = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (shared, acceptor) = (shared.clone(), acceptor.clone());
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.handle(req).await) }
                    });
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

impl Drop for ConsulDouble {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    /// Any change to the catalog: one more index, blocking queries woken.
    fn change(&self, f: impl FnOnce(&mut Data)) {
        let mut data = self.data.lock().unwrap();
        f(&mut data);
        data.index += 1;
        self.index_tx.send_replace(data.index);
    }

    fn set(&self, pairs: &[(String, Vec<u8>)]) {
        let mut data = self.data.lock().unwrap();
        data.index += 1;
        let index = data.index;
        for (key, value) in pairs {
            let create_index = data.kv.get(key).map_or(index, |e| e.create_index);
            data.kv.insert(
                key.clone(),
                Entry {
                    value: value.clone(),
                    create_index,
                    modify_index: index,
                },
            );
        }
        self.index_tx.send_replace(index);
    }

    fn delete(&self, key: &str, recurse: bool) {
        let mut data = self.data.lock().unwrap();
        data.index += 1;
        let index = data.index;
        if recurse {
            data.kv.retain(|k, _| !k.starts_with(key));
        } else {
            data.kv.remove(key);
        }
        self.index_tx.send_replace(index);
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let query = super::query::parse(req.uri().query().unwrap_or(""));
        let path = super::query::percent_decode(req.uri().path());
        let token = req
            .headers()
            .get("x-consul-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| query.get("token").cloned());
        let authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let wanted = {
            let mut data = self.data.lock().unwrap();
            if authorization.is_some() {
                data.last_authorization = authorization;
            }
            if query.contains_key("stale") {
                data.stale_reads += 1;
            }
            data.token.clone()
        };
        if wanted.is_some() && token != wanted {
            return text(StatusCode::FORBIDDEN, "ACL not found");
        }
        let method = req.method().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return text(StatusCode::BAD_REQUEST, "body"),
        };
        if path == "/v1/txn" && method == Method::PUT {
            return self.txn(&body);
        }
        if method == Method::GET && path == "/v1/catalog/services" {
            let token = token.unwrap_or_default();
            self.block(&query, &token).await;
            return self.services();
        }
        if method == Method::GET
            && let Some(name) = path.strip_prefix("/v1/health/service/")
        {
            let token = token.unwrap_or_default();
            self.block(&query, &token).await;
            return self.health(name);
        }
        let Some(key) = path.strip_prefix("/v1/kv/") else {
            return text(StatusCode::NOT_FOUND, "no such endpoint");
        };
        let recurse = query.contains_key("recurse");
        match method {
            Method::GET => {
                let token = token.unwrap_or_default();
                self.read(key, recurse, &query, &token).await
            }
            Method::PUT => {
                self.set(&[(key.to_string(), body.to_vec())]);
                json_answer(StatusCode::OK, &json!(true), self.index_now())
            }
            Method::DELETE => {
                self.delete(key, recurse);
                json_answer(StatusCode::OK, &json!(true), self.index_now())
            }
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method"),
        }
    }

    fn index_now(&self) -> u64 {
        self.data.lock().unwrap().index
    }

    async fn read(
        &self,
        key: &str,
        recurse: bool,
        query: &BTreeMap<String, String>,
        token: &str,
    ) -> Response<Full<Bytes>> {
        self.block(query, token).await;
        let data = self.data.lock().unwrap();
        let entries: Vec<Value> = data
            .kv
            .iter()
            .filter(|(k, _)| {
                if recurse {
                    k.starts_with(key)
                } else {
                    *k == key
                }
            })
            .map(|(k, e)| {
                let value = if e.value.is_empty() {
                    Value::Null
                } else {
                    Value::String(STANDARD.encode(&e.value))
                };
                json!({
                    "LockIndex": 0, "Key": k, "Flags": 0, "Value": value,
                    "CreateIndex": e.create_index, "ModifyIndex": e.modify_index,
                })
            })
            .collect();
        if entries.is_empty() {
            let mut r = text(StatusCode::NOT_FOUND, "");
            r.headers_mut()
                .insert("x-consul-index", data.index.to_string().parse().unwrap());
            return r;
        }
        json_answer(StatusCode::OK, &Value::Array(entries), data.index)
    }

    /// A blocking query (`?index=N&wait=D`) is held until the index passes N or the wait
    /// (capped at `max_wait`) runs out; without `index` it answers at once.
    async fn block(&self, query: &BTreeMap<String, String>, token: &str) {
        let Some(index) = query.get("index").and_then(|i| i.parse::<u64>().ok()) else {
            return;
        };
        let wait = {
            let mut data = self.data.lock().unwrap();
            *data.blocking_queries.entry(token.to_string()).or_default() += 1;
            let asked = query.get("wait").and_then(|w| parse_wait(w));
            asked.unwrap_or(Duration::from_secs(300)).min(data.max_wait)
        };
        let mut rx = self.index_tx.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|now| *now > index)).await;
    }

    fn services(&self) -> Response<Full<Bytes>> {
        let data = self.data.lock().unwrap();
        let mut services: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for i in data.instances.values() {
            let tags = services.entry(&i.service).or_default();
            for t in &i.tags {
                if !tags.contains(&t.as_str()) {
                    tags.push(t);
                }
            }
        }
        json_answer(StatusCode::OK, &json!(services), data.index)
    }

    fn health(&self, name: &str) -> Response<Full<Bytes>> {
        let data = self.data.lock().unwrap();
        let entries: Vec<Value> = data
            .instances
            .iter()
            .filter(|(_, i)| i.service == name)
            .map(|(id, i)| {
                json!({
                    "Node": {"ID": "0d1d4ae5", "Node": "node1", "Address": "127.0.0.1",
                             "Datacenter": "dc1"},
                    "Service": {"ID": id, "Service": i.service, "Tags": i.tags, "Address": "",
                                "Port": i.port, "Meta": null},
                    "Checks": [
                        {"Node": "node1", "CheckID": "serfHealth", "Status": "passing",
                         "ServiceID": "", "ServiceName": ""},
                        {"Node": "node1", "CheckID": format!("service:{id}"), "Status": i.check,
                         "ServiceID": id, "ServiceName": i.service}
                    ]
                })
            })
            .collect();
        json_answer(StatusCode::OK, &Value::Array(entries), data.index)
    }

    fn txn(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else {
            return text(StatusCode::BAD_REQUEST, "Failed to parse body");
        };
        if ops.len() > 64 {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Transaction contains too many operations",
            );
        }
        let mut pairs = Vec::new();
        for op in &ops {
            let kv = &op["KV"];
            let (Some("set"), Some(key)) = (kv["Verb"].as_str(), kv["Key"].as_str()) else {
                return text(StatusCode::BAD_REQUEST, "unsupported operation");
            };
            let value = match kv["Value"].as_str() {
                Some(v) => match STANDARD.decode(v) {
                    Ok(v) => v,
                    Err(_) => return text(StatusCode::BAD_REQUEST, "bad base64"),
                },
                None => Vec::new(),
            };
            pairs.push((key.to_string(), value));
        }
        self.set(&pairs);
        json_answer(
            StatusCode::OK,
            &json!({"Results": [], "Errors": null}),
            self.index_now(),
        )
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r
}

fn json_answer(status: StatusCode, body: &Value, index: u64) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("x-consul-index", index.to_string().parse().unwrap());
    r
}

/// Consul's durations: "10s", "5m", "250ms"; a bare number is seconds.
fn parse_wait(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}
