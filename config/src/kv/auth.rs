//! `<prefix>/frontends/<f>/auth/…`: basic, digest or forward authentication.

use super::tree::Node;
use super::walk::{Walk, field};
use crate::model::{Auth, ClientTls, Forward, Users};

pub(super) fn decode(w: &mut Walk, f: &str, node: &Node, auth: &mut Auth) {
    w.folder(node);
    w.record(&["frontends", f, "auth"], &node.key);
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "headerfield" => {
                if let Some(v) = w.string(child, &["frontends", f, "auth", "headerField"]) {
                    auth.header_field = v;
                }
            }
            "basic" => {
                let users = auth.basic.get_or_insert_with(Users::default);
                decode_users(w, f, "basic", child, users);
            }
            "digest" => {
                let users = auth.digest.get_or_insert_with(Users::default);
                decode_users(w, f, "digest", child, users);
            }
            "forward" => {
                let forward = auth.forward.get_or_insert_with(Forward::default);
                decode_forward(w, f, child, forward);
            }
            _ => w.unknown(child),
        }
    }
}

fn decode_users(w: &mut Walk, f: &str, kind: &str, node: &Node, users: &mut Users) {
    w.folder(node);
    w.record(&["frontends", f, "auth", kind], &node.key);
    for (seg, child) in &node.children {
        let path = |x: &'static str| ["frontends", f, "auth", kind, x];
        match field(seg).as_str() {
            "users" => {
                if let Some(v) = w.list(child, &path("users")) {
                    users.users = v;
                }
            }
            "usersfile" => {
                if let Some(v) = w.string(child, &path("usersFile")) {
                    users.users_file = v;
                }
            }
            "removeheader" => {
                if let Some(v) = w.boolean(child, &path("removeHeader")) {
                    users.remove_header = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn decode_forward(w: &mut Walk, f: &str, node: &Node, forward: &mut Forward) {
    w.folder(node);
    w.record(&["frontends", f, "auth", "forward"], &node.key);
    for (seg, child) in &node.children {
        let path = |x: &'static str| ["frontends", f, "auth", "forward", x];
        match field(seg).as_str() {
            "address" => {
                if let Some(v) = w.string(child, &path("address")) {
                    forward.address = v;
                }
            }
            "trustforwardheader" => {
                if let Some(v) = w.boolean(child, &path("trustForwardHeader")) {
                    forward.trust_forward_header = v;
                }
            }
            // v1.7 read `forward/.authresponseheaders` (a typo in its key table); both work.
            "authresponseheaders" | ".authresponseheaders" => {
                if let Some(v) = w.list(child, &path("authResponseHeaders")) {
                    forward.auth_response_headers = v;
                }
            }
            "tls" => {
                let tls = forward.tls.get_or_insert_with(ClientTls::default);
                decode_client_tls(w, f, child, tls);
            }
            _ => w.unknown(child),
        }
    }
}

fn decode_client_tls(w: &mut Walk, f: &str, node: &Node, tls: &mut ClientTls) {
    w.folder(node);
    w.record(&["frontends", f, "auth", "forward", "tls"], &node.key);
    for (seg, child) in &node.children {
        let path = |x: &'static str| ["frontends", f, "auth", "forward", "tls", x];
        match field(seg).as_str() {
            "ca" => {
                if let Some(v) = w.string(child, &path("ca")) {
                    tls.ca = v;
                }
            }
            "caoptional" => {
                if let Some(v) = w.boolean(child, &path("caOptional")) {
                    tls.ca_optional = v;
                }
            }
            "cert" => {
                if let Some(v) = w.string(child, &path("cert")) {
                    tls.cert = v;
                }
            }
            "key" => {
                if let Some(v) = w.string(child, &path("key")) {
                    tls.key = v;
                }
            }
            "insecureskipverify" => {
                if let Some(v) = w.boolean(child, &path("insecureSkipVerify")) {
                    tls.insecure_skip_verify = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}
