//! Upgraded connections (WebSocket) outlive the HTTP connection hyper tracks, so graceful
//! shutdown tracks them here: on shutdown they may go on until the grace period ends, and
//! are then closed (both sides dropped) rather than left to die with the process.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Default)]
pub struct Tunnels {
    tracker: TaskTracker,
    close: CancellationToken,
}

impl Tunnels {
    /// Runs `tunnel` until it ends or shutdown closes it.
    pub fn spawn(&self, tunnel: impl Future<Output = ()> + Send + 'static) {
        let close = self.close.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = tunnel => {}
                _ = close.cancelled() => tracing::debug!("upgraded connection closed by shutdown"),
            }
        });
    }

    pub fn open(&self) -> usize {
        self.tracker.len()
    }

    /// Waits for open tunnels until `deadline`, then closes those still open.
    pub async fn shutdown(&self, deadline: Instant) {
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "grace period over: closing {} upgraded connection(s)",
                self.open()
            );
            self.close.cancel();
            // Cancellation drops both sides at once; this cannot hang.
            let _ = tokio::time::timeout(Duration::from_secs(1), self.tracker.wait()).await;
        }
    }
}
