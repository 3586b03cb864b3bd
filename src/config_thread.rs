//! One thread for the configuration's heavy work: parsing the file provider's files and
//! compiling a configuration.
//!
//! Both take long enough at 10,000 frontends (tens to hundreds of milliseconds) to hold up
//! every request of a runtime thread, so they run off the runtime. They ran on tokio's
//! blocking pool, where the parse and the compile that follows it, and the compile after
//! that which frees the configuration, could each land on a different thread. mimalloc
//! returns a freed block to the heap of the thread that allocated it, and that heap gives
//! its pages back only when its own thread runs again: a configuration parsed on one
//! blocking thread and freed from another stayed resident until the first ran again, 7–8 MB
//! at 10,000 frontends after one change (benches/README.md, `routes.sh`, session 12). On one
//! thread, what a configuration allocates is freed where it was allocated, and one collect
//! after each compile returns it.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on the configuration thread (started on first use), in turn with any other
/// work sent there, and waits for its result without blocking the runtime. A panic in
/// `work` is raised again here, as `spawn_blocking`'s `JoinError` would carry it.
pub async fn run<R, F>(work: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    // The compile starts health checks and pool sweepers: tokio tasks of the caller's runtime.
    let handle = tokio::runtime::Handle::current();
    let job: Job = Box::new(move || {
        let _entered = handle.enter();
        let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
    });
    jobs()
        .send(job)
        .expect("the configuration thread never ends");
    match result.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => unreachable!("the configuration thread answers every job it takes"),
    }
}

/// Frees `value` on the configuration thread, then hands what that freed back to the OS
/// (`freed_memory.rs`), without waiting; at once when called there. For what the
/// configuration thread allocated and another thread would drop last: a runtime that a
/// request still held when the next one went live is dropped by that request's worker,
/// and its blocks would wait in the configuration thread's heap until the next reload.
pub fn free_there<T: Send + 'static>(value: T) {
    if on_config_thread() {
        drop(value);
        return;
    }
    let handle = tokio::runtime::Handle::try_current().ok();
    let job: Job = Box::new(move || {
        let _entered = handle.as_ref().map(|h| h.enter());
        drop(value);
        crate::freed_memory::release_freed_memory(true);
    });
    // The thread never ends; were it gone, the value is dropped here with the job.
    let _ = jobs().send(job);
}

fn on_config_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME)
}

const THREAD_NAME: &str = "trafik-config";

fn jobs() -> &'static mpsc::Sender<Job> {
    static JOBS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (jobs, incoming) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                for job in incoming {
                    job();
                }
            })
            .expect("cannot start the configuration thread");
        jobs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_one_thread_in_turn() {
        let first = run(|| std::thread::current().id()).await;
        let second = run(|| std::thread::current().id()).await;
        assert_eq!(first, second);
        assert_ne!(first, std::thread::current().id());
        assert_eq!(run(|| 6 * 7).await, 42);
    }

    #[tokio::test]
    async fn work_runs_inside_the_callers_runtime() {
        let spawned = run(|| tokio::spawn(async { 7 })).await;
        assert_eq!(spawned.await.unwrap(), 7);
    }

    #[tokio::test]
    async fn what_another_thread_frees_there_is_dropped_on_the_configuration_thread() {
        struct Dropped(std::sync::mpsc::Sender<std::thread::ThreadId>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.send(std::thread::current().id());
            }
        }
        let config_thread = run(|| std::thread::current().id()).await;
        let (tx, rx) = std::sync::mpsc::channel();
        free_there(Dropped(tx));
        let dropped_on = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        assert_eq!(dropped_on, config_thread);
        // On the configuration thread itself, at once.
        let (tx, rx) = std::sync::mpsc::channel();
        run(move || free_there(Dropped(tx))).await;
        assert_eq!(rx.try_recv().unwrap(), config_thread);
    }

    #[tokio::test]
    async fn a_panic_comes_back_to_the_caller_and_the_thread_goes_on() {
        let caught = tokio::spawn(run(|| -> u8 { panic!("bad input") })).await;
        assert!(caught.unwrap_err().is_panic());
        assert_eq!(run(|| 1).await, 1);
    }
}
