//! v1's Ingress and Service annotations (`ingress.kubernetes.io/<name>`, or with v1's
//! `traefik.` prefix: `traefik.ingress.kubernetes.io/<name>`; the unprefixed form wins
//! when both are set, as v1's `getAnnotationName`).
//!
//! v1 read a value it could not parse as the default, silently; trafik leaves the
//! Ingress out with a problem naming the annotation instead, so a typo never serves a
//! route without the protection it asked for.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::model::Frontend;

use super::Settings;

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
}

/// The Ingress annotations trafik reads (short names).
pub const INGRESS_KNOWN: [&str; 6] = [
    "frontend-entry-points",
    "priority",
    "preserve-host",
    "pass-tls-cert",
    "rule-type",
    "protocol",
];

/// Matchers `rule-type` may name (v1's list; `ReplacePath` is v1's deprecated form of
/// `request-modifier`).
const RULE_TYPES: [&str; 5] = [
    "Path",
    "PathPrefix",
    "PathStrip",
    "PathPrefixStrip",
    "ReplacePath",
];

/// An Ingress's annotations; `Err`: one line per annotation that cannot be used.
pub fn ingress_options(
    settings: &Settings,
    id: &str,
    a: &Annotations<'_>,
) -> Result<IngressOptions, Vec<String>> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, why: String| {
        problems.push(format!("ingress {id}: annotation {key}: {why}"));
    };
    let mut o = IngressOptions {
        rule_type: "PathPrefix".to_string(),
        ..IngressOptions::default()
    };
    o.frontend.pass_host_header = !settings.disable_pass_host_headers;
    o.frontend.pass_tls_cert = settings.enable_pass_tls_cert;
    if let Some((key, v)) = a.value("preserve-host") {
        match go_bool(v) {
            Some(b) => o.frontend.pass_host_header = b,
            None => bad(&key, format!("{v:?} is not a boolean")),
        }
    }
    if let Some((key, v)) = a.value("pass-tls-cert") {
        match go_bool(v) {
            Some(b) => o.frontend.pass_tls_cert = b,
            None => bad(&key, format!("{v:?} is not a boolean")),
        }
    }
    if let Some((key, v)) = a.value("priority") {
        match v.parse::<i64>() {
            Ok(p) if p >= 0 => o.frontend.priority = p,
            _ => bad(
                &key,
                format!("{v:?} is not a priority (a whole number ≥ 0)"),
            ),
        }
    }
    if let Some((_, v)) = a.value("frontend-entry-points") {
        o.frontend.entry_points = csv(v);
    }
    if let Some((key, v)) = a.value("rule-type") {
        if RULE_TYPES.contains(&v) {
            o.rule_type = v.to_string();
        } else {
            bad(
                &key,
                format!("{v:?} is not one of {}", RULE_TYPES.join(", ")),
            );
        }
    }
    if let Some((key, v)) = a.value("protocol") {
        if matches!(v, "http" | "https" | "h2c") {
            o.protocol = Some(v.to_string());
        } else {
            bad(&key, format!("{v:?} is not http, https or h2c"));
        }
    }
    if problems.is_empty() {
        Ok(o)
    } else {
        Err(problems)
    }
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
