//! A read-only reader of Bolt files (boltdb/bolt, etcd-io/bbolt): the keys and values of one
//! top-level bucket, from the file's bytes. Written from bolt's Go sources (`page.go`,
//! `db.go`, `bucket.go`); it reads what Traefik 1.x's `[boltdb]` provider (docker/libkv's
//! boltdb store) and `traefik storeconfig` wrote, and writes nothing.
//!
//! The format, as far as a reader needs it:
//!
//! * The file is a sequence of pages of one size (the meta says which). A page may run on
//!   into `overflow` following pages, which then belong to it: its span is
//!   `(1 + overflow) * pageSize` bytes.
//! * Each page starts with a 16-byte header: `id` u64 (its own page number), `flags` u16
//!   (0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist), `count` u16 (elements), `overflow`
//!   u32.
//! * Pages 0 and 1 are the meta pages (`meta.rs`); the meta names the root bucket's root
//!   page and the high-water mark `pgid` (pages in use have smaller ids). The freelist page
//!   only matters to writers and is ignored here, as are pages no tree reaches.
//! * A bucket is a B+tree. A branch page holds `count` 16-byte elements after its header:
//!   `pos` u32, `ksize` u32, `pgid` u64 (a child page); the key sits `pos` bytes after the
//!   element's own start. A leaf page holds 16-byte elements `flags` u32, `pos` u32,
//!   `ksize` u32, `vsize` u32; the key sits `pos` bytes after the element, the value right
//!   after the key. Element flag 0x01 marks a nested bucket: its value is a 16-byte bucket
//!   header (`root` u64, `sequence` u64).
//! * The root bucket's keys are the top-level buckets' names. A bucket whose `root` is 0 is
//!   inline: its one leaf page (header and elements, `id` 0) follows the header in the value.
//!
//! Every input is hostile: each offset, count and page id is checked against the bytes that
//! are really there, each page may be reached once (a cycle or a shared page is an error),
//! the trees are at most `MAX_DEPTH` deep, and no more elements or key/value bytes are
//! accepted than the file has room for, so work and memory stay proportional to the file.

mod meta;

#[cfg(test)]
mod tests;

use std::fmt;

use meta::{META_FLAG, Meta, PAGE_HEADER};

const BRANCH_FLAG: u16 = 0x01;
const LEAF_FLAG: u16 = 0x02;
/// A leaf element holding a nested bucket rather than a value.
const BUCKET_LEAF: u32 = 0x01;
const ELEMENT: usize = 16;
const BUCKET_HEADER: usize = 16;
/// Bolt's trees are a handful of levels deep; a deeper one is crafted.
const MAX_DEPTH: usize = 32;

/// One key and its value, as bolt stores them.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Why a file could not be read: what is wrong, and where (page, element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoltError(pub String);

impl BoltError {
    fn new(message: &str) -> Self {
        BoltError(message.to_string())
    }
}

impl fmt::Display for BoltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BoltError {}

/// The keys and values of the top-level bucket `name`, in key order; `None` when the file
/// has no such bucket. Buckets nested in it are left out (libkv never makes any).
pub fn read_bucket(file: &[u8], name: &[u8]) -> Result<Option<Vec<Pair>>, BoltError> {
    let meta = meta::choose(file)?;
    let mut walk = Walk::new(file, meta);
    let mut buckets = Vec::new();
    walk.tree(meta.root, 0, &mut buckets)?;
    let Some(entry) = buckets.iter().find(|e| e.key == name) else {
        return Ok(None);
    };
    let shown = String::from_utf8_lossy(name);
    if entry.flags & BUCKET_LEAF == 0 {
        return Err(BoltError(format!("{shown:?} is a key, not a bucket")));
    }
    let header = entry.value.get(..BUCKET_HEADER).ok_or_else(|| {
        BoltError(format!(
            "bucket {shown:?}: header cut short ({} bytes)",
            entry.value.len()
        ))
    })?;
    let root = le_u64(header, 0);
    let mut elements = Vec::new();
    if root == 0 {
        let page = &entry.value[BUCKET_HEADER..];
        walk.leaf(page, &format!("bucket {shown:?} (inline)"), &mut elements)?;
    } else {
        walk.tree(root, 0, &mut elements)?;
    }
    let mut pairs = Vec::new();
    let mut bytes = 0usize;
    for e in elements.iter().filter(|e| e.flags & BUCKET_LEAF == 0) {
        // Real keys and values never share bytes, so together they fit in the file.
        bytes = bytes.saturating_add(e.key.len() + e.value.len());
        if bytes > file.len() {
            return Err(BoltError::new(
                "elements overlap: more key and value bytes than the file holds",
            ));
        }
        pairs.push((e.key.to_vec(), e.value.to_vec()));
    }
    Ok(Some(pairs))
}

/// A leaf element, borrowed from the file.
struct Element<'a> {
    flags: u32,
    key: &'a [u8],
    value: &'a [u8],
}

/// One traversal of the file: which pages are taken, and how many elements are left.
struct Walk<'a> {
    file: &'a [u8],
    meta: Meta,
    /// Per page id: already part of a page we read (itself or as overflow).
    taken: Vec<bool>,
    /// Elements we may still accept: each real one occupies 16 bytes of the file.
    elements_left: usize,
}

impl<'a> Walk<'a> {
    fn new(file: &'a [u8], meta: Meta) -> Self {
        Walk {
            file,
            meta,
            taken: vec![false; file.len() / meta.page_size],
            elements_left: file.len() / ELEMENT,
        }
    }

    /// Appends the leaf elements of the tree rooted at page `id`, in key order.
    fn tree(&mut self, id: u64, depth: usize, out: &mut Vec<Element<'a>>) -> Result<(), BoltError> {
        if depth > MAX_DEPTH {
            return Err(BoltError(format!(
                "page {id}: tree deeper than {MAX_DEPTH} levels"
            )));
        }
        let page = self.page(id)?;
        let what = format!("page {id}");
        match u16::from_le_bytes([page[8], page[9]]) {
            LEAF_FLAG => self.leaf(page, &what, out),
            BRANCH_FLAG => {
                let count = self.count(page, &what)?;
                if count == 0 {
                    return Err(BoltError(format!("{what}: branch page without children")));
                }
                for i in 0..count {
                    let at = PAGE_HEADER + i * ELEMENT;
                    let (pos, ksize) = (le_u32(page, at) as usize, le_u32(page, at + 4) as usize);
                    if at + pos + ksize > page.len() {
                        return Err(BoltError(format!(
                            "{what}: element {i}'s key runs past the page"
                        )));
                    }
                    self.tree(le_u64(page, at + 8), depth + 1, out)?;
                }
                Ok(())
            }
            META_FLAG => Err(BoltError(format!("{what}: a meta page inside a tree"))),
            flags => Err(BoltError(format!(
                "{what}: flags {flags:#x}, expected a branch or leaf page"
            ))),
        }
    }

    /// Appends the elements of a leaf page (`page` is its whole span).
    fn leaf(
        &mut self,
        page: &'a [u8],
        what: &str,
        out: &mut Vec<Element<'a>>,
    ) -> Result<(), BoltError> {
        if page.len() < PAGE_HEADER {
            return Err(BoltError(format!("{what}: page header cut short")));
        }
        let flags = u16::from_le_bytes([page[8], page[9]]);
        if flags != LEAF_FLAG {
            return Err(BoltError(format!(
                "{what}: flags {flags:#x}, expected a leaf page"
            )));
        }
        let count = self.count(page, what)?;
        for i in 0..count {
            let at = PAGE_HEADER + i * ELEMENT;
            let (pos, ksize, vsize) = (
                le_u32(page, at + 4) as usize,
                le_u32(page, at + 8) as usize,
                le_u32(page, at + 12) as usize,
            );
            let key_end = at + pos + ksize;
            let (Some(key), Some(value)) = (
                page.get(at + pos..key_end),
                page.get(key_end..key_end + vsize),
            ) else {
                return Err(BoltError(format!("{what}: element {i} runs past the page")));
            };
            out.push(Element {
                flags: le_u32(page, at),
                key,
                value,
            });
        }
        Ok(())
    }

    /// The element count, checked against the page's size and the file's room for elements.
    fn count(&mut self, page: &[u8], what: &str) -> Result<usize, BoltError> {
        let count = usize::from(u16::from_le_bytes([page[10], page[11]]));
        if PAGE_HEADER + count * ELEMENT > page.len() {
            return Err(BoltError(format!(
                "{what}: {count} elements do not fit in the page"
            )));
        }
        self.elements_left = self.elements_left.checked_sub(count).ok_or_else(|| {
            BoltError(format!("{what}: more elements than the file has room for"))
        })?;
        Ok(count)
    }

    /// Page `id` with its overflow pages, claimed so no other reference may reach them.
    fn page(&mut self, id: u64) -> Result<&'a [u8], BoltError> {
        let size = self.meta.page_size;
        if id < 2 {
            return Err(BoltError(format!("page {id}: a meta page inside a tree")));
        }
        if id >= self.meta.pgid {
            return Err(BoltError(format!(
                "page {id}: past the high-water mark ({} pages in use)",
                self.meta.pgid
            )));
        }
        let start = usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_mul(size))
            .filter(|&start| {
                start
                    .checked_add(PAGE_HEADER)
                    .is_some_and(|end| end <= self.file.len())
            })
            .ok_or_else(|| BoltError(format!("page {id}: past the end of the file")))?;
        let header = &self.file[start..start + PAGE_HEADER];
        let stored = le_u64(header, 0);
        if stored != id {
            return Err(BoltError(format!(
                "page {id}: its header says page {stored}"
            )));
        }
        let overflow = le_u32(header, 12) as usize;
        let span = overflow
            .checked_add(1)
            .and_then(|pages| pages.checked_mul(size))
            .filter(|&span| {
                start
                    .checked_add(span)
                    .is_some_and(|end| end <= self.file.len())
            })
            .ok_or_else(|| {
                BoltError(format!(
                    "page {id}: {overflow} overflow pages run past the end of the file"
                ))
            })?;
        let first = start / size;
        for n in first..first + span / size {
            if std::mem::replace(&mut self.taken[n], true) {
                return Err(BoltError(format!(
                    "page {id}: page {n} is reached twice (a cycle or overlapping pages)"
                )));
            }
        }
        Ok(&self.file[start..start + span])
    }
}

/// Little-endian integers at `at`; callers check `at + 4` / `at + 8` is within `b`.
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
