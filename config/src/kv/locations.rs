//! Which store key each part of a decoded configuration came from: the key-value
//! counterpart of `load::Locations`, so that a semantic problem found later on the model
//! (`validate_dynamic`: an unknown backend, a rule that does not parse) is reported with the
//! key the operator has to fix.

use std::collections::BTreeMap;

use crate::Diagnostic;
use crate::validate::Problem;

/// Model paths (the segments `validate::Problem::path` uses: `["frontends", "f1", "routes",
/// "r", "rule"]`, list elements by index) to full store keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvLocations {
    keys: BTreeMap<Vec<String>, String>,
}

impl KvLocations {
    pub(super) fn record(&mut self, path: &[&str], key: &str) {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        self.keys.entry(path).or_insert_with(|| key.to_string());
    }

    /// The key `path` was read from; when the path was not in the store (a default, a
    /// missing key), the key of its longest recorded ancestor.
    pub fn key(&self, path: &[&str]) -> Option<&str> {
        let mut path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        loop {
            if let Some(key) = self.keys.get(&path) {
                return Some(key);
            }
            path.pop()?;
        }
    }

    /// A diagnostic about `path`, named by its key (or by `fallback`, the prefix, say, when
    /// nothing of the path came from the store).
    pub fn diagnostic(
        &self,
        fallback: &str,
        path: &[&str],
        message: impl Into<String>,
    ) -> Diagnostic {
        let key = self.key(path).unwrap_or(fallback);
        Diagnostic::unlocated(key, message)
    }

    /// A `validate_dynamic` finding, named by its key.
    pub fn problem_diagnostic(&self, fallback: &str, problem: &Problem) -> Diagnostic {
        let path: Vec<&str> = problem.path.iter().map(String::as_str).collect();
        self.diagnostic(fallback, &path, problem.message.clone())
    }
}
