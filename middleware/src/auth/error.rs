//! What can go wrong building an authenticator. Messages name the user and where its line
//! came from, never the hash: a config error should not leak credentials into logs.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a user line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Entry `index` (from 0) of the `users` list.
    Users { index: usize },
    /// Line `line` (from 1) of a users file.
    File { path: PathBuf, line: usize },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Users { index } => write!(f, "users[{index}]"),
            Location::File { path, line } => write!(f, "{} line {line}", path.display()),
        }
    }
}

/// An error building an [`Authenticator`](super::Authenticator) or an
/// [`AuthLayer`](super::AuthLayer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("cannot read users file {}: {source}", path.display())]
    UsersFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Not `user:hash` (basic) or `user:realm:ha1` (digest), an empty user name, or one
    /// with control characters.
    #[error("{at}: malformed entry{}: expected `{expected}`", for_user(user))]
    BadLine {
        at: Location,
        user: Option<String>,
        expected: &'static str,
    },
    #[error(
        "{at}: user {user:?} has an unsupported password hash \
         (supported: bcrypt $2y$/$2a$/$2b$/$2x$, apr1 $apr1$, MD5-crypt $1$, SHA1 {{SHA}})"
    )]
    UnsupportedHash { at: Location, user: String },
    #[error("{at}: user {user:?} has a malformed {kind} hash")]
    MalformedHash {
        at: Location,
        user: String,
        kind: &'static str,
    },
    #[error("invalid realm {0:?}: control characters are not allowed")]
    Realm(String),
    #[error("invalid headerField {0:?}: not an HTTP header name")]
    HeaderField(String),
    #[error("auth configures neither basic nor digest users")]
    NoMethod,
    /// The OS random source failed (for digest's `opaque`).
    #[error("no randomness from the OS: {0}")]
    Random(String),
}

fn for_user(user: &Option<String>) -> String {
    match user {
        Some(user) => format!(" for user {user:?}"),
        None => String::new(),
    }
}
