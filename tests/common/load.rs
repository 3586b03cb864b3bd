//! Client load kept up while something is done to trafik or its providers (a reload, a
//! store killed and restarted): a few workers send GETs to one URL, bounded in count, and
//! count what did not answer 200.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::task::JoinHandle;

use super::client;

pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    workers: Vec<JoinHandle<()>>,
}

/// What a load saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub ok: usize,
    pub failed: usize,
}

impl Load {
    /// `workers` loops of at most `per_worker` requests each, until `stop`.
    pub fn start(url: &str, workers: usize, per_worker: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let workers = (0..workers)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let url = url.to_string();
                tokio::spawn(async move {
                    let c = client();
                    for _ in 0..per_worker {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match c.get(&url).send().await {
                            Ok(r) if r.status() == 200 => {
                                let _ = r.bytes().await;
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => {
                                eprintln!("load: status {}", r.status());
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                eprintln!("load: error {e}");
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            workers,
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        Counts {
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Stops the workers and returns the final counts.
    pub async fn stop(self) -> Counts {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.await;
        }
        Counts {
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}
