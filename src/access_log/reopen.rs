//! Log files that can be reopened at their configured path, so that logrotate (or a
//! person) can rename a log away and send SIGUSR1: trafik then writes to a fresh file at
//! the path, as v1's `RotateFile` did. For the access log the reopening happens in its
//! writer thread, between two lines, so no line is split, lost or written twice; what was
//! queued before the signal may land in either file, each line in exactly one.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Opens `path` for appending, creating it (mode 0664 less the umask, as v1).
pub fn open_append(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o664)
        .open(path)
}

/// Set by [`super::AccessLog::reopen`], taken by the writer thread at its next wake-up.
#[derive(Clone, Default)]
pub(super) struct Request(Arc<AtomicBool>);

impl Request {
    pub fn ask(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Where the writer thread writes: a file at a path, or standard output.
pub(super) struct Output {
    path: Option<PathBuf>,
    out: BufWriter<Box<dyn Write + Send>>,
    request: Request,
}

impl Output {
    /// The file at `file_path`, or standard output for an empty path.
    pub fn open(file_path: &str, request: Request) -> io::Result<Output> {
        let (path, out): (_, Box<dyn Write + Send>) = if file_path.is_empty() {
            (None, Box::new(io::stdout()))
        } else {
            let path = PathBuf::from(file_path);
            let file = open_append(&path)?;
            (Some(path), Box::new(file))
        };
        Ok(Output {
            path,
            out: BufWriter::new(out),
            request,
        })
    }

    /// The writer, after reopening the file if that was asked since the last call.
    pub fn writer(&mut self) -> &mut BufWriter<Box<dyn Write + Send>> {
        if self.request.take() {
            self.reopen();
        }
        &mut self.out
    }

    /// Lines already written go to the old file (flushed first); the next ones to a file
    /// freshly opened at the path. A file that cannot be opened leaves the old one in use.
    fn reopen(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        let _ = self.out.flush();
        match open_append(path) {
            Ok(file) => {
                self.out = BufWriter::new(Box::new(file));
                tracing::info!("reopened the access log {}", path.display());
            }
            Err(e) => tracing::error!(
                "cannot reopen the access log {}: {e}; still writing to the file it had open",
                path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_output_writes_to_the_new_file_and_keeps_the_old_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let request = Request::default();
        let mut out = Output::open(path.to_str().unwrap(), request.clone()).unwrap();
        writeln!(out.writer(), "one").unwrap();
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        writeln!(out.writer(), "two").unwrap();
        request.ask();
        writeln!(out.writer(), "three").unwrap();
        out.writer().flush().unwrap();
        let old = std::fs::read_to_string(dir.path().join("access.log.1")).unwrap();
        assert_eq!(old, "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");

        // A path that cannot be opened: the file in use keeps the lines.
        let mut out = Output {
            path: Some(dir.path().join("missing-dir").join("x.log")),
            ..out
        };
        request.ask();
        writeln!(out.writer(), "four").unwrap();
        out.writer().flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\nfour\n");
    }
}
