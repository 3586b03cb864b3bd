//! Handing freed memory back to the OS now, rather than when mimalloc gets to it.
//!
//! mimalloc (the global allocator, `main.rs`) returns a thread's freed pages after its purge
//! delay, but only when that thread next allocates or frees, or when the thread ends. A
//! thread that frees a lot and then idles keeps it resident: a configuration thread after a
//! compile (the previous configuration, tens of megabytes at 10,000 frontends), a worker
//! after the backend pool freed the read buffers of hundreds of idle connections once a
//! burst was over. Those places call this.

/// Collects the calling thread's heap: `force` also frees what mimalloc would keep for
/// reuse (after a compile); without it, only pages already due (the pool's sweeper).
pub fn release_freed_memory(force: bool) {
    // `mimalloc` is named so that its C library is linked wherever this crate is (unit tests
    // use the system allocator, and then this collects mimalloc's unused heap: nothing).
    use mimalloc as _;
    // Declared here: `libmimalloc-sys` binds it only behind its `extended` feature (one more
    // crate, and an option list older than the mimalloc 3 options `allocator.rs` sets).
    unsafe extern "C" {
        /// mimalloc's `mi_collect` (include/mimalloc.h).
        fn mi_collect(force: bool);
    }
    // SAFETY: mi_collect takes no pointer and may be called from any thread at any time.
    unsafe { mi_collect(force) }
}
