//! `<prefix>/frontends/<f>/headers/…`: custom and secure headers. Header names (the
//! sub-keys of the three maps) keep the case they are written in.

use super::tree::Node;
use super::walk::{Walk, field};
use crate::model::Headers;

pub(super) fn decode(w: &mut Walk, f: &str, node: &Node, h: &mut Headers) {
    w.folder(node);
    w.record(&["frontends", f, "headers"], &node.key);
    for (seg, child) in &node.children {
        let key = field(seg);
        let path = |x: &'static str| ["frontends", f, "headers", x];
        match key.as_str() {
            "customrequestheaders" => {
                let m = w.map(child, &path("customRequestHeaders"));
                h.custom_request_headers.extend(m);
            }
            "customresponseheaders" => {
                let m = w.map(child, &path("customResponseHeaders"));
                h.custom_response_headers.extend(m);
            }
            "sslproxyheaders" => {
                let m = w.map(child, &path("sslProxyHeaders"));
                h.ssl_proxy_headers.extend(m);
            }
            "allowedhosts" => {
                if let Some(v) = w.list(child, &path("allowedHosts")) {
                    h.allowed_hosts = v;
                }
            }
            "hostsproxyheaders" => {
                if let Some(v) = w.list(child, &path("hostsProxyHeaders")) {
                    h.hosts_proxy_headers = v;
                }
            }
            "sslhost" => set_string(w, child, &path("sslHost"), &mut h.ssl_host),
            "customframeoptionsvalue" => set_string(
                w,
                child,
                &path("customFrameOptionsValue"),
                &mut h.custom_frame_options_value,
            ),
            "custombrowserxssvalue" => set_string(
                w,
                child,
                &path("customBrowserXSSValue"),
                &mut h.custom_browser_xss_value,
            ),
            "contentsecuritypolicy" => set_string(
                w,
                child,
                &path("contentSecurityPolicy"),
                &mut h.content_security_policy,
            ),
            "publickey" => set_string(w, child, &path("publicKey"), &mut h.public_key),
            "referrerpolicy" => {
                set_string(w, child, &path("referrerPolicy"), &mut h.referrer_policy)
            }
            "stsseconds" => {
                if let Some(v) = w.int(child, &path("stsSeconds")) {
                    h.sts_seconds = v;
                }
            }
            _ => match bool_field(h, &key) {
                Some((slot, name)) => {
                    if let Some(v) = w.boolean(child, &path(name)) {
                        *slot = v;
                    }
                }
                None => w.unknown(child),
            },
        }
    }
}

fn set_string(w: &mut Walk, node: &Node, path: &[&str], slot: &mut String) {
    if let Some(v) = w.string(node, path) {
        *slot = v;
    }
}

/// The boolean settings: the field, and its name in model paths.
fn bool_field<'h>(h: &'h mut Headers, key: &str) -> Option<(&'h mut bool, &'static str)> {
    Some(match key {
        "sslredirect" => (&mut h.ssl_redirect, "sslRedirect"),
        "ssltemporaryredirect" => (&mut h.ssl_temporary_redirect, "sslTemporaryRedirect"),
        "sslforcehost" => (&mut h.ssl_force_host, "sslForceHost"),
        "stsincludesubdomains" => (&mut h.sts_include_subdomains, "stsIncludeSubdomains"),
        "stspreload" => (&mut h.sts_preload, "stsPreload"),
        "forcestsheader" => (&mut h.force_sts_header, "forceSTSHeader"),
        "framedeny" => (&mut h.frame_deny, "frameDeny"),
        "contenttypenosniff" => (&mut h.content_type_nosniff, "contentTypeNosniff"),
        "browserxssfilter" => (&mut h.browser_xss_filter, "browserXssFilter"),
        "isdevelopment" => (&mut h.is_development, "isDevelopment"),
        _ => return None,
    })
}
