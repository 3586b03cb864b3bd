//! A thread of its own for each piece of the configuration's heavy work: parsing the file
//! provider's files, compiling a configuration, and freeing a runtime that a request held
//! last.
//!
//! The parse and the compile take long enough at 10,000 frontends (tens to hundreds of
//! milliseconds) to hold up every request of a runtime thread, so they run off the runtime.
//! Where they run decides how much of their memory mimalloc can give back. mimalloc keeps
//! a heap per thread, and returns a page of it only once every block in that page is free:
//!
//! * on tokio's blocking pool (session 10), a configuration parsed on one thread and freed
//!   from another waited in the first one's heap until that thread ran again;
//! * on one long-lived thread (session 12), each configuration could be allocated into the
//!   holes its predecessors left in that thread's pages (the parse's TOML tree, the
//!   compile's scratch, freed between them), so freeing the previous configuration emptied
//!   fewer pages;
//! * on a new thread per job (now), a job starts with an empty heap of its own. When the
//!   thread ends its pages are left to the arena, and mimalloc frees such a page as soon as
//!   its last block is freed, from whichever thread; the collect after each compile
//!   (`freed_memory.rs`) then returns it. A later thread may still take such a page while
//!   it has room, so this lessens the mixing of configurations, it does not end it.
//!   Measured (debug build, `Pss_Anon` at 10,000 frontends right after start and 1.5 s
//!   after each change, three runs): 26.9 → 23.7 MB after start, 29.9 → 27.0 MB after one
//!   change; sampled 2 s after the change the two differed less (27.8 / 27.6 MB), so part
//!   of the gain is how soon pages come back (benches/README.md, `routes.sh`, session 13).
//!   Starting a thread costs tens of microseconds against a compile's milliseconds.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};

/// Runs `work` on a thread of its own and waits for its result without blocking the
/// runtime. A panic in `work` is raised again here, as `spawn_blocking`'s `JoinError`
/// would carry it.
pub async fn run<R, F>(work: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    // The compile starts health checks and pool sweepers: tokio tasks of the caller's runtime.
    let handle = tokio::runtime::Handle::current();
    spawn(move || {
        let _entered = handle.enter();
        let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
    });
    match result.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => unreachable!("the configuration thread answers every job it takes"),
    }
}

/// Frees `value` on a thread of its own, then hands what that freed back to the OS
/// (`freed_memory.rs`), without waiting; at once when called on a configuration thread
/// (the compile's own collect follows). For a runtime that a request still held when the
/// next one went live: dropped by that request's worker, its pages would be returned only
/// when that worker next collects, and the collect costs a request thread a millisecond.
pub fn free_there<T: Send + 'static>(value: T) {
    if on_config_thread() {
        drop(value);
        return;
    }
    let handle = tokio::runtime::Handle::try_current().ok();
    spawn(move || {
        let _entered = handle.as_ref().map(|h| h.enter());
        drop(value);
        crate::freed_memory::release_freed_memory(true);
    });
}

/// Starts `job` on a new configuration thread. When no thread can be started (the
/// process is at its thread or memory limit), the job runs on tokio's blocking pool, or
/// here without a runtime: a reload is slower then, never lost.
fn spawn(job: impl FnOnce() + Send + 'static) {
    // Shared with the thread so that a failed start, which drops the thread's closure,
    // leaves the job here to run another way.
    let slot = Arc::new(Mutex::new(Some(job)));
    let theirs = slot.clone();
    let started = std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            if let Some(job) = take(&theirs) {
                job();
            }
        });
    if let Err(e) = started {
        tracing::warn!("cannot start a configuration thread ({e}); using tokio's blocking pool");
        if let Some(job) = take(&slot) {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(job)),
                Err(_) => job(),
            }
        }
    }
}

fn take<J>(slot: &Mutex<Option<J>>) -> Option<J> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn on_config_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME)
}

const THREAD_NAME: &str = "trafik-config";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_thread_of_its_own() {
        let first = run(|| std::thread::current().id()).await;
        let second = run(|| std::thread::current().id()).await;
        assert_ne!(first, second);
        assert_ne!(first, std::thread::current().id());
        assert!(run(on_config_thread).await);
        assert_eq!(run(|| 6 * 7).await, 42);
    }

    #[tokio::test]
    async fn work_runs_inside_the_callers_runtime() {
        let spawned = run(|| tokio::spawn(async { 7 })).await;
        assert_eq!(spawned.await.unwrap(), 7);
    }

    #[tokio::test]
    async fn what_another_thread_frees_there_is_dropped_on_a_configuration_thread() {
        struct Dropped(std::sync::mpsc::Sender<(std::thread::ThreadId, bool)>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let here = std::thread::current().id();
                let _ = self.0.send((here, on_config_thread()));
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        free_there(Dropped(tx));
        let (dropped_on, config) = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        assert_ne!(dropped_on, std::thread::current().id());
        assert!(config);
        // On a configuration thread itself, at once.
        let (tx, rx) = std::sync::mpsc::channel();
        let job_thread = run(move || {
            free_there(Dropped(tx));
            std::thread::current().id()
        })
        .await;
        assert_eq!(rx.try_recv().unwrap(), (job_thread, true));
    }

    #[tokio::test]
    async fn a_panic_comes_back_to_the_caller_and_the_next_job_runs() {
        let caught = tokio::spawn(run(|| -> u8 { panic!("bad input") })).await;
        assert!(caught.unwrap_err().is_panic());
        assert_eq!(run(|| 1).await, 1);
    }
}
