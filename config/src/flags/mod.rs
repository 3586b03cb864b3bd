//! The static configuration from the command line (v1's flags) and from a store's keys,
//! layered over the file's: each source becomes a string `Tree` keyed by the model's paths,
//! and one deserializer (`de.rs`) reads the layers into a `StaticConfig`, the later layer
//! winning key by key. Precedence (`merge`'s callers): flags over the store over the file.

mod de;
mod entry_point;
mod parse;
mod tree;

#[cfg(test)]
mod tests;

pub use de::parse_bool;
pub use parse::{parse_flags, to_flags};
pub use tree::{DYNAMIC_KEYS, Tree, is_dynamic_key};

use crate::model::StaticConfig;

/// A configuration read from layers, and the keys ignored on the way (unknown store keys).
#[derive(Debug, Clone)]
pub struct Merged {
    pub config: StaticConfig,
    pub warnings: Vec<String>,
}

/// `file` (the loaded file, or the defaults) with `layers` over it, earliest first. The
/// dynamic part (`[backends]`, `[frontends]`, `[[tls]]`) is the file's: no layer gives one.
/// An error names the flag or store key at fault.
pub fn merge(file: &StaticConfig, layers: &[Tree]) -> Result<Merged, String> {
    let mut all = vec![Tree::from_static(file)];
    all.extend(layers.iter().cloned());
    let (mut config, warnings): (StaticConfig, _) = de::read(&all)?;
    config.backends = file.backends.clone();
    config.frontends = file.frontends.clone();
    config.tls = file.tls.clone();
    Ok(Merged { config, warnings })
}
