//! The decoder's state while it walks the tree: the problems found so far, the keys each
//! model path came from, and typed reads of values the way v1 read them.

use std::collections::BTreeMap;

use super::locations::KvLocations;
use super::problem::{KvProblem, Severity};
use super::tree::Node;
use crate::Duration;

#[derive(Debug, Default)]
pub(super) struct Walk {
    pub problems: Vec<KvProblem>,
    pub locations: KvLocations,
    /// Per problem: already the reason an inner item (a server) was skipped, so it does
    /// not also skip the item around it (the backend).
    settled: Vec<bool>,
}

/// The position in `Walk::problems` an item's decoding started at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark(usize);

impl Walk {
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.push(key, message.into(), Severity::Error);
    }

    pub fn warn(&mut self, key: &str, message: impl Into<String>) {
        self.push(key, message.into(), Severity::Warning);
    }

    fn push(&mut self, key: &str, message: String, severity: Severity) {
        self.problems.push(KvProblem {
            key: key.to_string(),
            message,
            severity,
        });
        self.settled.push(false);
    }

    pub fn mark(&self) -> Mark {
        Mark(self.problems.len())
    }

    /// Whether an error was found since `mark` (not already the reason an inner item was
    /// skipped); if so, each such error says that `what` (`backend b1`) was left out.
    pub fn skip_if_failed(&mut self, mark: Mark, what: &str) -> bool {
        let mut failed = false;
        let found = self.problems[mark.0..].iter_mut();
        for (p, settled) in found.zip(&mut self.settled[mark.0..]) {
            if p.is_error() && !*settled {
                p.message.push_str(&format!("; {what} skipped"));
                *settled = true;
                failed = true;
            }
        }
        failed
    }

    pub fn record(&mut self, path: &[&str], key: &str) {
        self.locations.record(path, key);
    }

    /// A key this part of the layout does not have.
    pub fn unknown(&mut self, node: &Node) {
        self.warn(&node.key, "unknown key, ignored");
    }

    /// A folder (an item, a section) that also holds a value: v1 never read it.
    pub fn folder(&mut self, node: &Node) {
        if node.value.is_some() {
            self.warn(&node.key, "this key is a folder here; its value is ignored");
        }
    }

    /// The text of a single value (`None` when absent or not UTF-8, the latter an error).
    /// Keys below a single value are reported and ignored.
    pub fn text<'n>(&mut self, node: &'n Node, path: &[&str]) -> Option<&'n str> {
        for child in node.children.values() {
            self.unknown(child);
        }
        let value = node.value?;
        self.record(path, &node.key);
        match std::str::from_utf8(value) {
            Ok(text) => Some(text),
            Err(_) => {
                self.error(&node.key, "the value is not UTF-8 text");
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, path: &[&str]) -> Option<String> {
        self.text(node, path).map(str::to_string)
    }

    /// `strconv.ParseBool`'s words (`1 t T TRUE true True`, `0 f F FALSE false False`).
    pub fn boolean(&mut self, node: &Node, path: &[&str]) -> Option<bool> {
        let text = self.text(node, path)?;
        match parse_bool(text.trim()) {
            Some(b) => Some(b),
            None => {
                self.error(
                    &node.key,
                    format!("invalid boolean {:?} (expected true or false)", clip(text)),
                );
                None
            }
        }
    }

    /// A base-10 integer, optionally signed.
    pub fn int(&mut self, node: &Node, path: &[&str]) -> Option<i64> {
        let text = self.text(node, path)?;
        match text.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(&node.key, format!("invalid integer {:?}", clip(text)));
                None
            }
        }
    }

    pub fn port(&mut self, node: &Node, path: &[&str]) -> Option<u16> {
        let n = self.int(node, path)?;
        match u16::try_from(n) {
            Ok(p) => Some(p),
            Err(_) => {
                self.error(&node.key, format!("invalid port {n} (0 to 65535)"));
                None
            }
        }
    }

    /// `10s`, `1m30s`, or a bare number of seconds.
    pub fn duration(&mut self, node: &Node, path: &[&str]) -> Option<Duration> {
        let text = self.text(node, path)?;
        match Duration::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(&node.key, e);
                None
            }
        }
    }

    /// A list: a CSV string at the key (items trimmed, empty ones dropped, as v1), or,
    /// when the key has no value, its sub-keys `0`, `1`, … in numeric order. `None` when
    /// neither is there.
    pub fn list(&mut self, node: &Node, path: &[&str]) -> Option<Vec<String>> {
        if node.value.is_some() {
            let children_ignored = !node.children.is_empty();
            let bare = Node {
                key: node.key.clone(),
                value: node.value,
                children: BTreeMap::new(),
            };
            let text = self.text(&bare, path)?;
            let items = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if children_ignored {
                self.warn(
                    &node.key,
                    "both a value and sub-keys: the value (CSV) is used, the sub-keys ignored",
                );
            }
            return Some(items);
        }
        if node.children.is_empty() {
            return None;
        }
        let mut indexed: Vec<(u64, &Node)> = Vec::new();
        for (seg, child) in &node.children {
            match seg.parse::<u64>() {
                Ok(i) => indexed.push((i, child)),
                Err(_) => self.warn(
                    &child.key,
                    "a list's sub-keys are indices (0, 1, …); this one is ignored",
                ),
            }
        }
        indexed.sort_by_key(|(i, _)| *i);
        self.record(path, &node.key);
        let mut items = Vec::new();
        for (_, child) in indexed {
            let mut item_path: Vec<&str> = path.to_vec();
            let index = items.len().to_string();
            item_path.push(&index);
            if let Some(text) = self.text(child, &item_path) {
                items.push(text.to_string());
            }
        }
        Some(items)
    }

    /// A map whose keys are names the operator chose (header names): each sub-key's value.
    pub fn map(&mut self, node: &Node, path: &[&str]) -> BTreeMap<String, String> {
        self.folder(node);
        self.record(path, &node.key);
        let mut map = BTreeMap::new();
        for (name, child) in &node.children {
            let mut item_path: Vec<&str> = path.to_vec();
            item_path.push(name);
            if let Some(text) = self.text(child, &item_path) {
                map.insert(name.to_string(), text.to_string());
            }
        }
        map
    }
}

/// Go's `strconv.ParseBool`.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A value quoted in a message, cut short: a store value can be megabytes.
fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A key's segment as the layout names it: v1's key names are lower-case; trafik matches
/// them ignoring ASCII case (v1's own `passTLSClientCert/infos/notAfter` mixes cases).
pub(super) fn field(seg: &str) -> String {
    seg.to_ascii_lowercase()
}
