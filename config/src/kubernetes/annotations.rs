//! v1's Ingress and Service annotations (`ingress.kubernetes.io/<name>`, or with v1's
//! `traefik.` prefix: `traefik.ingress.kubernetes.io/<name>`; the unprefixed form wins
//! when both are set, as v1's `getAnnotationName`).
//!
//! v1 read a value it could not parse as the default, silently; trafik leaves the
//! Ingress out with a problem naming the annotation instead, so a typo never serves a
//! route without the protection it asked for.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Settings;
use super::decode::Layout;
use super::index::Index;
use crate::model::{Backend, Frontend, Stickiness};

const PREFIX: &str = "ingress.kubernetes.io/";
const TRAEFIK_PREFIX: &str = "traefik.ingress.kubernetes.io/";

/// The annotations of one object, read by their short name (`rule-type`).
pub struct Annotations<'a> {
    map: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Annotations<'a> {
    pub fn of(meta: &'a ObjectMeta) -> Self {
        Annotations {
            map: meta.annotations.as_ref(),
        }
    }

    /// The annotation as written (its full key) and its value.
    pub fn get(&self, short: &str) -> Option<(String, &'a str)> {
        let map = self.map?;
        let plain = format!("{PREFIX}{short}");
        if let Some(v) = map.get(&plain) {
            return Some((plain, v.as_str()));
        }
        let prefixed = format!("{TRAEFIK_PREFIX}{short}");
        map.get(&prefixed).map(|v| (prefixed, v.as_str()))
    }

    /// The value, trimmed, when set and not empty (v1 read an empty value as unset).
    pub fn value(&self, short: &str) -> Option<(String, &'a str)> {
        self.get(short)
            .map(|(k, v)| (k, v.trim()))
            .filter(|(_, v)| !v.is_empty())
    }

    /// An annotation by its full key.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.map?
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Short names of the annotations in v1's namespaces that are not in `known`.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        let Some(map) = self.map else {
            return Vec::new();
        };
        map.keys()
            .filter(|k| {
                let short = k
                    .strip_prefix(TRAEFIK_PREFIX)
                    .or_else(|| k.strip_prefix(PREFIX));
                short.is_some_and(|s| !known.contains(&s))
            })
            .cloned()
            .collect()
    }
}

/// What an Ingress's annotations ask of the frontends and rules it builds.
#[derive(Debug, Clone, Default)]
pub struct IngressOptions {
    /// Every frontend of the Ingress starts as this one (no backend, no routes).
    pub frontend: Frontend,
    /// `rule-type`: the matcher of `ImplementationSpecific` paths.
    pub rule_type: String,
    /// `protocol`: `http`, `https` or `h2c` for the servers; `None`: from the port.
    pub protocol: Option<String>,
    /// `rewrite-target`: the path prefix replaced by this one (`ReplacePathRegex`).
    pub rewrite_target: Option<String>,
    /// `request-modifier`: `AddPrefix:…`, `ReplacePath:…` or `ReplacePathRegex:…`.
    pub request_modifier: Option<String>,
    /// `app-root`: `/` redirected there (v1: a redirect on the frontends of path `/`).
    pub app_root: Option<String>,
    /// `redirect-permanent`, for `app-root`'s redirect too.
    pub redirect_permanent: bool,
    /// `service-weights`: a Service's share of its path, in v1's units (100% = 100000).
    pub service_weights: Option<BTreeMap<String, i64>>,
}

/// The Ingress annotations read here and by `auth.rs` (short names).
pub const INGRESS_KNOWN: [&str; 20] = [
    "frontend-entry-points",
    "priority",
    "preserve-host",
    "pass-tls-cert",
    "pass-client-tls-cert",
    "rule-type",
    "protocol",
    "rewrite-target",
    "request-modifier",
    "app-root",
    "redirect-entry-point",
    "redirect-permanent",
    "redirect-regex",
    "redirect-replacement",
    "whitelist-source-range",
    "whitelist-x-forwarded-for",
    "error-pages",
    "rate-limit",
    "service-weights",
    "ssl-proxy-headers",
];

/// Ingress annotations that are one store key each (short name, key under the frontend).
const FRONTEND_KEYS: [(&str, &str); 20] = [
    ("whitelist-source-range", "frontend/whitelist/sourcerange"),
    (
        "whitelist-x-forwarded-for",
        "frontend/whitelist/usexforwardedfor",
    ),
    ("allowed-hosts", "frontend/headers/allowedhosts"),
    ("proxy-headers", "frontend/headers/hostsproxyheaders"),
    ("ssl-redirect", "frontend/headers/sslredirect"),
    (
        "ssl-temporary-redirect",
        "frontend/headers/ssltemporaryredirect",
    ),
    ("ssl-host", "frontend/headers/sslhost"),
    ("ssl-force-host", "frontend/headers/sslforcehost"),
    ("hsts-max-age", "frontend/headers/stsseconds"),
    (
        "hsts-include-subdomains",
        "frontend/headers/stsincludesubdomains",
    ),
    ("hsts-preload", "frontend/headers/stspreload"),
    ("force-hsts", "frontend/headers/forcestsheader"),
    ("frame-deny", "frontend/headers/framedeny"),
    (
        "custom-frame-options-value",
        "frontend/headers/customframeoptionsvalue",
    ),
    (
        "content-type-nosniff",
        "frontend/headers/contenttypenosniff",
    ),
    ("browser-xss-filter", "frontend/headers/browserxssfilter"),
    (
        "custom-browser-xss-value",
        "frontend/headers/custombrowserxssvalue",
    ),
    (
        "content-security-policy",
        "frontend/headers/contentsecuritypolicy",
    ),
    ("public-key", "frontend/headers/publickey"),
    ("referrer-policy", "frontend/headers/referrerpolicy"),
];

/// `Name:value||Name:value` annotations (short name, folder under the frontend).
const FRONTEND_MAPS: [(&str, &str); 3] = [
    (
        "custom-request-headers",
        "frontend/headers/customrequestheaders",
    ),
    (
        "custom-response-headers",
        "frontend/headers/customresponseheaders",
    ),
    ("ssl-proxy-headers", "frontend/headers/sslproxyheaders"),
];

/// v1's YAML annotations on an Ingress (short name, folder under the frontend).
const FRONTEND_YAML: [(&str, &str); 3] = [
    ("error-pages", "frontend/errors"),
    ("rate-limit", "frontend/ratelimit"),
    ("pass-client-tls-cert", "frontend/passtlsclientcert"),
];

/// The header annotations not in `INGRESS_KNOWN` (they are in the tables above).
const HEADER_KNOWN: [&str; 20] = [
    "allowed-hosts",
    "proxy-headers",
    "ssl-redirect",
    "ssl-temporary-redirect",
    "ssl-host",
    "ssl-force-host",
    "hsts-max-age",
    "hsts-include-subdomains",
    "hsts-preload",
    "force-hsts",
    "frame-deny",
    "custom-frame-options-value",
    "content-type-nosniff",
    "browser-xss-filter",
    "custom-browser-xss-value",
    "content-security-policy",
    "public-key",
    "referrer-policy",
    "custom-request-headers",
    "custom-response-headers",
];

/// Every Ingress annotation read (for the "not supported" warning).
pub fn ingress_known() -> Vec<&'static str> {
    let mut known: Vec<&str> = INGRESS_KNOWN.to_vec();
    known.extend(HEADER_KNOWN);
    known.extend(["is-development"]);
    known.extend(super::auth::KNOWN);
    known
}

/// Matchers `rule-type` may name (v1's list; `ReplacePath` is v1's deprecated form of
/// `request-modifier`).
const RULE_TYPES: [&str; 5] = [
    "Path",
    "PathPrefix",
    "PathStrip",
    "PathPrefixStrip",
    "ReplacePath",
];
const MODIFIERS: [&str; 3] = ["AddPrefix", "ReplacePath", "ReplacePathRegex"];

/// An Ingress's annotations; `Err`: one line per annotation that cannot be used.
pub fn ingress_options(
    settings: &Settings,
    cluster: &Index<'_>,
    ns: &str,
    id: &str,
    a: &Annotations<'_>,
    warnings: &mut Vec<String>,
) -> Result<IngressOptions, Vec<String>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut o = IngressOptions {
        rule_type: "PathPrefix".to_string(),
        ..IngressOptions::default()
    };
    let mut layout = Layout::new();
    for (short, path) in FRONTEND_KEYS {
        if let Some((key, v)) = a.value(short) {
            layout.set(&key, path, v);
        }
    }
    // Checked here so the problem names the annotation (the router would refuse the
    // frontend later, naming only the frontend).
    if let Some((key, v)) = a.value("whitelist-source-range") {
        for range in csv(v) {
            if !is_ip_range(&range) {
                layout.bad(
                    &key,
                    format!("{range:?} is not an IP address or CIDR range"),
                );
            }
        }
    }
    if let Some((key, v)) = a.value("is-development") {
        layout.set(&key, "frontend/headers/isdevelopment", v);
    }
    for (short, folder) in FRONTEND_MAPS {
        if let Some((key, v)) = a.value(short) {
            header_map(&mut layout, &key, folder, v);
        }
    }
    for (short, folder) in FRONTEND_YAML {
        if let Some((key, v)) = a.value(short) {
            layout.set_yaml(&key, folder, v);
        }
    }
    redirect(a, &mut layout);
    match layout.decode() {
        Ok((frontend, _)) => o.frontend = frontend,
        Err(p) => problems.extend(p),
    }
    if let (Some(rl), Some((key, _))) = (&o.frontend.rate_limit, a.value("rate-limit"))
        && let Err(why) = check_extractor(&rl.extractor_func)
    {
        problems.push((key, format!("extractorfunc: {why}")));
    }
    o.frontend.pass_host_header = !settings.disable_pass_host_headers;
    o.frontend.pass_tls_cert = settings.enable_pass_tls_cert;
    if let Some((key, v)) = a.value("preserve-host") {
        match go_bool(v) {
            Some(b) => o.frontend.pass_host_header = b,
            None => problems.push((key, format!("{v:?} is not a boolean"))),
        }
    }
    if let Some((key, v)) = a.value("pass-tls-cert") {
        match go_bool(v) {
            Some(b) => o.frontend.pass_tls_cert = b,
            None => problems.push((key, format!("{v:?} is not a boolean"))),
        }
    }
    if let Some((key, v)) = a.value("priority") {
        match v.parse::<i64>() {
            Ok(p) if p >= 0 => o.frontend.priority = p,
            _ => problems.push((key, format!("{v:?} is not a priority (a whole number ≥ 0)"))),
        }
    }
    if let Some((_, v)) = a.value("frontend-entry-points") {
        o.frontend.entry_points = csv(v);
    }
    if let Some((key, v)) = a.value("rule-type") {
        if RULE_TYPES.contains(&v) {
            o.rule_type = v.to_string();
        } else {
            problems.push((
                key,
                format!("{v:?} is not one of {}", RULE_TYPES.join(", ")),
            ));
        }
    }
    if let Some((key, v)) = a.value("protocol") {
        if matches!(v, "http" | "https" | "h2c") {
            o.protocol = Some(v.to_string());
        } else {
            problems.push((key, format!("{v:?} is not http, https or h2c")));
        }
    }
    if let Err(p) = modifiers(a, &mut o) {
        problems.push(p);
    }
    match weights(a) {
        Ok(w) => o.service_weights = w,
        Err(p) => problems.push(p),
    }
    if a.value("auth-type").is_none() {
        for short in super::auth::KNOWN {
            if let Some((key, _)) = a.value(short).filter(|_| short != "auth-realm") {
                warnings.push(format!(
                    "ingress {id}: annotation {key} does nothing without \
                     ingress.kubernetes.io/auth-type; ignored"
                ));
            }
        }
    }
    match super::auth::auth(cluster, ns, a) {
        Ok(auth) => o.frontend.auth = auth.map(Box::new),
        Err(p) => problems.push(p),
    }
    if problems.is_empty() {
        Ok(o)
    } else {
        problems.sort();
        problems.dedup();
        Err(problems
            .into_iter()
            .map(|(key, why)| format!("ingress {id}: annotation {key}: {why}"))
            .collect())
    }
}

/// v1's redirect: `redirect-entry-point` wins; else `redirect-regex` with
/// `redirect-replacement` (both or neither); `redirect-permanent` with either.
fn redirect(a: &Annotations<'_>, layout: &mut Layout) {
    let permanent = a.value("redirect-permanent");
    let regex = a.value("redirect-regex");
    let replacement = a.value("redirect-replacement");
    if let Some((key, v)) = a.value("redirect-entry-point") {
        layout.set(&key, "frontend/redirect/entrypoint", v);
    } else {
        match (&regex, &replacement) {
            (Some((rk, r)), Some((pk, p))) => {
                if let Err(e) = regex::Regex::new(r) {
                    layout.bad(rk, format!("not a regular expression: {e}"));
                }
                layout.set(rk, "frontend/redirect/regex", r);
                layout.set(pk, "frontend/redirect/replacement", p);
            }
            (Some((k, _)), None) => layout.bad(
                k,
                "needs ingress.kubernetes.io/redirect-replacement".to_string(),
            ),
            (None, Some((k, _))) => {
                layout.bad(k, "needs ingress.kubernetes.io/redirect-regex".to_string())
            }
            (None, None) => return,
        }
    }
    if let Some((key, v)) = permanent {
        layout.set(&key, "frontend/redirect/permanent", v);
    }
}

/// `Name:value||Name:value` (v1's `GetMapValue`) as keys under `folder`.
fn header_map(layout: &mut Layout, key: &str, folder: &str, value: &str) {
    for entry in value.split("||").filter(|e| !e.trim().is_empty()) {
        let Some((name, v)) = entry.split_once(':') else {
            layout.bad(key, format!("{entry:?} is not Name:value"));
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('/') || name.contains(char::is_whitespace) {
            layout.bad(key, format!("{name:?} is not a header name"));
            continue;
        }
        layout.set(key, &format!("{folder}/{name}"), v.trim());
    }
}

/// `rewrite-target`, `request-modifier` and `app-root`, and v1's rules on combining them
/// with `rule-type: ReplacePath`.
fn modifiers(a: &Annotations<'_>, o: &mut IngressOptions) -> Result<(), (String, String)> {
    let replace_path = o.rule_type == "ReplacePath";
    if let Some((key, v)) = a.value("rewrite-target") {
        if replace_path {
            return Err((
                key,
                "cannot be used with rule-type ReplacePath (v1)".to_string(),
            ));
        }
        check_rule_text(&key, v)?;
        o.rewrite_target = Some(v.to_string());
    }
    if let Some((key, v)) = a.value("request-modifier") {
        let trimmed = v.trim_end_matches([' ', ':']);
        let Some((modifier, value)) = trimmed.split_once(':') else {
            return Err((key, format!("{v:?} is not Modifier:value")));
        };
        let (modifier, value) = (modifier.trim(), value.trim());
        if !MODIFIERS.contains(&modifier) {
            return Err((
                key,
                format!("{modifier:?} is not one of {}", MODIFIERS.join(", ")),
            ));
        }
        if replace_path {
            return Err((
                key,
                "cannot be used with rule-type ReplacePath (v1)".to_string(),
            ));
        }
        check_rule_text(&key, value)?;
        o.request_modifier = Some(format!("{modifier}:{value}"));
    }
    if let Some((key, v)) = a.value("redirect-permanent") {
        o.redirect_permanent = go_bool(v).ok_or((key, format!("{v:?} is not a boolean")))?;
    }
    if let Some((key, v)) = a.value("app-root") {
        if v.contains(char::is_whitespace) || v.contains(['$', '\\']) {
            return Err((key, format!("{v:?} is not a path")));
        }
        o.app_root = Some(v.to_string());
    }
    Ok(())
}

/// A value that goes into a rule as it is: no rule separator.
fn check_rule_text(key: &str, v: &str) -> Result<(), (String, String)> {
    if v.contains(';') {
        return Err((
            key.to_string(),
            format!("{v:?}: `;` would start another rule"),
        ));
    }
    Ok(())
}

/// v1's `service-weights`: YAML, Service name → `NN%` (three decimals kept).
fn weights(a: &Annotations<'_>) -> Result<Option<BTreeMap<String, i64>>, (String, String)> {
    let Some((key, v)) = a.value("service-weights") else {
        return Ok(None);
    };
    let map: BTreeMap<String, serde_json::Value> = serde_saphyr::from_str(v).map_err(|_| {
        (
            key.clone(),
            "not a YAML mapping of Service: NN%".to_string(),
        )
    })?;
    let mut out = BTreeMap::new();
    for (service, value) in map {
        let text = match &value {
            serde_json::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let percent = text
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                (
                    key.clone(),
                    format!("{service}: {text:?} is not a percentage (0% to 100%)"),
                )
            })?;
        out.insert(service, (percent * 1000.0).round() as i64);
    }
    Ok(Some(out))
}

/// The Service annotations read (short names).
pub const SERVICE_KNOWN: [&str; 8] = [
    "load-balancer-method",
    "affinity",
    "session-cookie-name",
    "circuit-breaker-expression",
    "max-conn-amount",
    "max-conn-extractor-func",
    "buffering",
    "responseforwarding-flushinterval",
];

/// The backend options of a Service's annotations (no servers); `Err`: one
/// `(annotation, why)` per annotation that cannot be used. Warnings: what v1 ignored.
pub fn service_options(
    a: &Annotations<'_>,
    warnings: &mut Vec<String>,
) -> Result<Backend, Vec<(String, String)>> {
    let mut layout = Layout::new();
    if let Some((key, v)) = a.value("load-balancer-method") {
        layout.set(&key, "backend/loadbalancer/method", v);
    }
    if let Some((key, v)) = a.value("circuit-breaker-expression") {
        layout.set(&key, "backend/circuitbreaker/expression", v);
    }
    if let Some((key, v)) = a.value("responseforwarding-flushinterval") {
        layout.set(&key, "backend/responseforwarding/flushinterval", v);
    }
    if let Some((key, v)) = a.value("buffering") {
        layout.set_yaml(&key, "backend/buffering", v);
    }
    match (a.value("max-conn-amount"), a.value("max-conn-extractor-func")) {
        (Some((ak, av)), Some((ek, ev))) => {
            layout.set(&ak, "backend/maxconn/amount", av);
            layout.set(&ek, "backend/maxconn/extractorfunc", ev);
        }
        (Some((k, _)), None) | (None, Some((k, _))) => warnings.push(format!(
            "annotation {k}: max-conn needs both max-conn-amount and max-conn-extractor-func              (v1); ignored"
        )),
        (None, None) => {}
    }
    // v1's deprecated label form, read on Services.
    if let Some(v) = a.raw("traefik.backend.loadbalancer.sticky") {
        layout.set(
            "traefik.backend.loadbalancer.sticky",
            "backend/loadbalancer/sticky",
            v,
        );
    }
    let mut affinity = false;
    let mut problems = Vec::new();
    if let Some((key, v)) = a.value("affinity") {
        match go_bool(v) {
            Some(b) => affinity = b,
            None => problems.push((key, format!("{v:?} is not a boolean"))),
        }
    }
    match a.value("session-cookie-name") {
        Some((key, v)) if affinity => layout.set(&key, "backend/loadbalancer/stickiness/cookiename", v),
        Some((key, _)) => warnings.push(format!(
            "annotation {key}: without ingress.kubernetes.io/affinity: true it does nothing (v1);              ignored"
        )),
        None => {}
    }
    let decoded = layout.decode();
    let mut backend = match decoded {
        Ok((_, backend)) if problems.is_empty() => backend,
        Ok(_) => return Err(problems),
        Err(mut p) => {
            p.extend(problems);
            return Err(p);
        }
    };
    // Checked here so the problem names the annotation (the router would refuse the
    // backend later, naming only the backend).
    let mut late = Vec::new();
    if let (Some(cb), Some((key, _))) = (
        &backend.circuit_breaker,
        a.value("circuit-breaker-expression"),
    ) && let Err(e) = crate::breaker::parse(&cb.expression)
    {
        late.push((key, e.to_string()));
    }
    if let (Some(buf), Some((key, _))) = (&backend.buffering, a.value("buffering"))
        && !buf.retry_expression.is_empty()
        && let Err(e) = crate::retry_expr::parse(&buf.retry_expression)
    {
        late.push((key, format!("retryexpression: {e}")));
    }
    if let (Some(mc), Some((key, _))) = (&backend.max_conn, a.value("max-conn-extractor-func"))
        && let Err(why) = check_extractor(&mc.extractor_func)
    {
        late.push((key, why));
    }
    if !late.is_empty() {
        return Err(late);
    }
    let lb = backend.load_balancer.get_or_insert_with(Default::default);
    // v1: `drr` or else `wrr`.
    if lb.method != "drr" {
        lb.method = "wrr".to_string();
    }
    if affinity && lb.stickiness.is_none() {
        lb.stickiness = Some(Stickiness::default());
    }
    Ok(backend)
}

/// v1's extractor functions (oxy's `utils.NewExtractor`).
fn check_extractor(f: &str) -> Result<(), String> {
    match f {
        "client.ip" | "request.host" => Ok(()),
        _ if f
            .strip_prefix("request.header.")
            .is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{f:?} is not client.ip, request.host or request.header.<Name>"
        )),
    }
}

/// `10.0.0.0/8`, `fd00::/8` or a bare address.
fn is_ip_range(range: &str) -> bool {
    let (addr, bits) = match range.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (range, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|b| b.parse::<u8>().is_ok_and(|b| b <= max))
}

/// Go's `strconv.ParseBool`, as v1 read booleans.
pub fn go_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// v1's `GetSliceStringValue`: comma-separated, trimmed, empty items dropped.
pub fn csv(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
