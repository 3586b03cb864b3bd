//! trafik's own log (`logLevel`, `[traefikLog]`), through tracing.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

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
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            let builder = builder.with_ansi(false).with_writer(Mutex::new(file));
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
