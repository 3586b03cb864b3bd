//! The global allocator: mimalloc, asked for an alignment only when one is needed.
//!
//! The `mimalloc` crate hands every allocation to `mi_malloc_aligned(size, align)`. Its
//! fast path serves blocks of up to 1 KiB from a page whose next free block happens to
//! be aligned; anything else (a larger block, or a page whose free list needs refilling)
//! takes a generic path that, unless the block size is a power of two, over-allocates
//! by the alignment and marks the page as holding interior pointers. That was 4 calls a
//! request at about 140-200 instructions each. `mi_malloc` already aligns every block of
//! 16 bytes or more to 16 (`MI_MAX_ALIGN_SIZE`) and smaller ones to their size class, so
//! for the alignments Rust asks almost always (8 or 16, no larger than the size) it is
//! called directly, as Rust's own `System` allocator calls `malloc`. The rest still goes
//! through the crate.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use mimalloc::MiMalloc;

unsafe extern "C" {
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_zalloc(size: usize) -> *mut c_void;
    fn mi_realloc(p: *mut c_void, newsize: usize) -> *mut c_void;
    fn mi_free(p: *mut c_void);
}

/// The alignment `mi_malloc` guarantees for a block at least this large.
const MALLOC_ALIGN: usize = 16;

pub struct Mimalloc;

/// Whether plain `mi_malloc` returns a block aligned as `align` asks for `size` bytes.
fn plain(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free` takes blocks of
// both the plain and the aligned calls); the alignment is checked above or left to the
// crate's aligned calls.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            // SAFETY: a plain allocation of a nonzero size (GlobalAlloc's contract).
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: as the caller promised.
            unsafe { MiMalloc.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            // SAFETY: as in `alloc`.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as the caller promised.
            unsafe { MiMalloc.alloc_zeroed(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: a block of this allocator.
        unsafe { mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(layout.align(), new_size) {
            // SAFETY: a block of this allocator, resized to a nonzero size; the new
            // block is as aligned as `alloc` would make it.
            unsafe { mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as the caller promised.
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every small size and the usual alignments come back aligned, keep
    /// their bytes through a realloc, and are freed without complaint.
    #[test]
    fn blocks_are_aligned_as_asked() {
        let a = Mimalloc;
        for size in (1..=2048).chain([4095, 4096, 8192, 65_536, 1 << 20]) {
            for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: nonzero sizes; each block is freed with its layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xA5, size);
                    let grown = a.realloc(p, layout, size * 2);
                    assert_eq!(grown as usize % align, 0, "realloc {size} align {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xA5));
                    a.dealloc(grown, Layout::from_size_align(size * 2, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
