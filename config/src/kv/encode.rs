//! The reverse of `decode`: a dynamic configuration as v1 key-value pairs under a prefix,
//! what `trafik storeconfig` will write. Lists are written as indexed sub-keys (`…/0`,
//! `…/1`), so an item holding a comma survives; a present section always gets at least one
//! key (its booleans are written even when false), so `decode(encode(c)) == c` for every
//! configuration the layout can express (see the round-trip test for what it cannot:
//! empty strings and empty sections have no key).

use std::collections::BTreeMap;

use crate::Duration;
use crate::model::*;

/// The pairs for `c` under `prefix` (`/traefik`, `traefik`), sorted by key.
pub fn encode(prefix: &str, c: &Configuration) -> Vec<(String, Vec<u8>)> {
    let mut out = Out {
        prefix: prefix.trim_end_matches('/').to_string(),
        pairs: Vec::new(),
    };
    for (name, b) in &c.backends {
        backend(&mut out, &format!("backends/{name}"), b);
    }
    for (name, f) in &c.frontends {
        frontend(&mut out, &format!("frontends/{name}"), f);
    }
    for (i, t) in c.tls.iter().enumerate() {
        let at = format!("tls/{i}");
        out.list(&at, "entrypoints", &t.entry_points);
        out.text(&at, "certificate/certfile", &t.certificate.cert_file);
        out.text(&at, "certificate/keyfile", &t.certificate.key_file);
    }
    out.pairs.sort();
    out.pairs
}

struct Out {
    prefix: String,
    pairs: Vec<(String, Vec<u8>)>,
}

impl Out {
    /// A value; an empty one is not written (it would read as absent anyway).
    fn text(&mut self, at: &str, key: &str, value: &str) {
        if !value.is_empty() {
            let full = format!("{}/{at}/{key}", self.prefix);
            self.pairs.push((full, value.as_bytes().to_vec()));
        }
    }

    fn flag(&mut self, at: &str, key: &str, value: bool) {
        self.text(at, key, if value { "true" } else { "false" });
    }

    fn int(&mut self, at: &str, key: &str, value: i64) {
        self.text(at, key, &value.to_string());
    }

    fn duration(&mut self, at: &str, key: &str, value: Option<Duration>) {
        if let Some(d) = value {
            let shown = d.to_string();
            // Display rounds below a microsecond; fall back to nanoseconds then.
            let text = if Duration::parse(&shown) == Ok(d) {
                shown
            } else {
                format!("{}ns", d.get().as_nanos())
            };
            self.text(at, key, &text);
        }
    }

    fn list(&mut self, at: &str, key: &str, items: &[String]) {
        for (i, item) in items.iter().enumerate() {
            self.text(at, &format!("{key}/{i}"), item);
        }
    }

    fn map(&mut self, at: &str, key: &str, map: &BTreeMap<String, String>) {
        for (name, value) in map {
            self.text(at, &format!("{key}/{name}"), value);
        }
    }
}

fn backend(out: &mut Out, at: &str, b: &Backend) {
    for (name, s) in &b.servers {
        let at = format!("{at}/servers/{name}");
        out.text(&at, "url", &s.url);
        out.int(&at, "weight", s.weight);
    }
    if let Some(cb) = &b.circuit_breaker {
        out.text(at, "circuitbreaker/expression", &cb.expression);
    }
    if let Some(rf) = &b.response_forwarding {
        out.duration(at, "responseforwarding/flushinterval", rf.flush_interval);
    }
    if let Some(lb) = &b.load_balancer {
        out.text(at, "loadbalancer/method", &lb.method);
        out.flag(at, "loadbalancer/sticky", lb.sticky);
        if let Some(s) = &lb.stickiness {
            // The sub-keys alone turn stickiness on (etcd v2 cannot hold both a value and
            // sub-keys at `stickiness`).
            out.text(at, "loadbalancer/stickiness/cookiename", &s.cookie_name);
            out.flag(at, "loadbalancer/stickiness/secure", s.secure);
            out.flag(at, "loadbalancer/stickiness/httponly", s.http_only);
            out.text(at, "loadbalancer/stickiness/samesite", &s.same_site);
        }
    }
    if let Some(mc) = &b.max_conn {
        out.int(at, "maxconn/amount", mc.amount);
        out.text(at, "maxconn/extractorfunc", &mc.extractor_func);
    }
    if let Some(hc) = &b.health_check {
        out.text(at, "healthcheck/scheme", &hc.scheme);
        out.text(at, "healthcheck/path", &hc.path);
        out.int(at, "healthcheck/port", i64::from(hc.port));
        out.duration(at, "healthcheck/interval", hc.interval);
        out.text(at, "healthcheck/hostname", &hc.hostname);
        out.map(at, "healthcheck/headers", &hc.headers);
    }
    if let Some(buf) = &b.buffering {
        out.int(
            at,
            "buffering/maxrequestbodybytes",
            buf.max_request_body_bytes,
        );
        out.int(
            at,
            "buffering/memrequestbodybytes",
            buf.mem_request_body_bytes,
        );
        out.int(
            at,
            "buffering/maxresponsebodybytes",
            buf.max_response_body_bytes,
        );
        out.int(
            at,
            "buffering/memresponsebodybytes",
            buf.mem_response_body_bytes,
        );
        out.text(at, "buffering/retryexpression", &buf.retry_expression);
    }
}

fn frontend(out: &mut Out, at: &str, f: &Frontend) {
    out.text(at, "backend", &f.backend);
    out.list(at, "entrypoints", &f.entry_points);
    out.flag(at, "passhostheader", f.pass_host_header);
    if f.pass_tls_cert {
        out.flag(at, "passtlscert", true);
    }
    if f.priority != 0 {
        out.int(at, "priority", f.priority);
    }
    out.list(at, "basicauth", &f.basic_auth);
    for (name, r) in &f.routes {
        out.text(at, &format!("routes/{name}/rule"), &r.rule);
    }
    if let Some(wl) = &f.white_list {
        out.list(at, "whitelist/sourcerange", &wl.source_range);
        out.flag(at, "whitelist/usexforwardedfor", wl.use_x_forwarded_for);
    }
    if let Some(r) = &f.redirect {
        out.text(at, "redirect/entrypoint", &r.entry_point);
        out.text(at, "redirect/regex", &r.regex);
        out.text(at, "redirect/replacement", &r.replacement);
        out.flag(at, "redirect/permanent", r.permanent);
    }
    for (name, page) in &f.errors {
        let at = format!("{at}/errors/{name}");
        out.text(&at, "backend", &page.backend);
        out.text(&at, "query", &page.query);
        out.list(&at, "status", &page.status);
    }
    if let Some(rl) = &f.rate_limit {
        out.text(at, "ratelimit/extractorfunc", &rl.extractor_func);
        for (name, set) in &rl.rate_set {
            let at = format!("{at}/ratelimit/rateset/{name}");
            out.duration(&at, "period", set.period);
            out.int(&at, "average", set.average);
            out.int(&at, "burst", set.burst);
        }
    }
    if let Some(h) = &f.headers {
        headers(out, &format!("{at}/headers"), h);
    }
    if let Some(a) = &f.auth {
        auth(out, &format!("{at}/auth"), a);
    }
    if let Some(p) = &f.pass_tls_client_cert {
        let at = format!("{at}/passtlsclientcert");
        out.flag(&at, "pem", p.pem);
        if let Some(infos) = &p.infos {
            out.flag(&at, "infos/notbefore", infos.not_before);
            out.flag(&at, "infos/notafter", infos.not_after);
            out.flag(&at, "infos/sans", infos.sans);
            for (which, dn) in [("subject", &infos.subject), ("issuer", &infos.issuer)] {
                if let Some(dn) = dn {
                    let at = format!("{at}/infos/{which}");
                    out.flag(&at, "country", dn.country);
                    out.flag(&at, "province", dn.province);
                    out.flag(&at, "locality", dn.locality);
                    out.flag(&at, "organization", dn.organization);
                    out.flag(&at, "commonname", dn.common_name);
                    out.flag(&at, "serialnumber", dn.serial_number);
                    out.flag(&at, "domaincomponent", dn.domain_component);
                }
            }
        }
    }
}

fn headers(out: &mut Out, at: &str, h: &Headers) {
    out.map(at, "customrequestheaders", &h.custom_request_headers);
    out.map(at, "customresponseheaders", &h.custom_response_headers);
    out.map(at, "sslproxyheaders", &h.ssl_proxy_headers);
    out.list(at, "allowedhosts", &h.allowed_hosts);
    out.list(at, "hostsproxyheaders", &h.hosts_proxy_headers);
    out.flag(at, "sslredirect", h.ssl_redirect);
    out.flag(at, "ssltemporaryredirect", h.ssl_temporary_redirect);
    out.text(at, "sslhost", &h.ssl_host);
    out.flag(at, "sslforcehost", h.ssl_force_host);
    out.int(at, "stsseconds", h.sts_seconds);
    out.flag(at, "stsincludesubdomains", h.sts_include_subdomains);
    out.flag(at, "stspreload", h.sts_preload);
    out.flag(at, "forcestsheader", h.force_sts_header);
    out.flag(at, "framedeny", h.frame_deny);
    out.text(at, "customframeoptionsvalue", &h.custom_frame_options_value);
    out.flag(at, "contenttypenosniff", h.content_type_nosniff);
    out.flag(at, "browserxssfilter", h.browser_xss_filter);
    out.text(at, "custombrowserxssvalue", &h.custom_browser_xss_value);
    out.text(at, "contentsecuritypolicy", &h.content_security_policy);
    out.text(at, "publickey", &h.public_key);
    out.text(at, "referrerpolicy", &h.referrer_policy);
    out.flag(at, "isdevelopment", h.is_development);
}

fn auth(out: &mut Out, at: &str, a: &Auth) {
    out.text(at, "headerfield", &a.header_field);
    for (kind, users) in [("basic", &a.basic), ("digest", &a.digest)] {
        if let Some(u) = users {
            let at = format!("{at}/{kind}");
            out.list(&at, "users", &u.users);
            out.text(&at, "usersfile", &u.users_file);
            out.flag(&at, "removeheader", u.remove_header);
        }
    }
    if let Some(fw) = &a.forward {
        let at = format!("{at}/forward");
        out.text(&at, "address", &fw.address);
        out.flag(&at, "trustforwardheader", fw.trust_forward_header);
        out.list(&at, "authresponseheaders", &fw.auth_response_headers);
        if let Some(tls) = &fw.tls {
            out.text(&at, "tls/ca", &tls.ca);
            out.flag(&at, "tls/caoptional", tls.ca_optional);
            out.text(&at, "tls/cert", &tls.cert);
            out.text(&at, "tls/key", &tls.key);
            out.flag(&at, "tls/insecureskipverify", tls.insecure_skip_verify);
        }
    }
}
