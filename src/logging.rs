//! trafik's own log (`logLevel`, `[traefikLog]`), through tracing. A log file is
//! reopened at its path on SIGUSR1 ([`reopen`]), so logrotate can move it away.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::access_log::reopen::open_append;

/// trafik's log file, when `[traefikLog] filePath` names one: each event is written whole
/// under the lock, so a reopen falls between two events.
struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

/// The file the subscriber writes to, for [`reopen`].
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

#[derive(Clone)]
struct LogFileWriter(Arc<LogFile>);

/// One event's writer: the file, locked for the event.
struct Locked<'a>(MutexGuard<'a, File>);

impl Write for Locked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for LogFileWriter {
    type Writer = Locked<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Locked(self.0.file.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// SIGUSR1: trafik's log file (if it writes to one) is reopened at its path; the next event
/// goes to the new file. A file that cannot be opened leaves the old one in use.
pub fn reopen() {
    let Some(log) = LOG_FILE.get() else { return };
    match open_append(&log.path) {
        Ok(file) => {
            // Swapped under the lock; logged after it is released.
            *log.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
            tracing::info!("reopened trafik's log {}", log.path.display());
        }
        Err(e) => tracing::error!(
            "cannot reopen trafik's log {}: {e}; still writing to the file it had open",
            log.path.display()
        ),
    }
}

/// Maps v1 level names (DEBUG, INFO, WARN, ERROR, FATAL, PANIC) to a tracing filter.
pub fn level_directive(level: &str) -> Result<&'static str, String> {
    Ok(match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        "ERROR" | "FATAL" | "PANIC" => "error",
        other => {
            return Err(format!(
                "unknown log level {other:?} (DEBUG, INFO, WARN, ERROR, FATAL, PANIC)"
            ));
        }
    })
}

/// Installs the global subscriber. `RUST_LOG`, when set, wins (for debugging trafik itself).
pub fn init(level: &str, file_path: Option<&str>, json: bool) -> anyhow::Result<()> {
    let directive = level_directive(level).map_err(anyhow::Error::msg)?;
    // Dependencies are chatty at debug level; keep them at warn unless asked for by RUST_LOG.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{directive},hyper=warn,hyper_util=warn,notify=warn,h2=warn"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match file_path.filter(|p| !p.is_empty()) {
        Some(path) => {
            let log = Arc::new(LogFile {
                path: PathBuf::from(path),
                file: Mutex::new(open_append(std::path::Path::new(path))?),
            });
            let _ = LOG_FILE.set(log.clone());
            let builder = builder.with_ansi(false).with_writer(LogFileWriter(log));
            if json {
                builder.json().try_init()
            } else {
                builder.try_init()
            }
        }
        None => {
            use std::io::IsTerminal;
            // Colours only for a person at a terminal, not in files or pipes.
            let builder = builder
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr);
            if json {
                builder.json().try_init()
            } else {
                builder.try_init()
            }
        }
    }
    .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
