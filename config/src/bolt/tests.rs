//! The reader on files the real Bolt library wrote, and on those files damaged or crafted.
//!
//! `testdata/*.db` were written by `tests/boltdb/writer.go` (docker/libkv's boltdb store over
//! Debian's bbolt 1.3.6, 4 KiB pages), built as its header says:
//!
//! ```text
//! writer small.db put /traefik/backends/b1/servers/s1/url http://127.0.0.1:8081 \
//!     put /traefik/frontends/f1/backend b1 put /traefik/frontends/f1/routes/r1/rule Host:a.com \
//!     put /traefik/alias "" del /traefik/alias
//! writer overflow.db put /traefik/a 1 big /traefik/big 10000 put /traefik/z 2
//! writer many.db many /traefik/k 300
//! writer buckets.db bucket other put /x/y z bucket traefik put /traefik/k v
//! ```

use proptest::prelude::*;

use super::meta::fnv1a64;
use super::*;

const SMALL: &[u8] = include_bytes!("testdata/small.db");
const OVERFLOW: &[u8] = include_bytes!("testdata/overflow.db");
const MANY: &[u8] = include_bytes!("testdata/many.db");
const BUCKETS: &[u8] = include_bytes!("testdata/buckets.db");

/// The bucket's pairs with libkv's 8-byte index taken off each value, as text.
fn read(file: &[u8], bucket: &str) -> Vec<(String, String)> {
    read_bucket(file, bucket.as_bytes())
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            assert!(v.len() >= 8, "libkv puts an 8-byte index before each value");
            (
                String::from_utf8(k).unwrap(),
                String::from_utf8(v[8..].to_vec()).unwrap(),
            )
        })
        .collect()
}

fn error(file: &[u8]) -> String {
    match read_bucket(file, b"traefik") {
        Err(e) => e.0,
        Ok(pairs) => panic!("read: {pairs:?}"),
    }
}

#[test]
fn reads_what_libkv_wrote() {
    assert_eq!(
        read(SMALL, "traefik"),
        [
            (
                "/traefik/backends/b1/servers/s1/url",
                "http://127.0.0.1:8081"
            ),
            ("/traefik/frontends/f1/backend", "b1"),
            ("/traefik/frontends/f1/routes/r1/rule", "Host:a.com"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn libkv_prefixes_each_value_with_its_write_index() {
    let pairs = read_bucket(SMALL, b"traefik").unwrap().unwrap();
    let indexes: Vec<u64> = pairs
        .iter()
        .map(|(_, v)| u64::from_le_bytes(v[..8].try_into().unwrap()))
        .collect();
    // libkv's counter lives in its store value, from 0; the writer makes one per operation.
    assert_eq!(indexes, [1, 1, 1]);
}

#[test]
fn a_value_larger_than_a_page_is_read_from_its_overflow_pages() {
    let pairs = read(OVERFLOW, "traefik");
    assert_eq!(pairs.len(), 3);
    assert_eq!(pairs[0], ("/traefik/a".into(), "1".into()));
    let big = &pairs[1];
    assert_eq!(big.0, "/traefik/big");
    assert_eq!(big.1.len(), 10_000);
    assert!(
        big.1
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'a' + (i % 26) as u8)
    );
    assert_eq!(pairs[2], ("/traefik/z".into(), "2".into()));
    // The fixture really has a page running on into others.
    let pages = OVERFLOW.len() / 4096;
    assert!((2..pages).any(|p| le_u32(OVERFLOW, p * 4096 + 12) > 0));
}

#[test]
fn many_keys_are_read_through_branch_pages_in_order() {
    let pairs = read(MANY, "traefik");
    let expected: Vec<(String, String)> = (0..300)
        .map(|i| {
            let key = format!("/traefik/k{i:04}");
            (key.clone(), format!("value of {key}"))
        })
        .collect();
    assert_eq!(pairs, expected);
    // The bucket's root is a branch page (the fixture is not one leaf).
    let meta = meta::choose(MANY).unwrap();
    let mut walk = Walk::new(MANY, meta);
    let mut buckets = Vec::new();
    walk.tree(meta.root, 0, &mut buckets).unwrap();
    let root = le_u64(buckets[0].value, 0) as usize;
    assert_eq!(le_u16(MANY, root * 4096 + 8), BRANCH_FLAG);
}

#[test]
fn buckets_are_kept_apart_and_a_missing_one_is_none() {
    assert_eq!(
        read(BUCKETS, "other"),
        [("/x/y".to_string(), "z".to_string())]
    );
    assert_eq!(
        read(BUCKETS, "traefik"),
        [("/traefik/k".to_string(), "v".to_string())]
    );
    assert_eq!(read_bucket(BUCKETS, b"nope").unwrap(), None);
}

#[test]
fn the_newest_valid_meta_wins_and_a_damaged_one_falls_back() {
    let a = meta::choose(SMALL).unwrap();
    let m0 = le_u64(SMALL, 16 + 48);
    let m1 = le_u64(SMALL, 4096 + 16 + 48);
    assert_eq!(a.txid, m0.max(m1));
    // Damage the newest: the previous transaction's meta is used, and still reads.
    let newest = if m1 > m0 { 4096 } else { 0 };
    let mut file = SMALL.to_vec();
    file[newest + 16 + 40] ^= 0xff;
    let b = meta::choose(&file).unwrap();
    assert_eq!(b.txid, m0.min(m1));
    assert!(read_bucket(&file, b"traefik").is_ok());
}

#[test]
fn not_a_bolt_file_is_named() {
    assert!(error(b"").contains("empty file"));
    assert!(error(b"hello, world").contains("not a Bolt file"));
    assert!(error(&[0u8; 8192]).contains("not a Bolt file"));
    let mut file = SMALL.to_vec();
    file[16] ^= 1;
    file[4096 + 16] ^= 1;
    assert!(error(&file).contains("bad magic"), "{}", error(&file));
}

#[test]
fn a_truncated_file_is_an_error_at_every_length() {
    for file in [SMALL, OVERFLOW, MANY] {
        for len in (0..file.len()).step_by(97) {
            let result = read_bucket(&file[..len], b"traefik");
            if len < 2 * 4096 {
                assert!(result.is_err(), "{len} bytes read");
            }
        }
    }
    // Cut inside the overflowing value: named.
    let end = OVERFLOW.len() - 4096;
    let cut = read_bucket(&OVERFLOW[..end], b"traefik");
    if let Err(e) = cut {
        assert!(e.0.contains("page"), "{e}");
    }
}

#[test]
fn every_byte_flipped_never_panics() {
    for file in [SMALL, OVERFLOW] {
        let mut copy = file.to_vec();
        for at in 0..file.len() {
            copy[at] ^= 0xff;
            let _ = read_bucket(&copy, b"traefik");
            copy[at] ^= 0xff;
        }
    }
}

// Crafted files: two meta pages, a freelist, and the pages given, with valid checksums.

const PAGE: usize = 4096;

fn page(id: u64, flags: u16, count: u16, overflow: u32) -> Vec<u8> {
    let mut p = vec![0u8; PAGE];
    p[..8].copy_from_slice(&id.to_le_bytes());
    p[8..10].copy_from_slice(&flags.to_le_bytes());
    p[10..12].copy_from_slice(&count.to_le_bytes());
    p[12..16].copy_from_slice(&overflow.to_le_bytes());
    p
}

fn crafted(root: u64, pages: &[Vec<u8>]) -> Vec<u8> {
    let pgid = 3 + pages.len() as u64;
    let mut file = Vec::new();
    for txid in 0..2u64 {
        let mut p = page(txid, META_FLAG, 0, 0);
        let m = &mut p[16..];
        m[0..4].copy_from_slice(&0xED0C_DAEDu32.to_le_bytes());
        m[4..8].copy_from_slice(&2u32.to_le_bytes());
        m[8..12].copy_from_slice(&(PAGE as u32).to_le_bytes());
        m[16..24].copy_from_slice(&root.to_le_bytes());
        m[32..40].copy_from_slice(&2u64.to_le_bytes());
        m[40..48].copy_from_slice(&pgid.to_le_bytes());
        m[48..56].copy_from_slice(&txid.to_le_bytes());
        let sum = fnv1a64(&m[..56]);
        m[56..64].copy_from_slice(&sum.to_le_bytes());
        file.extend(p);
    }
    file.extend(page(2, 0x10, 0, 0));
    for p in pages {
        file.extend(p);
    }
    file
}

/// A branch element at index `i` pointing to `child`, with an empty key.
fn branch_to(p: &mut [u8], i: usize, child: u64) {
    let at = 16 + i * 16;
    let pos = (p[10] as usize) * 16 - i * 16;
    p[at..at + 4].copy_from_slice(&(pos as u32).to_le_bytes());
    p[at + 8..at + 16].copy_from_slice(&child.to_le_bytes());
}

/// A leaf element at index `i` with `flags`, key and value written after the elements.
fn leaf_elem(p: &mut [u8], i: usize, flags: u32, key: &[u8], value: &[u8], data_at: usize) {
    let at = 16 + i * 16;
    p[at..at + 4].copy_from_slice(&flags.to_le_bytes());
    p[at + 4..at + 8].copy_from_slice(&((data_at - at) as u32).to_le_bytes());
    p[at + 8..at + 12].copy_from_slice(&(key.len() as u32).to_le_bytes());
    p[at + 12..at + 16].copy_from_slice(&(value.len() as u32).to_le_bytes());
    p[data_at..data_at + key.len()].copy_from_slice(key);
    p[data_at + key.len()..data_at + key.len() + value.len()].copy_from_slice(value);
}

/// Root bucket (page 3) holding bucket "traefik" rooted at page 4, then `pages` from 4 on.
fn with_bucket(pages: Vec<Vec<u8>>) -> Vec<u8> {
    let mut root = page(3, LEAF_FLAG, 1, 0);
    let mut header = [0u8; 16];
    header[..8].copy_from_slice(&4u64.to_le_bytes());
    leaf_elem(&mut root, 0, BUCKET_LEAF, b"traefik", &header, 512);
    let mut all = vec![root];
    all.extend(pages);
    crafted(3, &all)
}

#[test]
fn crafted_files_read_when_well_formed() {
    let mut leaf = page(4, LEAF_FLAG, 2, 0);
    leaf_elem(&mut leaf, 0, 0, b"a", b"1", 100);
    leaf_elem(&mut leaf, 1, 0, b"b", b"2", 200);
    let file = with_bucket(vec![leaf]);
    assert_eq!(
        read_bucket(&file, b"traefik").unwrap().unwrap(),
        [
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec())
        ]
    );
}

#[test]
fn a_branch_that_points_to_itself_is_a_cycle() {
    let mut branch = page(4, BRANCH_FLAG, 1, 0);
    branch_to(&mut branch, 0, 4);
    let e = error(&with_bucket(vec![branch]));
    assert!(e.contains("page 4") && e.contains("reached twice"), "{e}");
}

#[test]
fn a_child_past_the_high_water_mark_or_the_end_is_named() {
    let mut branch = page(4, BRANCH_FLAG, 1, 0);
    branch_to(&mut branch, 0, 1 << 40);
    let e = error(&with_bucket(vec![branch]));
    assert!(e.contains("high-water mark"), "{e}");
    // Within the mark, but the file was cut.
    let mut branch = page(4, BRANCH_FLAG, 1, 0);
    branch_to(&mut branch, 0, 5);
    let mut file = with_bucket(vec![branch, page(5, LEAF_FLAG, 0, 0)]);
    file.truncate(5 * PAGE);
    let e = error(&file);
    assert!(e.contains("page 5: past the end of the file"), "{e}");
}

#[test]
fn absurd_counts_sizes_and_overflows_are_named() {
    let e = error(&with_bucket(vec![page(4, LEAF_FLAG, u16::MAX, 0)]));
    assert!(e.contains("65535 elements do not fit"), "{e}");
    let e = error(&with_bucket(vec![page(4, LEAF_FLAG, 0, u32::MAX)]));
    assert!(e.contains("overflow pages run past the end"), "{e}");
    let mut leaf = page(4, LEAF_FLAG, 1, 0);
    leaf_elem(&mut leaf, 0, 0, b"a", b"1", 100);
    leaf[16 + 12..16 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = error(&with_bucket(vec![leaf]));
    assert!(e.contains("page 4: element 0 runs past the page"), "{e}");
    let e = error(&with_bucket(vec![page(4, 0x20, 0, 0)]));
    assert!(e.contains("flags 0x20"), "{e}");
    let e = error(&with_bucket(vec![page(7, LEAF_FLAG, 0, 0)]));
    assert!(e.contains("its header says page 7"), "{e}");
}

#[test]
fn overlapping_elements_cannot_multiply_the_output() {
    // 200 elements all naming the same 3,000-byte value: more bytes than the file holds.
    let mut leaf = page(4, LEAF_FLAG, 200, 0);
    for i in 0..200 {
        let at = 16 + i * 16;
        leaf[at + 4..at + 8].copy_from_slice(&((3300 - at) as u32).to_le_bytes());
        leaf[at + 8..at + 12].copy_from_slice(&1u32.to_le_bytes());
        leaf[at + 12..at + 16].copy_from_slice(&700u32.to_le_bytes());
    }
    let e = error(&with_bucket(vec![leaf]));
    assert!(
        e.contains("more key and value bytes than the file holds"),
        "{e}"
    );
}

#[test]
fn a_key_where_the_bucket_should_be_is_named() {
    let mut root = page(3, LEAF_FLAG, 1, 0);
    leaf_elem(&mut root, 0, 0, b"traefik", b"x", 512);
    let e = error(&crafted(3, &[root]));
    assert!(e.contains("\"traefik\" is a key, not a bucket"), "{e}");
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Real files with a few bytes overwritten: an answer or an error, never a panic; and
    /// what is read never holds more bytes than the file.
    #[test]
    fn damaged_real_files_never_panic(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut file = [SMALL, OVERFLOW, MANY][which].to_vec();
        for (at, byte) in edits {
            let at = at.index(file.len());
            file[at] = byte;
        }
        if let Ok(Some(pairs)) = read_bucket(&file, b"traefik") {
            let bytes: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
            prop_assert!(bytes <= file.len());
        }
    }
}
