//! mimalloc's options for a proxy: what trafik sets before the runtime starts.
//!
//! mimalloc (the global allocator, `main.rs`) reads its options from `MIMALLOC_*`
//! environment variables at process start. Two of its defaults cost a proxy memory it
//! does not need (measured with `benches/memory.sh`; numbers in benches/README.md,
//! "Memory"), so `tune` changes them when the process is loaded, before `main`. An operator's own
//! `MIMALLOC_*` variable still wins: an option whose variable is set is left alone.
//!
//! * `allow_thp = 0`: mimalloc asks for transparent huge pages (`MADV_HUGEPAGE`) on its
//!   1 GiB arena, so every 2 MiB of it that any allocation touches becomes resident
//!   whole. Idle, that was 14.8 MB of anonymous memory holding about 2 MB of data; under
//!   load it rounds every heap's growth up to 2 MiB. Off: idle RSS 31 → 18.5 MB, hello at
//!   200 connections 47 → 29–32 MB. Cost: about 1–3 % more CPU per request (more TLB
//!   misses on 4 KiB pages; `benches/corun.sh`, the same binary side by side).
//! * `purge_delay = 100` (ms; mimalloc's default 1000): memory freed after a burst goes
//!   back to the OS sooner. Not 0: purging at once makes every free page a system call
//!   and a fault when reused (a reload at 10,000 frontends got slower in session 10).
//!
//! The option numbers are mimalloc's `mi_option_t` (include/mimalloc.h of the C library
//! that libmimalloc-sys 0.1.49 bundles, mimalloc 3.3.2); the test below checks them
//! against the library's documented defaults, so a renumbering upgrade fails a test.

use std::ffi::{c_int, c_long};

unsafe extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` (milliseconds before freed memory is returned to the OS).
const PURGE_DELAY: c_int = 15;
/// `mi_option_allow_thp` (may mimalloc ask for transparent huge pages).
const ALLOW_THP: c_int = 43;

/// trafik's values: (option, the variable that overrides it, value).
const TRAFIK_DEFAULTS: [(c_int, &std::ffi::CStr, c_long); 2] = [
    (ALLOW_THP, c"MIMALLOC_ALLOW_THP", 0),
    (PURGE_DELAY, c"MIMALLOC_PURGE_DELAY", 100),
];

/// Runs `tune` when the process is loaded, before `main`: the Rust runtime allocates
/// before `main` (the main thread's handle), and mimalloc reserves and advises its arena
/// on that first allocation, so an option set in `main` would come too late for it
/// (measured: 3.5 MB more idle RSS than the same option from the environment).
/// mimalloc's own constructor (priority 101) has run by then; this one has no priority,
/// so it runs after it and before `main`.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_AT_LOAD: extern "C" fn() = tune_at_load;

#[cfg(target_os = "linux")]
extern "C" fn tune_at_load() {
    tune();
}

/// Applies trafik's defaults. Allocates nothing (`getenv`, not `std::env`): it runs
/// before the first allocation.
fn tune() {
    for (option, var, value) in TRAFIK_DEFAULTS {
        // SAFETY: getenv with a NUL-terminated name; nothing changes the environment
        // while the loader runs constructors.
        if !unsafe { libc::getenv(var.as_ptr()) }.is_null() {
            continue;
        }
        // SAFETY: a setter of mimalloc's option table, valid at any time.
        unsafe { mi_option_set(option, value) };
        if option == ALLOW_THP && value == 0 {
            disable_thp();
        }
    }
}

/// What mimalloc itself does when `MIMALLOC_ALLOW_THP=0` is in the environment at
/// start (its constructor read the environment before this one ran): the process flag
/// makes the kernel fault 4 KiB pages in every mapping, including any advised for huge
/// pages. It is inherited by child processes (the ACME `exec` DNS provider's script),
/// for which it is harmless: they run with 4 KiB pages too.
fn disable_thp() {
    // SAFETY: prctl with integer arguments only; failure (an old kernel) leaves THP as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options read with their neighbours: each default below is mimalloc's documented
    /// one (src/options.c), distinct enough that an off-by-one numbering would not match.
    #[test]
    fn option_numbers_are_mimallocs() {
        let get = |option| unsafe { mi_option_get(option) };
        // Neighbours of PURGE_DELAY (15): os_tag (18) = 100, max_errors (19) = 32.
        assert_eq!(get(18), 100);
        assert_eq!(get(19), 32);
        // Below ALLOW_THP (43): retry_on_oom (27) = 400, generic_collect (34) = 10000,
        // page_full_retain (36) = 2, page_max_candidates (37) = 4.
        assert_eq!(get(27), 400);
        assert_eq!(get(34), 10_000);
        assert_eq!(get(36), 2);
        assert_eq!(get(37), 4);
        // The load-time constructor ran before the tests (unless the environment
        // overrides it, as an operator could).
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!(get(ALLOW_THP), 0);
            // SAFETY: a query with integer arguments.
            assert_eq!(
                unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
                1
            );
        }
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(PURGE_DELAY), 100);
        }
        // Set and read back.
        unsafe { mi_option_set(PURGE_DELAY, 250) };
        assert_eq!(get(PURGE_DELAY), 250);
    }
}
