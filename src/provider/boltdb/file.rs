//! Reading the Bolt file whole, under a shared `flock`: bolt's writers hold the exclusive
//! lock for as long as they have the file open (libkv: one operation), bolt's read-only
//! openers take the shared one, so we never see a write half done by a bolt process. The
//! lock is polled (as bolt does, every 50 ms) for at most `LOCK_TIMEOUT`, so a writer that
//! keeps the file open makes the read fail instead of hanging the provider.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a writer may hold the file before the read gives up (libkv's own open timeout).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(50);
/// A configuration file is small; a larger one is refused rather than read into memory.
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// The file's bytes, or why not (missing, locked too long, unreadable, too large).
pub fn read_shared(path: &Path) -> Result<Vec<u8>, String> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        _ => format!("cannot open: {e}"),
    })?;
    lock_shared(&file)?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot stat: {e}"))?
        .len();
    if len > MAX_FILE {
        return Err(format!(
            "{len} bytes: larger than the {MAX_FILE}-byte limit"
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    (&mut file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("grew past the {MAX_FILE}-byte limit while read"));
    }
    // Closing the file (on drop) releases the lock.
    Ok(bytes)
}

fn lock_shared(file: &File) -> Result<(), String> {
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        // SAFETY: flock on a descriptor this `File` owns and keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock if Instant::now() < deadline => std::thread::sleep(LOCK_POLL),
            io::ErrorKind::WouldBlock => {
                return Err(format!(
                    "locked by a writer for more than {LOCK_TIMEOUT:?} (a bolt process keeps it open?)"
                ));
            }
            _ => return Err(format!("cannot lock: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_so() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_shared(&dir.path().join("nope.db")),
            Err("no such file".into())
        );
    }

    #[test]
    fn a_shared_lock_is_shared_and_an_exclusive_one_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        std::fs::write(&path, b"bytes").unwrap();
        let other = File::open(&path).unwrap();
        // Another reader: no wait.
        // SAFETY: flock on a descriptor `other` owns.
        assert_eq!(unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_SH) }, 0);
        assert_eq!(read_shared(&path).unwrap(), b"bytes");
        // A writer holding the file for a moment: the read waits, then reads.
        // SAFETY: as above.
        unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_UN) };
        assert_eq!(unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX) }, 0);
        let reader = std::thread::spawn({
            let path = path.clone();
            move || read_shared(&path)
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(other);
        assert_eq!(reader.join().unwrap().unwrap(), b"bytes");
    }
}
