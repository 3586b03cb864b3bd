//! A priority-ordered rule lookup that does not test every rule.
//!
//! Entries are bucketed by exact host (from a required `Host` matcher); entries without one but
//! with a required `HostRegexp` whose templates all end in literal text (`{sub}.r7.example.com`)
//! go in a radix tree over those suffixes, reversed (`FrontendRule::host_suffixes`); inside a
//! host bucket, and for the entries with neither, by literal path (a radix tree over
//! `Exact`/`Prefix` keys from `FrontendRule::literal_paths`); what has no such key sits in the
//! bucket's `rest` list. A lookup walks the path once in the request host's bucket and once in
//! the host-less one, and the reversed host once in the suffix tree; it gathers the sorted
//! candidate lists met on the way, and merges them: candidates are tested in global order
//! (smallest index first), so the answer is the one a linear scan would give. Only the host
//! templates whose literal end the host has are tried, not every template.

use std::collections::HashMap;

use super::{FrontendRule, Match, PathKey, RequestInfo};

/// Radix tree node; the root has an empty label.
#[derive(Debug, Default)]
struct Node {
    label: Box<[u8]>,
    /// Sorted by first label byte (labels of siblings start with distinct bytes).
    children: Vec<Node>,
    /// Entries with an `Exact` key ending here, ascending.
    exact: Vec<u32>,
    /// Entries with a `Prefix` key ending here, ascending.
    prefix: Vec<u32>,
}

fn push_unique(list: &mut Vec<u32>, idx: u32) {
    if list.last() != Some(&idx) {
        list.push(idx);
    }
}

impl Node {
    /// The node for `key` below `self`, created (splitting labels) as needed.
    fn node_for(&mut self, key: &[u8]) -> &mut Node {
        let Some(&first) = key.first() else {
            return self;
        };
        match self.children.binary_search_by_key(&first, |c| c.label[0]) {
            Err(i) => {
                // One child at a time: a `Vec`'s first insert reserves four nodes, and most
                // nodes (a host's one path, a template's end) get one child.
                if self.children.len() == self.children.capacity() {
                    self.children.reserve_exact(1);
                }
                self.children.insert(
                    i,
                    Node {
                        label: key.into(),
                        ..Node::default()
                    },
                );
                &mut self.children[i]
            }
            Ok(i) => {
                let child = &mut self.children[i];
                let common = child
                    .label
                    .iter()
                    .zip(key)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common < child.label.len() {
                    let mut old = std::mem::take(child);
                    let mid_label: Box<[u8]> = old.label[..common].into();
                    old.label = old.label[common..].into();
                    child.label = mid_label;
                    child.children.reserve_exact(1);
                    child.children.push(old);
                }
                child.node_for(&key[common..])
            }
        }
    }

    /// Pushes the candidate lists met along `path`: `prefix` lists of every node whose key is a
    /// prefix of `path`, and the `exact` list of the node whose key is `path`.
    fn collect<'a>(&'a self, path: &[u8], out: &mut Lists<'a>) {
        let mut node = self;
        let mut rest = path;
        loop {
            out.push(&node.prefix);
            let Some(&first) = rest.first() else {
                out.push(&node.exact);
                return;
            };
            let Ok(i) = node.children.binary_search_by_key(&first, |c| c.label[0]) else {
                return;
            };
            let child = &node.children[i];
            let Some(after) = rest.strip_prefix(&*child.label) else {
                return;
            };
            rest = after;
            node = child;
        }
    }
}

/// Entries sharing a host (or having none): a path tree and the rest. The tree is boxed
/// and made on a first path: most hosts have none, and the host map holds its buckets
/// inline (at 7,500 hosts an empty tree in each was 1.3 MB).
#[derive(Debug, Default)]
struct Bucket {
    paths: Option<Box<Node>>,
    rest: Vec<u32>,
}

impl Bucket {
    fn add(&mut self, idx: u32, keys: Option<&[PathKey]>) {
        match keys {
            Some(keys) => {
                let paths = self.paths.get_or_insert_with(Default::default);
                for key in keys {
                    let node = paths.node_for(key.as_str().as_bytes());
                    match key {
                        PathKey::Exact(_) => push_unique(&mut node.exact, idx),
                        PathKey::Prefix(_) => push_unique(&mut node.prefix, idx),
                    }
                }
            }
            None => push_unique(&mut self.rest, idx),
        }
    }

    fn collect<'a>(&'a self, path: &str, out: &mut Lists<'a>) {
        out.push(&self.rest);
        if let Some(paths) = &self.paths {
            paths.collect(path.as_bytes(), out);
        }
    }
}

const INLINE: usize = 16;

/// Candidate lists of one lookup: on the stack unless there are many.
struct Lists<'a> {
    inline: [&'a [u32]; INLINE],
    len: usize,
    spill: Vec<&'a [u32]>,
}

impl<'a> Lists<'a> {
    fn new() -> Self {
        Lists {
            inline: [&[]; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, list: &'a [u32]) {
        if list.is_empty() {
            return;
        }
        if self.len < INLINE {
            self.inline[self.len] = list;
            self.len += 1;
        } else {
            self.spill.push(list);
        }
    }

    fn lists_mut(&mut self) -> impl Iterator<Item = &mut &'a [u32]> {
        self.inline[..self.len]
            .iter_mut()
            .chain(self.spill.iter_mut())
    }

    /// Removes and returns the smallest head (and its duplicates in other lists).
    fn pop_min(&mut self) -> Option<u32> {
        let min = self.lists_mut().filter_map(|l| l.first().copied()).min()?;
        for l in self.lists_mut() {
            if l.first() == Some(&min) {
                *l = &l[1..];
            }
        }
        Some(min)
    }
}

/// Priority-ordered lookup over many frontends' rules (see the module documentation).
#[derive(Debug)]
pub struct RuleIndex<T> {
    entries: Vec<(FrontendRule, T)>,
    by_host: HashMap<Box<str>, Bucket>,
    /// Host-template entries by the reversed literal end of their templates: a node's `prefix`
    /// list holds the entries with that (reversed) suffix.
    by_host_suffix: Node,
    /// Every entry of `by_host_suffix`, ascending: the candidates for a non-ASCII host, which
    /// case folding may let match an ASCII suffix it does not end with byte for byte.
    host_suffix_all: Vec<u32>,
    any_host: Bucket,
}

/// Hosts up to this length are reversed on the stack.
const HOST_BUF: usize = 256;

impl<T> Default for RuleIndex<T> {
    fn default() -> Self {
        RuleIndex::new(Vec::new())
    }
}

impl<T> RuleIndex<T> {
    /// `entries` in priority order, first = highest; ties keep this order.
    ///
    /// # Panics
    /// With more than `u32::MAX` entries.
    pub fn new(entries: Vec<(FrontendRule, T)>) -> Self {
        assert!(u32::try_from(entries.len()).is_ok(), "too many rules");
        let mut by_host: HashMap<Box<str>, Bucket> = HashMap::new();
        let mut by_host_suffix = Node::default();
        let mut host_suffix_all = Vec::new();
        let mut any_host = Bucket::default();
        for (i, (rule, _)) in entries.iter().enumerate() {
            let idx = i as u32;
            if let Some(hosts) = rule.exact_hosts() {
                let keys = rule.literal_paths();
                // An empty host never matches: such an entry needs no bucket.
                for host in hosts.iter().filter(|h| !h.is_empty()) {
                    by_host
                        .entry(host.as_str().into())
                        .or_default()
                        .add(idx, keys.as_deref());
                }
            } else if let Some(suffixes) = rule.host_suffixes() {
                for suffix in suffixes {
                    let reversed: Vec<u8> = suffix.bytes().rev().collect();
                    push_unique(&mut by_host_suffix.node_for(&reversed).prefix, idx);
                }
                host_suffix_all.push(idx);
            } else {
                any_host.add(idx, rule.literal_paths().as_deref());
            }
        }
        RuleIndex {
            entries,
            by_host,
            by_host_suffix,
            host_suffix_all,
            any_host,
        }
    }

    /// The first entry, in priority order, whose rule matches (`Yes` or `Redirect`).
    pub fn lookup(&self, req: &RequestInfo) -> Option<(&T, Match)> {
        let mut lists = Lists::new();
        if let Some(bucket) = self.by_host.get(req.host) {
            bucket.collect(req.path, &mut lists);
        }
        self.any_host.collect(req.path, &mut lists);
        if !self.host_suffix_all.is_empty() {
            if !req.host.is_ascii() {
                lists.push(&self.host_suffix_all);
            } else if req.host.len() <= HOST_BUF {
                let mut buf = [0u8; HOST_BUF];
                let reversed = &mut buf[..req.host.len()];
                reversed.copy_from_slice(req.host.as_bytes());
                reversed.reverse();
                self.by_host_suffix.collect(reversed, &mut lists);
            } else {
                let reversed: Vec<u8> = req.host.bytes().rev().collect();
                self.by_host_suffix.collect(&reversed, &mut lists);
            }
        }
        while let Some(idx) = lists.pop_min() {
            let (rule, value) = &self.entries[idx as usize];
            match rule.matches(req) {
                Match::No => {}
                m => return Some((value, m)),
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in priority order.
    pub fn iter(&self) -> impl Iterator<Item = (&FrontendRule, &T)> {
        self.entries.iter().map(|(r, t)| (r, t))
    }
}
