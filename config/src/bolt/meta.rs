//! The two meta pages at the start of a Bolt file, and which of them to trust.
//!
//! Pages 0 and 1 are meta pages; a write transaction rewrites the one its txid picks
//! (`txid % 2`), so after a torn write the other still describes a whole database. Each is
//! a page header (16 bytes, below) followed by:
//!
//! ```text
//! offset  size  field
//!      0     4  magic      0xED0CDAED
//!      4     4  version    2
//!      8     4  pageSize   the file's page size (the OS page size when it was created)
//!     12     4  flags
//!     16     8  root       the root bucket's root page id (a bucket header: root, then
//!     24     8  sequence   the bucket's sequence number)
//!     32     8  freelist   page id of the freelist (ignored: we only read)
//!     40     8  pgid       high-water mark: every page in use has a smaller id
//!     48     8  txid       the transaction that wrote this meta
//!     56     8  checksum   FNV-1a 64 of bytes 0..56 (0 = not checked, as bolt does)
//! ```
//!
//! All integers are little-endian (bolt writes its in-memory structs on amd64/arm64).
//! Bolt reads meta page 0 to learn the page size, then takes the valid meta with the highest
//! txid. When page 0 is itself damaged we also look for a valid page 1 at each plausible page
//! size, so one torn meta does not make the file unreadable.

use super::{BoltError, le_u32, le_u64};

pub(super) const PAGE_HEADER: usize = 16;
const META_SIZE: usize = 64;
const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
pub(super) const META_FLAG: u16 = 0x04;

/// The page sizes we accept: powers of two from 512 bytes to 64 KiB (bolt's default is the
/// OS page size, 4 KiB on amd64, 64 KiB on some ppc64 and arm64 kernels).
const MIN_PAGE: usize = 512;
const MAX_PAGE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    pub page_size: usize,
    pub root: u64,
    pub pgid: u64,
    pub txid: u64,
}

/// The meta to read the file by.
pub(super) fn choose(file: &[u8]) -> Result<Meta, BoltError> {
    if file.is_empty() {
        return Err(BoltError::new("empty file (not yet written by bolt?)"));
    }
    let first = parse(file, 0);
    let page_size = match &first {
        Ok(m) => Some(m.page_size),
        Err(_) => None,
    };
    // Meta page 1 sits one page in; without a valid page 0 to say where, try each size.
    let second = match page_size {
        Some(size) => parse(file, size).and_then(|m| {
            if m.page_size == size {
                Ok(m)
            } else {
                Err(BoltError(format!(
                    "meta page 1 says page size {}, meta page 0 says {size}",
                    m.page_size
                )))
            }
        }),
        None => candidate_sizes()
            .map(|size| parse(file, size).ok().filter(|m| m.page_size == size))
            .find_map(|m| m)
            .ok_or_else(|| BoltError::new("no valid meta page 1 at any page size")),
    };
    match (first, second) {
        (Ok(a), Ok(b)) => Ok(if b.txid > a.txid { b } else { a }),
        (Ok(m), Err(_)) | (Err(_), Ok(m)) => Ok(m),
        (Err(a), Err(b)) => Err(BoltError(format!(
            "not a Bolt file, or both meta pages damaged (meta 0: {a}; meta 1: {b})"
        ))),
    }
}

fn candidate_sizes() -> impl Iterator<Item = usize> {
    (9..=16).map(|shift| 1usize << shift)
}

/// The meta stored in the page at byte `at`, if it is one and it checks out.
fn parse(file: &[u8], at: usize) -> Result<Meta, BoltError> {
    let m = file
        .get(at..)
        .and_then(|rest| rest.get(..PAGE_HEADER + META_SIZE))
        .ok_or_else(|| BoltError::new("file too short for a meta page"))?;
    let flags = u16::from_le_bytes([m[8], m[9]]);
    if flags & META_FLAG == 0 {
        return Err(BoltError(format!(
            "page flags {flags:#x} are not a meta page's"
        )));
    }
    let meta = &m[PAGE_HEADER..];
    if le_u32(meta, 0) != MAGIC {
        return Err(BoltError::new("bad magic"));
    }
    let version = le_u32(meta, 4);
    if version != VERSION {
        return Err(BoltError(format!("version {version}, expected {VERSION}")));
    }
    let stored = le_u64(meta, 56);
    if stored != 0 && stored != fnv1a64(&meta[..56]) {
        return Err(BoltError::new("checksum mismatch"));
    }
    let page_size = le_u32(meta, 8) as usize;
    if !page_size.is_power_of_two() || !(MIN_PAGE..=MAX_PAGE).contains(&page_size) {
        return Err(BoltError(format!("implausible page size {page_size}")));
    }
    Ok(Meta {
        page_size,
        root: le_u64(meta, 16),
        pgid: le_u64(meta, 40),
        txid: le_u64(meta, 48),
    })
}

/// FNV-1a, 64 bits: the checksum bolt puts on its meta pages (Go's `hash/fnv` New64a).
pub(super) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
