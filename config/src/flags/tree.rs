//! The string tree every static-configuration source but the file is read into: command-line
//! flags (`--entryPoints.http.address=:80`), a store's keys (`/traefik/entrypoints/http/address`)
//! and, to merge them over it, the file's own configuration written back out. Leaves are
//! strings; what they mean (a bool, a duration, a list) is decided by the type serde asks for
//! when `de.rs` reads the tree into the model.

use serde::Serialize;

/// A table (keys as the source wrote them, in order, repeats allowed: `de.rs` merges them) or a
/// string leaf. `origin` names where the node came from (the flag, the store key) for messages;
/// it is empty for nodes made from the file's already-loaded configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Leaf {
        value: String,
        origin: String,
    },
    Table {
        entries: Vec<(String, Tree)>,
        origin: String,
    },
}

/// The top-level keys of the dynamic configuration: never static, never given by flags.
pub const DYNAMIC_KEYS: [&str; 3] = ["backends", "frontends", "tls"];

impl Default for Tree {
    fn default() -> Self {
        Tree::Table {
            entries: Vec::new(),
            origin: String::new(),
        }
    }
}

impl Tree {
    pub fn origin(&self) -> &str {
        match self {
            Tree::Leaf { origin, .. } | Tree::Table { origin, .. } => origin,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Tree::Table { entries, .. } if entries.is_empty())
    }

    /// Adds `value` at `path`, descending into the table already under the same key (spelled
    /// the same) so that one source's keys share their parents; any other repeat is added
    /// beside the first, and the later one wins when read. `self` must be a table.
    pub fn insert(&mut self, path: &[String], value: String, origin: &str) {
        let Tree::Table { entries, .. } = self else {
            return;
        };
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            let leaf = Tree::Leaf {
                value,
                origin: origin.to_string(),
            };
            entries.push((first.clone(), leaf));
            return;
        }
        let existing = entries
            .iter_mut()
            .rev()
            .find(|(k, v)| k == first && matches!(v, Tree::Table { .. }));
        match existing {
            Some((_, table)) => table.insert(rest, value, origin),
            None => {
                let mut table = Tree::Table {
                    entries: Vec::new(),
                    origin: origin.to_string(),
                };
                table.insert(rest, value, origin);
                entries.push((first.clone(), table));
            }
        }
    }

    /// A configuration value written out as a tree: tables for structs and maps, lists as
    /// tables indexed `0`, `1`, … (an item may hold a comma), absent options left out. An
    /// empty table is the leaf `true` (a section enabled with its defaults, as `--api` says)
    /// and an empty list the empty leaf, so both read back as they were.
    pub fn from_model<T: Serialize>(value: &T) -> Tree {
        let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        from_json(&json)
    }

    /// The static part of a configuration: the model without its dynamic tables.
    pub fn from_static<T: Serialize>(value: &T) -> Tree {
        let mut tree = Tree::from_model(value);
        if let Tree::Table { entries, .. } = &mut tree {
            entries.retain(|(k, _)| !is_dynamic_key(k));
        }
        tree
    }

    /// Every leaf with its path, depth first, in order.
    pub fn leaves(&self) -> Vec<(Vec<String>, String)> {
        let mut out = Vec::new();
        collect_leaves(self, &mut Vec::new(), &mut out);
        out
    }
}

pub fn is_dynamic_key(key: &str) -> bool {
    DYNAMIC_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn from_json(value: &serde_json::Value) -> Tree {
    use serde_json::Value;
    let leaf = |value: String| Tree::Leaf {
        value,
        origin: String::new(),
    };
    match value {
        Value::Null => leaf(String::new()),
        Value::Bool(b) => leaf(b.to_string()),
        Value::Number(n) => leaf(n.to_string()),
        Value::String(s) => leaf(s.clone()),
        Value::Array(items) if items.is_empty() => leaf(String::new()),
        Value::Array(items) => Tree::Table {
            entries: items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), from_json(v)))
                .collect(),
            origin: String::new(),
        },
        Value::Object(map) if map.values().all(Value::is_null) => leaf("true".into()),
        Value::Object(map) => Tree::Table {
            entries: map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect(),
            origin: String::new(),
        },
    }
}

fn collect_leaves(tree: &Tree, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        Tree::Leaf { value, .. } => out.push((path.clone(), value.clone())),
        Tree::Table { entries, .. } => {
            for (key, child) in entries {
                path.push(key.clone());
                collect_leaves(child, path, out);
                path.pop();
            }
        }
    }
}
