//! Watching the Bolt file: its parent directory is watched (not the file), so a writer that
//! replaces the file (rename over it, delete and recreate) is seen as well as one writing
//! into it. Events are filtered to the file's name and to kinds that can change it: our own
//! reads open the file, and inotify reports opens, which must not wake us.

use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last event before the file is read (as the file provider's): a
/// libkv write is an open, several writes and a close.
const DEBOUNCE: Duration = Duration::from_millis(100);

pub struct FileWatch {
    // Kept alive: dropping it stops the watch.
    _watcher: RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
}

impl FileWatch {
    /// Watches `path`'s directory for events concerning `path`.
    pub fn start(path: &Path) -> Result<FileWatch, String> {
        let dir = path
            .parent()
            .ok_or("the file has no parent directory to watch")?
            .to_path_buf();
        let name = path.file_name().ok_or("not a file name")?.to_os_string();
        let (tx, events) = mpsc::unbounded_channel();
        // notify calls back on its own thread; an unbounded send never blocks it, and
        // `changed()` drains a whole burst each time it resolves.
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            match res {
                Ok(event) if concerns(&event, &name) => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                // Events may have been lost (queue overflow): read again to be sure.
                Err(e) => {
                    tracing::warn!(provider = "boltdb", "file watcher: {e}; reading again");
                    let _ = tx.send(());
                }
            }
        })
        .map_err(|e| format!("cannot watch: {e}"))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        Ok(FileWatch {
            _watcher: watcher,
            events,
        })
    }

    /// Resolves after an event concerning the file, once a burst of them is over.
    pub async fn changed(&mut self) -> Result<(), String> {
        if self.events.recv().await.is_none() {
            return Err("the file watcher stopped".to_string());
        }
        loop {
            match tokio::time::timeout(DEBOUNCE, self.events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return Err("the file watcher stopped".to_string()),
                Err(_) => return Ok(()),
            }
        }
    }
}

/// Whether the event may have changed the file: it names the file, and it is not a mere
/// open, read or close after reading (ours, or any other reader's).
fn concerns(event: &notify::Event, name: &std::ffi::OsStr) -> bool {
    let reads = matches!(
        event.kind,
        EventKind::Access(
            AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read)
        )
    );
    !reads && event.paths.iter().any(|p| p.file_name() == Some(name))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_changes_to_the_file_count() {
        let name = std::ffi::OsStr::new("t.db");
        assert!(concerns(
            &event(EventKind::Modify(ModifyKind::Any), "/d/t.db"),
            name
        ));
        assert!(concerns(
            &event(EventKind::Create(CreateKind::File), "/d/t.db"),
            name
        ));
        assert!(concerns(
            &event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/d/t.db"
            ),
            name
        ));
        assert!(!concerns(
            &event(EventKind::Modify(ModifyKind::Any), "/d/other.db"),
            name
        ));
        assert!(!concerns(
            &event(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/d/t.db"
            ),
            name
        ));
        assert!(!concerns(
            &event(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                "/d/t.db"
            ),
            name
        ));
    }
}
