//! `<prefix>/backends/<b>/…`: servers and the backend's load-balancing settings.
//!
//! What a bad value skips: a server's own keys (`url`, `weight`) skip that server; any
//! other bad value skips the whole backend. v1 logged the value and fell back to the
//! default, which silently ran a backend without the health check, connection limit or
//! buffering limit the operator asked for; leaving the backend out makes its frontends fail
//! validation instead ("unknown backend"), named too.

use super::tree::Node;
use super::walk::{Walk, field};
use crate::model::{Backend, CircuitBreaker, ResponseForwarding, Server, Stickiness};

pub(super) fn decode(w: &mut Walk, name: &str, node: &Node) -> Option<Backend> {
    let mark = w.mark();
    w.folder(node);
    w.record(&["backends", name], &node.key);
    let mut backend = Backend::default();
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "servers" => {
                w.folder(child);
                for (server_name, server) in &child.children {
                    if let Some(s) = decode_server(w, name, server_name, server) {
                        backend.servers.insert(server_name.to_string(), s);
                    }
                }
            }
            "circuitbreaker" => circuit_breaker(w, name, child, &mut backend),
            "responseforwarding" => response_forwarding(w, name, child, &mut backend),
            "loadbalancer" => load_balancer(w, name, child, &mut backend),
            "maxconn" => max_conn(w, name, child, &mut backend),
            "healthcheck" => health_check(w, name, child, &mut backend),
            "buffering" => buffering(w, name, child, &mut backend),
            _ => w.unknown(child),
        }
    }
    if w.skip_if_failed(mark, &format!("backend {name}")) {
        return None;
    }
    Some(backend)
}

fn decode_server(w: &mut Walk, backend: &str, name: &str, node: &Node) -> Option<Server> {
    let mark = w.mark();
    w.folder(node);
    w.record(&["backends", backend, "servers", name], &node.key);
    let mut server = Server::default();
    let mut has_url = false;
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", backend, "servers", name, f];
        match field(seg).as_str() {
            "url" => {
                if let Some(url) = w.string(child, &path("url")) {
                    server.url = url;
                    has_url = true;
                }
            }
            "weight" => {
                if let Some(weight) = w.int(child, &path("weight")) {
                    server.weight = weight;
                }
            }
            "tags" => w.warn(
                &child.key,
                "server tags (provider constraints) are not implemented yet; ignored",
            ),
            _ => w.unknown(child),
        }
    }
    if w.skip_if_failed(mark, &format!("server {name}")) {
        return None;
    }
    if !has_url {
        // v1 left such a server out without a word.
        w.warn(&node.key, format!("server {name} has no url; ignored"));
        return None;
    }
    Some(server)
}

fn circuit_breaker(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "expression" => {
                if let Some(expression) =
                    w.string(child, &["backends", b, "circuitBreaker", "expression"])
                {
                    backend.circuit_breaker = Some(Box::new(CircuitBreaker { expression }));
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn response_forwarding(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "flushinterval" => {
                let path = ["backends", b, "responseForwarding", "flushInterval"];
                if let Some(d) = w.duration(child, &path) {
                    backend.response_forwarding = Some(Box::new(ResponseForwarding {
                        flush_interval: Some(d),
                    }));
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn load_balancer(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    w.record(&["backends", b, "loadBalancer"], &node.key);
    let lb = backend.load_balancer.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", b, "loadBalancer", f];
        match field(seg).as_str() {
            "method" => {
                if let Some(m) = w.string(child, &path("method")) {
                    lb.method = m;
                }
            }
            "sticky" => {
                if let Some(s) = w.boolean(child, &path("sticky")) {
                    lb.sticky = s;
                }
            }
            // Both a value (`stickiness` = true) and a folder (`stickiness/cookiename`):
            // an explicit false turns stickiness off whatever the sub-keys say (v1 read
            // the sub-keys only when it was true).
            "stickiness" => {
                let path = ["backends", b, "loadBalancer", "stickiness"];
                let on = match child.value {
                    Some(_) => {
                        let bare = Node {
                            key: child.key.clone(),
                            value: child.value,
                            children: Default::default(),
                        };
                        w.boolean(&bare, &path)
                    }
                    None => Some(true),
                };
                let mut stickiness = lb.stickiness.take().unwrap_or_default();
                stickiness_fields(w, b, child, &mut stickiness);
                if on == Some(true) {
                    lb.stickiness = Some(stickiness);
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn stickiness_fields(w: &mut Walk, b: &str, node: &Node, s: &mut Stickiness) {
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", b, "loadBalancer", "stickiness", f];
        match field(seg).as_str() {
            "cookiename" => {
                if let Some(v) = w.string(child, &path("cookieName")) {
                    s.cookie_name = v;
                }
            }
            "secure" => {
                if let Some(v) = w.boolean(child, &path("secure")) {
                    s.secure = v;
                }
            }
            "httponly" => {
                if let Some(v) = w.boolean(child, &path("httpOnly")) {
                    s.http_only = v;
                }
            }
            "samesite" => {
                if let Some(v) = w.string(child, &path("sameSite")) {
                    s.same_site = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn max_conn(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    w.record(&["backends", b, "maxConn"], &node.key);
    let mc = backend.max_conn.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", b, "maxConn", f];
        match field(seg).as_str() {
            "amount" => {
                if let Some(v) = w.int(child, &path("amount")) {
                    mc.amount = v;
                }
            }
            "extractorfunc" => {
                if let Some(v) = w.string(child, &path("extractorFunc")) {
                    mc.extractor_func = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn health_check(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    w.record(&["backends", b, "healthCheck"], &node.key);
    let hc = backend.health_check.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", b, "healthCheck", f];
        match field(seg).as_str() {
            "scheme" => {
                if let Some(v) = w.string(child, &path("scheme")) {
                    hc.scheme = v;
                }
            }
            "path" => {
                if let Some(v) = w.string(child, &path("path")) {
                    hc.path = v;
                }
            }
            "port" => {
                if let Some(v) = w.port(child, &path("port")) {
                    hc.port = v;
                }
            }
            "interval" => {
                if let Some(v) = w.duration(child, &path("interval")) {
                    hc.interval = Some(v);
                }
            }
            "hostname" => {
                if let Some(v) = w.string(child, &path("hostname")) {
                    hc.hostname = v;
                }
            }
            "headers" => {
                let headers = w.map(child, &path("headers"));
                hc.headers.extend(headers);
            }
            _ => w.unknown(child),
        }
    }
    if hc.path.is_empty() {
        // v1 ran no health check without a path; say so rather than drop it silently.
        w.warn(
            &node.key,
            "health check without a path: no health check is run",
        );
        backend.health_check = None;
    }
}

fn buffering(w: &mut Walk, b: &str, node: &Node, backend: &mut Backend) {
    w.folder(node);
    w.record(&["backends", b, "buffering"], &node.key);
    let buf = backend.buffering.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["backends", b, "buffering", f];
        let target = match field(seg).as_str() {
            "maxrequestbodybytes" => Some((&mut buf.max_request_body_bytes, "maxRequestBodyBytes")),
            "memrequestbodybytes" => Some((&mut buf.mem_request_body_bytes, "memRequestBodyBytes")),
            "maxresponsebodybytes" => {
                Some((&mut buf.max_response_body_bytes, "maxResponseBodyBytes"))
            }
            "memresponsebodybytes" => {
                Some((&mut buf.mem_response_body_bytes, "memResponseBodyBytes"))
            }
            "retryexpression" => {
                if let Some(v) = w.string(child, &path("retryExpression")) {
                    buf.retry_expression = v;
                }
                continue;
            }
            _ => None,
        };
        match target {
            Some((slot, name)) => {
                if let Some(v) = w.int(child, &path(name)) {
                    *slot = v;
                }
            }
            None => w.unknown(child),
        }
    }
}
