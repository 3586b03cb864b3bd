//! What the decoder found wrong, named by the full store key, and its conversion to the
//! `Diagnostic`s every other configuration source reports with.

use std::fmt;

use crate::Diagnostic;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A value that cannot be used: the item it belongs to (a server, a backend, a frontend,
    /// a certificate) was left out of the configuration; the message says which.
    Error,
    /// Something ignored (an unknown key, a server without a URL); the rest of the item loaded.
    Warning,
}

/// One finding about one key of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvProblem {
    /// The full key as the store holds it (`/traefik/frontends/f1/routes/r/rule`); for a
    /// finding about a folder, the folder's key.
    pub key: String,
    pub message: String,
    pub severity: Severity,
}

impl KvProblem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same shape as a file's findings: the key stands where a file name stands, with no
    /// line or column, so it prints as `/traefik/backends/b1/servers/s1/weight: …`.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::unlocated(self.key.clone(), self.message.clone())
    }
}

impl fmt::Display for KvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}
