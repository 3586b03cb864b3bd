//! v1's label vocabulary (`traefik.frontend.rule`, `traefik.backend.loadbalancer.method`,
//! …), shared by the providers that read it: Consul Catalog's service tags now, Docker's
//! container labels later. One function from a service's name and its labels (the
//! provider's prefix already removed: `frontend.rule`, not `traefik.frontend.rule`) to the
//! backend and frontend they describe; the provider names them and adds the servers.
//!
//! The labels mirror the key-value layout's keys (`backend.loadbalancer.method` is
//! `backends/<b>/loadbalancer/method`), so they are rewritten into that layout and decoded
//! by `crate::kv::decode`: one set of value rules (Go booleans, durations, CSV lists), and
//! the same checks, for both. A problem found there is reported at the label it came from.

mod mapping;
pub mod written;

use std::collections::{BTreeMap, HashMap};

use crate::kv::{self, Severity};
use crate::model::{Backend, Frontend, Stickiness};

/// What a service's labels describe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelConfig {
    /// Backend options (load balancer, circuit breaker, health check, …); no servers: the
    /// provider knows them.
    pub backend: Backend,
    /// Frontend options (entry points, priority, headers, …); no backend, no routes.
    pub frontend: Frontend,
    /// `frontend.rule`, as written (a provider may expand templates in it).
    pub rule: Option<String>,
    /// `enable`, when set.
    pub enable: Option<bool>,
    /// Labels this version does not read (v1 had them): the provider warns, naming them.
    pub unsupported: Vec<String>,
}

/// A label whose value cannot be used: the service is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelProblem {
    /// The label as written (without the provider's prefix).
    pub label: String,
    pub message: String,
}

/// A service's labels decoded. `Err`: every label that cannot be used (the provider leaves
/// the whole service out: never served without the options it asked for).
pub fn decode(labels: &BTreeMap<String, String>) -> Result<LabelConfig, Vec<LabelProblem>> {
    let mut out = LabelConfig::default();
    let mut problems = Vec::new();
    // The frontend always exists in the synthetic tree (the decoder wants its backend).
    let mut pairs: Vec<(String, Vec<u8>)> = vec![(
        format!("{ROOT}/frontends/{SLOT}/backend"),
        SLOT.as_bytes().to_vec(),
    )];
    // Store key → the label it came from, to report the decoder's findings at the label.
    let mut origin: HashMap<String, String> = HashMap::new();
    let mut stickiness = false;
    for (label, value) in labels {
        let lower = label.to_ascii_lowercase();
        match lower.as_str() {
            "frontend.rule" => out.rule = Some(value.clone()),
            "enable" => match kv_bool(value) {
                Some(b) => out.enable = Some(b),
                None => problems.push(LabelProblem {
                    label: label.clone(),
                    message: format!("invalid boolean {value:?}"),
                }),
            },
            "backend.loadbalancer.stickiness" => match kv_bool(value) {
                Some(b) => stickiness = b,
                None => problems.push(LabelProblem {
                    label: label.clone(),
                    message: format!("invalid boolean {value:?}"),
                }),
            },
            _ => match mapping::store_keys(&lower, value) {
                Some(Err(message)) => problems.push(LabelProblem {
                    label: label.clone(),
                    message,
                }),
                Some(Ok(keys)) => {
                    for (path, v) in keys {
                        let key =
                            format!("{ROOT}/{}", path.replace("{b}", SLOT).replace("{f}", SLOT));
                        origin.insert(key.clone(), label.clone());
                        pairs.push((key, v.into_bytes()));
                    }
                }
                None => out.unsupported.push(label.clone()),
            },
        }
    }
    let decoded = kv::decode(ROOT, &pairs);
    for p in decoded
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
    {
        let label = origin
            .get(&p.key)
            .or_else(|| {
                // A finding about a folder: the first label under it.
                let folder = format!("{}/", p.key);
                origin
                    .iter()
                    .filter(|(k, _)| k.starts_with(&folder))
                    .map(|(_, l)| l)
                    .min()
            })
            .cloned()
            .unwrap_or_else(|| p.key.clone());
        // The decoder's "; backend x skipped" names the placeholder: the provider says
        // what is skipped.
        let message = p
            .message
            .split("; ")
            .next()
            .unwrap_or(&p.message)
            .to_string();
        problems.push(LabelProblem { label, message });
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.label.cmp(&b.label));
        problems.dedup();
        return Err(problems);
    }
    let mut config = decoded.configuration;
    out.backend = config.backends.remove(SLOT).unwrap_or_default();
    out.frontend = config.frontends.remove(SLOT).unwrap_or_default();
    out.frontend.backend = String::new();
    if stickiness {
        let lb = out
            .backend
            .load_balancer
            .get_or_insert_with(Default::default);
        if lb.stickiness.is_none() {
            lb.stickiness = Some(Stickiness::default());
        }
    }
    Ok(out)
}

/// The synthetic tree the labels are rewritten into.
const ROOT: &str = "labels";
/// The backend's and frontend's name in it (the provider names them).
const SLOT: &str = "service";

/// Go's `strconv.ParseBool`, as the key-value layout reads booleans.
fn kv_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
