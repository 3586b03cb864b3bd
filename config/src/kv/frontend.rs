//! `<prefix>/frontends/<f>/…`: the frontend, its routes and its middlewares.
//!
//! What a bad value skips: the whole frontend. A frontend served without the whitelist,
//! auth, headers or rate limit its operator configured is worse than one not served at
//! all (v1 logged the value and served it with the default); the problem names the key.
//! A route without a rule is left out with a warning, as v1 left it out (silently).

use super::tree::Node;
use super::walk::{Walk, field};
use crate::model::{ErrorPage, Frontend, RateSet, Route, TlsCertDnInfos, TlsClientCertInfos};

pub(super) fn decode(w: &mut Walk, name: &str, node: &Node) -> Option<Frontend> {
    let mark = w.mark();
    w.folder(node);
    w.record(&["frontends", name], &node.key);
    // The key-value providers' default, unlike the file provider's (v1).
    let mut frontend = Frontend {
        pass_host_header: true,
        ..Frontend::default()
    };
    for (seg, child) in &node.children {
        let path = |f: &'static str| ["frontends", name, f];
        match field(seg).as_str() {
            "backend" => {
                if let Some(v) = w.string(child, &path("backend")) {
                    frontend.backend = v;
                }
            }
            "priority" => {
                if let Some(v) = w.int(child, &path("priority")) {
                    frontend.priority = v;
                }
            }
            "passhostheader" => {
                if let Some(v) = w.boolean(child, &path("passHostHeader")) {
                    frontend.pass_host_header = v;
                }
            }
            "passtlscert" => {
                if let Some(v) = w.boolean(child, &path("passTLSCert")) {
                    frontend.pass_tls_cert = v;
                }
            }
            "entrypoints" => {
                if let Some(v) = w.list(child, &path("entryPoints")) {
                    frontend.entry_points = v;
                }
            }
            "basicauth" => {
                if let Some(v) = w.list(child, &path("basicAuth")) {
                    frontend.basic_auth = v;
                }
            }
            "routes" => routes(w, name, child, &mut frontend),
            "whitelist" => white_list(w, name, child, &mut frontend),
            "redirect" => redirect(w, name, child, &mut frontend),
            "errors" => errors(w, name, child, &mut frontend),
            "ratelimit" => rate_limit(w, name, child, &mut frontend),
            "headers" => {
                let headers = frontend.headers.get_or_insert_with(Default::default);
                super::headers::decode(w, name, child, headers);
            }
            "auth" => {
                let auth = frontend.auth.get_or_insert_with(Default::default);
                super::auth::decode(w, name, child, auth);
            }
            "passtlsclientcert" => pass_tls_client_cert(w, name, child, &mut frontend),
            _ => w.unknown(child),
        }
    }
    if w.skip_if_failed(mark, &format!("frontend {name}")) {
        return None;
    }
    Some(frontend)
}

fn routes(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "routes"], &node.key);
    for (route, child) in &node.children {
        w.folder(child);
        w.record(&["frontends", f, "routes", route], &child.key);
        let mut rule = None;
        for (seg, leaf) in &child.children {
            match field(seg).as_str() {
                "rule" => rule = w.string(leaf, &["frontends", f, "routes", route, "rule"]),
                _ => w.unknown(leaf),
            }
        }
        match rule {
            Some(rule) => {
                frontend.routes.insert(route.to_string(), Route { rule });
            }
            None => w.warn(&child.key, format!("route {route} has no rule; ignored")),
        }
    }
}

fn white_list(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "whiteList"], &node.key);
    let wl = frontend.white_list.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |x: &'static str| ["frontends", f, "whiteList", x];
        match field(seg).as_str() {
            "sourcerange" => {
                if let Some(v) = w.list(child, &path("sourceRange")) {
                    wl.source_range = v;
                }
            }
            "usexforwardedfor" => {
                if let Some(v) = w.boolean(child, &path("useXForwardedFor")) {
                    wl.use_x_forwarded_for = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn redirect(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "redirect"], &node.key);
    let r = frontend.redirect.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        let path = |x: &'static str| ["frontends", f, "redirect", x];
        match field(seg).as_str() {
            "entrypoint" => {
                if let Some(v) = w.string(child, &path("entryPoint")) {
                    r.entry_point = v;
                }
            }
            "regex" => {
                if let Some(v) = w.string(child, &path("regex")) {
                    r.regex = v;
                }
            }
            "replacement" => {
                if let Some(v) = w.string(child, &path("replacement")) {
                    r.replacement = v;
                }
            }
            "permanent" => {
                if let Some(v) = w.boolean(child, &path("permanent")) {
                    r.permanent = v;
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn errors(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "errors"], &node.key);
    for (page_name, child) in &node.children {
        w.folder(child);
        w.record(&["frontends", f, "errors", page_name], &child.key);
        let mut page = ErrorPage::default();
        for (seg, leaf) in &child.children {
            let path = |x: &'static str| ["frontends", f, "errors", page_name, x];
            match field(seg).as_str() {
                "backend" => {
                    if let Some(v) = w.string(leaf, &path("backend")) {
                        page.backend = v;
                    }
                }
                "query" => {
                    if let Some(v) = w.string(leaf, &path("query")) {
                        page.query = v;
                    }
                }
                "status" => {
                    if let Some(v) = w.list(leaf, &path("status")) {
                        page.status = v;
                    }
                }
                _ => w.unknown(leaf),
            }
        }
        frontend.errors.insert(page_name.to_string(), page);
    }
}

fn rate_limit(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "rateLimit"], &node.key);
    let rl = frontend.rate_limit.get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "extractorfunc" => {
                let path = ["frontends", f, "rateLimit", "extractorFunc"];
                if let Some(v) = w.string(child, &path) {
                    rl.extractor_func = v;
                }
            }
            "rateset" => {
                w.folder(child);
                for (set_name, set_node) in &child.children {
                    w.folder(set_node);
                    w.record(
                        &["frontends", f, "rateLimit", "rateSet", set_name],
                        &set_node.key,
                    );
                    let mut set = RateSet::default();
                    for (seg, leaf) in &set_node.children {
                        let path =
                            |x: &'static str| ["frontends", f, "rateLimit", "rateSet", set_name, x];
                        match field(seg).as_str() {
                            "period" => set.period = w.duration(leaf, &path("period")),
                            "average" => {
                                if let Some(v) = w.int(leaf, &path("average")) {
                                    set.average = v;
                                }
                            }
                            "burst" => {
                                if let Some(v) = w.int(leaf, &path("burst")) {
                                    set.burst = v;
                                }
                            }
                            _ => w.unknown(leaf),
                        }
                    }
                    rl.rate_set.insert(set_name.to_string(), set);
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn pass_tls_client_cert(w: &mut Walk, f: &str, node: &Node, frontend: &mut Frontend) {
    w.folder(node);
    w.record(&["frontends", f, "passTLSClientCert"], &node.key);
    let pass = frontend
        .pass_tls_client_cert
        .get_or_insert_with(Default::default);
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "pem" => {
                if let Some(v) = w.boolean(child, &["frontends", f, "passTLSClientCert", "pem"]) {
                    pass.pem = v;
                }
            }
            "infos" => {
                w.folder(child);
                let infos = pass.infos.get_or_insert_with(TlsClientCertInfos::default);
                for (seg, leaf) in &child.children {
                    let path = |x: &'static str| ["frontends", f, "passTLSClientCert", "infos", x];
                    let slot = match field(seg).as_str() {
                        "notbefore" => &mut infos.not_before,
                        "notafter" => &mut infos.not_after,
                        "sans" => &mut infos.sans,
                        "subject" => {
                            let dn = infos.subject.get_or_insert_with(Default::default);
                            dn_infos(w, f, "subject", leaf, dn);
                            continue;
                        }
                        "issuer" => {
                            let dn = infos.issuer.get_or_insert_with(Default::default);
                            dn_infos(w, f, "issuer", leaf, dn);
                            continue;
                        }
                        _ => {
                            w.unknown(leaf);
                            continue;
                        }
                    };
                    let name = match field(seg).as_str() {
                        "notbefore" => "notBefore",
                        "notafter" => "notAfter",
                        _ => "sans",
                    };
                    if let Some(v) = w.boolean(leaf, &path(name)) {
                        *slot = v;
                    }
                }
            }
            _ => w.unknown(child),
        }
    }
}

fn dn_infos(w: &mut Walk, f: &str, which: &str, node: &Node, dn: &mut TlsCertDnInfos) {
    w.folder(node);
    for (seg, leaf) in &node.children {
        let (slot, name) = match field(seg).as_str() {
            "country" => (&mut dn.country, "country"),
            "province" => (&mut dn.province, "province"),
            "locality" => (&mut dn.locality, "locality"),
            "organization" => (&mut dn.organization, "organization"),
            "commonname" => (&mut dn.common_name, "commonName"),
            "serialnumber" => (&mut dn.serial_number, "serialNumber"),
            "domaincomponent" => (&mut dn.domain_component, "domainComponent"),
            _ => {
                w.unknown(leaf);
                continue;
            }
        };
        let path = ["frontends", f, "passTLSClientCert", "infos", which, name];
        if let Some(v) = w.boolean(leaf, &path) {
            *slot = v;
        }
    }
}
