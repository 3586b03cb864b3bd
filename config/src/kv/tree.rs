//! The store's pairs as a tree of path segments, built once from the sorted keys; the
//! decoder then walks it, so a store of any size is read in O(n log n).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::walk::Walk;

/// The sections the decoder reads (matched ignoring ASCII case). Every other key under the
/// prefix (`alias`, the static configuration `traefik storeconfig` writes) is left alone.
const SECTIONS: [&str; 3] = ["backends", "frontends", "tls"];

/// No key of the layout is deeper than this under the prefix; deeper keys are reported and
/// ignored, which also bounds the recursion over hostile input.
const MAX_DEPTH: usize = 10;

/// One path segment of the store.
#[derive(Debug, Default)]
pub(super) struct Node<'a> {
    /// The full key of this node as the store spells it (for a folder without a key of its
    /// own, the start of the first key under it): borrowed from the store's keys, as
    /// 10,000 frontends make tens of thousands of nodes.
    pub key: Cow<'a, str>,
    /// The value, when the store holds a non-empty one here. As in v1, an empty value counts
    /// as absent (Consul's folder keys `…/backends/` have one).
    pub value: Option<&'a [u8]>,
    /// By segment as written: names the operator chose keep their case.
    pub children: BTreeMap<&'a str, Node<'a>>,
}

/// The prefix's segments: leading, trailing and doubled slashes do not matter.
pub(super) fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The tree of the keys under `prefix` that belong to `backends/`, `frontends/` or `tls/`.
pub(super) fn build<'a>(prefix: &str, pairs: &'a [(String, Vec<u8>)], w: &mut Walk) -> Node<'a> {
    let prefix = segments(prefix);
    let mut root = Node {
        key: Cow::Owned(format!("/{}", prefix.join("/"))),
        ..Node::default()
    };
    let mut sorted: Vec<&'a (String, Vec<u8>)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in sorted {
        // Each non-empty segment with the offset where it ends in `key`.
        let mut parts: Vec<(&'a str, usize)> = Vec::new();
        let mut start = 0;
        for seg in key.split('/') {
            let end = start + seg.len();
            if !seg.is_empty() {
                parts.push((seg, end));
            }
            start = end + 1;
            if parts.len() > prefix.len() + MAX_DEPTH + 1 {
                break;
            }
        }
        if parts.len() <= prefix.len() || parts.iter().zip(&prefix).any(|((seg, _), p)| seg != p) {
            continue;
        }
        let rest = &parts[prefix.len()..];
        // One node per section however it is spelled, so `Backends/b` and `backends/b`
        // are the same backend.
        let Some(section) = SECTIONS.iter().find(|s| s.eq_ignore_ascii_case(rest[0].0)) else {
            continue;
        };
        if rest.len() > MAX_DEPTH {
            w.warn(key, "key too deep for the key-value layout, ignored");
            continue;
        }
        let mut node = root.children.entry(section).or_insert_with(|| Node {
            key: Cow::Borrowed(&key[..rest[0].1]),
            ..Node::default()
        });
        for &(seg, end) in &rest[1..] {
            node = node.children.entry(seg).or_insert_with(|| Node {
                key: Cow::Borrowed(&key[..end]),
                ..Node::default()
            });
        }
        if value.is_empty() {
            continue;
        }
        if node.value.is_some() {
            w.warn(
                key,
                format!("same key as {} (slashes aside), ignored", node.key),
            );
            continue;
        }
        node.key = Cow::Borrowed(key);
        node.value = Some(value);
    }
    root
}
