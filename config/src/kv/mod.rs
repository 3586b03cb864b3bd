//! The key-value layout of Traefik 1.x (`/traefik/backends/<b>/servers/<s>/url`, …) decoded
//! into the dynamic configuration model, the same one the file provider fills. One pure
//! function shared by every key-value provider (etcd, ZooKeeper, Consul, BoltDB, Redis):
//! the provider lists the keys under its prefix and hands them over; no I/O happens here.
//!
//! - Keys: the prefix is matched exactly, leading, trailing and doubled slashes aside
//!   (`/traefik` and `traefik` are the same prefix); the layout's own key names ignoring
//!   ASCII case; names the operator chose (backends, frontends, servers, routes, headers)
//!   as written.
//! - Values are bytes, as every store holds them; a value is read as UTF-8 text, and one
//!   that is not is an error at its key. An empty value counts as absent (v1; Consul's
//!   folder keys). Booleans are Go's `strconv.ParseBool` words, integers base 10,
//!   durations `trafik_config::Duration`'s (`10s`, `1m30s`, or seconds); surrounding
//!   blanks are ignored.
//! - Lists: a CSV string at the key, or sub-keys `0`, `1`, … in numeric order.
//! - Errors are data: a bad value leaves out its item (see `backend`, `frontend`, `tls`)
//!   and the rest loads; unknown keys are warnings. Keys outside `backends/`,
//!   `frontends/` and `tls/` belong to the static configuration and are not looked at.
//! - Semantics (an unknown backend, a rule that does not parse) are `validate_dynamic`'s;
//!   `Decoded::locations` names the key of each of its findings.

mod alias;
mod auth;
mod backend;
mod encode;
mod frontend;
mod headers;
mod locations;
mod problem;
mod tls;
mod tree;
mod walk;

#[cfg(test)]
mod tests;

pub use alias::{alias_key, alias_target};
pub use encode::encode;
pub use locations::KvLocations;
pub use problem::{KvProblem, Severity};

use crate::Diagnostic;
use crate::model::Configuration;
use walk::{Walk, field};

/// What a store's keys decoded to.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Everything that decoded; items with a bad value are not in it.
    pub configuration: Configuration,
    /// In the order found: by section, then by key.
    pub problems: Vec<KvProblem>,
    /// Model path → store key, for `validate_dynamic`'s findings.
    pub locations: KvLocations,
}

impl Decoded {
    /// The errors (items left out), as the file provider's diagnostics.
    pub fn errors(&self) -> Vec<Diagnostic> {
        self.problems
            .iter()
            .filter(|p| p.is_error())
            .map(KvProblem::to_diagnostic)
            .collect()
    }

    /// The warnings (keys ignored), as the file provider's diagnostics.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        self.problems
            .iter()
            .filter(|p| !p.is_error())
            .map(KvProblem::to_diagnostic)
            .collect()
    }
}

/// Decodes the keys under `prefix` (`/traefik`, `traefik`, or an alias's target) from
/// `pairs`, the store's keys and values in any order; pairs outside the prefix are ignored.
pub fn decode(prefix: &str, pairs: &[(String, Vec<u8>)]) -> Decoded {
    let mut w = Walk::default();
    let root = tree::build(prefix, pairs, &mut w);
    let mut configuration = Configuration::default();
    for (seg, section) in &root.children {
        w.folder(section);
        match field(seg).as_str() {
            "backends" => {
                for (name, node) in &section.children {
                    if let Some(b) = backend::decode(&mut w, name, node) {
                        configuration.backends.insert(name.to_string(), b);
                    }
                }
            }
            "frontends" => {
                for (name, node) in &section.children {
                    if let Some(f) = frontend::decode(&mut w, name, node) {
                        configuration.frontends.insert(name.to_string(), f);
                    }
                }
            }
            _ => {
                // Numbered certificates in numeric order (`tls/2` before `tls/10`), then
                // named ones by name.
                let mut certificates: Vec<(&&str, &tree::Node)> = section.children.iter().collect();
                certificates
                    .sort_by_key(|(name, _)| (name.parse::<u64>().map_err(|_| *name), **name));
                for (name, node) in certificates {
                    let index = configuration.tls.len();
                    if let Some(t) = tls::decode(&mut w, name, index, node) {
                        configuration.tls.push(t);
                    }
                }
            }
        }
    }
    Decoded {
        configuration,
        problems: w.problems,
        locations: w.locations,
    }
}
